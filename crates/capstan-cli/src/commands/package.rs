//! `capstan package`: chart directories as versioned, reproducible archives, as `helm package`.

use anyhow::{Context as _, bail};
use capstan_repo::package::{PackageOptions, package};

use crate::cli::Global;
use crate::console::outln;
use crate::sources::PackageArgs;

/// Runs `package`.
pub async fn run(global: &Global, args: PackageArgs) -> anyhow::Result<u8> {
    let options = PackageOptions {
        version: args.version.clone(),
        app_version: args.app_version.clone(),
    };
    for path in &args.paths {
        if !path.is_dir() {
            bail!("{} is not a chart directory", path.display());
        }
        if args.dependency_update {
            let update = capstan_repo::lock::UpdateOptions {
                oci: crate::chart::oci_fetcher(global, &Default::default()),
                ..Default::default()
            };
            capstan_repo::lock::update(&crate::chart::resolver(global), path, &update)
                .await
                .with_context(|| format!("updating the dependencies of {}", path.display()))?;
        }
        let packaged = package(path, &options)?;
        let out = args.destination.join(&packaged.file_name);
        capstan_repo::write_atomic(&out, &packaged.bytes, 0o644)?;
        let shown = std::path::absolute(&out).unwrap_or(out);
        outln!(
            "Successfully packaged chart and saved it to: {}",
            shown.display()
        );
    }
    Ok(0)
}
