//! A YAML emitter in the style of Helm's `toYaml` (go-yaml through sigs.k8s.io/yaml).
//!
//! Keys are sorted, indentation is two spaces, lists inside maps are not indented, multi-line
//! strings use literal blocks, and every string a YAML 1.1 reader (Kubernetes) could take for
//! something else (`yes`, `on`, `null`, `1.0`, `0x1f`, ...) is double-quoted, so a ConfigMap value
//! `yes` stays a string.

use serde_json::Value;

const KEYWORDS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", "<<",
    "=",
];

fn needs_quotes(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return true;
    };
    if KEYWORDS.contains(&s) || s.trim() != s {
        return true;
    }
    if first.is_ascii_digit() || matches!(first, '+' | '-' | '.') {
        // Numbers in every YAML 1.1 spelling, and anything that might be one.
        return true;
    }
    if !(first.is_alphanumeric() || matches!(first, '/' | '_' | '$' | '(' | '<' | '^' | '=')) {
        return true;
    }
    s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars().any(|c| c.is_control() || c == '\u{feff}')
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.escape_default()))
}

fn scalar(s: &str) -> String {
    if needs_quotes(s) {
        quoted(s)
    } else {
        s.to_string()
    }
}

/// A literal block for a multi-line string, or `None` when it must be double-quoted.
fn literal(s: &str, indent: usize) -> Option<String> {
    if !s.contains('\n')
        || s.starts_with(' ')
        || s.chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{feff}')
    {
        return None;
    }
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let pad = " ".repeat(indent);
    let mut out = format!("|{chomp}");
    for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    Some(out)
}

fn inline(v: &Value, indent: usize) -> Option<String> {
    Some(match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => literal(s, indent).unwrap_or_else(|| scalar(s)),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        _ => return None,
    })
}

fn sorted(m: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = m.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// Writes `v` as a block at `indent`; the first line's indentation is already written.
fn block(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (i, (k, val)) in sorted(m).into_iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    out.push_str(&pad);
                }
                out.push_str(&scalar(k));
                out.push(':');
                match inline(val, indent + 2) {
                    Some(s) => {
                        out.push(' ');
                        out.push_str(&s);
                    }
                    None => {
                        let child = if val.is_array() { indent } else { indent + 2 };
                        out.push('\n');
                        out.push_str(&" ".repeat(child));
                        block(val, child, out);
                    }
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    out.push_str(&pad);
                }
                out.push_str("- ");
                match inline(item, indent + 2) {
                    Some(s) => out.push_str(&s),
                    None => block(item, indent + 2, out),
                }
            }
        }
        other => out.push_str(&inline(other, indent).unwrap_or_default()),
    }
}

/// Helm's `toYaml`: the document without its trailing newline.
pub(crate) fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    block(v, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn helm_style() {
        let v = json!({
            "b": [1, {"x": "y", "l": ["p", "q"]}, [2, 3]],
            "a": {"empty": {}, "none": [], "null": null, "t": true},
            "s": {"yes": "yes", "v": "1.27.0", "plain": "nginx:1.27", "multi": "l1\nl2\n", "nolf": "a\nb", "colon": "a: b", "path": "/usr/bin"},
        });
        let want = "\
a:
  empty: {}
  none: []
  \"null\": null
  t: true
b:
- 1
- l:
  - p
  - q
  x: \"y\"
- - 2
  - 3
s:
  colon: \"a: b\"
  multi: |
    l1
    l2
  nolf: |-
    a
    b
  path: /usr/bin
  plain: nginx:1.27
  v: \"1.27.0\"
  \"yes\": \"yes\"";
        assert_eq!(to_yaml(&v), want);
        let back: Value = serde_yaml_ng::from_str(want).unwrap();
        assert_eq!(back, v);
        assert_eq!(to_yaml(&json!("x")), "x");
        assert_eq!(to_yaml(&json!(null)), "null");
    }
}
