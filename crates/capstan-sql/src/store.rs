//! [`SqlStore`]: the [`ReleaseStore`] on Helm's PostgreSQL tables.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr as _;
use std::time::{SystemTime, UNIX_EPOCH};

use capstan_release::storage::{self, LABEL_NAME, LABEL_OWNER, LABEL_STATUS, LABEL_VERSION};
use capstan_release::{
    BoxFuture, Codec, DEFAULT_NAMESPACE, Error as ReleaseError, History, ListFilter, Listable,
    Listing, ObjectKey, RecordVersion, Release, ReleaseStore, ReleaseSummary,
    Result as ReleaseResult, RevisionMeta, Status, StoredRelease, Unreadable, object_name,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Config, GenericClient, Row};

use crate::error::{Error, Result};
use crate::pool::{Pool, Pooled};
use crate::schema::{self, SchemaReport};

/// The environment variable holding the connection string, as in Helm.
pub const CONNECTION_STRING_ENV: &str = "HELM_DRIVER_SQL_CONNECTION_STRING";
/// The driver's name (`HELM_DRIVER=sql`).
pub const DRIVER_NAME: &str = "sql";
/// The `type` column of every release row, as Helm writes it.
pub const RELEASE_TYPE: &str = storage::SECRET_TYPE;
/// The default number of pooled connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 8;

/// The custom labels of row `r`, as two arrays sorted by key (NULL when there are none).
const LABELS_JOIN: &str = "LEFT JOIN LATERAL (
        SELECT array_agg(c.key::text ORDER BY c.key, c.value) AS lkeys,
               array_agg(c.value::text ORDER BY c.key, c.value) AS lvals
        FROM custom_labels_v1 c
        WHERE c.releasekey = r.key AND c.releasenamespace = r.namespace AND c.key IS NOT NULL
    ) l ON true";

/// The row version of `r`: the id of the transaction that wrote this version of the row
/// (`xmin`, new on every UPDATE by anyone), then a digest of everything stored for the record,
/// custom labels included (they live in another table, which `xmin` does not cover). md5 is
/// only a change detector here: whoever could forge a collision could write the row directly.
const ROW_VERSION: &str = "r.xmin::text || '-' || md5(concat_ws(chr(31),
        r.type, r.name, r.version::text, r.status, r.owner, r.createdat::text,
        r.modifiedat::text, coalesce(l.lkeys::text, ''), coalesce(l.lvals::text, ''), r.body))";

/// Options for [`SqlStore::connect_with`].
#[derive(Clone, Debug)]
pub struct SqlOptions {
    /// At most this many connections at once (default [`DEFAULT_MAX_CONNECTIONS`]).
    pub max_connections: usize,
    /// The payload codec (its decompression bound applies to every read).
    pub codec: Codec,
    /// Create or adopt Helm's tables on connect, as Helm does (default true).
    pub ensure_schema: bool,
}

impl Default for SqlOptions {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            codec: Codec::new(),
            ensure_schema: true,
        }
    }
}

/// Releases in PostgreSQL, in Helm's `releases_v1` and `custom_labels_v1` tables
/// (`HELM_DRIVER=sql`). See the crate docs for the schema, migrations and preconditions.
pub struct SqlStore {
    pool: Pool,
    codec: Codec,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("target", &describe(self.pool.config()))
            .finish_non_exhaustive()
    }
}

/// Host, port, database and user of a configuration; never the password.
fn describe(config: &Config) -> String {
    use tokio_postgres::config::Host;
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(h) => h.clone(),
            Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "host={} port={} dbname={} user={}",
        if hosts.is_empty() {
            "localhost".to_owned()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() {
            "5432".to_owned()
        } else {
            ports.join(",")
        },
        config.get_dbname().unwrap_or("(default)"),
        config.get_user().unwrap_or("(default)"),
    )
}

impl SqlStore {
    /// Connects with a connection string in either of the forms Helm accepts (a
    /// `postgres://user:password@host:port/dbname?sslmode=disable` URL or
    /// `host=... port=... user=... password=... dbname=... sslmode=disable`), checks the
    /// server answers, and creates or adopts Helm's tables.
    ///
    /// Connections are made without TLS: a string asking for `sslmode=require` fails to
    /// connect.
    pub async fn connect(connection_string: &str) -> Result<Self> {
        Self::connect_with(connection_string, SqlOptions::default()).await
    }

    /// [`connect`](Self::connect) with the connection string from
    /// `HELM_DRIVER_SQL_CONNECTION_STRING`.
    pub async fn from_env() -> Result<Self> {
        let conn = std::env::var(CONNECTION_STRING_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .ok_or(Error::MissingConnectionString {
                var: CONNECTION_STRING_ENV,
            })?;
        Self::connect(&conn).await
    }

    /// [`connect`](Self::connect) with options.
    pub async fn connect_with(connection_string: &str, options: SqlOptions) -> Result<Self> {
        let config = Config::from_str(connection_string)
            .map_err(|source| Error::InvalidConnectionString { source })?;
        let store = SqlStore {
            pool: Pool::new(config, options.max_connections),
            codec: options.codec,
        };
        // Connect now, so a wrong address or password is reported here, with its target.
        drop(store.connection_for_setup().await?);
        if options.ensure_schema {
            store.ensure_schema().await?;
        }
        Ok(store)
    }

    /// Creates Helm's tables when missing, adopts them when Helm (or anyone) made them, and
    /// records Helm's migration ids so Helm never runs them again. Idempotent; called by
    /// [`connect`](Self::connect). See [`crate::schema`].
    pub async fn ensure_schema(&self) -> Result<SchemaReport> {
        let mut conn = self.connection_for_setup().await?;
        schema::ensure_schema(&mut conn).await
    }

    /// Where this store connects: host, port, database and user.
    pub fn target(&self) -> String {
        describe(self.pool.config())
    }

    async fn connection_for_setup(&self) -> Result<Pooled<'_>> {
        self.pool.get().await.map_err(|source| Error::Connect {
            target: self.target(),
            source,
        })
    }

    async fn conn(&self, operation: &str) -> ReleaseResult<Pooled<'_>> {
        self.pool
            .get()
            .await
            .map_err(|e| ReleaseError::backend(DRIVER_NAME, format!("connect to {operation}"), e))
    }
}

/// A backend error for `operation`.
fn backend(operation: &str) -> impl FnOnce(tokio_postgres::Error) -> ReleaseError + '_ {
    move |e| ReleaseError::backend(DRIVER_NAME, operation.to_owned(), e)
}

fn normalize(namespace: &str) -> &str {
    if namespace.is_empty() {
        DEFAULT_NAMESPACE
    } else {
        namespace
    }
}

fn now_unix() -> i32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Helm's columns are 32-bit INTEGERs.
    i32::try_from(secs).unwrap_or(i32::MAX)
}

/// Checks what Helm's storage layer would refuse, before any I/O.
fn check_writable(release: &Release) -> ReleaseResult<i32> {
    if release.name.is_empty() {
        return Err(ReleaseError::InvalidReleaseName {
            name: String::new(),
            reason: "a release name is required".into(),
        });
    }
    storage::validate_custom_labels(&release.labels)?;
    match i32::try_from(release.version) {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err(ReleaseError::InvalidRevision {
            name: release.name.clone(),
            revision: release.version,
        }),
    }
}

/// The custom labels of a row from the `lkeys`/`lvals` arrays, system keys filtered out (as
/// Helm does when reading).
fn labels_of(row: &Row, keys: &str, values: &str) -> BTreeMap<String, String> {
    let keys: Option<Vec<Option<String>>> = row.get(keys);
    let values: Option<Vec<Option<String>>> = row.get(values);
    let all: BTreeMap<String, String> = keys
        .unwrap_or_default()
        .into_iter()
        .zip(values.unwrap_or_default())
        .filter_map(|(k, v)| Some((k?, v.unwrap_or_default())))
        .collect();
    storage::custom_labels(&all)
}

/// Columns selected by every query that decodes a record.
fn record_columns() -> String {
    format!(
        "r.key::text AS key, r.namespace::text AS namespace, r.name::text AS name, r.version, \
         r.body, l.lkeys, l.lvals, {ROW_VERSION} AS row_version \
         FROM releases_v1 r {LABELS_JOIN}"
    )
}

/// One row of `list`'s first pass: what the columns say, without the body.
#[derive(Clone)]
struct MetaRow {
    key: String,
    summary: ReleaseSummary,
}

impl Listable for MetaRow {
    fn name(&self) -> &str {
        &self.summary.name
    }
    fn namespace(&self) -> &str {
        &self.summary.namespace
    }
    fn revision(&self) -> u32 {
        self.summary.revision
    }
    fn status(&self) -> Status {
        self.summary.status
    }
    fn labels(&self) -> &BTreeMap<String, String> {
        &self.summary.labels
    }
}

impl SqlStore {
    /// Decodes a row selected with [`record_columns`]; errors name the row's key.
    fn decode_row(&self, row: &Row) -> ReleaseResult<StoredRelease> {
        let key: String = row.get("key");
        let namespace: String = row.get("namespace");
        let name: String = row.get("name");
        let version: i32 = row.get("version");
        let body: String = row.get("body");
        let parsed = ObjectKey::parse(&key)?;
        if parsed.name != name || i64::from(parsed.revision) != i64::from(version) {
            return Err(ReleaseError::Mismatch {
                object: key,
                what: "key",
                expected: format!("release {:?} revision {}", parsed.name, parsed.revision),
                found: format!("columns for release {name:?} revision {version}"),
            });
        }
        let mut release = self.codec.decode_record(&key, body.as_bytes())?;
        if release.namespace.is_empty() {
            release.namespace = namespace;
        } else if release.namespace != namespace {
            return Err(ReleaseError::Mismatch {
                object: key,
                what: "namespace column",
                expected: format!("namespace {namespace:?}"),
                found: format!("a release of namespace {:?}", release.namespace),
            });
        }
        release.labels = labels_of(row, "lkeys", "lvals");
        Ok(StoredRelease {
            release,
            version: RecordVersion::new(row.get::<_, String>("row_version")),
        })
    }

    async fn create_row(&self, release: &Release) -> ReleaseResult<RecordVersion> {
        let revision = check_writable(release)?;
        let namespace = normalize(&release.namespace);
        let key = object_name(&release.name, release.version);
        let mut stored = release.clone();
        stored.namespace = namespace.to_owned();
        let body = self.codec.encode(&key, &stored)?;
        let op = format!("create {key} in namespace {namespace:?}");

        let mut conn = self.conn(&op).await?;
        let tx = conn.transaction().await.map_err(backend(&op))?;
        // The compare-and-set: the primary key (key, namespace) admits one row; a concurrent
        // insert of the same key makes this one wait for its outcome, then do nothing.
        let inserted = tx
            .execute(
                "INSERT INTO releases_v1 \
                 (key, type, body, name, namespace, version, status, owner, createdat) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (key, namespace) DO NOTHING",
                &[
                    &key,
                    &RELEASE_TYPE,
                    &body,
                    &release.name,
                    &namespace,
                    &revision,
                    &release.info.status.as_str(),
                    &storage::OWNER_HELM,
                    &now_unix(),
                ],
            )
            .await
            .map_err(backend(&op))?;
        if inserted == 0 {
            return Err(ReleaseError::AlreadyExists {
                namespace: namespace.to_owned(),
                name: release.name.clone(),
                revision: release.version,
            });
        }
        replace_labels(&tx, &key, namespace, &release.labels, &op).await?;
        let version = row_version(&tx, &key, namespace, false, &op)
            .await?
            .ok_or_else(|| ReleaseError::backend(DRIVER_NAME, op.clone(), "row vanished"))?;
        tx.commit().await.map_err(backend(&op))?;
        Ok(version)
    }

    async fn update_row(
        &self,
        release: &Release,
        expected: &RecordVersion,
    ) -> ReleaseResult<RecordVersion> {
        let revision = check_writable(release)?;
        let namespace = normalize(&release.namespace);
        let key = object_name(&release.name, release.version);
        let mut stored = release.clone();
        stored.namespace = namespace.to_owned();
        let body = self.codec.encode(&key, &stored)?;
        let op = format!("update {key} in namespace {namespace:?}");

        let mut conn = self.conn(&op).await?;
        let tx = conn.transaction().await.map_err(backend(&op))?;
        // Lock the row, then compare its version: any writer that got in first has changed
        // xmin (and the digest); any writer after us waits for our commit.
        let actual = row_version(&tx, &key, namespace, true, &op)
            .await?
            .ok_or_else(|| ReleaseError::NotFound {
                namespace: namespace.to_owned(),
                name: release.name.clone(),
                revision: Some(release.version),
            })?;
        if actual != *expected {
            return Err(ReleaseError::Conflict {
                namespace: namespace.to_owned(),
                name: release.name.clone(),
                revision: release.version,
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        tx.execute(
            "UPDATE releases_v1 SET type = $3, body = $4, name = $5, version = $6, status = $7, \
             owner = $8, modifiedat = $9 WHERE key = $1 AND namespace = $2",
            &[
                &key,
                &namespace,
                &RELEASE_TYPE,
                &body,
                &release.name,
                &revision,
                &release.info.status.as_str(),
                &storage::OWNER_HELM,
                &now_unix(),
            ],
        )
        .await
        .map_err(backend(&op))?;
        replace_labels(&tx, &key, namespace, &release.labels, &op).await?;
        let version = row_version(&tx, &key, namespace, false, &op)
            .await?
            .ok_or_else(|| ReleaseError::backend(DRIVER_NAME, op.clone(), "row vanished"))?;
        tx.commit().await.map_err(backend(&op))?;
        Ok(version)
    }

    async fn get_row(
        &self,
        namespace: &str,
        name: &str,
        revision: u32,
    ) -> ReleaseResult<StoredRelease> {
        let namespace = normalize(namespace);
        let key = object_name(name, revision);
        let op = format!("get {key} in namespace {namespace:?}");
        let conn = self.conn(&op).await?;
        let row = conn
            .query_opt(
                &format!(
                    "SELECT {} WHERE r.key = $1 AND r.namespace = $2",
                    record_columns()
                ),
                &[&key, &namespace],
            )
            .await
            .map_err(backend(&op))?
            .ok_or_else(|| ReleaseError::NotFound {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                revision: Some(revision),
            })?;
        self.decode_row(&row)
    }

    /// Every revision of a release, decoded; a row that cannot be read is reported, not fatal.
    async fn history_rows(&self, namespace: &str, name: &str) -> ReleaseResult<History> {
        let namespace = normalize(namespace);
        let op = format!("read the history of release {name:?} in namespace {namespace:?}");
        let conn = self.conn(&op).await?;
        let rows = conn
            .query(
                &format!(
                    "SELECT {} WHERE r.namespace = $1 AND r.name = $2 AND r.owner = $3 \
                     ORDER BY r.version",
                    record_columns()
                ),
                &[&namespace, &name, &storage::OWNER_HELM],
            )
            .await
            .map_err(backend(&op))?;
        let (mut records, mut unreadable) = (Vec::new(), Vec::new());
        for row in &rows {
            match self.decode_row(row) {
                Ok(stored) => records.push(stored),
                Err(error) if error.is_unreadable_record() => unreadable.push(Unreadable {
                    namespace: namespace.to_owned(),
                    object: row.get("key"),
                    error,
                }),
                Err(error) => return Err(error),
            }
        }
        Ok(History::from_parts(records, unreadable))
    }

    /// Every revision of a release from its columns: no body is decoded.
    async fn revision_rows(
        &self,
        namespace: &str,
        name: &str,
    ) -> ReleaseResult<Listing<RevisionMeta>> {
        let namespace = normalize(namespace);
        let op = format!("list the revisions of release {name:?} in namespace {namespace:?}");
        let conn = self.conn(&op).await?;
        let rows = conn
            .query(
                &format!(
                    "SELECT r.key::text AS key, r.version, r.status, {ROW_VERSION} AS row_version \
                     FROM releases_v1 r {LABELS_JOIN} \
                     WHERE r.namespace = $1 AND r.name = $2 AND r.owner = $3 ORDER BY r.version"
                ),
                &[&namespace, &name, &storage::OWNER_HELM],
            )
            .await
            .map_err(backend(&op))?;
        let mut listing = Listing::default();
        for row in &rows {
            let key: String = row.get("key");
            let version: i32 = row.get("version");
            let status: String = row.get("status");
            let meta = ObjectKey::parse(&key).and_then(|parsed| {
                let status =
                    Status::from_str(&status).map_err(|_| ReleaseError::InvalidMetadata {
                        object: key.clone(),
                        reason: format!("status {status:?} is not a release status"),
                    })?;
                if parsed.name != name || i64::from(parsed.revision) != i64::from(version) {
                    return Err(ReleaseError::Mismatch {
                        object: key.clone(),
                        what: "key",
                        expected: format!("release {:?} revision {}", parsed.name, parsed.revision),
                        found: format!("columns for release {name:?} revision {version}"),
                    });
                }
                Ok(RevisionMeta {
                    revision: parsed.revision,
                    status,
                    version: RecordVersion::new(row.get::<_, String>("row_version")),
                })
            });
            match meta {
                Ok(meta) => listing.items.push(meta),
                Err(error) => listing.unreadable.push(Unreadable {
                    namespace: namespace.to_owned(),
                    object: key,
                    error,
                }),
            }
        }
        Ok(listing)
    }

    /// Deletes row (key, namespace) and its labels if its version is still `expected`; with
    /// `decode`, returns the record deleted (like Helm, an unreadable one is then not deleted).
    async fn delete_row(
        &self,
        namespace: &str,
        name: &str,
        revision: u32,
        expected: Option<&RecordVersion>,
        decode: bool,
    ) -> ReleaseResult<Option<Release>> {
        let namespace = normalize(namespace);
        let key = object_name(name, revision);
        let op = format!("delete {key} in namespace {namespace:?}");
        let mut conn = self.conn(&op).await?;
        let tx = conn.transaction().await.map_err(backend(&op))?;
        let row = tx
            .query_opt(
                &format!(
                    "SELECT {} WHERE r.key = $1 AND r.namespace = $2 FOR UPDATE OF r",
                    record_columns()
                ),
                &[&key, &namespace],
            )
            .await
            .map_err(backend(&op))?
            .ok_or_else(|| ReleaseError::NotFound {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                revision: Some(revision),
            })?;
        let actual = RecordVersion::new(row.get::<_, String>("row_version"));
        if let Some(expected) = expected
            && actual != *expected
        {
            return Err(ReleaseError::Conflict {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                revision,
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        let stored = if decode {
            Some(self.decode_row(&row)?.release)
        } else {
            None
        };
        tx.execute(
            "DELETE FROM releases_v1 WHERE key = $1 AND namespace = $2",
            &[&key, &namespace],
        )
        .await
        .map_err(backend(&op))?;
        tx.execute(
            "DELETE FROM custom_labels_v1 WHERE releasekey = $1 AND releasenamespace = $2",
            &[&key, &namespace],
        )
        .await
        .map_err(backend(&op))?;
        tx.commit().await.map_err(backend(&op))?;
        Ok(stored)
    }

    /// `list`: filters on the columns, then decodes only the rows the filters selected (at most
    /// one per release, unless listing `superseded` alone). A row that cannot be read is
    /// reported and left out, and the filters run again without it, so its release shows its
    /// newest readable revision, as Helm's list does.
    async fn list_rows(
        &self,
        filter: &ListFilter,
    ) -> ReleaseResult<(Vec<(MetaRow, StoredRelease)>, Vec<Unreadable>)> {
        // An empty namespace means `default`, as everywhere else.
        let normalized;
        let filter = if filter.namespace.as_deref() == Some("") {
            normalized = ListFilter {
                namespace: Some(DEFAULT_NAMESPACE.to_owned()),
                ..filter.clone()
            };
            &normalized
        } else {
            filter
        };
        let namespace = filter.namespace.as_deref();
        let op = match namespace {
            Some(ns) => format!("list releases in namespace {ns:?}"),
            None => "list releases in all namespaces".to_owned(),
        };
        let conn = self.conn(&op).await?;
        let rows = conn
            .query(
                &format!(
                    "SELECT r.key::text AS key, r.namespace::text AS namespace, \
                     r.name::text AS name, r.version, r.status, l.lkeys, l.lvals \
                     FROM releases_v1 r {LABELS_JOIN} \
                     WHERE r.owner = $1 AND ($2::text IS NULL OR r.namespace = $2)"
                ),
                &[&storage::OWNER_HELM, &namespace],
            )
            .await
            .map_err(backend(&op))?;

        let mut unreadable = Vec::new();
        let mut candidates = Vec::with_capacity(rows.len());
        for row in &rows {
            let key: String = row.get("key");
            let row_namespace: String = row.get("namespace");
            let mut labels = labels_of(row, "lkeys", "lvals");
            labels.insert(LABEL_OWNER.into(), storage::OWNER_HELM.into());
            labels.insert(LABEL_NAME.into(), row.get("name"));
            labels.insert(LABEL_STATUS.into(), row.get("status"));
            labels.insert(
                LABEL_VERSION.into(),
                row.get::<_, i32>("version").to_string(),
            );
            match ReleaseSummary::from_metadata(&key, &row_namespace, &labels, &BTreeMap::new()) {
                Ok(summary) if filter.admits(&summary) => {
                    candidates.push(MetaRow { key, summary });
                }
                Ok(_) => {}
                Err(error) => unreadable.push(Unreadable {
                    namespace: row_namespace,
                    object: key,
                    error,
                }),
            }
        }

        let mut decoded: HashMap<(String, String), StoredRelease> = HashMap::new();
        let selected = loop {
            let selected = filter.apply(candidates.clone());
            let missing: Vec<&MetaRow> = selected
                .iter()
                .filter(|m| !decoded.contains_key(&(m.summary.namespace.clone(), m.key.clone())))
                .collect();
            if missing.is_empty() {
                break selected;
            }
            let keys: Vec<&str> = missing.iter().map(|m| m.key.as_str()).collect();
            let namespaces: Vec<&str> = missing
                .iter()
                .map(|m| m.summary.namespace.as_str())
                .collect();
            let rows = conn
                .query(
                    &format!(
                        "SELECT {} WHERE (r.key, r.namespace) IN \
                         (SELECT * FROM unnest($1::text[], $2::text[]))",
                        record_columns()
                    ),
                    &[&keys, &namespaces],
                )
                .await
                .map_err(backend(&op))?;
            let mut dropped: HashSet<(String, String)> = missing
                .iter()
                .map(|m| (m.summary.namespace.clone(), m.key.clone()))
                .collect();
            for row in &rows {
                let id = (row.get::<_, String>("namespace"), row.get("key"));
                match self.decode_row(row) {
                    Ok(stored) => {
                        dropped.remove(&id);
                        decoded.insert(id, stored);
                    }
                    Err(error) if error.is_unreadable_record() => {
                        unreadable.push(Unreadable {
                            namespace: id.0.clone(),
                            object: id.1.clone(),
                            error,
                        });
                    }
                    Err(error) => return Err(error),
                }
            }
            // Unreadable rows, and rows deleted since the first pass, leave the candidates.
            candidates.retain(|m| !dropped.contains(&(m.summary.namespace.clone(), m.key.clone())));
        };
        let items = selected
            .into_iter()
            .filter_map(|m| {
                let stored = decoded.remove(&(m.summary.namespace.clone(), m.key.clone()))?;
                Some((m, stored))
            })
            .collect();
        Ok((items, unreadable))
    }
}

/// The version of row (key, namespace), optionally locking it for the rest of the
/// transaction; `None` when there is no such row.
async fn row_version(
    client: &impl GenericClient,
    key: &str,
    namespace: &str,
    lock: bool,
    op: &str,
) -> ReleaseResult<Option<RecordVersion>> {
    let lock = if lock { "FOR UPDATE OF r" } else { "" };
    let row = client
        .query_opt(
            &format!(
                "SELECT {ROW_VERSION} FROM releases_v1 r {LABELS_JOIN} \
                 WHERE r.key = $1 AND r.namespace = $2 {lock}"
            ),
            &[&key, &namespace],
        )
        .await
        .map_err(backend(op))?;
    Ok(row.map(|r| RecordVersion::new(r.get::<_, String>(0))))
}

/// Replaces the custom labels of row (key, namespace).
async fn replace_labels(
    client: &impl GenericClient,
    key: &str,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    op: &str,
) -> ReleaseResult<()> {
    client
        .execute(
            "DELETE FROM custom_labels_v1 WHERE releasekey = $1 AND releasenamespace = $2",
            &[&key, &namespace],
        )
        .await
        .map_err(backend(op))?;
    if labels.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = labels.keys().map(String::as_str).collect();
    let values: Vec<&str> = labels.values().map(String::as_str).collect();
    let params: [&(dyn ToSql + Sync); 4] = [&key, &namespace, &keys, &values];
    client
        .execute(
            "INSERT INTO custom_labels_v1 (releasekey, releasenamespace, key, value) \
             SELECT $1::text, $2::text, k, v FROM unnest($3::text[], $4::text[]) AS t(k, v)",
            &params,
        )
        .await
        .map_err(backend(op))?;
    Ok(())
}

impl ReleaseStore for SqlStore {
    fn driver_name(&self) -> &'static str {
        DRIVER_NAME
    }

    fn create<'a>(&'a self, release: &'a Release) -> BoxFuture<'a, ReleaseResult<RecordVersion>> {
        Box::pin(self.create_row(release))
    }

    fn update<'a>(
        &'a self,
        release: &'a Release,
        expected: &'a RecordVersion,
    ) -> BoxFuture<'a, ReleaseResult<RecordVersion>> {
        Box::pin(self.update_row(release, expected))
    }

    fn get<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        revision: u32,
    ) -> BoxFuture<'a, ReleaseResult<StoredRelease>> {
        Box::pin(self.get_row(namespace, name, revision))
    }

    fn read_history<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, ReleaseResult<History>> {
        Box::pin(self.history_rows(namespace, name))
    }

    fn revisions<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, ReleaseResult<Listing<RevisionMeta>>> {
        Box::pin(self.revision_rows(namespace, name))
    }

    fn remove<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        revision: u32,
        expected: Option<&'a RecordVersion>,
    ) -> BoxFuture<'a, ReleaseResult<()>> {
        Box::pin(async move {
            self.delete_row(namespace, name, revision, expected, false)
                .await
                .map(drop)
        })
    }

    fn delete<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        revision: u32,
        expected: Option<&'a RecordVersion>,
    ) -> BoxFuture<'a, ReleaseResult<Release>> {
        Box::pin(async move {
            let deleted = self
                .delete_row(namespace, name, revision, expected, true)
                .await?;
            deleted.ok_or_else(|| {
                ReleaseError::backend(DRIVER_NAME, "delete", "the deleted record was not returned")
            })
        })
    }

    fn list<'a>(
        &'a self,
        filter: &'a ListFilter,
    ) -> BoxFuture<'a, ReleaseResult<Listing<StoredRelease>>> {
        Box::pin(async move {
            let (items, unreadable) = self.list_rows(filter).await?;
            Ok(Listing {
                items: items.into_iter().map(|(_, stored)| stored).collect(),
                unreadable,
            })
        })
    }

    fn list_summaries<'a>(
        &'a self,
        filter: &'a ListFilter,
    ) -> BoxFuture<'a, ReleaseResult<Listing<ReleaseSummary>>> {
        Box::pin(async move {
            let (items, unreadable) = self.list_rows(filter).await?;
            Ok(Listing {
                items: items
                    .into_iter()
                    .map(|(meta, stored)| {
                        ReleaseSummary::from_release(&stored.release, &meta.summary.namespace)
                    })
                    .collect(),
                unreadable,
            })
        })
    }
}
