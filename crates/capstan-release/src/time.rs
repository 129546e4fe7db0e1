//! Times as Go's `time.Time` writes and reads them in JSON, and Helm's two zero-time encodings.
//!
//! Go marshals a `time.Time` as RFC 3339 with nanoseconds, trailing zeros of the fraction
//! dropped, and the offset of the time's location (`Z` for a zero offset):
//! `2024-03-01T09:15:42.123456789+01:00`, `2024-03-01T08:15:42Z`. Its parser accepts
//! `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
//!
//! Helm 3 writes a zero time as `""` (its `helm.sh/helm/v3/pkg/time` wrapper); Helm 4 omits it
//! and accepts `""`. A plain Go `time.Time` (for example in a chart's `Chart.lock`) writes the
//! zero time as `0001-01-01T00:00:00Z`. [`GoTime`] is never the zero time: zero is `None` in an
//! `Option<GoTime>`, and the serde adapters [`helm_time`] and [`go_time`] pick the encoding.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;

use crate::error::{Error, Result};

/// Go's zero time as Go writes it.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// An instant with the UTC offset it was written in, printed and parsed exactly as Go's
/// `time.Time` JSON encoding does. The offset is kept (to whole minutes, as RFC 3339 has them)
/// so that a record read and written back keeps its times byte for byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GoTime {
    timestamp: Timestamp,
    offset: Offset,
}

impl GoTime {
    /// The current time in the local time zone's offset, as Helm's `time.Now()` records it.
    pub fn now() -> Self {
        let zoned = jiff::Zoned::now();
        Self::new(zoned.timestamp(), zoned.offset())
    }

    /// An instant shown in UTC.
    pub fn from_timestamp(timestamp: Timestamp) -> Self {
        Self::new(timestamp, Offset::UTC)
    }

    /// An instant with an offset; seconds of the offset are dropped, as RFC 3339 cannot show them.
    pub fn new(timestamp: Timestamp, offset: Offset) -> Self {
        let seconds = offset.seconds() - offset.seconds() % 60;
        let offset = Offset::from_seconds(seconds).unwrap_or(Offset::UTC);
        Self { timestamp, offset }
    }

    /// The instant from unix seconds, in UTC.
    pub fn from_unix_seconds(seconds: i64) -> Result<Self> {
        Timestamp::from_second(seconds)
            .map(Self::from_timestamp)
            .map_err(|e| Error::InvalidTime {
                value: seconds.to_string(),
                reason: e.to_string(),
            })
    }

    /// The instant.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// The offset it is shown in.
    pub fn offset(&self) -> Offset {
        self.offset
    }

    /// Unix seconds (as Helm's `createdAt`/`modifiedAt` labels hold them).
    pub fn unix_seconds(&self) -> i64 {
        self.timestamp.as_second()
    }

    /// Parses Go's RFC 3339 form. Returns `Ok(None)` for Go's zero instant
    /// (`0001-01-01T00:00:00Z` in any offset), which Go's `IsZero` treats as unset.
    pub fn parse_go(text: &str) -> Result<Option<Self>> {
        let invalid = |reason: &str| Error::InvalidTime {
            value: text.to_owned(),
            reason: reason.to_owned(),
        };
        let b = text.as_bytes();
        if b.len() < 20 {
            return Err(invalid("too short for RFC 3339"));
        }
        let num = |range: std::ops::Range<usize>, what: &str| -> Result<i32> {
            let part = &b[range];
            if !part.iter().all(u8::is_ascii_digit) {
                return Err(invalid(&format!("{what} is not a number")));
            }
            Ok(part.iter().fold(0i32, |n, d| n * 10 + i32::from(d - b'0')))
        };
        if b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(invalid("expected YYYY-MM-DDTHH:MM:SS"));
        }
        let year = num(0..4, "year")?;
        let month = num(5..7, "month")?;
        let day = num(8..10, "day")?;
        let hour = num(11..13, "hour")?;
        let minute = num(14..16, "minute")?;
        let second = num(17..19, "second")?;
        let mut i = 19;
        let mut nanos = 0i32;
        if matches!(b[i], b'.' | b',') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return Err(invalid("empty fraction of a second"));
            }
            let digits = &b[start..i.min(start + 9)];
            nanos = digits
                .iter()
                .fold(0i32, |n, d| n * 10 + i32::from(d - b'0'));
            for _ in digits.len()..9 {
                nanos *= 10;
            }
        }
        let rest = &b[i..];
        let offset_seconds = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let digits = [*h1, *h2, *m1, *m2];
                if !digits.iter().all(u8::is_ascii_digit) {
                    return Err(invalid("offset is not a number"));
                }
                let hours = i32::from(h1 - b'0') * 10 + i32::from(h2 - b'0');
                let minutes = i32::from(m1 - b'0') * 10 + i32::from(m2 - b'0');
                if hours > 23 || minutes > 59 {
                    return Err(invalid("offset out of range"));
                }
                let s = hours * 3600 + minutes * 60;
                if *sign == b'-' { -s } else { s }
            }
            _ => return Err(invalid("expected Z or an offset ±HH:MM after the time")),
        };
        let civil = DateTime::new(
            i16::try_from(year).map_err(|_| invalid("year out of range"))?,
            i8::try_from(month).map_err(|_| invalid("month out of range"))?,
            i8::try_from(day).map_err(|_| invalid("day out of range"))?,
            i8::try_from(hour).map_err(|_| invalid("hour out of range"))?,
            i8::try_from(minute).map_err(|_| invalid("minute out of range"))?,
            i8::try_from(second).map_err(|_| invalid("second out of range"))?,
            nanos,
        )
        .map_err(|e| invalid(&e.to_string()))?;
        let offset = Offset::from_seconds(offset_seconds).map_err(|e| invalid(&e.to_string()))?;
        let timestamp = offset
            .to_timestamp(civil)
            .map_err(|e| invalid(&e.to_string()))?;
        if timestamp == go_zero_instant() {
            return Ok(None);
        }
        Ok(Some(Self { timestamp, offset }))
    }
}

/// Go's zero instant, January 1 of year 1, 00:00:00 UTC.
fn go_zero_instant() -> Timestamp {
    // -62135596800 is 0001-01-01T00:00:00Z in unix seconds.
    Timestamp::from_second(-62_135_596_800).expect("year 1 is within jiff's range")
}

impl fmt::Display for GoTime {
    /// Go's `time.RFC3339Nano` layout, as `time.Time.MarshalJSON` writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dt = self.offset.to_datetime(self.timestamp);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )?;
        let nanos = dt.subsec_nanosecond();
        if nanos != 0 {
            let digits = format!("{nanos:09}");
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        let offset = self.offset.seconds();
        if offset == 0 {
            f.write_str("Z")
        } else {
            let sign = if offset < 0 { '-' } else { '+' };
            let abs = offset.abs();
            write!(f, "{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
        }
    }
}

impl FromStr for GoTime {
    type Err = Error;

    /// Parses Go's RFC 3339 form; Go's zero instant is an error here (use [`GoTime::parse_go`]).
    fn from_str(s: &str) -> Result<Self> {
        GoTime::parse_go(s)?.ok_or_else(|| Error::InvalidTime {
            value: s.to_owned(),
            reason: "is Go's zero time".to_owned(),
        })
    }
}

impl From<Timestamp> for GoTime {
    fn from(timestamp: Timestamp) -> Self {
        GoTime::from_timestamp(timestamp)
    }
}

impl PartialOrd for GoTime {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for GoTime {
    /// Orders by instant, then by offset.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.timestamp
            .cmp(&other.timestamp)
            .then(self.offset.seconds().cmp(&other.offset.seconds()))
    }
}

fn deserialize_optional<'de, D>(deserializer: D) -> std::result::Result<Option<GoTime>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::Deserialize;
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => GoTime::parse_go(&s).map_err(serde::de::Error::custom),
    }
}

/// Serde adapter for `Option<GoTime>` fields that Helm 3 writes with its own time type:
/// `None` is written `""`. Reads `""`, `null`, a missing field (with `#[serde(default)]`) and Go's
/// zero instant as `None`. This is the encoding both Helm 3 and Helm 4 read.
pub mod helm_time {
    use super::GoTime;

    /// Writes `""` for `None`, else Go's RFC 3339 form.
    pub fn serialize<S: serde::Serializer>(
        value: &Option<GoTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            None => serializer.serialize_str(""),
            Some(t) => serializer.collect_str(t),
        }
    }

    /// Reads `""`, `null`, Go's zero instant (all `None`) or a time.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<GoTime>, D::Error> {
        super::deserialize_optional(deserializer)
    }
}

/// Serde adapter for `Option<GoTime>` fields that are plain Go `time.Time` values (for example
/// `Chart.lock`'s `generated`): `None` is written as Go's zero time `0001-01-01T00:00:00Z`, which
/// a plain `time.Time` can parse (it cannot parse `""`).
pub mod go_time {
    use super::{GO_ZERO_TIME, GoTime};

    /// Writes Go's zero time for `None`, else Go's RFC 3339 form.
    pub fn serialize<S: serde::Serializer>(
        value: &Option<GoTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            None => serializer.serialize_str(GO_ZERO_TIME),
            Some(t) => serializer.collect_str(t),
        }
    }

    /// Reads `""`, `null`, Go's zero instant (all `None`) or a time.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<GoTime>, D::Error> {
        super::deserialize_optional(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(s: &str) {
        let t: GoTime = s.parse().unwrap();
        assert_eq!(t.to_string(), s, "round trip of {s}");
    }

    #[test]
    fn prints_and_parses_as_go_does() {
        roundtrip("2024-03-01T09:15:42.123456789+01:00");
        roundtrip("2024-03-01T09:15:42.1234+01:00");
        roundtrip("2024-03-01T08:15:42Z");
        roundtrip("2024-03-01T08:15:42.5Z");
        roundtrip("2019-12-31T23:59:59.000000001-05:30");
        roundtrip("2024-02-29T00:00:00+14:00");
    }

    #[test]
    fn trailing_zeros_of_the_fraction_are_dropped() {
        let t: GoTime = "2024-03-01T08:15:42.120000000Z".parse().unwrap();
        assert_eq!(t.to_string(), "2024-03-01T08:15:42.12Z");
        let t: GoTime = "2024-03-01T08:15:42.000Z".parse().unwrap();
        assert_eq!(t.to_string(), "2024-03-01T08:15:42Z");
        let t: GoTime = "2024-03-01T08:15:42+00:00".parse().unwrap();
        assert_eq!(t.to_string(), "2024-03-01T08:15:42Z");
    }

    #[test]
    fn offsets_keep_the_instant() {
        let a: GoTime = "2024-03-01T09:15:42+01:00".parse().unwrap();
        let b: GoTime = "2024-03-01T08:15:42Z".parse().unwrap();
        assert_eq!(a.timestamp(), b.timestamp());
        assert_eq!(a.unix_seconds(), 1_709_280_942);
        assert_ne!(a, b, "the offset is part of the value");
    }

    #[test]
    fn more_than_nine_fraction_digits_are_truncated() {
        let t: GoTime = "2024-03-01T08:15:42.1234567891Z".parse().unwrap();
        assert_eq!(t.to_string(), "2024-03-01T08:15:42.123456789Z");
    }

    #[test]
    fn go_zero_time_is_none() {
        assert_eq!(GoTime::parse_go(GO_ZERO_TIME).unwrap(), None);
        assert_eq!(GoTime::parse_go("0001-01-01T01:00:00+01:00").unwrap(), None);
        assert!(GO_ZERO_TIME.parse::<GoTime>().is_err());
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            "",
            "2024-03-01",
            "2024-03-01 08:15:42Z",
            "2024-03-01T08:15:42",
            "2024-03-01T08:15:42+0100",
            "2024-13-01T08:15:42Z",
            "2024-02-30T08:15:42Z",
            "2024-03-01T25:15:42Z",
            "2024-03-01T08:15:42.Z",
            "2024-03-01T08:15:42+24:00",
            "yyyy-03-01T08:15:42Z",
        ] {
            let err = bad.parse::<GoTime>().unwrap_err();
            assert!(err.to_string().starts_with("invalid time"), "{bad}: {err}");
        }
    }

    #[test]
    fn offset_seconds_are_dropped() {
        let t = GoTime::new(
            Timestamp::from_second(0).unwrap(),
            Offset::from_seconds(3600 + 61).unwrap(),
        );
        assert_eq!(t.offset().seconds(), 3660);
        assert_eq!(t.to_string(), "1970-01-01T01:01:00+01:01");
    }

    #[test]
    fn now_round_trips() {
        let now = GoTime::now();
        assert_eq!(now.to_string().parse::<GoTime>().unwrap(), now);
    }

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Helm {
        #[serde(default, with = "helm_time")]
        t: Option<GoTime>,
    }

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Plain {
        #[serde(default, with = "go_time")]
        t: Option<GoTime>,
    }

    #[test]
    fn serde_adapters() {
        let none = Helm { t: None };
        assert_eq!(serde_json::to_string(&none).unwrap(), r#"{"t":""}"#);
        for input in [
            r#"{"t":""}"#,
            r#"{"t":null}"#,
            "{}",
            r#"{"t":"0001-01-01T00:00:00Z"}"#,
        ] {
            assert_eq!(
                serde_json::from_str::<Helm>(input).unwrap(),
                none,
                "{input}"
            );
        }
        let some: Helm = serde_json::from_str(r#"{"t":"2024-03-01T08:15:42.5+02:00"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&some).unwrap(),
            r#"{"t":"2024-03-01T08:15:42.5+02:00"}"#
        );
        assert!(serde_json::from_str::<Helm>(r#"{"t":"yesterday"}"#).is_err());
        assert!(serde_json::from_str::<Helm>(r#"{"t":5}"#).is_err());

        let plain = Plain { t: None };
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"{"t":"0001-01-01T00:00:00Z"}"#
        );
        assert_eq!(
            serde_json::from_str::<Plain>(r#"{"t":"0001-01-01T00:00:00Z"}"#).unwrap(),
            plain
        );
    }
}
