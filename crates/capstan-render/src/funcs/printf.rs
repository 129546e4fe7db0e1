//! `printf`: a subset of Go's `fmt.Sprintf`, bounded in size.

use std::fmt::Write as _;

use capstan_sprig::fmt::go_quote;
use minijinja::Error;
use minijinja::value::{Value, ValueKind};

use super::bounds::Bounds;
use super::values::{strval, to_float, to_int};

/// A subset of Go's `fmt.Sprintf`: `%v %s %d %f %e %g %q %t %x %X %o %b %%` with flags
/// `-`, `+`, `0`, width and precision.
pub(super) fn printf(b: Bounds, format: &str, args: &[Value]) -> Result<String, Error> {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next_arg = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut minus, mut plus, mut zero) = (false, false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(if p.is_empty() {
                0
            } else {
                p.parse().unwrap_or(usize::MAX)
            });
        }
        let w: usize = if width.is_empty() {
            0
        } else {
            width.parse().unwrap_or(usize::MAX)
        };
        b.string(
            "printf",
            w.max(precision.unwrap_or(0)).saturating_add(out.len()),
        )?;
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next_arg += 1;
        let numeric = matches!(verb, 'd' | 'f' | 'F' | 'e' | 'g' | 'x' | 'X' | 'o' | 'b');
        let sign = |s: String, positive: bool| {
            if plus && positive { format!("+{s}") } else { s }
        };
        let formatted = match verb {
            'd' => {
                let i = to_int(arg);
                sign(i.to_string(), i >= 0)
            }
            'f' | 'F' => {
                let f = to_float(arg);
                sign(format!("{:.*}", precision.unwrap_or(6), f), f >= 0.0)
            }
            'e' => {
                let f = to_float(arg);
                sign(format!("{:.*e}", precision.unwrap_or(6), f), f >= 0.0)
            }
            'g' => {
                let f = to_float(arg);
                sign(
                    match precision {
                        Some(p) => format!("{f:.p$}"),
                        None => format!("{f}"),
                    },
                    f >= 0.0,
                )
            }
            'x' | 'X' => {
                let s = if arg.kind() == ValueKind::String {
                    strval(arg).bytes().map(|b| format!("{b:02x}")).collect()
                } else {
                    format!("{:x}", to_int(arg))
                };
                if verb == 'X' { s.to_uppercase() } else { s }
            }
            'o' => format!("{:o}", to_int(arg)),
            'b' => format!("{:b}", to_int(arg)),
            't' => arg.is_true().to_string(),
            'q' => go_quote(&strval(arg)),
            's' | 'v' => {
                let s = strval(arg);
                match precision {
                    Some(p) if verb == 's' => s.chars().take(p).collect(),
                    _ => s,
                }
            }
            other => format!("%!{other}({})", strval(arg)),
        };
        let len = formatted.chars().count();
        if len >= w {
            out.push_str(&formatted);
        } else if minus {
            out.push_str(&formatted);
            out.push_str(&" ".repeat(w - len));
        } else if zero && numeric {
            let (sign, digits) = match formatted.strip_prefix(['-', '+']) {
                Some(d) => (&formatted[..1], d),
                None => ("", formatted.as_str()),
            };
            out.push_str(sign);
            out.push_str(&"0".repeat(w - len));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(w - len));
            out.push_str(&formatted);
        }
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..].iter().map(strval).collect();
        let _ = write!(out, "%!(EXTRA {})", extra.join(", "));
    }
    b.string("printf", out.len())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funcs::bounds::TEST as B;

    fn printf(format: &str, args: &[Value]) -> String {
        super::printf(B, format, args).unwrap()
    }

    #[test]
    fn printf_verbs() {
        let v = |x: i64| Value::from(x);
        assert_eq!(printf("%s-%d", &[Value::from("a"), v(3)]), "a-3");
        assert_eq!(
            printf(
                "%05d|%-4s|%4s",
                &[v(42), Value::from("ab"), Value::from("cd")]
            ),
            "00042|ab  |  cd"
        );
        assert_eq!(
            printf(
                "%.2f %q %t %x %%",
                &[
                    Value::from(1.5),
                    Value::from("q\""),
                    Value::from(true),
                    v(255)
                ]
            ),
            "1.50 \"q\\\"\" true ff %"
        );
        assert_eq!(printf("%d %d", &[v(1)]), "1 %!d(MISSING)");
        assert_eq!(printf("%v", &[v(1), v(2)]), "1%!(EXTRA 2)");
    }
}
