//! The [`ReleaseStore`] trait every storage driver implements, and the types it speaks.
//!
//! The trait is object-safe: methods return [`BoxFuture`]s (`Pin<Box<dyn Future + Send>>`), so
//! a driver chosen at run time by `HELM_DRIVER` can be held as `Arc<dyn ReleaseStore>`, and the
//! futures can be spawned on a multi-threaded runtime. Implementors write
//! `Box::pin(async move { ... })`. One allocation per call is nothing next to an API round trip.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::error::{Error, Result};
use crate::history::revisions_to_prune;
use crate::list::ListFilter;
use crate::release::Release;
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

/// A record `list` could not read: skipped and reported, never failing the whole list.
#[derive(Debug)]
pub struct Unreadable {
    /// The namespace of the object.
    pub namespace: String,
    /// The object's name.
    pub object: String,
    /// Why it could not be read (the message names the object).
    pub error: Error,
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
/// - [`history`](Self::history) is ascending by revision and empty (not an error) for an unknown
///   release.
/// - [`list`](Self::list) and [`list_summaries`](Self::list_summaries) apply
///   [`ListFilter::apply`]; records that cannot be read are reported in
///   [`Listing::unreadable`], not fatal.
pub trait ReleaseStore: Send + Sync {
    /// The driver's name (`secret`, `configmap`, `memory`, `sql`).
    fn driver_name(&self) -> &'static str;

    /// Stores a new revision (`release.namespace`, `release.name`, `release.version`). Fails with
    /// [`Error::AlreadyExists`] when it exists. Returns the new record's version.
    fn create<'a>(&'a self, release: &'a Release) -> BoxFuture<'a, Result<RecordVersion>>;

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

    /// Every revision of a release, ascending; empty when there is none.
    fn history<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<StoredRelease>>>;

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

    /// The latest revision; [`Error::NotFound`] when there is none.
    fn latest<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<StoredRelease>> {
        Box::pin(async move {
            self.history(namespace, name)
                .await?
                .pop()
                .ok_or_else(|| Error::NotFound {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    revision: None,
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
            self.history(namespace, name)
                .await?
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
    /// within `max_history` (0 = unlimited). Each delete carries the version read, so a revision
    /// changed meanwhile is left alone. Returns the revisions deleted. Like Helm, it deletes as
    /// many as it can and reports the first failure after trying them all.
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
            let history = self.history(namespace, name).await?;
            let plan = revisions_to_prune(
                history
                    .iter()
                    .map(|r| (r.release.version, r.release.info.status)),
                max_history,
            );
            let mut deleted = Vec::new();
            let mut first_error = None;
            for revision in plan {
                let version = history
                    .iter()
                    .find(|r| r.release.version == revision)
                    .map(|r| &r.version);
                match self.delete(namespace, name, revision, version).await {
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
