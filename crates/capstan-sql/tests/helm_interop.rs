//! Real Helm (v3 and v4) with `HELM_DRIVER=sql` as the reference for `SqlStore`, on the local
//! control plane and a fresh PostgreSQL database per test:
//!
//! - Helm first: Helm creates the tables, installs and upgrades a release (a Go-template chart
//!   with a hook and NOTES); capstan connects to Helm's tables without running a migration and
//!   reads history, statuses, values, manifest, hooks, notes and custom labels; revisions
//!   capstan then writes are shown by `helm list`, `helm history`, `helm get values`,
//!   `helm get manifest`, and `helm rollback` to one of them works.
//! - capstan first: capstan creates the tables; Helm finds its migrations recorded, runs none,
//!   and reads what capstan wrote.
//!
//! The reference binaries are built by `cargo xtask helm` under `target/helm/` (run here when
//! missing).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use anyhow::{Context as _, bail, ensure};
use capstan_release::{
    ChartMetadata, GoTime, HookEvent, HookPhase, ListFilter, Release, ReleaseStore, Status,
    StoredChart, StoredRelease,
};
use capstan_sql::{MigrationOutcome, SqlStore};
use capstan_testkit::postgres::{TestDatabase, with_database};
use capstan_testkit::{TestNamespace, kubeconfig_path, with_namespace};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chart() -> PathBuf {
    root().join("tests/fixtures/charts/helm-web")
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

/// One helm binary with `HELM_DRIVER=sql` on one database and namespace.
struct Helm {
    binary: PathBuf,
    version: &'static str,
    connection: String,
    namespace: String,
    home: PathBuf,
}

impl Helm {
    fn new(version: &'static str, db: &TestDatabase, namespace: &str) -> anyhow::Result<Self> {
        let home = std::env::temp_dir().join(format!("capstan-helm-sql-{}", db.name()));
        std::fs::create_dir_all(&home)?;
        Ok(Helm {
            binary: helm_binary(version)?,
            version,
            connection: db.url().to_owned(),
            namespace: namespace.to_owned(),
            home,
        })
    }

    async fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .arg("-n")
            .arg(&self.namespace)
            .arg("--kubeconfig")
            .arg(kubeconfig_path())
            .env("HELM_DRIVER", "sql")
            .env("HELM_DRIVER_SQL_CONNECTION_STRING", &self.connection)
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

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn statuses(history: &[StoredRelease]) -> Vec<(u32, Status)> {
    history
        .iter()
        .map(|r| (r.release.version, r.release.info.status))
        .collect()
}

/// The migration ids recorded, with when they were applied (as text).
async fn migration_records(db: &TestDatabase) -> anyhow::Result<Vec<(String, String)>> {
    let client = db.connect().await?;
    Ok(client
        .query(
            "SELECT id, applied_at::text FROM gorp_migrations ORDER BY id",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// What capstan reads of the release Helm installed (message one, label team=payments) and
/// upgraded (message two, two replicas).
async fn check_helm_written(store: &SqlStore, ns: &str) -> anyhow::Result<()> {
    let history = store.history(ns, "web").await?;
    assert_eq!(
        statuses(&history),
        [(1, Status::Superseded), (2, Status::Deployed)]
    );
    let (v1, v2) = (&history[0].release, &history[1].release);
    assert_eq!(v1.info.description, "Install complete");
    assert_eq!(v2.info.description, "Upgrade complete");
    assert_eq!(v1.labels.get("team").map(String::as_str), Some("payments"));
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
    assert!(!v2.manifest.contains("helm.sh/hook"));
    assert_eq!(v2.hooks.len(), 1);
    let hook = &v2.hooks[0];
    assert_eq!(
        (hook.name.as_str(), hook.kind.as_str(), hook.path.as_str()),
        ("web-web-migrate", "Job", "helm-web/templates/hook.yaml")
    );
    assert_eq!(hook.events, [HookEvent::PostInstall, HookEvent::PreUpgrade]);
    assert_eq!(hook.weight, 5);
    assert_eq!(hook.last_run.phase, Some(HookPhase::Succeeded));
    assert!(hook.manifest.contains("migrating to two"));
    assert!(
        v2.info.notes.contains("web serves \"two\" on port 80."),
        "{}",
        v2.info.notes
    );
    let chart = v2.chart.as_ref().context("the chart is stored")?;
    assert_eq!(chart.name_version(), "helm-web-0.1.0");
    assert_eq!(chart.app_version(), "1.27.0");
    assert_eq!(store.last_deployed(ns, "web").await?.release.version, 2);
    assert_eq!(store.latest(ns, "web").await?.release.version, 2);

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
    Ok(())
}

/// Writes revisions 3 (message three) and 4 (message four) with capstan's store, as an
/// upgrade does: the new revision deployed, the previous one superseded (with its version).
async fn write_revisions(store: &SqlStore, ns: &str) -> anyhow::Result<()> {
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
        store.create_with_history_limit(&next, 10).await?;
        let mut old = previous.release.clone();
        old.mark_superseded();
        store.update(&old, &previous.version).await?;
        previous = store.get(ns, "web", revision).await?;
        previous_message = message;
    }
    Ok(())
}

/// Helm shows the revisions capstan wrote.
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
    Ok(())
}

/// Helm rolls back to revision 3 (written by capstan); capstan reads the revision Helm wrote.
async fn rollback_to_capstan_revision(
    helm: &Helm,
    store: &SqlStore,
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

    let config_map = ns
        .api::<k8s_openapi::api::core::v1::ConfigMap>()
        .get("web-web")
        .await?;
    assert_eq!(
        config_map
            .data
            .unwrap_or_default()
            .get("message")
            .map(String::as_str),
        Some("three")
    );

    let history = store.history(ns.name(), "web").await?;
    assert_eq!(
        statuses(&history),
        [
            (1, Status::Superseded),
            (2, Status::Superseded),
            (3, Status::Superseded),
            (4, Status::Superseded),
            (5, Status::Deployed),
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

async fn helm_first(
    ns: TestNamespace,
    db: TestDatabase,
    version: &'static str,
) -> anyhow::Result<()> {
    let helm = Helm::new(version, &db, ns.name())?;
    let chart = chart();
    let chart = chart.to_str().context("a UTF-8 path")?;
    helm.run(&[
        "install",
        "web",
        chart,
        "--set",
        "message=one",
        "--labels",
        "team=payments",
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
    let helm_records = migration_records(&db).await?;
    let ids: Vec<&str> = helm_records.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["custom_labels", "init"], "Helm's sql-migrate ids");

    let store = SqlStore::connect(db.url()).await?;
    let report = store.ensure_schema().await?;
    assert!(
        report
            .migrations
            .iter()
            .all(|(_, o)| *o == MigrationOutcome::AlreadyApplied),
        "{report:?}"
    );
    assert_eq!(
        migration_records(&db).await?,
        helm_records,
        "capstan runs and records nothing on Helm's tables"
    );

    check_helm_written(&store, ns.name()).await?;
    write_revisions(&store, ns.name()).await?;
    check_capstan_written(&helm, ns.name()).await?;
    rollback_to_capstan_revision(&helm, &store, &ns).await?;
    assert_eq!(migration_records(&db).await?, helm_records);
    Ok(())
}

async fn capstan_first(db: TestDatabase, version: &'static str) -> anyhow::Result<()> {
    let store = SqlStore::connect(db.url()).await?;
    let records = migration_records(&db).await?;
    // Helm reads what capstan wrote without touching the schema (no cluster objects needed
    // for list, history and get).
    let mut r = Release::new("api", "apps", 1, Status::PendingInstall);
    r.chart = Some(StoredChart {
        metadata: Some(ChartMetadata {
            name: "api".into(),
            version: "0.3.0".into(),
            app_version: "2.0".into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    r.config.insert("message".into(), json!("from capstan"));
    r.manifest = "---\n# Source: api/templates/cm.yaml\nkind: ConfigMap\n".into();
    r.info.first_deployed = Some(GoTime::now());
    r.info.last_deployed = r.info.first_deployed;
    r.labels.insert("team".into(), "platform".into());
    let v = store.create(&r).await?;
    r.mark_deployed(false, None);
    store.update(&r, &v).await?;

    let helm = Helm::new(version, &db, "apps")?;
    let list = helm.json(&["list"]).await?;
    let rows = list.as_array().context("helm list prints an array")?;
    assert_eq!(rows.len(), 1, "{list}");
    assert_eq!(text(&rows[0]["name"]), "api");
    assert_eq!(text(&rows[0]["status"]), "deployed");
    assert_eq!(text(&rows[0]["chart"]), "api-0.3.0");
    assert_eq!(text(&rows[0]["app_version"]), "2.0");
    let history = helm.json(&["history", "api"]).await?;
    assert_eq!(text(&history[0]["description"]), "Install complete");
    let values = helm.json(&["get", "values", "api"]).await?;
    assert_eq!(values, json!({"message": "from capstan"}));
    let manifest = helm.run(&["get", "manifest", "api"]).await?;
    assert!(
        manifest.contains("# Source: api/templates/cm.yaml"),
        "{manifest}"
    );
    assert_eq!(
        migration_records(&db).await?,
        records,
        "Helm found its migrations recorded and ran none"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_v3_sql_round_trip() {
    with_namespace("helm-v3-sql", |ns| async move {
        with_database("helm_v3", |db| helm_first(ns, db, "v3.22.0")).await;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_v4_sql_round_trip() {
    with_namespace("helm-v4-sql", |ns| async move {
        with_database("helm_v4", |db| helm_first(ns, db, "v4.3.1")).await;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_v3_reads_tables_capstan_created() {
    with_database("capstan_first_v3", |db| capstan_first(db, "v3.22.0")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_v4_reads_tables_capstan_created() {
    with_database("capstan_first_v4", |db| capstan_first(db, "v4.3.1")).await;
}
