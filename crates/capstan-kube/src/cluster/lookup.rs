//! Helm's `lookup`: live objects (or lists of them) read for the renderer.

use capstan_ops::ClusterError;
use kube::Api;
use serde_json::Value;

use super::KubeCluster;
use super::convert::kube_error;
use crate::retry::retrying;

impl KubeCluster {
    /// `lookup` as Helm does it: the object (or, with an empty name, the list) as its JSON, or
    /// `None` when it does not exist; a kind the cluster does not serve is an error.
    pub(super) async fn lookup_impl(
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
