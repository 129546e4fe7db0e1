//! capstan's release operations: install, upgrade, rollback and uninstall, and the read side
//! (history, status, get, list), as pure orchestration over two injected interfaces: a
//! [`capstan_release::ReleaseStore`] and a [`Cluster`]. Helm's semantics, statuses and
//! descriptions, plus what Helm cannot do: a per-release lock with crash recovery, and
//! cancellation that never leaves a release `pending-*`.
//!
//! This crate does no network I/O and depends on no async runtime, Kubernetes client or gRPC:
//! `capstan-kube` implements [`Cluster`], the applier wires it to a store and a gRPC stream of
//! [`Event`]s.
//!
//! # Main types
//!
//! - Operations, each a struct of options with an async `run`: [`Install`], [`Upgrade`],
//!   [`Rollback`], [`Uninstall`]; the read side in [`read`] ([`read::history`],
//!   [`read::status`], [`read::get`], [`read::list`], [`read::values`]...).
//! - [`Prepare`] / [`Plan`]: what an install, upgrade or rollback builds on, decided once for
//!   every client before rendering: the latest revision, the values by Helm's rules
//!   ([`values::upgrade_values`]), the revision the templates see, and the revision the
//!   operation expects under the lock (`expected_revision`: a release that moved meanwhile is
//!   [`Error::Moved`]).
//! - [`Rendered`]: the renderer's output, the input of install and upgrade.
//! - [`Cluster`]: apply (with the previous objects, for three-way merges and deleting dropped
//!   objects), delete, wait, run a hook, lock, capabilities, namespace creation, live status;
//!   [`ClusterError`].
//! - [`Resource`] / [`ObjectRef`], [`split_manifest`], Helm's install and uninstall order.
//! - [`Progress`] and [`Event`]: live progress for a stream.
//! - [`Control`] and [`Cancel`]: lock holder identity, lock wait, recovery policy, deadline and
//!   cancellation.
//! - [`Error`] (one per crate, lowercase contextual messages; [`Error::class`] for a service's
//!   status-code mapping) and [`error_chain`], which writes errors as Helm's descriptions do.
//!
//! # Cancellation and crash recovery
//!
//! Every cluster call is raced against [`Control::cancel`] and preceded by a check of the
//! deadline and of the lock's renewal. When either stops the operation, its finalisation runs
//! detached from the token: the revision is marked `failed` (`Upgrade "web" failed: operation
//! cancelled: ...`), an atomic upgrade rolls back and an atomic install uninstalls, and the lock
//! is released. A future that is dropped cannot finalise: its lock guard is dropped unreleased,
//! which abandons the lease, and the next operation finds the revision pending under an
//! expired lease and recovers it. Servers should spawn operations and turn a client going away
//! into a cancellation, so only a dying process takes the recovery path.
//!
//! # Invariants
//!
//! - Every mutating operation takes the release's lock first and holds it to the end.
//! - A revision is never left `pending-*` by an operation that gets to run its finalisation:
//!   errors, cancellation and deadlines all end in `failed` (and, with atomic, a rollback or
//!   an uninstall). A revision left pending by a process that died (or a dropped future) is
//!   recovered by the next operation once its lease has expired ([`RecoverPolicy`]):
//!   marked `failed`, "interrupted: the operation holding the lock stopped (lease expired at
//!   T)".
//! - A pending latest revision with no evidence that its writer stopped (Helm takes no lock)
//!   is Helm's "another operation (install/upgrade/rollback) is in progress".
//! - After a successful install, upgrade or rollback exactly one revision is `deployed`.
//! - History pruning never deletes the latest deployed revision.
//! - Each step (`lock`, `record` writes, each `hook`, `apply`, `wait`, `delete`) runs in a
//!   `tracing` span with the release's name, namespace and revision; values, manifests and
//!   Secret contents never appear in spans or events. Subscribers are the binaries' business.
//!
//! # Example
//!
//! ```
//! # futures::executor::block_on(async {
//! use capstan_ops::{Install, NoProgress, Rendered};
//! use capstan_release::MemoryStore;
//! # let cluster = capstan_ops::testing::FakeCluster::new();
//! let store = MemoryStore::new();
//! let release = Install::new("web", "apps")
//!     .run(&store, &cluster, &NoProgress, Rendered::default())
//!     .await
//!     .unwrap();
//! assert_eq!(release.info.description, "Install complete");
//! # });
//! ```

mod cluster;
mod control;
mod crds;
mod error;
mod install;
pub mod prepare;
mod progress;
mod race;
pub mod read;
mod rendered;
mod resource;
mod rollback;
mod session;
mod steps;
mod test;
mod uninstall;
mod upgrade;

#[cfg(feature = "testing")]
pub mod testing;
pub mod values;

pub use cluster::{
    ApplyMode, ApplyOptions, ApplyRequest, Capabilities, Cascade, Cluster, ClusterError,
    CrdRequest, DeleteRequest, DryRun, HookOutcome, HookRequest, Lock, LockGuard, LockHolder,
    LockRequest, LookupRequest, ObjectAction, ObjectPreview, ObjectReport, ObjectResult,
    ObjectStatus, StaleLease, WaitRequest,
};
pub use control::{Cancel, Cancelled, Control, RecoverPolicy};
pub use crds::CRD_TIMEOUT;
pub use error::{Error, ErrorClass, Result, error_chain, readable};
pub use install::{DEFAULT_TIMEOUT, Install, generate_name};
pub use prepare::{Plan, Prepare, Preparing};
pub use progress::{Event, NoProgress, Phase, Progress, Recorder};
pub use rendered::{Crd, Rendered};
pub use resource::{
    INSTALL_ORDER, KEEP_POLICY, MANAGED_BY_HELM, MANAGED_BY_LABEL, ObjectRef,
    RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION, RESOURCE_POLICY_ANNOTATION, Resource,
    sort_install_order, sort_uninstall_order, split_manifest,
};
pub use rollback::Rollback;
pub use test::{ReleaseTest, TestOutcome};
pub use uninstall::{Uninstall, UninstallResult};
pub use upgrade::Upgrade;
