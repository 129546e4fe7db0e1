//! Writes answered with the written object's metadata alone, for callers that read nothing else
//! of the answer (its `resourceVersion`, `uid`): the API server then encodes no object body
//! (a chart's dashboards are megabytes of ConfigMaps, a release record most of a megabyte) and
//! capstan parses none.
//!
//! The request asks for the answer as `PartialObjectMetadata` (`meta.k8s.io/v1`), the
//! transformation every API server applies to any response, writes included; a server that
//! cannot make it (an aggregated API's) answers with the whole object as JSON, from which the
//! metadata is read the same way. Refusals come back as a JSON `Status` either way, so errors
//! are [`kube::Error::Api`] exactly as with [`Api`]'s own methods.

use http::HeaderValue;
use http::header::ACCEPT;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::core::{ObjectMeta, PartialObjectMeta, Request};
use serde::Serialize;

/// The `Accept` header of a write whose answer is read for its metadata only.
pub const METADATA_ONLY: &str =
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json";

/// Sends `request` (built for `api`'s resource) asking for the metadata alone of the object
/// it writes; `verb` names it for kube's request metrics and traces, as [`Api`]'s methods do.
async fn send<K: kube::Resource + Clone>(
    api: &Api<K>,
    verb: &'static str,
    request: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
) -> kube::Result<ObjectMeta> {
    let mut request = request.map_err(kube::Error::BuildRequest)?;
    request
        .headers_mut()
        .insert(ACCEPT, HeaderValue::from_static(METADATA_ONLY));
    request.extensions_mut().insert(verb);
    let client = api.clone().into_client();
    let answer: PartialObjectMeta<K> = client.request(request).await?;
    Ok(answer.metadata)
}

/// [`Api::patch`], answered with the object's metadata.
pub async fn patch<K: kube::Resource + Clone, P: Serialize + std::fmt::Debug>(
    api: &Api<K>,
    name: &str,
    params: &PatchParams,
    patch: &Patch<P>,
) -> kube::Result<ObjectMeta> {
    let request = Request::new(api.resource_url()).patch(name, params, patch);
    send(api, "patch", request).await
}

/// [`Api::create`], answered with the object's metadata.
pub async fn create<K: kube::Resource + Clone + Serialize>(
    api: &Api<K>,
    params: &PostParams,
    object: &K,
) -> kube::Result<ObjectMeta> {
    let body = serde_json::to_vec(object).map_err(kube::Error::SerdeError)?;
    let request = Request::new(api.resource_url()).create(params, body);
    send(api, "create", request).await
}

/// [`Api::replace`], answered with the object's metadata.
pub async fn replace<K: kube::Resource + Clone + Serialize>(
    api: &Api<K>,
    name: &str,
    params: &PostParams,
    object: &K,
) -> kube::Result<ObjectMeta> {
    let body = serde_json::to_vec(object).map_err(kube::Error::SerdeError)?;
    let request = Request::new(api.resource_url()).replace(name, params, body);
    send(api, "replace", request).await
}

/// The highest `resourceVersion` the writes of each resource (group and plural name) were
/// answered with, shared by an [`Applier`](crate::Applier) that records them and a
/// [`Waiter`](crate::Waiter) that lists no older: a list "not older than" a version its
/// resource's cache has seen (our own write) is answered from the cache at once, where a list
/// without a version waits for the cache to catch up with etcd's latest revision (for a
/// resource not written since, a progress notification the server requests every 100 ms).
#[derive(Debug, Default)]
pub struct Written {
    versions: std::sync::Mutex<std::collections::HashMap<(String, String), u64>>,
}

impl Written {
    /// Records that a write of `resource` in `group` was answered with `version` (ignored when
    /// it is not a number, as only etcd's versions are).
    pub fn record(&self, group: &str, resource: &str, version: Option<&str>) {
        let Some(version) = version.and_then(|v| v.parse::<u64>().ok()) else {
            return;
        };
        let mut versions = self
            .versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let highest = versions
            .entry((group.to_owned(), resource.to_owned()))
            .or_default();
        *highest = (*highest).max(version);
    }

    /// The highest version a write of `resource` in `group` was answered with, if any.
    pub fn highest(&self, group: &str, resource: &str) -> Option<u64> {
        self.versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(group.to_owned(), resource.to_owned()))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::DynamicObject;

    #[test]
    fn the_highest_version_of_each_resource_is_kept() {
        let written = Written::default();
        written.record("apps", "deployments", Some("12"));
        written.record("apps", "deployments", Some("9"));
        written.record("apps", "deployments", Some("not a number"));
        written.record("", "configmaps", Some("15"));
        written.record("", "secrets", None);
        assert_eq!(written.highest("apps", "deployments"), Some(12));
        assert_eq!(written.highest("", "configmaps"), Some(15));
        assert_eq!(written.highest("", "secrets"), None);
        assert_eq!(written.highest("apps", "daemonsets"), None);
    }

    #[test]
    fn the_metadata_is_read_from_either_answer() {
        let partial = serde_json::json!({"kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"name": "x", "resourceVersion": "7", "uid": "u"}});
        let whole = serde_json::json!({"kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": "x", "resourceVersion": "7", "uid": "u"},
            "data": {"a": "b"}});
        for answer in [partial, whole] {
            let meta: PartialObjectMeta<DynamicObject> = serde_json::from_value(answer).unwrap();
            assert_eq!(meta.metadata.resource_version.as_deref(), Some("7"));
            assert_eq!(meta.metadata.uid.as_deref(), Some("u"));
        }
    }
}
