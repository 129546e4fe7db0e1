//! Docker-style registry credentials files, as Helm reads and writes them
//! (`HELM_REGISTRY_CONFIG`, by default `~/.config/helm/registry/config.json`): an `auths` map
//! from registry host to `{"auth": base64("user:password")}`. Other fields of the file are kept
//! when it is written back. Credential helpers (`credsStore`, `credHelpers`) are not run.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use crate::{Error, Result};

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The registry credentials file Helm uses: `HELM_REGISTRY_CONFIG`, else
/// `$HELM_CONFIG_HOME/registry/config.json`, else `$XDG_CONFIG_HOME/helm/registry/config.json`,
/// else `~/.config/helm/registry/config.json`.
pub fn default_path() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(path) = var("HELM_REGISTRY_CONFIG") {
        return PathBuf::from(path);
    }
    let config_home = var("HELM_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| var("XDG_CONFIG_HOME").map(|x| PathBuf::from(x).join("helm")))
        .unwrap_or_else(|| {
            var("HOME")
                .map_or_else(|| PathBuf::from("."), PathBuf::from)
                .join(".config")
                .join("helm")
        });
    config_home.join("registry").join("config.json")
}

/// The key a registry's credentials are stored under: its host, except Docker Hub's legacy
/// address, as Helm (ORAS) writes it.
pub fn server_address(host: &str) -> String {
    match host {
        "docker.io" | "registry-1.docker.io" | "index.docker.io" => {
            "https://index.docker.io/v1/".to_string()
        }
        other => other.to_string(),
    }
}

/// The host part of a stored key: `https://host/v1/` and `host` both give `host`.
fn key_host(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

/// A credentials file, read (or empty when missing), changed in memory and saved.
#[derive(Debug)]
pub struct CredentialsFile {
    path: PathBuf,
    document: Map<String, Value>,
}

impl CredentialsFile {
    /// Reads `path`; a missing or empty file is an empty set of credentials.
    pub fn load(path: &Path) -> Result<CredentialsFile> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(Error::CredentialsIo {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let document = if text.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(&text) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(invalid(path, "it is not a JSON object")),
                Err(e) => return Err(invalid(path, &format!("it is not JSON: {e}"))),
            }
        };
        Ok(CredentialsFile {
            path: path.to_path_buf(),
            document,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The credential stored for `host` (by its key, or a legacy `https://host/...` key).
    pub fn get(&self, host: &str) -> Result<Option<Credential>> {
        let Some(Value::Object(auths)) = self.document.get("auths") else {
            return Ok(None);
        };
        let wanted = server_address(host);
        let entry = auths.get(&wanted).or_else(|| {
            auths
                .iter()
                .find(|(key, _)| key_host(key) == key_host(&wanted))
                .map(|(_, v)| v)
        });
        let Some(entry) = entry else {
            return Ok(None);
        };
        let field = |name: &str| entry.get(name).and_then(Value::as_str).unwrap_or_default();
        if !field("auth").is_empty() {
            let decoded = STANDARD
                .decode(field("auth"))
                .map_err(|_| invalid(&self.path, &format!("the auth of {wanted} is not base64")))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| invalid(&self.path, &format!("the auth of {wanted} is not UTF-8")))?;
            let (username, password) = decoded.split_once(':').ok_or_else(|| {
                invalid(
                    &self.path,
                    &format!("the auth of {wanted} is not base64 of user:password"),
                )
            })?;
            return Ok(Some(Credential {
                username: username.to_string(),
                password: password.to_string(),
            }));
        }
        if !field("username").is_empty() {
            return Ok(Some(Credential {
                username: field("username").to_string(),
                password: field("password").to_string(),
            }));
        }
        Ok(None)
    }

    /// Stores `credential` for `host` (in memory; [`CredentialsFile::save`] writes it).
    pub fn put(&mut self, host: &str, credential: &Credential) {
        let auths = self
            .document
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        let token = STANDARD.encode(format!("{}:{}", credential.username, credential.password));
        if let Value::Object(auths) = auths {
            let mut entry = Map::new();
            entry.insert("auth".into(), Value::String(token));
            auths.insert(server_address(host), Value::Object(entry));
        }
    }

    /// Forgets the credential of `host`; whether there was one.
    pub fn remove(&mut self, host: &str) -> bool {
        let wanted = server_address(host);
        match self.document.get_mut("auths") {
            Some(Value::Object(auths)) => auths.remove(&wanted).is_some(),
            _ => false,
        }
    }

    /// Writes the file (owner-only permissions), through a temporary file renamed into place.
    pub fn save(&self) -> Result<()> {
        let io = |source| Error::CredentialsIo {
            path: self.path.clone(),
            source,
        };
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut text =
            serde_json::to_vec_pretty(&Value::Object(self.document.clone())).unwrap_or_default();
        text.push(b'\n');
        let partial = self.path.with_extension("json.partial");
        write_private(&partial, &text).map_err(io)?;
        std::fs::rename(&partial, &self.path).map_err(io)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn invalid(path: &Path, message: &str) -> Error {
    Error::Credentials {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_and_keep_other_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry/config.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"auths":{"https://old.example.com/v1/":{"auth":"YTpi"}},"credsStore":"x"}"#,
        )
        .unwrap();
        let mut file = CredentialsFile::load(&path).unwrap();
        let old = file.get("old.example.com").unwrap().unwrap();
        assert_eq!((old.username.as_str(), old.password.as_str()), ("a", "b"));
        file.put(
            "127.0.0.1:5000",
            &Credential {
                username: "ci".into(),
                password: "p:w".into(),
            },
        );
        file.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""127.0.0.1:5000""#), "{text}");
        assert!(text.contains(&STANDARD.encode("ci:p:w")), "{text}");
        assert!(text.contains("credsStore"), "{text}");
        let mut file = CredentialsFile::load(&path).unwrap();
        assert_eq!(file.get("127.0.0.1:5000").unwrap().unwrap().password, "p:w");
        assert!(file.remove("127.0.0.1:5000"));
        assert!(!file.remove("127.0.0.1:5000"));
        assert_eq!(file.get("127.0.0.1:5000").unwrap(), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn missing_and_empty_files_hold_nothing_and_bad_ones_say_where() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        assert_eq!(
            CredentialsFile::load(&path).unwrap().get("h").unwrap(),
            None
        );
        std::fs::write(&path, "").unwrap();
        assert_eq!(
            CredentialsFile::load(&path).unwrap().get("h").unwrap(),
            None
        );
        std::fs::write(&path, "{not json").unwrap();
        let error = CredentialsFile::load(&path).unwrap_err().to_string();
        assert!(error.contains("config.json"), "{error}");
        std::fs::write(&path, r#"{"auths":{"h":{"auth":"!!"}}}"#).unwrap();
        let error = CredentialsFile::load(&path).unwrap().get("h").unwrap_err();
        assert!(error.to_string().contains("not base64"), "{error}");
    }
}
