//! A Go chart's translated templates, and the minijinja instructions compiled of those it
//! rendered, as bytes, so a compile cache can keep them between processes ([`Translations`]).
//!
//! The format is private to one capstan version (the cache that keeps it is keyed by version):
//! a magic line naming the instructions' format too ([`super::program::FORMAT`]), the length of
//! the records (eight bytes, little-endian), length-prefixed records, then every translation's
//! text, one after another: a reader can take the texts into a buffer of their own and share
//! it, rather than copying each text out of the bytes read ([`SharedText`]). Decoding checks every length against the input and answers `None`
//! for anything malformed, so a damaged entry is never used; instructions are decoded (and
//! checked) when their template is first rendered, and compiled anew when they do not decode.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use capstan_gotmpl::Span;

use super::Compiled;
use super::program::FORMAT;

/// The first line of the bytes: this format's version, then the instructions'.
fn magic() -> String {
    format!("capstan go translations v5; {FORMAT}\n")
}

/// A range of shared text: each translation is a range of the one buffer a compile cache
/// entry's texts were read into, or a whole text of its own.
#[derive(Clone)]
pub(crate) struct SharedText {
    text: Arc<String>,
    start: usize,
    end: usize,
}

impl From<String> for SharedText {
    fn from(text: String) -> SharedText {
        let end = text.len();
        SharedText {
            text: Arc::new(text),
            start: 0,
            end,
        }
    }
}

impl From<&str> for SharedText {
    fn from(text: &str) -> SharedText {
        SharedText::from(text.to_owned())
    }
}

impl std::ops::Deref for SharedText {
    type Target = str;

    fn deref(&self) -> &str {
        // A range of `text` on character boundaries (checked when made): slicing is a bounds
        // check, not a scan.
        &self.text[self.start..self.end]
    }
}

impl std::fmt::Debug for SharedText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl PartialEq for SharedText {
    fn eq(&self, other: &SharedText) -> bool {
        **self == **other
    }
}

/// A range of shared bytes: the instructions and the span map of each template are ranges of
/// the one buffer a compile cache entry was read into, not copies of them.
#[derive(Clone)]
pub(crate) struct SharedBytes {
    buf: Arc<Vec<u8>>,
    start: usize,
    end: usize,
}

impl SharedBytes {
    fn range(buf: &Arc<Vec<u8>>, start: usize, end: usize) -> SharedBytes {
        SharedBytes {
            buf: buf.clone(),
            start,
            end,
        }
    }
}

impl From<Vec<u8>> for SharedBytes {
    fn from(bytes: Vec<u8>) -> SharedBytes {
        let end = bytes.len();
        SharedBytes {
            buf: Arc::new(bytes),
            start: 0,
            end,
        }
    }
}

impl std::ops::Deref for SharedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
}

impl std::fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl PartialEq for SharedBytes {
    fn eq(&self, other: &SharedBytes) -> bool {
        **self == **other
    }
}

/// A translation's span map (where each fallible expression comes from in the Go source):
/// as the translation made it, or as a compile cache kept it, checked when the entry was read
/// and decoded only when an error first needs it (spans serve nothing else).
pub(crate) struct SpanMap {
    encoded: Option<SharedBytes>,
    decoded: OnceLock<Vec<Span>>,
}

impl SpanMap {
    /// The spans of a translation.
    pub(crate) fn new(spans: Vec<Span>) -> SpanMap {
        SpanMap {
            encoded: None,
            decoded: OnceLock::from(spans),
        }
    }

    /// The spans, decoded at the first call when they were kept encoded.
    pub(crate) fn spans(&self) -> &[Span] {
        self.decoded.get_or_init(|| {
            // Its layout was checked when the entry was read ([`skip_spans`]), its bytes by the
            // compile cache's checksum; its texts' UTF-8 is checked only here (most of the
            // reading's cost was checking the texts of spans no error message ever needs), so
            // a span map whose texts are not UTF-8 gives an error no spans.
            self.encoded
                .as_ref()
                .and_then(|b| read_spans(&mut Reader(b), usize::MAX))
                .unwrap_or_default()
        })
    }

    /// The innermost span around `start..end` of the translation, if any (as
    /// [`capstan_gotmpl::Translation::span_at`]).
    pub(crate) fn span_at(&self, start: usize, end: usize) -> Option<&Span> {
        self.spans()
            .iter()
            .filter(|s| s.start <= start && end <= s.end)
            .min_by_key(|s| s.end - s.start)
    }

    fn write(&self, w: &mut Writer) {
        match &self.encoded {
            Some(bytes) => w.0.extend_from_slice(bytes),
            None => write_spans(w, self.spans()),
        }
    }
}

impl Clone for SpanMap {
    fn clone(&self) -> SpanMap {
        match &self.encoded {
            Some(bytes) => SpanMap {
                encoded: Some(bytes.clone()),
                decoded: OnceLock::new(),
            },
            None => SpanMap::new(self.spans().to_vec()),
        }
    }
}

impl std::fmt::Debug for SpanMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.spans().fmt(f)
    }
}

impl PartialEq for SpanMap {
    fn eq(&self, other: &SpanMap) -> bool {
        self.spans() == other.spans()
    }
}

/// One translated template without its Go source (which the chart itself supplies).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub file: String,
    pub exec_name: String,
    /// The translation's minijinja source.
    pub source: SharedText,
    /// The translation's span map.
    pub spans: SpanMap,
    /// Its instructions ([`super::program::Program::encode`]), when it was rendered.
    pub program: Option<SharedBytes>,
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
                source: c.source.clone(),
                spans: c.spans.clone(),
                program: {
                    // The lock first: a thread decoding the kept bytes holds it until the
                    // program is in place, so one of the two is always found.
                    let stored = c.stored.lock().unwrap_or_else(|e| e.into_inner());
                    match c.program.get() {
                        Some(p) => p.encode().map(SharedBytes::from),
                        None => stored.clone(),
                    }
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
        sources: &HashMap<&str, &super::GoSource>,
    ) -> Option<HashMap<String, Compiled>> {
        let mut out = HashMap::with_capacity(self.entries.len());
        for e in self.entries {
            let go_source = (*sources.get(e.file.as_str())?).clone();
            let c = Compiled::restored(
                e.key.clone(),
                e.file,
                e.exec_name,
                go_source,
                e.source,
                e.spans,
                e.program,
            );
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
        let texts: usize = self.entries.iter().map(|e| e.source.len()).sum();
        let mut w = Writer(Vec::with_capacity(
            self.entries
                .iter()
                .map(|e| e.source.len() * 2 + e.program.as_ref().map_or(0, |p| p.len()) + 64)
                .sum(),
        ));
        w.0.extend_from_slice(magic().as_bytes());
        let len_at = w.0.len();
        w.0.extend_from_slice(&[0; 8]);
        w.len(self.entries.len());
        let mut text_at = 0;
        for e in &self.entries {
            w.str(&e.key);
            w.str(&e.file);
            w.str(&e.exec_name);
            w.len(text_at);
            w.len(e.source.len());
            text_at += e.source.len();
            e.spans.write(&mut w);
            match &e.program {
                Some(p) => {
                    w.0.push(1);
                    w.len(p.len());
                    w.0.extend_from_slice(p);
                }
                None => w.0.push(0),
            }
        }
        let records = (w.0.len() - len_at - 8) as u64;
        w.0[len_at..len_at + 8].copy_from_slice(&records.to_le_bytes());
        w.0.reserve(texts);
        for e in &self.entries {
            w.0.extend_from_slice(e.source.as_bytes());
        }
        w.0
    }

    /// Where the texts start in [`Translations::encode`]'s bytes, read from their first
    /// [`Translations::texts_at_needs`] bytes: `None` unless those are the magic line and the
    /// records' length.
    pub fn texts_at(bytes: &[u8]) -> Option<usize> {
        let magic = magic();
        let len = bytes.strip_prefix(magic.as_bytes())?.get(..8)?;
        let len = usize::try_from(u64::from_le_bytes(len.try_into().ok()?)).ok()?;
        (magic.len() + 8).checked_add(len)
    }

    /// How many of [`Translations::encode`]'s first bytes [`Translations::texts_at`] reads.
    pub fn texts_at_needs() -> usize {
        magic().len() + 8
    }

    /// Translations from [`Translations::encode`]'s bytes; `None` when they are malformed.
    pub fn decode(bytes: &[u8]) -> Option<Translations> {
        let at = Translations::texts_at(bytes)?;
        let texts = String::from_utf8(bytes.get(at..)?.to_vec()).ok()?;
        Translations::decode_shared(Arc::new(bytes.get(..at)?.to_vec()), 0, Arc::new(texts))
    }

    /// [`Translations::decode`] of bytes read in two buffers: `buf` from `offset` on holds
    /// them up to [`Translations::texts_at`], `texts` the rest. The translations keep both (their
    /// instructions and span maps are ranges of `buf`, their sources ranges of `texts`).
    pub fn decode_shared(
        buf: Arc<Vec<u8>>,
        offset: usize,
        texts: Arc<String>,
    ) -> Option<Translations> {
        let all: &[u8] = buf.get(offset..)?;
        if Translations::texts_at(all)? != all.len() {
            return None;
        }
        let mut r = Reader(all.get(Translations::texts_at_needs()..)?);
        // Where the reader is in `buf`.
        let at = |r: &Reader<'_>| buf.len() - r.0.len();
        let count = r.len()?;
        let mut entries = Vec::with_capacity(count.min(1 << 16));
        let mut text_end = 0;
        for _ in 0..count {
            let key = r.str()?.to_owned();
            let file = r.str()?.to_owned();
            let exec_name = r.str()?.to_owned();
            // Each text follows the last: the texts are covered once, in order.
            let (start, len) = (r.len()?, r.len()?);
            if start != text_end {
                return None;
            }
            let end = start.checked_add(len)?;
            texts.get(start..end)?;
            text_end = end;
            let source = SharedText {
                text: texts.clone(),
                start,
                end,
            };
            let spans_start = at(&r);
            skip_spans(&mut r, source.len())?;
            let spans = SpanMap {
                encoded: Some(SharedBytes::range(&buf, spans_start, at(&r))),
                decoded: OnceLock::new(),
            };
            let program = match r.byte()? {
                0 => None,
                1 => {
                    let n = r.len()?;
                    r.take(n)?;
                    let end = at(&r);
                    Some(SharedBytes::range(&buf, end - n, end))
                }
                _ => return None,
            };
            entries.push(Entry {
                key,
                file,
                exec_name,
                source,
                spans,
                program,
            });
        }
        (r.0.is_empty() && text_end == texts.len()).then_some(Translations { entries })
    }
}

/// Writes a span map: the count, then each span.
fn write_spans(w: &mut Writer, spans: &[Span]) {
    w.len(spans.len());
    for s in spans {
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
}

/// Reads a span map [`write_spans`] wrote for a translation of `source_len` bytes.
fn read_spans(r: &mut Reader<'_>, source_len: usize) -> Option<Vec<Span>> {
    let count = r.len()?;
    let mut spans = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let start = r.len()?;
        let end = r.len()?;
        let pos = r.len()?;
        let text = r.str()?.to_owned();
        let function = match r.byte()? {
            0 => None,
            1 => Some(r.str()?.to_owned()),
            _ => return None,
        };
        let args_count = r.len()?;
        let mut args = Vec::with_capacity(args_count.min(1 << 10));
        for _ in 0..args_count {
            let pos = r.len()?;
            args.push((pos, r.str()?.to_owned()));
        }
        if start > end || end > source_len {
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
    Some(spans)
}

/// Checks the layout of a span map as [`read_spans`] reads it (not its texts' UTF-8), without
/// building it.
fn skip_spans(r: &mut Reader<'_>, source_len: usize) -> Option<()> {
    let count = r.len()?;
    for _ in 0..count {
        let start = r.len()?;
        let end = r.len()?;
        r.len()?;
        r.skip_str()?;
        match r.byte()? {
            0 => {}
            1 => {
                r.skip_str()?;
            }
            _ => return None,
        }
        for _ in 0..r.len()? {
            r.len()?;
            r.skip_str()?;
        }
        if start > end || end > source_len {
            return None;
        }
    }
    Some(())
}

struct Writer(Vec<u8>);

impl Writer {
    /// A length or offset, as LEB128 (seven bits a byte, low first).
    fn len(&mut self, n: usize) {
        let mut n = n as u64;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }

    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
}

/// Reads what a [`Writer`] wrote (and the instructions [`super::program`] encodes alike).
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    pub(super) fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    /// An integer [`Writer::len`] wrote (7 bits a byte, low first); `None` past the input's
    /// end or beyond 64 bits.
    pub(super) fn int(&mut self) -> Option<u64> {
        let mut n: u64 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return None;
            }
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(n);
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
    }

    /// A length [`Writer::len`] wrote.
    pub(super) fn len(&mut self) -> Option<usize> {
        usize::try_from(self.int()?).ok()
    }

    pub(super) fn str(&mut self) -> Option<&'a str> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).ok()
    }

    /// Steps over what [`Reader::str`] reads, without checking that it is UTF-8.
    fn skip_str(&mut self) -> Option<()> {
        let n = self.len()?;
        self.take(n).map(|_| ())
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
                source: "{{ x }} é".into(),
                spans: SpanMap::new(vec![Span {
                    start: 0,
                    end: 7,
                    pos: 3,
                    text: ".Values.x".into(),
                    function: Some("default".into()),
                    args: vec![(5, "1".into())],
                }]),
                program: Some(vec![1, 2, 3].into()),
            }],
        }
    }

    #[test]
    fn round_trips() {
        let t = sample();
        let bytes = t.encode();
        let decoded = Translations::decode(&bytes).unwrap();
        // Encoded again before its spans are decoded, then after.
        assert_eq!(decoded.encode(), bytes);
        assert_eq!(decoded, t);
        assert_eq!(decoded.encode(), bytes);
        let span = decoded.entries[0].spans.span_at(1, 2).unwrap();
        assert_eq!(
            (span.text.as_str(), span.function.as_deref()),
            (".Values.x", Some("default"))
        );
    }

    #[test]
    fn lengths_take_seven_bits_a_byte() {
        for n in [0, 1, 127, 128, 300, 1 << 20, u32::MAX as usize, usize::MAX] {
            let mut w = Writer(Vec::new());
            w.len(n);
            let mut r = Reader(&w.0);
            assert_eq!(r.len(), Some(n), "{n}");
            assert!(r.0.is_empty());
        }
        assert_eq!(Reader(&[0x80, 0x80]).len(), None, "cut short");
        assert_eq!(Reader(&[0xff; 10]).len(), None, "beyond 64 bits");
        assert_eq!(
            Reader(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).len(),
            None
        );
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
        let at = magic().len() + 8;
        huge.splice(at..at + 1, [0xff; 9].into_iter().chain([0x01]));
        assert_eq!(Translations::decode(&huge), None);
        assert_eq!(Translations::decode(b"not translations"), None);
    }

    /// A span's text is checked for UTF-8 only when an error message decodes the span map;
    /// a map that fails it gives no spans (the entry's other texts are checked when read).
    #[test]
    fn span_texts_are_checked_when_decoded() {
        let mut bytes = sample().encode();
        let at = bytes.windows(9).position(|w| w == b".Values.x").unwrap();
        bytes[at] = 0xff;
        let decoded = Translations::decode(&bytes).unwrap();
        assert!(decoded.entries[0].spans.spans().is_empty());
        assert!(decoded.entries[0].spans.span_at(1, 2).is_none());
        let source = bytes.windows(3).position(|w| w == b"{{ ").unwrap();
        bytes[source] = 0xff;
        assert_eq!(
            Translations::decode(&bytes),
            None,
            "the translation's own text"
        );
    }

    #[test]
    fn restore_refuses_another_charts_translations() {
        let source = super::super::GoSource::new("x".into()).unwrap();
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
