//! How a daemon secures its port and knows its callers: TLS (optionally mutual), bearer tokens,
//! Kubernetes service-account tokens, and the tenant policy.
//!
//! Tokens are never kept in the clear: the token file holds `sha256:<hex>` digests (one per line,
//! `#` comments allowed, an optional name after the digest: the token's tenant), and a request's
//! `authorization: Bearer <token>` is accepted when the digest of its token is in the set. A token
//! the file does not list goes to the [`TokenReviewer`] when one is configured (the applier's
//! `--token-review`: the cluster's TokenReview API). A verified client certificate identifies
//! its caller by subject CN and SANs.
//!
//! [`Authenticated`] wraps the served service: it turns each request's credentials into a
//! [`Caller`] ([`Authenticator`]), mapped to its tenant when a policy is configured
//! (`--policy`), and hands it to the service as a request extension ([`caller`]); calls without
//! valid credentials end `UNAUTHENTICATED`, calls of principals no tenant claims
//! `PERMISSION_DENIED`, before the service sees them. [`status`] is the one mapping from
//! `capstan_auth` errors to gRPC codes.

use std::convert::Infallible;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

pub use capstan_auth::TokenTable as TokenSet;
use capstan_auth::{Caller, PolicySource, Principal, TokenReviewer};
use tonic::server::NamedService;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::transport::{Certificate, CertificateDer, Identity, ServerTlsConfig};
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
    /// Verifies bearer tokens the token file does not list (service-account tokens).
    pub reviewer: Option<Reviewer>,
    /// The tenant policy: every caller must be one tenant's, and may do what it allows.
    pub policy: Option<PolicySource>,
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
        Ok(Security {
            tls,
            tokens,
            reviewer: None,
            policy: None,
        })
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
            // Under a policy a certificate is one way of several to authenticate (a caller may
            // present a token instead); without one, mutual TLS demands it, as before.
            config = config
                .client_ca_root(Certificate::from_pem(read(ca)?))
                .client_auth_optional(self.policy.is_some());
        }
        Ok(Some(config))
    }
}

/// A shared [`TokenReviewer`].
#[derive(Clone)]
pub struct Reviewer(pub Arc<dyn TokenReviewer>);

impl std::fmt::Debug for Reviewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reviewer")
    }
}

/// An authentication or authorization error as a gRPC status: the one mapping of both daemons
/// (unauthenticated -> `UNAUTHENTICATED`, denied -> `PERMISSION_DENIED`, quota ->
/// `RESOURCE_EXHAUSTED`).
pub fn status(error: &capstan_auth::Error) -> Status {
    match error {
        capstan_auth::Error::Unauthenticated(m) => Status::unauthenticated(m.clone()),
        capstan_auth::Error::Denied(m) => Status::permission_denied(m.clone()),
        capstan_auth::Error::Quota(m) => Status::resource_exhausted(m.clone()),
        other => Status::internal(other.to_string()),
    }
}

/// The caller of a request, as [`Authenticated`] found it; a request that did not pass through
/// it (a service served without a [`Daemon`](crate::Daemon)) is unrestricted.
pub fn caller<T>(request: &Request<T>) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(|| Caller::unrestricted(Principal::Anonymous))
}

/// Turns a request's credentials into a [`Caller`]: a bearer token (the token file, else a
/// [`TokenReviewer`]), or else a verified client certificate; then, with a policy, its tenant.
#[derive(Clone, Debug, Default)]
pub struct Authenticator {
    tokens: Option<TokenSet>,
    reviewer: Option<Reviewer>,
    client_certificates: bool,
    policy: Option<PolicySource>,
}

impl Authenticator {
    /// The authenticator of a daemon's [`Security`].
    pub fn new(security: &Security) -> Authenticator {
        Authenticator {
            tokens: security.tokens.clone(),
            reviewer: security.reviewer.clone(),
            client_certificates: security.tls.as_ref().is_some_and(|t| t.client_ca.is_some()),
            policy: security.policy.clone(),
        }
    }

    fn tokens_required(&self) -> bool {
        self.tokens.is_some() || self.reviewer.is_some() || self.policy.is_some()
    }

    /// The caller presenting `bearer` (the token of an `authorization: Bearer` header) and
    /// `certificates` (verified by TLS), or the status refusing it.
    pub async fn caller(
        &self,
        bearer: Option<&str>,
        certificates: Option<&[CertificateDer<'static>]>,
    ) -> std::result::Result<Caller, Status> {
        let principal = self.principal(bearer, certificates).await?;
        match &self.policy {
            None => Ok(Caller::unrestricted(principal)),
            Some(policy) => {
                Caller::under_policy(principal, &policy.current()).map_err(|e| status(&e))
            }
        }
    }

    async fn principal(
        &self,
        bearer: Option<&str>,
        certificates: Option<&[CertificateDer<'static>]>,
    ) -> std::result::Result<Principal, Status> {
        let invalid = || Status::unauthenticated("the bearer token is not valid for this daemon");
        if let Some(token) = bearer.map(str::trim).filter(|t| !t.is_empty()) {
            if !self.tokens_required() {
                return Ok(Principal::Anonymous);
            }
            if let Some(principal) = self.tokens.as_ref().and_then(|t| t.lookup(token)) {
                return Ok(principal);
            }
            let Some(reviewer) = &self.reviewer else {
                return Err(invalid());
            };
            return match reviewer.0.review(token).await {
                Ok(Some(principal)) => Ok(principal),
                Ok(None) => Err(invalid()),
                Err(reason) => {
                    tracing::warn!(%reason, "a token review failed");
                    Err(Status::unavailable(format!(
                        "the bearer token could not be verified: {reason}"
                    )))
                }
            };
        }
        // A certificate alone identifies the caller when a policy can map it to a tenant, or
        // when mutual TLS is the only authentication configured.
        let certificate_suffices = self.policy.is_some() || !self.tokens_required();
        if self.client_certificates
            && certificate_suffices
            && let Some(der) = certificates.and_then(|c| c.first())
        {
            return Ok(Principal::Certificate {
                names: certificate_names(der),
            });
        }
        if self.tokens_required() {
            return Err(Status::unauthenticated(
                "this daemon requires a bearer token (--token, --token-file or CAPSTAN_TOKEN) \
                 or a client certificate",
            ));
        }
        Ok(Principal::Anonymous)
    }
}

/// A certificate's subject CN and subject alternative names (DNS, URI, email, IP), in that
/// order; empty when it cannot be parsed (TLS has verified it already).
pub fn certificate_names(der: &[u8]) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) | GeneralName::URI(n) | GeneralName::RFC822Name(n) => {
                    names.push((*n).to_owned());
                }
                GeneralName::IPAddress(bytes) => match bytes.len() {
                    4 => names.push(
                        std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*bytes).expect("4 bytes"))
                            .to_string(),
                    ),
                    16 => names.push(
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*bytes).expect("16 bytes"))
                            .to_string(),
                    ),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    names
}

/// A served service behind authentication: every call is given its [`Caller`] (a request
/// extension, read with [`caller`]) or refused (`UNAUTHENTICATED`, `PERMISSION_DENIED`) before
/// the service sees it.
#[derive(Clone)]
pub struct Authenticated<S> {
    inner: S,
    auth: Arc<Authenticator>,
}

impl<S> Authenticated<S> {
    /// `inner` behind `auth`.
    pub fn new(inner: S, auth: Authenticator) -> Authenticated<S> {
        Authenticated {
            inner,
            auth: Arc::new(auth),
        }
    }
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}

type HttpRequest = tonic::codegen::http::Request<tonic::body::Body>;
type HttpResponse = tonic::codegen::http::Response<tonic::body::Body>;

impl<S> tonic::codegen::Service<HttpRequest> for Authenticated<S>
where
    S: tonic::codegen::Service<HttpRequest, Response = HttpResponse, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<HttpResponse, Infallible>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::result::Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: HttpRequest) -> Self::Future {
        // The clone is ready (tonic's generated servers always are); the readied one serves.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            let bearer = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|h| h.strip_prefix("Bearer "))
                .map(str::to_owned);
            let certificates = request
                .extensions()
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|i| i.peer_certs());
            match auth
                .caller(
                    bearer.as_deref(),
                    certificates.as_deref().map(Vec::as_slice),
                )
                .await
            {
                Ok(caller) => {
                    tracing::debug!(
                        principal = %caller.principal(),
                        tenant = caller.tenant_name(),
                        path = request.uri().path(),
                        "authenticated"
                    );
                    request.extensions_mut().insert(caller);
                    inner.call(request).await
                }
                Err(status) => {
                    tracing::info!(
                        code = ?status.code(),
                        path = request.uri().path(),
                        "call refused"
                    );
                    Ok(status.into_http())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn security(tokens: &str, policy: Option<PolicySource>) -> Security {
        Security {
            tls: None,
            tokens: Some(TokenSet::parse(tokens).unwrap()),
            reviewer: None,
            policy,
        }
    }

    #[tokio::test]
    async fn tokens_are_checked_by_digest() {
        let file = format!("# ci runners\n{} ci\n\n", TokenSet::entry_for("s3cret"));
        let auth = Authenticator::new(&security(&file, None));
        let caller = auth.caller(Some("s3cret"), None).await.unwrap();
        assert_eq!(
            caller.principal(),
            &Principal::Token {
                name: Some("ci".into())
            }
        );
        assert!(caller.tenant().is_none(), "without a policy: unrestricted");
        let wrong = auth.caller(Some("guess"), None).await.unwrap_err();
        assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
        assert!(
            !wrong.message().contains("guess"),
            "errors never echo tokens"
        );
        let missing = auth.caller(None, None).await.unwrap_err();
        assert_eq!(missing.code(), tonic::Code::Unauthenticated);
        assert!(missing.message().contains("requires a bearer token"));
        let open = Authenticator::new(&Security::default());
        assert_eq!(
            open.caller(None, None).await.unwrap().principal(),
            &Principal::Anonymous
        );
    }

    #[tokio::test]
    async fn a_policy_maps_tokens_to_tenants() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(
            &path,
            "tenants:\n  team-a: {namespaces: [a], operations: [list], impersonate: {user: a}}\n",
        )
        .unwrap();
        let file = format!(
            "{} team-a\n{} team-z\n",
            TokenSet::entry_for("token-a"),
            TokenSet::entry_for("token-z")
        );
        let auth = Authenticator::new(&security(&file, Some(PolicySource::load(&path).unwrap())));
        let a = auth.caller(Some("token-a"), None).await.unwrap();
        assert_eq!(a.tenant_name(), "team-a");
        let z = auth.caller(Some("token-z"), None).await.unwrap_err();
        assert_eq!(z.code(), tonic::Code::PermissionDenied);
        assert!(
            z.message().contains("belongs to no tenant"),
            "{}",
            z.message()
        );
        assert_eq!(
            auth.caller(None, None).await.unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }

    #[test]
    fn the_policy_flag_loads_and_validates_the_policy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        let flags = SecurityFlags {
            policy: Some(path.clone()),
            ..SecurityFlags::default()
        };
        std::fs::write(
            &path,
            "tenants: {a: {namespaces: [a], operations: [list]}}\n",
        )
        .unwrap();
        let error = flags.security().unwrap_err().to_string();
        assert!(
            error.contains("policy.yaml") && error.contains("impersonate"),
            "{error}"
        );
        std::fs::write(
            &path,
            "tenants: {a: {namespaces: [a], operations: [list], impersonate: {user: a}}}\n",
        )
        .unwrap();
        let security = flags.security().unwrap();
        assert!(security.policy.is_some());
    }

    struct Review;

    impl TokenReviewer for Review {
        fn review<'a>(&'a self, token: &'a str) -> capstan_auth::Review<'a> {
            Box::pin(async move {
                match token {
                    "sa-token" => Ok(Some(Principal::service_account("team-a", "ci"))),
                    "down" => Err("the cluster is unreachable".into()),
                    _ => Ok(None),
                }
            })
        }
    }

    #[tokio::test]
    async fn unknown_tokens_go_to_the_reviewer() {
        let mut security = security(&TokenSet::entry_for("file-token"), None);
        security.reviewer = Some(Reviewer(Arc::new(Review)));
        let auth = Authenticator::new(&security);
        assert!(matches!(
            auth.caller(Some("file-token"), None)
                .await
                .unwrap()
                .principal(),
            Principal::Token { .. }
        ));
        assert_eq!(
            auth.caller(Some("sa-token"), None)
                .await
                .unwrap()
                .principal(),
            &Principal::service_account("team-a", "ci")
        );
        assert_eq!(
            auth.caller(Some("forged"), None).await.unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            auth.caller(Some("down"), None).await.unwrap_err().code(),
            tonic::Code::Unavailable
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
    /// Accept calls with a bearer token listed (as `sha256:<hex> [tenant]`) in this file.
    #[arg(long, env = "CAPSTAN_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// The tenant policy (YAML), reloaded when it changes: callers must belong to a tenant and
    /// may only do what it allows.
    #[arg(long, env = "CAPSTAN_POLICY")]
    pub policy: Option<PathBuf>,
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
        .and_then(|mut security| {
            security.policy = self.policy.as_deref().map(PolicySource::load).transpose()?;
            Ok(security)
        })
    }
}
