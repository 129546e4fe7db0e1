//! Arguments passed to typed Go parameters, as text/template's reflection checks them.
//!
//! A Sprig function declared `trunc(c int, s string)` accepts only an `int` and a `string`:
//! text/template rejects anything else before calling it, with `wrong type for value;
//! expected int; got float64` (a nil from a map reads as `got interface {}`). That error is
//! text/template's, positioned at the argument rather than `error calling trunc:`; it is
//! marked with [`crate::ArgError`] (and its index) so the engine can tell the two apart.

use minijinja::{Error, Value};

use crate::fmt::type_name;
use crate::value::{Kind, Num, is_nil, kind, num};

/// Go's error for argument `i` that does not convert to the parameter type `want`: `wrong
/// type for value; expected {want}; got {type}` (a nil read from a map is `got interface {}`),
/// or, for an untyped nil (a pipeline's nil value), `invalid value; expected {want}`. Marked
/// with [`crate::ArgError`] so the engine reports it at the argument.
pub fn wrong_type(i: usize, want: &str, v: &Value) -> Error {
    if v.is_undefined() {
        return crate::arg_error(i, format!("invalid value; expected {want}"));
    }
    let got = if is_nil(v) {
        "interface {}".to_string()
    } else {
        type_name(v)
    };
    crate::arg_error(
        i,
        format!("wrong type for value; expected {want}; got {got}"),
    )
}

/// Argument `i` for a Go `string` parameter.
pub fn string_arg(args: &[Value], i: usize) -> Result<&str, Error> {
    let v = &args[i];
    match v.as_str() {
        Some(s) if kind(v) == Kind::String => Ok(s),
        _ => Err(wrong_type(i, "string", v)),
    }
}

/// Argument `i` for a Go `int` parameter (an `int64` or a `float64` is refused, as in Go).
pub fn int_arg(args: &[Value], i: usize) -> Result<i64, Error> {
    match num(&args[i]) {
        Some(Num::Int(n)) => Ok(n),
        _ => Err(wrong_type(i, "int", &args[i])),
    }
}

/// Argument `i` for a Go `bool` parameter.
pub fn bool_arg(args: &[Value], i: usize) -> Result<bool, Error> {
    match kind(&args[i]) {
        Kind::Bool => Ok(args[i].is_true()),
        _ => Err(wrong_type(i, "bool", &args[i])),
    }
}

/// Argument `i` for a Go `float64` parameter.
pub fn float_arg(args: &[Value], i: usize) -> Result<f64, Error> {
    match num(&args[i]) {
        Some(Num::Float(f)) => Ok(f),
        _ => Err(wrong_type(i, "float64", &args[i])),
    }
}

/// Argument `i` for a Go `[]interface{}` parameter (nil is an empty slice).
pub fn list_arg(args: &[Value], i: usize) -> Result<Vec<Value>, Error> {
    if is_nil(&args[i]) {
        return Ok(Vec::new());
    }
    crate::value::as_list(&args[i]).ok_or_else(|| wrong_type(i, "[]interface {}", &args[i]))
}

/// A Go `string` result from bytes that may have been cut inside a UTF-8 sequence (Go keeps
/// the bytes; a Rust string cannot, so a broken sequence becomes U+FFFD).
pub fn string_from_bytes(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_arg_type_error(e: &Error) -> bool {
        std::error::Error::source(e).is_some_and(|s| s.is::<crate::ArgError>())
    }

    #[test]
    fn type_errors_are_marked() {
        let err = string_arg(&[crate::value::float64(3.0)], 0).unwrap_err();
        assert!(is_arg_type_error(&err));
        assert_eq!(
            err.detail(),
            Some("wrong type for value; expected string; got float64")
        );
        let err = int_arg(&[crate::value::nil()], 0).unwrap_err();
        assert_eq!(
            err.detail(),
            Some("wrong type for value; expected int; got interface {}")
        );
        assert!(!is_arg_type_error(&crate::go_error("x")));
    }
}
