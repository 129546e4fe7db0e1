//! Sprig's list functions (`list`, `append`, `concat`, `has`, `uniq`, `until`, `seq`, ...).
//!
//! Sprig takes its lists as `interface{}` and reads them by reflection, so these accept any
//! slice; anything else is Sprig's "Cannot ... on type KIND" error, and nil is the nil
//! dereference Go panics with. No function changes its list: each returns a new one.

use minijinja::{Error, State, Value};

use crate::value::{self, Kind, Num, kind};
use crate::{Registry, go_error, want_args, want_at_least};

/// Registers the list functions.
pub fn register(r: &mut Registry) {
    r.add("list", |_: &State<'_, '_>, args: &[Value]| {
        Ok(value::list(args.to_vec()))
    });
    r.add("tuple", |_: &State<'_, '_>, args: &[Value]| {
        Ok(value::list(args.to_vec()))
    });
    r.add("append", |_: &State<'_, '_>, a: &[Value]| push("append", a));
    r.add("push", |_: &State<'_, '_>, a: &[Value]| push("push", a));
    r.add("mustAppend", |_: &State<'_, '_>, a: &[Value]| {
        push("mustAppend", a)
    });
    r.add("mustPush", |_: &State<'_, '_>, a: &[Value]| {
        push("mustPush", a)
    });
    r.add("prepend", |_: &State<'_, '_>, a: &[Value]| {
        prepend("prepend", a)
    });
    r.add("mustPrepend", |_: &State<'_, '_>, a: &[Value]| {
        prepend("mustPrepend", a)
    });
    r.add("first", |_: &State<'_, '_>, a: &[Value]| first("first", a));
    r.add("mustFirst", |_: &State<'_, '_>, a: &[Value]| {
        first("mustFirst", a)
    });
    r.add("last", |_: &State<'_, '_>, a: &[Value]| last("last", a));
    r.add("mustLast", |_: &State<'_, '_>, a: &[Value]| {
        last("mustLast", a)
    });
    r.add("rest", |_: &State<'_, '_>, a: &[Value]| rest("rest", a));
    r.add("mustRest", |_: &State<'_, '_>, a: &[Value]| {
        rest("mustRest", a)
    });
    r.add("initial", |_: &State<'_, '_>, a: &[Value]| {
        initial("initial", a)
    });
    r.add("mustInitial", |_: &State<'_, '_>, a: &[Value]| {
        initial("mustInitial", a)
    });
    r.add("reverse", |_: &State<'_, '_>, a: &[Value]| {
        reverse("reverse", a)
    });
    r.add("mustReverse", |_: &State<'_, '_>, a: &[Value]| {
        reverse("mustReverse", a)
    });
    r.add("uniq", |_: &State<'_, '_>, a: &[Value]| uniq("uniq", a));
    r.add("mustUniq", |_: &State<'_, '_>, a: &[Value]| {
        uniq("mustUniq", a)
    });
    r.add("without", |_: &State<'_, '_>, a: &[Value]| {
        without("without", a)
    });
    r.add("mustWithout", |_: &State<'_, '_>, a: &[Value]| {
        without("mustWithout", a)
    });
    r.add("has", |_: &State<'_, '_>, a: &[Value]| has("has", a));
    r.add("mustHas", |_: &State<'_, '_>, a: &[Value]| {
        has("mustHas", a)
    });
    r.add("compact", |_: &State<'_, '_>, a: &[Value]| {
        compact("compact", a)
    });
    r.add("mustCompact", |_: &State<'_, '_>, a: &[Value]| {
        compact("mustCompact", a)
    });
    r.add("chunk", |_: &State<'_, '_>, a: &[Value]| chunk("chunk", a));
    r.add("mustChunk", |_: &State<'_, '_>, a: &[Value]| {
        chunk("mustChunk", a)
    });
    r.add("concat", concat);
    r.add("until", until);
    r.add("untilStep", until_step);
    r.add("seq", seq);
}

/// Go's message for the nil dereference `reflect.TypeOf(nil).Kind()` panics with.
pub(crate) const NIL_DEREF: &str =
    "runtime error: invalid memory address or nil pointer dereference";

/// The elements of a list argument; `what` completes Sprig's "Cannot ... type KIND".
fn list_arg(v: &Value, what: &str) -> Result<Vec<Value>, Error> {
    match kind(v) {
        Kind::Slice => Ok(elements(v)),
        Kind::Invalid => Err(go_error(NIL_DEREF)),
        k => Err(go_error(format!("{what} {}", k.name()))),
    }
}

/// The elements of a slice value (a sequence, or anything else minijinja iterates).
fn elements(v: &Value) -> Vec<Value> {
    value::as_list(v)
        .or_else(|| v.try_iter().ok().map(Iterator::collect))
        .unwrap_or_default()
}

/// Argument `i` for a Go `int` parameter: only an `int` converts (`int64`, `float64` and nil do not).
pub(crate) fn int_arg(args: &[Value], i: usize) -> Result<i64, Error> {
    match value::num(&args[i]) {
        Some(Num::Int(n)) => Ok(n),
        _ => Err(crate::dicts::wrong_type(i, "int", &args[i])),
    }
}

/// Go's `reflect.DeepEqual` on two template values: the same Go type and equal contents.
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    let (ka, kb) = (kind(a), kind(b));
    if ka != kb {
        return false;
    }
    match ka {
        Kind::Invalid => true,
        Kind::Int | Kind::Int64 | Kind::Float64 => match (value::num(a), value::num(b)) {
            (Some(Num::Float(x)), Some(Num::Float(y))) => x == y,
            (Some(x), Some(y)) => x.as_i64() == y.as_i64(),
            _ => false,
        },
        Kind::Bool => a.is_true() == b.is_true(),
        Kind::String => a.as_str() == b.as_str(),
        Kind::Slice => {
            let (x, y) = (elements(a), elements(b));
            x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| deep_equal(p, q))
        }
        Kind::Map => {
            let (x, y) = (value::map_entries(a), value::map_entries(b));
            x.len() == y.len()
                && x.iter()
                    .zip(&y)
                    .all(|((kp, p), (kq, q))| kp == kq && deep_equal(p, q))
        }
        Kind::Struct => a == b,
    }
}

/// Sprig's `empty`: nil, "", false, 0 and empty slices and maps (structs never are).
fn is_empty(v: &Value) -> bool {
    kind(v) != Kind::Struct && !value::truthy(v)
}

fn push(name: &str, args: &[Value]) -> Result<Value, Error> {
    want_args(name, args, 2)?;
    let mut l = list_arg(&args[0], "Cannot push on type")?;
    l.push(args[1].clone());
    Ok(value::list(l))
}

fn prepend(name: &str, args: &[Value]) -> Result<Value, Error> {
    want_args(name, args, 2)?;
    let mut l = list_arg(&args[0], "Cannot prepend on type")?;
    l.insert(0, args[1].clone());
    Ok(value::list(l))
}

fn first(name: &str, args: &[Value]) -> Result<Value, Error> {
    want_args(name, args, 1)?;
    let l = list_arg(&args[0], "Cannot find first on type")?;
    Ok(l.first().cloned().unwrap_or_else(value::nil))
}

fn last(name: &str, args: &[Value]) -> Result<Value, Error> {
    want_args(name, args, 1)?;
    let l = list_arg(&args[0], "Cannot find last on type")?;
    Ok(l.last().cloned().unwrap_or_else(value::nil))
}

fn rest(name: &str, args: &[Value]) -> Result<Value, Error> {
    want_args(name, args, 1)?;
    let l = list_arg(&args[0], "Cannot find rest on type")?;
    Ok(value::list(l.get(1..).unwrap_or_default().to_vec()))
}

fn initial(name: &str, args: &[Value]) -> Result<Value, Error> {
    want_args(name, args, 1)?;
    let mut l = list_arg(&args[0], "Cannot find initial on type")?;
    l.pop();
    Ok(value::list(l))
}

fn reverse(name: &str, args: &[Value]) -> Result<Value, Error> {
    want_args(name, args, 1)?;
    let mut l = list_arg(&args[0], "Cannot find reverse on type")?;
    l.reverse();
    Ok(value::list(l))
}

fn uniq(name: &str, args: &[Value]) -> Result<Value, Error> {
    want_args(name, args, 1)?;
    let l = list_arg(&args[0], "Cannot find uniq on type")?;
    let mut out: Vec<Value> = Vec::new();
    for x in l {
        if !out.iter().any(|y| deep_equal(&x, y)) {
            out.push(x);
        }
    }
    Ok(value::list(out))
}

fn without(name: &str, args: &[Value]) -> Result<Value, Error> {
    want_at_least(name, args, 1)?;
    let l = list_arg(&args[0], "Cannot find without on type")?;
    let omit = &args[1..];
    Ok(value::list(
        l.into_iter()
            .filter(|x| !omit.iter().any(|o| deep_equal(x, o)))
            .collect(),
    ))
}

fn has(name: &str, args: &[Value]) -> Result<Value, Error> {
    want_args(name, args, 2)?;
    if value::is_nil(&args[1]) {
        return Ok(Value::from(false));
    }
    let l = list_arg(&args[1], "Cannot find has on type")?;
    Ok(Value::from(l.iter().any(|x| deep_equal(&args[0], x))))
}

fn compact(name: &str, args: &[Value]) -> Result<Value, Error> {
    want_args(name, args, 1)?;
    let l = list_arg(&args[0], "Cannot compact on type")?;
    Ok(value::list(
        l.into_iter().filter(|x| !is_empty(x)).collect(),
    ))
}

/// `chunk size list`: lists of `size` elements (the last one shorter), with Sprig's
/// floating-point arithmetic for the count, so a size below 1 fails as Go's `make` does.
fn chunk(name: &str, args: &[Value]) -> Result<Value, Error> {
    want_args(name, args, 2)?;
    let size = int_arg(args, 0)?;
    let l = list_arg(&args[1], "Cannot chunk type")?;
    let n = l.len() as i64;
    let out_of_range = || go_error("runtime error: makeslice: len out of range");
    let count = value::go_float_to_int(((n - 1) as f64 / size as f64).floor()).wrapping_add(1);
    if count < 0 {
        return Err(out_of_range());
    }
    let mut out = Vec::new();
    for i in 0..count {
        let mut len = size;
        if i == count - 1 {
            len = value::go_float_to_int((n as f64 % size as f64).floor());
            if len == 0 {
                len = size;
            }
        }
        if len < 0 {
            return Err(out_of_range());
        }
        let mut part = Vec::new();
        for j in 0..len {
            let ix = i * size + j;
            let item = usize::try_from(ix).ok().and_then(|ix| l.get(ix));
            match item {
                Some(x) => part.push(x.clone()),
                None => return Err(go_error("reflect: slice index out of range")),
            }
        }
        out.push(value::list(part));
    }
    Ok(value::list(out))
}

fn concat(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    let mut out = Vec::new();
    for a in args {
        match kind(a) {
            Kind::Slice => out.extend(elements(a)),
            Kind::Invalid => return Err(go_error(NIL_DEREF)),
            k => {
                return Err(go_error(format!("Cannot concat type {} as list", k.name())));
            }
        }
    }
    Ok(value::list(out))
}

/// Sprig's `untilStep`: from `start` toward `stop` (excluded) by `step`; empty when the step
/// does not lead there.
fn step_range(start: i64, stop: i64, step: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut i = start;
    if stop < start {
        if step >= 0 {
            return out;
        }
        while i > stop {
            out.push(i);
            match i.checked_add(step) {
                Some(next) => i = next,
                None => break,
            }
        }
        return out;
    }
    if step <= 0 {
        return out;
    }
    while i < stop {
        out.push(i);
        match i.checked_add(step) {
            Some(next) => i = next,
            None => break,
        }
    }
    out
}

fn ints(v: Vec<i64>) -> Value {
    value::list(v.into_iter().map(value::int).collect())
}

fn until(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("until", args, 1)?;
    let count = int_arg(args, 0)?;
    Ok(ints(step_range(0, count, if count < 0 { -1 } else { 1 })))
}

fn until_step(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("untilStep", args, 3)?;
    let start = int_arg(args, 0)?;
    let stop = int_arg(args, 1)?;
    let step = int_arg(args, 2)?;
    Ok(ints(step_range(start, stop, step)))
}

/// `seq [start [step]] end`: the numbers from start to end inclusive, space-separated.
fn seq(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    let p = (0..args.len())
        .map(|i| int_arg(args, i))
        .collect::<Result<Vec<_>, _>>()?;
    let numbers = match p.as_slice() {
        [end] => {
            let inc = if *end < 1 { -1 } else { 1 };
            step_range(1, end.wrapping_add(inc), inc)
        }
        [start, end] => {
            let inc = if end < start { -1 } else { 1 };
            step_range(*start, end.wrapping_add(inc), inc)
        }
        [start, step, end] => {
            let mut inc = 1;
            if end < start {
                inc = -1;
                if *step > 0 {
                    return Ok(Value::from(""));
                }
            }
            step_range(*start, end.wrapping_add(inc), *step)
        }
        _ => Vec::new(),
    };
    let text: Vec<String> = numbers.iter().map(i64::to_string).collect();
    Ok(Value::from(text.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmt::sprint_value;
    use crate::value::{float64, int, int64, list, nil};
    use minijinja::Environment;

    fn show(name: &str, args: &[Value]) -> String {
        let mut r = Registry::default();
        register(&mut r);
        crate::dicts::register(&mut r);
        let env = Environment::new();
        let state = env.empty_state();
        match (r.get(name).expect(name))(&state, args) {
            Ok(v) => sprint_value(&v),
            Err(e) => format!("ERR: {}", e.detail().unwrap_or_default()),
        }
    }

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    fn l(items: &[Value]) -> Value {
        list(items.to_vec())
    }

    fn m(pairs: &[(&str, Value)]) -> Value {
        value::map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn list_and_tuple() {
        assert_eq!(show("list", &[]), "[]");
        assert_eq!(
            show("list", &[int(1), s("a"), nil(), float64(1.5)]),
            "[1 a <nil> 1.5]"
        );
        assert_eq!(show("tuple", &[int(1), int(2)]), "[1 2]");
    }

    #[test]
    fn append_and_prepend_copy_the_list() {
        let base = l(&[int(1)]);
        assert_eq!(show("append", &[base.clone(), int(2)]), "[1 2]");
        assert_eq!(show("push", &[l(&[s("x"), s("y")]), s("z")]), "[x y z]");
        assert_eq!(show("prepend", &[base.clone(), int(0)]), "[0 1]");
        assert_eq!(sprint_value(&base), "[1]");
        assert_eq!(
            show("append", &[nil(), int(1)]),
            "ERR: runtime error: invalid memory address or nil pointer dereference"
        );
        assert_eq!(
            show("append", &[s("str"), int(1)]),
            "ERR: Cannot push on type string"
        );
        assert_eq!(
            show("mustAppend", &[m(&[]), int(1)]),
            "ERR: Cannot push on type map"
        );
        assert_eq!(
            show("mustPrepend", &[int(5), int(1)]),
            "ERR: Cannot prepend on type int"
        );
        assert_eq!(
            show("append", &[]),
            "ERR: wrong number of args for append: want 2 got 0"
        );
        assert_eq!(
            show("append", &[l(&[]), int(1), int(2)]),
            "ERR: wrong number of args for append: want 2 got 3"
        );
    }

    #[test]
    fn first_last_rest_initial_reverse() {
        let l3 = l(&[int(1), int(2), int(3)]);
        assert_eq!(show("first", &[l(&[])]), "<nil>");
        assert_eq!(show("first", std::slice::from_ref(&l3)), "1");
        assert_eq!(show("last", std::slice::from_ref(&l3)), "3");
        assert_eq!(show("last", &[l(&[])]), "<nil>");
        assert_eq!(show("rest", std::slice::from_ref(&l3)), "[2 3]");
        assert_eq!(show("rest", &[l(&[])]), "[]");
        assert_eq!(show("initial", std::slice::from_ref(&l3)), "[1 2]");
        assert_eq!(show("initial", &[l(&[])]), "[]");
        assert_eq!(show("reverse", std::slice::from_ref(&l3)), "[3 2 1]");
        assert_eq!(show("reverse", &[l(&[])]), "[]");
        for (f, text) in [
            ("first", "first"),
            ("mustFirst", "first"),
            ("mustLast", "last"),
            ("mustRest", "rest"),
            ("mustInitial", "initial"),
            ("mustReverse", "reverse"),
            ("mustUniq", "uniq"),
            ("mustWithout", "without"),
        ] {
            assert_eq!(
                show(f, &[s("str")]),
                format!("ERR: Cannot find {text} on type string")
            );
        }
        assert_eq!(
            show("first", &[nil()]),
            "ERR: runtime error: invalid memory address or nil pointer dereference"
        );
    }

    #[test]
    fn uniq_without_and_has_compare_as_deep_equal() {
        let items = l(&[
            int(1),
            int(1),
            s("1"),
            float64(1.0),
            float64(1.5),
            float64(1.5),
            nil(),
            nil(),
            l(&[int(1)]),
            l(&[int(1)]),
            m(&[("a", int(1))]),
            m(&[("a", int(1))]),
            int64(3),
            int64(3),
        ]);
        assert_eq!(show("uniq", &[items]), "[1 1 1 1.5 <nil> [1] map[a:1] 3]");
        assert_eq!(
            show(
                "without",
                &[l(&[int(1), int(2), int(3), int(1), s("1")]), int(1), s("2")]
            ),
            "[2 3 1]"
        );
        assert_eq!(show("without", &[l(&[int(1), int(2)])]), "[1 2]");
        assert_eq!(show("has", &[int(1), l(&[int(1), int(2)])]), "true");
        assert_eq!(show("has", &[int(1), l(&[float64(1.0)])]), "false");
        assert_eq!(show("has", &[float64(2.0), l(&[float64(2.0)])]), "true");
        assert_eq!(show("has", &[s("a"), nil()]), "false");
        assert_eq!(show("has", &[nil(), l(&[nil()])]), "true");
        assert_eq!(show("has", &[l(&[int(1)]), l(&[l(&[int(1)])])]), "true");
        assert_eq!(show("has", &[int(1), l(&[int64(1)])]), "false");
        assert_eq!(
            show("has", &[int(1), s("str")]),
            "ERR: Cannot find has on type string"
        );
        assert_eq!(
            show("mustHas", &[int(1), m(&[])]),
            "ERR: Cannot find has on type map"
        );
    }

    #[test]
    fn compact_drops_empty_values() {
        let items = l(&[
            int(1),
            int(0),
            s(""),
            nil(),
            Value::from(false),
            l(&[]),
            m(&[]),
            s("a"),
            float64(1.5),
            float64(0.0),
        ]);
        assert_eq!(show("compact", &[items]), "[1 a 1.5]");
        assert_eq!(
            show("mustCompact", &[s("str")]),
            "ERR: Cannot compact on type string"
        );
    }

    #[test]
    fn concat_joins_lists() {
        assert_eq!(
            show(
                "concat",
                &[l(&[int(1)]), l(&[int(2), int(3)]), l(&[s("x"), s("y")])]
            ),
            "[1 2 3 x y]"
        );
        assert_eq!(show("concat", &[]), "[]");
        assert_eq!(
            show("concat", &[l(&[int(1)]), nil()]),
            "ERR: runtime error: invalid memory address or nil pointer dereference"
        );
        assert_eq!(
            show("concat", &[l(&[int(1)]), s("s")]),
            "ERR: Cannot concat type string as list"
        );
    }

    #[test]
    fn until_and_until_step() {
        assert_eq!(show("until", &[int(3)]), "[0 1 2]");
        assert_eq!(show("until", &[int(-3)]), "[0 -1 -2]");
        assert_eq!(show("until", &[int(0)]), "[]");
        assert_eq!(show("untilStep", &[int(0), int(10), int(3)]), "[0 3 6 9]");
        assert_eq!(show("untilStep", &[int(10), int(0), int(-3)]), "[10 7 4 1]");
        assert_eq!(show("untilStep", &[int(0), int(10), int(0)]), "[]");
        assert_eq!(show("untilStep", &[int(0), int(10), int(-1)]), "[]");
        assert_eq!(
            show("until", &[float64(1.5)]),
            "ERR: wrong type for value; expected int; got float64"
        );
        assert_eq!(
            show("until", &[int64(3)]),
            "ERR: wrong type for value; expected int; got int64"
        );
        assert_eq!(
            show("until", &[nil()]),
            "ERR: wrong type for value; expected int; got interface {}"
        );
        assert_eq!(
            show("until", &[Value::UNDEFINED]),
            "ERR: invalid value; expected int"
        );
    }

    #[test]
    fn seq_prints_the_numbers() {
        let cases: &[(&[i64], &str)] = &[
            (&[5], "1 2 3 4 5"),
            (&[-3], "1 0 -1 -2 -3"),
            (&[0], "1 0"),
            (&[2, 5], "2 3 4 5"),
            (&[5, 2], "5 4 3 2"),
            (&[0, 2, 10], "0 2 4 6 8 10"),
            (&[10, -2, 0], "10 8 6 4 2 0"),
            (&[10, 2, 0], ""),
            (&[0, -2, 10], ""),
            (&[], ""),
            (&[1, 2, 3, 4], ""),
            (&[1, 1], "1"),
        ];
        for (args, want) in cases {
            let args: Vec<Value> = args.iter().map(|i| int(*i)).collect();
            assert_eq!(show("seq", &args), *want, "{args:?}");
        }
    }

    #[test]
    fn chunk_splits_into_lists() {
        let five = l(&[int(1), int(2), int(3), int(4), int(5)]);
        assert_eq!(show("chunk", &[int(2), five.clone()]), "[[1 2] [3 4] [5]]");
        assert_eq!(
            show("chunk", &[int(2), l(&[int(1), int(2), int(3), int(4)])]),
            "[[1 2] [3 4]]"
        );
        assert_eq!(show("chunk", &[int(3), l(&[])]), "[]");
        assert_eq!(show("chunk", &[int(1), l(&[int(1)])]), "[[1]]");
        assert_eq!(
            show("chunk", &[int(0), l(&[int(1), int(2)])]),
            "ERR: runtime error: makeslice: len out of range"
        );
        assert_eq!(
            show("chunk", &[int(2), nil()]),
            "ERR: runtime error: invalid memory address or nil pointer dereference"
        );
        assert_eq!(
            show("mustChunk", &[int(2), s("str")]),
            "ERR: Cannot chunk type string"
        );
    }
}
