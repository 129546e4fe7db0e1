//! [`KubeCluster`]: `capstan-ops`'s [`Cluster`] trait over a real cluster, built from an
//! [`Applier`] and a [`Waiter`] sharing one [`RestMapper`], plus the two pieces only a cluster
//! can do: per-release locks ([`crate::lease`]) and hooks.
//!
//! # Locks
//!
//! Per-release locks are Leases, fenced by a local deadline: see [`crate::lease`].
//!
//! # Hooks
//!
//! One hook runs as Helm runs it: with `before-hook-creation` the previous object is deleted
//! (and its deletion awaited) first; the object is applied; a Job must reach `Complete` (a
//! `Failed` condition fails the hook with its reason), a Pod must reach `Succeeded` (`Failed`
//! fails it with its containers' reasons), anything else is done once created; all within the
//! timeout (running out of time fails the hook). Then `hook-succeeded` / `hook-failed` delete
//! the object per the outcome.
//!
//! # Conversions
//!
//! `capstan-ops` and this crate each speak their own small types; every conversion between
//! them lives at the end of this file.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use capstan_ops::{
    ApplyRequest, Capabilities, Cluster, ClusterError, CrdRequest, DeleteRequest, Event,
    HookOutcome, HookRequest, Lock, LockRequest, ObjectAction, ObjectRef, ObjectReport,
    ObjectResult, ObjectStatus, Progress, WaitRequest,
};
use capstan_release::{BoxFuture, GoTime, HookDeletePolicy, HookPhase};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::Value;

use crate::apply::{self, Action, Applier, ApplyMethod};
use crate::error::Error;
use crate::mapping::RestMapper;
use crate::resource::{ObjectKey, Resource};
use crate::retry::retrying;
use crate::wait::{self, Readiness, ReadinessChange, WaitOptions, Waiter};

pub use crate::lease::{DEFAULT_LEASE_DURATION, LEASE_PREFIX, lease_name};

/// [`Cluster`] over a real Kubernetes cluster.
///
/// Cheap to clone (the client, mapper and caches are shared). Must be used inside a tokio
/// runtime: a held lock is renewed by a spawned task.
///
/// ```no_run
/// # async fn example(client: kube::Client) {
/// use std::time::Duration;
/// let cluster = capstan_kube::KubeCluster::new(client).lease_duration(Duration::from_secs(30));
/// # let _ = cluster;
/// # }
/// ```
#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
    applier: Applier,
    waiter: Waiter,
    lease_duration: Duration,
    concurrency: usize,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster")
            .field("lease_duration", &self.lease_duration)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl KubeCluster {
    /// A cluster over `client`, with its own [`RestMapper`] shared by its applier and waiter.
    pub fn new(client: Client) -> KubeCluster {
        KubeCluster::with_mapper(Arc::new(RestMapper::new(client)))
    }

    /// A cluster sharing a [`RestMapper`] (and its discovery and schema caches).
    pub fn with_mapper(mapper: Arc<RestMapper>) -> KubeCluster {
        KubeCluster {
            client: mapper.client().clone(),
            applier: Applier::with_mapper(mapper.clone()),
            waiter: Waiter::with_mapper(mapper),
            lease_duration: DEFAULT_LEASE_DURATION,
            concurrency: 8,
        }
    }

    /// The duration of the leases this cluster takes (default 15 s, at least 3 s); they are
    /// renewed every third of it.
    pub fn lease_duration(mut self, duration: Duration) -> KubeCluster {
        self.lease_duration = duration.max(Duration::from_secs(3));
        self
    }

    /// How many objects of one kind are applied or deleted at once (default 8).
    pub fn concurrency(mut self, concurrency: usize) -> KubeCluster {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The applier.
    pub fn applier(&self) -> &Applier {
        &self.applier
    }

    /// The waiter.
    pub fn waiter(&self) -> &Waiter {
        &self.waiter
    }

    fn options(&self, release: &str, namespace: &str) -> apply::ApplyOptions {
        let mut options = apply::ApplyOptions::new(release, namespace);
        options.concurrency = self.concurrency;
        options
    }

    async fn capabilities_impl(&self) -> Result<Capabilities, ClusterError> {
        let info = retrying("read the server version", || {
            self.client.apiserver_version()
        })
        .await
        .map_err(|e| kube_error("reading the server version", e))?;
        let discovery = retrying("discover the server's APIs", || async {
            match kube::Discovery::new(self.client.clone())
                .run_aggregated()
                .await
            {
                Ok(d) => Ok(d),
                Err(_) => kube::Discovery::new(self.client.clone()).run().await,
            }
        })
        .await
        .map_err(|e| kube_error("discovering the server's APIs", e))?;
        let mut versions = BTreeSet::new();
        for group in discovery.groups() {
            for version in group.versions() {
                for (resource, _) in group.versioned_resources(version) {
                    versions.insert(format!("{}/{}", resource.api_version, resource.kind));
                    versions.insert(resource.api_version);
                }
            }
        }
        Ok(Capabilities {
            kube_version: Some(kube_version(&info)),
            api_versions: versions.into_iter().collect(),
        })
    }

    async fn create_namespace_impl(
        &self,
        namespace: &str,
        dry_run: bool,
    ) -> Result<bool, ClusterError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let existing = retrying("get namespace", || api.get_opt(namespace))
            .await
            .map_err(|e| kube_error(format!("get namespace {namespace}"), e))?;
        if existing.is_some() {
            return Ok(false);
        }
        let object = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let params = PostParams {
            dry_run,
            field_manager: Some(apply::FIELD_MANAGER.into()),
        };
        match retrying("create namespace", || api.create(&params, &object)).await {
            Ok(_) => Ok(!dry_run),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(kube_error(format!("create namespace {namespace}"), e)),
        }
    }

    async fn apply_impl(&self, request: ApplyRequest<'_>) -> Result<ObjectReport, ClusterError> {
        let previous = to_kube(request.previous);
        let target = to_kube(request.target);
        let options = apply_options(
            self.options(request.release, request.namespace),
            request.options,
        );
        let among = [request.target, request.previous];
        let result = self.applier.apply(&previous, &target, &options).await;
        object_report(result, &among)
    }

    async fn delete_impl(&self, request: DeleteRequest<'_>) -> Result<ObjectReport, ClusterError> {
        let objects = to_kube(request.objects);
        let mut options = self.options(request.release, request.namespace);
        options.cascade = cascade(request.cascade);
        options.dry_run = request.dry_run;
        let result = self.applier.uninstall(&objects, &options).await;
        object_report(result, &[request.objects])
    }

    async fn wait_impl(
        &self,
        request: WaitRequest<'_>,
        progress: &dyn Progress,
    ) -> Result<(), ClusterError> {
        let objects = to_kube(request.objects);
        let result = if request.for_deletion {
            self.waiter
                .wait_deleted(&objects, request.namespace, request.timeout)
                .await
        } else {
            let options = WaitOptions {
                timeout: request.timeout,
                wait_for_jobs: request.wait_for_jobs,
            };
            let report = |change: &ReadinessChange| {
                progress.event(readiness_event(change, &[request.objects]));
            };
            self.waiter
                .wait(&objects, request.namespace, &options, &report)
                .await
        };
        result.map_err(|e| cluster_error(e, &[request.objects]))
    }

    async fn object_status_impl(
        &self,
        namespace: &str,
        objects: &[capstan_ops::Resource],
    ) -> Result<Vec<ObjectStatus>, ClusterError> {
        let statuses = self
            .waiter
            .status(&to_kube(objects), namespace)
            .await
            .map_err(|e| cluster_error(e, &[objects]))?;
        Ok(objects
            .iter()
            .zip(statuses)
            .map(|(o, (_, readiness))| object_status(o.object.clone(), readiness))
            .collect())
    }

    async fn run_hook_impl(
        &self,
        request: HookRequest<'_>,
        progress: &dyn Progress,
    ) -> Result<HookOutcome, ClusterError> {
        let deadline = Instant::now() + request.timeout;
        let among: [&[capstan_ops::Resource]; 1] = [std::slice::from_ref(request.resource)];
        let resource = to_kube_one(request.resource);
        let options = self.options(request.release, request.namespace);
        let policy = |p: HookDeletePolicy| request.delete_policies.contains(&p);

        if policy(HookDeletePolicy::BeforeHookCreation) {
            let gone = std::slice::from_ref(&resource);
            self.applier
                .uninstall(gone, &options)
                .await
                .map_err(|e| cluster_error(e, &among))?;
            self.waiter
                .wait_deleted(gone, request.namespace, remaining(deadline))
                .await
                .map_err(|e| cluster_error(e, &among))?;
        }

        let started_at = GoTime::now();
        let applied = self
            .applier
            .apply(&[], std::slice::from_ref(&resource), &options)
            .await;
        if let Err(e) = applied {
            let e = match e {
                Error::Incomplete { source, .. } => *source,
                e => e,
            };
            return Err(cluster_error(e, &among));
        }

        let failure = match (resource.group(), resource.kind.as_str()) {
            ("batch", "Job") => {
                let options = WaitOptions {
                    timeout: remaining(deadline),
                    wait_for_jobs: true,
                };
                let report = |change: &ReadinessChange| {
                    progress.event(readiness_event(change, &among));
                };
                match self
                    .waiter
                    .wait(
                        std::slice::from_ref(&resource),
                        request.namespace,
                        &options,
                        &report,
                    )
                    .await
                {
                    Ok(()) => None,
                    Err(Error::WaitFailed { reason, .. }) => Some(reason),
                    Err(e @ Error::WaitTimeout { .. }) => Some(e.to_string()),
                    Err(e) => return Err(cluster_error(e, &among)),
                }
            }
            ("", "Pod") => {
                self.wait_pod(&resource, request.namespace, deadline)
                    .await?
            }
            _ => None,
        };
        let completed_at = GoTime::now();
        let phase = if failure.is_none() {
            HookPhase::Succeeded
        } else {
            HookPhase::Failed
        };
        let delete = match phase {
            HookPhase::Succeeded => policy(HookDeletePolicy::HookSucceeded),
            _ => policy(HookDeletePolicy::HookFailed),
        };
        if delete
            && let Err(e) = self
                .applier
                .uninstall(std::slice::from_ref(&resource), &options)
                .await
        {
            progress.event(Event::Warning {
                message: format!(
                    "deleting hook {} after it ran: {}",
                    request.hook.name,
                    capstan_ops::error_chain(&e)
                ),
            });
        }
        Ok(HookOutcome {
            phase,
            started_at,
            completed_at,
            message: failure,
        })
    }

    /// Waits for a hook Pod to succeed: `None` when it did, why not otherwise.
    async fn wait_pod(
        &self,
        resource: &Resource,
        default_namespace: &str,
        deadline: Instant,
    ) -> Result<Option<String>, ClusterError> {
        let namespace = resource.namespace.as_deref().unwrap_or(default_namespace);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let finished = |pod: Option<&Pod>| {
            pod.and_then(|p| p.status.as_ref())
                .and_then(|s| s.phase.as_deref())
                .is_some_and(|phase| matches!(phase, "Succeeded" | "Failed"))
        };
        let waited = loop {
            let waited = tokio::time::timeout(
                remaining(deadline),
                kube::runtime::wait::await_condition(api.clone(), &resource.name, finished),
            )
            .await;
            match waited {
                // The watch ended (a dropped connection, a server restarting): watch again
                // while there is time.
                Ok(Err(e)) if remaining(deadline) > Duration::from_millis(500) => {
                    tracing::debug!(pod = %resource.name, error = %e, "watch interrupted, resuming");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                waited => break waited,
            }
        };
        let pod = match waited {
            Ok(Ok(pod)) => pod,
            Ok(Err(e)) => {
                return Err(ClusterError::Other {
                    message: format!("watching pod/{} failed", resource.name),
                    source: Some(Box::new(e)),
                });
            }
            Err(_) => {
                let why = match api.get_opt(&resource.name).await {
                    Ok(Some(pod)) => {
                        wait::pod_reason(&serde_json::to_value(&pod).unwrap_or(Value::Null))
                    }
                    _ => "not found".into(),
                };
                return Ok(Some(format!(
                    "timed out waiting for pod/{} to succeed: {why}",
                    resource.name
                )));
            }
        };
        let value = pod
            .map(|p| serde_json::to_value(&p).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        Ok(match wait::readiness("", "Pod", &value, true) {
            Readiness::Ready => None,
            Readiness::InProgress(why) | Readiness::Failed(why) => Some(why),
        })
    }
}

impl KubeCluster {
    /// `lookup` as Helm does it: the object (or, with an empty name, the list) as its JSON, or
    /// `None` when it does not exist; a kind the cluster does not serve is an error.
    async fn lookup_impl(
        &self,
        request: capstan_ops::LookupRequest<'_>,
    ) -> Result<Option<Value>, ClusterError> {
        let what = || {
            format!(
                "lookup {} {} {:?} {:?}",
                request.api_version, request.kind, request.namespace, request.name
            )
        };
        let mapping = self
            .applier
            .mapper()
            .resolve(request.api_version, request.kind)
            .await
            .map_err(|e| ClusterError::Other {
                message: what(),
                source: Some(Box::new(e)),
            })?;
        let api: Api<kube::api::DynamicObject> =
            if mapping.namespaced && !request.namespace.is_empty() {
                Api::namespaced_with(self.client.clone(), request.namespace, &mapping.resource)
            } else {
                Api::all_with(self.client.clone(), &mapping.resource)
            };
        if request.name.is_empty() {
            let params = kube::api::ListParams::default();
            let list = retrying("lookup", || api.list(&params))
                .await
                .map_err(|e| kube_error(what(), e))?;
            let mut value = serde_json::to_value(&list).unwrap_or(Value::Null);
            // As Helm's unstructured list: its kind is the list kind.
            if let Some(object) = value.as_object_mut() {
                object.insert("apiVersion".into(), request.api_version.into());
                object.insert("kind".into(), format!("{}List", request.kind).into());
            }
            return Ok(Some(value));
        }
        let object = retrying("lookup", || api.get_opt(request.name))
            .await
            .map_err(|e| kube_error(what(), e))?;
        Ok(object.and_then(|o| serde_json::to_value(&o).ok()))
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

impl Cluster for KubeCluster {
    fn capabilities(&self) -> BoxFuture<'_, Result<Capabilities, ClusterError>> {
        Box::pin(self.capabilities_impl())
    }

    fn create_namespace<'a>(
        &'a self,
        namespace: &'a str,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<bool, ClusterError>> {
        Box::pin(self.create_namespace_impl(namespace, dry_run))
    }

    fn apply<'a>(
        &'a self,
        request: ApplyRequest<'a>,
        _progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<ObjectReport, ClusterError>> {
        Box::pin(self.apply_impl(request))
    }

    fn delete<'a>(
        &'a self,
        request: DeleteRequest<'a>,
        _progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<ObjectReport, ClusterError>> {
        Box::pin(self.delete_impl(request))
    }

    fn wait<'a>(
        &'a self,
        request: WaitRequest<'a>,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<(), ClusterError>> {
        Box::pin(self.wait_impl(request, progress))
    }

    fn run_hook<'a>(
        &'a self,
        request: HookRequest<'a>,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<HookOutcome, ClusterError>> {
        Box::pin(self.run_hook_impl(request, progress))
    }

    fn lock<'a>(&'a self, request: LockRequest<'a>) -> BoxFuture<'a, Result<Lock, ClusterError>> {
        Box::pin(crate::lease::lock(
            &self.client,
            self.lease_duration,
            request,
        ))
    }

    fn lookup<'a>(
        &'a self,
        request: capstan_ops::LookupRequest<'a>,
    ) -> BoxFuture<'a, Result<Option<Value>, ClusterError>> {
        Box::pin(self.lookup_impl(request))
    }

    fn object_status<'a>(
        &'a self,
        namespace: &'a str,
        objects: &'a [capstan_ops::Resource],
    ) -> BoxFuture<'a, Result<Vec<ObjectStatus>, ClusterError>> {
        Box::pin(self.object_status_impl(namespace, objects))
    }

    fn pod_logs<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<String, ClusterError>> {
        Box::pin(async move {
            let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
            match pods.logs(name, &kube::api::LogParams::default()).await {
                Ok(text) => Ok(text),
                Err(kube::Error::Api(status)) => Err(ClusterError::other(format!(
                    "the API server answered {}: {}",
                    status.code, status.message
                ))),
                Err(e) => Err(kube_error(format!("reading the logs of pod {name}"), e)),
            }
        })
    }

    fn create_crds<'a>(
        &'a self,
        request: CrdRequest<'a>,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<ObjectReport, ClusterError>> {
        Box::pin(async move {
            let objects = to_kube(request.objects);
            let options = WaitOptions {
                timeout: request.timeout,
                wait_for_jobs: false,
            };
            let report = |change: &ReadinessChange| {
                progress.event(readiness_event(change, &[request.objects]));
            };
            let outcomes = crate::crds::create_missing(
                self.applier.mapper(),
                &self.waiter,
                &objects,
                &options,
                &report,
            )
            .await
            .map_err(|e| cluster_error(e, &[request.objects]))?;
            Ok(ObjectReport {
                results: outcomes
                    .iter()
                    .map(|o| ObjectResult {
                        object: object_ref(&o.key, &[request.objects]),
                        action: if o.created {
                            ObjectAction::Created
                        } else {
                            ObjectAction::Unchanged
                        },
                        preview: None,
                    })
                    .collect(),
                failed: Vec::new(),
            })
        })
    }
}

// ---- Conversions between capstan-ops's types and this crate's: all of them, here. ----

fn to_kube_one(resource: &capstan_ops::Resource) -> Resource {
    Resource {
        api_version: resource.object.api_version.clone(),
        kind: resource.object.kind.clone(),
        name: resource.object.name.clone(),
        namespace: resource.object.namespace.clone(),
        object: resource.manifest.clone(),
    }
}

fn to_kube(resources: &[capstan_ops::Resource]) -> Vec<Resource> {
    resources.iter().map(to_kube_one).collect()
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// The operation's reference to the object `key` names, found among the request's resources
/// (so the caller gets back the very references it passed); a new one when none matches.
fn object_ref(key: &ObjectKey, among: &[&[capstan_ops::Resource]]) -> ObjectRef {
    let matches = |r: &&capstan_ops::Resource| {
        r.object.kind == key.kind
            && r.object.name == key.name
            && group_of(&r.object.api_version) == key.group
            && (key.namespace.is_none()
                || r.object.namespace.is_none()
                || r.object.namespace == key.namespace)
    };
    among
        .iter()
        .flat_map(|list| list.iter())
        .find(matches)
        .map(|r| r.object.clone())
        .unwrap_or_else(|| ObjectRef {
            api_version: key.group.clone(),
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        })
}

/// The reference an error's `kind/name` text names.
fn object_ref_named(text: &str, among: &[&[capstan_ops::Resource]]) -> Option<ObjectRef> {
    among
        .iter()
        .flat_map(|list| list.iter())
        .find(|r| r.object.to_string() == text)
        .map(|r| r.object.clone())
}

fn action(action: Action) -> ObjectAction {
    match action {
        Action::Created => ObjectAction::Created,
        Action::Configured => ObjectAction::Configured,
        Action::Unchanged => ObjectAction::Unchanged,
        Action::Replaced => ObjectAction::Replaced,
        Action::Deleted => ObjectAction::Deleted,
        Action::Kept => ObjectAction::Kept,
        Action::Absent => ObjectAction::NotFound,
    }
}

fn cascade(cascade: capstan_ops::Cascade) -> apply::Cascade {
    match cascade {
        capstan_ops::Cascade::Background => apply::Cascade::Background,
        capstan_ops::Cascade::Foreground => apply::Cascade::Foreground,
        capstan_ops::Cascade::Orphan => apply::Cascade::Orphan,
    }
}

fn apply_options(
    mut base: apply::ApplyOptions,
    options: &capstan_ops::ApplyOptions,
) -> apply::ApplyOptions {
    base.method = match options.mode {
        capstan_ops::ApplyMode::ServerSide => ApplyMethod::ServerSide,
        capstan_ops::ApplyMode::ClientSide => ApplyMethod::ClientSide,
    };
    base.field_manager = options.field_manager.clone();
    base.force_replace = options.force;
    base.force_conflicts = options.force_conflicts;
    base.take_ownership = options.take_ownership;
    base.dry_run = options.dry_run == Some(capstan_ops::DryRun::Server);
    base
}

fn results(report: &apply::ApplyReport, among: &[&[capstan_ops::Resource]]) -> Vec<ObjectResult> {
    report
        .objects
        .iter()
        .map(|o| ObjectResult {
            object: object_ref(&o.key, among),
            action: action(o.action),
            preview: o.preview.as_ref().map(|p| capstan_ops::ObjectPreview {
                live: p.live.clone(),
                planned: p.planned.clone(),
            }),
        })
        .collect()
}

/// An apply or uninstall result as the operations want it: an incomplete run is `Ok` with the
/// failure listed next to what was done.
fn object_report(
    result: crate::error::Result<apply::ApplyReport>,
    among: &[&[capstan_ops::Resource]],
) -> Result<ObjectReport, ClusterError> {
    match result {
        Ok(report) => Ok(ObjectReport {
            results: results(&report, among),
            failed: Vec::new(),
        }),
        Err(Error::Incomplete {
            object,
            report,
            source,
            ..
        }) => {
            let Some(failed) = object_ref_named(&object, among) else {
                return Err(cluster_error(*source, among));
            };
            Ok(ObjectReport {
                results: results(&report, among),
                failed: vec![(failed, capstan_ops::error_chain(&*source))],
            })
        }
        Err(e) => Err(cluster_error(e, among)),
    }
}

fn cluster_error(error: Error, among: &[&[capstan_ops::Resource]]) -> ClusterError {
    match error {
        Error::WaitTimeout { not_ready, .. } => ClusterError::Timeout { not_ready },
        Error::WaitFailed { object, reason } => match object_ref_named(&object, among) {
            Some(object) => ClusterError::Object {
                object: Box::new(object),
                message: reason,
            },
            None => ClusterError::other(format!("{object} failed: {reason}")),
        },
        Error::Ownership { ref object, .. } => match object_ref_named(object, among) {
            Some(object) => ClusterError::Object {
                object: Box::new(object),
                message: capstan_ops::error_chain(&error),
            },
            None => ClusterError::Other {
                message: error.to_string(),
                source: Some(Box::new(error)),
            },
        },
        other => ClusterError::Other {
            message: capstan_ops::error_chain(&other),
            source: None,
        },
    }
}

pub(crate) fn kube_error(what: impl Into<String>, error: kube::Error) -> ClusterError {
    ClusterError::Other {
        message: what.into(),
        source: Some(Box::new(error)),
    }
}

fn readiness_event(change: &ReadinessChange, among: &[&[capstan_ops::Resource]]) -> Event {
    let (ready, reason) = match &change.readiness {
        Readiness::Ready => (true, "ready".to_owned()),
        Readiness::InProgress(why) | Readiness::Failed(why) => (false, why.clone()),
    };
    Event::Readiness {
        object: object_ref(&change.key, among),
        ready,
        reason,
    }
}

fn object_status(object: ObjectRef, readiness: Option<Readiness>) -> ObjectStatus {
    let (exists, ready, reason) = match readiness {
        None => (false, false, "not found".to_owned()),
        Some(Readiness::Ready) => (true, true, "ready".to_owned()),
        Some(Readiness::InProgress(why) | Readiness::Failed(why)) => (true, false, why),
    };
    ObjectStatus {
        object,
        exists,
        ready,
        reason,
    }
}

/// The server's version as Helm shows it (`v1.36.3`): its `gitVersion`, unless that is not
/// stamped (a server built from source says `v0.0.0-master+$Format:%H$`), then
/// `v<major>.<minor>.0` (a trailing `+` of the minor, as some providers write it, dropped).
fn kube_version(info: &k8s_openapi::apimachinery::pkg::version::Info) -> String {
    let stamped = info
        .git_version
        .strip_prefix('v')
        .and_then(|v| v.split('.').next())
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major > 0);
    if stamped || info.major.is_empty() {
        info.git_version.clone()
    } else {
        format!(
            "v{}.{}.0",
            info.major.trim_end_matches('+'),
            info.minor.trim_end_matches('+')
        )
    }
}

pub(crate) fn go_time(timestamp: Timestamp) -> GoTime {
    GoTime::from_timestamp(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops_resource(
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> capstan_ops::Resource {
        capstan_ops::Resource {
            object: ObjectRef::new(api_version, kind, ns, name),
            source: String::new(),
            manifest: serde_json::json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}),
        }
    }

    #[test]
    fn keys_map_back_to_the_callers_references() {
        let list = [
            ops_resource("apps/v1", "Deployment", None, "web"),
            ops_resource("rbac.authorization.k8s.io/v1", "ClusterRole", None, "web"),
        ];
        let key = to_kube_one(&list[0]).key("apps");
        assert_eq!(object_ref(&key, &[&list]), list[0].object);
        let cluster_scoped = ObjectKey {
            group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            namespace: None,
            name: "web".into(),
        };
        assert_eq!(object_ref(&cluster_scoped, &[&list]), list[1].object);
        assert_eq!(
            object_ref_named("deployment/web", &[&list]),
            Some(list[0].object.clone())
        );
    }

    #[test]
    fn kube_versions_as_helm_shows_them() {
        let info = |git: &str, major: &str, minor: &str| {
            kube_version(&k8s_openapi::apimachinery::pkg::version::Info {
                git_version: git.into(),
                major: major.into(),
                minor: minor.into(),
                ..Default::default()
            })
        };
        assert_eq!(info("v1.36.3", "1", "36"), "v1.36.3");
        assert_eq!(info("v1.30.2-gke.1", "1", "30+"), "v1.30.2-gke.1");
        assert_eq!(info("v0.0.0-master+$Format:%H$", "1", "36"), "v1.36.0");
        assert_eq!(info("v0.0.0-master+$Format:%H$", "1", "36+"), "v1.36.0");
    }

    #[test]
    fn incomplete_applies_list_the_failure_with_what_was_done() {
        let list = [ops_resource("v1", "ConfigMap", None, "a")];
        let error = Error::Incomplete {
            object: "configmap/a".into(),
            done: 0,
            report: apply::ApplyReport::default(),
            source: Box::new(Error::WaitFailed {
                object: "configmap/a".into(),
                reason: "denied".into(),
            }),
        };
        let report = object_report(Err(error), &[&list]).unwrap();
        assert_eq!(
            report.failed,
            vec![(list[0].object.clone(), "configmap/a failed: denied".into())]
        );
    }
}
