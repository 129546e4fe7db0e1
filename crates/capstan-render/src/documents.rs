//! What one rendered document is ([`read_document`]): the fields a manifest or hook needs, or
//! why it is refused; remembered by the document's text, so a renderer serving the same
//! chart again does not read the same documents again.
//!
//! The reading is a pure function of the text (errors carry lines relative to the document;
//! the caller adds where it starts), so a remembered answer is exactly a fresh one. The memory
//! is bounded ([`MEMO_BYTES`] of document text; it is emptied when full).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_yaml_ng::Value as Y;

use crate::manifest::{HookDeletePolicy, HookEvent};

/// Most bytes of document text remembered.
pub(crate) const MEMO_BYTES: usize = 16 << 20;

/// Documents larger than this are read every time (they would crowd out the rest).
const MEMO_DOCUMENT_BYTES: usize = 1 << 20;

/// A document's hook annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HookHead {
    pub events: Vec<HookEvent>,
    pub weight: i32,
    pub delete_policies: Vec<HookDeletePolicy>,
}

/// The fields of a document a manifest or hook needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DocHead {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    /// Set when the document has a `helm.sh/hook` annotation.
    pub hook: Option<HookHead>,
}

/// Why a document is refused; lines are 1-based within the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DocError {
    /// Flow collections nest too deeply at this line.
    Nesting(usize),
    /// The YAML does not parse: where (line, column) when known, and the parser's message.
    Yaml {
        at: Option<(usize, usize)>,
        message: String,
    },
    NotMap,
    MissingApiVersion,
    MissingKind,
    /// `metadata.name` is missing from an object of this kind.
    MissingName(String),
}

type Answer = Result<Option<DocHead>, DocError>;

struct Memo {
    entries: HashMap<u64, Vec<(Arc<str>, Answer)>>,
    bytes: usize,
}

static MEMO: Mutex<Option<Memo>> = Mutex::new(None);

fn hash_of(text: &str) -> u64 {
    // A checksum is enough to find the bucket (the texts in it are compared), and is read at
    // several bytes a cycle where SipHash takes about one.
    u64::from(crc32fast::hash(text.as_bytes()))
}

/// What the document `text` is (`Ok(None)`: a null document, skipped as Helm skips it).
pub(crate) fn read_document(text: &str) -> Answer {
    if text.len() > MEMO_DOCUMENT_BYTES {
        return read_fresh(text);
    }
    let hash = hash_of(text);
    {
        let memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
        let hit = memo
            .as_ref()
            .and_then(|m| m.entries.get(&hash))
            .and_then(|bucket| bucket.iter().find(|(t, _)| **t == *text))
            .map(|(_, answer)| answer.clone());
        if let Some(answer) = hit {
            return answer;
        }
    }
    let answer = read_fresh(text);
    let mut memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
    let memo = memo.get_or_insert_with(|| Memo {
        entries: HashMap::new(),
        bytes: 0,
    });
    if memo.bytes + text.len() > MEMO_BYTES {
        memo.entries.clear();
        memo.bytes = 0;
    }
    let bucket = memo.entries.entry(hash).or_default();
    if !bucket.iter().any(|(t, _)| **t == *text) {
        bucket.push((Arc::from(text), answer.clone()));
        memo.bytes += text.len();
    }
    answer
}

fn get_str<'a>(v: &'a Y, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

/// Reads `text` (see [`read_document`]) without the memory.
pub(crate) fn read_fresh(text: &str) -> Answer {
    match read_block(text) {
        Some(answer) => answer,
        None => read_fresh_whole(text),
    }
}

/// [`read_fresh`] by the whole YAML reading.
fn read_fresh_whole(text: &str) -> Answer {
    if let Err(line) = capstan_chart::check_yaml_nesting(text) {
        return Err(DocError::Nesting(line));
    }
    let value = crate::head::read(text).map_err(|e| {
        let msg = e.to_string();
        DocError::Yaml {
            at: e.location().map(|l| (l.line(), l.column())),
            message: msg.split(" at line ").next().unwrap_or(&msg).to_string(),
        }
    })?;
    if value.is_null() {
        return Ok(None);
    }
    if !value.is_mapping() {
        return Err(DocError::NotMap);
    }
    let api_version = get_str(&value, &["apiVersion"])
        .filter(|s| !s.is_empty())
        .ok_or(DocError::MissingApiVersion)?;
    let kind = get_str(&value, &["kind"])
        .filter(|s| !s.is_empty())
        .ok_or(DocError::MissingKind)?;
    let name = get_str(&value, &["metadata", "name"])
        .filter(|s| !s.is_empty())
        .ok_or_else(|| DocError::MissingName(kind.to_string()))?;
    let annotation = |key: &str| get_str(&value, &["metadata", "annotations", key]);
    Ok(Some(doc_head(
        api_version,
        kind,
        name,
        get_str(&value, &["metadata", "namespace"]),
        annotation("helm.sh/hook"),
        annotation("helm.sh/hook-weight"),
        annotation("helm.sh/hook-delete-policy"),
    )))
}

/// A document's head from its fields as read; the hook's from its three annotations.
fn doc_head(
    api_version: &str,
    kind: &str,
    name: &str,
    namespace: Option<&str>,
    hook: Option<&str>,
    weight: Option<&str>,
    policies: Option<&str>,
) -> DocHead {
    let hook = hook.map(|events| HookHead {
        events: events.split(',').filter_map(HookEvent::parse).collect(),
        weight: weight.and_then(|w| w.trim().parse().ok()).unwrap_or(0),
        delete_policies: policies
            .map(|p| p.split(',').filter_map(HookDeletePolicy::parse).collect())
            .unwrap_or_default(),
    });
    DocHead {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        name: name.to_string(),
        namespace: namespace.map(str::to_string),
        hook,
    }
}

/// [`read_fresh`] of a block-style document ([`capstan_chart::blockyaml`]), `None` when that
/// reader cannot say or a field the answer needs is a plain scalar that YAML might not read as
/// a string: the whole reading then decides.
fn read_block(text: &str) -> Option<Answer> {
    use capstan_chart::blockyaml::Node;
    let Node::Map(root) = capstan_chart::blockyaml::parse_quoted_keys(text)? else {
        return None;
    };
    let metadata = match field(&root, "metadata") {
        Some(Node::Map(m)) => m.as_slice(),
        _ => &[],
    };
    let annotations = match field(metadata, "annotations") {
        Some(Node::Map(m)) => m.as_slice(),
        _ => &[],
    };
    let api_version = string(field(&root, "apiVersion"))?;
    let kind = string(field(&root, "kind"))?;
    let name = string(field(metadata, "name"))?;
    let namespace = string(field(metadata, "namespace"))?;
    let hook = string(field(annotations, "helm.sh/hook"))?;
    let weight = string(field(annotations, "helm.sh/hook-weight"))?;
    let policies = string(field(annotations, "helm.sh/hook-delete-policy"))?;
    // libyaml reads a literal block scalar that ends the text without a line break without
    // the break the block reader gives it (`name: |` then `  x` at the end: "x", not "x\n").
    // Only such a scalar's value differs, so the answer stands unless one of the fields it is
    // made of could be that scalar: one ending in a line break (or empty, to be sure).
    if !text.ends_with('\n') && text.contains('|') {
        let fields = [api_version, kind, name, namespace, hook, weight, policies];
        if fields
            .iter()
            .flatten()
            .any(|s| s.is_empty() || s.ends_with('\n'))
        {
            return None;
        }
    }
    let answer = (|| {
        let api_version = api_version
            .filter(|s| !s.is_empty())
            .ok_or(DocError::MissingApiVersion)?;
        let kind = kind
            .filter(|s| !s.is_empty())
            .ok_or(DocError::MissingKind)?;
        let name = name
            .filter(|s| !s.is_empty())
            .ok_or_else(|| DocError::MissingName(kind.to_string()))?;
        Ok(Some(doc_head(
            api_version,
            kind,
            name,
            namespace,
            hook,
            weight,
            policies,
        )))
    })();
    Some(answer)
}

/// The value of `key` in a mapping read by the block reader.
fn field<'n, 'a>(
    pairs: &'n [(&'a str, capstan_chart::blockyaml::Node<'a>)],
    key: &str,
) -> Option<&'n capstan_chart::blockyaml::Node<'a>> {
    pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// A field's text when YAML reads it as a string (`Some(None)`: absent, or not a string);
/// `None` when a plain scalar might be read as something else (a number, a bool, null).
fn string<'a>(node: Option<&'a capstan_chart::blockyaml::Node<'_>>) -> Option<Option<&'a str>> {
    use capstan_chart::blockyaml::Node;
    match node {
        Some(Node::Scalar(s)) if !s.plain || surely_a_string(&s.text) => Some(Some(&s.text)),
        Some(Node::Scalar(_)) => None,
        Some(_) | None => Some(None),
    }
}

/// Whether every YAML schema reads the plain scalar `s` as a string: not empty, not starting
/// like a number or null, and none of the words for null and booleans.
fn surely_a_string(s: &str) -> bool {
    let Some(first) = s.bytes().next() else {
        return false;
    };
    if first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.' | b'~') {
        return false;
    }
    !matches!(
        s.to_ascii_lowercase().as_str(),
        "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_answers_are_fresh_answers() {
        let docs = [
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: memo-a\n",
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: memo-j\n  annotations:\n    helm.sh/hook: pre-install,post-upgrade\n    helm.sh/hook-weight: \" 5\"\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: memo\n  x: [1\n",
            "memo: 1\n",
            "~\n",
            "kind: MemoK\nmetadata: {}\napiVersion: v1\n",
        ];
        // The block reader's answers are the whole reading's.
        for text in [
            docs[0],
            docs[1],
            "# Source: x\napiVersion: v1\nkind: K\nmetadata:\n  name: web\n  namespace: ns # here\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: 'n'\n  annotations:\n    helm.sh/hook: test\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: \"\"\n",
            "apiVersion: v1\nmetadata:\n  name: web\n",
            "kind: K\nmetadata:\n  name: web\n",
            "apiVersion: v1\nkind: K\nmetadata: []\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name:\n  - x\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: web\nspec:\n  script: |\n    x\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: web\n  annotations:\n    \"helm.sh/hook\": test\n    'helm.sh/hook-weight': \"3\"\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: web\n  annotations:\n    {}\n",
            // A literal block ending the text without a line break, outside the fields.
            "apiVersion: v1\nkind: K\nmetadata:\n  name: web\ndata:\n  a: |\n    x",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: web\ndata:\n  a: |\n    x\n  b: c",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: |-\n    web\ndata:\n  a: |-\n    x|y",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: web\n  annotations:\n    helm.sh/hook: test\nspec:\n  expr: |\n    up{job=\"a\"} |\n    == 0",
        ] {
            assert_eq!(read_block(text), Some(read_fresh_whole(text)), "{text}");
        }
        // Plain scalars that might not be strings, and texts outside the subset, go whole.
        for text in [
            "apiVersion: v1\nkind: K\nmetadata:\n  name: 123\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: true\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name:\n",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: n\n  annotations:\n    helm.sh/hook-weight: -5\n",
            "apiVersion: v1\nkind: K\nmetadata: {name: n}\n",
            // A literal block ending the text without a line break, which libyaml reads
            // without it, that may be one of the fields.
            "apiVersion: v1\nkind: K\nmetadata:\n  name: |\n    x",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: web\n  namespace: |+\n    x",
            "apiVersion: v1\nkind: K\nmetadata:\n  name: web\n  annotations:\n    helm.sh/hook: |\n      test",
            "~\n",
            "- a\n",
        ] {
            assert_eq!(read_block(text), None, "{text}");
        }
        for text in docs {
            let fresh = read_fresh(text);
            assert_eq!(read_document(text), fresh, "{text}");
            assert_eq!(read_document(text), fresh, "{text} (remembered)");
        }
        assert_eq!(
            read_document(docs[1])
                .unwrap()
                .unwrap()
                .hook
                .unwrap()
                .weight,
            5
        );
        let big = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: memo-big\ndata:\n  x: \"{}\"\n",
            "y".repeat(MEMO_DOCUMENT_BYTES)
        );
        assert_eq!(read_document(&big), read_fresh(&big));
    }
}
