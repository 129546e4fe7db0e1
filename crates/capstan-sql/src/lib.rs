//! Helm's `sql` storage driver (`HELM_DRIVER=sql`) on PostgreSQL: [`SqlStore`], a
//! [`capstan_release::ReleaseStore`] over Helm's own tables, so Helm and capstan can share one
//! database and hand releases back and forth.
//!
//! # Main types
//!
//! - [`SqlStore`]: connects with a connection string in Helm's forms
//!   ([`SqlStore::connect`], or [`SqlStore::from_env`] reading
//!   `HELM_DRIVER_SQL_CONNECTION_STRING`), prepares the tables, and implements every
//!   operation of the trait. [`SqlOptions`] sets the pool size and codec.
//! - [`schema`]: Helm's table definitions and migration ids, and [`SchemaReport`], what the
//!   set-up did.
//! - [`Error`]: what can fail while connecting and setting up. Store operations return
//!   [`capstan_release::Error`] like every driver, database failures as its `Backend` variant.
//!
//! # The tables, exactly Helm's
//!
//! `releases_v1(key, type, body, name, namespace, version, status, owner, createdAt,
//! modifiedAt)`, primary key `(key, namespace)`: `key` is the object name
//! `sh.helm.release.v1.<name>.v<N>`, `type` is `helm.sh/release.v1`, `body` is the payload in
//! Helm's codec (JSON, gzip, base64; the same bytes a Secret holds), `owner` is `helm`,
//! `createdAt`/`modifiedAt` unix seconds (Helm leaves `modifiedAt` 0 on create and keeps
//! `createdAt` on update; so does capstan). `custom_labels_v1(releaseKey, releaseNamespace, key,
//! value)` holds the custom labels, never the system ones. Helm's identifiers are unquoted, so
//! PostgreSQL stores them lowercased (`createdat`); capstan's queries use those names.
//!
//! A body has no 1 MiB limit here (PostgreSQL `TEXT`), so records are always stored inline, in
//! Helm's format, whatever their size: Helm reads every record capstan writes.
//!
//! # Migrations shared with Helm
//!
//! Helm creates the tables with sql-migrate, recording migration ids `init` and
//! `custom_labels` in sql-migrate's table `gorp_migrations(id, applied_at)`, and skips set-up
//! when both are recorded. capstan does the same bookkeeping: it creates missing tables with
//! Helm's definitions, adopts existing ones after checking their columns and key, and records
//! exactly those two ids (never another: whenever Helm has a migration to run, sql-migrate
//! refuses a database recording an id it does not know). Whichever
//! of Helm and capstan comes first, the other finds the database ready. See [`schema`].
//!
//! # No update is lost: the row version
//!
//! Helm's table has no version column, and capstan does not add one. A [`RecordVersion`] is
//! derived from the stored row instead: `<xmin>-<md5>`, where `xmin` is PostgreSQL's id of the
//! transaction that wrote this version of the row (every `UPDATE`, by capstan, Helm or anyone,
//! makes a new one), and the digest covers every column and the custom labels (which live in
//! another table). Reads return it; [`update`](capstan_release::ReleaseStore::update) and
//! [`delete`](capstan_release::ReleaseStore::delete) run in a transaction that locks the row
//! (`SELECT ... FOR UPDATE`), recomputes the version, and write only when it still equals the
//! one the caller read, else fail with `Conflict`. A writer that got in first has changed the
//! version; one that comes later waits for the lock and then sees the new version. Helm's own
//! updates are unconditional (that is Helm), but they still change the version, so capstan
//! never overwrites them unseen.
//!
//! [`create`](capstan_release::ReleaseStore::create) is the compare-and-set:
//! `INSERT ... ON CONFLICT (key, namespace) DO NOTHING`; no row inserted means
//! `AlreadyExists`. Of concurrent creates of one revision, exactly one commits.
//!
//! # Reads
//!
//! - An empty namespace means `default`, as in Helm. `list` with no namespace lists all.
//! - `get`, `history`, `latest` decode the body and check it against the key and the name,
//!   version and namespace columns: a row whose parts disagree is an error naming its key.
//! - `list` and `list_summaries` filter on the columns and labels first (namespace, name regex,
//!   latest revision per release, status mask, selector), then fetch and decode only the bodies
//!   of the rows selected: Helm's table has no chart or app-version column, so the CHART, APP
//!   VERSION and UPDATED columns need the body, but only of the rows shown. A row that cannot be
//!   read (corrupt base64 or gzip, a gzip bomb, bad JSON, a key that is not a release key,
//!   columns that disagree) is skipped and reported in [`capstan_release::Listing::unreadable`]
//!   with an error naming its key; its release then shows its newest readable revision, as
//!   Helm's list does.
//!
//! # Invariants
//!
//! - capstan writes rows Helm reads, and reads rows Helm writes, in the same tables.
//! - A create never overwrites; an update or delete never applies over a change it did not see.
//! - Nothing here changes the schema of Helm's tables or records a migration Helm does not know.
//!
//! Connections are plain TCP (or Unix sockets) without TLS; a connection string with
//! `sslmode=require` fails to connect.

mod error;
mod pool;
pub mod schema;
mod store;

pub use error::{Error, Result};
pub use schema::{MigrationOutcome, SchemaReport};
pub use store::{
    CONNECTION_STRING_ENV, DEFAULT_MAX_CONNECTIONS, DRIVER_NAME, RELEASE_TYPE, SqlOptions, SqlStore,
};

#[doc(no_inline)]
pub use capstan_release::RecordVersion;
