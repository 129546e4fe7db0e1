//! How a daemon secures its port: TLS (optionally mutual) and bearer tokens.
//!
//! Tokens are never kept in the clear: the token file holds `sha256:<hex>` digests (one per line,
//! `#` comments allowed, an optional name after the digest), and a request's
//! `authorization: Bearer <token>` is accepted when the digest of its token is in the set.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use tonic::{Request, Status};

use crate::{Error, Result};

/// The TLS material a daemon serves with (PEM files).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The serving certificate chain.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// When set, clients must present a certificate issued by this CA (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// A daemon's transport security; the default is plain HTTP/2 with no authentication, for
/// loopback use.
#[derive(Clone, Debug, Default)]
pub struct Security {
    /// Serve TLS.
    pub tls: Option<TlsFiles>,
    /// Require a bearer token from this set on every call of the service (health and reflection
    /// stay open, for probes).
    pub tokens: Option<TokenSet>,
}

impl Security {
    /// The security flags' values: TLS when `cert` and `key` are given, tokens when a token
    /// file is given.
    pub fn from_files(
        cert: Option<&Path>,
        key: Option<&Path>,
        client_ca: Option<&Path>,
        token_file: Option<&Path>,
    ) -> Result<Security> {
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
                client_ca: client_ca.map(Path::to_path_buf),
            }),
            (None, None) if client_ca.is_none() => None,
            _ => {
                return Err(Error::Config(
                    "TLS needs both a certificate and its key".into(),
                ));
            }
        };
        let tokens = token_file.map(TokenSet::load).transpose()?;
        Ok(Security { tls, tokens })
    }

    /// The server TLS configuration, if any.
    pub(crate) fn server_tls(&self) -> Result<Option<ServerTlsConfig>> {
        let Some(files) = &self.tls else {
            return Ok(None);
        };
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| Error::Read {
                path: path.display().to_string(),
                source,
            })
        };
        let mut config = ServerTlsConfig::new()
            .identity(Identity::from_pem(read(&files.cert)?, read(&files.key)?));
        if let Some(ca) = &files.client_ca {
            config = config.client_ca_root(Certificate::from_pem(read(ca)?));
        }
        Ok(Some(config))
    }
}

/// The accepted bearer tokens, as sha256 digests.
#[derive(Clone, Debug, Default)]
pub struct TokenSet {
    digests: Arc<BTreeSet<[u8; 32]>>,
}

impl TokenSet {
    /// Reads a token file: one `sha256:<64 hex digits>` per line, optionally followed by a name.
    pub fn load(path: &Path) -> Result<TokenSet> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.display().to_string(),
            source,
        })?;
        TokenSet::parse(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// Parses the token file's text.
    pub fn parse(text: &str) -> std::result::Result<TokenSet, String> {
        let mut digests = BTreeSet::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let field = line.split_whitespace().next().unwrap_or_default();
            let hex = field.strip_prefix("sha256:").ok_or_else(|| {
                format!("line {}: expected sha256:<hex digest of the token>", i + 1)
            })?;
            digests.insert(
                parse_digest(hex).ok_or_else(|| format!("line {}: not a sha256 digest", i + 1))?,
            );
        }
        Ok(TokenSet {
            digests: Arc::new(digests),
        })
    }

    /// The line a token file needs to accept `token`.
    pub fn entry_for(token: &str) -> String {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        format!(
            "sha256:{}",
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    }

    fn accepts(&self, token: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.digests.contains(&digest)
    }
}

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Checks each request's bearer token against a [`TokenSet`]; without one, lets every request in.
#[derive(Clone, Debug, Default)]
pub struct Authenticate {
    tokens: Option<TokenSet>,
}

impl Authenticate {
    /// An interceptor requiring a token from `tokens`, or none when `None`.
    pub fn new(tokens: Option<TokenSet>) -> Authenticate {
        Authenticate { tokens }
    }
}

impl tonic::service::Interceptor for Authenticate {
    fn call(&mut self, request: Request<()>) -> std::result::Result<Request<()>, Status> {
        let Some(tokens) = &self.tokens else {
            return Ok(request);
        };
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        match header.and_then(|h| h.strip_prefix("Bearer ")) {
            Some(token) if tokens.accepts(token.trim()) => Ok(request),
            Some(_) => Err(Status::unauthenticated(
                "the bearer token is not valid for this daemon",
            )),
            None => Err(Status::unauthenticated(
                "this daemon requires a bearer token (--token or CAPSTAN_TOKEN)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::service::Interceptor as _;

    use super::*;

    fn request(token: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        request
    }

    #[test]
    fn tokens_are_checked_by_digest() {
        let file = format!("# ci runners\n{} ci\n\n", TokenSet::entry_for("s3cret"));
        let mut auth = Authenticate::new(Some(TokenSet::parse(&file).unwrap()));
        assert!(auth.call(request(Some("s3cret"))).is_ok());
        let wrong = auth.call(request(Some("guess"))).unwrap_err();
        assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
        assert!(
            !wrong.message().contains("guess"),
            "errors never echo tokens"
        );
        assert_eq!(
            auth.call(request(None)).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert!(Authenticate::new(None).call(request(None)).is_ok());
    }

    #[test]
    fn token_files_hold_digests_only() {
        assert!(TokenSet::parse("s3cret\n").unwrap_err().contains("line 1"));
        assert!(
            TokenSet::parse("sha256:abc\n")
                .unwrap_err()
                .contains("not a sha256 digest")
        );
    }
}

/// The security flags every daemon takes.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SecurityFlags {
    /// Serve TLS with this certificate chain (PEM).
    #[arg(long, env = "CAPSTAN_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The TLS certificate's private key (PEM).
    #[arg(long, env = "CAPSTAN_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates issued by this CA (mutual TLS).
    #[arg(long, env = "CAPSTAN_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Accept only calls with a bearer token listed (as `sha256:<hex>`) in this file.
    #[arg(long, env = "CAPSTAN_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

impl SecurityFlags {
    /// The security these flags ask for.
    pub fn security(&self) -> Result<Security> {
        Security::from_files(
            self.tls_cert.as_deref(),
            self.tls_key.as_deref(),
            self.tls_client_ca.as_deref(),
            self.token_file.as_deref(),
        )
    }
}
