//! Rendered output: splitting templates into YAML documents, checking them, extracting hooks
//! and ordering manifests in Helm's install order.

use std::borrow::Cow;
use std::collections::BTreeMap;

use capstan_chart::{ChartMetadata, Values};

use crate::{Error, Result};

pub use capstan_chart::kinds::{INSTALL_ORDER, install_order_index};

/// When a hook runs (`helm.sh/hook`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HookEvent {
    /// `pre-install`
    PreInstall,
    /// `post-install`
    PostInstall,
    /// `pre-delete`
    PreDelete,
    /// `post-delete`
    PostDelete,
    /// `pre-upgrade`
    PreUpgrade,
    /// `post-upgrade`
    PostUpgrade,
    /// `pre-rollback`
    PreRollback,
    /// `post-rollback`
    PostRollback,
    /// `test` (also `test-success`)
    Test,
}

impl HookEvent {
    /// Helm's name of the event.
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreInstall => "pre-install",
            HookEvent::PostInstall => "post-install",
            HookEvent::PreDelete => "pre-delete",
            HookEvent::PostDelete => "post-delete",
            HookEvent::PreUpgrade => "pre-upgrade",
            HookEvent::PostUpgrade => "post-upgrade",
            HookEvent::PreRollback => "pre-rollback",
            HookEvent::PostRollback => "post-rollback",
            HookEvent::Test => "test",
        }
    }

    /// Parses Helm's name (case-insensitive); `None` for unknown events, which Helm ignores.
    pub fn parse(s: &str) -> Option<HookEvent> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "pre-install" => HookEvent::PreInstall,
            "post-install" => HookEvent::PostInstall,
            "pre-delete" => HookEvent::PreDelete,
            "post-delete" => HookEvent::PostDelete,
            "pre-upgrade" => HookEvent::PreUpgrade,
            "post-upgrade" => HookEvent::PostUpgrade,
            "pre-rollback" => HookEvent::PreRollback,
            "post-rollback" => HookEvent::PostRollback,
            "test" | "test-success" => HookEvent::Test,
            _ => return None,
        })
    }
}

/// When a hook's object is deleted (`helm.sh/hook-delete-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HookDeletePolicy {
    /// `before-hook-creation` (Helm's default when none is given, applied when hooks run)
    BeforeHookCreation,
    /// `hook-succeeded`
    HookSucceeded,
    /// `hook-failed`
    HookFailed,
}

impl HookDeletePolicy {
    /// Helm's name of the policy.
    pub fn as_str(self) -> &'static str {
        match self {
            HookDeletePolicy::BeforeHookCreation => "before-hook-creation",
            HookDeletePolicy::HookSucceeded => "hook-succeeded",
            HookDeletePolicy::HookFailed => "hook-failed",
        }
    }

    /// Parses Helm's name; `None` for unknown policies, which Helm ignores.
    pub fn parse(s: &str) -> Option<HookDeletePolicy> {
        Some(match s.trim() {
            "before-hook-creation" => HookDeletePolicy::BeforeHookCreation,
            "hook-succeeded" => HookDeletePolicy::HookSucceeded,
            "hook-failed" => HookDeletePolicy::HookFailed,
            _ => return None,
        })
    }
}

/// One rendered non-hook object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The template it came from, chart-relative: `webapp/templates/deployment.yaml`.
    /// A document that holds no object (comments only, or `~`) is a manifest too, as in Helm:
    /// one of empty `api_version`, `kind` and `name` ([`Manifest::is_object`]).
    pub source: String,
    /// 1-based index of the document within its template.
    pub index: usize,
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, when the template sets one.
    pub namespace: Option<String>,
    /// The document's text as rendered (trimmed), without `---` or the `# Source` line.
    pub content: String,
}

impl Manifest {
    /// Whether the document is an object (not comments only, or `~`).
    pub fn is_object(&self) -> bool {
        !self.kind.is_empty()
    }
}

/// One rendered hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// `metadata.name`.
    pub name: String,
    /// `kind`.
    pub kind: String,
    /// `apiVersion`.
    pub api_version: String,
    /// The template it came from (Helm's `path`).
    pub path: String,
    /// The document's text (Helm's `manifest`).
    pub manifest: String,
    /// Events it runs on, in annotation order.
    pub events: Vec<HookEvent>,
    /// `helm.sh/hook-weight` (0 when absent or not an integer, as in Helm).
    pub weight: i32,
    /// Delete policies as annotated (empty means Helm's default, before-hook-creation).
    pub delete_policies: Vec<HookDeletePolicy>,
}

/// The result of a render.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The top chart's `Chart.yaml`.
    pub chart: ChartMetadata,
    /// The merged values the top chart was rendered with (shared with the compiled chart,
    /// which keeps them for the next render with the same values).
    pub values: std::sync::Arc<Values>,
    /// Non-hook manifests in install order.
    pub manifests: Vec<Manifest>,
    /// Hooks in Helm's order: by kind in install order, then as rendered (they run by weight,
    /// then name).
    pub hooks: Vec<Hook>,
    /// The top chart's rendered `templates/NOTES.txt` (empty without one).
    pub notes: String,
    /// Rendered text of every non-partial template (NOTES excluded), by chart-relative path.
    pub files: BTreeMap<String, String>,
    /// CRD files from `crds/` of the chart and its enabled subcharts: (path, content), not
    /// templated, as Helm installs them before anything else.
    pub crds: Vec<(String, String)>,
    /// The `lookup` keys the templates asked that [`Capabilities::lookups`] did not answer
    /// (always empty without lookups): the caller reads them and renders again
    /// ([`crate::lookup`]).
    ///
    /// [`Capabilities::lookups`]: crate::Capabilities::lookups
    pub lookups_unanswered: Vec<crate::LookupKey>,
    /// In lint mode ([`crate::Capabilities::lint`]), what `required` and `fail` would have
    /// failed with, as Helm logs it (`Missing required value: ...`, `Fail: ...`).
    pub lint_messages: Vec<String>,
}

impl Rendered {
    /// Helm's manifest string: each non-hook document as
    /// `---\n# Source: <path>\n<content>\n`, in install order.
    pub fn manifest(&self) -> String {
        let size = self
            .manifests
            .iter()
            .map(|m| m.source.len() + m.content.len() + 16)
            .sum();
        let mut out = String::with_capacity(size);
        for m in &self.manifests {
            out.push_str("---\n# Source: ");
            out.push_str(&m.source);
            out.push('\n');
            out.push_str(&m.content);
            out.push('\n');
        }
        out
    }
}

/// Splits rendered text into `(first line number, text)` documents as Helm does: at every
/// `---` starting a line (Helm's separator is the regular expression `(?:^|\s*\n)---\s*`),
/// whatever follows on that line; what follows the marker begins the next document.
/// Documents are borrowed from `text` (only one with text after its marker is copied); the
/// separators are found by searching for `\n---`, not line by line.
pub(crate) fn split_documents(text: &str) -> Vec<(usize, Cow<'_, str>)> {
    fn document<'a>(rest: Option<&str>, body: &'a str) -> Cow<'a, str> {
        match rest {
            None => Cow::Borrowed(body),
            Some(rest) => Cow::Owned(format!("{rest}\n{body}")),
        }
    }
    let bytes = text.as_bytes();
    let separators = text
        .starts_with("---")
        .then_some(0)
        .into_iter()
        .chain(memchr::memmem::find_iter(bytes, b"\n---").map(|i| i + 1));
    let mut docs = Vec::new();
    let mut start = 1;
    // Where the current document's own lines begin, and what its marker line carried.
    let mut begin = 0;
    let mut rest = None;
    // Lines before `counted` (0-based line index of the byte at `counted`).
    let (mut counted, mut line) = (0, 0);
    for at in separators {
        line += memchr::memchr_iter(b'\n', &bytes[counted..at]).count();
        counted = at;
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(text.len(), |i| at + i + 1);
        docs.push((start, document(rest, &text[begin..at])));
        // `--- # comment`, `--- key: v` or `---key: v` keeps what follows the marker.
        let after = text[at..end].trim_end()[3..].trim_start();
        rest = (!after.is_empty()).then_some(after);
        start = if rest.is_some() { line + 1 } else { line + 2 };
        begin = end;
    }
    docs.push((start, document(rest, &text[begin..])));
    docs
}

/// Parses every document of one rendered template into manifests and hooks.
pub(crate) fn parse_template(
    source: &str,
    text: &str,
    manifests: &mut Vec<Manifest>,
    hooks: &mut Vec<Hook>,
) -> Result<()> {
    use crate::documents::{DocError, read_document};
    for (i, (start, doc)) in split_documents(text).into_iter().enumerate() {
        let index = i + 1;
        let err = |message: String| Error::Manifest {
            template: source.to_string(),
            index,
            message,
        };
        if doc.trim().is_empty() {
            continue;
        }
        let head = match read_document(&doc) {
            Ok(Some(head)) => head,
            Ok(None) => {
                // No object (comments only, or `~`): Helm keeps the document in the manifest
                // it prints and stores, of no kind (sorted with the unknown kinds, first);
                // whatever reads the manifest as objects skips it.
                manifests.push(Manifest {
                    source: source.to_string(),
                    index,
                    api_version: String::new(),
                    kind: String::new(),
                    name: String::new(),
                    namespace: None,
                    content: doc.trim().to_string(),
                });
                continue;
            }
            Err(DocError::Nesting(line)) => {
                return Err(err(format!(
                    "yaml does not parse (rendered line {}): flow collections nest deeper than {} levels",
                    start + line - 1,
                    capstan_chart::MAX_YAML_FLOW_DEPTH
                )));
            }
            Err(DocError::Yaml { at, message }) => {
                let at = at
                    .map(|(line, column)| {
                        format!(" (rendered line {}, column {column})", start + line - 1)
                    })
                    .unwrap_or_default();
                return Err(err(format!("yaml does not parse{at}: {message}")));
            }
            Err(DocError::NotMap) => {
                return Err(err("document is not a map (a Kubernetes object)".into()));
            }
            Err(DocError::MissingApiVersion) => return Err(err("missing apiVersion".into())),
            Err(DocError::MissingKind) => return Err(err("missing kind".into())),
            Err(DocError::MissingName(kind)) => {
                return Err(err(format!("{kind} is missing metadata.name")));
            }
        };
        let content = doc.trim().to_string();
        match &head.hook {
            Some(hook) => hooks.push(Hook {
                name: head.name.clone(),
                kind: head.kind.clone(),
                api_version: head.api_version.clone(),
                path: source.to_string(),
                manifest: content,
                events: hook.events.clone(),
                weight: hook.weight,
                delete_policies: hook.delete_policies.clone(),
            }),
            None => manifests.push(Manifest {
                source: source.to_string(),
                index,
                api_version: head.api_version.clone(),
                kind: head.kind.clone(),
                name: head.name.clone(),
                namespace: head.namespace.clone(),
                content,
            }),
        }
    }
    Ok(())
}

/// Splits one rendered template's text on `---` lines and parses each document into a
/// [`Manifest`] or a [`Hook`] (those with a `helm.sh/hook` annotation), in document order and
/// unsorted. `source` is the template's chart-relative path, used in errors and `# Source:` lines.
pub fn parse_manifests(source: &str, text: &str) -> Result<(Vec<Manifest>, Vec<Hook>)> {
    let (mut manifests, mut hooks) = (Vec::new(), Vec::new());
    parse_template(source, text, &mut manifests, &mut hooks)?;
    Ok((manifests, hooks))
}

/// Sorts manifests and hooks as Helm's `SortManifests` does: by kind in install order (unknown
/// kinds last, alphabetically), then as rendered (by source, then document index). The hooks'
/// order is the one Helm prints and stores; they run by weight, then name, ties in this order
/// (the applier sorts them so).
pub(crate) fn sort(manifests: &mut [Manifest], hooks: &mut [Hook]) {
    use capstan_chart::kinds::compare_install as kind_order;
    manifests.sort_by(|a, b| {
        kind_order(&a.kind, &b.kind)
            .then_with(|| a.source.cmp(&b.source))
            .then_with(|| a.index.cmp(&b.index))
    });
    // Stable: a template's hooks stay in document order.
    hooks.sort_by(|a, b| kind_order(&a.kind, &b.kind).then_with(|| a.path.cmp(&b.path)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_where_helm_splits() {
        let docs = split_documents("a: 1\n---\nb: 2\n--- # c\nc: 3\n---x: no\n");
        assert_eq!(docs.len(), 4);
        assert_eq!(docs[0], (1, Cow::Borrowed("a: 1\n")));
        assert_eq!(docs[1], (3, Cow::Borrowed("b: 2\n")));
        assert_eq!(docs[2], (4, Cow::Borrowed("# c\nc: 3\n")));
        assert_eq!(docs[3], (6, Cow::Borrowed("x: no\n")));
        let docs = split_documents("---\n--- a: 1\nb: 2");
        assert_eq!(
            docs,
            [(1, "".into()), (2, "".into()), (2, "a: 1\nb: 2".into())]
        );
    }

    /// The splitting as Helm's rule reads, line by line: the reference for `split_documents`.
    fn split_line_by_line(text: &str) -> Vec<(usize, String)> {
        let mut docs = Vec::new();
        let (mut current, mut start) = (String::new(), 1);
        for (i, line) in text.split_inclusive('\n').enumerate() {
            if line.starts_with("---") {
                docs.push((start, std::mem::take(&mut current)));
                start = i + 2;
                let rest = line.trim_end()[3..].trim_start();
                if !rest.is_empty() {
                    current = format!("{rest}\n");
                    start = i + 1;
                }
            } else {
                current.push_str(line);
            }
        }
        docs.push((start, current));
        docs
    }

    #[test]
    fn splits_as_line_by_line() {
        let pieces = [
            "---", "--- x: 1", "---y", " ---", "a: 1", "", "---\r", "-- -", "----",
        ];
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = texts
                .iter()
                .flat_map(|t| pieces.iter().map(move |p| format!("{t}{p}\n")))
                .collect();
            texts.extend(longer);
        }
        for text in &texts {
            for text in [text.as_str(), text.trim_end_matches('\n')] {
                let got: Vec<(usize, String)> = split_documents(text)
                    .into_iter()
                    .map(|(n, d)| (n, d.into_owned()))
                    .collect();
                assert_eq!(got, split_line_by_line(text), "{text:?}");
            }
        }
    }

    #[test]
    fn documents_checked_and_hooks_extracted() {
        let text = "# only a comment\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-upgrade, pre-install,bogus\n    helm.sh/hook-weight: \"-5\"\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\n---\n\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: ns\n";
        let (mut m, mut h) = (Vec::new(), Vec::new());
        parse_template("web/templates/x.yaml", text, &mut m, &mut h).unwrap();
        // The comment is kept as a document of no object (as Helm prints it); the blank one
        // is not.
        assert_eq!(m.len(), 2);
        assert!(!m[0].is_object());
        assert_eq!((m[0].index, m[0].content.as_str()), (1, "# only a comment"));
        assert_eq!(m[1].index, 4);
        assert_eq!(m[1].namespace.as_deref(), Some("ns"));
        assert_eq!(
            h[0].events,
            vec![HookEvent::PreUpgrade, HookEvent::PreInstall]
        );
        assert_eq!(h[0].weight, -5);
        assert_eq!(
            h[0].delete_policies,
            vec![
                HookDeletePolicy::BeforeHookCreation,
                HookDeletePolicy::HookSucceeded
            ]
        );
    }

    #[test]
    fn bad_documents_name_template_and_index() {
        let cases = [
            (
                "kind: A\nmetadata: {name: a}\n",
                "document 1: missing apiVersion",
            ),
            (
                "---\napiVersion: v1\nmetadata: {name: a}\n",
                "document 2: missing kind",
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\n",
                "document 1: ConfigMap is missing metadata.name",
            ),
            ("- a\n- b\n", "document 1: document is not a map"),
            (
                "apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\nkey: [unclosed\n",
                "document 2: yaml does not parse (rendered line 6",
            ),
        ];
        for (text, want) in cases {
            let e = parse_template(
                "web/templates/t.yaml",
                text,
                &mut Vec::new(),
                &mut Vec::new(),
            )
            .unwrap_err()
            .to_string();
            assert!(e.starts_with("web/templates/t.yaml: "), "{e}");
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn install_order() {
        let mk = |kind: &str, source: &str| Manifest {
            source: source.into(),
            index: 1,
            api_version: "v1".into(),
            kind: kind.into(),
            name: "n".into(),
            namespace: None,
            content: String::new(),
        };
        let mut m = vec![
            mk("Deployment", "a"),
            mk("Zebra", "a"),
            mk("Service", "b"),
            mk("Service", "a"),
            mk("Alpha", "a"),
            mk("Namespace", "z"),
            mk("ConfigMap", "a"),
            mk("ServiceAccount", "a"),
        ];
        sort(&mut m, &mut []);
        let got: Vec<_> = m
            .iter()
            .map(|m| format!("{}:{}", m.kind, m.source))
            .collect();
        assert_eq!(
            got,
            vec![
                "Namespace:z",
                "ServiceAccount:a",
                "ConfigMap:a",
                "Service:a",
                "Service:b",
                "Deployment:a",
                "Alpha:a",
                "Zebra:a"
            ]
        );
    }

    #[test]
    fn hostile_yaml_is_an_error_not_a_crash_or_a_blow_up() {
        let head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
        let timed = |what: &str, text: &str| {
            let start = std::time::Instant::now();
            let r = parse_manifests("c/templates/a.yaml", text);
            let took = start.elapsed();
            assert!(
                // A guard against blow-ups (minutes), not a speed target: generous for loaded machines.
                took < std::time::Duration::from_secs(30),
                "{what} took {took:?}"
            );
            r
        };
        // Nesting far deeper than the parser's recursion limit.
        let deep = format!(
            "{head}data: {}{}\n",
            "[".repeat(1_000_000),
            "]".repeat(1_000_000)
        );
        let e = timed("flow", &deep).unwrap_err().to_string();
        assert!(e.contains("nest deeper than 1000 levels"), "{e}");
        let deep = format!(
            "{head}data: {}{}\n",
            "{a: ".repeat(1_000),
            "}".repeat(1_000)
        );
        assert!(timed("flow maps", &deep).is_err());
        let deep = format!(
            "{head}data:\n{}",
            (0..1_000)
                .map(|i| format!("{}k:\n", " ".repeat(i)))
                .collect::<String>()
        );
        assert!(timed("block", &deep).is_err());
        // A billion laughs: aliases that expand exponentially.
        let mut laughs = format!("{head}a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..12 {
            let p = i - 1;
            laughs.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(timed("laughs", &laughs).is_err());
    }
}
