//! Sprig's regular expression functions on Go's RE2 syntax: Go's patterns are checked and
//! rewritten for the `regex` crate (ASCII `\d \w \s \b`, literal `{` where Go has no
//! repetition), Go's parse errors are reproduced, and `$1` / `${name}` expand as Go does.

use minijinja::{Error, State, Value};

use crate::args::{int_arg, string_arg};
use crate::conv::strings_value;
use crate::pattern::{Groups, Pattern};
use crate::{Registry, go_error, want_args};

/// Registers the regex functions and their `must` variants.
pub fn register(r: &mut Registry) {
    r.add("regexMatch", |_: &State<'_, '_>, a: &[Value]| {
        want_args("regexMatch", a, 2)?;
        let (re, s) = (string_arg(a, 0)?, string_arg(a, 1)?);
        Ok(Value::from(compile(re).is_ok_and(|r| r.is_match(s))))
    });
    r.add("mustRegexMatch", |_: &State<'_, '_>, a: &[Value]| {
        want_args("mustRegexMatch", a, 2)?;
        let (re, s) = (string_arg(a, 0)?, string_arg(a, 1)?);
        Ok(Value::from(must(re)?.is_match(s)))
    });
    r.add("regexFindAll", |_: &State<'_, '_>, a: &[Value]| {
        find_all(a, "regexFindAll", false)
    });
    r.add("mustRegexFindAll", |_: &State<'_, '_>, a: &[Value]| {
        find_all(a, "mustRegexFindAll", true)
    });
    r.add("regexFind", |_: &State<'_, '_>, a: &[Value]| {
        find(a, "regexFind", false)
    });
    r.add("mustRegexFind", |_: &State<'_, '_>, a: &[Value]| {
        find(a, "mustRegexFind", true)
    });
    r.add("regexReplaceAll", |_: &State<'_, '_>, a: &[Value]| {
        replace(a, "regexReplaceAll", false, false)
    });
    r.add("mustRegexReplaceAll", |_: &State<'_, '_>, a: &[Value]| {
        replace(a, "mustRegexReplaceAll", true, false)
    });
    r.add(
        "regexReplaceAllLiteral",
        |_: &State<'_, '_>, a: &[Value]| replace(a, "regexReplaceAllLiteral", false, true),
    );
    r.add(
        "mustRegexReplaceAllLiteral",
        |_: &State<'_, '_>, a: &[Value]| replace(a, "mustRegexReplaceAllLiteral", true, true),
    );
    r.add("regexSplit", |_: &State<'_, '_>, a: &[Value]| {
        split(a, "regexSplit", false)
    });
    r.add("mustRegexSplit", |_: &State<'_, '_>, a: &[Value]| {
        split(a, "mustRegexSplit", true)
    });
    r.add("regexQuoteMeta", |_: &State<'_, '_>, a: &[Value]| {
        want_args("regexQuoteMeta", a, 1)?;
        Ok(Value::from(quote_meta(string_arg(a, 0)?)))
    });
}

/// `regexp.Compile` for a `must` function: Go's error.
fn must(re: &str) -> Result<Pattern, Error> {
    compile(re).map_err(go_error)
}

/// `regexp.MustCompile` for the others: Go's panic, which Helm reports as the error.
fn must_compile(re: &str) -> Result<Pattern, Error> {
    compile(re).map_err(|e| {
        let quoted = if re
            .chars()
            .all(|c| c != '`' && (c == '\t' || !c.is_control()))
        {
            format!("`{re}`")
        } else {
            crate::fmt::go_quote(re)
        };
        go_error(format!("regexp: Compile({quoted}): {e}"))
    })
}

fn compile_for(re: &str, must_fn: bool) -> Result<Pattern, Error> {
    if must_fn { must(re) } else { must_compile(re) }
}

fn find(a: &[Value], name: &str, must_fn: bool) -> Result<Value, Error> {
    want_args(name, a, 2)?;
    let (re, s) = (string_arg(a, 0)?, string_arg(a, 1)?);
    let r = compile_for(re, must_fn)?;
    Ok(Value::from(r.find(s).map_or("", |m| m.as_str())))
}

fn find_all(a: &[Value], name: &str, must_fn: bool) -> Result<Value, Error> {
    want_args(name, a, 3)?;
    let (re, s, n) = (string_arg(a, 0)?, string_arg(a, 1)?, int_arg(a, 2)?);
    let r = compile_for(re, must_fn)?;
    Ok(strings_value(
        matches(&r, s, n)
            .into_iter()
            .map(|(b, e)| s[b..e].to_string())
            .collect(),
    ))
}

fn replace(a: &[Value], name: &str, must_fn: bool, literal: bool) -> Result<Value, Error> {
    want_args(name, a, 3)?;
    let (re, s, repl) = (string_arg(a, 0)?, string_arg(a, 1)?, string_arg(a, 2)?);
    let r = compile_for(re, must_fn)?;
    let out = if literal {
        r.replace_all(s, |_, out| out.push_str(repl))
    } else {
        let names: Vec<Option<String>> = r.capture_names().map(|n| n.map(str::to_string)).collect();
        r.replace_all(s, |groups, out| expand(repl, groups, &names, out))
    };
    Ok(Value::from(out))
}

fn split(a: &[Value], name: &str, must_fn: bool) -> Result<Value, Error> {
    want_args(name, a, 3)?;
    let (re, s, n) = (string_arg(a, 0)?, string_arg(a, 1)?, int_arg(a, 2)?);
    let r = compile_for(re, must_fn)?;
    Ok(strings_value(go_split(&r, re, s, n)))
}

/// Go's `Regexp.Expand`: `$1`, `${1}`, `$name`, `${name}` (the longest name of letters,
/// digits and `_`; a number with a leading zero is a name), `$$`; a `$` starting no valid
/// reference is kept.
fn expand(template: &str, caps: &Groups<'_>, names: &[Option<String>], out: &mut String) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest[1..].starts_with('$') {
            out.push('$');
            rest = &rest[2..];
            continue;
        }
        match extract(&rest[1..]) {
            Some((name, after)) => {
                let num = if name.bytes().all(|b| b.is_ascii_digit())
                    && !(name.starts_with('0') && name.len() > 1)
                    && name.len() <= 8
                {
                    name.parse::<usize>().ok()
                } else {
                    None
                };
                let group = match num {
                    Some(n) => caps.get(n),
                    None => names
                        .iter()
                        .enumerate()
                        .filter(|(_, n)| n.as_deref() == Some(name))
                        .find_map(|(k, _)| caps.get(k)),
                };
                if let Some(m) = group {
                    out.push_str(m.as_str());
                }
                rest = after;
            }
            None => {
                out.push('$');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

/// Go's `extract`: a reference name at the start of `s` (after the `$`) and the rest.
fn extract(s: &str) -> Option<(&str, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body
        .char_indices()
        .find(|(_, c)| !(c.is_alphabetic() || c.is_numeric() || *c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    if brace {
        if !body[end..].starts_with('}') {
            return None;
        }
        return Some((name, &body[end + 1..]));
    }
    Some((name, &body[end..]))
}

/// Go's `FindAllStringIndex(s, n)`: at most `n` matches (all when `n < 0`), an empty match
/// right after a match skipped.
fn matches(r: &Pattern, s: &str, n: i64) -> Vec<(usize, usize)> {
    if n == 0 {
        return Vec::new();
    }
    let mut out: Vec<(usize, usize)> = Vec::new();
    for m in r.find_iter(s) {
        if n > 0 && out.len() as i64 >= n {
            break;
        }
        out.push((m.start(), m.end()));
    }
    out
}

/// Go's `Regexp.Split`.
fn go_split(r: &Pattern, expr: &str, s: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if !expr.is_empty() && s.is_empty() {
        return vec![String::new()];
    }
    let found = matches(r, s, n);
    let mut out: Vec<String> = Vec::new();
    let (mut beg, mut end) = (0usize, 0usize);
    for (b, e) in found {
        if n > 0 && out.len() as i64 == n - 1 {
            break;
        }
        end = b;
        if e != 0 {
            out.push(s[beg..end].to_string());
        }
        beg = e;
    }
    if end != s.len() {
        out.push(s[beg..].to_string());
    }
    out
}

/// Go's `regexp.QuoteMeta`.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Go's `regexp.Compile`: the pattern checked with Go's rules and errors, then compiled.
/// Compiled patterns are kept per thread (charts call `regexReplaceAll` with the same few
/// patterns on every render); a `Pattern` clone shares its compiled program.
pub fn compile(re: &str) -> Result<Pattern, String> {
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<String, Pattern>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    if let Some(hit) = CACHE.with(|c| c.borrow().get(re).cloned()) {
        return Ok(hit);
    }
    let compiled = compile_uncached(re)?;
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(re.to_string(), compiled.clone());
    });
    Ok(compiled)
}

fn compile_uncached(re: &str) -> Result<Pattern, String> {
    let translated =
        translate(re).map_err(|(code, expr)| format!("error parsing regexp: {code}: `{expr}`"))?;
    Pattern::new(&translated).map_err(|e| {
        let msg = e.to_string();
        let last = msg.lines().last().unwrap_or_default().trim().to_string();
        format!(
            "error parsing regexp: {}: `{re}`",
            last.trim_start_matches("error: ")
        )
    })
}

/// A Go parse error: its code text and the expression it quotes.
type ParseError = (&'static str, String);

/// Rewrites a Go pattern for the `regex` crate, failing as Go's parser does.
fn translate(re: &str) -> Result<String, ParseError> {
    let chars: Vec<char> = re.chars().collect();
    let text = |a: usize, b: usize| -> String { chars[a..b.min(chars.len())].iter().collect() };
    let mut out = String::with_capacity(re.len() + 16);
    let mut depth = 0usize;
    // Whether the last item can take a repetition, and where the last repetition started
    // (for Go's nested repetition error).
    let mut can_repeat = false;
    let mut last_rep: Option<usize> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if chars.get(i + 1) == Some(&'Q') => {
                // `\Q...\E`: everything between is literal.
                let mut j = i + 2;
                while j < chars.len() && !(chars[j] == '\\' && chars.get(j + 1) == Some(&'E')) {
                    out.push_str(&regex::escape(&chars[j].to_string()));
                    j += 1;
                }
                can_repeat = j > i + 2;
                i = if j < chars.len() { j + 2 } else { j };
                last_rep = None;
                continue;
            }
            '\\' => {
                let (piece, next) = escape(&chars, i, false)?;
                out.push_str(&piece);
                i = next;
                can_repeat = true;
                last_rep = None;
                continue;
            }
            '[' => {
                let (piece, next) = class(&chars, i)?;
                out.push_str(&piece);
                i = next;
                can_repeat = true;
                last_rep = None;
                continue;
            }
            '(' => {
                if chars.get(i + 1) == Some(&'?') {
                    let (piece, next, group) = group_flags(&chars, i)?;
                    out.push_str(&piece);
                    i = next;
                    if group {
                        depth += 1;
                        can_repeat = false;
                    }
                    last_rep = None;
                    continue;
                }
                depth += 1;
                out.push('(');
                can_repeat = false;
                last_rep = None;
            }
            ')' => {
                if depth == 0 {
                    return Err(("unexpected )", re.to_string()));
                }
                depth -= 1;
                out.push(')');
                can_repeat = true;
                last_rep = None;
            }
            '|' => {
                out.push('|');
                can_repeat = false;
                last_rep = None;
            }
            '*' | '+' | '?' | '{' => {
                let (len, valid) = if c == '{' {
                    repeat_braces(&chars, i)?
                } else {
                    (1, true)
                };
                if !valid {
                    // Go reads a `{` that starts no repetition as a literal.
                    out.push_str("\\{");
                    i += 1;
                    can_repeat = true;
                    last_rep = None;
                    continue;
                }
                let mut end = i + len;
                if chars.get(end) == Some(&'?') {
                    end += 1;
                }
                if let Some(start) = last_rep {
                    return Err(("invalid nested repetition operator", text(start, end)));
                }
                if !can_repeat {
                    return Err(("missing argument to repetition operator", text(i, i + len)));
                }
                out.push_str(&text(i, end));
                last_rep = Some(i);
                i = end;
                continue;
            }
            c => {
                out.push(c);
                can_repeat = true;
                last_rep = None;
            }
        }
        i += 1;
    }
    if depth > 0 {
        return Err(("missing closing )", re.to_string()));
    }
    Ok(out)
}

/// A `{...}` at `i`: its length and whether it is a valid Go repetition (`{n}`, `{n,}`,
/// `{n,m}` with counts up to 1000).
fn repeat_braces(chars: &[char], i: usize) -> Result<(usize, bool), ParseError> {
    let mut j = i + 1;
    let num = |j: &mut usize| -> Option<u32> {
        let start = *j;
        while *j < chars.len() && chars[*j].is_ascii_digit() {
            *j += 1;
        }
        if *j == start {
            return None;
        }
        let s: String = chars[start..*j].iter().collect();
        Some(s.parse().unwrap_or(u32::MAX))
    };
    let Some(min) = num(&mut j) else {
        return Ok((1, false));
    };
    let mut max = Some(min);
    if chars.get(j) == Some(&',') {
        j += 1;
        max = if chars.get(j) == Some(&'}') {
            None
        } else {
            match num(&mut j) {
                Some(m) => Some(m),
                None => return Ok((1, false)),
            }
        };
    }
    if chars.get(j) != Some(&'}') {
        return Ok((1, false));
    }
    j += 1;
    if min > 1000 || max.is_some_and(|m| m > 1000 || m < min) {
        return Err(("invalid repeat count", chars[i..j].iter().collect()));
    }
    Ok((j - i, true))
}

/// An escape at `chars[i] == '\\'`: its `regex` form and the index after it.
fn escape(chars: &[char], i: usize, in_class: bool) -> Result<(String, usize), ParseError> {
    let Some(&c) = chars.get(i + 1) else {
        return Err(("trailing backslash at end of expression", String::new()));
    };
    let two = || -> String { chars[i..i + 2].iter().collect() };
    let piece = match c {
        'd' if in_class => "0-9".to_string(),
        'd' => "[0-9]".to_string(),
        'D' => "[^0-9]".to_string(),
        'w' if in_class => "0-9A-Za-z_".to_string(),
        'w' => "[0-9A-Za-z_]".to_string(),
        'W' => "[^0-9A-Za-z_]".to_string(),
        's' if in_class => r"\t\n\f\r ".to_string(),
        's' => r"[\t\n\f\r ]".to_string(),
        'S' => r"[^\t\n\f\r ]".to_string(),
        'b' if !in_class => r"(?-u:\b)".to_string(),
        'B' if !in_class => r"(?-u:\B)".to_string(),
        'A' | 'z' if !in_class => two(),
        'a' => r"\x07".to_string(),
        'f' | 'n' | 'r' | 't' | 'v' => two(),
        'p' | 'P' => {
            // `\pL` or `\p{Greek}`.
            if chars.get(i + 2) == Some(&'{') {
                let close = chars[i + 2..]
                    .iter()
                    .position(|x| *x == '}')
                    .map(|p| i + 2 + p);
                let Some(close) = close else {
                    return Err(("invalid character class range", chars[i..].iter().collect()));
                };
                return Ok((chars[i..=close].iter().collect(), close + 1));
            }
            if i + 2 >= chars.len() {
                return Err(("invalid character class range", chars[i..].iter().collect()));
            }
            return Ok((chars[i..i + 3].iter().collect(), i + 3));
        }
        'x' => {
            if chars.get(i + 2) == Some(&'{') {
                let close = chars[i + 2..].iter().position(|x| *x == '}');
                let Some(p) = close else {
                    return Err(("invalid escape sequence", chars[i..].iter().collect()));
                };
                return Ok((chars[i..=i + 2 + p].iter().collect(), i + 3 + p));
            }
            let hex: String = chars.iter().skip(i + 2).take(2).collect();
            if hex.len() != 2 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                return Err((
                    "invalid escape sequence",
                    chars[i..(i + 2 + hex.len()).min(chars.len())]
                        .iter()
                        .collect(),
                ));
            }
            return Ok((format!("\\x{hex}"), i + 4));
        }
        '0'..='7' => {
            // Go's octal escapes: `\0`, or a non-zero digit followed by more octal digits
            // (a lone `\1`-`\7` would be a backreference, which Go refuses).
            if c != '0' && !chars.get(i + 2).is_some_and(|d| ('0'..='7').contains(d)) {
                return Err(("invalid escape sequence", two()));
            }
            let mut j = i + 2;
            while j < chars.len() && j < i + 4 && ('0'..='7').contains(&chars[j]) {
                j += 1;
            }
            let digits: String = chars[i + 1..j].iter().collect();
            let v = u32::from_str_radix(&digits, 8).unwrap_or(0);
            return Ok((format!("\\x{{{v:x}}}"), j));
        }
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => format!("\\{c}"),
        _ => return Err(("invalid escape sequence", two())),
    };
    Ok((piece, i + 2))
}

/// A character class at `chars[i] == '['`: its `regex` form and the index after it.
fn class(chars: &[char], i: usize) -> Result<(String, usize), ParseError> {
    let missing = || ("missing closing ]", chars[i..].iter().collect::<String>());
    let mut out = String::from("[");
    let mut j = i + 1;
    if chars.get(j) == Some(&'^') {
        out.push('^');
        j += 1;
    }
    let mut first = true;
    // The previous single character, for checking ranges.
    while j < chars.len() {
        let c = chars[j];
        if c == ']' && !first {
            out.push(']');
            return Ok((out, j + 1));
        }
        first = false;
        if c == '[' && chars.get(j + 1) == Some(&':') {
            let rest: String = chars[j..].iter().collect();
            if let Some(end) = rest.find(":]") {
                let name = &rest[..end + 2];
                let known = [
                    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower",
                    "print", "punct", "space", "upper", "word", "xdigit",
                ];
                let inner = name[2..name.len() - 2].trim_start_matches('^');
                if !known.contains(&inner) {
                    return Err(("invalid character class range", name.to_string()));
                }
                out.push_str(name);
                j += name.chars().count();
                continue;
            }
        }
        // One class item: a character or an escape, maybe the start of a range.
        let start = j;
        let (lo, lo_char, next) = class_char(chars, j)?;
        j = next;
        // A `-` after a class escape such as `\w` is a literal, as in Go.
        if lo_char.is_some()
            && chars.get(j) == Some(&'-')
            && chars.get(j + 1).is_some_and(|x| *x != ']')
        {
            let (hi, hi_char, next) = class_char(chars, j + 1)?;
            let Some(b) = hi_char else {
                // Go reads a range's end as one character: `\w` there is no escape.
                return Err((
                    "invalid escape sequence",
                    chars[j + 1..(j + 3).min(chars.len())].iter().collect(),
                ));
            };
            let bad_range = lo_char.is_some_and(|a| b < a);
            if bad_range {
                return Err((
                    "invalid character class range",
                    chars[start..next].iter().collect(),
                ));
            }
            out.push_str(&lo);
            out.push('-');
            out.push_str(&hi);
            j = next;
            continue;
        }
        out.push_str(&lo);
    }
    Err(missing())
}

/// One class item at `j`: its `regex` form, the character if it is a single one, and the
/// index after it.
fn class_char(chars: &[char], j: usize) -> Result<(String, Option<char>, usize), ParseError> {
    let c = chars[j];
    if c == '\\' {
        let (piece, next) = escape(chars, j, true)?;
        let single = if next == j + 2 {
            let e = chars[j + 1];
            match e {
                'n' => Some('\n'),
                't' => Some('\t'),
                'r' => Some('\r'),
                'f' => Some('\u{c}'),
                'v' => Some('\u{b}'),
                'a' => Some('\u{7}'),
                e if e.is_ascii_punctuation() => Some(e),
                _ => None,
            }
        } else {
            None
        };
        return Ok((piece, single, next));
    }
    let piece = if "[&~-".contains(c) {
        format!("\\{c}")
    } else {
        c.to_string()
    };
    Ok((piece, Some(c), j + 1))
}

/// A `(?` group at `i`: flags (`(?i)`, `(?i:`), or a named capture (`(?P<name>`,
/// `(?<name>`); returns its text, the index after it, and whether it opens a group.
fn group_flags(chars: &[char], i: usize) -> Result<(String, usize, bool), ParseError> {
    let rest: String = chars[i..].iter().collect();
    let named = rest
        .strip_prefix("(?P<")
        .map(|r| (r, 4))
        .or_else(|| rest.strip_prefix("(?<").map(|r| (r, 3)));
    if let Some((r, skip)) = named {
        let Some(end) = r.find('>') else {
            return Err(("invalid named capture", rest));
        };
        let name = &r[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(("invalid named capture", rest[..skip + end + 1].to_string()));
        }
        let len = skip + end + 1;
        return Ok((
            format!("(?P<{name}>"),
            i + rest[..len].chars().count(),
            true,
        ));
    }
    // Flags: `(?flags)` or `(?flags:`.
    let mut j = i + 2;
    let mut seen_minus = false;
    while j < chars.len() {
        match chars[j] {
            'i' | 'm' | 's' | 'U' => {}
            '-' if !seen_minus => seen_minus = true,
            ':' | ')' => {
                let opens = chars[j] == ':';
                let text: String = chars[i..=j].iter().collect();
                if text == "(?)" {
                    break;
                }
                return Ok((text, j + 1, opens));
            }
            _ => {
                return Err((
                    "invalid or unsupported Perl syntax",
                    chars[i..=j].iter().collect(),
                ));
            }
        }
        j += 1;
    }
    Err(("invalid or unsupported Perl syntax", rest))
}

#[cfg(test)]
mod tests {
    use crate::testing::show;

    /// Expected values are Sprig v3.3.0's for the same call in Go 1.26.
    #[test]
    fn regex_matches_sprig() {
        let cases: &[(&str, &[&str], &str)] = &[
            // BEGIN GO CASES
            ("regexMatch", &["s:^[a-z]+$", "s:hello"], "true"),
            ("regexMatch", &["s:^[a-z]+$", "s:Hello"], "false"),
            ("regexMatch", &["s:\\d+", "s:٣"], "false"),
            ("regexMatch", &["s:\\w+", "s:é"], "false"),
            ("regexMatch", &["s:\\s", "s:\u{b}"], "false"),
            ("regexMatch", &["s:\\s", "s:\u{a0}"], "false"),
            ("regexMatch", &["s:\\bé", "s:aé"], "true"),
            ("regexMatch", &["s:(abc", "s:abc"], "false"),
            ("regexMatch", &["s:[[:alpha:]]+", "s:abc"], "true"),
            ("regexMatch", &["s:a{,3}", "s:a{,3}"], "true"),
            ("regexMatch", &["s:x{2,", "s:x{2,"], "true"),
            ("regexMatch", &["s:(?i)HELLO", "s:hello"], "true"),
            ("regexMatch", &["s:\\Qa.b\\E", "s:a.b"], "true"),
            ("regexMatch", &["s:\\Qa.b\\E", "s:axb"], "false"),
            ("regexMatch", &["s:[a&&b]", "s:&"], "true"),
            ("regexMatch", &["s:[a~-]", "s:~"], "true"),
            (
                "regexMatch",
                &["s:^v?[0-9]+(\\.[0-9]+){2}$", "s:v1.2.3"],
                "true",
            ),
            (
                "regexMatch",
                &["i:1", "s:x"],
                "ERR:wrong type for value; expected string; got int",
            ),
            (
                "mustRegexMatch",
                &["s:(abc", "s:abc"],
                "ERR:error parsing regexp: missing closing ): `(abc`",
            ),
            ("mustRegexMatch", &["s:a.c", "s:abc"], "true"),
            ("regexFind", &["s:[0-9]+", "s:abc123def456"], "123"),
            ("regexFind", &["s:[0-9]+", "s:abc"], ""),
            (
                "regexFind",
                &["s:(abc", "s:abc"],
                "ERR:regexp: Compile(`(abc`): error parsing regexp: missing closing ): `(abc`",
            ),
            (
                "regexFind",
                &["s:a\\q", "s:abc"],
                "ERR:regexp: Compile(`a\\q`): error parsing regexp: invalid escape sequence: `\\q`",
            ),
            (
                "regexFind",
                &["s:a\\", "s:abc"],
                "ERR:regexp: Compile(`a\\`): error parsing regexp: trailing backslash at end of expression: ``",
            ),
            (
                "regexFind",
                &["s:*a", "s:abc"],
                "ERR:regexp: Compile(`*a`): error parsing regexp: missing argument to repetition operator: `*`",
            ),
            (
                "regexFind",
                &["s:a**", "s:abc"],
                "ERR:regexp: Compile(`a**`): error parsing regexp: invalid nested repetition operator: `**`",
            ),
            (
                "regexFind",
                &["s:a{3,2}", "s:abc"],
                "ERR:regexp: Compile(`a{3,2}`): error parsing regexp: invalid repeat count: `{3,2}`",
            ),
            (
                "regexFind",
                &["s:a{1001}", "s:abc"],
                "ERR:regexp: Compile(`a{1001}`): error parsing regexp: invalid repeat count: `{1001}`",
            ),
            (
                "regexFind",
                &["s:[z-a]", "s:abc"],
                "ERR:regexp: Compile(`[z-a]`): error parsing regexp: invalid character class range: `z-a`",
            ),
            (
                "regexFind",
                &["s:(?=x)", "s:abc"],
                "ERR:regexp: Compile(`(?=x)`): error parsing regexp: invalid or unsupported Perl syntax: `(?=`",
            ),
            (
                "regexFind",
                &["s:(?P<>x)", "s:abc"],
                "ERR:regexp: Compile(`(?P<>x)`): error parsing regexp: invalid named capture: `(?P<>`",
            ),
            (
                "regexFind",
                &["s:\\1", "s:abc"],
                "ERR:regexp: Compile(`\\1`): error parsing regexp: invalid escape sequence: `\\1`",
            ),
            (
                "regexFind",
                &["s:x{2}{3}", "s:abc"],
                "ERR:regexp: Compile(`x{2}{3}`): error parsing regexp: invalid nested repetition operator: `{2}{3}`",
            ),
            (
                "regexFind",
                &["s:(?i", "s:abc"],
                "ERR:regexp: Compile(`(?i`): error parsing regexp: invalid or unsupported Perl syntax: `(?i`",
            ),
            (
                "regexFind",
                &["s:[[:foo:]]", "s:abc"],
                "ERR:regexp: Compile(`[[:foo:]]`): error parsing regexp: invalid character class range: `[:foo:]`",
            ),
            (
                "regexFind",
                &["s:a|*", "s:abc"],
                "ERR:regexp: Compile(`a|*`): error parsing regexp: missing argument to repetition operator: `*`",
            ),
            (
                "regexFind",
                &["s:[a", "s:abc"],
                "ERR:regexp: Compile(`[a`): error parsing regexp: missing closing ]: `[a`",
            ),
            (
                "regexFind",
                &["s:abc)", "s:abc"],
                "ERR:regexp: Compile(`abc)`): error parsing regexp: unexpected ): `abc)`",
            ),
            (
                "regexFind",
                &["s:a+?+", "s:abc"],
                "ERR:regexp: Compile(`a+?+`): error parsing regexp: invalid nested repetition operator: `+?+`",
            ),
            (
                "regexFind",
                &["s:(?z)", "s:abc"],
                "ERR:regexp: Compile(`(?z)`): error parsing regexp: invalid or unsupported Perl syntax: `(?z`",
            ),
            (
                "regexFind",
                &["s:a`b(", "s:abc"],
                "ERR:regexp: Compile(\"a`b(\"): error parsing regexp: missing closing ): `a`b(`",
            ),
            (
                "mustRegexFind",
                &["s:(abc", "s:abc"],
                "ERR:error parsing regexp: missing closing ): `(abc`",
            ),
            ("mustRegexFind", &["s:b+", "s:abbbc"], "bbb"),
            (
                "regexFindAll",
                &["s:a.", "s:paranormal", "i:-1"],
                "[ar an al]",
            ),
            ("regexFindAll", &["s:a.", "s:paranormal", "i:2"], "[ar an]"),
            ("regexFindAll", &["s:a.", "s:paranormal", "i:0"], "[]"),
            ("regexFindAll", &["s:a*", "s:baaac", "i:-1"], "[ aaa ]"),
            ("regexFindAll", &["s:x*", "s:héllo", "i:-1"], "[     ]"),
            ("regexFindAll", &["s:z", "s:abc", "i:-1"], "[]"),
            (
                "regexFindAll",
                &["s:a", "s:abc", "f:1"],
                "ERR:wrong type for value; expected int; got float64",
            ),
            (
                "mustRegexFindAll",
                &["s:(", "s:abc", "i:-1"],
                "ERR:error parsing regexp: missing closing ): `(`",
            ),
            (
                "regexReplaceAll",
                &["s:a(x*)b", "s:-ab-axxb-", "s:${1}W"],
                "-W-xxW-",
            ),
            (
                "regexReplaceAll",
                &["s:a(x*)b", "s:-ab-axxb-", "s:$1W"],
                "---",
            ),
            (
                "regexReplaceAll",
                &["s:a(?P<x>x*)b", "s:-ab-axxb-", "s:[$x]"],
                "-[]-[xx]-",
            ),
            (
                "regexReplaceAll",
                &["s:a(x*)b", "s:-ab-axxb-", "s:$$ $ ${ $2 $01"],
                "-$ $ ${  -$ $ ${  -",
            ),
            (
                "regexReplaceAll",
                &["s:\\s+", "s:a  b \t c", "s:_"],
                "a_b_c",
            ),
            ("regexReplaceAll", &["s:", "s:abc", "s:-"], "-a-b-c-"),
            (
                "regexReplaceAll",
                &["s:[^a-z0-9-]", "s:My_App.v2", "s:-"],
                "-y--pp-v2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:(", "s:abc", "s:x"],
                "ERR:error parsing regexp: missing closing ): `(`",
            ),
            (
                "regexReplaceAllLiteral",
                &["s:a(x*)b", "s:-ab-axxb-", "s:${1}"],
                "-${1}-${1}-",
            ),
            (
                "mustRegexReplaceAllLiteral",
                &["s:\\d", "s:a1b2", "s:$0"],
                "a$0b$0",
            ),
            ("regexSplit", &["s:z+", "s:pizza", "i:-1"], "[pi a]"),
            ("regexSplit", &["s:z+", "s:pizza", "i:1"], "[pizza]"),
            ("regexSplit", &["s:z+", "s:pizza", "i:2"], "[pi a]"),
            ("regexSplit", &["s:z+", "s:pizza", "i:0"], "[]"),
            ("regexSplit", &["s:", "s:abc", "i:-1"], "[a b c]"),
            ("regexSplit", &["s:a", "s:banana", "i:-1"], "[b n n ]"),
            (
                "regexSplit",
                &["s:a*", "s:abaabaccadaaae", "i:5"],
                "[ b b c cadaaae]",
            ),
            ("regexSplit", &["s:,", "s:", "i:-1"], "[]"),
            ("regexSplit", &["s:", "s:", "i:-1"], "[]"),
            (
                "mustRegexSplit",
                &["s:(", "s:abc", "i:-1"],
                "ERR:error parsing regexp: missing closing ): `(`",
            ),
            (
                "regexQuoteMeta",
                &["s:1.2.3+[a]{b}^$|\\?*()#-&~"],
                "1\\.2\\.3\\+\\[a\\]\\{b\\}\\^\\$\\|\\\\\\?\\*\\(\\)#-&~",
            ),
            ("regexMatch", &["s:\\x41\\x{42}\\101", "s:ABA"], "true"),
            ("regexMatch", &["s:\\pL+\\p{Greek}", "s:aβ"], "true"),
            ("regexMatch", &["s:[\\d\\s]+x", "s:1 2x"], "true"),
            ("regexMatch", &["s:[^\\d]", "s:1"], "false"),
            ("regexMatch", &["s:[\\D]", "s:a"], "true"),
            ("regexMatch", &["s:[]a]", "s:]"], "true"),
            ("regexMatch", &["s:^*", "s:x"], "true"),
            ("regexMatch", &["s:a{2}", "s:aa"], "true"),
            ("regexMatch", &["s:(?:ab)+", "s:abab"], "true"),
            ("regexMatch", &["s:(?s).", "s:\n"], "true"),
            ("regexMatch", &["s:(?m)^b$", "s:a\nb\nc"], "true"),
            ("regexMatch", &["s:a$", "s:a\n"], "false"),
            (
                "mustRegexFindAll",
                &["s:(-?[^a-z\\d\\-])+-?", "s:^[\\w-\\.]+$", "i:-1"],
                "[^[\\ -\\.]+$]",
            ),
            (
                "mustRegexFindAll",
                &["s:(-http-endpoint)", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &[
                    "s:(-kube-api-qps)|(-kube-api-burst)|(-worker-threads)",
                    "s:^[\\w-\\.]+$",
                    "i:-1",
                ],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &[
                    "s:(-kube-api-qps)|(-kube-api-burst)|(-workers)",
                    "s:^[\\w-\\.]+$",
                    "i:-1",
                ],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:(-metrics-address)", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:(-retry-interval-max)", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:(-timeout)", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &[
                    "s:(?m)^(?:[^#/\\n]|/[^/])*autopilot_redundancy_zone\\s*=\\s*\"VAULT_REDUNDANCY_ZONE\"",
                    "s:^[\\w-\\.]+$",
                    "i:-1",
                ],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &[
                    "s:(?m)^\\s*disable_mlock\\s*=\\s*(true|false)",
                    "s:^[\\w-\\.]+$",
                    "i:-1",
                ],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:(^.*/)(.*)\\.json$", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            ("mustRegexFindAll", &["s:,", "s:^[\\w-\\.]+$", "i:-1"], "[]"),
            (
                "mustRegexFindAll",
                &["s:-r\\d+$|sha256:", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:64$", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            ("mustRegexFindAll", &["s::", "s:^[\\w-\\.]+$", "i:-1"], "[]"),
            ("mustRegexFindAll", &["s:=", "s:^[\\w-\\.]+$", "i:-1"], "[]"),
            (
                "mustRegexFindAll",
                &["s:@.*$", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:@sha.*", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:@sha256:[a-f0-9]+", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:OAUTHBEARER", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:PLAIN", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:SASL", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:SCRAM", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:SCRAM-SHA-256", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:SCRAM-SHA-512", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:SSL", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:[A-Z]", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^-A-Za-z0-9_.]", "s:^[\\w-\\.]+$", "i:-1"],
                "[^ [ \\ \\ ] + $]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^a-zA-Z0-9-_.]+", "s:^[\\w-\\.]+$", "i:-1"],
                "[^[\\ \\ ]+$]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^a-zA-Z0-9._-]", "s:^[\\w-\\.]+$", "i:-1"],
                "[^ [ \\ \\ ] + $]",
            ),
            (
                "mustRegexFindAll",
                &[
                    "s:\"autopilot_redundancy_zone\"\\s*:\\s*\"VAULT_REDUNDANCY_ZONE\"",
                    "s:^[\\w-\\.]+$",
                    "i:-1",
                ],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &[
                    "s:\\$(?:__(?:env|file|vault))?{[^}]+}",
                    "s:^[\\w-\\.]+$",
                    "i:-1",
                ],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:\\W", "s:^[\\w-\\.]+$", "i:-1"],
                "[^ [ \\ - \\ . ] + $]",
            ),
            (
                "mustRegexFindAll",
                &[
                    "s:\n  annotations:\n    helm.sh/resource-policy: keep\n",
                    "s:^[\\w-\\.]+$",
                    "i:-1",
                ],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:\n", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:^([0-9]*\\.){3}[0-9]*$", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:^([0-9a-fA-F]*:)+[0-9a-fA-F]*$", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &[
                    "s:^([a-z0-9][-a-z0-9]*)?[a-z0-9]$",
                    "s:^[\\w-\\.]+$",
                    "i:-1",
                ],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:^[0-9]+$", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:^[0-9]+.[0-9]+.[0-9]+", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:^[\\w-\\.]+$", "s:abc-DEF_1.2", "i:-1"],
                "[abc-DEF_1.2]",
            ),
            (
                "mustRegexFindAll",
                &["s:^[\\w-\\.]+$", "s:10.0.0.1", "i:-1"],
                "[10.0.0.1]",
            ),
            (
                "mustRegexFindAll",
                &["s:^[\\w-\\.]+$", "s:fe80::1", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:^[^_]+", "s:^[\\w-\\.]+$", "i:-1"],
                "[^[\\w-\\.]+$]",
            ),
            (
                "mustRegexFindAll",
                &["s:^config-map:[^,]+$", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:^redis:\\/\\/(.*)", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:^v?[0-9]+\\.[0-9]+\\.[0-9]+$", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:^v\\d+\\.\\d+$", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:metadata-labeler", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:v[0-9]+.[0-9]+.[0-9]+", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:v[0-9]+\\.[0-9]+\\.[0-9]+", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:v\\d+\\.\\d+\\.\\d+", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:valueFrom", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:{(v[0-9])*[^}]*}}$", "s:^[\\w-\\.]+$", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:[\\w-\\.]", "s:abc-DEF_1.2", "i:-1"],
                "[a b c - D E F _ 1 . 2]",
            ),
            (
                "mustRegexFindAll",
                &["s:[\\w-\\.]", "s:a\nb\n", "i:-1"],
                "[a b]",
            ),
            (
                "mustRegexFindAll",
                &["s:[\\w-\\.]", "s: disable_mlock = true", "i:-1"],
                "[d i s a b l e _ m l o c k t r u e]",
            ),
            (
                "mustRegexFindAll",
                &["s:[a-\\w]", "s:abc-DEF_1.2", "i:-1"],
                "ERR:error parsing regexp: invalid escape sequence: `\\w`",
            ),
            (
                "mustRegexFindAll",
                &["s:[a-\\w]", "s:$__env{FOO}", "i:-1"],
                "ERR:error parsing regexp: invalid escape sequence: `\\w`",
            ),
            (
                "mustRegexFindAll",
                &["s:[a-\\w]", "s:a\nb\n", "i:-1"],
                "ERR:error parsing regexp: invalid escape sequence: `\\w`",
            ),
            (
                "mustRegexFindAll",
                &["s:[\\d-z]", "s:abc-DEF_1.2", "i:-1"],
                "[- 1 2]",
            ),
            (
                "mustRegexFindAll",
                &["s:[\\d-z]", "s:-r12", "i:-1"],
                "[- 1 2]",
            ),
            (
                "mustRegexFindAll",
                &["s:[+--]", "s:abc-DEF_1.2", "i:-1"],
                "[-]",
            ),
            ("mustRegexFindAll", &["s:[+--]", "s:v1.2.3", "i:-1"], "[]"),
            (
                "mustRegexFindAll",
                &["s:[+--]", "s:-kube-api-qps=5", "i:-1"],
                "[- - -]",
            ),
            (
                "mustRegexFindAll",
                &["s:[+--]", "s:x/y/z.json", "i:-1"],
                "[]",
            ),
            (
                "mustRegexFindAll",
                &["s:[a-c-e]", "s:abc-DEF_1.2", "i:-1"],
                "[a b c -]",
            ),
            ("mustRegexFindAll", &["s:[a-c-e]", "s:v1.2.3", "i:-1"], "[]"),
            (
                "mustRegexFindAll",
                &["s:[a-c-e]", "s:redis://host:6379", "i:-1"],
                "[e]",
            ),
            (
                "mustRegexFindAll",
                &["s:[a-c-e]", "s:-kube-api-qps=5", "i:-1"],
                "[- b e - a -]",
            ),
            (
                "mustRegexFindAll",
                &["s:[--/]", "s:abc-DEF_1.2", "i:-1"],
                "[- .]",
            ),
            (
                "mustRegexFindAll",
                &["s:[--/]", "s:SCRAM-SHA-256", "i:-1"],
                "[- -]",
            ),
            ("mustRegexFindAll", &["s:[--/]", "s:-r12", "i:-1"], "[-]"),
            (
                "mustRegexReplaceAll",
                &["s:(-?[^a-z\\d\\-])+-?", "s:abc-DEF_1.2", "s:<$0>"],
                "abc<-DEF_>1<.>2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:(-http-endpoint)", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &[
                    "s:(-kube-api-qps)|(-kube-api-burst)|(-worker-threads)",
                    "s:abc-DEF_1.2",
                    "s:<$0>",
                ],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &[
                    "s:(-kube-api-qps)|(-kube-api-burst)|(-workers)",
                    "s:abc-DEF_1.2",
                    "s:<$0>",
                ],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:(-metrics-address)", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:(-retry-interval-max)", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:(-timeout)", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &[
                    "s:(?m)^(?:[^#/\\n]|/[^/])*autopilot_redundancy_zone\\s*=\\s*\"VAULT_REDUNDANCY_ZONE\"",
                    "s:abc-DEF_1.2",
                    "s:<$0>",
                ],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &[
                    "s:(?m)^\\s*disable_mlock\\s*=\\s*(true|false)",
                    "s:abc-DEF_1.2",
                    "s:<$0>",
                ],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:(^.*/)(.*)\\.json$", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:,", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:-r\\d+$|sha256:", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:64$", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s::", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:=", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:@.*$", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:@sha.*", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:@sha256:[a-f0-9]+", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:OAUTHBEARER", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:PLAIN", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:SASL", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:SCRAM", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:SCRAM-SHA-256", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:SCRAM-SHA-512", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:SSL", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:[A-Z]", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-<D><E><F>_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:[^-A-Za-z0-9_.]", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:[^a-zA-Z0-9-_.]+", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:[^a-zA-Z0-9._-]", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &[
                    "s:\"autopilot_redundancy_zone\"\\s*:\\s*\"VAULT_REDUNDANCY_ZONE\"",
                    "s:abc-DEF_1.2",
                    "s:<$0>",
                ],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &[
                    "s:\\$(?:__(?:env|file|vault))?{[^}]+}",
                    "s:abc-DEF_1.2",
                    "s:<$0>",
                ],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:\\W", "s:abc-DEF_1.2", "s:<$0>"],
                "abc<->DEF_1<.>2",
            ),
            (
                "mustRegexReplaceAll",
                &[
                    "s:\n  annotations:\n    helm.sh/resource-policy: keep\n",
                    "s:abc-DEF_1.2",
                    "s:<$0>",
                ],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:\n", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:^([0-9]*\\.){3}[0-9]*$", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &[
                    "s:^([0-9a-fA-F]*:)+[0-9a-fA-F]*$",
                    "s:abc-DEF_1.2",
                    "s:<$0>",
                ],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &[
                    "s:^([a-z0-9][-a-z0-9]*)?[a-z0-9]$",
                    "s:abc-DEF_1.2",
                    "s:<$0>",
                ],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:^[0-9]+$", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:^[0-9]+.[0-9]+.[0-9]+", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:^[^_]+", "s:abc-DEF_1.2", "s:<$0>"],
                "<abc-DEF>_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:^config-map:[^,]+$", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:^redis:\\/\\/(.*)", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:^v?[0-9]+\\.[0-9]+\\.[0-9]+$", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:^v\\d+\\.\\d+$", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:metadata-labeler", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:v[0-9]+.[0-9]+.[0-9]+", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:v[0-9]+\\.[0-9]+\\.[0-9]+", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:v\\d+\\.\\d+\\.\\d+", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:valueFrom", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexReplaceAll",
                &["s:{(v[0-9])*[^}]*}}$", "s:abc-DEF_1.2", "s:<$0>"],
                "abc-DEF_1.2",
            ),
            (
                "mustRegexFindAll",
                &["s:(-?[^a-z\\d\\-])+-?", "s:fe80::1", "i:-1"],
                "[::]",
            ),
            ("mustRegexFindAll", &["s:\\W", "s:-r12", "i:-1"], "[-]"),
            (
                "mustRegexFindAll",
                &["s:\\W", "s:Hello World", "i:-1"],
                "[ ]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^-A-Za-z0-9_.]", "s: disable_mlock = true", "i:-1"],
                "[    =  ]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^a-zA-Z0-9._-]", "s:a\nb\n", "i:-1"],
                "[\n \n]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^-A-Za-z0-9_.]", "s:Hello World", "i:-1"],
                "[ ]",
            ),
            (
                "mustRegexFindAll",
                &["s:^[0-9]+.[0-9]+.[0-9]+", "s:10.0.0.1", "i:-1"],
                "[10.0.0]",
            ),
            ("mustRegexFindAll", &["s:^[^_]+", "s:9-_.", "i:-1"], "[9-]"),
            (
                "mustRegexFindAll",
                &["s:\\W", "s:x/y/z.json", "i:-1"],
                "[/ / .]",
            ),
            (
                "mustRegexFindAll",
                &["s:^[^_]+", "s:redis://host:6379", "i:-1"],
                "[redis://host:6379]",
            ),
            (
                "mustRegexFindAll",
                &["s:[A-Z]", "s:Hello World", "i:-1"],
                "[H W]",
            ),
            (
                "mustRegexFindAll",
                &["s:^[^_]+", "s:fe80::1", "i:-1"],
                "[fe80::1]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^a-zA-Z0-9._-]", "s: disable_mlock = true", "i:-1"],
                "[    =  ]",
            ),
            (
                "mustRegexFindAll",
                &["s:(-?[^a-z\\d\\-])+-?", "s:my-app@sha256:abcdef", "i:-1"],
                "[@ :]",
            ),
            (
                "mustRegexFindAll",
                &["s:\\W", "s:-kube-api-qps=5", "i:-1"],
                "[- - - =]",
            ),
            (
                "mustRegexFindAll",
                &["s:v\\d+\\.\\d+\\.\\d+", "s:v1.2.3", "i:-1"],
                "[v1.2.3]",
            ),
            (
                "mustRegexFindAll",
                &["s:^[^_]+", "s:-r12", "i:-1"],
                "[-r12]",
            ),
            (
                "mustRegexFindAll",
                &["s:^[^_]+", "s: disable_mlock = true", "i:-1"],
                "[ disable]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^a-zA-Z0-9-_.]+", "s:redis://host:6379", "i:-1"],
                "[:// :]",
            ),
            (
                "mustRegexFindAll",
                &["s:[A-Z]", "s:abc-DEF_1.2", "i:-1"],
                "[D E F]",
            ),
            (
                "mustRegexFindAll",
                &["s:v[0-9]+.[0-9]+.[0-9]+", "s:v1.2.3", "i:-1"],
                "[v1.2.3]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^a-zA-Z0-9._-]", "s:$__env{FOO}", "i:-1"],
                "[$ { }]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^-A-Za-z0-9_.]", "s:$__env{FOO}", "i:-1"],
                "[$ { }]",
            ),
            (
                "mustRegexFindAll",
                &["s:^[^_]+", "s:10.0.0.1", "i:-1"],
                "[10.0.0.1]",
            ),
            (
                "mustRegexFindAll",
                &["s:\\W", "s: disable_mlock = true", "i:-1"],
                "[    =  ]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^-A-Za-z0-9_.]", "s:fe80::1", "i:-1"],
                "[: :]",
            ),
            (
                "mustRegexFindAll",
                &["s::", "s:my-app@sha256:abcdef", "i:-1"],
                "[:]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^a-zA-Z0-9-_.]+", "s:my-app@sha256:abcdef", "i:-1"],
                "[@ :]",
            ),
            (
                "mustRegexFindAll",
                &["s::", "s:redis://host:6379", "i:-1"],
                "[: :]",
            ),
            ("mustRegexFindAll", &["s:\\W", "s:9-_.", "i:-1"], "[- .]"),
            (
                "mustRegexFindAll",
                &["s:^[^_]+", "s:my-app@sha256:abcdef", "i:-1"],
                "[my-app@sha256:abcdef]",
            ),
            ("mustRegexFindAll", &["s:\n", "s:a\nb\n", "i:-1"], "[\n \n]"),
            (
                "mustRegexFindAll",
                &["s:[A-Z]", "s:$__env{FOO}", "i:-1"],
                "[F O O]",
            ),
            (
                "mustRegexFindAll",
                &["s:^([0-9a-fA-F]*:)+[0-9a-fA-F]*$", "s:fe80::1", "i:-1"],
                "[fe80::1]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^a-zA-Z0-9-_.]+", "s:$__env{FOO}", "i:-1"],
                "[$ { }]",
            ),
            (
                "mustRegexFindAll",
                &["s:(-?[^a-z\\d\\-])+-?", "s:Hello World", "i:-1"],
                "[H  W]",
            ),
            (
                "mustRegexFindAll",
                &["s:(-?[^a-z\\d\\-])+-?", "s:redis://host:6379", "i:-1"],
                "[:// :]",
            ),
            (
                "mustRegexFindAll",
                &[
                    "s:(-kube-api-qps)|(-kube-api-burst)|(-workers)",
                    "s:-kube-api-qps=5",
                    "i:-1",
                ],
                "[-kube-api-qps]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^-A-Za-z0-9_.]", "s:a\nb\n", "i:-1"],
                "[\n \n]",
            ),
            (
                "mustRegexFindAll",
                &["s:[^a-zA-Z0-9._-]", "s:a,b", "i:-1"],
                "[,]",
            ),
            // END GO CASES
        ];
        for (name, args, want) in cases {
            assert_eq!(show(name, args), *want, "{name} {args:?}");
        }
    }
}
