//! Client-side three-way patches, computed as Helm 3 computes them: from the previous manifest
//! (`original`), the new manifest (`modified`) and the live object, with no
//! `last-applied-configuration` annotation.
//!
//! - Built-in kinds get a strategic merge patch: lists whose schema says
//!   `x-kubernetes-patch-strategy: merge` are merged by their `x-kubernetes-patch-merge-key`
//!   (containers by `name`, ports by `containerPort`, env by `name`), elements the chart dropped
//!   are deleted with `$patch: delete`, primitive merge lists use
//!   `$deleteFromPrimitiveList/<field>`, and `retainKeys` maps carry `$retainKeys`. Other lists
//!   (`atomic`, or without a strategy) are replaced whole when they differ from the live ones.
//! - Custom resources get a JSON merge patch ([`three_way`] with no schema): maps merge, lists are
//!   replaced whole.
//!
//! A field the chart sets to `null`, or (in a built-in kind) to a zero value the API server
//! omits when it writes the object ([`crate::omitted`]), is not missing from a live object that
//! lacks it: no patch is made for it.
//!
//! In both, what the chart sets and the live object differs on is set, what the previous
//! manifest set and the new one does not is removed (when it is still live), and what neither
//! manifest sets (hand edits, defaults, other controllers' fields) is left alone. Equal inputs
//! give an empty patch, which the applier never sends.

use serde_json::{Map, Value};

use crate::omitted;

/// A node of the cluster's OpenAPI v3 schema for one type, able to follow `$ref`s.
#[derive(Debug, Clone, Copy)]
pub struct SchemaNode<'a> {
    schemas: &'a Map<String, Value>,
    node: &'a Value,
    /// The schema's name in `components.schemas`, when the node is a named schema.
    name: Option<&'a str>,
}

/// How a list merges, from its schema extensions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListMeta {
    /// `x-kubernetes-patch-strategy` (comma-separated: `merge`, `retainKeys`, `replace`).
    pub strategy: Option<String>,
    /// `x-kubernetes-patch-merge-key`.
    pub merge_key: Option<String>,
    /// `x-kubernetes-list-type`: `atomic`, `set` or `map`.
    pub list_type: Option<String>,
    /// `x-kubernetes-list-map-keys`.
    pub map_keys: Vec<String>,
}

impl ListMeta {
    fn has_strategy(&self, name: &str) -> bool {
        self.strategy
            .as_deref()
            .is_some_and(|s| s.split(',').any(|p| p.trim() == name))
    }
}

impl<'a> SchemaNode<'a> {
    /// The schema named `name` in an OpenAPI v3 document's `components.schemas`.
    pub fn root(document: &'a Value, name: &str) -> Option<SchemaNode<'a>> {
        let schemas = document.pointer("/components/schemas")?.as_object()?;
        let (name, node) = schemas.get_key_value(name)?;
        Some(SchemaNode {
            schemas,
            node,
            name: Some(name),
        })
    }

    fn deref(self) -> SchemaNode<'a> {
        let mut node = self.node;
        let mut name = self.name;
        for _ in 0..16 {
            let reference = node.get("$ref").and_then(Value::as_str).or_else(|| {
                node.get("allOf")?
                    .as_array()?
                    .iter()
                    .find_map(|s| s.get("$ref")?.as_str())
            });
            let Some((target_name, target)) = reference
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .and_then(|name| self.schemas.get_key_value(name))
            else {
                break;
            };
            node = target;
            name = Some(target_name);
        }
        SchemaNode {
            schemas: self.schemas,
            node,
            name,
        }
    }

    /// The name of the type this node is (through its `$ref`s), such as
    /// `io.k8s.api.core.v1.PodSpec`; none for an inline schema.
    pub fn type_name(self) -> Option<&'a str> {
        self.deref().name
    }

    /// The schema of field `name` of an object (or of any value of a map).
    pub fn field(self, name: &str) -> Option<SchemaNode<'a>> {
        let target = self.deref();
        let node = target
            .node
            .get("properties")
            .and_then(|p| p.get(name))
            .or_else(|| {
                target
                    .node
                    .get("additionalProperties")
                    .filter(|a| a.is_object())
            })?;
        Some(SchemaNode {
            schemas: self.schemas,
            node,
            name: None,
        })
    }

    /// The schema of the elements of a list.
    pub fn items(self) -> Option<SchemaNode<'a>> {
        let node = self.deref().node.get("items")?;
        Some(SchemaNode {
            schemas: self.schemas,
            node,
            name: None,
        })
    }

    /// The patch extensions on this node (or, when absent here, on what it refers to).
    pub fn meta(self) -> ListMeta {
        let read = |node: &Value| ListMeta {
            strategy: node
                .get("x-kubernetes-patch-strategy")
                .and_then(Value::as_str)
                .map(str::to_string),
            merge_key: node
                .get("x-kubernetes-patch-merge-key")
                .and_then(Value::as_str)
                .map(str::to_string),
            list_type: node
                .get("x-kubernetes-list-type")
                .and_then(Value::as_str)
                .map(str::to_string),
            map_keys: node
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|keys| {
                    keys.iter()
                        .filter_map(|k| k.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        };
        let here = read(self.node);
        if here == ListMeta::default() {
            read(self.deref().node)
        } else {
            here
        }
    }
}

/// Computes the patch taking `live` to `modified` while deleting what `original` set and
/// `modified` no longer does. With a schema it is a strategic merge patch, without one a JSON
/// merge patch. An empty mapping means nothing to do.
pub fn three_way(
    original: Option<&Value>,
    modified: &Value,
    live: &Value,
    schema: Option<SchemaNode<'_>>,
) -> Value {
    match (modified.as_object(), live.as_object()) {
        (Some(m), Some(l)) => {
            Value::Object(diff_map(original.and_then(Value::as_object), m, l, schema))
        }
        _ => modified.clone(),
    }
}

/// Whether a patch from [`three_way`] has nothing in it.
pub fn is_empty(patch: &Value) -> bool {
    patch.as_object().is_some_and(Map::is_empty)
}

fn diff_map(
    original: Option<&Map<String, Value>>,
    modified: &Map<String, Value>,
    live: &Map<String, Value>,
    schema: Option<SchemaNode<'_>>,
) -> Map<String, Value> {
    let mut patch = Map::new();
    let type_name = schema.and_then(SchemaNode::type_name);
    for (key, m) in modified {
        let child = schema.and_then(|s| s.field(key));
        match live.get(key) {
            // A merge patch's null deletes the field: absent already, nothing to delete.
            None if m.is_null() => {}
            // A zero value the API server omits when it writes the object (`hostNetwork:
            // false`): the live object holds it. Pointer fields are not in the table (absent
            // is nil there, a real difference), nor are custom resources' types.
            None if type_name.is_some_and(|t| omitted::is_omitted(t, key, m)) => {}
            None => {
                patch.insert(key.clone(), m.clone());
            }
            Some(l) => diff_value(
                key,
                original.and_then(|o| o.get(key)),
                m,
                l,
                child,
                &mut patch,
            ),
        }
    }
    if let Some(original) = original {
        for key in original.keys() {
            if !modified.contains_key(key) && live.get(key).is_some_and(|v| !v.is_null()) {
                patch.insert(key.clone(), Value::Null);
            }
        }
    }
    patch
}

fn diff_value(
    key: &str,
    original: Option<&Value>,
    modified: &Value,
    live: &Value,
    schema: Option<SchemaNode<'_>>,
    patch: &mut Map<String, Value>,
) {
    match (modified, live) {
        (Value::Object(m), Value::Object(l)) => {
            let mut sub = diff_map(original.and_then(Value::as_object), m, l, schema);
            if !sub.is_empty() {
                if schema.is_some_and(|s| s.meta().has_strategy("retainKeys")) {
                    let mut keys: Vec<&String> = m.keys().collect();
                    keys.sort();
                    sub.insert(
                        "$retainKeys".into(),
                        Value::Array(keys.into_iter().map(|k| Value::String(k.clone())).collect()),
                    );
                }
                patch.insert(key.to_string(), Value::Object(sub));
            }
        }
        (Value::Array(m), Value::Array(l)) => {
            diff_list(key, original.and_then(Value::as_array), m, l, schema, patch);
        }
        _ if modified != live => {
            patch.insert(key.to_string(), modified.clone());
        }
        _ => {}
    }
}

/// Whether a list replaced whole needs no write: same length, and each element either equal or an
/// object the three-way diff finds nothing to change in (so server defaults and fields nobody
/// manages inside elements do not cause a write on every upgrade).
fn list_unchanged(
    original: Option<&[Value]>,
    modified: &[Value],
    live: &[Value],
    items: Option<SchemaNode<'_>>,
) -> bool {
    modified.len() == live.len()
        && modified
            .iter()
            .zip(live)
            .enumerate()
            .all(|(i, (m, l))| match (m, l) {
                (Value::Object(mo), Value::Object(lo)) => {
                    let o = original.and_then(|o| o.get(i)).and_then(Value::as_object);
                    diff_map(o, mo, lo, items).is_empty()
                }
                _ => m == l,
            })
}

fn diff_list(
    key: &str,
    original: Option<&Vec<Value>>,
    modified: &[Value],
    live: &[Value],
    schema: Option<SchemaNode<'_>>,
    patch: &mut Map<String, Value>,
) {
    let meta = schema.map(SchemaNode::meta).unwrap_or_default();
    let items = schema.and_then(SchemaNode::items);
    let replace = |patch: &mut Map<String, Value>| {
        if !list_unchanged(original.map(Vec::as_slice), modified, live, items) {
            patch.insert(key.to_string(), Value::Array(modified.to_vec()));
        }
    };
    if !meta.has_strategy("merge") {
        return replace(patch);
    }
    let Some(merge_key) = meta.merge_key.as_deref() else {
        // A merge list of primitives (finalizers and the like).
        if modified
            .iter()
            .chain(live)
            .any(|v| v.is_object() || v.is_array())
        {
            return replace(patch);
        }
        let additions: Vec<Value> = modified
            .iter()
            .filter(|v| !live.contains(v))
            .cloned()
            .collect();
        let deletions: Vec<Value> = original
            .map(|o| {
                o.iter()
                    .filter(|v| !modified.contains(v) && live.contains(v))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if !additions.is_empty() {
            patch.insert(key.to_string(), Value::Array(additions));
        }
        if !deletions.is_empty() {
            patch.insert(
                format!("$deleteFromPrimitiveList/{key}"),
                Value::Array(deletions),
            );
        }
        return;
    };
    let key_of = |v: &Value| v.get(merge_key).cloned();
    if modified.iter().chain(live).any(|v| key_of(v).is_none()) {
        return replace(patch);
    }
    let items_schema = items;
    // Elements that share a merge key (a TCP and a UDP port on one `containerPort`) pair up in
    // order, the n-th with the n-th, as client-go's strategic merge diff pairs them: never the
    // UDP port of the chart against the TCP port live.
    let find = |list: &[Value], k: &Value, nth: usize| {
        list.iter()
            .filter(|v| key_of(v).as_ref() == Some(k))
            .nth(nth)
            .cloned()
    };
    let occurrence = |list: &[Value], index: usize, k: &Value| {
        list[..index]
            .iter()
            .filter(|v| key_of(v).as_ref() == Some(k))
            .count()
    };
    let mut items = Vec::new();
    for (index, m) in modified.iter().enumerate() {
        let k = key_of(m).expect("checked above");
        let nth = occurrence(modified, index, &k);
        match find(live, &k, nth) {
            None => items.push(m.clone()),
            Some(l) => {
                let o = original.and_then(|o| find(o, &k, nth));
                let (Some(mo), Some(lo)) = (m.as_object(), l.as_object()) else {
                    continue;
                };
                let mut sub = diff_map(o.as_ref().and_then(Value::as_object), mo, lo, items_schema);
                if !sub.is_empty() {
                    sub.insert(merge_key.to_string(), k);
                    items.push(Value::Object(sub));
                }
            }
        }
    }
    if let Some(original) = original {
        for (index, o) in original.iter().enumerate() {
            let Some(k) = key_of(o) else { continue };
            let nth = occurrence(original, index, &k);
            if find(modified, &k, 0).is_none() && find(live, &k, nth).is_some() {
                let mut deletion = Map::new();
                deletion.insert(merge_key.to_string(), k);
                deletion.insert("$patch".into(), Value::String("delete".into()));
                items.push(Value::Object(deletion));
            }
        }
    }
    if !items.is_empty() {
        patch.insert(key.to_string(), Value::Array(items));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"components": {"schemas": {
            "Pod": {"properties": {
                "metadata": {"allOf": [{"$ref": "#/components/schemas/Meta"}]},
                "spec": {"allOf": [{"$ref": "#/components/schemas/Spec"}]}
            }},
            "Meta": {"properties": {
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "finalizers": {"type": "array", "items": {"type": "string"},
                    "x-kubernetes-patch-strategy": "merge", "x-kubernetes-list-type": "set"}
            }},
            "Spec": {"properties": {
                "containers": {"type": "array",
                    "items": {"allOf": [{"$ref": "#/components/schemas/Container"}]},
                    "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge",
                    "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
                "strategy": {"allOf": [{"$ref": "#/components/schemas/Strategy"}],
                    "x-kubernetes-patch-strategy": "retainKeys"}
            }},
            "Strategy": {"properties": {"type": {"type": "string"}, "rollingUpdate": {"type": "object"}}},
            "Container": {"properties": {
                "args": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic"},
                "env": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/Env"}]},
                    "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
                "ports": {"type": "array", "items": {"type": "object"},
                    "x-kubernetes-patch-merge-key": "containerPort", "x-kubernetes-patch-strategy": "merge"}
            }},
            "Env": {"properties": {"name": {"type": "string"}, "value": {"type": "string"}}}
        }}})
    }

    #[test]
    fn equal_inputs_give_an_empty_patch_even_with_server_defaults() {
        let d = doc();
        let schema = SchemaNode::root(&d, "Pod");
        let m =
            json!({"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}]}});
        let l = json!({"status": {}, "spec": {"containers": [{"name": "a", "imagePullPolicy": "Always",
            "env": [{"name": "X", "value": "1"}]}]}});
        assert!(is_empty(&three_way(Some(&m), &m, &l, schema)));
        assert!(is_empty(&three_way(Some(&m), &m, &l, None)));
    }

    #[test]
    fn merge_lists_merge_by_key_and_delete_what_the_chart_dropped() {
        let d = doc();
        let schema = SchemaNode::root(&d, "Pod");
        let o = json!({"spec": {"containers": [
            {"name": "a", "args": ["x"], "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "gone"}]}});
        let m = json!({"spec": {"containers": [
            {"name": "a", "args": ["y"], "env": [{"name": "A", "value": "9"}, {"name": "C", "value": "3"}]}]}});
        let l = json!({"spec": {"containers": [
            {"name": "a", "args": ["x"], "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"},
                {"name": "HAND", "value": "h"}]},
            {"name": "gone"}, {"name": "sidecar"}]}});
        let p = three_way(Some(&o), &m, &l, schema);
        assert_eq!(
            p,
            json!({"spec": {"containers": [
                {"name": "a", "args": ["y"], "env": [{"name": "A", "value": "9"}, {"name": "C", "value": "3"},
                    {"name": "B", "$patch": "delete"}]},
                {"name": "gone", "$patch": "delete"}]}})
        );
    }

    #[test]
    fn elements_sharing_a_merge_key_pair_up_in_order() {
        // A TCP and a UDP port on one containerPort (grafana's gossip ports): unchanged, they
        // give no patch; matching the UDP one against the first (TCP) one live would patch a
        // duplicate name in.
        let d = doc();
        let schema = SchemaNode::root(&d, "Pod");
        let ports = json!([
            {"containerPort": 9094, "name": "gossip-tcp", "protocol": "TCP"},
            {"containerPort": 9094, "name": "gossip-udp", "protocol": "UDP"}]);
        let m = json!({"spec": {"containers": [{"name": "a", "ports": ports}]}});
        assert!(is_empty(&three_way(Some(&m), &m, &m, schema)));
        // A change to the second one is that element's own patch.
        let mut changed = m.clone();
        changed["spec"]["containers"][0]["ports"][1]["hostPort"] = json!(9094);
        let p = three_way(Some(&m), &changed, &m, schema);
        assert_eq!(
            p["spec"]["containers"][0]["ports"],
            json!([{"containerPort": 9094, "hostPort": 9094}])
        );
    }

    #[test]
    fn fields_removed_from_the_chart_are_nulled_and_hand_edits_left_alone() {
        let o = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": 1}});
        let m = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"x": 2}});
        let l = json!({"metadata": {"labels": {"a": "1", "b": "2", "hand": "h"}}, "spec": {"x": 1, "y": 5}});
        assert_eq!(
            three_way(Some(&o), &m, &l, None),
            json!({"metadata": {"labels": {"b": null}}, "spec": {"x": 2}})
        );
        // Without an original, nothing is deleted.
        assert_eq!(three_way(None, &m, &l, None), json!({"spec": {"x": 2}}));
    }

    #[test]
    fn primitive_merge_lists_and_retain_keys_use_their_directives() {
        let d = doc();
        let schema = SchemaNode::root(&d, "Pod");
        let o = json!({"metadata": {"finalizers": ["a", "b"]}, "spec": {"strategy": {"type": "RollingUpdate"}}});
        let m = json!({"metadata": {"finalizers": ["a", "c"]}, "spec": {"strategy": {"type": "Recreate"}}});
        let l = json!({"metadata": {"finalizers": ["a", "b", "z"]},
            "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {}}}});
        assert_eq!(
            three_way(Some(&o), &m, &l, schema),
            json!({"metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["b"]},
                "spec": {"strategy": {"type": "Recreate", "$retainKeys": ["type"]}}})
        );
    }

    #[test]
    fn schema_meta_is_read_through_refs() {
        let d = doc();
        let spec = SchemaNode::root(&d, "Pod").unwrap().field("spec").unwrap();
        let containers = spec.field("containers").unwrap();
        assert_eq!(containers.meta().merge_key.as_deref(), Some("name"));
        assert_eq!(containers.meta().map_keys, ["name"]);
        let env = containers.items().unwrap().field("env").unwrap();
        assert_eq!(env.meta().strategy.as_deref(), Some("merge"));
        let labels = SchemaNode::root(&d, "Pod")
            .unwrap()
            .field("metadata")
            .unwrap()
            .field("labels");
        assert!(labels.unwrap().field("anything").is_some());
    }

    /// The real type names of a Deployment's pod template, as the API server's OpenAPI names them.
    fn deployment_doc() -> Value {
        let r = |name: &str| json!({"allOf": [{"$ref": format!("#/components/schemas/{name}")}]});
        json!({"components": {"schemas": {
            "io.k8s.api.apps.v1.Deployment": {"properties": {"spec": r("io.k8s.api.apps.v1.DeploymentSpec")}},
            "io.k8s.api.apps.v1.DeploymentSpec": {"properties": {
                "template": r("io.k8s.api.core.v1.PodTemplateSpec")}},
            "io.k8s.api.core.v1.PodTemplateSpec": {"properties": {"spec": r("io.k8s.api.core.v1.PodSpec")}},
            "io.k8s.api.core.v1.PodSpec": {"properties": {
                "containers": {"type": "array", "items": r("io.k8s.api.core.v1.Container"),
                    "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"}}},
            "io.k8s.api.core.v1.Container": {"properties": {
                "livenessProbe": r("io.k8s.api.core.v1.Probe")}},
            "io.k8s.api.core.v1.Probe": {"properties": {}}
        }}})
    }

    fn pod(spec: Value) -> Value {
        json!({"spec": {"template": {"spec": spec}}})
    }

    #[test]
    fn omitted_zero_values_and_nulls_match_an_absent_live_field() {
        let d = deployment_doc();
        let schema = SchemaNode::root(&d, "io.k8s.api.apps.v1.Deployment");
        let m = pod(
            json!({"hostNetwork": false, "volumes": null, "automountServiceAccountToken": false,
            "containers": [{"name": "a", "livenessProbe": {"initialDelaySeconds": 0, "httpGet": {"httpHeaders": null}}}]}),
        );
        // As the API server returns it: the omitempty zero values and the nulls are gone, the
        // pointer field kept.
        let l = pod(
            json!({"automountServiceAccountToken": false, "dnsPolicy": "ClusterFirst",
            "containers": [{"name": "a", "livenessProbe": {"httpGet": {}, "periodSeconds": 10}}]}),
        );
        assert!(is_empty(&three_way(Some(&m), &m, &l, schema)));
        assert!(is_empty(&three_way(None, &m, &l, schema)));
    }

    #[test]
    fn an_absent_pointer_field_or_a_changed_zero_value_is_still_patched() {
        let d = deployment_doc();
        let schema = SchemaNode::root(&d, "io.k8s.api.apps.v1.Deployment");
        let m = pod(
            json!({"hostNetwork": false, "automountServiceAccountToken": false,
            "containers": [{"name": "a"}]}),
        );
        // `automountServiceAccountToken` is `*bool`: absent live is nil, so false is a change
        // (someone removed it by hand: the upgrade puts it back).
        let l = pod(json!({"containers": [{"name": "a"}]}));
        assert_eq!(
            three_way(Some(&m), &m, &l, schema),
            pod(json!({"automountServiceAccountToken": false}))
        );
        // A hand edit to a non-zero value is corrected as before.
        let l = pod(
            json!({"hostNetwork": true, "automountServiceAccountToken": false,
            "containers": [{"name": "a"}]}),
        );
        assert_eq!(
            three_way(Some(&m), &m, &l, schema),
            pod(json!({"hostNetwork": false}))
        );
        // A non-zero value the live object lacks is set.
        let mut on = m.clone();
        on["spec"]["template"]["spec"]["hostNetwork"] = json!(true);
        let l = pod(json!({"automountServiceAccountToken": false, "containers": [{"name": "a"}]}));
        assert_eq!(
            three_way(Some(&m), &on, &l, schema),
            pod(json!({"hostNetwork": true}))
        );
    }

    #[test]
    fn custom_resources_keep_their_zero_values() {
        // No schema (a custom resource, merged by JSON merge patch): the server stores what it
        // is given, so a zero value the live object lacks is a change.
        let m = json!({"spec": {"enabled": false, "gone": null}});
        let l = json!({"spec": {}});
        assert_eq!(
            three_way(Some(&m), &m, &l, None),
            json!({"spec": {"enabled": false}})
        );
    }
}
