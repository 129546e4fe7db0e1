//! Go's `encoding/json` decoding into `interface{}`: objects as Go maps, numbers float64,
//! and Go's error texts (`invalid character 'x' looking for beginning of value`, ...).

use std::collections::BTreeMap;

use minijinja::Value;

use crate::value::{float64, list, map, nil};

/// Decodes `text` as `json.Unmarshal` into an `interface{}` does, or Go's error text.
pub fn parse(text: &str) -> Result<Value, String> {
    match parse_partial(text) {
        Ok((v, None)) => Ok(v),
        Ok((_, Some(e))) | Err(e) => Err(e),
    }
}

/// Decodes `text` as `json.Unmarshal` does: a syntax error anywhere is the error and
/// nothing is decoded; otherwise the value, with a number out of float64's range left nil
/// and reported as the (first) error beside the value, as Go fills the rest in.
pub fn parse_partial(text: &str) -> Result<(Value, Option<String>), String> {
    let mut p = Parser {
        b: text.as_bytes(),
        s: text,
        i: 0,
        range_error: None,
    };
    p.ws();
    let v = p.value("looking for beginning of value")?;
    p.ws();
    if p.i < p.b.len() {
        return Err(p.invalid("after top-level value"));
    }
    Ok((v, p.range_error))
}

/// Helm's `fromJson`: the object as a Go map; an `Error` key holding Go's message when the
/// text does not decode into a map (a `null` document gives an empty map here, a nil map in
/// Go).
pub fn from_json_map(text: &str) -> Value {
    match parse_partial(text) {
        Ok((v, err)) if crate::value::as_map(&v).is_some() => {
            if let (Some(e), Some(m)) = (err, crate::value::as_map(&v)) {
                m.insert("Error".into(), Value::from(e));
            }
            v
        }
        Ok((v, _)) if crate::value::is_nil(&v) => map(BTreeMap::new()),
        Ok((v, _)) => super::error_map(type_error(&v, "map[string]interface {}")),
        Err(e) => super::error_map(e),
    }
}

/// Helm's `fromJsonArray`: the array as a Go slice; a one-element list holding Go's message
/// when the text does not decode into a slice.
pub fn from_json_list(text: &str) -> Value {
    match parse_partial(text) {
        Ok((v, None)) if crate::value::as_list(&v).is_some() => v,
        Ok((_, Some(e))) | Err(e) => list(vec![Value::from(e)]),
        Ok((v, None)) if crate::value::is_nil(&v) => list(vec![]),
        Ok((v, None)) => list(vec![Value::from(type_error(&v, "[]interface {}"))]),
    }
}

/// Go's `json: cannot unmarshal KIND into Go value of type TYPE` for a decoded `v`.
pub fn type_error(v: &Value, go_type: &str) -> String {
    use crate::value::Kind;
    let what = match crate::value::kind(v) {
        Kind::Map => "object",
        Kind::Slice => "array",
        Kind::String => "string",
        Kind::Bool => "bool",
        _ => "number",
    };
    format!("json: cannot unmarshal {what} into Go value of type {go_type}")
}

struct Parser<'a> {
    b: &'a [u8],
    s: &'a str,
    i: usize,
    range_error: Option<String>,
}

/// Go's `quoteChar`: the offending character as the error shows it.
fn quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '"' => "'\"'".into(),
        c => {
            let q = crate::fmt::go_quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn invalid(&self, context: &str) -> String {
        match self.s[self.i..].chars().next() {
            Some(c) => format!("invalid character {} {context}", quote_char(c)),
            None => "unexpected end of JSON input".into(),
        }
    }

    /// Go's scanner ends the input by feeding it a space: where a space is wrong (inside a
    /// literal, a number, an escape) the end of input is reported as that space.
    fn invalid_or_space(&self, context: &str) -> String {
        if self.i >= self.b.len() {
            format!("invalid character ' ' {context}")
        } else {
            self.invalid(context)
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn value(&mut self, context: &str) -> Result<Value, String> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(Value::from),
            Some(b't') => self.literal("true", Value::from(true)),
            Some(b'f') => self.literal("false", Value::from(false)),
            Some(b'n') => self.literal("null", nil()),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.invalid(context)),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
        for (k, expect) in word.bytes().enumerate() {
            if self.peek() != Some(expect) {
                let ctx = format!(
                    "in literal {word} (expecting {})",
                    quote_char(expect as char)
                );
                return Err(if k == 0 {
                    self.invalid("looking for beginning of value")
                } else {
                    self.invalid_or_space(&ctx)
                });
            }
            self.i += 1;
        }
        Ok(v)
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.i += 1;
            }
            p.i - s
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.invalid_or_space("in numeric literal")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(self.invalid_or_space("after decimal point in numeric literal"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(self.invalid_or_space("in exponent of numeric literal"));
            }
        }
        let text = &self.s[start..self.i];
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(float64(f)),
            _ => {
                if self.range_error.is_none() {
                    self.range_error = Some(format!(
                        "json: cannot unmarshal number {text} into Go value of type float64"
                    ));
                }
                Ok(nil())
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.s[self.i..].chars().next() else {
                return Err("unexpected end of JSON input".into());
            };
            match c {
                '"' => {
                    self.i += 1;
                    return Ok(out);
                }
                '\\' => {
                    self.i += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.invalid_or_space("in string escape code"));
                    };
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            if (0xD800..0xDC00).contains(&hi)
                                && self.b[self.i..].starts_with(b"\\u")
                            {
                                let save = self.i;
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                                    out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                                    continue;
                                }
                                self.i = save;
                            }
                            out.push(char::from_u32(hi).unwrap_or('\u{fffd}'));
                        }
                        _ => {
                            self.i -= 1;
                            return Err(self.invalid("in string escape code"));
                        }
                    }
                }
                c if (c as u32) < 0x20 => return Err(self.invalid("in string literal")),
                c => {
                    out.push(c);
                    self.i += c.len_utf8();
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0;
        for _ in 0..4 {
            match self.peek().and_then(|c| (c as char).to_digit(16)) {
                Some(d) => {
                    v = v * 16 + d;
                    self.i += 1;
                }
                None => {
                    return Err(self.invalid_or_space("in \\u hexadecimal character escape"));
                }
            }
        }
        Ok(v)
    }

    fn array(&mut self) -> Result<Value, String> {
        self.i += 1;
        self.ws();
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(list(items));
        }
        loop {
            self.ws();
            items.push(self.value("looking for beginning of value")?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(list(items));
                }
                _ => return Err(self.invalid("after array element")),
            }
        }
    }

    fn object(&mut self) -> Result<Value, String> {
        self.i += 1;
        self.ws();
        let mut entries = BTreeMap::new();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(map(entries));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.invalid("looking for beginning of object key string"));
            }
            let key = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.invalid("after object key"));
            }
            self.i += 1;
            self.ws();
            let v = self.value("looking for beginning of value")?;
            entries.insert(key, v);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(map(entries));
                }
                _ => return Err(self.invalid("after object key:value pair")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmt::sprint_value;

    #[test]
    fn decodes_as_go() {
        let v = parse(r#" {"b": [1, 2.5, "x\u00e9\n", true, null], "a": {}} "#).unwrap();
        assert_eq!(sprint_value(&v), "map[a:map[] b:[1 2.5 xé\n true <nil>]]");
        assert_eq!(parse("1e2").unwrap(), float64(100.0));
        let (v, e) = parse_partial(r#"{"a": 1e400, "b": 2}"#).unwrap();
        assert_eq!(sprint_value(&v), "map[a:<nil> b:2]");
        assert_eq!(
            e.as_deref(),
            Some("json: cannot unmarshal number 1e400 into Go value of type float64")
        );
    }

    #[test]
    fn helm_forms() {
        let j = |v: &Value| crate::encoding::json::marshal(v).unwrap();
        assert_eq!(
            j(&from_json_map(r#"{"a": 1e400, "b": 2}"#)),
            r#"{"Error":"json: cannot unmarshal number 1e400 into Go value of type float64","a":null,"b":2}"#
        );
        assert_eq!(
            j(&from_json_list("[1e400, 2]")),
            r#"["json: cannot unmarshal number 1e400 into Go value of type float64"]"#
        );
        assert_eq!(
            j(&from_json_map("[1]")),
            r#"{"Error":"json: cannot unmarshal array into Go value of type map[string]interface {}"}"#
        );
        assert_eq!(
            j(&from_json_list("{}")),
            r#"["json: cannot unmarshal object into Go value of type []interface {}"]"#
        );
        assert_eq!(
            j(&from_json_list("\"s\"")),
            r#"["json: cannot unmarshal string into Go value of type []interface {}"]"#
        );
        assert_eq!(
            j(&from_json_map("{\"a\":1} x")),
            r#"{"Error":"invalid character 'x' after top-level value"}"#
        );
    }

    #[test]
    fn errors_as_go() {
        let cases = [
            ("", "unexpected end of JSON input"),
            ("{", "unexpected end of JSON input"),
            ("x", "invalid character 'x' looking for beginning of value"),
            (
                "{a:1}",
                "invalid character 'a' looking for beginning of object key string",
            ),
            ("{\"a\" 1}", "invalid character '1' after object key"),
            (
                "{\"a\":1 \"b\"}",
                "invalid character '\"' after object key:value pair",
            ),
            ("[1 2]", "invalid character '2' after array element"),
            ("{} x", "invalid character 'x' after top-level value"),
            (
                "tru",
                "invalid character ' ' in literal true (expecting 'e')",
            ),
            (
                "nul",
                "invalid character ' ' in literal null (expecting 'l')",
            ),
            ("-", "invalid character ' ' in numeric literal"),
            (
                "1.",
                "invalid character ' ' after decimal point in numeric literal",
            ),
            ("1e", "invalid character ' ' in exponent of numeric literal"),
            ("\"\\", "invalid character ' ' in string escape code"),
            (
                "\"\\u12",
                "invalid character ' ' in \\u hexadecimal character escape",
            ),
            ("\"abc", "unexpected end of JSON input"),
            ("[1", "unexpected end of JSON input"),
            ("[01]", "invalid character '1' after array element"),
            (
                "[1.]",
                "invalid character ']' after decimal point in numeric literal",
            ),
            (
                "[.5]",
                "invalid character '.' looking for beginning of value",
            ),
            ("[-]", "invalid character ']' in numeric literal"),
            (
                "[1,]",
                "invalid character ']' looking for beginning of value",
            ),
            (
                "{\"a\":1,}",
                "invalid character '}' looking for beginning of object key string",
            ),
            ("\"a\tb\"", "invalid character '\\t' in string literal"),
            (
                "trux",
                "invalid character 'x' in literal true (expecting 'e')",
            ),
            ("\"a\nb\"", "invalid character '\\n' in string literal"),
            ("-x", "invalid character 'x' in numeric literal"),
            (
                "1e400",
                "json: cannot unmarshal number 1e400 into Go value of type float64",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err(), want, "{text:?}");
        }
    }
}
