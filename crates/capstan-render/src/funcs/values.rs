//! Go-like readings of minijinja values the functions share: text, truth, numbers, maps, lists.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

pub(super) fn op_err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// The string form Sprig's `strval` gives: nil is empty, strings are themselves.
pub(crate) fn strval(v: &Value) -> String {
    if v.is_undefined() || v.is_none() {
        return String::new();
    }
    if let Some(s) = v.as_str() {
        return s.to_string();
    }
    if v.kind() == ValueKind::Bool {
        return v.is_true().to_string();
    }
    if let Some(b) = v.as_bytes() {
        return String::from_utf8_lossy(b).into_owned();
    }
    v.to_string()
}

pub(super) fn empty(v: &Value) -> bool {
    !v.is_true()
}

pub(super) fn to_json(v: &Value) -> Result<serde_json::Value, Error> {
    serde_json::to_value(v).map_err(|e| op_err(format!("cannot convert value to data: {e}")))
}

pub(super) fn from_json(j: &serde_json::Value) -> Value {
    Value::from_serialize(j)
}

pub(super) fn to_int(v: &Value) -> i64 {
    match v.kind() {
        ValueKind::Bool => i64::from(v.is_true()),
        ValueKind::Number => {
            if let Ok(i) = i64::try_from(v.clone()) {
                i
            } else {
                f64::try_from(v.clone()).map_or(0, |f| f as i64)
            }
        }
        ValueKind::String => {
            let s = strval(v);
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().map(|f| f as i64))
                .unwrap_or(0)
        }
        _ => 0,
    }
}

pub(super) fn to_float(v: &Value) -> f64 {
    match v.kind() {
        ValueKind::Bool => f64::from(u8::from(v.is_true())),
        ValueKind::Number => f64::try_from(v.clone()).unwrap_or(0.0),
        ValueKind::String => strval(v).trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

pub(super) fn map_items(v: &Value) -> Result<Vec<(Value, Value)>, Error> {
    if v.kind() != ValueKind::Map {
        return Err(op_err(format!("expected a map, got {}", v.kind())));
    }
    let mut out = Vec::new();
    for k in v.try_iter()? {
        let item = v.get_item(&k)?;
        out.push((k, item));
    }
    Ok(out)
}

pub(super) fn list_items(v: &Value) -> Result<Vec<Value>, Error> {
    if v.is_none() || v.is_undefined() {
        return Ok(Vec::new());
    }
    if matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable) {
        return Ok(v.try_iter()?.collect());
    }
    Err(op_err(format!("expected a list, got {}", v.kind())))
}

pub(super) fn int_args(args: &[Value]) -> Vec<i64> {
    args.iter().map(to_int).collect()
}
