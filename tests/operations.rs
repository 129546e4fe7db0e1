//! capstan-ops's operations on the real local control plane, through `capstan_kube::KubeCluster`
//! and the Secret store: the tutorial's scenarios (install, upgrade, history, an atomic upgrade
//! rolled back, rollback, uninstall --keep-history then rollback, pruning, a failing pre-upgrade
//! hook) and the per-release Lease (a held lock names its holder, a dead holder's lease and
//! pending revision are recovered, concurrent upgrades serialize).

use std::time::Duration;

use anyhow::{Context as _, ensure};
use capstan_kube::{KubeCluster, SecretStore};
use capstan_ops::{
    Cluster as _, Control, Install, LockRequest, NoProgress, Rendered, Rollback, Uninstall,
    Upgrade, read,
};
use capstan_release::{Hook, HookDeletePolicy, HookEvent, Release, ReleaseStore as _, Status};
use capstan_testkit::with_namespace;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

const RELEASE: &str = "web";
const TIMEOUT: Duration = Duration::from_secs(60);

/// What one revision of the test chart (a small webapp) looks like.
#[derive(Clone)]
struct Chart {
    replicas: i64,
    tag: &'static str,
    greeting: &'static str,
    /// The pre-upgrade migration hook's image tag; `None`: no hook.
    migration: Option<&'static str>,
}

impl Default for Chart {
    fn default() -> Self {
        Chart {
            replicas: 1,
            tag: "1.27",
            greeting: "hello",
            migration: Some("1.36"),
        }
    }
}

impl Chart {
    fn rendered(&self) -> Rendered {
        let Chart {
            replicas,
            tag,
            greeting,
            migration,
        } = self;
        let manifest = format!(
            "---
# Source: webapp/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: {greeting}
---
# Source: webapp/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
    - port: 80
      targetPort: 8080
---
# Source: webapp/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginx:{tag}
          ports:
            - containerPort: 8080
"
        );
        let hooks = migration
            .map(|tag| {
                let manifest = format!(
                    "apiVersion: batch/v1
kind: Job
metadata:
  name: web-migrate
  annotations:
    helm.sh/hook: pre-upgrade
    helm.sh/hook-weight: \"-5\"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: busybox:{tag}
          command: [\"sh\", \"-c\", \"echo migrating\"]
"
                );
                Hook {
                    name: "web-migrate".into(),
                    kind: "Job".into(),
                    path: "webapp/templates/migrate-job.yaml".into(),
                    manifest,
                    events: vec![HookEvent::PreUpgrade],
                    weight: -5,
                    delete_policies: vec![
                        HookDeletePolicy::BeforeHookCreation,
                        HookDeletePolicy::HookSucceeded,
                    ],
                    ..Hook::default()
                }
            })
            .into_iter()
            .collect();
        let chart = Rendered::chart_from_json(json!({
            "metadata": {"apiVersion": "v2", "name": "webapp", "version": "0.1.0", "appVersion": "1.27"},
            "templates": [],
            "values": {"replicaCount": 1},
        }))
        .expect("a stored chart");
        let config = json!({"replicaCount": replicas, "image": {"tag": tag}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        Rendered {
            manifest,
            hooks,
            notes: "webapp installed".into(),
            chart,
            values: config.clone(),
            config,
            ..Rendered::default()
        }
    }
}

/// One client's view: its own cluster (holder, lease) and store.
struct Env {
    ns: String,
    cluster: KubeCluster,
    store: SecretStore,
}

impl Env {
    fn new(ns: &capstan_testkit::TestNamespace) -> Env {
        Env {
            ns: ns.name().to_owned(),
            cluster: KubeCluster::new(ns.client()),
            store: SecretStore::new(ns.client(), ns.name()),
        }
    }

    fn control(holder: &str) -> Control {
        Control {
            holder: holder.into(),
            ..Control::default()
        }
    }

    async fn install(&self, chart: &Chart, wait: bool) -> anyhow::Result<Release> {
        let mut install = Install::new(RELEASE, &self.ns);
        install.wait = wait;
        install.timeout = TIMEOUT;
        install.control = Env::control("test/install");
        Ok(install
            .run(&self.store, &self.cluster, &NoProgress, chart.rendered())
            .await?)
    }

    fn upgrade(&self, wait: bool) -> Upgrade {
        let mut upgrade = Upgrade::new(RELEASE, &self.ns);
        upgrade.wait = wait;
        upgrade.timeout = TIMEOUT;
        upgrade.control = Env::control("test/upgrade");
        upgrade
    }

    async fn run_upgrade(&self, upgrade: &Upgrade, chart: &Chart) -> capstan_ops::Result<Release> {
        upgrade
            .run(&self.store, &self.cluster, &NoProgress, chart.rendered())
            .await
    }

    async fn history(&self) -> anyhow::Result<Vec<(u32, Status, String)>> {
        Ok(read::history(&self.store, &self.ns, RELEASE, 0)
            .await?
            .value
            .into_iter()
            .map(|r| (r.version, r.info.status, r.info.description))
            .collect())
    }

    async fn deployment(&self) -> anyhow::Result<Option<Deployment>> {
        let api: Api<Deployment> = Api::namespaced(self.cluster.client().clone(), &self.ns);
        Ok(api.get_opt("web").await?)
    }

    async fn image_and_replicas(&self) -> anyhow::Result<(String, i32)> {
        let d = self.deployment().await?.context("deployment/web exists")?;
        let spec = d.spec.context("a spec")?;
        let image = spec.template.spec.context("a pod spec")?.containers[0]
            .image
            .clone()
            .unwrap_or_default();
        Ok((image, spec.replicas.unwrap_or(1)))
    }
}

fn statuses(history: &[(u32, Status, String)]) -> Vec<(u32, Status)> {
    history.iter().map(|(v, s, _)| (*v, *s)).collect()
}

#[tokio::test]
async fn tutorial_install_upgrade_and_atomic_rollback() {
    with_namespace("ops-tutorial", |ns| async move {
        let env = Env::new(&ns);
        let release = env.install(&Chart::default(), true).await?;
        assert_eq!(release.version, 1);
        assert_eq!(release.info.status, Status::Deployed);
        assert_eq!(release.info.description, "Install complete");
        // The install released its lease: it can be taken at once, and nobody's was stale.
        let probe = env
            .cluster
            .lock(LockRequest {
                namespace: &env.ns,
                name: RELEASE,
                holder: "probe",
                wait: None,
            })
            .await?;
        assert!(probe.took_over.is_none());
        probe.guard.release().await?;

        // upgrade --set replicaCount=5 --wait: the pre-upgrade hook runs, succeeds and is deleted
        let five = Chart {
            replicas: 5,
            ..Chart::default()
        };
        let release = env.run_upgrade(&env.upgrade(true), &five).await?;
        assert_eq!(
            (release.version, release.info.status),
            (2, Status::Deployed)
        );
        assert_eq!(release.info.description, "Upgrade complete");
        assert_eq!(env.image_and_replicas().await?, ("nginx:1.27".into(), 5));
        let jobs: Api<Job> = Api::namespaced(ns.client(), &env.ns);
        assert!(
            jobs.get_opt("web-migrate").await?.is_none(),
            "hook-succeeded deletes the hook Job"
        );
        let hook_run = &release.hooks[0].last_run;
        assert_eq!(hook_run.phase, Some(capstan_release::HookPhase::Succeeded));

        // an --atomic upgrade to a tag that never gets ready is rolled back
        let mut atomic = env.upgrade(true);
        atomic.atomic = true;
        atomic.timeout = Duration::from_secs(10);
        let broken = Chart {
            tag: "never-ready",
            ..five.clone()
        };
        let error = env
            .run_upgrade(&atomic, &broken)
            .await
            .expect_err("the upgrade times out");
        let text = capstan_ops::error_chain(&error);
        assert!(text.contains("deployment/web"), "{text}");
        let history = env.history().await?;
        assert_eq!(
            statuses(&history),
            [
                (1, Status::Superseded),
                (2, Status::Superseded),
                (3, Status::Failed),
                (4, Status::Deployed)
            ],
            "{history:?}"
        );
        assert_eq!(history[3].2, "Rollback to 2");
        assert!(
            history[2].2.starts_with("Upgrade \"web\" failed"),
            "{}",
            history[2].2
        );
        assert_eq!(env.image_and_replicas().await?, ("nginx:1.27".into(), 5));

        // status: the live state of every object of the deployed revision
        let report = read::status(&env.store, &env.cluster, &env.ns, RELEASE, None).await?;
        assert_eq!(report.release.version, 4);
        let objects: Vec<String> = report
            .objects
            .iter()
            .map(|o| o.object.to_string())
            .collect();
        assert_eq!(
            objects,
            ["configmap/web-config", "service/web", "deployment/web"]
        );
        assert!(
            report.objects.iter().all(|o| o.exists),
            "{:?}",
            report.objects
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn rollback_then_uninstall_keep_history_and_rollback_reinstalls() {
    with_namespace("ops-rollback", |ns| async move {
        let env = Env::new(&ns);
        let one = Chart {
            migration: None,
            ..Chart::default()
        };
        env.install(&one, true).await?;
        let two = Chart {
            tag: "1.28",
            greeting: "bonjour",
            ..one.clone()
        };
        env.run_upgrade(&env.upgrade(true), &two).await?;
        assert_eq!(env.image_and_replicas().await?.0, "nginx:1.28");

        let mut rollback = Rollback::new(RELEASE, &env.ns);
        rollback.revision = Some(1);
        rollback.wait = true;
        rollback.timeout = TIMEOUT;
        let release = rollback.run(&env.store, &env.cluster, &NoProgress).await?;
        assert_eq!(
            (release.version, release.info.description.as_str()),
            (3, "Rollback to 1")
        );
        assert_eq!(env.image_and_replicas().await?.0, "nginx:1.27");
        let history = env.history().await?;
        assert_eq!(
            statuses(&history),
            [
                (1, Status::Superseded),
                (2, Status::Superseded),
                (3, Status::Deployed)
            ]
        );

        let mut uninstall = Uninstall::new(RELEASE, &env.ns);
        uninstall.keep_history = true;
        uninstall.wait = true;
        uninstall.timeout = TIMEOUT;
        let result = uninstall.run(&env.store, &env.cluster, &NoProgress).await?;
        assert_eq!(result.release.info.status, Status::Uninstalled);
        assert!(
            env.deployment().await?.is_none(),
            "uninstall deleted the deployment"
        );

        let mut rollback = Rollback::new(RELEASE, &env.ns);
        rollback.wait = true;
        rollback.timeout = TIMEOUT;
        let release = rollback.run(&env.store, &env.cluster, &NoProgress).await?;
        assert_eq!(release.info.status, Status::Deployed);
        assert_eq!(release.version, 4);
        assert!(
            env.deployment().await?.is_some(),
            "rollback re-installed the deployment"
        );
        let history = env.history().await?;
        assert_eq!(
            history.iter().filter(|h| h.1 == Status::Deployed).count(),
            1,
            "{history:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn pruning_keeps_the_deployed_revision() {
    with_namespace("ops-prune", |ns| async move {
        let env = Env::new(&ns);
        let good = Chart {
            migration: None,
            ..Chart::default()
        };
        env.install(&good, false).await?;
        // The API server rejects a negative replica count: each upgrade fails at apply.
        let bad = Chart {
            replicas: -1,
            ..good.clone()
        };
        let mut upgrade = env.upgrade(false);
        upgrade.history_max = 2;
        for _ in 0..3 {
            env.run_upgrade(&upgrade, &bad)
                .await
                .expect_err("an invalid Deployment fails");
        }
        let history = env.history().await?;
        assert_eq!(
            statuses(&history),
            [(1, Status::Deployed), (4, Status::Failed)],
            "{history:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_failing_pre_upgrade_hook_fails_the_upgrade_and_changes_nothing() {
    with_namespace("ops-hook", |ns| async move {
        let env = Env::new(&ns);
        env.install(&Chart::default(), true).await?;
        let failing = Chart {
            replicas: 3,
            tag: "1.28",
            greeting: "changed",
            migration: Some("fail"),
        };
        let error = env
            .run_upgrade(&env.upgrade(true), &failing)
            .await
            .expect_err("the hook fails");
        let text = capstan_ops::error_chain(&error);
        assert!(text.contains("web-migrate"), "{text}");
        assert!(text.contains("BackoffLimitExceeded"), "{text}");
        assert!(text.contains("pre-upgrade"), "{text}");
        let history = env.history().await?;
        assert_eq!(
            statuses(&history),
            [(1, Status::Deployed), (2, Status::Failed)],
            "{history:?}"
        );
        assert_eq!(env.image_and_replicas().await?, ("nginx:1.27".into(), 1));
        let configs: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(ns.client(), &env.ns);
        let config = configs.get("web-config").await?;
        assert_eq!(
            config
                .data
                .unwrap_or_default()
                .get("greeting")
                .map(String::as_str),
            Some("hello")
        );
        // hook-failed is not among its policies: the failed Job stays for inspection
        let jobs: Api<Job> = Api::namespaced(ns.client(), &env.ns);
        ensure!(
            jobs.get_opt("web-migrate").await?.is_some(),
            "the failed hook Job is kept"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_held_lock_names_its_holder() {
    with_namespace("ops-lock", |ns| async move {
        let env = Env::new(&ns);
        let chart = Chart {
            migration: None,
            ..Chart::default()
        };
        env.install(&chart, false).await?;
        let other = KubeCluster::new(ns.client());
        let lock = other
            .lock(LockRequest {
                namespace: &env.ns,
                name: RELEASE,
                holder: "applier-a/op-1",
                wait: None,
            })
            .await?;
        let leases: Api<Lease> = Api::namespaced(ns.client(), &env.ns);
        let lease = leases.get("capstan.release.web").await?;
        assert_eq!(
            lease.spec.and_then(|s| s.holder_identity).as_deref(),
            Some("applier-a/op-1")
        );

        let error = env
            .run_upgrade(&env.upgrade(false), &chart)
            .await
            .expect_err("the lock is held");
        let text = capstan_ops::error_chain(&error);
        assert!(text.contains("locked by applier-a/op-1 since"), "{text}");
        assert!(text.contains(" until "), "{text}");
        assert_eq!(env.history().await?.len(), 1, "nothing was recorded");

        // waiting for the lock: released a moment later, the upgrade then proceeds
        let mut waiting = env.upgrade(false);
        waiting.control.lock_wait = Some(Duration::from_secs(20));
        let release_later = async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            assert!(!lock.guard.is_lost());
            lock.guard.release().await
        };
        let (released, upgraded) = tokio::join!(release_later, env.run_upgrade(&waiting, &chart));
        released?;
        assert_eq!(upgraded?.version, 2);
        assert!(
            leases.get_opt("capstan.release.web").await?.is_none(),
            "released leases are deleted"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_dead_holders_lease_and_pending_revision_are_recovered() {
    with_namespace("ops-recover", |ns| async move {
        let env = Env::new(&ns);
        let chart = Chart {
            migration: None,
            ..Chart::default()
        };
        let installed = env.install(&chart, false).await?;

        // What a holder killed mid-upgrade leaves: revision 2 pending-upgrade, and its lease,
        // last renewed a minute ago.
        let mut pending = installed.clone();
        pending.version = 2;
        pending.info.status = Status::PendingUpgrade;
        pending.info.description = "Preparing upgrade".into();
        env.store.create(&pending).await?;
        let renewed = Timestamp::now() - SignedDuration::from_secs(60);
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some("capstan.release.web".into()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some("applier-dead/op-7".into()),
                lease_duration_seconds: Some(15),
                acquire_time: Some(MicroTime(renewed - SignedDuration::from_secs(5))),
                renew_time: Some(MicroTime(renewed)),
                ..LeaseSpec::default()
            }),
        };
        Api::<Lease>::namespaced(ns.client(), &env.ns)
            .create(&PostParams::default(), &lease)
            .await?;

        let release = env.run_upgrade(&env.upgrade(true), &chart).await?;
        assert_eq!(
            (release.version, release.info.status),
            (3, Status::Deployed)
        );
        let history = env.history().await?;
        assert_eq!(
            statuses(&history),
            [
                (1, Status::Superseded),
                (2, Status::Failed),
                (3, Status::Deployed)
            ],
            "{history:?}"
        );
        assert!(history[1].2.contains("interrupted"), "{}", history[1].2);
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_upgrades_serialize() {
    with_namespace("ops-concurrent", |ns| async move {
        let env = Env::new(&ns);
        env.install(
            &Chart {
                migration: None,
                ..Chart::default()
            },
            false,
        )
        .await?;
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let client = ns.client();
                let namespace = env.ns.clone();
                tokio::spawn(async move {
                    let cluster = KubeCluster::new(client.clone());
                    let store = SecretStore::new(client, &namespace);
                    let mut upgrade = Upgrade::new(RELEASE, &namespace);
                    upgrade.control.holder = format!("client-{i}/op-{i}");
                    upgrade.control.lock_wait = Some(Duration::from_secs(90));
                    upgrade.history_max = 0;
                    let chart = Chart {
                        greeting: "concurrent",
                        migration: None,
                        ..Chart::default()
                    };
                    upgrade
                        .run(&store, &cluster, &NoProgress, chart.rendered())
                        .await
                        .map(|r| r.version)
                })
            })
            .collect();
        let mut versions = Vec::new();
        for task in tasks {
            versions.push(task.await??);
        }
        versions.sort_unstable();
        assert_eq!(versions, (2..=11).collect::<Vec<u32>>());
        let history = env.history().await?;
        let numbers: Vec<u32> = history.iter().map(|h| h.0).collect();
        assert_eq!(numbers, (1..=11).collect::<Vec<u32>>());
        assert_eq!(
            history.iter().filter(|h| h.1 == Status::Deployed).count(),
            1,
            "{history:?}"
        );
        assert_eq!(history[10].1, Status::Deployed);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn an_upgrade_killed_mid_wait_is_recovered_by_the_next() {
    with_namespace("ops-killed", |ns| async move {
        let env = Env::new(&ns);
        let good = Chart {
            migration: None,
            ..Chart::default()
        };
        env.install(&good, true).await?;

        // The applier "dies" while waiting: its future is dropped, its lease left to expire.
        let dying = KubeCluster::new(ns.client()).lease_duration(Duration::from_secs(3));
        let broken = Chart {
            tag: "never-ready",
            ..good.clone()
        };
        let upgrade = env.upgrade(true);
        let run = upgrade.run(&env.store, &dying, &NoProgress, broken.rendered());
        let cut = tokio::time::timeout(Duration::from_secs(3), run).await;
        assert!(
            cut.is_err(),
            "the upgrade was still waiting when it was killed"
        );
        let history = env.history().await?;
        assert_eq!(
            statuses(&history),
            [(1, Status::Deployed), (2, Status::PendingUpgrade)]
        );

        // The next upgrade waits for the lease to expire, recovers revision 2 and proceeds.
        let mut next = env.upgrade(true);
        next.control.holder = "applier-2/op-1".into();
        next.control.lock_wait = Some(Duration::from_secs(20));
        let release = env.run_upgrade(&next, &good).await?;
        assert_eq!(release.version, 3);
        let history = env.history().await?;
        assert_eq!(
            statuses(&history),
            [
                (1, Status::Superseded),
                (2, Status::Failed),
                (3, Status::Deployed)
            ],
            "{history:?}"
        );
        assert!(history[1].2.contains("interrupted"), "{}", history[1].2);
        assert_eq!(env.image_and_replicas().await?.0, "nginx:1.27");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn leases_are_renewed_abandoned_taken_over_and_lost() {
    with_namespace("ops-lease", |ns| async move {
        let cluster = KubeCluster::new(ns.client()).lease_duration(Duration::from_secs(3));
        let request = |holder| LockRequest {
            namespace: ns.name(),
            name: RELEASE,
            holder,
            wait: None,
        };
        let held_by = |result: Result<capstan_ops::Lock, capstan_ops::ClusterError>| match result {
            Err(capstan_ops::ClusterError::LockHeld(h)) => Some(h.holder),
            _ => None,
        };
        let a = cluster.lock(request("a")).await?;
        // Renewed while held: still a's after more than one lease duration.
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(!a.guard.is_lost());
        assert_eq!(
            held_by(cluster.lock(request("b")).await).as_deref(),
            Some("a")
        );

        // Abandoned (dropped unreleased): held until it expires, then taken over as stale.
        drop(a);
        assert_eq!(
            held_by(cluster.lock(request("b")).await).as_deref(),
            Some("a")
        );
        let b = cluster
            .lock(LockRequest {
                wait: Some(Duration::from_secs(10)),
                ..request("b")
            })
            .await?;
        assert_eq!(b.took_over.as_ref().map(|s| s.holder.as_str()), Some("a"));

        // Someone else writes the lease: b notices at its next renewal.
        let leases: Api<Lease> = Api::namespaced(ns.client(), ns.name());
        let mut lease = leases.get("capstan.release.web").await?;
        if let Some(spec) = lease.spec.as_mut() {
            spec.holder_identity = Some("intruder".into());
        }
        leases
            .replace("capstan.release.web", &PostParams::default(), &lease)
            .await?;
        for _ in 0..40 {
            if b.guard.is_lost() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(b.guard.is_lost(), "renewal noticed the lease changed hands");
        b.guard.release().await?;
        let lease = leases.get("capstan.release.web").await?;
        assert_eq!(
            lease.spec.and_then(|s| s.holder_identity).as_deref(),
            Some("intruder"),
            "releasing a lost lock leaves the new holder's lease alone"
        );
        Ok(())
    })
    .await;
}

fn hook_resource(manifest: serde_json::Value) -> capstan_ops::Resource {
    capstan_ops::Resource::from_manifest("webapp/templates/hook.yaml", manifest).expect("a hook")
}

fn pod(name: &str, image: &str) -> capstan_ops::Resource {
    hook_resource(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": image}]},
    }))
}

#[tokio::test]
async fn hooks_run_as_helm_runs_them() {
    with_namespace("ops-hooks", |ns| async move {
        let cluster = KubeCluster::new(ns.client());
        let run = |resource: capstan_ops::Resource,
                   policies: Vec<HookDeletePolicy>,
                   timeout: Duration| {
            let cluster = cluster.clone();
            let namespace = ns.name().to_owned();
            async move {
                let hook = Hook {
                    name: resource.object.name.clone(),
                    kind: resource.object.kind.clone(),
                    ..Hook::default()
                };
                cluster
                    .run_hook(
                        capstan_ops::HookRequest {
                            release: RELEASE,
                            namespace: &namespace,
                            event: &HookEvent::PostInstall,
                            hook: &hook,
                            resource: &resource,
                            delete_policies: &policies,
                            timeout,
                        },
                        &NoProgress,
                    )
                    .await
            }
        };
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(ns.client(), ns.name());
        let gone_or_going = |p: Option<k8s_openapi::api::core::v1::Pod>| {
            p.is_none_or(|p| p.metadata.deletion_timestamp.is_some())
        };
        use capstan_release::HookPhase::{Failed, Succeeded};
        let before = vec![HookDeletePolicy::BeforeHookCreation];

        // A Pod must succeed; run twice, before-hook-creation replaces the first one.
        for _ in 0..2 {
            let outcome = run(pod("ok", "busybox:1.36"), before.clone(), TIMEOUT).await?;
            assert_eq!(outcome.phase, Succeeded, "{outcome:?}");
            assert!(outcome.completed_at.timestamp() >= outcome.started_at.timestamp());
        }
        assert!(pods.get_opt("ok").await?.is_some(), "no policy deletes it");

        // A failing Pod fails the hook with its containers' reason; hook-failed deletes it.
        let outcome = run(
            pod("bad", "busybox:fail"),
            vec![HookDeletePolicy::HookFailed],
            TIMEOUT,
        )
        .await?;
        assert_eq!(outcome.phase, Failed);
        let message = outcome.message.unwrap_or_default();
        assert!(message.contains("terminated"), "{message}");
        assert!(gone_or_going(pods.get_opt("bad").await?));

        // A Job that does not finish in time fails the hook.
        let job = hook_resource(json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "slow"},
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox:slow-60"}]}}},
        }));
        let outcome = run(job, before.clone(), Duration::from_secs(2)).await?;
        assert_eq!(outcome.phase, Failed);
        let message = outcome.message.unwrap_or_default();
        assert!(message.contains("timed out"), "{message}");

        // Anything else is done once created; hook-succeeded deletes it.
        let config = hook_resource(json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "b"},
        }));
        let outcome = run(config, vec![HookDeletePolicy::HookSucceeded], TIMEOUT).await?;
        assert_eq!(outcome.phase, Succeeded);
        let configs: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(ns.client(), ns.name());
        assert!(configs.get_opt("cfg").await?.is_none());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn capabilities_and_namespaces() {
    with_namespace("ops-caps", |ns| async move {
        let cluster = KubeCluster::new(ns.client());
        let caps = cluster.capabilities().await?;
        let version = caps.kube_version.unwrap_or_default();
        assert!(version.starts_with("v1."), "{version}");
        for expected in [
            "v1",
            "apps/v1",
            "apps/v1/Deployment",
            "coordination.k8s.io/v1/Lease",
        ] {
            assert!(
                caps.api_versions.iter().any(|v| v == expected),
                "{expected} in {:?}",
                caps.api_versions
            );
        }

        let extra = format!("{}-x", ns.name());
        assert!(
            !cluster.create_namespace(&extra, true).await?,
            "a dry run creates nothing"
        );
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(ns.client());
        assert!(namespaces.get_opt(&extra).await?.is_none());
        assert!(cluster.create_namespace(&extra, false).await?);
        assert!(
            !cluster.create_namespace(&extra, false).await?,
            "it exists already"
        );
        assert!(!cluster.create_namespace(ns.name(), false).await?);
        namespaces
            .delete(&extra, &kube::api::DeleteParams::default())
            .await?;
        Ok(())
    })
    .await;
}
