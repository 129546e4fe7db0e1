//! Go's shortest float64 formatting (`strconv.FormatFloat(f, 'e'|'f'|'g', -1, 64)`) as the
//! encoders print numbers, ties between two shortest candidates rounded half to even as Go
//! does (Rust's own shortest form rounds those up: 594143416755942.25 is `...942.2` in Go).

/// The shortest decimal digits of `a >= 0` that read back as `a`, and the position of the
/// decimal point, chosen as Go chooses.
pub fn shortest_digits(a: f64) -> (String, i32) {
    if a == 0.0 {
        return ("0".into(), 1);
    }
    let (digits, dp) = split_sci(&format!("{a:e}"));
    // The exact decimal value of `a`, to pick the nearest n-digit form (half to even).
    let (exact, exact_dp) = split_sci(&format!("{a:.800e}"));
    let (rounded, rdp) = round_half_even(&exact, exact_dp, digits.len());
    let candidate = trim_zeros(rounded);
    if candidate != digits && parse(&candidate, rdp) == Some(a) {
        (candidate, rdp)
    } else {
        (digits, dp)
    }
}

/// The decimal `0.digits × 10^dp` rounded to `n` digits, half to even, with its new point.
fn round_half_even(digits: &str, dp: i32, n: usize) -> (String, i32) {
    let b = digits.as_bytes();
    if b.len() <= n {
        return (digits.to_string(), dp);
    }
    let rest = &b[n..];
    let up = match rest[0] {
        d if d > b'5' => true,
        d if d < b'5' => false,
        _ => rest[1..].iter().any(|&d| d != b'0') || (n > 0 && (b[n - 1] - b'0') % 2 == 1),
    };
    let mut out: Vec<u8> = b[..n].to_vec();
    if !up {
        return (String::from_utf8(out).unwrap_or_default(), dp);
    }
    let mut i = n;
    while i > 0 {
        i -= 1;
        if out[i] == b'9' {
            out[i] = b'0';
        } else {
            out[i] += 1;
            return (String::from_utf8(out).unwrap_or_default(), dp);
        }
    }
    // Carried out of the top digit: 999 becomes 1000.
    out.insert(0, b'1');
    out.pop();
    (String::from_utf8(out).unwrap_or_default(), dp + 1)
}

fn trim_zeros(mut s: String) -> String {
    while s.len() > 1 && s.ends_with('0') {
        s.pop();
    }
    s
}

fn parse(digits: &str, dp: i32) -> Option<f64> {
    format!("0.{digits}e{dp}").parse().ok()
}

/// Splits Rust's `d.ddde±x` into its digits and the decimal point position.
fn split_sci(s: &str) -> (String, i32) {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    (digits, exp + 1)
}

/// `strconv.FormatFloat(f, fmt, -1, 64)` for `fmt` in `e`, `f`, `g`, for finite `f`.
pub fn format_shortest(f: f64, fmt: char) -> String {
    let neg = f.is_sign_negative();
    let (digits, dp) = shortest_digits(f.abs());
    let exp = dp - 1;
    let use_e = match fmt {
        'e' => true,
        'f' => false,
        // Shortest `g` uses the exponent form below 1e-4 and from 1e6 on (Go's eprec 6).
        _ => !(-4..6).contains(&exp),
    };
    let body = if use_e {
        let mut s = digits[..1].to_string();
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        let e = if digits == "0" { 0 } else { exp };
        format!(
            "{s}e{}{:02}",
            if e < 0 { '-' } else { '+' },
            e.unsigned_abs()
        )
    } else if dp <= 0 {
        format!("0.{}{digits}", "0".repeat((-dp) as usize))
    } else if dp as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(dp as usize - digits.len()))
    } else {
        format!("{}.{}", &digits[..dp as usize], &digits[dp as usize..])
    };
    if neg { format!("-{body}") } else { body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_round_half_even_as_go() {
        let tie: f64 = "594143416755942.25".parse().unwrap();
        assert_eq!(format_shortest(tie, 'f'), "594143416755942.2");
        assert_eq!(format_shortest(tie, 'g'), "5.941434167559422e+14");
    }

    #[test]
    fn shortest_forms() {
        assert_eq!(format_shortest(0.1, 'f'), "0.1");
        assert_eq!(format_shortest(1e21, 'e'), "1e+21");
        assert_eq!(format_shortest(12345678.9, 'g'), "1.23456789e+07");
        assert_eq!(format_shortest(100000.0, 'g'), "100000");
        assert_eq!(format_shortest(1e-7, 'g'), "1e-07");
        assert_eq!(format_shortest(0.0001, 'g'), "0.0001");
        assert_eq!(format_shortest(-0.0, 'f'), "-0");
        assert_eq!(format_shortest(1e23, 'g'), "1e+23");
    }
}
