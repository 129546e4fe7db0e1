//! Helm's function library (Sprig and Helm's own) for minijinja.
//!
//! Each function is registered as a function with Helm's argument order (`default(d, v)`,
//! `indent(4, s)`, `replace(old, new, s)`) and, where a pipeline reads naturally, as a filter
//! that takes the piped value first, as Helm's pipelines do (`v | default(d)`, `s | indent(4)`,
//! `s | replace(old, new)`). Semantics follow Sprig: "empty" is nil, false, 0, "" or an empty
//! list or map; maps iterate in key order.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use capstan_sprig::fmt::go_quote;
use minijinja::value::{Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
use sha2::{Digest, Sha256};

use crate::context::RenderLimits;
use crate::objects::{FailMarker, SESSION_KEY, Session, limit_error, session};

/// What one function call may build: every function that can make its result much larger
/// than its arguments (`indent`, `printf` widths, `replace`, `repeat`, `join`, `toYaml`, ...)
/// checks the size it is about to build against this before allocating it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// Largest string one call may return (bytes).
    pub max_string: usize,
    /// Most items of a list one call may return (`until`, `untilStep`).
    pub max_items: usize,
}

impl Bounds {
    pub(crate) fn new(limits: &RenderLimits) -> Bounds {
        Bounds {
            max_string: limits.max_string_bytes,
            max_items: LIST_ITEMS,
        }
    }

    /// Fails when `what` would build a string of `len` bytes, above the limit.
    fn string(self, what: &str, len: usize) -> Result<(), Error> {
        if len > self.max_string {
            return Err(limit_error(format!(
                "{what}: the result ({len} bytes) would exceed the limit of {} bytes per string",
                self.max_string
            )));
        }
        Ok(())
    }

    /// Fails when `what` would build a list of `n` items, above the limit.
    fn items(self, what: &str, n: u64) -> Result<(), Error> {
        if n > self.max_items as u64 {
            return Err(limit_error(format!(
                "{what}: a list of {n} items would exceed the limit of {} items",
                self.max_items
            )));
        }
        Ok(())
    }

    /// Fails when converting `v` to text or data (toYaml, toJson, merge, ...) would produce
    /// more than the string limit: the value is walked, stopping as soon as it is too large,
    /// so a list holding the same large string many times is caught before it is copied.
    fn value(self, what: &str, v: &Value) -> Result<(), Error> {
        let mut size = 0usize;
        value_size(v, self.max_string, &mut size, 0);
        self.string(what, size)
    }
}

/// Most items a list function (`until`, `untilStep`) returns, as minijinja's `range`.
const LIST_ITEMS: usize = 100_000;

/// Adds the approximate serialised size of `v` to `size`, stopping once it passes `limit`.
fn value_size(v: &Value, limit: usize, size: &mut usize, depth: usize) {
    if *size > limit {
        return;
    }
    // Deeper than any serialiser should go; count it as too large rather than recurse further.
    if depth > 256 {
        *size = limit.saturating_add(1);
        return;
    }
    match v.kind() {
        ValueKind::String => *size = size.saturating_add(v.as_str().map_or(0, str::len) + 3),
        ValueKind::Bytes => *size = size.saturating_add(v.as_bytes().map_or(0, <[u8]>::len) + 3),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            let is_map = v.kind() == ValueKind::Map;
            let Ok(iter) = v.try_iter() else {
                *size = size.saturating_add(8);
                return;
            };
            for item in iter {
                *size = size.saturating_add(2);
                value_size(&item, limit, size, depth + 1);
                if is_map && let Ok(inner) = v.get_item(&item) {
                    value_size(&inner, limit, size, depth + 1);
                }
                if *size > limit {
                    return;
                }
            }
        }
        _ => *size = size.saturating_add(24),
    }
}

/// Fails when the text form of `v` would be larger than `limit` bytes.
pub(crate) fn check_size(what: &str, v: &Value, limit: usize) -> Result<(), Error> {
    Bounds {
        max_string: limit,
        max_items: LIST_ITEMS,
    }
    .value(what, v)
}

/// Joins strings with `sep`, failing before allocation when the result would be too large.
fn bounded_join(b: Bounds, what: &str, parts: &[String], sep: &str) -> Result<String, Error> {
    let len = parts
        .iter()
        .map(String::len)
        .fold(0usize, |a, l| a.saturating_add(l).saturating_add(sep.len()));
    b.string(what, len)?;
    Ok(parts.join(sep))
}

/// [`strval`] of a value, after checking that its text form is not too large.
fn bounded_strval(b: Bounds, what: &str, v: &Value) -> Result<String, Error> {
    if !matches!(
        v.kind(),
        ValueKind::String
            | ValueKind::Number
            | ValueKind::Bool
            | ValueKind::Undefined
            | ValueKind::None
    ) {
        b.value(what, v)?;
    }
    Ok(strval(v))
}

/// The text forms of `args` (nil and undefined left out), failing once their total is too large.
fn bounded_strvals(b: Bounds, what: &str, args: &[Value]) -> Result<Vec<String>, Error> {
    let mut out = Vec::with_capacity(args.len());
    let mut total = 0usize;
    for v in args.iter().filter(|v| !(v.is_none() || v.is_undefined())) {
        let s = bounded_strval(b, what, v)?;
        total = total.saturating_add(s.len() + 1);
        b.string(what, total)?;
        out.push(s);
    }
    Ok(out)
}

fn op_err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// The string form Sprig's `strval` gives: nil is empty, strings are themselves.
pub(crate) fn strval(v: &Value) -> String {
    if v.is_undefined() || v.is_none() {
        return String::new();
    }
    if let Some(s) = v.as_str() {
        return s.to_string();
    }
    if v.kind() == ValueKind::Bool {
        return v.is_true().to_string();
    }
    if let Some(b) = v.as_bytes() {
        return String::from_utf8_lossy(b).into_owned();
    }
    v.to_string()
}

fn empty(v: &Value) -> bool {
    !v.is_true()
}

pub(crate) fn to_json(v: &Value) -> Result<serde_json::Value, Error> {
    serde_json::to_value(v).map_err(|e| op_err(format!("cannot convert value to data: {e}")))
}

fn from_json(j: &serde_json::Value) -> Value {
    Value::from_serialize(j)
}

/// [`to_json`] after checking the value's size, for values built by templates.
fn bounded_json(b: Bounds, what: &str, v: &Value) -> Result<serde_json::Value, Error> {
    b.value(what, v)?;
    to_json(v)
}

/// Go's `json.Marshal` output: compact, keys sorted, `<`, `>` and `&` escaped.
fn to_json_string(b: Bounds, v: &Value, pretty: bool) -> Result<String, Error> {
    let j = bounded_json(b, "toJson", v)?;
    let s = if pretty {
        serde_json::to_string_pretty(&j)
    } else {
        serde_json::to_string(&j)
    }
    .map_err(|e| op_err(format!("toJson: {e}")))?;
    Ok(s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026"))
}

fn quote_all(b: Bounds, args: &[Value], single: bool) -> Result<String, Error> {
    let parts: Vec<String> = bounded_strvals(b, "quote", args)?
        .into_iter()
        .map(|s| {
            if single {
                format!("'{s}'")
            } else {
                go_quote(&s)
            }
        })
        .collect();
    bounded_join(b, "quote", &parts, " ")
}

fn indent(b: Bounds, n: usize, s: &str) -> Result<String, Error> {
    let lines = s.bytes().filter(|c| *c == b'\n').count() + 1;
    b.string(
        "indent",
        n.saturating_mul(lines)
            .saturating_add(s.len())
            .saturating_add(1),
    )?;
    let pad = " ".repeat(n);
    Ok(format!("{pad}{}", s.replace('\n', &format!("\n{pad}"))))
}

/// Helm's `replace`: every `old` in `s` becomes `new`, bounded in size.
fn replace(b: Bounds, s: &str, old: &str, new: &str) -> Result<String, Error> {
    let count = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    b.string(
        "replace",
        s.len().saturating_add(count.saturating_mul(new.len())),
    )?;
    Ok(s.replace(old, new))
}

/// Sprig's `repeat`: `s` `count` times, bounded in size.
fn repeat(b: Bounds, count: i64, s: &str) -> Result<String, Error> {
    let count = usize::try_from(count.max(0)).unwrap_or(usize::MAX);
    b.string("repeat", count.saturating_mul(s.len()))?;
    Ok(s.repeat(count))
}

/// Sprig's `untilStep`: integers from `start` towards `stop` (exclusive) by `step`.
fn until_step(b: Bounds, start: i64, stop: i64, step: i64) -> Result<Value, Error> {
    if step == 0 || (step > 0 && start >= stop) || (step < 0 && start <= stop) {
        return Ok(Value::from(Vec::<i64>::new()));
    }
    let span = (i128::from(stop) - i128::from(start)).unsigned_abs();
    let n = span.div_ceil(i128::from(step).unsigned_abs());
    b.items("untilStep", u64::try_from(n).unwrap_or(u64::MAX))?;
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(i);
        match i.checked_add(step) {
            Some(next) => i = next,
            None => break,
        }
    }
    Ok(Value::from(out))
}

/// Regex replacement that stops growing its result once it passes the string limit.
fn regex_replace_all(b: Bounds, re: &str, s: &str, repl: &str) -> Result<String, Error> {
    let re = regex(re)?;
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(s) {
        let m = caps.get(0).expect("group 0 always matches");
        out.push_str(&s[last..m.start()]);
        caps.expand(repl, &mut out);
        last = m.end();
        b.string("regexReplaceAll", out.len())?;
    }
    out.push_str(&s[last..]);
    b.string("regexReplaceAll", out.len())?;
    Ok(out)
}

fn to_int(v: &Value) -> i64 {
    match v.kind() {
        ValueKind::Bool => i64::from(v.is_true()),
        ValueKind::Number => {
            if let Ok(i) = i64::try_from(v.clone()) {
                i
            } else {
                f64::try_from(v.clone()).map_or(0, |f| f as i64)
            }
        }
        ValueKind::String => {
            let s = strval(v);
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().map(|f| f as i64))
                .unwrap_or(0)
        }
        _ => 0,
    }
}

fn to_float(v: &Value) -> f64 {
    match v.kind() {
        ValueKind::Bool => f64::from(u8::from(v.is_true())),
        ValueKind::Number => f64::try_from(v.clone()).unwrap_or(0.0),
        ValueKind::String => strval(v).trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric() && c != '\'' && c != '_';
    }
    out
}

fn trunc(n: i64, s: &str) -> String {
    let count = s.chars().count() as i64;
    if n >= 0 {
        s.chars().take(n as usize).collect()
    } else if -n >= count {
        s.to_string()
    } else {
        s.chars().skip((count + n) as usize).collect()
    }
}

fn map_items(v: &Value) -> Result<Vec<(Value, Value)>, Error> {
    if v.kind() != ValueKind::Map {
        return Err(op_err(format!("expected a map, got {}", v.kind())));
    }
    let mut out = Vec::new();
    for k in v.try_iter()? {
        let item = v.get_item(&k)?;
        out.push((k, item));
    }
    Ok(out)
}

fn list_items(v: &Value) -> Result<Vec<Value>, Error> {
    if v.is_none() || v.is_undefined() {
        return Ok(Vec::new());
    }
    if matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable) {
        return Ok(v.try_iter()?.collect());
    }
    Err(op_err(format!("expected a list, got {}", v.kind())))
}

fn merge_json(dst: &mut serde_json::Value, src: &serde_json::Value, overwrite: bool) {
    use serde_json::Value as J;
    match (dst, src) {
        (J::Object(d), J::Object(s)) => {
            for (k, sv) in s {
                match d.get_mut(k) {
                    Some(dv) if dv.is_object() && sv.is_object() => merge_json(dv, sv, overwrite),
                    Some(dv) if overwrite || dv.is_null() => *dv = sv.clone(),
                    Some(_) => {}
                    None => {
                        d.insert(k.clone(), sv.clone());
                    }
                }
            }
        }
        (d, s) if overwrite => *d = s.clone(),
        _ => {}
    }
}

fn merge(b: Bounds, dst: &Value, srcs: &[Value], overwrite: bool) -> Result<Value, Error> {
    let mut d = bounded_json(b, "merge", dst)?;
    if d.is_null() {
        d = serde_json::Value::Object(Default::default());
    }
    for s in srcs {
        merge_json(&mut d, &bounded_json(b, "merge", s)?, overwrite);
    }
    Ok(from_json(&d))
}

fn regex(pattern: &str) -> Result<regex::Regex, Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| op_err(format!("invalid regular expression {pattern:?}: {e}")))
}

fn semver_compare(constraint: &str, version: &str) -> Result<bool, Error> {
    let c = capstan_chart::constraint::Constraint::parse(constraint)
        .map_err(|e| op_err(e.to_string()))?;
    c.matches_str(version).map_err(|e| op_err(e.to_string()))
}

fn fail(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message).with_source(FailMarker)
}

fn required(state: &State<'_, '_>, message: &Value, v: Value) -> Result<Value, Error> {
    if v.is_undefined() || v.is_none() || v.as_str() == Some("") {
        let message = strval(message);
        if session(state).is_ok_and(|s| s.linted(format!("Missing required value: {message}"))) {
            return Ok(Value::from(""));
        }
        return Err(fail(message));
    }
    Ok(v)
}

fn rand_alnum(state: &State<'_, '_>, n: i64) -> Result<String, Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if !(0..=65_536).contains(&n) {
        return Err(op_err(format!("randAlphaNum: length {n} out of range")));
    }
    let s = session(state)?;
    let mut out = String::with_capacity(n as usize);
    while out.len() < n as usize {
        for b in s.next_random() {
            if b < 248 && out.len() < n as usize {
                out.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    Ok(out)
}

fn parse_time(v: &Value) -> Result<jiff::Timestamp, Error> {
    if v.kind() == ValueKind::Number {
        return jiff::Timestamp::from_second(to_int(v)).map_err(|e| op_err(format!("date: {e}")));
    }
    let s = strval(v);
    s.parse::<jiff::Timestamp>()
        .map_err(|e| op_err(format!("date: cannot read time {s:?}: {e}")))
}

/// Formats a UTC time with a Go layout (`2006-01-02T15:04:05Z07:00`), as Go's `t.Format`.
fn go_date(layout: &str, ts: jiff::Timestamp) -> String {
    capstan_sprig::dates::GoTime {
        ts,
        tz: jiff::tz::TimeZone::UTC,
        loc: "UTC".into(),
        fixed_abbrev: None,
    }
    .format(layout)
}

/// A subset of Go's `fmt.Sprintf`: `%v %s %d %f %e %g %q %t %x %X %o %b %%` with flags
/// `-`, `+`, `0`, width and precision.
fn printf(b: Bounds, format: &str, args: &[Value]) -> Result<String, Error> {
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

/// Builds the context a named template or `tpl` text renders with: the keys of `ctx` when it is
/// a map, `ctx` itself, and the render session.
fn nested_context(state: &State<'_, '_>, ctx: Value) -> Result<Value, Error> {
    let mut m: BTreeMap<String, Value> = BTreeMap::new();
    if ctx.kind() == ValueKind::Map {
        for (k, v) in map_items(&ctx)? {
            if let Some(k) = k.as_str() {
                m.insert(k.to_string(), v);
            }
        }
    }
    m.insert("ctx".into(), ctx);
    if let Some(sess) = state.lookup(SESSION_KEY) {
        m.insert(SESSION_KEY.into(), sess);
    }
    Ok(Value::from(m))
}

fn nested_failure(what: String, e: Error) -> Error {
    Error::new(ErrorKind::InvalidOperation, what).with_source(e)
}

fn include(state: &State<'_, '_>, name: String, ctx: Option<Value>) -> Result<String, Error> {
    let sess: Arc<Session> = session(state)?;
    let _guard = sess.enter(&format!("include({name:?})"))?;
    let tmpl = state.env().get_template(&name).map_err(|_| {
        op_err(format!(
            "include: no template named {name:?} (define it with {{% define \"{name}\" %}})"
        ))
    })?;
    let ctx = nested_context(state, ctx.unwrap_or(Value::UNDEFINED))?;
    let out = tmpl
        .render(ctx)
        .map_err(|e| nested_failure(format!("error calling include({name:?})"), e))?;
    sess.add_output(out.len())?;
    Ok(out)
}

fn tpl(state: &State<'_, '_>, text: String, ctx: Option<Value>) -> Result<String, Error> {
    let sess = session(state)?;
    let _guard = sess.enter("tpl")?;
    let ctx = nested_context(state, ctx.unwrap_or(Value::UNDEFINED))?;
    let name = format!("{} (tpl)", state.name());
    let out = state
        .env()
        .render_named_str(&name, &text, ctx)
        .map_err(|e| nested_failure("error calling tpl".into(), e))?;
    sess.add_output(out.len())?;
    Ok(out)
}

fn from_yaml_value(s: &str) -> Value {
    if capstan_chart::check_yaml_nesting(s).is_err() {
        let message = format!(
            "flow collections nest deeper than {} levels",
            capstan_chart::MAX_YAML_FLOW_DEPTH
        );
        return Value::from_iter([("Error".to_string(), Value::from(message))]);
    }
    match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(s) {
        Ok(v) => from_json(&capstan_chart::yaml_to_json(v)),
        Err(e) => Value::from_iter([("Error".to_string(), Value::from(e.to_string()))]),
    }
}

fn from_json_value(s: &str) -> Value {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v) => from_json(&v),
        Err(e) => Value::from_iter([("Error".to_string(), Value::from(e.to_string()))]),
    }
}

fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = a.kind() == ValueKind::String;
        if i > 0 && !is_str && args[i - 1].kind() != ValueKind::String {
            out.push(' ');
        }
        out.push_str(&strval(a));
    }
    out
}

fn int_args(args: &[Value]) -> Vec<i64> {
    args.iter().map(to_int).collect()
}

/// Registers every function and filter on `env`.
pub(crate) fn register(env: &mut Environment<'static>, limits: &RenderLimits) {
    let b = Bounds::new(limits);
    // Serialisation.
    let to_yaml_fn = move |v: Value| -> Result<String, Error> {
        Ok(crate::yaml::to_yaml(&bounded_json(b, "toYaml", &v)?))
    };
    env.add_function("toYaml", to_yaml_fn);
    env.add_filter("toYaml", to_yaml_fn);
    env.add_function("fromYaml", |s: Value| from_yaml_value(&strval(&s)));
    env.add_filter("fromYaml", |s: Value| from_yaml_value(&strval(&s)));
    env.add_function("toJson", move |v: Value| to_json_string(b, &v, false));
    env.add_filter("toJson", move |v: Value| to_json_string(b, &v, false));
    env.add_function("toPrettyJson", move |v: Value| to_json_string(b, &v, true));
    env.add_filter("toPrettyJson", move |v: Value| to_json_string(b, &v, true));
    env.add_function("fromJson", |s: Value| from_json_value(&strval(&s)));
    env.add_filter("fromJson", |s: Value| from_json_value(&strval(&s)));

    // Layout.
    env.add_function("indent", move |n: usize, s: Value| {
        indent(b, n, &bounded_strval(b, "indent", &s)?)
    });
    env.add_filter("indent", move |s: Value, n: usize| {
        indent(b, n, &bounded_strval(b, "indent", &s)?)
    });
    env.add_function("nindent", move |n: usize, s: Value| {
        Ok::<_, Error>(format!(
            "\n{}",
            indent(b, n, &bounded_strval(b, "nindent", &s)?)?
        ))
    });
    env.add_filter("nindent", move |s: Value, n: usize| {
        Ok::<_, Error>(format!(
            "\n{}",
            indent(b, n, &bounded_strval(b, "nindent", &s)?)?
        ))
    });
    env.add_function("quote", move |args: Rest<Value>| quote_all(b, &args, false));
    env.add_filter("quote", move |v: Value| quote_all(b, &[v], false));
    env.add_function("squote", move |args: Rest<Value>| quote_all(b, &args, true));
    env.add_filter("squote", move |v: Value| quote_all(b, &[v], true));

    // Defaults and failures.
    env.add_function("default", |d: Value, v: Option<Value>| {
        let v = v.unwrap_or(Value::UNDEFINED);
        if empty(&v) { d } else { v }
    });
    env.add_filter(
        "default",
        |v: Value, d: Value| if empty(&v) { d } else { v },
    );
    env.add_function(
        "required",
        |state: &State<'_, '_>, msg: Value, v: Option<Value>| {
            required(state, &msg, v.unwrap_or(Value::UNDEFINED))
        },
    );
    env.add_filter("required", |state: &State<'_, '_>, v: Value, msg: Value| {
        required(state, &msg, v)
    });
    env.add_function(
        "fail",
        |state: &State<'_, '_>, msg: Value| -> Result<Value, Error> {
            let message = strval(&msg);
            if session(state).is_ok_and(|s| s.linted(format!("Fail: {message}"))) {
                return Ok(Value::from(""));
            }
            Err(fail(message))
        },
    );
    env.add_function("empty", |v: Value| empty(&v));
    env.add_filter("empty", |v: Value| empty(&v));
    env.add_function("coalesce", |args: Rest<Value>| {
        args.iter()
            .find(|v| !empty(v))
            .cloned()
            .unwrap_or(Value::from(()))
    });
    env.add_function(
        "ternary",
        |a: Value, b: Value, cond: Value| {
            if cond.is_true() { a } else { b }
        },
    );
    env.add_filter(
        "ternary",
        |cond: Value, a: Value, b: Value| {
            if cond.is_true() { a } else { b }
        },
    );

    // Encodings and hashes.
    let b64enc = move |s: Value| -> Result<String, Error> {
        let s = bounded_strval(b, "b64enc", &s)?;
        b.string("b64enc", s.len().div_ceil(3).saturating_mul(4))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(s))
    };
    env.add_function("b64enc", b64enc);
    env.add_filter("b64enc", b64enc);
    let b64dec = |s: Value| -> Result<String, Error> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(strval(&s).trim())
            .map_err(|e| op_err(format!("b64dec: {e}")))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    env.add_function("b64dec", b64dec);
    env.add_filter("b64dec", b64dec);
    let sha = |s: Value| -> String {
        Sha256::digest(strval(&s).as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    env.add_function("sha256sum", sha);
    env.add_filter("sha256sum", sha);

    // Strings.
    env.add_function("trunc", |n: i64, s: Value| trunc(n, &strval(&s)));
    env.add_filter("trunc", |s: Value, n: i64| trunc(n, &strval(&s)));
    env.add_function("trim", |s: Value| strval(&s).trim().to_string());
    env.add_filter("trim", |s: Value| strval(&s).trim().to_string());
    env.add_function("trimPrefix", |p: Value, s: Value| {
        let (p, s) = (strval(&p), strval(&s));
        s.strip_prefix(p.as_str()).unwrap_or(&s).to_string()
    });
    env.add_filter("trimPrefix", |s: Value, p: Value| {
        let (p, s) = (strval(&p), strval(&s));
        s.strip_prefix(p.as_str()).unwrap_or(&s).to_string()
    });
    env.add_function("trimSuffix", |p: Value, s: Value| {
        let (p, s) = (strval(&p), strval(&s));
        s.strip_suffix(p.as_str()).unwrap_or(&s).to_string()
    });
    env.add_filter("trimSuffix", |s: Value, p: Value| {
        let (p, s) = (strval(&p), strval(&s));
        s.strip_suffix(p.as_str()).unwrap_or(&s).to_string()
    });
    env.add_function("upper", |s: Value| strval(&s).to_uppercase());
    env.add_filter("upper", |s: Value| strval(&s).to_uppercase());
    env.add_function("lower", |s: Value| strval(&s).to_lowercase());
    env.add_filter("lower", |s: Value| strval(&s).to_lowercase());
    env.add_function("title", |s: Value| title(&strval(&s)));
    env.add_filter("title", |s: Value| title(&strval(&s)));
    env.add_function("replace", move |old: Value, new: Value, s: Value| {
        replace(b, &strval(&s), &strval(&old), &strval(&new))
    });
    env.add_filter("replace", move |s: Value, old: Value, new: Value| {
        replace(b, &strval(&s), &strval(&old), &strval(&new))
    });
    env.add_function("repeat", move |count: i64, s: Value| {
        repeat(b, count, &strval(&s))
    });
    env.add_filter("repeat", move |s: Value, count: i64| {
        repeat(b, count, &strval(&s))
    });
    env.add_function("contains", |sub: Value, s: Value| {
        strval(&s).contains(&strval(&sub))
    });
    env.add_filter("contains", |s: Value, sub: Value| {
        strval(&s).contains(&strval(&sub))
    });
    env.add_function("hasPrefix", |p: Value, s: Value| {
        strval(&s).starts_with(&strval(&p))
    });
    env.add_filter("hasPrefix", |s: Value, p: Value| {
        strval(&s).starts_with(&strval(&p))
    });
    env.add_function("hasSuffix", |p: Value, s: Value| {
        strval(&s).ends_with(&strval(&p))
    });
    env.add_filter("hasSuffix", |s: Value, p: Value| {
        strval(&s).ends_with(&strval(&p))
    });
    env.add_function("printf", move |f: Value, args: Rest<Value>| {
        printf(b, &strval(&f), &args)
    });
    env.add_function("print", move |args: Rest<Value>| {
        bounded_strvals(b, "print", &args)?;
        Ok::<_, Error>(sprint(&args))
    });
    env.add_function("cat", move |args: Rest<Value>| {
        bounded_join(b, "cat", &bounded_strvals(b, "cat", &args)?, " ")
    });
    env.add_function("toString", move |v: Value| {
        bounded_strval(b, "toString", &v)
    });
    env.add_filter("toString", move |v: Value| {
        bounded_strval(b, "toString", &v)
    });
    env.add_function("int", |v: Value| to_int(&v));
    env.add_filter("int", |v: Value| to_int(&v));
    env.add_function("int64", |v: Value| to_int(&v));
    env.add_filter("int64", |v: Value| to_int(&v));
    env.add_function("atoi", |v: Value| to_int(&v));
    env.add_function("float64", |v: Value| to_float(&v));
    env.add_filter("float64", |v: Value| to_float(&v));

    // Lists and dicts.
    env.add_function("list", |args: Rest<Value>| Value::from(args.0));
    env.add_function("dict", |args: Rest<Value>| {
        let mut m: BTreeMap<String, Value> = BTreeMap::new();
        for pair in args.chunks(2) {
            let v = pair.get(1).cloned().unwrap_or(Value::from(""));
            m.insert(strval(&pair[0]), v);
        }
        Value::from(m)
    });
    env.add_function("merge", move |dst: Value, srcs: Rest<Value>| {
        merge(b, &dst, &srcs, false)
    });
    env.add_filter("merge", move |dst: Value, srcs: Rest<Value>| {
        merge(b, &dst, &srcs, false)
    });
    env.add_function("mergeOverwrite", move |dst: Value, srcs: Rest<Value>| {
        merge(b, &dst, &srcs, true)
    });
    env.add_filter("mergeOverwrite", move |dst: Value, srcs: Rest<Value>| {
        merge(b, &dst, &srcs, true)
    });
    let keys = |maps: Rest<Value>| -> Result<Value, Error> {
        let mut out: Vec<Value> = Vec::new();
        for m in maps.iter() {
            for (k, _) in map_items(m)? {
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        Ok(Value::from(out))
    };
    env.add_function("keys", keys);
    env.add_filter("keys", keys);
    let has_key = |m: Value, k: Value| -> Result<bool, Error> {
        Ok(map_items(&m)?
            .iter()
            .any(|(key, _)| strval(key) == strval(&k)))
    };
    env.add_function("hasKey", has_key);
    env.add_filter("hasKey", has_key);
    let get = |m: Value, k: Value| -> Result<Value, Error> {
        Ok(map_items(&m)?
            .into_iter()
            .find(|(key, _)| strval(key) == strval(&k))
            .map_or(Value::from(""), |(_, v)| v))
    };
    env.add_function("get", get);
    env.add_filter("get", get);
    let pick = |m: Value, ks: Rest<Value>| -> Result<Value, Error> {
        let wanted: Vec<String> = ks.iter().map(strval).collect();
        Ok(Value::from_iter(
            map_items(&m)?
                .into_iter()
                .filter(|(k, _)| wanted.contains(&strval(k))),
        ))
    };
    env.add_function("pick", pick);
    env.add_filter("pick", pick);
    let omit = |m: Value, ks: Rest<Value>| -> Result<Value, Error> {
        let unwanted: Vec<String> = ks.iter().map(strval).collect();
        Ok(Value::from_iter(
            map_items(&m)?
                .into_iter()
                .filter(|(k, _)| !unwanted.contains(&strval(k))),
        ))
    };
    env.add_function("omit", omit);
    env.add_filter("omit", omit);
    let uniq = |l: Value| -> Result<Value, Error> {
        let mut out: Vec<Value> = Vec::new();
        for v in list_items(&l)? {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        Ok(Value::from(out))
    };
    env.add_function("uniq", uniq);
    env.add_filter("uniq", uniq);
    let sort_alpha = |l: Value| -> Result<Value, Error> {
        let mut out: Vec<String> = list_items(&l)?.iter().map(strval).collect();
        out.sort();
        Ok(Value::from(out))
    };
    env.add_function("sortAlpha", sort_alpha);
    env.add_filter("sortAlpha", sort_alpha);
    env.add_function("splitList", |sep: Value, s: Value| {
        Value::from(
            strval(&s)
                .split(strval(&sep).as_str())
                .map(str::to_string)
                .collect::<Vec<_>>(),
        )
    });
    env.add_filter("splitList", |s: Value, sep: Value| {
        Value::from(
            strval(&s)
                .split(strval(&sep).as_str())
                .map(str::to_string)
                .collect::<Vec<_>>(),
        )
    });
    let join = move |sep: Value, l: Value| -> Result<String, Error> {
        let sep = strval(&sep);
        let parts = bounded_strvals(b, "join", &list_items(&l)?)?;
        bounded_join(b, "join", &parts, &sep)
    };
    env.add_function("join", join);
    env.add_filter("join", move |l: Value, sep: Option<Value>| {
        join(sep.unwrap_or(Value::from("")), l)
    });
    env.add_function("until", move |n: i64| -> Result<Value, Error> {
        if n < 0 {
            return Err(op_err(format!("until: {n} is out of range")));
        }
        until_step(b, 0, n, 1)
    });
    env.add_function("untilStep", move |start: i64, stop: i64, step: i64| {
        until_step(b, start, stop, step)
    });

    // Numbers.
    env.add_function("add", |args: Rest<Value>| {
        int_args(&args).iter().sum::<i64>()
    });
    env.add_function("add1", |v: Value| to_int(&v) + 1);
    env.add_function("sub", |a: Value, b: Value| to_int(&a) - to_int(&b));
    env.add_function("mul", |args: Rest<Value>| {
        int_args(&args).iter().product::<i64>()
    });
    env.add_function("div", |a: Value, b: Value| -> Result<i64, Error> {
        to_int(&a)
            .checked_div(to_int(&b))
            .ok_or_else(|| op_err("div: division by zero"))
    });
    env.add_function("mod", |a: Value, b: Value| -> Result<i64, Error> {
        to_int(&a)
            .checked_rem(to_int(&b))
            .ok_or_else(|| op_err("mod: division by zero"))
    });
    env.add_function("max", |args: Rest<Value>| int_args(&args).into_iter().max());
    env.add_function("min", |args: Rest<Value>| int_args(&args).into_iter().min());

    // Regular expressions and versions.
    env.add_function("regexMatch", |re: Value, s: Value| -> Result<bool, Error> {
        Ok(regex(&strval(&re))?.is_match(&strval(&s)))
    });
    env.add_filter("regexMatch", |s: Value, re: Value| -> Result<bool, Error> {
        Ok(regex(&strval(&re))?.is_match(&strval(&s)))
    });
    env.add_function(
        "regexReplaceAll",
        move |re: Value, s: Value, repl: Value| -> Result<String, Error> {
            regex_replace_all(b, &strval(&re), &strval(&s), &strval(&repl))
        },
    );
    env.add_filter(
        "regexReplaceAll",
        move |s: Value, re: Value, repl: Value| -> Result<String, Error> {
            regex_replace_all(b, &strval(&re), &strval(&s), &strval(&repl))
        },
    );
    env.add_function("semverCompare", |c: Value, v: Value| {
        semver_compare(&strval(&c), &strval(&v))
    });
    env.add_filter("semverCompare", |v: Value, c: Value| {
        semver_compare(&strval(&c), &strval(&v))
    });

    // Randomness and time, both deterministic per release.
    env.add_function("randAlphaNum", |state: &State<'_, '_>, n: i64| {
        rand_alnum(state, n)
    });
    env.add_filter("randAlphaNum", |state: &State<'_, '_>, n: i64| {
        rand_alnum(state, n)
    });
    env.add_function("now", |state: &State<'_, '_>| -> Result<String, Error> {
        Ok(session(state)?.now.clone())
    });
    env.add_function("date", |layout: Value, t: Value| -> Result<String, Error> {
        Ok(go_date(&strval(&layout), parse_time(&t)?))
    });
    env.add_filter("date", |t: Value, layout: Value| -> Result<String, Error> {
        Ok(go_date(&strval(&layout), parse_time(&t)?))
    });

    // Templates.
    env.add_function("include", include);
    env.add_function("tpl", tpl);
    env.add_filter("tpl", tpl);
    env.add_function(
        "lookup",
        |state: &State<'_, '_>,
         api_version: String,
         kind: String,
         namespace: String,
         name: String|
         -> Result<Value, Error> {
            let found = session(state)?.lookups.resolve(crate::LookupKey {
                api_version,
                kind,
                namespace,
                name,
            });
            Ok(found.map_or_else(
                || Value::from(BTreeMap::<String, Value>::new()),
                |object| Value::from_serialize(&object),
            ))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Bounds = Bounds {
        max_string: 1 << 20,
        max_items: 1000,
    };

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

    #[test]
    fn go_dates() {
        let ts: jiff::Timestamp = "2024-03-05T07:08:09.123Z".parse().unwrap();
        assert_eq!(
            go_date("2006-01-02T15:04:05Z07:00", ts),
            "2024-03-05T07:08:09Z"
        );
        assert_eq!(
            go_date("Jan _2 06 3:4:5 PM Mon", ts),
            "Mar  5 24 7:8:9 AM Tue"
        );
        assert_eq!(go_date("January 2, 2006 .000", ts), "March 5, 2024 .123");
    }

    #[test]
    fn helpers() {
        assert_eq!(title("hello wide world"), "Hello Wide World");
        assert_eq!(trunc(3, "abcdef"), "abc");
        assert_eq!(trunc(-2, "abcdef"), "ef");
        assert_eq!(trunc(10, "abc"), "abc");
        assert_eq!(indent(B, 2, "a\nb").unwrap(), "  a\n  b");
        assert_eq!(go_quote("a\"b\n"), "\"a\\\"b\\n\"");
    }

    #[test]
    fn growth_is_bounded_before_allocation() {
        let limit = |r: Result<String, Error>| {
            let e = match r {
                Ok(s) => panic!("built {} bytes", s.len()),
                Err(e) => e,
            };
            assert!(
                e.to_string().contains("limit of 1048576 bytes per string"),
                "{e}"
            );
        };
        limit(indent(B, usize::MAX / 2, "a\nb"));
        limit(super::printf(B, "%999999999999d", &[Value::from(1)]));
        limit(super::printf(B, "%.99999999f", &[Value::from(1.5)]));
        limit(replace(B, &"ab".repeat(1000), "", &"x".repeat(1000)));
        limit(repeat(B, i64::MAX, "ab"));
        limit(regex_replace_all(
            B,
            "a",
            &"a".repeat(2000),
            &"$0".repeat(1000),
        ));
        let big = Value::from("x".repeat(300_000));
        let list = Value::from(vec![big.clone(), big.clone(), big.clone(), big]);
        assert!(bounded_json(B, "toYaml", &list).is_err());
        assert!(quote_all(B, std::slice::from_ref(&list), false).is_err());
        assert_eq!(repeat(B, 3, "ab").unwrap(), "ababab");
        assert_eq!(replace(B, "a-b", "-", "+").unwrap(), "a+b");
        let e = until_step(B, 0, i64::MAX, 1).unwrap_err();
        assert!(e.to_string().contains("limit of 1000 items"), "{e}");
        let steps: Vec<i64> = until_step(B, 10, 0, -3)
            .unwrap()
            .try_iter()
            .unwrap()
            .map(|v| i64::try_from(v).unwrap())
            .collect();
        assert_eq!(steps, [10, 7, 4, 1]);
    }
}
