//! Connections to the daemons: plain HTTP/2 to the in-process services, or TLS (optionally with a
//! client certificate) and a bearer token (`--token`, or `--token-file` for a service-account
//! token) to remote daemons, as the global flags say.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::Context as _;
use capstan_server::LocalService;
use capstan_telemetry::propagation::ClientTrace;
use tonic::body::Body;
use tonic::codegen::{Service, http};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::{Request, Status};

use crate::cli::Global;

/// A transport that sends the bearer token, if any, and the trace context with every call (each
/// call in a client span, when spans are exported).
pub type Authed = InterceptedService<ClientTrace<Transport>, BearerToken>;

/// How calls reach a service: a connection to a daemon, or the service in this process.
#[derive(Clone, Debug)]
pub enum Transport {
    /// A daemon over HTTP/2.
    Remote(Channel),
    /// A service started in this process, called directly.
    Local(LocalService),
}

impl Service<http::Request<Body>> for Transport {
    type Response = http::Response<Body>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self {
            Transport::Remote(channel) => channel.poll_ready(cx).map_err(Into::into),
            Transport::Local(local) => local.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match self {
            Transport::Remote(channel) => {
                let call = channel.call(request);
                Box::pin(async move { call.await.map_err(Into::into) })
            }
            Transport::Local(local) => {
                let call = local.call(request);
                Box::pin(async move { call.await.map_err(Into::into) })
            }
        }
    }
}

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

/// A client of `service`, started in this process: the daemon's service and layers, called
/// directly (no listener, no token).
pub fn local<S: capstan_server::GrpcService>(service: S) -> Authed {
    InterceptedService::new(
        ClientTrace::new(Transport::Local(LocalService::new(service))),
        BearerToken::default(),
    )
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
        ClientTrace::new(Transport::Remote(channel)),
        BearerToken(token),
    ))
}
