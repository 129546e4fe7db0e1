//! The [`Cluster`] trait: everything the operations need from Kubernetes, with the request and
//! report types it speaks and its error, [`ClusterError`]. `capstan-kube` implements it; tests
//! use a fake.
//!
//! Like [`capstan_release::ReleaseStore`], methods return boxed `Send` futures so the trait is
//! object-safe (`Arc<dyn Cluster>`) and needs no async runtime here.

use std::time::Duration;

use capstan_release::{BoxFuture, GoTime, Hook, HookDeletePolicy, HookEvent, HookPhase};
use serde::Serialize;

use crate::control::Cancel;
use crate::progress::Progress;
use crate::resource::{ObjectRef, Resource};

/// How objects are applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplyMode {
    /// Server-side apply (Helm 4's default for installs), field manager [`ApplyOptions::field_manager`].
    #[default]
    ServerSide,
    /// Client-side three-way merge of (previous manifest, new manifest, live object).
    ClientSide,
}

/// `--dry-run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DryRun {
    /// Nothing is sent to the cluster (except capability discovery).
    Client,
    /// Every object is sent with the server's dry-run; nothing is changed or recorded.
    Server,
}

/// Options of one apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Server-side or client-side.
    pub mode: ApplyMode,
    /// The field manager (`helm` by default, so capstan and Helm share ownership).
    pub field_manager: String,
    /// `--force`: replace (PUT, or delete and recreate when immutable) instead of patching.
    pub force: bool,
    /// `--force-conflicts`: take fields owned by other managers (server-side apply).
    pub force_conflicts: bool,
    /// `--take-ownership`: adopt existing objects owned by no or another release.
    pub take_ownership: bool,
    /// `Some(Server)`: server-side dry run. (`Client` dry runs never reach the cluster.)
    pub dry_run: Option<DryRun>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            mode: ApplyMode::ServerSide,
            field_manager: "helm".into(),
            force: false,
            force_conflicts: false,
            take_ownership: false,
            dry_run: None,
        }
    }
}

/// Apply `target` (the new revision's objects, in install order, with ownership metadata set)
/// given `previous` (the objects of the revision being replaced, as last applied).
///
/// Implementations create or patch every target object (three-way with `previous` for
/// client-side apply), refuse objects owned by no or another release unless
/// `take_ownership`, and delete every object of `previous` that is not in `target`, unless it
/// is annotated `helm.sh/resource-policy: keep` (reported [`ObjectAction::Kept`]), deleting in
/// uninstall order ([`crate::sort_uninstall_order`]). An unchanged object gets no write.
/// Independent objects of one kind may be applied concurrently. Results are reported in the
/// returned [`ObjectReport`] (the operation forwards them as progress events); readiness and
/// hook progress go to the sink directly.
#[derive(Clone, Copy, Debug)]
pub struct ApplyRequest<'a> {
    /// The release name.
    pub release: &'a str,
    /// The release namespace (the namespace of objects that set none).
    pub namespace: &'a str,
    /// The previous revision's objects (empty for a fresh install).
    pub previous: &'a [Resource],
    /// The new revision's objects.
    pub target: &'a [Resource],
    /// How.
    pub options: &'a ApplyOptions,
}

/// What happened to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectAction {
    /// It did not exist and was created.
    Created,
    /// It existed and was changed.
    Configured,
    /// It existed unchanged; no write was made.
    Unchanged,
    /// It was replaced (`--force`).
    Replaced,
    /// It was deleted.
    Deleted,
    /// It would have been deleted but is annotated `helm.sh/resource-policy: keep`.
    Kept,
    /// It was to be deleted and was already gone.
    NotFound,
}

/// The result of one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectResult {
    /// The object.
    pub object: ObjectRef,
    /// What happened.
    pub action: ObjectAction,
    /// In a server dry run: the object as it is and as it would be.
    pub preview: Option<ObjectPreview>,
}

/// What a server dry run would do to one object: whole objects as the API server returns them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectPreview {
    /// The live object; `None` when it does not exist.
    pub live: Option<serde_json::Value>,
    /// The object the server would store; `None` when it would be deleted.
    pub planned: Option<serde_json::Value>,
}

/// The outcome of an apply or delete: per-object results and per-object failures. A call that
/// reaches the cluster returns `Ok` with failures listed, so the caller knows what was created
/// before something failed (`--cleanup-on-fail`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectReport {
    /// Objects handled.
    pub results: Vec<ObjectResult>,
    /// Objects that failed, with why.
    pub failed: Vec<(ObjectRef, String)>,
}

impl ObjectReport {
    /// The objects with the given action.
    pub fn with_action(&self, action: ObjectAction) -> impl Iterator<Item = &ObjectRef> {
        self.results
            .iter()
            .filter(move |r| r.action == action)
            .map(|r| &r.object)
    }
}

/// How dependents are deleted (`--cascade`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cascade {
    /// Delete dependents in the background (the default).
    #[default]
    Background,
    /// Delete dependents first.
    Foreground,
    /// Leave dependents.
    Orphan,
}

/// Delete objects, in the order given (the operations pass Helm's uninstall order and have
/// already left out objects annotated `helm.sh/resource-policy: keep`). An object already
/// gone is [`ObjectAction::NotFound`], not a failure.
#[derive(Clone, Copy, Debug)]
pub struct DeleteRequest<'a> {
    /// The release name.
    pub release: &'a str,
    /// The release namespace.
    pub namespace: &'a str,
    /// The objects.
    pub objects: &'a [Resource],
    /// `--cascade`.
    pub cascade: Cascade,
    /// Whether this is a dry run (server-side).
    pub dry_run: bool,
}

/// Wait until objects are ready (or, with `for_deletion`, gone), reporting readiness changes to
/// the progress sink. Fails with [`ClusterError::Timeout`] listing every object not ready and
/// why.
#[derive(Clone, Copy, Debug)]
pub struct WaitRequest<'a> {
    /// The release namespace.
    pub namespace: &'a str,
    /// The objects.
    pub objects: &'a [Resource],
    /// How long at most.
    pub timeout: Duration,
    /// `--wait-for-jobs`: Jobs must complete.
    pub wait_for_jobs: bool,
    /// Wait for the objects to be deleted instead.
    pub for_deletion: bool,
}

/// Run one hook: delete a previous instance when the policies include
/// `before-hook-creation`, create it, wait for a Job to complete or a Pod to succeed (other
/// kinds are done once created) within the timeout, then delete it per `hook-succeeded` /
/// `hook-failed`.
#[derive(Clone, Copy, Debug)]
pub struct HookRequest<'a> {
    /// The release name.
    pub release: &'a str,
    /// The release namespace.
    pub namespace: &'a str,
    /// The event being run.
    pub event: &'a HookEvent,
    /// The hook as stored.
    pub hook: &'a Hook,
    /// Its parsed manifest.
    pub resource: &'a Resource,
    /// The effective delete policies (`before-hook-creation` when the hook sets none).
    pub delete_policies: &'a [HookDeletePolicy],
    /// How long to wait for it.
    pub timeout: Duration,
}

/// Create the objects of a chart's `crds/` files that do not exist yet, as Helm installs
/// them: each as written (no ownership metadata, no last-applied annotation, so a CRD of any
/// size that the API server accepts is created), in the order given; an object that already
/// exists is left as it is ([`ObjectAction::Unchanged`]), never updated. Then wait, up to
/// `timeout`, for those created to be ready (a CustomResourceDefinition: `Established`), so
/// the release's custom resources can be applied. The first object that cannot be created
/// fails the call ([`ClusterError::Object`]).
#[derive(Clone, Copy, Debug)]
pub struct CrdRequest<'a> {
    /// The objects, in file order.
    pub objects: &'a [Resource],
    /// How long to wait for the created ones to be established.
    pub timeout: Duration,
}

/// How a hook run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookOutcome {
    /// `Succeeded` or `Failed`.
    pub phase: HookPhase,
    /// When it was created.
    pub started_at: GoTime,
    /// When it finished.
    pub completed_at: GoTime,
    /// Why it failed (`BackoffLimitExceeded`, a container's exit code, ...).
    pub message: Option<String>,
}

/// Take the per-release lock.
#[derive(Clone, Copy, Debug)]
pub struct LockRequest<'a> {
    /// The release namespace.
    pub namespace: &'a str,
    /// The release name.
    pub name: &'a str,
    /// Who will hold it.
    pub holder: &'a str,
    /// How long to wait for a live holder to let go (`None`: fail at once with
    /// [`ClusterError::LockHeld`]).
    pub wait: Option<Duration>,
}

/// A lock that had expired under another holder when it was taken: proof that holder stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleLease {
    /// Who held it.
    pub holder: String,
    /// When they took it.
    pub since: GoTime,
    /// When it expired.
    pub expired_at: GoTime,
}

/// A taken lock.
pub struct Lock {
    /// The guard; the lock is held until it is released or dropped.
    pub guard: Box<dyn LockGuard>,
    /// The expired lease this lock replaced, if any.
    pub took_over: Option<StaleLease>,
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock")
            .field("holder", &self.guard.holder())
            .field("took_over", &self.took_over)
            .finish()
    }
}

/// A held per-release lock. Implementations renew it while held.
///
/// [`release`](Self::release) lets go cleanly. Dropping a guard without releasing it means the
/// operation was abandoned mid-flight: implementations stop renewing and leave the lease to
/// expire (they may shorten it to expire at once), so the next operation sees a
/// [`StaleLease`] and recovers the interrupted revision.
///
/// **Fencing.** A lock is only known held until the moment another client could see it
/// expired. Implementations keep a local deadline short of that (from the last renewal that
/// was acknowledged, counted from when it was sent) and report the lock lost once it passes
/// or once another holder is seen: [`is_lost`](Self::is_lost) then stays true, and
/// [`lost`](Self::lost) fires. An operation checks both before and races them against every
/// write, so a holder that lost its lock writes nothing more.
pub trait LockGuard: Send + Sync {
    /// The holder identity.
    fn holder(&self) -> &str;
    /// Whether the lock may no longer be held (taken by another holder, or not renewed before
    /// its local deadline). Once true, it stays true.
    fn is_lost(&self) -> bool {
        false
    }
    /// A token that fires (with the reason) when [`is_lost`](Self::is_lost) becomes true. The
    /// default never fires.
    fn lost(&self) -> Cancel {
        Cancel::new()
    }
    /// Releases the lock.
    fn release(self: Box<Self>) -> BoxFuture<'static, Result<(), ClusterError>>;
}

/// What a template's `lookup` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupRequest<'a> {
    /// `v1`, `apps/v1`, ...
    pub api_version: &'a str,
    /// `Secret`, ...
    pub kind: &'a str,
    /// The namespace (empty: cluster-scoped, or every namespace when listing).
    pub namespace: &'a str,
    /// The name (empty: list).
    pub name: &'a str,
}

/// What the cluster offers (for `.Capabilities` in templates).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The server's version, e.g. `v1.36.0`.
    pub kube_version: Option<String>,
    /// Every `group/version` and `group/version/Kind` served.
    pub api_versions: Vec<String>,
}

/// The live status of one object (for `status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectStatus {
    /// The object.
    pub object: ObjectRef,
    /// Whether it exists.
    pub exists: bool,
    /// Whether it is ready.
    pub ready: bool,
    /// Why (or why not).
    pub reason: String,
}

/// Everything the operations need from a Kubernetes cluster.
pub trait Cluster: Send + Sync {
    /// What the cluster offers. The default knows nothing.
    fn capabilities(&self) -> BoxFuture<'_, Result<Capabilities, ClusterError>> {
        Box::pin(async { Ok(Capabilities::default()) })
    }

    /// Creates a namespace if it does not exist (`--create-namespace`); returns whether it
    /// was created.
    fn create_namespace<'a>(
        &'a self,
        namespace: &'a str,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<bool, ClusterError>>;

    /// Applies objects; see [`ApplyRequest`].
    fn apply<'a>(
        &'a self,
        request: ApplyRequest<'a>,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<ObjectReport, ClusterError>>;

    /// A hint that objects of these kinds are about to be checked and applied: the cluster may
    /// look their kinds up now (discovery), while the operation does other work. It never
    /// fails and changes nothing; a kind it cannot find yet is looked up again when needed.
    /// The default does nothing.
    fn prefetch_kinds<'a>(&'a self, objects: &'a [Resource]) -> BoxFuture<'a, ()> {
        let _ = objects;
        Box::pin(async {})
    }

    /// Checks, before a revision is recorded, that every object of `request.target` that
    /// `request.previous` does not have and that already exists belongs to the release, unless
    /// `take_ownership` (Helm's "exists and cannot be imported" check). Writes nothing. The
    /// default accepts everything (the apply still refuses such objects).
    fn check_adoption<'a>(
        &'a self,
        request: ApplyRequest<'a>,
    ) -> BoxFuture<'a, Result<(), ClusterError>> {
        let _ = request;
        Box::pin(async { Ok(()) })
    }

    /// [`check_adoption`](Self::check_adoption) of the objects of `request.target` whose kinds
    /// the cluster knows it serves without asking (kinds looked up before, or by
    /// [`prefetch_kinds`](Self::prefetch_kinds)): what an install checks while its CRD step
    /// runs, since a kind that step is creating may not be served yet. Returns the positions
    /// in `request.target` of the objects it left unchecked, for
    /// [`check_adoption`](Self::check_adoption) once the CRD step is done. The default checks
    /// nothing and leaves every object.
    fn check_adoption_served<'a>(
        &'a self,
        request: ApplyRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<usize>, ClusterError>> {
        let all = (0..request.target.len()).collect();
        Box::pin(async move { Ok(all) })
    }

    /// Deletes objects; see [`DeleteRequest`].
    fn delete<'a>(
        &'a self,
        request: DeleteRequest<'a>,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<ObjectReport, ClusterError>>;

    /// Waits for readiness; see [`WaitRequest`].
    fn wait<'a>(
        &'a self,
        request: WaitRequest<'a>,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<(), ClusterError>>;

    /// Runs one hook; see [`HookRequest`]. A hook that ran and failed is `Ok` with phase
    /// `Failed`; `Err` means it could not be run at all.
    fn run_hook<'a>(
        &'a self,
        request: HookRequest<'a>,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<HookOutcome, ClusterError>>;

    /// Takes the per-release lock; fails with [`ClusterError::LockHeld`] when a live holder
    /// has it (after waiting up to `request.wait`).
    fn lock<'a>(&'a self, request: LockRequest<'a>) -> BoxFuture<'a, Result<Lock, ClusterError>>;

    /// Reads what a template's `lookup` asks for (Helm's `lookup apiVersion kind namespace
    /// name`; an empty name lists): the object, or the list, as JSON; `None` when it does not
    /// exist. The default finds nothing.
    fn lookup<'a>(
        &'a self,
        request: LookupRequest<'a>,
    ) -> BoxFuture<'a, Result<Option<serde_json::Value>, ClusterError>> {
        let _ = request;
        Box::pin(async { Ok(None) })
    }

    /// Creates a chart's CRDs that do not exist and waits until they are established; see
    /// [`CrdRequest`]. The default cannot.
    fn create_crds<'a>(
        &'a self,
        request: CrdRequest<'a>,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<ObjectReport, ClusterError>> {
        let _ = (request, progress);
        Box::pin(async { Err(ClusterError::other("this cluster cannot create CRDs")) })
    }

    /// Which of `objects` exist (each by its key alone: `apiVersion`, `kind` and `metadata`
    /// are all it reads), in order; how the CRD step sees, without the CRDs' bodies, that
    /// there is nothing to create. The default knows of none, so every CRD goes to
    /// [`create_crds`](Self::create_crds).
    fn existing<'a>(
        &'a self,
        objects: &'a [Resource],
    ) -> BoxFuture<'a, Result<Vec<bool>, ClusterError>> {
        Box::pin(async move { Ok(vec![false; objects.len()]) })
    }

    /// The logs of pod `name` in `namespace` (`test --logs`). The default has none.
    fn pod_logs<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<String, ClusterError>> {
        let _ = (namespace, name);
        Box::pin(async { Err(ClusterError::other("this cluster cannot read logs")) })
    }

    /// The live status of objects. The default reports nothing.
    fn object_status<'a>(
        &'a self,
        namespace: &'a str,
        objects: &'a [Resource],
    ) -> BoxFuture<'a, Result<Vec<ObjectStatus>, ClusterError>> {
        let _ = (namespace, objects);
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Who holds a release's lock ([`ClusterError::LockHeld`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockHolder {
    /// The namespace.
    pub namespace: String,
    /// The release.
    pub name: String,
    /// Who holds it (applier instance and operation id).
    pub holder: String,
    /// Since when.
    pub since: GoTime,
    /// Until when, unless renewed.
    pub until: GoTime,
}

/// What a [`Cluster`] call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// A live holder has the release's lock.
    #[error(
        "lock on release {:?} in namespace {:?} is held by {} since {} until {}",
        .0.name, .0.namespace, .0.holder, .0.since, .0.until
    )]
    LockHeld(Box<LockHolder>),

    /// Waiting timed out; every object not ready, with why.
    #[error("timed out waiting for the condition: {}", not_ready.join("; "))]
    Timeout {
        /// `deployment/web: 1/3 available`, ...
        not_ready: Vec<String>,
    },

    /// One object could not be handled.
    #[error("{object}: {message}")]
    Object {
        /// The object.
        object: Box<ObjectRef>,
        /// Why.
        message: String,
    },

    /// The call was cancelled from outside.
    #[error("cancelled: {reason}")]
    Cancelled {
        /// Why.
        reason: String,
    },

    /// Anything else (API errors, connection errors).
    #[error("{message}")]
    Other {
        /// What happened.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl ClusterError {
    /// An error from a message.
    pub fn other(message: impl Into<String>) -> Self {
        ClusterError::Other {
            message: message.into(),
            source: None,
        }
    }
}
