//! Test support for capstan's real-cluster tests.
//!
//! Every such test runs in a namespace of its own on the local control plane (the one
//! `cargo xtask cluster up` starts; it is started here if none runs):
//!
//! ```no_run
//! # async fn example() {
//! capstan_testkit::with_namespace("smoke", |ns| async move {
//!     let pods = ns.api::<k8s_openapi::api::core::v1::Pod>();
//!     // ... create objects in ns.name(), wait for them, assert ...
//!     Ok(())
//! })
//! .await;
//! # }
//! ```
//!
//! When the test fails (an error or a panic), the status of every pod in its namespace is printed;
//! the namespace is deleted afterwards unless `CAPSTAN_KEEP_NAMESPACES=1` is set.
//!
//! Tests of the sql storage driver get a fresh PostgreSQL database each from [`postgres`]
//! (`postgres::with_database`), on the server `CAPSTAN_TEST_POSTGRES` names or the machine's
//! Debian cluster, started (or installed) by `.ci/postgres.sh` when none answers.
//!
//! Tests of tracing get an OTLP/gRPC receiver from [`otlp`]; fault-injection tests put a
//! [`faults::FaultProxy`] (hang or reset connections on demand) between capstan and the API
//! server.
//!
//! Tests of OCI registries get a real one (the CNCF Distribution registry, TLS and htpasswd) from
//! [`registry`].
//!
//! Invariant: tests only ever talk to the local control plane's kubeconfig under
//! `target/devcluster/state/`, never to whatever `KUBECONFIG` points at, so running the tests cannot
//! touch a real cluster by accident.

pub mod chartrepo;
mod cluster;
pub mod faults;
pub mod helm;
mod namespace;
pub mod otlp;
pub mod postgres;
pub mod registry;
pub mod token_server;
pub mod wait;

pub use cluster::{client, kubeconfig_path};
pub use namespace::{TestNamespace, with_namespace, with_namespaces};
