//! Numbers: conversions (`int`, `int64`, `atoi`, `float64`) and integer arithmetic.

use minijinja::value::{Rest, Value};
use minijinja::{Environment, Error};

use super::values::{int_args, op_err, to_float, to_int};

/// Registers the number functions and filters.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_function("int", |v: Value| to_int(&v));
    env.add_filter("int", |v: Value| to_int(&v));
    env.add_function("int64", |v: Value| to_int(&v));
    env.add_filter("int64", |v: Value| to_int(&v));
    env.add_function("atoi", |v: Value| to_int(&v));
    env.add_function("float64", |v: Value| to_float(&v));
    env.add_filter("float64", |v: Value| to_float(&v));

    // Numbers.
    env.add_function("add", |args: Rest<Value>| {
        int_args(&args).iter().sum::<i64>()
    });
    env.add_function("add1", |v: Value| to_int(&v) + 1);
    env.add_function("sub", |a: Value, b: Value| to_int(&a) - to_int(&b));
    env.add_function("mul", |args: Rest<Value>| {
        int_args(&args).iter().product::<i64>()
    });
    env.add_function("div", |a: Value, b: Value| -> Result<i64, Error> {
        to_int(&a)
            .checked_div(to_int(&b))
            .ok_or_else(|| op_err("div: division by zero"))
    });
    env.add_function("mod", |a: Value, b: Value| -> Result<i64, Error> {
        to_int(&a)
            .checked_rem(to_int(&b))
            .ok_or_else(|| op_err("mod: division by zero"))
    });
    env.add_function("max", |args: Rest<Value>| int_args(&args).into_iter().max());
    env.add_function("min", |args: Rest<Value>| int_args(&args).into_iter().min());
}
