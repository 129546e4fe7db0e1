//! A Go chart's translated templates, and the minijinja instructions compiled of those it
//! rendered, as bytes, so a compile cache can keep them between processes ([`Translations`]).
//!
//! The format is private to one capstan version (the cache that keeps it is keyed by version):
//! a magic line naming the instructions' format too ([`super::program::FORMAT`]), then
//! length-prefixed records. Decoding checks every length against the input and answers `None`
//! for anything malformed, so a damaged entry is never used; instructions are decoded (and
//! checked) when their template is first rendered, and compiled anew when they do not decode.

use std::collections::HashMap;
use std::sync::Arc;

use capstan_gotmpl::{Span, Translation};

use super::Compiled;
use super::program::FORMAT;

/// The first line of the bytes: this format's version, then the instructions'.
fn magic() -> String {
    format!("capstan go translations v3; {FORMAT}\n")
}

/// One translated template without its Go source (which the chart itself supplies).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub file: String,
    pub exec_name: String,
    pub translation: Translation,
    /// Its instructions ([`super::program::Program::encode`]), when it was rendered.
    pub program: Option<Vec<u8>>,
}

/// The translated templates of a Go chart (every file's body and every `define`, after Helm's
/// override order), as [`crate::CompiledChart::translations`] gives them and
/// [`crate::CompiledChart::compile_reusing`] takes them back, skipping the parse and translation.
#[derive(Debug, Clone, PartialEq)]
pub struct Translations {
    pub(crate) entries: Vec<Entry>,
}

impl Translations {
    /// The translations of compiled templates, sorted by key (so equal charts encode equally),
    /// with the instructions of those compiled or decoded so far (else those kept before).
    pub(crate) fn of(compiled: &HashMap<String, Compiled>) -> Translations {
        let mut entries: Vec<Entry> = compiled
            .values()
            .map(|c| Entry {
                key: c.key.clone(),
                file: c.file.clone(),
                exec_name: c.exec_name.clone(),
                translation: c.translation.clone(),
                program: match c.program.get() {
                    Some(p) => p.encode(),
                    None => c.stored.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                },
            })
            .collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        Translations { entries }
    }

    /// The compiled templates again, each with the Go source of its file from `sources`;
    /// `None` unless every entry's file is among `sources` and every file has its body, so
    /// translations of another chart are never taken for this one.
    pub(crate) fn restore(
        self,
        sources: &HashMap<&str, &Arc<str>>,
    ) -> Option<HashMap<String, Compiled>> {
        let mut out = HashMap::with_capacity(self.entries.len());
        for e in self.entries {
            let go_source = (*sources.get(e.file.as_str())?).clone();
            let c = Compiled::new(e.key.clone(), e.file, e.exec_name, go_source, e.translation);
            *c.stored.lock().unwrap_or_else(|e| e.into_inner()) = e.program;
            out.insert(e.key, c);
        }
        let bodies_present = sources
            .keys()
            .all(|file| out.get(*file).is_some_and(|c| c.file == *file));
        bodies_present.then_some(out)
    }

    /// How many templates' compiled instructions these hold (those rendered before they were
    /// taken).
    pub fn instructions_kept(&self) -> usize {
        self.entries.iter().filter(|e| e.program.is_some()).count()
    }

    /// The translations as bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(
            self.entries
                .iter()
                .map(|e| e.translation.source.len() + e.program.as_ref().map_or(0, Vec::len) + 64)
                .sum(),
        ));
        w.0.extend_from_slice(magic().as_bytes());
        w.len(self.entries.len());
        for e in &self.entries {
            w.str(&e.key);
            w.str(&e.file);
            w.str(&e.exec_name);
            w.str(&e.translation.source);
            w.len(e.translation.spans.len());
            for s in &e.translation.spans {
                w.len(s.start);
                w.len(s.end);
                w.len(s.pos);
                w.str(&s.text);
                match &s.function {
                    Some(f) => {
                        w.0.push(1);
                        w.str(f);
                    }
                    None => w.0.push(0),
                }
                w.len(s.args.len());
                for (pos, text) in &s.args {
                    w.len(*pos);
                    w.str(text);
                }
            }
            match &e.program {
                Some(p) => {
                    w.0.push(1);
                    w.len(p.len());
                    w.0.extend_from_slice(p);
                }
                None => w.0.push(0),
            }
        }
        w.0
    }

    /// Translations from [`Translations::encode`]'s bytes; `None` when they are malformed.
    pub fn decode(bytes: &[u8]) -> Option<Translations> {
        let mut r = Reader(bytes.strip_prefix(magic().as_bytes())?);
        let count = r.len()?;
        let mut entries = Vec::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            let key = r.str()?;
            let file = r.str()?;
            let exec_name = r.str()?;
            let source = r.str()?;
            let spans_count = r.len()?;
            let mut spans = Vec::with_capacity(spans_count.min(1 << 16));
            for _ in 0..spans_count {
                let start = r.len()?;
                let end = r.len()?;
                let pos = r.len()?;
                let text = r.str()?;
                let function = match r.byte()? {
                    0 => None,
                    1 => Some(r.str()?),
                    _ => return None,
                };
                let args_count = r.len()?;
                let mut args = Vec::with_capacity(args_count.min(1 << 10));
                for _ in 0..args_count {
                    let pos = r.len()?;
                    args.push((pos, r.str()?));
                }
                if start > end || end > source.len() {
                    return None;
                }
                spans.push(Span {
                    start,
                    end,
                    pos,
                    text,
                    function,
                    args,
                });
            }
            let program = match r.byte()? {
                0 => None,
                1 => {
                    let n = r.len()?;
                    Some(r.take(n)?.to_vec())
                }
                _ => return None,
            };
            entries.push(Entry {
                key,
                file,
                exec_name,
                translation: Translation { source, spans },
                program,
            });
        }
        r.0.is_empty().then_some(Translations { entries })
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn len(&mut self, n: usize) {
        self.0.extend_from_slice(&(n as u64).to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn len(&mut self) -> Option<usize> {
        let bytes: [u8; 8] = self.take(8)?.try_into().ok()?;
        usize::try_from(u64::from_le_bytes(bytes)).ok()
    }

    fn str(&mut self) -> Option<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Translations {
        Translations {
            entries: vec![Entry {
                key: "web/templates/a.yaml".into(),
                file: "web/templates/a.yaml".into(),
                exec_name: "web/templates/a.yaml".into(),
                translation: Translation {
                    source: "{{ x }} é".into(),
                    spans: vec![Span {
                        start: 0,
                        end: 7,
                        pos: 3,
                        text: ".Values.x".into(),
                        function: Some("default".into()),
                        args: vec![(5, "1".into())],
                    }],
                },
                program: Some(vec![1, 2, 3]),
            }],
        }
    }

    #[test]
    fn round_trips() {
        let t = sample();
        assert_eq!(Translations::decode(&t.encode()), Some(t));
    }

    #[test]
    fn malformed_bytes_decode_to_none() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert_eq!(Translations::decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(Translations::decode(&extra), None);
        let mut huge = bytes.clone();
        let at = magic().len();
        huge[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(Translations::decode(&huge), None);
        assert_eq!(Translations::decode(b"not translations"), None);
    }

    #[test]
    fn restore_refuses_another_charts_translations() {
        let source: Arc<str> = Arc::from("x");
        let mine = HashMap::from([("web/templates/a.yaml", &source)]);
        assert!(sample().restore(&mine).is_some());
        let other = HashMap::from([("web/templates/b.yaml", &source)]);
        assert!(sample().restore(&other).is_none());
        let more = HashMap::from([
            ("web/templates/a.yaml", &source),
            ("web/templates/b.yaml", &source),
        ]);
        assert!(sample().restore(&more).is_none(), "b.yaml has no body");
    }
}
