//! Word case conversions as xstrings v1.5 and goutils do them: `snakecase`, `kebabcase`,
//! `camelcase` (Pascal case), `swapcase`; and the Unicode classes they rely on.

use crate::strings::{is_space, to_lower, to_title, to_upper};

/// Go's `unicode.IsUpper`.
fn is_upper(c: char) -> bool {
    c.is_uppercase()
}

/// Go's `unicode.IsLower`.
fn is_lower(c: char) -> bool {
    c.is_lowercase()
}

/// Go's `unicode.IsTitle` (the title-case letters).
fn is_title(c: char) -> bool {
    matches!(c as u32,
        0x1C5 | 0x1C8 | 0x1CB | 0x1F2 | 0x1F88..=0x1F8F | 0x1F98..=0x1F9F | 0x1FA8..=0x1FAF
        | 0x1FBC | 0x1FCC | 0x1FFC)
}

/// Go's `unicode.IsPunct`: ASCII exactly (symbols such as `$+<=>^`|~` are not punctuation),
/// the common Latin-1 and general punctuation beyond.
fn is_punct(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation() && !"$+<=>^`|~".contains(c);
    }
    matches!(c as u32,
        0xA1 | 0xA7 | 0xAB | 0xB6 | 0xB7 | 0xBB | 0xBF | 0x2010..=0x2027 | 0x2030..=0x2043
        | 0x2045..=0x2051 | 0x2053..=0x205E | 0x3001..=0x3003 | 0x3008..=0x3011
        | 0x3014..=0x301F | 0xFF01..=0xFF03 | 0xFF05..=0xFF0A | 0xFF0C..=0xFF0F)
}

/// xstrings' `isAlphabet`: letters, CJK ideographs excluded.
fn is_alphabet(c: char) -> bool {
    if !c.is_alphabetic() || c.is_numeric() {
        return false;
    }
    let u = c as u32;
    !(u >= 0x3400
        && (matches!(u, 0x4E00..=0x9FCC | 0x3400..=0x4DB5 | 0x20000..=0x2A6D6 | 0x2A700..=0x2B734
            | 0x2B740..=0x2B81D | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)))
}

/// xstrings' `isConnector`.
fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || is_space(c)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alphabet,
    Connector,
    Punct,
    Other,
}

/// xstrings' `nextWord`: the kind and text of the next word of `s`, and the rest.
fn next_word(s: &str) -> (Word, &str, &str) {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    if chars.is_empty() {
        return (Word::Invalid, "", "");
    }
    let at = |i: usize| chars.get(i).map(|x| x.1);
    let cut = |i: usize| -> usize { chars.get(i).map_or(s.len(), |x| x.0) };
    let first = chars[0].1;
    let mut n = 1; // characters in the word
    let kind = if is_connector(first) {
        while at(n).is_some_and(is_connector) {
            n += 1;
        }
        Word::Connector
    } else if is_punct(first) {
        while at(n).is_some_and(is_punct) {
            n += 1;
        }
        Word::Punct
    } else if is_upper(first) {
        match at(1) {
            Some(c) if is_upper(c) => {
                n = 2;
                while at(n).is_some_and(is_upper) {
                    n += 1;
                }
                // "HTTPServer": the last capital starts the next word.
                if at(n).is_some_and(is_alphabet) {
                    n -= 1;
                }
            }
            Some(c) if is_alphabet(c) => {
                n = 2;
                while at(n).is_some_and(|c| is_alphabet(c) && !is_upper(c)) {
                    n += 1;
                }
            }
            _ => {}
        }
        Word::Upper
    } else if is_alphabet(first) {
        while at(n).is_some_and(|c| is_alphabet(c) && !is_upper(c)) {
            n += 1;
        }
        Word::Alphabet
    } else if first.is_numeric() {
        while at(n).is_some_and(char::is_numeric) {
            n += 1;
        }
        Word::Number
    } else {
        while at(n)
            .is_some_and(|c| !(is_connector(c) || is_alphabet(c) || c.is_numeric() || is_punct(c)))
        {
            n += 1;
        }
        Word::Other
    };
    let end = cut(n);
    (kind, &s[..end], &s[end..])
}

/// xstrings' `toLower`: upper-case and connector words lowered (connectors become `sep`).
fn push_lower(out: &mut String, kind: Word, word: &str, sep: char) {
    if kind != Word::Upper && kind != Word::Connector {
        out.push_str(word);
        return;
    }
    for c in word.chars() {
        if is_connector(c) {
            out.push(sep);
        } else if is_upper(c) {
            out.push(to_lower(c));
        } else {
            out.push(c);
        }
    }
}

/// xstrings' `camelCaseToLowerCase`: `snakecase` with `_`, `kebabcase` with `-`.
pub fn to_lower_words(s: &str, sep: char) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let (mut wt, mut word, mut rest) = next_word(s);
    while !rest.is_empty() {
        if wt != Word::Connector {
            push_lower(&mut out, wt, word, sep);
        }
        let prev = wt;
        let last = word;
        (wt, word, rest) = next_word(rest);
        match prev {
            Word::Number => {
                while wt == Word::Alphabet || wt == Word::Number {
                    push_lower(&mut out, wt, word, sep);
                    (wt, word, rest) = next_word(rest);
                }
                if !matches!(wt, Word::Invalid | Word::Punct | Word::Connector) {
                    out.push(sep);
                }
            }
            Word::Connector => push_lower(&mut out, prev, last, sep),
            Word::Punct => {}
            _ => {
                if wt != Word::Number {
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(sep);
                    }
                    continue;
                }
                if rest.is_empty() {
                    continue;
                }
                let last = word;
                (wt, word, rest) = next_word(rest);
                if wt != Word::Alphabet {
                    push_lower(&mut out, Word::Number, last, sep);
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(sep);
                    }
                    continue;
                }
                out.push(sep);
                push_lower(&mut out, Word::Number, last, sep);
                while wt == Word::Alphabet || wt == Word::Number {
                    push_lower(&mut out, wt, word, sep);
                    (wt, word, rest) = next_word(rest);
                }
                if !matches!(wt, Word::Invalid | Word::Connector | Word::Punct) {
                    out.push(sep);
                }
            }
        }
    }
    push_lower(&mut out, wt, word, sep);
    out
}

/// xstrings' `ToPascalCase` (Sprig's `camelcase`).
pub fn to_pascal(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let mut i = 0;
    let mut r0 = '\0';
    let mut first_upper = false;
    while i < chars.len() {
        r0 = chars[i];
        i += 1;
        if !is_connector(r0) {
            first_upper = is_upper(r0);
            r0 = to_upper(r0);
            break;
        }
        out.push(r0);
    }
    if i >= chars.len() {
        // xstrings writes the last character read again when all were connectors.
        out.push(r0);
        return out;
    }
    while i < chars.len() {
        let r1 = r0;
        r0 = chars[i];
        i += 1;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = is_upper(r0);
            r0 = to_upper(r0);
        } else {
            if first_upper {
                if is_upper(r0) {
                    r0 = to_lower(r0);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

/// goutils' `SwapCase`: upper and title case lowered; lower raised, to title case after
/// a space.
pub fn swap_case(s: &str) -> String {
    let mut space = true;
    s.chars()
        .map(|c| {
            if is_upper(c) || is_title(c) {
                space = false;
                to_lower(c)
            } else if is_lower(c) {
                let out = if space { to_title(c) } else { to_upper(c) };
                space = false;
                out
            } else {
                space = is_space(c);
                c
            }
        })
        .collect()
}
