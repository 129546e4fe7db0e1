//! The applier service in-process on 127.0.0.1:0, through its generated gRPC client, over an
//! in-memory store and capstan-ops' `FakeCluster`: streamed progress and results, the reads, the error
//! to status-code mapping, cancellation when the client goes away, and shutdown.

use std::sync::Arc;
use std::time::Duration;

use capstan_applier::{ApplierService, Backend, Target};
use capstan_ops::testing::{FakeCluster, Lease, t};
use capstan_proto::applier::v1 as pb;
use capstan_proto::applier::v1::applier_client::ApplierClient;
use capstan_proto::renderer::v1 as rpb;
use capstan_release::{BoxFuture, MemoryStore, ReleaseStore, Status};
use tonic::Code;
use tonic::transport::Channel;

struct FakeBackend {
    store: Arc<MemoryStore>,
    cluster: FakeCluster,
}

impl Backend for FakeBackend {
    fn open<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Target, tonic::Status>> {
        Box::pin(async move {
            Ok(Target {
                store: self.store.clone(),
                cluster: Arc::new(self.cluster.clone()),
            })
        })
    }
}

struct Harness {
    client: ApplierClient<Channel>,
    service: ApplierService,
    store: Arc<MemoryStore>,
    cluster: FakeCluster,
}

async fn start() -> Harness {
    start_with(capstan_applier::DEFAULT_MAX_IN_FLIGHT).await
}

async fn start_with(max_in_flight: usize) -> Harness {
    let store = Arc::new(MemoryStore::new());
    let cluster = FakeCluster::new();
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
    cluster.state().leases.insert(
        "apps/web".into(),
        Lease {
            holder: "other-applier/op-7".into(),
            since: t("2026-01-01T00:00:00Z"),
            until: t("2026-01-01T00:00:15Z"),
            live: true,
        },
    );
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
    cluster.state().leases.clear();

    // A wait that times out.
    cluster
        .state()
        .not_ready
        .insert("configmap/web".into(), "0/1 available".into());
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
        error.message.contains("configmap/web: 0/1 available"),
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
    cluster.state().hang_wait = true;
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
    cluster.state().hang_wait = true;
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
    cluster.state().hang_wait = false;
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
    cluster.state().hang_wait = true;
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

/// How a request says its enum-like settings: only the deprecated strings (an older client) or
/// only the enums.
#[derive(Clone, Copy, Debug)]
enum Wire {
    Strings,
    Enums,
}

impl Wire {
    fn dry_run(self, mode: pb::DryRunMode) -> (String, i32) {
        match self {
            Wire::Strings => (mode.legacy_name().into(), 0),
            Wire::Enums => (String::new(), mode as i32),
        }
    }

    fn server_side(self, side: pb::ServerSide) -> (String, i32) {
        match self {
            Wire::Strings => (side.legacy_name().into(), 0),
            Wire::Enums => (String::new(), side as i32),
        }
    }

    fn list(self, statuses: &[pb::ReleaseStatus]) -> pb::ListRequest {
        let mut request = pb::ListRequest {
            namespace: "apps".into(),
            ..pb::ListRequest::default()
        };
        match self {
            Wire::Strings => {
                request.states = statuses.iter().map(|s| s.helm_name().into()).collect();
            }
            Wire::Enums => request.statuses = statuses.iter().map(|s| *s as i32).collect(),
        }
        request
    }
}

/// What one run of the lifecycle showed: each result and listing, and the cluster calls that
/// apply or delete.
async fn lifecycle(wire: Wire) -> Vec<String> {
    use pb::{DryRunMode, ReleaseStatus, ServerSide};
    let Harness {
        mut client,
        cluster,
        store,
        ..
    } = start().await;
    let mut seen = Vec::new();
    let shown = |result: &pb::OperationResult| {
        let release = result.release.clone().unwrap_or_default();
        // Both status fields, for newer and older clients.
        assert_eq!(release.status, release.status_value().helm_name());
        format!(
            "result success={} revision={} status={} description={:?}",
            result.success, release.revision, release.status, release.description
        )
    };

    // A server dry run of a client-side install stores nothing.
    let (dry_run, dry_run_mode) = wire.dry_run(DryRunMode::Server);
    let (server_side, server_side_mode) = wire.server_side(ServerSide::False);
    let request = pb::InstallRequest {
        dry_run,
        dry_run_mode,
        server_side,
        server_side_mode,
        ..install_request("web")
    };
    let (_, result) = drain(client.install(request).await.unwrap().into_inner()).await;
    seen.push(shown(&result));
    assert!(store.latest("apps", "web").await.is_err(), "{wire:?}");

    // The install.
    let (dry_run, dry_run_mode) = wire.dry_run(DryRunMode::None);
    let (server_side, server_side_mode) = wire.server_side(ServerSide::False);
    let request = pb::InstallRequest {
        dry_run,
        dry_run_mode,
        server_side,
        server_side_mode,
        ..install_request("web")
    };
    let (_, result) = drain(client.install(request).await.unwrap().into_inner()).await;
    seen.push(shown(&result));

    // A client dry run of an upgrade, then the upgrade, server-side.
    for mode in [DryRunMode::Client, DryRunMode::None] {
        let (dry_run, dry_run_mode) = wire.dry_run(mode);
        let (server_side, server_side_mode) = wire.server_side(ServerSide::True);
        let request = pb::UpgradeRequest {
            name: "web".into(),
            namespace: "apps".into(),
            rendered: Some(rendered(3)),
            dry_run,
            dry_run_mode,
            server_side,
            server_side_mode,
            ..pb::UpgradeRequest::default()
        };
        let (_, result) = drain(client.upgrade(request).await.unwrap().into_inner()).await;
        seen.push(shown(&result));
    }

    let list = async |client: &mut ApplierClient<Channel>, statuses: &[ReleaseStatus]| {
        let list = client.list(wire.list(statuses)).await.unwrap().into_inner();
        let rows: Vec<String> = list
            .releases
            .iter()
            .map(|r| {
                assert_eq!(r.status, r.status_value().helm_name());
                format!("{} {} {}", r.name, r.revision, r.status)
            })
            .collect();
        format!("list {statuses:?}: {rows:?}")
    };
    seen.push(list(&mut client, &[ReleaseStatus::Deployed]).await);
    seen.push(list(&mut client, &[ReleaseStatus::Superseded]).await);
    seen.push(list(&mut client, &ReleaseStatus::PENDING).await);

    // Uninstall, orphaning the dependents and keeping the history.
    let request = pb::UninstallRequest {
        name: "web".into(),
        namespace: "apps".into(),
        keep_history: true,
        ..match wire {
            Wire::Strings => pb::UninstallRequest {
                cascade: "orphan".into(),
                ..pb::UninstallRequest::default()
            },
            Wire::Enums => pb::UninstallRequest {
                cascade_mode: pb::Cascade::Orphan as i32,
                ..pb::UninstallRequest::default()
            },
        }
    };
    let (_, result) = drain(client.uninstall(request).await.unwrap().into_inner()).await;
    seen.push(shown(&result));
    seen.push(list(&mut client, &[ReleaseStatus::Uninstalled]).await);
    seen.push(list(&mut client, &[]).await);

    seen.extend(
        cluster
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("apply") || c.starts_with("delete")),
    );
    seen
}

#[tokio::test]
async fn the_deprecated_strings_and_the_enums_mean_the_same() {
    let strings = lifecycle(Wire::Strings).await;
    let enums = lifecycle(Wire::Enums).await;
    assert_eq!(strings, enums);
    // And they meant what they say.
    let expected = [
        "result success=true revision=1 status=pending-install description=\"Dry run complete\"",
        "result success=true revision=1 status=deployed description=\"Install complete\"",
        "result success=true revision=2 status=pending-upgrade description=\"Dry run complete\"",
        "result success=true revision=2 status=deployed description=\"Upgrade complete\"",
        "list [Deployed]: [\"web 2 deployed\"]",
        "list [Superseded]: [\"web 1 superseded\"]",
        "list [PendingInstall, PendingUpgrade, PendingRollback]: []",
        "result success=true revision=2 status=uninstalled description=\"Uninstallation complete\"",
        "list [Uninstalled]: [\"web 2 uninstalled\"]",
        "list []: [\"web 2 uninstalled\"]",
    ];
    assert_eq!(strings[..expected.len()], expected, "{strings:#?}");
    let calls = &strings[expected.len()..];
    assert!(
        calls[0].starts_with("apply web [configmap/web] prev [] csa dry-run"),
        "{calls:#?}"
    );
    assert!(calls[1].ends_with("csa"), "{calls:#?}");
    assert!(calls[2].ends_with("ssa"), "{calls:#?}");
    assert!(
        calls.last().unwrap().ends_with("Orphan"),
        "the uninstall orphans: {calls:#?}"
    );
}
