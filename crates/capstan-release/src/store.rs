//! The [`ReleaseStore`] trait every storage driver implements, and the types it speaks.
//!
//! The trait is object-safe: methods return [`BoxFuture`]s (`Pin<Box<dyn Future + Send>>`), so
//! a driver chosen at run time by `HELM_DRIVER` can be held as `Arc<dyn ReleaseStore>`, and the
//! futures can be spawned on a multi-threaded runtime. Implementors write
//! `Box::pin(async move { ... })`. One allocation per call is nothing next to an API round trip.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::history::revisions_to_prune;
use crate::list::ListFilter;
use crate::name::{ObjectKey, object_name};
use crate::release::Release;
use crate::revisions::{History, HistoryScope, RevisionMeta};
use crate::status::Status;
use crate::storage::ReleaseSummary;

/// A boxed, sendable future, as [`ReleaseStore`]'s methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The version of a stored record, for optimistic concurrency: a Kubernetes `resourceVersion`,
/// a SQL row version, a counter. Opaque: only compared for equality by the store.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordVersion(pub String);

impl RecordVersion {
    /// A version from its text.
    pub fn new(v: impl Into<String>) -> Self {
        Self(v.into())
    }

    /// Its text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A release as read from a store, with the version to pass to [`ReleaseStore::update`].
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRelease {
    /// The release, with its custom labels.
    pub release: Release,
    /// The record's current version.
    pub version: RecordVersion,
}

/// A record a reader could not read: skipped and reported, never failing the whole read.
#[derive(Debug)]
pub struct Unreadable {
    /// The namespace of the object.
    pub namespace: String,
    /// The object's name.
    pub object: String,
    /// Why it could not be read (the message names the object).
    pub error: Error,
}

impl Unreadable {
    /// The revision its object name says, when the name is a release key.
    pub fn revision(&self) -> Option<u32> {
        ObjectKey::parse(&self.object).ok().map(|k| k.revision)
    }
}

/// The error and its causes, `: `-separated (the error names `<namespace>/<object>`).
impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        let mut source = std::error::Error::source(&self.error);
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// What `list` returns: the rows, and the records it skipped.
#[derive(Debug)]
pub struct Listing<T> {
    /// The rows, filtered and sorted as Helm does.
    pub items: Vec<T>,
    /// Records that could not be read.
    pub unreadable: Vec<Unreadable>,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            unreadable: Vec::new(),
        }
    }
}

/// Where releases are stored: Helm's storage driver, with preconditions so no write is lost.
///
/// Semantics every implementation keeps:
/// - A record is identified by (namespace, release name, revision). An empty namespace means
///   `default`, as in Helm.
/// - [`create`](Self::create) is the compare-and-set: it fails with
///   [`Error::AlreadyExists`] when the revision exists, so of two writers racing to create
///   revision N exactly one wins.
/// - [`update`](Self::update) and [`delete`](Self::delete) take the [`RecordVersion`] last read
///   and fail with [`Error::Conflict`] when the record changed since; update fails with
///   [`Error::NotFound`] when it does not exist (it never creates).
/// - Reads return the custom labels in [`Release::labels`], never system labels.
/// - [`read_history`](Self::read_history) is ascending by revision and empty (not an error) for
///   an unknown release; a record that cannot be read (bad payload or metadata) is reported in
///   [`History::unreadable`] and skipped, never failing the others (Helm's driver skips the
///   records it cannot decode). [`revisions`](Self::revisions) answers from metadata alone.
/// - [`list`](Self::list) and [`list_summaries`](Self::list_summaries) apply
///   [`ListFilter::apply`]; records that cannot be read are reported in
///   [`Listing::unreadable`], not fatal.
pub trait ReleaseStore: Send + Sync {
    /// The driver's name (`secret`, `configmap`, `memory`, `sql`).
    fn driver_name(&self) -> &'static str;

    /// Stores a new revision (`release.namespace`, `release.name`, `release.version`). Fails with
    /// [`Error::AlreadyExists`] when it exists. Returns the new record's version.
    fn create<'a>(&'a self, release: &'a Release) -> BoxFuture<'a, Result<RecordVersion>>;

    /// A hint that `release` is about to be written ([`create`](Self::create) or
    /// [`update`](Self::update)) exactly as it is now, so that a driver whose writes encode
    /// the payload (gzip at Helm's best compression: tens of milliseconds for a large chart)
    /// may start encoding it in the background while the caller does other work. Nothing is
    /// written, and the write still stores exactly the release it is given: a driver uses a
    /// payload encoded ahead only for a release equal to the one hinted. The default does
    /// nothing.
    fn encode_ahead(&self, release: &Release) {
        let _ = release;
    }

    /// Replaces an existing revision if its version is still `expected`; returns the new version.
    fn update<'a>(
        &'a self,
        release: &'a Release,
        expected: &'a RecordVersion,
    ) -> BoxFuture<'a, Result<RecordVersion>>;

    /// Reads one revision.
    fn get<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        revision: u32,
    ) -> BoxFuture<'a, Result<StoredRelease>>;

    /// Every revision of a release: the readable records, ascending, and the unreadable ones.
    fn read_history<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<History>>;

    /// Every revision of a release as its metadata says (no payload decoded), ascending, with
    /// the objects whose metadata is unreadable.
    fn revisions<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Listing<RevisionMeta>>>;

    /// Every readable revision of a release, ascending; empty when there is none. Unreadable
    /// records are skipped (and logged): use [`read_history`](Self::read_history) to see them.
    fn history<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<StoredRelease>>> {
        Box::pin(async move {
            let history = self.read_history(namespace, name).await?;
            for skipped in &history.unreadable {
                tracing::warn!(
                    namespace = %skipped.namespace,
                    object = %skipped.object,
                    error = %skipped,
                    "skipped an unreadable release record"
                );
            }
            Ok(history.records)
        })
    }

    /// The revisions `scope` needs, decoded (one read each), with those that could not be
    /// read; [`HistoryScope::All`] is [`read_history`](Self::read_history). The cost of
    /// [`HistoryScope::Latest`] and [`HistoryScope::Operation`] does not grow with the number
    /// of revisions: the others are known from metadata only.
    fn history_in<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        scope: HistoryScope,
    ) -> BoxFuture<'a, Result<History>> {
        Box::pin(async move {
            if scope == HistoryScope::All {
                return self.read_history(namespace, name).await;
            }
            let listing = self.revisions(namespace, name).await?;
            let metas = listing.items;
            let mut unreadable = listing.unreadable;
            let mut failed: BTreeSet<u32> =
                unreadable.iter().filter_map(Unreadable::revision).collect();
            let mut records: BTreeMap<u32, StoredRelease> = BTreeMap::new();
            loop {
                let todo: Vec<u32> = scope
                    .wanted(&metas, &failed)
                    .into_iter()
                    .filter(|r| !records.contains_key(r))
                    .collect();
                if todo.is_empty() {
                    break;
                }
                for revision in todo.into_iter().rev() {
                    match self.get(namespace, name, revision).await {
                        Ok(stored) => {
                            records.insert(revision, stored);
                        }
                        Err(error) if error.is_unreadable_record() => {
                            failed.insert(revision);
                            unreadable.push(Unreadable {
                                namespace: namespace.to_owned(),
                                object: object_name(name, revision),
                                error,
                            });
                        }
                        // Deleted since it was listed.
                        Err(error) if error.is_not_found() => {
                            failed.insert(revision);
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
            let mut history = History::from_parts(records.into_values().collect(), unreadable);
            history.highest_revision = history
                .highest_revision
                .max(metas.iter().map(|m| m.revision).max());
            Ok(history)
        })
    }

    /// Deletes one revision without reading its payload (so an unreadable record can be
    /// deleted too), if its version is still `expected` (when given). The default deletes with
    /// [`delete`](Self::delete); drivers whose records can be unreadable override it.
    fn remove<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        revision: u32,
        expected: Option<&'a RecordVersion>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.delete(namespace, name, revision, expected)
                .await
                .map(drop)
        })
    }

    /// Deletes every revision of a release, readable or not (found by metadata, deleted with
    /// [`remove`](Self::remove)). Returns the revisions deleted; like Helm, it deletes as many
    /// as it can and reports the first failure after trying them all.
    fn purge<'a>(&'a self, namespace: &'a str, name: &'a str) -> BoxFuture<'a, Result<Vec<u32>>> {
        Box::pin(async move {
            let listing = self.revisions(namespace, name).await?;
            let revisions: BTreeSet<u32> = listing
                .items
                .iter()
                .map(|m| m.revision)
                .chain(listing.unreadable.iter().filter_map(Unreadable::revision))
                .collect();
            let mut deleted = Vec::new();
            let mut first_error = None;
            for revision in revisions {
                match self.remove(namespace, name, revision, None).await {
                    Ok(()) => deleted.push(revision),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            match first_error {
                Some(e) => Err(e),
                None => Ok(deleted),
            }
        })
    }

    /// Deletes one revision, if its version is still `expected` (when given); returns it.
    fn delete<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        revision: u32,
        expected: Option<&'a RecordVersion>,
    ) -> BoxFuture<'a, Result<Release>>;

    /// The latest revision of each release that passes the filter, decoded.
    fn list<'a>(&'a self, filter: &'a ListFilter) -> BoxFuture<'a, Result<Listing<StoredRelease>>>;

    /// The same rows as [`list`](Self::list), as summaries; drivers answer from object metadata
    /// and decode payloads only for objects without capstan's annotations.
    fn list_summaries<'a>(
        &'a self,
        filter: &'a ListFilter,
    ) -> BoxFuture<'a, Result<Listing<ReleaseSummary>>>;

    /// The newest readable revision; [`Error::NotFound`] when there is none, or the error of
    /// the newest unreadable one when none can be read.
    fn latest<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<StoredRelease>> {
        Box::pin(async move {
            let mut history = self
                .history_in(namespace, name, HistoryScope::Latest)
                .await?;
            if let Some(latest) = history.records.pop() {
                return Ok(latest);
            }
            history.unreadable.sort_by_key(Unreadable::revision);
            Err(match history.unreadable.pop() {
                Some(newest) => newest.error,
                None => Error::NotFound {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    revision: None,
                },
            })
        })
    }

    /// The highest `deployed` revision (with a corrupted history holding several, the latest);
    /// [`Error::NoDeployedReleases`] when there is none.
    fn last_deployed<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<StoredRelease>> {
        Box::pin(async move {
            self.history_in(namespace, name, HistoryScope::Operation)
                .await?
                .records
                .into_iter()
                .rev()
                .find(|r| r.release.info.status == Status::Deployed)
                .ok_or_else(|| Error::NoDeployedReleases {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                })
        })
    }

    /// Deletes old revisions with Helm's rule ([`revisions_to_prune`]) so that a new one fits
    /// within `max_history` (0 = unlimited), deciding from metadata alone (no payload decoded,
    /// so unreadable old records are pruned too). Each delete carries the version read, so a
    /// revision changed meanwhile is left alone. Returns the revisions deleted. Like Helm, it
    /// deletes as many as it can and reports the first failure after trying them all.
    fn prune_history<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        max_history: usize,
    ) -> BoxFuture<'a, Result<Vec<u32>>> {
        Box::pin(async move {
            if max_history == 0 {
                return Ok(Vec::new());
            }
            let metas = self.revisions(namespace, name).await?.items;
            let plan =
                revisions_to_prune(metas.iter().map(|m| (m.revision, m.status)), max_history);
            let mut deleted = Vec::new();
            let mut first_error = None;
            for revision in plan {
                let version = metas
                    .iter()
                    .find(|m| m.revision == revision)
                    .map(|m| &m.version);
                match self.remove(namespace, name, revision, version).await {
                    Ok(_) => deleted.push(revision),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            match first_error {
                Some(e) => Err(e),
                None => Ok(deleted),
            }
        })
    }

    /// Helm's `Storage.Create`: prune to make room (when `max_history` > 0), then create.
    fn create_with_history_limit<'a>(
        &'a self,
        release: &'a Release,
        max_history: usize,
    ) -> BoxFuture<'a, Result<RecordVersion>> {
        Box::pin(async move {
            self.prune_history(&release.namespace, &release.name, max_history)
                .await?;
            self.create(release).await
        })
    }
}
