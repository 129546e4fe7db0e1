//! Smoke tests of the local control plane and the pod-lifecycle simulator, against the real API
//! server: what every other real-cluster test relies on.

use std::time::{Duration, Instant};

use capstan_e2e::{deployment, job, pod};
use capstan_testkit::{wait, with_namespace};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::conditions::is_deleted;
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);

fn ready(pod: &Pod) -> Option<bool> {
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status == "True")
}

#[tokio::test]
async fn a_three_replica_deployment_becomes_available() {
    with_namespace("smoke-deploy", |ns| async move {
        let api = ns.api::<Deployment>();
        api.create(&PostParams::default(), &deployment("web", 3, "nginx:1.27"))
            .await?;
        let d = wait::until(
            &api,
            "web",
            LIMIT,
            "available",
            wait::deployment_available(),
        )
        .await?;
        assert_eq!(d.status.unwrap().ready_replicas, Some(3));
        let pods = ns
            .api::<Pod>()
            .list(&ListParams::default().labels("app=web"))
            .await?;
        assert_eq!(pods.items.len(), 3);
        for p in &pods.items {
            assert_eq!(
                p.spec.as_ref().unwrap().node_name.as_deref(),
                Some("capstan-node-0")
            );
            assert_eq!(ready(p), Some(true));
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_job_completes() {
    with_namespace("smoke-job", |ns| async move {
        let api = ns.api::<Job>();
        api.create(&PostParams::default(), &job("migrate", "busybox:1.36"))
            .await?;
        let j = wait::until(
            &api,
            "migrate",
            LIMIT,
            "complete",
            wait::job_condition("Complete"),
        )
        .await?;
        assert_eq!(j.status.unwrap().succeeded, Some(1));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_job_whose_image_tag_is_fail_fails() {
    with_namespace("smoke-jobfail", |ns| async move {
        let api = ns.api::<Job>();
        api.create(&PostParams::default(), &job("broken", "busybox:fail"))
            .await?;
        let j = wait::until(
            &api,
            "broken",
            LIMIT,
            "failed",
            wait::job_condition("Failed"),
        )
        .await?;
        assert_eq!(j.status.unwrap().failed, Some(1));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_never_ready_deployment_never_becomes_available() {
    with_namespace("smoke-neverready", |ns| async move {
        let api = ns.api::<Deployment>();
        api.create(
            &PostParams::default(),
            &deployment("stuck", 2, "nginx:never-ready"),
        )
        .await?;
        let pods = ns.api::<Pod>();
        // Wait until both pods run, then give the rollout time it would need to become available.
        let deadline = Instant::now() + LIMIT;
        loop {
            let list = pods
                .list(&ListParams::default().labels("app=stuck"))
                .await?;
            let running = list
                .items
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
            if running.count() == 2 {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "pods of stuck never ran");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        for p in pods
            .list(&ListParams::default().labels("app=stuck"))
            .await?
            .items
        {
            assert_eq!(
                ready(&p),
                Some(false),
                "pod {:?} must report Ready=False",
                p.metadata.name
            );
        }
        let d = api.get("stuck").await?;
        let status = d.status.unwrap_or_default();
        assert_eq!(status.available_replicas.unwrap_or(0), 0);
        let available = status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "Available");
        assert_eq!(available.map(|c| c.status), Some("False".to_string()));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_crashloop_pod_reports_crash_loop_back_off() {
    with_namespace("smoke-crash", |ns| async move {
        let api = ns.api::<Pod>();
        api.create(&PostParams::default(), &pod("crasher", "app:crashloop"))
            .await?;
        let restarted = |p: &Pod| {
            p.status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
                        waiting.and_then(|w| w.reason.as_deref()) == Some("CrashLoopBackOff")
                            && c.restart_count >= 2
                    })
                })
        };
        let p = wait::until(
            &api,
            "crasher",
            LIMIT,
            "crash-looping",
            wait::pod(restarted),
        )
        .await?;
        assert_eq!(ready(&p), Some(false));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_slow_pod_becomes_ready_after_its_delay() {
    with_namespace("smoke-slow", |ns| async move {
        let api = ns.api::<Pod>();
        let created = Instant::now();
        api.create(&PostParams::default(), &pod("sleepy", "app:slow-3"))
            .await?;
        let running =
            |p: &Pod| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        let p = wait::until(&api, "sleepy", LIMIT, "running", wait::pod(running)).await?;
        if created.elapsed() < Duration::from_secs(2) {
            assert_eq!(ready(&p), Some(false), "a slow-3 pod is not ready at once");
        }
        wait::until(
            &api,
            "sleepy",
            LIMIT,
            "ready",
            wait::pod(|p| ready(p) == Some(true)),
        )
        .await?;
        assert!(
            created.elapsed() >= Duration::from_secs(3),
            "ready after {:?}",
            created.elapsed()
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn scaling_down_removes_pods() {
    with_namespace("smoke-scale", |ns| async move {
        let api = ns.api::<Deployment>();
        api.create(&PostParams::default(), &deployment("web", 3, "nginx"))
            .await?;
        wait::until(
            &api,
            "web",
            LIMIT,
            "available",
            wait::deployment_available(),
        )
        .await?;
        let scale = json!({"spec": {"replicas": 1}});
        api.patch("web", &PatchParams::default(), &Patch::Merge(&scale))
            .await?;
        wait::until(
            &api,
            "web",
            LIMIT,
            "scaled down",
            wait::deployment_available(),
        )
        .await?;
        let pods = ns.api::<Pod>();
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = pods
                .list(&ListParams::default().labels("app=web"))
                .await?
                .items
                .len();
            if left == 1 {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{left} pods left after scaling down to 1"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn deleting_a_namespace_completes() {
    with_namespace("smoke-nsdelete", |ns| async move {
        // A namespace of its own, with running pods in it, deleted and waited for until gone.
        let client = ns.client();
        let name = format!("{}-child", ns.name());
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let child: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
        namespaces.create(&PostParams::default(), &child).await?;
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &name);
        deployments
            .create(&PostParams::default(), &deployment("web", 2, "nginx"))
            .await?;
        wait::until(
            &deployments,
            "web",
            LIMIT,
            "available",
            wait::deployment_available(),
        )
        .await?;
        let uid = namespaces
            .get(&name)
            .await?
            .metadata
            .uid
            .unwrap_or_default();
        namespaces.delete(&name, &DeleteParams::default()).await?;
        let deleted = kube::runtime::wait::await_condition(namespaces, &name, is_deleted(&uid));
        tokio::time::timeout(LIMIT, deleted)
            .await
            .map_err(|_| anyhow::anyhow!("{name} still exists"))??;
        Ok(())
    })
    .await;
}
