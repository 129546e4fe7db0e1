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
//! The shared steps live in `capstan_testkit::helm`; custom labels and migrations are checked
//! here. The reference binaries are built by `cargo xtask helm` under `target/helm/` (run there
//! when missing).

use anyhow::Context as _;
use capstan_release::{ChartMetadata, GoTime, Release, ReleaseStore, Status, StoredChart};
use capstan_sql::{MigrationOutcome, SqlStore};
use capstan_testkit::helm::{self, Helm, text};
use capstan_testkit::postgres::{TestDatabase, with_database};
use capstan_testkit::{TestNamespace, with_namespace};
use serde_json::json;

/// Helm with `HELM_DRIVER=sql` on `db`, in `namespace`.
fn sql_helm(version: &'static str, db: &TestDatabase, namespace: &str) -> anyhow::Result<Helm> {
    Ok(Helm::new(version, "sql", namespace)?.env("HELM_DRIVER_SQL_CONNECTION_STRING", db.url()))
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

async fn helm_first(
    ns: TestNamespace,
    db: TestDatabase,
    version: &'static str,
) -> anyhow::Result<()> {
    let helm = sql_helm(version, &db, ns.name())?;
    helm::install_and_upgrade(&helm, &["--labels", "team=payments"]).await?;
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

    helm::check_helm_written(&store, ns.name()).await?;
    let v1 = store.get(ns.name(), "web", 1).await?.release;
    assert_eq!(v1.labels.get("team").map(String::as_str), Some("payments"));
    helm::write_revisions(&store, ns.name(), 10).await?;
    helm::check_capstan_written(&helm, ns.name()).await?;
    helm::rollback_to_capstan_revision(&helm, &store, &ns).await?;
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

    let helm = sql_helm(version, &db, "apps")?;
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
