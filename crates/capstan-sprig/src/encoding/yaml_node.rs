//! goyaml.v2's view of data (`interface{}` as it decodes and encodes it), its YAML 1.1
//! resolution of plain scalars, and its key order.

use std::cmp::Ordering;

/// A value as goyaml.v2 decodes it into `interface{}` (and encodes it back).
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `nil`.
    Null,
    /// `bool`.
    Bool(bool),
    /// `int` (or `int64`, the same on 64-bit).
    Int(i64),
    /// `uint64` (integers above the int64 range).
    Uint(u64),
    /// `float64`.
    Float(f64),
    /// `string`.
    Str(String),
    /// `[]interface{}`.
    Seq(Vec<Node>),
    /// `map[interface{}]interface{}`, entries in insertion order until sorted.
    Map(Vec<(Node, Node)>),
}

/// What goyaml.v2's `resolve("", s)` makes of a plain scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// A value of a non-string tag (`!!null`, `!!bool`, `!!int`, `!!float`).
    Value(Node),
    /// A timestamp (decoded into `interface{}` as the string itself).
    Timestamp,
    /// A string.
    Str,
}

/// goyaml.v2's resolution of the plain scalar `s` (YAML 1.1: `yes`/`off` booleans, `0x1F`,
/// `0o17`, `012` octal, `1_000`, `.inf`, timestamps ...).
pub fn resolve(s: &str) -> Resolved {
    let Some(&first) = s.as_bytes().first() else {
        return Resolved::Value(Node::Null);
    };
    let hint = match first {
        b'+' | b'-' | b'0'..=b'9' => b'D',
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => b'M',
        b'.' => b'.',
        _ => return Resolved::Str,
    };
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Value(Node::Bool(true));
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Value(Node::Bool(false));
        }
        "~" | "null" | "Null" | "NULL" => return Resolved::Value(Node::Null),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Value(Node::Float(f64::NAN)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Value(Node::Float(f64::INFINITY));
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Value(Node::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    match hint {
        b'.' => match go_parse_float(s) {
            Some(f) => Resolved::Value(Node::Float(f)),
            None => Resolved::Str,
        },
        b'D' => {
            if is_timestamp(s) {
                return Resolved::Timestamp;
            }
            resolve_number(s)
        }
        _ => Resolved::Str,
    }
}

/// Whether `s` is a scalar goyaml.v2 would take for a timestamp.
pub fn looks_like_timestamp(s: &str) -> bool {
    is_timestamp(s)
}

/// [`resolve`] without the timestamp test (goyaml.v2 skips it for a scalar tagged other than
/// `!!timestamp`).
pub fn resolve_no_timestamp(s: &str) -> Resolved {
    resolve_number(s)
}

/// The integer and float forms of a scalar starting with a digit or sign.
fn resolve_number(s: &str) -> Resolved {
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    if let Some(i) = go_parse_int(&plain) {
        return Resolved::Value(Node::Int(i));
    }
    if let Some(u) = go_parse_uint(&plain) {
        return Resolved::Value(Node::Uint(u));
    }
    if is_yaml_float(&plain)
        && let Some(f) = go_parse_float(&plain)
    {
        return Resolved::Value(Node::Float(f));
    }
    if let Some(bits) = plain.strip_prefix("0b") {
        if let Ok(i) = i64::from_str_radix(bits, 2)
            && !bits.starts_with(['+', '-'])
        {
            return Resolved::Value(Node::Int(i));
        }
        if let Ok(u) = u64::from_str_radix(bits, 2)
            && !bits.starts_with('+')
        {
            return Resolved::Value(Node::Uint(u));
        }
    } else if let Some(bits) = plain.strip_prefix("-0b")
        && !bits.starts_with(['+', '-'])
        && let Ok(i) = i64::from_str_radix(&format!("-{bits}"), 2)
    {
        return Resolved::Value(Node::Int(i));
    }
    Resolved::Str
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Sign, base prefix (`0x`, `0o`, `0b`, a leading `0` for octal) and digits of a Go integer
/// literal as `strconv.ParseInt(s, 0, 64)` reads it (underscores only between digits after a
/// prefix or in decimal, as Go allows).
fn split_int(s: &str) -> Option<(bool, u32, &str)> {
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = rest.to_ascii_lowercase();
    let (base, digits) = if lower.starts_with("0x") {
        (16, &rest[2..])
    } else if lower.starts_with("0o") {
        (8, &rest[2..])
    } else if lower.starts_with("0b") {
        (2, &rest[2..])
    } else if rest.len() > 1 && rest.starts_with('0') {
        (8, &rest[1..])
    } else {
        (10, rest)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(base)) {
        return None;
    }
    Some((neg, base, digits))
}

/// Go's `strconv.ParseInt(s, 0, 64)` (the caller has removed underscores).
pub fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, base, digits) = split_int(s)?;
    let mag = u64::from_str_radix(digits, base).ok()?;
    if neg {
        if mag <= 1u64 << 63 {
            Some((mag as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(mag).ok()
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
pub fn go_parse_uint(s: &str) -> Option<u64> {
    if s.starts_with(['+', '-']) {
        return None;
    }
    let (_, base, digits) = split_int(s)?;
    u64::from_str_radix(digits, base).ok()
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal forms (hex floats and `inf` words are not
/// reached from goyaml's resolver, except `.5`-style which Rust reads too). Out of range is
/// an error in Go.
pub fn go_parse_float(s: &str) -> Option<f64> {
    let t = s.strip_prefix('+').unwrap_or(s);
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
    {
        return None;
    }
    let f: f64 = t.parse().ok()?;
    if f.is_infinite() { None } else { Some(f) }
}

/// goyaml.v2's timestamp test: four digits and `-`, then one of its accepted layouts.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    // Layouts: 2006-1-2, 2006-1-2 15:4:5.999999999, 2006-1-2T15:4:5.999999999Z07:00 (and t).
    let rest = &s[5..];
    let (date, time) = match rest.find(['T', 't', ' ']) {
        Some(i) => (&rest[..i], Some((&rest[i..i + 1], &rest[i + 1..]))),
        None => (rest, None),
    };
    let Some((m, d)) = date.split_once('-') else {
        return false;
    };
    let num = |x: &str, max: u32| {
        !x.is_empty()
            && x.len() <= 2
            && x.bytes().all(|c| c.is_ascii_digit())
            && x.parse::<u32>().is_ok_and(|n| n <= max)
    };
    if !num(m, 12) || !num(d, 31) || m == "0" || m == "00" || d == "0" || d == "00" {
        return false;
    }
    let Some((sep, t)) = time else {
        return true;
    };
    let (clock, zone) = if sep == " " {
        (t, None)
    } else {
        match t.find(['Z', '+', '-']) {
            Some(i) => (&t[..i], Some(&t[i..])),
            None => return false,
        }
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (clock, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.len() != 3 || !num(parts[0], 23) || !num(parts[1], 59) || !num(parts[2], 59) {
        return false;
    }
    if let Some(f) = frac
        && (f.is_empty() || f.len() > 9 || !f.bytes().all(|c| c.is_ascii_digit()))
    {
        return false;
    }
    match zone {
        None => true,
        Some("Z") => true,
        Some(z) => {
            let z = &z[1..];
            z.len() == 5 && z.as_bytes()[2] == b':' && num(&z[..2], 23) && num(&z[3..], 59)
        }
    }
}

/// The order of `reflect.Kind`, which goyaml.v2 compares keys of different types by.
fn kind_rank(n: &Node) -> u8 {
    match n {
        Node::Bool(_) => 1,
        Node::Int(_) => 2,
        Node::Uint(_) => 11,
        Node::Float(_) => 14,
        Node::Null => 20,
        Node::Map(_) => 21,
        Node::Seq(_) => 23,
        Node::Str(_) => 24,
    }
}

fn key_float(n: &Node) -> Option<f64> {
    match n {
        Node::Int(i) => Some(*i as f64),
        Node::Uint(u) => Some(*u as f64),
        Node::Float(f) => Some(*f),
        Node::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Which goyaml's rules: v2 (`toYaml`, `fromYaml`) or v3 (`toYamlPretty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// goyaml.v2 (go.yaml.in/yaml/v2).
    V2,
    /// goyaml.v3 (go.yaml.in/yaml/v3).
    V3,
}

/// goyaml.v2's key order: numbers numerically, strings "naturally" (runs of digits compared
/// as numbers, letters after other characters).
pub fn key_less(a: &Node, b: &Node) -> bool {
    key_less_in(a, b, Flavor::V2)
}

/// The key order of goyaml `flavor` (v3 puts a letter first right after a digit).
pub fn key_less_in(a: &Node, b: &Node, flavor: Flavor) -> bool {
    if let (Some(af), Some(bf)) = (key_float(a), key_float(b)) {
        if af != bf {
            return af < bf;
        }
        let (ak, bk) = (kind_rank(a), kind_rank(b));
        if ak != bk {
            return ak < bk;
        }
        return match (a, b) {
            (Node::Int(x), Node::Int(y)) => x < y,
            (Node::Uint(x), Node::Uint(y)) => x < y,
            (Node::Float(x), Node::Float(y)) => x < y,
            (Node::Bool(x), Node::Bool(y)) => !x & y,
            _ => false,
        };
    }
    let (Node::Str(a), Node::Str(b)) = (a, b) else {
        return kind_rank(a) < kind_rank(b);
    };
    str_less(a, b, flavor)
}

fn str_less(a: &str, b: &str, flavor: Flavor) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut digits = false;
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            digits = is_go_digit(ar[i]);
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return if flavor == Flavor::V3 && digits {
                al
            } else {
                bl
            };
        }
        let mut an: i64 = 0;
        let mut bn: i64 = 0;
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && is_go_digit(ar[j - 1]) {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && is_go_digit(ar[ai]) {
            an = an.wrapping_mul(10).wrapping_add(digit_value(ar[ai]));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && is_go_digit(br[bi]) {
            bn = bn.wrapping_mul(10).wrapping_add(digit_value(br[bi]));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// Go's `unicode.IsDigit` (decimal digits of any script).
fn is_go_digit(c: char) -> bool {
    c.is_ascii_digit() || unicode_decimal(c).is_some()
}

/// The value of a non-ASCII decimal digit (Unicode Nd) for the common scripts, if it is one.
fn unicode_decimal(c: char) -> Option<u32> {
    const ZEROS: [u32; 12] = [
        0x660, 0x6F0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xFF10,
    ];
    let u = c as u32;
    ZEROS
        .iter()
        .find(|&&z| u >= z && u < z + 10)
        .map(|&z| u - z)
}

fn digit_value(c: char) -> i64 {
    // Go computes `rune - '0'` even for non-ASCII digits.
    c as i64 - '0' as i64
}

/// Sorts `entries` by key as goyaml.v2's `sort.Sort(keyList)` does (insertion sort for short
/// lists as Go's pdqsort does; a stable merge otherwise), never panicking on odd orders.
pub fn sort_entries(entries: &mut [(Node, Node)], flavor: Flavor) {
    if entries.len() <= 12 {
        for i in 1..entries.len() {
            let mut j = i;
            while j > 0 && key_less_in(&entries[j].0, &entries[j - 1].0, flavor) {
                entries.swap(j, j - 1);
                j -= 1;
            }
        }
        return;
    }
    let mut v: Vec<(Node, Node)> = entries.to_vec();
    merge_sort(&mut v, flavor);
    entries.clone_from_slice(&v);
}

fn merge_sort(v: &mut Vec<(Node, Node)>, flavor: Flavor) {
    if v.len() <= 1 {
        return;
    }
    let mut right = v.split_off(v.len() / 2);
    merge_sort(v, flavor);
    merge_sort(&mut right, flavor);
    let left = std::mem::take(v);
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
        if key_less_in(&b.0, &a.0, flavor) {
            v.extend(r.next());
        } else {
            v.extend(l.next());
        }
    }
    v.extend(l);
    v.extend(r);
}

/// An `Ordering` from [`key_less`], for callers that need one.
pub fn key_cmp(a: &Node, b: &Node) -> Ordering {
    if key_less(a, b) {
        Ordering::Less
    } else if key_less(b, a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Node {
        Node::Str(x.into())
    }

    #[test]
    fn resolves_yaml_1_1() {
        assert_eq!(resolve("yes"), Resolved::Value(Node::Bool(true)));
        assert_eq!(resolve("Off"), Resolved::Value(Node::Bool(false)));
        assert_eq!(resolve("0x1F"), Resolved::Value(Node::Int(31)));
        assert_eq!(resolve("0o17"), Resolved::Value(Node::Int(15)));
        assert_eq!(resolve("012"), Resolved::Value(Node::Int(10)));
        assert_eq!(resolve("1_000"), Resolved::Value(Node::Int(1000)));
        assert_eq!(resolve("0b101"), Resolved::Value(Node::Int(5)));
        assert_eq!(resolve("1e3"), Resolved::Value(Node::Float(1000.0)));
        assert_eq!(resolve("1."), Resolved::Value(Node::Float(1.0)));
        assert_eq!(resolve(".5"), Resolved::Value(Node::Float(0.5)));
        assert_eq!(resolve("~"), Resolved::Value(Node::Null));
        assert_eq!(resolve(""), Resolved::Value(Node::Null));
        assert_eq!(resolve("2021-01-01"), Resolved::Timestamp);
        assert_eq!(resolve("2001-12-14t21:59:43.10-05:00"), Resolved::Timestamp);
        assert_eq!(resolve("1:20"), Resolved::Str);
        assert_eq!(resolve("<<"), Resolved::Str);
        assert_eq!(
            resolve("18446744073709551615"),
            Resolved::Value(Node::Uint(u64::MAX))
        );
        assert_eq!(
            resolve("18446744073709551616"),
            Resolved::Value(Node::Float(18446744073709551616.0))
        );
        assert_eq!(resolve("1.2.3"), Resolved::Str);
        assert_eq!(resolve("v1"), Resolved::Str);
        assert_eq!(resolve("-"), Resolved::Str);
        assert_eq!(resolve("+1"), Resolved::Value(Node::Int(1)));
    }

    #[test]
    fn keys_sort_naturally() {
        let mut keys: Vec<(Node, Node)> = [
            "a10", "a2", "A1", "_x", "1", "10", "9", "a01", "a1", "a001", "", "b-c", "b.c", "bc",
            "z0", "zz",
        ]
        .iter()
        .map(|k| (s(k), Node::Null))
        .collect();
        sort_entries(&mut keys, Flavor::V2);
        let got: Vec<&str> = keys
            .iter()
            .map(|(k, _)| match k {
                Node::Str(k) => k.as_str(),
                _ => "",
            })
            .collect();
        assert_eq!(
            got,
            [
                "", "_x", "1", "9", "10", "A1", "a1", "a01", "a001", "a2", "a10", "b-c", "b.c",
                "bc", "z0", "zz"
            ]
        );
    }
}
