//! Sprig's conversions: `toString`, `toStrings`, `int`, `int64`, `float64`, `atoi`,
//! `toDecimal`, and the casts (`strval`, spf13/cast's `ToInt64`/`ToFloat64`) other
//! functions use.

use minijinja::{State, Value};

use crate::args::string_arg;
use crate::value::{GoStruct, Kind, Num, as_list, is_nil, kind, num};
use crate::{Registry, want_args};

/// Registers `toString`, `toStrings`, `int`, `int64`, `float64`, `atoi`, `toDecimal`.
pub fn register(r: &mut Registry) {
    r.add("toString", |_: &State<'_, '_>, a: &[Value]| {
        want_args("toString", a, 1)?;
        Ok(Value::from(strval(&a[0])))
    });
    r.add("toStrings", |_: &State<'_, '_>, a: &[Value]| {
        want_args("toStrings", a, 1)?;
        Ok(strings_value(strslice(&a[0])))
    });
    r.add("int", |_: &State<'_, '_>, a: &[Value]| {
        want_args("int", a, 1)?;
        Ok(crate::value::int(to_int64(&a[0])))
    });
    r.add("int64", |_: &State<'_, '_>, a: &[Value]| {
        want_args("int64", a, 1)?;
        Ok(crate::value::int64(to_int64(&a[0])))
    });
    r.add("float64", |_: &State<'_, '_>, a: &[Value]| {
        want_args("float64", a, 1)?;
        Ok(crate::value::float64(to_float64(&a[0])))
    });
    r.add("atoi", |_: &State<'_, '_>, a: &[Value]| {
        want_args("atoi", a, 1)?;
        let s = string_arg(a, 0)?;
        Ok(crate::value::int(atoi(s).unwrap_or(0)))
    });
    r.add("toDecimal", |_: &State<'_, '_>, a: &[Value]| {
        want_args("toDecimal", a, 1)?;
        let s = crate::fmt::sprint(std::slice::from_ref(&a[0]));
        Ok(crate::value::int64(parse_int(&s, 8).unwrap_or(0)))
    });
}

/// A Go `[]string` value.
pub fn strings_value(items: Vec<String>) -> Value {
    crate::value::list(items.into_iter().map(Value::from).collect())
}

/// Sprig's `strval`: a string as it is, a `Stringer` by its `String()`, anything else `%v`.
pub fn strval(v: &Value) -> String {
    if kind(v) == Kind::String {
        return v.as_str().unwrap_or_default().to_string();
    }
    if let Some(GoStruct {
        display: Some(d), ..
    }) = v.downcast_object_ref::<GoStruct>()
    {
        return d.clone();
    }
    crate::fmt::sprint_value(v)
}

/// Sprig's `strslice`: a slice's non-nil elements through `strval`; nil is empty; any other
/// value is a one-element list.
pub fn strslice(v: &Value) -> Vec<String> {
    if is_nil(v) {
        return Vec::new();
    }
    match as_list(v) {
        Some(items) => items.iter().filter(|x| !is_nil(x)).map(strval).collect(),
        None => vec![strval(v)],
    }
}

/// spf13/cast's `ToInt64` (and `ToInt`): numbers converted (floats truncated), strings
/// parsed as Go integer literals (`0x1f`, `0o17`, `017`, `1_000`, a `.0` tail dropped),
/// bools 1 and 0, anything else 0.
pub fn to_int64(v: &Value) -> i64 {
    match num(v) {
        Some(n) => n.as_i64(),
        None => match kind(v) {
            Kind::Bool => i64::from(v.is_true()),
            Kind::String => {
                parse_int(trim_zero_decimal(v.as_str().unwrap_or_default()), 0).unwrap_or(0)
            }
            _ => 0,
        },
    }
}

/// spf13/cast's `ToFloat64`: numbers converted, strings parsed as Go's `ParseFloat` does,
/// bools 1 and 0, anything else 0.
pub fn to_float64(v: &Value) -> f64 {
    match num(v) {
        Some(n) => n.as_f64(),
        None => match kind(v) {
            Kind::Bool => f64::from(u8::from(v.is_true())),
            Kind::String => parse_float(v.as_str().unwrap_or_default()).unwrap_or(0.0),
            _ => 0.0,
        },
    }
}

/// Whether `v` is a Go number of `Num::Int` kind (used by callers that need Go `int`).
pub fn is_go_int(v: &Value) -> bool {
    matches!(num(v), Some(Num::Int(_)))
}

/// cast's `trimZeroDecimal`: `"3.00"` is `"3"`, `"3.50"` stays.
fn trim_zero_decimal(s: &str) -> &str {
    let b = s.as_bytes();
    let mut found_zero = false;
    for i in (1..=b.len()).rev() {
        match b[i - 1] {
            b'.' => {
                if found_zero {
                    return &s[..i - 1];
                }
            }
            b'0' => found_zero = true,
            _ => return s,
        }
    }
    s
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits, within int64.
pub fn atoi(s: &str) -> Option<i64> {
    parse_int(s, 10).filter(|_| !s.contains('_'))
}

/// Go's `strconv.ParseInt(s, base, 64)`; base 0 reads Go's prefixes and underscores.
pub fn parse_int(s: &str, base: u32) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint(body, base)?;
    if neg {
        if u > 1u64 << 63 {
            return None;
        }
        Some((u as i64).wrapping_neg())
    } else {
        i64::try_from(u).ok()
    }
}

fn parse_uint(s: &str, base: u32) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let (radix, digits) = if base == 0 {
        if let Some(r) = lower.strip_prefix("0x") {
            (16, r)
        } else if let Some(r) = lower.strip_prefix("0b") {
            (2, r)
        } else if let Some(r) = lower.strip_prefix("0o") {
            (8, r)
        } else if lower.len() > 1 && lower.starts_with('0') {
            (8, &lower[1..])
        } else {
            (10, lower.as_str())
        }
    } else {
        (base, lower.as_str())
    };
    if digits.contains('_') && (base != 0 || !allow_underscores_syntax(&lower)) {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() || clean.starts_with(['+', '-']) {
        return None;
    }
    u64::from_str_radix(&clean, radix).ok()
}

/// Go's `underscoreOK`: underscores only between digits (or after a base prefix), as in Go
/// literals; only with base 0, which callers get through `parse_int(_, 0)`.
fn allow_underscores_syntax(s: &str) -> bool {
    let b = s.as_bytes();
    // `saw` is '^' at the start, '0' after a digit or prefix, '_' after an underscore.
    let mut saw = b'^';
    let mut i = 0;
    let hex = s.starts_with("0x");
    if s.len() >= 2 && b[0] == b'0' && matches!(b[1], b'x' | b'b' | b'o') {
        i = 2;
        saw = b'0';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal input (`1e3`, `.5`, `+1`, `inf`, `NaN`);
/// out of range is an error, as in Go.
pub fn parse_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return s.parse::<f64>().ok();
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'))
    {
        return None;
    }
    if body.contains('_') && !allow_underscores_syntax(&lower) {
        return None;
    }
    let f: f64 = s.replace('_', "").parse().ok()?;
    if f.is_infinite() { None } else { Some(f) }
}

#[cfg(test)]
mod tests {
    use crate::testing::show;

    /// Expected values are Sprig v3.3.0's (cast v1.7.0) for the same call in Go.
    #[test]
    fn conversions_match_sprig() {
        let cases: &[(&str, &[&str], &str)] = &[
            // BEGIN GO CASES
            ("int", &["s:8080"], "8080"),
            ("int", &["f:3.9"], "3"),
            ("int", &["f:-3.9"], "-3"),
            ("int", &["s:abc"], "0"),
            ("int", &["n:"], "0"),
            ("int", &["s:3.0"], "3"),
            ("int", &["s:3.50"], "0"),
            ("int", &["s:0x1F"], "31"),
            ("int", &["s:017"], "15"),
            ("int", &["s:08"], "0"),
            ("int", &["s:1_000"], "1000"),
            ("int", &["s:_1000"], "0"),
            ("int", &["s:0x_1F"], "31"),
            ("int", &["s:0b101"], "5"),
            ("int", &["s:0o17"], "15"),
            ("int", &["s: 5"], "0"),
            ("int", &["s:+5"], "5"),
            ("int", &["s:-0x10"], "-16"),
            ("int", &["s:"], "0"),
            ("int", &["b:true"], "1"),
            ("int", &["I:7"], "7"),
            ("int", &["j:[1]"], "0"),
            ("int", &["f:1e19"], "-9223372036854775808"),
            ("int64", &["s:42"], "42"),
            ("int64", &["f:42.7"], "42"),
            ("int64", &["s:9223372036854775808"], "0"),
            ("float64", &["s:1.5"], "1.5"),
            ("float64", &["s:1e3"], "1000"),
            ("float64", &["s:abc"], "0"),
            ("float64", &["i:3"], "3"),
            ("float64", &["s:.5"], "0.5"),
            ("float64", &["s:5."], "5"),
            ("float64", &["s:1e400"], "0"),
            ("float64", &["s:inf"], "+Inf"),
            ("float64", &["s:1_000.5"], "1000.5"),
            ("float64", &["b:true"], "1"),
            ("float64", &["n:"], "0"),
            ("atoi", &["s:42"], "42"),
            ("atoi", &["s:-42"], "-42"),
            ("atoi", &["s:+42"], "42"),
            ("atoi", &["s:4.2"], "0"),
            ("atoi", &["s:1_0"], "0"),
            ("atoi", &["s:0x10"], "0"),
            (
                "atoi",
                &["f:42"],
                "ERR:wrong type for value; expected string; got float64",
            ),
            (
                "atoi",
                &["n:"],
                "ERR:wrong type for value; expected string; got interface {}",
            ),
            ("toDecimal", &["s:0777"], "511"),
            ("toDecimal", &["i:777"], "511"),
            ("toDecimal", &["s:8"], "0"),
            ("toDecimal", &["f:10"], "8"),
            ("toDecimal", &["s:-17"], "-15"),
            ("toString", &["f:1000000"], "1e+06"),
            ("toString", &["I:5"], "5"),
            ("toString", &["n:"], "<nil>"),
            ("toString", &["j:[1,\"a\"]"], "[1 a]"),
            ("toString", &["j:{\"a\":[1,null]}"], "map[a:[1 <nil>]]"),
            ("toString", &["b:true"], "true"),
            ("toStrings", &["j:[1,null,\"a\",true]"], "[1 a true]"),
            ("toStrings", &["n:"], "[]"),
            ("toStrings", &["i:5"], "[5]"),
            ("toStrings", &["s:abc"], "[abc]"),
            // END GO CASES
        ];
        for (name, args, want) in cases {
            assert_eq!(show(name, args), *want, "{name} {args:?}");
        }
    }
}
