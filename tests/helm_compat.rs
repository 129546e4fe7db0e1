//! Real Helm as the reference for the Secret and ConfigMap stores, on the local control plane:
//! a release installed and upgraded by Helm (v3 and v4, a Go-template chart with a hook and
//! NOTES) is read by capstan's store; revisions then written by capstan's store are shown by
//! `helm list`, `helm history`, `helm get values`, `helm get manifest` and `helm get notes`, and
//! `helm rollback` to one of them applies it; capstan reads the rollback Helm wrote.
//!
//! The shared steps live in `capstan_testkit::helm`; revisions too large for one object
//! (split by the Kube stores) are checked here. The reference binaries are built by
//! `cargo xtask helm` under `target/helm/` (run there when missing).

use anyhow::Context as _;
use capstan_kube::{KubeStore, ReleaseObject};
use capstan_release::{ChartFile, ReleaseStore};
use capstan_testkit::helm::{self, Helm, text};
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use rand::RngCore as _;

/// A revision too large for one object (split by capstan: the chart's files in parts) is one
/// Helm reads from its head: `helm list`, `history`, `get values` and `get manifest` show it,
/// `helm upgrade` and `helm rollback` to it work, and capstan reads it whole afterwards (after
/// Helm rewrote its status) and reads the revisions Helm wrote.
async fn helm_reads_split_revisions<K: ReleaseObject>(
    helm: &Helm,
    store: &KubeStore<K>,
    ns: &str,
    chart: &str,
) -> anyhow::Result<()> {
    let mut big = store.get(ns, "web", 5).await?.release;
    big.version = 6;
    let mut blob = vec![0u8; 1536 * 1024];
    rand::rng().fill_bytes(&mut blob);
    big.chart
        .as_mut()
        .context("a chart")?
        .files
        .push(ChartFile::new("files/blob.bin", blob));
    store.create(&big).await?;
    assert_eq!(store.latest(ns, "web").await?.release, big);

    let list = helm.json(&["list"]).await?;
    assert_eq!(text(&list[0]["revision"]), "6", "{list}");
    let history = helm.json(&["history", "web"]).await?;
    assert_eq!(history.as_array().map(Vec::len), Some(6), "{history}");
    let manifest = helm
        .run(&["get", "manifest", "web", "--revision", "6"])
        .await?;
    assert_eq!(manifest.trim(), big.manifest.trim());
    let values = helm
        .json(&["get", "values", "web", "--revision", "6"])
        .await?;
    assert_eq!(values, serde_json::Value::Object(big.config.clone()));

    helm.run(&["upgrade", "web", chart, "--set", "message=seven"])
        .await?;
    helm.run(&["rollback", "web", "6"]).await?;
    let history = store.history(ns, "web").await?;
    let statuses = helm::statuses(&history);
    assert_eq!(
        statuses[5..],
        ["v6 superseded", "v7 superseded", "v8 deployed"],
        "{statuses:?}"
    );
    // Revision 6 whole, its status as Helm rewrote it.
    let mut six = big.clone();
    six.info.status = capstan_release::Status::Superseded;
    let read = &history[5].release;
    assert_eq!(read.chart, six.chart);
    assert_eq!(read.info.status, six.info.status);
    assert_eq!(read.manifest, six.manifest);
    // Helm's rollback: the manifest of 6, the chart as Helm read it (no templates or files).
    let eight = &history[7].release;
    assert_eq!(eight.manifest, big.manifest);
    assert!(eight.labels.is_empty(), "{:?}", eight.labels);
    assert!(
        eight
            .chart
            .as_ref()
            .is_some_and(|c| c.files.is_empty() && c.templates.is_empty())
    );
    Ok(())
}

async fn round_trip<K: ReleaseObject>(
    ns: TestNamespace,
    version: &'static str,
) -> anyhow::Result<()> {
    let store = KubeStore::<K>::new(ns.client(), ns.name());
    let helm = Helm::new(version, store.driver(), ns.name())?;
    helm::install_and_upgrade(&helm, &[]).await?;
    helm::check_helm_written(&store, ns.name()).await?;
    helm::write_revisions(&store, ns.name(), 0).await?;
    helm::check_capstan_written(&helm, ns.name()).await?;
    helm::rollback_to_capstan_revision(&helm, &store, &ns).await?;
    let chart = helm::chart();
    let chart = chart.to_str().context("a UTF-8 path")?;
    helm_reads_split_revisions(&helm, &store, ns.name(), chart).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_v3_secret() {
    with_namespace("helm-v3-secret", |ns| round_trip::<Secret>(ns, "v3.22.0")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_v3_configmap() {
    with_namespace("helm-v3-configmap", |ns| {
        round_trip::<ConfigMap>(ns, "v3.22.0")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_v4_secret() {
    with_namespace("helm-v4-secret", |ns| round_trip::<Secret>(ns, "v4.3.1")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_v4_configmap() {
    with_namespace("helm-v4-configmap", |ns| {
        round_trip::<ConfigMap>(ns, "v4.3.1")
    })
    .await;
}
