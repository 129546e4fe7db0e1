//! The API server's refusal of an invalid object (HTTP 422 `Invalid`) in plain words: each
//! field it names and why, without the Go value dumps of its messages, and an immutable field
//! narrowed to the ones the change touched (a StatefulSet's refusal names only `spec`).

use kube::core::Status;
use serde_json::Value;

use crate::apply::is_subset;

/// What the API server found wrong with an object it refused, one line per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The server's summary (`StatefulSet.apps "db" is invalid`), or a generic one.
    pub summary: String,
    /// `field: why`, in the server's order, duplicates dropped.
    pub problems: Vec<String>,
    /// Whether a field that cannot change once the object exists was changed.
    pub immutable: bool,
}

/// The refusal `status` describes when it is a 422 `Invalid` answer; `desired` is the object
/// that was sent and `live` the object before the write (for naming which fields changed).
pub fn refusal(status: &Status, desired: &Value, live: Option<&Value>) -> Option<Refusal> {
    if status.code != 422 {
        return None;
    }
    let causes = status
        .details
        .as_ref()
        .map(|d| d.causes.as_slice())
        .unwrap_or_default();
    let mut problems: Vec<String> = Vec::new();
    let mut immutable = false;
    for cause in causes {
        let why = plain(&cause.message);
        let forbids = is_immutability(&why);
        immutable |= forbids;
        let fields = match live {
            Some(live) if forbids => changed_fields(&cause.field, &why, desired, live),
            _ => Vec::new(),
        };
        let fields = if fields.is_empty() {
            vec![if cause.field.is_empty() {
                "the object".to_owned()
            } else {
                cause.field.clone()
            }]
        } else {
            fields
        };
        for field in fields {
            let line = format!("{field}: {why}");
            if !problems.contains(&line) {
                problems.push(line);
            }
        }
    }
    if problems.is_empty() {
        // No causes: the server's message, as it is.
        let message = status.message.trim();
        if message.is_empty() {
            return None;
        }
        problems.push(message.to_owned());
        immutable = is_immutability(message);
    }
    let summary = status
        .message
        .split_once(": ")
        .map(|(head, _)| head)
        .filter(|head| head.ends_with(" is invalid"))
        .unwrap_or("the API server refused it")
        .to_owned();
    Some(Refusal {
        summary,
        problems,
        immutable,
    })
}

/// Whether a (plain) reason says a field may not change after creation.
fn is_immutability(why: &str) -> bool {
    why.contains("field is immutable")
        || (why.starts_with("updates to ") && why.ends_with(" are forbidden"))
}

/// One cause's message without the value the server prints in Go syntax: `Invalid value:
/// <value>: <why>` becomes `<why>` when the value is long, `Forbidden: <why>` becomes `<why>`.
fn plain(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("Invalid value: ") {
        return match rest.rsplit_once(": ") {
            Some((value, why)) if value.chars().count() > 60 => why.to_owned(),
            Some((value, why)) => format!("{why} (value {value})"),
            None if rest.chars().count() > 60 => "invalid value".to_owned(),
            None => format!("invalid value {rest}"),
        };
    }
    if let Some(why) = message.strip_prefix("Forbidden: ") {
        return why.to_owned();
    }
    message.to_owned()
}

/// The fields under `path` (`spec`, `spec.template`) that `desired` sets to something `live` does
/// not have, minus those the reason names as allowed (`fields other than 'replicas', ...`): the
/// fields whose change the server refused. Empty when the path cannot be followed.
fn changed_fields(path: &str, why: &str, desired: &Value, live: &Value) -> Vec<String> {
    let (Some(wanted), Some(have)) = (follow(desired, path), follow(live, path)) else {
        return Vec::new();
    };
    if is_subset(wanted, have) {
        return Vec::new();
    }
    let Value::Object(children) = wanted else {
        return vec![path.to_owned()];
    };
    if !why.contains(" other than ") {
        // The path itself is immutable (`spec.template: field is immutable`).
        return vec![path.to_owned()];
    }
    let allowed: Vec<&str> = why.split('\'').skip(1).step_by(2).collect();
    children
        .iter()
        .filter(|(name, value)| {
            !allowed.contains(&name.as_str())
                && !have.get(name.as_str()).is_some_and(|h| is_subset(value, h))
        })
        .map(|(name, _)| format!("{path}.{name}"))
        .collect()
}

/// The value at a dotted field path (`spec.template.spec.containers[0].image`).
fn follow<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let mut at = object;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        at = at.get(name)?;
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            let index: usize = index.trim_end_matches(']').parse().ok()?;
            at = at.get(index)?;
        }
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::{StatusCause, StatusDetails};
    use serde_json::json;

    fn status(causes: &[(&str, &str)]) -> Status {
        Status::failure("refused", "Invalid")
            .with_code(422)
            .with_details(StatusDetails {
                causes: causes
                    .iter()
                    .map(|(field, message)| StatusCause {
                        reason: "FieldValueInvalid".into(),
                        message: (*message).into(),
                        field: (*field).into(),
                    })
                    .collect(),
                name: String::new(),
                group: String::new(),
                kind: String::new(),
                uid: String::new(),
                retry_after_seconds: 0,
            })
    }

    fn sts(tier: &str, image: &str) -> Value {
        json!({"spec": {"replicas": 1, "selector": {"matchLabels": {"tier": tier}},
               "template": {"spec": {"containers": [{"name": "db", "image": image}]}}}})
    }

    #[test]
    fn a_statefulset_refusal_names_the_changed_forbidden_field() {
        let status = status(&[(
            "spec",
            "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', \
             'template', 'updateStrategy' and 'minReadySeconds' are forbidden",
        )]);
        let live = sts("a", "postgres:16");
        let refusal = refusal(&status, &sts("b", "postgres:17"), Some(&live)).unwrap();
        assert!(refusal.immutable);
        assert_eq!(refusal.summary, "the API server refused it");
        assert_eq!(refusal.problems.len(), 1, "{:?}", refusal.problems);
        assert!(
            refusal.problems[0].starts_with("spec.selector: updates to statefulset spec"),
            "{:?}",
            refusal.problems
        );
    }

    #[test]
    fn go_value_dumps_are_left_out() {
        let dump = format!(
            "Invalid value: core.PodTemplateSpec{{{}}}: field is immutable",
            "x: 1, ".repeat(40)
        );
        let status = status(&[
            ("spec.template", &dump),
            (
                "metadata.name",
                "Invalid value: \"A\": a lowercase RFC 1123 subdomain",
            ),
        ]);
        let desired = json!({"spec": {"template": {"a": 2}}});
        let live = json!({"spec": {"template": {"a": 1}}});
        let refusal = refusal(&status, &desired, Some(&live)).unwrap();
        assert_eq!(
            refusal.problems,
            [
                "spec.template: field is immutable",
                "metadata.name: a lowercase RFC 1123 subdomain (value \"A\")"
            ]
        );
        assert!(refusal.immutable);
    }

    #[test]
    fn other_answers_are_not_refusals() {
        let mut conflict = status(&[]);
        conflict.code = 409;
        assert_eq!(refusal(&conflict, &json!({}), None), None);
        let bare =
            Status::failure("ConfigMap \"x\" is invalid: data: too long", "Invalid").with_code(422);
        let refusal = refusal(&bare, &json!({}), None).unwrap();
        assert_eq!(refusal.summary, "ConfigMap \"x\" is invalid");
        assert_eq!(
            refusal.problems,
            ["ConfigMap \"x\" is invalid: data: too long"]
        );
        assert!(!refusal.immutable);
    }

    #[test]
    fn field_paths_are_followed_through_lists() {
        let object = json!({"spec": {"containers": [{"image": "a"}, {"image": "b"}]}});
        assert_eq!(
            follow(&object, "spec.containers[1].image"),
            Some(&json!("b"))
        );
        assert_eq!(follow(&object, "spec.volumes"), None);
    }
}
