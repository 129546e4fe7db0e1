//! Real Helm as the reference for capstan's storage drivers.
//!
//! [`Helm`] runs one of the reference binaries `cargo xtask helm` builds under
//! `<workspace>/target/helm/<version>/helm` (built here when missing) against the local control
//! plane, in one namespace, with one `HELM_DRIVER` (and any extra environment, such as
//! `HELM_DRIVER_SQL_CONNECTION_STRING`).
//!
//! The scenario every driver's interop test runs, on the `helm-web` fixture chart ([`chart`]), is
//! written once here against [`ReleaseStore`]:
//!
//! 1. [`install_and_upgrade`]: Helm installs `web` (message one) and upgrades it (message two,
//!    two replicas);
//! 2. [`check_helm_written`]: capstan's store reads what Helm wrote;
//! 3. [`write_revisions`]: capstan's store writes revisions 3 and 4;
//! 4. [`check_capstan_written`]: Helm shows them;
//! 5. [`rollback_to_capstan_revision`]: `helm rollback` to revision 3 applies it, and capstan
//!    reads the rollback revision Helm wrote.
//!
//! Driver-specific checks (chunked revisions, migrations, ...) stay in the drivers' tests.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use capstan_release::{
    GoTime, HookDeletePolicy, HookEvent, HookPhase, ListFilter, ReleaseStore, Status,
    StoredRelease, SummarySource,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Value, json};

use crate::cluster::root;
use crate::{TestNamespace, kubeconfig_path, wait};

/// The `helm-web` fixture chart (`tests/fixtures/charts/helm-web`): a Go-template chart with a
/// ConfigMap, a Service, a Deployment, a hook Job and NOTES.
pub fn chart() -> PathBuf {
    root().join("tests/fixtures/charts/helm-web")
}

/// The reference helm binary of `version` (`target/helm/<version>/helm`), built with
/// `cargo xtask helm` when missing.
pub fn binary(version: &str) -> anyhow::Result<PathBuf> {
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

/// One helm binary, driver and namespace, with a scratch `HELM_*_HOME` of its own (removed on
/// drop).
pub struct Helm {
    binary: PathBuf,
    version: &'static str,
    driver: &'static str,
    namespace: String,
    env: Vec<(String, String)>,
    home: PathBuf,
}

impl Helm {
    /// Helm `version` (e.g. `v3.22.0`) with `HELM_DRIVER=driver` in `namespace`.
    pub fn new(
        version: &'static str,
        driver: &'static str,
        namespace: &str,
    ) -> anyhow::Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let home = std::env::temp_dir().join(format!(
            "capstan-helm-{}-{}-{namespace}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&home)?;
        Ok(Helm {
            binary: binary(version)?,
            version,
            driver,
            namespace: namespace.to_owned(),
            env: Vec::new(),
            home,
        })
    }

    /// Sets one more environment variable for every run (such as
    /// `HELM_DRIVER_SQL_CONNECTION_STRING`).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The helm version, e.g. `v4.3.1`.
    pub fn version(&self) -> &'static str {
        self.version
    }

    /// Runs `helm <args> -n <namespace> --kubeconfig <local control plane>` with `HELM_DRIVER`
    /// (and the extra environment); its stdout, or an error with its output when it fails.
    pub async fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .arg("-n")
            .arg(&self.namespace)
            .arg("--kubeconfig")
            .arg(kubeconfig_path())
            .env("HELM_DRIVER", self.driver)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
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

    /// Runs `helm <args> -o json`; the JSON it printed.
    pub async fn json(&self, args: &[&str]) -> anyhow::Result<Value> {
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
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `v<revision> <status>` of each revision.
pub fn statuses(history: &[StoredRelease]) -> Vec<String> {
    history
        .iter()
        .map(|r| format!("v{} {}", r.release.version, r.release.info.status))
        .collect()
}

/// Helm installs release `web` of [`chart`] (message one, plus `install_args`) and upgrades it
/// (message two, two replicas).
pub async fn install_and_upgrade(helm: &Helm, install_args: &[&str]) -> anyhow::Result<()> {
    let chart = chart();
    let chart = chart.to_str().context("a UTF-8 path")?;
    let mut install = vec!["install", "web", chart, "--set", "message=one"];
    install.extend_from_slice(install_args);
    install.extend(["--timeout", "90s"]);
    helm.run(&install).await?;
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
    Ok(())
}

/// Checks what capstan reads of the release Helm installed (message one) and upgraded
/// (message two, two replicas) with [`install_and_upgrade`].
pub async fn check_helm_written(store: &dyn ReleaseStore, ns: &str) -> anyhow::Result<()> {
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
    assert!(v2.manifest.contains("message: \"two\""), "{}", v2.manifest);
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
    assert_eq!(store.latest(ns, "web").await?.release.version, 2);

    // Helm writes no capstan annotations: the summary decodes the payload.
    let summaries = store.list_summaries(&ListFilter::in_namespace(ns)).await?;
    assert!(
        summaries.unreadable.is_empty(),
        "{:?}",
        summaries.unreadable
    );
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
/// upgrade does: the new revision deployed (created with
/// [`ReleaseStore::create_with_history_limit`] and `max_history`; 0 = unlimited), the previous
/// one superseded (with its version).
pub async fn write_revisions(
    store: &dyn ReleaseStore,
    ns: &str,
    max_history: usize,
) -> anyhow::Result<()> {
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
        store.create_with_history_limit(&next, max_history).await?;
        let mut old = previous.release.clone();
        old.mark_superseded();
        store.update(&old, &previous.version).await?;
        previous = store.get(ns, "web", revision).await?;
        previous_message = message;
    }
    Ok(())
}

/// Checks that Helm shows the revisions [`write_revisions`] wrote: `helm list`, `helm history`,
/// `helm get values`, `helm get manifest`, `helm get notes` and `helm get hooks`.
pub async fn check_capstan_written(helm: &Helm, ns: &str) -> anyhow::Result<()> {
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
/// capstan reads the rollback revision (5) Helm wrote.
pub async fn rollback_to_capstan_revision(
    helm: &Helm,
    store: &dyn ReleaseStore,
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
