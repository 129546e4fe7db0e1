//! Sprig's defaults and type tests: `default`, `empty`, `coalesce`, `all`, `any`,
//! `ternary`, `typeOf`, `typeIs`, `typeIsLike`, `kindOf`, `kindIs`, `deepEqual`.

use minijinja::{State, Value};

use crate::args::{bool_arg, string_arg};
use crate::fmt::type_name;
use crate::value::{GoStruct, Kind, as_list, kind, map_entries, num};
use crate::{Registry, want_args, want_at_least};

/// Registers the defaults and type tests.
pub fn register(r: &mut Registry) {
    r.add("default", |_: &State<'_, '_>, a: &[Value]| {
        want_at_least("default", a, 1)?;
        match a.get(1) {
            Some(v) if !empty(v) => Ok(v.clone()),
            _ => Ok(a[0].clone()),
        }
    });
    r.add("empty", |_: &State<'_, '_>, a: &[Value]| {
        want_args("empty", a, 1)?;
        Ok(Value::from(empty(&a[0])))
    });
    r.add("coalesce", |_: &State<'_, '_>, a: &[Value]| {
        Ok(a.iter()
            .find(|v| !empty(v))
            .cloned()
            .unwrap_or_else(crate::value::nil))
    });
    r.add("all", |_: &State<'_, '_>, a: &[Value]| {
        Ok(Value::from(a.iter().all(|v| !empty(v))))
    });
    r.add("any", |_: &State<'_, '_>, a: &[Value]| {
        Ok(Value::from(a.iter().any(|v| !empty(v))))
    });
    r.add("ternary", |_: &State<'_, '_>, a: &[Value]| {
        want_args("ternary", a, 3)?;
        Ok(if bool_arg(a, 2)? {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    r.add("typeOf", |_: &State<'_, '_>, a: &[Value]| {
        want_args("typeOf", a, 1)?;
        Ok(Value::from(type_name(&a[0])))
    });
    r.add("typeIs", |_: &State<'_, '_>, a: &[Value]| {
        want_args("typeIs", a, 2)?;
        Ok(Value::from(string_arg(a, 0)? == type_name(&a[1])))
    });
    r.add("typeIsLike", |_: &State<'_, '_>, a: &[Value]| {
        want_args("typeIsLike", a, 2)?;
        let (want, t) = (string_arg(a, 0)?, type_name(&a[1]));
        Ok(Value::from(want == t || format!("*{want}") == t))
    });
    r.add("kindOf", |_: &State<'_, '_>, a: &[Value]| {
        want_args("kindOf", a, 1)?;
        Ok(Value::from(kind(&a[0]).name()))
    });
    r.add("kindIs", |_: &State<'_, '_>, a: &[Value]| {
        want_args("kindIs", a, 2)?;
        Ok(Value::from(string_arg(a, 0)? == kind(&a[1]).name()))
    });
    r.add("deepEqual", |_: &State<'_, '_>, a: &[Value]| {
        want_args("deepEqual", a, 2)?;
        Ok(Value::from(deep_equal(&a[0], &a[1])))
    });
}

/// Sprig's `empty`: nil, false, zero, and empty strings, slices and maps; structs never.
pub fn empty(v: &Value) -> bool {
    match kind(v) {
        Kind::Invalid => true,
        Kind::Bool => !v.is_true(),
        Kind::Int | Kind::Int64 | Kind::Float64 => num(v).is_none_or(|n| n.as_f64() == 0.0),
        Kind::String => v.as_str().is_none_or(str::is_empty),
        Kind::Slice | Kind::Map => v.len().unwrap_or(0) == 0,
        Kind::Struct => false,
    }
}

/// Go's `reflect.DeepEqual` on Go values: same types, equal contents.
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    let (ka, kb) = (kind(a), kind(b));
    if ka != kb {
        return false;
    }
    match ka {
        Kind::Invalid => true,
        Kind::Bool => a.is_true() == b.is_true(),
        Kind::Int | Kind::Int64 | Kind::Float64 => match (num(a), num(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        Kind::String => a.as_str() == b.as_str(),
        Kind::Slice => {
            let (x, y) = (
                as_list(a).unwrap_or_default(),
                as_list(b).unwrap_or_default(),
            );
            x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| deep_equal(p, q))
        }
        Kind::Map => {
            let (x, y) = (map_entries(a), map_entries(b));
            x.len() == y.len()
                && x.iter()
                    .zip(&y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && deep_equal(v1, v2))
        }
        Kind::Struct => match (
            a.downcast_object_ref::<GoStruct>(),
            b.downcast_object_ref::<GoStruct>(),
        ) {
            (Some(x), Some(y)) => {
                x.type_name == y.type_name
                    && x.fields.len() == y.fields.len()
                    && x.fields
                        .iter()
                        .zip(&y.fields)
                        .all(|((k1, v1), (k2, v2))| k1 == k2 && deep_equal(v1, v2))
            }
            _ => match (
                a.downcast_object_ref::<crate::dates::GoTime>(),
                b.downcast_object_ref::<crate::dates::GoTime>(),
            ) {
                (Some(x), Some(y)) => x.same(y),
                _ => a == b,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::show;

    /// Expected values are Sprig v3.3.0's for the same call in Go 1.26.
    #[test]
    fn defaults_match_sprig() {
        let cases: &[(&str, &[&str], &str)] = &[
            // BEGIN GO CASES
            ("default", &["s:d"], "d"),
            ("default", &["s:d", "n:"], "d"),
            ("default", &["s:d", "s:"], "d"),
            ("default", &["s:d", "s:x"], "x"),
            ("default", &["s:d", "i:0"], "d"),
            ("default", &["s:d", "f:0"], "d"),
            ("default", &["s:d", "b:false"], "d"),
            ("default", &["s:d", "j:[]"], "d"),
            ("default", &["s:d", "j:{}"], "d"),
            ("default", &["s:d", "j:{\"a\":1}"], "map[a:1]"),
            ("default", &["s:d", "s:x", "s:y"], "x"),
            (
                "default",
                &[],
                "ERR:wrong number of args for default: want at least 1 got 0",
            ),
            ("empty", &["n:"], "true"),
            ("empty", &["I:0"], "true"),
            ("empty", &["f:0.1"], "false"),
            ("empty", &["j:[null]"], "false"),
            ("empty", &["s: "], "false"),
            (
                "empty",
                &[],
                "ERR:wrong number of args for empty: want 1 got 0",
            ),
            ("coalesce", &["n:", "s:", "i:0", "s:x", "s:y"], "x"),
            ("coalesce", &["n:", "s:"], "<nil>"),
            ("coalesce", &[], "<nil>"),
            ("all", &["s:a", "i:1"], "true"),
            ("all", &["s:a", "i:0"], "false"),
            ("all", &[], "true"),
            ("any", &["n:", "i:0"], "false"),
            ("any", &["n:", "i:3"], "true"),
            ("any", &[], "false"),
            ("ternary", &["s:yes", "s:no", "b:true"], "yes"),
            ("ternary", &["s:yes", "s:no", "b:false"], "no"),
            (
                "ternary",
                &["s:yes", "s:no", "s:true"],
                "ERR:wrong type for value; expected bool; got string",
            ),
            (
                "ternary",
                &["s:yes", "s:no", "n:"],
                "ERR:wrong type for value; expected bool; got interface {}",
            ),
            (
                "ternary",
                &["s:yes", "s:no"],
                "ERR:wrong number of args for ternary: want 3 got 2",
            ),
            ("typeOf", &["i:1"], "int"),
            ("typeOf", &["I:1"], "int64"),
            ("typeOf", &["f:1"], "float64"),
            ("typeOf", &["s:x"], "string"),
            ("typeOf", &["b:true"], "bool"),
            ("typeOf", &["n:"], "<nil>"),
            ("typeOf", &["j:[1]"], "[]interface {}"),
            ("typeOf", &["j:{\"a\":1}"], "map[string]interface {}"),
            ("typeIs", &["s:string", "s:x"], "true"),
            ("typeIs", &["s:float64", "i:1"], "false"),
            ("typeIs", &["s:<nil>", "n:"], "true"),
            (
                "typeIs",
                &["i:1", "s:x"],
                "ERR:wrong type for value; expected string; got int",
            ),
            ("typeIsLike", &["s:int", "i:1"], "true"),
            ("kindOf", &["n:"], "invalid"),
            ("kindOf", &["j:[1]"], "slice"),
            ("kindOf", &["j:{}"], "map"),
            ("kindOf", &["I:1"], "int64"),
            ("kindIs", &["s:map", "j:{}"], "true"),
            ("kindIs", &["s:slice", "j:[]"], "true"),
            ("kindIs", &["s:invalid", "n:"], "true"),
            ("kindIs", &["s:int", "f:1"], "false"),
            ("deepEqual", &["i:1", "i:1"], "true"),
            ("deepEqual", &["i:1", "I:1"], "false"),
            ("deepEqual", &["i:1", "f:1"], "false"),
            (
                "deepEqual",
                &["j:{\"a\":[1,{\"b\":null}]}", "j:{\"a\":[1,{\"b\":null}]}"],
                "true",
            ),
            ("deepEqual", &["j:{\"a\":[1]}", "j:{\"a\":[2]}"], "false"),
            ("deepEqual", &["n:", "n:"], "true"),
            ("deepEqual", &["n:", "s:"], "false"),
            // END GO CASES
        ];
        for (name, args, want) in cases {
            assert_eq!(show(name, args), *want, "{name} {args:?}");
        }
    }
}
