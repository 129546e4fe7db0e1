//! capstan's observability plumbing, shared by the two daemons and the CLI.
//!
//! - [`trace`]: [`trace::init`] installs the process's tracing subscriber: logs to stderr
//!   filtered by `RUST_LOG` (JSON lines with `CAPSTAN_LOG_FORMAT=json`), and, only when an OTLP
//!   endpoint is configured by the standard `OTEL_EXPORTER_OTLP_ENDPOINT` /
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` variables, an OpenTelemetry layer exporting spans over
//!   OTLP/gRPC. [`trace::Telemetry::shutdown`] flushes what is buffered.
//! - [`propagation`]: W3C trace context (`traceparent`, `tracestate`) in gRPC metadata: a
//!   client-side tower wrapper ([`propagation::ClientTrace`]) that opens a client span per call and
//!   injects its context, and [`propagation::server_span`], the server-side span whose parent is
//!   the caller's (for tonic's `trace_fn`).
//! - [`metrics`]: the process's Prometheus metrics (operations, renders, the chart cache, lock
//!   waits, crash recoveries, process figures), the small recording interface the services call,
//!   and [`metrics::MetricsServer`], a plain HTTP endpoint serving `GET /metrics`.
//!
//! Invariants:
//! - Without an OTLP endpoint nothing is exported, no exporter or propagator exists, and the
//!   client and server spans are disabled (`Span::none()`), so tracing costs what it did before.
//! - Spans and metric labels carry identities (release, namespace, revision, operation, RPC
//!   method), never values, manifests or Secret payloads.
//! - Libraries only emit spans, events and metric updates; binaries call [`trace::init`] and
//!   serve metrics.

pub mod metrics;
pub mod propagation;
pub mod trace;

/// Errors of setting up telemetry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The OTLP span exporter could not be built from the `OTEL_*` settings.
    #[error("setting up the OTLP span exporter")]
    Exporter(#[source] opentelemetry_otlp::ExporterBuildError),
    /// The metrics address could not be bound.
    #[error("binding the metrics address {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
