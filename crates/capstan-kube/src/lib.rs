//! capstan's Kubernetes adapters: the only crate that talks to a cluster through kube-rs.
//!
//! For now it holds the release storage drivers of `HELM_DRIVER=secret` (the default) and
//! `HELM_DRIVER=configmap`, in [`store`]: [`SecretStore`] and [`ConfigMapStore`], two names for
//! one generic [`KubeStore`] over the object kind ([`ReleaseObject`]). They implement
//! [`capstan_release::ReleaseStore`] on top of the pure format code of `capstan-release`
//! (codec, object names, labels, chunking, list filters), so everything about the record format
//! lives there and everything about the API server lives here.
//!
//! It also applies releases' objects to a cluster: [`Applier`] ([`apply`]: server-side apply
//! as field manager `helm`, or Helm 3's client-side three-way merge from [`merge`]; ownership
//! metadata from [`ownership`], checked before a revision is recorded by [`adopt`]; refusals of
//! invalid and immutable changes in plain words from [`invalid`]; pruning, uninstall, `--force`
//! as Helm's PUT, server dry-run), over the
//! discovery and REST mapping of [`mapping`] ([`RestMapper`]), and waits for them with
//! [`Waiter`] ([`wait`]: watch-based readiness, kstatus rules for custom resources). These speak
//! their own small types ([`Resource`], [`ObjectKey`], [`ApplyReport`]) and return [`Error`].
//!
//! [`auth`] makes the cluster capstan's identity provider and final authority for tenants:
//! service-account tokens checked with TokenReview ([`auth::TokenReviewer`]), clients that
//! impersonate a tenant's identity ([`auth::impersonating`]), and access reviews as that
//! identity ([`auth::may`]).
//!
//! [`KubeCluster`] ([`cluster`]) puts these together as `capstan-ops`'s `Cluster`: apply,
//! delete, wait, hooks run as Helm runs them, per-release locks on `coordination.k8s.io/v1`
//! Leases (renewed while held, taken over once expired), capabilities and namespaces.
//!
//! # Main types
//!
//! - [`KubeCluster`]: `capstan_ops::Cluster` over a real cluster (`KubeCluster::new(client)`).
//! - [`KubeStore<K>`]: a release store over Secrets or ConfigMaps, bound to a default namespace
//!   (used when a call names none) and able to list across all namespaces (`list -A`).
//! - [`SecretStore`], [`ConfigMapStore`]: the two drivers.
//! - [`ReleaseObject`]: what the store needs of an object kind (its driver name, how a payload is
//!   put in and read out).
//!
//! # Invariants
//!
//! - Objects are byte-compatible with Helm's: name `sh.helm.release.v1.<name>.v<N>`, Helm's
//!   labels, data key `release`, Secret type `helm.sh/release.v1`. capstan's extra annotations
//!   are ignored by Helm.
//! - Creating a revision is a POST, so the API server's "already exists" is the compare-and-set;
//!   every update and delete carries the `resourceVersion` read as a precondition.
//! - `list` reads object metadata only (a metadata-only list); payloads are fetched and decoded
//!   only for objects written by Helm (no capstan annotations) or when full records are asked
//!   for, and an unreadable record is skipped and reported, never fatal.
//! - A record larger than one object is written parts first and head last; readers verify the
//!   digest, so they see the old record or the new one, never a mix.
//!
//! # Errors
//!
//! Store operations return [`capstan_release::Error`], the error of the trait they implement:
//! API failures are its `Backend` variant (driver, operation and `namespace/object`, with the
//! kube error as source); record errors name the object as `namespace/object`.

pub mod adopt;
pub mod answer;
pub mod apply;
pub mod auth;
pub mod cluster;
pub mod crds;
pub mod error;
pub mod invalid;
pub mod lease;
pub mod mapping;
pub mod merge;
pub mod omitted;
pub mod ownership;
pub mod resource;
pub mod retry;
pub mod store;
pub mod throttle;
pub mod wait;

pub use apply::{
    Action, Applier, ApplyMethod, ApplyOptions, ApplyReport, Cascade, ObjectReport, Preview,
};
pub use cluster::KubeCluster;
pub use error::{Error, Result};
pub use mapping::{Mapping, RestMapper};
pub use resource::{ObjectKey, Resource};
pub use store::{ConfigMapStore, KubeStore, ReleaseObject, Role, SecretStore};
pub use wait::{Readiness, ReadinessChange, WaitOptions, Waiter};
