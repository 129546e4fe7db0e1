//! capstan's applier service: installs, upgrades, rolls back and uninstalls releases, and reads
//! their history, over gRPC (`capstan.applier.v1.Applier`).
//!
//! The client renders first (with the renderer service) and hands the result to a mutating RPC
//! ([`Install`], [`Upgrade`]...), which runs the matching `capstan-ops` operation as a spawned
//! task over the store and cluster a [`Backend`] opens for the request's namespace, and streams
//! its progress events; the last message is always an `OperationResult`. Reads (`List`,
//! `History`, `Status`, `Get`) are unary.
//!
//! # Main types
//!
//! - [`ApplierService`]: the tonic service; [`ApplierService::into_server`] for a tonic server.
//! - [`Backend`], [`Target`], [`KubeBackend`]: where the store and cluster of a request come
//!   from (`HELM_DRIVER` and kube-rs in the daemon, fakes in tests).
//! - [`convert::code_of`]: the one mapping from [`capstan_ops::ErrorClass`] to gRPC codes.
//!
//! # Tenants
//!
//! Every RPC is made by a [`Caller`] (`capstan_server::caller`, set by the daemon's
//! authentication). Under a tenant policy the service authorizes the operation and namespace
//! first; mutating operations are preflighted ([`Backend::preflight`]: the chart's objects stay
//! in the release's namespace, cluster-scoped kinds only as the policy allows, and the cluster
//! confirms the tenant's identity may create and patch each kind) before anything is applied;
//! installs count against the tenant's release quota (concurrent installs of one tenant
//! included: a release being installed holds its place until its operation ends); and every cluster call is made as the
//! tenant's Kubernetes identity ([`Backend::open_as`]), so the cluster's RBAC has the final word.
//! `list -A` shows the tenant's namespaces only.
//!
//! # Invariants
//!
//! - Operations run as spawned tasks: a client that goes away, or a deadline that passes
//!   (`grpc-timeout`), fires the operation's [`capstan_ops::Cancel`] (or deadline), and the
//!   operation finalises (the release is marked failed, never left pending).
//! - Every operation's lock holder is `<instance id>/<operation id>`, unique per process.
//! - At most `--max-in-flight` operations run at once, and at most
//!   `--max-in-flight-per-tenant` of one tenant ([`ApplierService::with_in_flight_limits`]);
//!   more are refused with `RESOURCE_EXHAUSTED`. Requests are bounded by [`MAX_MESSAGE_BYTES`]
//!   and rendered releases by [`MAX_OBJECTS`].
//! - After [`ApplierService::begin_shutdown`] new operations are refused (`UNAVAILABLE`);
//!   [`ApplierService::wait_idle`] waits for those in flight.
//! - Each operation runs in a tracing span with `release`, `namespace`, `revision` and
//!   `operation` (a child of the RPC's server span, so of the client's trace); values and
//!   manifests are never logged.
//! - Every operation is counted and timed by kind and result, in flight while it runs; lock
//!   waits and crash recoveries are recorded from its progress events
//!   ([`capstan_telemetry::metrics`]).
//!
//! [`Install`]: capstan_proto::applier::v1::applier_server::Applier::install
//! [`Upgrade`]: capstan_proto::applier::v1::applier_server::Applier::upgrade

mod backend;
pub mod convert;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use capstan_auth::{Caller, Operation};
use capstan_ops::{
    Cancel, Control, DEFAULT_TIMEOUT, Event, Install, ObjectRef, Progress, Rollback, Uninstall,
    Upgrade, read,
};
use capstan_proto::applier::v1 as pb;
use capstan_proto::applier::v1::applier_server::{Applier, ApplierServer};
use capstan_release::{DEFAULT_MAX_HISTORY, ListFilter, Release, ReleaseSummary, Status as State};
use futures::Stream;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

pub use backend::{Backend, KubeBackend, Target};

/// Largest gRPC message the applier accepts or sends.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// Most objects (manifest documents and hooks) one rendered release may hold, as the renderer's
/// default `--max-objects`.
pub const MAX_OBJECTS: usize = 10_000;

/// Default bound on operations running at once (`--max-in-flight`).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// Default bound on one tenant's operations running at once (`--max-in-flight-per-tenant`).
pub const DEFAULT_MAX_IN_FLIGHT_PER_TENANT: usize = 32;

fn admission(max: usize, per_tenant: usize) -> capstan_server::InFlightLimit {
    capstan_server::InFlightLimit::new(max, "--max-in-flight")
        .per_tenant(per_tenant, "--max-in-flight-per-tenant")
}

/// The applier service.
#[derive(Clone)]
pub struct ApplierService {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn Backend>,
    instance: String,
    next_operation: AtomicU64,
    draining: AtomicBool,
    /// One clone per operation in flight.
    in_flight: Arc<()>,
    /// Admission: operations beyond it are refused with `RESOURCE_EXHAUSTED`.
    admission: capstan_server::InFlightLimit,
    /// Releases being installed, per tenant, until their records exist.
    quotas: Quotas,
}

impl ApplierService {
    /// A service over `backend`, with a fresh instance id.
    pub fn new(backend: Arc<dyn Backend>) -> ApplierService {
        ApplierService::with_instance(backend, new_instance_id())
    }

    /// A service over `backend` whose lock holders start with `instance`.
    pub fn with_instance(backend: Arc<dyn Backend>, instance: impl Into<String>) -> ApplierService {
        for operation in ["install", "upgrade", "rollback", "uninstall"] {
            capstan_telemetry::metrics::declare_operation(operation);
        }
        ApplierService {
            inner: Arc::new(Inner {
                backend,
                instance: instance.into(),
                next_operation: AtomicU64::new(1),
                draining: AtomicBool::new(false),
                in_flight: Arc::new(()),
                admission: admission(DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_IN_FLIGHT_PER_TENANT),
                quotas: Quotas::default(),
            }),
        }
    }

    /// The same service admitting at most `max` operations at once (more are refused with
    /// `RESOURCE_EXHAUSTED`), each tenant the default share. Call before serving: it starts a
    /// fresh service.
    pub fn with_max_in_flight(self, max: usize) -> ApplierService {
        self.with_in_flight_limits(max, DEFAULT_MAX_IN_FLIGHT_PER_TENANT)
    }

    /// The same service admitting at most `max` operations at once, and at most `per_tenant`
    /// of one tenant (more are refused with `RESOURCE_EXHAUSTED`). Call before serving: it
    /// starts a fresh service.
    pub fn with_in_flight_limits(self, max: usize, per_tenant: usize) -> ApplierService {
        ApplierService {
            inner: Arc::new(Inner {
                backend: self.inner.backend.clone(),
                instance: self.inner.instance.clone(),
                next_operation: AtomicU64::new(1),
                draining: AtomicBool::new(false),
                in_flight: Arc::new(()),
                admission: admission(max, per_tenant),
                quotas: Quotas::default(),
            }),
        }
    }

    /// This process's instance id (the first part of every lock holder).
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// The tonic server for this service, with capstan's message size limits.
    pub fn into_server(self) -> ApplierServer<ApplierService> {
        ApplierServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// Stops taking new operations; those in flight go on.
    pub fn begin_shutdown(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    /// How many operations are running.
    pub fn in_flight(&self) -> usize {
        Arc::strong_count(&self.inner.in_flight) - 1
    }

    /// Completes when no operation is running.
    pub async fn wait_idle(&self) {
        while self.in_flight() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts a mutating operation as a task and returns its event stream.
    #[allow(clippy::too_many_arguments)]
    async fn start<F, Fut>(
        &self,
        caller: &Caller,
        metadata: &tonic::metadata::MetadataMap,
        operation: &'static str,
        name: &str,
        namespace: &str,
        run: F,
    ) -> Result<Response<EventStream>, Status>
    where
        F: FnOnce(Target, Control, Arc<dyn Progress>) -> Fut + Send + 'static,
        Fut: Future<Output = pb::OperationResult> + Send + 'static,
    {
        if self.inner.draining.load(Ordering::SeqCst) {
            return Err(Status::unavailable(
                "the applier is shutting down and takes no new operations",
            ));
        }
        let admitted = self
            .inner
            .admission
            .admit(&capstan_server::Tenant::of(caller))?;
        let target = self.inner.backend.open_as(caller, namespace).await?;
        let id = self.inner.next_operation.fetch_add(1, Ordering::SeqCst);
        let holder = format!("{}/op-{id}", self.inner.instance);
        let cancel = Cancel::new();
        let control = Control {
            holder: holder.clone(),
            deadline: metadata
                .get("grpc-timeout")
                .and_then(|v| v.to_str().ok())
                .and_then(convert::grpc_timeout)
                .map(|d| Instant::now() + d),
            cancel: cancel.clone(),
            ..Control::default()
        };
        let span = tracing::info_span!(
            "operation",
            otel.name = %format!("applier.{operation}"),
            operation,
            release = %name,
            namespace = %namespace,
            revision = tracing::field::Empty,
            holder = %holder,
            tenant = caller.tenant_name(),
        );
        let stream_cancel = cancel.clone();
        let (tx, rx) = mpsc::unbounded_channel();
        let events = tx.clone();
        let event_span = span.clone();
        // When the operation started waiting for the release lock, until it has it (or failed).
        let locking = std::sync::Mutex::new(None::<Instant>);
        let progress: Arc<dyn Progress> = Arc::new(move |event: Event| {
            if let Event::Phase {
                revision: Some(r), ..
            } = &event
            {
                event_span.record("revision", r);
            }
            record_metrics(operation, &locking, &event);
            if let Some(message) = convert::event(&event) {
                let _ = events.send(Ok(message));
            }
        });
        let token = self.inner.in_flight.clone();
        let deadline = control.deadline;
        let running = capstan_telemetry::metrics::operation_started(operation);
        let operation_task = async move {
            tracing::info!("started");
            // The deadline bounds every step; past it, stop the step in flight at once.
            let timer = deadline.map(|deadline| {
                let cancel = cancel.clone();
                tokio::spawn(async move {
                    tokio::time::sleep_until(deadline.into()).await;
                    cancel.cancel("the client's deadline passed");
                })
            });
            let result = run(target, control, progress).await;
            if let Some(timer) = timer {
                timer.abort();
            }
            if let Some(release) = &result.release {
                tracing::Span::current().record("revision", release.revision);
            }
            match &result.error {
                None => tracing::info!("succeeded"),
                Some(e) => tracing::warn!(code = e.code, "failed"),
            }
            running.finish(capstan_server::code_label(
                result
                    .error
                    .as_ref()
                    .map_or(tonic::Code::Ok, |e| tonic::Code::from(e.code)),
            ));
            let _ = tx.send(Ok(convert::stamped(pb::operation_event::Event::Result(
                result,
            ))));
        }
        .instrument(span);
        tokio::spawn(async move {
            operation_task.await;
            // Only once the operation's span has closed (so a flush after wait_idle has it).
            drop(token);
            drop(admitted);
        });
        Ok(Response::new(Box::pin(OperationStream {
            rx,
            cancel: stream_cancel,
        })))
    }

    async fn target(&self, caller: &Caller, namespace: &str) -> Result<Target, Status> {
        self.inner.backend.open_as(caller, namespace).await
    }

    /// The latest revision of each release `caller` may see: in `namespace`, or (`None`) in
    /// every namespace it may use, each `filter` admits; with the records that could not be read.
    async fn listing(
        &self,
        caller: &Caller,
        namespace: Option<&str>,
        filter: &(dyn Fn(Option<&str>) -> ListFilter + Sync),
    ) -> Result<(Vec<ReleaseSummary>, Vec<String>), Status> {
        let namespaces = match namespace {
            Some(namespace) => vec![Some(namespace.to_owned())],
            None => match self.inner.backend.list_namespaces(caller).await? {
                Some(namespaces) => namespaces.into_iter().map(Some).collect(),
                None => vec![None],
            },
        };
        let (mut items, mut unreadable) = (Vec::new(), Vec::new());
        for namespace in &namespaces {
            let target = self
                .target(caller, namespace.as_deref().unwrap_or(""))
                .await?;
            let listing = read::list(&*target.store, &filter(namespace.as_deref()))
                .await
                .map_err(|e| convert::status(&e))?;
            items.extend(listing.items);
            unreadable.extend(listing.unreadable);
        }
        // Whatever the store returned, a tenant sees its own namespaces only.
        items.retain(|s| caller.may_use_namespace(&s.namespace));
        unreadable.retain(|u| caller.may_use_namespace(&u.namespace));
        if namespaces.len() > 1 {
            items.sort_by(|a, b| (&a.name, &a.namespace).cmp(&(&b.name, &b.namespace)));
        }
        Ok((items, unreadable.iter().map(ToString::to_string).collect()))
    }

    /// Refuses a new release `name` in `namespace` when `caller`'s tenant has used up its
    /// release quota (releases not uninstalled, across its namespaces, plus those being
    /// installed now). A new release is held against the quota until its operation ends: keep
    /// the returned hold in the operation, so that concurrent installs of one tenant cannot all
    /// pass the same count.
    async fn check_quota(
        &self,
        caller: &Caller,
        name: &str,
        namespace: &str,
    ) -> Result<Option<QuotaHold>, Status> {
        let Some(tenant) = caller.tenant().filter(|t| t.max_releases.is_some()) else {
            return Ok(None);
        };
        let quota = self.inner.quotas.of(&tenant.name);
        // One check at a time per tenant, from the listing to the hold.
        let _checking = quota.checking.lock().await;
        let (releases, _) = self
            .listing(caller, None, &|ns| match ns {
                Some(ns) => ListFilter::in_namespace(ns),
                None => ListFilter::all_namespaces(),
            })
            .await?;
        let key = (namespace.to_owned(), name.to_owned());
        let mut live: BTreeSet<(String, String)> = releases
            .into_iter()
            .filter(|r| {
                r.status != State::Uninstalled || (&r.namespace, &r.name) == (&key.0, &key.1)
            })
            .map(|r| (r.namespace, r.name))
            .collect();
        let installing = quota
            .installing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if live.contains(&key) || installing.contains(&key) {
            return Ok(None);
        }
        live.extend(installing);
        caller.check_quota(live.len()).map_err(|e| status(&e))?;
        Ok(Some(QuotaHold::new(quota.clone(), key)))
    }

    /// The preflight of a mutating operation: the objects of `manifest` and `hooks`.
    async fn preflight(
        &self,
        caller: &Caller,
        namespace: &str,
        manifest: &str,
        hooks: &[capstan_release::Hook],
    ) -> Result<(), Status> {
        if caller.tenant().is_none() {
            return Ok(());
        }
        let mut objects: Vec<ObjectRef> = Vec::new();
        for text in std::iter::once(manifest).chain(hooks.iter().map(|h| h.manifest.as_str())) {
            let resources = capstan_ops::split_manifest(text)
                .map_err(|e| Status::invalid_argument(capstan_ops::error_chain(&e)))?;
            objects.extend(resources.into_iter().map(|r| r.object));
        }
        self.inner
            .backend
            .preflight(caller, namespace, &objects)
            .await
    }
}

/// Updates the lock-wait and crash-recovery metrics from an operation's progress: the lock
/// wait runs from the `Locking` phase to the next event.
fn record_metrics(
    operation: &'static str,
    locking: &std::sync::Mutex<Option<Instant>>,
    event: &Event,
) {
    let mut locking = locking
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match event {
        Event::Phase {
            phase: capstan_ops::Phase::Locking,
            ..
        } => *locking = Some(Instant::now()),
        _ => {
            if let Some(since) = locking.take() {
                capstan_telemetry::metrics::lock_waited(operation, since.elapsed());
            }
        }
    }
    if let Event::Recovered { .. } = event {
        capstan_telemetry::metrics::recovered(operation);
    }
}

/// A fresh instance id: `capstan-applier-<host>-<random>`.
pub fn new_instance_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".into());
    format!("capstan-applier-{host}-{:08x}", rand::random::<u32>())
}

/// A Kubernetes client from a kubeconfig file (or the default: `KUBECONFIG`, `~/.kube/config`,
/// in-cluster), with an optional context.
pub async fn kube_client(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Client, Box<dyn std::error::Error + Send + Sync>> {
    Ok(kube::Client::try_from(
        kube_config(kubeconfig, context).await?,
    )?)
}

/// The Kubernetes client configuration of [`kube_client`] (what tenants' impersonating clients
/// are made from).
pub async fn kube_config(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Config, Box<dyn std::error::Error + Send + Sync>> {
    capstan_kube::auth::config(kubeconfig, context).await
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::OperationEvent, Status>> + Send>>;

/// The events of one operation; dropping it before the end (the client went away) cancels the
/// operation, which then finalises on its own.
struct OperationStream {
    rx: mpsc::UnboundedReceiver<Result<pb::OperationEvent, Status>>,
    cancel: Cancel,
}

impl Stream for OperationStream {
    type Item = Result<pb::OperationEvent, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for OperationStream {
    fn drop(&mut self) {
        // After the result was sent this is a no-op: the operation has finished.
        self.cancel.cancel("the client went away");
    }
}

fn finished(result: capstan_ops::Result<Release>) -> pb::OperationResult {
    match result {
        Ok(release) => pb::OperationResult {
            success: true,
            release: Some(convert::release_info(&release)),
            notes: release.info.notes.clone(),
            error: None,
            info: String::new(),
            manifest: release.manifest,
            tests: Vec::new(),
        },
        Err(e) => failed(&e),
    }
}

fn failed(e: &capstan_ops::Error) -> pb::OperationResult {
    pb::OperationResult {
        success: false,
        error: Some(convert::error(e)),
        ..pb::OperationResult::default()
    }
}

/// An authorization failure as a gRPC status.
fn status(error: &capstan_auth::Error) -> Status {
    capstan_server::security::status(error)
}

/// The namespace a request means (`""`: `default`, as the operations read it).
/// The most lookups one request may ask for.
const MAX_LOOKUPS: usize = 256;

fn effective(namespace: &str) -> &str {
    if namespace.is_empty() {
        "default"
    } else {
        namespace
    }
}

/// May `caller` run `operation` in `namespace`?
fn authorize(caller: &Caller, operation: Operation, namespace: &str) -> Result<(), Status> {
    caller
        .authorize(operation, namespace)
        .map_err(|e| status(&e))
}

/// The releases each tenant is installing now, counted against its quota until they end.
#[derive(Default)]
struct Quotas {
    tenants: std::sync::Mutex<HashMap<String, Arc<TenantQuota>>>,
}

#[derive(Default)]
struct TenantQuota {
    /// Held while one install of the tenant checks its quota.
    checking: tokio::sync::Mutex<()>,
    /// (namespace, name) of the releases being installed.
    installing: std::sync::Mutex<BTreeSet<(String, String)>>,
}

impl Quotas {
    fn of(&self, tenant: &str) -> Arc<TenantQuota> {
        self.tenants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tenant.to_owned())
            .or_default()
            .clone()
    }
}

/// A release counted against its tenant's quota while it is being installed.
struct QuotaHold {
    quota: Arc<TenantQuota>,
    key: (String, String),
}

impl QuotaHold {
    fn new(quota: Arc<TenantQuota>, key: (String, String)) -> QuotaHold {
        quota
            .installing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone());
        QuotaHold { quota, key }
    }
}

impl Drop for QuotaHold {
    fn drop(&mut self) {
        self.quota
            .installing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

fn history_max(value: Option<u32>) -> usize {
    value.map_or(DEFAULT_MAX_HISTORY, |v| v as usize)
}

#[tonic::async_trait]
impl Applier for ApplierService {
    type InstallStream = EventStream;
    type UpgradeStream = EventStream;
    type RollbackStream = EventStream;
    type UninstallStream = EventStream;
    type TestStream = EventStream;

    async fn install(
        &self,
        request: Request<pb::InstallRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = capstan_server::caller(&request);
        let (metadata, _, r) = request.into_parts();
        let namespace = effective(&r.namespace);
        authorize(&caller, Operation::Install, namespace)?;
        let rendered = convert::rendered(r.rendered.clone())?;
        self.preflight(&caller, namespace, &rendered.manifest, &rendered.hooks)
            .await?;
        let hold = self.check_quota(&caller, &r.name, namespace).await?;
        let mut op = Install::new(&r.name, &r.namespace);
        op.create_namespace = r.create_namespace;
        op.replace = r.replace;
        op.dry_run = convert::dry_run(&r.dry_run)?;
        op.atomic = r.atomic;
        op.wait = r.wait || r.atomic;
        op.wait_for_jobs = r.wait_for_jobs;
        op.timeout = convert::timeout(r.timeout_millis, DEFAULT_TIMEOUT);
        op.no_hooks = r.no_hooks;
        op.skip_crds = r.skip_crds;
        op.description = Some(r.description.clone()).filter(|d| !d.is_empty());
        op.apply.force = r.force;
        op.apply.take_ownership = r.take_ownership;
        op.apply.force_conflicts = r.force_conflicts;
        if convert::server_side(&r.server_side)? == Some(false) {
            op.apply.mode = capstan_ops::ApplyMode::ClientSide;
        }
        op.labels = convert::labels(&r.labels)?;
        let lock_wait = convert::lock_wait(r.lock_wait_millis);
        let recover = convert::recover(r.recover);
        self.start(
            &caller,
            &metadata,
            "install",
            &r.name,
            &r.namespace,
            move |target, control, progress| async move {
                let _hold = hold;
                op.control = Control {
                    lock_wait,
                    recover,
                    ..control
                };
                finished(
                    op.run(&*target.store, &*target.cluster, &*progress, rendered)
                        .await,
                )
            },
        )
        .await
    }

    async fn upgrade(
        &self,
        request: Request<pb::UpgradeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = capstan_server::caller(&request);
        let (metadata, _, r) = request.into_parts();
        let namespace = effective(&r.namespace);
        authorize(&caller, Operation::Upgrade, namespace)?;
        let mut hold = None;
        if r.install && caller.tenant().is_some() {
            let target = self.target(&caller, namespace).await?;
            if read::get(&*target.store, namespace, &r.name, None)
                .await
                .is_err()
            {
                authorize(&caller, Operation::Install, namespace)?;
                hold = self.check_quota(&caller, &r.name, namespace).await?;
            }
        }
        let rendered = convert::rendered(r.rendered.clone())?;
        self.preflight(&caller, namespace, &rendered.manifest, &rendered.hooks)
            .await?;
        let mut op = Upgrade::new(&r.name, &r.namespace);
        op.install = r.install;
        op.create_namespace = r.create_namespace;
        op.history_max = history_max(r.history_max);
        op.atomic = r.atomic;
        op.cleanup_on_fail = r.cleanup_on_fail;
        op.dry_run = convert::dry_run(&r.dry_run)?;
        op.wait = r.wait || r.atomic;
        op.wait_for_jobs = r.wait_for_jobs;
        op.timeout = convert::timeout(r.timeout_millis, DEFAULT_TIMEOUT);
        op.no_hooks = r.no_hooks;
        op.skip_crds = r.skip_crds;
        op.description = Some(r.description.clone()).filter(|d| !d.is_empty());
        op.apply.force = r.force;
        op.apply.take_ownership = r.take_ownership;
        op.apply.force_conflicts = r.force_conflicts;
        op.server_side = convert::server_side(&r.server_side)?;
        op.labels = convert::labels(&r.labels)?;
        let lock_wait = convert::lock_wait(r.lock_wait_millis);
        let recover = convert::recover(r.recover);
        self.start(
            &caller,
            &metadata,
            "upgrade",
            &r.name,
            &r.namespace,
            move |target, control, progress| async move {
                let _hold = hold;
                op.control = Control {
                    lock_wait,
                    recover,
                    ..control
                };
                finished(
                    op.run(&*target.store, &*target.cluster, &*progress, rendered)
                        .await,
                )
            },
        )
        .await
    }

    async fn rollback(
        &self,
        request: Request<pb::RollbackRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = capstan_server::caller(&request);
        let (metadata, _, r) = request.into_parts();
        let namespace = effective(&r.namespace);
        authorize(&caller, Operation::Rollback, namespace)?;
        if caller.tenant().is_some() {
            // The revision rolled back to is applied again: preflight its objects. (When it
            // cannot be found the operation reports that itself.)
            let target = self.target(&caller, namespace).await?;
            // Two reads at most, whatever the length of the history.
            let store = &*target.store;
            let wanted = match r.revision {
                0 => read::get(store, namespace, &r.name, None)
                    .await
                    .ok()
                    .map(|latest| latest.value.version.saturating_sub(1))
                    .filter(|v| *v > 0),
                revision => Some(revision),
            };
            if let Some(wanted) = wanted
                && let Ok(release) = read::get(store, namespace, &r.name, Some(wanted)).await
            {
                self.preflight(
                    &caller,
                    namespace,
                    &release.value.manifest,
                    &release.value.hooks,
                )
                .await?;
            }
        }
        let mut op = Rollback::new(&r.name, &r.namespace);
        op.revision = Some(r.revision).filter(|v| *v > 0);
        op.wait = r.wait;
        op.wait_for_jobs = r.wait_for_jobs;
        op.timeout = convert::timeout(r.timeout_millis, DEFAULT_TIMEOUT);
        op.cleanup_on_fail = r.cleanup_on_fail;
        op.history_max = history_max(r.history_max);
        op.no_hooks = r.no_hooks;
        op.dry_run = r.dry_run;
        op.apply.force = r.force;
        op.apply.force_conflicts = r.force_conflicts;
        op.server_side = convert::server_side(&r.server_side)?;
        let lock_wait = convert::lock_wait(r.lock_wait_millis);
        let recover = convert::recover(r.recover);
        self.start(
            &caller,
            &metadata,
            "rollback",
            &r.name,
            &r.namespace,
            move |target, control, progress| async move {
                op.control = Control {
                    lock_wait,
                    recover,
                    ..control
                };
                finished(op.run(&*target.store, &*target.cluster, &*progress).await)
            },
        )
        .await
    }

    async fn test(
        &self,
        request: Request<pb::TestRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = capstan_server::caller(&request);
        let (metadata, _, r) = request.into_parts();
        let namespace = effective(&r.namespace);
        // A test run creates the test hooks' objects and updates the revision: an upgrade's
        // rights.
        authorize(&caller, Operation::Upgrade, namespace)?;
        let mut op = capstan_ops::ReleaseTest::new(&r.name, &r.namespace)
            .filters(&r.filters)
            .map_err(|e| convert::status(&e))?;
        op.timeout = convert::timeout(r.timeout_millis, DEFAULT_TIMEOUT);
        op.logs = r.logs;
        self.start(
            &caller,
            &metadata,
            "test",
            &r.name,
            &r.namespace,
            move |target, control, progress| async move {
                op.control = control;
                match op.run(&*target.store, &*target.cluster, &*progress).await {
                    Ok(outcome) => convert::test_result(outcome),
                    Err(e) => failed(&e),
                }
            },
        )
        .await
    }

    async fn uninstall(
        &self,
        request: Request<pb::UninstallRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = capstan_server::caller(&request);
        let (metadata, _, r) = request.into_parts();
        authorize(&caller, Operation::Uninstall, effective(&r.namespace))?;
        let mut op = Uninstall::new(&r.name, &r.namespace);
        op.keep_history = r.keep_history;
        op.wait = r.wait;
        op.timeout = convert::timeout(r.timeout_millis, DEFAULT_TIMEOUT);
        op.dry_run = r.dry_run;
        op.no_hooks = r.no_hooks;
        op.description = Some(r.description.clone()).filter(|d| !d.is_empty());
        op.cascade = convert::cascade(&r.cascade)?;
        let lock_wait = convert::lock_wait(r.lock_wait_millis);
        let recover = convert::recover(r.recover);
        self.start(
            &caller,
            &metadata,
            "uninstall",
            &r.name,
            &r.namespace,
            move |target, control, progress| async move {
                op.control = Control {
                    lock_wait,
                    recover,
                    ..control
                };
                match op.run(&*target.store, &*target.cluster, &*progress).await {
                    Ok(done) => pb::OperationResult {
                        success: true,
                        release: Some(convert::release_info(&done.release)),
                        info: done.info,
                        ..pb::OperationResult::default()
                    },
                    Err(e) => failed(&e),
                }
            },
        )
        .await
    }

    async fn list(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListResponse>, Status> {
        let caller = capstan_server::caller(&request);
        let r = request.into_inner();
        let namespace = (!r.all_namespaces).then_some(r.namespace.as_str());
        authorize(&caller, Operation::List, namespace.map_or("", effective))?;
        let states = convert::states(&r.states)?;
        let base = if r.filter.is_empty() {
            ListFilter::all_namespaces()
        } else {
            ListFilter::all_namespaces()
                .with_name_filter(&r.filter)
                .map_err(|e| Status::invalid_argument(capstan_ops::error_chain(&e)))?
        };
        let filter = |namespace: Option<&str>| {
            let mut filter = base.clone().with_states(states);
            filter.namespace = namespace.map(str::to_owned);
            filter
        };
        let (items, unreadable) = self.listing(&caller, namespace, &filter).await?;
        Ok(Response::new(pb::ListResponse {
            releases: items.iter().map(convert::summary).collect(),
            unreadable,
        }))
    }

    async fn history(
        &self,
        request: Request<pb::HistoryRequest>,
    ) -> Result<Response<pb::HistoryResponse>, Status> {
        let caller = capstan_server::caller(&request);
        let r = request.into_inner();
        authorize(&caller, Operation::History, effective(&r.namespace))?;
        let target = self.target(&caller, &r.namespace).await?;
        let revisions = read::history(&*target.store, &r.namespace, &r.name, r.max as usize)
            .await
            .map_err(|e| convert::status(&e))?;
        Ok(Response::new(pb::HistoryResponse {
            revisions: revisions.value.iter().map(convert::release_info).collect(),
            unreadable: revisions.skipped,
        }))
    }

    async fn status(
        &self,
        request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        let caller = capstan_server::caller(&request);
        let r = request.into_inner();
        authorize(&caller, Operation::Status, effective(&r.namespace))?;
        let target = self.target(&caller, &r.namespace).await?;
        let revision = Some(r.revision).filter(|v| *v > 0);
        let report = read::status(
            &*target.store,
            &*target.cluster,
            &r.namespace,
            &r.name,
            revision,
        )
        .await
        .map_err(|e| convert::status(&e))?;
        Ok(Response::new(pb::StatusResponse {
            release: Some(convert::release_info(&report.release)),
            notes: report.release.info.notes.clone(),
            objects: report
                .objects
                .iter()
                .map(|o| pb::ObjectStatus {
                    object: Some(convert::object(&o.object)),
                    exists: o.exists,
                    ready: o.ready,
                    reason: o.reason.clone(),
                })
                .collect(),
            unreadable: report.skipped,
        }))
    }

    async fn get(
        &self,
        request: Request<pb::GetRequest>,
    ) -> Result<Response<pb::GetResponse>, Status> {
        let caller = capstan_server::caller(&request);
        let r = request.into_inner();
        authorize(&caller, Operation::Get, effective(&r.namespace))?;
        let target = self.target(&caller, &r.namespace).await?;
        let revision = Some(r.revision).filter(|v| *v > 0);
        let read::Reading {
            value: release,
            skipped,
        } = read::get(&*target.store, &r.namespace, &r.name, revision)
            .await
            .map_err(|e| convert::status(&e))?;
        let json = |v: &dyn erased::Json| v.json();
        let chart_values = release
            .chart
            .as_ref()
            .and_then(|c| c.values.clone())
            .unwrap_or_default();
        Ok(Response::new(pb::GetResponse {
            release: Some(convert::release_info(&release)),
            values_json: json(&read::values(&release, r.all_values)),
            manifest: release.manifest.clone(),
            notes: release.info.notes.clone(),
            hooks: read::hooks_text(&release),
            metadata_json: json(&read::metadata(&release)),
            chart_values_json: json(&chart_values),
            unreadable: skipped,
            release_json: json(&release),
        }))
    }

    async fn lookup(
        &self,
        request: Request<pb::LookupRequest>,
    ) -> Result<Response<pb::LookupResponse>, Status> {
        let caller = capstan_server::caller(&request);
        let r = request.into_inner();
        authorize(&caller, Operation::Render, effective(&r.namespace))?;
        if r.keys.len() > MAX_LOOKUPS {
            return Err(Status::resource_exhausted(format!(
                "{} lookups in one request exceed the limit of {MAX_LOOKUPS}",
                r.keys.len()
            )));
        }
        for key in &r.keys {
            if !key.namespace.is_empty() {
                authorize(&caller, Operation::Render, &key.namespace)?;
            }
        }
        // The caller's own view: a tenant's target impersonates its identity, so the API
        // server's RBAC decides what its lookups may read.
        let target = self.target(&caller, &r.namespace).await?;
        let mut answers = Vec::with_capacity(r.keys.len());
        for key in r.keys {
            let found = target
                .cluster
                .lookup(capstan_ops::LookupRequest {
                    api_version: &key.api_version,
                    kind: &key.kind,
                    namespace: &key.namespace,
                    name: &key.name,
                })
                .await
                .map_err(|e| convert::lookup_status(&e))?;
            answers.push(capstan_proto::renderer::v1::LookupAnswer {
                key: Some(key),
                object_json: found.map(|o| o.to_string()),
            });
        }
        Ok(Response::new(pb::LookupResponse { answers }))
    }
}

mod erased {
    /// Serialises to JSON text (an empty object on failure, which cannot happen for these types).
    pub trait Json {
        fn json(&self) -> String;
    }

    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(series: &str) -> f64 {
        capstan_telemetry::metrics::encode()
            .lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    #[test]
    fn progress_events_record_lock_waits_and_recoveries() {
        let waits = "capstan_lock_wait_seconds_count{operation=\"uninstall\"}";
        let recoveries = "capstan_crash_recoveries_total{operation=\"uninstall\"}";
        let (waits_before, recoveries_before) = (sample(waits), sample(recoveries));
        let locking = std::sync::Mutex::new(None);
        let phase = |phase| Event::Phase {
            phase,
            revision: None,
        };
        record_metrics("uninstall", &locking, &phase(capstan_ops::Phase::Locking));
        assert_eq!(sample(waits), waits_before, "still waiting for the lock");
        record_metrics(
            "uninstall",
            &locking,
            &Event::Recovered {
                revision: 3,
                description: "interrupted".into(),
            },
        );
        record_metrics("uninstall", &locking, &phase(capstan_ops::Phase::Deleting));
        assert_eq!(sample(waits), waits_before + 1.0);
        assert_eq!(sample(recoveries), recoveries_before + 1.0);
    }
}
