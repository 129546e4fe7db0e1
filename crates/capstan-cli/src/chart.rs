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

/// Where a chart named by reference comes from, besides the reference: `--version` and how to
/// reach its registry.
#[derive(Debug, Clone, Default)]
pub struct ChartSource {
    /// `--version`: a version or constraint (registry charts only).
    pub version: Option<String>,
    /// Registry flags, for `oci://` charts.
    pub registry: crate::cli::RegistryFlags,
}

/// The chart `reference` names as archive bytes: an `oci://` chart from its registry
/// ([`oci_archive`]), otherwise a directory or archive on disk ([`archive`]).
pub async fn load(reference: &str, source: &ChartSource) -> anyhow::Result<Vec<u8>> {
    if capstan_oci::is_oci(reference) {
        return oci_archive(reference, source).await;
    }
    archive(Path::new(reference))
}

/// The `oci://host/path/chart[:tag|@digest]` chart resolved (`--version` against the tags),
/// pulled (every blob checked against its digest) and loaded within the archive limits.
///
/// The one place the CLI turns an `oci://` reference into a chart; a general chart resolver
/// (repositories, URLs, a cache by digest) calls this for its `oci://` case.
pub async fn oci_archive(reference: &str, source: &ChartSource) -> anyhow::Result<Vec<u8>> {
    let pulled = crate::oci::pull(
        reference,
        source.version.as_deref(),
        &source.registry,
        false,
    )
    .await?;
    Ok(pulled.archive)
}
