//! Sprig's date functions with Go's `time` semantics: `now`, `date`, `dateInZone`,
//! `htmlDate`, `htmlDateInZone`, `dateModify`, `ago`, `toDate`, `unixEpoch`, `duration`,
//! `durationRound`; Go's reference-time layouts (`2006-01-02T15:04:05Z07:00`) both ways,
//! and Go's `Duration` text.
//!
//! The clock and the local zone come from the engine when it sets them: `now` reads the
//! template global `__now` (a [`GoTime`], Unix seconds, or an RFC 3339 string) and Go's
//! `Local` zone is the global `__tz` (an IANA name); without them, the system's.

use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use minijinja::value::{Object, ObjectRepr};
use minijinja::{Error, State, Value};

use crate::args::{string_arg, wrong_type};
use crate::value::{Kind, Num, int, int64, kind, num};
use crate::{Registry, go_error, want_args};

/// Registers the date functions.
pub fn register(r: &mut Registry) {
    r.add("now", |s: &State<'_, '_>, a: &[Value]| {
        want_args("now", a, 0)?;
        Ok(Value::from_object(now(s)))
    });
    r.add("date", |s: &State<'_, '_>, a: &[Value]| {
        want_args("date", a, 2)?;
        let layout = string_arg(a, 0)?;
        Ok(Value::from(date_in_zone(s, layout, &a[1], "Local")))
    });
    fn in_zone(s: &State<'_, '_>, a: &[Value]) -> Result<Value, Error> {
        want_args("dateInZone", a, 3)?;
        let (layout, zone) = (string_arg(a, 0)?, string_arg(a, 2)?);
        Ok(Value::from(date_in_zone(s, layout, &a[1], zone)))
    }
    r.add("dateInZone", in_zone);
    r.add("date_in_zone", in_zone);
    r.add("htmlDate", |s: &State<'_, '_>, a: &[Value]| {
        want_args("htmlDate", a, 1)?;
        Ok(Value::from(date_in_zone(s, "2006-01-02", &a[0], "Local")))
    });
    r.add("htmlDateInZone", |s: &State<'_, '_>, a: &[Value]| {
        want_args("htmlDateInZone", a, 2)?;
        let zone = string_arg(a, 1)?;
        Ok(Value::from(date_in_zone(s, "2006-01-02", &a[0], zone)))
    });
    fn modify(_: &State<'_, '_>, a: &[Value]) -> Result<Value, Error> {
        want_args("dateModify", a, 2)?;
        let d = string_arg(a, 0)?;
        let t = time_arg(a, 1)?;
        Ok(match parse_duration(d) {
            Ok(n) => Value::from_object(t.add(n)),
            Err(_) => a[1].clone(),
        })
    }
    r.add("dateModify", modify);
    r.add("date_modify", modify);
    fn must_modify(_: &State<'_, '_>, a: &[Value]) -> Result<Value, Error> {
        want_args("mustDateModify", a, 2)?;
        let d = string_arg(a, 0)?;
        let t = time_arg(a, 1)?;
        let n = parse_duration(d).map_err(go_error)?;
        Ok(Value::from_object(t.add(n)))
    }
    r.add("mustDateModify", must_modify);
    r.add("must_date_modify", must_modify);
    r.add("ago", |s: &State<'_, '_>, a: &[Value]| {
        want_args("ago", a, 1)?;
        let now = now(s);
        let t = match (a[0].downcast_object_ref::<GoTime>(), num(&a[0])) {
            (Some(t), _) => t.clone(),
            (None, Some(Num::Int(n) | Num::Int64(n))) => GoTime::unix(n, 0, local(s)),
            _ => now.clone(),
        };
        let d = now.nanos() - t.nanos();
        Ok(Value::from(format_duration(round_duration(
            d,
            1_000_000_000,
        ))))
    });
    r.add("toDate", |s: &State<'_, '_>, a: &[Value]| {
        want_args("toDate", a, 2)?;
        let (layout, value) = (string_arg(a, 0)?, string_arg(a, 1)?);
        Ok(Value::from_object(
            parse_time(layout, value, local(s)).unwrap_or_else(|_| GoTime::zero()),
        ))
    });
    r.add("mustToDate", |s: &State<'_, '_>, a: &[Value]| {
        want_args("mustToDate", a, 2)?;
        let (layout, value) = (string_arg(a, 0)?, string_arg(a, 1)?);
        parse_time(layout, value, local(s))
            .map(Value::from_object)
            .map_err(go_error)
    });
    r.add("unixEpoch", |_: &State<'_, '_>, a: &[Value]| {
        want_args("unixEpoch", a, 1)?;
        let t = time_arg(a, 0)?;
        Ok(Value::from(t.ts.as_second().to_string()))
    });
    r.add("duration", |_: &State<'_, '_>, a: &[Value]| {
        want_args("duration", a, 1)?;
        let n = match (kind(&a[0]), num(&a[0])) {
            (Kind::String, _) => {
                crate::conv::parse_int(a[0].as_str().unwrap_or_default(), 10).unwrap_or(0)
            }
            (_, Some(Num::Int64(n))) => n,
            _ => 0,
        };
        Ok(Value::from(format_duration(i128::from(
            n.wrapping_mul(1_000_000_000),
        ))))
    });
    r.add("durationRound", |s: &State<'_, '_>, a: &[Value]| {
        want_args("durationRound", a, 1)?;
        let d: i128 = match (
            kind(&a[0]),
            num(&a[0]),
            a[0].downcast_object_ref::<GoTime>(),
        ) {
            (Kind::String, _, _) => parse_duration(a[0].as_str().unwrap_or_default()).unwrap_or(0),
            (_, Some(Num::Int64(n)), _) => i128::from(n),
            (_, _, Some(t)) => now(s).nanos() - t.nanos(),
            _ => 0,
        };
        Ok(Value::from(duration_round(d as i64)))
    });
}

/// Go's `time.Time`: an instant, its zone, and the name of its `Location`.
#[derive(Debug, Clone)]
pub struct GoTime {
    /// The instant.
    pub ts: Timestamp,
    /// The zone it is shown in.
    pub tz: TimeZone,
    /// The `Location` name: `UTC`, `Local`, an IANA name, or a parsed zone's.
    pub loc: String,
    /// A fixed zone's abbreviation (Go's `FixedZone` name; empty prints as `-0700`).
    pub fixed_abbrev: Option<String>,
}

impl GoTime {
    /// The time `sec` seconds and `nsec` nanoseconds after the Unix epoch, in Go's `Local`.
    pub fn unix(sec: i64, nsec: i32, local: TimeZone) -> GoTime {
        GoTime {
            ts: Timestamp::new(sec, nsec).unwrap_or(Timestamp::UNIX_EPOCH),
            tz: local,
            loc: "Local".into(),
            fixed_abbrev: None,
        }
    }

    /// Go's zero `time.Time` (`0001-01-01 00:00:00 +0000 UTC`).
    pub fn zero() -> GoTime {
        GoTime {
            ts: Timestamp::new(-62_135_596_800, 0).unwrap_or(Timestamp::MIN),
            tz: TimeZone::UTC,
            loc: "UTC".into(),
            fixed_abbrev: None,
        }
    }

    fn nanos(&self) -> i128 {
        self.ts.as_nanosecond()
    }

    /// `t.Add(d)` for `d` nanoseconds.
    pub fn add(&self, d: i128) -> GoTime {
        let ts = Timestamp::from_nanosecond(self.nanos() + d).unwrap_or(self.ts);
        GoTime { ts, ..self.clone() }
    }

    /// `t.In(loc)`.
    pub fn in_zone(&self, tz: TimeZone, loc: &str) -> GoTime {
        GoTime {
            ts: self.ts,
            tz,
            loc: loc.into(),
            fixed_abbrev: None,
        }
    }

    fn offset(&self) -> i32 {
        self.tz.to_offset_info(self.ts).offset().seconds()
    }

    fn abbreviation(&self) -> String {
        match &self.fixed_abbrev {
            Some(a) => a.clone(),
            None => self.tz.to_offset_info(self.ts).abbreviation().to_string(),
        }
    }

    fn civil(&self) -> DateTime {
        Offset::from_seconds(self.offset())
            .unwrap_or(Offset::UTC)
            .to_datetime(self.ts)
    }

    /// Go's `t.Format(layout)`.
    pub fn format(&self, layout: &str) -> String {
        format_time(self, layout)
    }
}

impl Object for GoTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let c = self.civil();
        Some(match key.as_str()? {
            "Unix" => int64(self.ts.as_second()),
            "UnixMilli" => int64((self.nanos() / 1_000_000) as i64),
            "UnixNano" => int64(self.nanos() as i64),
            "Nanosecond" => int(i64::from(c.subsec_nanosecond())),
            "Year" => int(i64::from(c.year())),
            "YearDay" => int(i64::from(c.day_of_year())),
            "Day" => int(i64::from(c.day())),
            "Hour" => int(i64::from(c.hour())),
            "Minute" => int(i64::from(c.minute())),
            "Second" => int(i64::from(c.second())),
            "Location" => Value::from(self.loc.as_str()),
            "String" => Value::from(self.go_string()),
            _ => return None,
        })
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.go_string())
    }
}

impl GoTime {
    /// Go's `t.String()` (without the monotonic clock reading, which only `now` has and
    /// which differs on every run).
    pub fn go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }

    /// Whether two times are equal as Go's `==` on `time.Time` sees them (same instant
    /// and location).
    pub fn same(&self, o: &GoTime) -> bool {
        self.ts == o.ts && self.loc == o.loc && self.fixed_abbrev == o.fixed_abbrev
    }
}

/// Go's `Local` zone: the engine's `__tz` global if set, else the system's.
pub fn local(state: &State<'_, '_>) -> TimeZone {
    if let Some(name) = state
        .lookup("__tz")
        .and_then(|v| v.as_str().map(str::to_string))
        && let Ok(tz) = TimeZone::get(&name)
    {
        return tz;
    }
    TimeZone::system()
}

/// Sprig's `now`: the engine's `__now` global if set (a [`GoTime`], Unix seconds or an
/// RFC 3339 string), else the system clock; in Go's `Local`.
pub fn now(state: &State<'_, '_>) -> GoTime {
    let tz = local(state);
    if let Some(v) = state.lookup("__now") {
        if let Some(t) = v.downcast_object_ref::<GoTime>() {
            return t.clone();
        }
        if let Some(n) = num(&v) {
            return GoTime::unix(n.as_i64(), 0, tz);
        }
        if let Some(ts) = v.as_str().and_then(|s| s.parse::<Timestamp>().ok()) {
            return GoTime {
                ts,
                tz,
                loc: "Local".into(),
                fixed_abbrev: None,
            };
        }
    }
    GoTime {
        ts: Timestamp::now(),
        tz,
        loc: "Local".into(),
        fixed_abbrev: None,
    }
}

/// Argument `i` for a Go `time.Time` parameter.
fn time_arg(a: &[Value], i: usize) -> Result<GoTime, Error> {
    a[i].downcast_object_ref::<GoTime>()
        .cloned()
        .ok_or_else(|| wrong_type(i, "time.Time", &a[i]))
}

/// Go's `time.LoadLocation(name)`, falling back to UTC as Sprig does.
fn load_location(state: &State<'_, '_>, name: &str) -> (TimeZone, String) {
    match name {
        "" | "UTC" => (TimeZone::UTC, "UTC".into()),
        "Local" => (local(state), "Local".into()),
        _ => match TimeZone::get(name) {
            Ok(tz) => (tz, name.into()),
            Err(_) => (TimeZone::UTC, "UTC".into()),
        },
    }
}

/// Sprig's `dateInZone`: a time, or Unix seconds (Go `int`/`int64`), else now.
fn date_in_zone(state: &State<'_, '_>, layout: &str, date: &Value, zone: &str) -> String {
    let t = match (date.downcast_object_ref::<GoTime>(), num(date)) {
        (Some(t), _) => t.clone(),
        (None, Some(Num::Int(n) | Num::Int64(n))) => GoTime::unix(n, 0, local(state)),
        _ => now(state),
    };
    let (tz, name) = load_location(state, zone);
    t.in_zone(tz, &name).format(layout)
}

/// A layout element of Go's reference time.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    /// `.000` (`n` digits, separator `.` or `,`).
    Frac0(usize, char),
    /// `.999`.
    Frac9(usize, char),
}

/// Go's `nextStdChunk`: the text before the next layout element, the element, the rest.
fn next_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, s: &str| layout[i..].starts_with(s);
    for i in 0..b.len() {
        let found: Option<(Std, usize)> = match b[i] {
            b'J' if at(i, "January") => Some((Std::LongMonth, 7)),
            b'J' if at(i, "Jan") => Some((Std::Month, 3)),
            b'M' if at(i, "Monday") => Some((Std::LongWeekDay, 6)),
            b'M' if at(i, "Mon") => Some((Std::WeekDay, 3)),
            b'M' if at(i, "MST") => Some((Std::Tz, 3)),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => Some((
                [
                    Std::ZeroMonth,
                    Std::ZeroDay,
                    Std::ZeroHour12,
                    Std::ZeroMinute,
                    Std::ZeroSecond,
                    Std::Year,
                ][usize::from(b[i + 1] - b'1')],
                2,
            )),
            b'0' if at(i, "002") => Some((Std::ZeroYearDay, 3)),
            b'1' if at(i, "15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if at(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            b'_' if at(i, "_2") => {
                if at(i, "_2006") {
                    // A literal `_` followed by the long year.
                    return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
                }
                Some((Std::UnderDay, 2))
            }
            b'_' if at(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if at(i, "PM") => Some((Std::PM, 2)),
            b'p' if at(i, "pm") => Some((Std::Pm, 2)),
            b'-' if at(i, "-070000") => Some((Std::NumSecondsTz, 7)),
            b'-' if at(i, "-07:00:00") => Some((Std::NumColonSecondsTz, 9)),
            b'-' if at(i, "-0700") => Some((Std::NumTz, 5)),
            b'-' if at(i, "-07:00") => Some((Std::NumColonTz, 6)),
            b'-' if at(i, "-07") => Some((Std::NumShortTz, 3)),
            b'Z' if at(i, "Z070000") => Some((Std::Iso8601SecondsTz, 7)),
            b'Z' if at(i, "Z07:00:00") => Some((Std::Iso8601ColonSecondsTz, 9)),
            b'Z' if at(i, "Z0700") => Some((Std::Iso8601Tz, 5)),
            b'Z' if at(i, "Z07:00") => Some((Std::Iso8601ColonTz, 6)),
            b'Z' if at(i, "Z07") => Some((Std::Iso8601ShortTz, 3)),
            b'.' | b',' if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else {
                    let n = j - i - 1;
                    let sep = char::from(b[i]);
                    Some((
                        if ch == b'0' {
                            Std::Frac0(n, sep)
                        } else {
                            Std::Frac9(n, sep)
                        },
                        j - i,
                    ))
                }
            }
            _ => None,
        };
        if let Some((std, len)) = found {
            return (&layout[..i], Some(std), &layout[i + len..]);
        }
    }
    (layout, None, "")
}

const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's `appendInt(b, x, width)`: zero-padded to `width` digits.
fn pad_int(out: &mut String, x: i64, width: usize) {
    if x < 0 {
        out.push('-');
    }
    out.push_str(&format!("{:0width$}", x.unsigned_abs()));
}

fn format_time(t: &GoTime, layout: &str) -> String {
    let c = t.civil();
    let offset = t.offset();
    let mut out = String::new();
    let mut rest = layout;
    loop {
        let (prefix, std, after) = next_chunk(rest);
        out.push_str(prefix);
        let Some(std) = std else { break };
        rest = after;
        let hour = i64::from(c.hour());
        match std {
            Std::Year => pad_int(&mut out, i64::from(c.year()).rem_euclid(100), 2),
            Std::LongYear => pad_int(&mut out, i64::from(c.year()), 4),
            Std::Month => out.push_str(&LONG_MONTHS[c.month() as usize - 1][..3]),
            Std::LongMonth => out.push_str(LONG_MONTHS[c.month() as usize - 1]),
            Std::NumMonth => pad_int(&mut out, i64::from(c.month()), 0),
            Std::ZeroMonth => pad_int(&mut out, i64::from(c.month()), 2),
            Std::WeekDay => {
                out.push_str(&LONG_DAYS[c.weekday().to_sunday_zero_offset() as usize][..3]);
            }
            Std::LongWeekDay => {
                out.push_str(LONG_DAYS[c.weekday().to_sunday_zero_offset() as usize]);
            }
            Std::Day => pad_int(&mut out, i64::from(c.day()), 0),
            Std::UnderDay => {
                if c.day() < 10 {
                    out.push(' ');
                }
                pad_int(&mut out, i64::from(c.day()), 0);
            }
            Std::ZeroDay => pad_int(&mut out, i64::from(c.day()), 2),
            Std::UnderYearDay => out.push_str(&format!("{:>3}", c.day_of_year())),
            Std::ZeroYearDay => pad_int(&mut out, i64::from(c.day_of_year()), 3),
            Std::Hour => pad_int(&mut out, hour, 2),
            Std::Hour12 | Std::ZeroHour12 => {
                let h = if hour % 12 == 0 { 12 } else { hour % 12 };
                pad_int(&mut out, h, if std == Std::Hour12 { 0 } else { 2 });
            }
            Std::Minute => pad_int(&mut out, i64::from(c.minute()), 0),
            Std::ZeroMinute => pad_int(&mut out, i64::from(c.minute()), 2),
            Std::Second => pad_int(&mut out, i64::from(c.second()), 0),
            Std::ZeroSecond => pad_int(&mut out, i64::from(c.second()), 2),
            Std::PM => out.push_str(if hour >= 12 { "PM" } else { "AM" }),
            Std::Pm => out.push_str(if hour >= 12 { "pm" } else { "am" }),
            Std::Tz => {
                let name = t.abbreviation();
                if name.is_empty() {
                    let z = offset / 60;
                    out.push(if z < 0 { '-' } else { '+' });
                    pad_int(&mut out, i64::from(z.abs() / 60), 2);
                    pad_int(&mut out, i64::from(z.abs() % 60), 2);
                } else {
                    out.push_str(&name);
                }
            }
            Std::Iso8601Tz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonTz
            | Std::Iso8601ColonSecondsTz
            | Std::NumTz
            | Std::NumSecondsTz
            | Std::NumShortTz
            | Std::NumColonTz
            | Std::NumColonSecondsTz => {
                let iso = matches!(
                    std,
                    Std::Iso8601Tz
                        | Std::Iso8601SecondsTz
                        | Std::Iso8601ShortTz
                        | Std::Iso8601ColonTz
                        | Std::Iso8601ColonSecondsTz
                );
                if iso && offset == 0 {
                    out.push('Z');
                    continue;
                }
                let z = offset / 60;
                out.push(if z < 0 { '-' } else { '+' });
                let (z, abs) = (z.abs(), offset.abs());
                pad_int(&mut out, i64::from(z / 60), 2);
                if matches!(
                    std,
                    Std::Iso8601ColonTz
                        | Std::NumColonTz
                        | Std::Iso8601ColonSecondsTz
                        | Std::NumColonSecondsTz
                ) {
                    out.push(':');
                }
                if !matches!(std, Std::NumShortTz | Std::Iso8601ShortTz) {
                    pad_int(&mut out, i64::from(z % 60), 2);
                }
                if matches!(
                    std,
                    Std::Iso8601SecondsTz
                        | Std::NumSecondsTz
                        | Std::NumColonSecondsTz
                        | Std::Iso8601ColonSecondsTz
                ) {
                    if matches!(std, Std::NumColonSecondsTz | Std::Iso8601ColonSecondsTz) {
                        out.push(':');
                    }
                    pad_int(&mut out, i64::from(abs % 60), 2);
                }
            }
            Std::Frac0(n, sep) | Std::Frac9(n, sep) => {
                let digits = format!("{:09}", c.subsec_nanosecond());
                let mut d = &digits[..n.min(9)];
                if matches!(std, Std::Frac9(..)) {
                    d = d.trim_end_matches('0');
                    if d.is_empty() {
                        continue;
                    }
                }
                out.push(sep);
                out.push_str(d);
            }
        }
    }
    out
}

/// Go's `time.ParseDuration`, in nanoseconds, with its errors.
pub fn parse_duration(s: &str) -> Result<i128, String> {
    let orig = s;
    let invalid = || format!("time: invalid duration {}", crate::fmt::go_quote(orig));
    let (neg, mut s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        if !(s.as_bytes()[0] == b'.' || s.as_bytes()[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let mut frac_part = "";
        if s.starts_with('.') {
            s = &s[1..];
            let n = s.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &s[..n];
            s = &s[n..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = s
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        if unit_len == 0 {
            return Err(format!(
                "time: missing unit in duration {}",
                crate::fmt::go_quote(orig)
            ));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    crate::fmt::go_quote(unit),
                    crate::fmt::go_quote(orig)
                ));
            }
        };
        let v: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut part = v.checked_mul(scale).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            // Go accumulates the fraction as f/10^k and truncates the product.
            let mut f: u128 = 0;
            let mut k: u128 = 1;
            for d in frac_part.bytes() {
                if f > (1u128 << 63) / 10 {
                    break;
                }
                f = f * 10 + u128::from(d - b'0');
                k *= 10;
            }
            part += f * scale / k;
        }
        total += part;
        if total > (1u128 << 63) - u128::from(!neg) {
            return Err(invalid());
        }
    }
    Ok(if neg { -(total as i128) } else { total as i128 })
}

/// Go's `Duration.Round(m)` for `m > 0`.
fn round_duration(d: i128, m: i128) -> i128 {
    let r = d % m;
    if d < 0 {
        let r = -r;
        if r + r < m { d + r } else { d - m + r }
    } else if r + r < m {
        d - r
    } else {
        d + m - r
    }
}

/// Go's `Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
pub fn format_duration(d: i128) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let mut out = String::new();
    let frac = |u: u128, prec: u32| -> (String, u128) {
        // Go's fmtFrac: `prec` decimals of u / 10^prec, trailing zeros dropped.
        let p = 10u128.pow(prec);
        let f = u % p;
        let mut s = format!("{f:0w$}", w = prec as usize);
        while s.ends_with('0') {
            s.pop();
        }
        let s = if s.is_empty() { s } else { format!(".{s}") };
        (s, u / p)
    };
    if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (f, whole) = frac(u, prec);
        out = format!("{whole}{f}{unit}");
    } else {
        let (f, secs) = frac(u, 9);
        u = secs;
        out.insert_str(0, &format!("{}{f}s", u % 60));
        u /= 60;
        if u > 0 {
            out.insert_str(0, &format!("{}m", u % 60));
            u /= 60;
            if u > 0 {
                out.insert_str(0, &format!("{u}h"));
            }
        }
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Sprig's `durationRound`: the largest whole unit (`y`, `mo`, `d`, `h`, `m`, `s`).
fn duration_round(d: i64) -> String {
    let u = d.unsigned_abs();
    let hour: u64 = 3_600_000_000_000;
    let units: [(u64, &str); 6] = [
        (hour * 24 * 365, "y"),
        (hour * 24 * 30, "mo"),
        (hour * 24, "d"),
        (hour, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return format!("{}{name}", u / size);
        }
    }
    "0s".into()
}

/// Go's `time.ParseInLocation(layout, value, Local)` for the layouts charts use, with Go's
/// error texts.
pub fn parse_time(layout: &str, value: &str, local: TimeZone) -> Result<GoTime, String> {
    let orig_value = value;
    let q = crate::fmt::go_quote;
    let err = |v: &str, elem: &str| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            q(orig_value),
            q(layout),
            q(v),
            q(elem)
        )
    };
    let range = |what: &str| format!("parsing time {}: {what} out of range", q(orig_value));
    let (mut year, mut month, mut day) = (1i64, -1i64, -1i64);
    let (mut yday, mut hour, mut min, mut sec, mut nsec) = (-1i64, 0i64, 0i64, 0i64, 0i64);
    let mut pm: Option<bool> = None;
    let mut zone_offset: Option<i32> = None;
    let mut zone_name: Option<String> = None;
    let mut rest_layout = layout;
    let mut value = value;
    loop {
        let (prefix, std, after) = next_chunk(rest_layout);
        let elem = &rest_layout[prefix.len()..rest_layout.len() - after.len()];
        // The literal text must match (runs of spaces are lenient in Go; kept exact here).
        value = skip_literal(value, prefix).ok_or_else(|| err(value, prefix))?;
        let Some(std) = std else {
            if !value.is_empty() {
                return Err(format!(
                    "parsing time {}: extra text: {}",
                    q(orig_value),
                    q(value)
                ));
            }
            break;
        };
        rest_layout = after;
        let hold = value;
        let bad = || err(hold, elem);
        match std {
            Std::Year => {
                let (n, r) = digits(value, 2, 2).ok_or_else(bad)?;
                year = if n >= 69 { n + 1900 } else { n + 2000 };
                value = r;
            }
            Std::LongYear => {
                let (n, r) = digits(value, 4, 4).ok_or_else(bad)?;
                year = n;
                value = r;
            }
            Std::Month | Std::LongMonth => {
                let long = std == Std::LongMonth;
                let (i, r) = lookup_name(value, &LONG_MONTHS, !long).ok_or_else(bad)?;
                month = i as i64 + 1;
                value = r;
            }
            Std::NumMonth | Std::ZeroMonth => {
                let (n, r) = if std == Std::ZeroMonth {
                    digits(value, 2, 2)
                } else {
                    digits(value, 1, 2)
                }
                .ok_or_else(bad)?;
                if !(1..=12).contains(&n) {
                    return Err(range("month"));
                }
                month = n;
                value = r;
            }
            Std::WeekDay | Std::LongWeekDay => {
                let (_, r) = lookup_name(value, &LONG_DAYS, std == Std::WeekDay).ok_or_else(bad)?;
                value = r;
            }
            Std::Day | Std::UnderDay | Std::ZeroDay => {
                if std == Std::UnderDay && value.starts_with(' ') {
                    value = &value[1..];
                }
                let (n, r) = if std == Std::ZeroDay {
                    digits(value, 2, 2)
                } else {
                    digits(value, 1, 2)
                }
                .ok_or_else(bad)?;
                day = n;
                value = r;
            }
            Std::UnderYearDay | Std::ZeroYearDay => {
                let v = value.trim_start_matches(' ');
                let (n, r) = digits(v, 3, 3).ok_or_else(bad)?;
                yday = n;
                value = r;
            }
            Std::Hour => {
                let (n, r) = digits(value, 1, 2).ok_or_else(bad)?;
                if n > 23 {
                    return Err(range("hour"));
                }
                hour = n;
                value = r;
            }
            Std::Hour12 | Std::ZeroHour12 => {
                let (n, r) = if std == Std::ZeroHour12 {
                    digits(value, 2, 2)
                } else {
                    digits(value, 1, 2)
                }
                .ok_or_else(bad)?;
                if n > 12 {
                    return Err(range("hour"));
                }
                hour = n;
                value = r;
            }
            Std::Minute | Std::ZeroMinute => {
                let (n, r) = if std == Std::ZeroMinute {
                    digits(value, 2, 2)
                } else {
                    digits(value, 1, 2)
                }
                .ok_or_else(bad)?;
                if n > 59 {
                    return Err(range("minute"));
                }
                min = n;
                value = r;
            }
            Std::Second | Std::ZeroSecond => {
                let (n, r) = if std == Std::ZeroSecond {
                    digits(value, 2, 2)
                } else {
                    digits(value, 1, 2)
                }
                .ok_or_else(bad)?;
                if n > 59 {
                    return Err(range("second"));
                }
                sec = n;
                value = r;
                // A fraction the layout does not spell out is still read.
                let next_is_frac = matches!(
                    next_chunk(rest_layout).1,
                    Some(Std::Frac0(..) | Std::Frac9(..))
                );
                let vb = value.as_bytes();
                if !next_is_frac
                    && vb.len() >= 2
                    && (vb[0] == b'.' || vb[0] == b',')
                    && vb[1].is_ascii_digit()
                {
                    let n = 1 + value[1..].bytes().take_while(u8::is_ascii_digit).count();
                    nsec = nanos(&value[1..n]);
                    value = &value[n..];
                }
            }
            Std::PM | Std::Pm => {
                let p = value.get(..2).ok_or_else(bad)?;
                let upper = std == Std::PM;
                pm = match p {
                    "PM" if upper => Some(true),
                    "AM" if upper => Some(false),
                    "pm" if !upper => Some(true),
                    "am" if !upper => Some(false),
                    _ => return Err(bad()),
                };
                value = &value[2..];
            }
            Std::Frac0(n, _) => {
                let vb = value.as_bytes();
                if vb.len() < n + 1 || !(vb[0] == b'.' || vb[0] == b',') {
                    return Err(bad());
                }
                if !value[1..=n].bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                nsec = nanos(&value[1..=n]);
                value = &value[n + 1..];
            }
            Std::Frac9(..) => {
                let vb = value.as_bytes();
                if vb.len() < 2 || !(vb[0] == b'.' || vb[0] == b',') || !vb[1].is_ascii_digit() {
                    continue;
                }
                let n = 1 + value[1..]
                    .bytes()
                    .take_while(u8::is_ascii_digit)
                    .count()
                    .min(9);
                nsec = nanos(&value[1..n]);
                value = &value[n..];
            }
            Std::Tz => {
                if value.starts_with("UTC") {
                    zone_offset = Some(0);
                    zone_name = Some("UTC".into());
                    value = &value[3..];
                    continue;
                }
                let n = value.bytes().take_while(u8::is_ascii_uppercase).count();
                if n < 3 {
                    return Err(bad());
                }
                zone_name = Some(value[..n].to_string());
                value = &value[n..];
            }
            _ => {
                // Numeric zones, `Z` allowed for the ISO 8601 forms.
                let iso = matches!(
                    std,
                    Std::Iso8601Tz
                        | Std::Iso8601SecondsTz
                        | Std::Iso8601ShortTz
                        | Std::Iso8601ColonTz
                        | Std::Iso8601ColonSecondsTz
                );
                if iso && value.starts_with('Z') {
                    value = &value[1..];
                    zone_offset = Some(0);
                    zone_name = Some("UTC".into());
                    continue;
                }
                let (off, r) = parse_numeric_zone(value, std).ok_or_else(bad)?;
                zone_offset = Some(off);
                value = r;
            }
        }
    }
    if let Some(p) = pm {
        if p && hour < 12 {
            hour += 12;
        } else if !p && hour == 12 {
            hour = 0;
        }
    }
    if yday >= 0 {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        if yday < 1 || yday > if leap { 366 } else { 365 } {
            return Err(range("day-of-year"));
        }
        let start = jiff::civil::Date::new(year as i16, 1, 1).map_err(|_| range("year"))?;
        let d = start
            .checked_add(jiff::Span::new().days(yday - 1))
            .map_err(|_| range("day-of-year"))?;
        if month >= 0 && month != i64::from(d.month()) {
            return Err(range("day-of-year"));
        }
        if day >= 0 && day != i64::from(d.day()) {
            return Err(range("day-of-year"));
        }
        month = i64::from(d.month());
        day = i64::from(d.day());
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    let dim = jiff::civil::Date::new(year as i16, month as i8, 1)
        .map(|d| i64::from(d.days_in_month()))
        .unwrap_or(31);
    if day < 1 || day > dim {
        return Err(range("day"));
    }
    let dt = DateTime::new(
        year as i16,
        month as i8,
        day as i8,
        hour as i8,
        min as i8,
        sec as i8,
        nsec as i32,
    )
    .map_err(|_| range("year"))?;
    if let Some(off) = zone_offset {
        let offset = Offset::from_seconds(off).unwrap_or(Offset::UTC);
        let ts = offset.to_timestamp(dt).map_err(|_| range("year"))?;
        if zone_name.as_deref() == Some("UTC") && off == 0 {
            return Ok(GoTime {
                ts,
                tz: TimeZone::UTC,
                loc: "UTC".into(),
                fixed_abbrev: None,
            });
        }
        // Go keeps the local zone when it has this offset at that time.
        let local_off = local.to_offset_info(ts).offset().seconds();
        if local_off == off {
            return Ok(GoTime {
                ts,
                tz: local,
                loc: "Local".into(),
                fixed_abbrev: None,
            });
        }
        return Ok(GoTime {
            ts,
            tz: TimeZone::fixed(offset),
            loc: String::new(),
            fixed_abbrev: Some(String::new()),
        });
    }
    if let Some(name) = zone_name {
        // An abbreviation: the local zone's if it uses it, else a zero-offset zone of
        // that name.
        let ts = local
            .to_ambiguous_zoned(dt)
            .compatible()
            .map(|z| z.timestamp())
            .map_err(|_| range("year"))?;
        if local.to_offset_info(ts).abbreviation() == name {
            return Ok(GoTime {
                ts,
                tz: local,
                loc: "Local".into(),
                fixed_abbrev: None,
            });
        }
        let ts = Offset::UTC.to_timestamp(dt).map_err(|_| range("year"))?;
        return Ok(GoTime {
            ts,
            tz: TimeZone::UTC,
            loc: name.clone(),
            fixed_abbrev: Some(name),
        });
    }
    let ts = local
        .to_ambiguous_zoned(dt)
        .compatible()
        .map(|z| z.timestamp())
        .map_err(|_| range("year"))?;
    Ok(GoTime {
        ts,
        tz: local,
        loc: "Local".into(),
        fixed_abbrev: None,
    })
}

/// The literal layout text `lit` at the start of `value`, Go's way: runs of spaces in the
/// layout match runs of spaces in the value.
fn skip_literal<'v>(mut value: &'v str, lit: &str) -> Option<&'v str> {
    let mut lit = lit;
    while !lit.is_empty() {
        if lit.starts_with(' ') {
            if !value.is_empty() && !value.starts_with(' ') {
                return None;
            }
            lit = lit.trim_start_matches(' ');
            value = value.trim_start_matches(' ');
            continue;
        }
        let c = lit.chars().next()?;
        if !value.starts_with(c) {
            return None;
        }
        lit = &lit[c.len_utf8()..];
        value = &value[c.len_utf8()..];
    }
    Some(value)
}

/// Between `min` and `max` leading ASCII digits of `s`, as a number, and the rest.
fn digits(s: &str, min: usize, max: usize) -> Option<(i64, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n < min {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

/// The nanoseconds of a fraction's digits (up to nine).
fn nanos(d: &str) -> i64 {
    let d = &d[..d.len().min(9)];
    let v: i64 = d.parse().unwrap_or(0);
    v * 10i64.pow(9 - d.len() as u32)
}

/// Which of `names` (or their three-letter forms) `s` starts with, case-insensitively.
fn lookup_name<'s>(s: &'s str, names: &[&str], short: bool) -> Option<(usize, &'s str)> {
    for (i, name) in names.iter().enumerate() {
        let n = if short { &name[..3] } else { name };
        if s.len() >= n.len() && s[..n.len()].eq_ignore_ascii_case(n) {
            return Some((i, &s[n.len()..]));
        }
    }
    None
}

/// A numeric zone offset in the form `std` asks for, in seconds east of UTC.
fn parse_numeric_zone(s: &str, std: Std) -> Option<(i32, &str)> {
    let b = s.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let num = |i: usize| -> Option<i32> {
        let d = s.get(i..i + 2)?;
        if d.bytes().all(|c| c.is_ascii_digit()) {
            d.parse().ok()
        } else {
            None
        }
    };
    let colon = |i: usize| b.get(i) == Some(&b':');
    let (h, m, sec, len) = match std {
        Std::NumShortTz | Std::Iso8601ShortTz => (num(1)?, 0, 0, 3),
        Std::NumTz | Std::Iso8601Tz => (num(1)?, num(3)?, 0, 5),
        Std::NumColonTz | Std::Iso8601ColonTz => {
            if !colon(3) {
                return None;
            }
            (num(1)?, num(4)?, 0, 6)
        }
        Std::NumSecondsTz | Std::Iso8601SecondsTz => (num(1)?, num(3)?, num(5)?, 7),
        _ => {
            if !colon(3) || !colon(6) {
                return None;
            }
            (num(1)?, num(4)?, num(7)?, 9)
        }
    };
    Some((sign * (h * 3600 + m * 60 + sec), &s[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{int, int64};

    fn utc(sec: i64, nsec: i32) -> GoTime {
        GoTime {
            ts: Timestamp::new(sec, nsec).unwrap(),
            tz: TimeZone::UTC,
            loc: "UTC".into(),
            fixed_abbrev: None,
        }
    }

    /// Expected values are Go 1.26's `time` package output for the same input.
    #[test]
    fn format_matches_go() {
        let cases: &[(i64, i32, &str, &str, &str)] = &[
            (
                1700000000,
                123456789,
                "UTC",
                "2006-01-02T15:04:05Z07:00",
                "2023-11-14T22:13:20Z",
            ),
            (
                1700000000,
                123456789,
                "UTC",
                "20060102150405",
                "20231114221320",
            ),
            (1700000000, 123456789, "UTC", "2006-01-02", "2023-11-14"),
            (
                1700000000,
                123456789,
                "UTC",
                "Jan 2, 2006 at 3:04pm (MST)",
                "Nov 14, 2023 at 10:13pm (UTC)",
            ),
            (
                1700000000,
                123456789,
                "UTC",
                "Monday, 02-Jan-06 15:04:05 MST",
                "Tuesday, 14-Nov-23 22:13:20 UTC",
            ),
            (
                1700000000,
                123456789,
                "UTC",
                "Mon Jan _2 15:04:05 2006",
                "Tue Nov 14 22:13:20 2023",
            ),
            (
                1700000000,
                123456789,
                "UTC",
                "3:04:05.000PM",
                "10:13:20.123PM",
            ),
            (
                1700000000,
                123456789,
                "UTC",
                "15:04:05.999999999",
                "22:13:20.123456789",
            ),
            (1700000000, 123456789, "UTC", "15:04:05.999", "22:13:20.123"),
            (1700000000, 123456789, "UTC", "15:04:05,000", "22:13:20,123"),
            (
                1700000000,
                123456789,
                "UTC",
                "-0700 -07:00 -07 -070000 -07:00:00",
                "+0000 +00:00 +00 +000000 +00:00:00",
            ),
            (
                1700000000,
                123456789,
                "UTC",
                "Z0700 Z07:00 Z07 Z070000 Z07:00:00",
                "Z Z Z Z Z",
            ),
            (
                1700000000,
                123456789,
                "UTC",
                "January 1 __2 002 _2 _2006",
                "November 11 318 318 14 _2023",
            ),
            (
                1700000000,
                123456789,
                "UTC",
                "2006-01-02 15:04:05.999999999 -0700 MST",
                "2023-11-14 22:13:20.123456789 +0000 UTC",
            ),
            (
                1700000000,
                123456789,
                "UTC",
                "06 1 2 3 4 5 pm",
                "23 11 14 10 13 20 pm",
            ),
            (1700000000, 123456789, "UTC", "x.09 1.5", "x.09 11.20"),
            (
                1700000000,
                0,
                "America/New_York",
                "2006-01-02T15:04:05Z07:00",
                "2023-11-14T17:13:20-05:00",
            ),
            (
                1700000000,
                0,
                "America/New_York",
                "20060102150405",
                "20231114171320",
            ),
            (
                1700000000,
                0,
                "America/New_York",
                "2006-01-02",
                "2023-11-14",
            ),
            (
                1700000000,
                0,
                "America/New_York",
                "Jan 2, 2006 at 3:04pm (MST)",
                "Nov 14, 2023 at 5:13pm (EST)",
            ),
            (
                1700000000,
                0,
                "America/New_York",
                "Monday, 02-Jan-06 15:04:05 MST",
                "Tuesday, 14-Nov-23 17:13:20 EST",
            ),
            (
                1700000000,
                0,
                "America/New_York",
                "Mon Jan _2 15:04:05 2006",
                "Tue Nov 14 17:13:20 2023",
            ),
            (
                1700000000,
                0,
                "America/New_York",
                "3:04:05.000PM",
                "5:13:20.000PM",
            ),
            (
                1700000000,
                0,
                "America/New_York",
                "15:04:05.999999999",
                "17:13:20",
            ),
            (
                1700000000,
                0,
                "America/New_York",
                "15:04:05.999",
                "17:13:20",
            ),
            (
                1700000000,
                0,
                "America/New_York",
                "15:04:05,000",
                "17:13:20,000",
            ),
            (
                1700000000,
                0,
                "America/New_York",
                "-0700 -07:00 -07 -070000 -07:00:00",
                "-0500 -05:00 -05 -050000 -05:00:00",
            ),
            (
                1700000000,
                0,
                "America/New_York",
                "Z0700 Z07:00 Z07 Z070000 Z07:00:00",
                "-0500 -05:00 -05 -050000 -05:00:00",
            ),
            (
                1700000000,
                0,
                "America/New_York",
                "January 1 __2 002 _2 _2006",
                "November 11 318 318 14 _2023",
            ),
            (
                1700000000,
                0,
                "America/New_York",
                "2006-01-02 15:04:05.999999999 -0700 MST",
                "2023-11-14 17:13:20 -0500 EST",
            ),
            (
                1700000000,
                0,
                "America/New_York",
                "06 1 2 3 4 5 pm",
                "23 11 14 5 13 20 pm",
            ),
            (1700000000, 0, "America/New_York", "x.09 1.5", "x.09 11.20"),
            (
                1690000005,
                500000000,
                "America/New_York",
                "2006-01-02T15:04:05Z07:00",
                "2023-07-22T00:26:45-04:00",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "20060102150405",
                "20230722002645",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "2006-01-02",
                "2023-07-22",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "Jan 2, 2006 at 3:04pm (MST)",
                "Jul 22, 2023 at 12:26am (EDT)",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "Monday, 02-Jan-06 15:04:05 MST",
                "Saturday, 22-Jul-23 00:26:45 EDT",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "Mon Jan _2 15:04:05 2006",
                "Sat Jul 22 00:26:45 2023",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "3:04:05.000PM",
                "12:26:45.500AM",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "15:04:05.999999999",
                "00:26:45.5",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "15:04:05.999",
                "00:26:45.5",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "15:04:05,000",
                "00:26:45,500",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "-0700 -07:00 -07 -070000 -07:00:00",
                "-0400 -04:00 -04 -040000 -04:00:00",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "Z0700 Z07:00 Z07 Z070000 Z07:00:00",
                "-0400 -04:00 -04 -040000 -04:00:00",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "January 1 __2 002 _2 _2006",
                "July 7 203 203 22 _2023",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "2006-01-02 15:04:05.999999999 -0700 MST",
                "2023-07-22 00:26:45.5 -0400 EDT",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "06 1 2 3 4 5 pm",
                "23 7 22 12 26 45 am",
            ),
            (
                1690000005,
                500000000,
                "America/New_York",
                "x.09 1.5",
                "x.09 7.45",
            ),
            (
                951782400,
                1000,
                "UTC",
                "2006-01-02T15:04:05Z07:00",
                "2000-02-29T00:00:00Z",
            ),
            (951782400, 1000, "UTC", "20060102150405", "20000229000000"),
            (951782400, 1000, "UTC", "2006-01-02", "2000-02-29"),
            (
                951782400,
                1000,
                "UTC",
                "Jan 2, 2006 at 3:04pm (MST)",
                "Feb 29, 2000 at 12:00am (UTC)",
            ),
            (
                951782400,
                1000,
                "UTC",
                "Monday, 02-Jan-06 15:04:05 MST",
                "Tuesday, 29-Feb-00 00:00:00 UTC",
            ),
            (
                951782400,
                1000,
                "UTC",
                "Mon Jan _2 15:04:05 2006",
                "Tue Feb 29 00:00:00 2000",
            ),
            (951782400, 1000, "UTC", "3:04:05.000PM", "12:00:00.000AM"),
            (
                951782400,
                1000,
                "UTC",
                "15:04:05.999999999",
                "00:00:00.000001",
            ),
            (951782400, 1000, "UTC", "15:04:05.999", "00:00:00"),
            (951782400, 1000, "UTC", "15:04:05,000", "00:00:00,000"),
            (
                951782400,
                1000,
                "UTC",
                "-0700 -07:00 -07 -070000 -07:00:00",
                "+0000 +00:00 +00 +000000 +00:00:00",
            ),
            (
                951782400,
                1000,
                "UTC",
                "Z0700 Z07:00 Z07 Z070000 Z07:00:00",
                "Z Z Z Z Z",
            ),
            (
                951782400,
                1000,
                "UTC",
                "January 1 __2 002 _2 _2006",
                "February 2  60 060 29 _2000",
            ),
            (
                951782400,
                1000,
                "UTC",
                "2006-01-02 15:04:05.999999999 -0700 MST",
                "2000-02-29 00:00:00.000001 +0000 UTC",
            ),
            (
                951782400,
                1000,
                "UTC",
                "06 1 2 3 4 5 pm",
                "00 2 29 12 0 0 am",
            ),
            (951782400, 1000, "UTC", "x.09 1.5", "x.09 2.0"),
        ];
        for (sec, nsec, zone, layout, want) in cases {
            let mut t = utc(*sec, *nsec);
            if *zone != "UTC" {
                t = t.in_zone(TimeZone::get(zone).unwrap(), zone);
            }
            assert_eq!(t.format(layout), *want, "{sec} {zone} {layout}");
        }
    }

    /// Go's `time.ParseInLocation` with `Local` set to UTC.
    #[test]
    fn parse_matches_go() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "2006-01-02",
                "2017-12-31",
                "2017-12-31 00:00:00 +0000 UTC | 1514678400 | UTC",
            ),
            (
                "2006-01-02T15:04:05Z07:00",
                "2024-03-10T08:30:00+05:30",
                "2024-03-10 08:30:00 +0530 +0530 | 1710039600 | ",
            ),
            (
                "2006-01-02T15:04:05Z07:00",
                "2024-03-10T08:30:00Z",
                "2024-03-10 08:30:00 +0000 UTC | 1710059400 | UTC",
            ),
            (
                "2006-01-02 15:04:05",
                "2024-03-10 08:30:00.123",
                "2024-03-10 08:30:00.123 +0000 UTC | 1710059400 | UTC",
            ),
            (
                "2006-01-02 15:04:05.000",
                "2024-03-10 08:30:00.123",
                "2024-03-10 08:30:00.123 +0000 UTC | 1710059400 | UTC",
            ),
            (
                "2006-01-02 15:04:05 MST",
                "2024-03-10 08:30:00 PST",
                "2024-03-10 08:30:00 +0000 PST | 1710059400 | PST",
            ),
            (
                "2006-01-02 15:04:05 MST",
                "2024-03-10 08:30:00 UTC",
                "2024-03-10 08:30:00 +0000 UTC | 1710059400 | UTC",
            ),
            (
                "Jan 2 2006 3:04pm",
                "Mar 10 2024 8:30pm",
                "2024-03-10 20:30:00 +0000 UTC | 1710102600 | UTC",
            ),
            (
                "Jan 2 2006",
                "mar 10 2024",
                "2024-03-10 00:00:00 +0000 UTC | 1710028800 | UTC",
            ),
            (
                "2006-01-02",
                "2017-13-01",
                "ERR:parsing time \"2017-13-01\": month out of range",
            ),
            (
                "2006-01-02",
                "2017-02-30",
                "ERR:parsing time \"2017-02-30\": day out of range",
            ),
            (
                "2006-01-02",
                "2017-1-01",
                "ERR:parsing time \"2017-1-01\" as \"2006-01-02\": cannot parse \"1-01\" as \"01\"",
            ),
            (
                "2006-01-02",
                "2017-01-01x",
                "ERR:parsing time \"2017-01-01x\": extra text: \"x\"",
            ),
            (
                "2006-01-02",
                "x",
                "ERR:parsing time \"x\" as \"2006-01-02\": cannot parse \"x\" as \"2006\"",
            ),
            (
                "02/01/2006",
                "31/12/2020",
                "2020-12-31 00:00:00 +0000 UTC | 1609372800 | UTC",
            ),
            (
                "2006-002",
                "2020-060",
                "2020-02-29 00:00:00 +0000 UTC | 1582934400 | UTC",
            ),
            (
                "15:04",
                "25:00",
                "ERR:parsing time \"25:00\": hour out of range",
            ),
            (
                "2006-01-02T15:04:05-07:00",
                "2024-03-10T08:30:00-08:00",
                "2024-03-10 08:30:00 -0800 -0800 | 1710088200 | ",
            ),
        ];
        for (layout, value, want) in cases {
            let got = match parse_time(layout, value, TimeZone::UTC) {
                Ok(t) => {
                    let loc = if t.loc == "Local" {
                        "UTC"
                    } else {
                        t.loc.as_str()
                    };
                    format!("{} | {} | {loc}", t.go_string(), t.ts.as_second())
                }
                Err(e) => format!("ERR:{e}"),
            };
            assert_eq!(got, *want, "{layout} {value}");
        }
    }

    #[test]
    fn durations_match_go() {
        type Case<'a> = (&'a str, Result<(i128, &'a str), &'a str>);
        let cases: &[Case<'_>] = &[
            ("1h", Ok((3600000000000, "1h0m0s"))),
            ("1h30m", Ok((5400000000000, "1h30m0s"))),
            ("-1.5h", Ok((-5400000000000, "-1h30m0s"))),
            ("300ms", Ok((300000000, "300ms"))),
            ("1.5us", Ok((1500, "1.5µs"))),
            ("2µs", Ok((2000, "2µs"))),
            ("0", Ok((0, "0s"))),
            ("1", Err("time: missing unit in duration \"1\"")),
            ("1d", Err("time: unknown unit \"d\" in duration \"1d\"")),
            ("", Err("time: invalid duration \"\"")),
            ("abc", Err("time: invalid duration \"abc\"")),
            ("1h2m3.000000001s", Ok((3723000000001, "1h2m3.000000001s"))),
            ("+5m", Ok((300000000000, "5m0s"))),
            (".5s", Ok((500000000, "500ms"))),
            ("1.s", Ok((1000000000, "1s"))),
            (
                "9223372036854775807ns",
                Ok((9223372036854775807, "2562047h47m16.854775807s")),
            ),
            (
                "9223372036854775808ns",
                Err("time: invalid duration \"9223372036854775808ns\""),
            ),
            (
                "-9223372036854775808ns",
                Ok((-9223372036854775808, "-2562047h47m16.854775808s")),
            ),
            (
                "2562047h47m16.854775807s",
                Ok((9223372036854775807, "2562047h47m16.854775807s")),
            ),
        ];
        for (text, want) in cases {
            let got = parse_duration(text).map(|d| (d, format_duration(d)));
            match (got, want) {
                (Ok((d, s)), Ok((wd, ws))) => assert_eq!((d, s.as_str()), (*wd, *ws), "{text}"),
                (Err(e), Err(we)) => assert_eq!(e, *we, "{text}"),
                (got, want) => panic!("{text}: {got:?} != {want:?}"),
            }
        }
        let strings: &[(i128, &str, &str)] = &[
            (0, "0s", "0s"),
            (1, "1ns", "0s"),
            (999, "999ns", "0s"),
            (1000, "1µs", "0s"),
            (1500, "1.5µs", "0s"),
            (1000000, "1ms", "0s"),
            (1234567, "1.234567ms", "0s"),
            (999999999, "999.999999ms", "1s"),
            (1000000000, "1s", "1s"),
            (61000000000, "1m1s", "1m1s"),
            (3600000000000, "1h0m0s", "1h0m0s"),
            (3723500000000, "1h2m3.5s", "1h2m4s"),
            (-90000000000, "-1m30s", "-1m30s"),
            (34560000000000000, "9600h0m0s", "9600h0m0s"),
        ];
        for (n, s, rounded) in strings {
            assert_eq!(format_duration(*n), *s);
            assert_eq!(format_duration(round_duration(*n, 1_000_000_000)), *rounded);
        }
    }

    #[test]
    fn sprig_durations() {
        assert_eq!(duration_round(0), "0s");
        assert_eq!(duration_round(3_600_000_000_001), "1h");
        assert_eq!(duration_round(-90_000_000_000), "1m");
        assert_eq!(duration_round(86_400_000_000_000 * 400), "1y");
        assert_eq!(duration_round(86_400_000_000_000 * 45), "1mo");
    }

    fn call(name: &str, args: &[Value]) -> String {
        let f = crate::Registry::helm().get(name).unwrap();
        match crate::testing::call_fn(f, args) {
            Ok(v) => crate::fmt::sprint_value(&v),
            Err(e) => format!("ERR:{e}"),
        }
    }

    /// Expected values are Sprig v3.3.0's in Go 1.26 (with `Local` being UTC).
    #[test]
    fn sprig_date_functions() {
        let s = |x: &str| Value::from(x);
        let t0 = || Value::from_object(utc(1_704_067_200, 0));
        let at = int(1_700_000_000);
        let layout = s("2006-01-02 15:04 MST");
        assert_eq!(
            call("dateInZone", &[layout.clone(), at.clone(), s("UTC")]),
            "2023-11-14 22:13 UTC"
        );
        assert_eq!(
            call(
                "dateInZone",
                &[layout.clone(), int64(1_700_000_000), s("Europe/Berlin")]
            ),
            "2023-11-14 23:13 CET"
        );
        assert_eq!(
            call("dateInZone", &[layout.clone(), at.clone(), s("Nowhere/X")]),
            "2023-11-14 22:13 UTC"
        );
        assert_eq!(
            call("dateInZone", &[layout, at.clone(), s("")]),
            "2023-11-14 22:13 UTC"
        );
        assert_eq!(call("htmlDateInZone", &[at, s("Asia/Tokyo")]), "2023-11-15");
        assert_eq!(
            call("dateModify", &[s("1h"), t0()]),
            "2024-01-01 01:00:00 +0000 UTC"
        );
        assert_eq!(
            call("dateModify", &[s("bad"), t0()]),
            "2024-01-01 00:00:00 +0000 UTC"
        );
        assert_eq!(
            call("mustDateModify", &[s("bad"), t0()]),
            "ERR:time: invalid duration \"bad\""
        );
        assert_eq!(
            call("dateModify", &[s("1h"), s("x")]),
            "ERR:wrong type for value; expected time.Time; got string"
        );
        assert_eq!(call("unixEpoch", &[t0()]), "1704067200");
        let t = t0();
        let modified = |d: &str| {
            let f = crate::Registry::helm().get("dateModify").unwrap();
            crate::testing::call_fn(f, &[s(d), t.clone()]).unwrap()
        };
        let ne = |b: Value| call("ne", &[t.clone(), b]);
        assert_eq!(ne(modified("0s")), "false");
        assert_eq!(ne(modified("bad")), "false");
        assert_eq!(ne(modified("1s")), "true");
        assert_eq!(call("duration", &[s("95")]), "1m35s");
        assert_eq!(call("duration", &[int64(95)]), "1m35s");
        assert_eq!(call("duration", &[int(95)]), "0s");
        assert_eq!(call("duration", &[Value::from(95.0)]), "0s");
        assert_eq!(call("duration", &[s("x")]), "0s");
        assert_eq!(call("durationRound", &[s("2h10m")]), "2h");
        assert_eq!(call("durationRound", &[int64(3_600_000_000_001)]), "1h");
        assert_eq!(call("durationRound", &[int(5)]), "0s");
        assert_eq!(call("durationRound", &[s("-3d")]), "0s");
        assert_eq!(
            call("mustToDate", &[s("2006-01-02"), s("junk")]),
            "ERR:parsing time \"junk\" as \"2006-01-02\": cannot parse \"junk\" as \"2006\""
        );
        assert_eq!(
            call("toDate", &[s("2006-01-02"), s("junk")]),
            "0001-01-01 00:00:00 +0000 UTC"
        );
        let t = t0();
        assert_eq!(
            crate::fmt::sprint_value(&t.get_attr("Year").unwrap()),
            "2024"
        );
        assert_eq!(
            crate::fmt::sprint_value(&t.get_attr("Unix").unwrap()),
            "1704067200"
        );
        assert_eq!(call("kindOf", &[t0()]), "struct");
        assert_eq!(call("typeOf", &[t0()]), "time.Time");
        assert_eq!(call("len", &[t0()]), "ERR:len of type time.Time");
    }

    #[test]
    fn now_reads_the_engine_clock_and_zone() {
        use minijinja::value::Rest;
        let mut env = minijinja::Environment::new();
        env.add_global("__now", Value::from("2024-02-29T23:30:00Z"));
        env.add_global("__tz", Value::from("Asia/Tokyo"));
        let reg = crate::Registry::helm();
        for name in ["now", "date", "dateInZone"] {
            let f = reg.get(name).unwrap();
            env.add_function(name, move |st: &State<'_, '_>, a: Rest<Value>| f(st, &a));
        }
        let out = env
            .render_str(
                "{{ date('2006-01-02 15:04 MST', now()) }}|{{ dateInZone('15:04 MST', now(), 'UTC') }}|{{ now() }}",
                (),
            )
            .unwrap();
        assert_eq!(
            out,
            "2024-03-01 08:30 JST|23:30 UTC|2024-03-01 08:30:00 +0900 JST"
        );
    }
}
