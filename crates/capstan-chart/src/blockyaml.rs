//! A parser for block-style YAML, giving up on anything else: the fast path of reading
//! repository indexes, values files and rendered manifests.
//!
//! Helm (go-yaml) and `capstan repo index` write indexes, charts' values files and rendered
//! manifests are nearly always block mappings and sequences of plain, quoted and literal (`|`)
//! scalars, with comments and empty flow collections (`[]`, `{}`). This parser reads exactly that subset into a tree
//! that borrows from the input, without the event buffer of a general YAML parser. Whatever it
//! is not sure to read as libyaml would (flow collections other than empty ones, anchors, aliases, tags, folded or
//! multi-line quoted scalars, tabs, control characters, duplicate keys, document markers, plain
//! scalars that are also indicators) makes it return `None`, and the caller parses the document
//! with the full YAML parser instead: the subset only ever changes the speed, never the result.

use std::borrow::Cow;
use std::collections::HashSet;

/// A node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    /// A scalar.
    Scalar(Scalar<'a>),
    /// A block sequence.
    Seq(Vec<Node<'a>>),
    /// A block mapping, keys in document order (no duplicates).
    Map(Vec<(&'a str, Node<'a>)>),
}

/// A scalar's text, and whether it was plain (so subject to YAML's type resolution).
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar<'a> {
    /// The scalar's value (escapes and folding applied).
    pub text: Cow<'a, str>,
    /// Plain (unquoted, not a block scalar).
    pub plain: bool,
}

/// The deepest nesting read; deeper documents go to the full parser.
const MAX_DEPTH: usize = 64;
/// libyaml's limit on the length of a simple (implicit) key.
const MAX_KEY: usize = 1024;
/// Mappings with more keys than this check duplicates with a hash set.
const HASHED_KEYS: usize = 16;

/// Parses `src`, whose root must be a block mapping; `None` when the document is outside the
/// subset (or not YAML at all). Keys are plain scalars.
pub fn parse(src: &str) -> Option<Node<'_>> {
    parse_root(src, false)
}

/// [`parse`], also taking keys quoted without escapes (`"helm.sh/hook": x`, `'a b': c`), whose
/// text is then the key's value (for a caller that reads keys as strings either way).
pub fn parse_quoted_keys(src: &str) -> Option<Node<'_>> {
    parse_root(src, true)
}

fn parse_root(src: &str, quoted_keys: bool) -> Option<Node<'_>> {
    let mut root = Vec::new();
    parse_with(
        src,
        "",
        None,
        quoted_keys,
        |key, value| {
            root.push((key, value));
            Some(())
        },
        |_, _| None,
    )?;
    Some(Node::Map(root))
}

/// Parses `src`, whose root must be a block mapping, handing each root key and value to
/// `root`, except the root key `streamed` when its value is a block mapping: that mapping's
/// keys and values go to `child` one at a time, as they are read, so only one of them is in
/// memory at once. With `inside` = `Some(m)`, `src` is the second part of a document cut just
/// before a key of the streamed mapping, whose keys are at column `m`: it starts with the rest
/// of that mapping. `None` when the document is outside the subset (or a callback says so);
/// callbacks may have been called by then.
pub fn parse_streaming<'a>(
    src: &'a str,
    streamed: &str,
    inside: Option<usize>,
    root: impl FnMut(&'a str, Node<'a>) -> Option<()>,
    child: impl FnMut(&'a str, Node<'a>) -> Option<()>,
) -> Option<()> {
    parse_with(src, streamed, inside, false, root, child)
}

fn parse_with<'a>(
    src: &'a str,
    streamed: &str,
    inside: Option<usize>,
    quoted_keys: bool,
    mut root: impl FnMut(&'a str, Node<'a>) -> Option<()>,
    mut child: impl FnMut(&'a str, Node<'a>) -> Option<()>,
) -> Option<()> {
    if !printable(src.as_bytes()) {
        return None;
    }
    let mut parser = Parser {
        src,
        pos: 0,
        pending: None,
        depth: 1,
        quoted_keys,
    };
    let first = parser.peek()??;
    if first.indent != inside.unwrap_or(0) || is_seq_item(first.text) {
        return None;
    }
    let mut root_keys: Vec<&str> = Vec::new();
    if let Some(m) = inside {
        root_keys.push(streamed);
        parser.stream(m, &mut child)?;
    }
    while let Some((key, rest)) = parser.next_key(0)? {
        if root_keys.contains(&key) {
            return None;
        }
        root_keys.push(key);
        if key == streamed
            && (rest.is_empty() || rest.starts_with('#'))
            && let Some(line) = parser.peek()?
            && line.indent > 0
            && !is_seq_item(line.text)
        {
            parser.stream(line.indent, &mut child)?;
            continue;
        }
        let value = parser.value(rest, 0)?;
        root(key, value)?;
    }
    parser.peek()?.is_none().then_some(())
}

/// Whether every character is one YAML allows and this parser handles: no control characters
/// but newline and tab (so no `\r`), no C1 controls or NEL, no Unicode line or paragraph
/// separators, no byte-order mark, no U+FFFE/U+FFFF.
fn printable(bytes: &[u8]) -> bool {
    // Most of an index is printable ASCII and newlines: whole chunks of them are checked
    // at once (a loop the compiler vectorises), the others byte by byte.
    const CHUNK: usize = 64;
    let plain = |b: u8| (0x20..0x7f).contains(&b) | (b == b'\n');
    let mut start = 0;
    while start < bytes.len() {
        let end = (start + CHUNK).min(bytes.len());
        let chunk = &bytes[start..end];
        if !chunk.iter().fold(true, |all, &b| all & plain(b)) && !printable_at(bytes, start, end) {
            return false;
        }
        start = end;
    }
    true
}

/// [`printable`] for `bytes[start..end]`, byte by byte (looking past `end` for the rest of
/// a character that starts before it).
fn printable_at(bytes: &[u8], start: usize, end: usize) -> bool {
    for i in start..end {
        let b = bytes[i];
        if b < 0x80 {
            if (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f {
                return false;
            }
        } else {
            let next = |k: usize| bytes.get(i + k).copied().unwrap_or(0);
            match b {
                0xc2 if (0x80..=0x9f).contains(&next(1)) => return false,
                0xe2 if next(1) == 0x80 && matches!(next(2), 0xa8 | 0xa9) => return false,
                0xef if next(1) == 0xbb && next(2) == 0xbf => return false,
                0xef if next(1) == 0xbf && matches!(next(2), 0xbe | 0xbf) => return false,
                _ => {}
            }
        }
    }
    true
}

/// A line's content after its indentation.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    /// Leading spaces (or, for the rest of a `- ` line, the column where it starts).
    indent: usize,
    /// The content, without the newline.
    text: &'a str,
}

struct Parser<'a> {
    src: &'a str,
    /// Start of the next physical line not yet read.
    pos: usize,
    /// A structural line read but not consumed, or the rest of a `- key: value` line.
    pending: Option<Line<'a>>,
    depth: usize,
    /// Whether keys quoted without escapes are read (see [`parse_quoted_keys`]).
    quoted_keys: bool,
}

impl<'a> Parser<'a> {
    /// The next physical line at `pos`, and where the one after it starts.
    fn physical(&self, at: usize) -> Option<(&'a str, usize)> {
        if at >= self.src.len() {
            return None;
        }
        let rest = &self.src[at..];
        Some(match rest.find('\n') {
            Some(end) => (&rest[..end], at + end + 1),
            None => (rest, self.src.len()),
        })
    }

    /// The next line that is neither blank nor a comment (`Some(None)` at the end; `None`
    /// when the line is outside the subset).
    fn peek(&mut self) -> Option<Option<Line<'a>>> {
        if let Some(line) = self.pending {
            return Some(Some(line));
        }
        while let Some((raw, next)) = self.physical(self.pos) {
            let text = raw.trim_start_matches(' ');
            if text.is_empty() {
                self.pos = next;
                continue;
            }
            if raw.contains('\t') {
                return None;
            }
            if text.starts_with('#') {
                self.pos = next;
                continue;
            }
            let indent = raw.len() - text.len();
            if indent == 0
                && (text.starts_with("---") || text.starts_with("...") || text.starts_with('%'))
            {
                return None;
            }
            self.pos = next;
            let line = Line { indent, text };
            self.pending = Some(line);
            return Some(Some(line));
        }
        Some(None)
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// A block mapping at column `m` whose keys and values go to `child` as they are read.
    fn stream(
        &mut self,
        m: usize,
        child: &mut impl FnMut(&'a str, Node<'a>) -> Option<()>,
    ) -> Option<()> {
        let mut seen: HashSet<&str> = HashSet::new();
        self.enter()?;
        while let Some((key, rest)) = self.next_key(m)? {
            if !seen.insert(key) {
                return None;
            }
            let value = self.value(rest, m)?;
            child(key, value)?;
        }
        self.depth -= 1;
        Some(())
    }

    /// The next `key: rest` line of a mapping whose keys are at column `m`, consumed
    /// (`Some(None)` where the mapping ends).
    fn next_key(&mut self, m: usize) -> Option<Option<(&'a str, &'a str)>> {
        let Some(line) = self.peek()? else {
            return Some(None);
        };
        if line.indent < m {
            return Some(None);
        }
        if line.indent > m || is_seq_item(line.text) {
            return None;
        }
        let pair = match line.text.as_bytes()[0] {
            b'"' | b'\'' if self.quoted_keys => split_quoted_key(line.text)?,
            _ => split_key(line.text)?,
        };
        self.pending = None;
        Some(Some(pair))
    }

    /// The value after a key at column `m`, starting with `rest` on the key's line.
    fn value(&mut self, rest: &'a str, m: usize) -> Option<Node<'a>> {
        if rest.is_empty() || rest.starts_with('#') {
            self.nested(m, true)
        } else {
            self.inline(rest, m)
        }
    }

    /// A block mapping whose keys are at column `m`.
    fn map(&mut self, m: usize) -> Option<Node<'a>> {
        self.enter()?;
        let mut entries: Vec<(&'a str, Node<'a>)> = Vec::new();
        let mut seen: Option<HashSet<&'a str>> = None;
        while let Some((key, rest)) = self.next_key(m)? {
            let value = self.value(rest, m)?;
            let duplicate = match &mut seen {
                Some(set) => !set.insert(key),
                None => {
                    let duplicate = entries.iter().any(|(k, _)| *k == key);
                    if entries.len() >= HASHED_KEYS {
                        let mut set: HashSet<&'a str> = entries.iter().map(|(k, _)| *k).collect();
                        set.insert(key);
                        seen = Some(set);
                    }
                    duplicate
                }
            };
            if duplicate {
                return None;
            }
            entries.push((key, value));
        }
        self.depth -= 1;
        Some(Node::Map(entries))
    }

    /// A block sequence whose `-` are at column `n`.
    fn seq(&mut self, n: usize) -> Option<Node<'a>> {
        self.enter()?;
        let mut items = Vec::new();
        while let Some(line) = self.peek()? {
            if line.indent < n || (line.indent == n && !is_seq_item(line.text)) {
                break;
            }
            if line.indent > n {
                return None;
            }
            self.pending = None;
            let rest = line.text[1..].trim_start_matches(' ');
            let column = n + line.text.len() - rest.len();
            let item = if rest.is_empty() || rest.starts_with('#') {
                self.nested(n, false)?
            } else if is_seq_item(rest) {
                return None;
            } else if looks_like_key(rest) {
                self.pending = Some(Line {
                    indent: column,
                    text: rest,
                });
                self.map(column)?
            } else {
                self.inline(rest, n)?
            };
            items.push(item);
        }
        self.depth -= 1;
        Some(Node::Seq(items))
    }

    /// The value on the lines after a `key:` (at column `n`) or a `-` with nothing after it:
    /// a deeper block, a sequence at the key's own column (`indentless`), or null.
    fn nested(&mut self, n: usize, indentless: bool) -> Option<Node<'a>> {
        match self.peek()? {
            Some(line) if line.indent > n && line.text.starts_with(['[', '{']) => {
                // A flow collection on the lines after its key (`annotations:\n    {}`), the
                // whole value.
                self.pending = None;
                let value = flow(line.text)?;
                match self.peek()? {
                    Some(next) if next.indent > n => None,
                    _ => Some(value),
                }
            }
            Some(line) if line.indent > n => {
                if is_seq_item(line.text) {
                    self.seq(line.indent)
                } else {
                    self.map(line.indent)
                }
            }
            Some(line) if indentless && line.indent == n && is_seq_item(line.text) => self.seq(n),
            _ => Some(Node::Scalar(Scalar {
                text: Cow::Borrowed(""),
                plain: true,
            })),
        }
    }

    /// A scalar that starts on the current line (`rest`), owned by a structure at column `n`.
    fn inline(&mut self, rest: &'a str, n: usize) -> Option<Node<'a>> {
        let first = rest.as_bytes()[0];
        let text = match first {
            b'"' => Scalar {
                text: double_quoted(rest)?,
                plain: false,
            },
            b'\'' => Scalar {
                text: single_quoted(rest)?,
                plain: false,
            },
            b'|' => Scalar {
                text: Cow::Owned(self.literal(rest, n)?),
                plain: false,
            },
            b'[' | b'{' => return flow(rest),
            b'&' | b'*' | b'!' | b'>' | b'%' | b'@' | b'`' | b',' | b']' | b'}' => {
                return None;
            }
            b'-' | b'?' | b':' if rest.len() == 1 || rest.as_bytes()[1] == b' ' => return None,
            _ => Scalar {
                text: self.plain(rest, n)?,
                plain: true,
            },
        };
        Some(Node::Scalar(text))
    }

    /// A plain scalar starting with `first`, folded with the following lines indented deeper
    /// than `n`.
    fn plain(&mut self, first: &'a str, n: usize) -> Option<Cow<'a, str>> {
        let mut text = Cow::Borrowed(plain_part(first)?);
        if first.len() != text.len() && first[text.len()..].trim_start().starts_with('#') {
            // A comment ends the scalar.
            return Some(text);
        }
        while let Some((raw, next)) = self.physical(self.pos) {
            let content = raw.trim_start_matches(' ');
            let indent = raw.len() - content.len();
            if content.is_empty() || content.starts_with('#') || indent <= n {
                break;
            }
            if raw.contains('\t') || is_seq_item(content) {
                return None;
            }
            let part = plain_part(content)?;
            let owned = text.to_mut();
            owned.push(' ');
            owned.push_str(part);
            self.pos = next;
            if content[part.len()..].trim_start().starts_with('#') {
                // A comment ends the scalar.
                break;
            }
        }
        Some(text)
    }

    /// A literal block scalar (`|` or `|-`) of a structure at column `n`.
    fn literal(&mut self, header: &str, n: usize) -> Option<String> {
        let keep_last = match header.trim_end_matches(' ') {
            "|" => true,
            "|-" => false,
            _ => return None,
        };
        let mut lines: Vec<&'a str> = Vec::new();
        let mut indent: Option<usize> = None;
        while let Some((raw, next)) = self.physical(self.pos) {
            let content = raw.trim_start_matches(' ');
            let spaces = raw.len() - content.len();
            if content.is_empty() {
                if indent.is_none_or(|m| spaces > m) {
                    // Leading blank lines, or blank lines with spaces beyond the indentation.
                    return None;
                }
                lines.push("");
                self.pos = next;
                continue;
            }
            let m = match indent {
                Some(m) => m,
                None if spaces > n => *indent.insert(spaces),
                None => break,
            };
            if spaces < m {
                break;
            }
            lines.push(&raw[m..]);
            self.pos = next;
        }
        while lines.last() == Some(&"") {
            lines.pop();
        }
        let mut text = lines.join("\n");
        if keep_last && !text.is_empty() {
            text.push('\n');
        }
        Some(text)
    }
}

/// A flow collection on one line, alone or before a comment: an empty one (`[]`, `{}`), or a
/// sequence of quoted scalars and plain words (`["ALL"]`, `[__name__, job]`).
fn flow(rest: &str) -> Option<Node<'_>> {
    if let Some(after) = rest.strip_prefix("{}") {
        return trailer_ok(after).then_some(Node::Map(Vec::new()));
    }
    let bytes = rest.as_bytes();
    if bytes.first() != Some(&b'[') {
        return None;
    }
    let spaces = |mut i: usize| {
        while bytes.get(i) == Some(&b' ') {
            i += 1;
        }
        i
    };
    let mut items = Vec::new();
    let mut i = spaces(1);
    if bytes.get(i) == Some(&b']') {
        return trailer_ok(&rest[i + 1..]).then_some(Node::Seq(items));
    }
    loop {
        let (text, plain, len) = match bytes.get(i)? {
            b'"' => {
                let (text, len) = double_quoted_prefix(&rest[i..])?;
                (text, false, len)
            }
            b'\'' => {
                let (text, len) = single_quoted_prefix(&rest[i..])?;
                (text, false, len)
            }
            b if b.is_ascii_alphanumeric() || *b == b'_' => {
                let len = bytes[i..]
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || b"_./-+".contains(b)))
                    .unwrap_or(bytes.len() - i);
                (Cow::Borrowed(&rest[i..i + len]), true, len)
            }
            _ => return None,
        };
        items.push(Node::Scalar(Scalar { text, plain }));
        i = spaces(i + len);
        match bytes.get(i)? {
            b',' => i = spaces(i + 1),
            b']' => return trailer_ok(&rest[i + 1..]).then_some(Node::Seq(items)),
            _ => return None,
        }
    }
}

/// `-` alone or followed by a space: a block sequence item.
fn is_seq_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// Whether a `- ` item's content is a mapping's first key (`key: ...` or `key:`).
fn looks_like_key(text: &str) -> bool {
    let bytes = text.as_bytes();
    if is_indicator(bytes[0]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b':' if i + 1 == bytes.len() || bytes[i + 1] == b' ' => return true,
            b'#' if i > 0 && bytes[i - 1] == b' ' => return false,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Bytes that cannot start a plain key.
fn is_indicator(b: u8) -> bool {
    matches!(
        b,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    )
}

/// A `key: rest` line split at its colon (`rest` without leading spaces); `None` for keys
/// outside the subset (quoted, complex, merge keys, too long).
fn split_key(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    if is_indicator(bytes[0]) {
        return None;
    }
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b':' if i + 1 == bytes.len() || bytes[i + 1] == b' ' => {
                let key = text[..i].trim_end_matches(' ');
                if key.len() > MAX_KEY || key == "<<" {
                    return None;
                }
                return Some((key, text[i + 1..].trim_start_matches(' ')));
            }
            b'#' if bytes[i - 1] == b' ' => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// A `"key": rest` or `'key': rest` line: a key quoted without escapes (or inner quotes)
/// followed at once by its colon.
fn split_quoted_key(text: &str) -> Option<(&str, &str)> {
    let quote = text.as_bytes()[0];
    let close = text[1..].bytes().position(|b| b == quote || b == b'\\')? + 1;
    if text.as_bytes()[close] != quote {
        return None;
    }
    let key = &text[1..close];
    let after = text[close + 1..].strip_prefix(':')?;
    if !(after.is_empty() || after.starts_with(' ')) || key.len() > MAX_KEY {
        return None;
    }
    Some((key, after.trim_start_matches(' ')))
}

/// The plain scalar text at the start of `text`: up to a comment, trailing spaces removed;
/// `None` when it holds `: ` or ends with `:` (a key, or an error).
fn plain_part(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut end = bytes.len();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b':' if i + 1 == bytes.len() || bytes[i + 1] == b' ' => return None,
            b'#' if i > 0 && bytes[i - 1] == b' ' => {
                end = i;
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let part = text[..end].trim_end_matches(' ');
    (!part.is_empty()).then_some(part)
}

/// What may follow a quoted scalar on its line: nothing, or spaces and a comment.
fn trailer_ok(rest: &str) -> bool {
    let trimmed = rest.trim_start_matches(' ');
    trimmed.is_empty() || (trimmed.starts_with('#') && trimmed.len() < rest.len())
}

/// A single-line double-quoted scalar at the start of `text`, escapes applied.
fn double_quoted(text: &str) -> Option<Cow<'_, str>> {
    let (value, len) = double_quoted_prefix(text)?;
    trailer_ok(&text[len..]).then_some(value)
}

/// The double-quoted scalar at the start of `text` on this line, escapes applied, and its
/// length with the quotes.
fn double_quoted_prefix(text: &str) -> Option<(Cow<'_, str>, usize)> {
    let body = &text[1..];
    let bytes = body.as_bytes();
    let close = bytes.iter().position(|&b| b == b'"' || b == b'\\')?;
    if bytes[close] == b'"' {
        return Some((Cow::Borrowed(&body[..close]), close + 2));
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((Cow::Owned(out), i + 2)),
            '\\' => {
                let (_, e) = chars.next()?;
                let hex = |chars: &mut std::str::CharIndices<'_>, digits: usize| {
                    let mut value = 0u32;
                    for _ in 0..digits {
                        value = value * 16 + chars.next()?.1.to_digit(16)?;
                    }
                    char::from_u32(value)
                };
                out.push(match e {
                    '0' => '\0',
                    'a' => '\u{7}',
                    'b' => '\u{8}',
                    't' | '\t' => '\t',
                    'n' => '\n',
                    'v' => '\u{b}',
                    'f' => '\u{c}',
                    'r' => '\r',
                    'e' => '\u{1b}',
                    ' ' => ' ',
                    '"' => '"',
                    '/' => '/',
                    '\\' => '\\',
                    'N' => '\u{85}',
                    '_' => '\u{a0}',
                    'L' => '\u{2028}',
                    'P' => '\u{2029}',
                    'x' => hex(&mut chars, 2)?,
                    'u' => hex(&mut chars, 4)?,
                    'U' => hex(&mut chars, 8)?,
                    _ => return None,
                });
            }
            _ => out.push(c),
        }
    }
    None
}

/// A single-line single-quoted scalar at the start of `text` (`''` is a quote).
fn single_quoted(text: &str) -> Option<Cow<'_, str>> {
    let (value, len) = single_quoted_prefix(text)?;
    trailer_ok(&text[len..]).then_some(value)
}

/// The single-quoted scalar at the start of `text` on this line, and its length with the
/// quotes.
fn single_quoted_prefix(text: &str) -> Option<(Cow<'_, str>, usize)> {
    let body = &text[1..];
    let mut out: Option<String> = None;
    let mut start = 0;
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                let s = out.get_or_insert_with(String::new);
                s.push_str(&body[start..=i]);
                i += 2;
                start = i;
                continue;
            }
            let value = match out {
                Some(mut s) => {
                    s.push_str(&body[start..i]);
                    Cow::Owned(s)
                }
                None => Cow::Borrowed(&body[..i]),
            };
            return Some((value, i + 2));
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str, plain: bool) -> Node<'_> {
        Node::Scalar(Scalar {
            text: Cow::Borrowed(text),
            plain,
        })
    }

    #[test]
    fn reads_helm_s_layout() {
        let src = "apiVersion: v1\nentries:\n  web:\n  - annotations:\n      a: \"1\"\n      b: |\n        - x\n          y\n\n    description: long words\n      folded here # comment\n    urls:\n    - 'it''s'\n    - \"a\\tb\\u00e9\"\n    empty:\n  -   name: two\ngenerated: 2024\n";
        let root = parse(src).unwrap();
        let expected = Node::Map(vec![
            ("apiVersion", s("v1", true)),
            (
                "entries",
                Node::Map(vec![(
                    "web",
                    Node::Seq(vec![
                        Node::Map(vec![
                            (
                                "annotations",
                                Node::Map(vec![
                                    ("a", s("1", false)),
                                    ("b", s("- x\n  y\n", false)),
                                ]),
                            ),
                            ("description", s("long words folded here", true)),
                            (
                                "urls",
                                Node::Seq(vec![s("it's", false), s("a\tb\u{e9}", false)]),
                            ),
                            ("empty", s("", true)),
                        ]),
                        Node::Map(vec![("name", s("two", true))]),
                    ]),
                )]),
            ),
            ("generated", s("2024", true)),
        ]);
        assert_eq!(root, expected);
    }

    #[test]
    fn gives_up_outside_the_subset() {
        for src in [
            "a: {b: c}\n",
            "a: [a, b,]\n",
            "a: [a b]\n",
            "a: [a: b]\n",
            "a: [[a]]\n",
            "a: [-a]\n",
            "a: [\"a\"\n",
            "a: ['a' x]\n",
            "a: [a]x\n",
            "a: []x\n",
            "a: {}# no space\n",
            "- []\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: >\n  folded\n",
            "a: |2\n  x\n",
            "a: \"multi\n  line\"\n",
            "a: 1\na: 2\n",
            "a:\n\tb: 1\n",
            "a: 1\r\n",
            "---\na: 1\n",
            "a: 1\n...\n",
            "\u{feff}a: 1\n",
            "\"quoted\": 1\n",
            "<<: {}\n",
            "? complex\n: key\n",
            "- a\n",
            "a: b: c\n",
            "a: b\n  c: d\n",
            "a:\n  - - x\n",
            "a: 1\n   b: 2\n",
            "",
            "# only a comment\n",
            "a: \u{85}\n",
        ] {
            assert_eq!(parse(src), None, "{src:?}");
        }
        // Characters outside the subset where a 64-byte chunk ends, and fine ones.
        let pad = "a: ".to_string() + &"x".repeat(58);
        for bad in [
            "\u{85}", "\u{2028}", "\u{feff}", "\u{fffe}", "\u{7f}", "\r", "\u{1}",
        ] {
            assert_eq!(parse(&format!("{pad}{bad}y\n")), None, "{bad:?}");
            assert_eq!(parse(&format!("{pad}x{bad}y\n")), None, "{bad:?}");
        }
        assert!(parse(&format!("{pad}\u{e9}\u{2027}\u{a0}y\n")).is_some());
        assert_eq!(
            parse(
                "a: []\nb: {} # none\nc:\n- {}\nd: [ ]\ne: [ \"x\\ty\" , 'it''s',w_1.2-x ] # c\n"
            ),
            Some(Node::Map(vec![
                ("a", Node::Seq(Vec::new())),
                ("b", Node::Map(Vec::new())),
                ("c", Node::Seq(vec![Node::Map(Vec::new())])),
                ("d", Node::Seq(Vec::new())),
                (
                    "e",
                    Node::Seq(vec![s("x\ty", false), s("it's", false), s("w_1.2-x", true)])
                ),
            ]))
        );
        let quoted = "\"helm.sh/hook\": test\n'a b': c\nm:\n  {}\nl:\n  [x]\n";
        assert_eq!(parse(quoted), None);
        assert_eq!(
            parse_quoted_keys(quoted),
            Some(Node::Map(vec![
                ("helm.sh/hook", s("test", true)),
                ("a b", s("c", true)),
                ("m", Node::Map(Vec::new())),
                ("l", Node::Seq(vec![s("x", true)])),
            ]))
        );
        for src in [
            "\"a\\\"b\": c\n",
            "\"a\" : c\n",
            "\"a\":c\n",
            "\"a\": c\na: d\n",
            "m:\n  {}\n  x: 1\n",
            "m:\n  {} x\n",
        ] {
            assert_eq!(parse_quoted_keys(src), None, "{src:?}");
        }
        let many: String = (0..40).map(|i| format!("k{i}: v\n")).collect();
        assert!(parse(&many).is_some());
        assert_eq!(parse(&format!("{many}k3: again\n")), None);
    }
}
