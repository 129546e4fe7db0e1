//! `capstan push CHART.tgz oci://host/path`: a chart archive (and the `.prov` file next to it)
//! to an OCI registry under `<path>/<name>:<version>`, printing what `helm push` prints.

use anyhow::{Context as _, bail};

use crate::cli::PushArgs;
use crate::console::outln;

pub async fn run(args: PushArgs) -> anyhow::Result<u8> {
    let path = &args.chart;
    if path.is_dir() {
        bail!(
            "cannot push directory {}, must provide chart archive (.tgz)",
            path.display()
        );
    }
    if !capstan_oci::is_oci(&args.remote) {
        bail!(
            "push destination {:?} is not supported: it must be oci://host/path",
            args.remote
        );
    }
    let archive = crate::chart::archive(path)?;
    let prov_path = std::path::PathBuf::from(format!("{}.prov", path.display()));
    let prov = match std::fs::read(&prov_path) {
        Ok(prov) => Some(prov),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(e).with_context(|| format!("reading {}", prov_path.display()));
        }
    };
    let created = modified_rfc3339(path)?;
    let host = args
        .remote
        .trim_start_matches(capstan_oci::reference::SCHEME)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let registry = crate::oci::open(&host, &args.registry)?;
    let pushed = capstan_oci::chart::push(
        &registry,
        &args.remote,
        &archive,
        prov.as_deref(),
        &created,
        &capstan_chart::Limits::default(),
    )
    .await
    .with_context(|| format!("pushing {} to {}", path.display(), args.remote))?;
    outln!("Pushed: {}", pushed.reference);
    outln!("Digest: {}", pushed.manifest_digest);
    crate::oci::explain_underscore(&pushed.reference);
    Ok(0)
}

/// The archive's modification time in RFC 3339 (UTC), which Helm records as the chart's
/// `org.opencontainers.image.created`.
fn modified_rfc3339(path: &std::path::Path) -> anyhow::Result<String> {
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .with_context(|| format!("reading the modification time of {}", path.display()))?;
    let timestamp = jiff::Timestamp::try_from(modified)
        .with_context(|| format!("the modification time of {}", path.display()))?;
    Ok(timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}
