//! `capstan pull`: download a chart (and its `.prov`), optionally verify and extract it; from an
//! OCI registry, printing `Pulled:` and `Digest:` as `helm pull` does.

use anyhow::Context as _;
use capstan_repo::write_atomic;

use crate::chart::ChartSpec;
use crate::cli::Global;
use crate::console::outln;
use crate::sources::PullArgs;

/// Runs `pull`.
pub async fn run(global: &Global, args: PullArgs) -> anyhow::Result<u8> {
    for chart in &args.charts {
        if capstan_oci::is_oci(chart) {
            pull_oci(&args, chart).await?;
            continue;
        }
        let spec = ChartSpec {
            reference: chart,
            version: args.version.as_deref(),
            source: &args.source,
        };
        let fetched = crate::chart::resolve(global, spec).await?;
        if let Some((_, found)) = &fetched.verification {
            for name in &found.signed_by {
                outln!("Signed by: {name}");
            }
            outln!("Using Key With Fingerprint: {}", found.fingerprint);
            outln!("Chart Hash Verified: {}", found.file_hash);
        }
        let prov = match (&fetched.verification, &fetched.remote) {
            (Some((prov, _)), _) => Some(prov.clone()),
            (None, Some(remote)) if args.prov => Some(
                capstan_repo::fetch(
                    &remote.access,
                    &format!("{}.prov", remote.url),
                    &format!("provenance of chart {}", remote.file_name),
                    1 << 20,
                )
                .await?,
            ),
            _ => None,
        };
        if args.untar {
            let dir = if args.untardir.is_absolute() {
                args.untardir.clone()
            } else {
                args.destination.join(&args.untardir)
            };
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            capstan_repo::package::untar(&fetched.archive, &dir, chart)?;
            if let Some(prov) = prov {
                write_atomic(
                    &dir.join(format!("{}.prov", fetched.file_name)),
                    &prov,
                    0o644,
                )?;
            }
        } else {
            let path = args.destination.join(&fetched.file_name);
            write_atomic(&path, &fetched.archive, 0o644)?;
            if let Some(prov) = prov {
                write_atomic(
                    &args.destination.join(format!("{}.prov", fetched.file_name)),
                    &prov,
                    0o644,
                )?;
            }
        }
    }
    Ok(0)
}

/// `pull oci://...`: the chart (and with `--prov` or `--verify` its provenance layer) into
/// `--destination`, as `helm pull` writes it.
async fn pull_oci(args: &PullArgs, chart: &str) -> anyhow::Result<()> {
    let flags = crate::chart::registry_flags(&args.source);
    let pulled = crate::oci::pull(
        chart,
        args.version.as_deref(),
        &flags,
        args.prov || args.source.verify,
    )
    .await?;
    let file_name = format!("{}-{}.tgz", pulled.metadata.name, pulled.metadata.version);
    if args.source.verify {
        let prov = pulled.prov.as_deref().with_context(|| {
            format!("cannot verify {chart}: the registry holds no provenance for it")
        })?;
        let found = crate::chart::verify(&pulled.archive, prov, &file_name, &args.source)?;
        for name in &found.signed_by {
            outln!("Signed by: {name}");
        }
        outln!("Using Key With Fingerprint: {}", found.fingerprint);
        outln!("Chart Hash Verified: {}", found.file_hash);
    }
    std::fs::create_dir_all(&args.destination)
        .with_context(|| format!("creating {}", args.destination.display()))?;
    if args.untar {
        let dir = if args.untardir.is_absolute() {
            args.untardir.clone()
        } else {
            args.destination.join(&args.untardir)
        };
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        capstan_repo::package::untar(&pulled.archive, &dir, chart)?;
    } else {
        let path = args.destination.join(&file_name);
        write_atomic(&path, &pulled.archive, 0o644)?;
        if let Some(prov) = &pulled.prov {
            write_atomic(
                &args.destination.join(format!("{file_name}.prov")),
                prov,
                0o644,
            )?;
        }
    }
    outln!("Pulled: {}", pulled.reference);
    outln!("Digest: {}", pulled.manifest_digest);
    crate::oci::explain_underscore(&pulled.reference);
    Ok(())
}
