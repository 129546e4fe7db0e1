//! Finding a chart on disk and packaging it into the archive the renderer takes.

use std::path::Path;

use anyhow::{Context as _, bail};

/// The chart at `path` (a directory or a `.tgz` archive) as archive bytes.
pub fn archive(path: &Path) -> anyhow::Result<Vec<u8>> {
    let _span = tracing::info_span!("chart.package", chart = %path.display()).entered();
    let limits = capstan_chart::Limits::default();
    if path.is_dir() {
        return capstan_chart::package_dir(path, &limits)
            .with_context(|| format!("loading chart {}", path.display()));
    }
    if !path.exists() {
        bail!(
            "chart {} not found: no such directory or archive",
            path.display()
        );
    }
    let metadata = std::fs::metadata(path)?;
    if metadata.len() > limits.max_archive_bytes {
        bail!(
            "chart archive {} is {} bytes, over the {} byte limit",
            path.display(),
            metadata.len(),
            limits.max_archive_bytes
        );
    }
    std::fs::read(path).with_context(|| format!("reading chart archive {}", path.display()))
}
