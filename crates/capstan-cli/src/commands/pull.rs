//! `capstan pull oci://host/path/chart`: download a chart from an OCI registry into
//! `<destination>/<name>-<version>.tgz`, as `helm pull` does.

use anyhow::{Context as _, bail};

use crate::cli::PullArgs;
use crate::console::outln;

pub async fn run(args: PullArgs) -> anyhow::Result<u8> {
    if !capstan_oci::is_oci(&args.chart) {
        bail!(
            "pull of {:?}: only oci:// charts can be pulled (chart repositories are not supported yet)",
            args.chart
        );
    }
    let pulled = crate::oci::pull(
        &args.chart,
        args.version.as_deref(),
        &args.registry,
        args.prov,
    )
    .await?;
    let metadata = &pulled.metadata;
    std::fs::create_dir_all(&args.destination)
        .with_context(|| format!("creating {}", args.destination.display()))?;
    let file = args
        .destination
        .join(format!("{}-{}.tgz", metadata.name, metadata.version));
    write_atomic(&file, &pulled.archive)?;
    if let Some(prov) = &pulled.prov {
        write_atomic(
            &std::path::PathBuf::from(format!("{}.prov", file.display())),
            prov,
        )?;
    }
    outln!("Pulled: {}", pulled.reference);
    outln!("Digest: {}", pulled.manifest_digest);
    crate::oci::explain_underscore(&pulled.reference);
    Ok(0)
}

/// Writes `bytes` to a temporary file next to `path`, then renames it into place, so a failed
/// pull leaves nothing half-written.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let partial = std::path::PathBuf::from(format!("{}.partial", path.display()));
    std::fs::write(&partial, bytes).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))
}
