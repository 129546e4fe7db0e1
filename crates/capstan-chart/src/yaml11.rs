//! Values YAML read as Helm reads it: go-yaml v2 (through `sigs.k8s.io/yaml`) resolves plain
//! scalars by YAML 1.1, so `yes`, `on` and `off` are booleans, `017` is octal and a number too
//! large for an integer is a float; quoted scalars and `!!str` stay strings; `<<` merges.
//!
//! This reading comes first and gives up (`None`) on anything it does not handle or cannot
//! read (a syntax error, nesting deeper than the strict parser takes, a merge of a scalar);
//! the strict parser then reads the text and words the error.

use std::collections::HashMap;
use std::rc::Rc;

use libyaml_safer::{EventData, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};

/// A node of the document, aliases shared.
enum Node {
    Scalar {
        value: String,
        tag: Option<String>,
        plain: bool,
    },
    Seq(Vec<Rc<Node>>),
    Map(Vec<(Rc<Node>, Rc<Node>)>),
}

/// Most nodes a document may expand to through aliases before this reading gives up.
const MAX_NODES: usize = 1_000_000;

/// Deepest nesting of collections this reading takes (the strict parser's own bound, so a
/// deeper document gets its error).
const MAX_DEPTH: usize = 128;

/// The first document of `text` as JSON data, with go-yaml v2's resolution; `None` when it
/// cannot say.
pub(crate) fn read(text: &str) -> Option<Value> {
    let root = std::panic::catch_unwind(|| compose(text)).ok()??;
    let mut budget = MAX_NODES;
    match root {
        Some(node) => decode(&node, &mut budget),
        None => Some(Value::Null),
    }
}

/// The first document's tree. libyaml wants a line break at the end: one is added, and taken
/// off again from a block scalar that ends the text.
fn compose(text: &str) -> Option<Option<Rc<Node>>> {
    let padded;
    let (input_text, eof) = if text.ends_with(['\n', '\r']) {
        (text, None)
    } else {
        padded = format!("{text}\n");
        (padded.as_str(), Some(text.len()))
    };
    let mut input = input_text.as_bytes();
    let mut parser = Parser::new();
    parser.set_input_string(&mut input);
    let mut anchors: HashMap<String, Rc<Node>> = HashMap::new();
    let mut stack: Vec<(Option<String>, Vec<Rc<Node>>, bool)> = Vec::new();
    loop {
        let event = parser.parse().ok()?;
        let at_eof = eof.is_some_and(|len| event.end_mark.index as usize >= len);
        let (node, anchor) = match event.data {
            EventData::StreamStart { .. } | EventData::DocumentStart { .. } => continue,
            EventData::StreamEnd | EventData::DocumentEnd { .. } => return Some(None),
            EventData::Alias { anchor } => (anchors.get(&anchor)?.clone(), None),
            EventData::Scalar {
                anchor,
                tag,
                mut value,
                style,
                ..
            } => {
                let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                if block && at_eof && value.ends_with('\n') {
                    value.pop();
                }
                let plain = style == ScalarStyle::Plain;
                (Rc::new(Node::Scalar { value, tag, plain }), anchor)
            }
            EventData::SequenceStart { anchor, .. } => {
                if stack.len() >= MAX_DEPTH {
                    return None;
                }
                stack.push((anchor, Vec::new(), false));
                continue;
            }
            EventData::MappingStart { anchor, .. } => {
                if stack.len() >= MAX_DEPTH {
                    return None;
                }
                stack.push((anchor, Vec::new(), true));
                continue;
            }
            EventData::SequenceEnd | EventData::MappingEnd => {
                let (anchor, items, is_map) = stack.pop()?;
                let node = if is_map {
                    let mut pairs = Vec::new();
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Node::Map(pairs)
                } else {
                    Node::Seq(items)
                };
                (Rc::new(node), anchor)
            }
        };
        if let Some(a) = anchor {
            anchors.insert(a, node.clone());
        }
        match stack.last_mut() {
            Some((_, items, _)) => items.push(node),
            None => return Some(Some(node)),
        }
    }
}

const STR: &str = "tag:yaml.org,2002:str";

/// A document read by [`crate::blockyaml`] (no tags, anchors or merge keys there), resolved as
/// [`read`] resolves it: the same value `read` gives for the same text. `None` for a document
/// ending in a literal block scalar without a final line break, which libyaml reads apart.
pub(crate) fn from_block(text: &str) -> Option<Value> {
    if !text.ends_with('\n') && text.contains('|') {
        return None;
    }
    crate::blockyaml::parse(text).map(|root| block_value(&root))
}

fn block_value(node: &crate::blockyaml::Node<'_>) -> Value {
    use crate::blockyaml::Node as B;
    match node {
        B::Scalar(s) => scalar(&s.text, None, s.plain),
        B::Seq(items) => Value::Array(items.iter().map(block_value).collect()),
        B::Map(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (key_text(scalar(k, None, true)), block_value(v)))
                .collect(),
        ),
    }
}

/// A scalar key's value as the JSON key Helm's reading makes of it; `None` for a collection.
fn key_string(key: Value) -> Option<String> {
    match key {
        Value::String(s) => Some(s),
        Value::Null => Some("null".to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// [`key_string`] of a scalar key (never a collection).
fn key_text(key: Value) -> String {
    key_string(key).unwrap_or_default()
}

fn decode(node: &Node, budget: &mut usize) -> Option<Value> {
    *budget = budget.checked_sub(1)?;
    Some(match node {
        Node::Scalar { value, tag, plain } => scalar(value, tag.as_deref(), *plain),
        Node::Seq(items) => Value::Array(
            items
                .iter()
                .map(|n| decode(n, budget))
                .collect::<Option<_>>()?,
        ),
        Node::Map(pairs) => {
            let mut out = Map::new();
            merge_into(&mut out, pairs, budget)?;
            Value::Object(out)
        }
    })
}

/// The entries of a mapping in order, later ones replacing earlier ones; `<<` merges a
/// mapping (or a list of them, earlier ones first in precedence) at its place.
fn merge_into(
    out: &mut Map<String, Value>,
    pairs: &[(Rc<Node>, Rc<Node>)],
    budget: &mut usize,
) -> Option<()> {
    for (k, v) in pairs {
        if let Node::Scalar {
            value,
            tag: None,
            plain: true,
        } = k.as_ref()
            && value == "<<"
        {
            match v.as_ref() {
                Node::Map(inner) => merge_into(out, inner, budget)?,
                Node::Seq(maps) => {
                    for m in maps.iter().rev() {
                        let Node::Map(inner) = m.as_ref() else {
                            return None;
                        };
                        merge_into(out, inner, budget)?;
                    }
                }
                Node::Scalar { .. } => return None,
            }
            continue;
        }
        let key = key_string(decode(k, budget)?)?;
        let value = decode(v, budget)?;
        out.insert(key, value);
    }
    Some(())
}

/// A scalar's value: quoted and `!!str` ones are strings, plain ones (and other tags) are
/// resolved as go-yaml v2 resolves them.
fn scalar(value: &str, tag: Option<&str>, plain: bool) -> Value {
    let text = || Value::String(value.to_string());
    match tag {
        Some(STR) | Some("!") => return text(),
        None if !plain => return text(),
        _ => {}
    }
    match value {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => return text(),
        _ => {}
    }
    let first = value.as_bytes()[0];
    if first == b'.' {
        return float_value(value).unwrap_or_else(text);
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return text();
    }
    let plain_digits: String = value.chars().filter(|c| *c != '_').collect();
    if let Some(v) = go_int(&plain_digits) {
        return v;
    }
    float_value(&plain_digits).unwrap_or_else(text)
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint`: a sign, then `0x`, `0o`, `0b`, a
/// leading `0` (octal) or decimal digits.
fn go_int(s: &str) -> Option<Value> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) =
        if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, h)
        } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, o)
        } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, b)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        let v = 0i64.checked_sub_unsigned(magnitude)?;
        Some(Value::from(v))
    } else if let Ok(v) = i64::try_from(magnitude) {
        Some(Value::from(v))
    } else if s.starts_with('+') {
        // ParseUint takes no sign.
        None
    } else {
        Some(Value::from(magnitude))
    }
}

/// go-yaml's float syntax, `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, as a
/// float (a huge one is not finite: left to the strict reading's text).
fn float_value(s: &str) -> Option<Value> {
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
            return None;
        }
    } else {
        if !digits(&mut i) {
            return None;
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
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_1_1_resolution() {
        let v = read(
            "a: yes\nb: 'yes'\nc: 017\nd: 0x1F\ne: 100000000000000000000\nf: 1.5\ng: on\n\
             h: ~\ni: 1_000\nj: !!str 12\nk: y\nl: [n, off, \"y\"]\nm: 08\nnn: 1.27.0\n\
             base: &b {x: 1, z: 2}\nmerged:\n  <<: *b\n  z: 3\nyes: key\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"a": true, "b": "yes", "c": 15, "d": 31, "e": 1e20, "f": 1.5, "g": true,
                   "h": null, "i": 1000, "j": "12", "k": true, "l": [false, false, "y"],
                   "m": 8.0, "nn": "1.27.0", "base": {"x": 1, "z": 2},
                   "merged": {"x": 1, "z": 3}, "true": "key"})
        );
        assert_eq!(read("a: |\n  x").unwrap(), json!({"a": "x"}));
        assert_eq!(from_block("a: |\n  x"), None);
    }

    #[test]
    fn the_block_subset_reads_as_the_whole_reading() {
        for text in [
            "a: yes\nb: 'yes'\nc: 017\nd: 0x1F\ne: 100000000000000000000\nf: 1.5\ng: on\n",
            "h: ~\ni: 1_000\nk: y\nl:\n- n\n- off\n- \"y\"\nm: 08\nnn: 1.27.0\nyes: key\n1: one\n",
            "# comment\nimage:\n  tag: \"\"\n  pullPolicy: IfNotPresent # why\nargs: []\nannotations: {}\n",
            "script: |\n  #!/bin/sh\n  echo hi\nfolded: plain words\n  continued here\nneg: -1\nexp: 1e3\n",
            "nan: .nan\ninf: -.inf\nempty:\nnull: null\nNULL: 1\n",
        ] {
            assert_eq!(from_block(text), read(text), "{text}");
        }
        assert_eq!(read("").unwrap(), Value::Null);
    }
}
