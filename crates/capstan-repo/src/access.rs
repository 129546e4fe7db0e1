//! How a repository is reached (credentials, TLS), and the one download path.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use crate::{Error, RepoEntry, Result};

/// How to reach one repository: its URL, credentials and TLS files.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The repository as users name it (its name, or its URL for `--repo`), for messages.
    pub repo: String,
    /// The repository URL; credentials go to its scheme, host and port only.
    pub url: String,
    /// Basic-auth user name.
    pub username: Option<String>,
    /// Basic-auth password.
    pub password: Option<String>,
    /// Send credentials to every host (`--pass-credentials`).
    pub pass_credentials: bool,
    /// CA bundle (PEM) trusted besides the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM).
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM).
    pub key_file: Option<PathBuf>,
    /// Skip TLS certificate verification.
    pub insecure_skip_tls_verify: bool,
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

impl Access {
    /// The access `repositories.yaml` describes for one repository.
    pub fn from_entry(entry: &RepoEntry) -> Access {
        Access {
            repo: entry.name.clone(),
            url: entry.url.clone(),
            username: non_empty(&entry.username),
            password: non_empty(&entry.password),
            pass_credentials: entry.pass_credentials_all,
            ca_file: non_empty(&entry.ca_file).map(PathBuf::from),
            cert_file: non_empty(&entry.cert_file).map(PathBuf::from),
            key_file: non_empty(&entry.key_file).map(PathBuf::from),
            insecure_skip_tls_verify: entry.insecure_skip_tls_verify,
        }
    }

    /// The `repositories.yaml` entry for this access under `name`.
    pub fn to_entry(&self, name: &str) -> RepoEntry {
        let path = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        RepoEntry {
            name: name.into(),
            url: self.url.clone(),
            username: self.username.clone().unwrap_or_default(),
            password: self.password.clone().unwrap_or_default(),
            pass_credentials_all: self.pass_credentials,
            ca_file: path(&self.ca_file),
            cert_file: path(&self.cert_file),
            key_file: path(&self.key_file),
            insecure_skip_tls_verify: self.insecure_skip_tls_verify,
        }
    }

    fn client(&self) -> Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("capstan/", env!("CARGO_PKG_VERSION")))
            .danger_accept_invalid_certs(self.insecure_skip_tls_verify);
        let read = |p: &PathBuf| std::fs::read(p).map_err(|e| Error::io("reading", p, e));
        if let Some(ca) = &self.ca_file {
            let certs =
                reqwest::Certificate::from_pem_bundle(&read(ca)?).map_err(|e| Error::Tls {
                    what: format!("CA file {}", ca.display()),
                    message: e.to_string(),
                })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                let mut pem = read(cert)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                let identity = reqwest::Identity::from_pem(&pem).map_err(|e| Error::Tls {
                    what: format!(
                        "client certificate {} and key {}",
                        cert.display(),
                        key.display()
                    ),
                    message: e.to_string(),
                })?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => {
                return Err(Error::Tls {
                    what: format!("repository {}", self.repo),
                    message: "a client certificate needs both --cert-file and --key-file".into(),
                });
            }
        }
        builder.build().map_err(|e| Error::Tls {
            what: format!("HTTP client for repository {}", self.repo),
            message: e.to_string(),
        })
    }

    /// Whether credentials may be sent to `url`: the repository's own origin, or any with
    /// `--pass-credentials`.
    fn may_authenticate(&self, url: &Url) -> bool {
        if self.pass_credentials {
            return true;
        }
        Url::parse(&self.url).is_ok_and(|repo| repo.origin() == url.origin())
    }
}

/// `base` joined with `reference` as Helm resolves index URLs: an absolute reference is kept,
/// a relative one is resolved against `base` taken as a directory.
pub fn join_url(base: &str, reference: &str) -> String {
    if let Ok(absolute) = Url::parse(reference) {
        return absolute.to_string();
    }
    let Ok(mut base_url) = Url::parse(base) else {
        return format!(
            "{}/{}",
            base.trim_end_matches('/'),
            reference.trim_start_matches('/')
        );
    };
    let path = format!("{}/", base_url.path().trim_end_matches('/'));
    base_url.set_path(&path);
    let query = base_url.query().map(str::to_owned);
    match base_url.join(reference) {
        Ok(mut joined) => {
            if joined.query().is_none() {
                joined.set_query(query.as_deref());
            }
            joined.to_string()
        }
        Err(_) => format!("{path}{reference}"),
    }
}

/// Downloads `url` with the repository's credentials and TLS settings, following up to ten
/// redirects (credentials only to the repository's origin unless `pass_credentials`), and
/// refusing bodies over `limit` bytes. `what` names the download in errors.
pub async fn fetch(access: &Access, url: &str, what: &str, limit: u64) -> Result<Vec<u8>> {
    let client = access.client()?;
    let network = |url: &str, source| Error::Network {
        what: what.into(),
        url: url.into(),
        source,
    };
    let mut current = Url::parse(url)
        .map_err(|e| Error::Reference(format!("{what}: invalid URL {url:?}: {e}")))?;
    for _ in 0..=10 {
        let mut request = client.get(current.clone());
        let authenticated = access.username.is_some() && access.may_authenticate(&current);
        if authenticated {
            request = request.basic_auth(
                access.username.clone().unwrap_or_default(),
                access.password.clone(),
            );
        }
        tracing::debug!(url = %current, authenticated, "GET");
        let mut response = request
            .send()
            .await
            .map_err(|e| network(current.as_str(), e))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| Error::Status {
                    what: what.into(),
                    url: current.to_string(),
                    status: status.as_u16(),
                    hint: " without a Location".into(),
                })?;
            current = current.join(location).map_err(|e| {
                Error::Reference(format!(
                    "{what}: invalid redirect {location:?} from {current}: {e}"
                ))
            })?;
            continue;
        }
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 | 403 if access.username.is_some() && !authenticated => format!(
                    " (credentials of repository {} are not sent to another host without --pass-credentials)",
                    access.repo
                ),
                401 | 403 if access.username.is_some() => {
                    format!(" (wrong credentials for repository {}?)", access.repo)
                }
                401 | 403 => format!(
                    " (repository {} needs credentials: --username and --password)",
                    access.repo
                ),
                _ => String::new(),
            };
            return Err(Error::Status {
                what: what.into(),
                url: current.to_string(),
                status: status.as_u16(),
                hint,
            });
        }
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(Error::TooLarge {
                what: what.into(),
                url: current.to_string(),
                limit,
            });
        }
        let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| network(current.as_str(), e))?
        {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(Error::TooLarge {
                    what: what.into(),
                    url: current.to_string(),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        return Ok(body);
    }
    Err(Error::Status {
        what: what.into(),
        url: current.to_string(),
        status: 310,
        hint: " (too many redirects)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_join_as_helm_resolves_them() {
        assert_eq!(
            join_url("https://h/charts", "web-1.0.0.tgz"),
            "https://h/charts/web-1.0.0.tgz"
        );
        assert_eq!(
            join_url("https://h/charts/", "web-1.0.0.tgz"),
            "https://h/charts/web-1.0.0.tgz"
        );
        assert_eq!(
            join_url("https://h/charts", "https://o/x.tgz"),
            "https://o/x.tgz"
        );
        assert_eq!(
            join_url("https://h/c?token=1", "x.tgz"),
            "https://h/c/x.tgz?token=1"
        );
        assert_eq!(join_url("https://h/a/b", "../x.tgz"), "https://h/a/x.tgz");
    }

    #[test]
    fn credentials_stay_on_the_repository_s_origin() {
        let mut access = Access {
            url: "https://repo.example:8443/charts".into(),
            ..Access::default()
        };
        assert!(access.may_authenticate(&Url::parse("https://repo.example:8443/x.tgz").unwrap()));
        assert!(!access.may_authenticate(&Url::parse("https://repo.example/x.tgz").unwrap()));
        assert!(!access.may_authenticate(&Url::parse("https://cdn.example:8443/x.tgz").unwrap()));
        access.pass_credentials = true;
        assert!(access.may_authenticate(&Url::parse("https://cdn.example/x.tgz").unwrap()));
    }
}
