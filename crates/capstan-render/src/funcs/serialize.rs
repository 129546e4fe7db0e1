//! `toYaml`, `fromYaml`, `toJson`, `toPrettyJson` and `fromJson`.

use minijinja::value::Value;
use minijinja::{Environment, Error};

use super::bounds::{Bounds, bounded_json};
use super::values::{from_json, op_err, strval};

/// Go's `json.Marshal` output: compact, keys sorted, `<`, `>` and `&` escaped.
pub(super) fn to_json_string(b: Bounds, v: &Value, pretty: bool) -> Result<String, Error> {
    let j = bounded_json(b, "toJson", v)?;
    let s = if pretty {
        serde_json::to_string_pretty(&j)
    } else {
        serde_json::to_string(&j)
    }
    .map_err(|e| op_err(format!("toJson: {e}")))?;
    Ok(s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026"))
}

pub(super) fn from_yaml_value(s: &str) -> Value {
    if capstan_chart::check_yaml_nesting(s).is_err() {
        let message = format!(
            "flow collections nest deeper than {} levels",
            capstan_chart::MAX_YAML_FLOW_DEPTH
        );
        return Value::from_iter([("Error".to_string(), Value::from(message))]);
    }
    match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(s) {
        Ok(v) => from_json(&capstan_chart::yaml_to_json(v)),
        Err(e) => Value::from_iter([("Error".to_string(), Value::from(e.to_string()))]),
    }
}

pub(super) fn from_json_value(s: &str) -> Value {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v) => from_json(&v),
        Err(e) => Value::from_iter([("Error".to_string(), Value::from(e.to_string()))]),
    }
}

/// Registers the YAML and JSON functions and filters.
pub(super) fn register(env: &mut Environment<'static>, b: Bounds) {
    let to_yaml_fn = move |v: Value| -> Result<String, Error> {
        Ok(crate::yaml::to_yaml(&bounded_json(b, "toYaml", &v)?))
    };
    env.add_function("toYaml", to_yaml_fn);
    env.add_filter("toYaml", to_yaml_fn);
    env.add_function("fromYaml", |s: Value| from_yaml_value(&strval(&s)));
    env.add_filter("fromYaml", |s: Value| from_yaml_value(&strval(&s)));
    env.add_function("toJson", move |v: Value| to_json_string(b, &v, false));
    env.add_filter("toJson", move |v: Value| to_json_string(b, &v, false));
    env.add_function("toPrettyJson", move |v: Value| to_json_string(b, &v, true));
    env.add_filter("toPrettyJson", move |v: Value| to_json_string(b, &v, true));
    env.add_function("fromJson", |s: Value| from_json_value(&strval(&s)));
    env.add_filter("fromJson", |s: Value| from_json_value(&strval(&s)));
}
