//! Randomness and time, both deterministic per release: `randAlphaNum`, `now`, `date`.

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, State};

use super::values::{op_err, strval, to_int};
use crate::objects::session;

pub(super) fn rand_alnum(state: &State<'_, '_>, n: i64) -> Result<String, Error> {
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

pub(super) fn parse_time(v: &Value) -> Result<jiff::Timestamp, Error> {
    if v.kind() == ValueKind::Number {
        return jiff::Timestamp::from_second(to_int(v)).map_err(|e| op_err(format!("date: {e}")));
    }
    let s = strval(v);
    s.parse::<jiff::Timestamp>()
        .map_err(|e| op_err(format!("date: cannot read time {s:?}: {e}")))
}

/// Formats a UTC time with a Go layout (`2006-01-02T15:04:05Z07:00`), as Go's `t.Format`.
pub(super) fn go_date(layout: &str, ts: jiff::Timestamp) -> String {
    capstan_sprig::dates::GoTime {
        ts,
        tz: jiff::tz::TimeZone::UTC,
        loc: "UTC".into(),
        fixed_abbrev: None,
    }
    .format(layout)
}

/// Registers the random and time functions and filters.
pub(super) fn register(env: &mut Environment<'static>) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
