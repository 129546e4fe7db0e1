//! The pod-lifecycle simulator: plays the kubelet's part on capstan's local control plane.
//!
//! A real API server and controller manager run without any kubelet, so without this crate no pod
//! would ever be scheduled, run or become ready, and no Deployment would ever become available. The
//! simulator ([`Simulator`]) registers one Ready [`Node`], binds every pending pod to it, drives each
//! bound pod's status as a kubelet would ([`plan`]), and force-deletes terminating pods.
//!
//! Faults are injected by image tag (see [`plan::Fault`]): `never-ready`, `crashloop`, `fail` and
//! `slow-N`, so that tests can make rollouts and hooks fail on purpose.
//!
//! It also plays the two parts of a cloud that real charts need ([`run_cloud`]): a storage
//! provisioner behind a default StorageClass ([`storage`]: claims get volumes, so StatefulSets
//! with `volumeClaimTemplates` become ready) and a load-balancer controller ([`loadbalancer`]:
//! `LoadBalancer` Services get an ingress address). DaemonSets and CronJobs need nothing more:
//! the real controller manager runs their controllers, and their pods land on the node.
//!
//! Invariant: the simulator only ever writes pod bindings, pod status, pod deletions, its own
//! Node, its StorageClass, the PersistentVolumes it provisions (created for a claim, deleted
//! once released) and the load-balancer status of Services; it never changes a pod's spec or
//! any other object.

pub mod loadbalancer;
pub mod plan;
pub mod storage;

mod node;
mod pods;

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client};

pub use node::register_node;

/// The name of the simulated node unless told otherwise.
pub const DEFAULT_NODE_NAME: &str = "capstan-node-0";

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the API server failed.
    #[error("{action} {object}")]
    Kube {
        /// What the simulator was doing.
        action: &'static str,
        /// The object it was doing it to.
        object: String,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
}

/// A `Result` with the simulator's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Runs the simulated node until the future is dropped.
#[derive(Clone)]
pub struct Simulator {
    client: Client,
    node: String,
}

impl Simulator {
    /// A simulator that plays node `node` on the cluster behind `client`.
    pub fn new(client: Client, node: impl Into<String>) -> Simulator {
        Simulator {
            client,
            node: node.into(),
        }
    }

    /// Registers the node, then reconciles every pod in the cluster, and plays the cloud
    /// ([`run_cloud`]) for every namespace, until cancelled.
    pub async fn run(self) -> Result<()> {
        let cloud = run_cloud(self.client.clone(), None);
        let (node, cloud) = futures::future::join(self.run_node(), cloud).await;
        node.and(cloud)
    }

    /// Registers the node, then reconciles every pod in the cluster until cancelled.
    pub async fn run_node(self) -> Result<()> {
        register_node(&self.client, &self.node).await?;
        tracing::info!(node = %self.node, "node registered and ready");
        let pods: Api<Pod> = Api::all(self.client.clone());
        let context = Arc::new(pods::Context {
            client: self.client.clone(),
            node: self.node.clone(),
        });
        Controller::new(pods, watcher::Config::default().any_semantic())
            .run(pods::reconcile, pods::error_policy, context)
            .for_each(|result| async move {
                if let Err(error) = result {
                    tracing::debug!(%error, "reconcile failed; retrying");
                }
            })
            .await;
        Ok(())
    }
}

/// Plays the cloud for `namespace` (every namespace when `None`) until the future is dropped:
/// the storage provisioner and the load-balancer controller.
pub async fn run_cloud(client: Client, namespace: Option<String>) -> Result<()> {
    let (storage, balancers) = futures::future::join(
        storage::run_provisioner(client.clone(), namespace.clone()),
        loadbalancer::run_load_balancers(client, namespace),
    )
    .await;
    storage.and(balancers)
}
