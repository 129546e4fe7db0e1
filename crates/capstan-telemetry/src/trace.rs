//! The tracing subscriber every capstan binary installs: logs to stderr, and OpenTelemetry
//! export over OTLP/gRPC when the standard `OTEL_*` variables ask for it.
//!
//! Export is on when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set
//! (and `OTEL_SDK_DISABLED` is not `true`). The OpenTelemetry SDK then reads the rest itself:
//! `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` /
//! `OTEL_TRACES_SAMPLER_ARG` (default: parent-based, always on), `OTEL_BSP_*` for batching and
//! `OTEL_EXPORTER_OTLP_*_HEADERS` / `_TIMEOUT`. Spans at `info` and above are exported,
//! whatever `RUST_LOG` says of logs (`CAPSTAN_OTEL_FILTER`, an env-filter directive, changes
//! that).

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::{Error, Result};

/// Whether spans are exported (an OTLP endpoint is configured and the exporter is installed).
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether this process exports spans; when not, trace context is neither sent nor read.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Whether the environment configures an OTLP trace endpoint.
pub fn otlp_configured() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || set("OTEL_EXPORTER_OTLP_ENDPOINT"))
}

/// Where logs go, and at which level when `RUST_LOG` says nothing.
#[derive(Clone, Copy, Debug)]
pub enum Logs {
    /// Log with this `RUST_LOG`-style filter unless `RUST_LOG` is set (daemons: `info`).
    Default(&'static str),
    /// Log only when `RUST_LOG` is set (the CLI, whose stderr is for its users).
    OnlyWhenAsked,
}

/// The installed telemetry; [`Telemetry::shutdown`] flushes spans not yet exported.
#[must_use = "call shutdown before the process exits, or buffered spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("exporting", &self.provider.is_some())
            .finish()
    }
}

/// Installs the global subscriber for the binary `service` (the default `service.name`).
///
/// Must be called inside a tokio runtime when an OTLP endpoint is configured (the gRPC exporter
/// runs its connection there). A second call installs nothing and exports nothing.
pub fn init(service: &'static str, logs: Logs) -> Result<Telemetry> {
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();
    let filter = match (EnvFilter::try_from_default_env(), logs) {
        (Ok(filter), _) => Some(filter),
        (Err(_), Logs::Default(default)) => Some(EnvFilter::new(default)),
        (Err(_), Logs::OnlyWhenAsked) => None,
    };
    if let Some(filter) = filter {
        let json = std::env::var("CAPSTAN_LOG_FORMAT").is_ok_and(|f| f == "json");
        let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        layers.push(if json {
            fmt.json().with_filter(filter).boxed()
        } else {
            fmt.with_filter(filter).boxed()
        });
    }
    let provider = if otlp_configured() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
            .map_err(Error::Exporter)?;
        let mut resource = opentelemetry_sdk::Resource::builder();
        let named = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.is_empty())
            || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| v.contains("service.name"));
        if !named {
            resource = resource.with_service_name(service);
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        let tracer = provider.tracer("capstan");
        let filter = std::env::var("CAPSTAN_OTEL_FILTER")
            .ok()
            .and_then(|f| EnvFilter::try_new(f).ok())
            .unwrap_or_else(|| EnvFilter::new("info"));
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(filter)
                .boxed(),
        );
        Some(provider)
    } else {
        None
    };
    if layers.is_empty() {
        // No subscriber at all: every span and event stays disabled at its call site.
        return Ok(Telemetry { provider: None });
    }
    if tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .is_err()
    {
        tracing::debug!("a tracing subscriber was already installed");
        if let Some(provider) = provider {
            let _ = provider.shutdown();
        }
        return Ok(Telemetry { provider: None });
    }
    if let Some(provider) = &provider {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        opentelemetry::global::set_tracer_provider(provider.clone());
        EXPORTING.store(true, Ordering::Relaxed);
    }
    Ok(Telemetry { provider })
}

impl Telemetry {
    /// Whether spans are being exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports every span ended so far and stops the exporter (waits at most its timeout).
    /// Spans still open are not exported.
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        EXPORTING.store(false, Ordering::Relaxed);
        // The batch processor's shutdown blocks until its thread has exported what it holds.
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "flushing spans"),
            Err(error) => tracing::warn!(%error, "flushing spans"),
        }
    }
}
