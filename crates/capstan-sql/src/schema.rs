//! Helm's tables and the migration bookkeeping shared with Helm.
//!
//! Helm's driver creates its tables with sql-migrate: two migrations, ids [`MIGRATION_INIT`]
//! (`releases_v1`) and [`MIGRATION_CUSTOM_LABELS`] (`custom_labels_v1`), recorded in sql-migrate's
//! table [`MIGRATIONS_TABLE`] (`gorp_migrations(id, applied_at)`). On start Helm skips all set-up
//! when both ids are recorded; otherwise sql-migrate runs the missing ones, and then refuses a
//! database that records an id it does not know ("unknown migration in database").
//!
//! capstan keeps that bookkeeping exactly, so the two can share a database in either order:
//!
//! - capstan first: it creates the tables with Helm's definitions (same columns, types, primary
//!   key, indexes, grant and row-level security) and records `init` and `custom_labels`, so Helm
//!   finds both applied and touches nothing.
//! - Helm first: both ids are recorded; capstan checks the tables have the columns and key it
//!   needs and changes nothing.
//! - Tables present but not recorded (made by hand, or the bookkeeping table was dropped):
//!   capstan adopts them after the same check and records the ids, so Helm does not try to
//!   create them again (which would fail).
//!
//! capstan never records any other id (Helm would then fail with "unknown migration in
//! database"), and never alters Helm's tables. All of it runs in one transaction under a
//! transaction-level advisory lock, so concurrent capstan processes set up once.

use tokio_postgres::{Client, GenericClient};

use crate::error::{Error, Result};

/// Helm's release table.
pub const RELEASES_TABLE: &str = "releases_v1";
/// Helm's custom-labels table.
pub const CUSTOM_LABELS_TABLE: &str = "custom_labels_v1";
/// sql-migrate's bookkeeping table, as Helm uses it (the default name, default schema).
pub const MIGRATIONS_TABLE: &str = "gorp_migrations";
/// Helm's migration that creates [`RELEASES_TABLE`].
pub const MIGRATION_INIT: &str = "init";
/// Helm's migration that creates [`CUSTOM_LABELS_TABLE`].
pub const MIGRATION_CUSTOM_LABELS: &str = "custom_labels";
/// Every migration id Helm's driver knows, in sql-migrate's order (ids sort as strings).
pub const MIGRATION_IDS: [&str; 2] = [MIGRATION_CUSTOM_LABELS, MIGRATION_INIT];

/// An arbitrary constant naming capstan's set-up lock (`pg_advisory_xact_lock`).
const SETUP_LOCK: i64 = 0x6361_7073_7461_6e31; // "capstan1"

/// sql-migrate's table, as gorp creates it for PostgreSQL.
const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS gorp_migrations \
     (id text NOT NULL PRIMARY KEY, applied_at timestamp with time zone)";

/// Helm's `init` migration: the release table. Identifiers are unquoted, as in Helm, so
/// PostgreSQL folds `createdAt` to `createdat`; every query here uses the folded names.
const CREATE_RELEASES: &[&str] = &[
    "CREATE TABLE releases_v1 (
        key VARCHAR(90),
        type VARCHAR(64) NOT NULL,
        body TEXT NOT NULL,
        name VARCHAR(64) NOT NULL,
        namespace VARCHAR(64) NOT NULL,
        version INTEGER NOT NULL,
        status TEXT NOT NULL,
        owner TEXT NOT NULL,
        createdAt INTEGER NOT NULL,
        modifiedAt INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY(key, namespace)
    )",
    "CREATE INDEX ON releases_v1 (key, namespace)",
    "CREATE INDEX ON releases_v1 (version)",
    "CREATE INDEX ON releases_v1 (status)",
    "CREATE INDEX ON releases_v1 (owner)",
    "CREATE INDEX ON releases_v1 (createdAt)",
    "CREATE INDEX ON releases_v1 (modifiedAt)",
    "GRANT ALL ON releases_v1 TO PUBLIC",
    "ALTER TABLE releases_v1 ENABLE ROW LEVEL SECURITY",
];

/// Helm's `custom_labels` migration. The key and value lengths are Kubernetes' label limits
/// (253 + 1 + 63 for a prefixed key, 63 for a value).
const CREATE_CUSTOM_LABELS: &[&str] = &[
    "CREATE TABLE custom_labels_v1 (
        releaseKey VARCHAR(64),
        releaseNamespace VARCHAR(67),
        key VARCHAR(317),
        value VARCHAR(63)
    )",
    "CREATE INDEX ON custom_labels_v1 (releaseKey, releaseNamespace)",
    "GRANT ALL ON custom_labels_v1 TO PUBLIC",
    "ALTER TABLE custom_labels_v1 ENABLE ROW LEVEL SECURITY",
];

const RELEASES_COLUMNS: [&str; 10] = [
    "key",
    "type",
    "body",
    "name",
    "namespace",
    "version",
    "status",
    "owner",
    "createdat",
    "modifiedat",
];
const CUSTOM_LABELS_COLUMNS: [&str; 4] = ["releasekey", "releasenamespace", "key", "value"];

/// What [`ensure_schema`](crate::SqlStore::ensure_schema) did to each of Helm's migrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationOutcome {
    /// Already recorded (by Helm or an earlier capstan); the table was checked.
    AlreadyApplied,
    /// The table did not exist: created with Helm's definition and recorded.
    Created,
    /// The table existed without a record: checked, adopted and recorded.
    Adopted,
}

/// The outcome of the set-up, per migration id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaReport {
    /// `(id, outcome)` for each of [`MIGRATION_IDS`], in that order.
    pub migrations: Vec<(&'static str, MigrationOutcome)>,
}

impl SchemaReport {
    /// The outcome of one migration.
    pub fn outcome(&self, id: &str) -> Option<MigrationOutcome> {
        self.migrations
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, o)| *o)
    }
}

fn step(step: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Error {
    let step = step.into();
    move |source| Error::Migrate { step, source }
}

/// Creates or adopts Helm's tables and records Helm's migration ids. See the module docs.
pub(crate) async fn ensure_schema(client: &mut Client) -> Result<SchemaReport> {
    let tx = client
        .transaction()
        .await
        .map_err(step("beginning the set-up transaction"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SETUP_LOCK])
        .await
        .map_err(step("taking the set-up lock"))?;
    tx.batch_execute(CREATE_MIGRATIONS_TABLE)
        .await
        .map_err(step(format!("creating {MIGRATIONS_TABLE}")))?;
    let recorded: Vec<String> = tx
        .query("SELECT id FROM gorp_migrations", &[])
        .await
        .map_err(step(format!("reading {MIGRATIONS_TABLE}")))?
        .iter()
        .map(|row| row.get(0))
        .collect();

    let mut migrations = Vec::new();
    for id in MIGRATION_IDS {
        let (table, ddl, columns): (&'static str, &[&str], &[&str]) = match id {
            MIGRATION_INIT => (RELEASES_TABLE, CREATE_RELEASES, &RELEASES_COLUMNS),
            _ => (
                CUSTOM_LABELS_TABLE,
                CREATE_CUSTOM_LABELS,
                &CUSTOM_LABELS_COLUMNS,
            ),
        };
        let exists = table_exists(&tx, table).await?;
        let outcome = if recorded.iter().any(|r| r == id) {
            if !exists {
                return Err(Error::IncompatibleSchema {
                    table,
                    reason: format!(
                        "migration {id:?} is recorded in {MIGRATIONS_TABLE} but the table is missing"
                    ),
                });
            }
            MigrationOutcome::AlreadyApplied
        } else if exists {
            MigrationOutcome::Adopted
        } else {
            for statement in ddl {
                tx.batch_execute(statement)
                    .await
                    .map_err(step(format!("creating {table}")))?;
            }
            MigrationOutcome::Created
        };
        check_columns(&tx, table, columns).await?;
        if outcome != MigrationOutcome::AlreadyApplied {
            tx.execute(
                "INSERT INTO gorp_migrations (id, applied_at) VALUES ($1, now()) \
                 ON CONFLICT (id) DO NOTHING",
                &[&id],
            )
            .await
            .map_err(step(format!("recording migration {id:?}")))?;
        }
        tracing::debug!(migration = id, table, ?outcome, "release table ready");
        migrations.push((id, outcome));
    }
    check_release_key(&tx).await?;
    tx.commit()
        .await
        .map_err(step("committing the set-up transaction"))?;
    Ok(SchemaReport { migrations })
}

async fn table_exists(client: &impl GenericClient, table: &str) -> Result<bool> {
    let row = client
        .query_one("SELECT to_regclass($1)::text IS NOT NULL", &[&table])
        .await
        .map_err(step(format!("looking for table {table}")))?;
    Ok(row.get(0))
}

async fn check_columns(
    client: &impl GenericClient,
    table: &'static str,
    required: &[&str],
) -> Result<()> {
    let rows = client
        .query(
            "SELECT a.attname::text FROM pg_attribute a \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
            &[&table],
        )
        .await
        .map_err(step(format!("reading the columns of {table}")))?;
    let present: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| !present.iter().any(|p| p == c))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::IncompatibleSchema {
            table,
            reason: format!("missing column(s) {}", missing.join(", ")),
        })
    }
}

/// The create compare-and-set relies on a unique key over (key, namespace), Helm's primary key.
async fn check_release_key(client: &impl GenericClient) -> Result<()> {
    let row = client
        .query_one(
            "SELECT EXISTS (
                SELECT 1 FROM pg_index i
                WHERE i.indrelid = to_regclass('releases_v1') AND i.indisunique
                  AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
                       FROM pg_attribute a
                       WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey))
                      = ARRAY['key', 'namespace'])",
            &[],
        )
        .await
        .map_err(step("reading the keys of releases_v1"))?;
    if row.get(0) {
        Ok(())
    } else {
        Err(Error::IncompatibleSchema {
            table: RELEASES_TABLE,
            reason: "no primary key or unique index on (key, namespace)".into(),
        })
    }
}
