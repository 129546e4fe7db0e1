//! BurntSushi/toml v1.6.0 as Helm's `toToml` and `fromToml` use it.

use minijinja::Value;

use crate::value::{GoStruct, Kind, Num, as_list, kind, map_entries, num};

/// Helm's `toToml`: the TOML encoding of `v`, or the encoder's error text in its place.
pub fn to_toml(v: &Value) -> String {
    let mut e = Encoder::default();
    match e.encode(&[], v) {
        Ok(()) => e.out,
        Err(msg) => msg,
    }
}

/// Helm's `fromToml`: the document as a Go map (integers int64, floats float64, tables
/// maps, arrays of tables lists of maps), an `Error` key on failure. Datetimes are kept as
/// their TOML text (Go has a `time.Time` there); error texts are `toml: line N: ` and the
/// `toml` crate's description, not BurntSushi's wording.
pub fn from_toml_map(text: &str) -> Value {
    match text.parse::<toml::Table>() {
        Ok(table) => from_table(&table),
        Err(e) => {
            let line = e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            super::error_map(format!("toml: line {line}: {}", e.message()))
        }
    }
}

fn from_table(t: &toml::Table) -> Value {
    crate::value::map(t.iter().map(|(k, v)| (k.clone(), from_toml(v))).collect())
}

fn from_toml(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::from(s.as_str()),
        toml::Value::Integer(i) => crate::value::int64(*i),
        toml::Value::Float(f) => crate::value::float64(*f),
        toml::Value::Boolean(b) => Value::from(*b),
        toml::Value::Datetime(d) => Value::from(d.to_string()),
        toml::Value::Array(items) => crate::value::list(items.iter().map(from_toml).collect()),
        toml::Value::Table(t) => from_table(t),
    }
}

/// How BurntSushi/toml classifies a Go value.
#[derive(PartialEq)]
enum TomlType {
    Nil,
    Plain,
    Table,
    ArrayOfTables,
}

#[derive(Default)]
struct Encoder {
    out: String,
}

const INDENT: &str = "  ";

fn entries(v: &Value) -> Vec<(String, Value)> {
    match v.downcast_object_ref::<GoStruct>() {
        Some(s) => s
            .fields
            .iter()
            .map(|(k, x)| ((*k).to_string(), x.clone()))
            .collect(),
        None => map_entries(v),
    }
}

fn toml_type(v: &Value) -> Result<TomlType, String> {
    Ok(match kind(v) {
        Kind::Invalid => TomlType::Nil,
        Kind::Map | Kind::Struct if v.downcast_object_ref::<GoStruct>().is_some() => {
            TomlType::Table
        }
        Kind::Map => TomlType::Table,
        Kind::Slice => {
            let items = as_list(v).unwrap_or_default();
            let mut all_tables = !items.is_empty();
            for x in &items {
                match toml_type(x)? {
                    TomlType::Nil => {
                        return Err("toml: cannot encode array with nil element".into());
                    }
                    TomlType::Table => {}
                    _ => all_tables = false,
                }
            }
            if all_tables {
                TomlType::ArrayOfTables
            } else {
                TomlType::Plain
            }
        }
        _ => TomlType::Plain,
    })
}

fn bare(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key_part(k: &str) -> String {
    if k.is_empty() {
        "\"\"".into()
    } else if bare(k) {
        k.into()
    } else {
        quote(k)
    }
}

fn dotted(key: &[String]) -> String {
    key.iter()
        .map(|k| key_part(k))
        .collect::<Vec<_>>()
        .join(".")
}

fn indent(key: &[String]) -> String {
    INDENT.repeat(key.len().saturating_sub(1))
}

impl Encoder {
    fn newline(&mut self) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
    }

    fn encode(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        match kind(v) {
            Kind::Invalid if key.is_empty() => {
                Err("reflect: call of reflect.Value.Type on zero Value".into())
            }
            Kind::Invalid => Ok(()),
            Kind::Map => self.table(key, v),
            Kind::Struct if v.downcast_object_ref::<GoStruct>().is_some() => self.table(key, v),
            Kind::Slice if toml_type(v)? == TomlType::ArrayOfTables => {
                if key.is_empty() {
                    return Err("toml: top-level values must be Go maps or structs".into());
                }
                for item in as_list(v).unwrap_or_default() {
                    self.newline();
                    self.out
                        .push_str(&format!("{}[[{}]]", indent(key), dotted(key)));
                    self.newline();
                    self.map_body(key, &item, false)?;
                }
                Ok(())
            }
            _ => self.key_value(key, v, false),
        }
    }

    fn table(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        if key.len() == 1 {
            self.newline();
        }
        if !key.is_empty() {
            self.out
                .push_str(&format!("{}[{}]", indent(key), dotted(key)));
            self.newline();
        }
        self.map_body(key, v, false)
    }

    fn map_body(&mut self, key: &[String], v: &Value, inline: bool) -> Result<(), String> {
        let mut direct = Vec::new();
        let mut sub = Vec::new();
        for (k, x) in entries(v) {
            match toml_type(&x)? {
                TomlType::Table | TomlType::ArrayOfTables => sub.push((k, x)),
                _ => direct.push((k, x)),
            }
        }
        direct.sort_by(|a, b| a.0.cmp(&b.0));
        sub.sort_by(|a, b| a.0.cmp(&b.0));
        if inline {
            self.out.push('{');
        }
        let trail = !sub.is_empty();
        for (group, trail_comma) in [(direct, trail), (sub, false)] {
            let n = group.len();
            for (i, (k, x)) in group.into_iter().enumerate() {
                if kind(&x) == Kind::Invalid {
                    continue;
                }
                if inline {
                    self.key_value(&[k], &x, true)?;
                    if trail_comma || i != n - 1 {
                        self.out.push_str(", ");
                    }
                } else {
                    let mut child = key.to_vec();
                    child.push(k);
                    self.encode(&child, &x)?;
                }
            }
        }
        if inline {
            self.out.push('}');
        }
        Ok(())
    }

    fn key_value(&mut self, key: &[String], v: &Value, inline: bool) -> Result<(), String> {
        if key.is_empty() {
            return self.element(v);
        }
        let last = key_part(&key[key.len() - 1]);
        self.out.push_str(&format!("{}{last} = ", indent(key)));
        self.element(v)?;
        if !inline {
            self.newline();
        }
        Ok(())
    }

    fn element(&mut self, v: &Value) -> Result<(), String> {
        match kind(v) {
            Kind::String => self.out.push_str(&quote(v.as_str().unwrap_or_default())),
            Kind::Bool => self
                .out
                .push_str(if v.is_true() { "true" } else { "false" }),
            Kind::Int | Kind::Int64 | Kind::Float64 => match num(v) {
                Some(Num::Float(f)) => self.out.push_str(&float(f)),
                Some(n) => self.out.push_str(&n.as_i64().to_string()),
                None => {}
            },
            Kind::Slice => {
                let items = as_list(v).unwrap_or_default();
                self.out.push('[');
                for (i, x) in items.iter().enumerate() {
                    self.element(x)?;
                    if i + 1 != items.len() {
                        self.out.push_str(", ");
                    }
                }
                self.out.push(']');
            }
            Kind::Map => self.map_body(&[], v, true)?,
            Kind::Struct if v.downcast_object_ref::<GoStruct>().is_some() => {
                self.map_body(&[], v, true)?;
            }
            Kind::Struct => self.out.push_str(&quote(&v.to_string())),
            Kind::Invalid => return Err("toml: cannot encode a nil value".into()),
        }
        Ok(())
    }
}

/// BurntSushi's float: shortest `%g`, `.0` added to a bare integer, `nan` / `inf`.
fn float(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.into();
    }
    let s = super::float::format_shortest(f, 'g');
    if s.contains(['e', '.']) {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{int, int64, list, map, nil};

    #[test]
    fn encodes_as_burntsushi() {
        let values = crate::encoding::parse_yaml("a:\n  b: 1\n  c: \"str\\\"q\\\\ \\t\\u007f é\"\n  d:\n    e: [1, 2.5, \"x\"]\n    f: {}\n    \"g h\": true\n  list_tables:\n  - name: x\n    sub: {k: v}\n  - name: y\n  mixed: [1, {m: 1, n: [2]}, [3, 4]]\n  empty: []\n  nil: null\ntop: 1e21\nz: 100000000\nf: 1.0\ng: 0.000001\n\"\": empty\n\"a.b\": dotted\n").unwrap();
        assert_eq!(
            to_toml(&values),
            "\"\" = \"empty\"\n\"a.b\" = \"dotted\"\nf = 1.0\ng = 1e-06\ntop = 1e+21\nz = 1e+08\n\n[a]\n  b = 1.0\n  c = \"str\\\"q\\\\ \\t\\u007f é\"\n  empty = []\n  mixed = [1.0, {false = [2.0], m = 1.0}, [3.0, 4.0]]\n  [a.d]\n    e = [1.0, 2.5, \"x\"]\n    \"g h\" = true\n    [a.d.f]\n\n  [[a.list_tables]]\n    name = \"x\"\n    [a.list_tables.sub]\n      k = \"v\"\n\n  [[a.list_tables]]\n    name = true\n"
        );
        let a = crate::value::as_map(&values).unwrap().get("a").unwrap();
        assert_eq!(
            to_toml(&a),
            "b = 1.0\nc = \"str\\\"q\\\\ \\t\\u007f é\"\nempty = []\nmixed = [1.0, {false = [2.0], m = 1.0}, [3.0, 4.0]]\n\n[d]\n  e = [1.0, 2.5, \"x\"]\n  \"g h\" = true\n  [d.f]\n\n[[list_tables]]\n  name = \"x\"\n  [list_tables.sub]\n    k = \"v\"\n\n[[list_tables]]\n  name = true\n"
        );
    }

    #[test]
    fn decodes_as_burntsushi() {
        let v = from_toml_map(
            "a = 1\nb = [1, 2.5, 'x']\nc = true\n[t]\nd = 1979-05-27T07:32:00Z\n[[e]]\nf = 'x'",
        );
        assert_eq!(
            crate::encoding::json::marshal(&v).unwrap(),
            r#"{"a":1,"b":[1,2.5,"x"],"c":true,"e":[{"f":"x"}],"t":{"d":"1979-05-27T07:32:00Z"}}"#
        );
        let a = crate::value::as_map(&v).unwrap().get("a").unwrap();
        assert_eq!(crate::value::type_name(&a), "int64");
        let e = from_toml_map("a = = 1");
        let msg = crate::value::as_map(&e).unwrap().get("Error").unwrap();
        assert!(msg.as_str().unwrap().starts_with("toml: line 1: "), "{msg}");
    }

    #[test]
    fn top_level_and_errors() {
        let m = |entries: Vec<(&str, Value)>| {
            map(entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect())
        };
        assert_eq!(to_toml(&Value::from("s")), "\"s\"");
        assert_eq!(to_toml(&list(vec![int(1), int(2)])), "[1, 2]");
        assert_eq!(
            to_toml(&list(vec![m(vec![("a", int(1))])])),
            "toml: top-level values must be Go maps or structs"
        );
        assert_eq!(
            to_toml(&m(vec![("a", list(vec![int(1), nil()]))])),
            "toml: cannot encode array with nil element"
        );
        assert_eq!(
            to_toml(&m(vec![("x", int(1)), ("y", int64(2))])),
            "x = 1\ny = 2\n"
        );
    }
}
