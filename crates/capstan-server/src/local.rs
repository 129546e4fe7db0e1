//! A gRPC service called in this process: the same service a daemon serves (authentication,
//! bounded statuses, a server span per call), handed the client's HTTP requests directly, with
//! no listener, HTTP/2 or loopback connection between them.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tower::ServiceExt as _;
use tower::util::BoxCloneSyncService;
use tracing::Instrument as _;

use crate::{Authenticated, Authenticator, BoundedStatus, GrpcService, Security};

/// A service of this process, as a client's transport (see the module docs).
#[derive(Clone)]
pub struct LocalService {
    inner: BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>,
}

impl std::fmt::Debug for LocalService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalService").finish_non_exhaustive()
    }
}

impl LocalService {
    /// `service` behind the layers a [`crate::Daemon`] puts in front of it, without security
    /// (a caller in this process is the user running it).
    pub fn new<S: GrpcService>(service: S) -> LocalService {
        let service = BoundedStatus::new(Authenticated::new(
            service,
            Authenticator::new(&Security::default()),
        ));
        LocalService {
            inner: BoxCloneSyncService::new(service),
        }
    }
}

impl tower_service::Service<Request<Body>> for LocalService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let mut head = Request::new(());
        *head.method_mut() = request.method().clone();
        *head.uri_mut() = request.uri().clone();
        *head.headers_mut() = request.headers().clone();
        let span = capstan_telemetry::propagation::server_span(&head);
        let service = self.inner.clone();
        Box::pin(service.oneshot(request).instrument(span))
    }
}
