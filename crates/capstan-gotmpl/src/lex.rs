//! Splitting Go template source into text and actions, and actions into tokens.

use crate::ast::Pos;
use crate::{Error, Result};

/// A token inside an action.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// `.` alone.
    Dot,
    /// `.name` (without the dot).
    Field(String),
    /// `$name` or `$` (with the dollar).
    Var(String),
    /// A bare identifier (function name or keyword).
    Ident(String),
    /// A string literal, unescaped.
    Str(String),
    /// A character constant's code point.
    Char(i64),
    /// A number's text.
    Number(String),
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `|`.
    Pipe,
    /// `:=`.
    Declare,
    /// `=`.
    Assign,
    /// `,`.
    Comma,
    /// Any other printable ASCII character (`!`, `{`): Go's parser rejects it where it stands.
    Other(char),
}

/// A token with its place in the source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: Pos,
    pub end: Pos,
    /// Whether whitespace precedes it (fields chain only when adjacent).
    pub space_before: bool,
}

/// Text or an action of the source, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// Literal text, with the trim markers of the neighbouring actions applied.
    Text(String),
    /// An action's tokens (comments produce no item).
    Action {
        tokens: Vec<Token>,
        /// Where `{{` starts.
        pos: Pos,
        /// Just past `}}`.
        end: Pos,
    },
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits `src` into text and actions.
pub(crate) fn items(src: &str) -> Result<Vec<Item>> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut cursor = 0;
    let mut trim_next = false;
    while cursor <= src.len() {
        let Some(rel) = src[cursor..].find("{{") else {
            let mut text = &src[cursor..];
            if trim_next {
                text = text.trim_start_matches([' ', '\t', '\r', '\n']);
            }
            if !text.is_empty() {
                out.push(Item::Text(text.to_string()));
            }
            break;
        };
        let start = cursor + rel;
        let left_trim = bytes.get(start + 2) == Some(&b'-')
            && bytes.get(start + 3).is_some_and(|c| is_space(*c));
        let mut text = &src[cursor..start];
        if trim_next {
            text = text.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        if left_trim {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
        }
        if !text.is_empty() {
            out.push(Item::Text(text.to_string()));
        }
        let inner = start + if left_trim { 4 } else { 2 };
        if src[inner..].starts_with("/*") {
            let Some(close) = src[inner + 2..].find("*/") else {
                return Err(Error::syntax(start, "unclosed comment"));
            };
            let after = inner + 2 + close + 2;
            let (end, trim) = if src[after..].starts_with("}}") {
                (after + 2, false)
            } else if src[after..].starts_with(" -}}")
                || src[after..].starts_with("\t-}}")
                || src[after..].starts_with("\n-}}")
                || src[after..].starts_with("\r-}}")
            {
                (after + 4, true)
            } else {
                return Err(Error::syntax(
                    after,
                    "comment ends before closing delimiter",
                ));
            };
            trim_next = trim;
            cursor = end;
            continue;
        }
        let (tokens, end, trim) = lex_action(src, inner, start)?;
        out.push(Item::Action {
            tokens,
            pos: start,
            end,
        });
        trim_next = trim;
        cursor = end;
    }
    Ok(out)
}

/// Lexes the inside of an action from `at`; returns its tokens, the end of `}}` and whether
/// it ends with a trim marker.
fn lex_action(src: &str, mut at: usize, open: usize) -> Result<(Vec<Token>, usize, bool)> {
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut parens = 0usize;
    loop {
        let mut space = false;
        while at < bytes.len() && is_space(bytes[at]) {
            // A trim marker: whitespace, `-`, `}}`.
            if bytes.get(at + 1) == Some(&b'-') && src[at + 2..].starts_with("}}") {
                return Ok((tokens, at + 4, true));
            }
            at += 1;
            space = true;
        }
        if at >= bytes.len() {
            return Err(Error::syntax(open, "unclosed action"));
        }
        if src[at..].starts_with("}}") {
            if parens > 0 {
                return Err(Error::syntax(at, "unclosed left paren"));
            }
            return Ok((tokens, at + 2, false));
        }
        let start = at;
        let c = src[at..].chars().next().unwrap_or(' ');
        let tok = match c {
            '(' => {
                parens += 1;
                at += 1;
                Tok::LParen
            }
            ')' => {
                if parens == 0 {
                    return Err(Error::syntax(at, "unexpected right paren"));
                }
                parens -= 1;
                at += 1;
                Tok::RParen
            }
            '|' => {
                at += 1;
                Tok::Pipe
            }
            ',' => {
                at += 1;
                Tok::Comma
            }
            ':' => {
                if bytes.get(at + 1) != Some(&b'=') {
                    return Err(Error::syntax(at, "expected :="));
                }
                at += 2;
                Tok::Declare
            }
            '=' => {
                at += 1;
                Tok::Assign
            }
            '"' => {
                let (s, end) = quoted(src, at)?;
                at = end;
                Tok::Str(s)
            }
            '`' => {
                let Some(close) = src[at + 1..].find('`') else {
                    return Err(Error::syntax(at, "unterminated raw quoted string"));
                };
                let s = src[at + 1..at + 1 + close].replace('\r', "");
                at += close + 2;
                Tok::Str(s)
            }
            '\'' => {
                let (v, end) = char_constant(src, at)?;
                at = end;
                Tok::Char(v)
            }
            '$' => {
                at += 1;
                while let Some(ch) = src[at..].chars().next().filter(|c| is_alnum(*c)) {
                    at += ch.len_utf8();
                }
                at_terminator(src, at)?;
                Tok::Var(src[start..at].to_string())
            }
            '.' => {
                if bytes.get(at + 1).is_some_and(u8::is_ascii_digit) {
                    at = number_end(src, at)?;
                    Tok::Number(src[start..at].to_string())
                } else {
                    at += 1;
                    let name_start = at;
                    while let Some(ch) = src[at..].chars().next().filter(|c| is_alnum(*c)) {
                        at += ch.len_utf8();
                    }
                    if at == name_start {
                        Tok::Dot
                    } else {
                        at_terminator(src, at)?;
                        Tok::Field(src[name_start..at].to_string())
                    }
                }
            }
            '+' | '-' | '0'..='9' => {
                at = number_end(src, at)?;
                Tok::Number(src[start..at].to_string())
            }
            c if is_alnum(c) => {
                while let Some(ch) = src[at..].chars().next().filter(|c| is_alnum(*c)) {
                    at += ch.len_utf8();
                }
                at_terminator(src, at)?;
                Tok::Ident(src[start..at].to_string())
            }
            c if c.is_ascii_graphic() => {
                at += 1;
                Tok::Other(c)
            }
            c => {
                return Err(Error::syntax(
                    at,
                    format!("unrecognized character in action: U+{:04X} {c:?}", c as u32),
                ));
            }
        };
        tokens.push(Token {
            tok,
            pos: start,
            end: at,
            space_before: space,
        });
    }
}

/// Go's lexer wants a name (field, variable, identifier) followed by a space, the action's end
/// or one of `.,|:()`: `.a-b` is a bad character.
fn at_terminator(src: &str, at: usize) -> Result<()> {
    match src[at..].chars().next() {
        None => Ok(()),
        Some(' ' | '\t' | '\r' | '\n' | '.' | ',' | '|' | ':' | ')' | '(') => Ok(()),
        Some(_) if src[at..].starts_with("}}") => Ok(()),
        Some(c) => Err(Error::syntax(
            at,
            format!("bad character U+{:04X} {c:?}", c as u32),
        )),
    }
}

/// The end of the number starting at `at` (Go's lexer rules).
fn number_end(src: &str, mut at: usize) -> Result<usize> {
    let bytes = src.as_bytes();
    let start = at;
    if matches!(bytes.get(at), Some(b'+' | b'-')) {
        at += 1;
    }
    let mut digits: &[u8] = b"0123456789_";
    let mut hex = false;
    if bytes.get(at) == Some(&b'0') {
        at += 1;
        match bytes.get(at) {
            Some(b'x' | b'X') => {
                at += 1;
                digits = b"0123456789abcdefABCDEF_";
                hex = true;
            }
            Some(b'o' | b'O') => {
                at += 1;
                digits = b"01234567_";
            }
            Some(b'b' | b'B') => {
                at += 1;
                digits = b"01_";
            }
            _ => {}
        }
    }
    let run = |at: &mut usize, set: &[u8]| {
        while bytes.get(*at).is_some_and(|c| set.contains(c)) {
            *at += 1;
        }
    };
    run(&mut at, digits);
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        run(&mut at, digits);
    }
    if !hex && digits.len() == 11 && matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        run(&mut at, b"0123456789_");
    }
    if hex && matches!(bytes.get(at), Some(b'p' | b'P')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        run(&mut at, b"0123456789_");
    }
    if bytes.get(at) == Some(&b'i') {
        at += 1;
    }
    if src[at..].chars().next().is_some_and(is_alnum) {
        let mut end = at;
        while let Some(ch) = src[end..].chars().next().filter(|c| is_alnum(*c)) {
            end += ch.len_utf8();
        }
        return Err(Error::syntax(
            start,
            format!("bad number syntax: {:?}", &src[start..end]),
        ));
    }
    Ok(at)
}

/// Unquotes the Go string literal starting at `at`; returns it and the position past it.
fn quoted(src: &str, at: usize) -> Result<(String, usize)> {
    let mut out = String::new();
    let mut chars = src[at + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, at + 1 + i + 1)),
            '\n' => break,
            '\\' => {
                let (v, used) = escape(&src[at + 1 + i + 1..], '"')
                    .ok_or_else(|| Error::syntax(at, "invalid syntax in quoted string"))?;
                out.push(v);
                for _ in 0..used {
                    chars.next();
                }
            }
            c => out.push(c),
        }
    }
    Err(Error::syntax(at, "unterminated quoted string"))
}

/// Reads one escape after a backslash; returns the character and how many characters it used.
fn escape(rest: &str, quote: char) -> Option<(char, usize)> {
    let mut it = rest.chars();
    let c = it.next()?;
    let simple = match c {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        c if c == quote => Some(c),
        _ => None,
    };
    if let Some(v) = simple {
        return Some((v, 1));
    }
    let hex = |n: usize| -> Option<(char, usize)> {
        let digits: String = rest.chars().skip(1).take(n).collect();
        if digits.len() != n {
            return None;
        }
        let v = u32::from_str_radix(&digits, 16).ok()?;
        Some((char::from_u32(v)?, n + 1))
    };
    match c {
        'x' => hex(2),
        'u' => hex(4),
        'U' => hex(8),
        '0'..='7' => {
            let digits: String = rest.chars().take(3).collect();
            let v = u32::from_str_radix(&digits, 8).ok()?;
            if digits.len() != 3 || v > 255 {
                return None;
            }
            Some((char::from_u32(v)?, 3))
        }
        _ => None,
    }
}

/// A character constant at `at`; returns its code point and the position past it.
fn char_constant(src: &str, at: usize) -> Result<(i64, usize)> {
    let rest = &src[at + 1..];
    let mut it = rest.chars();
    let c = it
        .next()
        .ok_or_else(|| Error::syntax(at, "unterminated character constant"))?;
    let (v, used) = if c == '\\' {
        let (v, n) = escape(&rest[1..], '\'')
            .ok_or_else(|| Error::syntax(at, "invalid syntax in character constant"))?;
        let used: usize = rest.chars().take(n + 1).map(char::len_utf8).sum();
        (v, used)
    } else {
        (c, c.len_utf8())
    };
    if !rest[used..].starts_with('\'') {
        return Err(Error::syntax(at, "unterminated character constant"));
    }
    Ok((v as i64, at + 1 + used + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        match items(src).unwrap().remove(0) {
            Item::Action { tokens, .. } => tokens.into_iter().map(|t| t.tok).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn trim_markers_and_comments() {
        let it = items("a  {{- 1 -}}  b {{/* c */}} d {{- /* e */ -}} f").unwrap();
        assert_eq!(it[0], Item::Text("a".into()));
        assert_eq!(it[2], Item::Text("b ".into()));
        assert_eq!(it[3], Item::Text(" d".into()));
        assert_eq!(it[4], Item::Text("f".into()));
    }

    #[test]
    fn tokens() {
        assert_eq!(
            toks("{{ $x := .Values.a | default \"b\\n\" }}"),
            vec![
                Tok::Var("$x".into()),
                Tok::Declare,
                Tok::Field("Values".into()),
                Tok::Field("a".into()),
                Tok::Pipe,
                Tok::Ident("default".into()),
                Tok::Str("b\n".into()),
            ]
        );
        assert_eq!(toks("{{-3}}"), vec![Tok::Number("-3".into())]);
        assert_eq!(
            toks("{{ 'a' `r}}` }}"),
            vec![Tok::Char(97), Tok::Str("r}}".into())]
        );
        assert_eq!(toks("{{ 0x1p20 }}"), vec![Tok::Number("0x1p20".into())]);
    }
}
