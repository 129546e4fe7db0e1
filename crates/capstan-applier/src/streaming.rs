//! Running a mutating operation as a spawned task and streaming its progress events, ending
//! with its result; a client going away (or its deadline) cancels the operation.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use capstan_auth::Caller;
use capstan_ops::{Cancel, Control, Event, Progress};
use capstan_proto::applier::v1 as pb;
use capstan_release::Release;
use futures::Stream;
use tokio::sync::mpsc;
use tonic::{Response, Status};
use tracing::Instrument as _;

use crate::metrics::record_metrics;
use crate::{ApplierService, Target, convert};

impl ApplierService {
    /// Starts a mutating operation as a task and returns its event stream.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn start<F, Fut>(
        &self,
        caller: &Caller,
        metadata: &tonic::metadata::MetadataMap,
        operation: &'static str,
        name: &str,
        namespace: &str,
        run: F,
    ) -> Result<Response<EventStream>, Status>
    where
        F: FnOnce(Target, Control, Arc<dyn Progress>) -> Fut + Send + 'static,
        Fut: Future<Output = pb::OperationResult> + Send + 'static,
    {
        if self.inner.draining.load(Ordering::SeqCst) {
            return Err(Status::unavailable(
                "the applier is shutting down and takes no new operations",
            ));
        }
        let admitted = self
            .inner
            .admission
            .admit(&capstan_server::Tenant::of(caller))?;
        let target = self.inner.backend.open_as(caller, namespace).await?;
        let id = self.inner.next_operation.fetch_add(1, Ordering::SeqCst);
        let holder = format!("{}/op-{id}", self.inner.instance);
        let cancel = Cancel::new();
        let control = Control {
            holder: holder.clone(),
            deadline: metadata
                .get("grpc-timeout")
                .and_then(|v| v.to_str().ok())
                .and_then(convert::grpc_timeout)
                .map(|d| Instant::now() + d),
            cancel: cancel.clone(),
            ..Control::default()
        };
        let span = tracing::info_span!(
            "operation",
            otel.name = %format!("applier.{operation}"),
            operation,
            release = %name,
            namespace = %namespace,
            revision = tracing::field::Empty,
            holder = %holder,
            tenant = caller.tenant_name(),
        );
        let stream_cancel = cancel.clone();
        let (tx, rx) = mpsc::unbounded_channel();
        let events = tx.clone();
        let event_span = span.clone();
        // When the operation started waiting for the release lock, until it has it (or failed).
        let locking = std::sync::Mutex::new(None::<Instant>);
        let progress: Arc<dyn Progress> = Arc::new(move |event: Event| {
            if let Event::Phase {
                revision: Some(r), ..
            } = &event
            {
                event_span.record("revision", r);
            }
            record_metrics(operation, &locking, &event);
            if let Some(message) = convert::event(&event) {
                let _ = events.send(Ok(message));
            }
        });
        let token = self.inner.in_flight.clone();
        let deadline = control.deadline;
        let running = capstan_telemetry::metrics::operation_started(operation);
        let operation_task = async move {
            tracing::info!("started");
            // The deadline bounds every step; past it, stop the step in flight at once.
            let timer = deadline.map(|deadline| {
                let cancel = cancel.clone();
                tokio::spawn(async move {
                    tokio::time::sleep_until(deadline.into()).await;
                    cancel.cancel("the client's deadline passed");
                })
            });
            let result = run(target, control, progress).await;
            if let Some(timer) = timer {
                timer.abort();
            }
            if let Some(release) = &result.release {
                tracing::Span::current().record("revision", release.revision);
            }
            match &result.error {
                None => tracing::info!("succeeded"),
                Some(e) => tracing::warn!(code = e.code, "failed"),
            }
            running.finish(capstan_server::code_label(
                result
                    .error
                    .as_ref()
                    .map_or(tonic::Code::Ok, |e| tonic::Code::from(e.code)),
            ));
            let _ = tx.send(Ok(convert::stamped(pb::operation_event::Event::Result(
                result,
            ))));
        }
        .instrument(span);
        tokio::spawn(async move {
            operation_task.await;
            // Only once the operation's span has closed (so a flush after wait_idle has it).
            drop(token);
            drop(admitted);
        });
        Ok(Response::new(Box::pin(OperationStream {
            rx,
            cancel: stream_cancel,
        })))
    }
}

/// The event stream of a mutating RPC.
pub(crate) type EventStream =
    Pin<Box<dyn Stream<Item = Result<pb::OperationEvent, Status>> + Send>>;

/// The events of one operation; dropping it before the end (the client went away) cancels the
/// operation, which then finalises on its own.
struct OperationStream {
    rx: mpsc::UnboundedReceiver<Result<pb::OperationEvent, Status>>,
    cancel: Cancel,
}

impl Stream for OperationStream {
    type Item = Result<pb::OperationEvent, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for OperationStream {
    fn drop(&mut self) {
        // After the result was sent this is a no-op: the operation has finished.
        self.cancel.cancel("the client went away");
    }
}

/// The result message of an operation that ended with `result`.
pub(crate) fn finished(result: capstan_ops::Result<Release>) -> pb::OperationResult {
    match result {
        Ok(release) => pb::OperationResult {
            success: true,
            release: Some(convert::release_info(&release)),
            notes: release.info.notes.clone(),
            error: None,
            info: String::new(),
            manifest: release.manifest,
            tests: Vec::new(),
            release_json: String::new(),
        },
        Err(e) => failed(&e),
    }
}

/// [`finished`] carrying the whole release record too, as a dry run answers (Helm prints the
/// record it would have written).
pub(crate) fn finished_with_record(result: capstan_ops::Result<Release>) -> pb::OperationResult {
    let record = match &result {
        Ok(release) => serde_json::to_string(release).unwrap_or_else(|error| {
            tracing::warn!(%error, "the dry run's release record could not be encoded");
            String::new()
        }),
        Err(_) => String::new(),
    };
    pb::OperationResult {
        release_json: record,
        ..finished(result)
    }
}

/// The result message of a failed operation.
pub(crate) fn failed(e: &capstan_ops::Error) -> pb::OperationResult {
    pb::OperationResult {
        success: false,
        error: Some(convert::error(e)),
        ..pb::OperationResult::default()
    }
}
