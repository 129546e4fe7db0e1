//! Discovery and REST mapping: from an object's apiVersion and kind to the resource to call
//! (custom resources included), and to its type's OpenAPI v3 schema for strategic merge patches.
//!
//! Both are cached for the life of the [`RestMapper`]. A kind the cache does not know is looked
//! up again on the server, for a short while, so that a CustomResourceDefinition installed by the
//! same release is found once the API server serves it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Client;
use kube::core::GroupVersion;
use kube::discovery::{self, ApiResource, Scope};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::merge::SchemaNode;

/// Where objects of a kind live on the server.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Group, version, kind and plural for `Api::<DynamicObject>`.
    pub resource: ApiResource,
    /// Whether objects are namespaced.
    pub namespaced: bool,
}

/// The OpenAPI v3 schema of one type: its group-version document and the schema's name in it.
#[derive(Debug, Clone)]
pub struct TypeSchema {
    document: Arc<Value>,
    name: String,
}

impl TypeSchema {
    /// The type's root schema node.
    pub fn root(&self) -> Option<SchemaNode<'_>> {
        SchemaNode::root(&self.document, &self.name)
    }
}

type Gvk = (String, String, String);

/// One lock per group-version (group, version) under discovery.
type DiscoveryLocks = HashMap<(String, String), Arc<tokio::sync::Mutex<()>>>;

/// Resolves kinds to resources and schemas, with caches.
pub struct RestMapper {
    client: Client,
    retry_for: Duration,
    kinds: Mutex<HashMap<Gvk, Mapping>>,
    /// One lock per group-version being discovered, so that concurrent lookups of its kinds
    /// make one discovery request, not one each.
    discovering: Mutex<DiscoveryLocks>,
    index: tokio::sync::Mutex<Option<Arc<Value>>>,
    documents: tokio::sync::Mutex<HashMap<String, Arc<Value>>>,
}

/// Splits `group/version` (or a core `version`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

impl RestMapper {
    /// A mapper over `client` that looks a missing kind up again for up to 10 seconds.
    pub fn new(client: Client) -> RestMapper {
        RestMapper {
            client,
            retry_for: Duration::from_secs(10),
            kinds: Mutex::new(HashMap::new()),
            discovering: Mutex::new(HashMap::new()),
            index: tokio::sync::Mutex::new(None),
            documents: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Sets how long a kind the server does not serve is looked up again before giving up.
    pub fn with_retry(mut self, retry_for: Duration) -> RestMapper {
        self.retry_for = retry_for;
        self
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Resolves an apiVersion and kind, from the cache or the server. A miss discovers the
    /// kind's whole group-version (one request, shared by concurrent lookups) and caches every
    /// kind of it.
    pub async fn resolve(&self, api_version: &str, kind: &str) -> Result<Mapping> {
        let (group, version) = split_api_version(api_version);
        let key = (group.to_string(), version.to_string(), kind.to_string());
        let cached = |mapper: &RestMapper| {
            mapper
                .kinds
                .lock()
                .expect("not poisoned")
                .get(&key)
                .cloned()
        };
        if let Some(found) = cached(self) {
            return Ok(found);
        }
        let lock = self.discovery_lock(group, version);
        let _discovering = lock.lock().await;
        if let Some(found) = cached(self) {
            return Ok(found);
        }
        let gv = GroupVersion::gv(group, version);
        let deadline = tokio::time::Instant::now() + self.retry_for;
        loop {
            let error = match discovery::pinned_group(&self.client, &gv).await {
                Ok(found) => {
                    self.cache(group, version, &found);
                    if let Some(found) = cached(self) {
                        return Ok(found);
                    }
                    kube::Error::Discovery(kube::error::DiscoveryError::MissingKind(format!(
                        "{api_version} {kind}"
                    )))
                }
                Err(error) => error,
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::UnknownKind {
                    api_version: api_version.to_string(),
                    kind: kind.to_string(),
                    source: error,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The lock held while one group-version is discovered, so that lookups of its kinds at
    /// the same time ask the server once.
    fn discovery_lock(&self, group: &str, version: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.discovering
            .lock()
            .expect("not poisoned")
            .entry((group.to_string(), version.to_string()))
            .or_default()
            .clone()
    }

    /// The mapping of a kind the cache knows (from an earlier lookup or
    /// [`prefetch`](Self::prefetch)), without asking the server.
    pub fn cached(&self, api_version: &str, kind: &str) -> Option<Mapping> {
        let (group, version) = split_api_version(api_version);
        let key = (group.to_string(), version.to_string(), kind.to_string());
        self.kinds.lock().expect("not poisoned").get(&key).cloned()
    }

    /// Discovers, once each and at the same time, the group-versions of `kinds` (apiVersion,
    /// kind) that the cache does not know, caching what the server serves: a hint taken ahead
    /// of the lookups an operation is about to make, so that they find the cache warm. Nothing
    /// is retried and nothing fails: a kind not served yet (its CRD about to be created) is
    /// looked up again, with retries, by [`resolve`](Self::resolve) when it is needed.
    pub async fn prefetch<'k>(&self, kinds: impl IntoIterator<Item = (&'k str, &'k str)>) {
        let mut missing: Vec<(&str, &str)> = Vec::new();
        {
            let cache = self.kinds.lock().expect("not poisoned");
            for (api_version, kind) in kinds {
                let (group, version) = split_api_version(api_version);
                let key = (group.to_string(), version.to_string(), kind.to_string());
                if !cache.contains_key(&key) && !missing.contains(&(group, version)) {
                    missing.push((group, version));
                }
            }
        }
        futures::future::join_all(missing.into_iter().map(|(group, version)| async move {
            let lock = self.discovery_lock(group, version);
            let _discovering = lock.lock().await;
            let gv = GroupVersion::gv(group, version);
            if let Ok(found) = discovery::pinned_group(&self.client, &gv).await {
                self.cache(group, version, &found);
            }
        }))
        .await;
    }

    /// Caches every kind of a discovered group-version.
    fn cache(&self, group: &str, version: &str, found: &discovery::ApiGroup) {
        let mut kinds = self.kinds.lock().expect("not poisoned");
        for (resource, capabilities) in found.versioned_resources(version) {
            let mapping = Mapping {
                namespaced: capabilities.scope == Scope::Namespaced,
                resource,
            };
            let k = (
                group.to_string(),
                version.to_string(),
                mapping.resource.kind.clone(),
            );
            kinds.entry(k).or_insert(mapping);
        }
    }

    /// Forgets every cached mapping and schema (after CRDs were removed, say).
    pub async fn invalidate(&self) {
        self.kinds.lock().expect("not poisoned").clear();
        *self.index.lock().await = None;
        self.documents.lock().await.clear();
    }

    async fn get_json(&self, path: &str) -> Result<Value> {
        let request = http::Request::get(path)
            .body(Vec::new())
            .expect("a valid request");
        self.client
            .request::<Value>(request)
            .await
            .map_err(|source| Error::Schema {
                path: path.to_string(),
                source,
            })
    }

    /// The OpenAPI v3 schema of a kind, or none when the server publishes none for it.
    pub async fn schema(&self, api_version: &str, kind: &str) -> Result<Option<TypeSchema>> {
        let (group, version) = split_api_version(api_version);
        let path = if group.is_empty() {
            format!("api/{version}")
        } else {
            format!("apis/{group}/{version}")
        };
        let document = {
            let mut documents = self.documents.lock().await;
            match documents.get(&path) {
                Some(d) => d.clone(),
                None => {
                    let mut url = None;
                    for refresh in [false, true] {
                        let index = self.index(refresh).await?;
                        url = index
                            .pointer(&format!("/paths/{}", path.replace('/', "~1")))
                            .and_then(|p| p.get("serverRelativeURL"))
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        if url.is_some() {
                            break;
                        }
                    }
                    let Some(url) = url else { return Ok(None) };
                    let document = Arc::new(self.get_json(&url).await?);
                    documents.insert(path.clone(), document.clone());
                    document
                }
            }
        };
        let name = document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .and_then(|schemas| {
                schemas.iter().find_map(|(name, schema)| {
                    let gvks = schema.get("x-kubernetes-group-version-kind")?.as_array()?;
                    gvks.iter()
                        .any(|g| {
                            g.get("group").and_then(Value::as_str).unwrap_or("") == group
                                && g.get("version").and_then(Value::as_str) == Some(version)
                                && g.get("kind").and_then(Value::as_str) == Some(kind)
                        })
                        .then(|| name.clone())
                })
            });
        Ok(name.map(|name| TypeSchema { document, name }))
    }

    async fn index(&self, refresh: bool) -> Result<Arc<Value>> {
        let mut index = self.index.lock().await;
        if refresh || index.is_none() {
            *index = Some(Arc::new(self.get_json("/openapi/v3").await?));
        }
        Ok(index.clone().expect("just set"))
    }
}

/// Whether a group is served by the Kubernetes API server itself (so strategic merge patches
/// work), rather than by CustomResourceDefinitions or aggregated servers. CRDs themselves are
/// patched with JSON merge patches, as Helm does.
pub fn is_builtin_group(group: &str) -> bool {
    group != "apiextensions.k8s.io" && (!group.contains('.') || group.ends_with(".k8s.io"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_split_and_builtin_groups_are_recognised() {
        assert_eq!(split_api_version("apps/v1"), ("apps", "v1"));
        assert_eq!(split_api_version("v1"), ("", "v1"));
        for builtin in [
            "",
            "apps",
            "batch",
            "networking.k8s.io",
            "rbac.authorization.k8s.io",
        ] {
            assert!(is_builtin_group(builtin), "{builtin}");
        }
        for custom in ["apiextensions.k8s.io", "cert-manager.io", "example.com"] {
            assert!(!is_builtin_group(custom), "{custom}");
        }
    }
}
