//! Lists and dicts: `list`, `dict`, `merge`, `keys`, `pick`, `uniq`, `join`, `until`, ...

use std::collections::BTreeMap;

use minijinja::value::{Rest, Value};
use minijinja::{Environment, Error};

use super::bounds::{Bounds, bounded_join, bounded_json, bounded_strvals};
use super::values::{from_json, list_items, map_items, op_err, strval};

/// Sprig's `untilStep`: integers from `start` towards `stop` (exclusive) by `step`.
pub(super) fn until_step(b: Bounds, start: i64, stop: i64, step: i64) -> Result<Value, Error> {
    if step == 0 || (step > 0 && start >= stop) || (step < 0 && start <= stop) {
        return Ok(Value::from(Vec::<i64>::new()));
    }
    let span = (i128::from(stop) - i128::from(start)).unsigned_abs();
    let n = span.div_ceil(i128::from(step).unsigned_abs());
    b.items("untilStep", u64::try_from(n).unwrap_or(u64::MAX))?;
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(i);
        match i.checked_add(step) {
            Some(next) => i = next,
            None => break,
        }
    }
    Ok(Value::from(out))
}

pub(super) fn merge_json(dst: &mut serde_json::Value, src: &serde_json::Value, overwrite: bool) {
    use serde_json::Value as J;
    match (dst, src) {
        (J::Object(d), J::Object(s)) => {
            for (k, sv) in s {
                match d.get_mut(k) {
                    Some(dv) if dv.is_object() && sv.is_object() => merge_json(dv, sv, overwrite),
                    Some(dv) if overwrite || dv.is_null() => *dv = sv.clone(),
                    Some(_) => {}
                    None => {
                        d.insert(k.clone(), sv.clone());
                    }
                }
            }
        }
        (d, s) if overwrite => *d = s.clone(),
        _ => {}
    }
}

pub(super) fn merge(
    b: Bounds,
    dst: &Value,
    srcs: &[Value],
    overwrite: bool,
) -> Result<Value, Error> {
    let mut d = bounded_json(b, "merge", dst)?;
    if d.is_null() {
        d = serde_json::Value::Object(Default::default());
    }
    for s in srcs {
        merge_json(&mut d, &bounded_json(b, "merge", s)?, overwrite);
    }
    Ok(from_json(&d))
}

/// Registers the list and dict functions and filters.
pub(super) fn register(env: &mut Environment<'static>, b: Bounds) {
    // Lists and dicts.
    env.add_function("list", |args: Rest<Value>| Value::from(args.0));
    env.add_function("dict", |args: Rest<Value>| {
        let mut m: BTreeMap<String, Value> = BTreeMap::new();
        for pair in args.chunks(2) {
            let v = pair.get(1).cloned().unwrap_or(Value::from(""));
            m.insert(strval(&pair[0]), v);
        }
        Value::from(m)
    });
    env.add_function("merge", move |dst: Value, srcs: Rest<Value>| {
        merge(b, &dst, &srcs, false)
    });
    env.add_filter("merge", move |dst: Value, srcs: Rest<Value>| {
        merge(b, &dst, &srcs, false)
    });
    env.add_function("mergeOverwrite", move |dst: Value, srcs: Rest<Value>| {
        merge(b, &dst, &srcs, true)
    });
    env.add_filter("mergeOverwrite", move |dst: Value, srcs: Rest<Value>| {
        merge(b, &dst, &srcs, true)
    });
    let keys = |maps: Rest<Value>| -> Result<Value, Error> {
        let mut out: Vec<Value> = Vec::new();
        for m in maps.iter() {
            for (k, _) in map_items(m)? {
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        Ok(Value::from(out))
    };
    env.add_function("keys", keys);
    env.add_filter("keys", keys);
    let has_key = |m: Value, k: Value| -> Result<bool, Error> {
        Ok(map_items(&m)?
            .iter()
            .any(|(key, _)| strval(key) == strval(&k)))
    };
    env.add_function("hasKey", has_key);
    env.add_filter("hasKey", has_key);
    let get = |m: Value, k: Value| -> Result<Value, Error> {
        Ok(map_items(&m)?
            .into_iter()
            .find(|(key, _)| strval(key) == strval(&k))
            .map_or(Value::from(""), |(_, v)| v))
    };
    env.add_function("get", get);
    env.add_filter("get", get);
    let pick = |m: Value, ks: Rest<Value>| -> Result<Value, Error> {
        let wanted: Vec<String> = ks.iter().map(strval).collect();
        Ok(Value::from_iter(
            map_items(&m)?
                .into_iter()
                .filter(|(k, _)| wanted.contains(&strval(k))),
        ))
    };
    env.add_function("pick", pick);
    env.add_filter("pick", pick);
    let omit = |m: Value, ks: Rest<Value>| -> Result<Value, Error> {
        let unwanted: Vec<String> = ks.iter().map(strval).collect();
        Ok(Value::from_iter(
            map_items(&m)?
                .into_iter()
                .filter(|(k, _)| !unwanted.contains(&strval(k))),
        ))
    };
    env.add_function("omit", omit);
    env.add_filter("omit", omit);
    let uniq = |l: Value| -> Result<Value, Error> {
        let mut out: Vec<Value> = Vec::new();
        for v in list_items(&l)? {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        Ok(Value::from(out))
    };
    env.add_function("uniq", uniq);
    env.add_filter("uniq", uniq);
    let sort_alpha = |l: Value| -> Result<Value, Error> {
        let mut out: Vec<String> = list_items(&l)?.iter().map(strval).collect();
        out.sort();
        Ok(Value::from(out))
    };
    env.add_function("sortAlpha", sort_alpha);
    env.add_filter("sortAlpha", sort_alpha);
    env.add_function("splitList", |sep: Value, s: Value| {
        Value::from(
            strval(&s)
                .split(strval(&sep).as_str())
                .map(str::to_string)
                .collect::<Vec<_>>(),
        )
    });
    env.add_filter("splitList", |s: Value, sep: Value| {
        Value::from(
            strval(&s)
                .split(strval(&sep).as_str())
                .map(str::to_string)
                .collect::<Vec<_>>(),
        )
    });
    let join = move |sep: Value, l: Value| -> Result<String, Error> {
        let sep = strval(&sep);
        let parts = bounded_strvals(b, "join", &list_items(&l)?)?;
        bounded_join(b, "join", &parts, &sep)
    };
    env.add_function("join", join);
    env.add_filter("join", move |l: Value, sep: Option<Value>| {
        join(sep.unwrap_or(Value::from("")), l)
    });
    env.add_function("until", move |n: i64| -> Result<Value, Error> {
        if n < 0 {
            return Err(op_err(format!("until: {n} is out of range")));
        }
        until_step(b, 0, n, 1)
    });
    env.add_function("untilStep", move |start: i64, stop: i64, step: i64| {
        until_step(b, start, stop, step)
    });
}
