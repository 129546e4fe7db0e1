//! Defaults and failures: `default`, `required`, `fail`, `empty`, `coalesce`, `ternary`.

use minijinja::value::{Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use super::values::{empty, strval};
use crate::objects::{FailMarker, session};

pub(super) fn fail(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message).with_source(FailMarker)
}

pub(super) fn required(state: &State<'_, '_>, message: &Value, v: Value) -> Result<Value, Error> {
    if v.is_undefined() || v.is_none() || v.as_str() == Some("") {
        let message = strval(message);
        if session(state).is_ok_and(|s| s.linted(format!("Missing required value: {message}"))) {
            return Ok(Value::from(""));
        }
        return Err(fail(message));
    }
    Ok(v)
}

/// Registers the default and failure functions and filters.
pub(super) fn register(env: &mut Environment<'static>) {
    // Defaults and failures.
    env.add_function("default", |d: Value, v: Option<Value>| {
        let v = v.unwrap_or(Value::UNDEFINED);
        if empty(&v) { d } else { v }
    });
    env.add_filter(
        "default",
        |v: Value, d: Value| if empty(&v) { d } else { v },
    );
    env.add_function(
        "required",
        |state: &State<'_, '_>, msg: Value, v: Option<Value>| {
            required(state, &msg, v.unwrap_or(Value::UNDEFINED))
        },
    );
    env.add_filter("required", |state: &State<'_, '_>, v: Value, msg: Value| {
        required(state, &msg, v)
    });
    env.add_function(
        "fail",
        |state: &State<'_, '_>, msg: Value| -> Result<Value, Error> {
            let message = strval(&msg);
            if session(state).is_ok_and(|s| s.linted(format!("Fail: {message}"))) {
                return Ok(Value::from(""));
            }
            Err(fail(message))
        },
    );
    env.add_function("empty", |v: Value| empty(&v));
    env.add_filter("empty", |v: Value| empty(&v));
    env.add_function("coalesce", |args: Rest<Value>| {
        args.iter()
            .find(|v| !empty(v))
            .cloned()
            .unwrap_or(Value::from(()))
    });
    env.add_function(
        "ternary",
        |a: Value, b: Value, cond: Value| {
            if cond.is_true() { a } else { b }
        },
    );
    env.add_filter(
        "ternary",
        |cond: Value, a: Value, b: Value| {
            if cond.is_true() { a } else { b }
        },
    );
}
