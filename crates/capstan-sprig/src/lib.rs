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
pub mod conv;
pub mod dates;
pub mod defaults;
pub mod fmt;
pub mod math;
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
#[derive(Default)]
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
        math::register(&mut r);
        regex::register(&mut r);
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
        return Err(go_error(format!(
            "wrong number of args for {name}: want at least {min} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn arity_error(name: &str, want: usize, got: usize) -> Error {
    go_error(format!(
        "wrong number of args for {name}: want {want} got {got}"
    ))
}
