//! The objects the applier works on ([`Resource`]), their identity ([`ObjectKey`]) and Helm's
//! install and uninstall order of kinds.

use std::fmt;

use serde::Deserialize as _;
use serde_json::Value;

use crate::error::{Error, Result};

/// One object of a release, as rendered (no server fields).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// `apiVersion`, e.g. `apps/v1` or `v1`.
    pub api_version: String,
    /// `kind`, e.g. `Deployment`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` as written in the manifest; namespaced objects without one go to the
    /// release namespace.
    pub namespace: Option<String>,
    /// The whole object.
    pub object: Value,
}

impl Resource {
    /// Reads identity fields out of an object.
    pub fn from_object(object: Value) -> Result<Resource> {
        let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
        let invalid = |reason: &str| Error::InvalidObject {
            object: format!(
                "{}/{}",
                text("/kind").unwrap_or("?"),
                text("/metadata/name").unwrap_or("?")
            ),
            reason: reason.to_string(),
        };
        if !object.is_object() {
            return Err(invalid("not a mapping"));
        }
        let api_version = text("/apiVersion").ok_or_else(|| invalid("no apiVersion"))?;
        let kind = text("/kind").ok_or_else(|| invalid("no kind"))?;
        let name = text("/metadata/name").ok_or_else(|| invalid("no metadata.name"))?;
        let namespace = text("/metadata/namespace")
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        Ok(Resource {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            namespace,
            object: object.clone(),
        })
    }

    /// Parses a multi-document YAML manifest (a release's `manifest`); empty documents are
    /// skipped.
    pub fn parse_manifest(manifest: &str) -> Result<Vec<Resource>> {
        let mut out = Vec::new();
        for document in serde_yaml_ng::Deserializer::from_str(manifest) {
            let value = Value::deserialize(document).map_err(Error::Manifest)?;
            if value.is_null() {
                continue;
            }
            out.push(Resource::from_object(value)?);
        }
        Ok(out)
    }

    /// The API group (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// The identity used to match objects across revisions; `default_namespace` stands in for a
    /// missing namespace.
    pub fn key(&self, default_namespace: &str) -> ObjectKey {
        ObjectKey {
            group: self.group().to_string(),
            kind: self.kind.clone(),
            namespace: Some(
                self.namespace
                    .clone()
                    .unwrap_or_else(|| default_namespace.to_string()),
            ),
            name: self.name.clone(),
        }
    }

    /// The value of an annotation in the manifest.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.object
            .get("metadata")?
            .get("annotations")?
            .get(key)?
            .as_str()
    }
}

/// Which object: group, kind, namespace (none for cluster-scoped objects) and name.
///
/// Displays as `kind/name` with the kind in lowercase, as `kubectl` names objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// API group, `""` for the core group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace, none for cluster-scoped objects.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.to_lowercase(), self.name)
    }
}

impl ObjectKey {
    /// `kind/name` with ` in namespace ns` when namespaced: for error messages.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{self} in namespace {ns}"),
            None => self.to_string(),
        }
    }
}

pub use capstan_chart::kinds::{INSTALL_ORDER, compare_install as compare_kinds};

/// Groups resources into steps of one kind each, in install order (stable within a kind).
pub fn install_steps(resources: &[Resource]) -> Vec<Vec<&Resource>> {
    let mut sorted: Vec<&Resource> = resources.iter().collect();
    sorted.sort_by(|a, b| compare_kinds(&a.kind, &b.kind));
    let mut steps: Vec<Vec<&Resource>> = Vec::new();
    for r in sorted {
        match steps.last_mut() {
            Some(step) if step[0].kind == r.kind => step.push(r),
            _ => steps.push(vec![r]),
        }
    }
    steps
}

/// The kinds of [`INSTALL_ORDER`] that start a new wave of [`install_waves`]: every kind before
/// one of these is applied before it. The rest of the order is kept where a later kind may
/// depend on an earlier one existing: Namespaces and PriorityClasses before anything; quotas,
/// limits and policies before what they admit; ServiceAccounts before Secrets (a token Secret
/// of a missing ServiceAccount is deleted) and before workloads (pods are refused without
/// theirs); StorageClasses before PersistentVolumeClaims (the default class is set when a claim
/// is created); CustomResourceDefinitions and APIServices before the kinds they serve; roles
/// before their bindings (binding a missing role is refused to identities that may not bind
/// any role; a ClusterRoleBinding binds only ClusterRoles, so it goes with the Roles Helm
/// orders after it); Services before workloads (their pods' environment); IngressClasses before
/// Ingresses (the default class); webhook configurations after what they might intercept; and
/// kinds Helm does not list (custom resources) last.
const WAVE_STARTS: &[&str] = &[
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Secret",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "RoleBinding",
    "Service",
    "DaemonSet",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
];

/// The wave of `kind`: kinds of one wave have no order among them (see [`WAVE_STARTS`]);
/// kinds Helm does not list share the last wave.
fn wave_of(kind: &str) -> usize {
    match capstan_chart::kinds::install_order_index(kind) {
        Some(i) => WAVE_STARTS
            .iter()
            .filter(|start| {
                capstan_chart::kinds::install_order_index(start).is_some_and(|s| s <= i)
            })
            .count(),
        None => WAVE_STARTS.len() + 1,
    }
}

/// Groups the install steps ([`install_steps`], one kind each, in install order) into waves:
/// consecutive steps whose kinds need no order among them, so that a wave's objects can be
/// written at once while every wave still follows the one before, as Helm's order has it.
pub fn install_waves(resources: &[Resource]) -> Vec<Vec<Vec<&Resource>>> {
    let mut waves: Vec<Vec<Vec<&Resource>>> = Vec::new();
    let mut current = None;
    for step in install_steps(resources) {
        let wave = wave_of(&step[0].kind);
        match waves.last_mut() {
            Some(last) if current == Some(wave) => last.push(step),
            _ => waves.push(vec![step]),
        }
        current = Some(wave);
    }
    waves
}

/// Groups resources into steps of one kind each, in uninstall order (the reverse of install).
pub fn uninstall_steps(resources: &[Resource]) -> Vec<Vec<&Resource>> {
    let mut steps = install_steps(resources);
    steps.reverse();
    steps
}

/// The label selector of the lists that stand in for reading a release's objects one by one
/// (an install step's existing objects, a wait's ready ones): release records are left out
/// (Helm's record heads and capstan's record parts, up to 1 MiB each), so that listing a
/// namespace's Secrets or ConfigMaps does not carry its release history. An object a list
/// leaves out is read by itself, so nothing is missed.
pub fn without_release_records() -> String {
    use capstan_release::chunk::OWNER_PART;
    use capstan_release::storage::{LABEL_OWNER, OWNER_HELM};
    format!("{LABEL_OWNER} notin ({OWNER_HELM},{OWNER_PART})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(kind: &str, name: &str) -> Resource {
        Resource::from_object(json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}))
            .unwrap()
    }

    #[test]
    fn lists_leave_release_records_out() {
        assert_eq!(without_release_records(), "owner notin (helm,capstan-part)");
    }

    #[test]
    fn steps_follow_helms_order_with_unknown_kinds_last() {
        let all = [
            r("Deployment", "d"),
            r("Widget", "w"),
            r("ConfigMap", "c1"),
            r("Apple", "a"),
            r("Namespace", "n"),
            r("ConfigMap", "c2"),
        ];
        let kinds: Vec<Vec<&str>> = install_steps(&all)
            .iter()
            .map(|s| s.iter().map(|r| r.name.as_str()).collect())
            .collect();
        assert_eq!(
            kinds,
            [vec!["n"], vec!["c1", "c2"], vec!["d"], vec!["a"], vec!["w"]]
        );
        assert_eq!(uninstall_steps(&all)[0][0].name, "w");
    }

    #[test]
    fn waves_keep_dependent_kinds_apart_and_join_the_rest() {
        let all = [
            r("Deployment", "d"),
            r("Widget", "w"),
            r("ConfigMap", "c"),
            r("Apple", "a"),
            r("Secret", "s"),
            r("ServiceAccount", "sa"),
            r("ClusterRole", "cr"),
            r("ClusterRoleBinding", "crb"),
            r("Role", "role"),
            r("RoleBinding", "rb"),
            r("Service", "svc"),
            r("DaemonSet", "ds"),
            r("Namespace", "n"),
            r("StorageClass", "sc"),
            r("PersistentVolumeClaim", "pvc"),
            r("MutatingWebhookConfiguration", "m"),
        ];
        let waves: Vec<Vec<Vec<&str>>> = install_waves(&all)
            .iter()
            .map(|w| {
                w.iter()
                    .map(|s| s.iter().map(|r| r.name.as_str()).collect())
                    .collect()
            })
            .collect();
        assert_eq!(
            waves,
            [
                vec![vec!["n"]],
                vec![vec!["sa"]],
                vec![vec!["s"], vec!["c"], vec!["sc"]],
                vec![vec!["pvc"]],
                vec![vec!["cr"]],
                // Helm orders Roles after ClusterRoleBindings, which cannot bind them.
                vec![vec!["crb"], vec!["role"]],
                vec![vec!["rb"]],
                vec![vec!["svc"]],
                vec![vec!["ds"], vec!["d"]],
                vec![vec!["m"]],
                vec![vec!["a"], vec!["w"]],
            ]
        );
        // Every step is in exactly one wave, in install order.
        let flat: Vec<&str> = install_waves(&all)
            .into_iter()
            .flatten()
            .map(|s| s[0].kind.as_str())
            .collect();
        let steps: Vec<&str> = install_steps(&all)
            .iter()
            .map(|s| s[0].kind.as_str())
            .collect();
        assert_eq!(flat, steps);
    }

    #[test]
    fn a_manifest_parses_into_resources() {
        let m = "---\n# Source: c/templates/a.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: x\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n";
        let rs = Resource::parse_manifest(m).unwrap();
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].group(), "apps");
        assert_eq!(rs[0].namespace.as_deref(), Some("x"));
        assert_eq!(rs[1].group(), "");
        assert_eq!(rs[1].key("rel").to_string(), "configmap/cm");
        assert!(Resource::from_object(json!({"kind": "X"})).is_err());
    }
}
