//! Helm's `--set` syntax ("strvals"), ported rule for rule from Helm's `pkg/strvals`.
//!
//! `name=value` pairs separated by `,`; dotted keys (`a.b.c=v`) create maps; `a[0].b=v` and
//! `a[1][0]=v` index lists (growing them, padding with nulls, at most index 65536); `{x,y}` is a
//! list; `\` escapes the next character (`\,`, `\.`, `\=`, `\\`); keys nest at most 30 levels.
//! `--set` types values as Helm does: `true`/`false` (any case) are booleans, `null` is null
//! (which later removes the key), `0` and integers without a leading zero are 64-bit integers,
//! everything else (floats included) stays a string. `--set-string` keeps every value a string;
//! `--set-json` takes JSON values; `--set-literal` takes everything after `=` verbatim; and
//! `--set-file` reads each value from the named file.
//!
//! Errors keep Helm's wording, which names the offending token (e.g. `key "a" has no value`).

use serde_json::{Map, Value};

/// How values are read after `=`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Typed,
    String,
    Json,
    Literal,
    File,
}

/// Why parsing stopped: the end of input (not an error) or a message.
enum Halt {
    Eof,
    Err(String),
}

type Step<T = ()> = Result<T, Halt>;

const MAX_INDEX: usize = 65536;
const MAX_NESTED_NAME_LEVEL: usize = 30;
/// Most list items and map entries one expression may create or copy: `a[65536]=1` builds a
/// list of 65537 items from 11 bytes, and every assignment into an existing list copies it, so
/// without this bound a short expression could take gigabytes or minutes.
const MAX_WORK: usize = 1_000_000;

/// Reads a `--set-file` value: the path in, the file's text (or an error message) out.
pub type FileReader<'a> = &'a mut dyn FnMut(&str) -> Result<String, String>;

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    mode: Mode,
    read_file: Option<FileReader<'a>>,
    /// List items and map entries created or copied so far (bounded by [`MAX_WORK`]).
    work: usize,
}

fn err<T>(msg: impl Into<String>) -> Step<T> {
    Err(Halt::Err(msg.into()))
}

fn typed(s: &str) -> Value {
    if s.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if s.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if s.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if s == "0" {
        return Value::from(0i64);
    }
    if !s.is_empty() && !s.starts_with('0') {
        // Go's strconv.ParseInt: optional sign, decimal digits only.
        let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
        if !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(i) = s.parse::<i64>()
        {
            return Value::from(i);
        }
    }
    Value::String(s.to_string())
}

fn set(data: &mut Map<String, Value>, key: &str, value: Value) {
    if !key.is_empty() {
        data.insert(key.to_string(), value);
    }
}

fn set_index(mut list: Vec<Value>, index: i64, value: Value) -> Step<Vec<Value>> {
    if index < 0 {
        return err(format!("negative {index} index not allowed"));
    }
    let index = index as usize;
    if index > MAX_INDEX {
        return err(format!(
            "index of {index} is greater than maximum supported index of {MAX_INDEX}"
        ));
    }
    if list.len() <= index {
        list.resize(index + 1, Value::Null);
    }
    list[index] = value;
    Ok(list)
}

impl Parser<'_> {
    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Reads until one of `stop` (consumed, returned) or the end (`None`), unescaping `\x`.
    fn until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut out = String::new();
        loop {
            match self.next() {
                None => return (out, None),
                Some(c) if stop.contains(&c) => return (out, Some(c)),
                Some('\\') => match self.next() {
                    None => return (out, None),
                    Some(n) => out.push(n),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn read_value(&mut self, raw: &str) -> Step<Value> {
        match self.mode {
            Mode::Typed => Ok(typed(raw)),
            Mode::String | Mode::Literal | Mode::Json => Ok(Value::String(raw.to_string())),
            Mode::File => match self.read_file.as_mut() {
                Some(read) => read(raw).map(Value::String).map_err(Halt::Err),
                None => err("no file reader"),
            },
        }
    }

    /// Counts `n` list items or map entries created or copied.
    fn charge(&mut self, n: usize) -> Step {
        self.work = self.work.saturating_add(n);
        if self.work > MAX_WORK {
            return err(format!(
                "the expression creates or copies more than {MAX_WORK} list items and map entries"
            ));
        }
        Ok(())
    }

    fn parse(&mut self, data: &mut Map<String, Value>) -> Result<(), String> {
        loop {
            match self.key(data, 0) {
                Ok(()) => continue,
                Err(Halt::Eof) => return Ok(()),
                Err(Halt::Err(e)) => return Err(e),
            }
        }
    }

    fn key(&mut self, data: &mut Map<String, Value>, mut level: usize) -> Step {
        let (k, last) = self.until(&['=', '[', ',', '.']);
        match last {
            None if k.is_empty() => Err(Halt::Eof),
            None => err(format!("key {k:?} has no value")),
            Some('[') => {
                let i = self.key_index()?;
                let list = match data.get(&k) {
                    None => Vec::new(),
                    Some(Value::Array(a)) => {
                        let a = a.clone();
                        self.charge(a.len())?;
                        a
                    }
                    Some(_) => {
                        return err(format!(
                            "unable to parse key: {k:?} is not a list and cannot be indexed"
                        ));
                    }
                };
                self.charge(list.len())?;
                let (list, result) = match self.list_item(list.clone(), i, level) {
                    Ok(l) => (l, Ok(())),
                    Err(e) => (list, Err(e)),
                };
                set(data, &k, Value::Array(list));
                result
            }
            Some('=') => {
                if self.mode == Mode::Json {
                    let v = self.json_value()?;
                    set(data, &k, v);
                    return self.after_json();
                }
                if self.mode == Mode::Literal {
                    let rest: String = self.chars[self.pos..].iter().collect();
                    self.pos = self.chars.len();
                    set(data, &k, Value::String(rest));
                    return Ok(());
                }
                match self.val_list()? {
                    ValList::List(l) => {
                        set(data, &k, Value::Array(l));
                        Ok(())
                    }
                    ValList::Eof => {
                        set(data, &k, Value::String(String::new()));
                        Err(Halt::Eof)
                    }
                    ValList::NotList => {
                        let (raw, _) = self.until(&[',']);
                        let v = self.read_value(&raw)?;
                        set(data, &k, v);
                        Ok(())
                    }
                }
            }
            Some(',') => err(format!("key {k:?} has no value (cannot end with ,)")),
            Some(_) => {
                level += 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return err(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    ));
                }
                let mut inner = match data.get(&k) {
                    None => Map::new(),
                    Some(Value::Object(m)) => {
                        let m = m.clone();
                        self.charge(m.len())?;
                        m
                    }
                    Some(_) => {
                        return err(format!(
                            "unable to parse key: {k:?} is not a map and cannot hold {:?}",
                            self.rest_of_token()
                        ));
                    }
                };
                let result = self.key(&mut inner, level);
                // Helm silently drops a trailing `a.` at the end of input; capstan reports it.
                if matches!(result, Ok(()) | Err(Halt::Eof)) && inner.is_empty() {
                    return err(format!("key map {k:?} has no value"));
                }
                if !inner.is_empty() {
                    set(data, &k, Value::Object(inner));
                }
                result
            }
        }
    }

    fn rest_of_token(&self) -> String {
        self.chars[self.pos..]
            .iter()
            .take_while(|c| **c != ',' && **c != '=')
            .collect()
    }

    fn key_index(&mut self) -> Step<i64> {
        let (v, last) = self.until(&[']']);
        if last.is_none() {
            // What follows may be `=value`: never quoted.
            return err("error parsing index: unterminated index");
        }
        v.parse::<i64>().or_else(|_| {
            let shown = v.split('=').next().unwrap_or_default();
            let more = if v.contains('=') { "=…" } else { "" };
            err(format!(
                "error parsing index: \"{shown}{more}\" is not an integer"
            ))
        })
    }

    fn list_item(&mut self, list: Vec<Value>, i: i64, level: usize) -> Step<Vec<Value>> {
        if i < 0 {
            return err(format!("negative {i} index not allowed"));
        }
        if level > MAX_NESTED_NAME_LEVEL {
            return err(format!(
                "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
            ));
        }
        self.charge(usize::try_from(i).unwrap_or(usize::MAX).min(MAX_INDEX) + 1)?;
        let (k, last) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            return err(format!("unexpected data at end of array index: {k:?}"));
        }
        match last {
            None => Err(Halt::Eof),
            Some('=') => {
                if self.mode == Mode::Json {
                    let v = self.json_value()?;
                    let list = set_index(list, i, v)?;
                    self.after_json()?;
                    return Ok(list);
                }
                if self.mode == Mode::Literal {
                    let rest: String = self.chars[self.pos..].iter().collect();
                    self.pos = self.chars.len();
                    return set_index(list, i, Value::String(rest));
                }
                match self.val_list()? {
                    ValList::List(l) => set_index(list, i, Value::Array(l)),
                    ValList::Eof => set_index(list, i, Value::String(String::new())),
                    ValList::NotList => {
                        let (raw, _) = self.until(&[',']);
                        let v = self.read_value(&raw)?;
                        set_index(list, i, v)
                    }
                }
            }
            Some('[') => {
                let next = self.key_index()?;
                let current = match list.get(i as usize) {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(a)) => a.clone(),
                    Some(_) => {
                        return err(format!(
                            "unable to parse key: element {i} is not a list and cannot be indexed"
                        ));
                    }
                };
                self.charge(current.len())?;
                let inner = self.list_item(current, next, level + 1)?;
                set_index(list, i, Value::Array(inner))
            }
            Some(_) => {
                let mut inner = match list.get(i as usize) {
                    Some(Value::Object(m)) => m.clone(),
                    _ => Map::new(),
                };
                self.charge(inner.len())?;
                match self.key(&mut inner, level) {
                    Ok(()) | Err(Halt::Eof) => set_index(list, i, Value::Object(inner)),
                    Err(e) => Err(e),
                }
            }
        }
    }

    fn val_list(&mut self) -> Step<ValList> {
        match self.next() {
            None => return Ok(ValList::Eof),
            Some('{') => {}
            Some(_) => {
                self.pos -= 1;
                return Ok(ValList::NotList);
            }
        }
        let mut list = Vec::new();
        loop {
            let (raw, last) = self.until(&[',', '}']);
            match last {
                None => return err("list must terminate with '}'"),
                Some('}') => {
                    if self.chars.get(self.pos) == Some(&',') {
                        self.pos += 1;
                    }
                    list.push(self.read_value(&raw)?);
                    return Ok(ValList::List(list));
                }
                Some(_) => list.push(self.read_value(&raw)?),
            }
        }
    }

    /// Skips blanks and one comma; true when the value is empty (comma or end reached).
    fn empty_val(&mut self) -> bool {
        loop {
            match self.chars.get(self.pos) {
                None => return true,
                Some(',') => {
                    self.pos += 1;
                    return true;
                }
                Some(c) if c.is_whitespace() => self.pos += 1,
                Some(_) => return false,
            }
        }
    }

    fn json_value(&mut self) -> Step<Value> {
        if self.empty_val() {
            return Ok(Value::Null);
        }
        let rest: String = self.chars[self.pos..].iter().collect();
        let mut stream = serde_json::Deserializer::from_str(&rest).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v)) => {
                let consumed = rest[..stream.byte_offset()].chars().count();
                self.pos += consumed;
                Ok(v)
            }
            // The JSON error names line and column, never the text: values may be secrets.
            Some(Err(e)) => err(format!("invalid JSON value: {e}")),
            None => Ok(Value::Null),
        }
    }

    fn after_json(&mut self) -> Step {
        self.empty_val();
        Ok(())
    }
}

enum ValList {
    List(Vec<Value>),
    Eof,
    NotList,
}

fn run(
    expr: &str,
    dest: &mut Map<String, Value>,
    mode: Mode,
    read_file: Option<FileReader<'_>>,
) -> Result<(), String> {
    let mut p = Parser {
        chars: expr.chars().collect(),
        pos: 0,
        mode,
        read_file,
        work: 0,
    };
    p.parse(dest)
}

/// `--set`: parses `expr` into `dest`, typing values as Helm does.
pub fn parse_into(expr: &str, dest: &mut Map<String, Value>) -> Result<(), String> {
    run(expr, dest, Mode::Typed, None)
}

/// `--set-string`: parses `expr` into `dest`, keeping every value a string.
pub fn parse_into_string(expr: &str, dest: &mut Map<String, Value>) -> Result<(), String> {
    run(expr, dest, Mode::String, None)
}

/// `--set-json`: parses `expr` into `dest`, each value a JSON document (empty means null).
pub fn parse_json(expr: &str, dest: &mut Map<String, Value>) -> Result<(), String> {
    run(expr, dest, Mode::Json, None)
}

/// `--set-literal`: one `key=value` where the value is everything after the first `=`.
pub fn parse_literal(expr: &str, dest: &mut Map<String, Value>) -> Result<(), String> {
    run(expr, dest, Mode::Literal, None)
}

/// `--set-file`: parses `expr` into `dest`, each value the contents of the file it names,
/// read through `read_file` (which returns an error message on failure).
pub fn parse_into_file(
    expr: &str,
    dest: &mut Map<String, Value>,
    read_file: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<(), String> {
    run(expr, dest, Mode::File, Some(read_file))
}

/// `--set` into a fresh map.
pub fn parse(expr: &str) -> Result<Map<String, Value>, String> {
    let mut m = Map::new();
    parse_into(expr, &mut m)?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every form of Helm's syntax, with Helm's own expectations (from `pkg/strvals` tests).
    #[test]
    fn set_table() {
        let ok: &[(&str, Value)] = &[
            (
                "name1=null,f=false,t=true",
                json!({"name1": null, "f": false, "t": true}),
            ),
            ("T=TRUE,F=False", json!({"T": true, "F": false})),
            ("name1=value1", json!({"name1": "value1"})),
            (
                "name1=value1,name2=value2",
                json!({"name1": "value1", "name2": "value2"}),
            ),
            (
                "name1=value1,name2=value2,",
                json!({"name1": "value1", "name2": "value2"}),
            ),
            (
                "name1=,name2=value2",
                json!({"name1": "", "name2": "value2"}),
            ),
            ("leading_zeros=00009", json!({"leading_zeros": "00009"})),
            ("zero_int=0", json!({"zero_int": 0})),
            ("long_int=1234567890", json!({"long_int": 1234567890})),
            ("negative=-42", json!({"negative": -42})),
            ("float=1.5", json!({"float": "1.5"})),
            (
                "huge=99999999999999999999",
                json!({"huge": "99999999999999999999"}),
            ),
            ("boolean=true", json!({"boolean": true})),
            ("is_null=null", json!({"is_null": null})),
            (
                "name1=one\\,two,name2=three\\,four",
                json!({"name1": "one,two", "name2": "three,four"}),
            ),
            (
                "name1=one\\=two,name2=three\\=four",
                json!({"name1": "one=two", "name2": "three=four"}),
            ),
            ("a\\.b=c", json!({"a.b": "c"})),
            ("path=C:\\\\dir", json!({"path": "C:\\dir"})),
            (
                "name1=one two three,name2=three two one",
                json!({"name1": "one two three", "name2": "three two one"}),
            ),
            ("outer.inner=value", json!({"outer": {"inner": "value"}})),
            (
                "outer.middle.inner=value",
                json!({"outer": {"middle": {"inner": "value"}}}),
            ),
            (
                "outer.inner1=value,outer.inner2=value2",
                json!({"outer": {"inner1": "value", "inner2": "value2"}}),
            ),
            ("name1.name2=", json!({"name1": {"name2": ""}})),
            (
                "name1={value1,value2}",
                json!({"name1": ["value1", "value2"]}),
            ),
            (
                "name1={value1,value2},name2={value1,value2}",
                json!({"name1": ["value1", "value2"], "name2": ["value1", "value2"]}),
            ),
            ("name1={1021,902}", json!({"name1": [1021, 902]})),
            (
                "name1.name2={value1,value2}",
                json!({"name1": {"name2": ["value1", "value2"]}}),
            ),
            ("list[0]=foo", json!({"list": ["foo"]})),
            ("list[0].foo=bar", json!({"list": [{"foo": "bar"}]})),
            (
                "list[0].foo=bar,list[0].hello=world",
                json!({"list": [{"foo": "bar", "hello": "world"}]}),
            ),
            ("list[0]=foo,list[1]=bar", json!({"list": ["foo", "bar"]})),
            (
                "list[0]=foo,list[3]=bar",
                json!({"list": ["foo", null, null, "bar"]}),
            ),
            ("noval[0]", json!({"noval": []})),
            ("noval[0]=", json!({"noval": [""]})),
            ("nested[0][0]=1", json!({"nested": [[1]]})),
            ("nested[1][1]=1", json!({"nested": [null, [null, 1]]})),
            (
                "name1.name2[0].foo=bar,name1.name2[1].foo=bar",
                json!({"name1": {"name2": [{"foo": "bar"}, {"foo": "bar"}]}}),
            ),
            (
                "name1.name2[1].foo=bar,name1.name2[0].foo=bar",
                json!({"name1": {"name2": [{"foo": "bar"}, {"foo": "bar"}]}}),
            ),
            (
                "name1.name2[1].foo=bar",
                json!({"name1": {"name2": [null, {"foo": "bar"}]}}),
            ),
            (
                "image.tag=never-ready,replicaCount=5",
                json!({"image": {"tag": "never-ready"}, "replicaCount": 5}),
            ),
        ];
        for (expr, want) in ok {
            let got = parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
            assert_eq!(&Value::Object(got), want, "{expr}");
        }

        let bad: &[(&str, &str)] = &[
            ("name1=value1,,,,name2=value2,", "key \"\" has no value"),
            (
                "name1,name2=",
                "key \"name1\" has no value (cannot end with ,)",
            ),
            ("name1,name2=value2", "key \"name1\" has no value"),
            ("name1,name2=value2\\", "key \"name1\" has no value"),
            ("name1,name2", "key \"name1\" has no value"),
            ("name1.name2", "key \"name2\" has no value"),
            ("name1.name2,name1.name3", "key \"name2\" has no value"),
            ("name1.=name2", "key map \"name1\" has no value"),
            ("name1.,name2", "key \"\" has no value"),
            ("name1={1021,902", "list must terminate with '}'"),
            (
                "list[0].foo=bar,list[-30].hello=world",
                "negative -30 index",
            ),
            ("list[0]=foo,list[-20]=bar", "negative -20 index"),
            (
                "illegal[0]name.foo=bar",
                "unexpected data at end of array index: \"name\"",
            ),
            ("]={}].", "\"]\" is not a map"),
            ("a.", "key map \"a\" has no value"),
            ("list[x]=1", "error parsing index: \"x\" is not an integer"),
            ("list[70000]=1", "greater than maximum supported index"),
            ("a=1,a.b=2", "\"a\" is not a map"),
            ("a=1,a[0]=2", "\"a\" is not a list"),
            (
                "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f=1",
                "maximum supported nested level of 30",
            ),
        ];
        for (expr, want) in bad {
            let e = parse(expr).expect_err(expr);
            assert!(e.contains(want), "{expr}: {e}");
        }
    }

    #[test]
    fn parse_into_merges_over_existing() {
        let mut dest = json!({"outer": {"inner1": "overwrite", "inner2": "value2"}})
            .as_object()
            .unwrap()
            .clone();
        parse_into(
            "outer.inner1=value1,outer.inner3=value3,outer.inner4=4",
            &mut dest,
        )
        .unwrap();
        assert_eq!(
            Value::Object(dest),
            json!({"outer": {"inner1": "value1", "inner2": "value2", "inner3": "value3", "inner4": 4}})
        );
        let mut dest = Map::new();
        parse_into("listOuter[0][0].type=listValue", &mut dest).unwrap();
        parse_into("listOuter[0][0].status=alive", &mut dest).unwrap();
        assert_eq!(
            Value::Object(dest),
            json!({"listOuter": [[{"type": "listValue", "status": "alive"}]]})
        );
    }

    #[test]
    fn set_string_keeps_strings() {
        let mut dest = Map::new();
        parse_into_string(
            "long_int_string=1234567890,boolean=true,is_null=null,zero=0,l={1,true}",
            &mut dest,
        )
        .unwrap();
        assert_eq!(
            Value::Object(dest),
            json!({"long_int_string": "1234567890", "boolean": "true", "is_null": "null", "zero": "0", "l": ["1", "true"]})
        );
    }

    #[test]
    fn set_json_values() {
        let mut dest = json!({"outer": {"inner1": "overwrite", "inner2": "value2"}})
            .as_object()
            .unwrap()
            .clone();
        parse_json(
            "outer.inner1=\"1\",outer.inner3=3,outer.inner4=true,outer.inner5={\"a\":[1,2]},outer.l[1]=[1]",
            &mut dest,
        )
        .unwrap();
        assert_eq!(
            Value::Object(dest),
            json!({"outer": {"inner1": "1", "inner2": "value2", "inner3": 3, "inner4": true, "inner5": {"a": [1, 2]}, "l": [null, [1]]}})
        );
        let mut dest = Map::new();
        parse_json("a=,b=null", &mut dest).unwrap();
        assert_eq!(Value::Object(dest), json!({"a": null, "b": null}));
        let e = parse_json("a={\"x\":", &mut Map::new()).unwrap_err();
        assert!(e.contains("invalid JSON value"), "{e}");
        let e = parse_json("a={\"A\":1}]", &mut Map::new()).unwrap_err();
        assert!(e.contains("key \"]\" has no value"), "{e}");
    }

    #[test]
    fn set_literal_and_file() {
        let mut dest = Map::new();
        parse_literal("a.b[0]=x,y=z\\n{1}", &mut dest).unwrap();
        assert_eq!(Value::Object(dest), json!({"a": {"b": ["x,y=z\\n{1}"]}}));
        let mut dest = Map::new();
        let mut reader = |path: &str| -> Result<String, String> {
            match path {
                "cfg.txt" => Ok("line1\nline2\n".into()),
                other => Err(format!("open {other}: no such file")),
            }
        };
        parse_into_file("config=cfg.txt", &mut dest, &mut reader).unwrap();
        assert_eq!(Value::Object(dest), json!({"config": "line1\nline2\n"}));
        let e = parse_into_file("config=nope", &mut Map::new(), &mut reader).unwrap_err();
        assert!(e.contains("open nope"), "{e}");
    }

    #[test]
    fn amplification_and_nesting_are_bounded() {
        let start = std::time::Instant::now();
        let expr = "a[65536]=1,".repeat(100);
        let e = parse(&expr).unwrap_err();
        assert!(e.contains("more than 1000000 list items"), "{e}");
        let deep = format!("a{}=1", "[0]".repeat(100));
        let e = parse(&deep).unwrap_err();
        assert!(e.contains("nested level"), "{e}");
        let deep = format!("{}=1", "a.".repeat(100_000));
        assert!(parse(&deep).is_err());
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        // What Helm users write still works.
        assert_eq!(
            parse("a[2]=x").unwrap(),
            json!({"a": [null, null, "x"]}).as_object().unwrap().clone()
        );
        assert!(parse("list[65536]=1").is_ok());
    }
}
