//! Where an operation's store and cluster come from: a [`Backend`] opens them for the namespace
//! a request names and the [`Caller`] making it. [`KubeBackend`] is the real one (the store
//! `HELM_DRIVER` chooses and the cluster through kube-rs, acting as a tenant's Kubernetes
//! identity by impersonation); tests plug in fakes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use capstan_auth::{Caller, Impersonation, ObjectInfo};
use capstan_kube::auth::Access;
use capstan_kube::{KubeCluster, RestMapper};
use capstan_ops::{Cluster, ObjectRef};
use capstan_release::{BoxFuture, MemoryStore, ReleaseStore};
use capstan_storage::{Driver, StorageConfig};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use tonic::Status;

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
    /// The target of a request in `namespace`, with the applier's own identity.
    fn open<'a>(&'a self, namespace: &'a str) -> BoxFuture<'a, Result<Target, Status>>;

    /// The target of a request of `caller`: for a tenant, every cluster call acts as its
    /// Kubernetes identity. The default serves unrestricted callers only.
    fn open_as<'a>(
        &'a self,
        caller: &'a Caller,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<Target, Status>> {
        match caller.impersonation() {
            None => self.open(namespace),
            Some(_) => Box::pin(async {
                Err(Status::permission_denied(
                    "this applier's backend cannot act for tenants",
                ))
            }),
        }
    }

    /// Before anything is applied: may `caller`'s release in `namespace` create `objects`?
    /// Checks the policy (objects stay in the release's namespace; cluster-scoped kinds only as
    /// allowed) and, for a tenant, asks the cluster whether its identity may create and patch
    /// each kind. The default passes unrestricted callers only.
    fn preflight<'a>(
        &'a self,
        caller: &'a Caller,
        namespace: &'a str,
        objects: &'a [ObjectRef],
    ) -> BoxFuture<'a, Result<(), Status>> {
        let _ = (namespace, objects);
        Box::pin(async move {
            match caller.tenant() {
                None => Ok(()),
                Some(_) => Err(Status::permission_denied(
                    "this applier's backend cannot check a tenant's objects",
                )),
            }
        })
    }

    /// For `list -A` by `caller`: the namespaces to list one by one (each opened with
    /// [`Backend::open_as`]), or `None` to list every namespace at once and filter the rows.
    fn list_namespaces<'a>(
        &'a self,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, Status>> {
        let _ = caller;
        Box::pin(async { Ok(None) })
    }
}

/// What a tenant's requests use: a client impersonating its identity, and a cluster over it.
struct TenantTarget {
    client: kube::Client,
    mapper: Arc<RestMapper>,
    cluster: Arc<dyn Cluster>,
}

/// The real backend: the storage driver of [`StorageConfig`] and a `KubeCluster`; for tenants,
/// clients impersonating their Kubernetes identity (one per identity, cached).
pub struct KubeBackend {
    client: kube::Client,
    config: Option<kube::Config>,
    storage: StorageConfig,
    cluster: Arc<dyn Cluster>,
    lease_duration: Duration,
    /// `HELM_DRIVER=memory`: one store shared by every request of this process.
    memory: Option<Arc<MemoryStore>>,
    tenants: Mutex<HashMap<Impersonation, Arc<TenantTarget>>>,
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
            cluster: Arc::new(KubeCluster::new(client.clone()).lease_duration(lease_duration)),
            client,
            config: None,
            storage,
            lease_duration,
            memory,
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// Lets the backend act for tenants: their clients are made from `config` (the one `client`
    /// was made from) with impersonation headers.
    pub fn with_config(mut self, config: kube::Config) -> KubeBackend {
        self.config = Some(config);
        self
    }

    fn tenant_target(&self, who: &Impersonation) -> Result<Arc<TenantTarget>, Status> {
        let mut tenants = self.tenants.lock().expect("not poisoned");
        if let Some(found) = tenants.get(who) {
            return Ok(found.clone());
        }
        let config = self.config.as_ref().ok_or_else(|| {
            Status::failed_precondition(
                "the applier was started without a kube config to impersonate tenants with",
            )
        })?;
        let client = capstan_kube::auth::impersonating(config, &who.user, &who.groups)
            .map_err(|e| Status::internal(capstan_ops::error_chain(&e)))?;
        let mapper = Arc::new(RestMapper::new(client.clone()).with_retry(Duration::from_secs(2)));
        let target = Arc::new(TenantTarget {
            cluster: Arc::new(
                KubeCluster::with_mapper(mapper.clone()).lease_duration(self.lease_duration),
            ),
            mapper,
            client,
        });
        tenants.insert(who.clone(), target.clone());
        Ok(target)
    }

    async fn store(
        &self,
        client: &kube::Client,
        namespace: &str,
    ) -> Result<Arc<dyn ReleaseStore>, Status> {
        Ok(match &self.memory {
            Some(memory) => memory.clone(),
            None => capstan_storage::open(&self.storage, client.clone(), namespace)
                .await
                .map_err(|e| Status::unavailable(capstan_ops::error_chain(&e)))?,
        })
    }
}

impl Backend for KubeBackend {
    fn open<'a>(&'a self, namespace: &'a str) -> BoxFuture<'a, Result<Target, Status>> {
        Box::pin(async move {
            Ok(Target {
                store: self.store(&self.client, namespace).await?,
                cluster: self.cluster.clone(),
            })
        })
    }

    fn open_as<'a>(
        &'a self,
        caller: &'a Caller,
        namespace: &'a str,
    ) -> BoxFuture<'a, Result<Target, Status>> {
        Box::pin(async move {
            let Some(who) = caller.impersonation() else {
                return self.open(namespace).await;
            };
            let tenant = self.tenant_target(who)?;
            Ok(Target {
                store: self.store(&tenant.client, namespace).await?,
                cluster: tenant.cluster.clone(),
            })
        })
    }

    fn preflight<'a>(
        &'a self,
        caller: &'a Caller,
        namespace: &'a str,
        objects: &'a [ObjectRef],
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let (Some(tenant), Some(who)) = (caller.tenant(), caller.impersonation()) else {
                return Ok(());
            };
            let target = self.tenant_target(who)?;
            let mut infos = Vec::with_capacity(objects.len());
            // Each (verb, resource, namespace) is asked once, naming the first object needing it.
            let mut accesses: BTreeMap<(String, String, String, String), &ObjectRef> =
                BTreeMap::new();
            for object in objects {
                let mapping = target
                    .mapper
                    .resolve(&object.api_version, &object.kind)
                    .await
                    .map_err(|e| Status::invalid_argument(capstan_ops::error_chain(&e)))?;
                let (group, _) = capstan_kube::mapping::split_api_version(&object.api_version);
                infos.push(ObjectInfo {
                    group: group.to_owned(),
                    kind: object.kind.clone(),
                    name: object.name.clone(),
                    namespace: object.namespace.clone(),
                    namespaced: mapping.namespaced,
                });
                let in_namespace = if mapping.namespaced {
                    object
                        .namespace
                        .clone()
                        .unwrap_or_else(|| namespace.to_owned())
                } else {
                    String::new()
                };
                for verb in ["create", "patch"] {
                    accesses
                        .entry((
                            verb.to_owned(),
                            group.to_owned(),
                            mapping.resource.plural.clone(),
                            in_namespace.clone(),
                        ))
                        .or_insert(object);
                }
            }
            caller
                .check_objects(namespace, &infos)
                .map_err(|e| capstan_server::security::status(&e))?;
            for ((verb, group, resource, in_namespace), object) in accesses {
                let access = Access {
                    verb: verb.clone(),
                    group,
                    resource,
                    namespace: Some(in_namespace.clone()).filter(|n| !n.is_empty()),
                };
                let refused = capstan_kube::auth::may(&target.client, &access)
                    .await
                    .map_err(|e| Status::unavailable(capstan_ops::error_chain(&e)))?;
                if let Some(reason) = refused {
                    let place = if in_namespace.is_empty() {
                        "(cluster-scoped)".to_owned()
                    } else {
                        format!("in namespace {in_namespace:?}")
                    };
                    let reason = if reason.is_empty() {
                        String::new()
                    } else {
                        format!(" ({reason})")
                    };
                    return Err(Status::permission_denied(format!(
                        "forbidden: tenant {:?}, acting as {:?}, may not {verb} {}/{} {place}; \
                         nothing was applied{reason}",
                        tenant.name, who.user, object.kind, object.name
                    )));
                }
            }
            Ok(())
        })
    }

    fn list_namespaces<'a>(
        &'a self,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, Status>> {
        Box::pin(async move {
            if caller.tenant().is_none() || self.memory.is_some() {
                return Ok(None);
            }
            if self.storage.driver == Driver::Sql {
                return Ok(None);
            }
            // The applier's own identity enumerates namespaces; only the tenant's are listed,
            // each as the tenant.
            let namespaces = Api::<Namespace>::all(self.client.clone())
                .list_metadata(&Default::default())
                .await
                .map_err(|e| Status::unavailable(format!("listing namespaces: {e}")))?;
            Ok(Some(
                namespaces
                    .items
                    .into_iter()
                    .filter_map(|n| n.metadata.name)
                    .filter(|n| caller.may_use_namespace(n))
                    .collect(),
            ))
        })
    }
}
