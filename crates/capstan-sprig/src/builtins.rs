//! text/template's builtin functions: comparisons, `not`, `len`, `index`, the escapers, `call`.
//!
//! `and` and `or` are not here: the translator short-circuits them, using [`truth`].
//! `slice` is Sprig's (Helm's function map replaces Go's builtin with it), and `mustSlice`.

use minijinja::{Error, State, Value};

use crate::fmt::type_name;
use crate::fmt::{is_print, sprint, sprintf};
use crate::value::{GoStruct, Kind, Num, as_list, as_map, is_nil, kind, num};
use crate::{Registry, go_error, want_args, want_at_least};

/// Registers `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `not`, `len`, `index`, `html`, `js`,
/// `urlquery`, `call`.
pub fn register(r: &mut Registry) {
    r.add("eq", |_: &State<'_, '_>, a: &[Value]| {
        want_at_least("eq", a, 1)?;
        eq(&a[0], &a[1..]).map(Value::from)
    });
    r.add("ne", |_: &State<'_, '_>, a: &[Value]| {
        want_args("ne", a, 2)?;
        eq(&a[0], &a[1..]).map(|t| Value::from(!t))
    });
    r.add("lt", |_: &State<'_, '_>, a: &[Value]| {
        want_args("lt", a, 2)?;
        lt(&a[0], &a[1]).map(Value::from)
    });
    r.add("le", |_: &State<'_, '_>, a: &[Value]| {
        want_args("le", a, 2)?;
        le(&a[0], &a[1]).map(Value::from)
    });
    r.add("gt", |_: &State<'_, '_>, a: &[Value]| {
        want_args("gt", a, 2)?;
        le(&a[0], &a[1]).map(|t| Value::from(!t))
    });
    r.add("ge", |_: &State<'_, '_>, a: &[Value]| {
        want_args("ge", a, 2)?;
        lt(&a[0], &a[1]).map(|t| Value::from(!t))
    });
    r.add("not", |_: &State<'_, '_>, a: &[Value]| {
        want_args("not", a, 1)?;
        Ok(Value::from(!truth(&a[0])))
    });
    r.add("len", |_: &State<'_, '_>, a: &[Value]| {
        want_args("len", a, 1)?;
        length(&a[0]).map(|n| crate::value::int(n as i64))
    });
    r.add("index", |_: &State<'_, '_>, a: &[Value]| {
        want_at_least("index", a, 1)?;
        index(&a[0], &a[1..])
    });
    r.add("slice", |_: &State<'_, '_>, a: &[Value]| {
        want_at_least("slice", a, 1)?;
        sprig_slice(&a[0], &a[1..])
    });
    r.add("mustSlice", |_: &State<'_, '_>, a: &[Value]| {
        want_at_least("mustSlice", a, 1)?;
        sprig_slice(&a[0], &a[1..])
    });
    r.add("html", |_: &State<'_, '_>, a: &[Value]| {
        Ok(Value::from(html_escape(&eval_args(a))))
    });
    r.add("js", |_: &State<'_, '_>, a: &[Value]| {
        Ok(Value::from(js_escape(&eval_args(a))))
    });
    r.add("urlquery", |_: &State<'_, '_>, a: &[Value]| {
        Ok(Value::from(query_escape(&eval_args(a))))
    });
    r.add("call", |_: &State<'_, '_>, a: &[Value]| {
        want_at_least("call", a, 1)?;
        if is_nil(&a[0]) {
            return Err(go_error("call of nil"));
        }
        Err(go_error(format!(
            "non-function {} of type {}",
            sprintf("%v", &a[..1]),
            type_name(&a[0])
        )))
    });
}

/// Go's truth of a value (`if`, `not`, `and`, `or`).
pub fn truth(v: &Value) -> bool {
    crate::value::truthy(v)
}

/// text/template's basic kinds: the ones `eq` and `lt` compare.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Basic {
    Bool,
    Int,
    Float,
    String,
}

fn basic(v: &Value) -> Option<Basic> {
    match kind(v) {
        Kind::Bool => Some(Basic::Bool),
        Kind::Int | Kind::Int64 => Some(Basic::Int),
        Kind::Float64 => Some(Basic::Float),
        Kind::String => Some(Basic::String),
        _ => None,
    }
}

fn incompatible(a: &Value, b: &Value) -> Error {
    go_error(format!(
        "incompatible types for comparison: {} and {}",
        type_name(a),
        type_name(b)
    ))
}

fn as_int(v: &Value) -> i64 {
    num(v).map_or(0, Num::as_i64)
}

fn as_float(v: &Value) -> f64 {
    num(v).map_or(0.0, Num::as_f64)
}

/// `eq a b c ...`: `a == b || a == c || ...`, with Go's errors for values of different kinds.
pub fn eq(a: &Value, others: &[Value]) -> Result<bool, Error> {
    if others.is_empty() {
        return Err(go_error("missing argument for comparison"));
    }
    let k1 = basic(a);
    for b in others {
        let k2 = basic(b);
        let truth = if k1 != k2 {
            if !is_nil(a) && !is_nil(b) {
                return Err(incompatible(a, b));
            }
            false
        } else {
            match k1 {
                Some(Basic::Bool) => a.is_true() == b.is_true(),
                Some(Basic::Int) => as_int(a) == as_int(b),
                Some(Basic::Float) => as_float(a) == as_float(b),
                Some(Basic::String) => a.as_str() == b.as_str(),
                None => {
                    let (ka, kb) = (kind(a), kind(b));
                    if ka != kb && ka != Kind::Invalid && kb != Kind::Invalid {
                        return Err(go_error(format!(
                            "non-comparable types {}: {}, {}: {}",
                            sprintf("%s", std::slice::from_ref(a)),
                            type_name(a),
                            type_name(b),
                            sprintf("%v", std::slice::from_ref(b)),
                        )));
                    }
                    if is_nil(a) || is_nil(b) {
                        is_nil(a) == is_nil(b)
                    } else if matches!(kb, Kind::Map | Kind::Slice) {
                        return Err(go_error(format!(
                            "non-comparable type {}: {}",
                            sprintf("%s", std::slice::from_ref(b)),
                            type_name(b)
                        )));
                    } else {
                        same_object(a, b)
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Two structs are equal when they are the same object (Helm's are pointers); times when
/// they are the same instant in the same location, as Go's `==` on `time.Time`.
fn same_object(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (
        a.downcast_object_ref::<crate::dates::GoTime>(),
        b.downcast_object_ref::<crate::dates::GoTime>(),
    ) {
        return x.same(y);
    }
    match (
        a.downcast_object_ref::<GoStruct>(),
        b.downcast_object_ref::<GoStruct>(),
    ) {
        (Some(x), Some(y)) => std::ptr::eq(x, y),
        _ => a == b,
    }
}

/// `lt a b`: only basic values of the same kind (bools excepted) compare.
pub fn lt(a: &Value, b: &Value) -> Result<bool, Error> {
    let bad = || go_error("invalid type for comparison");
    let k1 = basic(a).ok_or_else(bad)?;
    let k2 = basic(b).ok_or_else(bad)?;
    if k1 != k2 {
        return Err(incompatible(a, b));
    }
    Ok(match k1 {
        Basic::Bool => return Err(bad()),
        Basic::Int => as_int(a) < as_int(b),
        Basic::Float => as_float(a) < as_float(b),
        Basic::String => a.as_str() < b.as_str(),
    })
}

/// `le a b`: `lt` or `eq`.
pub fn le(a: &Value, b: &Value) -> Result<bool, Error> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

/// `len x`: bytes of a string, elements of a slice or map.
pub fn length(v: &Value) -> Result<usize, Error> {
    match kind(v) {
        Kind::Invalid => Err(go_error("len of nil pointer")),
        Kind::String => Ok(v.as_str().map_or(0, str::len)),
        Kind::Slice | Kind::Map => Ok(v.len().unwrap_or(0)),
        _ => Err(go_error(format!("len of type {}", type_name(v)))),
    }
}

/// `index x i j ...`: `x[i][j]...` on maps, slices and strings (a byte); a missing map key
/// gives nil.
pub fn index(item: &Value, indexes: &[Value]) -> Result<Value, Error> {
    if is_nil(item) {
        return Err(go_error("index of untyped nil"));
    }
    let mut item = item.clone();
    for i in indexes {
        if is_nil(&item) {
            return Err(go_error("index of nil pointer"));
        }
        item = match kind(&item) {
            Kind::Slice | Kind::String => {
                let is_string = kind(&item) == Kind::String;
                let len = if is_string {
                    item.as_str().map_or(0, str::len)
                } else {
                    item.len().unwrap_or(0)
                };
                let x = index_arg(i, len)?;
                if x == len {
                    return Err(go_error(if is_string {
                        "reflect: string index out of range"
                    } else {
                        "reflect: slice index out of range"
                    }));
                }
                if is_string {
                    let b = item.as_str().unwrap_or_default().as_bytes()[x];
                    crate::value::int(i64::from(b))
                } else {
                    as_list(&item).unwrap_or_default()[x].clone()
                }
            }
            Kind::Map => {
                if is_nil(i) {
                    return Err(go_error("value is nil; should be of type string"));
                }
                let Some(key) = i.as_str().filter(|_| kind(i) == Kind::String) else {
                    return Err(go_error(format!(
                        "value has type {}; should be string",
                        type_name(i)
                    )));
                };
                match as_map(&item) {
                    Some(m) => m.get(key).unwrap_or_else(crate::value::nil),
                    None => item
                        .get_item(&Value::from(key))
                        .ok()
                        .filter(|v| !v.is_undefined())
                        .unwrap_or_else(crate::value::nil),
                }
            }
            _ => {
                return Err(go_error(format!(
                    "can't index item of type {}",
                    type_name(&item)
                )));
            }
        };
    }
    Ok(item)
}

/// Go's `indexArg`: an integer index within `0..=cap`.
fn index_arg(i: &Value, cap: usize) -> Result<usize, Error> {
    let x = match kind(i) {
        Kind::Int | Kind::Int64 => as_int(i),
        Kind::Invalid => return Err(go_error("cannot index slice/array with nil")),
        _ => {
            return Err(go_error(format!(
                "cannot index slice/array with type {}",
                type_name(i)
            )));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(go_error(format!("index out of range: {x}")));
    }
    Ok(x as usize)
}

/// Sprig's `slice list start end`: `list[start:end]` with indexes cast as spf13/cast does;
/// an empty list is nil; Go's reflect panic for indexes out of bounds.
pub fn sprig_slice(list: &Value, indexes: &[Value]) -> Result<Value, Error> {
    if is_nil(list) {
        return Err(go_error(
            "runtime error: invalid memory address or nil pointer dereference",
        ));
    }
    let Some(items) = as_list(list).filter(|_| kind(list) == Kind::Slice) else {
        let k = if list.downcast_object_ref::<GoStruct>().is_some() {
            "ptr"
        } else {
            kind(list).name()
        };
        return Err(go_error(format!(
            "list should be type of slice or array but {k}"
        )));
    };
    if items.is_empty() {
        return Ok(crate::value::nil());
    }
    let start = indexes.first().map_or(0, crate::conv::to_int64);
    let end = indexes
        .get(1)
        .map_or(items.len() as i64, crate::conv::to_int64);
    if start < 0 || end < start || end > items.len() as i64 {
        return Err(go_error("reflect.Value.Slice: slice index out of bounds"));
    }
    Ok(crate::value::list(
        items[start as usize..end as usize].to_vec(),
    ))
}

/// text/template's `evalArgs`: one string as it is, else `fmt.Sprint` with nil as
/// `<no value>`.
pub fn eval_args(args: &[Value]) -> String {
    if let [a] = args
        && kind(a) == Kind::String
    {
        return a.as_str().unwrap_or_default().to_string();
    }
    let args: Vec<Value> = args
        .iter()
        .map(|a| {
            if is_nil(a) {
                Value::from("<no value>")
            } else {
                a.clone()
            }
        })
        .collect();
    sprint(&args)
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u00{:02X}", c as u32)),
            c if (c as u32) < 0x80 || is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::testing::show;

    /// Expected values are Go 1.26 text/template's for the same call.
    #[test]
    fn builtins_match_go() {
        let m = r#"j:{"a":{"b":7}}"#;
        let cases: &[(&str, &[&str], &str)] = &[
            ("eq", &["i:1", "i:1"], "true"),
            ("eq", &["i:1", "i:2", "i:3", "i:1"], "true"),
            (
                "eq",
                &["f:80", "i:80"],
                "ERR:incompatible types for comparison: float64 and int",
            ),
            ("eq", &["f:80", "f:80"], "true"),
            ("eq", &["n:", "s:x"], "false"),
            ("eq", &["n:", "n:"], "true"),
            (
                "eq",
                &[r#"j:{"a":1}"#, r#"j:{"a":1}"#],
                "ERR:non-comparable type map[a:%!s(float64=1)]: map[string]interface {}",
            ),
            (
                "eq",
                &[r#"j:{"a":1}"#, "j:[1]"],
                "ERR:non-comparable types map[a:%!s(float64=1)]: map[string]interface {}, []interface {}: [1]",
            ),
            (
                "eq",
                &["j:[1]", "j:[1]"],
                "ERR:non-comparable type [%!s(float64=1)]: []interface {}",
            ),
            ("eq", &[r#"j:{"a":1}"#, "n:"], "false"),
            ("eq", &["n:", r#"j:{"a":1}"#], "false"),
            (
                "eq",
                &["s:a", "i:1"],
                "ERR:incompatible types for comparison: string and int",
            ),
            ("eq", &["i:1"], "ERR:missing argument for comparison"),
            (
                "eq",
                &[],
                "ERR:wrong number of args for eq: want at least 1 got 0",
            ),
            ("eq", &["b:true", "b:true"], "true"),
            ("eq", &["I:3", "i:3"], "true"),
            (
                "eq",
                &["i:3", "s:a", "i:3"],
                "ERR:incompatible types for comparison: int and string",
            ),
            ("eq", &["i:3", "i:3", "s:a"], "true"),
            ("eq", &["s:a", "s:a", "j:{}"], "true"),
            (
                "eq",
                &["s:a", "s:b", "j:{}"],
                "ERR:incompatible types for comparison: string and map[string]interface {}",
            ),
            ("ne", &["i:1", "i:2"], "true"),
            (
                "ne",
                &["i:1"],
                "ERR:wrong number of args for ne: want 2 got 1",
            ),
            (
                "ne",
                &["i:1", "s:a"],
                "ERR:incompatible types for comparison: int and string",
            ),
            ("ne", &["j:{}", "n:"], "true"),
            ("lt", &["i:1", "i:2"], "true"),
            (
                "lt",
                &["i:1", "f:2"],
                "ERR:incompatible types for comparison: int and float64",
            ),
            ("lt", &["n:", "i:2"], "ERR:invalid type for comparison"),
            ("lt", &["i:1", "n:"], "ERR:invalid type for comparison"),
            (
                "lt",
                &["b:true", "b:false"],
                "ERR:invalid type for comparison",
            ),
            ("lt", &["s:a", "s:b"], "true"),
            ("lt", &["j:{}", "i:1"], "ERR:invalid type for comparison"),
            ("le", &["i:2", "i:2"], "true"),
            ("le", &["i:2", "i:1"], "false"),
            (
                "le",
                &["i:1", "s:a"],
                "ERR:incompatible types for comparison: int and string",
            ),
            ("le", &["j:{}", "j:{}"], "ERR:invalid type for comparison"),
            ("gt", &["i:3", "i:2"], "true"),
            ("gt", &["f:3.5", "f:2.5"], "true"),
            (
                "gt",
                &["s:b", "i:2"],
                "ERR:incompatible types for comparison: string and int",
            ),
            ("gt", &["i:1", "n:"], "ERR:invalid type for comparison"),
            ("ge", &["i:2", "i:2"], "true"),
            ("ge", &["n:", "i:2"], "ERR:invalid type for comparison"),
            ("not", &["i:0"], "true"),
            ("not", &["j:{}"], "true"),
            ("not", &["n:"], "true"),
            (
                "not",
                &["i:1", "i:2"],
                "ERR:wrong number of args for not: want 1 got 2",
            ),
            ("len", &["s:héllo"], "6"),
            ("len", &["j:[1,2]"], "2"),
            ("len", &[r#"j:{"a":1}"#], "1"),
            ("len", &["n:"], "ERR:len of nil pointer"),
            ("len", &["i:3"], "ERR:len of type int"),
            ("len", &["f:3.5"], "ERR:len of type float64"),
            ("len", &["b:true"], "ERR:len of type bool"),
            ("index", &["j:[1,2]", "i:1"], "2"),
            ("index", &["j:[1,2]", "i:5"], "ERR:index out of range: 5"),
            (
                "index",
                &["j:[1,2]", "i:2"],
                "ERR:reflect: slice index out of range",
            ),
            ("index", &["j:[1,2]", "i:-1"], "ERR:index out of range: -1"),
            (
                "index",
                &["j:[1,2]", "s:a"],
                "ERR:cannot index slice/array with type string",
            ),
            (
                "index",
                &["j:[1,2]", "f:1"],
                "ERR:cannot index slice/array with type float64",
            ),
            (
                "index",
                &["j:[1,2]", "n:"],
                "ERR:cannot index slice/array with nil",
            ),
            ("index", &[m, "s:a", "s:b"], "7"),
            ("index", &[m, "s:zz"], "<nil>"),
            ("index", &[m, "s:zz", "s:b"], "ERR:index of nil pointer"),
            (
                "index",
                &[m, "i:1"],
                "ERR:value has type int; should be string",
            ),
            (
                "index",
                &[m, "f:1.5"],
                "ERR:value has type float64; should be string",
            ),
            (
                "index",
                &[m, "n:"],
                "ERR:value is nil; should be of type string",
            ),
            ("index", &["n:", "s:a"], "ERR:index of untyped nil"),
            ("index", &[r#"j:{"a":1}"#], "map[a:1]"),
            ("index", &["s:abc", "i:1"], "98"),
            (
                "index",
                &["s:abc", "i:3"],
                "ERR:reflect: string index out of range",
            ),
            ("index", &["i:3", "i:1"], "ERR:can't index item of type int"),
            ("index", &["j:[[5]]", "i:0", "i:0"], "5"),
            (
                "index",
                &[],
                "ERR:wrong number of args for index: want at least 1 got 0",
            ),
            (
                "html",
                &["s:<a href='x'>&\"</a>"],
                "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;",
            ),
            ("html", &["i:3", "s:<"], "3&lt;"),
            ("html", &["i:1", "n:", "i:2"], "1&lt;no value&gt;2"),
            ("html", &["n:"], "&lt;no value&gt;"),
            (
                "js",
                &["s:it's <b> & \"q\" \n = \u{2028}"],
                "it\\'s \\u003Cb\\u003E \\u0026 \\\"q\\\" \\u000A \\u003D \\u2028",
            ),
            ("js", &["s:<>&='`"], "\\u003C\\u003E\\u0026\\u003D\\'`"),
            ("js", &["s:\u{a0}\u{1}é"], "\\u00A0\\u0001é"),
            ("urlquery", &["s:a b&c=d/é"], "a+b%26c%3Dd%2F%C3%A9"),
            ("urlquery", &["i:1", "s:x"], "1x"),
            ("urlquery", &[r#"j:{"a":"<"}"#], "map%5Ba%3A%3C%5D"),
            ("call", &["n:"], "ERR:call of nil"),
            ("call", &["i:3"], "ERR:non-function 3 of type int"),
            ("print", &["i:1", "i:2", "s:a", "i:3", "n:"], "1 2a3 <nil>"),
            ("slice", &["j:[1,2,3]", "i:1", "i:3"], "[2 3]"),
            (
                "slice",
                &["j:[1,2,3]", "i:2", "i:1"],
                "ERR:reflect.Value.Slice: slice index out of bounds",
            ),
            (
                "slice",
                &["j:[1,2,3]", "i:1", "i:9"],
                "ERR:reflect.Value.Slice: slice index out of bounds",
            ),
            (
                "slice",
                &["j:[1,2,3]", "i:-1"],
                "ERR:reflect.Value.Slice: slice index out of bounds",
            ),
            ("slice", &["j:[1,2,3]", "s:1"], "[2 3]"),
            ("slice", &["j:[1,2,3]", "f:1.9"], "[2 3]"),
            ("slice", &["j:[1,2,3]"], "[1 2 3]"),
            ("slice", &["j:[1,2,3]", "i:0", "i:1", "i:2"], "[1]"),
            ("slice", &["j:[]", "i:0"], "<nil>"),
            (
                "slice",
                &["n:", "i:1"],
                "ERR:runtime error: invalid memory address or nil pointer dereference",
            ),
            (
                "mustSlice",
                &["j:[1,2,3]", "i:2", "i:1"],
                "ERR:reflect.Value.Slice: slice index out of bounds",
            ),
            (
                "mustSlice",
                &["s:abc", "i:1"],
                "ERR:list should be type of slice or array but string",
            ),
            (
                "slice",
                &["b:true"],
                "ERR:list should be type of slice or array but bool",
            ),
            (
                "slice",
                &["j:{}"],
                "ERR:list should be type of slice or array but map",
            ),
            (
                "slice",
                &["f:1.5"],
                "ERR:list should be type of slice or array but float64",
            ),
            ("println", &["i:1", "s:a"], "1 a\n"),
        ];
        for (name, args, want) in cases {
            assert_eq!(show(name, args), *want, "{name} {args:?}");
        }
    }
}
