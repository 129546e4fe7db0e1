//! A YAML emitter in the style of Helm's `toYaml` (go-yaml through sigs.k8s.io/yaml).
//!
//! Keys are sorted, indentation is two spaces, lists inside maps are not indented, multi-line
//! strings use literal blocks, every string a YAML 1.1 reader (Kubernetes) could take for
//! something else (`yes`, `on`, `null`, `1.0`, `0x1f`, ...) is double-quoted, so a ConfigMap value
//! `yes` stays a string, and one that a plain scalar would misread (`*.x`, `a: b`, `{...}`) is
//! single-quoted, as go-yaml chooses.

use serde_json::Value;

/// Plain words a YAML 1.1 reader takes for a bool, a null or a special float.
const KEYWORDS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", ".nan",
    ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
];

/// Whether go-yaml would read `s`, written plain, as something other than a string (so it
/// double-quotes it): YAML 1.1 words, integers in Go's spellings, floats, base-60 numbers and
/// timestamps.
fn resolves_to_non_string(s: &str) -> bool {
    if s.is_empty() || KEYWORDS.contains(&s) {
        return true;
    }
    let first = s.as_bytes()[0];
    if first == b'.' {
        return is_float(s);
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return false;
    }
    if is_timestamp(s) || is_base60(s) {
        return true;
    }
    let plain: String = s.chars().filter(|c| *c != '_').collect();
    is_go_int(&plain) || is_float(&plain)
}

/// Go's `strconv.ParseInt(s, 0, 64)` syntax (range aside: a longer number is a float anyway).
fn is_go_int(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let all = |t: &str, f: fn(&u8) -> bool| !t.is_empty() && t.as_bytes().iter().all(f);
    if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        return all(h, u8::is_ascii_hexdigit);
    }
    if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        return all(o, |c| (b'0'..=b'7').contains(c));
    }
    if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        return all(b, |c| matches!(c, b'0' | b'1'));
    }
    if body.len() > 1 && body.starts_with('0') {
        return all(&body[1..], |c| (b'0'..=b'7').contains(c));
    }
    all(body, u8::is_ascii_digit)
}

/// go-yaml's float syntax: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_float(s: &str) -> bool {
    let b = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    let mut i = 0;
    if b.first() == Some(&b'.') {
        i = 1;
        if !digits(&mut i) {
            return false;
        }
    } else {
        if !digits(&mut i) {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// A sexagesimal number (`1:20`, `-1:30.5`), which YAML 1.1 readers take for a float.
fn is_base60(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (main, frac) = match body.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (body, None),
    };
    if frac.is_some_and(|f| !f.bytes().all(|c| c.is_ascii_digit() || c == b'_')) {
        return false;
    }
    let mut parts = main.split(':');
    let head = parts.next().unwrap_or_default();
    if !head.starts_with(|c: char| c.is_ascii_digit())
        || !head.bytes().all(|c| c.is_ascii_digit() || c == b'_')
    {
        return false;
    }
    let mut any = false;
    for p in parts {
        any = true;
        let ok = match p.as_bytes() {
            [d] => d.is_ascii_digit(),
            [a, d] => (b'0'..=b'5').contains(a) && d.is_ascii_digit(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    any
}

/// A timestamp go-yaml recognizes: `2006-1-2`, optionally with a time (after `T`/`t` with a
/// zone, or after a space without one).
fn is_timestamp(s: &str) -> bool {
    let num = |t: &str, max: usize| {
        !t.is_empty() && t.len() <= max && t.bytes().all(|c| c.is_ascii_digit())
    };
    let (date, time) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some((&s[i..i + 1], &s[i + 1..]))),
        None => (s, None),
    };
    let d: Vec<&str> = date.split('-').collect();
    let date_ok = d.len() == 3
        && d[0].len() == 4
        && num(d[0], 4)
        && num(d[1], 2)
        && num(d[2], 2)
        && (1..=12).contains(&d[1].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&d[2].parse::<u32>().unwrap_or(0));
    let Some((sep, rest)) = time else {
        return date_ok;
    };
    if !date_ok {
        return false;
    }
    let (clock, zone) = if sep == " " {
        (rest, "")
    } else if let Some(c) = rest.strip_suffix('Z') {
        (c, "Z")
    } else {
        match rest.rfind(['+', '-']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => return false,
        }
    };
    if zone.len() > 1 {
        let z: Vec<&str> = zone[1..].split(':').collect();
        if z.len() != 2 || !num(z[0], 2) || !num(z[1], 2) {
            return false;
        }
    }
    let (hms, frac) = match clock.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (clock, None),
    };
    let t: Vec<&str> = hms.split(':').collect();
    t.len() == 3 && t.iter().all(|p| num(p, 2)) && frac.is_none_or(|f| num(f, 9))
}

/// Characters go-yaml's emitter prints as they are.
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{10000}'..)
        || (('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}')
}

/// How go-yaml writes a string that is not a literal block.
#[derive(Debug, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
}

/// go-yaml's choice: double quotes for what would read as another type or cannot be quoted
/// singly, single quotes where a plain scalar would be misread (indicators, `: `, ` #`, edge
/// spaces), plain otherwise.
fn style(s: &str) -> Style {
    if resolves_to_non_string(s) {
        return Style::Double;
    }
    let chars: Vec<char> = s.chars().collect();
    let is_break = |c: char| matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}');
    let white = |c: char| c == ' ' || c == '\t' || is_break(c);
    let mut indicators = s.starts_with("---") || s.starts_with("...");
    let (mut special, mut line_breaks, mut space_break, mut break_space) =
        (false, false, false, false);
    let mut preceded_by_white = true;
    let (mut prev_space, mut prev_break) = (false, false);
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_white = chars.get(i + 1).is_none_or(|n| white(*n));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => indicators = true,
                '?' | ':' | '-' if followed_by_white => indicators = true,
                _ => {}
            }
        } else if (c == ':' && followed_by_white) || (c == '#' && preceded_by_white) {
            indicators = true;
        }
        special |= !is_printable(c);
        if c == ' ' {
            break_space |= prev_break;
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            line_breaks = true;
            space_break |= prev_space;
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_by_white = white(c);
    }
    let edge_space = s.starts_with(' ') || s.ends_with(' ');
    if special || space_break || break_space {
        Style::Double
    } else if indicators || edge_space || line_breaks {
        Style::Single
    } else {
        Style::Plain
    }
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.escape_default()))
}

fn scalar(s: &str) -> String {
    match style(s) {
        Style::Plain => s.to_string(),
        Style::Single => format!("'{}'", s.replace('\'', "''")),
        Style::Double => quoted(s),
    }
}

/// A literal block for a multi-line string, or `None` when it must be double-quoted.
fn literal(s: &str, indent: usize) -> Option<String> {
    if !s.contains('\n')
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.contains(" \n")
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
  colon: 'a: b'
  multi: |
    l1
    l2
  nolf: |-
    a
    b
  path: /usr/bin
  plain: nginx:1.27
  v: 1.27.0
  \"yes\": \"yes\"";
        assert_eq!(to_yaml(&v), want);
        let back: Value = serde_yaml_ng::from_str(want).unwrap();
        assert_eq!(back, v);
        assert_eq!(to_yaml(&json!("x")), "x");
        assert_eq!(to_yaml(&json!(null)), "null");
    }

    #[test]
    fn quoting_as_go_yaml() {
        // What go-yaml v2 (Helm's toYaml) writes for each string value.
        let cases = [
            (r#"{"k": "v"}"#, r#"'{"k": "v"}'"#),
            ("a: b", "'a: b'"),
            (" lead", "' lead'"),
            ("-foo", "-foo"),
            ("*.x.com", "'*.x.com'"),
            ("1abc", "1abc"),
            ("x #y", "'x #y'"),
            ("it's: x", "'it''s: x'"),
            ("tab\there: x", r#""tab\there: x""#),
            ("~foo", "~foo"),
            ("trail ", "'trail '"),
            ("a:", "'a:'"),
            ("-", "'-'"),
            ("- x", "'- x'"),
            (".foo", ".foo"),
            ("+1", r#""+1""#),
            ("?x", "?x"),
            ("1.27.0", "1.27.0"),
            ("1.0", r#""1.0""#),
            ("0x1f", r#""0x1f""#),
            ("1_000", r#""1_000""#),
            ("1:20", r#""1:20""#),
            ("2001-12-14", r#""2001-12-14""#),
            ("2001-12-14T10:00:00Z", r#""2001-12-14T10:00:00Z""#),
            ("08", r#""08""#),
            ("-.inf", r#""-.inf""#),
            ("1.", r#""1.""#),
            ("12:30:45", r#""12:30:45""#),
            ("0b101", r#""0b101""#),
            ("1e", "1e"),
            ("0x", "0x"),
            ("1-2", "1-2"),
            ("0.1.2", "0.1.2"),
            ("1,000", "1,000"),
            ("=", "="),
            ("<<", "<<"),
            ("-0", r#""-0""#),
            ("6.0e-1", r#""6.0e-1""#),
            ("0xG", "0xG"),
            ("'a", "'''a'"),
            ("a#b", "a#b"),
            ("key:value", "key:value"),
            ("http://x", "http://x"),
            ("", r#""""#),
        ];
        for (s, want) in cases {
            assert_eq!(to_yaml(&json!(s)), want, "{s:?}");
        }
    }
}
