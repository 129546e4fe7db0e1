//! The operations against `MemoryStore` and a deterministic `FakeCluster`: every operation and
//! flag, Helm's statuses and descriptions, the tutorial's scenarios, locking, crash recovery
//! and cancellation.

use std::time::{Duration, Instant};

use capstan_ops::testing::{FakeCluster, Lease, t};
use capstan_ops::{
    Cancel, Control, DryRun, Error, Event, Install, NoProgress, ObjectAction, Phase, Recorder,
    RecoverPolicy, Rendered, Rollback, Uninstall, Upgrade, error_chain, read,
};
use capstan_release::{
    ChartMetadata, Hook, HookEvent, HookPhase, ListFilter, MemoryStore, ReleaseStore, Status,
    StoredChart,
};
use futures::FutureExt;
use futures::executor::block_on;
use serde_json::{Map, Value, json};

const NS: &str = "apps";

fn cm(name: &str, value: &str) -> String {
    format!(
        "---\n# Source: web/templates/{name}.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: \"{value}\"\n"
    )
}

fn kept_cm(name: &str) -> String {
    format!(
        "---\n# Source: web/templates/{name}.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  annotations:\n    helm.sh/resource-policy: keep\n"
    )
}

fn deploy(image: &str) -> String {
    format!(
        "---\n# Source: web/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: {image}\n"
    )
}

fn hook(name: &str, events: &[HookEvent], weight: i64) -> Hook {
    Hook {
        name: name.into(),
        kind: "Job".into(),
        path: format!("web/templates/{name}.yaml"),
        manifest: format!("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n"),
        events: events.to_vec(),
        weight,
        ..Hook::default()
    }
}

fn chart(version: &str, values: Value) -> StoredChart {
    StoredChart {
        metadata: Some(ChartMetadata {
            name: "web".into(),
            version: version.into(),
            app_version: "1.0".into(),
            api_version: "v2".into(),
            ..ChartMetadata::default()
        }),
        values: Some(values.as_object().unwrap().clone()),
        ..StoredChart::default()
    }
}

fn rendered(manifest: &str) -> Rendered {
    Rendered {
        manifest: manifest.into(),
        notes: "Visit http://web".into(),
        chart: chart("1.0.0", json!({"image": {"tag": "1.0", "pull": "Always"}})),
        config: obj(json!({"image": {"tag": "1.0"}})),
        ..Rendered::default()
    }
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn control() -> Control {
    Control::with_holder("applier-1/op")
}

fn install() -> Install {
    Install {
        control: control(),
        ..Install::new("web", NS)
    }
}

fn upgrade() -> Upgrade {
    Upgrade {
        control: control(),
        ..Upgrade::new("web", NS)
    }
}

fn rollback() -> Rollback {
    Rollback {
        control: control(),
        ..Rollback::new("web", NS)
    }
}

fn uninstall() -> Uninstall {
    Uninstall {
        control: control(),
        ..Uninstall::new("web", NS)
    }
}

/// (revision, status, description) of every stored revision.
fn history(store: &MemoryStore) -> Vec<(u32, Status, String)> {
    block_on(store.history(NS, "web"))
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.release.version,
                r.release.info.status,
                r.release.info.description,
            )
        })
        .collect()
}

fn h(v: u32, s: Status, d: &str) -> (u32, Status, String) {
    (v, s, d.to_owned())
}

fn installed(manifest: &str) -> (MemoryStore, FakeCluster) {
    let store = MemoryStore::new();
    let cluster = FakeCluster::new();
    block_on(install().run(&store, &cluster, &NoProgress, rendered(manifest))).unwrap();
    cluster.clear_calls();
    (store, cluster)
}

// ---------------------------------------------------------------------------------------------
// install

#[test]
fn install_records_deployed_with_helm_fields() {
    let store = MemoryStore::new();
    let cluster = FakeCluster::new();
    let progress = Recorder::new();
    let mut op = install();
    op.labels.insert("team".into(), "a".into());
    let manifest = format!("{}{}", deploy("nginx:1"), cm("cfg", "1"));
    let rel = block_on(op.run(&store, &cluster, &progress, rendered(&manifest))).unwrap();
    assert_eq!(rel.version, 1);
    assert_eq!(rel.info.status, Status::Deployed);
    assert_eq!(rel.info.description, "Install complete");
    assert!(rel.info.first_deployed.is_some());
    assert_eq!(rel.info.first_deployed, rel.info.last_deployed);
    assert_eq!(rel.info.notes, "Visit http://web");
    assert_eq!(rel.manifest, manifest);
    assert_eq!(
        rel.apply_method,
        Some(capstan_release::ApplyMethod::ServerSide)
    );
    let stored = block_on(store.get(NS, "web", 1)).unwrap().release;
    assert_eq!(stored, rel);
    assert_eq!(stored.labels.get("team").map(String::as_str), Some("a"));
    assert_eq!(stored.config, obj(json!({"image": {"tag": "1.0"}})));
    // Install order (ConfigMap before Deployment), ownership metadata, lock taken and released.
    assert_eq!(
        cluster.calls(),
        [
            "lock apps/web by applier-1/op",
            "apply web [configmap/cfg,deployment/web] prev [] ssa",
            "unlock apps/web",
        ]
    );
    let live = cluster.live_object("apps/deployment/web").unwrap();
    assert_eq!(
        live["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "Helm"
    );
    assert_eq!(
        live["metadata"]["annotations"]["meta.helm.sh/release-name"],
        "web"
    );
    assert_eq!(
        live["metadata"]["annotations"]["meta.helm.sh/release-namespace"],
        "apps"
    );
    let events = progress.events();
    let phases: Vec<Phase> = events
        .iter()
        .filter_map(|e| match e {
            Event::Phase { phase, .. } => Some(*phase),
            _ => None,
        })
        .collect();
    assert_eq!(
        phases,
        [
            Phase::Locking,
            Phase::Recording,
            Phase::PreHooks,
            Phase::Applying,
            Phase::PostHooks,
            Phase::Finalising
        ]
    );
    assert!(events.contains(&Event::Object {
        object: capstan_ops::ObjectRef::new("apps/v1", "Deployment", None, "web"),
        action: ObjectAction::Created,
        preview: None,
    }));
    assert_eq!(
        events.last(),
        Some(&Event::Finished {
            revision: Some(1),
            status: Some(Status::Deployed),
            description: "Install complete".into(),
            success: true
        })
    );
}

#[test]
fn install_description_wait_create_namespace_and_no_hooks() {
    let store = MemoryStore::new();
    let cluster = FakeCluster::new();
    let mut op = install();
    op.description = Some("first".into());
    op.wait = true;
    op.create_namespace = true;
    op.no_hooks = true;
    let mut r = rendered(&cm("a", "1"));
    r.hooks = vec![hook("pre", &[HookEvent::PreInstall], 0)];
    let rel = block_on(op.run(&store, &cluster, &NoProgress, r)).unwrap();
    assert_eq!(rel.info.description, "first");
    assert_eq!(
        cluster.calls(),
        [
            "create-namespace apps dry-run=false",
            "lock apps/web by applier-1/op",
            "apply web [configmap/a] prev [] ssa",
            "wait [configmap/a]",
            "unlock apps/web",
        ]
    );
}

#[test]
fn install_name_in_use_and_replace() {
    let (store, cluster) = installed(&cm("a", "1"));
    let err = block_on(install().run(&store, &cluster, &NoProgress, rendered(&cm("a", "1"))))
        .unwrap_err();
    assert_eq!(err.to_string(), "cannot re-use a name that is still in use");
    // --replace does not help while the latest revision is deployed.
    let mut op = install();
    op.replace = true;
    assert!(matches!(
        block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "1")))),
        Err(Error::NameInUse { .. })
    ));

    // A failed release is replaced; its record keeps its status.
    let store = MemoryStore::new();
    let cluster = FakeCluster::new();
    cluster.state().fail_apply.insert("configmap/a".into());
    assert!(
        block_on(install().run(&store, &cluster, &NoProgress, rendered(&cm("a", "1")))).is_err()
    );
    cluster.state().fail_apply.clear();
    assert!(matches!(
        block_on(install().run(&store, &cluster, &NoProgress, rendered(&cm("a", "1")))),
        Err(Error::NameInUse { .. })
    ));
    let rel = block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "1")))).unwrap();
    assert_eq!(rel.version, 2);
    assert_eq!(
        history(&store),
        [
            h(
                1,
                Status::Failed,
                "Release \"web\" failed: apply failed for 1 object(s): configmap/a: admission webhook denied"
            ),
            h(2, Status::Deployed, "Install complete"),
        ]
    );

    // An uninstalled (kept) release is replaced: "superseded by new release".
    let (store, cluster) = installed(&cm("a", "1"));
    let mut un = uninstall();
    un.keep_history = true;
    block_on(un.run(&store, &cluster, &NoProgress)).unwrap();
    block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "1")))).unwrap();
    assert_eq!(
        history(&store),
        [
            h(1, Status::Superseded, "superseded by new release"),
            h(2, Status::Deployed, "Install complete"),
        ]
    );
}

#[test]
fn install_rejects_bad_names_and_generates_names() {
    let store = MemoryStore::new();
    let cluster = FakeCluster::new();
    let op = Install::new("Web_1", NS);
    let err = block_on(op.run(&store, &cluster, &NoProgress, rendered(""))).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(cluster.calls().is_empty());
    assert_eq!(
        capstan_ops::generate_name("./charts/web", 1700000000),
        "web-1700000000"
    );
    assert_eq!(capstan_ops::generate_name("web-1.2.0.tgz", 5), "web-1-5");
    assert_eq!(capstan_ops::generate_name(".", 5), "chart-5");
}

#[test]
fn install_hooks_run_by_weight_then_name_with_policies() {
    let store = MemoryStore::new();
    let cluster = FakeCluster::new();
    let mut r = rendered(&cm("a", "1"));
    let mut late = hook("b-late", &[HookEvent::PreInstall], 5);
    late.delete_policies = vec![capstan_release::HookDeletePolicy::HookSucceeded];
    r.hooks = vec![
        late,
        hook("z-first", &[HookEvent::PreInstall], -1),
        hook("a-mid", &[HookEvent::PreInstall, HookEvent::PostInstall], 0),
        hook("c-mid", &[HookEvent::PreInstall], 0),
        hook("test", &[HookEvent::Test], 0),
    ];
    let rel = block_on(install().run(&store, &cluster, &NoProgress, r)).unwrap();
    assert_eq!(
        cluster.calls(),
        [
            "lock apps/web by applier-1/op",
            "hook pre-install z-first [before-hook-creation]",
            "hook pre-install a-mid [before-hook-creation]",
            "hook pre-install c-mid [before-hook-creation]",
            "hook pre-install b-late [hook-succeeded]",
            "apply web [configmap/a] prev [] ssa",
            "hook post-install a-mid [before-hook-creation]",
            "unlock apps/web",
        ]
    );
    let last = &rel.hooks[0].last_run;
    assert_eq!(last.phase, Some(HookPhase::Succeeded));
    assert_eq!(last.completed_at, Some(t("2026-01-01T00:00:05Z")));
    assert_eq!(rel.hooks[4].last_run.phase, None, "test hook not run");
}

#[test]
fn install_failing_pre_install_hook_applies_nothing() {
    let store = MemoryStore::new();
    let cluster = FakeCluster::new();
    cluster
        .state()
        .fail_hooks
        .insert("pre".into(), "BackoffLimitExceeded".into());
    let mut r = rendered(&cm("a", "1"));
    r.hooks = vec![hook("pre", &[HookEvent::PreInstall], 0)];
    let err = block_on(install().run(&store, &cluster, &NoProgress, r)).unwrap_err();
    assert_eq!(
        error_chain(&err),
        "failed pre-install: warning: Hook pre-install web/templates/pre.yaml failed: job pre failed: BackoffLimitExceeded"
    );
    assert!(!cluster.calls().iter().any(|c| c.starts_with("apply")));
    let hist = block_on(store.history(NS, "web")).unwrap();
    assert_eq!(hist.len(), 1);
    let rel = &hist[0].release;
    assert_eq!(rel.info.status, Status::Failed);
    assert_eq!(
        rel.info.description,
        "Release \"web\" failed: failed pre-install: warning: Hook pre-install web/templates/pre.yaml failed: job pre failed: BackoffLimitExceeded"
    );
    assert_eq!(rel.hooks[0].last_run.phase, Some(HookPhase::Failed));
}

#[test]
fn install_atomic_uninstalls_on_failure() {
    let store = MemoryStore::new();
    let cluster = FakeCluster::new();
    cluster
        .state()
        .not_ready
        .insert("deployment/web".into(), "0/1 available".into());
    let mut op = install();
    op.atomic = true;
    let err = block_on(op.run(
        &store,
        &cluster,
        &NoProgress,
        rendered(&deploy("never-ready")),
    ))
    .unwrap_err();
    assert!(matches!(err, Error::AtomicUninstalled { .. }));
    assert_eq!(
        error_chain(&err),
        "release web failed, and has been uninstalled due to atomic being set: waiting for release \"web\" revision 1: timed out waiting for the condition: deployment/web: 0/1 available"
    );
    assert!(history(&store).is_empty(), "records purged");
    assert!(cluster.live().is_empty(), "objects deleted");
    assert!(
        cluster
            .calls()
            .contains(&"wait [deployment/web]".to_owned()),
        "atomic implies wait"
    );
}

#[test]
fn install_dry_runs_record_nothing() {
    let store = MemoryStore::new();
    let cluster = FakeCluster::new();
    let mut op = install();
    op.dry_run = Some(DryRun::Client);
    let rel = block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "1")))).unwrap();
    assert_eq!(rel.info.description, "Dry run complete");
    assert_eq!(rel.info.status, Status::PendingInstall);
    assert!(cluster.calls().is_empty());
    assert!(store.is_empty());

    op.dry_run = Some(DryRun::Server);
    op.create_namespace = true;
    block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "1")))).unwrap();
    assert_eq!(
        cluster.calls(),
        [
            "create-namespace apps dry-run=true",
            "apply web [configmap/a] prev [] ssa dry-run"
        ]
    );
    assert!(store.is_empty() && cluster.live().is_empty());
}

// ---------------------------------------------------------------------------------------------
// upgrade

#[test]
fn upgrade_supersedes_and_deletes_dropped_objects_except_kept() {
    let (store, cluster) = installed(&format!("{}{}{}", cm("a", "1"), cm("b", "1"), kept_cm("k")));
    let progress = Recorder::new();
    let mut op = upgrade();
    op.labels.insert("tier".into(), "web".into());
    let rel = block_on(op.run(&store, &cluster, &progress, rendered(&cm("a", "2")))).unwrap();
    assert_eq!(rel.version, 2);
    assert_eq!(
        history(&store),
        [
            h(1, Status::Superseded, "Install complete"),
            h(2, Status::Deployed, "Upgrade complete"),
        ]
    );
    let first = block_on(store.get(NS, "web", 1)).unwrap().release;
    assert_eq!(rel.info.first_deployed, first.info.first_deployed);
    assert_eq!(rel.labels.get("tier").map(String::as_str), Some("web"));
    // The release was installed server-side, so auto follows it.
    assert_eq!(
        cluster.calls(),
        [
            "lock apps/web by applier-1/op",
            "apply web [configmap/a] prev [configmap/a,configmap/b,configmap/k] ssa",
            "unlock apps/web",
        ]
    );
    assert_eq!(cluster.live(), ["apps/configmap/a", "apps/configmap/k"]);
    let actions: Vec<(String, ObjectAction)> = progress
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Object { object, action, .. } => Some((object.to_string(), action)),
            _ => None,
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("configmap/a".into(), ObjectAction::Configured),
            ("configmap/b".into(), ObjectAction::Deleted),
            ("configmap/k".into(), ObjectAction::Kept),
        ]
    );
}

#[test]
fn upgrade_unchanged_and_client_side_and_force() {
    let (store, cluster) = installed(&cm("a", "1"));
    let mut op = upgrade();
    op.server_side = Some(false);
    op.apply.force = true;
    let rel = block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "1")))).unwrap();
    assert_eq!(
        rel.apply_method,
        Some(capstan_release::ApplyMethod::ClientSide)
    );
    assert_eq!(
        cluster.calls()[1],
        "apply web [configmap/a] prev [configmap/a] csa force"
    );
    // auto now follows the client-side revision.
    cluster.clear_calls();
    block_on(upgrade().run(&store, &cluster, &NoProgress, rendered(&cm("a", "1")))).unwrap();
    assert_eq!(
        cluster.calls()[1],
        "apply web [configmap/a] prev [configmap/a] csa"
    );
}

#[test]
fn upgrade_of_a_missing_release_and_install_flag() {
    let store = MemoryStore::new();
    let cluster = FakeCluster::new();
    let err = block_on(upgrade().run(&store, &cluster, &NoProgress, rendered(&cm("a", "1"))))
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    let mut op = upgrade();
    op.install = true;
    let rel = block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "1")))).unwrap();
    assert_eq!(
        (rel.version, rel.info.description.as_str()),
        (1, "Install complete")
    );

    // Only an uninstalled revision: --install installs (replacing it).
    let mut un = uninstall();
    un.keep_history = true;
    block_on(un.run(&store, &cluster, &NoProgress)).unwrap();
    let err = block_on(upgrade().run(&store, &cluster, &NoProgress, rendered(&cm("a", "1"))))
        .unwrap_err();
    assert_eq!(err.to_string(), "\"web\" has no deployed releases");
    block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "1")))).unwrap();
    assert_eq!(
        history(&store),
        [
            h(1, Status::Superseded, "superseded by new release"),
            h(2, Status::Deployed, "Install complete"),
        ]
    );
}

#[test]
fn upgrade_failure_marks_failed_and_keeps_deployed() {
    let (store, cluster) = installed(&deploy("nginx:1"));
    cluster
        .state()
        .not_ready
        .insert("deployment/web".into(), "0/1 available".into());
    let mut op = upgrade();
    op.wait = true;
    op.description = Some("ignored on failure".into());
    let err = block_on(op.run(
        &store,
        &cluster,
        &NoProgress,
        rendered(&deploy("never-ready")),
    ))
    .unwrap_err();
    assert_eq!(
        error_chain(&err),
        "waiting for release \"web\" revision 2: timed out waiting for the condition: deployment/web: 0/1 available"
    );
    assert_eq!(
        history(&store),
        [
            h(1, Status::Deployed, "Install complete"),
            h(
                2,
                Status::Failed,
                "Upgrade \"web\" failed: waiting for release \"web\" revision 2: timed out waiting for the condition: deployment/web: 0/1 available"
            ),
        ]
    );
    // A later upgrade proceeds from the deployed revision.
    cluster.state().not_ready.clear();
    let rel = block_on(upgrade().run(&store, &cluster, &NoProgress, rendered(&deploy("nginx:2"))))
        .unwrap();
    assert_eq!(rel.version, 3);
    assert!(
        cluster
            .calls()
            .iter()
            .any(|c| c == "apply web [deployment/web] prev [deployment/web] ssa")
    );
    assert_eq!(history(&store)[0].1, Status::Superseded);
    assert_eq!(history(&store)[1].1, Status::Failed);
}

#[test]
fn tutorial_atomic_upgrade_rolls_back() {
    let (store, cluster) = installed(&deploy("nginx:1"));
    let mut op = upgrade();
    op.atomic = true;
    // A post-upgrade smoke test that fails stands in for the new version not working.
    let mut failing_r = rendered(&deploy("never-ready"));
    failing_r.hooks = vec![hook("smoke", &[HookEvent::PostUpgrade], 0)];
    cluster
        .state()
        .fail_hooks
        .insert("smoke".into(), "deployment/web: 0/1 available".into());
    let err = block_on(op.run(&store, &cluster, &NoProgress, failing_r)).unwrap_err();
    assert!(
        matches!(err, Error::AtomicRolledBack { to: 1, .. }),
        "{err}"
    );
    assert!(
        error_chain(&err).starts_with(
            "release web failed, and has been rolled back due to atomic being set: post-upgrade hooks failed: warning: Hook post-upgrade web/templates/smoke.yaml failed"
        ),
        "{}",
        error_chain(&err)
    );
    let hist = history(&store);
    assert_eq!(hist[0], h(1, Status::Superseded, "Install complete"));
    assert_eq!(hist[1].1, Status::Failed);
    assert!(
        hist[1]
            .2
            .starts_with("Upgrade \"web\" failed: post-upgrade hooks failed")
    );
    assert_eq!(hist[2], h(3, Status::Deployed, "Rollback to 1"));
    let live = cluster.live_object("apps/deployment/web").unwrap();
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1",
        "live object back on the old image"
    );
    let rel3 = block_on(store.get(NS, "web", 3)).unwrap().release;
    assert_eq!(rel3.info.rollback_revision, 1);
    let calls = cluster.calls();
    assert!(
        calls.contains(&"wait [deployment/web]".to_owned()),
        "{calls:?}"
    );
    assert_eq!(calls.last().unwrap(), "unlock apps/web");
}

#[test]
fn atomic_upgrade_wait_timeout_rolls_back_too() {
    let (store, cluster) = installed(&deploy("nginx:1"));
    let mut op = upgrade();
    op.atomic = true;
    // The wait fails once (the upgrade's), then succeeds (the rollback's).
    cluster
        .state()
        .not_ready
        .insert("deployment/web".into(), "0/1 available".into());
    let store2 = &store;
    let cluster2 = cluster.clone();
    let progress = move |e: Event| {
        if matches!(
            e,
            Event::Phase {
                phase: Phase::RollingBack,
                ..
            }
        ) {
            cluster2.state().not_ready.clear();
        }
    };
    let err = block_on(op.run(
        store2,
        &cluster,
        &progress,
        rendered(&deploy("never-ready")),
    ))
    .unwrap_err();
    assert_eq!(
        error_chain(&err),
        "release web failed, and has been rolled back due to atomic being set: waiting for release \"web\" revision 2: timed out waiting for the condition: deployment/web: 0/1 available"
    );
    let hist = history(&store);
    assert_eq!(
        hist.iter().map(|h| h.1).collect::<Vec<_>>(),
        [Status::Superseded, Status::Failed, Status::Deployed]
    );
    assert_eq!(hist[2].2, "Rollback to 1");
}

#[test]
fn tutorial_failing_pre_upgrade_hook_changes_nothing() {
    let (store, cluster) = installed(&deploy("nginx:1"));
    let before = cluster.live_object("apps/deployment/web");
    cluster
        .state()
        .fail_hooks
        .insert("pre".into(), "exit code 1".into());
    let mut r = rendered(&deploy("nginx:2"));
    r.hooks = vec![hook("pre", &[HookEvent::PreUpgrade], 0)];
    let err = block_on(upgrade().run(&store, &cluster, &NoProgress, r)).unwrap_err();
    assert_eq!(
        error_chain(&err),
        "pre-upgrade hooks failed: warning: Hook pre-upgrade web/templates/pre.yaml failed: job pre failed: exit code 1"
    );
    assert_eq!(
        cluster.calls(),
        [
            "lock apps/web by applier-1/op",
            "hook pre-upgrade pre [before-hook-creation]",
            "unlock apps/web"
        ]
    );
    assert_eq!(cluster.live_object("apps/deployment/web"), before);
    assert_eq!(
        history(&store),
        [
            h(1, Status::Deployed, "Install complete"),
            h(
                2,
                Status::Failed,
                "Upgrade \"web\" failed: pre-upgrade hooks failed: warning: Hook pre-upgrade web/templates/pre.yaml failed: job pre failed: exit code 1"
            ),
        ]
    );
}

#[test]
fn upgrade_cleanup_on_fail_deletes_what_it_created() {
    let (store, cluster) = installed(&cm("a", "1"));
    cluster.state().fail_apply.insert("configmap/bad".into());
    let mut op = upgrade();
    op.cleanup_on_fail = true;
    let manifest = format!("{}{}{}", cm("a", "1"), cm("new", "1"), cm("bad", "1"));
    let err = block_on(op.run(&store, &cluster, &NoProgress, rendered(&manifest))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "apply failed for 1 object(s): configmap/bad: admission webhook denied"
    );
    assert!(
        cluster
            .calls()
            .contains(&"delete [configmap/new] Background".to_owned())
    );
    assert_eq!(cluster.live(), ["apps/configmap/a"]);
}

#[test]
fn upgrade_history_max_prunes_but_keeps_the_deployed_revision() {
    let (store, cluster) = installed(&cm("a", "1"));
    let mut op = upgrade();
    op.history_max = 3;
    for i in 2..=5 {
        block_on(op.run(
            &store,
            &cluster,
            &NoProgress,
            rendered(&cm("a", &i.to_string())),
        ))
        .unwrap();
    }
    let revs: Vec<u32> = history(&store).iter().map(|h| h.0).collect();
    assert_eq!(revs, [3, 4, 5]);

    // Deployed revision 5 is the oldest among failures: it survives pruning.
    cluster.state().fail_apply.insert("configmap/a".into());
    for i in 6..=9 {
        assert!(
            block_on(op.run(
                &store,
                &cluster,
                &NoProgress,
                rendered(&cm("a", &i.to_string()))
            ))
            .is_err()
        );
    }
    let hist = history(&store);
    assert_eq!(
        hist.iter().map(|h| (h.0, h.1)).collect::<Vec<_>>(),
        [
            (5, Status::Deployed),
            (8, Status::Failed),
            (9, Status::Failed)
        ]
    );
}

#[test]
fn upgrade_dry_runs_record_nothing() {
    let (store, cluster) = installed(&cm("a", "1"));
    let mut op = upgrade();
    op.dry_run = Some(DryRun::Client);
    let rel = block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "2")))).unwrap();
    assert_eq!((rel.version, rel.info.status), (2, Status::PendingUpgrade));
    assert_eq!(rel.info.description, "Dry run complete");
    assert!(cluster.calls().is_empty());
    op.dry_run = Some(DryRun::Server);
    block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "2")))).unwrap();
    assert_eq!(
        cluster.calls(),
        ["apply web [configmap/a] prev [configmap/a] ssa dry-run"]
    );
    assert_eq!(history(&store).len(), 1);
    let live = cluster.live_object("apps/configmap/a").unwrap();
    assert_eq!(live["data"]["v"], "1");
}

// ---------------------------------------------------------------------------------------------
// rollback

#[test]
fn rollback_to_previous_and_to_a_revision() {
    let (store, cluster) = installed(&cm("a", "1"));
    block_on(upgrade().run(&store, &cluster, &NoProgress, rendered(&cm("a", "2")))).unwrap();
    let mut r3 = rendered(&cm("a", "3"));
    r3.hooks = vec![hook(
        "rb",
        &[HookEvent::PreRollback, HookEvent::PostRollback],
        0,
    )];
    block_on(upgrade().run(&store, &cluster, &NoProgress, r3)).unwrap();
    cluster.clear_calls();
    let rel = block_on(rollback().run(&store, &cluster, &NoProgress)).unwrap();
    assert_eq!((rel.version, rel.info.status), (4, Status::Deployed));
    assert_eq!(rel.info.description, "Rollback to 2");
    assert_eq!(
        cluster.calls(),
        [
            "lock apps/web by applier-1/op",
            "apply web [configmap/a] prev [configmap/a] ssa",
            "unlock apps/web",
        ],
        "hooks of the target revision (2 has none) run"
    );
    assert_eq!(
        cluster.live_object("apps/configmap/a").unwrap()["data"]["v"],
        "2"
    );
    let mut op = rollback();
    op.revision = Some(3);
    op.wait = true;
    cluster.clear_calls();
    let rel = block_on(op.run(&store, &cluster, &NoProgress)).unwrap();
    assert_eq!(rel.info.description, "Rollback to 3");
    assert_eq!(
        cluster.calls(),
        [
            "lock apps/web by applier-1/op",
            "hook pre-rollback rb [before-hook-creation]",
            "apply web [configmap/a] prev [configmap/a] ssa",
            "wait [configmap/a]",
            "hook post-rollback rb [before-hook-creation]",
            "unlock apps/web",
        ]
    );
    let statuses: Vec<Status> = history(&store).iter().map(|h| h.1).collect();
    assert_eq!(
        statuses,
        [
            Status::Superseded,
            Status::Superseded,
            Status::Superseded,
            Status::Superseded,
            Status::Deployed
        ]
    );
    let mut op = rollback();
    op.revision = Some(42);
    let err = block_on(op.run(&store, &cluster, &NoProgress)).unwrap_err();
    assert_eq!(err.to_string(), "release \"web\" revision 42: not found");
}

#[test]
fn rollback_failure_is_recorded_as_helm_does() {
    let (store, cluster) = installed(&cm("a", "1"));
    block_on(upgrade().run(&store, &cluster, &NoProgress, rendered(&cm("a", "2")))).unwrap();
    cluster.state().fail_apply.insert("configmap/a".into());
    let err = block_on(rollback().run(&store, &cluster, &NoProgress)).unwrap_err();
    assert!(matches!(err, Error::Objects { .. }));
    assert_eq!(
        history(&store),
        [
            h(1, Status::Superseded, "Install complete"),
            h(2, Status::Superseded, "Upgrade complete"),
            h(
                3,
                Status::Failed,
                "Rollback \"web\" failed: apply failed for 1 object(s): configmap/a: admission webhook denied"
            ),
        ]
    );
    // With only one revision there is nothing to roll back to.
    let (store, cluster) = installed(&cm("a", "1"));
    assert!(matches!(
        block_on(rollback().run(&store, &cluster, &NoProgress)),
        Err(Error::InvalidInput { .. })
    ));
}

#[test]
fn tutorial_uninstall_keep_history_then_rollback_reinstalls() {
    let (store, cluster) = installed(&format!("{}{}", cm("a", "1"), deploy("nginx:1")));
    let mut un = uninstall();
    un.keep_history = true;
    let res = block_on(un.run(&store, &cluster, &NoProgress)).unwrap();
    assert_eq!(res.release.info.status, Status::Uninstalled);
    assert!(cluster.live().is_empty());
    assert_eq!(
        history(&store),
        [h(1, Status::Uninstalled, "Uninstallation complete")]
    );
    let mut op = rollback();
    op.revision = Some(1);
    let rel = block_on(op.run(&store, &cluster, &NoProgress)).unwrap();
    assert_eq!(
        history(&store),
        [
            h(1, Status::Uninstalled, "Uninstallation complete"),
            h(2, Status::Deployed, "Rollback to 1"),
        ]
    );
    assert_eq!(
        rel.manifest,
        format!("{}{}", cm("a", "1"), deploy("nginx:1"))
    );
    assert_eq!(cluster.live(), ["apps/configmap/a", "apps/deployment/web"]);
    // Uninstalled again (kept), a rollback with no revision takes the one before the latest.
    block_on(un.run(&store, &cluster, &NoProgress)).unwrap();
    let rel = block_on(rollback().run(&store, &cluster, &NoProgress)).unwrap();
    assert_eq!(
        (rel.version, rel.info.description.as_str()),
        (3, "Rollback to 1")
    );
    assert_eq!(history(&store)[1].1, Status::Uninstalled);
    assert_eq!(cluster.live().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// uninstall

#[test]
fn uninstall_purges_in_uninstall_order_keeping_annotated_objects() {
    let manifest = format!("{}{}{}", cm("a", "1"), deploy("nginx:1"), kept_cm("k"));
    let (store, cluster) = installed(&manifest);
    let mut op = uninstall();
    op.wait = true;
    op.cascade = capstan_ops::Cascade::Foreground;
    let mut r = rendered(&manifest);
    r.hooks = vec![hook(
        "del",
        &[HookEvent::PreDelete, HookEvent::PostDelete],
        0,
    )];
    block_on(upgrade().run(&store, &cluster, &NoProgress, r)).unwrap();
    cluster.clear_calls();
    let res = block_on(op.run(&store, &cluster, &NoProgress)).unwrap();
    assert_eq!(
        cluster.calls(),
        [
            "lock apps/web by applier-1/op",
            "hook pre-delete del [before-hook-creation]",
            "delete [deployment/web,configmap/a] Foreground",
            "wait [deployment/web,configmap/a] deletion",
            "hook post-delete del [before-hook-creation]",
            "unlock apps/web",
        ]
    );
    assert_eq!(res.release.info.status, Status::Uninstalled);
    assert_eq!(res.release.info.description, "Uninstallation complete");
    assert!(res.release.info.deleted.is_some());
    assert_eq!(res.kept.len(), 1);
    assert_eq!(
        res.info,
        "These resources were kept due to the resource policy:\n[ConfigMap] k\n"
    );
    assert!(history(&store).is_empty());
    assert_eq!(cluster.live(), ["apps/configmap/k"]);
    let err = block_on(op.run(&store, &cluster, &NoProgress)).unwrap_err();
    assert_eq!(err.to_string(), "release \"web\": not found");
}

#[test]
fn uninstall_flags() {
    let (store, cluster) = installed(&cm("a", "1"));
    // dry run: nothing changes.
    let mut op = uninstall();
    op.dry_run = true;
    let res = block_on(op.run(&store, &cluster, &NoProgress)).unwrap();
    assert_eq!(res.release.info.status, Status::Deployed);
    assert!(cluster.calls().is_empty());
    // keep history + description; then again: already deleted; without keep: purge.
    let mut op = uninstall();
    op.keep_history = true;
    op.no_hooks = true;
    op.description = Some("bye".into());
    block_on(op.run(&store, &cluster, &NoProgress)).unwrap();
    assert_eq!(history(&store), [h(1, Status::Uninstalled, "bye")]);
    let err = block_on(op.run(&store, &cluster, &NoProgress)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the release named \"web\" is already deleted"
    );
    block_on(uninstall().run(&store, &cluster, &NoProgress)).unwrap();
    assert!(history(&store).is_empty());
}

#[test]
fn uninstall_failing_pre_delete_hook_stops() {
    let (store, cluster) = installed(&cm("a", "1"));
    let mut r = rendered(&cm("a", "1"));
    r.hooks = vec![hook("del", &[HookEvent::PreDelete], 0)];
    block_on(upgrade().run(&store, &cluster, &NoProgress, r)).unwrap();
    cluster
        .state()
        .fail_hooks
        .insert("del".into(), "boom".into());
    let err = block_on(uninstall().run(&store, &cluster, &NoProgress)).unwrap_err();
    assert_eq!(
        error_chain(&err),
        "warning: Hook pre-delete web/templates/del.yaml failed: job del failed: boom"
    );
    assert_eq!(history(&store)[1].1, Status::Uninstalling);
    assert_eq!(cluster.live(), ["apps/configmap/a"]);
    // Running it again with --no-hooks finishes it.
    let mut op = uninstall();
    op.no_hooks = true;
    block_on(op.run(&store, &cluster, &NoProgress)).unwrap();
    assert!(cluster.live().is_empty());
}

// ---------------------------------------------------------------------------------------------
// locks, crash recovery, cancellation

fn leave_pending(store: &MemoryStore, status: Status) {
    let latest = block_on(store.latest(NS, "web")).unwrap().release;
    let mut next = latest.clone();
    next.version += 1;
    next.info.status = status;
    next.info.description = "Preparing upgrade".into();
    block_on(store.create(&next)).unwrap();
}

#[test]
fn pending_latest_without_lease_is_helms_error_unless_recovered() {
    let (store, cluster) = installed(&cm("a", "1"));
    leave_pending(&store, Status::PendingUpgrade);
    let err = block_on(upgrade().run(&store, &cluster, &NoProgress, rendered(&cm("a", "2"))))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("another operation (install/upgrade/rollback) is in progress"),
        "{err}"
    );
    assert!(err.to_string().contains("--recover"), "{err}");
    let err = block_on(rollback().run(&store, &cluster, &NoProgress)).unwrap_err();
    assert!(matches!(err, Error::InProgress { revision: 2, .. }));
    assert!(
        cluster.state().leases.is_empty(),
        "lock released after the error"
    );
    let mut op = upgrade();
    op.control.recover = RecoverPolicy::Never;
    assert!(block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "2")))).is_err());
    op.control.recover = RecoverPolicy::Always;
    let rel = block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "2")))).unwrap();
    assert_eq!(rel.version, 3);
    assert_eq!(
        history(&store)[1],
        h(
            2,
            Status::Failed,
            "interrupted: recovered by applier-1/op (no operation held the lock)"
        )
    );
}

#[test]
fn crash_recovery_of_a_pending_revision_after_the_lease_expired() {
    let (store, cluster) = installed(&cm("a", "1"));
    leave_pending(&store, Status::PendingUpgrade);
    cluster.state().leases.insert(
        "apps/web".into(),
        Lease {
            holder: "applier-0/op-9".into(),
            since: t("2026-01-01T00:00:00Z"),
            until: t("2026-01-01T00:01:00Z"),
            live: false,
        },
    );
    let progress = Recorder::new();
    let rel =
        block_on(upgrade().run(&store, &cluster, &progress, rendered(&cm("a", "2")))).unwrap();
    assert_eq!((rel.version, rel.info.status), (3, Status::Deployed));
    let description = "interrupted: the operation holding the lock stopped (lease expired at 2026-01-01T00:01:00Z)";
    assert_eq!(
        history(&store),
        [
            h(1, Status::Superseded, "Install complete"),
            h(2, Status::Failed, description),
            h(3, Status::Deployed, "Upgrade complete"),
        ]
    );
    assert!(progress.events().contains(&Event::Recovered {
        revision: 2,
        description: description.into()
    }));
    // The same for rollback.
    leave_pending(&store, Status::PendingRollback);
    cluster.state().leases.insert(
        "apps/web".into(),
        Lease {
            holder: "x".into(),
            since: t("2026-01-01T00:00:00Z"),
            until: t("2026-01-01T00:01:00Z"),
            live: false,
        },
    );
    let mut op = rollback();
    op.revision = Some(3);
    let rel = block_on(op.run(&store, &cluster, &NoProgress)).unwrap();
    assert_eq!(
        (rel.version, rel.info.description.as_str()),
        (5, "Rollback to 3")
    );
    assert_eq!(history(&store)[3].1, Status::Failed);
}

#[test]
fn a_live_lock_is_a_clear_error() {
    let (store, cluster) = installed(&cm("a", "1"));
    cluster.state().leases.insert(
        "apps/web".into(),
        Lease {
            holder: "applier-2/op-7".into(),
            since: t("2026-01-01T00:00:00Z"),
            until: t("2026-01-01T00:00:15Z"),
            live: true,
        },
    );
    let err = block_on(upgrade().run(&store, &cluster, &NoProgress, rendered(&cm("a", "2"))))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "release \"web\" in namespace \"apps\" is locked by applier-2/op-7 since 2026-01-01T00:00:00Z until 2026-01-01T00:00:15Z"
    );
    assert!(matches!(err, Error::Locked { .. }));
    for result in [
        block_on(rollback().run(&store, &cluster, &NoProgress)).map(|_| ()),
        block_on(uninstall().run(&store, &cluster, &NoProgress)).map(|_| ()),
        block_on(install().run(&store, &cluster, &NoProgress, rendered(""))).map(|_| ()),
    ] {
        assert!(matches!(result, Err(Error::Locked { .. })));
    }
    assert_eq!(history(&store).len(), 1);
}

#[test]
fn cancellation_marks_failed_never_pending() {
    let (store, cluster) = installed(&cm("a", "1"));
    cluster.state().hang_wait = true;
    let cancel = Cancel::new();
    let mut op = upgrade();
    op.wait = true;
    op.control.cancel = cancel.clone();
    let rendered2 = rendered(&cm("a", "2"));
    let mut fut = Box::pin(op.run(&store, &cluster, &NoProgress, rendered2));
    assert!((&mut fut).now_or_never().is_none(), "waiting");
    assert_eq!(history(&store)[1].1, Status::PendingUpgrade);
    cancel.cancel("client went away");
    let err = block_on(fut).unwrap_err();
    assert!(err.is_cancellation());
    assert_eq!(
        history(&store)[1],
        h(
            2,
            Status::Failed,
            "Upgrade \"web\" failed: operation cancelled: client went away"
        )
    );
    assert!(cluster.state().leases.is_empty(), "lock released");
}

#[test]
fn cancellation_of_an_atomic_upgrade_rolls_back() {
    let (store, cluster) = installed(&cm("a", "1"));
    cluster.state().hang_wait = true;
    let cancel = Cancel::new();
    let mut op = upgrade();
    op.atomic = true;
    op.control.cancel = cancel.clone();
    let c2 = cluster.clone();
    let progress = move |e: Event| {
        if matches!(
            e,
            Event::Phase {
                phase: Phase::RollingBack,
                ..
            }
        ) {
            c2.state().hang_wait = false;
        }
    };
    let mut fut = Box::pin(op.run(&store, &cluster, &progress, rendered(&cm("a", "2"))));
    assert!((&mut fut).now_or_never().is_none());
    cancel.cancel("shutting down");
    let err = block_on(fut).unwrap_err();
    assert!(matches!(err, Error::AtomicRolledBack { .. }), "{err}");
    let statuses: Vec<Status> = history(&store).iter().map(|h| h.1).collect();
    assert_eq!(
        statuses,
        [Status::Superseded, Status::Failed, Status::Deployed]
    );
    assert_eq!(
        cluster.live_object("apps/configmap/a").unwrap()["data"]["v"],
        "1"
    );
}

#[test]
fn a_passed_deadline_fails_the_operation() {
    let (store, cluster) = installed(&cm("a", "1"));
    let mut op = upgrade();
    op.control.deadline = Some(Instant::now() - Duration::from_secs(1));
    let err = block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "2")))).unwrap_err();
    // The deadline stops the first cluster call: the lock.
    assert!(matches!(err, Error::DeadlineExceeded { .. }), "{err}");
    assert_eq!(history(&store).len(), 1);
}

#[test]
fn a_dropped_operation_is_recovered_by_the_next_one() {
    let (store, cluster) = installed(&cm("a", "1"));
    cluster.state().hang_wait = true;
    let mut op = upgrade();
    op.wait = true;
    {
        let mut fut = Box::pin(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "2"))));
        assert!((&mut fut).now_or_never().is_none());
        // Dropped here: the process "died" mid-wait.
    }
    assert_eq!(history(&store)[1].1, Status::PendingUpgrade);
    assert!(cluster.calls().contains(&"abandon apps/web".to_owned()));
    cluster.state().hang_wait = false;
    let rel =
        block_on(upgrade().run(&store, &cluster, &NoProgress, rendered(&cm("a", "3")))).unwrap();
    assert_eq!(rel.version, 3);
    let hist = history(&store);
    assert_eq!(hist[1].1, Status::Failed);
    assert!(
        hist[1]
            .2
            .starts_with("interrupted: the operation holding the lock stopped (lease expired at ")
    );
    assert_eq!(hist[2].1, Status::Deployed);
}

#[test]
fn operation_futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let store = MemoryStore::new();
    let cluster = FakeCluster::new();
    is_send(&install().run(&store, &cluster, &NoProgress, Rendered::default()));
    is_send(&upgrade().run(&store, &cluster, &NoProgress, Rendered::default()));
    is_send(&rollback().run(&store, &cluster, &NoProgress));
    is_send(&uninstall().run(&store, &cluster, &NoProgress));
}

// ---------------------------------------------------------------------------------------------
// reads

#[test]
fn reads() {
    let (store, cluster) = installed(&format!("{}{}", cm("a", "1"), deploy("nginx:1")));
    let mut r = rendered(&cm("a", "2"));
    r.config = obj(json!({"image": {"pull": null}, "replicas": 2}));
    r.hooks = vec![hook("pre", &[HookEvent::PreUpgrade], 0)];
    block_on(upgrade().run(&store, &cluster, &NoProgress, r)).unwrap();

    let hist = block_on(read::history(&store, NS, "web", 1)).unwrap().value;
    assert_eq!(hist.iter().map(|r| r.version).collect::<Vec<_>>(), [2]);
    assert_eq!(
        block_on(read::history(&store, NS, "web", 0))
            .unwrap()
            .value
            .len(),
        2
    );
    assert!(matches!(
        block_on(read::history(&store, NS, "nope", 0)),
        Err(Error::NotFound { .. })
    ));

    let latest = block_on(read::get(&store, NS, "web", None)).unwrap().value;
    assert_eq!(latest.version, 2);
    let first = block_on(read::get(&store, NS, "web", Some(1)))
        .unwrap()
        .value;
    assert_eq!(first.version, 1);
    assert_eq!(
        Value::Object(read::values(&latest, false)),
        json!({"image": {"pull": null}, "replicas": 2})
    );
    assert_eq!(
        Value::Object(read::values(&latest, true)),
        json!({"image": {"tag": "1.0"}, "replicas": 2})
    );
    assert_eq!(
        read::hooks_text(&latest),
        "---\n# Source: web/templates/pre.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: pre\n\n"
    );
    let meta = serde_json::to_value(read::metadata(&latest)).unwrap();
    assert_eq!(meta["name"], "web");
    assert_eq!(meta["chart"], "web");
    assert_eq!(meta["version"], "1.0.0");
    assert_eq!(meta["appVersion"], "1.0");
    assert_eq!(meta["revision"], 2);
    assert_eq!(meta["status"], "deployed");
    assert_eq!(meta["applyMethod"], "ssa");

    cluster
        .state()
        .not_ready
        .insert("configmap/a".into(), "no".into());
    let status = block_on(read::status(&store, &cluster, NS, "web", None)).unwrap();
    assert_eq!(status.release.version, 2);
    assert_eq!(status.objects.len(), 1);
    assert!(status.objects[0].exists && !status.objects[0].ready);

    let listing = block_on(read::list(&store, &ListFilter::in_namespace(NS))).unwrap();
    assert_eq!(listing.items.len(), 1);
    assert_eq!(listing.items[0].revision, 2);
}

#[test]
fn cancelled_install_is_failed_and_atomic_install_is_uninstalled() {
    for atomic in [false, true] {
        let store = MemoryStore::new();
        let cluster = FakeCluster::new();
        cluster.state().hang_wait = true;
        let cancel = Cancel::new();
        let mut op = install();
        op.wait = true;
        op.atomic = atomic;
        op.control.cancel = cancel.clone();
        let mut fut = Box::pin(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "1"))));
        assert!((&mut fut).now_or_never().is_none());
        cancel.cancel("ctrl-c");
        let err = block_on(fut).unwrap_err();
        if atomic {
            assert_eq!(
                error_chain(&err),
                "release web failed, and has been uninstalled due to atomic being set: operation cancelled: ctrl-c"
            );
            assert!(history(&store).is_empty());
            assert!(cluster.live().is_empty());
        } else {
            assert!(err.is_cancellation());
            assert_eq!(
                history(&store),
                [h(
                    1,
                    Status::Failed,
                    "Release \"web\" failed: operation cancelled: ctrl-c"
                )]
            );
        }
        assert!(cluster.state().leases.is_empty());
    }
}

#[test]
fn atomic_upgrade_without_a_successful_revision() {
    let store = MemoryStore::new();
    let cluster = FakeCluster::new();
    cluster.state().fail_apply.insert("configmap/a".into());
    assert!(
        block_on(install().run(&store, &cluster, &NoProgress, rendered(&cm("a", "1")))).is_err()
    );
    let mut op = upgrade();
    op.atomic = true;
    let err = block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "2")))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to find a previously successful release when attempting to rollback. original upgrade error: apply failed for 1 object(s): configmap/a: admission webhook denied"
    );
    let statuses: Vec<Status> = history(&store).iter().map(|h| h.1).collect();
    assert_eq!(statuses, [Status::Failed, Status::Failed]);
}

#[test]
fn rollback_cleanup_on_fail_and_force() {
    // Revision 1 has a and z, revision 2 only b; rolling back to 1 creates a, then z fails.
    let (store, cluster) = installed(&format!("{}{}", cm("a", "1"), cm("z", "1")));
    block_on(upgrade().run(&store, &cluster, &NoProgress, rendered(&cm("b", "1")))).unwrap();
    assert_eq!(cluster.live(), ["apps/configmap/b"]);
    cluster.state().fail_apply.insert("configmap/z".into());
    let mut op = rollback();
    op.cleanup_on_fail = true;
    op.apply.force = true;
    let err = block_on(op.run(&store, &cluster, &NoProgress)).unwrap_err();
    assert!(matches!(err, Error::Objects { .. }));
    let calls = cluster.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.ends_with("prev [configmap/b] ssa force")),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"delete [configmap/a] Background".to_owned()),
        "{calls:?}"
    );
    assert!(
        cluster.live().is_empty(),
        "a created then cleaned up; b deleted as dropped"
    );
    let _ = store;
}

#[test]
fn uninstall_proceeds_on_a_pending_release_as_helm_does() {
    let (store, cluster) = installed(&cm("a", "1"));
    leave_pending(&store, Status::PendingUpgrade);
    block_on(uninstall().run(&store, &cluster, &NoProgress)).unwrap();
    assert!(history(&store).is_empty());
    assert!(cluster.live().is_empty());
}

#[test]
fn cancelling_while_locking_records_nothing() {
    let (store, cluster) = installed(&cm("a", "1"));
    let op = upgrade();
    op.control.cancel.cancel("client went away");
    let err = block_on(op.run(&store, &cluster, &NoProgress, rendered(&cm("a", "2")))).unwrap_err();
    assert_eq!(err.to_string(), "operation cancelled: client went away");
    assert_eq!(history(&store).len(), 1);
    assert!(cluster.calls().is_empty());
}

/// Fencing: once the lock may be lost, the operation writes nothing more, not even its own
/// failure (the holder that took over recovers the pending revision and owns the release).
#[test]
fn a_lost_lock_stops_the_operation_and_writes_nothing_more() {
    let (store, cluster) = installed(&cm("a", "1"));
    let c2 = cluster.clone();
    let progress = move |e: Event| {
        if matches!(
            e,
            Event::Phase {
                phase: Phase::Recording,
                ..
            }
        ) {
            c2.state().lose_locks = true;
        }
    };
    let err =
        block_on(upgrade().run(&store, &cluster, &progress, rendered(&cm("a", "2")))).unwrap_err();
    assert!(matches!(err, Error::LockLost { .. }), "{err}");
    assert!(
        err.to_string().starts_with(
            "lost the lock on release \"web\": its lease was not renewed in time; this \
             operation stopped without writing anything more"
        ),
        "{err}"
    );
    // Lost before the revision was recorded: it never was.
    let history = history(&store);
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].0, history[0].1), (1, Status::Deployed));
    assert!(!cluster.calls().iter().any(|c| c.starts_with("apply")));
}

/// Lost after the revision was recorded and applied, before it was finalised: the revision
/// stays pending for the new holder to recover, and no other revision is touched.
#[test]
fn a_lock_lost_before_finalising_leaves_every_record_as_it_was() {
    let (store, cluster) = installed(&cm("a", "1"));
    let c2 = cluster.clone();
    let progress = move |e: Event| {
        if matches!(
            e,
            Event::Phase {
                phase: Phase::Finalising,
                ..
            }
        ) {
            c2.state().lose_locks = true;
        }
    };
    let err =
        block_on(upgrade().run(&store, &cluster, &progress, rendered(&cm("a", "2")))).unwrap_err();
    assert!(matches!(err, Error::LockLost { .. }), "{err}");
    let history = history(&store);
    assert_eq!((history[0].0, history[0].1), (1, Status::Deployed));
    assert_eq!((history[1].0, history[1].1), (2, Status::PendingUpgrade));
}

/// Another client writes the revision under the holder (a holder that took over once this
/// one's lease could have expired, recovering it as failed): the record update's precondition
/// tells, and the holder stops without superseding anything or marking itself deployed.
#[test]
fn a_record_changed_under_the_holder_is_a_lost_lock() {
    let (store, cluster) = installed(&cm("a", "1"));
    let progress = |e: Event| {
        if let Event::Phase {
            phase: Phase::Finalising,
            ..
        } = e
        {
            let mut r = store.get(NS, "web", 2).now_or_never().unwrap().unwrap();
            r.release
                .set_status(Status::Failed, "interrupted: recovered by another holder");
            store
                .update(&r.release, &r.version)
                .now_or_never()
                .unwrap()
                .unwrap();
        }
    };
    let err =
        block_on(upgrade().run(&store, &cluster, &progress, rendered(&cm("a", "2")))).unwrap_err();
    assert!(err.to_string().contains("revision 2 was changed"), "{err}");
    let history = history(&store);
    assert_eq!((history[0].0, history[0].1), (1, Status::Deployed));
    assert_eq!((history[1].0, history[1].1), (2, Status::Failed));
}

#[test]
fn a_later_revision_written_under_the_holder_is_a_lost_lock() {
    let (store, cluster) = installed(&cm("a", "1"));
    let progress = |e: Event| {
        if let Event::Phase {
            phase: Phase::Finalising,
            ..
        } = e
        {
            // Another client (Helm, which takes no lock) writes revision 3 meanwhile.
            let mut r = store.get(NS, "web", 2).now_or_never().unwrap().unwrap();
            r.release.version = 3;
            r.release
                .set_status(Status::Deployed, "written by another client");
            store.create(&r.release).now_or_never().unwrap().unwrap();
        }
    };
    let err =
        block_on(upgrade().run(&store, &cluster, &progress, rendered(&cm("a", "2")))).unwrap_err();
    assert!(err.to_string().contains("a later one written"), "{err}");
    let history = history(&store);
    // Nothing rewritten by the holder: revision 1 still deployed, its own still pending.
    assert_eq!((history[0].0, history[0].1), (1, Status::Deployed));
    assert_eq!((history[1].0, history[1].1), (2, Status::PendingUpgrade));
    assert_eq!((history[2].0, history[2].1), (3, Status::Deployed));
}

#[test]
fn rollback_wait_failure_is_recorded_as_helm_does() {
    let (store, cluster) = installed(&deploy("nginx:1"));
    block_on(upgrade().run(&store, &cluster, &NoProgress, rendered(&deploy("nginx:2")))).unwrap();
    cluster
        .state()
        .not_ready
        .insert("deployment/web".into(), "0/1 available".into());
    let mut op = rollback();
    op.wait = true;
    let err = block_on(op.run(&store, &cluster, &NoProgress)).unwrap_err();
    assert!(matches!(err, Error::Cluster { .. }), "{err}");
    assert_eq!(
        history(&store),
        [
            h(1, Status::Superseded, "Install complete"),
            h(2, Status::Deployed, "Upgrade complete"),
            h(
                3,
                Status::Failed,
                "Release \"web\" failed: waiting for release \"web\" revision 3: timed out waiting for the condition: deployment/web: 0/1 available"
            ),
        ]
    );
}

#[test]
fn a_failing_rollback_hook_is_failed_not_pending() {
    let (store, cluster) = installed(&cm("a", "1"));
    let mut r = rendered(&cm("a", "2"));
    r.hooks = vec![hook("rb", &[HookEvent::PreRollback], 0)];
    block_on(upgrade().run(&store, &cluster, &NoProgress, r.clone())).unwrap();
    block_on(upgrade().run(&store, &cluster, &NoProgress, r)).unwrap();
    cluster
        .state()
        .fail_hooks
        .insert("rb".into(), "boom".into());
    let err = block_on(rollback().run(&store, &cluster, &NoProgress)).unwrap_err();
    assert!(matches!(err, Error::HookFailed { .. }));
    assert_eq!(
        history(&store)[3],
        h(
            4,
            Status::Failed,
            "Rollback \"web\" failed: warning: Hook pre-rollback web/templates/rb.yaml failed: job rb failed: boom"
        )
    );
    assert_eq!(history(&store)[2].1, Status::Deployed);
}

/// The crate map's invariant: no runtime, Kubernetes client or gRPC in the operations crate.
#[test]
fn depends_on_no_runtime_kube_or_grpc() {
    let manifest = include_str!("../Cargo.toml");
    let deps = &manifest[manifest.find("[dependencies]").unwrap()..];
    for forbidden in [
        "tokio",
        "kube",
        "k8s-openapi",
        "tonic",
        "prost",
        "hyper",
        "reqwest",
    ] {
        assert!(
            !deps.lines().any(|l| l.trim_start().starts_with(forbidden)),
            "capstan-ops must not depend on {forbidden}"
        );
    }
}

#[test]
fn a_second_operation_while_one_runs_gets_the_lock_error() {
    let (store, cluster) = installed(&cm("a", "1"));
    cluster.state().hang_wait = true;
    let cancel = Cancel::new();
    let mut first = upgrade();
    first.wait = true;
    first.control.cancel = cancel.clone();
    let mut fut = Box::pin(first.run(&store, &cluster, &NoProgress, rendered(&cm("a", "2"))));
    assert!((&mut fut).now_or_never().is_none());
    let mut second = upgrade();
    second.control.holder = "applier-2/op".into();
    let err =
        block_on(second.run(&store, &cluster, &NoProgress, rendered(&cm("a", "3")))).unwrap_err();
    assert_eq!(err.class(), capstan_ops::ErrorClass::Precondition);
    assert!(
        err.to_string()
            .starts_with("release \"web\" in namespace \"apps\" is locked by applier-1/op since "),
        "{err}"
    );
    assert_eq!(
        history(&store).len(),
        2,
        "no revision written by the second"
    );
    cancel.cancel("done");
    assert_eq!(
        block_on(fut).unwrap_err().class(),
        capstan_ops::ErrorClass::Cancelled
    );
    let statuses: Vec<Status> = history(&store).iter().map(|h| h.1).collect();
    assert_eq!(statuses, [Status::Deployed, Status::Failed]);
    // Now the second goes through; exactly one revision is deployed.
    block_on(second.run(&store, &cluster, &NoProgress, rendered(&cm("a", "3")))).unwrap();
    let deployed = history(&store)
        .iter()
        .filter(|h| h.1 == Status::Deployed)
        .count();
    assert_eq!(deployed, 1);
}

#[test]
fn ten_concurrent_upgrades_serialize_on_the_lock() {
    let (store, cluster) = installed(&cm("a", "0"));
    cluster.state().yield_in_apply = true;
    let ops: Vec<Upgrade> = (1..=10)
        .map(|i| Upgrade {
            control: Control {
                holder: format!("client-{i}"),
                lock_wait: Some(Duration::from_secs(60)),
                ..Control::default()
            },
            history_max: 0,
            ..Upgrade::new("web", NS)
        })
        .collect();
    let futures = ops.iter().enumerate().map(|(i, op)| {
        op.run(
            &store,
            &cluster,
            &NoProgress,
            rendered(&cm("a", &i.to_string())),
        )
    });
    let results = block_on(futures::future::join_all(futures));
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let hist = history(&store);
    assert_eq!(
        hist.iter().map(|h| h.0).collect::<Vec<_>>(),
        (1..=11).collect::<Vec<u32>>(),
        "unique, contiguous revisions"
    );
    assert_eq!(hist.iter().filter(|h| h.1 == Status::Deployed).count(), 1);
    assert_eq!(hist[10].1, Status::Deployed);
    // Every operation applied inside its own lock: lock, apply, unlock never interleave.
    let calls: Vec<String> = cluster
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("lock") || c.starts_with("unlock"))
        .collect();
    for pair in calls.chunks(2) {
        assert!(
            pair[0].starts_with("lock") && pair[1].starts_with("unlock"),
            "{calls:?}"
        );
    }
}
