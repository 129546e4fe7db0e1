//! [`KubeCluster`]: `capstan-ops`'s [`Cluster`] trait over a real cluster, built from an
//! [`Applier`] and a [`Waiter`] sharing one [`RestMapper`].
//!
//! Each job has its file: the release's objects (apply, delete, wait, status, CRDs, the
//! namespace) in `objects`, hooks and their pods' logs in `hooks`, `lookup` in `lookup`,
//! `.Capabilities` in `capabilities`, and every conversion between `capstan-ops`'s types and
//! this crate's in `convert`. Per-release locks are Leases, fenced by a local deadline: see
//! [`crate::lease`]. This file holds the type and the trait's entry points.

use std::sync::Arc;
use std::time::Duration;

use capstan_ops::{
    ApplyRequest, Capabilities, Cluster, ClusterError, CrdRequest, DeleteRequest, HookOutcome,
    HookRequest, Lock, LockRequest, ObjectReport, ObjectStatus, Progress, WaitRequest,
};
use capstan_release::BoxFuture;
use kube::Client;
use serde_json::Value;

use crate::apply::{self, Applier};
use crate::mapping::RestMapper;
use crate::wait::Waiter;

mod capabilities;
mod convert;
mod hooks;
mod lookup;
mod objects;

pub use crate::lease::{DEFAULT_LEASE_DURATION, LEASE_PREFIX, lease_name};
pub(crate) use convert::{go_time, kube_error};

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
        let client = mapper.client().clone();
        let applier = Applier::with_mapper(mapper.clone());
        let waiter = Waiter::with_mapper(mapper).with_written(applier.written());
        KubeCluster {
            client,
            applier,
            waiter,
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

    fn check_adoption<'a>(
        &'a self,
        request: ApplyRequest<'a>,
    ) -> BoxFuture<'a, Result<(), ClusterError>> {
        Box::pin(self.check_adoption_impl(request))
    }

    fn check_adoption_served<'a>(
        &'a self,
        request: ApplyRequest<'a>,
    ) -> BoxFuture<'a, Result<Vec<usize>, ClusterError>> {
        Box::pin(self.check_adoption_served_impl(request))
    }

    fn prefetch_kinds<'a>(&'a self, objects: &'a [capstan_ops::Resource]) -> BoxFuture<'a, ()> {
        Box::pin(
            self.applier.mapper().prefetch(
                objects
                    .iter()
                    .map(|o| (o.object.api_version.as_str(), o.object.kind.as_str())),
            ),
        )
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
        Box::pin(self.pod_logs_impl(namespace, name))
    }

    fn create_crds<'a>(
        &'a self,
        request: CrdRequest<'a>,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<ObjectReport, ClusterError>> {
        Box::pin(self.create_crds_impl(request, progress))
    }

    fn existing<'a>(
        &'a self,
        objects: &'a [capstan_ops::Resource],
    ) -> BoxFuture<'a, Result<Vec<bool>, ClusterError>> {
        Box::pin(self.existing_impl(objects))
    }
}
