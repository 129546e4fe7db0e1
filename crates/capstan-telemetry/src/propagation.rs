//! W3C trace context (`traceparent`, `tracestate`) carried in gRPC metadata, so that one CLI
//! command and the RPCs it makes to the renderer and the applier are one trace.
//!
//! - Client side: [`ClientTrace`] wraps a channel; each call gets a client span (`otel.kind =
//!   client`, named after the RPC, a child of the caller's current span) whose context is
//!   injected into the request headers.
//! - Server side: [`server_span`] (for tonic's `Server::trace_fn`) opens the server span of an
//!   RPC with the remote context as its parent; the handler, and every span it opens, runs in it.
//!
//! Both do nothing (no span, no header) unless this process exports spans
//! ([`crate::trace::exporting`]).

use std::task::{Context, Poll};

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};
use tracing::Instrument as _;
use tracing::instrument::Instrumented;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::trace::exporting;

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Writes the context of `span` into `headers` as `traceparent` (and `tracestate`).
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

/// The remote parent context carried by `headers` (empty when there is none).
pub fn extract(headers: &HeaderMap) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    })
}

/// `service` and `method` of a gRPC path `/package.Service/Method`.
fn rpc_parts(path: &str) -> (&str, &str) {
    let path = path.trim_start_matches('/');
    path.split_once('/').unwrap_or((path, ""))
}

/// The server span of one gRPC request, a child of the caller's span when the request carries
/// trace context; `Span::none()` when this process does not export spans.
pub fn server_span(request: &http::Request<()>) -> tracing::Span {
    if !exporting() {
        return tracing::Span::none();
    }
    let path = request.uri().path();
    let (service, method) = rpc_parts(path);
    let span = tracing::info_span!(
        parent: None,
        "grpc.server",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
    );
    let parent = extract(request.headers());
    let _ = span.set_parent(parent);
    span
}

/// A channel (any tower service over HTTP requests) whose calls each get a client span and
/// carry its trace context.
#[derive(Clone, Debug)]
pub struct ClientTrace<S> {
    inner: S,
}

impl<S> ClientTrace<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> ClientTrace<S> {
        ClientTrace { inner }
    }
}

impl<S, B> tower_service::Service<http::Request<B>> for ClientTrace<S>
where
    S: tower_service::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if !exporting() {
            return self.inner.call(request).instrument(tracing::Span::none());
        }
        let path = request.uri().path().to_owned();
        let (service, method) = rpc_parts(&path);
        let span = tracing::info_span!(
            "grpc.client",
            otel.name = %path.trim_start_matches('/'),
            otel.kind = "client",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
        );
        inject(&span, request.headers_mut());
        let future = span.in_scope(|| self.inner.call(request));
        future.instrument(span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_paths_split_into_service_and_method() {
        assert_eq!(
            rpc_parts("/capstan.renderer.v1.Renderer/Render"),
            ("capstan.renderer.v1.Renderer", "Render")
        );
        assert_eq!(rpc_parts("/odd"), ("odd", ""));
    }

    #[test]
    fn without_export_no_span_is_opened_and_no_context_is_read() {
        let request = http::Request::builder()
            .uri("/capstan.renderer.v1.Renderer/Render")
            .header(
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            )
            .body(())
            .unwrap();
        assert!(server_span(&request).is_none());
    }

    #[test]
    fn trace_context_goes_through_headers_and_back() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        );
        headers.insert("tracestate", HeaderValue::from_static("vendor=x"));
        let context = extract(&headers);
        let mut out = HeaderMap::new();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut HeaderInjector(&mut out));
        });
        assert_eq!(out.get("traceparent"), headers.get("traceparent"));
        assert_eq!(out.get("tracestate"), headers.get("tracestate"));
    }
}
