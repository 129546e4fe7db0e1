//! String functions: layout (`indent`, `nindent`), quoting, trimming, case, `replace`, `repeat`, `print`, `cat`, `toString`.

use capstan_sprig::fmt::go_quote;
use minijinja::value::{Rest, Value, ValueKind};
use minijinja::{Environment, Error};

use super::bounds::{Bounds, bounded_join, bounded_strval, bounded_strvals};
use super::printf::printf;
use super::values::strval;

pub(super) fn quote_all(b: Bounds, args: &[Value], single: bool) -> Result<String, Error> {
    let parts: Vec<String> = bounded_strvals(b, "quote", args)?
        .into_iter()
        .map(|s| {
            if single {
                format!("'{s}'")
            } else {
                go_quote(&s)
            }
        })
        .collect();
    bounded_join(b, "quote", &parts, " ")
}

pub(super) fn indent(b: Bounds, n: usize, s: &str) -> Result<String, Error> {
    let lines = s.bytes().filter(|c| *c == b'\n').count() + 1;
    b.string(
        "indent",
        n.saturating_mul(lines)
            .saturating_add(s.len())
            .saturating_add(1),
    )?;
    let pad = " ".repeat(n);
    Ok(format!("{pad}{}", s.replace('\n', &format!("\n{pad}"))))
}

/// Helm's `replace`: every `old` in `s` becomes `new`, bounded in size.
pub(super) fn replace(b: Bounds, s: &str, old: &str, new: &str) -> Result<String, Error> {
    let count = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    b.string(
        "replace",
        s.len().saturating_add(count.saturating_mul(new.len())),
    )?;
    Ok(s.replace(old, new))
}

/// Sprig's `repeat`: `s` `count` times, bounded in size.
pub(super) fn repeat(b: Bounds, count: i64, s: &str) -> Result<String, Error> {
    let count = usize::try_from(count.max(0)).unwrap_or(usize::MAX);
    b.string("repeat", count.saturating_mul(s.len()))?;
    Ok(s.repeat(count))
}

pub(super) fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric() && c != '\'' && c != '_';
    }
    out
}

pub(super) fn trunc(n: i64, s: &str) -> String {
    let count = s.chars().count() as i64;
    if n >= 0 {
        s.chars().take(n as usize).collect()
    } else if -n >= count {
        s.to_string()
    } else {
        s.chars().skip((count + n) as usize).collect()
    }
}

pub(super) fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = a.kind() == ValueKind::String;
        if i > 0 && !is_str && args[i - 1].kind() != ValueKind::String {
            out.push(' ');
        }
        out.push_str(&strval(a));
    }
    out
}

/// Registers the layout and string functions and filters.
pub(super) fn register(env: &mut Environment<'static>, b: Bounds) {
    // Layout.
    env.add_function("indent", move |n: usize, s: Value| {
        indent(b, n, &bounded_strval(b, "indent", &s)?)
    });
    env.add_filter("indent", move |s: Value, n: usize| {
        indent(b, n, &bounded_strval(b, "indent", &s)?)
    });
    env.add_function("nindent", move |n: usize, s: Value| {
        Ok::<_, Error>(format!(
            "\n{}",
            indent(b, n, &bounded_strval(b, "nindent", &s)?)?
        ))
    });
    env.add_filter("nindent", move |s: Value, n: usize| {
        Ok::<_, Error>(format!(
            "\n{}",
            indent(b, n, &bounded_strval(b, "nindent", &s)?)?
        ))
    });
    env.add_function("quote", move |args: Rest<Value>| quote_all(b, &args, false));
    env.add_filter("quote", move |v: Value| quote_all(b, &[v], false));
    env.add_function("squote", move |args: Rest<Value>| quote_all(b, &args, true));
    env.add_filter("squote", move |v: Value| quote_all(b, &[v], true));

    // Strings.
    env.add_function("trunc", |n: i64, s: Value| trunc(n, &strval(&s)));
    env.add_filter("trunc", |s: Value, n: i64| trunc(n, &strval(&s)));
    env.add_function("trim", |s: Value| strval(&s).trim().to_string());
    env.add_filter("trim", |s: Value| strval(&s).trim().to_string());
    env.add_function("trimPrefix", |p: Value, s: Value| {
        let (p, s) = (strval(&p), strval(&s));
        s.strip_prefix(p.as_str()).unwrap_or(&s).to_string()
    });
    env.add_filter("trimPrefix", |s: Value, p: Value| {
        let (p, s) = (strval(&p), strval(&s));
        s.strip_prefix(p.as_str()).unwrap_or(&s).to_string()
    });
    env.add_function("trimSuffix", |p: Value, s: Value| {
        let (p, s) = (strval(&p), strval(&s));
        s.strip_suffix(p.as_str()).unwrap_or(&s).to_string()
    });
    env.add_filter("trimSuffix", |s: Value, p: Value| {
        let (p, s) = (strval(&p), strval(&s));
        s.strip_suffix(p.as_str()).unwrap_or(&s).to_string()
    });
    env.add_function("upper", |s: Value| strval(&s).to_uppercase());
    env.add_filter("upper", |s: Value| strval(&s).to_uppercase());
    env.add_function("lower", |s: Value| strval(&s).to_lowercase());
    env.add_filter("lower", |s: Value| strval(&s).to_lowercase());
    env.add_function("title", |s: Value| title(&strval(&s)));
    env.add_filter("title", |s: Value| title(&strval(&s)));
    env.add_function("replace", move |old: Value, new: Value, s: Value| {
        replace(b, &strval(&s), &strval(&old), &strval(&new))
    });
    env.add_filter("replace", move |s: Value, old: Value, new: Value| {
        replace(b, &strval(&s), &strval(&old), &strval(&new))
    });
    env.add_function("repeat", move |count: i64, s: Value| {
        repeat(b, count, &strval(&s))
    });
    env.add_filter("repeat", move |s: Value, count: i64| {
        repeat(b, count, &strval(&s))
    });
    env.add_function("contains", |sub: Value, s: Value| {
        strval(&s).contains(&strval(&sub))
    });
    env.add_filter("contains", |s: Value, sub: Value| {
        strval(&s).contains(&strval(&sub))
    });
    env.add_function("hasPrefix", |p: Value, s: Value| {
        strval(&s).starts_with(&strval(&p))
    });
    env.add_filter("hasPrefix", |s: Value, p: Value| {
        strval(&s).starts_with(&strval(&p))
    });
    env.add_function("hasSuffix", |p: Value, s: Value| {
        strval(&s).ends_with(&strval(&p))
    });
    env.add_filter("hasSuffix", |s: Value, p: Value| {
        strval(&s).ends_with(&strval(&p))
    });
    env.add_function("printf", move |f: Value, args: Rest<Value>| {
        printf(b, &strval(&f), &args)
    });
    env.add_function("print", move |args: Rest<Value>| {
        bounded_strvals(b, "print", &args)?;
        Ok::<_, Error>(sprint(&args))
    });
    env.add_function("cat", move |args: Rest<Value>| {
        bounded_join(b, "cat", &bounded_strvals(b, "cat", &args)?, " ")
    });
    env.add_function("toString", move |v: Value| {
        bounded_strval(b, "toString", &v)
    });
    env.add_filter("toString", move |v: Value| {
        bounded_strval(b, "toString", &v)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funcs::bounds::TEST as B;

    #[test]
    fn helpers() {
        assert_eq!(title("hello wide world"), "Hello Wide World");
        assert_eq!(trunc(3, "abcdef"), "abc");
        assert_eq!(trunc(-2, "abcdef"), "ef");
        assert_eq!(trunc(10, "abc"), "abc");
        assert_eq!(indent(B, 2, "a\nb").unwrap(), "  a\n  b");
        assert_eq!(go_quote("a\"b\n"), "\"a\\\"b\\n\"");
    }
}
