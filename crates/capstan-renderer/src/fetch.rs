//! Charts by reference: a render names a chart in a repository or registry the operator
//! allows (`--chart-sources`), and the renderer authorizes the tenant, resolves the version,
//! downloads the archive once per digest (checked against the index digest or the OCI
//! manifest's layer digest) into a cache shared by every tenant, and hands it to the render.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use capstan_chart::{Chart, Limits};
use capstan_proto::renderer::v1 as pb;
use capstan_repo::{Access, ChartCache, FetchOptions, IndexFile, Resolver};
use tonic::Status;

use crate::sources::{ChartSourceConfig, ChartSources, Target};

/// A chart fetched by reference.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// `sha256:<hex>` of the archive.
    pub digest: String,
    /// The archive.
    pub archive: Vec<u8>,
    /// Whether this call downloaded it (else it came from the shared cache).
    pub downloaded: bool,
}

/// A resolution kept for reuse: the archive digest a reference resolved to, and when.
#[derive(Debug, Clone)]
struct Resolution {
    digest: String,
    at: Instant,
    /// `@digest` references never change what they name.
    immutable: bool,
}

/// The renderer's chart fetcher: the operator's sources and the shared cache.
#[derive(Debug)]
pub struct ChartFetcher {
    sources: ChartSources,
    resolver: Resolver,
    limits: Limits,
    resolutions: Mutex<HashMap<String, Resolution>>,
    indexes: Mutex<HashMap<String, (Arc<IndexFile>, Instant)>>,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl ChartFetcher {
    /// A fetcher over `sources`, checking archives against `limits`. Archives are kept in the
    /// file's `cacheDir`, else in `capstan-renderer-charts` under the temporary directory.
    pub fn new(sources: ChartSources, limits: Limits) -> ChartFetcher {
        let dir = sources
            .cache_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("capstan-renderer-charts"));
        let mut resolver = Resolver::new(capstan_repo::HelmPaths::from_env());
        resolver.cache = ChartCache::new(dir);
        ChartFetcher {
            sources,
            resolver,
            limits,
            resolutions: Mutex::default(),
            indexes: Mutex::default(),
            flights: Mutex::default(),
        }
    }

    /// The names of the sources (for the start-up log).
    pub fn source_names(&self) -> Vec<String> {
        self.sources
            .sources
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    /// Fetches `reference` for `caller`: refused unless a source covers it and the caller's
    /// tenant (under a policy) may use that source; then from the shared cache, or downloaded.
    pub async fn fetch(
        &self,
        caller: &capstan_server::Caller,
        reference: &pb::ChartReference,
    ) -> Result<Fetched, Status> {
        let label = describe(reference);
        let (source, target) = match self.sources.find(&reference.url, &reference.chart) {
            Err(message) => {
                capstan_telemetry::metrics::chart_fetch("refused");
                return Err(Status::invalid_argument(format!(
                    "chart reference {label}: {message}"
                )));
            }
            Ok(None) => {
                capstan_telemetry::metrics::chart_fetch("refused");
                return Err(Status::permission_denied(format!(
                    "chart reference {label} is in none of the chart sources this renderer may \
                     reach (its --chart-sources file)"
                )));
            }
            Ok(Some(found)) => found,
        };
        if let Some(tenant) = caller.tenant()
            && !tenant.allows_chart_source(&source.name)
        {
            capstan_telemetry::metrics::chart_fetch("refused");
            return Err(Status::permission_denied(format!(
                "tenant {:?} may not fetch chart reference {label}: chart source {:?} is not \
                 in its policy's chartSources",
                tenant.name, source.name
            )));
        }
        let key = format!(
            "{}\n{}\n{}\n{}\n{}",
            source.name, reference.url, reference.chart, reference.version, reference.devel
        );
        let flight = self.flight(&key);
        let _one_at_a_time = flight.lock().await;
        if let Some(digest) = self.fresh_resolution(&key)
            && let Some(archive) = self.resolver.cache.get(&digest)
        {
            capstan_telemetry::metrics::chart_fetch("cached");
            return Ok(Fetched {
                digest: format!("sha256:{digest}"),
                archive,
                downloaded: false,
            });
        }
        let span = tracing::info_span!("chart.fetch", source = %source.name, chart = %label);
        let fetched = tracing::Instrument::instrument(
            self.resolve_and_download(source, target, reference),
            span,
        )
        .await
        .map_err(|error| {
            capstan_telemetry::metrics::chart_fetch("failed");
            error.status(&label, &source.name)
        })?;
        let (fetched, immutable) = fetched;
        capstan_telemetry::metrics::chart_fetch(if fetched.downloaded {
            "downloaded"
        } else {
            "cached"
        });
        tracing::info!(
            source = %source.name,
            chart = %label,
            digest = %fetched.digest,
            downloaded = fetched.downloaded,
            "chart fetched by reference"
        );
        self.resolutions.lock().expect("resolutions lock").insert(
            key,
            Resolution {
                digest: fetched.digest.trim_start_matches("sha256:").to_owned(),
                at: Instant::now(),
                immutable,
            },
        );
        Ok(fetched)
    }

    /// The lock that makes concurrent fetches of one reference wait for the first.
    fn flight(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.flights
            .lock()
            .expect("flights lock")
            .entry(key.to_owned())
            .or_default()
            .clone()
    }

    fn fresh_resolution(&self, key: &str) -> Option<String> {
        let resolutions = self.resolutions.lock().expect("resolutions lock");
        let r = resolutions.get(key)?;
        (r.immutable || r.at.elapsed() < self.sources.refresh).then(|| r.digest.clone())
    }

    async fn resolve_and_download(
        &self,
        source: &ChartSourceConfig,
        target: Target,
        reference: &pb::ChartReference,
    ) -> Result<(Fetched, bool), FetchError> {
        let credentials = source.credentials().map_err(FetchError::Config)?;
        match target {
            Target::Repo { url, chart } => {
                let (username, password) = credentials.unzip();
                let access = Access {
                    repo: format!("{:?} ({url})", source.name),
                    url: url.clone(),
                    username,
                    password,
                    pass_credentials: source.pass_credentials,
                    ca_file: source.ca_file.clone(),
                    cert_file: source.cert_file.clone(),
                    key_file: source.key_file.clone(),
                    insecure_skip_tls_verify: source.insecure_skip_tls_verify,
                };
                let options = FetchOptions {
                    version: reference.version.clone(),
                    devel: reference.devel,
                    ..FetchOptions::default()
                };
                let index = self.index(source, &access).await?;
                let version = index.select(&access.repo, &chart, &options.constraint())?;
                if version.digest.trim().is_empty() {
                    return Err(FetchError::Config(format!(
                        "the index of chart source {:?} gives no digest for {chart} {}, so the \
                         download cannot be verified",
                        source.name, version.version
                    )));
                }
                let resolved = self.resolver.download(version.clone(), access).await?;
                Ok((
                    Fetched {
                        digest: format!("sha256:{}", resolved.digest),
                        archive: resolved.archive,
                        downloaded: !resolved.cached,
                    },
                    false,
                ))
            }
            Target::Oci(oci) => {
                let options = capstan_oci::Options {
                    plain_http: source.plain_http,
                    insecure_skip_tls_verify: source.insecure_skip_tls_verify,
                    ca_file: source.ca_file.clone(),
                    cert_file: source.cert_file.clone(),
                    key_file: source.key_file.clone(),
                    credential: credentials
                        .map(|(username, password)| capstan_oci::Credential { username, password }),
                    connect_timeout: None,
                };
                let registry = capstan_oci::Registry::new(&oci.registry, &options)?;
                let wanted = if reference.version.is_empty() && reference.devel {
                    Some(">0.0.0-0")
                } else {
                    Some(reference.version.as_str()).filter(|v| !v.is_empty())
                };
                let immutable = oci.digest.is_some();
                let resolved = capstan_oci::chart::resolve(&registry, &oci, wanted).await?;
                let manifest = capstan_oci::chart::manifest(&registry, &resolved).await?;
                let layers = manifest
                    .manifest
                    .chart_layers()
                    .map_err(FetchError::Config)?;
                if let Some(archive) = self.resolver.cache.get(&layers.chart.digest) {
                    return Ok((
                        Fetched {
                            digest: layers.chart.digest.clone(),
                            archive,
                            downloaded: false,
                        },
                        immutable,
                    ));
                }
                let archive = registry
                    .blob(
                        &resolved.repository,
                        layers.chart,
                        self.limits.max_archive_bytes,
                        &format!("chart {resolved}"),
                    )
                    .await?;
                self.check_and_store(&archive)?;
                Ok((
                    Fetched {
                        digest: layers.chart.digest.clone(),
                        archive,
                        downloaded: true,
                    },
                    immutable,
                ))
            }
        }
    }

    /// The index of repository source `source`, reused for the refresh period.
    async fn index(
        &self,
        source: &ChartSourceConfig,
        access: &Access,
    ) -> Result<Arc<IndexFile>, FetchError> {
        if let Some((index, at)) = self.indexes.lock().expect("indexes lock").get(&source.name)
            && at.elapsed() < self.sources.refresh
        {
            return Ok(index.clone());
        }
        let url = capstan_repo::join_url(&access.url, "index.yaml");
        let what = format!("index of chart source {:?}", source.name);
        let bytes = capstan_repo::fetch(access, &url, &what, capstan_repo::MAX_INDEX_BYTES).await?;
        let what = format!("index.yaml of chart source {:?} ({url})", source.name);
        let index = tokio::task::spawn_blocking(move || IndexFile::parse(&bytes, &what))
            .await
            .map_err(|e| FetchError::Config(format!("parsing the index: {e}")))??;
        let index = Arc::new(index);
        self.indexes
            .lock()
            .expect("indexes lock")
            .insert(source.name.clone(), (index.clone(), Instant::now()));
        Ok(index)
    }

    /// Loads a downloaded archive within the chart limits, then keeps it.
    fn check_and_store(&self, archive: &[u8]) -> Result<(), FetchError> {
        Chart::load_archive(archive, &self.limits).map_err(FetchError::Chart)?;
        self.resolver.cache.put(archive)?;
        Ok(())
    }
}

/// How a reference is named in messages.
fn describe(reference: &pb::ChartReference) -> String {
    let mut label = if reference.chart.is_empty() {
        reference.url.clone()
    } else {
        format!("{} from {}", reference.chart, reference.url)
    };
    if !reference.version.is_empty() {
        label.push_str(&format!(" (version {})", reference.version));
    }
    label
}

/// Why a fetch failed.
#[derive(Debug)]
enum FetchError {
    Repo(capstan_repo::Error),
    Oci(capstan_oci::Error),
    Chart(capstan_chart::Error),
    Config(String),
}

impl From<capstan_repo::Error> for FetchError {
    fn from(e: capstan_repo::Error) -> Self {
        FetchError::Repo(e)
    }
}

impl From<capstan_oci::Error> for FetchError {
    fn from(e: capstan_oci::Error) -> Self {
        FetchError::Oci(e)
    }
}

/// `error` and its causes, joined with `: `.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

impl FetchError {
    /// The status the render fails with, naming the reference and its source.
    fn status(&self, label: &str, source: &str) -> Status {
        use tonic::Code;
        let (code, message) = match self {
            FetchError::Repo(e) => (
                match e {
                    capstan_repo::Error::Network { .. } => Code::Unavailable,
                    capstan_repo::Error::ChartNotFound { .. }
                    | capstan_repo::Error::VersionNotFound { .. } => Code::NotFound,
                    capstan_repo::Error::Status { status: 404, .. } => Code::NotFound,
                    capstan_repo::Error::DigestMismatch { .. } => Code::DataLoss,
                    capstan_repo::Error::TooLarge { .. } => Code::ResourceExhausted,
                    capstan_repo::Error::Constraint { .. } => Code::InvalidArgument,
                    _ => Code::FailedPrecondition,
                },
                chain(e),
            ),
            FetchError::Oci(e) => (
                match e {
                    capstan_oci::Error::Unreachable { .. } => Code::Unavailable,
                    capstan_oci::Error::NotFound { .. }
                    | capstan_oci::Error::NoMatchingVersion { .. } => Code::NotFound,
                    capstan_oci::Error::DigestMismatch { .. } => Code::DataLoss,
                    capstan_oci::Error::TooLarge { .. } => Code::ResourceExhausted,
                    capstan_oci::Error::Reference { .. } => Code::InvalidArgument,
                    _ => Code::FailedPrecondition,
                },
                chain(e),
            ),
            FetchError::Chart(e) => (
                match e {
                    capstan_chart::Error::Limit { .. } => Code::ResourceExhausted,
                    _ => Code::FailedPrecondition,
                },
                chain(e),
            ),
            FetchError::Config(m) => (Code::FailedPrecondition, m.clone()),
        };
        Status::new(
            code,
            format!("chart reference {label} (chart source {source:?}): {message}"),
        )
    }
}
