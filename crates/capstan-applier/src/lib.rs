//! capstan's applier service: installs, upgrades, rolls back and uninstalls releases, and reads
//! their history, over gRPC (`capstan.applier.v1.Applier`).
//!
//! The client asks `Prepare` what to render with (`capstan_ops::Prepare`: the values by Helm's
//! rules, the release the templates see, the revision to expect), renders (with the renderer
//! service) and hands the renderer's response to a mutating RPC ([`Install`], [`Upgrade`]...)
//! with that expected revision (a release that moved meanwhile is `ABORTED`, nothing written).
//! Each mutating RPC runs the matching `capstan-ops` operation as a spawned task over the store
//! and cluster a [`Backend`] opens for the request's namespace, and streams its progress events; the last message is always an `OperationResult`. Reads (`List`,
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
//! Every RPC is made by a [`Caller`](capstan_auth::Caller) (`capstan_server::caller`, set by the daemon's
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

mod admission;
mod backend;
mod client;
pub mod convert;
mod deploy;
mod metrics;
mod prepare;
mod quotas;
mod service;
mod streaming;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use capstan_proto::applier::v1::applier_server::ApplierServer;

pub use backend::{Backend, KubeBackend, Target};
pub use client::{kube_client, kube_config};
pub use prepare::MAX_VALUES_BYTES;

use admission::admission;
use quotas::Quotas;

/// Largest gRPC message the applier accepts or sends.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// Most objects (manifest documents and hooks) one rendered release may hold, as the renderer's
/// default `--max-objects`.
pub const MAX_OBJECTS: usize = 10_000;

/// Default bound on operations running at once (`--max-in-flight`).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// Default bound on one tenant's operations running at once (`--max-in-flight-per-tenant`).
pub const DEFAULT_MAX_IN_FLIGHT_PER_TENANT: usize = 32;

/// The applier service.
#[derive(Clone)]
pub struct ApplierService {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) instance: String,
    pub(crate) next_operation: AtomicU64,
    pub(crate) draining: AtomicBool,
    /// One clone per operation in flight.
    pub(crate) in_flight: Arc<()>,
    /// Admission: operations beyond it are refused with `RESOURCE_EXHAUSTED`.
    pub(crate) admission: capstan_server::InFlightLimit,
    /// Releases being installed, per tenant, until their records exist.
    pub(crate) quotas: Quotas,
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
}

/// A fresh instance id: `capstan-applier-<host>-<random>`.
pub fn new_instance_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".into());
    format!("capstan-applier-{host}-{:08x}", rand::random::<u32>())
}
