//! Sprig's encodings: `b64enc`, `b64dec`, `b32enc`, `b32dec`, `urlParse`, `urlJoin`, and
//! `getHostByName` as Helm has it without `--enable-dns` (always "").
//!
//! Sprig's decoders return Go's error text as their *result* for invalid input (`illegal
//! base64 data at input byte N`), not an error; the positions here are the ones Go's decoders
//! report. Decoded bytes that are not UTF-8 become U+FFFD (Go would print the raw bytes).

use std::collections::BTreeMap;

use base64::Engine as _;
use minijinja::{Error, State, Value};

use crate::dicts::{map_arg, string_arg};
use crate::value::{self, Kind, kind};
use crate::{Registry, go_error, want_args};

/// Registers the encoding functions.
pub fn register(r: &mut Registry) {
    r.add("b64enc", |_: &State<'_, '_>, args: &[Value]| {
        want_args("b64enc", args, 1)?;
        let s = string_arg(args, 0)?;
        Ok(Value::from(
            base64::engine::general_purpose::STANDARD.encode(s),
        ))
    });
    r.add("b64dec", |_: &State<'_, '_>, args: &[Value]| {
        want_args("b64dec", args, 1)?;
        let s = string_arg(args, 0)?;
        Ok(Value::from(decoded_or_error(
            base64_decode(s.as_bytes()),
            "base64",
        )))
    });
    r.add("b32enc", |_: &State<'_, '_>, args: &[Value]| {
        want_args("b32enc", args, 1)?;
        let s = string_arg(args, 0)?;
        Ok(Value::from(base32_encode(s.as_bytes())))
    });
    r.add("b32dec", |_: &State<'_, '_>, args: &[Value]| {
        want_args("b32dec", args, 1)?;
        let s = string_arg(args, 0)?;
        Ok(Value::from(decoded_or_error(
            base32_decode(s.as_bytes()),
            "base32",
        )))
    });
    r.add("urlParse", url_parse);
    r.add("urlJoin", url_join);
    r.add("getHostByName", |_: &State<'_, '_>, args: &[Value]| {
        want_args("getHostByName", args, 1)?;
        string_arg(args, 0)?;
        // Helm replaces Sprig's lookup with "" unless DNS is enabled (`--enable-dns`);
        // rendering never reaches the network.
        Ok(Value::from(""))
    });
}

/// The decoded text, or Go's `CorruptInputError` text for the byte it failed at.
fn decoded_or_error(r: Result<Vec<u8>, usize>, what: &str) -> String {
    match r {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(at) => format!("illegal {what} data at input byte {at}"),
    }
}

fn is_newline(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

/// The value of a standard base64 digit.
fn b64_digit(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Go's `base64.StdEncoding.DecodeString`: padding required, `\r` and `\n` skipped anywhere,
/// the error position as Go reports it.
pub fn base64_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    while si < src.len() {
        let mut quad = [0u32; 4];
        let mut len = 4;
        let mut j = 0;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if let Some(d) = b64_digit(c) {
                quad[j] = d;
                j += 1;
                continue;
            }
            if is_newline(c) {
                continue;
            }
            if c != b'=' || j < 2 {
                return Err(si - 1);
            }
            if j == 2 {
                while si < src.len() && is_newline(src[si]) {
                    si += 1;
                }
                if si == src.len() {
                    return Err(src.len());
                }
                if src[si] != b'=' {
                    return Err(si - 1);
                }
                si += 1;
            }
            while si < src.len() && is_newline(src[si]) {
                si += 1;
            }
            if si < src.len() {
                return Err(si);
            }
            len = j;
            break;
        }
        let v = quad[0] << 18 | quad[1] << 12 | quad[2] << 6 | quad[3];
        let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
        out.extend_from_slice(&bytes[..len - 1]);
    }
    Ok(out)
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Go's `base32.StdEncoding.EncodeToString`.
pub fn base32_encode(src: &[u8]) -> String {
    let mut out = String::with_capacity(src.len().div_ceil(5) * 8);
    for block in src.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..block.len()].copy_from_slice(block);
        let v = buf.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
        let digits = match block.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < digits {
                out.push(char::from(B32[((v >> (35 - 5 * i)) & 31) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Go's `base32.StdEncoding.DecodeString`: newlines removed first, padding required.
pub fn base32_decode(input: &[u8]) -> Result<Vec<u8>, usize> {
    let src: Vec<u8> = input.iter().copied().filter(|b| !is_newline(*b)).collect();
    let olen = src.len();
    let mut rest = &src[..];
    let mut out = Vec::new();
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut digits = [0u8; 8];
        let mut len = 8;
        let mut j = 0;
        while j < 8 {
            if rest.is_empty() {
                return Err(olen - j);
            }
            let c = rest[0];
            rest = &rest[1..];
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 7 {
                    return Err(olen);
                }
                for k in 0..7 - j {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(olen - rest.len() + k - 1);
                    }
                }
                len = j;
                end = true;
                if matches!(len, 1 | 3 | 6) {
                    return Err(olen - rest.len() - 1);
                }
                break;
            }
            match B32.iter().position(|d| *d == c) {
                Some(d) => digits[j] = d as u8,
                None => return Err(olen - rest.len() - 1),
            }
            j += 1;
        }
        let v = digits.iter().fold(0u64, |acc, d| acc << 5 | u64::from(*d));
        let n = match len {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        for i in 0..n {
            out.push((v >> (32 - 8 * i)) as u8);
        }
    }
    Ok(out)
}

/// A URL as Go's `net/url.Parse` splits it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Url {
    scheme: String,
    opaque: String,
    /// User name and password, decoded.
    userinfo: Option<(String, Option<String>)>,
    host: String,
    path: String,
    raw_query: String,
    fragment: String,
}

/// Go's `url.Parse` for the URLs charts hand to `urlParse` (scheme, authority, path, query,
/// fragment, opaque forms). Errors are Go's texts after `parse "URL": `.
fn parse_url(raw: &str) -> Result<Url, String> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    let (rest, fragment) = match raw.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (raw, None),
    };
    let mut u = Url::default();
    if let Some(f) = fragment {
        u.fragment = unescape(f, false)?;
    }
    if rest == "*" {
        u.path = "*".into();
        return Ok(u);
    }
    let (scheme, mut rest) = split_scheme(rest)?;
    u.scheme = scheme.to_ascii_lowercase();
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        rest = &rest[..rest.len() - 1];
    } else if let Some((r, q)) = rest.split_once('?') {
        u.raw_query = q.to_string();
        rest = r;
    }
    if !rest.starts_with('/') {
        if !u.scheme.is_empty() {
            u.opaque = rest.to_string();
            return Ok(u);
        }
        let segment = rest.split('/').next().unwrap_or_default();
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    if (!u.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let after = &rest[2..];
        let (authority, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        let (user, host) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        if let Some(user) = user {
            if !user.bytes().all(valid_userinfo_byte) {
                return Err("net/url: invalid userinfo".into());
            }
            u.userinfo = Some(match user.split_once(':') {
                Some((name, pass)) => (unescape(name, false)?, Some(unescape(pass, false)?)),
                None => (unescape(user, false)?, None),
            });
        }
        u.host = parse_host(host)?;
        rest = path;
    }
    u.path = unescape(rest, false)?;
    Ok(u)
}

fn split_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".into()),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn valid_userinfo_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b) || b >= 0x80
}

fn parse_host(host: &str) -> Result<String, String> {
    if host.starts_with('[') {
        let Some(close) = host.rfind(']') else {
            return Err("missing ']' in host".into());
        };
        let port = &host[close + 1..];
        if !port.is_empty() && !valid_port(port) {
            return Err(format!("invalid port {} after host", go_quote(port)));
        }
        return Ok(host.to_string());
    }
    if let Some(i) = host.rfind(':') {
        let port = &host[i..];
        if !valid_port(port) {
            return Err(format!("invalid port {} after host", go_quote(port)));
        }
    }
    unescape(host, true)
}

fn go_quote(s: &str) -> String {
    crate::fmt::go_quote(s)
}

fn valid_port(port: &str) -> bool {
    port.strip_prefix(':')
        .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// Percent-decoding as Go's `url.PathUnescape` (`+` stays `+`); `%zz` is Go's error.
fn unescape(s: &str, host: bool) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
            let Some(hex) = hex else {
                let bad: String = s[i..].chars().take(3).collect();
                return Err(format!("invalid URL escape {}", go_quote(&bad)));
            };
            let hex = std::str::from_utf8(hex).unwrap_or("00");
            out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
            i += 3;
            continue;
        }
        if host && !valid_host_byte(b[i]) {
            return Err(format!(
                "invalid character {} in host name",
                go_quote(&s[i..i + 1])
            ));
        }
        out.push(b[i]);
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn valid_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:[]<>\"".contains(&b) || b >= 0x80
}

/// The host without its port (and without an IPv6 literal's brackets): Go's `Hostname()`.
fn hostname(host: &str) -> String {
    let (h, _) = split_port(host);
    h.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(h)
        .to_string()
}

fn split_port(host: &str) -> (&str, &str) {
    if let Some(i) = host.rfind(':')
        && valid_port(&host[i..])
    {
        return (&host[..i], &host[i + 1..]);
    }
    (host, "")
}

/// `urlParse s`: a map of scheme, host, hostname, path, query, opaque, fragment, userinfo.
fn url_parse(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("urlParse", args, 1)?;
    let raw = string_arg(args, 0)?;
    let u = parse_url(&raw).map_err(|e| {
        go_error(format!(
            "unable to parse url: parse {}: {e}",
            go_quote(&raw)
        ))
    })?;
    let mut m = BTreeMap::new();
    m.insert("scheme".to_string(), Value::from(u.scheme));
    m.insert("hostname".to_string(), Value::from(hostname(&u.host)));
    m.insert("host".to_string(), Value::from(u.host));
    m.insert("path".to_string(), Value::from(u.path));
    m.insert("query".to_string(), Value::from(u.raw_query));
    m.insert("opaque".to_string(), Value::from(u.opaque));
    m.insert("fragment".to_string(), Value::from(u.fragment));
    let userinfo = u.userinfo.as_ref().map(userinfo_string);
    m.insert(
        "userinfo".to_string(),
        Value::from(userinfo.unwrap_or_default()),
    );
    Ok(value::map(m))
}

/// Go's URL escaping of `s` for a path (`mode` path), fragment or userinfo part.
fn escape(s: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || keep(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn escape_path(s: &str) -> String {
    escape(s, |b| b"$&+,/:;=@".contains(&b))
}

fn escape_fragment(s: &str) -> String {
    escape(s, |b| b"$&+,/:;=?@!()*".contains(&b))
}

fn escape_userinfo(s: &str) -> String {
    escape(s, |b| b"$&+,;=".contains(&b))
}

/// Go's `Userinfo.String()`: the escaped name, and `:` and the escaped password if set.
fn userinfo_string((name, pass): &(String, Option<String>)) -> String {
    let mut out = escape_userinfo(name);
    if let Some(p) = pass {
        out.push(':');
        out.push_str(&escape_userinfo(p));
    }
    out
}

/// A string entry of `urlJoin`'s map, "" when absent.
fn url_part(m: &value::GoMap, key: &str) -> Result<String, Error> {
    match m.get(key) {
        None => Ok(String::new()),
        Some(v) if kind(&v) == Kind::String => Ok(v.as_str().unwrap_or_default().to_string()),
        Some(v) => {
            let k = if value::is_nil(&v) {
                return Err(go_error(crate::lists::NIL_DEREF));
            } else {
                kind(&v).name()
            };
            Err(go_error(format!(
                "unable to parse {key} key, must be of type string, but {k} found"
            )))
        }
    }
}

/// `urlJoin m`: Go's `URL.String()` of the parts `urlParse` gives.
fn url_join(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("urlJoin", args, 1)?;
    let m = map_arg(args, 0)?;
    let scheme = url_part(&m, "scheme")?;
    let host = url_part(&m, "host")?;
    let path = url_part(&m, "path")?;
    let query = url_part(&m, "query")?;
    let opaque = url_part(&m, "opaque")?;
    let fragment = url_part(&m, "fragment")?;
    let userinfo = url_part(&m, "userinfo")?;
    let mut user = None;
    if !userinfo.is_empty() {
        // Sprig reads the user info by parsing "proto://USERINFO@host".
        let probe = format!("proto://{userinfo}@host");
        let parsed = parse_url(&probe).map_err(|e| {
            go_error(format!(
                "unable to parse userinfo in dict: parse {}: {e}",
                go_quote(&probe)
            ))
        })?;
        user = parsed.userinfo;
    }
    let mut out = String::new();
    if !scheme.is_empty() {
        out.push_str(&scheme);
        out.push(':');
    }
    if !opaque.is_empty() {
        out.push_str(&opaque);
    } else {
        if !scheme.is_empty() || !host.is_empty() || user.is_some() {
            if !host.is_empty() || !path.is_empty() || user.is_some() {
                out.push_str("//");
            }
            if let Some(user) = &user {
                out.push_str(&userinfo_string(user));
                out.push('@');
            }
            out.push_str(&host);
        }
        let ep = escape_path(&path);
        if !ep.is_empty() && !ep.starts_with('/') && !host.is_empty() {
            out.push('/');
        }
        if out.is_empty() {
            let segment = ep.split('/').next().unwrap_or_default();
            if segment.contains(':') {
                out.push_str("./");
            }
        }
        out.push_str(&ep);
    }
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    if !fragment.is_empty() {
        out.push('#');
        out.push_str(&escape_fragment(&fragment));
    }
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmt::sprint_value;
    use minijinja::Environment;

    fn show(name: &str, args: &[Value]) -> String {
        let mut r = Registry::default();
        register(&mut r);
        let env = Environment::new();
        let state = env.empty_state();
        match (r.get(name).expect(name))(&state, args) {
            Ok(v) => sprint_value(&v),
            Err(e) => format!("ERR: {}", e.detail().unwrap_or_default()),
        }
    }

    fn one(name: &str, arg: &str) -> String {
        show(name, &[Value::from(arg)])
    }

    #[test]
    fn base64_round_trips_and_reports_go_positions() {
        assert_eq!(one("b64enc", "hello"), "aGVsbG8=");
        assert_eq!(one("b64enc", ""), "");
        let cases = [
            ("aGVsbG8=", "hello"),
            ("aGVs\nbG8=", "hello"),
            ("aGVsbG8=\n", "hello"),
            ("", ""),
            ("aGVsbG8gd29ybGQhISE/", "hello world!!!?"),
            ("aGVsbG8", "illegal base64 data at input byte 4"),
            ("a", "illegal base64 data at input byte 0"),
            ("ab", "illegal base64 data at input byte 0"),
            ("abc", "illegal base64 data at input byte 0"),
            ("ab=", "illegal base64 data at input byte 3"),
            ("a=", "illegal base64 data at input byte 1"),
            ("=", "illegal base64 data at input byte 0"),
            ("ab==x", "illegal base64 data at input byte 4"),
            ("ab=x", "illegal base64 data at input byte 2"),
            ("a!cd", "illegal base64 data at input byte 1"),
            ("aGVsbG8=\nx", "illegal base64 data at input byte 9"),
            ("YWI=YWI=", "illegal base64 data at input byte 4"),
            ("aGVsbG8gd29ybGQ", "illegal base64 data at input byte 12"),
        ];
        for (input, want) in cases {
            assert_eq!(one("b64dec", input), want, "{input:?}");
        }
        assert_eq!(
            show("b64enc", &[Value::from(1.5)]),
            "ERR: wrong type for value; expected string; got float64"
        );
    }

    #[test]
    fn base32_round_trips_and_reports_go_positions() {
        assert_eq!(one("b32enc", "hello"), "NBSWY3DP");
        assert_eq!(one("b32enc", ""), "");
        assert_eq!(one("b32enc", "hello!"), "NBSWY3DPEE======");
        let cases = [
            ("NBSWY3DP", "hello"),
            ("nbswy3dp", "illegal base32 data at input byte 0"),
            ("NBSWY3D", "illegal base32 data at input byte 0"),
            ("NBSWY===", "hel"),
            ("NBSWY3DPEE======", "hello!"),
            ("NB======", "h"),
            ("N=======", "illegal base32 data at input byte 1"),
            ("NBS=====", "illegal base32 data at input byte 3"),
            ("NBSWY3DP\n", "hello"),
            ("NBSWY==", "illegal base32 data at input byte 7"),
            ("NBSWY=A=", "illegal base32 data at input byte 5"),
            ("NBSW1===", "illegal base32 data at input byte 4"),
        ];
        for (input, want) in cases {
            assert_eq!(one("b32dec", input), want, "{input:?}");
        }
    }

    #[test]
    fn url_parse_splits_as_go_does() {
        let cases = [
            (
                "https://user:pa%20ss@example.com:8443/a%20b/c?x=1&y=2#frag%20x",
                "map[fragment:frag x host:example.com:8443 hostname:example.com opaque: path:/a b/c query:x=1&y=2 scheme:https userinfo:user:pa%20ss]",
            ),
            (
                "http://[::1]:80/p",
                "map[fragment: host:[::1]:80 hostname:::1 opaque: path:/p query: scheme:http userinfo:]",
            ),
            (
                "mailto:joe@example.com",
                "map[fragment: host: hostname: opaque:joe@example.com path: query: scheme:mailto userinfo:]",
            ),
            (
                "/relative/path?q",
                "map[fragment: host: hostname: opaque: path:/relative/path query:q scheme: userinfo:]",
            ),
            (
                "example.com/path",
                "map[fragment: host: hostname: opaque: path:example.com/path query: scheme: userinfo:]",
            ),
            (
                "HTTP://Example.COM",
                "map[fragment: host:Example.COM hostname:Example.COM opaque: path: query: scheme:http userinfo:]",
            ),
            (
                "",
                "map[fragment: host: hostname: opaque: path: query: scheme: userinfo:]",
            ),
            (
                "a:b/c",
                "map[fragment: host: hostname: opaque:b/c path: query: scheme:a userinfo:]",
            ),
            (
                "http://x/a?",
                "map[fragment: host:x hostname:x opaque: path:/a query: scheme:http userinfo:]",
            ),
            (
                "s3://bucket/key+with+plus",
                "map[fragment: host:bucket hostname:bucket opaque: path:/key+with+plus query: scheme:s3 userinfo:]",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(one("urlParse", input), want, "{input:?}");
        }
        let users = [
            ("http://us%65r:p%40ss@h/x", "user:p%40ss"),
            ("http://a!b@h/", "a%21b"),
            ("http://u@h@x/", "u%40h"),
        ];
        for (input, want) in users {
            let m = one("urlParse", input);
            assert!(m.contains(&format!("userinfo:{want}]")), "{input:?}: {m}");
        }
        assert_eq!(
            one("urlParse", "//h/p"),
            "map[fragment: host:h hostname:h opaque: path:/p query: scheme: userinfo:]"
        );
        assert_eq!(
            one("urlParse", "///p"),
            "map[fragment: host: hostname: opaque: path:///p query: scheme: userinfo:]"
        );
        assert_eq!(
            one("urlParse", "http://h:/p"),
            "map[fragment: host:h: hostname:h opaque: path:/p query: scheme:http userinfo:]"
        );
        let errors = [
            ("http://a b.com/", "invalid character \" \" in host name"),
            ("http://[::1/", "missing ']' in host"),
            ("http://host:port/", "invalid port \":port\" after host"),
            (":foo", "missing protocol scheme"),
            ("1a:b", "first path segment in URL cannot contain colon"),
            ("http://x/%zz", "invalid URL escape \"%zz\""),
            ("http://h/p#a%zz", "invalid URL escape \"%zz\""),
        ];
        for (input, want) in errors {
            assert_eq!(
                one("urlParse", input),
                format!(
                    "ERR: unable to parse url: parse {}: {want}",
                    go_quote(input)
                )
            );
        }
    }

    #[test]
    fn url_join_builds_as_go_does() {
        let join = |pairs: &[(&str, Value)]| {
            let m = value::map(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), v.clone()))
                    .collect(),
            );
            show("urlJoin", &[m])
        };
        let s = Value::from;
        assert_eq!(
            join(&[("scheme", s("mailto")), ("opaque", s("joe@example.com"))]),
            "mailto:joe@example.com"
        );
        assert_eq!(join(&[("path", s("a:b"))]), "./a:b");
        assert_eq!(join(&[("host", s("h")), ("path", s("p"))]), "//h/p");
        assert_eq!(
            join(&[("scheme", s("http")), ("path", s("/p"))]),
            "http:///p"
        );
        assert_eq!(join(&[("scheme", s("file")), ("path", s(""))]), "file:");
        assert_eq!(show("urlJoin", &[Value::UNDEFINED]), "");
        assert_eq!(
            show("b64enc", &[Value::UNDEFINED]),
            "ERR: invalid value; expected string"
        );
        assert_eq!(
            join(&[("host", Value::from(1))]),
            "ERR: unable to parse host key, must be of type string, but int found"
        );
        assert_eq!(
            join(&[("host", value::nil())]),
            "ERR: runtime error: invalid memory address or nil pointer dereference"
        );
        assert_eq!(
            join(&[("userinfo", s("a@b:c d")), ("host", s("h"))]),
            "ERR: unable to parse userinfo in dict: parse \"proto://a@b:c d@host\": net/url: invalid userinfo"
        );
        assert_eq!(
            join(&[
                ("userinfo", s("us%65r:p%40ss")),
                ("host", s("h")),
                ("scheme", s("http"))
            ]),
            "http://user:p%40ss@h"
        );
        assert_eq!(
            join(&[("userinfo", s("a!b(c)*")), ("host", s("h"))]),
            "//a%21b%28c%29%2A@h"
        );
        assert_eq!(
            join(&[
                ("path", s("/a!b(c)*?#")),
                ("fragment", s("x y!?#")),
                ("host", s("h"))
            ]),
            "//h/a%21b%28c%29%2A%3F%23#x%20y!?%23"
        );
        let raw = "https://user:pa%20ss@example.com:8443/a%20b/c?x=1&y=2#frag%20x";
        let parsed = {
            let mut r = Registry::default();
            register(&mut r);
            let env = Environment::new();
            let state = env.empty_state();
            (r.get("urlParse").unwrap())(&state, &[s(raw)]).unwrap()
        };
        assert_eq!(show("urlJoin", &[parsed]), raw);
    }

    #[test]
    fn get_host_by_name_resolves_nothing() {
        assert_eq!(one("getHostByName", "localhost"), "");
        assert_eq!(
            show("getHostByName", &[Value::from(1)]),
            "ERR: wrong type for value; expected string; got int"
        );
    }
}
