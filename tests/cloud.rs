//! What real charts need of the local cluster, through `capstan install --wait` and Helm v3's
//! and v4's `install --wait`: a StatefulSet with `volumeClaimTemplates` and a standalone
//! PersistentVolumeClaim (bound by the simulator's provisioner behind the default
//! StorageClass), a DaemonSet (its pod on the simulated node, its status from the real
//! controller manager), a CronJob, and a `LoadBalancer` Service (given an ingress address by
//! the simulator, as a cloud would). Each test runs the simulator's cloud controllers
//! (`capstan_podsim::run_cloud`) for its own namespace, so it needs nothing of the shared
//! simulator and disturbs no other test.

use std::path::Path;

use anyhow::{Context as _, ensure};
use capstan_e2e::process::capstan_ok;
use capstan_testkit::helm::Helm;
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Service};
use kube::Api;
use kube::api::ListParams;

/// A chart with one of each kind real charts bring.
fn write_chart(dir: &Path) -> anyhow::Result<String> {
    let chart = dir.join("cloudy");
    std::fs::create_dir_all(chart.join("templates"))?;
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: cloudy\nversion: 0.1.0\n",
    )?;
    std::fs::write(chart.join("values.yaml"), "replicas: 2\n")?;
    std::fs::write(
        chart.join("templates/all.yaml"),
        r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-db
spec:
  serviceName: {{ .Release.Name }}-db
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}-db}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-db}
    spec:
      containers:
        - name: db
          image: postgres:17
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 2Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ .Release.Name }}-cache
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ .Release.Name }}-agent
spec:
  selector:
    matchLabels: {app: {{ .Release.Name }}-agent}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-agent}
    spec:
      containers: [{name: agent, image: fluent-bit:3}]
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ .Release.Name }}-backup
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: backup, image: postgres:17}]
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-lb
spec:
  type: LoadBalancer
  selector: {app: {{ .Release.Name }}-db}
  ports: [{port: 5432}]
"#,
    )?;
    Ok(chart.display().to_string())
}

/// Starts the simulator's cloud controllers for the namespace; they stop with the test (which
/// runs on two worker threads, as `capstan` runs block one).
async fn cloud(ns: &TestNamespace) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    // The class must exist before the first claim is created, for it to become the claim's.
    capstan_podsim::storage::ensure_storage_class(&ns.client()).await?;
    let client = ns.client();
    let namespace = ns.name().to_owned();
    Ok(tokio::spawn(async move {
        let _ = capstan_podsim::run_cloud(client, Some(namespace)).await;
    }))
}

/// Everything the chart made for `release` is as a cloud would leave it.
async fn check(ns: &TestNamespace, release: &str) -> anyhow::Result<()> {
    let sts = ns
        .api::<StatefulSet>()
        .get(&format!("{release}-db"))
        .await?;
    let ready = sts.status.and_then(|s| s.ready_replicas).unwrap_or(0);
    ensure!(ready == 2, "{release}-db has {ready} ready replicas");
    let claims = ns
        .api::<PersistentVolumeClaim>()
        .list(&ListParams::default())
        .await?;
    let mine: Vec<_> = claims
        .items
        .iter()
        .filter(|c| c.metadata.name.as_deref().unwrap_or("").contains(release))
        .collect();
    ensure!(
        mine.len() == 3,
        "two template claims and one standalone: {}",
        mine.len()
    );
    for claim in mine {
        let phase = claim.status.as_ref().and_then(|s| s.phase.clone());
        ensure!(
            phase.as_deref() == Some("Bound"),
            "{:?} is {phase:?}",
            claim.metadata.name
        );
        let class = claim
            .spec
            .as_ref()
            .and_then(|s| s.storage_class_name.clone());
        ensure!(class.as_deref() == Some(capstan_podsim::storage::STORAGE_CLASS));
    }
    let ds = ns
        .api::<DaemonSet>()
        .get(&format!("{release}-agent"))
        .await?;
    let status = ds.status.context("the DaemonSet has a status")?;
    ensure!(
        status.desired_number_scheduled >= 1
            && status.number_ready == status.desired_number_scheduled,
        "{status:?}"
    );
    let lb = ns.api::<Service>().get(&format!("{release}-lb")).await?;
    let ip = lb
        .status
        .and_then(|s| s.load_balancer)
        .and_then(|l| l.ingress)
        .and_then(|i| i.first().and_then(|i| i.ip.clone()))
        .context("the load balancer has an address")?;
    ensure!(ip.starts_with("127.240."), "{ip}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capstan_and_helm_waits_finish_on_what_real_charts_need() {
    with_namespace("cloud", |ns| async move {
        let controllers = cloud(&ns).await?;
        let dir = tempfile::tempdir()?;
        let chart = write_chart(dir.path())?;
        let n = ns.name();
        let out = capstan_ok(&[
            "install",
            "web",
            &chart,
            "-n",
            n,
            "--wait",
            "--timeout",
            "90s",
        ])?;
        ensure!(out.contains("STATUS: deployed"), "{out}");
        check(&ns, "web").await?;
        for version in ["v3.22.0", "v4.3.1"] {
            let helm = Helm::new(version, "secret", n)?;
            let release = format!("h{}", &version[1..2]);
            helm.run(&["install", &release, &chart, "--wait", "--timeout", "90s"])
                .await?;
            check(&ns, &release).await?;
        }
        // Released volumes are deleted with their claims.
        capstan_ok(&["uninstall", "web", "-n", n, "--wait"])?;
        let pvs: Api<PersistentVolume> = Api::all(ns.client());
        let claim = ns
            .api::<PersistentVolumeClaim>()
            .get_opt("web-cache")
            .await?;
        ensure!(claim.is_none(), "the standalone claim was uninstalled");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left = pvs
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter(|pv| {
                    pv.spec
                        .as_ref()
                        .and_then(|s| s.claim_ref.as_ref())
                        .is_some_and(|c| {
                            c.namespace.as_deref() == Some(n)
                                && c.name.as_deref() == Some("web-cache")
                        })
                })
                .count();
            if left == 0 {
                break;
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "the volume of web-cache is still there"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        controllers.abort();
        // The volumes of the namespace's other claims go with the test.
        for pv in pvs.list(&ListParams::default()).await?.items {
            let of_test = pv
                .spec
                .as_ref()
                .and_then(|s| s.claim_ref.as_ref())
                .is_some_and(|c| c.namespace.as_deref() == Some(n));
            if of_test && let Some(name) = pv.metadata.name.as_deref() {
                let _ = pvs.delete(name, &Default::default()).await;
                let lift = serde_json::json!({"metadata": {"finalizers": null}});
                let _ = pvs
                    .patch(name, &Default::default(), &kube::api::Patch::Merge(&lift))
                    .await;
            }
        }
        Ok(())
    })
    .await;
}
