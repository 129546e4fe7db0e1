//! Go's `fmt` printing: `%v` of every kind, `print`, `println`, `printf`.

use minijinja::{State, Value};

use crate::Registry;
use crate::value::{GoStruct, Kind, Num, as_list, is_nil, kind, map_entries, num};

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
        let format = crate::args::string_arg(args, 0)?;
        Ok(Value::from(sprintf(format, &args[1..])))
    });
}

/// Go's `strconv.FormatFloat(f, fmt, prec, 64)` for `fmt` in `b`, `e`, `E`, `f`, `g`, `G`, `x`, `X`;
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
    if matches!(fmt, 'b' | 'x' | 'X') {
        return format_float_binary(f, fmt, prec);
    }
    let neg = f.is_sign_negative();
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

/// `strconv.FormatFloat` in the binary formats: `b` (`4503599627370496p-52`) and `x`/`X`
/// (`0x1.8p+01`) with `prec` hexadecimal digits (`-1`: as many as needed).
fn format_float_binary(f: f64, fmt: char, prec: i32) -> String {
    let bits = f.to_bits();
    let neg = bits >> 63 != 0;
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1 << 52;
    }
    exp -= 1023;
    let sign = if neg { "-" } else { "" };
    if fmt == 'b' {
        let e = exp - 52;
        let es = if e >= 0 { "+" } else { "-" };
        return format!("{sign}{mant}p{es}{}", e.abs());
    }
    if mant == 0 {
        exp = 0;
    }
    mant <<= 8;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1u64 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let upper = fmt == 'X';
    let hex = |d: u64| {
        let c = char::from_digit(d as u32, 16).unwrap_or('0');
        if upper { c.to_ascii_uppercase() } else { c }
    };
    let mut out = format!("{sign}0{fmt}{}", (mant >> 60) & 1);
    mant <<= 4;
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(hex((mant >> 60) & 15));
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec {
            out.push(hex((mant >> 60) & 15));
            mant <<= 4;
        }
    }
    out.push(if upper { 'P' } else { 'p' });
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", exp.abs()));
    out
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

/// The Go type of `v` as `%T` prints it: [`crate::value::type_name`], and `time.Time` for
/// the time values of [`crate::dates`].
pub fn type_name(v: &Value) -> String {
    if v.downcast_object_ref::<crate::dates::GoTime>().is_some() {
        return "time.Time".into();
    }
    crate::value::type_name(v)
}

/// Go's `%v` of `v`: `<nil>`, `true`, `80`, `1e+06`, `[a b]`, `map[a:1 b:[1 x]]`.
pub fn sprint_value(v: &Value) -> String {
    let mut p = Printer::default();
    p.print_arg(v, 'v');
    p.out
}

/// Go's `fmt.Sprint`: operands printed with `%v`, a space between two operands when neither
/// is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = kind(a) == Kind::String;
        if i > 0 && !is_string && !prev_string {
            p.out.push(' ');
        }
        p.print_arg(a, 'v');
        prev_string = is_string;
    }
    p.out
}

/// Go's `fmt.Sprintln`: operands with `%v`, always space-separated, newline at the end.
pub fn sprintln(args: &[Value]) -> String {
    let mut p = Printer::default();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.out.push(' ');
        }
        p.print_arg(a, 'v');
    }
    p.out.push('\n');
    p.out
}

/// Go's `fmt.Sprintf`: every verb, flag, width and precision of Go's `fmt`, with its
/// `%!verb(type=value)`, `%!v(MISSING)`, `%!(EXTRA ...)` and `%!(BADWIDTH)` forms.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer::default();
    let b = format.as_bytes();
    let end = b.len();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut i = 0usize;
    'outer: while i < end {
        let mut good_arg_num = true;
        let last = i;
        while i < end && b[i] != b'%' {
            i += 1;
        }
        if i > last {
            p.out.push_str(&format[last..i]);
        }
        if i >= end {
            break;
        }
        i += 1;
        p.f = Flags::default();
        while i < end {
            match b[i] {
                b'#' => p.f.sharp = true,
                b'0' => p.f.zero = true,
                b'+' => p.f.plus = true,
                b'-' => p.f.minus = true,
                b' ' => p.f.space = true,
                _ => break,
            }
            i += 1;
        }
        // An explicit argument index, `%[2]d`.
        let mut after_index;
        (arg_num, i, after_index) = arg_number(
            format,
            i,
            arg_num,
            args.len(),
            &mut reordered,
            &mut good_arg_num,
        );
        // Width.
        if i < end && b[i] == b'*' {
            i += 1;
            let (n, ok, next) = int_from_arg(args, arg_num);
            arg_num = next;
            if ok {
                p.f.wid = Some(n.unsigned_abs() as usize);
                if n < 0 {
                    p.f.minus = true;
                    p.f.zero = false;
                }
            } else {
                p.out.push_str("%!(BADWIDTH)");
            }
            after_index = false;
        } else {
            let (n, ok, next) = parse_num(b, i, end);
            i = next;
            if ok {
                p.f.wid = Some(n);
                if after_index {
                    good_arg_num = false;
                }
            }
        }
        // Precision.
        if i + 1 < end && b[i] == b'.' {
            i += 1;
            if after_index {
                good_arg_num = false;
            }
            (arg_num, i, after_index) = arg_number(
                format,
                i,
                arg_num,
                args.len(),
                &mut reordered,
                &mut good_arg_num,
            );
            if i < end && b[i] == b'*' {
                i += 1;
                let (n, ok, next) = int_from_arg(args, arg_num);
                arg_num = next;
                if ok && n >= 0 {
                    p.f.prec = Some(n as usize);
                } else {
                    p.out.push_str("%!(BADPREC)");
                }
                after_index = false;
            } else {
                let (n, ok, next) = parse_num(b, i, end);
                i = next;
                p.f.prec = Some(if ok { n } else { 0 });
            }
        }
        if !after_index {
            (arg_num, i, _) = arg_number(
                format,
                i,
                arg_num,
                args.len(),
                &mut reordered,
                &mut good_arg_num,
            );
        }
        if i >= end {
            p.out.push_str("%!(NOVERB)");
            break 'outer;
        }
        let verb = format[i..].chars().next().unwrap_or('%');
        i += verb.len_utf8();
        if verb == '%' {
            p.out.push('%');
        } else if !good_arg_num {
            p.out.push_str(&format!("%!{verb}(BADINDEX)"));
        } else if arg_num >= args.len() {
            p.out.push_str(&format!("%!{verb}(MISSING)"));
        } else {
            if verb == 'v' || verb == 'w' {
                p.f.sharp_v = std::mem::take(&mut p.f.sharp);
                p.f.plus_v = std::mem::take(&mut p.f.plus);
            }
            if verb == 'w' {
                // Sprintf has no error to wrap.
                p.bad_verb(&args[arg_num], 'w');
            } else {
                p.print_arg(&args[arg_num], verb);
            }
            arg_num += 1;
        }
    }
    if !reordered && arg_num < args.len() {
        p.f = Flags::default();
        p.out.push_str("%!(EXTRA ");
        for (k, a) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                p.out.push_str(", ");
            }
            if is_nil(a) {
                p.out.push_str("<nil>");
            } else {
                p.out.push_str(&type_name(a));
                p.out.push('=');
                p.print_arg(a, 'v');
            }
        }
        p.out.push(')');
    }
    p.out
}

/// Go's `parsenum`: a decimal number at `b[start..end]`, if any, and where it ends.
fn parse_num(b: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    let mut n = 0usize;
    let mut ok = false;
    let mut i = start;
    while i < end && b[i].is_ascii_digit() {
        if n > 1_000_000 {
            return (0, false, end);
        }
        n = n * 10 + usize::from(b[i] - b'0');
        ok = true;
        i += 1;
    }
    (n, ok, i)
}

/// Go's `argNumber`: an explicit `[n]` argument index at `format[i..]`.
fn arg_number(
    format: &str,
    i: usize,
    arg_num: usize,
    num_args: usize,
    reordered: &mut bool,
    good: &mut bool,
) -> (usize, usize, bool) {
    let b = format.as_bytes();
    if i >= b.len() || b[i] != b'[' {
        return (arg_num, i, false);
    }
    *reordered = true;
    let rest = &b[i..];
    let (index, wid, ok) = 'parse: {
        if rest.len() < 3 {
            break 'parse (0, 1, false);
        }
        for j in 1..rest.len() {
            if rest[j] == b']' {
                let (n, ok, next) = parse_num(rest, 1, j);
                if !ok || next != j {
                    break 'parse (0, j + 1, false);
                }
                break 'parse (n as isize - 1, j + 1, true);
            }
        }
        (0, 1, false)
    };
    if ok && index >= 0 && (index as usize) < num_args {
        return (index as usize, i + wid, true);
    }
    *good = false;
    (arg_num, i + wid, ok)
}

/// Go's `intFromArg`: a `*` width or precision from the argument list.
fn int_from_arg(args: &[Value], arg_num: usize) -> (i64, bool, usize) {
    let Some(a) = args.get(arg_num) else {
        return (0, false, arg_num);
    };
    match num(a) {
        Some(Num::Int(n) | Num::Int64(n)) if (-1_000_000..=1_000_000).contains(&n) => {
            (n, true, arg_num + 1)
        }
        _ => (0, false, arg_num + 1),
    }
}

/// One verb's flags, width and precision.
#[derive(Default, Clone, Copy)]
struct Flags {
    wid: Option<usize>,
    prec: Option<usize>,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
}

/// Go's `pp`: the output and the current verb's flags.
#[derive(Default)]
struct Printer {
    out: String,
    f: Flags,
}

impl Printer {
    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        self.out.extend(std::iter::repeat_n(c, n));
    }

    /// `s` padded to the width, on the left or with `-` on the right.
    fn pad(&mut self, s: &str) {
        let Some(wid) = self.f.wid.filter(|w| *w > 0) else {
            self.out.push_str(s);
            return;
        };
        let n = wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.out.push_str(s);
            self.write_padding(n);
        } else {
            self.write_padding(n);
            self.out.push_str(s);
        }
    }

    /// `pad` with zero padding turned off.
    fn pad_spaces(&mut self, s: &str) {
        let zero = std::mem::take(&mut self.f.zero);
        self.pad(s);
        self.f.zero = zero;
    }

    fn print_arg(&mut self, v: &Value, verb: char) {
        if is_nil(v) {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(v, verb),
            }
            return;
        }
        match verb {
            'T' => {
                let t = type_name(v);
                self.fmt_s(&t);
                return;
            }
            'p' => {
                self.fmt_pointer(v, verb);
                return;
            }
            _ => {}
        }
        self.print_value(v, verb, 0);
    }

    fn print_value(&mut self, v: &Value, verb: char, depth: usize) {
        if depth > 0 && is_nil(v) {
            // An empty interface inside a slice or map.
            if self.f.sharp_v {
                self.out.push_str("interface {}(nil)");
            } else {
                self.out.push_str("<nil>");
            }
            return;
        }
        // A Stringer (a struct with a `String()` method).
        if let Some(GoStruct {
            display: Some(d), ..
        }) = v.downcast_object_ref::<GoStruct>()
            && !self.f.sharp_v
            && matches!(verb, 'v' | 's' | 'x' | 'X' | 'q')
        {
            let d = d.clone();
            self.fmt_string(&d, verb);
            return;
        }
        match kind(v) {
            Kind::Invalid => self.out.push_str("<nil>"),
            Kind::Bool => match verb {
                't' | 'v' => self.pad(if v.is_true() { "true" } else { "false" }),
                _ => self.bad_verb(v, verb),
            },
            Kind::Int | Kind::Int64 => {
                let n = num(v).map_or(0, Num::as_i64);
                self.fmt_integer(n as u64, true, verb, v);
            }
            Kind::Float64 => {
                let x = num(v).map_or(0.0, Num::as_f64);
                match verb {
                    'v' => self.fmt_float(x, 'g', -1),
                    'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(x, verb, -1),
                    'f' | 'e' | 'E' => self.fmt_float(x, verb, 6),
                    'F' => self.fmt_float(x, 'f', 6),
                    _ => self.bad_verb(v, verb),
                }
            }
            Kind::String => {
                let s = v.as_str().unwrap_or_default().to_string();
                self.fmt_string(&s, verb);
            }
            Kind::Slice => {
                let items = as_list(v).unwrap_or_default();
                if self.f.sharp_v {
                    self.out.push_str(&type_name(v));
                    self.out.push('{');
                } else {
                    self.out.push('[');
                }
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    self.print_value(x, verb, depth + 1);
                }
                self.out.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Kind::Map => {
                if self.f.sharp_v {
                    self.out.push_str(&type_name(v));
                    self.out.push('{');
                } else {
                    self.out.push_str("map[");
                }
                for (i, (k, x)) in map_entries(v).iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    self.print_value(&Value::from(k.as_str()), verb, depth + 1);
                    self.out.push(':');
                    self.print_value(x, verb, depth + 1);
                }
                self.out.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Kind::Struct => match v.downcast_object_ref::<GoStruct>() {
                Some(s) => {
                    if self.f.sharp_v {
                        self.out.push_str(s.type_name);
                    }
                    self.out.push('{');
                    for (i, (name, x)) in s.fields.iter().enumerate() {
                        if i > 0 {
                            self.out.push_str(if self.f.sharp_v { ", " } else { " " });
                        }
                        if self.f.plus_v || self.f.sharp_v {
                            self.out.push_str(name);
                            self.out.push(':');
                        }
                        self.print_value(x, verb, depth + 1);
                    }
                    self.out.push('}');
                }
                None => {
                    let s = v.to_string();
                    self.fmt_string(&s, verb);
                }
            },
        }
    }

    /// `%!verb(type=value)`, the value printed with `%v` and the same flags.
    fn bad_verb(&mut self, v: &Value, verb: char) {
        self.out.push_str("%!");
        self.out.push(verb);
        self.out.push('(');
        if is_nil(v) {
            self.out.push_str("<nil>");
        } else {
            self.out.push_str(&type_name(v));
            self.out.push('=');
            self.print_value(v, 'v', 0);
        }
        self.out.push(')');
    }

    fn fmt_pointer(&mut self, v: &Value, verb: char) {
        // Maps and slices have addresses in Go; capstan's do not, so they print as 0x0-less
        // addresses would be meaningless: treat every value as Go treats a non-pointer.
        self.bad_verb(v, verb);
    }

    fn fmt_integer(&mut self, u: u64, signed: bool, verb: char, v: &Value) {
        match verb {
            'v' | 'd' => self.fmt_int(u, 10, signed, verb, false),
            'b' => self.fmt_int(u, 2, signed, verb, false),
            'o' | 'O' => self.fmt_int(u, 8, signed, verb, false),
            'x' => self.fmt_int(u, 16, signed, verb, false),
            'X' => self.fmt_int(u, 16, signed, verb, true),
            'c' => {
                let c = char_of(u);
                self.pad(&c.to_string());
            }
            'q' => {
                let q = quote_rune(char_of(u), self.f.plus);
                self.pad(&q);
            }
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(v, verb),
        }
    }

    fn fmt_int(&mut self, mut u: u64, base: u64, signed: bool, verb: char, upper: bool) {
        let negative = signed && (u as i64) < 0;
        if negative {
            u = u.wrapping_neg();
        }
        let mut prec = 0usize;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let zero = std::mem::take(&mut self.f.zero);
                self.write_padding(self.f.wid.unwrap_or(0));
                self.f.zero = zero;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid.is_some() {
            prec = self.f.wid.unwrap_or(0);
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let digits: &[u8] = if upper {
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        let mut buf: Vec<u8> = Vec::new();
        loop {
            buf.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while buf.len() < prec {
            buf.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => buf.extend_from_slice(b"b0"),
                8 if buf.last() != Some(&b'0') => buf.push(b'0'),
                16 => buf.extend_from_slice(if upper { b"X0" } else { b"x0" }),
                _ => {}
            }
        }
        if verb == 'O' {
            buf.extend_from_slice(b"o0");
        }
        if negative {
            buf.push(b'-');
        } else if self.f.plus {
            buf.push(b'+');
        } else if self.f.space {
            buf.push(b' ');
        }
        buf.reverse();
        let s = String::from_utf8(buf).unwrap_or_default();
        self.pad_spaces(&s);
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut s = format!("U+{u:04X}");
        if let Some(p) = self.f.prec.filter(|p| *p > 4) {
            s = format!("U+{u:0p$X}");
        }
        if self.f.sharp
            && let Some(c) = char::from_u32(u as u32).filter(|_| u <= 0x10FFFF)
            && is_print(c)
        {
            s.push_str(&format!(" '{c}'"));
        }
        self.pad_spaces(&s);
    }

    fn fmt_float(&mut self, x: f64, verb: char, default_prec: i32) {
        let prec = self.f.prec.map_or(default_prec, |p| p as i32);
        let formatted = format_float(x, verb, prec);
        let mut num = if formatted.starts_with('-') || formatted.starts_with('+') {
            formatted
        } else {
            format!("+{formatted}")
        };
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(0..1, " ");
        }
        let second = num.as_bytes().get(1).copied();
        if second == Some(b'I') || second == Some(b'N') {
            if second == Some(b'N') && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad_spaces(&num);
            return;
        }
        if self.f.sharp && verb != 'b' {
            let mut digits: i32 = match verb {
                'v' | 'g' | 'G' | 'x' => {
                    if prec == -1 {
                        6
                    } else {
                        prec
                    }
                }
                _ => 0,
            };
            let mut tail = String::new();
            let mut body: Vec<char> = num.chars().collect();
            let mut has_point = false;
            let mut saw_nonzero = false;
            let mut i = 1;
            while i < body.len() {
                let c = body[i];
                match c {
                    '.' => has_point = true,
                    'p' | 'P' => {
                        tail = body[i..].iter().collect();
                        body.truncate(i);
                        break;
                    }
                    'e' | 'E' if verb != 'x' && verb != 'X' => {
                        tail = body[i..].iter().collect();
                        body.truncate(i);
                        break;
                    }
                    _ => {
                        if c != '0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
                i += 1;
            }
            if !has_point {
                if body.len() == 2 && body[1] == '0' {
                    digits -= 1;
                }
                body.push('.');
            }
            while digits > 0 {
                body.push('0');
                digits -= 1;
            }
            num = body.into_iter().collect::<String>() + &tail;
        }
        if self.f.plus || !num.starts_with('+') {
            let len = num.chars().count();
            if self.f.zero
                && !self.f.minus
                && let Some(wid) = self.f.wid.filter(|w| *w > len)
            {
                let sign = num.remove(0);
                self.out.push(sign);
                self.write_padding(wid - len);
                self.out.push_str(&num);
                return;
            }
            self.pad(&num);
            return;
        }
        self.pad(&num[1..]);
    }

    fn fmt_string(&mut self, s: &str, verb: char) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, false),
            'X' => self.fmt_sx(s, true),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(&Value::from(s), verb),
        }
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        match self.f.prec {
            Some(p) => match s.char_indices().nth(p) {
                Some((i, _)) => &s[..i],
                None => s,
            },
            None => s,
        }
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    fn fmt_sx(&mut self, s: &str, upper: bool) {
        let bytes = s.as_bytes();
        let length = self.f.prec.map_or(bytes.len(), |p| p.min(bytes.len()));
        let mut width = 2 * length;
        if width == 0 {
            if let Some(w) = self.f.wid {
                self.write_padding(w);
            }
            return;
        }
        if self.f.space {
            if self.f.sharp {
                width *= 2;
            }
            width += length - 1;
        } else if self.f.sharp {
            width += 2;
        }
        let wid = self.f.wid.unwrap_or(0);
        if wid > width && !self.f.minus {
            self.write_padding(wid - width);
        }
        let x = if upper { "0X" } else { "0x" };
        if self.f.sharp {
            self.out.push_str(x);
        }
        for (i, c) in bytes[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.out.push(' ');
                if self.f.sharp {
                    self.out.push_str(x);
                }
            }
            if upper {
                self.out.push_str(&format!("{c:02X}"));
            } else {
                self.out.push_str(&format!("{c:02x}"));
            }
        }
        if wid > width && self.f.minus {
            self.write_padding(wid - width);
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s).to_string();
        if self.f.sharp && can_backquote(&s) {
            self.pad(&format!("`{s}`"));
        } else if self.f.plus {
            self.pad(&quote_with(&s, '"', true));
        } else {
            self.pad(&go_quote(&s));
        }
    }
}

/// The character Go's `%c` prints for `u`: U+FFFD when it is not a valid code point.
fn char_of(u: u64) -> char {
    u32::try_from(u)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{FFFD}')
}

/// Go's `strconv.CanBackquote`.
fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !(c < ' ' || c == '\u{7f}')))
}

/// Go's `strconv.IsPrint`, approximately: letters, marks, numbers, punctuation, symbols and
/// the ASCII space (controls, other spaces, format characters and private use are not).
pub fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    !matches!(u,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
        | 0xFFFE | 0xFFFF | 0xE000..=0xF8FF | 0xF0000.. | 0xE0001 | 0xE0020..=0xE007F
        | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A)
}

/// Go's `strconv.QuoteRune` (`ascii`: `QuoteRuneToASCII`).
fn quote_rune(c: char, ascii: bool) -> String {
    quote_with(&c.to_string(), '\'', ascii)
}

/// Go's `strconv.quoteWith`: `s` quoted with `q`, escaping as Go does.
fn quote_with(s: &str, q: char, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        if c == q || c == '\\' {
            out.push('\\');
            out.push(c);
            continue;
        }
        if ascii {
            if (c as u32) < 0x80 && is_print(c) {
                out.push(c);
                continue;
            }
        } else if is_print(c) {
            out.push(c);
            continue;
        }
        match c {
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(q);
    out
}

/// Go's `strconv.Quote`: a double-quoted Go string literal.
pub fn go_quote(s: &str) -> String {
    quote_with(s, '"', false)
}

/// The text `{{ v }}` prints, before Helm removes `<no value>`: `%v`, nil as `<no value>`.
pub fn template_print(v: &Value) -> String {
    if crate::value::is_nil(v) {
        "<no value>".into()
    } else {
        sprint_value(v)
    }
}

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

    /// Expected outputs are Go 1.26's `fmt.Sprintf` for the same format and arguments.
    #[test]
    fn sprintf_matches_go() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("%s", &["i:5"], "%!s(int=5)"),
            ("%d", &["f:80"], "%!d(float64=80)"),
            ("%d", &["i:5"], "5"),
            ("%d", &["I:-42"], "-42"),
            ("%x", &["s:hello"], "68656c6c6f"),
            ("%X", &["s:hi"], "6869"),
            ("% x", &["s:hi"], "68 69"),
            ("%#x", &["s:hi"], "0x6869"),
            ("%# X", &["s:hi"], "0X68 0X69"),
            ("%q", &["i:65"], "'A'"),
            ("%q", &["s:a\"b\n"], "\"a\\\"b\\n\""),
            ("%+q", &["s:héllo"], "\"h\\u00e9llo\""),
            ("%#q", &["s:back"], "`back`"),
            ("%d", &[], "%!d(MISSING)"),
            ("%d %s", &["i:1"], "1 %!s(MISSING)"),
            ("x", &["i:1", "s:a"], "x%!(EXTRA int=1, string=a)"),
            (
                "%d",
                &["i:1", "i:2", "s:a", "n:"],
                "1%!(EXTRA int=2, string=a, <nil>)",
            ),
            ("%z", &["i:1"], "%!z(int=1)"),
            ("%s", &["n:"], "%!s(<nil>)"),
            ("%v", &["n:"], "<nil>"),
            ("%d", &["n:"], "%!d(<nil>)"),
            ("%T", &["n:"], "<nil>"),
            (
                "%v",
                &["j:{\"a\":1,\"b\":[1,\"x\",null]}"],
                "map[a:1 b:[1 x <nil>]]",
            ),
            ("%v", &["j:[1,2]"], "[1 2]"),
            ("%s", &["j:[1,\"a\"]"], "[%!s(float64=1) a]"),
            ("%d", &["j:{\"a\":1}"], "map[%!d(string=a):%!d(float64=1)]"),
            ("%+v", &["i:5"], "5"),
            ("%+d", &["i:5"], "+5"),
            ("% d", &["i:5"], " 5"),
            ("%05d", &["i:-42"], "-0042"),
            ("%-5d|", &["i:42"], "42   |"),
            ("%5d|", &["i:42"], "   42|"),
            ("%.3d", &["i:7"], "007"),
            ("%8.3d|", &["i:7"], "     007|"),
            ("%08.3d|", &["i:7"], "     007|"),
            ("%.0d|", &["i:0"], "|"),
            ("%5.0d|", &["i:0"], "     |"),
            ("%x", &["i:255"], "ff"),
            ("%X", &["i:255"], "FF"),
            ("%#x", &["i:255"], "0xff"),
            ("%#o", &["i:8"], "010"),
            ("%o", &["i:8"], "10"),
            ("%O", &["i:8"], "0o10"),
            ("%b", &["i:5"], "101"),
            ("%#b", &["i:5"], "0b101"),
            ("%c", &["i:9731"], "☃"),
            ("%U", &["i:9731"], "U+2603"),
            ("%#U", &["i:9731"], "U+2603 '☃'"),
            ("%t", &["b:true"], "true"),
            ("%v", &["b:false"], "false"),
            ("%d", &["b:true"], "%!d(bool=true)"),
            ("%5t|", &["b:true"], " true|"),
            ("%f", &["f:3.14159"], "3.141590"),
            ("%.2f", &["f:3.14159"], "3.14"),
            ("%8.2f|", &["f:3.14159"], "    3.14|"),
            ("%-8.2f|", &["f:3.14159"], "3.14    |"),
            ("%08.2f|", &["f:-3.14159"], "-0003.14|"),
            ("%+.1f", &["f:2.25"], "+2.2"),
            ("%F", &["f:2.5"], "2.500000"),
            ("%e", &["f:123456.789"], "1.234568e+05"),
            ("%E", &["f:0.000123"], "1.230000E-04"),
            ("%.2e", &["f:123456.789"], "1.23e+05"),
            ("%g", &["f:123456789"], "1.23456789e+08"),
            ("%g", &["f:0.00001234"], "1.234e-05"),
            ("%G", &["f:1e21"], "1E+21"),
            ("%.3g", &["f:3.14159"], "3.14"),
            ("%.3g", &["f:1234567"], "1.23e+06"),
            ("%.5g", &["f:1.5"], "1.5"),
            ("%.3g", &["f:100"], "100"),
            ("%#g", &["f:1.5"], "1.50000"),
            ("%#.3g", &["f:1"], "1.00"),
            ("%#f", &["f:1"], "1.000000"),
            ("%#.0f", &["f:1"], "1."),
            ("%#e", &["f:1"], "1.000000e+00"),
            ("%.0f", &["f:2.5"], "2"),
            ("%.0f", &["f:3.5"], "4"),
            ("%.2f", &["f:0.125"], "0.12"),
            ("%.1f", &["f:0.05"], "0.1"),
            ("%v", &["f:80"], "80"),
            ("%v", &["f:1e6"], "1e+06"),
            ("%v", &["f:1.5e-7"], "1.5e-07"),
            ("%v", &["f:123456789012"], "1.23456789012e+11"),
            ("%s", &["f:80"], "%!s(float64=80)"),
            ("%f", &["i:5"], "%!f(int=5)"),
            ("%x", &["f:3"], "0x1.8p+01"),
            ("%b", &["f:1"], "4503599627370496p-52"),
            ("%.2x", &["f:3.14159"], "0x1.92p+01"),
            ("% f", &["f:1.5"], " 1.500000"),
            ("% .1f", &["f:-1.5"], "-1.5"),
            ("%010.3f|", &["f:3.14159"], "000003.142|"),
            ("%-010.3f|", &["f:3.14159"], "3.142     |"),
            ("%s", &["s:plain"], "plain"),
            ("%10s|", &["s:plain"], "     plain|"),
            ("%-10s|", &["s:plain"], "plain     |"),
            ("%010s|", &["s:plain"], "00000plain|"),
            ("%.2s", &["s:héllo"], "hé"),
            ("%5.1s|", &["s:abc"], "    a|"),
            ("%v", &["s:str"], "str"),
            ("%#v", &["s:str"], "\"str\""),
            ("%#v", &["i:5"], "5"),
            ("%#v", &["f:1"], "1"),
            (
                "%#v",
                &["j:{\"a\":1,\"b\":[\"x\",null]}"],
                "map[string]interface {}{\"a\":1, \"b\":[]interface {}{\"x\", interface {}(nil)}}",
            ),
            ("%#v", &["n:"], "<nil>"),
            ("%T", &["i:1"], "int"),
            ("%T", &["I:1"], "int64"),
            ("%T", &["f:1"], "float64"),
            ("%T", &["s:a"], "string"),
            ("%T", &["b:true"], "bool"),
            ("%T", &["j:[1]"], "[]interface {}"),
            ("%T", &["j:{}"], "map[string]interface {}"),
            ("%10T|", &["i:1"], "       int|"),
            ("%*d|", &["i:5", "i:42"], "   42|"),
            ("%-*d|", &["i:5", "i:42"], "42   |"),
            ("%*d|", &["i:-5", "i:42"], "42   |"),
            ("%*d|", &["f:5", "i:42"], "%!(BADWIDTH)42|"),
            ("%.*f", &["i:2", "f:3.14159"], "3.14"),
            ("%.*f", &["s:x", "f:3.14159"], "%!(BADPREC)3.141590"),
            ("%[2]s %[1]s", &["s:a", "s:b"], "b a"),
            ("%[3]s", &["s:a", "s:b"], "%!s(BADINDEX)"),
            ("%[1]s %s", &["s:a", "s:b"], "a b"),
            ("%[x]s", &["s:a"], "%!s(BADINDEX)"),
            ("%", &["i:1"], "%!(NOVERB)%!(EXTRA int=1)"),
            ("%-", &["i:1"], "%!(NOVERB)%!(EXTRA int=1)"),
            ("100%%", &["i:1"], "100%%!(EXTRA int=1)"),
            ("%5%|", &[], "%|"),
            ("%!", &["i:1"], "%!!(int=1)"),
            ("%05s", &["i:1"], "%!s(int=00001)"),
            ("%5z|", &["i:1"], "%!z(int=    1)|"),
            (
                "%v|%v",
                &["I:9223372036854775807", "I:-9223372036854775808"],
                "9223372036854775807|-9223372036854775808",
            ),
            ("%x", &["I:-255"], "-ff"),
            (
                "%q",
                &["s:tab\there\u{7}\u{a0}\u{200b}😀"],
                "\"tab\\there\\a\\u00a0\\u200b😀\"",
            ),
            ("%+q", &["s:😀"], "\"\\U0001f600\""),
            ("%x", &["s:"], ""),
            ("%5x|", &["s:"], "     |"),
            ("%.1x", &["s:abc"], "61"),
            ("%c", &["i:-1"], "�"),
            ("%q", &["i:10"], "'\\n'"),
            ("%q", &["i:39"], "'\\''"),
            ("%v %v", &["f:-0", "f:0"], "-0 0"),
            ("%6.2v|", &["f:3.14159"], "   3.1|"),
            ("%s", &["j:{\"k\":null}"], "map[k:<nil>]"),
            ("%03d", &["i:-5"], "-05"),
            ("%+05d", &["i:5"], "+0005"),
            ("% 05d", &["i:5"], " 0005"),
            ("%e", &["f:0"], "0.000000e+00"),
            ("%g", &["f:0"], "0"),
            ("%g", &["f:1e20"], "1e+20"),
            ("%g", &["f:1e21"], "1e+21"),
            ("%v", &["f:100000000000000000000"], "1e+20"),
            ("%w", &["i:1"], "%!w(int=1)"),
            ("%.3v", &["s:abcdef"], "abc"),
            ("%x", &["j:[\"ab\",1]"], "[6162 0x1p+00]"),
            ("%5.2f|", &["i:5"], "%!f(int=   05)|"),
            ("%-8d|", &["i:5"], "5       |"),
            ("%-08d|", &["i:5"], "5       |"),
            ("%+08.3f|", &["f:-1.5"], "-001.500|"),
            ("%08s|", &["s:ab"], "000000ab|"),
            ("%-08s|", &["s:ab"], "ab      |"),
            ("%8q|", &["s:ab"], "    \"ab\"|"),
            ("%q", &["j:[\"a\",1]"], "[\"a\" %!q(float64=1)]"),
            ("%x", &["j:[\"ab\",\"c\"]"], "[6162 63]"),
            ("%X", &["j:{\"k\":\"v\"}"], "map[6B:76]"),
            ("%d", &["j:[1,2.5]"], "[%!d(float64=1) %!d(float64=2.5)]"),
            ("%5v|", &["j:[1,\"a\"]"], "[    1     a]|"),
            ("%+v", &["j:{\"a\":{\"b\":1}}"], "map[a:map[b:1]]"),
            (
                "%#v",
                &["j:[1,[2],{\"x\":null}]"],
                "[]interface {}{1, []interface {}{2}, map[string]interface {}{\"x\":interface {}(nil)}}",
            ),
            ("%#v", &["b:true"], "true"),
            ("%#v", &["I:5"], "5"),
            ("%#x", &["i:-255"], "-0xff"),
            ("%+x", &["i:255"], "+ff"),
            ("% x", &["i:255"], " ff"),
            ("%#08x|", &["i:255"], "0x000000ff|"),
            ("%08.3x|", &["i:255"], "     0ff|"),
            ("%c%c", &["i:72", "i:105"], "Hi"),
            ("%5c|", &["i:65"], "    A|"),
            ("%-5U|", &["i:65"], "U+0041|"),
            ("%#.6U", &["i:65"], "U+000041 'A'"),
            ("%.2q", &["s:hello"], "\"he\""),
            ("%#+q", &["s:é`"], "\"\\u00e9`\""),
            ("%t", &["i:1"], "%!t(int=1)"),
            ("%v", &["f:1e-5"], "1e-05"),
            ("%v", &["f:0.000123"], "0.000123"),
            ("%v", &["f:1e21"], "1e+21"),
            ("%v", &["f:123456789.125"], "1.23456789125e+08"),
            ("%.1e", &["f:0.25"], "2.5e-01"),
            ("%.0e", &["f:2.5"], "2e+00"),
            ("%g", &["f:1e-7"], "1e-07"),
            ("%G", &["f:1e-7"], "1E-07"),
            ("%.3G", &["f:1234567"], "1.23E+06"),
            ("%10.4g|", &["f:3.14159265"], "     3.142|"),
            ("%-10.3e|", &["f:31415.9"], "3.142e+04 |"),
            ("%f", &["f:1e20"], "100000000000000000000.000000"),
            ("%.3f", &["f:-0.0005"], "-0.001"),
            ("%e", &["f:5e-324"], "4.940656e-324"),
            (
                "%v",
                &["f:1.7976931348623157e308"],
                "1.7976931348623157e+308",
            ),
            (
                "%s %s",
                &["j:{\"a\":null}", "n:"],
                "map[a:<nil>] %!s(<nil>)",
            ),
            ("%[2]*[1]d|", &["i:12", "i:5"], "   12|"),
            ("%[1]*d|", &["i:5"], "%!d(MISSING)|"),
            ("%.[2]d", &["i:5", "i:3"], "3"),
            ("%d %d %[1]d %d", &["i:1", "i:2"], "1 2 1 2"),
            ("%[0]d", &["i:1"], "%!d(BADINDEX)"),
            ("%[2]d", &["i:1"], "%!d(BADINDEX)"),
            ("%[1]d %[3]d", &["i:1", "i:2"], "1 %!d(BADINDEX)"),
            ("%.*d", &["i:-1", "i:5"], "%!(BADPREC)5"),
            ("%*d", &["i:1000001", "i:5"], "%!(BADWIDTH)5"),
            ("%10.3v|", &["s:abcdef"], "       abc|"),
            ("%010v|", &["f:-3.5"], "-0000003.5|"),
            ("%+.2v", &["f:3.14159"], "3.1"),
            ("%v %v", &["b:true", "b:false"], "true false"),
            ("%s", &["b:true"], "%!s(bool=true)"),
            ("%5.1f%%", &["f:99.44"], " 99.4%"),
            ("%3c|", &["i:1114112"], "  �|"),
            ("%U", &["i:-1"], "U+FFFFFFFFFFFFFFFF"),
            ("%o", &["i:-8"], "-10"),
            ("%O", &["i:-8"], "-0o10"),
            ("%b", &["i:-5"], "-101"),
            ("%x", &["f:-0"], "-0x0p+00"),
            ("%x", &["f:1e-320"], "0x1.fap-1064"),
            ("%.0x", &["f:1.5"], "0x1p+01"),
            ("%X", &["f:255.75"], "0X1.FF8P+07"),
            ("%b", &["f:0"], "0p-1074"),
            ("%#g", &["f:100000"], "100000."),
            ("%#.3e", &["f:5"], "5.000e+00"),
            ("%#v", &["f:1e21"], "1e+21"),
            ("%#v", &["f:1e6"], "1e+06"),
            ("%#v", &["f:100000"], "100000"),
            ("%v", &["f:100000"], "100000"),
            ("% .3g", &["f:-1.5"], "-1.5"),
            ("%+g", &["f:1.5"], "+1.5"),
        ];
        for (format, args, want) in cases {
            let args = crate::testing::args(args);
            assert_eq!(sprintf(format, &args), *want, "{format} {args:?}");
        }
    }
}
