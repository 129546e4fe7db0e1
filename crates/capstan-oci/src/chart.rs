//! Helm's operations on charts in a registry: resolving `--version` against the tags, pulling a
//! chart (manifest, config, chart and provenance layers, every blob bounded and verified, the
//! archive loaded within [`capstan_chart::Limits`] before it is handed on), and pushing one as
//! `helm push` does.

use capstan_chart::{Chart, ChartMetadata, Limits};

use crate::manifest::{self, CHART_LAYER_MEDIA_TYPE};
use crate::reference::Reference;
use crate::registry::{FetchedManifest, MAX_MANIFEST_BYTES, Registry};
use crate::{Error, Result, version};

/// The most bytes of a provenance file read.
pub const MAX_PROV_BYTES: u64 = 1 << 20;

/// Chooses what to pull for `reference` and `--version` (as Helm's `ValidateReference`): the
/// reference's tag or digest; an exact `--version` as the tag; a constraint, or nothing at all,
/// resolved against the repository's tags. A tag in the reference that differs from
/// `--version` is an error.
pub async fn resolve(
    registry: &Registry,
    reference: &Reference,
    wanted: Option<&str>,
) -> Result<Reference> {
    let wanted = wanted.map(str::trim).filter(|v| !v.is_empty());
    if let (Some(tag), Some(wanted)) = (&reference.tag, wanted)
        && *tag != version::tag_of(wanted)
    {
        return Err(Error::Reference {
            reference: reference.to_string(),
            message: format!("chart reference and version mismatch: {wanted} is not {tag}"),
        });
    }
    if reference.tag.is_some() || reference.digest.is_some() {
        return Ok(reference.clone());
    }
    if let Some(wanted) = wanted.filter(|w| version::is_exact(w)) {
        return Ok(reference.with_tag(&version::tag_of(wanted)));
    }
    let tags = registry.tags(&reference.repository).await?;
    let chosen = version::select_tag(&tags, wanted).map_err(|message| Error::Reference {
        reference: reference.to_string(),
        message,
    })?;
    match chosen {
        Some(tag) => Ok(reference.with_tag(&tag)),
        None => Err(Error::NoMatchingVersion {
            reference: reference.to_string(),
            constraint: wanted.unwrap_or("*").to_string(),
            tags: if tags.is_empty() {
                "none".into()
            } else {
                tags.join(", ")
            },
        }),
    }
}

/// A chart pulled from a registry.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// What was pulled, with the tag (or digest) used.
    pub reference: Reference,
    /// The manifest's digest (what `helm pull` prints as `Digest:`).
    pub manifest_digest: String,
    /// The chart's metadata, from the archive itself.
    pub metadata: ChartMetadata,
    /// The chart archive (`.tgz`), verified against its layer digest.
    pub archive: Vec<u8>,
    /// The chart layer's digest.
    pub archive_digest: String,
    /// The provenance file, when asked for and pushed.
    pub prov: Option<Vec<u8>>,
}

/// The manifest of an already resolved `reference` (tag or digest), checked to be a chart's.
pub async fn manifest(registry: &Registry, reference: &Reference) -> Result<FetchedManifest> {
    let Some(at) = reference.manifest_reference() else {
        return Err(Error::Reference {
            reference: reference.to_string(),
            message: "no tag or digest to pull (resolve the version first)".into(),
        });
    };
    let fetched = registry.manifest(&reference.repository, at).await?;
    fetched
        .manifest
        .chart_layers()
        .map_err(|message| Error::NotAChart {
            reference: reference.to_string(),
            message,
        })?;
    Ok(fetched)
}

/// Pulls the chart at an already resolved `reference`: the manifest, then the chart layer (at
/// most `limits.max_archive_bytes`), then the provenance layer when `with_prov`; the archive is
/// loaded within `limits`, so a hostile archive is refused here, naming the chart.
pub async fn pull(
    registry: &Registry,
    reference: &Reference,
    limits: &Limits,
    with_prov: bool,
) -> Result<Pulled> {
    let fetched = manifest(registry, reference).await?;
    let layers = fetched
        .manifest
        .chart_layers()
        .map_err(|message| Error::NotAChart {
            reference: reference.to_string(),
            message,
        })?;
    let name = format!("chart {reference}");
    let archive = registry
        .blob(
            &reference.repository,
            layers.chart,
            limits.max_archive_bytes,
            &name,
        )
        .await?;
    let prov = match (with_prov, layers.prov) {
        (true, Some(prov)) => Some(
            registry
                .blob(
                    &reference.repository,
                    prov,
                    MAX_PROV_BYTES,
                    &format!("provenance of {reference}"),
                )
                .await?,
        ),
        _ => None,
    };
    let chart = Chart::load_archive(&archive, limits).map_err(|source| Error::Chart {
        reference: reference.to_string(),
        source,
    })?;
    tracing::debug!(
        registry = registry.host(),
        repository = %reference.repository,
        digest = %fetched.digest,
        "pulled chart"
    );
    Ok(Pulled {
        reference: reference.clone(),
        manifest_digest: fetched.digest,
        metadata: chart.metadata,
        archive_digest: layers.chart.digest.clone(),
        archive,
        prov,
    })
}

/// The outcome of a push.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// Where the chart went (`host/path/name:version`).
    pub reference: Reference,
    /// The manifest's digest.
    pub manifest_digest: String,
    /// The chart layer's digest.
    pub archive_digest: String,
}

/// Pushes a chart archive (and its provenance) under `destination` (`oci://host/path`) as
/// `helm push` does: to `<path>/<name>:<version>`, config and layers first, then the manifest.
/// The archive is loaded within `limits` first; `created` is the RFC 3339 time for the
/// `org.opencontainers.image.created` annotation.
pub async fn push(
    registry: &Registry,
    destination: &str,
    archive: &[u8],
    prov: Option<&[u8]>,
    created: &str,
    limits: &Limits,
) -> Result<Pushed> {
    let chart = Chart::load_archive(archive, limits).map_err(|source| Error::Chart {
        reference: destination.to_string(),
        source,
    })?;
    let metadata = &chart.metadata;
    let reference = Reference::for_push(destination, &metadata.name, &metadata.version)?;
    if reference.registry != registry.host() {
        return Err(Error::Reference {
            reference: destination.to_string(),
            message: format!("the client is for registry {}", registry.host()),
        });
    }
    let built = manifest::chart_manifest(metadata, archive, prov, created);
    let repository = &reference.repository;
    registry.push_blob(repository, &built.config).await?;
    registry.push_blob(repository, archive).await?;
    if let Some(prov) = prov {
        registry.push_blob(repository, prov).await?;
    }
    let tag = reference.tag.clone().unwrap_or_default();
    if built.bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(Error::TooLarge {
            registry: registry.host().to_string(),
            what: format!("the manifest of {reference}"),
            size: built.bytes.len() as u64,
            limit: MAX_MANIFEST_BYTES,
        });
    }
    let manifest_digest = registry
        .push_manifest(repository, &tag, &built.bytes)
        .await?;
    let archive_digest = built
        .manifest
        .layers
        .iter()
        .find(|l| l.media_type == CHART_LAYER_MEDIA_TYPE)
        .map(|l| l.digest.clone())
        .unwrap_or_default();
    Ok(Pushed {
        reference,
        manifest_digest,
        archive_digest,
    })
}
