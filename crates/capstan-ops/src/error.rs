//! The crate's one error type, [`Error`], its [`Result`] alias, and [`error_chain`].

use std::time::Duration;

use capstan_release::GoTime;

use crate::cluster::ClusterError;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything an operation can fail with.
///
/// Messages are lowercase and name the release (and revision) they are about; the cause, when
/// there is one, is the [`source`](std::error::Error::source) and is not repeated. The
/// descriptions recorded in release history use the whole chain ([`error_chain`]), as Helm's do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not usable (bad release name, bad revision, bad option combination).
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// What is wrong.
        reason: String,
    },

    /// Install: the name belongs to a release that is still in use (Helm's message).
    #[error("cannot re-use a name that is still in use")]
    NameInUse {
        /// The release name.
        name: String,
    },

    /// The release (or the revision asked for) does not exist (Helm's `release: not found`).
    #[error("release {name:?}{}: not found", revision.map(|r| format!(" revision {r}")).unwrap_or_default())]
    NotFound {
        /// The release name.
        name: String,
        /// The revision asked for, if one was.
        revision: Option<u32>,
    },

    /// Upgrade without `--install` of a release that has no deployed revision.
    #[error("{name:?} has no deployed releases")]
    NoDeployedReleases {
        /// The release name.
        name: String,
    },

    /// Another client that takes no lock (Helm) created the revision this operation was about
    /// to create, after this operation read the history.
    #[error(
        "another client (Helm takes no lock) wrote revision {revision} of release {name:?} first; run the command again, or pass --wait-for-lock to retry on its own"
    )]
    RevisionTaken {
        /// The release name.
        name: String,
        /// The revision the other client wrote.
        revision: u32,
    },

    /// The release moved (another operation wrote a revision) between the preparation of this
    /// operation (its values and `.Release.Revision`) and the moment it took the lock.
    #[error("{}", moved_message(name, operation, *expected, *found))]
    Moved {
        /// The release name.
        name: String,
        /// `install` or `upgrade`.
        operation: &'static str,
        /// The latest revision when the operation was prepared (0: none).
        expected: u32,
        /// The latest revision now (0: none).
        found: u32,
    },

    /// Uninstall of a release already uninstalled with `--keep-history` (Helm's message).
    #[error("the release named {name:?} is already deleted")]
    AlreadyDeleted {
        /// The release name.
        name: String,
    },

    /// The latest revision is `pending-*` and nobody has recovered it (Helm's message, plus
    /// the way out when no other client is running).
    #[error(
        "another operation (install/upgrade/rollback) is in progress (revision {revision} of release {name:?} is pending; if no other client is working on it, --recover marks it failed and proceeds)"
    )]
    InProgress {
        /// The release name.
        name: String,
        /// The pending revision.
        revision: u32,
    },

    /// Another live operation holds the release's lock.
    #[error(
        "release {name:?} in namespace {namespace:?} is locked by {holder} since {since} until {until}"
    )]
    Locked {
        /// The namespace.
        namespace: String,
        /// The release name.
        name: String,
        /// Who holds the lock (applier instance and operation id).
        holder: String,
        /// When the holder took it.
        since: GoTime,
        /// When the lease expires unless renewed.
        until: GoTime,
    },

    /// The lock may have been lost while the operation ran (not renewed in time, taken by
    /// another holder, or a record changed under it): another operation may hold it now, so
    /// this one wrote nothing more.
    #[error(
        "lost the lock on release {name:?}: {reason}; this operation stopped without writing \
         anything more, and the release's state is what the operation now holding it makes it"
    )]
    LockLost {
        /// The release name.
        name: String,
        /// Why the lock is considered lost.
        reason: String,
    },

    /// A manifest stored or rendered could not be parsed.
    #[error("parsing manifest {source_path}: {reason}")]
    Manifest {
        /// The `# Source:` path of the document, or `<manifest>`.
        source_path: String,
        /// What is wrong.
        reason: String,
    },

    /// A hook failed (Helm: `warning: Hook <event> <path> failed`, after the operation's
    /// wording, e.g. `pre-upgrade hooks failed: `).
    #[error("{prefix}warning: Hook {event} {path} failed")]
    HookFailed {
        /// The operation's wording before Helm's hook message (may be empty).
        prefix: String,
        /// The event being run (`pre-upgrade`, ...).
        event: String,
        /// The hook's template path.
        path: String,
        /// The hook's resource name.
        hook: String,
        /// Why it failed.
        #[source]
        source: Box<ClusterError>,
    },

    /// Some objects could not be applied or deleted.
    #[error("{what} failed for {count} object(s): {}", failures.join("; "))]
    Objects {
        /// `apply` or `delete`.
        what: &'static str,
        /// How many failed.
        count: usize,
        /// `kind/name: reason` for each.
        failures: Vec<String>,
    },

    /// An uninstall finished but some objects could not be deleted (Helm's message).
    #[error("uninstallation completed with {count} error(s): {}", errors.join("; "))]
    UninstallErrors {
        /// How many.
        count: usize,
        /// `kind/name: reason` for each.
        errors: Vec<String>,
    },

    /// A cluster call failed.
    #[error("{context}")]
    Cluster {
        /// What was being done (`waiting for release "web" revision 3`).
        context: String,
        /// The cluster's error.
        #[source]
        source: Box<ClusterError>,
    },

    /// A store call failed.
    #[error("{context}")]
    Store {
        /// What was being done (`storing release "web" revision 3`).
        context: String,
        /// The store's error.
        #[source]
        source: Box<capstan_release::Error>,
    },

    /// The operation was cancelled (client gone, Ctrl-C, shutdown).
    #[error("operation cancelled: {reason}")]
    Cancelled {
        /// Why.
        reason: String,
    },

    /// The operation's deadline passed.
    #[error("operation deadline exceeded after {elapsed:?}")]
    DeadlineExceeded {
        /// How long the operation had run.
        elapsed: Duration,
    },

    /// An atomic install failed and the release was uninstalled (Helm's message).
    #[error("release {name} failed, and has been uninstalled due to atomic being set")]
    AtomicUninstalled {
        /// The release name.
        name: String,
        /// The install's error.
        #[source]
        source: Box<Error>,
    },

    /// An atomic upgrade failed and the release was rolled back (Helm's message).
    #[error("release {name} failed, and has been rolled back due to atomic being set")]
    AtomicRolledBack {
        /// The release name.
        name: String,
        /// The revision rolled back to.
        to: u32,
        /// The upgrade's error.
        #[source]
        source: Box<Error>,
    },

    /// An atomic upgrade failed and there is no superseded or deployed revision to roll back
    /// to (Helm's message).
    #[error(
        "unable to find a previously successful release when attempting to rollback. original upgrade error: {original}"
    )]
    NoSuccessfulRelease {
        /// The upgrade's error, as a chain.
        original: String,
    },

    /// An atomic operation failed and so did its recovery (Helm's message, with the original
    /// error).
    #[error("an error occurred while {action} the release. original {operation} error: {original}")]
    AtomicRecoveryFailed {
        /// `rolling back` or `uninstalling`.
        action: &'static str,
        /// `upgrade` or `install`.
        operation: &'static str,
        /// The original error, as a chain.
        original: String,
        /// The recovery's error.
        #[source]
        source: Box<Error>,
    },
}

/// What kind of failure an [`Error`] is, for one mapping to gRPC status codes per service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Bad input (`InvalidArgument`).
    InvalidInput,
    /// Something asked for does not exist (`NotFound`).
    NotFound,
    /// The name is taken (`AlreadyExists`).
    AlreadyExists,
    /// Another operation holds the release, or its state forbids this (`FailedPrecondition`).
    Precondition,
    /// The release moved since the operation was prepared; nothing was written, and preparing
    /// it again may succeed (`Aborted`).
    Conflict,
    /// The deadline passed (`DeadlineExceeded`).
    DeadlineExceeded,
    /// The caller cancelled (`Cancelled`).
    Cancelled,
    /// The operation ran and failed (hooks, objects, readiness, store or cluster errors).
    Failed,
}

impl Error {
    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::InvalidInput { .. } | Error::Manifest { .. } => ErrorClass::InvalidInput,
            Error::NotFound { .. } => ErrorClass::NotFound,
            Error::NameInUse { .. } => ErrorClass::AlreadyExists,
            Error::NoDeployedReleases { .. }
            | Error::AlreadyDeleted { .. }
            | Error::InProgress { .. }
            | Error::RevisionTaken { .. }
            | Error::Locked { .. }
            | Error::LockLost { .. } => ErrorClass::Precondition,
            Error::Moved { .. } => ErrorClass::Conflict,
            Error::DeadlineExceeded { .. } => ErrorClass::DeadlineExceeded,
            Error::Cancelled { .. } => ErrorClass::Cancelled,
            Error::Cluster { source, .. } if matches!(**source, ClusterError::Timeout { .. }) => {
                ErrorClass::DeadlineExceeded
            }
            // An atomic operation undone after a timeout timed out: exit code 4 as any timeout.
            Error::AtomicRolledBack { source, .. } | Error::AtomicUninstalled { source, .. }
                if source.class() == ErrorClass::DeadlineExceeded =>
            {
                ErrorClass::DeadlineExceeded
            }
            _ => ErrorClass::Failed,
        }
    }

    /// Whether the operation was stopped from outside (cancelled, past its deadline, or its
    /// lock lost).
    pub fn is_cancellation(&self) -> bool {
        matches!(
            self,
            Error::Cancelled { .. } | Error::DeadlineExceeded { .. }
        )
    }

    pub(crate) fn store(
        context: impl Into<String>,
    ) -> impl FnOnce(capstan_release::Error) -> Error {
        let context = context.into();
        move |source| Error::Store {
            context,
            source: Box::new(source),
        }
    }

    pub(crate) fn cluster(context: impl Into<String>) -> impl FnOnce(ClusterError) -> Error {
        let context = context.into();
        move |source| match source {
            ClusterError::Cancelled { reason } => Error::Cancelled { reason },
            source => Error::Cluster {
                context,
                source: Box::new(source),
            },
        }
    }
}

/// [`Error::Moved`]'s message: what moved, and that running the command again prepares it anew.
fn moved_message(name: &str, operation: &str, expected: u32, found: u32) -> String {
    let what = match (expected, found) {
        (0, found) => format!("was created (revision {found})"),
        (expected, 0) => format!("was deleted (it was at revision {expected})"),
        (expected, found) => format!("moved from revision {expected} to {found}"),
    };
    format!("release {name:?} {what} while this {operation} was prepared; run it again")
}

/// The `reason`s of Kubernetes API statuses (`metav1.StatusReason`), which kube-rs appends to
/// a status's message.
const STATUS_REASONS: [&str; 19] = [
    "NotFound",
    "AlreadyExists",
    "Conflict",
    "Forbidden",
    "Invalid",
    "BadRequest",
    "Unauthorized",
    "Gone",
    "Timeout",
    "ServerTimeout",
    "TooManyRequests",
    "MethodNotAllowed",
    "NotAcceptable",
    "RequestEntityTooLarge",
    "UnsupportedMediaType",
    "InternalError",
    "Expired",
    "ServiceUnavailable",
    "Failure",
];

/// One error message as a person reads it: kube-rs's `ApiError: MESSAGE: Reason (Status {...})`
/// becomes the API server's `MESSAGE`, and the `HyperError: `/`ServiceError: ` type-name
/// prefixes go.
pub fn readable(text: &str) -> String {
    let mut text = text;
    loop {
        let before = text;
        for prefix in [
            "ApiError: ",
            "HyperError: ",
            "ServiceError: ",
            "HttpError: ",
        ] {
            text = text.strip_prefix(prefix).unwrap_or(text);
        }
        if before == text {
            break;
        }
    }
    if let Some(at) = text.find(" (Status {") {
        text = &text[..at];
    }
    if let Some((message, reason)) = text.rsplit_once(": ")
        && (STATUS_REASONS.contains(&reason) || reason.is_empty())
    {
        text = message;
    }
    text.strip_suffix(':').unwrap_or(text).to_owned()
}

/// The error and its sources joined with `": "`, as Go's wrapped errors print and as Helm writes
/// them in `info.description`.
///
/// Each message is made [`readable`]: a Kubernetes API error reads as the API server's message,
/// never as the Rust value kube-rs prints.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = readable(&error.to_string());
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = readable(&e.to_string());
        if !text.is_empty() && !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn kube_api_errors_read_as_the_api_servers_message() {
        let debug = "ApiError: namespaces \"x\" not found: NotFound (Status { status: Some(Failure), \
                     code: 404, message: \"namespaces \\\"x\\\" not found\", reason: \"NotFound\" })";
        assert_eq!(readable(debug), "namespaces \"x\" not found");
        assert_eq!(
            readable("namespaces \"x\" not found: NotFound"),
            "namespaces \"x\" not found"
        );
        assert_eq!(
            readable("ServiceError: client error (Connect)"),
            "client error (Connect)"
        );
        assert_eq!(readable("image: nginx: 1.2"), "image: nginx: 1.2");
    }
}
