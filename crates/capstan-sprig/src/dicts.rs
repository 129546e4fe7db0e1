//! Sprig's dictionary functions (`dict`, `set`, `merge`, `dig`, ...) on shared Go maps.
//!
//! Go maps are references: `set`, `unset`, `merge` and `mergeOverwrite` change the map they
//! are given (every other reference to it sees the change) and return that same map.
//!
//! Go iterates maps in random order; where Sprig's result depends on that order (`keys`,
//! `values`) these return the keys sorted (and `values` in key order), which is one of the
//! orders Helm can produce.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::{Error, State, Value};

use crate::value::{self, GoMap, Kind, kind};
use crate::{Registry, go_error, want_args, want_at_least};

/// Registers the dictionary functions.
pub fn register(r: &mut Registry) {
    r.add("dict", dict);
    r.add("get", get);
    r.add("set", set);
    r.add("unset", unset);
    r.add("hasKey", has_key);
    r.add("pluck", pluck);
    r.add("keys", keys);
    r.add("values", values);
    r.add("pick", pick);
    r.add("omit", omit);
    r.add("dig", dig);
    r.add("merge", |_: &State<'_, '_>, args: &[Value]| {
        merge_all("merge", args, false)
    });
    r.add("mustMerge", |_: &State<'_, '_>, args: &[Value]| {
        merge_all("mustMerge", args, false)
    });
    r.add("mergeOverwrite", |_: &State<'_, '_>, args: &[Value]| {
        merge_all("mergeOverwrite", args, true)
    });
    r.add("mustMergeOverwrite", |_: &State<'_, '_>, args: &[Value]| {
        merge_all("mustMergeOverwrite", args, true)
    });
    r.add("deepCopy", |_: &State<'_, '_>, args: &[Value]| {
        deep_copy("deepCopy", args)
    });
    r.add("mustDeepCopy", |_: &State<'_, '_>, args: &[Value]| {
        deep_copy("mustDeepCopy", args)
    });
}

pub(crate) use crate::args::wrong_type;

/// Argument `i` for a `map[string]interface{}` parameter: the map itself (shared) if it is a
/// Go map; a copy for another minijinja map (whose changes nobody else sees); for an untyped
/// nil, which Go passes as a nil map, a new empty map (reads of a nil map find nothing; `set`
/// checks for it, as writing to a nil map fails).
pub(crate) fn map_arg(args: &[Value], i: usize) -> Result<Arc<GoMap>, Error> {
    let v = &args[i];
    if let Some(m) = value::as_map(v) {
        return Ok(m);
    }
    if v.is_undefined() {
        return Ok(Arc::new(GoMap::default()));
    }
    if kind(v) == Kind::Map {
        return Ok(Arc::new(GoMap::new(
            value::map_entries(v).into_iter().collect(),
        )));
    }
    Err(wrong_type(i, "map[string]interface {}", v))
}

/// Argument `i` for a `string` parameter.
pub(crate) fn string_arg(args: &[Value], i: usize) -> Result<String, Error> {
    let v = &args[i];
    match v.as_str() {
        Some(s) if kind(v) == Kind::String => Ok(s.to_string()),
        _ => Err(wrong_type(i, "string", v)),
    }
}

/// `dict k1 v1 k2 v2 ...`: keys in their `%v` form; a key without a value maps to "".
fn dict(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    let mut out = BTreeMap::new();
    for pair in args.chunks(2) {
        let key = crate::fmt::sprint_value(&pair[0]);
        let val = pair.get(1).cloned().unwrap_or_else(|| Value::from(""));
        out.insert(key, val);
    }
    Ok(value::map(out))
}

/// `get m key`: the value, or "" when absent.
fn get(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("get", args, 2)?;
    let m = map_arg(args, 0)?;
    let key = string_arg(args, 1)?;
    Ok(m.get(&key).unwrap_or_else(|| Value::from("")))
}

/// `set m key v`: sets the entry in place and returns the same map.
fn set(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("set", args, 3)?;
    let m = map_arg(args, 0)?;
    let key = string_arg(args, 1)?;
    if args[0].is_undefined() {
        return Err(go_error("assignment to entry in nil map"));
    }
    m.insert(key, args[2].clone());
    Ok(same_map(&args[0], m))
}

/// `unset m key`: deletes the entry in place and returns the same map.
fn unset(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("unset", args, 2)?;
    let m = map_arg(args, 0)?;
    let key = string_arg(args, 1)?;
    m.remove(&key);
    Ok(same_map(&args[0], m))
}

/// The argument itself when it is the shared map, else the copy that was changed.
fn same_map(arg: &Value, m: Arc<GoMap>) -> Value {
    if value::as_map(arg).is_some() {
        arg.clone()
    } else {
        Value::from_dyn_object(m)
    }
}

/// `hasKey m key`.
fn has_key(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("hasKey", args, 2)?;
    let m = map_arg(args, 0)?;
    let key = string_arg(args, 1)?;
    Ok(Value::from(m.contains(&key)))
}

/// `pluck key m1 m2 ...`: the values `key` has in the maps that have it.
fn pluck(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_at_least("pluck", args, 1)?;
    let key = string_arg(args, 0)?;
    let maps = (1..args.len())
        .map(|i| map_arg(args, i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(value::list(
        maps.iter().filter_map(|m| m.get(&key)).collect(),
    ))
}

/// `keys m1 m2 ...`: every key of every map (duplicates kept), sorted.
fn keys(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    let maps = (0..args.len())
        .map(|i| map_arg(args, i))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out: Vec<String> = maps.iter().flat_map(|m| m.keys()).collect();
    out.sort();
    Ok(value::list(out.into_iter().map(Value::from).collect()))
}

/// `values m`: the values, in key order.
fn values(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("values", args, 1)?;
    let m = map_arg(args, 0)?;
    Ok(value::list(m.entries().into_values().collect()))
}

/// `pick m k1 k2 ...`: a new map of the named entries that exist.
fn pick(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_at_least("pick", args, 1)?;
    let m = map_arg(args, 0)?;
    let names = (1..args.len())
        .map(|i| string_arg(args, i))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = BTreeMap::new();
    for k in names {
        if let Some(v) = m.get(&k) {
            out.insert(k, v);
        }
    }
    Ok(value::map(out))
}

/// `omit m k1 k2 ...`: a new map of every entry but the named ones.
fn omit(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_at_least("omit", args, 1)?;
    let m = map_arg(args, 0)?;
    let names = (1..args.len())
        .map(|i| string_arg(args, i))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = m.entries();
    for k in &names {
        out.remove(k);
    }
    Ok(value::map(out))
}

/// Go's message for a failed type assertion `x.(T)` on an `interface{}`.
fn conversion_error(got: &Value, want: &str) -> Error {
    let got = if value::is_nil(got) {
        "nil".to_string()
    } else {
        value::type_name(got)
    };
    go_error(format!(
        "interface conversion: interface {{}} is {got}, not {want}"
    ))
}

/// `v.(map[string]interface{})`: only a plain Go map passes (not, say, Helm's
/// `chartutil.Values`, the type of `.Values` itself).
fn plain_map(v: &Value) -> Result<Arc<GoMap>, Error> {
    const MAP: &str = "map[string]interface {}";
    match value::as_map(v) {
        Some(m) if value::type_name(v) == MAP => Ok(m),
        _ => Err(conversion_error(v, MAP)),
    }
}

/// `dig k1 k2 ... default m`: the value at the key path, or `default` when a key is missing.
fn dig(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    if args.len() < 3 {
        return Err(go_error("dig needs at least three arguments"));
    }
    let last = &args[args.len() - 1];
    let default = &args[args.len() - 2];
    let mut current = plain_map(last)?;
    let path = &args[..args.len() - 2];
    let keys = path
        .iter()
        .map(|k| {
            if kind(k) == Kind::String {
                Ok(k.as_str().unwrap_or_default().to_string())
            } else {
                Err(conversion_error(k, "string"))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (i, key) in keys.iter().enumerate() {
        let Some(step) = current.get(key) else {
            return Ok(default.clone());
        };
        if i + 1 == keys.len() {
            return Ok(step);
        }
        current = plain_map(&step)?;
    }
    Ok(default.clone())
}

/// `merge dst src...` / `mergeOverwrite dst src...`: mergo's deep merge of each source into
/// `dst`, in place; returns `dst` (a new map when `dst` is nil).
fn merge_all(name: &str, args: &[Value], overwrite: bool) -> Result<Value, Error> {
    want_at_least(name, args, 1)?;
    let dst = map_arg(args, 0)?;
    let srcs = (1..args.len())
        .map(|i| map_arg(args, i))
        .collect::<Result<Vec<_>, _>>()?;
    for src in srcs {
        merge_into(&dst, src.entries(), overwrite, 0)?;
    }
    Ok(same_map(&args[0], dst))
}

/// mergo's emptiness (`isEmptyValue`): nil, "", false, 0, and empty slices and maps.
fn is_empty(v: &Value) -> bool {
    match kind(v) {
        Kind::Struct => false,
        _ => !value::truthy(v),
    }
}

/// mergo.Merge (`overwrite` false) or mergo.MergeWithOverwrite of `src` into `dst`, as it
/// treats `map[string]interface{}` values.
///
/// A nil source value only replaces with `overwrite`. A map source merges into a map
/// destination in place (recursively); otherwise a source value replaces the destination's
/// when overwriting, or when the destination is missing or empty ("", false, 0, nil, empty
/// slice or map). Source values are stored as they are (maps shared, not copied).
///
/// Maps that contain themselves would recurse forever (Go's stack overflows); past
/// [`MAX_MERGE_DEPTH`] levels this is an error instead.
fn merge_into(
    dst: &GoMap,
    src: BTreeMap<String, Value>,
    overwrite: bool,
    depth: usize,
) -> Result<(), Error> {
    if depth > MAX_MERGE_DEPTH {
        return Err(go_error(
            "runtime: goroutine stack exceeds 1000000000-byte limit",
        ));
    }
    for (key, s) in src {
        let d = dst.get(&key);
        if value::is_nil(&s) {
            if overwrite {
                dst.insert(key, value::nil());
            }
            continue;
        }
        let s_kind = kind(&s);
        if s_kind == Kind::Map
            && let Some(dm) = d.as_ref().and_then(value::as_map)
        {
            merge_into(
                &dm,
                value::map_entries(&s).into_iter().collect(),
                overwrite,
                depth + 1,
            )?;
        }
        if let Some(dv) = &d
            && !is_empty(dv)
            && (s_kind == Kind::Slice || (s_kind == Kind::Map && kind(dv) == Kind::Map))
        {
            if overwrite && s_kind == Kind::Slice {
                dst.insert(key, s);
            }
            continue;
        }
        if overwrite || d.as_ref().is_none_or(is_empty) {
            dst.insert(key, s);
        }
    }
    Ok(())
}

/// How deep `merge` follows nested maps.
const MAX_MERGE_DEPTH: usize = 1000;

/// `deepCopy v`: a copy sharing no map or slice with `v`.
fn deep_copy(name: &str, args: &[Value]) -> Result<Value, Error> {
    want_args(name, args, 1)?;
    if value::is_nil(&args[0]) {
        return Err(go_error(
            "reflect: call of reflect.Value.Type on zero Value",
        ));
    }
    Ok(value::deep_copy(&args[0]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmt::sprint_value;
    use crate::value::{float64, int, int64, list, nil};
    use minijinja::Environment;

    fn call(name: &str, args: &[Value]) -> Result<Value, Error> {
        let mut r = Registry::default();
        register(&mut r);
        let env = Environment::new();
        let state = env.empty_state();
        (r.get(name).expect(name))(&state, args)
    }

    fn show(name: &str, args: &[Value]) -> String {
        match call(name, args) {
            Ok(v) => sprint_value(&v),
            Err(e) => format!("ERR: {}", e.detail().unwrap_or_default()),
        }
    }

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    fn d(pairs: &[(&str, Value)]) -> Value {
        value::map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect(),
        )
    }

    /// `{"a": 1.0, "b": {"c": "x"}}` as read from a values file.
    fn values_m() -> Value {
        d(&[("a", float64(1.0)), ("b", d(&[("c", s("x"))]))])
    }

    #[test]
    fn dict_keys_are_printed_and_odd_counts_get_empty_strings() {
        assert_eq!(show("dict", &[s("a"), int(1), s("b")]), "map[a:1 b:]");
        assert_eq!(
            show(
                "dict",
                &[
                    int(1),
                    int(2),
                    float64(3.5),
                    int(4),
                    nil(),
                    int(5),
                    Value::from(true),
                    int(6)
                ]
            ),
            "map[1:2 3.5:4 <nil>:5 true:6]"
        );
        assert_eq!(
            show(
                "dict",
                &[float64(1.5), int(1), int64(3), int(2), values_m(), int(4)]
            ),
            "map[1.5:1 3:2 map[a:1 b:map[c:x]]:4]"
        );
        assert_eq!(show("dict", &[]), "map[]");
        assert_eq!(show("dict", &[s("a"), nil()]), "map[a:<nil>]");
    }

    #[test]
    fn set_and_unset_change_the_map_in_place() {
        let m = d(&[("a", int(1))]);
        let alias = m.clone();
        let out = call("set", &[m.clone(), s("b"), int(2)]).unwrap();
        assert_eq!(sprint_value(&alias), "map[a:1 b:2]");
        assert_eq!(sprint_value(&out), "map[a:1 b:2]");
        call("set", &[out, s("c"), nil()]).unwrap();
        assert_eq!(sprint_value(&alias), "map[a:1 b:2 c:<nil>]");
        call("unset", &[m.clone(), s("a")]).unwrap();
        assert_eq!(sprint_value(&alias), "map[b:2 c:<nil>]");
    }

    #[test]
    fn map_parameters_take_only_maps() {
        assert_eq!(
            show("set", &[s("str"), s("a"), int(1)]),
            "ERR: wrong type for value; expected map[string]interface {}; got string"
        );
        // nil read from data is an empty interface, which a map parameter cannot take.
        assert_eq!(
            show("hasKey", &[nil(), s("a")]),
            "ERR: wrong type for value; expected map[string]interface {}; got interface {}"
        );
        assert_eq!(
            show("get", &[values_m(), float64(1.5)]),
            "ERR: wrong type for value; expected string; got float64"
        );
        assert_eq!(
            show("get", &[values_m()]),
            "ERR: wrong number of args for get: want 2 got 1"
        );
        assert_eq!(
            show("merge", &[values_m(), nil()]),
            "ERR: wrong type for value; expected map[string]interface {}; got interface {}"
        );
    }

    #[test]
    fn wrong_types_are_reported_at_their_argument() {
        let index = |name: &str, args: &[Value]| {
            let e = call(name, args).unwrap_err();
            std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<crate::ArgError>())
                .map(|a| a.0)
        };
        assert_eq!(index("get", &[values_m(), float64(1.5)]), Some(1));
        assert_eq!(index("set", &[nil(), s("a"), int(1)]), Some(0));
        assert_eq!(index("pick", &[values_m(), s("a"), int(1)]), Some(2));
        assert_eq!(index("merge", &[values_m(), d(&[]), s("x")]), Some(2));
        assert_eq!(index("dig", &[s("a"), s("def"), nil()]), None);
    }

    #[test]
    fn untyped_nil_is_a_nil_map() {
        let u = Value::UNDEFINED;
        assert_eq!(show("hasKey", &[u.clone(), s("a")]), "false");
        assert_eq!(show("get", &[u.clone(), s("a")]), "");
        assert_eq!(show("keys", std::slice::from_ref(&u)), "[]");
        assert_eq!(show("values", std::slice::from_ref(&u)), "[]");
        assert_eq!(show("pick", &[u.clone(), s("a")]), "map[]");
        assert_eq!(show("omit", &[u.clone(), s("a")]), "map[]");
        assert_eq!(show("pluck", &[s("a"), u.clone(), values_m()]), "[1]");
        assert_eq!(show("unset", &[u.clone(), s("a")]), "map[]");
        assert_eq!(
            show("set", &[u.clone(), s("a"), int(1)]),
            "ERR: assignment to entry in nil map"
        );
        assert_eq!(show("merge", &[d(&[("a", int(1))]), u.clone()]), "map[a:1]");
        assert_eq!(show("merge", &[u.clone(), d(&[("a", int(1))])]), "map[a:1]");
        assert_eq!(show("merge", &[u.clone(), u.clone()]), "map[]");
        assert_eq!(
            show("mustMergeOverwrite", &[u.clone(), d(&[("a", int(1))])]),
            "map[a:1]"
        );
        assert_eq!(
            show("get", &[values_m(), u.clone()]),
            "ERR: invalid value; expected string"
        );
        assert_eq!(
            show("dig", &[s("a"), s("d"), u]),
            "ERR: interface conversion: interface {} is nil, not map[string]interface {}"
        );
    }

    #[test]
    fn get_has_key_pluck_pick_omit() {
        assert_eq!(show("get", &[values_m(), s("zz")]), "");
        assert_eq!(show("get", &[values_m(), s("a")]), "1");
        assert_eq!(show("hasKey", &[values_m(), s("a")]), "true");
        assert_eq!(show("hasKey", &[values_m(), s("z")]), "false");
        assert_eq!(
            show("pluck", &[s("a"), values_m(), d(&[("a", int(2))]), d(&[])]),
            "[1 2]"
        );
        assert_eq!(show("pick", &[values_m(), s("a"), s("zz")]), "map[a:1]");
        assert_eq!(show("omit", &[values_m(), s("a")]), "map[b:map[c:x]]");
        assert_eq!(show("omit", &[values_m()]), "map[a:1 b:map[c:x]]");
        assert_eq!(
            show("pick", &[values_m(), int(1)]),
            "ERR: wrong type for value; expected string; got int"
        );
    }

    #[test]
    fn keys_are_sorted_and_values_in_key_order() {
        assert_eq!(show("keys", &[values_m(), d(&[("z", int(1))])]), "[a b z]");
        assert_eq!(show("keys", &[]), "[]");
        assert_eq!(show("values", &[values_m()]), "[1 map[c:x]]");
    }

    #[test]
    fn dig_follows_the_path_or_gives_the_default() {
        assert_eq!(show("dig", &[s("b"), s("c"), s("def"), values_m()]), "x");
        assert_eq!(show("dig", &[s("b"), s("zz"), s("def"), values_m()]), "def");
        assert_eq!(show("dig", &[s("zz"), s("def"), values_m()]), "def");
        assert_eq!(
            show("dig", &[s("a"), s("zz"), s("def"), values_m()]),
            "ERR: interface conversion: interface {} is float64, not map[string]interface {}"
        );
        assert_eq!(
            show("dig", &[s("b"), s("def")]),
            "ERR: dig needs at least three arguments"
        );
        assert_eq!(
            show("dig", &[int(1), s("def"), values_m()]),
            "ERR: interface conversion: interface {} is int, not string"
        );
        assert_eq!(
            show("dig", &[s("b"), s("def"), nil()]),
            "ERR: interface conversion: interface {} is nil, not map[string]interface {}"
        );
        assert_eq!(
            show("dig", &[s("b"), s("def"), s("str")]),
            "ERR: interface conversion: interface {} is string, not map[string]interface {}"
        );
    }

    /// `{a:"" b:false c:0 d:nil e:1 f:[] g:{} h:"x"}`.
    fn empties() -> Value {
        d(&[
            ("a", s("")),
            ("b", Value::from(false)),
            ("c", int(0)),
            ("d", nil()),
            ("e", int(1)),
            ("f", list(vec![])),
            ("g", d(&[])),
            ("h", s("x")),
        ])
    }

    #[test]
    fn merge_fills_missing_and_empty_values_only() {
        let dst = empties();
        let src = d(&[
            ("a", s("A")),
            ("b", Value::from(true)),
            ("c", int(5)),
            ("d", s("D")),
            ("e", int(9)),
            ("f", list(vec![int(1)])),
            ("g", d(&[("k", int(1))])),
            ("h", s("y")),
            ("new", int(1)),
        ]);
        let out = call("merge", &[dst.clone(), src]).unwrap();
        let want = "map[a:A b:true c:5 d:D e:1 f:[1] g:map[k:1] h:x new:1]";
        assert_eq!(sprint_value(&dst), want);
        assert_eq!(sprint_value(&out), want);
    }

    #[test]
    fn merge_overwrite_takes_every_source_value_but_merges_maps() {
        let dst = d(&[
            ("a", s("x")),
            ("b", Value::from(true)),
            ("c", int(3)),
            ("h", s("x")),
            ("f", list(vec![int(1)])),
        ]);
        let src = d(&[
            ("a", s("")),
            ("b", Value::from(false)),
            ("c", int(0)),
            ("d", nil()),
            ("h", nil()),
            ("f", list(vec![])),
            ("g", d(&[])),
        ]);
        call("mergeOverwrite", &[dst.clone(), src]).unwrap();
        assert_eq!(
            sprint_value(&dst),
            "map[a: b:false c:0 d:<nil> f:[] g:map[] h:<nil>]"
        );
        let cases: &[(Value, Value, &str)] = &[
            (
                d(&[("m", d(&[("a", int(1)), ("b", s(""))]))]),
                d(&[("m", d(&[("a", int(2)), ("c", int(3))]))]),
                "map[m:map[a:2 b: c:3]]",
            ),
            (
                d(&[("m", d(&[("x", int(1))]))]),
                d(&[("m", s("str"))]),
                "map[m:str]",
            ),
            (
                d(&[("m", s("str"))]),
                d(&[("m", d(&[("b", int(2))]))]),
                "map[m:map[b:2]]",
            ),
            (
                d(&[("m", d(&[("x", int(1))]))]),
                d(&[("m", nil())]),
                "map[m:<nil>]",
            ),
            (
                d(&[("m", d(&[("x", int(1))]))]),
                d(&[("m", d(&[]))]),
                "map[m:map[x:1]]",
            ),
            (
                d(&[("m", list(vec![int(1), int(2)]))]),
                d(&[("m", list(vec![int(3)]))]),
                "map[m:[3]]",
            ),
            (
                d(&[("m", d(&[("a", d(&[("q", int(1))]))]))]),
                d(&[("m", d(&[("a", d(&[("q", nil()), ("r", s(""))]))]))]),
                "map[m:map[a:map[q:<nil> r:]]]",
            ),
        ];
        for (dst, src, want) in cases {
            call("mergeOverwrite", &[dst.clone(), src.clone()]).unwrap();
            assert_eq!(sprint_value(dst), *want);
        }
    }

    #[test]
    fn merge_is_deep_and_keeps_set_values() {
        let cases: &[(Value, Value, &str)] = &[
            (
                d(&[("m", d(&[("a", int(1)), ("b", s(""))]))]),
                d(&[("m", d(&[("b", int(2)), ("c", int(3))]))]),
                "map[m:map[a:1 b:2 c:3]]",
            ),
            (
                d(&[("m", s("str"))]),
                d(&[("m", d(&[("b", int(2))]))]),
                "map[m:str]",
            ),
            (
                d(&[("m", d(&[("x", int(1))]))]),
                d(&[("m", s("str"))]),
                "map[m:map[x:1]]",
            ),
            (
                d(&[("m", list(vec![int(1), int(2)]))]),
                d(&[("m", list(vec![int(3)]))]),
                "map[m:[1 2]]",
            ),
            (
                d(&[("m", list(vec![]))]),
                d(&[("m", list(vec![int(3)]))]),
                "map[m:[3]]",
            ),
            (d(&[("a", float64(1.5))]), d(&[("a", s("s"))]), "map[a:1.5]"),
            (d(&[("a", int(0))]), d(&[("a", s("s"))]), "map[a:s]"),
            (
                d(&[("m", d(&[("a", nil())]))]),
                d(&[("m", d(&[("a", s("A"))]))]),
                "map[m:map[a:A]]",
            ),
            (
                d(&[("m", d(&[("a", d(&[("q", int(1))]))]))]),
                d(&[("m", d(&[("a", d(&[("q", int(2)), ("r", int(3))]))]))]),
                "map[m:map[a:map[q:1 r:3]]]",
            ),
        ];
        for (dst, src, want) in cases {
            call("merge", &[dst.clone(), src.clone()]).unwrap();
            assert_eq!(sprint_value(dst), *want);
        }
    }

    #[test]
    fn merge_shares_source_maps() {
        let dst = d(&[("a", int(1))]);
        let inner = d(&[("x", int(1))]);
        let src = d(&[("n", inner.clone())]);
        call("merge", &[dst.clone(), src]).unwrap();
        let n = value::as_map(&dst).unwrap().get("n").unwrap();
        call("set", &[n, s("y"), int(2)]).unwrap();
        assert_eq!(sprint_value(&inner), "map[x:1 y:2]");
        // merging into an existing map does not share it
        let dst = d(&[("n", d(&[("x", int(1))]))]);
        let inner = d(&[("y", int(1))]);
        call("merge", &[dst.clone(), d(&[("n", inner.clone())])]).unwrap();
        call("set", &[inner, s("z"), int(2)]).unwrap();
        assert_eq!(sprint_value(&dst), "map[n:map[x:1 y:1]]");
        // a map with itself
        let m = d(&[("a", int(1))]);
        call("merge", &[m.clone(), m.clone()]).unwrap();
        assert_eq!(sprint_value(&m), "map[a:1]");
    }

    #[test]
    fn merging_maps_that_contain_themselves_fails() {
        let a = d(&[]);
        call("set", &[a.clone(), s("self"), a.clone()]).unwrap();
        let b = d(&[]);
        call("set", &[b.clone(), s("self"), b.clone()]).unwrap();
        assert!(show("merge", &[a, b]).starts_with("ERR: runtime: goroutine stack exceeds"));
    }

    #[test]
    fn merge_with_only_the_destination_returns_it() {
        let m = d(&[("a", int(1))]);
        assert_eq!(show("merge", std::slice::from_ref(&m)), "map[a:1]");
        assert_eq!(
            show("mustMergeOverwrite", &[]),
            "ERR: wrong number of args for mustMergeOverwrite: want at least 1 got 0"
        );
    }

    #[test]
    fn helm_has_every_function_of_this_branch() {
        let r = Registry::helm();
        let names = "dict get set unset hasKey pluck dig merge mergeOverwrite mustMerge \
            mustMergeOverwrite keys values pick omit deepCopy mustDeepCopy list tuple append \
            push mustAppend mustPush prepend mustPrepend first mustFirst last mustLast rest \
            mustRest initial mustInitial reverse mustReverse uniq mustUniq without mustWithout \
            has mustHas compact mustCompact concat until untilStep seq chunk mustChunk sha1sum \
            sha256sum sha512sum adler32sum htpasswd bcrypt derivePassword genPrivateKey \
            buildCustomCert genCA genCAWithKey genSelfSignedCert genSelfSignedCertWithKey \
            genSignedCert genSignedCertWithKey encryptAES decryptAES randAlphaNum randAlpha \
            randNumeric randAscii randBytes uuidv4 b64enc b64dec b32enc b32dec urlParse urlJoin \
            getHostByName";
        for name in names.split_whitespace() {
            assert!(r.contains(name), "{name}");
        }
    }

    #[test]
    fn deep_copy_shares_nothing() {
        let m = values_m();
        let c = call("deepCopy", std::slice::from_ref(&m)).unwrap();
        let b = value::as_map(&c).unwrap().get("b").unwrap();
        call("set", &[b, s("c"), s("changed")]).unwrap();
        assert_eq!(sprint_value(&m), "map[a:1 b:map[c:x]]");
        assert_eq!(sprint_value(&c), "map[a:1 b:map[c:changed]]");
        assert_eq!(
            show("deepCopy", &[nil()]),
            "ERR: reflect: call of reflect.Value.Type on zero Value"
        );
        assert_eq!(show("mustDeepCopy", &[list(vec![int(1)])]), "[1]");
    }
}
