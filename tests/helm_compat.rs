//! Real Helm as the reference for the Secret and ConfigMap stores, on the local control plane:
//! a release installed and upgraded by Helm (v3 and v4, a Go-template chart with a hook and
//! NOTES) is read by capstan's store; revisions then written by capstan's store are shown by
//! `helm list`, `helm history`, `helm get values`, `helm get manifest` and `helm get notes`, and
//! `helm rollback` to one of them applies it; capstan reads the rollback Helm wrote.
//!
//! The shared steps live in `capstan_testkit::helm`; revisions too large for one object
//! (chunked by the Kube stores) are checked here. The reference binaries are built by
//! `cargo xtask helm` under `target/helm/` (run there when missing).

use anyhow::Context as _;
use capstan_kube::{KubeStore, ReleaseObject};
use capstan_release::{ChartFile, ReleaseStore};
use capstan_testkit::helm::{self, Helm, text};
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use rand::RngCore as _;

/// A revision too large for one object (chunked by capstan) is one Helm cannot read, and it
/// fails safe: `helm list` and `helm history` show the newest revision it can read, and
/// `helm upgrade` fails with "already exists" instead of overwriting it.
async fn helm_skips_chunked_revisions<K: ReleaseObject>(
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
    assert_eq!(text(&list[0]["revision"]), "5", "{list}");
    let history = helm.json(&["history", "web"]).await?;
    assert_eq!(history.as_array().map(Vec::len), Some(5), "{history}");
    let err = helm
        .run(&["upgrade", "web", chart, "--set", "message=six"])
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("already exists"), "{err:#}");
    assert_eq!(store.latest(ns, "web").await?.release, big);
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
    helm_skips_chunked_revisions(&helm, &store, ns.name(), chart).await
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
