//! Real Helm as the reference for the Secret and ConfigMap stores, on the local control plane:
//! a release installed and upgraded by Helm (v3 and v4, a Go-template chart with a hook and
//! NOTES) is read by capstan's store; revisions then written by capstan's store are shown by
//! `helm list`, `helm history`, `helm get values`, `helm get manifest` and `helm get notes`, and
//! `helm rollback` to one of them applies it; capstan reads the rollback Helm wrote.
//!
//! The reference binaries are built by `cargo xtask helm` under `target/helm/` (run here when
//! missing).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use capstan_kube::{KubeStore, ReleaseObject};
use capstan_release::{
    ChartFile, GoTime, HookDeletePolicy, HookEvent, HookPhase, ListFilter, ReleaseStore, Status,
    StoredRelease, SummarySource,
};
use capstan_testkit::{TestNamespace, kubeconfig_path, wait, with_namespace};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use rand::RngCore as _;
use serde_json::{Value, json};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/charts/helm-web")
}

/// The reference helm binary of `version`, built with `cargo xtask helm` when missing.
fn helm_binary(version: &str) -> anyhow::Result<PathBuf> {
    static BUILD: Mutex<()> = Mutex::new(());
    let binary = root().join("target/helm").join(version).join("helm");
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !binary.exists() {
        eprintln!(
            "{} is missing; running `cargo xtask helm`",
            binary.display()
        );
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(root())
            .args(["xtask", "helm"])
            .status()
            .context("running `cargo xtask helm`")?;
        ensure!(status.success(), "`cargo xtask helm` failed ({status})");
    }
    Ok(binary)
}

/// One helm binary, driver and namespace.
struct Helm {
    binary: PathBuf,
    version: &'static str,
    driver: &'static str,
    namespace: String,
    home: PathBuf,
}

impl Helm {
    fn new(version: &'static str, driver: &'static str, namespace: &str) -> anyhow::Result<Self> {
        let home = std::env::temp_dir().join(format!("capstan-helm-{namespace}"));
        std::fs::create_dir_all(&home)?;
        Ok(Helm {
            binary: helm_binary(version)?,
            version,
            driver,
            namespace: namespace.to_owned(),
            home,
        })
    }

    /// Runs `helm <args> -n <namespace> --kubeconfig <…>` with `HELM_DRIVER`; its stdout.
    async fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .arg("-n")
            .arg(&self.namespace)
            .arg("--kubeconfig")
            .arg(kubeconfig_path())
            .env("HELM_DRIVER", self.driver)
            .env("HELM_CACHE_HOME", self.home.join("cache"))
            .env("HELM_CONFIG_HOME", self.home.join("config"))
            .env("HELM_DATA_HOME", self.home.join("data"))
            .env_remove("HELM_MAX_HISTORY");
        let shown = format!("helm {} {}", self.version, args.join(" "));
        let output = tokio::task::spawn_blocking(move || command.output())
            .await?
            .with_context(|| format!("running {shown}"))?;
        if !output.status.success() {
            bail!(
                "{shown} failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8(output.stdout)?)
    }

    async fn json(&self, args: &[&str]) -> anyhow::Result<Value> {
        let mut args = args.to_vec();
        args.extend(["-o", "json"]);
        let out = self.run(&args).await?;
        serde_json::from_str(&out).with_context(|| format!("helm printed {out:?}"))
    }
}

impl Drop for Helm {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// A JSON value as text, whether Helm printed it as a string or a number.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `v<revision> <status>` of each revision.
fn statuses(history: &[StoredRelease]) -> Vec<String> {
    history
        .iter()
        .map(|r| format!("v{} {}", r.release.version, r.release.info.status))
        .collect()
}

/// Checks what capstan reads of the release Helm installed (message one) and upgraded
/// (message two, two replicas).
async fn check_helm_written<K: ReleaseObject>(
    store: &KubeStore<K>,
    ns: &str,
) -> anyhow::Result<()> {
    let history = store.history(ns, "web").await?;
    assert_eq!(statuses(&history), ["v1 superseded", "v2 deployed"]);
    let (v1, v2) = (&history[0].release, &history[1].release);
    assert_eq!(v1.info.description, "Install complete");
    assert_eq!(v2.info.description, "Upgrade complete");
    assert_eq!(Value::Object(v1.config.clone()), json!({"message": "one"}));
    assert_eq!(
        Value::Object(v2.config.clone()),
        json!({"message": "two", "replicaCount": 2})
    );
    assert_eq!(v2.namespace, ns);
    for source in ["configmap", "service", "deployment"] {
        assert!(
            v2.manifest
                .contains(&format!("# Source: helm-web/templates/{source}.yaml")),
            "{}",
            v2.manifest
        );
    }
    assert!(v2.manifest.contains("message: \"two\""));
    assert!(
        !v2.manifest.contains("helm.sh/hook"),
        "hooks are not in the manifest"
    );
    assert_eq!(v2.hooks.len(), 1);
    let hook = &v2.hooks[0];
    assert_eq!(
        (hook.name.as_str(), hook.kind.as_str(), hook.path.as_str()),
        ("web-web-migrate", "Job", "helm-web/templates/hook.yaml")
    );
    assert_eq!(hook.events, [HookEvent::PostInstall, HookEvent::PreUpgrade]);
    assert_eq!(hook.weight, 5);
    assert_eq!(hook.delete_policies, [HookDeletePolicy::BeforeHookCreation]);
    assert_eq!(hook.last_run.phase, Some(HookPhase::Succeeded));
    assert!(hook.manifest.contains("migrating to two"));
    assert_eq!(v1.hooks[0].last_run.phase, Some(HookPhase::Succeeded));
    assert!(
        v2.info.notes.contains("web serves \"two\" on port 80."),
        "{}",
        v2.info.notes
    );
    assert!(v2.info.notes.contains("Revision 2 of chart helm-web-0.1.0"));
    let chart = v2.chart.as_ref().context("the chart is stored")?;
    assert_eq!(chart.name_version(), "helm-web-0.1.0");
    assert_eq!(chart.app_version(), "1.27.0");
    assert!(
        chart
            .templates
            .iter()
            .any(|t| t.name == "templates/hook.yaml")
    );
    assert_eq!(
        chart.values.as_ref().and_then(|v| v.get("message")),
        Some(&json!("hello"))
    );
    assert_eq!(store.last_deployed(ns, "web").await?.release.version, 2);

    // Helm writes no capstan annotations: the summary decodes the payload.
    let summaries = store.list_summaries(&ListFilter::in_namespace(ns)).await?;
    assert!(summaries.unreadable.is_empty());
    assert_eq!(summaries.items.len(), 1);
    let row = &summaries.items[0];
    assert_eq!(
        (row.name.as_str(), row.revision, row.status),
        ("web", 2, Status::Deployed)
    );
    assert_eq!(row.chart.as_deref(), Some("helm-web-0.1.0"));
    assert_eq!(row.app_version.as_deref(), Some("1.27.0"));
    assert_eq!(row.updated, v2.info.last_deployed);
    assert_eq!(row.source, SummarySource::Release);
    Ok(())
}

/// Writes revisions 3 (message three) and 4 (message four) with capstan's store, as an
/// upgrade does: the new revision deployed, the previous one superseded.
async fn write_revisions<K: ReleaseObject>(store: &KubeStore<K>, ns: &str) -> anyhow::Result<()> {
    let mut previous = store.get(ns, "web", 2).await?;
    let mut previous_message = "two";
    for (revision, message) in [(3, "three"), (4, "four")] {
        let mut next = previous.release.clone();
        next.version = revision;
        next.config.insert("message".into(), json!(message));
        let swap = |s: &str| s.replace(previous_message, message);
        next.manifest = swap(&next.manifest);
        next.info.notes = swap(&next.info.notes);
        for hook in &mut next.hooks {
            hook.manifest = swap(&hook.manifest);
        }
        next.info.rollback_revision = 0;
        next.info.last_deployed = Some(GoTime::now());
        next.mark_deployed(true, None);
        store.create(&next).await?;
        let mut old = previous.release.clone();
        old.mark_superseded();
        store.update(&old, &previous.version).await?;
        previous = store.get(ns, "web", revision).await?;
        previous_message = message;
    }
    Ok(())
}

/// Checks that Helm shows the revisions capstan wrote.
async fn check_capstan_written(helm: &Helm, ns: &str) -> anyhow::Result<()> {
    let list = helm.json(&["list"]).await?;
    let rows = list.as_array().context("helm list prints an array")?;
    assert_eq!(rows.len(), 1, "{list}");
    let row = &rows[0];
    assert_eq!(text(&row["name"]), "web");
    assert_eq!(text(&row["namespace"]), ns);
    assert_eq!(text(&row["revision"]), "4");
    assert_eq!(text(&row["status"]), "deployed");
    assert_eq!(text(&row["chart"]), "helm-web-0.1.0");
    assert_eq!(text(&row["app_version"]), "1.27.0");

    let history = helm.json(&["history", "web"]).await?;
    let rows = history.as_array().context("helm history prints an array")?;
    let got: Vec<(String, String)> = rows
        .iter()
        .map(|r| (text(&r["revision"]), text(&r["status"])))
        .collect();
    assert_eq!(
        got,
        [
            ("1".into(), "superseded".into()),
            ("2".into(), "superseded".into()),
            ("3".into(), "superseded".into()),
            ("4".into(), "deployed".into()),
        ]
    );
    assert_eq!(text(&rows[3]["description"]), "Upgrade complete");
    assert_eq!(text(&rows[3]["chart"]), "helm-web-0.1.0");

    let values = helm
        .json(&["get", "values", "web", "--revision", "3"])
        .await?;
    assert_eq!(values, json!({"message": "three", "replicaCount": 2}));
    let manifest = helm
        .run(&["get", "manifest", "web", "--revision", "4"])
        .await?;
    assert!(manifest.contains("message: \"four\""), "{manifest}");
    assert!(manifest.contains("# Source: helm-web/templates/deployment.yaml"));
    let notes = helm.run(&["get", "notes", "web"]).await?;
    assert!(notes.contains("web serves \"four\""), "{notes}");
    let hooks = helm.run(&["get", "hooks", "web"]).await?;
    assert!(hooks.contains("migrating to four"), "{hooks}");
    Ok(())
}

/// Helm rolls back to revision 3 (written by capstan); the cluster gets its objects and
/// capstan reads the rollback revision Helm wrote.
async fn rollback_to_capstan_revision<K: ReleaseObject>(
    helm: &Helm,
    store: &KubeStore<K>,
    ns: &TestNamespace,
) -> anyhow::Result<()> {
    helm.run(&["rollback", "web", "3", "--wait", "--timeout", "90s"])
        .await?;
    let history = helm.json(&["history", "web"]).await?;
    let last = history
        .as_array()
        .and_then(|h| h.last())
        .context("helm history has rows")?;
    assert_eq!(text(&last["revision"]), "5");
    assert_eq!(text(&last["status"]), "deployed");
    assert_eq!(text(&last["description"]), "Rollback to 3");

    let config_map = ns.api::<ConfigMap>().get("web-web").await?;
    assert_eq!(
        config_map
            .data
            .unwrap_or_default()
            .get("message")
            .map(String::as_str),
        Some("three")
    );
    wait::until(
        &ns.api::<Deployment>(),
        "web-web",
        Duration::from_secs(60),
        "available",
        wait::deployment_available(),
    )
    .await?;

    let history = store.history(ns.name(), "web").await?;
    assert_eq!(
        statuses(&history),
        [
            "v1 superseded",
            "v2 superseded",
            "v3 superseded",
            "v4 superseded",
            "v5 deployed"
        ]
    );
    let (v3, v5) = (&history[2].release, &history[4].release);
    assert_eq!(v5.info.description, "Rollback to 3");
    assert_eq!(v5.config, v3.config);
    assert_eq!(v5.manifest, v3.manifest);
    if helm.version.starts_with("v4") {
        assert_eq!(v5.info.rollback_revision, 3);
    }
    Ok(())
}

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
    let chart = chart();
    let chart = chart.to_str().context("a UTF-8 path")?;
    helm.run(&[
        "install",
        "web",
        chart,
        "--set",
        "message=one",
        "--timeout",
        "90s",
    ])
    .await?;
    helm.run(&[
        "upgrade",
        "web",
        chart,
        "--set",
        "message=two",
        "--set",
        "replicaCount=2",
        "--timeout",
        "90s",
    ])
    .await?;
    check_helm_written(&store, ns.name()).await?;
    write_revisions(&store, ns.name()).await?;
    check_capstan_written(&helm, ns.name()).await?;
    rollback_to_capstan_revision(&helm, &store, &ns).await?;
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
