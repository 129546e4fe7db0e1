//! `SqlStore` against a real PostgreSQL (a fresh database per test): Helm's schema and
//! migration records, every operation, the create compare-and-set and row-version races,
//! pruning, and unreadable rows skipped and reported by `list`.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use capstan_release::{
    ChartMetadata, Codec, ListFilter, Release, ReleaseStore, StateMask, Status, StoredChart,
};
use capstan_sql::schema::{MIGRATION_CUSTOM_LABELS, MIGRATION_INIT};
use capstan_sql::{MigrationOutcome, SqlOptions, SqlStore};
use capstan_testkit::postgres::{TestDatabase, with_database};
use tokio::sync::Barrier;
use tokio_postgres::Client;

fn release(ns: &str, name: &str, rev: u32, status: Status) -> Release {
    let mut r = Release::new(name, ns, rev, status);
    r.chart = Some(StoredChart {
        metadata: Some(ChartMetadata {
            name: "web".into(),
            version: format!("0.{rev}.0"),
            app_version: "1.25".into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    r.info.last_deployed = Some("2024-05-01T10:00:00.123456789+01:00".parse().unwrap());
    r.info.description = format!("revision {rev}");
    r.manifest = "---\n# Source: web/templates/cm.yaml\nkind: ConfigMap\n".into();
    r.config.insert("replicas".into(), serde_json::json!(rev));
    r
}

async fn store(db: &TestDatabase) -> anyhow::Result<SqlStore> {
    Ok(SqlStore::connect(db.url()).await?)
}

async fn insert_raw(
    client: &Client,
    key: &str,
    namespace: &str,
    name: &str,
    version: i32,
    status: &str,
    body: &str,
) -> anyhow::Result<()> {
    client
        .execute(
            "INSERT INTO releases_v1 (key, type, body, name, namespace, version, status, owner, createdat) \
             VALUES ($1, 'helm.sh/release.v1', $2, $3, $4, $5, $6, 'helm', 1)",
            &[&key, &body, &name, &namespace, &version, &status],
        )
        .await?;
    Ok(())
}

fn revisions(history: &[capstan_release::StoredRelease]) -> Vec<u32> {
    history.iter().map(|r| r.release.version).collect()
}

#[tokio::test]
async fn creates_helms_schema_and_records_helms_migrations() {
    with_database("sql-schema", |db| async move {
        let s = store(&db).await?;
        let report = s.ensure_schema().await?; // the second set-up: nothing to do
        assert_eq!(
            report.outcome(MIGRATION_INIT),
            Some(MigrationOutcome::AlreadyApplied)
        );
        let client = db.connect().await?;
        let ids: BTreeSet<String> = client
            .query("SELECT id FROM gorp_migrations", &[])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            ids,
            BTreeSet::from(["custom_labels".to_owned(), "init".to_owned()]),
            "exactly Helm's ids, nothing Helm's sql-migrate would call unknown"
        );
        let columns: Vec<(String, String, String)> = client
            .query(
                "SELECT column_name::text, data_type::text, is_nullable::text \
                 FROM information_schema.columns WHERE table_name = 'releases_v1' \
                 ORDER BY ordinal_position",
                &[],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let expected = [
            ("key", "character varying", "NO"),
            ("type", "character varying", "NO"),
            ("body", "text", "NO"),
            ("name", "character varying", "NO"),
            ("namespace", "character varying", "NO"),
            ("version", "integer", "NO"),
            ("status", "text", "NO"),
            ("owner", "text", "NO"),
            ("createdat", "integer", "NO"),
            ("modifiedat", "integer", "NO"),
        ];
        let expected: Vec<(String, String, String)> = expected
            .iter()
            .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
            .collect();
        assert_eq!(columns, expected);
        let labels: Vec<String> = client
            .query(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_name = 'custom_labels_v1' ORDER BY ordinal_position",
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(labels, ["releasekey", "releasenamespace", "key", "value"]);
        let rls: Vec<bool> = client
            .query(
                "SELECT relrowsecurity FROM pg_class \
                 WHERE relname IN ('releases_v1', 'custom_labels_v1')",
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(rls, [true, true], "row-level security on, as Helm sets it");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn adopts_tables_without_migration_records_and_refuses_foreign_ones() {
    with_database("sql-adopt", |db| async move {
        let client = db.connect().await?;
        client
            .batch_execute(
                "CREATE TABLE releases_v1 (key VARCHAR(90), type VARCHAR(64) NOT NULL, \
                 body TEXT NOT NULL, name VARCHAR(64) NOT NULL, namespace VARCHAR(64) NOT NULL, \
                 version INTEGER NOT NULL, status TEXT NOT NULL, owner TEXT NOT NULL, \
                 createdAt INTEGER NOT NULL, modifiedAt INTEGER NOT NULL DEFAULT 0, \
                 PRIMARY KEY(key, namespace));",
            )
            .await?;
        let s = store(&db).await?;
        let report = s.ensure_schema().await?;
        assert_eq!(
            report.outcome(MIGRATION_INIT),
            Some(MigrationOutcome::AlreadyApplied)
        );
        let n: i64 = client
            .query_one("SELECT count(*) FROM gorp_migrations", &[])
            .await?
            .get(0);
        assert_eq!(n, 2);
        drop(s);

        // The first set-up of this database adopted releases_v1 and created custom_labels_v1.
        client
            .batch_execute(
                "DROP TABLE gorp_migrations; DROP TABLE custom_labels_v1; \
                 CREATE TABLE custom_labels_v1 (releasekey text, value text);",
            )
            .await?;
        let err = SqlStore::connect(db.url()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "table custom_labels_v1 exists but is not Helm's: missing column(s) releasenamespace, key"
        );
        client
            .batch_execute(
                "DROP TABLE custom_labels_v1; DROP TABLE IF EXISTS gorp_migrations;
                 CREATE TABLE custom_labels_v1 (releaseKey VARCHAR(64), \
                 releaseNamespace VARCHAR(67), key VARCHAR(317), value VARCHAR(63));",
            )
            .await?;
        let s = store(&db).await?;
        let report = s.ensure_schema().await?;
        assert_eq!(
            report.outcome(MIGRATION_CUSTOM_LABELS),
            Some(MigrationOutcome::AlreadyApplied)
        );
        Ok(())
    })
    .await;

    with_database("sql-adopt-report", |db| async move {
        let client = db.connect().await?;
        client
            .batch_execute(
                "CREATE TABLE releases_v1 (key VARCHAR(90), type VARCHAR(64) NOT NULL, \
                 body TEXT NOT NULL, name VARCHAR(64) NOT NULL, namespace VARCHAR(64) NOT NULL, \
                 version INTEGER NOT NULL, status TEXT NOT NULL, owner TEXT NOT NULL, \
                 createdAt INTEGER NOT NULL, modifiedAt INTEGER NOT NULL DEFAULT 0, \
                 PRIMARY KEY(key, namespace));",
            )
            .await?;
        let s = SqlStore::connect_with(
            db.url(),
            SqlOptions {
                ensure_schema: false,
                ..SqlOptions::default()
            },
        )
        .await?;
        let report = s.ensure_schema().await?;
        assert_eq!(
            report.outcome(MIGRATION_INIT),
            Some(MigrationOutcome::Adopted)
        );
        assert_eq!(
            report.outcome(MIGRATION_CUSTOM_LABELS),
            Some(MigrationOutcome::Created)
        );
        // A table without Helm's primary key cannot give the create compare-and-set.
        client
            .batch_execute(
                "DROP TABLE gorp_migrations; \
                 ALTER TABLE releases_v1 DROP CONSTRAINT releases_v1_pkey;",
            )
            .await?;
        let err = s.ensure_schema().await.unwrap_err();
        assert!(
            err.to_string()
                .contains("no primary key or unique index on (key, namespace)"),
            "{err}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn create_get_and_already_exists() {
    with_database("sql-create", |db| async move {
        let s = store(&db).await?;
        assert_eq!(s.driver_name(), "sql");
        let mut r = release("apps", "web", 1, Status::Deployed);
        r.labels.insert("team".into(), "payments".into());
        let v = s.create(&r).await?;
        let got = s.get("apps", "web", 1).await?;
        assert_eq!(got.release, r);
        assert_eq!(got.version, v);

        // The row is what Helm writes: same columns, same codec.
        let client = db.connect().await?;
        let row = client
            .query_one(
                "SELECT type::text, body, name::text, version, status, owner, createdat, modifiedat \
                 FROM releases_v1 WHERE key = 'sh.helm.release.v1.web.v1' AND namespace = 'apps'",
                &[],
            )
            .await?;
        assert_eq!(row.get::<_, String>(0), "helm.sh/release.v1");
        let decoded = Codec::new().decode("x", row.get::<_, String>(1).as_bytes())?;
        assert_eq!(decoded.name, "web");
        assert_eq!(decoded.namespace, "apps");
        assert_eq!(row.get::<_, String>(2), "web");
        assert_eq!(row.get::<_, i32>(3), 1);
        assert_eq!(row.get::<_, String>(4), "deployed");
        assert_eq!(row.get::<_, String>(5), "helm");
        assert!(row.get::<_, i32>(6) > 1_700_000_000);
        assert_eq!(row.get::<_, i32>(7), 0, "Helm leaves modifiedAt 0 on create");
        let labels: Vec<(String, String)> = client
            .query(
                "SELECT key::text, value::text FROM custom_labels_v1 \
                 WHERE releasekey = 'sh.helm.release.v1.web.v1' AND releasenamespace = 'apps'",
                &[],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(labels, [("team".to_owned(), "payments".to_owned())]);

        let err = s.create(&r).await.unwrap_err();
        assert!(err.is_already_exists(), "{err:?}");
        assert_eq!(
            err.to_string(),
            "release \"web\" revision 1 in namespace \"apps\" already exists"
        );
        // The losing create changed nothing.
        assert_eq!(s.get("apps", "web", 1).await?.version, v);

        // Same name in another namespace is another release; "" means default.
        s.create(&release("", "web", 1, Status::Deployed)).await?;
        assert_eq!(s.get("default", "web", 1).await?.release.namespace, "default");
        assert!(s.get("", "web", 1).await.is_ok());

        // What Helm's storage refuses, refused before any I/O.
        assert!(matches!(
            s.create(&release("apps", "web", 0, Status::Deployed)).await,
            Err(capstan_release::Error::InvalidRevision { .. })
        ));
        let mut bad = release("apps", "web", 2, Status::Deployed);
        bad.labels.insert("status".into(), "x".into());
        assert!(matches!(
            s.create(&bad).await,
            Err(capstan_release::Error::ReservedLabel { .. })
        ));

        let err = s.get("apps", "web", 9).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "release \"web\" revision 9 in namespace \"apps\" not found"
        );
        assert!(s.history("apps", "nothing").await?.is_empty());
        assert!(s.latest("apps", "nothing").await.unwrap_err().is_not_found());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn update_needs_the_current_row_version() {
    with_database("sql-update", |db| async move {
        let s = store(&db).await?;
        let client = db.connect().await?;
        let mut r = release("apps", "web", 1, Status::PendingInstall);
        r.labels.insert("team".into(), "a".into());
        let v1 = s.create(&r).await?;

        r.mark_deployed(false, None);
        r.labels.clear();
        r.labels.insert("tier".into(), "web".into());
        let v2 = s.update(&r, &v1).await?;
        assert_ne!(v1, v2);
        let got = s.get("apps", "web", 1).await?;
        assert_eq!(got.release, r, "status, body and labels replaced");
        assert_eq!(got.version, v2);
        let (created, modified): (i32, i32) = {
            let row = client
                .query_one("SELECT createdat, modifiedat FROM releases_v1", &[])
                .await?;
            (row.get(0), row.get(1))
        };
        assert!(
            created > 0 && modified >= created,
            "createdAt kept, modifiedAt set"
        );

        // A stale version is refused and changes nothing.
        let mut stale = r.clone();
        stale.info.description = "stale writer".into();
        let err = s.update(&stale, &v1).await.unwrap_err();
        assert!(err.is_conflict(), "{err:?}");
        assert!(
            err.to_string().starts_with(
                "release \"web\" revision 1 in namespace \"apps\" was changed concurrently"
            ),
            "{err}"
        );
        assert_eq!(s.get("apps", "web", 1).await?.release, r);

        // Even writing back identical content makes a new version.
        let v3 = s.update(&r, &v2).await?;
        assert_ne!(v2, v3);

        // A write by Helm (an unconditional UPDATE, here with the very same body) changes the
        // version too, so a capstan writer that read before it gets a conflict.
        client
            .execute("UPDATE releases_v1 SET modifiedat = modifiedat", &[])
            .await?;
        assert!(s.update(&r, &v3).await.unwrap_err().is_conflict());
        let v4 = s.get("apps", "web", 1).await?.version;
        // So does a change of the custom labels alone (they live in another table).
        client
            .execute("UPDATE custom_labels_v1 SET value = 'api'", &[])
            .await?;
        let err = s.update(&r, &v4).await.unwrap_err();
        assert!(err.is_conflict(), "{err:?}");
        let now = s.get("apps", "web", 1).await?;
        assert_eq!(now.release.labels["tier"], "api");
        s.update(&r, &now.version).await?;

        // Update never creates.
        let missing = release("apps", "web", 7, Status::Deployed);
        assert!(s.update(&missing, &v1).await.unwrap_err().is_not_found());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn delete_history_latest_and_last_deployed() {
    with_database("sql-delete", |db| async move {
        let s = store(&db).await?;
        let mut versions = Vec::new();
        for (rev, status) in [
            (1, Status::Superseded),
            (2, Status::Deployed),
            (3, Status::Failed),
        ] {
            let mut r = release("apps", "web", rev, status);
            r.labels.insert("rev".into(), rev.to_string());
            versions.push(s.create(&r).await?);
        }
        s.create(&release("apps", "other", 1, Status::Deployed))
            .await?;
        s.create(&release("elsewhere", "web", 5, Status::Deployed))
            .await?;

        let history = s.history("apps", "web").await?;
        assert_eq!(revisions(&history), [1, 2, 3]);
        assert_eq!(history[1].release.labels["rev"], "2");
        assert_eq!(history[2].version, versions[2]);
        assert_eq!(s.latest("apps", "web").await?.release.version, 3);
        assert_eq!(s.last_deployed("apps", "web").await?.release.version, 2);
        let err = s.last_deployed("apps", "none").await.unwrap_err();
        assert!(err.is_no_deployed_releases());

        // A stale version protects the record.
        let r1 = s.get("apps", "web", 1).await?;
        let mut changed = r1.release.clone();
        changed.info.description = "changed".into();
        s.update(&changed, &r1.version).await?;
        let err = s
            .delete("apps", "web", 1, Some(&r1.version))
            .await
            .unwrap_err();
        assert!(err.is_conflict(), "{err:?}");
        assert!(s.get("apps", "web", 1).await.is_ok());

        let current = s.get("apps", "web", 1).await?.version;
        let deleted = s.delete("apps", "web", 1, Some(&current)).await?;
        assert_eq!(deleted.info.description, "changed");
        assert_eq!(deleted.labels["rev"], "1");
        let deleted = s.delete("apps", "web", 3, None).await?;
        assert_eq!(deleted.version, 3);
        assert!(s.get("apps", "web", 3).await.unwrap_err().is_not_found());
        assert!(
            s.delete("apps", "web", 3, None)
                .await
                .unwrap_err()
                .is_not_found()
        );
        assert_eq!(revisions(&s.history("apps", "web").await?), [2]);
        let client = db.connect().await?;
        let labels: i64 = client
            .query_one(
                "SELECT count(*) FROM custom_labels_v1 WHERE releasenamespace = 'apps' \
                 AND releasekey IN ('sh.helm.release.v1.web.v1', 'sh.helm.release.v1.web.v3')",
                &[],
            )
            .await?
            .get(0);
        assert_eq!(labels, 0, "custom labels go with their row");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn list_applies_helms_filters() {
    with_database("sql-list", |db| async move {
        let s = store(&db).await?;
        for (ns, name, rev, status) in [
            ("a", "web", 1, Status::Superseded),
            ("a", "web", 2, Status::Deployed),
            ("a", "db", 1, Status::Superseded),
            ("a", "db", 2, Status::Failed),
            ("b", "web", 1, Status::Deployed),
            ("b", "cache", 1, Status::Uninstalled),
            ("b", "queue", 2, Status::Deployed),
            ("b", "queue", 3, Status::PendingUpgrade),
        ] {
            let mut r = release(ns, name, rev, status);
            if name == "web" {
                r.labels.insert("team".into(), format!("team-{ns}"));
            }
            s.create(&r).await?;
        }
        let rows = |l: &capstan_release::Listing<capstan_release::StoredRelease>| {
            l.items
                .iter()
                .map(|r| {
                    format!(
                        "{}/{}.v{}",
                        r.release.namespace, r.release.name, r.release.version
                    )
                })
                .collect::<Vec<_>>()
        };
        let all = s.list(&ListFilter::all_namespaces()).await?;
        assert!(all.unreadable.is_empty());
        assert_eq!(
            rows(&all),
            [
                "b/cache.v1",
                "a/db.v2",
                "b/queue.v3",
                "a/web.v2",
                "b/web.v1"
            ]
        );
        assert_eq!(
            rows(&s.list(&ListFilter::in_namespace("a")).await?),
            ["a/db.v2", "a/web.v2"]
        );
        let deployed = ListFilter::all_namespaces().with_states(StateMask::DEPLOYED);
        assert_eq!(rows(&s.list(&deployed).await?), ["a/web.v2", "b/web.v1"]);
        let pending = ListFilter::all_namespaces().with_states(StateMask::PENDING);
        assert_eq!(rows(&s.list(&pending).await?), ["b/queue.v3"]);
        let superseded = ListFilter::all_namespaces().with_states(StateMask::SUPERSEDED);
        assert_eq!(rows(&s.list(&superseded).await?), ["a/db.v1", "a/web.v1"]);
        let regex = ListFilter::all_namespaces().with_name_filter("^we")?;
        assert_eq!(rows(&s.list(&regex).await?), ["a/web.v2", "b/web.v1"]);
        let selector = ListFilter::all_namespaces().with_label("team", "team-b");
        let got = s.list(&selector).await?;
        assert_eq!(rows(&got), ["b/web.v1"]);
        assert_eq!(got.items[0].release.labels["team"], "team-b");

        let summaries = s.list_summaries(&ListFilter::in_namespace("a")).await?;
        assert!(summaries.unreadable.is_empty());
        let web = &summaries.items[1];
        assert_eq!(
            (web.name.as_str(), web.namespace.as_str(), web.revision),
            ("web", "a", 2)
        );
        assert_eq!(web.status, Status::Deployed);
        assert_eq!(web.chart.as_deref(), Some("web-0.2.0"));
        assert_eq!(web.app_version.as_deref(), Some("1.25"));
        assert_eq!(
            web.updated.map(|t| t.to_string()).as_deref(),
            Some("2024-05-01T10:00:00.123456789+01:00")
        );
        assert_eq!(web.labels["team"], "team-a");
        assert!(
            s.list(&ListFilter::in_namespace("none"))
                .await?
                .items
                .is_empty()
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn prune_keeps_the_latest_deployed_revision() {
    with_database("sql-prune", |db| async move {
        let s = store(&db).await?;
        for rev in 1..=12 {
            let status = if rev == 3 {
                Status::Deployed
            } else {
                Status::Superseded
            };
            s.create(&release("ns", "web", rev, status)).await?;
        }
        let next = release("ns", "web", 13, Status::PendingUpgrade);
        s.create_with_history_limit(&next, 10).await?;
        let history = revisions(&s.history("ns", "web").await?);
        assert_eq!(history, [3, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
        assert!(s.prune_history("ns", "web", 0).await?.is_empty());
        assert_eq!(
            s.prune_history("ns", "web", 3).await?,
            [5, 6, 7, 8, 9, 10, 11, 12]
        );
        assert_eq!(revisions(&s.history("ns", "web").await?), [3, 13]);
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_revision_have_one_winner() {
    with_database("sql-race-create", |db| async move {
        let s = Arc::new(
            SqlStore::connect_with(
                db.url(),
                SqlOptions {
                    max_connections: 16,
                    ..SqlOptions::default()
                },
            )
            .await?,
        );
        let writers = 12;
        for revision in 1..=5u32 {
            let barrier = Arc::new(Barrier::new(writers));
            let tasks: Vec<_> = (0..writers)
                .map(|i| {
                    let (s, barrier) = (Arc::clone(&s), Arc::clone(&barrier));
                    tokio::spawn(async move {
                        let mut r = release("ns", "web", revision, Status::PendingUpgrade);
                        r.info.description = format!("writer {i}");
                        barrier.wait().await;
                        s.create(&r).await.map(|_| i)
                    })
                })
                .collect();
            let mut winners = Vec::new();
            for t in tasks {
                match t.await? {
                    Ok(i) => winners.push(i),
                    Err(e) => assert!(e.is_already_exists(), "{e:?}"),
                }
            }
            assert_eq!(winners.len(), 1, "revision {revision}: {winners:?}");
            let stored = s.get("ns", "web", revision).await?;
            assert_eq!(
                stored.release.info.description,
                format!("writer {}", winners[0])
            );
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_with_one_version_have_one_winner() {
    with_database("sql-race-update", |db| async move {
        let s = Arc::new(store(&db).await?);
        let writers = 8;
        for round in 0..5 {
            let name = format!("web{round}");
            let v = s
                .create(&release("ns", &name, 1, Status::PendingUpgrade))
                .await?;
            let barrier = Arc::new(Barrier::new(writers));
            let tasks: Vec<_> = (0..writers)
                .map(|i| {
                    let (s, barrier, v, name) = (
                        Arc::clone(&s),
                        Arc::clone(&barrier),
                        v.clone(),
                        name.clone(),
                    );
                    tokio::spawn(async move {
                        let mut r = release("ns", &name, 1, Status::Deployed);
                        r.info.description = format!("writer {i}");
                        barrier.wait().await;
                        s.update(&r, &v).await.map(|_| i)
                    })
                })
                .collect();
            let mut winners = Vec::new();
            for t in tasks {
                match t.await? {
                    Ok(i) => winners.push(i),
                    Err(e) => assert!(e.is_conflict(), "{e:?}"),
                }
            }
            assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
            let stored = s.get("ns", &name, 1).await?;
            assert_eq!(
                stored.release.info.description,
                format!("writer {}", winners[0])
            );
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_modify_write_loses_no_update() {
    with_database("sql-race-rmw", |db| async move {
        let s = Arc::new(store(&db).await?);
        s.create(&release("ns", "web", 1, Status::Deployed)).await?;
        let (writers, per_writer) = (6, 15);
        let barrier = Arc::new(Barrier::new(writers));
        let tasks: Vec<_> = (0..writers)
            .map(|t| {
                let (s, barrier) = (Arc::clone(&s), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    let mut conflicts = 0;
                    for i in 0..per_writer {
                        loop {
                            let current = s.get("ns", "web", 1).await?;
                            let mut next = current.release.clone();
                            next.info.description.push_str(&format!("[{t}:{i}]"));
                            match s.update(&next, &current.version).await {
                                Ok(_) => break,
                                Err(e) if e.is_conflict() => conflicts += 1,
                                Err(e) => return Err(anyhow::Error::from(e)),
                            }
                        }
                    }
                    anyhow::Ok(conflicts)
                })
            })
            .collect();
        let mut conflicts = 0;
        for t in tasks {
            conflicts += t.await??;
        }
        let description = s.get("ns", "web", 1).await?.release.info.description;
        for t in 0..writers {
            for i in 0..per_writer {
                assert!(
                    description.contains(&format!("[{t}:{i}]")),
                    "lost update {t}:{i}"
                );
            }
        }
        assert_eq!(description.matches('[').count(), writers * per_writer);
        eprintln!("{conflicts} conflicts retried");
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_next_revision_creates_keep_history_contiguous() {
    with_database("sql-race-next", |db| async move {
        let s = Arc::new(store(&db).await?);
        s.create(&release("ns", "web", 1, Status::Deployed)).await?;
        let (writers, per_writer) = (4, 10);
        let barrier = Arc::new(Barrier::new(writers));
        let tasks: Vec<_> = (0..writers)
            .map(|_| {
                let (s, barrier) = (Arc::clone(&s), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    let mut created = 0;
                    while created < per_writer {
                        let latest = s.latest("ns", "web").await?;
                        let next =
                            release("ns", "web", latest.release.version + 1, Status::Deployed);
                        match s.create(&next).await {
                            Ok(_) => created += 1,
                            Err(e) if e.is_already_exists() => {}
                            Err(e) => return Err(anyhow::Error::from(e)),
                        }
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        for t in tasks {
            t.await??;
        }
        let expected: Vec<u32> = (1..=(1 + writers * per_writer) as u32).collect();
        assert_eq!(revisions(&s.history("ns", "web").await?), expected);
        Ok(())
    })
    .await;
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn list_skips_and_reports_unreadable_rows() {
    with_database("sql-bad-rows", |db| async move {
        // A small decode limit makes a gzip bomb cheap to build.
        let s = SqlStore::connect_with(
            db.url(),
            SqlOptions {
                codec: Codec::with_max_decoded_bytes(1 << 20),
                ..SqlOptions::default()
            },
        )
        .await?;
        let client = db.connect().await?;
        // Every bad release has a good revision 1 under a bad revision 2.
        let bad: Vec<(&str, String, &str)> = {
            let good_json = serde_json::to_vec(&release("ns", "truncated", 2, Status::Deployed))?;
            let full = gzip(&good_json);
            let truncated = STANDARD.encode(&full[..full.len() / 2]);
            let bomb = STANDARD.encode(gzip(&vec![b' '; 2 << 20]));
            let missing_fields = STANDARD.encode(gzip(
                br#"{"name":"fields","version":2,"info":{"status":5}}"#,
            ));
            let wrong_release =
                Codec::new().encode("x", &release("ns", "someone-else", 2, Status::Deployed))?;
            vec![
                ("base64", "!!not base64!!".to_owned(), "not valid base64"),
                (
                    "notgzip",
                    STANDARD.encode(b"\x00\x01binary junk"),
                    "not a valid release record",
                ),
                ("truncated", truncated, "gzip data is corrupt or truncated"),
                (
                    "bomb",
                    bomb,
                    "record expands past the limit of 1048576 bytes",
                ),
                ("fields", missing_fields, "not a valid release record"),
                (
                    "wrongname",
                    wrong_release,
                    "holds release \"someone-else\" revision 2",
                ),
            ]
        };
        for (name, body, _) in &bad {
            s.create(&release("ns", name, 1, Status::Superseded))
                .await?;
            let key = format!("sh.helm.release.v1.{name}.v2");
            insert_raw(&client, &key, "ns", name, 2, "deployed", body).await?;
        }
        // A row whose key is not a release key, and one whose columns disagree with its key.
        let good_body = Codec::new().encode("x", &release("ns", "columns", 1, Status::Deployed))?;
        insert_raw(
            &client, "garbage", "ns", "garbage", 1, "deployed", &good_body,
        )
        .await?;
        insert_raw(
            &client,
            "sh.helm.release.v1.columns.v1",
            "ns",
            "other",
            1,
            "deployed",
            &good_body,
        )
        .await?;
        s.create(&release("ns", "fine", 1, Status::Deployed))
            .await?;

        let listing = s.list(&ListFilter::in_namespace("ns")).await?;
        let shown: Vec<(String, u32)> = listing
            .items
            .iter()
            .map(|r| (r.release.name.clone(), r.release.version))
            .collect();
        let mut expected: Vec<(String, u32)> =
            bad.iter().map(|(n, _, _)| ((*n).to_owned(), 1)).collect();
        expected.push(("fine".into(), 1));
        expected.sort();
        assert_eq!(
            shown, expected,
            "each release shows its newest readable revision"
        );
        let reported: Vec<(String, String)> = listing
            .unreadable
            .iter()
            .map(|u| (u.object.clone(), u.error.to_string()))
            .collect();
        assert_eq!(reported.len(), bad.len() + 2, "{reported:#?}");
        for (name, _, message) in &bad {
            let key = format!("sh.helm.release.v1.{name}.v2");
            let (_, error) = reported
                .iter()
                .find(|(object, _)| *object == key)
                .unwrap_or_else(|| panic!("{key} not reported: {reported:#?}"));
            assert!(error.contains(&key), "the error names the row: {error}");
            assert!(error.contains(message), "{key}: {error}");
            // get names the row as well.
            let err = s.get("ns", name, 2).await.unwrap_err();
            assert!(err.to_string().contains(&key), "{err}");
            // History skips and reports it; the latest readable revision is 1; the columns
            // list both revisions without decoding.
            let history = s.read_history("ns", name).await?;
            let readable: Vec<u32> = history.records.iter().map(|r| r.release.version).collect();
            assert_eq!(readable, [1], "{name}");
            assert_eq!(history.unreadable.len(), 1, "{name}");
            assert_eq!(history.unreadable[0].object, key);
            assert_eq!(history.highest_revision, Some(2));
            assert_eq!(s.latest("ns", name).await?.release.version, 1);
            let revisions: Vec<u32> = s
                .revisions("ns", name)
                .await?
                .items
                .iter()
                .map(|m| m.revision)
                .collect();
            assert_eq!(revisions, [1, 2], "{name}");
        }
        for key in ["garbage", "sh.helm.release.v1.columns.v1"] {
            let u = listing.unreadable.iter().find(|u| u.object == key).unwrap();
            assert_eq!(u.namespace, "ns");
            assert!(u.error.to_string().contains(key), "{}", u.error);
            assert!(u.error.is_unreadable_record());
        }

        // Summaries skip and report the same rows.
        let summaries = s.list_summaries(&ListFilter::in_namespace("ns")).await?;
        assert_eq!(summaries.items.len(), expected.len());
        assert_eq!(summaries.unreadable.len(), bad.len() + 2);
        // Filtering by name decodes only what it shows: the bad rows of other releases are
        // neither decoded nor reported (rows whose key cannot be read at all always are).
        let only_fine = ListFilter::in_namespace("ns").with_name_filter("^fine$")?;
        let listing = s.list(&only_fine).await?;
        assert_eq!(listing.items.len(), 1);
        let objects: Vec<&str> = listing
            .unreadable
            .iter()
            .map(|u| u.object.as_str())
            .collect();
        assert_eq!(objects, ["garbage", "sh.helm.release.v1.columns.v1"]);
        // Purge deletes every row of a release, the unreadable one included.
        assert_eq!(s.purge("ns", "base64").await?, [1, 2]);
        assert!(s.revisions("ns", "base64").await?.items.is_empty());
        assert_eq!(
            client
                .query_one(
                    "SELECT count(*) FROM releases_v1 WHERE name = 'base64'",
                    &[]
                )
                .await?
                .get::<_, i64>(0),
            0
        );
        Ok(())
    })
    .await;
}
