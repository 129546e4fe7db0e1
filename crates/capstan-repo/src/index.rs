//! A repository's `index.yaml`: parsing, Helm's ordering, version selection and `repo index`.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use capstan_chart::constraint::{Constraint, parse_version};
use serde::{Deserialize, Serialize};

use crate::cache::write_atomic;
use crate::{Error, Result};

/// One chart version of an index: the chart's `Chart.yaml` fields plus where to get it.
///
/// Fields are in the order Helm writes them (keys sorted), empty ones left out as Helm does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartVersion {
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// `v2` or `v1`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// The application's version.
    #[serde(
        default,
        deserialize_with = "scalar",
        skip_serializing_if = "String::is_empty"
    )]
    pub app_version: String,
    /// Legacy `condition`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    /// When the entry was added (RFC 3339).
    #[serde(default, deserialize_with = "scalar")]
    pub created: String,
    /// The chart's dependencies, as in `Chart.yaml`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<serde_json::Value>,
    /// Whether the chart is deprecated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    /// A one-line description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// sha256 of the archive (hex).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// Home page.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub home: String,
    /// Icon URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub icon: String,
    /// Search keywords.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Kubernetes version constraint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kube_version: String,
    /// Maintainers, as in `Chart.yaml`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintainers: Vec<serde_json::Value>,
    /// The chart's name.
    #[serde(default)]
    pub name: String,
    /// Whether the entry was removed (legacy).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
    /// Source URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Legacy `tags`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tags: String,
    /// `application` or `library`.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub chart_type: String,
    /// Where the archive is: absolute URLs, or relative to the repository URL.
    #[serde(default)]
    pub urls: Vec<String>,
    /// The chart's SemVer version.
    #[serde(default, deserialize_with = "scalar")]
    pub version: String,
}

impl ChartVersion {
    /// Whether Helm keeps this entry of an index: it has a name and a SemVer version.
    pub(crate) fn is_valid_entry(&self) -> bool {
        !self.name.is_empty() && parse_version(&self.version).is_ok()
    }
}

fn scalar<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_yaml_ng::Value::deserialize(d)? {
        serde_yaml_ng::Value::String(s) => s,
        serde_yaml_ng::Value::Number(n) => n.to_string(),
        serde_yaml_ng::Value::Bool(b) => b.to_string(),
        _ => String::new(),
    })
}

/// A repository's `index.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IndexFile {
    /// Repository annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    /// Chart name to its versions, newest first (after [`IndexFile::sort`]).
    #[serde(default)]
    pub entries: BTreeMap<String, Vec<ChartVersion>>,
    /// When the index was generated (RFC 3339).
    #[serde(default, deserialize_with = "scalar")]
    pub generated: String,
    /// Server information (kept as given).
    #[serde(
        rename = "serverInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub server_info: Option<serde_json::Value>,
}

impl IndexFile {
    /// An empty index generated now.
    pub fn new() -> IndexFile {
        IndexFile {
            api_version: "v1".into(),
            generated: now(),
            ..IndexFile::default()
        }
    }

    /// Parses index bytes as Helm does: `apiVersion` is required, entries without a name or
    /// with a version that is not SemVer are dropped, versions are sorted newest first. `what`
    /// names the index in errors (e.g. `index.yaml of repository "stable"`).
    pub fn parse(bytes: &[u8], what: &str) -> Result<IndexFile> {
        let parse_error = |message: String| Error::Parse {
            what: what.to_string(),
            message,
        };
        let mut index = match crate::fastindex::parse(bytes) {
            Some(index) => index,
            None => {
                tracing::debug!(index = %what, "index outside the block subset: the full YAML parser reads it");
                serde_yaml_ng::from_slice(bytes).map_err(|e| parse_error(e.to_string()))?
            }
        };
        if index.api_version.is_empty() {
            return Err(parse_error("no API version specified".into()));
        }
        for (name, versions) in index.entries.iter_mut() {
            versions.retain(|v| {
                let valid = v.is_valid_entry();
                if !valid {
                    tracing::warn!(chart = %name, version = %v.version, "skipping an invalid index entry");
                }
                valid
            });
            for v in versions.iter_mut() {
                if v.api_version.is_empty() {
                    v.api_version = "v1".into();
                }
            }
        }
        index.entries.retain(|_, v| !v.is_empty());
        index.sort();
        Ok(index)
    }

    /// The names of the charts of index bytes, sorted: exactly the keys of
    /// [`IndexFile::parse`]'s entries, with the same errors, without keeping the versions
    /// (`repo update` needs only the names, for Helm's chart list).
    pub fn chart_names(bytes: &[u8], what: &str) -> Result<Vec<String>> {
        let Some((root, charts)) = crate::fastindex::chart_validity(bytes) else {
            return Ok(IndexFile::parse(bytes, what)?.entries.into_keys().collect());
        };
        if root.api_version.is_empty() {
            return Err(Error::Parse {
                what: what.to_string(),
                message: "no API version specified".into(),
            });
        }
        Ok(charts
            .into_iter()
            .filter_map(|(name, valid)| valid.then_some(name))
            .collect())
    }

    /// Reads and parses an index file.
    pub fn load(path: &Path, what: &str) -> Result<IndexFile> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
        IndexFile::parse(&bytes, what)
    }

    /// The index as Helm writes it (keys sorted, sequences not indented).
    pub fn to_yaml(&self) -> Result<String> {
        serde_yaml_ng::to_string(self).map_err(|e| Error::Parse {
            what: "index".into(),
            message: e.to_string(),
        })
    }

    /// Writes the index to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_yaml()?.as_bytes(), 0o644)
    }

    /// Sorts every chart's versions newest first; versions that are not SemVer go last.
    pub fn sort(&mut self) {
        for versions in self.entries.values_mut() {
            versions.sort_by_cached_key(|v| std::cmp::Reverse(parse_version(&v.version).ok()));
        }
    }

    /// Whether the index has `name` at exactly `version`.
    pub fn has(&self, name: &str, version: &str) -> bool {
        self.entries
            .get(name)
            .is_some_and(|vs| vs.iter().any(|v| v.version == version))
    }

    /// Adds a chart version (keeping its own `created` when set).
    pub fn add(&mut self, mut version: ChartVersion) {
        if version.created.is_empty() {
            version.created = now();
        }
        if version.api_version.is_empty() {
            version.api_version = "v1".into();
        }
        self.entries
            .entry(version.name.clone())
            .or_default()
            .push(version);
    }

    /// `repo index --merge`: adds the versions of `other` this index lacks.
    pub fn merge(&mut self, other: IndexFile) {
        for (_, versions) in other.entries {
            for v in versions {
                if !self.has(&v.name, &v.version) {
                    self.entries.entry(v.name.clone()).or_default().push(v);
                }
            }
        }
    }

    /// Helm's version selection: an exact version string first, else the newest version that
    /// satisfies the constraint (`""` is any release; pre-releases only match constraints that
    /// carry a pre-release, such as `>0.0.0-0` for `--devel`). `repo` names the repository in
    /// errors.
    pub fn select(&self, repo: &str, chart: &str, version: &str) -> Result<&ChartVersion> {
        let versions = self
            .entries
            .get(chart)
            .ok_or_else(|| Error::ChartNotFound {
                repo: repo.into(),
                chart: chart.into(),
            })?;
        if !version.is_empty()
            && let Some(exact) = versions.iter().find(|v| v.version == version)
        {
            return Ok(exact);
        }
        let constraint = parse_constraint(if version.is_empty() { "*" } else { version })?;
        versions
            .iter()
            .find(|v| parse_version(&v.version).is_ok_and(|parsed| constraint.matches(&parsed)))
            .ok_or_else(|| {
                let newest: Vec<&str> = versions
                    .iter()
                    .take(5)
                    .map(|v| v.version.as_str())
                    .collect();
                Error::VersionNotFound {
                    repo: repo.into(),
                    chart: chart.into(),
                    version: if version.is_empty() {
                        "*".into()
                    } else {
                        version.into()
                    },
                    hint: format!(" (newest versions: {})", newest.join(", ")),
                }
            })
    }
}

/// Parses a Masterminds constraint, as an [`Error::Constraint`] when invalid.
pub(crate) fn parse_constraint(text: &str) -> Result<Constraint> {
    Constraint::parse(text).map_err(|e| Error::Constraint {
        constraint: text.into(),
        message: e.to_string(),
    })
}

/// The current time as Helm writes it (RFC 3339 with nanoseconds).
pub(crate) fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// The raw `Chart.yaml` text at the top of a chart archive.
pub fn chart_yaml_of_archive(bytes: &[u8], label: &str) -> Result<String> {
    let missing = || Error::Parse {
        what: format!("chart archive {label}"),
        message: "no Chart.yaml at its top level".into(),
    };
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let entries = tar
        .entries()
        .map_err(|e| Error::io("reading", Path::new(label), e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::io("reading", Path::new(label), e))?;
        let path = entry.path().map(|p| p.to_path_buf()).unwrap_or_default();
        let parts: Vec<_> = path.components().collect();
        if parts.len() == 2 && path.ends_with("Chart.yaml") {
            let mut text = String::new();
            entry
                .by_ref()
                .take(1 << 20)
                .read_to_string(&mut text)
                .map_err(|e| Error::io("reading", Path::new(label), e))?;
            return Ok(text);
        }
    }
    Err(missing())
}

/// The index entry for a chart archive: its `Chart.yaml` fields, digest and URL.
pub fn chart_version_of_archive(bytes: &[u8], label: &str, url: String) -> Result<ChartVersion> {
    capstan_chart::Chart::load_archive(bytes, &capstan_chart::Limits::default()).map_err(
        |source| Error::Chart {
            chart: label.into(),
            source,
        },
    )?;
    let text = chart_yaml_of_archive(bytes, label)?;
    let mut version: ChartVersion = serde_yaml_ng::from_str(&text).map_err(|e| Error::Parse {
        what: format!("Chart.yaml of {label}"),
        message: e.to_string(),
    })?;
    version.digest = capstan_chart::archive_digest(bytes);
    version.urls = vec![url];
    version.created = now();
    Ok(version)
}

/// `repo index DIR --url URL`: an index of the `.tgz` archives in `dir` and its immediate
/// subdirectories, with URLs under `base_url` (relative paths when empty).
pub fn index_directory(dir: &Path, base_url: &str) -> Result<IndexFile> {
    let mut archives: Vec<PathBuf> = Vec::new();
    let read = |d: &Path| std::fs::read_dir(d).map_err(|e| Error::io("reading", d, e));
    for entry in read(dir)? {
        let path = entry.map_err(|e| Error::io("reading", dir, e))?.path();
        if path.is_dir() {
            for sub in read(&path)? {
                let sub = sub.map_err(|e| Error::io("reading", &path, e))?.path();
                if sub.extension().is_some_and(|e| e == "tgz") && sub.is_file() {
                    archives.push(sub);
                }
            }
        } else if path.extension().is_some_and(|e| e == "tgz") {
            archives.push(path);
        }
    }
    archives.sort();
    let mut index = IndexFile::new();
    for archive in archives {
        let relative = archive
            .strip_prefix(dir)
            .unwrap_or(&archive)
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&archive).map_err(|e| Error::io("reading", &archive, e))?;
        let url = if base_url.is_empty() {
            relative.clone()
        } else {
            crate::access::join_url(base_url, &relative)
        };
        let version = chart_version_of_archive(&bytes, &archive.display().to_string(), url)?;
        if index.has(&version.name, &version.version) {
            continue;
        }
        index.add(version);
    }
    index.sort();
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"apiVersion: v1
entries:
  web:
  - name: web
    version: 1.2.0
    urls: [web-1.2.0.tgz]
    digest: aa
    created: 2024-01-01T00:00:00Z
  - name: web
    version: 2.0.0-rc.1
    urls: [web-2.0.0-rc.1.tgz]
  - name: web
    version: 1.10.0
    appVersion: 3
    urls: [web-1.10.0.tgz]
  - name: web
    version: not-semver
    urls: [x.tgz]
generated: "2024-01-01T00:00:00Z"
"#;

    #[test]
    fn parses_sorts_and_selects_as_helm() {
        let index = IndexFile::parse(INDEX.as_bytes(), "test index").unwrap();
        let versions: Vec<&str> = index.entries["web"]
            .iter()
            .map(|v| v.version.as_str())
            .collect();
        assert_eq!(versions, ["2.0.0-rc.1", "1.10.0", "1.2.0"]);
        assert_eq!(index.entries["web"][1].app_version, "3");
        assert_eq!(index.select("r", "web", "").unwrap().version, "1.10.0");
        assert_eq!(index.select("r", "web", "~1.2").unwrap().version, "1.2.0");
        assert_eq!(
            index.select("r", "web", ">0.0.0-0").unwrap().version,
            "2.0.0-rc.1"
        );
        assert_eq!(
            index.select("r", "web", "2.0.0-rc.1").unwrap().version,
            "2.0.0-rc.1"
        );
        let missing = index.select("r", "web", "9.9.9").unwrap_err().to_string();
        assert!(
            missing.contains("\"web\" version \"9.9.9\" not found in repository r"),
            "{missing}"
        );
        assert!(matches!(
            index.select("r", "db", ""),
            Err(Error::ChartNotFound { .. })
        ));
        assert!(matches!(
            index.select("r", "web", ">>1"),
            Err(Error::Constraint { .. })
        ));
    }

    #[test]
    fn rejects_what_helm_rejects() {
        assert!(IndexFile::parse(b"entries: {}\n", "i").is_err());
        let err = IndexFile::parse(
            b"apiVersion: v1\nentries: [oops\n",
            "index.yaml of repository \"x\"",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("index.yaml of repository \"x\" does not parse"),
            "{err}"
        );
    }

    #[test]
    fn writes_helm_s_layout_and_merges() {
        let mut index = IndexFile::parse(INDEX.as_bytes(), "i").unwrap();
        let mut other = IndexFile::new();
        other.add(ChartVersion {
            name: "db".into(),
            version: "0.1.0".into(),
            urls: vec!["db-0.1.0.tgz".into()],
            ..ChartVersion::default()
        });
        other.add(index.entries["web"][0].clone());
        index.merge(other);
        assert_eq!(index.entries["db"].len(), 1);
        assert_eq!(index.entries["web"].len(), 3);
        let text = index.to_yaml().unwrap();
        assert!(
            text.starts_with("apiVersion: v1\nentries:\n  db:\n  - apiVersion: v1\n"),
            "{text}"
        );
        let again = IndexFile::parse(text.as_bytes(), "i").unwrap();
        assert_eq!(again.entries, index.entries);
    }
}
