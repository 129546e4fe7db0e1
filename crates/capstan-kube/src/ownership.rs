//! Helm's ownership metadata: the label and annotations every release object carries, the check
//! that refuses to adopt objects of no release or of another one, and the keep policy.

use serde_json::{Map, Value};

/// Label set on every release object.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value, as Helm writes it.
pub const MANAGED_BY_VALUE: &str = "Helm";
/// Annotation naming the owning release.
pub const RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
/// Annotation naming the owning release's namespace.
pub const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";
/// Annotation whose value [`KEEP_POLICY`] keeps an object when Helm would delete it.
pub const RESOURCE_POLICY_ANNOTATION: &str = "helm.sh/resource-policy";
/// The keep policy.
pub const KEEP_POLICY: &str = "keep";

fn metadata_map<'a>(object: &'a mut Value, field: &str) -> &'a mut Map<String, Value> {
    let root = object.as_object_mut().expect("objects are mappings");
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    let map = metadata
        .as_object_mut()
        .expect("just made a mapping")
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !map.is_object() {
        *map = Value::Object(Map::new());
    }
    map.as_object_mut().expect("just made a mapping")
}

/// Sets the managed-by label and the release annotations on an object (a mapping).
pub fn set_ownership(object: &mut Value, release: &str, release_namespace: &str) {
    if !object.is_object() {
        return;
    }
    metadata_map(object, "labels").insert(MANAGED_BY_LABEL.into(), MANAGED_BY_VALUE.into());
    let annotations = metadata_map(object, "annotations");
    annotations.insert(RELEASE_NAME_ANNOTATION.into(), release.into());
    annotations.insert(
        RELEASE_NAMESPACE_ANNOTATION.into(),
        release_namespace.into(),
    );
}

/// Checks that a live object belongs to this release; the error lists every mismatch, in Helm's
/// words.
pub fn check_ownership(live: &Value, release: &str, release_namespace: &str) -> Result<(), String> {
    let get = |field: &str, key: &str| {
        live.get("metadata")
            .and_then(|m| m.get(field))
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
    };
    let mut problems = Vec::new();
    let mut check = |what: &str, field: &str, key: &str, want: &str| match get(field, key) {
        None => problems.push(format!(
            "{what} validation error: missing key {key:?}: must be set to {want:?}"
        )),
        Some(have) if have != want => problems.push(format!(
            "{what} validation error: key {key:?} must equal {want:?}: current value is {have:?}"
        )),
        Some(_) => {}
    };
    check("label", "labels", MANAGED_BY_LABEL, MANAGED_BY_VALUE);
    check(
        "annotation",
        "annotations",
        RELEASE_NAME_ANNOTATION,
        release,
    );
    check(
        "annotation",
        "annotations",
        RELEASE_NAMESPACE_ANNOTATION,
        release_namespace,
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Whether an object is annotated `helm.sh/resource-policy: keep` (the value trimmed and in any
/// case, as Helm's uninstall reads it).
pub fn is_kept(object: &Value) -> bool {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(RESOURCE_POLICY_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|policy| policy.trim().eq_ignore_ascii_case(KEEP_POLICY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ownership_is_set_then_accepted_and_other_releases_are_refused() {
        let mut o = json!({"metadata": {"name": "x", "labels": {"a": "b"}}});
        assert!(
            check_ownership(&o, "r", "ns")
                .unwrap_err()
                .contains("missing key")
        );
        set_ownership(&mut o, "r", "ns");
        assert_eq!(o["metadata"]["labels"]["a"], "b");
        check_ownership(&o, "r", "ns").unwrap();
        let other = check_ownership(&o, "s", "ns").unwrap_err();
        assert!(other.contains("current value is \"r\""), "{other}");
    }

    #[test]
    fn keep_policy_is_read_from_annotations() {
        assert!(is_kept(
            &json!({"metadata": {"annotations": {"helm.sh/resource-policy": "keep"}}})
        ));
        assert!(is_kept(
            &json!({"metadata": {"annotations": {"helm.sh/resource-policy": " Keep "}}})
        ));
        assert!(!is_kept(
            &json!({"metadata": {"annotations": {"helm.sh/resource-policy": "delete"}}})
        ));
        assert!(!is_kept(&json!({"metadata": {}})));
    }
}
