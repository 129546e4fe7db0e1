//! Turning a chart reference into archive bytes: repository indexes, downloads and the cache.

use std::path::PathBuf;

use crate::access::{Access, fetch, join_url};
use crate::cache::{ChartCache, normalize, write_atomic, write_cache_file};
use crate::index::{ChartVersion, IndexFile};
use crate::{ChartRef, Error, HelmPaths, RepoEntry, RepoFile, Result};

/// The largest `index.yaml` accepted (a 10,000-entry index is about 15 MiB).
pub const MAX_INDEX_BYTES: u64 = 512 << 20;

/// Options of a chart download: the version wanted and how to reach the repository (flags that
/// override `repositories.yaml`).
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// A version or Masterminds constraint (empty: the newest release).
    pub version: String,
    /// Pre-releases too (`--devel`): an empty version becomes `>0.0.0-0`.
    pub devel: bool,
    /// `--username`.
    pub username: Option<String>,
    /// `--password`.
    pub password: Option<String>,
    /// `--pass-credentials`.
    pub pass_credentials: bool,
    /// `--ca-file`.
    pub ca_file: Option<PathBuf>,
    /// `--cert-file`.
    pub cert_file: Option<PathBuf>,
    /// `--key-file`.
    pub key_file: Option<PathBuf>,
    /// `--insecure-skip-tls-verify`.
    pub insecure_skip_tls_verify: bool,
    /// `--plain-http` (for `oci://` registries).
    pub plain_http: bool,
}

impl FetchOptions {
    /// The version constraint to select with: `>0.0.0-0` for `--devel` without a version.
    pub fn constraint(&self) -> String {
        if self.version.is_empty() && self.devel {
            ">0.0.0-0".into()
        } else {
            self.version.clone()
        }
    }

    /// `access` with these options' flags laid over it.
    pub fn apply_to(&self, mut access: Access) -> Access {
        if self.username.is_some() {
            access.username = self.username.clone();
            access.password = self.password.clone();
        }
        access.pass_credentials |= self.pass_credentials;
        access.ca_file = self.ca_file.clone().or(access.ca_file);
        access.cert_file = self.cert_file.clone().or(access.cert_file);
        access.key_file = self.key_file.clone().or(access.key_file);
        access.insecure_skip_tls_verify |= self.insecure_skip_tls_verify;
        access
    }
}

/// A resolved chart: its archive and where it came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The `.tgz` bytes.
    pub archive: Vec<u8>,
    /// The chart's index entry (name, version, urls...), when it came from a repository.
    pub entry: Option<ChartVersion>,
    /// The archive's sha256 (hex).
    pub digest: String,
    /// The URL it was (or would have been) downloaded from.
    pub url: String,
    /// The archive's file name as Helm's `pull` writes it (the URL's last element).
    pub file_name: String,
    /// How its repository is reached (for the `.prov` file next to it).
    pub access: Access,
    /// Whether it came from the cache without a download.
    pub cached: bool,
}

/// Resolves chart references through Helm's files and capstan's chart cache.
#[derive(Debug, Clone)]
pub struct Resolver {
    /// Helm's paths.
    pub paths: HelmPaths,
    /// The chart cache.
    pub cache: ChartCache,
}

impl Resolver {
    /// A resolver over `paths`, with the chart cache inside Helm's cache directory.
    pub fn new(paths: HelmPaths) -> Resolver {
        let cache = ChartCache::new(paths.chart_cache());
        Resolver { paths, cache }
    }

    /// `repositories.yaml`.
    pub fn repo_file(&self) -> Result<RepoFile> {
        RepoFile::load(&self.paths.repository_config)
    }

    /// Downloads repository `entry`'s `index.yaml`, checks that it parses, and stores it (and
    /// its chart list) in the repository cache, atomically, as Helm does (the bytes as the
    /// server sent them); the parsed index. capstan's parsed copy is made on the index's first
    /// read ([`Resolver::cached_index`]).
    pub async fn update_repo(
        &self,
        entry: &RepoEntry,
        options: &FetchOptions,
    ) -> Result<IndexFile> {
        let (bytes, what) = self.download_index(entry, options).await?;
        let index = IndexFile::parse(&bytes, &what)?;
        let names: Vec<&String> = index.entries.keys().collect();
        self.store_index(entry, &bytes, &names)?;
        Ok(index)
    }

    /// [`Resolver::update_repo`] for `repo update` and `repo add`, which need no index: the
    /// index is checked as thoroughly, but only its chart names are kept. The number of charts.
    pub async fn refresh_repo(&self, entry: &RepoEntry, options: &FetchOptions) -> Result<usize> {
        let (bytes, what) = self.download_index(entry, options).await?;
        let names = IndexFile::chart_names(&bytes, &what)?;
        self.store_index(entry, &bytes, &names)?;
        Ok(names.len())
    }

    /// Repository `entry`'s `index.yaml` bytes, and how errors name it.
    async fn download_index(
        &self,
        entry: &RepoEntry,
        options: &FetchOptions,
    ) -> Result<(Vec<u8>, String)> {
        let access = options.apply_to(Access::from_entry(entry));
        let url = join_url(&entry.url, "index.yaml");
        let what = format!("repository {:?} index", entry.name);
        let bytes = fetch(&access, &url, &what, MAX_INDEX_BYTES).await?;
        Ok((
            bytes,
            format!("index.yaml of repository {:?} ({url})", entry.name),
        ))
    }

    /// Stores a downloaded index and its chart list in the repository cache.
    fn store_index(
        &self,
        entry: &RepoEntry,
        bytes: &[u8],
        names: &[impl AsRef<str>],
    ) -> Result<()> {
        write_cache_file(&self.paths.index_file(&entry.name), bytes)?;
        // The old parsed copy is stale (its stamp would tell, but a copy that can never be
        // used again need not stay).
        let _ = std::fs::remove_file(self.parsed_path(&entry.name));
        let mut list = String::with_capacity(names.iter().map(|n| n.as_ref().len() + 1).sum());
        for name in names {
            list.push_str(name.as_ref());
            list.push('\n');
        }
        list.pop();
        write_cache_file(&self.paths.charts_file(&entry.name), list.as_bytes())?;
        tracing::info!(repo = %entry.name, charts = names.len(), "repository index updated");
        Ok(())
    }

    /// The cached index of repository `name`: from capstan's parsed copy when it was made from
    /// the `index.yaml` now in the cache (same size and modification time), else parsed from
    /// the YAML (and the parsed copy refreshed).
    pub fn cached_index(&self, name: &str) -> Result<IndexFile> {
        let path = self.paths.index_file(name);
        let Ok(metadata) = std::fs::metadata(&path) else {
            return Err(Error::NoCachedIndex { name: name.into() });
        };
        let stamp = stamp(&metadata);
        if let Ok(bytes) = std::fs::read(self.parsed_path(name))
            && let Ok(parsed) = serde_json::from_slice::<ParsedIndex>(&bytes)
            && parsed.source == stamp
        {
            return Ok(parsed.index);
        }
        let what = format!(
            "cached index.yaml of repository {name:?} ({})",
            path.display()
        );
        let index = IndexFile::load(&path, &what)?;
        self.save_parsed(name, &path, &index);
        Ok(index)
    }

    /// Removes repository `name`'s cached index, chart list and parsed copy (`repo remove`).
    pub fn forget_repo(&self, name: &str) -> Result<()> {
        for path in [
            self.paths.index_file(name),
            self.paths.charts_file(name),
            self.parsed_path(name),
        ] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("removing", &path, e)),
            }
        }
        Ok(())
    }

    /// capstan's parsed copy of repository `name`'s cached index.
    fn parsed_path(&self, name: &str) -> PathBuf {
        self.paths
            .cache_home
            .join("capstan/indexes")
            .join(format!("{name}.json"))
    }

    /// Writes the parsed copy of the index at `source` (best effort: it is only a speed-up).
    fn save_parsed(&self, name: &str, source: &std::path::Path, index: &IndexFile) {
        let Ok(metadata) = std::fs::metadata(source) else {
            return;
        };
        let parsed = ParsedIndexRef {
            source: stamp(&metadata),
            index,
        };
        if let Ok(bytes) = serde_json::to_vec(&parsed)
            && let Err(error) = write_atomic(&self.parsed_path(name), &bytes, 0o644)
        {
            tracing::debug!(repo = %name, error = %error, "not keeping a parsed index");
        }
    }

    /// Resolves a remote reference (`REPO/CHART`, `--repo`, a URL) to archive bytes, through
    /// the cache. Local paths and `oci://` are the caller's.
    pub async fn resolve(&self, reference: &ChartRef, options: &FetchOptions) -> Result<Resolved> {
        match reference {
            ChartRef::Repo { repo, chart } => {
                let file = self.repo_file()?;
                let entry = file.get(repo).ok_or_else(|| {
                    Error::Reference(format!(
                        "chart \"{repo}/{chart}\" not found: no such directory or archive, and no repository named {repo:?} (add it with `capstan repo add {repo} URL`)"
                    ))
                })?;
                let index = self.cached_index(repo)?;
                let access = options.apply_to(Access::from_entry(entry));
                let version = index.select(repo, chart, &options.constraint())?.clone();
                self.download(version, access).await
            }
            ChartRef::RepoUrl { url, chart } => {
                let access = options.apply_to(Access {
                    repo: url.clone(),
                    url: url.clone(),
                    ..Access::default()
                });
                let index_url = join_url(url, "index.yaml");
                let what = format!("chart {chart:?} from repository {url}: its index");
                let bytes = fetch(&access, &index_url, &what, MAX_INDEX_BYTES).await?;
                let index = IndexFile::parse(&bytes, &format!("index.yaml of repository {url}"))?;
                let version = index.select(url, chart, &options.constraint())?.clone();
                self.download(version, access).await
            }
            ChartRef::Url(url) => {
                let access = options.apply_to(Access {
                    repo: url.clone(),
                    url: url.clone(),
                    ..Access::default()
                });
                let archive = fetch(&access, url, &format!("chart {url}"), max_archive()).await?;
                check_archive(&archive, url)?;
                let digest = self.cache.put(&archive)?;
                Ok(Resolved {
                    archive,
                    entry: None,
                    digest,
                    file_name: file_name_of(url),
                    url: url.clone(),
                    access,
                    cached: false,
                })
            }
            ChartRef::Oci(r) => Err(Error::Reference(format!(
                "{r}: oci:// references are resolved by the OCI client"
            ))),
            ChartRef::Local(p) => Err(Error::Reference(format!(
                "{}: a local chart is not downloaded",
                p.display()
            ))),
            ChartRef::Missing(r) => Err(Error::Reference(missing_message(r))),
        }
    }

    /// Downloads (or takes from the cache) the archive of an index entry.
    pub async fn download(&self, version: ChartVersion, access: Access) -> Result<Resolved> {
        let label = format!(
            "\"{}\" version {} from repository {}",
            version.name, version.version, access.repo
        );
        let Some(first) = version.urls.first() else {
            return Err(Error::Reference(format!(
                "chart {label}: the index gives no URL"
            )));
        };
        let url = join_url(&access.url, first);
        let expected = normalize(&version.digest);
        if let Some(digest) = &expected
            && let Some(archive) = self.cache.get(digest)
        {
            return Ok(Resolved {
                archive,
                digest: digest.clone(),
                file_name: file_name_of(&url),
                url,
                entry: Some(version),
                access,
                cached: true,
            });
        }
        let archive = fetch(&access, &url, &format!("chart {label}"), max_archive()).await?;
        let actual = capstan_chart::archive_digest(&archive);
        if let Some(expected) = expected
            && expected != actual
        {
            return Err(Error::DigestMismatch {
                repo: access.repo.clone(),
                chart: format!("\"{}\" version {}", version.name, version.version),
                expected,
                actual,
            });
        }
        check_archive(&archive, &label)?;
        self.cache.put(&archive)?;
        Ok(Resolved {
            archive,
            digest: actual,
            file_name: file_name_of(&url),
            url,
            entry: Some(version),
            access,
            cached: false,
        })
    }
}

/// The parsed copy of a cached index, stamped with the size and modification time of the
/// `index.yaml` it was made from.
#[derive(serde::Deserialize)]
struct ParsedIndex {
    source: String,
    index: IndexFile,
}

#[derive(serde::Serialize)]
struct ParsedIndexRef<'a> {
    source: String,
    index: &'a IndexFile,
}

fn stamp(metadata: &std::fs::Metadata) -> String {
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{}:{modified}", metadata.len())
}

fn max_archive() -> u64 {
    capstan_chart::Limits::default().max_archive_bytes
}

/// Loads the archive with capstan-chart's limits, so a hostile archive is refused before use.
fn check_archive(archive: &[u8], label: &str) -> Result<()> {
    capstan_chart::Chart::load_archive(archive, &capstan_chart::Limits::default())
        .map(|_| ())
        .map_err(|source| Error::Chart {
            chart: label.to_string(),
            source,
        })
}

/// The last path element of a URL, without its query.
fn file_name_of(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path).to_string()
}

/// The message for a reference that is neither on disk nor a reference form.
pub(crate) fn missing_message(reference: &str) -> String {
    if reference.contains('/') || reference.starts_with('.') {
        format!("chart {reference} not found: no such directory or archive")
    } else {
        format!(
            "chart {reference} not found: no such directory or archive (a repository's chart is named REPO/CHART, or give --repo URL)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parsed_copy_follows_the_cached_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_path_buf();
        let paths = HelmPaths::from_lookup(|name| (name == "HOME").then(|| home.clone()));
        let resolver = Resolver::new(paths);
        assert!(matches!(
            resolver.cached_index("r"),
            Err(Error::NoCachedIndex { .. })
        ));
        let yaml = |version: &str| {
            format!(
                "apiVersion: v1\nentries:\n  web:\n  - name: web\n    version: {version}\n    urls: [w.tgz]\n"
            )
        };
        let index_path = resolver.paths.index_file("r");
        write_atomic(&index_path, yaml("1.0.0").as_bytes(), 0o644).unwrap();
        assert_eq!(
            resolver.cached_index("r").unwrap().entries["web"][0].version,
            "1.0.0"
        );
        assert!(resolver.parsed_path("r").is_file());
        assert_eq!(
            resolver.cached_index("r").unwrap().entries["web"][0].version,
            "1.0.0"
        );
        // Another tool (helm repo update) rewrites the YAML: the parsed copy is not used.
        write_atomic(&index_path, yaml("1.10.0").as_bytes(), 0o644).unwrap();
        assert_eq!(
            resolver.cached_index("r").unwrap().entries["web"][0].version,
            "1.10.0"
        );
        resolver.forget_repo("r").unwrap();
        assert!(!index_path.exists() && !resolver.parsed_path("r").exists());
    }
}
