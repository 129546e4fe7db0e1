//! Sprig's arithmetic: `add`, `sub`, `mul`, `div`, `mod`, `max`, `min` on int64 (arguments
//! cast as spf13/cast does); `addf`, `subf`, `mulf`, `divf` on decimals as shopspring/decimal
//! computes them; `floor`, `ceil`, `round`, `maxf`, `minf`, `randInt`.

use minijinja::{Error, State, Value};

use crate::args::{float_arg, int_arg};
use crate::conv::{to_float64, to_int64};
use crate::value::{float64, int, int64};
use crate::{Registry, go_error, want_args, want_at_least};

/// Registers the arithmetic functions.
pub fn register(r: &mut Registry) {
    r.add("add1", |_: &State<'_, '_>, a: &[Value]| {
        want_args("add1", a, 1)?;
        Ok(int64(to_int64(&a[0]).wrapping_add(1)))
    });
    r.add("add", |_: &State<'_, '_>, a: &[Value]| {
        Ok(int64(
            a.iter().fold(0i64, |s, x| s.wrapping_add(to_int64(x))),
        ))
    });
    r.add("sub", |_: &State<'_, '_>, a: &[Value]| {
        want_args("sub", a, 2)?;
        Ok(int64(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
    });
    r.add("mul", |_: &State<'_, '_>, a: &[Value]| {
        want_at_least("mul", a, 1)?;
        Ok(int64(
            a[1..]
                .iter()
                .fold(to_int64(&a[0]), |p, x| p.wrapping_mul(to_int64(x))),
        ))
    });
    r.add("div", |_: &State<'_, '_>, a: &[Value]| {
        want_args("div", a, 2)?;
        let (x, y) = (to_int64(&a[0]), to_int64(&a[1]));
        if y == 0 {
            return Err(go_error("runtime error: integer divide by zero"));
        }
        Ok(int64(x.wrapping_div(y)))
    });
    r.add("mod", |_: &State<'_, '_>, a: &[Value]| {
        want_args("mod", a, 2)?;
        let (x, y) = (to_int64(&a[0]), to_int64(&a[1]));
        if y == 0 {
            return Err(go_error("runtime error: integer divide by zero"));
        }
        Ok(int64(x.wrapping_rem(y)))
    });
    fn max(_: &State<'_, '_>, a: &[Value]) -> Result<Value, Error> {
        want_at_least("max", a, 1)?;
        Ok(int64(a.iter().map(to_int64).max().unwrap_or(0)))
    }
    r.add("max", max);
    r.add("biggest", |s: &State<'_, '_>, a: &[Value]| {
        want_at_least("biggest", a, 1)?;
        max(s, a)
    });
    r.add("min", |_: &State<'_, '_>, a: &[Value]| {
        want_at_least("min", a, 1)?;
        Ok(int64(a.iter().map(to_int64).min().unwrap_or(0)))
    });
    r.add("maxf", |_: &State<'_, '_>, a: &[Value]| {
        want_at_least("maxf", a, 1)?;
        let first = to_float64(&a[0]);
        Ok(float64(
            a[1..].iter().fold(first, |m, x| go_max(m, to_float64(x))),
        ))
    });
    r.add("minf", |_: &State<'_, '_>, a: &[Value]| {
        want_at_least("minf", a, 1)?;
        let first = to_float64(&a[0]);
        Ok(float64(
            a[1..].iter().fold(first, |m, x| go_min(m, to_float64(x))),
        ))
    });
    r.add("floor", |_: &State<'_, '_>, a: &[Value]| {
        want_args("floor", a, 1)?;
        Ok(float64(to_float64(&a[0]).floor()))
    });
    r.add("ceil", |_: &State<'_, '_>, a: &[Value]| {
        want_args("ceil", a, 1)?;
        Ok(float64(to_float64(&a[0]).ceil()))
    });
    r.add("round", |_: &State<'_, '_>, a: &[Value]| {
        want_at_least("round", a, 2)?;
        let places = int_arg(a, 1)?;
        let round_on = if a.len() > 2 { float_arg(a, 2)? } else { 0.5 };
        for i in 3..a.len() {
            float_arg(a, i)?;
        }
        Ok(float64(round(to_float64(&a[0]), places, round_on)))
    });
    r.add("randInt", |_: &State<'_, '_>, a: &[Value]| {
        want_args("randInt", a, 2)?;
        let (lo, hi) = (int_arg(a, 0)?, int_arg(a, 1)?);
        let n = hi.wrapping_sub(lo);
        if n <= 0 {
            return Err(go_error("invalid argument to Intn"));
        }
        use rand::Rng;
        Ok(int(rand::rng().random_range(0..n) + lo))
    });
    r.add("add1f", |_: &State<'_, '_>, a: &[Value]| {
        want_args("add1f", a, 1)?;
        decimal_op(&a[0], &[int(1)], Op::Add)
    });
    r.add("addf", |_: &State<'_, '_>, a: &[Value]| {
        decimal_op(&float64(0.0), a, Op::Add)
    });
    r.add("subf", |_: &State<'_, '_>, a: &[Value]| {
        want_at_least("subf", a, 1)?;
        decimal_op(&a[0], &a[1..], Op::Sub)
    });
    r.add("mulf", |_: &State<'_, '_>, a: &[Value]| {
        want_at_least("mulf", a, 1)?;
        decimal_op(&a[0], &a[1..], Op::Mul)
    });
    r.add("divf", |_: &State<'_, '_>, a: &[Value]| {
        want_at_least("divf", a, 1)?;
        decimal_op(&a[0], &a[1..], Op::Div)
    });
}

/// Go's `math.Max`.
fn go_max(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x > 0.0 || y.is_infinite() && y > 0.0 {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && y == 0.0 {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y { x } else { y }
}

/// Go's `math.Min`.
fn go_min(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x < 0.0 || y.is_infinite() && y < 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && y == 0.0 {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y { x } else { y }
}

/// Sprig's `round`: `places` decimals, up when the dropped fraction is at least `round_on`.
fn round(v: f64, places: i64, round_on: f64) -> f64 {
    let pow = 10f64.powf(places as f64);
    let digit = pow * v;
    let frac = digit.fract();
    let r = if frac >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    r / pow
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// A decimal `mant * 10^exp`, as shopspring/decimal holds it.
#[derive(Clone, Copy, Debug)]
struct Decimal {
    mant: i128,
    exp: i32,
}

impl Decimal {
    /// shopspring's `NewFromFloat`: the shortest decimal that reads back as `f`.
    fn from_f64(f: f64) -> Result<Decimal, Error> {
        if !f.is_finite() {
            return Err(go_error(format!(
                "Cannot create a Decimal from {}",
                crate::fmt::format_float(f, 'g', -1)
            )));
        }
        if f == 0.0 {
            return Ok(Decimal { mant: 0, exp: 0 });
        }
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let frac_len = m.split_once('.').map_or(0, |(_, b)| b.len()) as i32;
        let digits: String = m.chars().filter(|c| *c != '.').collect();
        let mant: i128 = digits.parse().unwrap_or(0);
        Ok(Decimal {
            mant,
            exp: e - frac_len,
        })
    }

    fn to_f64(self) -> f64 {
        format!("{}e{}", self.mant, self.exp).parse().unwrap_or(0.0)
    }

    /// Both mantissas at the smaller exponent, if they fit.
    fn align(self, o: Decimal) -> Option<(i128, i128, i32)> {
        let exp = self.exp.min(o.exp);
        let a = self.mant.checked_mul(pow10(self.exp - exp)?)?;
        let b = o.mant.checked_mul(pow10(o.exp - exp)?)?;
        Some((a, b, exp))
    }

    fn apply(self, o: Decimal, op: Op) -> Result<Option<Decimal>, Error> {
        Ok(match op {
            Op::Add => self
                .align(o)
                .and_then(|(a, b, exp)| a.checked_add(b).map(|mant| Decimal { mant, exp })),
            Op::Sub => self
                .align(o)
                .and_then(|(a, b, exp)| a.checked_sub(b).map(|mant| Decimal { mant, exp })),
            Op::Mul => self.mant.checked_mul(o.mant).map(|mant| Decimal {
                mant,
                exp: self.exp + o.exp,
            }),
            Op::Div => {
                if o.mant == 0 {
                    return Err(go_error("decimal division by 0"));
                }
                // The quotient in units of 10^-16, rounded half away from zero.
                let k = self.exp - o.exp + 16;
                let (num, den) = if k >= 0 {
                    match pow10(k).and_then(|p| self.mant.checked_mul(p)) {
                        Some(n) => (n, o.mant),
                        None => return Ok(None),
                    }
                } else {
                    match pow10(-k).and_then(|p| o.mant.checked_mul(p)) {
                        Some(d) => (self.mant, d),
                        None => return Ok(None),
                    }
                };
                let (q, r) = (num / den, num % den);
                let away = r.unsigned_abs() * 2 >= den.unsigned_abs();
                let q = if away && r != 0 {
                    if (num < 0) != (den < 0) { q - 1 } else { q + 1 }
                } else {
                    q
                };
                Some(Decimal { mant: q, exp: -16 })
            }
        })
    }
}

fn pow10(n: i32) -> Option<i128> {
    10i128.checked_pow(u32::try_from(n).ok()?)
}

/// Sprig's `execDecimalOp`: `first op x op y ...` on decimals, read back as a float64.
fn decimal_op(first: &Value, rest: &[Value], op: Op) -> Result<Value, Error> {
    let mut acc = Decimal::from_f64(to_float64(first))?;
    let mut fallback: Option<f64> = None;
    for x in rest {
        let f = to_float64(x);
        let d = Decimal::from_f64(f)?;
        if let Some(v) = fallback.as_mut() {
            *v = float_op(*v, f, op)?;
            continue;
        }
        match acc.apply(d, op)? {
            Some(next) => acc = next,
            None => fallback = Some(float_op(acc.to_f64(), f, op)?),
        }
    }
    Ok(float64(fallback.unwrap_or_else(|| acc.to_f64())))
}

/// The float64 operation for results too large for the exact decimal (beyond 38 digits).
fn float_op(a: f64, b: f64, op: Op) -> Result<f64, Error> {
    Ok(match op {
        Op::Add => a + b,
        Op::Sub => a - b,
        Op::Mul => a * b,
        Op::Div => {
            if b == 0.0 {
                return Err(go_error("decimal division by 0"));
            }
            a / b
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::testing::show;

    /// Expected values are Sprig v3.3.0's for the same call in Go 1.26.
    #[test]
    fn math_matches_sprig() {
        let cases: &[(&str, &[&str], &str)] = &[
            // BEGIN GO CASES
            ("add", &["i:1", "i:2"], "3"),
            ("add", &["f:1.9", "s:3", "n:"], "4"),
            ("add", &[], "0"),
            ("typeOf", &["I:1"], "int64"),
            ("add1", &["f:2.5"], "3"),
            ("add1", &["s:x"], "1"),
            ("sub", &["i:5", "f:2.9"], "3"),
            ("mul", &["i:3", "i:4", "s:2"], "24"),
            ("mul", &["i:3"], "3"),
            ("div", &["i:7", "i:2"], "3"),
            ("div", &["i:-7", "i:2"], "-3"),
            (
                "div",
                &["i:7", "i:0"],
                "ERR:runtime error: integer divide by zero",
            ),
            (
                "div",
                &["I:-9223372036854775808", "i:-1"],
                "-9223372036854775808",
            ),
            ("mod", &["i:7", "i:3"], "1"),
            ("mod", &["i:-7", "i:3"], "-1"),
            (
                "mod",
                &["i:7", "i:0"],
                "ERR:runtime error: integer divide by zero",
            ),
            ("max", &["i:1", "s:5", "f:3.9"], "5"),
            ("max", &["i:1"], "1"),
            ("biggest", &["i:1", "i:9"], "9"),
            ("min", &["i:1", "s:-5", "f:3.9"], "-5"),
            ("maxf", &["f:1.5", "s:2.5", "i:1"], "2.5"),
            ("minf", &["f:1.5", "s:-2.5", "i:1"], "-2.5"),
            ("floor", &["f:1.5"], "1"),
            ("floor", &["s:-1.5"], "-2"),
            ("ceil", &["f:1.2"], "2"),
            ("ceil", &["i:3"], "3"),
            ("round", &["f:3.14159", "i:2"], "3.14"),
            ("round", &["f:2.5", "i:0"], "3"),
            ("round", &["f:-2.5", "i:0"], "-3"),
            ("round", &["f:3.145", "i:2"], "3.15"),
            ("round", &["f:1.15", "i:1"], "1.2"),
            ("round", &["f:3.7", "i:0", "f:0.8"], "3"),
            ("round", &["s:3.7", "i:0"], "4"),
            (
                "round",
                &["f:3.7", "f:0"],
                "ERR:wrong type for value; expected int; got float64",
            ),
            (
                "round",
                &["f:3.7", "I:0"],
                "ERR:wrong type for value; expected int; got int64",
            ),
            (
                "round",
                &["f:3.7", "i:0", "i:1"],
                "ERR:wrong type for value; expected float64; got int",
            ),
            ("round", &["f:123.456", "i:-1"], "120"),
            ("addf", &["f:0.1", "f:0.2"], "0.3"),
            ("addf", &["f:1.5", "s:2", "i:3"], "6.5"),
            ("addf", &[], "0"),
            ("add1f", &["f:0.1"], "1.1"),
            ("subf", &["f:0.3", "f:0.1"], "0.2"),
            ("subf", &["f:5"], "5"),
            ("mulf", &["f:0.1", "f:3"], "0.3"),
            ("mulf", &["f:1.1", "f:1.1", "f:1.1"], "1.331"),
            ("mulf", &["s:2.5", "i:4"], "10"),
            ("divf", &["f:1", "f:3"], "0.3333333333333333"),
            ("divf", &["f:2", "f:3"], "0.6666666666666667"),
            ("divf", &["f:-2", "f:3"], "-0.6666666666666667"),
            ("divf", &["f:10", "f:4"], "2.5"),
            ("divf", &["f:1", "f:0"], "ERR:decimal division by 0"),
            ("divf", &["f:1e-20", "f:3"], "0"),
            ("divf", &["f:100", "f:7", "f:3"], "4.761904761904762"),
            ("mulf", &["f:1e20", "f:1e20"], "1e+40"),
            (
                "mulf",
                &["f:123456789.123", "f:987654321.987", "f:1234567.891"],
                "1.5053411153721863e+23",
            ),
            ("addf", &["f:1e300", "f:1e-300"], "1e+300"),
            ("floor", &["n:"], "0"),
            ("randInt", &["i:5", "i:5"], "ERR:invalid argument to Intn"),
            ("randInt", &["i:5", "i:6"], "5"),
            // END GO CASES
        ];
        for (name, args, want) in cases {
            assert_eq!(show(name, args), *want, "{name} {args:?}");
        }
    }
}
