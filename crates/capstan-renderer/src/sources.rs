//! The chart sources file (`capstan-renderer --chart-sources FILE`): the repositories and
//! registries the renderer may fetch charts from by reference, and which of them a reference
//! falls under.
//!
//! ```yaml
//! # Where fetched archives are kept, by digest (optional: in memory only without it).
//! cacheDir: /var/cache/capstan-renderer/charts
//! # How long a resolution (a repository's index.yaml, a registry tag or constraint) is reused
//! # before it is asked again (optional, default 60). Archives are never fetched twice.
//! refreshSeconds: 60
//! sources:
//!   - name: internal                          # what tenant policies name (chartSources)
//!     url: https://charts.example.com/stable  # a classic repository: where index.yaml is
//!     usernameFile: /etc/capstan/internal/username   # credentials, read at each fetch
//!     passwordFile: /etc/capstan/internal/password
//!     caFile: /etc/capstan/internal/ca.pem    # optional TLS files
//!     certFile: /etc/capstan/internal/tls.crt
//!     keyFile: /etc/capstan/internal/tls.key
//!     insecureSkipTlsVerify: false
//!     passCredentials: false                  # credentials to other hosts (redirects)
//!   - name: registry
//!     url: oci://registry.example.com/charts  # every chart under this registry path
//!     usernameFile: /etc/capstan/registry/username
//!     passwordFile: /etc/capstan/registry/password
//!     plainHttp: false
//! ```
//!
//! A repository source covers exactly its URL (a trailing `/` aside); an `oci://` source covers
//! the charts of its host whose repository path is under the source's path.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Default of `refreshSeconds`.
pub const DEFAULT_REFRESH_SECONDS: u64 = 60;

/// The operator's chart sources, validated.
#[derive(Debug, Clone)]
pub struct ChartSources {
    /// The sources, in file order.
    pub sources: Vec<ChartSourceConfig>,
    /// Where fetched archives are kept on disk (by digest), if anywhere.
    pub cache_dir: Option<PathBuf>,
    /// How long a resolution is reused.
    pub refresh: Duration,
}

/// One source of the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChartSourceConfig {
    /// Its name, as tenant policies name it.
    pub name: String,
    /// `https://...` (a repository) or `oci://host[:port][/path]` (a registry path).
    pub url: String,
    /// A file holding the user name.
    #[serde(default)]
    pub username_file: Option<PathBuf>,
    /// A file holding the password (or token).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// A CA bundle (PEM) to verify the server with.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM).
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Its key (PEM).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Do not verify the server's certificate.
    #[serde(default)]
    pub insecure_skip_tls_verify: bool,
    /// Send the credentials to other hosts too (a repository's redirects).
    #[serde(default)]
    pub pass_credentials: bool,
    /// Talk plain HTTP to an `oci://` registry.
    #[serde(default)]
    pub plain_http: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SourcesFile {
    #[serde(default)]
    cache_dir: Option<PathBuf>,
    #[serde(default)]
    refresh_seconds: Option<u64>,
    #[serde(default)]
    sources: Vec<ChartSourceConfig>,
}

/// What a reference names, once matched to a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A chart of a classic repository.
    Repo {
        /// The repository URL as the source gives it.
        url: String,
        /// The chart's name.
        chart: String,
    },
    /// An `oci://` reference.
    Oci(capstan_oci::Reference),
}

impl ChartSources {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> anyhow::Result<ChartSources> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading chart sources {}: {e}", path.display()))?;
        ChartSources::parse(&text, &path.display().to_string())
    }

    /// Parses and validates the file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> anyhow::Result<ChartSources> {
        let bad = |reason: String| anyhow::anyhow!("chart sources {path}: {reason}");
        let file: SourcesFile = serde_yaml_ng::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut names = std::collections::BTreeSet::new();
        for source in &file.sources {
            let name = &source.name;
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(bad(format!("invalid source name {name:?}")));
            }
            if !names.insert(name.clone()) {
                return Err(bad(format!("source {name:?} is named twice")));
            }
            if source.username_file.is_some() != source.password_file.is_some() {
                return Err(bad(format!(
                    "source {name:?}: usernameFile and passwordFile go together"
                )));
            }
            if source.cert_file.is_some() != source.key_file.is_some() {
                return Err(bad(format!(
                    "source {name:?}: certFile and keyFile go together"
                )));
            }
            if let Some(rest) = source.url.strip_prefix("oci://") {
                let host = rest.split('/').next().unwrap_or_default();
                if host.is_empty() {
                    return Err(bad(format!("source {name:?}: {} has no host", source.url)));
                }
            } else {
                let url = scheme_of(&source.url)
                    .ok_or_else(|| bad(format!("source {name:?}: {} is not a URL", source.url)))?;
                if !matches!(url.as_str(), "http" | "https") {
                    return Err(bad(format!(
                        "source {name:?}: {} is neither http(s):// nor oci://",
                        source.url
                    )));
                }
            }
        }
        Ok(ChartSources {
            sources: file.sources,
            cache_dir: file.cache_dir,
            refresh: Duration::from_secs(file.refresh_seconds.unwrap_or(DEFAULT_REFRESH_SECONDS)),
        })
    }

    /// The source a reference falls under, and what it names; `None` when no source covers it.
    /// `url` is `oci://...` or a repository URL (then `chart` names the chart).
    pub fn find(
        &self,
        url: &str,
        chart: &str,
    ) -> Result<Option<(&ChartSourceConfig, Target)>, String> {
        if capstan_oci::is_oci(url) {
            let reference = capstan_oci::Reference::parse(url).map_err(|e| e.to_string())?;
            let found = self.sources.iter().find(|s| {
                s.url
                    .strip_prefix("oci://")
                    .is_some_and(|base| oci_covers(base, &reference))
            });
            return Ok(found.map(|s| (s, Target::Oci(reference))));
        }
        if chart.is_empty() || chart.contains('/') {
            return Err(format!(
                "a repository reference needs a chart name (got {chart:?} for {url})"
            ));
        }
        let wanted = url.trim_end_matches('/');
        Ok(self
            .sources
            .iter()
            .find(|s| !capstan_oci::is_oci(&s.url) && s.url.trim_end_matches('/') == wanted)
            .map(|s| {
                (
                    s,
                    Target::Repo {
                        url: s.url.clone(),
                        chart: chart.to_owned(),
                    },
                )
            }))
    }
}

/// The scheme of `url`, when it has one followed by `://` and a host.
fn scheme_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    (!rest.is_empty()).then(|| scheme.to_ascii_lowercase())
}

/// Whether the `oci://` source `base` (`host[:port][/path]`) covers `reference`.
fn oci_covers(base: &str, reference: &capstan_oci::Reference) -> bool {
    let base = base.trim_end_matches('/');
    let (host, path) = base.split_once('/').unwrap_or((base, ""));
    host.eq_ignore_ascii_case(&reference.registry)
        && (path.is_empty()
            || reference
                .repository
                .strip_prefix(path)
                .is_some_and(|rest| rest.starts_with('/')))
}

impl ChartSourceConfig {
    /// The user name and password from their files (trailing newlines dropped), if any.
    pub fn credentials(&self) -> Result<Option<(String, String)>, String> {
        let (Some(user), Some(password)) = (&self.username_file, &self.password_file) else {
            return Ok(None);
        };
        let read = |p: &PathBuf| {
            std::fs::read_to_string(p)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|e| {
                    format!(
                        "chart source {:?}: reading credentials file {}: {e}",
                        self.name,
                        p.display()
                    )
                })
        };
        Ok(Some((read(user)?, read(password)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "
cacheDir: /tmp/charts
sources:
  - name: internal
    url: https://charts.example.com/stable/
  - name: registry
    url: oci://registry.example.com:5000/charts
    usernameFile: /u
    passwordFile: /p
";

    #[test]
    fn references_fall_under_their_source() {
        let sources = ChartSources::parse(FILE, "s.yaml").unwrap();
        assert_eq!(sources.refresh, Duration::from_secs(60));
        let (s, target) = sources
            .find("https://charts.example.com/stable", "web")
            .unwrap()
            .unwrap();
        assert_eq!(s.name, "internal");
        assert!(matches!(target, Target::Repo { chart, .. } if chart == "web"));
        let (s, _) = sources
            .find("oci://registry.example.com:5000/charts/web:1.0.0", "")
            .unwrap()
            .unwrap();
        assert_eq!(s.name, "registry");
        assert!(
            sources
                .find("oci://registry.example.com:5000/chartsx/web", "")
                .unwrap()
                .is_none()
        );
        assert!(
            sources
                .find("oci://registry.example.com/charts/web", "")
                .unwrap()
                .is_none()
        );
        assert!(
            sources
                .find("https://charts.example.com/other", "web")
                .unwrap()
                .is_none()
        );
        assert!(
            sources
                .find("https://charts.example.com/stable", "")
                .is_err()
        );
    }

    #[test]
    fn invalid_files_are_refused_with_the_reason() {
        for (text, expected) in [
            ("sources: [{name: a, url: ftp://x}]", "neither"),
            ("sources: [{name: a, url: x}]", "not a URL"),
            (
                "sources: [{name: a, url: oci://x}, {name: a, url: oci://y}]",
                "named twice",
            ),
            (
                "sources: [{name: a, url: oci://x, usernameFile: /u}]",
                "go together",
            ),
            ("sources: [{name: a, url: oci://x, token: t}]", "token"),
        ] {
            let error = ChartSources::parse(text, "s.yaml").unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
