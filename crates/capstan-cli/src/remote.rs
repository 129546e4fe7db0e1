//! Connections to the daemons: plain HTTP/2 to the in-process services, or TLS (optionally with a
//! client certificate) and a bearer token (`--token`, or `--token-file` for a service-account
//! token) to remote daemons, as the global flags say.

use anyhow::Context as _;
use capstan_telemetry::propagation::ClientTrace;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::{Request, Status};

use crate::cli::Global;

/// A channel that sends the bearer token, if any, and the trace context with every call (each
/// call in a client span, when spans are exported).
pub type Authed = InterceptedService<ClientTrace<Channel>, BearerToken>;

/// Adds `authorization: Bearer <token>` to each call.
#[derive(Clone, Debug, Default)]
pub struct BearerToken(Option<MetadataValue<Ascii>>);

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Connects to a service started in this process (plain HTTP/2 on loopback, no token).
pub async fn local(addr: std::net::SocketAddr, what: &str) -> anyhow::Result<Authed> {
    let endpoint = format!("http://{addr}");
    let channel = Channel::from_shared(endpoint.clone())?
        .connect()
        .await
        .with_context(|| format!("connecting to the in-process {what} at {endpoint}"))?;
    Ok(InterceptedService::new(
        ClientTrace::new(channel),
        BearerToken::default(),
    ))
}

/// Connects to the daemon at `addr` (`host:port`, `http://...` or `https://...`), with TLS when
/// the address is `https://` or `--tls-ca` is given, and the bearer token when one is given.
pub async fn connect(addr: &str, global: &Global, what: &str) -> anyhow::Result<Authed> {
    let tls = global.tls_ca.is_some() || addr.starts_with("https://");
    let endpoint = match addr.split_once("://") {
        Some(_) => addr.to_string(),
        None if tls => format!("https://{addr}"),
        None => format!("http://{addr}"),
    };
    let mut builder = Channel::from_shared(endpoint.clone())
        .with_context(|| format!("invalid {what} address {endpoint}"))?;
    if tls {
        let mut config = ClientTlsConfig::new().with_enabled_roots();
        if let Some(ca) = &global.tls_ca {
            let pem = std::fs::read(ca)
                .with_context(|| format!("reading the CA certificate {}", ca.display()))?;
            config = config.ca_certificate(Certificate::from_pem(pem));
        }
        if let Some(name) = &global.tls_server_name {
            config = config.domain_name(name.clone());
        }
        if let (Some(cert), Some(key)) = (&global.tls_client_cert, &global.tls_client_key) {
            let read = |p: &std::path::Path| {
                std::fs::read(p).with_context(|| format!("reading {}", p.display()))
            };
            config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        builder = builder
            .tls_config(config)
            .with_context(|| format!("TLS settings for the {what} at {endpoint}"))?;
    }
    let channel = builder
        .connect()
        .await
        .with_context(|| format!("connecting to the {what} at {endpoint}"))?;
    let from_file = match &global.token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the bearer token from {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => None,
    };
    let token = match from_file
        .as_deref()
        .or(global.token.as_deref())
        .filter(|t| !t.is_empty())
    {
        Some(token) => Some(
            format!("Bearer {token}")
                .parse::<MetadataValue<Ascii>>()
                .context("the bearer token is not valid ASCII")?,
        ),
        None => None,
    };
    Ok(InterceptedService::new(
        ClientTrace::new(channel),
        BearerToken(token),
    ))
}
