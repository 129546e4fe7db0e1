//! Helm's function library (Sprig and Helm's own) for minijinja, one family a file.
//!
//! Each function is registered as a function with Helm's argument order (`default(d, v)`,
//! `indent(4, s)`, `replace(old, new, s)`) and, where a pipeline reads naturally, as a filter
//! that takes the piped value first, as Helm's pipelines do (`v | default(d)`, `s | indent(4)`,
//! `s | replace(old, new)`). Semantics follow Sprig: "empty" is nil, false, 0, "" or an empty
//! list or map; maps iterate in key order.
//!
//! Every function that can build a result much larger than its arguments checks the size first
//! ([`bounds`]); [`values`] holds the Go-like readings of values the families share.

mod bounds;
mod collections;
mod defaults;
mod encodings;
mod lookup;
mod numbers;
mod patterns;
mod printf;
mod seeded;
mod serialize;
mod strings;
mod templates;
mod values;

use minijinja::Environment;

use crate::context::RenderLimits;

pub(crate) use bounds::check_size;
pub(crate) use values::strval;

/// Registers every function and filter on `env`.
pub(crate) fn register(env: &mut Environment<'static>, limits: &RenderLimits) {
    let b = bounds::Bounds::new(limits);
    serialize::register(env, b);
    strings::register(env, b);
    defaults::register(env);
    encodings::register(env, b);
    numbers::register(env);
    collections::register(env, b);
    patterns::register(env, b);
    seeded::register(env);
    templates::register(env);
    lookup::register(env);
}

#[cfg(test)]
mod tests {
    use minijinja::Error;
    use minijinja::value::Value;

    use super::bounds::{TEST as B, bounded_json};
    use super::collections::until_step;
    use super::patterns::regex_replace_all;
    use super::strings::{indent, quote_all, repeat, replace};
    use super::*;

    #[test]
    fn growth_is_bounded_before_allocation() {
        let limit = |r: Result<String, Error>| {
            let e = match r {
                Ok(s) => panic!("built {} bytes", s.len()),
                Err(e) => e,
            };
            assert!(
                e.to_string().contains("limit of 1048576 bytes per string"),
                "{e}"
            );
        };
        limit(indent(B, usize::MAX / 2, "a\nb"));
        limit(printf::printf(B, "%999999999999d", &[Value::from(1)]));
        limit(printf::printf(B, "%.99999999f", &[Value::from(1.5)]));
        limit(replace(B, &"ab".repeat(1000), "", &"x".repeat(1000)));
        limit(repeat(B, i64::MAX, "ab"));
        limit(regex_replace_all(
            B,
            "a",
            &"a".repeat(2000),
            &"$0".repeat(1000),
        ));
        let big = Value::from("x".repeat(300_000));
        let list = Value::from(vec![big.clone(), big.clone(), big.clone(), big]);
        assert!(bounded_json(B, "toYaml", &list).is_err());
        assert!(quote_all(B, std::slice::from_ref(&list), false).is_err());
        assert_eq!(repeat(B, 3, "ab").unwrap(), "ababab");
        assert_eq!(replace(B, "a-b", "-", "+").unwrap(), "a+b");
        let e = until_step(B, 0, i64::MAX, 1).unwrap_err();
        assert!(e.to_string().contains("limit of 1000 items"), "{e}");
        let steps: Vec<i64> = until_step(B, 10, 0, -3)
            .unwrap()
            .try_iter()
            .unwrap()
            .map(|v| i64::try_from(v).unwrap())
            .collect();
        assert_eq!(steps, [10, 7, 4, 1]);
    }
}
