//! One registry host over the OCI distribution API: TLS and plain HTTP, authentication (basic,
//! and the bearer token flow a `WWW-Authenticate` challenge asks for), and the endpoints Helm
//! uses (ping, tags, manifests, blobs, uploads), every download bounded and verified by digest.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, LINK, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode};

use crate::auth::{Challenge, TokenResponse, parse_challenge};
use crate::credentials::Credential;
use crate::manifest::{Descriptor, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, Manifest};
use crate::{Error, Result, digest};

/// The largest manifest read (as ORAS bounds them).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// The largest page of a tag list read.
const MAX_TAGS_PAGE_BYTES: u64 = 4 << 20;
/// The most tag list pages followed.
const MAX_TAGS_PAGES: usize = 100;

/// How to reach a registry: transport security and credentials.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Talk plain HTTP instead of HTTPS (`--plain-http`).
    pub plain_http: bool,
    /// Accept any server certificate (`--insecure-skip-tls-verify`, `registry login --insecure`).
    pub insecure_skip_tls_verify: bool,
    /// Trust only the CAs in this PEM file (`--ca-file`) instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for registries that require mutual TLS (`--cert-file`).
    pub cert_file: Option<PathBuf>,
    /// Its private key (PEM) (`--key-file`).
    pub key_file: Option<PathBuf>,
    /// The credential to authenticate with, if any.
    pub credential: Option<Credential>,
    /// Limit for connecting (default 10 s).
    pub connect_timeout: Option<Duration>,
}

/// A client of one registry host.
#[derive(Debug)]
pub struct Registry {
    host: String,
    base: reqwest::Url,
    http: reqwest::Client,
    credential: Option<Credential>,
    /// The `Authorization` header that worked, by scope (`""` for the registry itself).
    authorizations: Mutex<HashMap<String, String>>,
}

/// The scope of pulling from `repository`.
pub fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// The scope of pushing to `repository` (pushing also reads).
pub fn push_scope(repository: &str) -> String {
    format!("repository:{repository}:pull,push")
}

/// A fetched manifest: the document, its bytes and its digest.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The parsed manifest.
    pub manifest: Manifest,
    /// Its bytes as served.
    pub bytes: Vec<u8>,
    /// Its digest (verified against the bytes).
    pub digest: String,
}

impl Registry {
    /// A client for `host` (`host` or `host:port`) with `options`; a TLS file that cannot be
    /// read or parsed is an error naming it.
    pub fn new(host: &str, options: &Options) -> Result<Registry> {
        let scheme = if options.plain_http { "http" } else { "https" };
        let base =
            reqwest::Url::parse(&format!("{scheme}://{host}/")).map_err(|e| Error::Reference {
                reference: host.to_string(),
                message: format!("not a registry host: {e}"),
            })?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(options.connect_timeout.unwrap_or(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::limited(10))
            .user_agent(concat!("capstan/", env!("CARGO_PKG_VERSION")));
        if options.insecure_skip_tls_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        if let Some(ca_file) = &options.ca_file {
            let pem = read_tls_file(ca_file, "CA file")?;
            let certificates =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::Tls {
                    message: format!("CA file {}: {e}", ca_file.display()),
                })?;
            if certificates.is_empty() {
                return Err(Error::Tls {
                    message: format!("CA file {}: no PEM certificate in it", ca_file.display()),
                });
            }
            builder = builder.tls_built_in_root_certs(false);
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        match (&options.cert_file, &options.key_file) {
            (Some(cert), Some(key)) => {
                let mut pem = read_tls_file(cert, "certificate file")?;
                pem.push(b'\n');
                pem.extend(read_tls_file(key, "key file")?);
                let identity = reqwest::Identity::from_pem(&pem).map_err(|e| Error::Tls {
                    message: format!(
                        "client certificate {} with key {}: {e}",
                        cert.display(),
                        key.display()
                    ),
                })?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => {
                return Err(Error::Tls {
                    message: "a client certificate needs both --cert-file and --key-file".into(),
                });
            }
        }
        let http = builder.build().map_err(|e| Error::Tls {
            message: format!("setting up the HTTP client for {host}: {e}"),
        })?;
        Ok(Registry {
            host: host.to_string(),
            base,
            http,
            credential: options.credential.clone(),
            authorizations: Mutex::new(HashMap::new()),
        })
    }

    /// The registry's host (`host:port`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Checks that the registry answers the distribution API and accepts the credentials
    /// (`GET /v2/`), as `registry login` does.
    pub async fn ping(&self) -> Result<()> {
        let response = self
            .send(
                Method::GET,
                "v2/",
                "",
                &HeaderMap::new(),
                None,
                "the registry API",
            )
            .await?;
        self.expect(response, &[StatusCode::OK], "the registry API")
            .await?;
        Ok(())
    }

    /// Every tag of `repository`, following the registry's pagination.
    pub async fn tags(&self, repository: &str) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let what = format!("chart repository {}/{repository}", self.host);
        let scope = pull_scope(repository);
        let mut path = format!("v2/{repository}/tags/list?n=1000");
        let mut tags = Vec::new();
        for _ in 0..MAX_TAGS_PAGES {
            let response = self
                .send(Method::GET, &path, &scope, &HeaderMap::new(), None, &what)
                .await?;
            let response = self.expect(response, &[StatusCode::OK], &what).await?;
            let next = next_link(response.headers());
            let body = self
                .read_limited(response, MAX_TAGS_PAGE_BYTES, &what)
                .await?;
            let page: TagList = serde_json::from_slice(&body).map_err(|e| Error::Protocol {
                registry: self.host.clone(),
                what: what.clone(),
                message: format!("the tag list is not JSON: {e}"),
            })?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(next) => path = next.trim_start_matches('/').to_string(),
                None => return Ok(tags),
            }
        }
        Err(Error::Protocol {
            registry: self.host.clone(),
            what,
            message: format!("more than {MAX_TAGS_PAGES} pages of tags"),
        })
    }

    /// The manifest of `repository` at `reference` (a tag or digest), its digest verified: against
    /// the reference when it is a digest, and against the registry's `Docker-Content-Digest`.
    pub async fn manifest(&self, repository: &str, reference: &str) -> Result<FetchedManifest> {
        let what = format!("{}/{repository}{}", self.host, join_reference(reference));
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            format!("{MANIFEST_MEDIA_TYPE}, {INDEX_MEDIA_TYPE}")
                .parse()
                .expect("a valid header value"),
        );
        let response = self
            .send(
                Method::GET,
                &format!("v2/{repository}/manifests/{reference}"),
                &pull_scope(repository),
                &headers,
                None,
                &what,
            )
            .await?;
        let response = self.expect(response, &[StatusCode::OK], &what).await?;
        let content_type = header(response.headers(), CONTENT_TYPE.as_str());
        let announced = header(response.headers(), "docker-content-digest");
        let bytes = self
            .read_limited(response, MAX_MANIFEST_BYTES, &what)
            .await?;
        let actual = digest::sha256(&bytes);
        let expected = if reference.contains(':') {
            Some(reference.to_string())
        } else {
            announced
        };
        if let Some(expected) = expected.filter(|e| e.starts_with("sha256:"))
            && expected != actual
        {
            return Err(Error::DigestMismatch {
                registry: self.host.clone(),
                what: format!("the manifest of {what}"),
                expected,
                actual,
            });
        }
        if content_type.as_deref() == Some(INDEX_MEDIA_TYPE) {
            return Err(Error::NotAChart {
                reference: what,
                message: "it is an image index, not a chart manifest".into(),
            });
        }
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::NotAChart {
            reference: what.clone(),
            message: format!("its manifest does not parse: {e}"),
        })?;
        Ok(FetchedManifest {
            manifest,
            bytes,
            digest: actual,
        })
    }

    /// The blob `descriptor` of `repository`, at most `limit` bytes, its size and digest
    /// verified; `what` names it in errors (e.g. `chart charts/web:1.0.0`).
    pub async fn blob(
        &self,
        repository: &str,
        descriptor: &Descriptor,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>> {
        digest::validate(&descriptor.digest).map_err(|message| Error::Protocol {
            registry: self.host.clone(),
            what: what.to_string(),
            message,
        })?;
        if descriptor.size > limit {
            return Err(Error::TooLarge {
                registry: self.host.clone(),
                what: what.to_string(),
                size: descriptor.size,
                limit,
            });
        }
        let response = self
            .send(
                Method::GET,
                &format!("v2/{repository}/blobs/{}", descriptor.digest),
                &pull_scope(repository),
                &HeaderMap::new(),
                None,
                what,
            )
            .await?;
        let response = self.expect(response, &[StatusCode::OK], what).await?;
        let bytes = self.read_limited(response, descriptor.size, what).await?;
        if bytes.len() as u64 != descriptor.size {
            return Err(Error::Protocol {
                registry: self.host.clone(),
                what: what.to_string(),
                message: format!(
                    "the registry sent {} bytes where the manifest says {}",
                    bytes.len(),
                    descriptor.size
                ),
            });
        }
        let actual = digest::sha256(&bytes);
        if actual != descriptor.digest {
            return Err(Error::DigestMismatch {
                registry: self.host.clone(),
                what: what.to_string(),
                expected: descriptor.digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Uploads `bytes` as a blob of `repository` unless the registry has it already.
    pub async fn push_blob(&self, repository: &str, bytes: &[u8]) -> Result<Descriptor> {
        let descriptor = Descriptor::of("application/octet-stream", bytes);
        let what = format!("blob {} of {}/{repository}", descriptor.digest, self.host);
        let scope = push_scope(repository);
        let head = self
            .send(
                Method::HEAD,
                &format!("v2/{repository}/blobs/{}", descriptor.digest),
                &scope,
                &HeaderMap::new(),
                None,
                &what,
            )
            .await?;
        if head.status() == StatusCode::OK {
            return Ok(descriptor);
        }
        let started = self
            .send(
                Method::POST,
                &format!("v2/{repository}/blobs/uploads/"),
                &scope,
                &HeaderMap::new(),
                Some(Vec::new()),
                &what,
            )
            .await?;
        let started = self.expect(started, &[StatusCode::ACCEPTED], &what).await?;
        let location =
            header(started.headers(), LOCATION.as_str()).ok_or_else(|| Error::Protocol {
                registry: self.host.clone(),
                what: what.clone(),
                message: "the upload was accepted without a Location".into(),
            })?;
        let mut url = self.base.join(&location).map_err(|e| Error::Protocol {
            registry: self.host.clone(),
            what: what.clone(),
            message: format!("upload location {location:?}: {e}"),
        })?;
        url.query_pairs_mut()
            .append_pair("digest", &descriptor.digest);
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            "application/octet-stream"
                .parse()
                .expect("a valid header value"),
        );
        let finished = self
            .send_url(
                Method::PUT,
                url,
                &scope,
                &headers,
                Some(bytes.to_vec()),
                &what,
            )
            .await?;
        self.expect(finished, &[StatusCode::CREATED], &what).await?;
        Ok(descriptor)
    }

    /// Uploads a manifest under `tag`; the digest the registry computed.
    pub async fn push_manifest(&self, repository: &str, tag: &str, bytes: &[u8]) -> Result<String> {
        let what = format!("the manifest of {}/{repository}:{tag}", self.host);
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            MANIFEST_MEDIA_TYPE.parse().expect("a valid header value"),
        );
        let response = self
            .send(
                Method::PUT,
                &format!("v2/{repository}/manifests/{tag}"),
                &push_scope(repository),
                &headers,
                Some(bytes.to_vec()),
                &what,
            )
            .await?;
        let response = self.expect(response, &[StatusCode::CREATED], &what).await?;
        let computed = digest::sha256(bytes);
        if let Some(announced) = header(response.headers(), "docker-content-digest")
            && announced != computed
        {
            return Err(Error::DigestMismatch {
                registry: self.host.clone(),
                what,
                expected: computed,
                actual: announced,
            });
        }
        Ok(computed)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        scope: &str,
        headers: &HeaderMap,
        body: Option<Vec<u8>>,
        what: &str,
    ) -> Result<reqwest::Response> {
        let url = self.base.join(path).map_err(|e| Error::Protocol {
            registry: self.host.clone(),
            what: what.to_string(),
            message: format!("path {path:?}: {e}"),
        })?;
        self.send_url(method, url, scope, headers, body, what).await
    }

    /// Sends a request with the authorization known for `scope`; on a 401, answers the
    /// registry's challenge (basic credentials, or a bearer token from its token server) and
    /// sends it once more.
    async fn send_url(
        &self,
        method: Method,
        url: reqwest::Url,
        scope: &str,
        headers: &HeaderMap,
        body: Option<Vec<u8>>,
        what: &str,
    ) -> Result<reqwest::Response> {
        let known = self.authorization(scope);
        let response = self
            .attempt(
                method.clone(),
                url.clone(),
                headers,
                body.clone(),
                known.as_deref(),
                what,
            )
            .await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge = header(response.headers(), WWW_AUTHENTICATE.as_str());
        let Some(authorization) = self.answer(challenge.as_deref(), scope, what).await? else {
            return Err(self.unauthorized(response, what).await);
        };
        if known.as_deref() == Some(authorization.as_str()) {
            return Err(self.unauthorized(response, what).await);
        }
        let response = self
            .attempt(method, url, headers, body, Some(&authorization), what)
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(self.unauthorized(response, what).await);
        }
        self.authorizations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(scope.to_string(), authorization);
        Ok(response)
    }

    async fn attempt(
        &self,
        method: Method,
        url: reqwest::Url,
        headers: &HeaderMap,
        body: Option<Vec<u8>>,
        authorization: Option<&str>,
        what: &str,
    ) -> Result<reqwest::Response> {
        let mut request = self
            .http
            .request(method, url.clone())
            .headers(headers.clone());
        if let Some(authorization) = authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        tracing::debug!(registry = %self.host, path = url.path(), "registry request");
        request.send().await.map_err(|source| Error::Unreachable {
            registry: self.host.clone(),
            what: what.to_string(),
            source,
        })
    }

    /// The authorization known for `scope`: its token, or basic credentials the registry took.
    fn authorization(&self, scope: &str) -> Option<String> {
        let known = self
            .authorizations
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        known
            .get(scope)
            .or_else(|| known.get("").filter(|a| a.starts_with("Basic ")))
            .cloned()
    }

    /// The `Authorization` value answering `challenge`, or `None` when there is nothing to try.
    async fn answer(
        &self,
        challenge: Option<&str>,
        scope: &str,
        what: &str,
    ) -> Result<Option<String>> {
        match challenge.and_then(parse_challenge) {
            Some(Challenge::Basic) => {
                let Some(credential) = &self.credential else {
                    return Ok(None);
                };
                let basic = basic(credential);
                self.authorizations
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(String::new(), basic.clone());
                Ok(Some(basic))
            }
            Some(Challenge::Bearer {
                realm,
                service,
                scope: asked,
            }) => {
                let token = self
                    .token(
                        &realm,
                        service.as_deref(),
                        asked.as_deref().unwrap_or(scope),
                        what,
                    )
                    .await?;
                Ok(Some(format!("Bearer {token}")))
            }
            None => Ok(None),
        }
    }

    /// A bearer token from the token server at `realm` for `scope`, with the credentials when
    /// there are any (anonymous otherwise).
    async fn token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        what: &str,
    ) -> Result<String> {
        let mut url = reqwest::Url::parse(realm).map_err(|e| Error::Protocol {
            registry: self.host.clone(),
            what: what.to_string(),
            message: format!("token realm {realm:?} is not a URL: {e}"),
        })?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = service {
                query.append_pair("service", service);
            }
            for scope in scope.split(' ').filter(|s| !s.is_empty()) {
                query.append_pair("scope", scope);
            }
        }
        let mut request = self.http.get(url);
        if let Some(credential) = &self.credential {
            request = request.header(AUTHORIZATION, basic(credential));
        }
        let response = request.send().await.map_err(|source| Error::Unreachable {
            registry: self.host.clone(),
            what: format!("the token server {realm} for {what}"),
            source,
        })?;
        if response.status() == StatusCode::UNAUTHORIZED
            || response.status() == StatusCode::FORBIDDEN
        {
            return Err(self.unauthorized(response, what).await);
        }
        let response = self
            .expect(response, &[StatusCode::OK], &format!("a token for {what}"))
            .await?;
        let body = self.read_limited(response, 1 << 20, what).await?;
        let token: TokenResponse = serde_json::from_slice(&body).map_err(|e| Error::Protocol {
            registry: self.host.clone(),
            what: what.to_string(),
            message: format!("the token server's answer is not JSON: {e}"),
        })?;
        token.into_token().ok_or_else(|| Error::Protocol {
            registry: self.host.clone(),
            what: what.to_string(),
            message: "the token server sent no token".into(),
        })
    }

    async fn unauthorized(&self, response: reqwest::Response, what: &str) -> Error {
        let message = error_message(response).await;
        Error::Unauthorized {
            registry: self.host.clone(),
            what: what.to_string(),
            credentials: match &self.credential {
                Some(c) => format!("the credentials of user {:?}", c.username),
                None => "anonymous access (no credentials for this registry)".into(),
            },
            message,
        }
    }

    /// The response when its status is one of `ok`, else the registry's error, named.
    async fn expect(
        &self,
        response: reqwest::Response,
        ok: &[StatusCode],
        what: &str,
    ) -> Result<reqwest::Response> {
        let status = response.status();
        if ok.contains(&status) {
            return Ok(response);
        }
        let message = error_message(response).await;
        Err(match status {
            StatusCode::NOT_FOUND => Error::NotFound {
                registry: self.host.clone(),
                what: what.to_string(),
                message,
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Unauthorized {
                registry: self.host.clone(),
                what: what.to_string(),
                credentials: "the credentials given".into(),
                message,
            },
            _ => Error::Status {
                registry: self.host.clone(),
                what: what.to_string(),
                status: status.as_u16(),
                message,
            },
        })
    }

    /// The body, failing once it passes `limit` bytes (counted as it arrives).
    async fn read_limited(
        &self,
        mut response: reqwest::Response,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>> {
        if let Some(length) = response.content_length()
            && length > limit
        {
            return Err(Error::TooLarge {
                registry: self.host.clone(),
                what: what.to_string(),
                size: length,
                limit,
            });
        }
        let mut body = Vec::new();
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|source| Error::Unreachable {
                    registry: self.host.clone(),
                    what: what.to_string(),
                    source,
                })?;
            let Some(chunk) = chunk else {
                return Ok(body);
            };
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(Error::TooLarge {
                    registry: self.host.clone(),
                    what: what.to_string(),
                    size: (body.len() + chunk.len()) as u64,
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
    }
}

fn basic(credential: &Credential) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", credential.username, credential.password))
    )
}

fn read_tls_file(path: &std::path::Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Tls {
        message: format!("reading {what} {}: {e}", path.display()),
    })
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn join_reference(reference: &str) -> String {
    if reference.contains(':') {
        format!("@{reference}")
    } else {
        format!(":{reference}")
    }
}

/// The `rel="next"` target of a `Link` header: `</v2/x/tags/list?last=a&n=1000>; rel="next"`.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = header(headers, LINK.as_str())?;
    let (target, params) = link.split_once(';')?;
    params.contains("rel=\"next\"").then(|| {
        target
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string()
    })
}

/// The registry's error text: the `errors` of its JSON body (`CODE: message`), or the status.
async fn error_message(response: reqwest::Response) -> String {
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    let body = &body[..body.len().min(64 << 10)];
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Errors>(body) {
        Ok(errors) if !errors.errors.is_empty() => errors
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_links_are_followed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            r#"</v2/charts/web/tags/list?last=1.0.0&n=1000>; rel="next""#
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("/v2/charts/web/tags/list?last=1.0.0&n=1000")
        );
        assert_eq!(next_link(&HeaderMap::new()), None);
        assert_eq!(join_reference("1.0.0"), ":1.0.0");
        assert_eq!(join_reference("sha256:ab"), "@sha256:ab");
    }

    #[test]
    fn tls_files_are_named_when_unusable() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        let options = Options {
            ca_file: Some(ca),
            ..Options::default()
        };
        let error = Registry::new("127.0.0.1:5000", &options)
            .unwrap_err()
            .to_string();
        assert!(error.contains("ca.pem"), "{error}");
        let options = Options {
            cert_file: Some(dir.path().join("missing.pem")),
            ..Options::default()
        };
        let error = Registry::new("127.0.0.1:5000", &options)
            .unwrap_err()
            .to_string();
        assert!(error.contains("--key-file"), "{error}");
    }
}
