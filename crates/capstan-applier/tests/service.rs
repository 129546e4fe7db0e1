//! The applier service in-process on 127.0.0.1:0, through its generated gRPC client, over an
//! in-memory store and a scripted cluster: streamed progress and results, the reads, the error
//! to status-code mapping, cancellation when the client goes away, and shutdown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use capstan_applier::{ApplierService, Backend, Target};
use capstan_ops::{
    ApplyRequest, Cluster, ClusterError, DeleteRequest, HookOutcome, HookRequest, Lock, LockGuard,
    LockHolder, LockRequest, ObjectAction, ObjectReport, ObjectResult, Progress, WaitRequest,
};
use capstan_proto::applier::v1 as pb;
use capstan_proto::applier::v1::applier_client::ApplierClient;
use capstan_proto::renderer::v1 as rpb;
use capstan_release::{BoxFuture, GoTime, HookPhase, MemoryStore, ReleaseStore, Status};
use tonic::Code;
use tonic::transport::Channel;

/// How the scripted cluster's `wait` behaves.
#[derive(Clone, Copy, PartialEq)]
enum WaitMode {
    Ready,
    Timeout,
    Hang,
}

struct FakeCluster {
    wait: Mutex<WaitMode>,
    lock_held: AtomicBool,
}

struct Guard;

impl LockGuard for Guard {
    fn holder(&self) -> &str {
        "test"
    }
    fn release(self: Box<Self>) -> BoxFuture<'static, Result<(), ClusterError>> {
        Box::pin(async { Ok(()) })
    }
}

impl Cluster for FakeCluster {
    fn create_namespace<'a>(
        &'a self,
        _: &'a str,
        _: bool,
    ) -> BoxFuture<'a, Result<bool, ClusterError>> {
        Box::pin(async { Ok(false) })
    }
    fn apply<'a>(
        &'a self,
        request: ApplyRequest<'a>,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<ObjectReport, ClusterError>> {
        Box::pin(async move {
            let mut report = ObjectReport::default();
            for r in request.target {
                progress.event(capstan_ops::Event::Object {
                    object: r.object.clone(),
                    action: ObjectAction::Created,
                    preview: None,
                });
                report.results.push(ObjectResult {
                    object: r.object.clone(),
                    action: ObjectAction::Created,
                    preview: None,
                });
            }
            Ok(report)
        })
    }
    fn delete<'a>(
        &'a self,
        _: DeleteRequest<'a>,
        _: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<ObjectReport, ClusterError>> {
        Box::pin(async { Ok(ObjectReport::default()) })
    }
    fn wait<'a>(
        &'a self,
        _: WaitRequest<'a>,
        _: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<(), ClusterError>> {
        let mode = *self.wait.lock().unwrap();
        Box::pin(async move {
            match mode {
                WaitMode::Ready => Ok(()),
                WaitMode::Timeout => Err(ClusterError::Timeout {
                    not_ready: vec!["deployment/web: 0/1 available".into()],
                }),
                WaitMode::Hang => {
                    std::future::pending::<()>().await;
                    Ok(())
                }
            }
        })
    }
    fn run_hook<'a>(
        &'a self,
        _: HookRequest<'a>,
        _: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<HookOutcome, ClusterError>> {
        Box::pin(async {
            Ok(HookOutcome {
                phase: HookPhase::Succeeded,
                started_at: GoTime::now(),
                completed_at: GoTime::now(),
                message: None,
            })
        })
    }
    fn lock<'a>(&'a self, request: LockRequest<'a>) -> BoxFuture<'a, Result<Lock, ClusterError>> {
        let held = self.lock_held.load(Ordering::SeqCst);
        Box::pin(async move {
            if held {
                return Err(ClusterError::LockHeld(Box::new(LockHolder {
                    namespace: request.namespace.to_owned(),
                    name: request.name.to_owned(),
                    holder: "other-applier/op-7".into(),
                    since: GoTime::now(),
                    until: GoTime::now(),
                })));
            }
            Ok(Lock {
                guard: Box::new(Guard),
                took_over: None,
            })
        })
    }
}

struct FakeBackend {
    store: Arc<MemoryStore>,
    cluster: Arc<FakeCluster>,
}

impl Backend for FakeBackend {
    fn open<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Target, tonic::Status>> {
        Box::pin(async move {
            Ok(Target {
                store: self.store.clone(),
                cluster: self.cluster.clone(),
            })
        })
    }
}

struct Harness {
    client: ApplierClient<Channel>,
    service: ApplierService,
    store: Arc<MemoryStore>,
    cluster: Arc<FakeCluster>,
}

async fn start() -> Harness {
    start_with(capstan_applier::DEFAULT_MAX_IN_FLIGHT).await
}

async fn start_with(max_in_flight: usize) -> Harness {
    let store = Arc::new(MemoryStore::new());
    let cluster = Arc::new(FakeCluster {
        wait: Mutex::new(WaitMode::Ready),
        lock_held: AtomicBool::new(false),
    });
    let service = ApplierService::with_instance(
        Arc::new(FakeBackend {
            store: store.clone(),
            cluster: cluster.clone(),
        }),
        "test-instance",
    )
    .with_max_in_flight(max_in_flight);
    let daemon = capstan_server::Daemon::bind("127.0.0.1:0").await.unwrap();
    let addr = daemon.local_addr();
    tokio::spawn(daemon.serve(
        service.clone().into_server(),
        capstan_proto::FILE_DESCRIPTOR_SET,
        std::future::pending(),
    ));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Harness {
        client: ApplierClient::new(channel),
        service,
        store,
        cluster,
    }
}

const MANIFEST: &str = "---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  greeting: hello\n";

fn rendered(replicas: i64) -> pb::Rendered {
    pb::Rendered {
        manifest: MANIFEST.into(),
        hooks: vec![rpb::Hook {
            name: "web-migrate".into(),
            kind: "Job".into(),
            path: "web/templates/job.yaml".into(),
            yaml: "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: web-migrate\n".into(),
            events: vec!["pre-upgrade".into()],
            weight: 0,
            delete_policies: vec!["before-hook-creation".into()],
        }],
        notes: format!("web has {replicas} replicas"),
        stored_chart_json: r#"{"metadata":{"apiVersion":"v2","name":"web","version":"0.1.0","appVersion":"1.0.0"},"templates":[],"values":{"replicaCount":1,"image":{"tag":"1.0"}}}"#.into(),
        user_values_json: format!(r#"{{"replicaCount":{replicas}}}"#),
        merged_values_json: format!(r#"{{"replicaCount":{replicas},"image":{{"tag":"1.0"}}}}"#),
        ..pb::Rendered::default()
    }
}

fn install_request(name: &str) -> pb::InstallRequest {
    pb::InstallRequest {
        name: name.into(),
        namespace: "apps".into(),
        rendered: Some(rendered(1)),
        wait: true,
        ..pb::InstallRequest::default()
    }
}

/// Every event of a stream and its final result.
async fn drain(
    mut stream: tonic::Streaming<pb::OperationEvent>,
) -> (Vec<pb::operation_event::Event>, pb::OperationResult) {
    let mut events = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        assert!(!message.time.is_empty(), "every event is timestamped");
        match message.event.unwrap() {
            pb::operation_event::Event::Result(result) => {
                assert!(
                    stream.message().await.unwrap().is_none(),
                    "the result is last"
                );
                return (events, result);
            }
            event => events.push(event),
        }
    }
    panic!("the stream ended without a result: {events:?}");
}

#[tokio::test]
async fn install_streams_progress_then_the_result_and_reads_see_it() {
    let Harness { mut client, .. } = start().await;
    let stream = client
        .install(install_request("web"))
        .await
        .unwrap()
        .into_inner();
    let (events, result) = drain(stream).await;
    assert!(result.success, "{result:?}");
    let release = result.release.unwrap();
    assert_eq!((release.revision, release.status.as_str()), (1, "deployed"));
    assert_eq!(result.notes, "web has 1 replicas");
    let phases: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            pb::operation_event::Event::Phase(p) => Some(p.phase.clone()),
            _ => None,
        })
        .collect();
    for phase in ["locking", "recording", "applying", "waiting", "finalising"] {
        assert!(phases.iter().any(|p| p == phase), "{phase} in {phases:?}");
    }
    assert!(
        events.iter().any(|e| matches!(e,
            pb::operation_event::Event::Object(o) if o.action == "created"
                && o.object.as_ref().unwrap().name == "web")),
        "{events:?}"
    );

    // An upgrade, then the reads.
    let stream = client
        .upgrade(pb::UpgradeRequest {
            name: "web".into(),
            namespace: "apps".into(),
            rendered: Some(rendered(5)),
            ..pb::UpgradeRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let (events, result) = drain(stream).await;
    assert!(result.success, "{result:?}");
    assert_eq!(result.release.unwrap().revision, 2);
    assert!(
        events.iter().any(|e| matches!(e,
            pb::operation_event::Event::Hook(h) if h.event == "pre-upgrade")),
        "the pre-upgrade hook ran: {events:?}"
    );

    let list = client
        .list(pb::ListRequest {
            namespace: "apps".into(),
            ..pb::ListRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.releases.len(), 1);
    assert_eq!(list.releases[0].chart, "web-0.1.0");
    assert_eq!(list.releases[0].app_version, "1.0.0");

    let history = client
        .history(pb::HistoryRequest {
            name: "web".into(),
            namespace: "apps".into(),
            max: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let rows: Vec<(u32, String, String)> = history
        .revisions
        .iter()
        .map(|r| (r.revision, r.status.clone(), r.description.clone()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (1, "superseded".into(), "Install complete".into()),
            (2, "deployed".into(), "Upgrade complete".into()),
        ]
    );

    let get = |revision: u32, all_values: bool| pb::GetRequest {
        name: "web".into(),
        namespace: "apps".into(),
        revision,
        all_values,
    };
    let latest = client.get(get(0, false)).await.unwrap().into_inner();
    assert_eq!(latest.values_json, r#"{"replicaCount":5}"#);
    assert!(latest.manifest.contains("kind: ConfigMap"));
    assert!(latest.hooks.contains("# Source: web/templates/job.yaml"));
    let metadata: serde_json::Value = serde_json::from_str(&latest.metadata_json).unwrap();
    assert_eq!(metadata["revision"], 2);
    let all = client.get(get(0, true)).await.unwrap().into_inner();
    let all: serde_json::Value = serde_json::from_str(&all.values_json).unwrap();
    assert_eq!(all["image"]["tag"], "1.0");
    assert_eq!(all["replicaCount"], 5);
    let first = client.get(get(1, false)).await.unwrap().into_inner();
    assert_eq!(first.values_json, r#"{"replicaCount":1}"#);

    let status = client
        .status(pb::StatusRequest {
            name: "web".into(),
            namespace: "apps".into(),
            revision: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.release.unwrap().status, "deployed");
    assert_eq!(status.notes, "web has 5 replicas");
}

#[tokio::test]
async fn errors_map_to_grpc_codes() {
    let Harness {
        mut client,
        cluster,
        ..
    } = start().await;

    // Reads: unknown release, unknown revision.
    let missing = client
        .history(pb::HistoryRequest {
            name: "nope".into(),
            namespace: "apps".into(),
            max: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");

    // Invalid name.
    let stream = client
        .install(install_request("Not_A_Name"))
        .await
        .unwrap()
        .into_inner();
    let (_, result) = drain(stream).await;
    let error = result.error.unwrap();
    assert_eq!(Code::from(error.code), Code::InvalidArgument, "{error:?}");

    // Name in use.
    let (_, first) = drain(
        client
            .install(install_request("web"))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert!(first.success);
    let (_, again) = drain(
        client
            .install(install_request("web"))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert_eq!(Code::from(again.error.unwrap().code), Code::AlreadyExists);

    let no_revision = client
        .get(pb::GetRequest {
            name: "web".into(),
            namespace: "apps".into(),
            revision: 9,
            all_values: false,
        })
        .await
        .unwrap_err();
    assert_eq!(no_revision.code(), Code::NotFound);
    assert!(
        no_revision.message().contains("revision 9"),
        "{no_revision:?}"
    );

    // A held lock names its holder.
    cluster.lock_held.store(true, Ordering::SeqCst);
    let stream = client
        .rollback(pb::RollbackRequest {
            name: "web".into(),
            namespace: "apps".into(),
            ..pb::RollbackRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let (_, locked) = drain(stream).await;
    let error = locked.error.unwrap();
    assert_eq!(
        Code::from(error.code),
        Code::FailedPrecondition,
        "{error:?}"
    );
    assert!(error.message.contains("other-applier/op-7"), "{error:?}");
    cluster.lock_held.store(false, Ordering::SeqCst);

    // A wait that times out.
    *cluster.wait.lock().unwrap() = WaitMode::Timeout;
    let stream = client
        .upgrade(pb::UpgradeRequest {
            name: "web".into(),
            namespace: "apps".into(),
            rendered: Some(rendered(2)),
            wait: true,
            ..pb::UpgradeRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let (_, timed_out) = drain(stream).await;
    let error = timed_out.error.unwrap();
    assert_eq!(Code::from(error.code), Code::DeadlineExceeded, "{error:?}");
    assert!(
        error.message.contains("deployment/web: 0/1 available"),
        "{error:?}"
    );

    // Bad input is refused before anything runs.
    let bad = client
        .install(pb::InstallRequest {
            dry_run: "sideways".into(),
            ..install_request("other")
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_client_going_away_cancels_and_the_revision_ends_failed() {
    let Harness {
        mut client,
        cluster,
        store,
        service,
    } = start().await;
    *cluster.wait.lock().unwrap() = WaitMode::Hang;
    let mut stream = client
        .install(install_request("web"))
        .await
        .unwrap()
        .into_inner();
    // Read until the operation is waiting, then go away.
    loop {
        let event = stream.message().await.unwrap().expect("an event");
        if matches!(event.event, Some(pb::operation_event::Event::Phase(ref p)) if p.phase == "waiting")
        {
            break;
        }
    }
    drop(stream);
    drop(client);
    let mut last = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        last = store.latest("apps", "web").await.ok();
        if last
            .as_ref()
            .is_some_and(|r| r.release.info.status == Status::Failed)
            && service.in_flight() == 0
        {
            break;
        }
    }
    let last = last.expect("the revision was recorded").release;
    assert_eq!(last.info.status, Status::Failed, "{:?}", last.info);
    assert!(
        last.info.description.contains("went away"),
        "{}",
        last.info.description
    );
    assert_eq!(service.in_flight(), 0);
}

#[tokio::test]
async fn operations_beyond_the_in_flight_limit_are_resource_exhausted() {
    let Harness {
        mut client,
        cluster,
        service,
        ..
    } = start_with(1).await;
    *cluster.wait.lock().unwrap() = WaitMode::Hang;
    let mut stream = client
        .install(install_request("web"))
        .await
        .unwrap()
        .into_inner();
    stream.message().await.unwrap().expect("an event");
    let refused = client.install(install_request("other")).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("--max-in-flight 1"),
        "{}",
        refused.message()
    );
    drop(stream);
    for _ in 0..100 {
        if service.in_flight() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    *cluster.wait.lock().unwrap() = WaitMode::Ready;
    let (_, result) = drain(
        client
            .install(install_request("other"))
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert!(result.error.is_none(), "{result:?}");
}

#[tokio::test]
async fn a_release_with_too_many_objects_is_resource_exhausted() {
    let Harness { mut client, .. } = start().await;
    let mut request = install_request("web");
    let rendered = request.rendered.as_mut().unwrap();
    rendered.manifest = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
        .repeat(capstan_applier::MAX_OBJECTS + 1);
    let refused = client.install(request).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("more than the limit of 10000"),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn after_shutdown_begins_no_new_operation_is_taken() {
    let Harness {
        mut client,
        service,
        ..
    } = start().await;
    service.begin_shutdown();
    let refused = client.install(install_request("web")).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    // Reads still answer.
    let list = client.list(pb::ListRequest::default()).await.unwrap();
    assert!(list.into_inner().releases.is_empty());
    service.wait_idle().await;
}

#[tokio::test]
async fn a_grpc_deadline_bounds_the_operation() {
    let Harness {
        mut client,
        cluster,
        store,
        ..
    } = start().await;
    *cluster.wait.lock().unwrap() = WaitMode::Hang;
    let mut request = tonic::Request::new(install_request("web"));
    request.set_timeout(Duration::from_millis(700));
    // The operation stops at the deadline and says so in its result.
    let stream = client.install(request).await.unwrap().into_inner();
    let (_, result) = drain(stream).await;
    let error = result.error.expect("the operation failed");
    assert!(error.message.contains("deadline"), "{error:?}");
    let mut status = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        status = store
            .latest("apps", "web")
            .await
            .ok()
            .map(|r| r.release.info.status);
        if status == Some(Status::Failed) {
            break;
        }
    }
    assert_eq!(status, Some(Status::Failed));
}
