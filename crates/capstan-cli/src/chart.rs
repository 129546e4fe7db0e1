//! Finding a chart and packaging it into the archive the renderer takes: every command that
//! takes a chart goes through [`resolve`] (a directory or `.tgz` on disk, `repo/chart`, a chart
//! URL, `--repo URL`, or `oci://`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use capstan_repo::{ChartRef, FetchOptions, HelmPaths, Resolver};
use tracing::Instrument as _;

use crate::cli::Global;
use crate::sources::ChartSource;

/// A chart as a command names it: the reference, `--version` and the source flags.
#[derive(Debug, Clone, Copy)]
pub struct ChartSpec<'a> {
    /// What the user typed: a path, `repo/chart`, a URL, `oci://...`, or a name with `--repo`.
    pub reference: &'a str,
    /// `--version` (a version or constraint).
    pub version: Option<&'a str>,
    /// The download flags.
    pub source: &'a ChartSource,
}

/// A chart found: its archive bytes and where they came from.
#[derive(Debug)]
pub struct Fetched {
    /// The `.tgz` bytes.
    pub archive: Vec<u8>,
    /// The file name `pull` writes (`<name>-<version>.tgz` from its URL).
    pub file_name: String,
    /// The repository download, when it came from one.
    pub remote: Option<capstan_repo::Resolved>,
    /// The `.prov` file and what verifying it found, with `--verify`.
    pub verification: Option<(Vec<u8>, capstan_repo::provenance::Verification)>,
}

/// Helm's paths, with `--repository-config` and `--repository-cache` laid over the environment.
pub fn helm_paths(global: &Global) -> HelmPaths {
    let mut paths = HelmPaths::from_env();
    if let Some(config) = &global.repository_config {
        paths.repository_config = config.clone();
    }
    if let Some(cache) = &global.repository_cache {
        paths.repository_cache = cache.clone();
    }
    paths
}

/// The resolver over Helm's files and capstan's chart cache.
pub fn resolver(global: &Global) -> Resolver {
    Resolver::new(helm_paths(global))
}

/// The download options of `--version` and the source flags.
pub fn fetch_options(version: Option<&str>, source: &ChartSource) -> FetchOptions {
    FetchOptions {
        version: version.unwrap_or_default().to_string(),
        devel: source.devel,
        username: source.username.clone(),
        password: source.password.clone(),
        pass_credentials: source.pass_credentials,
        ca_file: source.ca_file.clone(),
        cert_file: source.cert_file.clone(),
        key_file: source.key_file.clone(),
        insecure_skip_tls_verify: source.insecure_skip_tls_verify,
        plain_http: source.plain_http,
    }
}

/// The archive of the chart `spec` names (see [`resolve`]).
pub async fn load(global: &Global, spec: ChartSpec<'_>) -> anyhow::Result<Vec<u8>> {
    Ok(resolve(global, spec).await?.archive)
}

/// A chart ready for the renderer: its archive, a local chart directory, or
/// (`--remote-chart`) the reference the renderer fetches itself.
#[derive(Debug)]
pub enum Prepared {
    /// The archive, resolved here.
    Archive(Vec<u8>),
    /// A chart directory on disk (its dependencies updated when asked): an in-process renderer
    /// takes its files as loaded here, a remote one its archive.
    Directory(PathBuf),
    /// The reference, for a remote renderer with `--chart-sources`.
    Reference(capstan_proto::renderer::v1::ChartReference),
}

/// The chart `spec` names, for rendering: resolved here (see [`resolve`]), or with
/// `--remote-chart` passed through as a reference (see [`remote_reference`]).
pub async fn prepare(global: &Global, spec: ChartSpec<'_>) -> anyhow::Result<Prepared> {
    if spec.source.remote_chart {
        return Ok(Prepared::Reference(remote_reference(global, spec)?));
    }
    if let ChartRef::Local(path) = ChartRef::parse(spec.reference, spec.source.repo.as_deref())
        && path.is_dir()
        && !spec.source.verify
    {
        if spec.source.dependency_update {
            update_dependencies(global, spec, &path).await?;
        }
        return Ok(Prepared::Directory(path));
    }
    Ok(Prepared::Archive(load(global, spec).await?))
}

/// `--dependency-update` for the chart directory at `path`.
async fn update_dependencies(
    global: &Global,
    spec: ChartSpec<'_>,
    path: &Path,
) -> anyhow::Result<()> {
    let options = capstan_repo::lock::UpdateOptions {
        skip_refresh: false,
        fetch: fetch_options(None, spec.source),
        oci: oci_fetcher(global, spec.source),
    };
    capstan_repo::lock::update(&resolver(global), path, &options)
        .await
        .with_context(|| format!("updating the dependencies of {}", path.display()))?;
    Ok(())
}

/// A chart directory loaded for the in-process renderer, with its compile key
/// ([`capstan_renderer::compile_key`]); errors read as [`archive`]'s do.
pub fn load_directory(path: &Path) -> anyhow::Result<(capstan_chart::Chart, String)> {
    let (chart, key, ()) = load_directory_with(path, |_| ())?;
    Ok((chart, key))
}

/// [`load_directory`], calling `ahead` with the compile key as soon as it is known and
/// returning what it returned: the in-process renderer starts reading its compile cache there.
/// The key is computed (and `ahead` called) on a thread of its own while this one builds the
/// chart from the files; both are on the way to the render.
pub fn load_directory_with<T: Send>(
    path: &Path,
    ahead: impl Fn(&str) -> T + Sync,
) -> anyhow::Result<(capstan_chart::Chart, String, T)> {
    let _span = tracing::info_span!("chart.load", chart = %path.display()).entered();
    let limits = capstan_chart::Limits::default();
    let load = || {
        let files = capstan_chart::Chart::dir_files(path, &limits)?;
        // The schemas' validators are built while the chart is (a render waits for them).
        let schemas_found = capstan_chart::prepare_validation_of_files(&files);
        let keyed = &|files: &[capstan_chart::ChartFile]| {
            let key = capstan_renderer::compile_key(files);
            let early = ahead(&key);
            (key, early)
        };
        let (chart, (key, early)) = std::thread::scope(|scope| {
            // The files share their bytes: the copy is of names and counts.
            let hashed = files.clone();
            let keying = std::thread::Builder::new()
                .name("capstan-key".into())
                .spawn_scoped(scope, move || keyed(&hashed));
            match keying {
                Ok(keying) => {
                    let chart = capstan_chart::Chart::from_dir_files(files, path, &limits);
                    let key = keying
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    (chart, key)
                }
                // Without the thread, one after the other.
                Err(_) => {
                    let key = keyed(&files);
                    let chart = capstan_chart::Chart::from_dir_files(files, path, &limits);
                    (chart, key)
                }
            }
        });
        let chart = chart?;
        if !schemas_found {
            capstan_chart::prepare_validation(&chart);
        }
        Ok::<_, capstan_chart::Error>((chart, key, early))
    };
    load().with_context(|| format!("loading chart {}", path.display()))
}

/// The reference a remote renderer fetches for `spec`: `oci://` as given; `repo/chart` as the
/// URL `repositories.yaml` gives the repository (the renderer knows no local names); a name with
/// `--repo URL` as that URL. Local charts, archive URLs and the flags that need the chart here
/// (`--verify`, `--dependency-update`) are refused.
pub fn remote_reference(
    global: &Global,
    spec: ChartSpec<'_>,
) -> anyhow::Result<capstan_proto::renderer::v1::ChartReference> {
    if global.renderer.as_deref().is_none_or(str::is_empty) {
        bail!(
            "--remote-chart needs a remote renderer (--renderer or CAPSTAN_RENDERER): the \
             in-process renderer fetches nothing by reference"
        );
    }
    if spec.source.verify || spec.source.dependency_update {
        bail!(
            "--remote-chart cannot be combined with --verify or --dependency-update: the \
             renderer fetches the chart {}",
            spec.reference
        );
    }
    let (url, chart) = match ChartRef::parse(spec.reference, spec.source.repo.as_deref()) {
        ChartRef::Oci(reference) => (reference, String::new()),
        ChartRef::RepoUrl { url, chart } => (url, chart),
        ChartRef::Repo { repo, chart } => {
            let file = resolver(global).repo_file()?;
            let entry = file.get(&repo).with_context(|| {
                format!(
                    "chart \"{repo}/{chart}\": no repository named {repo:?} (add it with \
                     `capstan repo add {repo} URL`)"
                )
            })?;
            (entry.url.clone(), chart)
        }
        ChartRef::Local(path) => bail!(
            "--remote-chart takes a chart reference (oci://..., repo/chart, or a name with \
             --repo), not the local chart {}",
            path.display()
        ),
        ChartRef::Url(url) => bail!(
            "--remote-chart: the renderer does not fetch archive URLs such as {url}; name the \
             chart in its repository (--repo URL NAME) or by oci:// reference"
        ),
        ChartRef::Missing(reference) => bail!(
            "--remote-chart: {reference:?} is not a chart reference (oci://..., repo/chart, or \
             a name with --repo)"
        ),
    };
    Ok(capstan_proto::renderer::v1::ChartReference {
        url,
        chart,
        version: spec.version.unwrap_or_default().to_owned(),
        devel: spec.source.devel,
    })
}

/// The one chart resolver: a local directory (its dependencies updated first with
/// `--dependency-update`) or archive, a repository chart through the cache, a chart URL, or an
/// `oci://` reference; verified against its `.prov` with `--verify`.
pub async fn resolve(global: &Global, spec: ChartSpec<'_>) -> anyhow::Result<Fetched> {
    if spec.source.remote_chart {
        bail!(
            "--remote-chart applies to rendering (install, upgrade, template, diff): here the \
             chart {} is needed locally",
            spec.reference
        );
    }
    let span = tracing::info_span!("chart.resolve", chart = %spec.reference);
    resolve_reference(global, spec).instrument(span).await
}

async fn resolve_reference(global: &Global, spec: ChartSpec<'_>) -> anyhow::Result<Fetched> {
    let reference = ChartRef::parse(spec.reference, spec.source.repo.as_deref());
    match reference {
        ChartRef::Local(path) => {
            if spec.source.dependency_update && path.is_dir() {
                update_dependencies(global, spec, &path).await?;
            }
            let archive = archive(&path)?;
            let mut verification = None;
            if spec.source.verify {
                if path.is_dir() {
                    bail!(
                        "cannot verify {}: --verify needs a chart archive",
                        path.display()
                    );
                }
                let prov_path = PathBuf::from(format!("{}.prov", path.display()));
                let prov = std::fs::read(&prov_path).with_context(|| {
                    format!("reading the provenance file {}", prov_path.display())
                })?;
                let found = verify(&archive, &prov, &file_name(&path), spec.source)?;
                verification = Some((prov, found));
            }
            Ok(Fetched {
                archive,
                file_name: file_name(&path),
                remote: None,
                verification,
            })
        }
        ChartRef::Oci(reference) => oci(global, &reference, spec).await,
        remote => {
            let options = fetch_options(spec.version, spec.source);
            let resolved = resolver(global).resolve(&remote, &options).await?;
            let mut verification = None;
            if spec.source.verify {
                let prov_url = format!("{}.prov", resolved.url);
                let prov = capstan_repo::fetch(
                    &resolved.access,
                    &prov_url,
                    &format!("provenance of chart {}", resolved.file_name),
                    1 << 20,
                )
                .await?;
                let found = verify(&resolved.archive, &prov, &resolved.file_name, spec.source)?;
                verification = Some((prov, found));
            }
            Ok(Fetched {
                archive: resolved.archive.clone(),
                file_name: resolved.file_name.clone(),
                remote: Some(resolved),
                verification,
            })
        }
    }
}

/// Checks `archive` against its provenance file with the keyring of `--keyring` (Helm's
/// default `~/.gnupg/pubring.gpg` otherwise).
pub(crate) fn verify(
    archive: &[u8],
    prov: &[u8],
    file_name: &str,
    source: &ChartSource,
) -> anyhow::Result<capstan_repo::provenance::Verification> {
    let keyring_path = source
        .keyring
        .clone()
        .unwrap_or_else(HelmPaths::default_keyring);
    let keyring = std::fs::read(&keyring_path)
        .with_context(|| format!("reading the keyring {}", keyring_path.display()))?;
    Ok(capstan_repo::provenance::verify(
        archive, file_name, prov, &keyring,
    )?)
}

/// The registry flags of the chart download flags (`oci://` charts use the same ones).
pub(crate) fn registry_flags(source: &ChartSource) -> crate::cli::RegistryFlags {
    crate::cli::RegistryFlags {
        plain_http: source.plain_http,
        insecure_skip_tls_verify: source.insecure_skip_tls_verify,
        ca_file: source.ca_file.clone(),
        cert_file: source.cert_file.clone(),
        key_file: source.key_file.clone(),
        username: source.username.clone(),
        password: source.password.clone(),
    }
}

/// The OCI client as the [`capstan_repo::ChartFetcher`] that `oci://` references and `oci://`
/// dependencies go through: credentials from the flags or Helm's registry credentials file.
struct OciFetcher {
    flags: crate::cli::RegistryFlags,
}

impl capstan_repo::ChartFetcher for OciFetcher {
    fn fetch<'a>(
        &'a self,
        reference: &'a str,
        options: &'a FetchOptions,
    ) -> capstan_repo::FetchFuture<'a> {
        Box::pin(async move {
            let version = Some(options.version.as_str()).filter(|v| !v.is_empty());
            let pulled = crate::oci::pull(reference, version, &self.flags, false)
                .await
                .map_err(|e| capstan_repo::Error::Reference(format!("{e:#}")))?;
            Ok(capstan_repo::FetchedChart {
                version: pulled.metadata.version.clone(),
                digest: pulled.manifest_digest,
                archive: pulled.archive,
            })
        })
    }
}

/// The OCI client for `source`'s flags.
pub fn oci_fetcher(
    _global: &Global,
    source: &ChartSource,
) -> Option<std::sync::Arc<dyn capstan_repo::ChartFetcher>> {
    Some(std::sync::Arc::new(OciFetcher {
        flags: registry_flags(source),
    }))
}

/// `oci://` references: pulled from the registry (every blob checked against its digest),
/// with the provenance layer verified under `--verify`.
async fn oci(_global: &Global, reference: &str, spec: ChartSpec<'_>) -> anyhow::Result<Fetched> {
    let flags = registry_flags(spec.source);
    let pulled = crate::oci::pull(reference, spec.version, &flags, spec.source.verify).await?;
    let file_name = format!("{}-{}.tgz", pulled.metadata.name, pulled.metadata.version);
    let verification = if spec.source.verify {
        let prov = pulled.prov.clone().with_context(|| {
            format!("cannot verify {reference}: the registry holds no provenance for it")
        })?;
        let found = verify(&pulled.archive, &prov, &file_name, spec.source)?;
        Some((prov, found))
    } else {
        None
    };
    Ok(Fetched {
        archive: pulled.archive,
        file_name,
        remote: None,
        verification,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

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
