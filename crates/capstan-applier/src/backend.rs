//! Where an operation's store and cluster come from: a [`Backend`] opens them for the namespace
//! a request names. [`KubeBackend`] is the real one (the store `HELM_DRIVER` chooses and the
//! cluster through kube-rs); tests plug in fakes.

use std::sync::Arc;
use std::time::Duration;

use capstan_ops::Cluster;
use capstan_release::{BoxFuture, MemoryStore, ReleaseStore};
use capstan_storage::{Driver, StorageConfig};

/// The store and the cluster one request works on.
#[derive(Clone)]
pub struct Target {
    /// The release store, bound to the request's namespace.
    pub store: Arc<dyn ReleaseStore>,
    /// The cluster.
    pub cluster: Arc<dyn Cluster>,
}

/// Opens the store and cluster for a namespace (`""`: every namespace, for `list -A`).
pub trait Backend: Send + Sync + 'static {
    /// The target of a request in `namespace`.
    fn open<'a>(&'a self, namespace: &'a str) -> BoxFuture<'a, Result<Target, tonic::Status>>;
}

/// The real backend: the storage driver of [`StorageConfig`] and a `KubeCluster`.
pub struct KubeBackend {
    client: kube::Client,
    storage: StorageConfig,
    cluster: Arc<dyn Cluster>,
    /// `HELM_DRIVER=memory`: one store shared by every request of this process.
    memory: Option<Arc<MemoryStore>>,
}

impl KubeBackend {
    /// A backend over `client`, storing releases as `storage` says.
    pub fn new(client: kube::Client, storage: StorageConfig) -> KubeBackend {
        KubeBackend::with_lease_duration(
            client,
            storage,
            capstan_kube::cluster::DEFAULT_LEASE_DURATION,
        )
    }

    /// A backend whose release locks (Leases) last `lease_duration` without renewal: how long
    /// after this process dies another one may take its releases over.
    pub fn with_lease_duration(
        client: kube::Client,
        storage: StorageConfig,
        lease_duration: Duration,
    ) -> KubeBackend {
        let memory = (storage.driver == Driver::Memory).then(|| Arc::new(MemoryStore::new()));
        KubeBackend {
            cluster: Arc::new(
                capstan_kube::KubeCluster::new(client.clone()).lease_duration(lease_duration),
            ),
            client,
            storage,
            memory,
        }
    }
}

impl Backend for KubeBackend {
    fn open<'a>(&'a self, namespace: &'a str) -> BoxFuture<'a, Result<Target, tonic::Status>> {
        Box::pin(async move {
            let store: Arc<dyn ReleaseStore> = match &self.memory {
                Some(memory) => memory.clone(),
                None => capstan_storage::open(&self.storage, self.client.clone(), namespace)
                    .await
                    .map_err(|e| tonic::Status::unavailable(capstan_ops::error_chain(&e)))?,
            };
            Ok(Target {
                store,
                cluster: self.cluster.clone(),
            })
        })
    }
}
