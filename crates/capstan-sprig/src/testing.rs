//! Test helpers: Go values from a short notation, and calling a registered function.

use std::sync::{Arc, Mutex};

use minijinja::value::Rest;
use minijinja::{Environment, State, Value};

use crate::GoFn;

/// A test argument: `i:5` int, `I:5` int64, `f:1.5` float64, `s:x` string, `b:true`, `n:`
/// nil, `j:{..}` JSON data (numbers float64, as read from a values file).
pub fn arg(s: &str) -> Value {
    let (t, v) = s.split_at(2);
    match t {
        "i:" => crate::value::int(v.parse().unwrap()),
        "I:" => crate::value::int64(v.parse().unwrap()),
        "f:" => crate::value::float64(v.parse().unwrap()),
        "s:" => Value::from(v),
        "b:" => Value::from(v == "true"),
        "n:" => crate::value::nil(),
        "j:" => crate::value::from_json(
            &serde_json::from_str(v).unwrap(),
            crate::value::Numbers::Float64,
        ),
        _ => panic!("{s}"),
    }
}

/// Arguments from the short notation.
pub fn args(a: &[&str]) -> Vec<Value> {
    a.iter().map(|s| arg(s)).collect()
}

/// Calls `f` with `args` inside a render, as the engine does.
pub fn call_fn(f: GoFn, args: &[Value]) -> Result<Value, String> {
    let out: Arc<Mutex<Option<Result<Value, String>>>> = Arc::default();
    let slot = out.clone();
    let mut env = Environment::new();
    env.add_function("f", move |state: &State<'_, '_>, a: Rest<Value>| {
        let r = f(state, &a).map_err(|e| e.detail().unwrap_or_default().to_string());
        *slot.lock().unwrap() = Some(r);
        Value::from(())
    });
    let names: Vec<String> = (0..args.len()).map(|i| format!("a{i}")).collect();
    let ctx: std::collections::BTreeMap<String, Value> =
        names.iter().cloned().zip(args.iter().cloned()).collect();
    env.render_str(&format!("{{{{ f({}) }}}}", names.join(", ")), ctx)
        .unwrap();
    out.lock().unwrap().take().unwrap()
}

/// Calls the function registered as `name` in [`crate::Registry::helm`].
pub fn call(name: &str, a: &[&str]) -> Result<Value, String> {
    let f = crate::Registry::helm()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"));
    call_fn(f, &args(a))
}

/// `call`, the result printed with `%v` (errors as `ERR:` and the message).
pub fn show(name: &str, a: &[&str]) -> String {
    match call(name, a) {
        Ok(v) => crate::fmt::sprint_value(&v),
        Err(e) => format!("ERR:{e}"),
    }
}
