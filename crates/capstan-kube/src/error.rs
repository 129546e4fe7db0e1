//! The error of the applier side of the crate: discovery, apply, delete and wait.

use std::time::Duration;

use crate::apply::ApplyReport;

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong resolving, applying, deleting or waiting for objects.
///
/// The release stores in [`crate::store`] keep returning [`capstan_release::Error`], the error of
/// the trait they implement.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A manifest document is not a usable Kubernetes object.
    #[error("invalid object {object}: {reason}")]
    InvalidObject {
        /// The object as far as it could be identified.
        object: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A manifest could not be parsed as YAML.
    #[error("invalid manifest")]
    Manifest(#[source] serde_yaml_ng::Error),
    /// The cluster serves no resource for an apiVersion and kind.
    #[error("resource mapping not found for apiVersion {api_version} kind {kind}")]
    UnknownKind {
        /// The object's apiVersion.
        api_version: String,
        /// The object's kind.
        kind: String,
        /// The discovery failure.
        #[source]
        source: kube::Error,
    },
    /// The cluster's OpenAPI v3 schema could not be read.
    #[error("reading the cluster's openapi schema {path} failed")]
    Schema {
        /// The path asked for.
        path: String,
        /// The failure.
        #[source]
        source: kube::Error,
    },
    /// An existing object belongs to no release or to another one.
    #[error(
        "{object} in namespace {namespace} exists and cannot be imported into release {release}: invalid ownership metadata; {problems}"
    )]
    Ownership {
        /// The object, `kind/name`.
        object: String,
        /// Its namespace (the release namespace for cluster-scoped objects).
        namespace: String,
        /// The release that tried to take it.
        release: String,
        /// Each label or annotation that does not match.
        problems: String,
    },
    /// An API request failed.
    #[error("{operation} {object} failed")]
    Api {
        /// What was being done: create, patch, apply, replace, get, delete, list, watch.
        operation: &'static str,
        /// The object, `kind/name` (with its namespace when it has one).
        object: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The API server refused an object as invalid (HTTP 422): each field and why, in plain
    /// words.
    #[error("{operation} {object}: {summary}: {}{}", problems.join("; "), if *immutable { IMMUTABLE_HINT } else { "" })]
    Invalid {
        /// What was being done: create, patch, apply, replace.
        operation: &'static str,
        /// The object, `kind/name` (with its namespace when it has one).
        object: String,
        /// The server's summary (`StatefulSet.apps "db" is invalid`).
        summary: String,
        /// `field: why`, one per field.
        problems: Vec<String>,
        /// Whether a field that cannot change once the object exists was changed.
        immutable: bool,
    },
    /// A server-side apply met fields other field managers own (HTTP 409).
    #[error("apply {object}: {message} (--force-conflicts takes these fields over)")]
    Conflict {
        /// The object, `kind/name` (with its namespace when it has one).
        object: String,
        /// The API server's message: each field and the manager that owns it.
        message: String,
    },
    /// Applying stopped at a failed object; the report says what was done before.
    #[error("applying {object} failed after {done} change(s)")]
    Incomplete {
        /// The object that failed first.
        object: String,
        /// How many objects were processed successfully.
        done: usize,
        /// What was done before the failure.
        report: ApplyReport,
        /// The first failure.
        #[source]
        source: Box<Error>,
    },
    /// Waiting ran out of time.
    #[error("timed out after {timeout:?} waiting for {} object(s): {}", not_ready.len(), not_ready.join("; "))]
    WaitTimeout {
        /// The timeout.
        timeout: Duration,
        /// One line per object not ready: `kind/name: why` (with its pods' reasons).
        not_ready: Vec<String>,
    },
    /// An object reached a state it cannot become ready from (a failed Job, a stalled resource).
    #[error("{object} failed: {reason}")]
    WaitFailed {
        /// The object, `kind/name`.
        object: String,
        /// Why.
        reason: String,
    },
}

/// What an immutable-field refusal adds: the way out.
const IMMUTABLE_HINT: &str = " (such a field cannot change once the object exists: delete the object, then run the command again)";

impl crate::retry::ApiFailure for Error {
    fn api_error(&self) -> Option<&kube::Error> {
        match self {
            Error::Api { source, .. } => Some(source),
            _ => None,
        }
    }
}
