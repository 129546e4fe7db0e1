//! The fast path of index parsing: a [`blockyaml`](capstan_chart::blockyaml) tree into an [`IndexFile`], exactly as serde_yaml_ng would deserialize it.
//!
//! Every value is converted as serde_yaml_ng converts it into the field's type: strings take
//! a scalar's text whatever its style; the `scalar` fields (`appVersion`, `created`, `version`,
//! `generated`) and the JSON-valued fields resolve plain scalars (null, booleans, integers);
//! booleans accept only YAML's plain `true`/`false` spellings. Where the conversion is not
//! sure to agree (floats, other integer forms, nulls where a list or map is expected, a
//! mapping where a string is expected, which serde_yaml_ng rejects), it returns `None` and the
//! caller falls back to serde_yaml_ng, which gives the answer (or the error).

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::index::{ChartVersion, IndexFile};
use capstan_chart::blockyaml::{Node, Scalar};

/// Documents at least this large are read in two parts on two threads.
const SPLIT_BYTES: usize = 1 << 20;

/// `bytes` as an index, when they are in the block subset and convert without doubt. The
/// charts under `entries` are converted one by one as they are read; a large index is cut in
/// two just before a chart near its middle and the parts are read on two threads.
pub(crate) fn parse(bytes: &[u8]) -> Option<IndexFile> {
    parse_with(bytes, SPLIT_BYTES, versions_of).map(Parsed::into_index)
}

/// The index's root fields and, for each chart, whether it has a valid version (see
/// [`ChartVersion::is_valid_entry`]): what [`parse`] would accept, without keeping the
/// versions (every one is still converted, and dropped).
pub(crate) fn chart_validity(bytes: &[u8]) -> Option<(IndexFile, BTreeMap<String, bool>)> {
    let parsed = parse_with(bytes, SPLIT_BYTES, |node| {
        let versions = versions_of(node)?;
        Some(versions.iter().any(ChartVersion::is_valid_entry))
    })?;
    Some((parsed.index, parsed.charts))
}

/// A document read: its root fields (`entries` left empty) and each chart's `T`.
struct Parsed<T> {
    index: IndexFile,
    charts: BTreeMap<String, T>,
}

impl Parsed<Vec<ChartVersion>> {
    fn into_index(self) -> IndexFile {
        IndexFile {
            entries: self.charts,
            ..self.index
        }
    }
}

/// [`parse`], cutting documents of at least `split_bytes`, with `chart` reading each chart's
/// versions.
fn parse_with<T: Send>(
    bytes: &[u8],
    split_bytes: usize,
    chart: fn(Node<'_>) -> Option<T>,
) -> Option<Parsed<T>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let Some((cut, column)) = split_point(text, split_bytes) else {
        return parse_part(text, None, chart)?.finish(chart);
    };
    let (first, second) = text.split_at(cut);
    let (first, second) = std::thread::scope(|scope| {
        let second = scope.spawn(|| parse_part(second, Some(column), chart));
        let first = parse_part(first, None, chart);
        (first, second.join().ok().flatten())
    });
    let (mut first, second) = (first?, second?);
    if second.flat_entries.is_some()
        || first
            .root_keys
            .iter()
            .any(|k| *k != "entries" && second.root_keys.contains(k))
    {
        return None;
    }
    for (name, versions) in second.charts {
        if first.charts.insert(name, versions).is_some() {
            return None;
        }
    }
    let (index, other) = (&mut first.index, second.index);
    for key in second.root_keys {
        match key {
            "annotations" => index.annotations = other.annotations.clone(),
            "apiVersion" => index.api_version = other.api_version.clone(),
            "generated" => index.generated = other.generated.clone(),
            "serverInfo" => index.server_info = other.server_info.clone(),
            _ => {}
        }
    }
    first.finish(chart)
}

/// Where to cut a large document in two: the start of a line, past the middle, that is a key
/// of the `entries` mapping (at its column, not a sequence item or a comment), with no
/// root-level line between `entries:` and it; and that column.
fn split_point(text: &str, split_bytes: usize) -> Option<(usize, usize)> {
    if text.len() < split_bytes {
        return None;
    }
    let bytes = text.as_bytes();
    let entries = if text.starts_with("entries:") {
        0
    } else {
        text.find("\nentries:")? + 1
    };
    let line_end = entries + text[entries..].find('\n')? + 1;
    if !text[entries + "entries:".len()..line_end].trim().is_empty() {
        return None;
    }
    let column = bytes[line_end..].iter().position(|&b| b != b' ')?;
    if column == 0 || matches!(bytes[line_end + column], b'-' | b'#' | b'\n') {
        return None;
    }
    let mut at = text.len() / 2;
    while at > line_end {
        let start = at + bytes[at..].iter().position(|&b| b == b'\n')? + 1;
        let line = &bytes[start..];
        if line.len() > column
            && line[..column].iter().all(|&b| b == b' ')
            && !matches!(line[column], b' ' | b'-' | b'#' | b'\n' | b'\t')
        {
            let root_line = bytes[line_end..start]
                .windows(2)
                .any(|w| w[0] == b'\n' && !matches!(w[1], b' ' | b'\n' | b'#'));
            return (!root_line).then_some((start, column));
        }
        at = start;
    }
    None
}

/// What one part of a document holds.
struct Part<'a, T> {
    index: IndexFile,
    charts: BTreeMap<String, T>,
    /// `entries` when it was not a block mapping handed over chart by chart.
    flat_entries: Option<Node<'a>>,
    root_keys: Vec<&'a str>,
}

impl<T> Part<'_, T> {
    fn finish(self, chart: fn(Node<'_>) -> Option<T>) -> Option<Parsed<T>> {
        let mut charts = self.charts;
        if let Some(value) = self.flat_entries {
            let Node::Map(pairs) = value else {
                return None;
            };
            for (name, versions) in pairs {
                charts.insert(name.to_owned(), chart(versions)?);
            }
        }
        Some(Parsed {
            index: self.index,
            charts,
        })
    }
}

/// A chart's versions.
fn versions_of(node: Node<'_>) -> Option<Vec<ChartVersion>> {
    let Node::Seq(versions) = node else {
        return None;
    };
    versions.into_iter().map(chart_version).collect()
}

/// Reads a document, or the second part of one (`inside`: the column of `entries`' keys).
fn parse_part<T>(
    text: &str,
    inside: Option<usize>,
    chart: fn(Node<'_>) -> Option<T>,
) -> Option<Part<'_, T>> {
    let mut index = IndexFile::default();
    let mut charts = BTreeMap::new();
    let mut flat_entries = None;
    let mut root_keys = Vec::new();
    capstan_chart::blockyaml::parse_streaming(
        text,
        "entries",
        inside,
        |key, value| {
            root_keys.push(key);
            match key {
                "annotations" => index.annotations = string_map(value)?,
                "apiVersion" => index.api_version = string(value)?,
                "entries" => flat_entries = Some(value),
                "generated" => index.generated = resolved_string(value)?,
                "serverInfo" => {
                    if is_null(&value) {
                        return None;
                    }
                    index.server_info = Some(json(value)?);
                }
                _ => {}
            }
            Some(())
        },
        |name, versions| {
            charts.insert(name.to_owned(), chart(versions)?);
            Some(())
        },
    )?;
    Some(Part {
        index,
        charts,
        flat_entries,
        root_keys,
    })
}

/// One chart version (a mapping; unknown keys are ignored, as serde does).
fn chart_version(node: Node<'_>) -> Option<ChartVersion> {
    let Node::Map(fields) = node else {
        return None;
    };
    let mut v = ChartVersion::default();
    for (key, value) in fields {
        match key {
            "annotations" => v.annotations = string_map(value)?,
            "apiVersion" => v.api_version = string(value)?,
            "appVersion" => v.app_version = resolved_string(value)?,
            "condition" => v.condition = string(value)?,
            "created" => v.created = resolved_string(value)?,
            "dependencies" => v.dependencies = list(value, json)?,
            "deprecated" => v.deprecated = boolean(value)?,
            "description" => v.description = string(value)?,
            "digest" => v.digest = string(value)?,
            "home" => v.home = string(value)?,
            "icon" => v.icon = string(value)?,
            "keywords" => v.keywords = list(value, string)?,
            "kubeVersion" => v.kube_version = string(value)?,
            "maintainers" => v.maintainers = list(value, json)?,
            "name" => v.name = string(value)?,
            "removed" => v.removed = boolean(value)?,
            "sources" => v.sources = list(value, string)?,
            "tags" => v.tags = string(value)?,
            "type" => v.chart_type = string(value)?,
            "urls" => v.urls = list(value, string)?,
            "version" => v.version = resolved_string(value)?,
            _ => {}
        }
    }
    Some(v)
}

/// A `String` field: any scalar's text.
fn string(node: Node<'_>) -> Option<String> {
    match node {
        Node::Scalar(s) => Some(s.text.into_owned()),
        _ => None,
    }
}

/// A sequence of `item`s (a null is left to serde_yaml_ng).
fn list<T>(node: Node<'_>, item: fn(Node<'_>) -> Option<T>) -> Option<Vec<T>> {
    match node {
        Node::Seq(items) => items.into_iter().map(item).collect(),
        _ => None,
    }
}

/// A map of strings.
fn string_map(node: Node<'_>) -> Option<BTreeMap<String, String>> {
    match node {
        Node::Map(pairs) => pairs
            .into_iter()
            .map(|(k, v)| Some((k.to_owned(), string(v)?)))
            .collect(),
        _ => None,
    }
}

/// A `bool` field: a plain `true` or `false` in one of YAML's three spellings.
fn boolean(node: Node<'_>) -> Option<bool> {
    match node {
        Node::Scalar(Scalar { text, plain: true }) => plain_bool(&text),
        _ => None,
    }
}

fn plain_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn plain_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn is_null(node: &Node<'_>) -> bool {
    matches!(node, Node::Scalar(Scalar { text, plain: true }) if plain_null(text))
}

/// What a plain scalar resolves to, as far as this path is sure of it.
enum Resolved<'a> {
    Null,
    Bool(bool),
    /// A decimal integer written as serde_yaml_ng would print it back.
    Int(u64),
    Str(Cow<'a, str>),
}

/// Resolves a plain scalar as serde_yaml_ng does; `None` for the number forms this path does
/// not reproduce (signs, floats, hex/octal/binary, leading zeros, integers past `u64`).
fn resolve(text: Cow<'_, str>) -> Option<Resolved<'_>> {
    if plain_null(&text) {
        return Some(Resolved::Null);
    }
    if let Some(b) = plain_bool(&text) {
        return Some(Resolved::Bool(b));
    }
    let bytes = text.as_bytes();
    if bytes.iter().all(u8::is_ascii_digit) && (bytes[0] != b'0' || bytes.len() == 1) {
        return text.parse().ok().map(Resolved::Int);
    }
    if maybe_number(&text) {
        return None;
    }
    Some(Resolved::Str(text))
}

/// Whether serde_yaml_ng might read `text` as a number: an integer in any of its forms
/// (`+1`, `-0x1f`, `0o17`...) or a float Rust's parser or YAML accepts (`1.5`, `1e5`, `.inf`,
/// `NaN`). Conservative (`0x` alone counts), which only costs the fast path; texts with two
/// dots, such as versions, are never numbers.
fn maybe_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if let Some(hex) = unsigned.strip_prefix("0x")
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return true;
    }
    let digits = ["0o", "0b"]
        .iter()
        .find_map(|p| unsigned.strip_prefix(p))
        .unwrap_or(unsigned);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let word = unsigned.trim_start_matches('.');
    word.eq_ignore_ascii_case("inf")
        || word.eq_ignore_ascii_case("nan")
        || unsigned.parse::<f64>().is_ok()
}

/// One of the `scalar` fields: a string, a number's or boolean's text, `""` for null.
fn resolved_string(node: Node<'_>) -> Option<String> {
    match node {
        Node::Scalar(Scalar { text, plain: false }) => Some(text.into_owned()),
        Node::Scalar(Scalar { text, plain: true }) => Some(match resolve(text)? {
            Resolved::Null => String::new(),
            Resolved::Bool(b) => b.to_string(),
            Resolved::Int(i) => i.to_string(),
            Resolved::Str(s) => s.into_owned(),
        }),
        _ => None,
    }
}

/// A JSON value, as `serde_json::Value`'s deserializer builds it from YAML.
fn json(node: Node<'_>) -> Option<serde_json::Value> {
    use serde_json::Value;
    Some(match node {
        Node::Scalar(Scalar { text, plain: false }) => Value::String(text.into_owned()),
        Node::Scalar(Scalar { text, plain: true }) => match resolve(text)? {
            Resolved::Null => Value::Null,
            Resolved::Bool(b) => Value::Bool(b),
            Resolved::Int(i) => Value::Number(i.into()),
            Resolved::Str(s) => Value::String(s.into_owned()),
        },
        Node::Seq(items) => Value::Array(items.into_iter().map(json).collect::<Option<_>>()?),
        Node::Map(pairs) => Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| Some((k.to_owned(), json(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    /// A small deterministic generator (xorshift64*), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
        /// A scalar text: mostly one of the first few (ordinary strings), sometimes any.
        fn text(&mut self) -> &'static str {
            if self.chance(97) {
                SCALARS[self.below(ORDINARY)]
            } else {
                SCALARS[self.below(SCALARS.len())]
            }
        }
    }

    /// Scalars as public indexes write them, plain or quoted, including texts YAML would read
    /// as other types and texts outside the fast path (which must fall back, not differ).
    const SCALARS: &[&str] = &[
        "nginx",
        "1.2.3",
        "v1.16.0-debian-11-r3",
        "2024-05-01T10:00:00.123456789Z",
        "https://example.com/a?b=c#d",
        "oci://registry.example.com/charts",
        "Apache-2.0",
        "a, b and [c]",
        "it's",
        "caf\u{e9} \u{1f680}",
        "1.0",
        "3",
        "0",
        "007",
        "-2",
        "+5",
        "0x1F",
        "0o17",
        "1e3",
        ".inf",
        "NaN",
        "true",
        "False",
        "null",
        "~",
        "-dash",
        "?q",
        ":colon",
        "a:b",
        "100%",
    ];

    /// How many of [`SCALARS`] are ordinary strings.
    const ORDINARY: usize = 10;

    /// `text` as a scalar value after `key: ` (or `- `), in one of YAML's styles; plain only
    /// when the text can be plain.
    fn scalar(rng: &mut Rng, text: &str, indent: usize) -> String {
        match rng.below(10) {
            0 | 1 => format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")),
            2 => format!("'{}'", text.replace('\'', "''")),
            3 => format!(
                "\"{}\"",
                text.replace('a', "\\x61").replace('\u{e9}', "\\u00e9")
            ),
            4 => format!("|-\n{}{}", " ".repeat(indent + 2), text),
            5 if rng.chance(30) => format!("{text} # a comment"),
            _ => text.to_string(),
        }
    }

    /// A long description, sometimes wrapped onto continuation lines as go-yaml does.
    fn description(rng: &mut Rng, indent: usize) -> String {
        let words = [
            "A",
            "Helm",
            "chart",
            "for",
            "Kubernetes",
            "that",
            "deploys",
            "the",
            "app",
        ];
        let mut text = String::new();
        for i in 0..rng.below(30) + 1 {
            if i > 0 {
                text.push(if rng.chance(10) { '\n' } else { ' ' });
            }
            text.push_str(rng.pick(&words));
        }
        match rng.below(4) {
            0 => format!("|\n{}", indented(&text, indent + 2)),
            1 => format!("\"{}\"", text.replace('\n', "\\n")),
            _ => text.replace('\n', &format!("\n{}", " ".repeat(indent + 2))),
        }
    }

    fn indented(text: &str, indent: usize) -> String {
        text.lines()
            .map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("{}{l}", " ".repeat(indent))
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A block sequence of scalars under a key at `indent`, indentless or indented.
    fn seq(rng: &mut Rng, items: &[String], indent: usize) -> String {
        let at = if rng.chance(50) { indent } else { indent + 2 };
        let mut out = String::new();
        for item in items {
            let _ = write!(out, "\n{}- {}", " ".repeat(at), scalar(rng, item, at));
        }
        out
    }

    fn generate(rng: &mut Rng, charts: usize) -> String {
        let mut out = String::from("apiVersion: v1\n");
        if rng.chance(20) {
            out.push_str("annotations:\n  owner: team\n");
            if rng.chance(20) {
                out.push_str("  \"quoted\": x\n");
            }
        }
        out.push_str("entries:\n");
        for c in 0..charts {
            let name = format!("chart-{c}{}", if rng.chance(10) { ".io" } else { "" });
            let _ = writeln!(out, "  {name}:");
            let dash = if rng.chance(70) { 2 } else { 4 };
            let versions = if rng.chance(5) { 0 } else { 1 + rng.below(3) };
            for _ in 0..versions {
                let d = " ".repeat(dash);
                let k = " ".repeat(dash + 2);
                let mut fields: Vec<String> = Vec::new();
                let field = |rng: &mut Rng, key: &str, value: String| {
                    if value.starts_with('\n') {
                        format!("{key}:{value}")
                    } else {
                        let _ = rng;
                        format!("{key}: {value}")
                    }
                };
                if rng.chance(60) {
                    let mut a = format!("annotations:\n{k}  category: {}", rng.text());
                    if rng.chance(40) {
                        let _ = write!(
                            a,
                            "\n{k}  artifacthub.io/changes: |\n{k}    - kind: added\n{k}      description: x\n\n{k}    - kind: fixed"
                        );
                    }
                    fields.push(a);
                }
                for key in ["apiVersion", "appVersion", "created", "version", "digest"] {
                    if rng.chance(80) {
                        let text = rng.text();
                        let value = scalar(rng, text, dash + 2);
                        fields.push(field(rng, key, value));
                    }
                }
                if rng.chance(90) {
                    fields.push(format!("name: {name}"));
                }
                if rng.chance(70) {
                    let text = description(rng, dash + 2);
                    fields.push(format!("description: {text}"));
                }
                if rng.chance(50) {
                    let items: Vec<String> =
                        (0..rng.below(4)).map(|_| rng.text().to_string()).collect();
                    let value = if items.is_empty() && rng.chance(30) {
                        " []".to_string()
                    } else {
                        seq(rng, &items, dash + 2)
                    };
                    fields.push(format!("keywords:{value}"));
                }
                if rng.chance(70) {
                    let urls = vec![format!("https://charts.example.com/{name}.tgz")];
                    let value = seq(rng, &urls, dash + 2);
                    fields.push(format!("urls:{value}"));
                }
                if rng.chance(40) {
                    let mut deps = String::from("dependencies:");
                    for _ in 0..rng.below(3) + 1 {
                        let _ = write!(
                            deps,
                            "\n{k}- name: {}\n{k}  repository: {}\n{k}  version: {}",
                            rng.text(),
                            rng.text(),
                            rng.text()
                        );
                        if rng.chance(50) {
                            let _ = write!(deps, "\n{k}  tags:\n{k}  - a\n{k}  - {}", rng.text());
                        }
                        if rng.chance(20) {
                            let _ = write!(
                                deps,
                                "\n{k}  import-values:\n{k}  - child: x\n{k}    parent: y"
                            );
                        }
                    }
                    fields.push(deps);
                }
                if rng.chance(40) {
                    fields.push(format!(
                        "maintainers:\n{k}- email: me@example.com\n{k}  name: {}\n{k}  url:",
                        rng.text()
                    ));
                }
                if rng.chance(15) {
                    let value = rng.pick(&["true", "false", "True", "yes", "\"true\""]);
                    fields.push(format!("deprecated: {value}"));
                }
                if rng.chance(10) {
                    fields.push(format!("type: {}", rng.pick(&["application", "library"])));
                }
                if rng.chance(5) {
                    fields.push(format!("x-unknown:\n{k}  nested:\n{k}  - 1"));
                }
                for (i, f) in fields.iter().enumerate() {
                    let lead = if i == 0 { format!("{d}- ") } else { k.clone() };
                    let _ = writeln!(out, "{lead}{f}");
                }
                if fields.is_empty() {
                    let _ = writeln!(out, "{d}- name: {name}");
                }
                if rng.chance(10) {
                    out.push_str("\n# a comment between versions\n");
                }
            }
            if rng.chance(3) {
                // Outside the subset: the document must fall back.
                let _ = writeln!(
                    out,
                    "{}",
                    rng.pick(&[
                        "  dup:\n  - name: a\n  dup:\n  - name: b",
                        "  flow:\n  - {name: a, version: 1.0.0}",
                        "  anchored:\n  - &a\n    name: a\n  - *a",
                        "  tagged:\n  - name: !!str a",
                    ])
                );
            }
        }
        let _ = writeln!(out, "generated: {}", rng.text());
        if rng.chance(10) {
            out.push_str("serverInfo:\n  contextPath: /v1/helm\n");
        }
        out
    }

    /// The fast path, when it answers, gives exactly what serde_yaml_ng gives; when
    /// serde_yaml_ng rejects a document, the fast path does not accept it.
    #[test]
    fn agrees_with_serde_yaml_ng_on_generated_indexes() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let (mut fast, mut fallback, mut rejected, mut split) = (0, 0, 0, 0);
        let mut with_names = 0;
        for round in 0..600 {
            let text = generate(&mut rng, 1 + round % 4);
            let full = serde_yaml_ng::from_str::<IndexFile>(&text);
            let whole =
                parse_with(text.as_bytes(), usize::MAX, versions_of).map(Parsed::into_index);
            let halves = parse_with(text.as_bytes(), 0, versions_of).map(Parsed::into_index);
            if split_point(&text, 0).is_some() {
                split += 1;
            }
            assert_eq!(
                whole, halves,
                "round {round}: read whole and in two parts:\n{text}"
            );
            let names = IndexFile::chart_names(text.as_bytes(), "i").map_err(|e| e.to_string());
            let keys = IndexFile::parse(text.as_bytes(), "i")
                .map(|i| i.entries.into_keys().collect::<Vec<_>>())
                .map_err(|e| e.to_string());
            assert_eq!(names, keys, "round {round}: chart names:\n{text}");
            if names.is_ok() {
                with_names += 1;
            }
            match (whole, full) {
                (Some(ours), Ok(theirs)) => {
                    assert_eq!(ours, theirs, "round {round}:\n{text}");
                    fast += 1;
                }
                (Some(ours), Err(e)) => {
                    panic!(
                        "round {round}: serde_yaml_ng rejects ({e}) but the fast path read {ours:?}:\n{text}"
                    )
                }
                (None, Ok(_)) => fallback += 1,
                (None, Err(_)) => rejected += 1,
            }
        }
        eprintln!(
            "fast {fast}, fallback {fallback}, rejected {rejected}, split {split}, names {with_names}"
        );
        assert!(with_names > 200, "names {with_names}");
        assert!(split > 300, "split {split}");
        assert!(
            fast > 150,
            "fast {fast}, fallback {fallback}, rejected {rejected}"
        );
        assert!(
            fallback > 50,
            "fast {fast}, fallback {fallback}, rejected {rejected}"
        );
    }

    /// An index as Helm writes it (the layout of `cargo xtask bench repos`) reads on the fast
    /// path, and the same as serde_yaml_ng reads it.
    #[test]
    fn reads_helm_written_indexes_fast() {
        let text = "apiVersion: v1\nentries:\n  chart-0001:\n  - annotations:\n      category: Infrastructure\n      licenses: Apache-2.0\n    apiVersion: v2\n    appVersion: 1.1.0\n    created: \"2024-05-02T10:00:00.123456789Z\"\n    dependencies:\n    - name: common\n      repository: oci://registry.example.com/charts\n      tags:\n      - common\n      version: 2.x.x\n    description: Chart number 1 deploys an application, with a description as long as\n      real ones are.\n    digest: 0f2a\n    home: https://example.com/chart-0001\n    icon: https://example.com/chart-0001.svg\n    keywords:\n    - chart-0001\n    - cache\n    maintainers:\n    - email: a@example.com\n      name: Example Maintainers\n      url: https://example.com\n    name: chart-0001\n    sources:\n    - https://github.com/example/charts/tree/main/chart-0001\n    urls:\n    - https://charts.example.com/chart-0001-0.1.0.tgz\n    version: 0.1.0\n  chart-0002:\n  - apiVersion: v1\n    appVersion: \"3\"\n    deprecated: true\n    name: chart-0002\n    urls:\n    - chart-0002-1.0.0.tgz\n    version: 1.0.0\ngenerated: \"2024-05-30T10:00:00Z\"\nserverInfo: {}\n";
        let theirs: IndexFile = serde_yaml_ng::from_str(text).unwrap();
        assert_eq!(
            parse(text.as_bytes()),
            Some(theirs),
            "an empty flow mapping reads on the fast path"
        );
        let flow = text.replace("serverInfo: {}\n", "serverInfo: {contextPath: /v1}\n");
        assert_eq!(parse(flow.as_bytes()), None, "a flow mapping falls back");
        let text = text.replace("serverInfo: {}\n", "serverInfo:\n  contextPath: /v1\n");
        let ours = parse(text.as_bytes()).expect("the fast path reads Helm's layout");
        let theirs: IndexFile = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(
            ours.entries["chart-0001"][0].dependencies[0]["tags"][0],
            "common"
        );
        assert!(ours.entries["chart-0002"][0].deprecated);
    }

    /// An index past [`SPLIT_BYTES`] (Helm's layout) is read in two parts, to the same index
    /// and chart names as serde_yaml_ng's.
    #[test]
    fn a_large_index_reads_in_two_parts() {
        let mut text = String::from("apiVersion: v1\nentries:\n");
        let mut c = 0;
        while text.len() < SPLIT_BYTES + 4096 {
            let _ = write!(
                text,
                "  chart-{c:04}:\n  - annotations:\n      category: Infrastructure\n    apiVersion: v2\n    appVersion: {c}.1.0\n    created: \"2024-05-01T10:00:00Z\"\n    dependencies:\n    - name: common\n      tags:\n      - common\n      version: 2.x.x\n    description: Chart number {c} deploys an application, with a description as long as\n      real ones are.\n    keywords:\n    - web\n    maintainers:\n    - name: Example\n    name: chart-{c:04}\n    urls:\n    - https://charts.example.com/chart-{c:04}-1.0.{}.tgz\n    version: 1.0.{}\n",
                c % 3,
                if c % 100 == 7 {
                    "x".to_string()
                } else {
                    (c % 3).to_string()
                },
            );
            c += 1;
        }
        text.push_str("generated: \"2024-05-30T10:00:00Z\"\n");
        assert!(split_point(&text, SPLIT_BYTES).is_some());
        let theirs: IndexFile = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(parse(text.as_bytes()).unwrap(), theirs);
        let names = IndexFile::chart_names(text.as_bytes(), "i").unwrap();
        let keys: Vec<String> = IndexFile::parse(text.as_bytes(), "i")
            .unwrap()
            .entries
            .into_keys()
            .collect();
        assert_eq!(names, keys);
        assert!(!names.contains(&"chart-0007".to_string()) && names.len() > 1000);
    }

    /// Read in two parts, duplicates across the cut still fall back, and root keys after
    /// `entries` still count.
    #[test]
    fn the_two_parts_join_as_one_document() {
        let chart = |name: &str| format!("  {name}:\n  - name: {name}\n    version: 1.0.0\n");
        let doc = |charts: &[&str], after: &str| {
            let body: String = charts.iter().map(|c| chart(c)).collect();
            format!("apiVersion: v1\ngenerated: x\nentries:\n{body}{after}")
        };
        let good = doc(
            &["a", "b", "c", "d", "e", "f"],
            "serverInfo:\n  contextPath: /x\n",
        );
        assert!(split_point(&good, 0).is_some());
        let ours = parse_with(good.as_bytes(), 0, versions_of)
            .map(Parsed::into_index)
            .unwrap();
        assert_eq!(ours, serde_yaml_ng::from_str::<IndexFile>(&good).unwrap());
        assert_eq!(ours.entries.len(), 6);
        assert_eq!(ours.server_info.unwrap()["contextPath"], "/x");
        for bad in [
            doc(&["a", "b", "c", "d", "e", "a"], ""),
            doc(&["a", "b", "c", "d", "e", "f"], "generated: again\n"),
            doc(&["a", "b", "c", "d", "e", "f"], "entries:\n  g: []\n"),
        ] {
            assert!(split_point(&bad, 0).is_some(), "{bad}");
            assert_eq!(
                parse_with(bad.as_bytes(), 0, versions_of).map(Parsed::into_index),
                None,
                "{bad}"
            );
            assert_eq!(
                parse_with(bad.as_bytes(), usize::MAX, versions_of).map(Parsed::into_index),
                None,
                "{bad}"
            );
        }
    }

    /// Indexes as serde_yaml_ng (and so `capstan repo index`) writes them read on the fast path.
    #[test]
    fn reads_what_capstan_writes() {
        let mut rng = Rng(7);
        for _ in 0..50 {
            let mut index = IndexFile::new();
            for c in 0..3 {
                let mut v = ChartVersion {
                    name: format!("c{c}"),
                    version: rng.pick(&["1.2.3", "0.1.0-rc.1"]).into(),
                    app_version: rng.text().into(),
                    description: format!("{}\nsecond line", rng.text()),
                    keywords: vec![rng.text().into(), rng.text().into()],
                    urls: vec![format!("c{c}.tgz")],
                    ..ChartVersion::default()
                };
                v.annotations.insert("k".into(), rng.text().into());
                v.dependencies
                    .push(serde_json::json!({"name": rng.text(), "tags": ["x"]}));
                index.add(v);
            }
            let text = index.to_yaml().unwrap();
            let theirs: IndexFile = serde_yaml_ng::from_str(&text).unwrap();
            if let Some(ours) = parse(text.as_bytes()) {
                assert_eq!(ours, theirs, "{text}");
            }
        }
    }

    #[test]
    fn resolves_scalars_as_serde_yaml_ng() {
        for (text, expected) in [
            ("version: 1.2.3", Some("1.2.3")),
            ("version: 3", Some("3")),
            ("version: '1.0'", Some("1.0")),
            ("version: ~", Some("")),
            ("version: TRUE", Some("true")),
            ("version: 1.0", None),
            ("version: 0x1F", None),
            ("version: 007", None),
            ("version: -1", None),
            ("version: .Inf", None),
        ] {
            let doc = format!("apiVersion: v1\nentries:\n  a:\n  - name: a\n    {text}\n");
            let ours = parse(doc.as_bytes());
            assert_eq!(
                ours.as_ref().map(|i| i.entries["a"][0].version.as_str()),
                expected,
                "{text}"
            );
            let theirs: IndexFile = serde_yaml_ng::from_str(&doc).unwrap();
            if let Some(ours) = ours {
                assert_eq!(ours, theirs);
            }
        }
    }
}
