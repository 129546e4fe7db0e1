//! The process's Prometheus metrics, the recording interface the services call, and a plain
//! HTTP endpoint serving them (`GET /metrics`, Prometheus text format 0.0.4).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `capstan_operations_total` | counter | `operation` (install, upgrade, rollback, uninstall), `result` (`success` or the error class) |
//! | `capstan_operation_duration_seconds` | histogram | `operation`, `result` |
//! | `capstan_operations_in_flight` | gauge | `operation` |
//! | `capstan_lock_wait_seconds` | histogram | `operation` (time to take the release lock, failed attempts included) |
//! | `capstan_crash_recoveries_total` | counter | `operation` (interrupted revisions recovered) |
//! | `capstan_renders_total` | counter | `result` (`success` or the gRPC code) |
//! | `capstan_render_duration_seconds` | histogram | `result` |
//! | `capstan_chart_cache_hits_total`, `capstan_chart_cache_misses_total` | counter | `cache` (`archive`: HasChart; `compiled`: a render's compiled templates) |
//! | `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`, `process_threads`, `process_start_time_seconds` | | (Linux, read from `/proc` at each scrape) |
//!
//! The registry is process-wide (like Prometheus's default registry): recording is a few atomic
//! operations and costs the same whether or not anyone scrapes.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use http::{Method, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::{Error, Result};

type Labels1 = [(&'static str, &'static str); 1];
type Labels2 = [(&'static str, &'static str); 2];
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Operation durations: 50 ms to 10 minutes.
fn operation_buckets() -> Histogram {
    Histogram::new([
        0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    ])
}

/// Render durations: 1 ms to about 16 s.
fn render_buckets() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 15,
    ))
}

/// Lock waits: 1 ms to 5 minutes.
fn lock_buckets() -> Histogram {
    Histogram::new([
        0.001, 0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0,
    ])
}

/// Every metric capstan records.
struct Metrics {
    registry: Registry,
    operations: Family<Labels2, Counter>,
    operation_duration: Histograms<Labels2>,
    in_flight: Family<Labels1, Gauge>,
    lock_wait: Histograms<Labels1>,
    recoveries: Family<Labels1, Counter>,
    renders: Family<Labels1, Counter>,
    render_duration: Histograms<Labels1>,
    cache_hits: Family<Labels1, Counter>,
    cache_misses: Family<Labels1, Counter>,
    chart_fetches: Family<Labels1, Counter>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let operations = Family::<Labels2, Counter>::default();
        registry.register(
            "capstan_operations",
            "Release operations finished, by operation and result",
            operations.clone(),
        );
        let operation_duration: Histograms<Labels2> =
            Family::new_with_constructor(operation_buckets);
        registry.register(
            "capstan_operation_duration_seconds",
            "Duration of release operations, by operation and result",
            operation_duration.clone(),
        );
        let in_flight = Family::<Labels1, Gauge>::default();
        registry.register(
            "capstan_operations_in_flight",
            "Release operations running now",
            in_flight.clone(),
        );
        let lock_wait: Histograms<Labels1> = Family::new_with_constructor(lock_buckets);
        registry.register(
            "capstan_lock_wait_seconds",
            "Time operations spent taking the release lock (failed attempts included)",
            lock_wait.clone(),
        );
        let recoveries = Family::<Labels1, Counter>::default();
        registry.register(
            "capstan_crash_recoveries",
            "Interrupted revisions (left pending by a stopped operation) recovered",
            recoveries.clone(),
        );
        let renders = Family::<Labels1, Counter>::default();
        registry.register(
            "capstan_renders",
            "Renders finished, by result",
            renders.clone(),
        );
        let render_duration: Histograms<Labels1> = Family::new_with_constructor(render_buckets);
        registry.register(
            "capstan_render_duration_seconds",
            "Duration of renders, by result",
            render_duration.clone(),
        );
        let cache_hits = Family::<Labels1, Counter>::default();
        registry.register(
            "capstan_chart_cache_hits",
            "Chart cache lookups that found the chart (archive: HasChart; compiled: renders)",
            cache_hits.clone(),
        );
        let cache_misses = Family::<Labels1, Counter>::default();
        registry.register(
            "capstan_chart_cache_misses",
            "Chart cache lookups that did not find the chart",
            cache_misses.clone(),
        );
        let chart_fetches = Family::<Labels1, Counter>::default();
        registry.register(
            "capstan_chart_fetches",
            "Charts the renderer resolved by reference, by result (downloaded, cached: served \
             from the shared cache without a download, refused, failed)",
            chart_fetches.clone(),
        );
        registry.register_collector(Box::new(ProcessCollector));
        Metrics {
            registry,
            operations,
            operation_duration,
            in_flight,
            lock_wait,
            recoveries,
            renders,
            render_duration,
            cache_hits,
            cache_misses,
            chart_fetches,
        }
    }
}

fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// An operation running; dropping it takes it out of `capstan_operations_in_flight`.
#[derive(Debug)]
pub struct InFlight {
    operation: &'static str,
    started: Instant,
}

/// Counts an operation as started (in flight until the returned guard is dropped).
pub fn operation_started(operation: &'static str) -> InFlight {
    global()
        .in_flight
        .get_or_create(&[("operation", operation)])
        .inc();
    InFlight {
        operation,
        started: Instant::now(),
    }
}

impl InFlight {
    /// Records the operation's end: its count and duration under `result`.
    pub fn finish(self, result: &'static str) {
        let labels = [("operation", self.operation), ("result", result)];
        let metrics = global();
        metrics.operations.get_or_create(&labels).inc();
        metrics
            .operation_duration
            .get_or_create(&labels)
            .observe(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        global()
            .in_flight
            .get_or_create(&[("operation", self.operation)])
            .dec();
    }
}

/// Makes the per-operation series of `operation` exist (at zero) before its first run, so that
/// scrapes show them and rates over them start from zero.
pub fn declare_operation(operation: &'static str) {
    let metrics = global();
    let labels = [("operation", operation)];
    drop(metrics.in_flight.get_or_create(&labels));
    drop(metrics.recoveries.get_or_create(&labels));
}

/// Records the time an operation spent taking its release lock.
pub fn lock_waited(operation: &'static str, waited: Duration) {
    global()
        .lock_wait
        .get_or_create(&[("operation", operation)])
        .observe(waited.as_secs_f64());
}

/// Counts the recovery of an interrupted revision.
pub fn recovered(operation: &'static str) {
    global()
        .recoveries
        .get_or_create(&[("operation", operation)])
        .inc();
}

/// Records a finished render.
pub fn render_finished(result: &'static str, took: Duration) {
    let labels = [("result", result)];
    let metrics = global();
    metrics.renders.get_or_create(&labels).inc();
    metrics
        .render_duration
        .get_or_create(&labels)
        .observe(took.as_secs_f64());
}

/// Records a chart cache lookup in `cache` (`archive` or `compiled`).
pub fn chart_cache(cache: &'static str, hit: bool) {
    let metrics = global();
    let family = if hit {
        &metrics.cache_hits
    } else {
        &metrics.cache_misses
    };
    family.get_or_create(&[("cache", cache)]).inc();
}

/// Records a chart resolved by reference on the renderer: `downloaded`, `cached` (no
/// download), `refused` (not allowed) or `failed`.
pub fn chart_fetch(result: &'static str) {
    global()
        .chart_fetches
        .get_or_create(&[("result", result)])
        .inc();
}

/// Every metric in Prometheus text format.
pub fn encode() -> String {
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &global().registry)
        .expect("writing to a String cannot fail");
    text
}

/// Process figures read from `/proc/self` at each scrape (nothing where there is no `/proc`).
#[derive(Debug)]
struct ProcessCollector;

/// Linux's fixed `USER_HZ`, the unit of `/proc/<pid>/stat` times.
const TICKS_PER_SECOND: f64 = 100.0;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return Ok(());
        };
        // Fields after the command name, which is in parentheses and may contain spaces.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        // `fields[0]` is field 3 (state) of proc(5).
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
        if let (Some(user), Some(system)) = (field(14), field(15)) {
            let cpu = ConstCounter::new((user + system) / TICKS_PER_SECOND);
            cpu.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                cpu.metric_type(),
            )?)?;
        }
        if let Some(threads) = field(20) {
            let gauge = ConstGauge::new(threads as i64);
            gauge.encode(encoder.encode_descriptor(
                "process_threads",
                "Number of OS threads in the process",
                None,
                gauge.metric_type(),
            )?)?;
        }
        let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        if let (Some(boot), Some(start)) = (boot, field(22)) {
            let gauge = ConstGauge::new(boot + start / TICKS_PER_SECOND);
            gauge.encode(encoder.encode_descriptor(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                None,
                gauge.metric_type(),
            )?)?;
        }
        let rss = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            });
        if let Some(kib) = rss {
            let gauge = ConstGauge::new(kib * 1024);
            gauge.encode(encoder.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                None,
                gauge.metric_type(),
            )?)?;
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            let gauge = ConstGauge::new(fds.count() as i64);
            gauge.encode(encoder.encode_descriptor(
                "process_open_fds",
                "Number of open file descriptors",
                None,
                gauge.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

/// A bound metrics endpoint: `GET /metrics` answers the metrics, anything else 404 (or 405 for
/// other methods). Plain HTTP/1.1, meant for a Prometheus scraper on a private port.
#[derive(Debug)]
pub struct MetricsServer {
    listener: TcpListener,
}

impl MetricsServer {
    /// Binds `addr` (port 0 for any free port).
    pub async fn bind(addr: &str) -> Result<MetricsServer> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind {
                addr: addr.to_owned(),
                source,
            })?;
        Ok(MetricsServer { listener })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves scrapes until `shutdown` completes.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let addr = self.local_addr();
        tracing::info!(%addr, "serving metrics");
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = &mut shutdown => break,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accepting a metrics connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            tokio::spawn(async move {
                let served = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
                if let Err(error) = served {
                    tracing::debug!(%error, "metrics connection");
                }
            });
        }
        tracing::info!(%addr, "metrics stopped");
    }
}

async fn answer(request: http::Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let plain = |status: StatusCode, text: &'static str| {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from_static(text.as_bytes())))
            .expect("a valid response")
    };
    let response = match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => Response::builder()
            .header(
                header::CONTENT_TYPE,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            )
            .body(Full::new(Bytes::from(encode())))
            .expect("a valid response"),
        (_, "/metrics") => plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n"),
        _ => plain(StatusCode::NOT_FOUND, "metrics are at /metrics\n"),
    };
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, name_and_labels: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    #[test]
    fn recording_moves_the_counters_and_the_gauge() {
        let before = encode();
        let op = operation_started("rollback");
        let during = encode();
        assert_eq!(
            sample(
                &during,
                "capstan_operations_in_flight{operation=\"rollback\"}"
            ),
            sample(
                &before,
                "capstan_operations_in_flight{operation=\"rollback\"}"
            ) + 1.0
        );
        op.finish("precondition");
        recovered("rollback");
        chart_cache("archive", true);
        chart_cache("compiled", false);
        render_finished("success", Duration::from_millis(3));
        lock_waited("rollback", Duration::from_millis(2));
        let after = encode();
        for (metric, step) in [
            (
                "capstan_operations_total{operation=\"rollback\",result=\"precondition\"}",
                1.0,
            ),
            (
                "capstan_operation_duration_seconds_count{operation=\"rollback\",result=\"precondition\"}",
                1.0,
            ),
            (
                "capstan_crash_recoveries_total{operation=\"rollback\"}",
                1.0,
            ),
            ("capstan_chart_cache_hits_total{cache=\"archive\"}", 1.0),
            ("capstan_chart_cache_misses_total{cache=\"compiled\"}", 1.0),
            ("capstan_renders_total{result=\"success\"}", 1.0),
            (
                "capstan_lock_wait_seconds_count{operation=\"rollback\"}",
                1.0,
            ),
            ("capstan_operations_in_flight{operation=\"rollback\"}", 0.0),
        ] {
            assert_eq!(
                sample(&after, metric),
                sample(&before, metric) + step,
                "{metric} in\n{after}"
            );
        }
        assert!(after.contains("# TYPE capstan_operations_total counter"));
        assert!(after.contains("# TYPE capstan_render_duration_seconds histogram"));
    }

    #[test]
    fn declared_operations_show_at_zero() {
        declare_operation("declared");
        let text = encode();
        assert!(text.contains("capstan_crash_recoveries_total{operation=\"declared\"} 0"));
        assert!(text.contains("capstan_operations_in_flight{operation=\"declared\"} 0"));
    }

    #[test]
    fn process_figures_are_reported_on_linux() {
        let text = encode();
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(
                sample(&text, "process_resident_memory_bytes") > 0.0,
                "{text}"
            );
            assert!(sample(&text, "process_open_fds") > 0.0, "{text}");
            assert!(
                sample(&text, "process_start_time_seconds") > 1.0e9,
                "{text}"
            );
            assert!(text.contains("process_cpu_seconds_total"), "{text}");
        }
    }

    #[tokio::test]
    async fn the_endpoint_serves_get_metrics_only() {
        let server = MetricsServer::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(async {
            let _ = stopped.await;
        }));
        recovered("install");
        let get = |path: &'static str| async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            response
        };
        let metrics = get("/metrics").await;
        assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
        assert!(metrics.contains("text/plain; version=0.0.4"), "{metrics}");
        assert!(
            metrics.contains("capstan_crash_recoveries_total{operation=\"install\"}"),
            "{metrics}"
        );
        assert!(get("/").await.starts_with("HTTP/1.1 404"));
        stop.send(()).unwrap();
        task.await.unwrap();
    }
}
