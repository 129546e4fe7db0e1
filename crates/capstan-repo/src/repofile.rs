//! `repositories.yaml`: the named repositories, read and written as Helm does.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cache::write_atomic;
use crate::{Error, Result};

/// One repository of `repositories.yaml`.
///
/// Fields are declared in the order Helm writes them (alphabetical, as `sigs.k8s.io/yaml` sorts
/// keys), so a file capstan writes is the file Helm would.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoEntry {
    /// CA bundle (PEM) to verify the repository's TLS certificate with.
    #[serde(rename = "caFile", default)]
    pub ca_file: String,
    /// Client certificate (PEM).
    #[serde(rename = "certFile", default)]
    pub cert_file: String,
    /// Skip TLS certificate verification.
    #[serde(default)]
    pub insecure_skip_tls_verify: bool,
    /// The client certificate's key (PEM).
    #[serde(rename = "keyFile", default)]
    pub key_file: String,
    /// The repository's name.
    #[serde(default)]
    pub name: String,
    /// Send the credentials to every host, chart downloads on other hosts included.
    #[serde(default)]
    pub pass_credentials_all: bool,
    /// Basic-auth password.
    #[serde(default)]
    pub password: String,
    /// The repository URL (where `index.yaml` is).
    #[serde(default)]
    pub url: String,
    /// Basic-auth user name.
    #[serde(default)]
    pub username: String,
}

/// `repositories.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoFile {
    /// Always `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    /// When the file was generated (RFC 3339).
    #[serde(default = "zero_time")]
    pub generated: String,
    /// The repositories, in the order they were added.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub repositories: Vec<RepoEntry>,
}

fn zero_time() -> String {
    "0001-01-01T00:00:00Z".into()
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<RepoEntry>, D::Error> {
    Ok(Option::<Vec<RepoEntry>>::deserialize(d)?.unwrap_or_default())
}

impl Default for RepoFile {
    fn default() -> RepoFile {
        RepoFile {
            api_version: "v1".into(),
            generated: jiff::Timestamp::now().to_string(),
            repositories: Vec::new(),
        }
    }
}

impl RepoFile {
    /// Reads `path`; a missing file is an empty list, as in Helm.
    pub fn load(path: &Path) -> Result<RepoFile> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RepoFile::default()),
            Err(e) => return Err(Error::io("reading", path, e)),
        };
        if text.trim().is_empty() {
            return Ok(RepoFile::default());
        }
        serde_yaml_ng::from_str(&text).map_err(|e| Error::Parse {
            what: format!("repository configuration {}", path.display()),
            message: e.to_string(),
        })
    }

    /// Writes the file (mode 0600, as Helm does: it may hold passwords), atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_yaml_ng::to_string(self).map_err(|e| Error::Parse {
            what: format!("repository configuration {}", path.display()),
            message: e.to_string(),
        })?;
        write_atomic(path, text.as_bytes(), 0o600)
    }

    /// The repository named `name`.
    pub fn get(&self, name: &str) -> Option<&RepoEntry> {
        self.repositories.iter().find(|r| r.name == name)
    }

    /// The repository named `name`, or [`Error::RepoNotFound`].
    pub fn require(&self, name: &str) -> Result<&RepoEntry> {
        self.get(name)
            .ok_or_else(|| Error::RepoNotFound { name: name.into() })
    }

    /// Adds or replaces the repository of `entry.name`.
    pub fn update(&mut self, entry: RepoEntry) {
        match self.repositories.iter_mut().find(|r| r.name == entry.name) {
            Some(existing) => *existing = entry,
            None => self.repositories.push(entry),
        }
    }

    /// Removes the repository named `name`; whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.repositories.len();
        self.repositories.retain(|r| r.name != name);
        before != self.repositories.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELM_WRITTEN: &str = r#"apiVersion: ""
generated: "0001-01-01T00:00:00Z"
repositories:
- caFile: ""
  certFile: ""
  insecure_skip_tls_verify: false
  keyFile: ""
  name: stable
  pass_credentials_all: false
  password: secret
  url: https://charts.example.com/stable
  username: admin
"#;

    #[test]
    fn reads_and_writes_helm_s_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repositories.yaml");
        std::fs::write(&path, HELM_WRITTEN).unwrap();
        let mut file = RepoFile::load(&path).unwrap();
        assert_eq!(file.require("stable").unwrap().username, "admin");
        assert!(matches!(
            file.require("other"),
            Err(Error::RepoNotFound { .. })
        ));
        file.update(RepoEntry {
            name: "other".into(),
            url: "http://x".into(),
            ..RepoEntry::default()
        });
        file.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("- caFile: ''\n  certFile: ''\n  insecure_skip_tls_verify: false\n"),
            "{text}"
        );
        let again = RepoFile::load(&path).unwrap();
        assert_eq!(again.repositories.len(), 2);
        assert!(file.remove("stable") && !file.remove("stable"));
    }

    #[test]
    fn missing_or_empty_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            RepoFile::load(&dir.path().join("none.yaml"))
                .unwrap()
                .repositories
                .is_empty()
        );
        let path = dir.path().join("null.yaml");
        std::fs::write(&path, "apiVersion: v1\nrepositories: null\n").unwrap();
        assert!(RepoFile::load(&path).unwrap().repositories.is_empty());
    }
}
