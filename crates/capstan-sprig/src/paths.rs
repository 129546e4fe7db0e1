//! Sprig's path functions (`base`, `dir`, `ext`, `clean`, `isAbs`): Go's `path` package, on
//! slash-separated paths; and their `os` forms (`osBase`, ...: Go's `path/filepath`, which on
//! the Linux that Helm runs on is the same).

use minijinja::{Error, State, Value};

use crate::Registry;

/// Registers `base`, `dir`, `ext`, `clean`, `isAbs` and the `os` forms.
pub fn register(r: &mut Registry) {
    r.add("osBase", |_: &State<'_, '_>, a: &[Value]| {
        one(a, "osBase", base)
    });
    r.add("osDir", |_: &State<'_, '_>, a: &[Value]| {
        one(a, "osDir", dir)
    });
    r.add("osExt", |_: &State<'_, '_>, a: &[Value]| {
        one(a, "osExt", ext)
    });
    r.add("osClean", |_: &State<'_, '_>, a: &[Value]| {
        one(a, "osClean", clean)
    });
    r.add("osIsAbs", |_: &State<'_, '_>, a: &[Value]| {
        crate::want_args("osIsAbs", a, 1)?;
        Ok(Value::from(string(a, 0)?.starts_with('/')))
    });
    r.add("base", |_: &State<'_, '_>, a: &[Value]| {
        one(a, "base", base)
    });
    r.add("dir", |_: &State<'_, '_>, a: &[Value]| one(a, "dir", dir));
    r.add("ext", |_: &State<'_, '_>, a: &[Value]| one(a, "ext", ext));
    r.add("clean", |_: &State<'_, '_>, a: &[Value]| {
        one(a, "clean", clean)
    });
    r.add("isAbs", |_: &State<'_, '_>, a: &[Value]| {
        crate::want_args("isAbs", a, 1)?;
        Ok(Value::from(string(a, 0)?.starts_with('/')))
    });
}

fn string(a: &[Value], i: usize) -> Result<String, Error> {
    crate::args::string_arg(a, i).map(str::to_string)
}

fn one(a: &[Value], name: &str, f: fn(&str) -> String) -> Result<Value, Error> {
    crate::want_args(name, a, 1)?;
    Ok(Value::from(f(&string(a, 0)?)))
}

/// Go's `path.Clean`.
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`.
pub fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// Go's `path.Dir`.
pub fn dir(p: &str) -> String {
    let cut = p.rfind('/').map_or(0, |i| i + 1);
    clean(&p[..cut])
}

/// Go's `path.Ext`.
pub fn ext(p: &str) -> String {
    for (i, c) in p.char_indices().rev() {
        if c == '/' {
            break;
        }
        if c == '.' {
            return p[i..].to_string();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_go_path() {
        assert_eq!(base("a/b.txt"), "b.txt");
        assert_eq!(base("a/b/"), "b");
        assert_eq!(base(""), ".");
        assert_eq!(base("///"), "/");
        assert_eq!(dir("a/b/c"), "a/b");
        assert_eq!(dir("c"), ".");
        assert_eq!(dir("/c"), "/");
        assert_eq!(ext("a/b.tar.gz"), ".gz");
        assert_eq!(ext("a.b/c"), "");
        assert_eq!(clean("a//b/./../c/"), "a/c");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("../../a"), "../../a");
    }
}
