//! An OTLP/gRPC trace receiver for tests: a real `TraceService/Export` server on loopback that
//! keeps every span it is sent, flattened into [`Span`]s, and helpers to check a trace's shape.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

/// One exported span, flattened.
#[derive(Clone, Debug)]
pub struct Span {
    /// The `service.name` of the process that sent it.
    pub service: String,
    /// Trace id.
    pub trace: Vec<u8>,
    /// Span id.
    pub id: Vec<u8>,
    /// Parent span id (empty for a root span).
    pub parent: Vec<u8>,
    /// Span name.
    pub name: String,
    /// Span kind, as its protobuf number ([`SERVER`], [`CLIENT`]...).
    pub kind: i32,
    /// Attributes (`key=value`), events (`event=NAME` then their attributes) and the status
    /// message (`status=...`), as text.
    pub text: Vec<String>,
}

/// `SPAN_KIND_SERVER`.
pub const SERVER: i32 = 2;
/// `SPAN_KIND_CLIENT`.
pub const CLIENT: i32 = 3;

impl Span {
    /// The value of attribute `key`, as text.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.text
            .iter()
            .find_map(|t| t.strip_prefix(key)?.strip_prefix('='))
    }
}

fn text_of(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn texts(attributes: &[KeyValue]) -> impl Iterator<Item = String> + '_ {
    attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, text_of(&kv.value)))
}

/// An OTLP/gRPC trace receiver on loopback that keeps every span it is sent.
#[derive(Clone, Default)]
pub struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut kept = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .map(|kv| text_of(&kv.value))
                .unwrap_or_default();
            for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
                let mut text: Vec<String> = texts(&span.attributes).collect();
                for event in &span.events {
                    text.push(format!("event={}", event.name));
                    text.extend(texts(&event.attributes));
                }
                if let Some(status) = &span.status {
                    text.push(format!("status={}", status.message));
                }
                kept.push(Span {
                    service: service.clone(),
                    trace: span.trace_id,
                    id: span.span_id,
                    parent: span.parent_span_id,
                    name: span.name,
                    kind: span.kind,
                    text,
                });
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Receiver {
    /// Starts the receiver; returns it and its endpoint (`http://127.0.0.1:PORT`).
    pub async fn start() -> anyhow::Result<(Receiver, String)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let receiver = Receiver::default();
        let service = TraceServiceServer::new(receiver.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        Ok((receiver, endpoint))
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }

    /// The spans of the first trace, not among `seen`, whose root span is named `root` (empty
    /// when none arrives within 10 s).
    pub async fn trace_rooted_at(&self, root: &str, seen: &BTreeSet<Vec<u8>>) -> Vec<Span> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let spans = self.spans();
            let trace = spans
                .iter()
                .find(|s| s.name == root && s.parent.is_empty() && !seen.contains(&s.trace))
                .map(|s| s.trace.clone());
            if let Some(trace) = trace {
                return spans.into_iter().filter(|s| s.trace == trace).collect();
            }
            if Instant::now() > deadline {
                return Vec::new();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// How many spans of each name.
pub fn names(spans: &[Span]) -> BTreeMap<String, usize> {
    let mut names = BTreeMap::new();
    for s in spans {
        *names.entry(s.name.clone()).or_insert(0) += 1;
    }
    names
}

/// The one span named `name` (of `kind`, if given).
pub fn one<'a>(spans: &'a [Span], name: &str, kind: Option<i32>) -> anyhow::Result<&'a Span> {
    let found: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == name && kind.is_none_or(|k| s.kind == k))
        .collect();
    anyhow::ensure!(
        found.len() == 1,
        "expected one span {name} (kind {kind:?}), found {}; spans: {:?}",
        found.len(),
        names(spans)
    );
    Ok(found[0])
}

/// Whether `span` descends from `ancestor` within `spans`.
pub fn descends(spans: &[Span], span: &Span, ancestor: &Span) -> bool {
    let mut parent = span.parent.clone();
    for _ in 0..64 {
        if parent == ancestor.id {
            return true;
        }
        match spans.iter().find(|s| s.id == parent) {
            Some(p) => parent = p.parent.clone(),
            None => return false,
        }
    }
    false
}
