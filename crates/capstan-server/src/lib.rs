//! Daemon plumbing shared by capstan's gRPC services (the renderer and the applier).
//!
//! - [`Daemon`]: binds a loopback or public address, serves a service with gRPC health and
//!   reflection next to it, with optional TLS and bearer tokens ([`Security`]), and shuts down gracefully on SIGTERM or Ctrl-C: it stops accepting
//!   connections and lets requests in flight finish. Each request runs in the server span of
//!   [`capstan_telemetry::propagation::server_span`] (a child of the caller's span when spans
//!   are exported).
//!
//! - [`BoundedStatus`]: every status the served service sends carries a message short enough
//!   for clients to accept (its start and end kept, the cut said), so a huge error never turns
//!   into "h2 protocol error".
//! - [`serve_metrics`]: the `--metrics-listen` endpoint ([`MetricsEndpoint`]).
//! - [`InFlightLimit`]: the bound on requests a daemon works on at once, in all and per
//!   [`Tenant`] (`RESOURCE_EXHAUSTED` beyond either).
//!
//! Invariant: this crate knows nothing about charts, releases or Kubernetes; services plug their
//! generated tonic servers into it.

pub mod bounded;
pub mod limits;
mod local;
mod metrics;
pub mod security;
#[cfg(feature = "testing")]
pub mod testing;

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;

pub use bounded::BoundedStatus;
pub use capstan_auth::{Caller, Operation, Principal, TokenReviewer};
pub use limits::{Admitted, InFlightLimit, Tenant};
pub use local::LocalService;
pub use metrics::{MetricsEndpoint, code_label, serve_metrics};
pub use security::{Authenticated, Authenticator, Security, SecurityFlags, TokenSet, caller};

/// Errors of serving a daemon.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error("binding {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// Reflection could not be set up from the descriptor set.
    #[error("setting up gRPC reflection")]
    Reflection(#[source] tonic_reflection::server::Error),
    /// The transport failed.
    #[error("serving gRPC")]
    Transport(#[source] tonic::transport::Error),
    /// A TLS or token file could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The security configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// A token file or the tenant policy is invalid.
    #[error(transparent)]
    Auth(#[from] capstan_auth::Error),
    /// The metrics endpoint could not be set up.
    #[error("serving metrics")]
    Metrics(#[source] capstan_telemetry::Error),
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A generated tonic server that a [`Daemon`] can serve.
pub trait GrpcService:
    tonic::codegen::Service<
        tonic::codegen::http::Request<tonic::body::Body>,
        Response = tonic::codegen::http::Response<tonic::body::Body>,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + NamedService
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> GrpcService for S where
    S: tonic::codegen::Service<
            tonic::codegen::http::Request<tonic::body::Body>,
            Response = tonic::codegen::http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// A bound listener, ready to serve one gRPC service with health and reflection.
pub struct Daemon {
    listener: TcpListener,
}

impl Daemon {
    /// Binds `addr` (e.g. `127.0.0.1:50051`, or port 0 for any free port).
    pub async fn bind(addr: &str) -> Result<Daemon> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind {
                addr: addr.to_string(),
                source,
            })?;
        Ok(Daemon { listener })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves `service` (reported SERVING by gRPC health) until `shutdown` completes, then
    /// drains requests in flight.
    pub async fn serve<S>(
        self,
        service: S,
        descriptor_set: &'static [u8],
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()>
    where
        S: GrpcService,
    {
        self.serve_secure(service, descriptor_set, &Security::default(), shutdown)
            .await
    }

    /// Like [`Daemon::serve`], with TLS and bearer tokens as `security` says.
    pub async fn serve_secure<S>(
        self,
        service: S,
        descriptor_set: &'static [u8],
        security: &Security,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()>
    where
        S: GrpcService,
    {
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter.set_serving::<S>().await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(descriptor_set)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(Error::Reflection)?;
        let addr = self.local_addr();
        tracing::info!(%addr, service = S::NAME, "serving");
        let service = BoundedStatus::new(Authenticated::new(service, Authenticator::new(security)));
        let mut routes = Routes::new(service);
        routes = routes.add_service(health).add_service(reflection);
        let mut builder = tonic::transport::Server::builder()
            .trace_fn(capstan_telemetry::propagation::server_span);
        if let Some(tls) = security.server_tls()? {
            builder = builder.tls_config(tls).map_err(Error::Transport)?;
        }
        builder
            .add_routes(routes)
            .serve_with_incoming_shutdown(
                // Without TCP_NODELAY, small responses wait for delayed ACKs (~40 ms each).
                TcpIncoming::from(self.listener).with_nodelay(Some(true)),
                shutdown,
            )
            .await
            .map_err(Error::Transport)?;
        tracing::info!(%addr, "stopped");
        Ok(())
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
///
/// The handlers are installed when this is called, not when the future is first polled: call it
/// before announcing the daemon, so a signal sent as soon as the daemon says it listens is never
/// met with the default action (the process killed without draining).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        tokio::select! {
            _ = received(terminate, "SIGTERM") => tracing::info!("SIGTERM received; finishing requests in flight"),
            _ = received(interrupt, "SIGINT") => tracing::info!("interrupt received; finishing requests in flight"),
        }
    }
}

/// Waits for one signal of an installed handler; never completes when it could not be installed.
async fn received(handler: std::io::Result<tokio::signal::unix::Signal>, name: &str) {
    match handler {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(error) => {
            tracing::warn!(%error, signal = name, "no handler for the signal");
            std::future::pending::<()>().await;
        }
    }
}
