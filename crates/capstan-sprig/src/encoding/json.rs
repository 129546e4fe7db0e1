//! Go's `encoding/json` marshalling of Go values: `json.Marshal`, `MarshalIndent` and an
//! `Encoder` without HTML escaping, byte for byte.

use minijinja::{Error, Value};

use crate::fmt::format_float;
use crate::value::{GoStruct, Kind, Num, as_list, kind, map_entries, num};

/// JSON data as `encoding/json` writes it: numbers keep the text Go prints for them.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as Go formats it (`1`, `1.5`, `1e+21`, `1e-7`).
    Number(String),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, keys in the order Go writes them (sorted for maps).
    Object(Vec<(String, Json)>),
}

/// `v` as `encoding/json` sees it; NaN and infinities are Go's `unsupported value` error.
pub fn to_json_data(v: &Value) -> Result<Json, Error> {
    Ok(match kind(v) {
        Kind::Invalid => Json::Null,
        Kind::Bool => Json::Bool(v.is_true()),
        Kind::Int | Kind::Int64 | Kind::Float64 => match num(v) {
            Some(Num::Float(f)) => Json::Number(json_float(f)?),
            Some(n) => Json::Number(n.as_i64().to_string()),
            None => Json::Null,
        },
        Kind::String => Json::Str(v.as_str().unwrap_or_default().to_string()),
        Kind::Slice => Json::Array(
            as_list(v)
                .unwrap_or_default()
                .iter()
                .map(to_json_data)
                .collect::<Result<_, _>>()?,
        ),
        Kind::Map => Json::Object(
            map_entries(v)
                .into_iter()
                .map(|(k, x)| Ok((k, to_json_data(&x)?)))
                .collect::<Result<_, Error>>()?,
        ),
        Kind::Struct => match v.downcast_object_ref::<GoStruct>() {
            Some(s) => Json::Object(
                s.json_fields()
                    .into_iter()
                    .map(|(k, x)| Ok((k, to_json_data(&x)?)))
                    .collect::<Result<_, Error>>()?,
            ),
            None => Json::Str(v.to_string()),
        },
    })
}

/// A float64 as `encoding/json` writes it: `%f`-like shortest digits, exponent form below
/// 1e-6 and from 1e21 on (`1e-7`, `1e+21`).
pub fn json_float(f: f64) -> Result<String, Error> {
    if !f.is_finite() {
        return Err(crate::go_error(format!(
            "json: unsupported value: {}",
            format_float(f, 'g', -1)
        )));
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let mut s = super::float::format_shortest(f, 'e');
        // Go writes `e-7`, not `e-07`.
        if let Some(pos) = s.find("e-0") {
            s.remove(pos + 2);
        }
        Ok(s)
    } else {
        Ok(super::float::format_shortest(f, 'f'))
    }
}

/// Writes `s` as a JSON string literal as Go does; `html` escapes `<`, `>`, `&`.
pub fn write_string(out: &mut String, s: &str, html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' if html => out.push_str(&format!("\\u{:04x}", c as u32)),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Compact JSON text (`json.Marshal`); `html` as Go's default escaping.
pub fn write_compact(out: &mut String, j: &Json, html: bool) {
    match j {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(n),
        Json::Str(s) => write_string(out, s, html),
        Json::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(out, x, html);
            }
            out.push(']');
        }
        Json::Object(entries) => {
            out.push('{');
            for (i, (k, x)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k, html);
                out.push(':');
                write_compact(out, x, html);
            }
            out.push('}');
        }
    }
}

/// Indented JSON text (`json.MarshalIndent(v, "", indent)`).
pub fn write_indented(out: &mut String, j: &Json, indent: &str, depth: usize) {
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    };
    match j {
        Json::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_indented(out, x, indent, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        Json::Object(entries) if !entries.is_empty() => {
            out.push('{');
            for (i, (k, x)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_string(out, k, true);
                out.push_str(": ");
                write_indented(out, x, indent, depth + 1);
            }
            newline(out, depth);
            out.push('}');
        }
        other => write_compact(out, other, true),
    }
}

/// `json.Marshal(v)`.
pub fn marshal(v: &Value) -> Result<String, Error> {
    let mut out = String::new();
    write_compact(&mut out, &to_json_data(v)?, true);
    Ok(out)
}

/// `json.MarshalIndent(v, "", "  ")`.
pub fn marshal_indent(v: &Value) -> Result<String, Error> {
    let mut out = String::new();
    write_indented(&mut out, &to_json_data(v)?, "  ", 0);
    Ok(out)
}

/// A `json.Encoder` with `SetEscapeHTML(false)`, its trailing newline removed (Sprig's
/// `toRawJson`).
pub fn marshal_raw(v: &Value) -> Result<String, Error> {
    let mut out = String::new();
    write_compact(&mut out, &to_json_data(v)?, false);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{float64, int, int64, list, map, nil};

    #[test]
    fn floats_as_encoding_json() {
        let cases = [
            (1.0, "1"),
            (1.5, "1.5"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (12345678.9, "12345678.9"),
            (-0.0, "-0"),
            (2.5e-10, "2.5e-10"),
        ];
        for (f, want) in cases {
            assert_eq!(json_float(f).unwrap(), want, "{f}");
        }
        assert_eq!(
            json_float(f64::NAN).unwrap_err().detail(),
            Some("json: unsupported value: NaN")
        );
        assert_eq!(
            json_float(f64::INFINITY).unwrap_err().detail(),
            Some("json: unsupported value: +Inf")
        );
    }

    #[test]
    fn strings_escape_as_go() {
        let v = Value::from("<a href=\"x\">&</a>\u{2028}\t\u{1}\u{8}\u{c}é😀");
        assert_eq!(
            marshal(&v).unwrap(),
            r#""\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e\u2028\t\u0001\b\fé😀""#
        );
        assert_eq!(
            marshal_raw(&v).unwrap(),
            r#""<a href=\"x\">&</a>\u2028\t\u0001\b\fé😀""#
        );
    }

    #[test]
    fn values_marshal_sorted() {
        let m = map([
            ("b".to_string(), list(vec![int(1), float64(1.5), nil()])),
            ("a".to_string(), int64(7)),
            ("c".to_string(), map(Default::default())),
        ]
        .into_iter()
        .collect());
        assert_eq!(marshal(&m).unwrap(), r#"{"a":7,"b":[1,1.5,null],"c":{}}"#);
        assert_eq!(
            marshal_indent(&m).unwrap(),
            "{\n  \"a\": 7,\n  \"b\": [\n    1,\n    1.5,\n    null\n  ],\n  \"c\": {}\n}"
        );
        assert_eq!(marshal_indent(&list(vec![])).unwrap(), "[]");
    }
}
