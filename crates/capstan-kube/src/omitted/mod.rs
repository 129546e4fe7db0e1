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

use serde_json::Value;

/// A name in the table: where it starts in [`table::NAMES`] and its length (the table holds no
/// `&str`s, each of which the loader would relocate at every start of the binary).
#[derive(Debug, Clone, Copy)]
struct Name {
    at: u32,
    len: u16,
}

/// The [`Name`] at `at` of length `len`.
const fn n(at: u32, len: u16) -> Name {
    Name { at, len }
}

/// No name: a field holding no struct type.
const NONE: Name = n(0, 0);

impl Name {
    fn get(self) -> &'static str {
        let at = self.at as usize;
        table::NAMES
            .get(at..at + usize::from(self.len))
            .unwrap_or_default()
    }
}

/// One field of a type in the table: its json name, the zero value it is omitted at, and the
/// struct type it holds ([`NONE`] for none).
type FieldRow = (Name, Option<Zero>, Name);

/// One type in the table: its name, where its fields start in [`table::FIELDS`], how many.
type TypeRow = (Name, u32, u16);

/// A built-in API type as the table knows it: its fields' omitted zero values and the types
/// they hold, so an object can be walked from its kind without the cluster's OpenAPI document.
#[derive(Debug, Clone, Copy)]
pub struct ApiType {
    name: &'static str,
    fields: &'static [FieldRow],
}

impl ApiType {
    /// The type named `name` (an OpenAPI schema name such as `io.k8s.api.core.v1.PodSpec`).
    pub fn named(name: &str) -> Option<ApiType> {
        let i = table::TYPES
            .binary_search_by(|(n, _, _)| n.get().cmp(name))
            .ok()?;
        let (name, first, count) = table::TYPES[i];
        let first = first as usize;
        let fields = table::FIELDS.get(first..first + usize::from(count))?;
        Some(ApiType {
            name: name.get(),
            fields,
        })
    }

    /// The type of a built-in kind (`apps/v1` `Deployment`); none for custom resources.
    pub fn of_kind(api_version: &str, kind: &str) -> Option<ApiType> {
        let i = table::API_VERSIONS
            .binary_search_by(|(v, _)| (*v).cmp(api_version))
            .ok()?;
        ApiType::named(&format!("{}.{kind}", table::API_VERSIONS[i].1))
    }

    /// The type's OpenAPI schema name.
    pub fn name(self) -> &'static str {
        self.name
    }

    fn entry(self, field: &str) -> Option<(Option<Zero>, &'static str)> {
        let i = self
            .fields
            .binary_search_by(|(n, _, _)| n.get().cmp(field))
            .ok()?;
        let (_, zero, ty) = self.fields[i];
        Some((zero, ty.get()))
    }

    /// The struct type field `field` holds (itself, or its list's elements; not a map's values,
    /// whose keys are not fields).
    pub fn field(self, field: &str) -> Option<ApiType> {
        self.entry(field)
            .map(|(_, ty)| ty)
            .filter(|ty| !ty.is_empty())
            .and_then(ApiType::named)
    }

    /// The zero value the API server omits field `field` at, if it does.
    pub fn omitted_zero(self, field: &str) -> Option<Zero> {
        self.entry(field).and_then(|(zero, _)| zero)
    }
}

/// The zero value at which the API server omits field `field` of the API type named `type_name`
/// (an OpenAPI schema name such as `io.k8s.api.core.v1.PodSpec`), if it does.
pub fn omitted_zero(type_name: &str, field: &str) -> Option<Zero> {
    ApiType::named(type_name).and_then(|t| t.omitted_zero(field))
}

/// Whether `value`, set on field `field` of API type `type_name`, is a zero value the API server
/// omits: a live object without the field holds it already.
pub fn is_omitted(type_name: &str, field: &str, value: &Value) -> bool {
    omitted_zero(type_name, field).is_some_and(|zero| zero.matches(value))
}

/// Whether the live object already holds every field `desired` sets: maps by key, lists element
/// by element with the same length (the server's defaults inside are allowed). A `null` needs
/// no live field, nor (in a built-in type `ty`) a zero value the API server omits.
pub fn holds(desired: &Value, live: &Value, ty: Option<ApiType>) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, v)| match l.get(k) {
            Some(lv) => holds(v, lv, ty.and_then(|t| t.field(k))),
            None => {
                v.is_null()
                    || ty
                        .and_then(|t| t.omitted_zero(k))
                        .is_some_and(|zero| zero.matches(v))
            }
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| holds(dv, lv, ty))
        }
        (d, l) => d == l,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_name_in_the_table_is_whole_and_every_list_sorted() {
        let mut previous = "";
        for (name, first, count) in table::TYPES {
            let name = name.get();
            assert!(name.starts_with("io.k8s."), "{name:?}");
            assert!(previous < name, "{previous} before {name}");
            previous = name;
            let ty = ApiType::named(name).unwrap();
            assert_eq!(ty.fields.len(), usize::from(*count));
            assert!(*first as usize + ty.fields.len() <= table::FIELDS.len());
            let fields: Vec<&str> = ty.fields.iter().map(|(f, _, _)| f.get()).collect();
            assert!(fields.iter().all(|f| !f.is_empty()), "{name}: {fields:?}");
            assert!(fields.windows(2).all(|w| w[0] < w[1]), "{name}: {fields:?}");
            for (_, _, held) in ty.fields {
                let held = held.get();
                assert!(held.is_empty() || held.starts_with("io.k8s."), "{held:?}");
            }
        }
    }

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

    #[test]
    fn kinds_lead_to_their_types_through_fields_lists_and_maps() {
        let deployment = ApiType::of_kind("apps/v1", "Deployment").unwrap();
        assert_eq!(deployment.name(), "io.k8s.api.apps.v1.Deployment");
        let pod = deployment
            .field("spec")
            .and_then(|s| s.field("template"))
            .and_then(|t| t.field("spec"))
            .unwrap();
        assert_eq!(pod.name(), "io.k8s.api.core.v1.PodSpec");
        assert_eq!(
            pod.field("containers").unwrap().name(),
            "io.k8s.api.core.v1.Container"
        );
        assert_eq!(
            ApiType::of_kind("v1", "Service").unwrap().name(),
            "io.k8s.api.core.v1.Service"
        );
        assert!(ApiType::of_kind("monitoring.coreos.com/v1", "Prometheus").is_none());
        // A map's values are not walked into: its keys are not fields of the value type.
        let device = ApiType::named("io.k8s.api.resource.v1.Device").unwrap();
        assert_eq!(device.omitted_zero("attributes"), Some(Zero::Map));
        assert!(device.field("attributes").is_none());
    }

    #[test]
    fn a_live_object_holds_omitted_zero_values_and_nulls_but_not_absent_pointers() {
        let ty = ApiType::of_kind("apps/v1", "Deployment");
        let desired = json!({"spec": {"template": {"spec": {"hostNetwork": false, "volumes": null,
            "automountServiceAccountToken": false,
            "containers": [{"name": "a", "readinessProbe": {"initialDelaySeconds": 0}}]}}}});
        let live = json!({"spec": {"replicas": 1, "template": {"spec": {
            "automountServiceAccountToken": false, "dnsPolicy": "ClusterFirst",
            "containers": [{"name": "a", "readinessProbe": {"periodSeconds": 10}}]}}}});
        assert!(holds(&desired, &live, ty));
        // Without the type (a custom resource), the zero values are missing.
        assert!(!holds(&desired, &live, None));
        // The pointer field removed from the live object is missing.
        let mut removed = live.clone();
        removed["spec"]["template"]["spec"]
            .as_object_mut()
            .unwrap()
            .remove("automountServiceAccountToken");
        assert!(!holds(&desired, &removed, ty));
        // A changed value is missing, zero or not.
        let mut host = live.clone();
        host["spec"]["template"]["spec"]["hostNetwork"] = json!(true);
        assert!(!holds(&desired, &host, ty));
    }
}
