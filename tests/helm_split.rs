//! Release records too large for one Secret, with real Helm (v3.22.0 and v4.3.1) alongside on
//! the local control plane: capstan splits such a record into a head Helm can read (the
//! release whole but for its stored chart's templates and files) and parts holding those.
//!
//! - kube-prometheus-stack installed by capstan: both Helm versions list it, show its status,
//!   manifest, values and history, upgrade it with `--reuse-values` and a changed value and roll
//!   it back; capstan then reads the whole history (its own revision put back together after
//!   Helm rewrote its head) and rolls back again; neither Helm installs over it.
//! - After `--history-max` pruned a split release's first revision, `helm install` of the same
//!   name is refused by both versions.
//!
//! kube-prometheus-stack's own record (about 550 KB) fits in one Secret, so capstan installs a
//! copy of the chart with one more file, `files/dashboards.bin` (1 MiB, incompressible: the
//! size of a large bundle of dashboards), which makes its record about 2 MiB. Helm upgrades
//! with the chart as published, whose record Helm can store. The chart's operator admission
//! webhooks are turned off as in `tests/charts.rs` (no webhook server answers here).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, ensure};
use capstan_e2e::process::{capstan, capstan_ok};
use capstan_kube::KubeStore;
use capstan_release::chunk::LABEL_PART_SET;
use capstan_release::{ReleaseStore, Status};
use capstan_testkit::helm::{Helm, text};
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use rand::RngCore as _;
use serde_json::Value;

/// The reference Helm versions.
const HELM_VERSIONS: [&str; 2] = ["v3.22.0", "v4.3.1"];

/// Values every kube-prometheus-stack revision is rendered with.
const KPS_VALUES: [&str; 4] = [
    "--set",
    "prometheusOperator.admissionWebhooks.enabled=false",
    "--set",
    "prometheusOperator.tls.enabled=false",
];

/// A chart of the shared corpus (`CAPSTAN_CHARTS_DIR` or `../shared/charts`).
fn corpus_chart(name: &str) -> std::path::PathBuf {
    std::env::var_os("CAPSTAN_CHARTS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/charts"))
        .join(name)
}

/// Copies the directory `from` to `to`, recursively.
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// A copy of `chart` under `dir` with `files/dashboards.bin`, `mib` MiB of random bytes.
fn padded_chart(chart: &Path, dir: &Path, mib: usize) -> anyhow::Result<String> {
    let copy = dir.join(chart.file_name().context("a chart directory")?);
    copy_dir(chart, &copy)?;
    let mut blob = vec![0u8; mib * 1024 * 1024];
    rand::rng().fill_bytes(&mut blob);
    std::fs::create_dir_all(copy.join("files"))?;
    std::fs::write(copy.join("files/dashboards.bin"), blob)?;
    Ok(copy.to_str().context("a UTF-8 path")?.to_owned())
}

/// The release's Secrets: `(name, labels)` of the heads, and the number of parts.
async fn secrets(ns: &TestNamespace, release: &str) -> anyhow::Result<(Vec<Secret>, usize)> {
    let api = ns.api::<Secret>();
    let heads = api
        .list(&ListParams::default().labels(&format!("owner=helm,name={release}")))
        .await?
        .items;
    let parts = api
        .list_metadata(&ListParams::default().labels(&format!("owner=capstan-part,name={release}")))
        .await?
        .items
        .len();
    Ok((heads, parts))
}

/// `capstan history` as `(revision, status)` rows.
fn capstan_history(ns: &str, release: &str) -> anyhow::Result<Vec<(u64, String)>> {
    let out = capstan_ok(&["history", release, "-n", ns, "-o", "json"])?;
    let rows: Vec<Value> = serde_json::from_str(&out)?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r["revision"].as_u64().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// The replicas of the release's kube-state-metrics Deployment.
async fn ksm_replicas(ns: &TestNamespace, release: &str) -> anyhow::Result<i32> {
    let deployment = ns
        .api::<Deployment>()
        .get(&format!("{release}-kube-state-metrics"))
        .await?;
    deployment.spec.and_then(|s| s.replicas).context("replicas")
}

/// What Helm shows of the release: `list`, `status`, `history`, `get manifest`, `get values`.
async fn helm_reads(
    helm: &Helm,
    release: &str,
    revision: u64,
    manifest: &str,
) -> anyhow::Result<()> {
    let v = helm.version();
    let list = helm.json(&["list"]).await?;
    ensure!(
        text(&list[0]["name"]) == release && text(&list[0]["revision"]) == revision.to_string(),
        "{v}: {list}"
    );
    ensure!(text(&list[0]["status"]) == "deployed", "{v}: {list}");
    ensure!(
        text(&list[0]["chart"]).starts_with("kube-prometheus-stack-"),
        "{v}: {list}"
    );
    let status = helm.run(&["status", release]).await?;
    ensure!(status.contains("STATUS: deployed"), "{v}: {status}");
    let history = helm.json(&["history", release]).await?;
    ensure!(
        history.as_array().map(Vec::len) == Some(usize::try_from(revision)?),
        "{v}: {history}"
    );
    let shown = helm.run(&["get", "manifest", release]).await?;
    ensure!(
        shown.trim() == manifest.trim(),
        "{v}: helm get manifest differs"
    );
    let values = helm.json(&["get", "values", release]).await?;
    ensure!(
        values["prometheusOperator"]["admissionWebhooks"]["enabled"] == Value::Bool(false),
        "{v}: {values}"
    );
    Ok(())
}

async fn kps_alongside_helm(ns: TestNamespace) -> anyhow::Result<()> {
    let n = ns.name();
    let release = n;
    let published = corpus_chart("kube-prometheus-stack");
    let published = published.to_str().context("a UTF-8 path")?;
    let scratch = tempfile::tempdir()?;
    let padded = padded_chart(Path::new(published), scratch.path(), 1)?;

    let begun = Instant::now();
    let started = Instant::now();
    let install = [&["install", release, &padded, "-n", n][..], &KPS_VALUES[..]].concat();
    let out = capstan_ok(&install)?;
    ensure!(out.contains("STATUS: deployed"), "{out}");
    eprintln!("capstan install: {:?}", started.elapsed());
    let (heads, parts) = secrets(&ns, release).await?;
    ensure!(
        heads.len() == 1 && parts >= 1,
        "{} heads, {parts} parts",
        heads.len()
    );
    let labels = heads[0].metadata.labels.clone().unwrap_or_default();
    ensure!(labels.contains_key(LABEL_PART_SET), "{labels:?}");
    let head_size = heads[0]
        .data
        .as_ref()
        .and_then(|d| d.get("release"))
        .map_or(0, |b| b.0.len());
    eprintln!("split record: head {head_size} bytes, {parts} parts");
    let manifest = capstan_ok(&["get", "manifest", release, "-n", n])?;

    let mut revision = 1;
    for (replicas, version) in (2..).zip(HELM_VERSIONS) {
        let helm = Helm::new(version, "secret", n)?;
        helm_reads(&helm, release, revision, &manifest).await?;
        let started = Instant::now();
        let change = format!("kube-state-metrics.replicas={replicas}");
        helm.run(&[
            "upgrade",
            release,
            published,
            "--reuse-values",
            "--set",
            &change,
        ])
        .await?;
        eprintln!("helm {version} upgrade: {:?}", started.elapsed());
        ensure!(ksm_replicas(&ns, release).await? == replicas);
        let values = helm.json(&["get", "values", release]).await?;
        ensure!(
            values["prometheusOperator"]["tls"]["enabled"] == Value::Bool(false),
            "--reuse-values kept the values: {values}"
        );
        let started = Instant::now();
        helm.run(&["rollback", release, "1"]).await?;
        eprintln!("helm {version} rollback: {:?}", started.elapsed());
        revision += 2;
        ensure!(ksm_replicas(&ns, release).await? == 1);
        let history = helm.json(&["history", release]).await?;
        let last = history
            .as_array()
            .and_then(|h| h.last())
            .context("a history")?;
        ensure!(text(&last["revision"]) == revision.to_string(), "{history}");
        ensure!(text(&last["description"]) == "Rollback to 1", "{history}");
        // Neither Helm installs over the release.
        let err = helm
            .run(&["install", release, published])
            .await
            .expect_err("helm install over a deployed release fails");
        ensure!(
            format!("{err:#}").contains("a name that is still in use"),
            "{err:#}"
        );
    }

    // capstan reads the whole history: its own revision put back together (Helm rewrote that
    // head's status twice), the revisions Helm wrote (the rollbacks with the chart as Helm read
    // it, without its templates and files).
    let history = capstan_history(n, release)?;
    let expected: Vec<(u64, String)> = (1..=5)
        .map(|r| (r, if r == 5 { "deployed" } else { "superseded" }.to_owned()))
        .collect();
    ensure!(history == expected, "{history:?}");
    let store = KubeStore::<Secret>::new(ns.client(), n);
    let first = store.get(n, release, 1).await?.release;
    ensure!(first.info.status == Status::Superseded);
    let chart = first.chart.as_ref().context("a chart")?;
    ensure!(
        chart.files.iter().any(|f| f.name == "files/dashboards.bin"),
        "revision 1 has its files back"
    );
    ensure!(
        !chart.templates.is_empty(),
        "revision 1 has its templates back"
    );
    let rolled = store.get(n, release, 3).await?.release;
    ensure!(rolled.manifest == first.manifest && rolled.labels.is_empty());
    ensure!(
        rolled
            .chart
            .as_ref()
            .is_some_and(|c| c.templates.is_empty()),
        "Helm's rollback keeps the chart as Helm read it"
    );

    // capstan rolls back to Helm's upgrade client-side (the grafana Deployment's container has
    // ports 9094/TCP and 9094/UDP: the three-way patch pairs them in order, as client-go does),
    // then to its own split revision, taking the objects over from Helm with server-side apply.
    let take_over = ["--server-side=true", "--force-conflicts"];
    let started = Instant::now();
    capstan_ok(&["rollback", release, "2", "-n", n])?;
    eprintln!("capstan rollback: {:?}", started.elapsed());
    ensure!(ksm_replicas(&ns, release).await? == 2);
    capstan_ok(&[&["rollback", release, "1", "-n", n][..], &take_over[..]].concat())?;
    ensure!(ksm_replicas(&ns, release).await? == 1);
    let history = capstan_history(n, release)?;
    ensure!(
        history.len() == 7 && history[6].1 == "deployed",
        "{history:?}"
    );
    let status = capstan_ok(&["status", release, "-n", n])?;
    ensure!(status.contains("REVISION: 7"), "{status}");

    let run = capstan(&["uninstall", release, "-n", n]);
    ensure!(run.code == 0, "{}\n{}", run.stdout, run.stderr);
    eprintln!("whole scenario: {:?}", begun.elapsed());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_prometheus_stack_split_with_helm_alongside() {
    with_namespace("split-kps", kps_alongside_helm).await;
}

async fn install_refused_after_pruning(ns: TestNamespace) -> anyhow::Result<()> {
    let n = ns.name();
    let scratch = tempfile::tempdir()?;
    let chart = padded_chart(&capstan_testkit::helm::chart(), scratch.path(), 1)?;
    let history_max = ["--history-max", "2"];
    capstan_ok(&[&["install", "web", &chart, "-n", n][..], &history_max[..]].concat())?;
    for message in ["two", "three"] {
        let set = format!("message={message}");
        capstan_ok(
            &[
                &["upgrade", "web", &chart, "-n", n, "--set", &set][..],
                &history_max[..],
            ]
            .concat(),
        )?;
    }
    let (heads, parts) = secrets(&ns, "web").await?;
    let mut names: Vec<String> = heads
        .iter()
        .filter_map(|h| h.metadata.name.clone())
        .collect();
    names.sort();
    ensure!(
        names == ["sh.helm.release.v1.web.v2", "sh.helm.release.v1.web.v3"],
        "{names:?}"
    );
    ensure!(parts >= 2, "{parts} parts");

    let published = capstan_testkit::helm::chart();
    let published = published.to_str().context("a UTF-8 path")?;
    for version in HELM_VERSIONS {
        let helm = Helm::new(version, "secret", n)?;
        let err = helm
            .run(&["install", "web", published])
            .await
            .expect_err("helm install over a deployed release fails");
        ensure!(
            format!("{err:#}").contains("a name that is still in use"),
            "{version}: {err:#}"
        );
    }
    let history = capstan_history(n, "web")?;
    ensure!(
        history == [(2, "superseded".to_owned()), (3, "deployed".to_owned())],
        "{history:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_is_refused_after_the_first_split_revision_is_pruned() {
    with_namespace("split-prune", install_refused_after_pruning).await;
}
