//! Regular expressions and version constraints: `regexMatch`, `regexReplaceAll`, `semverCompare`.

use minijinja::value::Value;
use minijinja::{Environment, Error};

use super::bounds::Bounds;
use super::values::{op_err, strval};

/// Regex replacement that stops growing its result once it passes the string limit.
pub(super) fn regex_replace_all(b: Bounds, re: &str, s: &str, repl: &str) -> Result<String, Error> {
    let re = regex(re)?;
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(s) {
        let m = caps.get(0).expect("group 0 always matches");
        out.push_str(&s[last..m.start()]);
        caps.expand(repl, &mut out);
        last = m.end();
        b.string("regexReplaceAll", out.len())?;
    }
    out.push_str(&s[last..]);
    b.string("regexReplaceAll", out.len())?;
    Ok(out)
}

pub(super) fn regex(pattern: &str) -> Result<regex::Regex, Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| op_err(format!("invalid regular expression {pattern:?}: {e}")))
}

pub(super) fn semver_compare(constraint: &str, version: &str) -> Result<bool, Error> {
    let c = capstan_chart::constraint::Constraint::parse(constraint)
        .map_err(|e| op_err(e.to_string()))?;
    c.matches_str(version).map_err(|e| op_err(e.to_string()))
}

/// Registers the regular expression and version functions and filters.
pub(super) fn register(env: &mut Environment<'static>, b: Bounds) {
    // Regular expressions and versions.
    env.add_function("regexMatch", |re: Value, s: Value| -> Result<bool, Error> {
        Ok(regex(&strval(&re))?.is_match(&strval(&s)))
    });
    env.add_filter("regexMatch", |s: Value, re: Value| -> Result<bool, Error> {
        Ok(regex(&strval(&re))?.is_match(&strval(&s)))
    });
    env.add_function(
        "regexReplaceAll",
        move |re: Value, s: Value, repl: Value| -> Result<String, Error> {
            regex_replace_all(b, &strval(&re), &strval(&s), &strval(&repl))
        },
    );
    env.add_filter(
        "regexReplaceAll",
        move |s: Value, re: Value, repl: Value| -> Result<String, Error> {
            regex_replace_all(b, &strval(&re), &strval(&s), &strval(&repl))
        },
    );
    env.add_function("semverCompare", |c: Value, v: Value| {
        semver_compare(&strval(&c), &strval(&v))
    });
    env.add_filter("semverCompare", |v: Value, c: Value| {
        semver_compare(&strval(&c), &strval(&v))
    });
}
