//! Which zero values the API server leaves out of the built-in objects it returns, so that the
//! three-way merge does not see a chart's `hostNetwork: false` as missing from the live object.
//!
//! The API server serialises a built-in object from its Go type, and `encoding/json` drops a
//! field tagged `omitempty` when it holds its zero value (`false`, `0`, `""`, an empty list or
//! map), unless the field is a pointer: an absent pointer field is nil, which is not the zero
//! value, so a chart's `automountServiceAccountToken: false` against a live object without it is
//! a real difference. [`table`] lists, per API type (as its OpenAPI schema names it), the fields
//! of the first sort; it is generated from the Go types by `cargo xtask omitempty`. Custom
//! resources are not concerned: the server keeps what they were given.

mod table;

/// The zero value a field is omitted at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zero {
    /// `false`.
    Bool,
    /// `0` (integers and floats).
    Number,
    /// `""` (strings, and byte slices, which JSON writes as base64 strings).
    String,
    /// `[]` (or `null`).
    List,
    /// `{}` (or `null`).
    Map,
}

impl Zero {
    /// Whether `value` is this zero value.
    pub fn matches(self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (self, value) {
            (Zero::Bool, Value::Bool(b)) => !b,
            (Zero::Number, Value::Number(n)) => n.as_f64() == Some(0.0),
            (Zero::String, Value::String(s)) => s.is_empty(),
            (Zero::List, Value::Array(a)) => a.is_empty(),
            (Zero::Map, Value::Object(m)) => m.is_empty(),
            _ => false,
        }
    }
}

/// The zero value at which the API server omits field `field` of the API type named `type_name`
/// (an OpenAPI schema name such as `io.k8s.api.core.v1.PodSpec`), if it does.
pub fn omitted_zero(type_name: &str, field: &str) -> Option<Zero> {
    let fields = table::TYPES
        .binary_search_by(|(name, _)| (*name).cmp(type_name))
        .ok()
        .map(|i| table::TYPES[i].1)?;
    fields
        .binary_search_by(|(name, _)| (*name).cmp(field))
        .ok()
        .map(|i| fields[i].1)
}

/// Whether `value`, set on field `field` of API type `type_name`, is a zero value the API server
/// omits: a live object without the field holds it already.
pub fn is_omitted(type_name: &str, field: &str, value: &serde_json::Value) -> bool {
    omitted_zero(type_name, field).is_some_and(|zero| zero.matches(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn value_fields_with_omitempty_are_omitted_at_their_zero_only() {
        let pod = "io.k8s.api.core.v1.PodSpec";
        assert_eq!(omitted_zero(pod, "hostNetwork"), Some(Zero::Bool));
        assert!(is_omitted(pod, "hostNetwork", &json!(false)));
        assert!(!is_omitted(pod, "hostNetwork", &json!(true)));
        assert!(is_omitted(pod, "volumes", &json!([])));
        assert!(!is_omitted(pod, "volumes", &json!([{"name": "v"}])));
        assert!(is_omitted(pod, "nodeSelector", &json!({})));
        assert!(is_omitted(
            "io.k8s.api.core.v1.Probe",
            "initialDelaySeconds",
            &json!(0)
        ));
        assert!(is_omitted(
            "io.k8s.api.core.v1.ServiceSpec",
            "publishNotReadyAddresses",
            &json!(false)
        ));
        // The wrong type is never a zero value.
        assert!(!is_omitted(pod, "hostNetwork", &json!(0)));
    }

    #[test]
    fn pointer_fields_are_never_omitted() {
        // `automountServiceAccountToken *bool`: absent is nil, not false.
        let pod = "io.k8s.api.core.v1.PodSpec";
        assert_eq!(omitted_zero(pod, "automountServiceAccountToken"), None);
        assert!(!is_omitted(
            pod,
            "automountServiceAccountToken",
            &json!(false)
        ));
        // `terminationGracePeriodSeconds` is a pointer in Probe and in PodSpec.
        assert_eq!(
            omitted_zero("io.k8s.api.core.v1.Probe", "terminationGracePeriodSeconds"),
            None
        );
        // `replicas` is `*int32` in DeploymentSpec but a value in DeploymentStatus.
        assert_eq!(
            omitted_zero("io.k8s.api.apps.v1.DeploymentSpec", "replicas"),
            None
        );
        assert_eq!(
            omitted_zero("io.k8s.api.apps.v1.DeploymentStatus", "replicas"),
            Some(Zero::Number)
        );
    }

    #[test]
    fn inline_embeddings_are_flattened_and_structs_are_not_listed() {
        // Probe embeds ProbeHandler, whose fields are all pointers; Volume embeds VolumeSource.
        assert_eq!(omitted_zero("io.k8s.api.core.v1.Probe", "exec"), None);
        assert_eq!(
            omitted_zero("io.k8s.api.core.v1.ObjectReference", "kind"),
            Some(Zero::String)
        );
        assert_eq!(
            omitted_zero("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "labels"),
            Some(Zero::Map)
        );
        // A struct-valued field (`creationTimestamp`, metav1.Time) is always written.
        assert_eq!(
            omitted_zero(
                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "creationTimestamp"
            ),
            None
        );
        assert_eq!(omitted_zero("io.example.v1.Widget", "enabled"), None);
    }
}
