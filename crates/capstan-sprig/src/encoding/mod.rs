//! Helm's and Sprig's serialization functions (`toYaml`, `fromYaml`, `toJson`, `fromJson`,
//! `toToml`, ...), byte-identical to Helm 3.22's.
//!
//! - `toYaml` is `sigs.k8s.io/yaml.Marshal`: `encoding/json` first ([`json`]), that JSON read
//!   back by goyaml.v2 ([`yaml_node`]) and written by goyaml.v2's emitter ([`yaml_emit`]).
//! - `fromYaml` is `sigs.k8s.io/yaml.Unmarshal`: goyaml.v2's YAML 1.1 reading
//!   ([`yaml_parse`]), then through JSON, so every number is a float64.
//! - `toYamlPretty` is goyaml.v3's encoder on the Go value itself (same emitter, v3 rules).
//! - `toJson` and friends are `encoding/json` ([`json`]); `fromJson` is its decoder with Go's
//!   error texts ([`json_parse`]); numbers print as Go prints them ([`float`]).
//! - `toToml` is BurntSushi/toml's encoder; `fromToml` reads with the `toml` crate ([`toml`]).
//! - Helm's functions never fail: a marshalling error gives `""`, a parse error a map with an
//!   `Error` key (a one-element list for the `Array` forms). Sprig's `must*` forms and
//!   `toRawJson` return the error. (`mustToYaml` is Helm 4's, not 3.22's, so it is not here.)

pub mod float;
pub mod json;
pub mod json_parse;
pub mod toml;
pub mod yaml_emit;
pub mod yaml_node;
pub mod yaml_parse;

use std::collections::BTreeMap;

use minijinja::{Error, State, Value};

use crate::value::map;
use crate::{Registry, go_error, want_args};
use json::Json;
use yaml_node::{Node, Resolved, resolve};

/// Registers Helm's and Sprig's serialization functions.
pub fn register(r: &mut Registry) {
    r.add("toYaml", |_: &State<'_, '_>, args: &[Value]| {
        want_args("toYaml", args, 1)?;
        Ok(Value::from(to_yaml(&args[0]).unwrap_or_default()))
    });
    r.add("toYamlPretty", |_: &State<'_, '_>, args: &[Value]| {
        want_args("toYamlPretty", args, 1)?;
        Ok(Value::from(to_yaml_pretty(&args[0])))
    });
    r.add("fromYaml", |_: &State<'_, '_>, args: &[Value]| {
        want_args("fromYaml", args, 1)?;
        let text = string_arg(&args[0])?;
        Ok(yaml_parse::from_yaml_map(&text))
    });
    r.add("fromYamlArray", |_: &State<'_, '_>, args: &[Value]| {
        want_args("fromYamlArray", args, 1)?;
        let text = string_arg(&args[0])?;
        Ok(yaml_parse::from_yaml_list(&text))
    });
    r.add("toJson", |_: &State<'_, '_>, args: &[Value]| {
        want_args("toJson", args, 1)?;
        Ok(Value::from(json::marshal(&args[0]).unwrap_or_default()))
    });
    r.add("mustToJson", |_: &State<'_, '_>, args: &[Value]| {
        want_args("mustToJson", args, 1)?;
        Ok(Value::from(json::marshal(&args[0])?))
    });
    r.add("toPrettyJson", |_: &State<'_, '_>, args: &[Value]| {
        want_args("toPrettyJson", args, 1)?;
        Ok(Value::from(
            json::marshal_indent(&args[0]).unwrap_or_default(),
        ))
    });
    r.add("mustToPrettyJson", |_: &State<'_, '_>, args: &[Value]| {
        want_args("mustToPrettyJson", args, 1)?;
        Ok(Value::from(json::marshal_indent(&args[0])?))
    });
    // Sprig's toRawJson panics on an error, which text/template reports as the error.
    r.add("toRawJson", |_: &State<'_, '_>, args: &[Value]| {
        want_args("toRawJson", args, 1)?;
        Ok(Value::from(json::marshal_raw(&args[0])?))
    });
    r.add("mustToRawJson", |_: &State<'_, '_>, args: &[Value]| {
        want_args("mustToRawJson", args, 1)?;
        Ok(Value::from(json::marshal_raw(&args[0])?))
    });
    r.add("fromJson", |_: &State<'_, '_>, args: &[Value]| {
        want_args("fromJson", args, 1)?;
        let text = string_arg(&args[0])?;
        Ok(json_parse::from_json_map(&text))
    });
    r.add("fromJsonArray", |_: &State<'_, '_>, args: &[Value]| {
        want_args("fromJsonArray", args, 1)?;
        let text = string_arg(&args[0])?;
        Ok(json_parse::from_json_list(&text))
    });
    r.add("mustFromJson", |_: &State<'_, '_>, args: &[Value]| {
        want_args("mustFromJson", args, 1)?;
        let text = string_arg(&args[0])?;
        json_parse::parse(&text).map_err(go_error)
    });
    r.add("toToml", |_: &State<'_, '_>, args: &[Value]| {
        want_args("toToml", args, 1)?;
        Ok(Value::from(toml::to_toml(&args[0])))
    });
    r.add("fromToml", |_: &State<'_, '_>, args: &[Value]| {
        want_args("fromToml", args, 1)?;
        let text = string_arg(&args[0])?;
        Ok(toml::from_toml_map(&text))
    });
}

/// A map holding only `Error: msg`, as Helm's `fromYaml`/`fromJson` return on failure.
pub(crate) fn error_map(msg: String) -> Value {
    map(BTreeMap::from([("Error".to_string(), Value::from(msg))]))
}

/// A `string` parameter: Go's reflection accepts only a string (a missing value is an
/// `interface {}` there).
fn string_arg(v: &Value) -> Result<String, Error> {
    match v.as_str() {
        Some(s) if crate::value::kind(v) == crate::value::Kind::String => Ok(s.to_string()),
        _ => {
            let got = if crate::value::is_nil(v) {
                "interface {}".to_string()
            } else {
                crate::value::type_name(v)
            };
            Err(go_error(format!(
                "wrong type for value; expected string; got {got}"
            )))
        }
    }
}

/// Helm's `toYaml` text for `v` (`sigs.k8s.io/yaml.Marshal`, the final newline removed), or
/// the error for which Helm's `toYaml` prints nothing.
pub fn to_yaml(v: &Value) -> Result<String, Error> {
    let data = json::to_json_data(v)?;
    let node = json_to_node(&data)?;
    let mut text = yaml_emit::emit(&node);
    if text.ends_with('\n') {
        text.pop();
    }
    Ok(text)
}

/// The YAML sigs.k8s.io/yaml writes for a JSON document (go-yaml v2 over the JSON, as Helm's
/// `-o yaml` outputs and `show chart` are written), ending in a newline; its error
/// for a string YAML cannot hold (control characters).
pub fn json_value_to_yaml(value: &serde_json::Value) -> Result<String, Error> {
    fn data(value: &serde_json::Value) -> Json {
        match value {
            serde_json::Value::Null => Json::Null,
            serde_json::Value::Bool(b) => Json::Bool(*b),
            serde_json::Value::Number(n) => Json::Number(n.to_string()),
            serde_json::Value::String(s) => Json::Str(s.clone()),
            serde_json::Value::Array(items) => Json::Array(items.iter().map(data).collect()),
            serde_json::Value::Object(map) => {
                Json::Object(map.iter().map(|(k, v)| (k.clone(), data(v))).collect())
            }
        }
    }
    Ok(yaml_emit::emit(&json_to_node(&data(value))?))
}

/// Helm's `toYamlPretty`: goyaml.v3's encoder with `SetIndent(2)` on the Go value itself
/// (no JSON pass: float64 prints as `%g`, `1e+08`), the final newline removed.
pub fn to_yaml_pretty(v: &Value) -> String {
    let mut text = yaml_emit::emit_in(&value_to_node(v), yaml_node::Flavor::V3);
    if text.ends_with('\n') {
        text.pop();
    }
    text
}

/// A Go value as goyaml's encoder sees it.
fn value_to_node(v: &Value) -> Node {
    use crate::value::{GoStruct, Kind, Num};
    match crate::value::kind(v) {
        Kind::Invalid => Node::Null,
        Kind::Bool => Node::Bool(v.is_true()),
        Kind::Int | Kind::Int64 | Kind::Float64 => match crate::value::num(v) {
            Some(Num::Float(f)) => Node::Float(f),
            Some(n) => Node::Int(n.as_i64()),
            None => Node::Null,
        },
        Kind::String => Node::Str(v.as_str().unwrap_or_default().to_string()),
        Kind::Slice => Node::Seq(
            crate::value::as_list(v)
                .unwrap_or_default()
                .iter()
                .map(value_to_node)
                .collect(),
        ),
        Kind::Map => Node::Map(
            crate::value::map_entries(v)
                .into_iter()
                .map(|(k, x)| (Node::Str(k), value_to_node(&x)))
                .collect(),
        ),
        Kind::Struct => match v.downcast_object_ref::<GoStruct>() {
            Some(s) => Node::Map(
                s.fields
                    .iter()
                    .map(|(k, x)| (Node::Str((*k).to_string()), value_to_node(x)))
                    .collect(),
            ),
            None => Node::Str(v.to_string()),
        },
    }
}

/// Go data from YAML text as `fromYaml` produces it (any kind of document; numbers
/// float64), or the error text Helm reports.
pub fn parse_yaml(text: &str) -> Result<Value, Error> {
    yaml_parse::parse(text).map_err(go_error)
}

/// What goyaml.v2 reads from the JSON text of `j` (the second half of `yaml.Marshal`):
/// numbers become ints or floats, strings stay strings except that a raw U+0085 (which
/// JSON does not escape) is a YAML line break and folds.
fn json_to_node(j: &Json) -> Result<Node, Error> {
    Ok(match j {
        Json::Null => Node::Null,
        Json::Bool(b) => Node::Bool(*b),
        Json::Number(n) => match resolve(n) {
            Resolved::Value(node) => node,
            _ => Node::Str(n.clone()),
        },
        Json::Str(s) => Node::Str(json_string_as_yaml(s)?),
        Json::Array(items) => Node::Seq(items.iter().map(json_to_node).collect::<Result<_, _>>()?),
        Json::Object(entries) => Node::Map(
            entries
                .iter()
                .map(|(k, v)| Ok((Node::Str(json_string_as_yaml(k)?), json_to_node(v)?)))
                .collect::<Result<_, Error>>()?,
        ),
    })
}

/// A string as goyaml.v2 reads it back from a JSON double-quoted string: characters YAML
/// forbids make the whole read fail; a run of spaces around raw U+0085 (a line break to
/// YAML) folds to one space, or to the further breaks as newlines.
fn json_string_as_yaml(s: &str) -> Result<String, Error> {
    if s.chars().any(|c| {
        let u = c as u32;
        u == 0x7F || (0x80..=0x9F).contains(&u) && u != 0x85 || u == 0xFFFE || u == 0xFFFF
    }) {
        return Err(go_error("yaml: control characters are not allowed"));
    }
    if !s.contains('\u{85}') {
        return Ok(s.to_string());
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != ' ' && chars[i] != '\u{85}' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\u{85}') {
            i += 1;
        }
        let run = &chars[start..i];
        let breaks = run.iter().filter(|&&c| c == '\u{85}').count();
        if breaks == 0 {
            out.extend(run);
        } else if breaks == 1 {
            out.push(' ');
        } else {
            out.extend(std::iter::repeat_n('\n', breaks - 1));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
