//! JSON values written as YAML the way Helm writes them (sigs.k8s.io/yaml over go-yaml v2), so
//! `-o yaml` output is byte for byte Helm's: keys sorted, sequences not indented under their
//! key, multi-line strings as literal blocks, and strings a YAML reader would take for
//! something else (times, numbers, booleans, null) double-quoted.

use std::fmt::Write as _;

use serde_json::Value;

/// The YAML document for `value`, ending in a newline.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => sequence(&mut out, items, 0),
        scalar => {
            out.push_str(&inline(scalar, 0, 0));
            out.push('\n');
        }
    }
    out
}

/// Where go-yaml folds long plain and single-quoted scalars (`best_width`).
const BEST_WIDTH: usize = 80;

fn mapping(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        let value = &map[key];
        let key_text = scalar_text(key, indent, indent);
        let column = indent + key_text.chars().count() + 2;
        out.push_str(&key_text);
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                pad(out, indent + 2);
                mapping(out, inner, indent + 2);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                pad(out, indent);
                sequence(out, items, indent);
            }
            scalar => {
                out.push(' ');
                out.push_str(&inline(scalar, indent + 2, column));
                out.push('\n');
            }
        }
    }
}

fn sequence(out: &mut String, items: &[Value], indent: usize) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        out.push_str("- ");
        match item {
            Value::Object(inner) if !inner.is_empty() => mapping(out, inner, indent + 2),
            Value::Array(inner) if !inner.is_empty() => sequence(out, inner, indent + 2),
            scalar => {
                out.push_str(&inline(scalar, indent + 2, indent + 2));
                out.push('\n');
            }
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A scalar (or an empty collection) on the current line, starting at `column`; literal
/// blocks and folded lines continue on the following lines at `indent`.
fn inline(value: &Value, indent: usize, column: usize) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        Value::String(s) => scalar_text(s, indent, column),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// A number as Go prints the float64 or int64 sigs.k8s.io/yaml read it as.
fn number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or_default();
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{f:.0}")
    } else {
        let text = format!("{f:e}");
        // Go's 'g' format: exponent form only for large or small magnitudes.
        if (1e-4..1e21).contains(&f.abs()) {
            f.to_string()
        } else {
            text.replace('e', "e+").replace("e+-", "e-")
        }
    }
}

/// A string as go-yaml writes it: plain, single-quoted, double-quoted or a literal block.
fn scalar_text(s: &str, indent: usize, column: usize) -> String {
    if s.contains('\n') && literal_allowed(s) {
        return literal(s, indent);
    }
    if s.contains('\n') || !s.chars().all(printable) || resolves_to_non_string(s) {
        return double_quoted(s, column, indent);
    }
    if plain_allowed(s) {
        fold(s, column, indent, false)
    } else {
        format!(
            "'{}'",
            fold(&s.replace('\'', "''"), column + 1, indent, true)
        )
    }
}

/// go-yaml's folding of a plain or single-quoted scalar: a single space met past
/// [`BEST_WIDTH`] columns becomes a line break and `indent` spaces (never the first or last
/// character of a quoted one).
fn fold(s: &str, column: usize, indent: usize, quoted: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut column = column;
    let mut spaces = false;
    for (i, c) in chars.iter().enumerate() {
        if *c == ' ' {
            let inner = !quoted || (i != 0 && i + 1 != chars.len());
            if inner
                && !spaces
                && column > BEST_WIDTH
                && chars.get(i + 1).is_some_and(|n| *n != ' ')
            {
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', indent));
                column = indent;
            } else {
                out.push(' ');
                column += 1;
            }
            spaces = true;
        } else {
            out.push(*c);
            column += 1;
            spaces = false;
        }
    }
    out
}

fn printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        && c != '\u{FEFF}'
}

/// Whether go-yaml's emitter takes a multi-line string as a literal block: printable, and no
/// line with trailing spaces or a space right after a line break followed by content it
/// would misread.
fn literal_allowed(s: &str) -> bool {
    if !s.chars().all(printable) {
        return false;
    }
    // go-yaml refuses block styles for a space right before a line break.
    let bytes: Vec<char> = s.chars().collect();
    for (i, c) in bytes.iter().enumerate() {
        if *c == ' ' && bytes.get(i + 1) == Some(&'\n') {
            return false;
        }
    }
    true
}

fn literal(s: &str, indent: usize) -> String {
    let mut head = String::from("|");
    if s.starts_with(' ') || s.starts_with('\n') {
        let _ = write!(head, "2");
    }
    if !s.ends_with('\n') {
        head.push('-');
    } else if s.ends_with("\n\n") || s == "\n" {
        head.push('+');
    }
    let mut out = head;
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.extend(std::iter::repeat_n(' ', indent));
            out.push_str(line);
        }
    }
    out
}

/// A double-quoted scalar as go-yaml writes it from `column`: escapes, and a single space met
/// past [`BEST_WIDTH`] columns (never the first or last character) folded into a line break
/// and `indent` spaces, with a `\` kept before a space that starts the next line.
fn double_quoted(s: &str, column: usize, indent: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::from("\"");
    let mut column = column + 1;
    let mut spaces = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            if !spaces && column > BEST_WIDTH && i != 0 && i + 1 != chars.len() {
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', indent));
                column = indent;
                if chars.get(i + 1) == Some(&' ') {
                    out.push('\\');
                    column += 1;
                }
            } else {
                out.push(' ');
                column += 1;
            }
            spaces = true;
            continue;
        }
        spaces = false;
        let before = out.len();
        escape_into(&mut out, c);
        column += out[before..].chars().count();
    }
    out.push('"');
    out
}

/// One character of a double-quoted scalar, escaped when go-yaml escapes it.
fn escape_into(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\0' => out.push_str("\\0"),
        c if !printable(c) => {
            let code = c as u32;
            if code <= 0xFF {
                let _ = write!(out, "\\x{code:02X}");
            } else if code <= 0xFFFF {
                let _ = write!(out, "\\u{code:04X}");
            } else {
                let _ = write!(out, "\\U{code:08X}");
            }
        }
        c => out.push(c),
    }
}

/// Whether go-yaml v2 would read the plain scalar as something other than a string: null,
/// a YAML 1.1 boolean, an integer or float (base 60 included), or a timestamp.
fn resolves_to_non_string(s: &str) -> bool {
    const SPECIAL: [&str; 30] = [
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true",
        "True", "TRUE", "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
        ".nan", ".NaN", ".NAN",
    ];
    const INFINITIES: [&str; 9] = [
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
    ];
    if SPECIAL.contains(&s) || INFINITIES.contains(&s) || s == "<<" {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    if !(first.is_ascii_digit() || matches!(first, '+' | '-' | '.')) {
        return false;
    }
    is_number(s) || is_base60(s) || is_timestamp(s)
}

fn is_number(s: &str) -> bool {
    let plain = s.replace('_', "");
    let body = plain.strip_prefix(['+', '-']).unwrap_or(&plain);
    if let Some(hex) = body.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if let Some(bin) = body.strip_prefix("0b") {
        return !bin.is_empty() && bin.chars().all(|c| c == '0' || c == '1');
    }
    body.parse::<f64>().is_ok()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && body.chars().any(|c| c.is_ascii_digit())
}

fn is_base60(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut parts = body.split(':');
    let Some(head) = parts.next() else {
        return false;
    };
    let rest: Vec<&str> = parts.collect();
    !rest.is_empty()
        && !head.is_empty()
        && head.chars().all(|c| c.is_ascii_digit() || c == '_')
        && rest.iter().enumerate().all(|(i, p)| {
            let p = if i + 1 == rest.len() {
                p.split('.').next().unwrap_or(p)
            } else {
                p
            };
            !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_digit())
        })
}

/// go-yaml v2's timestamp forms: `2006-01-02`, `2006-01-02T15:04:05Z07:00` and the variants
/// with a space or lowercase `t`, fractional seconds, or no zone.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|r| r.len() == range.len() && r.iter().all(u8::is_ascii_digit))
    };
    if !(digits(0..4) && b.get(4) == Some(&b'-')) {
        return false;
    }
    let date = s.split(['T', 't', ' ']).next().unwrap_or("");
    let mut parts = date.split('-');
    let ok_date = parts.next().is_some_and(|y| y.len() == 4)
        && parts.next().is_some_and(|m| (1..=2).contains(&m.len()))
        && parts.next().is_some_and(|d| (1..=2).contains(&d.len()))
        && parts.next().is_none()
        && date.chars().all(|c| c.is_ascii_digit() || c == '-');
    if !ok_date {
        return false;
    }
    if date.len() == s.len() {
        return true;
    }
    let time = &s[date.len() + 1..];
    let time = time.trim_start();
    let clock: String = time
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ':' || *c == '.')
        .collect();
    let zone = time[clock.len()..].trim_start();
    let clock_ok = {
        let mut p = clock.split(':');
        p.next().is_some_and(|h| (1..=2).contains(&h.len()))
            && p.next().is_some_and(|m| m.len() == 2)
            && p.next().is_some_and(|sec| {
                let whole = sec.split('.').next().unwrap_or("");
                whole.len() == 2
            })
            && p.next().is_none()
    };
    let zone_ok = zone.is_empty()
        || zone == "Z"
        || (zone.starts_with(['+', '-'])
            && zone[1..].chars().all(|c| c.is_ascii_digit() || c == ':'));
    clock_ok && zone_ok
}

/// go-yaml's emitter rules for a plain (unquoted) scalar in block context.
fn plain_allowed(s: &str) -> bool {
    if s.is_empty() || s.starts_with(' ') || s.ends_with(' ') {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    let first = chars[0];
    let next = chars.get(1).copied();
    let indicator = matches!(
        first,
        '#' | ','
            | '['
            | ']'
            | '{'
            | '}'
            | '&'
            | '*'
            | '!'
            | '|'
            | '>'
            | '\''
            | '"'
            | '%'
            | '@'
            | '`'
    );
    if indicator {
        return false;
    }
    if matches!(first, '-' | '?' | ':') && next.is_none_or(|c| c == ' ') {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    for (i, c) in chars.iter().enumerate() {
        let after = chars.get(i + 1).copied();
        if *c == ':' && after.is_none_or(|a| a == ' ') {
            return false;
        }
        if *c == '#' && i > 0 && chars[i - 1] == ' ' {
            return false;
        }
        if *c == '\t' {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::to_string;

    #[test]
    fn writes_as_helm_does() {
        let value = json!({
            "name": "web",
            "version": 2,
            "info": {
                "deleted": "",
                "first_deployed": "2026-12-04T20:01:22.396581189Z",
                "notes": "line one\nline two\n",
            },
            "config": {"enabled": "true", "port": "8080", "host": "a: b", "empty": {}},
            "hooks": [{"events": ["post-install"], "manifest": "kind: Job\nspec: {}"}],
            "nothing": null,
            "long": "word ".repeat(20).trim_end(),
        });
        assert_eq!(
            to_string(&value),
            "config:\n  empty: {}\n  enabled: \"true\"\n  host: 'a: b'\n  port: \"8080\"\n\
             hooks:\n- events:\n  - post-install\n  manifest: |-\n    kind: Job\n    spec: {}\n\
             info:\n  deleted: \"\"\n  first_deployed: \"2026-12-04T20:01:22.396581189Z\"\n  \
             notes: |\n    line one\n    line two\n\
             long: word word word word word word word word word word word word word word word \
             word\n  word word word word\n\
             name: web\nnothing: null\nversion: 2\n"
        );
    }
}
