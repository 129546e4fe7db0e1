//! Kubernetes objects as the operations see them: [`Resource`], [`ObjectRef`], parsing Helm's
//! stored manifest ([`split_manifest`]), Helm's install and uninstall order, the
//! `helm.sh/resource-policy: keep` annotation and the ownership metadata Helm sets.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The annotation that keeps an object when it is dropped from the chart or the release is
/// uninstalled.
pub const RESOURCE_POLICY_ANNOTATION: &str = "helm.sh/resource-policy";
/// The value of [`RESOURCE_POLICY_ANNOTATION`] that keeps the object.
pub const KEEP_POLICY: &str = "keep";
/// The label Helm sets on every object it applies.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`] (Helm's, so Helm and capstan share ownership).
pub const MANAGED_BY_HELM: &str = "Helm";
/// The annotation naming the owning release.
pub const RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
/// The annotation naming the owning release's namespace.
pub const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";

/// Which object: API version, kind, namespace (for namespaced objects) and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind`, e.g. `Deployment`.
    pub kind: String,
    /// `metadata.namespace` when the manifest sets it; `None` means the release namespace for
    /// namespaced kinds (the cluster knows which kinds are namespaced).
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl ObjectRef {
    /// A reference from its parts.
    pub fn new(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        namespace: Option<&str>,
        name: impl Into<String>,
    ) -> Self {
        ObjectRef {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_owned),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectRef {
    /// `kind/name` with the kind lowercased, as `kubectl` prints it (`deployment/web`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.to_lowercase(), self.name)
    }
}

/// One rendered object: its identity, the template it came from, and its manifest as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Which object.
    pub object: ObjectRef,
    /// The `# Source:` path (`<chart>/templates/<file>`), or `""`.
    pub source: String,
    /// The whole object as JSON.
    pub manifest: Value,
}

impl Resource {
    /// A resource from a manifest, reading `apiVersion`, `kind` and `metadata`.
    pub fn from_manifest(source: impl Into<String>, manifest: Value) -> Result<Self> {
        let source = source.into();
        let bad = |reason: &str| Error::Manifest {
            source_path: if source.is_empty() {
                "<manifest>".into()
            } else {
                source.clone()
            },
            reason: reason.into(),
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
        if !manifest.is_object() {
            return Err(bad("a document is not a mapping"));
        }
        let api_version = text(manifest.get("apiVersion"));
        let kind = text(manifest.get("kind"));
        let name = text(manifest.pointer("/metadata/name"));
        let namespace = manifest
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if api_version.is_empty() {
            return Err(bad("apiVersion not set"));
        }
        if kind.is_empty() {
            return Err(bad("kind not set"));
        }
        if name.is_empty() {
            return Err(bad(&format!("{kind} has no metadata.name")));
        }
        Ok(Resource {
            object: ObjectRef {
                api_version,
                kind,
                namespace,
                name,
            },
            source,
            manifest,
        })
    }

    /// An annotation of the manifest.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.manifest
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    }

    /// Whether it is annotated `helm.sh/resource-policy: keep` (Helm compares case-insensitively
    /// after trimming).
    pub fn is_kept(&self) -> bool {
        self.annotation(RESOURCE_POLICY_ANNOTATION)
            .is_some_and(|p| p.trim().eq_ignore_ascii_case(KEEP_POLICY))
    }

    /// Sets the ownership metadata Helm sets on every object it applies: the label
    /// `app.kubernetes.io/managed-by: Helm` and the release name and namespace annotations.
    pub fn set_ownership(&mut self, release: &str, namespace: &str) {
        let Some(obj) = self.manifest.as_object_mut() else {
            return;
        };
        let metadata = object_entry(obj, "metadata");
        object_entry(metadata, "labels").insert(MANAGED_BY_LABEL.into(), MANAGED_BY_HELM.into());
        let annotations = object_entry(metadata, "annotations");
        annotations.insert(RELEASE_NAME_ANNOTATION.into(), release.into());
        annotations.insert(RELEASE_NAMESPACE_ANNOTATION.into(), namespace.into());
    }
}

fn object_entry<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

/// Parses Helm's stored manifest (documents `---\n# Source: <path>\n<yaml>`) back into
/// resources, in order. Empty documents (templates that rendered nothing, comments only) are
/// skipped; a document that is not an object with `apiVersion`, `kind` and `metadata.name` is an
/// error naming its source.
pub fn split_manifest(manifest: &str) -> Result<Vec<Resource>> {
    let mut out = Vec::new();
    for doc in split_documents(manifest) {
        let source = doc
            .lines()
            .find_map(|l| l.trim().strip_prefix("# Source:"))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        if doc.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#')
        }) {
            continue;
        }
        if capstan_chart::check_yaml_nesting(doc).is_err() {
            return Err(Error::Manifest {
                source_path: if source.is_empty() {
                    "<manifest>".into()
                } else {
                    source.clone()
                },
                reason: format!(
                    "flow collections nest deeper than {} levels",
                    capstan_chart::MAX_YAML_FLOW_DEPTH
                ),
            });
        }
        let value: Value = serde_yaml_ng::from_str(doc).map_err(|e| Error::Manifest {
            source_path: if source.is_empty() {
                "<manifest>".into()
            } else {
                source.clone()
            },
            reason: e.to_string(),
        })?;
        if value.is_null() {
            continue;
        }
        // Helm reads manifests by YAML 1.1 (`defaultMode: 0755` is octal 493, `yes` is true);
        // the strict reading above words the errors and stands where that one cannot say.
        let value = match may_read_differently_in_yaml11(doc)
            .then(|| capstan_chart::read_yaml11(doc))
            .flatten()
        {
            Some(helm) if helm.is_object() => helm,
            _ => value,
        };
        out.push(Resource::from_manifest(source, value)?);
    }
    Ok(out)
}

/// Whether a document holds a plain scalar that YAML 1.1 reads differently from YAML 1.2: a
/// number with a leading zero (octal) or one of the 1.1 booleans (`yes`, `on`, `n`...). Most
/// documents hold none and are read once.
fn may_read_differently_in_yaml11(doc: &str) -> bool {
    const BOOLEANS: [&str; 16] = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF",
    ];
    doc.lines().any(|line| {
        let line = line.trim_start();
        let value = match line.strip_prefix("- ") {
            Some(item) => item.split_once(": ").map_or(item, |(_, v)| v),
            None => match line.split_once(": ") {
                Some((_, v)) => v,
                None => return false,
            },
        };
        let value = value.split(" #").next().unwrap_or("").trim();
        let bytes = value.as_bytes();
        (bytes.len() > 1 && bytes[0] == b'0' && bytes[1].is_ascii_digit())
            || BOOLEANS.contains(&value)
    })
}

/// Splits YAML text on document separator lines (`---`, optionally followed by a comment).
pub(crate) fn split_documents(text: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            docs.push(&text[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    docs.push(&text[start..]);
    docs.into_iter().filter(|d| !d.trim().is_empty()).collect()
}

pub use capstan_chart::kinds::INSTALL_ORDER;
use capstan_chart::kinds::{compare_install, compare_uninstall};

/// Sorts into Helm's install order (stable: objects of one kind keep their manifest order).
pub fn sort_install_order(resources: &mut [Resource]) {
    resources.sort_by(|a, b| compare_install(&a.object.kind, &b.object.kind));
}

/// Sorts into Helm's uninstall order: the install order of kinds reversed (webhook
/// configurations first); unknown kinds still last, alphabetically, as Helm's `lessByKind`
/// does; stable within a kind.
pub fn sort_uninstall_order(resources: &mut [Resource]) {
    resources.sort_by(|a, b| compare_uninstall(&a.object.kind, &b.object.kind));
}

#[cfg(test)]
mod tests {
    #[test]
    fn manifests_are_read_as_helm_reads_them() {
        let docs = super::split_manifest(
            "---\n# Source: x/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\nspec:\n  defaultMode: 0755\n  quoted: \"0755\"\n  list:\n    - 0644\n  flag: yes\n  plain: 755\n",
        )
        .unwrap();
        let spec = &docs[0].manifest["spec"];
        assert_eq!(spec["defaultMode"], 493);
        assert_eq!(spec["quoted"], "0755");
        assert_eq!(spec["list"][0], 420);
        assert_eq!(spec["flag"], true);
        assert_eq!(spec["plain"], 755);
        assert!(!super::may_read_differently_in_yaml11(
            "a: 1\nb: true\nc: \"x\"\n"
        ));
    }

    use super::*;

    const MANIFEST: &str = "---\n# Source: web/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n---\n# Source: web/templates/empty.yaml\n# nothing\n---\n# Source: web/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: other\n  annotations:\n    helm.sh/resource-policy: Keep \n---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: \"---\"\n";

    #[test]
    fn splits_helm_manifests() {
        let r = split_manifest(MANIFEST).unwrap();
        let names: Vec<_> = r.iter().map(|r| r.object.to_string()).collect();
        assert_eq!(names, ["service/web", "deployment/web", "configmap/cfg"]);
        assert_eq!(r[0].source, "web/templates/svc.yaml");
        assert_eq!(r[0].object.namespace, None);
        assert_eq!(r[1].object.namespace.as_deref(), Some("other"));
        assert!(r[1].is_kept() && !r[0].is_kept());
        assert_eq!(r[2].manifest["data"]["a"], "---");
        assert!(split_manifest("").unwrap().is_empty());
    }

    #[test]
    fn bad_documents_name_their_source() {
        let err =
            split_manifest("---\n# Source: c/templates/x.yaml\nkind: A\nmetadata:\n  name: a\n")
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "parsing manifest c/templates/x.yaml: apiVersion not set"
        );
        let err = split_manifest("---\n# Source: c/templates/y.yaml\na: [\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("parsing manifest c/templates/y.yaml: ")
        );
    }

    fn kinds(kinds: &[&str]) -> Vec<Resource> {
        kinds
            .iter()
            .enumerate()
            .map(|(i, k)| {
                Resource::from_manifest(
                    "",
                    serde_json::json!({"apiVersion": "v1", "kind": k, "metadata": {"name": format!("o{i}")}}),
                )
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn install_and_uninstall_order() {
        let mut r = kinds(&[
            "Deployment",
            "Zeta",
            "Service",
            "Alpha",
            "Namespace",
            "ValidatingWebhookConfiguration",
            "Service",
        ]);
        sort_install_order(&mut r);
        let got: Vec<_> = r.iter().map(|r| r.object.to_string()).collect();
        assert_eq!(
            got,
            [
                "namespace/o4",
                "service/o2",
                "service/o6",
                "deployment/o0",
                "validatingwebhookconfiguration/o5",
                "alpha/o3",
                "zeta/o1"
            ]
        );
        sort_uninstall_order(&mut r);
        let got: Vec<_> = r.iter().map(|r| r.object.to_string()).collect();
        assert_eq!(
            got,
            [
                "validatingwebhookconfiguration/o5",
                "deployment/o0",
                "service/o2",
                "service/o6",
                "namespace/o4",
                "alpha/o3",
                "zeta/o1"
            ]
        );
    }

    #[test]
    fn ownership_metadata() {
        let mut r = kinds(&["ConfigMap"]).remove(0);
        r.set_ownership("web", "apps");
        assert_eq!(r.manifest["metadata"]["labels"][MANAGED_BY_LABEL], "Helm");
        assert_eq!(
            r.manifest["metadata"]["annotations"][RELEASE_NAME_ANNOTATION],
            "web"
        );
        assert_eq!(
            r.manifest["metadata"]["annotations"][RELEASE_NAMESPACE_ANNOTATION],
            "apps"
        );
    }
}
