//! Go's `fmt` printing: `%v` of every kind, `print`, `println`, `printf`.

use minijinja::{Error, State, Value};

use crate::Registry;
use crate::value::{GoStruct, Kind, Num, as_list, kind, map_entries, num};

/// Registers `print`, `println`, `printf`.
pub fn register(r: &mut Registry) {
    r.add("print", |_: &State<'_, '_>, args: &[Value]| {
        Ok(Value::from(sprint(args)))
    });
    r.add("println", |_: &State<'_, '_>, args: &[Value]| {
        Ok(Value::from(sprintln(args)))
    });
    r.add("printf", |_: &State<'_, '_>, args: &[Value]| {
        crate::want_at_least("printf", args, 1)?;
        let format = args[0].as_str().ok_or_else(|| {
            crate::go_error(format!(
                "wrong type for value; expected string; got {}",
                crate::value::type_name(&args[0])
            ))
        })?;
        Ok(Value::from(sprintf(format, &args[1..])))
    });
}

/// Go's `strconv.FormatFloat(f, fmt, prec, 64)` for `fmt` in `e`, `E`, `f`, `g`, `G`;
/// `prec < 0` is the shortest representation that reads back as `f`.
pub fn format_float(f: f64, fmt: char, prec: i32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let neg = f.is_sign_negative() && f != 0.0 || (f == 0.0 && f.is_sign_negative());
    let a = f.abs();
    let body = match fmt {
        'f' | 'F' => {
            if prec < 0 {
                let (digits, dp) = shortest_digits(a);
                fixed(&digits, dp, None)
            } else {
                format!("{:.*}", prec as usize, a)
            }
        }
        'e' | 'E' => {
            let (digits, dp) = if prec < 0 {
                shortest_digits(a)
            } else {
                rounded_digits(a, prec as usize + 1, false)
            };
            let p = if prec < 0 {
                digits.len() - 1
            } else {
                prec as usize
            };
            exponent(&digits, dp, p, fmt == 'E')
        }
        _ => {
            let shortest = prec < 0;
            let (digits, dp) = if shortest {
                shortest_digits(a)
            } else {
                rounded_digits(a, (prec.max(1)) as usize, true)
            };
            let nd = digits.len() as i32;
            let mut eprec = if shortest { 6 } else { prec.max(1) };
            if !shortest && eprec > nd && nd >= dp {
                eprec = nd;
            }
            let exp = dp - 1;
            if exp < -4 || exp >= eprec {
                exponent(&digits, dp, digits.len() - 1, fmt == 'G')
            } else {
                fixed(&digits, dp, None)
            }
        }
    };
    if neg { format!("-{body}") } else { body }
}

/// The shortest decimal digits (no trailing zeros) and the decimal point position of `a >= 0`.
fn shortest_digits(a: f64) -> (String, i32) {
    if a == 0.0 {
        return ("0".into(), 1);
    }
    split_sci(&format!("{a:e}"))
}

/// `a` rounded to `n` significant digits; with `trim`, trailing zeros removed.
fn rounded_digits(a: f64, n: usize, trim: bool) -> (String, i32) {
    if a == 0.0 {
        let digits = if trim { "0".to_string() } else { "0".repeat(n) };
        return (digits, 1);
    }
    let (mut digits, dp) = split_sci(&format!("{:.*e}", n - 1, a));
    if trim {
        while digits.len() > 1 && digits.ends_with('0') {
            digits.pop();
        }
    }
    (digits, dp)
}

/// Splits Rust's `d.ddde±x` into digits and decimal point position.
fn split_sci(s: &str) -> (String, i32) {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    (digits, exp + 1)
}

fn fixed(digits: &str, dp: i32, _prec: Option<usize>) -> String {
    if dp <= 0 {
        format!("0.{}{}", "0".repeat((-dp) as usize), digits)
    } else if dp as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(dp as usize - digits.len()))
    } else {
        let (a, b) = digits.split_at(dp as usize);
        format!("{a}.{b}")
    }
}

fn exponent(digits: &str, dp: i32, prec: usize, upper: bool) -> String {
    let mut out = String::new();
    let mut chars = digits.chars();
    out.push(chars.next().unwrap_or('0'));
    if prec > 0 {
        out.push('.');
        let rest: String = chars.collect();
        out.push_str(&rest);
        for _ in rest.len()..prec {
            out.push('0');
        }
    }
    let exp = if digits == "0" { 0 } else { dp - 1 };
    out.push(if upper { 'E' } else { 'e' });
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        out.push('0');
    }
    out.push_str(&e.to_string());
    out
}

/// Go's `%v` of `v`: `<nil>`, `true`, `80`, `1e+06`, `[a b]`, `map[a:1 b:[1 x]]`.
pub fn sprint_value(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

fn write_value(out: &mut String, v: &Value) {
    match kind(v) {
        Kind::Invalid => out.push_str("<nil>"),
        Kind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        Kind::Int | Kind::Int64 | Kind::Float64 => match num(v) {
            Some(Num::Float(f)) => out.push_str(&format_float(f, 'g', -1)),
            Some(n) => out.push_str(&n.as_i64().to_string()),
            None => {}
        },
        Kind::String => out.push_str(v.as_str().unwrap_or_default()),
        Kind::Slice => {
            out.push('[');
            for (i, x) in as_list(v).unwrap_or_default().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, x);
            }
            out.push(']');
        }
        Kind::Map => {
            out.push_str("map[");
            for (i, (k, x)) in map_entries(v).iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_value(out, x);
            }
            out.push(']');
        }
        Kind::Struct => match v.downcast_object_ref::<GoStruct>() {
            Some(GoStruct {
                display: Some(d), ..
            }) => out.push_str(d),
            Some(s) => {
                out.push('{');
                for (i, x) in s.fields.values().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    write_value(out, x);
                }
                out.push('}');
            }
            None => out.push_str(&v.to_string()),
        },
    }
}

/// Go's `fmt.Sprint`: operands printed with `%v`, a space between two operands when neither
/// is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_string = kind(a) == Kind::String;
        if i > 0 && !is_string && kind(&args[i - 1]) != Kind::String {
            out.push(' ');
        }
        write_value(&mut out, a);
    }
    out
}

/// Go's `fmt.Sprintln`: operands with `%v`, always space-separated, newline at the end.
pub fn sprintln(args: &[Value]) -> String {
    let parts: Vec<String> = args.iter().map(sprint_value).collect();
    format!("{}\n", parts.join(" "))
}

/// Go's `fmt.Sprintf` (the verbs charts use; others print Go's `%!verb(type=value)` form).
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        match verb {
            'v' | 's' => write_value(&mut out, arg),
            'd' => match num(arg) {
                Some(Num::Int(i) | Num::Int64(i)) => out.push_str(&i.to_string()),
                _ => out.push_str(&bad_verb(verb, arg)),
            },
            'q' => match arg.as_str() {
                Some(s) => out.push_str(&go_quote(s)),
                None => out.push_str(&bad_verb(verb, arg)),
            },
            _ => out.push_str(&bad_verb(verb, arg)),
        }
    }
    if next < args.len() {
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", crate::value::type_name(a), sprint_value(a)))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn bad_verb(verb: char, arg: &Value) -> String {
    format!(
        "%!{verb}({}={})",
        crate::value::type_name(arg),
        sprint_value(arg)
    )
}

/// Go's `strconv.Quote`: a double-quoted Go string literal.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The text `{{ v }}` prints, before Helm removes `<no value>`: `%v`, nil as `<no value>`.
pub fn template_print(v: &Value) -> String {
    if crate::value::is_nil(v) {
        "<no value>".into()
    } else {
        sprint_value(v)
    }
}

/// Keeps `Error` in the signatures of this module's public API stable.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{float64, int, list};

    #[test]
    fn floats_print_as_go() {
        assert_eq!(format_float(1_000_000.0, 'g', -1), "1e+06");
        assert_eq!(format_float(100_000.0, 'g', -1), "100000");
        assert_eq!(format_float(3.0, 'g', -1), "3");
        assert_eq!(format_float(0.5, 'g', -1), "0.5");
        assert_eq!(format_float(0.00001, 'g', -1), "1e-05");
        assert_eq!(format_float(1.25, 'f', 1), "1.2");
        assert_eq!(format_float(1.5, 'e', -1), "1.5e+00");
        assert_eq!(format_float(-2.0, 'g', -1), "-2");
    }

    #[test]
    fn values_print_as_go() {
        assert_eq!(sprint_value(&list(vec![int(1), Value::from("x")])), "[1 x]");
        assert_eq!(sprint(&[int(1), int(2)]), "1 2");
        assert_eq!(sprint(&[Value::from("a"), int(2)]), "a2");
        assert_eq!(sprint_value(&float64(1.5)), "1.5");
    }
}
