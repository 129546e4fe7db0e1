//! `capstan diff`: per-object unified diffs between two sets of manifests, as the helm-diff plugin
//! shows them: a header saying whether each object was added, removed or changed, then its diff;
//! Secret values masked (their size and whether they changed are all that is shown).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

/// One object of a manifest, identified as helm-diff identifies it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectId {
    /// The namespace (the release's when the manifest sets none).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `kind`.
    pub kind: String,
    /// The API group (`apps`, or empty for the core group).
    pub group: String,
}

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}, {}, {}", self.namespace, self.name, self.kind)
        } else {
            write!(
                f,
                "{}, {}, {} ({})",
                self.namespace, self.name, self.kind, self.group
            )
        }
    }
}

/// What happened to one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Only in the new manifests.
    Added,
    /// Only in the old manifests.
    Removed,
    /// In both, different.
    Changed,
}

/// The diff of one object.
#[derive(Clone, Debug)]
pub struct ObjectDiff {
    /// Which object.
    pub id: ObjectId,
    /// What happened to it.
    pub change: Change,
    /// Its unified diff (old on `-` lines, new on `+` lines), Secret values masked.
    pub unified: String,
}

/// Errors of reading manifests for a diff.
#[derive(Debug, thiserror::Error)]
#[error("manifest document {index}: {message}")]
pub struct ParseError {
    /// 1-based document index.
    pub index: usize,
    /// What is wrong.
    pub message: String,
}

/// Splits a release manifest (`---`-separated YAML, with or without `# Source:` lines) into
/// objects keyed by identity, each rendered as YAML with Secret values masked.
pub fn objects(manifest: &str, namespace: &str) -> Result<BTreeMap<ObjectId, Value>, ParseError> {
    let mut out = BTreeMap::new();
    for (i, document) in serde_yaml_ng::Deserializer::from_str(manifest).enumerate() {
        let value: Value = serde::Deserialize::deserialize(document).map_err(|e| ParseError {
            index: i + 1,
            message: e.to_string(),
        })?;
        if value.is_null() {
            continue;
        }
        out.insert(ObjectId::of(&value, namespace), value);
    }
    Ok(out)
}

impl ObjectId {
    /// The identity of `object`; `namespace` when it sets none.
    pub fn of(object: &Value, namespace: &str) -> ObjectId {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let api_version = text(&object["apiVersion"]);
        let group = api_version
            .rsplit_once('/')
            .map(|(g, _)| g.to_string())
            .unwrap_or_default();
        let object_namespace = text(&object["metadata"]["namespace"]);
        ObjectId {
            namespace: if object_namespace.is_empty() {
                namespace.to_string()
            } else {
                object_namespace
            },
            name: text(&object["metadata"]["name"]),
            kind: text(&object["kind"]),
            group,
        }
    }
}

/// The live and planned objects of a server dry run (`diff --three-way`), keyed by identity,
/// each without what the server alone manages: `status`, managed fields, resource version,
/// uid, timestamps, generation, and kubectl's last-applied annotation. An object the dry run
/// would create has no live side; one it would delete has no planned side.
#[derive(Debug, Default)]
pub struct LiveObjects {
    /// The objects as they are in the cluster.
    pub live: BTreeMap<ObjectId, Value>,
    /// The objects as the server would store them.
    pub planned: BTreeMap<ObjectId, Value>,
}

impl LiveObjects {
    /// Adds one object's sides, each JSON or empty.
    pub fn add(&mut self, namespace: &str, live: &str, planned: &str) -> serde_json::Result<()> {
        for (json, side) in [(live, &mut self.live), (planned, &mut self.planned)] {
            if json.is_empty() {
                continue;
            }
            let object = comparable(serde_json::from_str(json)?);
            side.insert(ObjectId::of(&object, namespace), object);
        }
        Ok(())
    }
}

/// `object` without the fields only the server manages.
fn comparable(mut object: Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "selfLink",
        ] {
            meta.remove(field);
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
            annotations.remove("deployment.kubernetes.io/revision");
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    object
}

/// The per-object diffs from `old` to `new`, in identity order; unchanged objects are left out.
pub fn diff(
    old: &BTreeMap<ObjectId, Value>,
    new: &BTreeMap<ObjectId, Value>,
    context: usize,
) -> Vec<ObjectDiff> {
    let mut ids: Vec<&ObjectId> = old.keys().chain(new.keys()).collect();
    ids.sort();
    ids.dedup();
    let mut out = Vec::new();
    for id in ids {
        let (before, after) = (old.get(id), new.get(id));
        let change = match (before, after) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(a), Some(b)) if a != b => Change::Changed,
            _ => continue,
        };
        let (before, after) = mask_secrets(before, after);
        let unified = TextDiff::from_lines(&before, &after)
            .unified_diff()
            .context_radius(context)
            .to_string()
            .lines()
            .filter(|l| !l.starts_with("@@"))
            .map(|l| format!("{l}\n"))
            .collect();
        out.push(ObjectDiff {
            id: id.clone(),
            change,
            unified,
        });
    }
    out
}

/// YAML for both sides, with each Secret `data`/`stringData` value replaced by a mask that says
/// only its size and whether it changed, as helm-diff does.
fn mask_secrets(before: Option<&Value>, after: Option<&Value>) -> (String, String) {
    let is_secret = |v: Option<&Value>| v.is_some_and(|v| v["kind"] == "Secret");
    let (mut before, mut after) = (before.cloned(), after.cloned());
    if is_secret(before.as_ref()) || is_secret(after.as_ref()) {
        for field in ["data", "stringData"] {
            let old_map = before
                .as_ref()
                .and_then(|v| v[field].as_object())
                .cloned()
                .unwrap_or_default();
            let new_map = after
                .as_ref()
                .and_then(|v| v[field].as_object())
                .cloned()
                .unwrap_or_default();
            if let Some(v) = before
                .as_mut()
                .and_then(|v| v.get_mut(field))
                .and_then(Value::as_object_mut)
            {
                for (key, value) in v.iter_mut() {
                    let same = new_map.get(key) == Some(value);
                    *value = Value::String(mask(value, if same { "REDACTED" } else { "--------" }));
                }
            }
            if let Some(v) = after
                .as_mut()
                .and_then(|v| v.get_mut(field))
                .and_then(Value::as_object_mut)
            {
                for (key, value) in v.iter_mut() {
                    let same = old_map.get(key) == Some(value);
                    *value = Value::String(mask(value, if same { "REDACTED" } else { "++++++++" }));
                }
            }
        }
    }
    let yaml = |v: Option<Value>| {
        v.map(|v| serde_yaml_ng::to_string(&v).unwrap_or_default())
            .unwrap_or_default()
    };
    (yaml(before), yaml(after))
}

fn mask(value: &Value, marker: &str) -> String {
    let len = value.as_str().map_or(0, str::len);
    format!("{marker} # ({len} bytes)")
}

/// Renders diffs as helm-diff prints them, coloured when `color` is set.
pub fn render(diffs: &[ObjectDiff], color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    for d in diffs {
        let verb = match d.change {
            Change::Added => "has been added",
            Change::Removed => "has been removed",
            Change::Changed => "has changed",
        };
        let _ = writeln!(out, "{}", paint("33", &format!("{} {verb}:", d.id)));
        for line in d.unified.lines() {
            let styled = match similar_tag(line) {
                Some(ChangeTag::Insert) => paint("32", line),
                Some(ChangeTag::Delete) => paint("31", line),
                _ => line.to_string(),
            };
            let _ = writeln!(out, "{styled}");
        }
    }
    out
}

fn similar_tag(line: &str) -> Option<ChangeTag> {
    if line.starts_with("+++") || line.starts_with("---") {
        None
    } else if line.starts_with('+') {
        Some(ChangeTag::Insert)
    } else if line.starts_with('-') {
        Some(ChangeTag::Delete)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "---\n# Source: web/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gone\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ndata:\n  password: c2VjcmV0\n  user: YWRtaW4=\n";
    const NEW: &str = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 5\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: other\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ndata:\n  password: bmV3LXNlY3JldA==\n  user: YWRtaW4=\n";

    #[test]
    fn objects_are_added_removed_or_changed() {
        let diffs = diff(
            &objects(OLD, "prod").unwrap(),
            &objects(NEW, "prod").unwrap(),
            3,
        );
        let summary: Vec<(String, Change)> = diffs
            .iter()
            .map(|d| (d.id.to_string(), d.change.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                ("other, web, Service".to_string(), Change::Added),
                ("prod, creds, Secret".to_string(), Change::Changed),
                ("prod, gone, ConfigMap".to_string(), Change::Removed),
                ("prod, web, Deployment (apps)".to_string(), Change::Changed),
            ]
        );
        let deployment = &diffs[3].unified;
        assert!(
            deployment.contains("-  replicas: 1") && deployment.contains("+  replicas: 5"),
            "{deployment}"
        );
    }

    #[test]
    fn secret_values_never_appear() {
        let diffs = diff(
            &objects(OLD, "prod").unwrap(),
            &objects(NEW, "prod").unwrap(),
            3,
        );
        let text = render(&diffs, false);
        for secret in ["c2VjcmV0", "bmV3LXNlY3JldA==", "YWRtaW4="] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
        assert!(
            text.contains("-  password: '-------- # (8 bytes)'"),
            "{text}"
        );
        assert!(
            text.contains("+  password: '++++++++ # (16 bytes)'"),
            "{text}"
        );
        assert!(text.contains("   user: 'REDACTED # (8 bytes)'"), "{text}");
    }

    #[test]
    fn identical_manifests_have_no_diff() {
        assert!(diff(&objects(OLD, "a").unwrap(), &objects(OLD, "a").unwrap(), 3).is_empty());
    }

    #[test]
    fn bad_yaml_names_the_document() {
        let error = objects("a: 1\n---\nb: [\n", "ns").unwrap_err();
        assert_eq!(error.index, 2);
    }

    #[test]
    fn colour_is_optional() {
        let diffs = diff(
            &objects(OLD, "prod").unwrap(),
            &objects(NEW, "prod").unwrap(),
            3,
        );
        assert!(!render(&diffs, false).contains('\x1b'));
        assert!(render(&diffs, true).contains("\x1b[32m+"));
    }

    #[test]
    fn live_objects_compare_without_server_managed_fields() {
        let live = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod","uid":"1","resourceVersion":"7","generation":2,"creationTimestamp":"2026-01-01T00:00:00Z","managedFields":[{"manager":"helm"}],"annotations":{"deployment.kubernetes.io/revision":"2"}},"spec":{"replicas":3},"status":{"readyReplicas":3}}"#;
        let planned = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod","uid":"1","resourceVersion":"7","generation":3,"managedFields":[]},"spec":{"replicas":5},"status":{"readyReplicas":3}}"#;
        let mut objects = LiveObjects::default();
        objects.add("prod", live, planned).unwrap();
        objects
            .add(
                "prod",
                "",
                r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"new"}}"#,
            )
            .unwrap();
        let diffs = diff(&objects.live, &objects.planned, 3);
        assert_eq!(diffs.len(), 2, "{diffs:?}");
        let web = diffs.iter().find(|d| d.id.name == "web").unwrap();
        assert_eq!(web.change, Change::Changed);
        assert!(web.unified.contains("-  replicas: 3") && web.unified.contains("+  replicas: 5"));
        for noise in [
            "uid",
            "resourceVersion",
            "generation",
            "managedFields",
            "status",
            "annotations",
        ] {
            assert!(!web.unified.contains(noise), "{noise} in {}", web.unified);
        }
        let new = diffs.iter().find(|d| d.id.name == "new").unwrap();
        assert_eq!(
            (new.change.clone(), new.id.namespace.as_str()),
            (Change::Added, "prod")
        );
    }
}
