//! Sprig's string functions: trimming, case, substrings, quoting, indenting, splitting and
//! joining, wrapping and abbreviating, with Sprig's (and goutils' / xstrings') quirks.

use minijinja::{Error, State, Value};

use crate::args::{int_arg, string_arg, string_from_bytes};
use crate::conv::{strings_value, strslice, strval};
use crate::value::{is_nil, map};
use crate::{Registry, go_error, want_args};

/// Registers the string functions.
pub fn register(r: &mut Registry) {
    // Sprig's greeting, part of Helm's function map.
    r.add("hello", |_: &State<'_, '_>, a: &[Value]| {
        crate::want_args("hello", a, 0)?;
        Ok(Value::from("Hello!"))
    });
    r.add("trim", |_: &State<'_, '_>, a: &[Value]| {
        want_args("trim", a, 1)?;
        Ok(Value::from(string_arg(a, 0)?.trim_matches(is_space)))
    });
    r.add("trimAll", trim_all);
    r.add("trimall", trim_all);
    r.add("trimPrefix", |_: &State<'_, '_>, a: &[Value]| {
        want_args("trimPrefix", a, 2)?;
        let (p, s) = (string_arg(a, 0)?, string_arg(a, 1)?);
        Ok(Value::from(s.strip_prefix(p).unwrap_or(s)))
    });
    r.add("trimSuffix", |_: &State<'_, '_>, a: &[Value]| {
        want_args("trimSuffix", a, 2)?;
        let (p, s) = (string_arg(a, 0)?, string_arg(a, 1)?);
        Ok(Value::from(s.strip_suffix(p).unwrap_or(s)))
    });
    r.add("upper", |_: &State<'_, '_>, a: &[Value]| {
        want_args("upper", a, 1)?;
        Ok(Value::from(
            string_arg(a, 0)?.chars().map(to_upper).collect::<String>(),
        ))
    });
    r.add("lower", |_: &State<'_, '_>, a: &[Value]| {
        want_args("lower", a, 1)?;
        Ok(Value::from(
            string_arg(a, 0)?.chars().map(to_lower).collect::<String>(),
        ))
    });
    r.add("title", |_: &State<'_, '_>, a: &[Value]| {
        want_args("title", a, 1)?;
        Ok(Value::from(title(string_arg(a, 0)?)))
    });
    r.add("untitle", |_: &State<'_, '_>, a: &[Value]| {
        want_args("untitle", a, 1)?;
        Ok(Value::from(untitle(string_arg(a, 0)?)))
    });
    r.add("repeat", |_: &State<'_, '_>, a: &[Value]| {
        want_args("repeat", a, 2)?;
        let (n, s) = (int_arg(a, 0)?, string_arg(a, 1)?);
        Ok(Value::from(repeat(s, n)?))
    });
    r.add("substr", |_: &State<'_, '_>, a: &[Value]| {
        want_args("substr", a, 3)?;
        let (start, end, s) = (int_arg(a, 0)?, int_arg(a, 1)?, string_arg(a, 2)?);
        substr(start, end, s).map(Value::from)
    });
    r.add("nospace", |_: &State<'_, '_>, a: &[Value]| {
        want_args("nospace", a, 1)?;
        Ok(Value::from(nospace(string_arg(a, 0)?)))
    });
    r.add("trunc", |_: &State<'_, '_>, a: &[Value]| {
        want_args("trunc", a, 2)?;
        let (c, s) = (int_arg(a, 0)?, string_arg(a, 1)?);
        Ok(Value::from(trunc(c, s)))
    });
    r.add("abbrev", |_: &State<'_, '_>, a: &[Value]| {
        want_args("abbrev", a, 2)?;
        let (w, s) = (int_arg(a, 0)?, string_arg(a, 1)?);
        if w < 4 {
            return Ok(Value::from(s));
        }
        Ok(Value::from(abbreviate(s, 0, w).unwrap_or_default()))
    });
    r.add("abbrevboth", |_: &State<'_, '_>, a: &[Value]| {
        want_args("abbrevboth", a, 3)?;
        let (l, w, s) = (int_arg(a, 0)?, int_arg(a, 1)?, string_arg(a, 2)?);
        if w < 4 || l > 0 && w < 7 {
            return Ok(Value::from(s));
        }
        Ok(Value::from(abbreviate(s, l, w).unwrap_or_default()))
    });
    r.add("initials", |_: &State<'_, '_>, a: &[Value]| {
        want_args("initials", a, 1)?;
        Ok(Value::from(initials(string_arg(a, 0)?)))
    });
    r.add("wrap", |_: &State<'_, '_>, a: &[Value]| {
        want_args("wrap", a, 2)?;
        let (n, s) = (int_arg(a, 0)?, string_arg(a, 1)?);
        Ok(Value::from(wrap(s, n, "", false)))
    });
    r.add("wrapWith", |_: &State<'_, '_>, a: &[Value]| {
        want_args("wrapWith", a, 3)?;
        let (n, sep, s) = (int_arg(a, 0)?, string_arg(a, 1)?, string_arg(a, 2)?);
        Ok(Value::from(wrap(s, n, sep, true)))
    });
    r.add("contains", |_: &State<'_, '_>, a: &[Value]| {
        want_args("contains", a, 2)?;
        Ok(Value::from(string_arg(a, 1)?.contains(string_arg(a, 0)?)))
    });
    r.add("hasPrefix", |_: &State<'_, '_>, a: &[Value]| {
        want_args("hasPrefix", a, 2)?;
        Ok(Value::from(
            string_arg(a, 1)?.starts_with(string_arg(a, 0)?),
        ))
    });
    r.add("hasSuffix", |_: &State<'_, '_>, a: &[Value]| {
        want_args("hasSuffix", a, 2)?;
        Ok(Value::from(string_arg(a, 1)?.ends_with(string_arg(a, 0)?)))
    });
    r.add("quote", |_: &State<'_, '_>, a: &[Value]| {
        let out: Vec<String> = a
            .iter()
            .filter(|v| !is_nil(v))
            .map(|v| crate::fmt::go_quote(&strval(v)))
            .collect();
        Ok(Value::from(out.join(" ")))
    });
    r.add("squote", |_: &State<'_, '_>, a: &[Value]| {
        let out: Vec<String> = a
            .iter()
            .filter(|v| !is_nil(v))
            .map(|v| format!("'{}'", crate::fmt::sprint_value(v)))
            .collect();
        Ok(Value::from(out.join(" ")))
    });
    r.add("cat", |_: &State<'_, '_>, a: &[Value]| {
        let out: Vec<String> = a
            .iter()
            .filter(|v| !is_nil(v))
            .map(crate::fmt::sprint_value)
            .collect();
        Ok(Value::from(out.join(" ")))
    });
    r.add("indent", |_: &State<'_, '_>, a: &[Value]| {
        want_args("indent", a, 2)?;
        let (n, s) = (int_arg(a, 0)?, string_arg(a, 1)?);
        Ok(Value::from(indent(n, s, false)?))
    });
    r.add("nindent", |_: &State<'_, '_>, a: &[Value]| {
        want_args("nindent", a, 2)?;
        let (n, s) = (int_arg(a, 0)?, string_arg(a, 1)?);
        Ok(Value::from(indent(n, s, true)?))
    });
    r.add("replace", |_: &State<'_, '_>, a: &[Value]| {
        want_args("replace", a, 3)?;
        let (old, new, s) = (string_arg(a, 0)?, string_arg(a, 1)?, string_arg(a, 2)?);
        Ok(Value::from(s.replace(old, new)))
    });
    r.add("plural", |_: &State<'_, '_>, a: &[Value]| {
        want_args("plural", a, 3)?;
        let (one, many, n) = (string_arg(a, 0)?, string_arg(a, 1)?, int_arg(a, 2)?);
        Ok(Value::from(if n == 1 { one } else { many }))
    });
    r.add("snakecase", |_: &State<'_, '_>, a: &[Value]| {
        want_args("snakecase", a, 1)?;
        Ok(Value::from(crate::case::to_lower_words(
            string_arg(a, 0)?,
            '_',
        )))
    });
    r.add("kebabcase", |_: &State<'_, '_>, a: &[Value]| {
        want_args("kebabcase", a, 1)?;
        Ok(Value::from(crate::case::to_lower_words(
            string_arg(a, 0)?,
            '-',
        )))
    });
    r.add("camelcase", |_: &State<'_, '_>, a: &[Value]| {
        want_args("camelcase", a, 1)?;
        Ok(Value::from(crate::case::to_pascal(string_arg(a, 0)?)))
    });
    r.add("swapcase", |_: &State<'_, '_>, a: &[Value]| {
        want_args("swapcase", a, 1)?;
        Ok(Value::from(crate::case::swap_case(string_arg(a, 0)?)))
    });
    r.add("shuffle", |_: &State<'_, '_>, a: &[Value]| {
        want_args("shuffle", a, 1)?;
        Ok(Value::from(shuffle(string_arg(a, 0)?)))
    });
    r.add("split", |_: &State<'_, '_>, a: &[Value]| {
        want_args("split", a, 2)?;
        let (sep, s) = (string_arg(a, 0)?, string_arg(a, 1)?);
        Ok(parts_map(go_split(s, sep, -1)))
    });
    r.add("splitn", |_: &State<'_, '_>, a: &[Value]| {
        want_args("splitn", a, 3)?;
        let (sep, n, s) = (string_arg(a, 0)?, int_arg(a, 1)?, string_arg(a, 2)?);
        Ok(parts_map(go_split(s, sep, n)))
    });
    r.add("splitList", |_: &State<'_, '_>, a: &[Value]| {
        want_args("splitList", a, 2)?;
        let (sep, s) = (string_arg(a, 0)?, string_arg(a, 1)?);
        Ok(strings_value(go_split(s, sep, -1)))
    });
    r.add("join", |_: &State<'_, '_>, a: &[Value]| {
        want_args("join", a, 2)?;
        let sep = string_arg(a, 0)?;
        Ok(Value::from(strslice(&a[1]).join(sep)))
    });
    r.add("sortAlpha", |_: &State<'_, '_>, a: &[Value]| {
        want_args("sortAlpha", a, 1)?;
        let mut items = if crate::value::kind(&a[0]) == crate::value::Kind::Slice {
            strslice(&a[0])
        } else {
            vec![strval(&a[0])]
        };
        items.sort();
        Ok(strings_value(items))
    });
}

fn trim_all(_: &State<'_, '_>, a: &[Value]) -> Result<Value, Error> {
    want_args("trimAll", a, 2)?;
    let (cut, s) = (string_arg(a, 0)?, string_arg(a, 1)?);
    Ok(Value::from(s.trim_matches(|c| cut.contains(c))))
}

/// Go's `unicode.IsSpace`.
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Go's `unicode.ToUpper` (a simple, one-character mapping).
pub fn to_upper(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToTitle`: upper case, except the Latin digraphs' title forms.
pub fn to_title(c: char) -> char {
    match c {
        '\u{1C4}'..='\u{1C6}' => '\u{1C5}',
        '\u{1C7}'..='\u{1C9}' => '\u{1C8}',
        '\u{1CA}'..='\u{1CC}' => '\u{1CB}',
        '\u{1F1}'..='\u{1F3}' => '\u{1F2}',
        c => to_upper(c),
    }
}

/// Go's `unicode.ToLower` (a simple, one-character mapping).
pub fn to_lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// Go's `strings.Title`: the first letter of every word in title case.
fn title(s: &str) -> String {
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if title_separator(prev) {
                to_title(c)
            } else {
                c
            };
            prev = c;
            out
        })
        .collect()
}

/// `strings.Title`'s word separators.
fn title_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphabetic() || c.is_numeric() {
        return false;
    }
    is_space(c)
}

/// goutils' `Uncapitalize`: the first letter of every space-separated word lowered.
fn untitle(s: &str) -> String {
    let mut next = true;
    s.chars()
        .map(|c| {
            if is_space(c) {
                next = true;
                c
            } else if next {
                next = false;
                to_lower(c)
            } else {
                c
            }
        })
        .collect()
}

/// Go's `strings.Repeat`, whose panics Helm reports as errors.
fn repeat(s: &str, n: i64) -> Result<String, Error> {
    if n < 0 {
        return Err(go_error("strings: negative Repeat count"));
    }
    if n > 0 && (s.len() as u64).saturating_mul(n as u64) > (1 << 31) {
        return Err(go_error("strings: Repeat output length overflow"));
    }
    Ok(s.repeat(n as usize))
}

/// Sprig's `substr`: byte offsets, with Go's slice-bounds panics as errors.
fn substr(start: i64, end: i64, s: &str) -> Result<String, Error> {
    let b = s.as_bytes();
    let len = b.len() as i64;
    let bounds = |msg: String| go_error(format!("runtime error: slice bounds out of range {msg}"));
    if start < 0 {
        if end < 0 {
            return Err(bounds(format!("[:{end}]")));
        }
        if end > len {
            return Err(bounds(format!("[:{end}] with length {len}")));
        }
        return Ok(string_from_bytes(&b[..end as usize]));
    }
    if end < 0 || end > len {
        if start > len {
            return Err(bounds(format!("[{start}:{len}]")));
        }
        return Ok(string_from_bytes(&b[start as usize..]));
    }
    if start > end {
        return Err(bounds(format!("[{start}:{end}]")));
    }
    Ok(string_from_bytes(&b[start as usize..end as usize]))
}

/// goutils' `DeleteWhiteSpace`: works on bytes, each read as a Latin-1 character.
fn nospace(s: &str) -> String {
    let kept: String = s
        .bytes()
        .map(char::from)
        .filter(|c| !is_space(*c))
        .collect();
    if kept.chars().count() == s.len() {
        return s.to_string();
    }
    kept
}

/// Sprig's `trunc`: the first `c` bytes, or with `c < 0` the last `-c`.
fn trunc(c: i64, s: &str) -> String {
    let b = s.as_bytes();
    let len = b.len() as i64;
    if c < 0 && len + c > 0 {
        return string_from_bytes(&b[(len + c) as usize..]);
    }
    if c >= 0 && len > c {
        return string_from_bytes(&b[..c as usize]);
    }
    s.to_string()
}

/// goutils' `AbbreviateFull` (bytes, not characters); `None` where it returns an error.
fn abbreviate(s: &str, offset: i64, max_width: i64) -> Option<String> {
    let b = s.as_bytes();
    let len = b.len() as i64;
    if s.is_empty() {
        return Some(String::new());
    }
    if max_width < 4 {
        return None;
    }
    if len <= max_width {
        return Some(s.to_string());
    }
    let mut offset = offset.min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    if offset <= 4 {
        return Some(string_from_bytes(&b[..(max_width - 3) as usize]) + "...");
    }
    if max_width < 7 {
        return None;
    }
    if offset + max_width - 3 < len {
        let rest = string_from_bytes(&b[offset as usize..]);
        return Some(format!("...{}", abbreviate(&rest, 0, max_width - 3)?));
    }
    Some(format!(
        "...{}",
        string_from_bytes(&b[(len - (max_width - 3)) as usize..])
    ))
}

/// goutils' `Initials`: the first byte of every space-separated word, read as Latin-1.
fn initials(s: &str) -> String {
    let mut out = String::new();
    let mut gap = true;
    for c in s.bytes().map(char::from) {
        if is_space(c) {
            gap = true;
        } else if gap {
            out.push(c);
            gap = false;
        }
    }
    out
}

/// goutils' `WrapCustom` (byte offsets, spaces only).
fn wrap(s: &str, width: i64, newline: &str, wrap_long: bool) -> String {
    if s.is_empty() {
        return String::new();
    }
    let newline = if newline.is_empty() { "\n" } else { newline };
    let width = width.max(1) as usize;
    let b = s.as_bytes();
    let len = b.len();
    let mut offset = 0usize;
    let mut out: Vec<u8> = Vec::new();
    while len - offset > width {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = width + offset + 1;
        match b[offset..end].iter().rposition(|c| *c == b' ') {
            Some(i) => {
                out.extend_from_slice(&b[offset..offset + i]);
                out.extend_from_slice(newline.as_bytes());
                offset += i + 1;
            }
            None if wrap_long => {
                out.extend_from_slice(&b[offset..offset + width]);
                out.extend_from_slice(newline.as_bytes());
                offset += width;
            }
            None => {
                let end = width + offset;
                match b[end..].iter().position(|c| *c == b' ') {
                    None => {
                        out.extend_from_slice(&b[offset..]);
                        offset = len;
                    }
                    Some(i) => {
                        out.extend_from_slice(&b[offset..end + i]);
                        out.extend_from_slice(newline.as_bytes());
                        offset = end + i + 1;
                    }
                }
            }
        }
    }
    out.extend_from_slice(&b[offset..]);
    string_from_bytes(&out)
}

/// Sprig's `indent`: `n` spaces before every line (`newline`: after a newline, `nindent`),
/// built in one string of the final size.
fn indent(n: i64, s: &str, newline: bool) -> Result<String, Error> {
    let pad = repeat(" ", n)?;
    let lines = 1 + s.bytes().filter(|&b| b == b'\n').count();
    let mut out = String::with_capacity(usize::from(newline) + s.len() + pad.len() * lines);
    if newline {
        out.push('\n');
    }
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&pad);
        out.push_str(line);
    }
    Ok(out)
}

/// xstrings' `Shuffle`: the characters in a random order.
fn shuffle(s: &str) -> String {
    use rand::seq::SliceRandom;
    let mut chars: Vec<char> = s.chars().collect();
    chars.shuffle(&mut rand::rng());
    chars.into_iter().collect()
}

/// Go's `strings.SplitN` (`n < 0`: all parts; an empty separator splits characters).
pub fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<char> = s.chars().collect();
        let mut out: Vec<String> = Vec::new();
        for (i, c) in chars.iter().enumerate() {
            if n > 0 && out.len() as i64 == n - 1 {
                out.push(chars[i..].iter().collect());
                return out;
            }
            out.push(c.to_string());
        }
        return out;
    }
    if n < 0 {
        return s.split(sep).map(str::to_string).collect();
    }
    s.splitn(n as usize, sep).map(str::to_string).collect()
}

/// Sprig's `split` result: a map from `_0`, `_1`, ... to the parts.
fn parts_map(parts: Vec<String>) -> Value {
    map(parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::from(p)))
        .collect())
}

#[cfg(test)]
mod tests {
    use crate::testing::show;

    /// Expected values are Sprig v3.3.0's for the same call in Go 1.26.
    #[test]
    fn strings_match_sprig() {
        let cases: &[(&str, &[&str], &str)] = &[
            // BEGIN GO CASES
            ("trim", &["s:  \t hello \n\u{a0}"], "hello"),
            (
                "trim",
                &["f:3"],
                "ERR:wrong type for value; expected string; got float64",
            ),
            (
                "trim",
                &["n:"],
                "ERR:wrong type for value; expected string; got interface {}",
            ),
            ("trimAll", &["s:$", "s:$$5.00$"], "5.00"),
            ("trimall", &["s:ab", "s:abcba"], "c"),
            ("trimPrefix", &["s:foo", "s:foobar"], "bar"),
            ("trimSuffix", &["s:-", "s:name-"], "name"),
            ("trimSuffix", &["s:-", "s:name--"], "name-"),
            ("upper", &["s:héllo ß ŉ"], "HÉLLO ß ŉ"),
            ("lower", &["s:HÉLLO İ"], "héllo i"),
            (
                "title",
                &["s:hello wOrld foo_bar foo-bar 3am élan x.y"],
                "Hello WOrld Foo_bar Foo-Bar 3am Élan X.Y",
            ),
            ("untitle", &["s:Hello World FOO"], "hello world fOO"),
            ("repeat", &["i:3", "s:ab"], "ababab"),
            (
                "repeat",
                &["i:-1", "s:ab"],
                "ERR:strings: negative Repeat count",
            ),
            (
                "repeat",
                &["f:3", "s:ab"],
                "ERR:wrong type for value; expected int; got float64",
            ),
            ("substr", &["i:1", "i:3", "s:abcdef"], "bc"),
            ("substr", &["i:-1", "i:3", "s:abcdef"], "abc"),
            ("substr", &["i:2", "i:-1", "s:abcdef"], "cdef"),
            ("substr", &["i:2", "i:99", "s:abcdef"], "cdef"),
            (
                "substr",
                &["i:4", "i:2", "s:abcdef"],
                "ERR:runtime error: slice bounds out of range [4:2]",
            ),
            (
                "substr",
                &["i:9", "i:99", "s:abcdef"],
                "ERR:runtime error: slice bounds out of range [9:6]",
            ),
            (
                "substr",
                &["i:-1", "i:9", "s:abcdef"],
                "ERR:runtime error: slice bounds out of range [:9] with length 6",
            ),
            (
                "substr",
                &["i:-1", "i:-1", "s:abcdef"],
                "ERR:runtime error: slice bounds out of range [:-1]",
            ),
            ("substr", &["i:0", "i:2", "s:héllo"], "h�"),
            ("nospace", &["s:h e\tl\nl o"], "hello"),
            ("nospace", &["s:héllo wörld"], "hÃ©llowÃ¶rld"),
            ("nospace", &["s:hello"], "hello"),
            ("trunc", &["i:3", "s:abcdef"], "abc"),
            ("trunc", &["i:-2", "s:abcdef"], "ef"),
            ("trunc", &["i:-9", "s:abcdef"], "abcdef"),
            ("trunc", &["i:63", "s:abcdef"], "abcdef"),
            ("trunc", &["i:0", "s:abcdef"], ""),
            (
                "trunc",
                &["I:3", "s:abcdef"],
                "ERR:wrong type for value; expected int; got int64",
            ),
            ("abbrev", &["i:5", "s:hello world"], "he..."),
            ("abbrev", &["i:3", "s:hello world"], "hello world"),
            ("abbrev", &["i:20", "s:hello world"], "hello world"),
            (
                "abbrevboth",
                &["i:5", "i:10", "s:1234 5678 9123"],
                "...5678...",
            ),
            (
                "abbrevboth",
                &["i:1", "i:6", "s:1234 5678 9123"],
                "1234 5678 9123",
            ),
            (
                "abbrevboth",
                &["i:10", "i:8", "s:abcdefghijklmnopqrstuvwxyz"],
                "...kl...",
            ),
            (
                "abbrevboth",
                &["i:3", "i:8", "s:abcdefghijklmnopqrstuvwxyz"],
                "abcde...",
            ),
            (
                "abbrevboth",
                &["i:30", "i:8", "s:abcdefghijklmnopqrstuvwxyz"],
                "...vwxyz",
            ),
            ("initials", &["s:First Try  élan"], "FTÃ"),
            (
                "wrap",
                &["i:5", "s:Hello World, this is a test"],
                "Hello\nWorld,\nthis\nis a\ntest",
            ),
            ("wrap", &["i:3", "s:abcdefgh ij"], "abcdefgh\nij"),
            ("wrap", &["i:0", "s:a b c"], "a\nb\nc"),
            (
                "wrapWith",
                &["i:5", "s:\t", "s:Hello World"],
                "Hello\tWorld",
            ),
            (
                "wrapWith",
                &["i:3", "s:|", "s:abcdefgh ij"],
                "abc|def|gh|ij",
            ),
            ("contains", &["s:cat", "s:catch"], "true"),
            ("contains", &["s:dog", "s:catch"], "false"),
            ("hasPrefix", &["s:cat", "s:catch"], "true"),
            ("hasSuffix", &["s:ch", "s:catch"], "true"),
            ("quote", &["s:a\"b"], "\"a\\\"b\""),
            (
                "quote",
                &["s:a", "n:", "i:1", "f:1e6", "j:[1]"],
                "\"a\" \"1\" \"1e+06\" \"[1]\"",
            ),
            ("quote", &[], ""),
            ("squote", &["s:a", "n:", "i:1", "f:1.5"], "'a' '1' '1.5'"),
            (
                "cat",
                &["s:a", "n:", "i:1", "s:b", "j:[1,2]"],
                "a 1 b [1 2]",
            ),
            ("cat", &[], ""),
            ("indent", &["i:2", "s:a\nb\n"], "  a\n  b\n  "),
            ("indent", &["i:0", "s:a"], "a"),
            (
                "indent",
                &["i:-1", "s:a"],
                "ERR:strings: negative Repeat count",
            ),
            ("nindent", &["i:4", "s:a\nb"], "\n    a\n    b"),
            (
                "nindent",
                &["f:4", "s:a"],
                "ERR:wrong type for value; expected int; got float64",
            ),
            ("replace", &["s:a", "s:b", "s:banana"], "bbnbnb"),
            ("replace", &["s:", "s:-", "s:abc"], "-a-b-c-"),
            ("plural", &["s:one", "s:many", "i:1"], "one"),
            ("plural", &["s:one", "s:many", "i:2"], "many"),
            ("snakecase", &["s:FirstName"], "first_name"),
            ("snakecase", &["s:HTTPServer"], "http_server"),
            ("snakecase", &["s:foo-bar baz"], "foo_bar_baz"),
            ("snakecase", &["s:a1b2 C3D"], "a_1b2_c3_d"),
            ("snakecase", &["s:version2Beta"], "version2_beta"),
            ("snakecase", &["s:getHTTP2Response"], "get_http2_response"),
            ("snakecase", &["s:__private_Field"], "__private_field"),
            ("snakecase", &["s:hello.World"], "hello.world"),
            (
                "kebabcase",
                &["s:FirstName LastName"],
                "first-name-last-name",
            ),
            ("kebabcase", &["s:myAPIKey"], "my-api-key"),
            ("camelcase", &["s:http_server"], "HttpServer"),
            ("camelcase", &["s:foo-bar baz"], "FooBarBaz"),
            ("camelcase", &["s:_foo"], "_Foo"),
            ("camelcase", &["s:HELLO_WORLD"], "HelloWorld"),
            ("camelcase", &["s:hello"], "Hello"),
            ("camelcase", &["s:__"], "___"),
            ("swapcase", &["s:This Is A.Test"], "tHIS iS a.tEST"),
            ("swapcase", &["s:hello WORLD ǅ"], "HELLO world ǆ"),
            (
                "split",
                &["s:$", "s:foo$bar$baz"],
                "map[_0:foo _1:bar _2:baz]",
            ),
            ("split", &["s:", "s:abc"], "map[_0:a _1:b _2:c]"),
            (
                "splitn",
                &["s:$", "i:2", "s:foo$bar$baz"],
                "map[_0:foo _1:bar$baz]",
            ),
            ("splitn", &["s:$", "i:0", "s:foo$bar$baz"], "map[]"),
            ("splitn", &["s:", "i:2", "s:abc"], "map[_0:a _1:bc]"),
            ("splitList", &["s:,", "s:a,b,,c"], "[a b  c]"),
            ("splitList", &["s:,", "s:"], "[]"),
            ("join", &["s:-", "j:[1,\"a\",null,true]"], "1-a-true"),
            ("join", &["s:-", "s:abc"], "abc"),
            ("join", &["s:-", "n:"], ""),
            (
                "join",
                &["i:1", "j:[1]"],
                "ERR:wrong type for value; expected string; got int",
            ),
            ("sortAlpha", &["j:[\"b\",\"a\",\"C\",1]"], "[1 C a b]"),
            ("sortAlpha", &["s:abc"], "[abc]"),
            ("sortAlpha", &["n:"], "[<nil>]"),
            (
                "contains",
                &["n:", "s:x"],
                "ERR:wrong type for value; expected string; got interface {}",
            ),
            ("upper", &["s:"], ""),
            ("title", &["s:hello_world"], "Hello_world"),
            ("upper", &["s:ǆ ǅ ﬀ ı i"], "Ǆ Ǆ ﬀ I I"),
            ("lower", &["s:ǅ Σ ẞ K"], "ǆ σ ß k"),
            (
                "title",
                &["s:ǆemal élan ñu 'quoted' o'neil 1st"],
                "ǅemal Élan Ñu 'Quoted' O'Neil 1st",
            ),
            ("title", &["s:hello\u{a0}world　x"], "Hello\u{a0}World　X"),
            ("untitle", &["s:Élan\tÑu"], "élan\tñu"),
            ("swapcase", &["s:ß ǅ éÉ"], "ß ǆ Éé"),
            ("trimAll", &["s:é", "s:éaé"], "a"),
            ("trim", &["s:\u{85}x\u{2028}"], "x"),
            ("abbrev", &["i:5", "s:héllo wörld"], "h�..."),
            ("wrap", &["i:4", "s:héllo wörld"], "héllo\nwörld"),
            ("initials", &["s:\tA b\nc"], "Abc"),
            ("snakecase", &["s:HelloWorld123Foo"], "hello_world123_foo"),
            ("snakecase", &["s:ABC"], "abc"),
            ("snakecase", &["s:a"], "a"),
            ("snakecase", &["s:123abc"], "123abc"),
            ("snakecase", &["s:a-B-c"], "a_b_c"),
            ("snakecase", &["s:Hello, World!"], "hello,_world!"),
            ("snakecase", &["s:  leading"], "__leading"),
            ("snakecase", &["s:x__y"], "x__y"),
            ("snakecase", &["s:ÀÉÎ êtes"], "àéî_êtes"),
            ("kebabcase", &["s:some_var-name Here"], "some-var-name-here"),
            ("camelcase", &["s:some_var-name Here"], "SomeVarNameHere"),
            ("camelcase", &["s:aBC_dEF"], "ABCDEF"),
            ("camelcase", &["s:ABC"], "Abc"),
            ("camelcase", &["s:x"], "X"),
            ("camelcase", &["s:_"], "__"),
            ("camelcase", &["s:-a-"], "-A-"),
            ("camelcase", &["s:hello world_"], "HelloWorld_"),
            ("nospace", &["s:a\u{a0}b"], "aÂb"),
            ("substr", &["i:1", "i:1", "s:abc"], ""),
            ("substr", &["i:3", "i:-1", "s:abc"], ""),
            ("trunc", &["i:-3", "s:abc"], "abc"),
            ("replace", &["s:é", "s:e", "s:héllo"], "hello"),
            (
                "cat",
                &["f:1.5", "b:true", "j:{\"a\":1}"],
                "1.5 true map[a:1]",
            ),
            ("squote", &["j:[1,\"a\"]"], "'[1 a]'"),
            (
                "quote",
                &["s:tab\there", "s:é\u{7}"],
                "\"tab\\there\" \"é\\a\"",
            ),
            ("indent", &["i:2", "s:"], "  "),
            ("nindent", &["i:2", "s:"], "\n  "),
            ("splitList", &["s:", "s:héllo"], "[h é l l o]"),
            ("splitn", &["s:,", "i:-1", "s:a,b,c"], "map[_0:a _1:b _2:c]"),
            ("splitn", &["s:,", "i:1", "s:a,b,c"], "map[_0:a,b,c]"),
            ("sortAlpha", &["j:[\"é\",\"z\",\"a\",\"B\"]"], "[B a z é]"),
            ("join", &["s:, ", "j:[[1,2],{\"a\":1}]"], "[1 2], map[a:1]"),
            ("trimPrefix", &["s:", "s:abc"], "abc"),
            ("hasPrefix", &["s:", "s:abc"], "true"),
            ("contains", &["s:", "s:"], "true"),
            ("repeat", &["i:0", "s:ab"], ""),
            (
                "plural",
                &["s:a", "s:b", "I:1"],
                "ERR:wrong type for value; expected int; got int64",
            ),
            ("wrapWith", &["i:2", "s:", "s:abcdef"], "ab\ncd\nef"),
            ("wrap", &["i:10", "s:short"], "short"),
            (
                "wrap",
                &["i:5", "s:   lead  spaces here"],
                "lead \nspaces\nhere",
            ),
            // END GO CASES
        ];
        for (name, args, want) in cases {
            assert_eq!(show(name, args), *want, "{name} {args:?}");
        }
    }
}
