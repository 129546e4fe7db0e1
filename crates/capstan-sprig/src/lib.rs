//! Helm's Go-template function library with Go's value semantics, on minijinja values.
//!
//! capstan renders Helm's Go-template charts by translating them into minijinja templates
//! (`capstan-gotmpl`) and running them with a runtime that behaves as Go's `text/template`,
//! Sprig v3 and Helm do. This crate is that runtime's data model and function library:
//!
//! - [`value`]: Go's types on top of [`minijinja::Value`]: `nil`, `int` and `int64` kept apart,
//!   `float64`, maps that are shared and mutable in place ([`value::GoMap`], as Go maps are
//!   references), structs with Go field names ([`value::GoStruct`]), Go truthiness, `kindOf` /
//!   `typeOf` names, and conversion from and to JSON data.
//! - [`fmt`]: Go's `fmt` printing (`%v` of every kind, `printf`'s verbs and error forms).
//! - [`Registry`]: every function by its Go name, each a [`GoFn`] taking the evaluated
//!   arguments (Go checks arity and types at call time, so do these).
//!
//! Functions that need the running template (`include`, `tpl`, `required`, `fail`, `lookup`)
//! live with the engine in `capstan-render`; everything here is pure.
//!
//! # Invariants
//! - A function's error message is Go's / Sprig's / Helm's text for the same failure, without
//!   the `template: file:line:col: executing ... at <...>: error calling f:` prefix, which the
//!   engine adds from the Go source position.
//! - No I/O, no environment, no clock except where a Go function reads it (`now`, and only
//!   through the engine's session); randomness comes from the operating system's generator
//!   only in the functions that are random in Helm too.

pub mod args;
pub mod builtins;
pub mod case;
pub mod certs;
pub mod conv;
pub mod crypto;
pub mod dates;
pub mod defaults;
pub mod dicts;
pub mod encoding;
pub mod encodings;
pub mod fmt;
pub mod lists;
pub mod math;
pub mod paths;
pub mod pattern;
pub mod random;
pub mod regex;
pub mod semver;
pub mod strings;
#[cfg(test)]
mod testing;
pub mod value;

use std::collections::BTreeMap;

use minijinja::{Error, ErrorKind, State, Value};

/// A Go template function: the evaluated arguments in, a value or Go's error text out.
pub type GoFn = fn(&State<'_, '_>, &[Value]) -> Result<Value, Error>;

/// Every function of the library by its Go name.
#[derive(Default, Debug)]
pub struct Registry {
    functions: BTreeMap<&'static str, GoFn>,
}

impl Registry {
    /// All of Helm's functions that need no running template.
    pub fn helm() -> Registry {
        let mut r = Registry::default();
        fmt::register(&mut r);
        builtins::register(&mut r);
        conv::register(&mut r);
        strings::register(&mut r);
        defaults::register(&mut r);
        dicts::register(&mut r);
        crypto::register(&mut r);
        certs::register(&mut r);
        encodings::register(&mut r);
        lists::register(&mut r);
        random::register(&mut r);
        encoding::register(&mut r);
        math::register(&mut r);
        regex::register(&mut r);
        paths::register(&mut r);
        semver::register(&mut r);
        dates::register(&mut r);
        r
    }

    /// Adds (or replaces) `name`.
    pub fn add(&mut self, name: &'static str, f: GoFn) {
        self.functions.insert(name, f);
    }

    /// The function called `name`.
    pub fn get(&self, name: &str) -> Option<GoFn> {
        self.functions.get(name).copied()
    }

    /// Whether `name` is a function.
    pub fn contains(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }

    /// Every function, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, GoFn)> + '_ {
        self.functions.iter().map(|(k, v)| (*k, *v))
    }
}

/// An error with Go's message `msg` (what follows `error calling f: ` in Helm's output).
pub fn go_error(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Go's arity check: `wrong number of args for NAME: want N got M`.
pub fn want_args(name: &str, args: &[Value], want: usize) -> Result<(), Error> {
    if args.len() != want {
        return Err(arity_error(name, want, args.len()));
    }
    Ok(())
}

/// Go's arity check for a variadic function: at least `min` arguments.
pub fn want_at_least(name: &str, args: &[Value], min: usize) -> Result<(), Error> {
    if args.len() < min {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "wrong number of args for {name}: want at least {min} got {}",
                args.len()
            ),
        )
        .with_source(ArityError));
    }
    Ok(())
}

fn arity_error(name: &str, want: usize, got: usize) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("wrong number of args for {name}: want {want} got {got}"),
    )
    .with_source(ArityError)
}

/// Go's error for an argument that does not convert to the parameter's type (`wrong type for
/// value; expected int; got float64`), which Go reports at argument `index` (0-based).
pub fn arg_error(index: usize, msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into()).with_source(ArgError(index))
}

/// Marks an error as a wrong argument count: Go reports it at the function's name, without
/// `error calling`.
#[derive(Debug)]
pub struct ArityError;

impl std::fmt::Display for ArityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("wrong number of arguments")
    }
}

impl std::error::Error for ArityError {}

/// Marks an error as a bad argument (by 0-based index): Go reports it at that argument.
#[derive(Debug)]
pub struct ArgError(pub usize);

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad argument {}", self.0)
    }
}

impl std::error::Error for ArgError {}
