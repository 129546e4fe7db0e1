//! `sigs.k8s.io/yaml.Unmarshal` as Helm's `fromYaml` uses it: goyaml.v2 reads the first
//! document (libyaml's parser, YAML 1.1 resolution, anchors and `<<` merges), keys become
//! strings, the data goes through `encoding/json` so every number is a float64.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use libyaml_safer::{ErrorKind, EventData, Parser, ScalarStyle};
use minijinja::Value;

use super::yaml_node::{Node, Resolved, resolve};
use crate::value::{float64, list, map, nil};

/// Helm's `fromYaml`: the document as a Go map; an `Error` key holding the message when it
/// does not parse or is not a map.
pub fn from_yaml_map(text: &str) -> Value {
    match parse(text) {
        Ok(v) if crate::value::as_map(&v).is_some() => v,
        Ok(v) if crate::value::is_nil(&v) => map(BTreeMap::new()),
        Ok(v) => super::error_map(unmarshal_type_error(&v, "map[string]interface {}")),
        Err(e) => super::error_map(e),
    }
}

/// Helm's `fromYamlArray`: the document as a Go slice; a one-element list holding the
/// message when it does not parse or is not a list.
pub fn from_yaml_list(text: &str) -> Value {
    match parse(text) {
        Ok(v) if crate::value::as_list(&v).is_some() => v,
        Ok(v) if crate::value::is_nil(&v) => list(vec![]),
        Ok(v) => list(vec![Value::from(unmarshal_type_error(
            &v,
            "[]interface {}",
        ))]),
        Err(e) => list(vec![Value::from(e)]),
    }
}

fn unmarshal_type_error(v: &Value, go_type: &str) -> String {
    format!(
        "error unmarshaling JSON: while decoding JSON: {}",
        super::json_parse::type_error(v, go_type)
    )
}

/// The first YAML document of `text` as Go data (maps, slices, float64, string, bool, nil),
/// or the error text `sigs.k8s.io/yaml.Unmarshal` gives.
pub fn parse(text: &str) -> Result<Value, String> {
    let node = compose(text).map_err(|e| format!("error converting YAML to JSON: yaml: {e}"))?;
    let Some(node) = node else {
        return Ok(nil());
    };
    let decoded = Decoder::default()
        .decode(&node)
        .map_err(|e| format!("error converting YAML to JSON: yaml: {e}"))?;
    to_go(&decoded).map_err(|e| format!("error converting YAML to JSON: {e}"))
}

/// A parsed node before goyaml.v2 decodes it.
#[derive(Debug, Clone)]
enum Raw {
    Scalar {
        value: String,
        tag: Option<String>,
        plain: bool,
    },
    Seq(Vec<Raw>),
    Map(Vec<(Raw, Raw)>),
    /// An alias: the anchored node, shared (not copied, so aliases cost nothing until
    /// decoded, where goyaml.v2's limit on aliasing applies).
    Alias(Rc<Raw>),
}

/// Builds the first document's node tree from libyaml's events.
///
/// libyaml-safer panics where a block scalar runs to the end of input without a line break
/// (C libyaml reads its terminating NUL there), so such text is read with a newline added,
/// and the newline that adds to a last clipped or kept block scalar is taken off again. If
/// that reading fails, the text is read as it is (for the error's exact position), with a
/// panic taken as the first reading's error.
fn compose(text: &str) -> Result<Option<Raw>, String> {
    // goyaml.v2 takes `\'` in a double-quoted scalar as `'`; libyaml does not. Such an
    // escape is rewritten as `\x27` (the same character, on the same line) and read again.
    let mut text = std::borrow::Cow::Borrowed(text);
    for _ in 0..1000 {
        match compose_padded(&text) {
            Err(e) if e.starts_with(ESCAPE_QUIRK) => {
                let at: usize = e[ESCAPE_QUIRK.len()..].parse().unwrap_or(0);
                let mut patched = text.into_owned();
                patched.replace_range(at..at + 2, "\\x27");
                text = std::borrow::Cow::Owned(patched);
            }
            other => return other,
        }
    }
    Err("found unknown escape character".into())
}

/// Marks an error that is goyaml.v2's accepted `\'` escape, followed by its byte index.
const ESCAPE_QUIRK: &str = "\u{0}escape:";

/// A libyaml error as goyaml.v2 words it, or [`ESCAPE_QUIRK`] for a `\'` escape.
fn parse_error(e: &libyaml_safer::Error, text: &str) -> String {
    if e.problem() == "found unknown escape character"
        && let Some(m) = e.problem_mark()
        && text.as_bytes().get(m.index as usize..m.index as usize + 2) == Some(b"\\'")
    {
        return format!("{ESCAPE_QUIRK}{}", m.index);
    }
    libyaml_error(e)
}

fn compose_padded(text: &str) -> Result<Option<Raw>, String> {
    if text.is_empty() || text.ends_with(['\n', '\r']) {
        return compose_events(if text.is_empty() { "\n" } else { text }, None);
    }
    let padded = format!("{text}\n");
    match compose_events(&padded, Some(text.len())) {
        Ok(raw) => Ok(raw),
        Err(padded_error) => {
            let original = text.to_string();
            std::panic::catch_unwind(move || compose_events(&original, None))
                .unwrap_or(Err(padded_error))
        }
    }
}

/// The first document of `text`; `eof` is the length of the text before a newline was
/// added to it.
fn compose_events(text: &str, eof: Option<usize>) -> Result<Option<Raw>, String> {
    let mut input = text.as_bytes();
    let mut parser = Parser::new();
    parser.set_input_string(&mut input);
    let mut anchors: HashMap<String, Rc<Raw>> = HashMap::new();
    // Stack of open collections: (anchor, items, is_map).
    let mut stack: Vec<(Option<String>, Vec<Raw>, bool)> = Vec::new();
    loop {
        let event = parser.parse().map_err(|e| parse_error(&e, text))?;
        let ends_at_eof = eof.is_some_and(|len| event.end_mark.index as usize >= len);
        let (node, anchor) = match event.data {
            EventData::StreamStart { .. } | EventData::DocumentStart { .. } => continue,
            EventData::StreamEnd => return Ok(None),
            EventData::DocumentEnd { .. } => return Ok(None),
            EventData::Alias { anchor } => match anchors.get(&anchor) {
                Some(n) => (Raw::Alias(n.clone()), None),
                None => return Err(format!("unknown anchor '{anchor}' referenced")),
            },
            EventData::Scalar {
                anchor,
                tag,
                mut value,
                style,
                ..
            } => (
                {
                    let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                    if block && ends_at_eof && value.ends_with('\n') {
                        value.pop();
                    }
                    Raw::Scalar {
                        value,
                        tag,
                        plain: style == ScalarStyle::Plain,
                    }
                },
                anchor,
            ),
            EventData::SequenceStart { anchor, .. } => {
                stack.push((anchor, Vec::new(), false));
                continue;
            }
            EventData::MappingStart { anchor, .. } => {
                stack.push((anchor, Vec::new(), true));
                continue;
            }
            EventData::SequenceEnd | EventData::MappingEnd => {
                let Some((anchor, items, is_map)) = stack.pop() else {
                    continue;
                };
                let node = if is_map {
                    let mut pairs = Vec::new();
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Raw::Map(pairs)
                } else {
                    Raw::Seq(items)
                };
                (node, anchor)
            }
        };
        if let Some(a) = anchor {
            anchors.insert(a, Rc::new(node.clone()));
        }
        match stack.last_mut() {
            Some((_, items, _)) => items.push(node),
            None => {
                // goyaml.v2 reads on to the document's end, so an error right after the
                // root node is still an error.
                loop {
                    let event = parser.parse().map_err(|e| parse_error(&e, text))?;
                    if matches!(
                        event.data,
                        EventData::DocumentEnd { .. } | EventData::StreamEnd
                    ) {
                        return Ok(Some(node));
                    }
                }
            }
        }
    }
}

/// goyaml.v2's message for a libyaml error: `line N: problem` (scanner lines one-based,
/// parser lines as libyaml counts them).
fn libyaml_error(e: &libyaml_safer::Error) -> String {
    let mut line = 0;
    if let Some(m) = e.problem_mark()
        && m.line != 0
    {
        line = m.line;
        if e.kind() == ErrorKind::Scanner {
            line += 1;
        }
    } else if let Some(m) = e.context_mark() {
        line = m.line;
    }
    let problem = e.problem();
    let problem = if problem.is_empty() {
        "unknown problem parsing YAML content"
    } else {
        problem
    };
    if line != 0 {
        format!("line {line}: {problem}")
    } else {
        problem.to_string()
    }
}

const TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// goyaml.v2's decoder state: node counts for its limit on aliasing.
struct Decoder {
    decode_count: usize,
    alias_count: usize,
    alias_depth: usize,
}

impl Default for Decoder {
    fn default() -> Decoder {
        // The document node counts as one.
        Decoder {
            decode_count: 1,
            alias_count: 0,
            alias_depth: 0,
        }
    }
}

/// goyaml.v2's allowed share of aliased nodes, by the number of nodes decoded.
fn allowed_alias_ratio(count: usize) -> f64 {
    const LOW: usize = 400_000;
    const HIGH: usize = 4_000_000;
    if count <= LOW {
        0.99
    } else if count >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((count - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

impl Decoder {
    fn decode(&mut self, raw: &Raw) -> Result<Node, String> {
        self.decode_count += 1;
        if self.alias_depth > 0 {
            self.alias_count += 1;
        }
        if self.alias_count > 100
            && self.decode_count > 1000
            && self.alias_count as f64 / self.decode_count as f64
                > allowed_alias_ratio(self.decode_count)
        {
            return Err("document contains excessive aliasing".into());
        }
        match raw {
            Raw::Alias(target) => {
                self.alias_depth += 1;
                let out = self.decode(target);
                self.alias_depth -= 1;
                out
            }
            Raw::Scalar { value, tag, plain } => scalar(value, tag.as_deref(), *plain),
            Raw::Seq(items) => Ok(Node::Seq(
                items
                    .iter()
                    .map(|x| self.decode(x))
                    .collect::<Result<_, _>>()?,
            )),
            Raw::Map(pairs) => {
                let mut out = Entries::default();
                for (k, v) in pairs {
                    if is_merge(k) {
                        self.merge(v, &mut out)?;
                        continue;
                    }
                    let key = self.decode(k)?;
                    if matches!(key, Node::Seq(_) | Node::Map(_)) {
                        return Err(format!("invalid map key: {}", go_syntax(&key, true)));
                    }
                    let val = self.decode(v)?;
                    out.insert(key, val);
                }
                Ok(Node::Map(out.entries))
            }
        }
    }

    fn merge(&mut self, v: &Raw, out: &mut Entries) -> Result<(), String> {
        let want_map = || "map merge requires map or sequence of maps as the value".to_string();
        match v {
            Raw::Map(_) => self.merge_map(v, out),
            Raw::Alias(target) if matches!(**target, Raw::Map(_)) => self.merge_map(v, out),
            Raw::Seq(items) => {
                for item in items.iter().rev() {
                    let is_map = match item {
                        Raw::Map(_) => true,
                        Raw::Alias(target) => matches!(**target, Raw::Map(_)),
                        _ => false,
                    };
                    if !is_map {
                        return Err(want_map());
                    }
                    self.merge_map(item, out)?;
                }
                Ok(())
            }
            _ => Err(want_map()),
        }
    }

    fn merge_map(&mut self, v: &Raw, out: &mut Entries) -> Result<(), String> {
        if let Node::Map(entries) = self.decode(v)? {
            for (k, x) in entries {
                out.insert(k, x);
            }
        }
        Ok(())
    }
}

/// A map's entries in insertion order, a later equal key replacing the value (Go map
/// assignment), found through an index rather than a scan.
#[derive(Default)]
struct Entries {
    entries: Vec<(Node, Node)>,
    index: HashMap<String, usize>,
}

impl Entries {
    fn insert(&mut self, key: Node, val: Node) {
        // Keys are scalars; their Debug form tells equal keys of one type apart exactly.
        let id = format!("{key:?}");
        match self.index.get(&id) {
            Some(&i) => self.entries[i].1 = val,
            None => {
                self.index.insert(id, self.entries.len());
                self.entries.push((key, val));
            }
        }
    }
}

fn is_merge(k: &Raw) -> bool {
    matches!(k, Raw::Scalar { value, tag, plain: true } if value == "<<" && tag.is_none())
        || matches!(k, Raw::Scalar { tag: Some(t), .. } if t == "tag:yaml.org,2002:merge")
}

/// Go's `base64.StdEncoding.DecodeString` (padding required; CR and LF skipped).
fn base64_std(text: &str) -> Option<Vec<u8>> {
    let mut sextets = Vec::new();
    let mut pad = 0;
    for b in text.bytes().filter(|&b| b != b'\r' && b != b'\n') {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                continue;
            }
            _ => return None,
        };
        if pad > 0 {
            return None;
        }
        sextets.push(v);
    }
    if (sextets.len() + pad) % 4 != 0 || pad > 2 {
        return None;
    }
    let mut out = Vec::new();
    for chunk in sextets.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &v)| acc | (u32::from(v) << (18 - 6 * i)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
        if chunk.len() == 1 {
            return None;
        }
    }
    Some(out)
}

/// A scalar as goyaml.v2 decodes it into `interface{}`.
fn scalar(value: &str, tag: Option<&str>, plain: bool) -> Result<Node, String> {
    if tag == Some("tag:yaml.org,2002:binary") {
        return match base64_std(value) {
            Some(bytes) => Ok(Node::Str(String::from_utf8_lossy(&bytes).into_owned())),
            None => Err("!!binary value contains invalid base64 data".into()),
        };
    }
    scalar_text(value, tag, plain)
}

fn scalar_text(value: &str, tag: Option<&str>, plain: bool) -> Result<Node, String> {
    let want = match tag {
        None | Some("!") if !plain => return Ok(Node::Str(value.to_string())),
        None => None,
        Some(t) => match t.strip_prefix(TAG_PREFIX) {
            Some(short @ ("null" | "bool" | "int" | "float" | "timestamp")) => Some(short),
            _ => return Ok(Node::Str(value.to_string())),
        },
    };
    // goyaml.v2 tries a timestamp only for untagged and !!timestamp scalars.
    let resolved = match want {
        Some(w) if w != "timestamp" && super::yaml_node::looks_like_timestamp(value) => {
            super::yaml_node::resolve_no_timestamp(value)
        }
        _ => resolve(value),
    };
    let Some(want) = want else {
        return Ok(match resolved {
            Resolved::Value(n) => n,
            _ => Node::Str(value.to_string()),
        });
    };
    let got = match &resolved {
        Resolved::Value(Node::Null) => "null",
        Resolved::Value(Node::Bool(_)) => "bool",
        Resolved::Value(Node::Int(_) | Node::Uint(_)) => "int",
        Resolved::Value(Node::Float(_)) => "float",
        Resolved::Timestamp => "timestamp",
        _ => "str",
    };
    match (resolved, want) {
        (Resolved::Value(Node::Int(i)), "float") => Ok(Node::Float(i as f64)),
        (Resolved::Value(n), _) if got == want => Ok(n),
        (Resolved::Timestamp, "timestamp") => Ok(Node::Str(value.to_string())),
        _ => Err(format!("cannot decode !!{got} `{value}` as a !!{want}")),
    }
}

/// The `encoding/json` round trip of `sigs.k8s.io/yaml`: keys to strings, numbers to
/// float64, NaN and infinities an error.
fn to_go(n: &Node) -> Result<Value, String> {
    Ok(match n {
        Node::Null => nil(),
        Node::Bool(b) => Value::from(*b),
        Node::Int(i) => float64(*i as f64),
        Node::Uint(u) => float64(*u as f64),
        Node::Float(f) => {
            if !f.is_finite() {
                return Err(format!(
                    "json: unsupported value: {}",
                    crate::fmt::format_float(*f, 'g', -1)
                ));
            }
            float64(*f)
        }
        Node::Str(s) => Value::from(s.as_str()),
        Node::Seq(items) => list(items.iter().map(to_go).collect::<Result<_, _>>()?),
        Node::Map(entries) => {
            let mut out = BTreeMap::new();
            for (k, v) in entries {
                out.insert(key_string(k, v)?, to_go(v)?);
            }
            map(out)
        }
    })
}

/// Go's `%+#v` of goyaml.v2's decoded data (`nil` inside a container is
/// `interface {}(nil)`).
fn go_syntax(n: &Node, top: bool) -> String {
    match n {
        Node::Null if top => "<nil>".into(),
        Node::Null => "interface {}(nil)".into(),
        Node::Bool(b) => b.to_string(),
        Node::Int(i) => i.to_string(),
        Node::Uint(u) => format!("0x{u:x}"),
        Node::Float(f) if f.is_nan() => "NaN".into(),
        Node::Float(f) if f.is_infinite() => (if *f > 0.0 { "+Inf" } else { "-Inf" }).into(),
        Node::Float(f) => super::float::format_shortest(*f, 'g'),
        Node::Str(s) => crate::fmt::go_quote(s),
        Node::Seq(items) => {
            let parts: Vec<String> = items.iter().map(|x| go_syntax(x, false)).collect();
            format!("[]interface {{}}{{{}}}", parts.join(", "))
        }
        Node::Map(entries) => {
            let mut entries = entries.clone();
            entries.sort_by(|a, b| super::yaml_node::key_cmp(&a.0, &b.0));
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{}", go_syntax(k, false), go_syntax(v, false)))
                .collect();
            format!("map[interface {{}}]interface {{}}{{{}}}", parts.join(", "))
        }
    }
}

/// `sigs.k8s.io/yaml`'s key conversion: strings, ints, bools, and floats at float32
/// precision; other keys are an error.
fn key_string(k: &Node, v: &Node) -> Result<String, String> {
    Ok(match k {
        Node::Str(s) => s.clone(),
        Node::Int(i) => i.to_string(),
        Node::Bool(b) => b.to_string(),
        Node::Float(f) if f.is_nan() => ".nan".into(),
        Node::Float(f) if f.is_infinite() => (if *f > 0.0 { ".inf" } else { "-.inf" }).into(),
        Node::Float(f) => format_float32(*f as f32),
        Node::Uint(u) => {
            return Err(format!(
                "unsupported map key of type: uint64, key: 0x{u:x}, value: {}",
                go_syntax(v, true)
            ));
        }
        _ => {
            return Err(format!(
                "unsupported map key of type: %!s(<nil>), key: <nil>, value: {}",
                go_syntax(v, true)
            ));
        }
    })
}

/// `strconv.FormatFloat(f, 'g', -1, 32)`.
fn format_float32(f: f32) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let rest = &digits[1..];
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{}{frac}e{esign}{:02}", &digits[..1], exp.abs())
    } else {
        let dp = exp + 1;
        let body = if dp <= 0 {
            format!("0.{}{digits}", "0".repeat((-dp) as usize))
        } else if dp as usize >= digits.len() {
            format!("{digits}{}", "0".repeat(dp as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..dp as usize], &digits[dp as usize..])
        };
        format!("{sign}{body}")
    }
}
