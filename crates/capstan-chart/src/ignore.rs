//! `.helmignore`: Helm's ignore rules, matched as Helm matches them.
//!
//! One rule a line; blank lines and `#` comments are skipped. A rule ending with `/` matches
//! directories only, a rule starting with `/` or containing a `/` matches the whole
//! chart-relative path, any other rule matches the file's base name. Rules are shell globs
//! (`*`, `?`, `[...]`) where `*` never crosses a `/`; `**` is not supported, as in Helm. Rules
//! are tried in order: the first that matches ignores the path. A rule starting with `!` is
//! Helm's negation, which is not gitignore's: a path it does NOT match is ignored there and
//! then (as is any file, for a directory-only one), a path it matches goes on to the next rule;
//! so `!keep.bak` ignores every other file, `Chart.yaml` too. Like Helm, `templates/.?*`
//! (hidden files in `templates/`) is always ignored.

use crate::{Error, Result};

#[derive(Debug, Clone)]
struct Rule {
    negate: bool,
    dir_only: bool,
    base_name: bool,
    pattern: Pattern,
}

/// A rule's pattern, with the shapes most rules have matched directly.
#[derive(Debug, Clone)]
enum Pattern {
    /// No special characters: the name itself (`.git`, `OWNERS`).
    Literal(String),
    /// `*` then no special characters: a suffix within one path segment (`*.tgz`).
    Suffix(String),
    /// Anything else, matched as Go's `filepath.Match`.
    Glob(String),
}

impl Pattern {
    fn new(pattern: &str) -> Pattern {
        let special = |s: &str| s.contains(['*', '?', '[', '\\']);
        match pattern.strip_prefix('*') {
            _ if !special(pattern) => Pattern::Literal(pattern.to_string()),
            Some(suffix) if !special(suffix) => Pattern::Suffix(suffix.to_string()),
            _ => Pattern::Glob(pattern.to_string()),
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Pattern::Literal(literal) => name == literal,
            Pattern::Suffix(suffix) => name.ends_with(suffix.as_str()) && !name.contains('/'),
            // A pattern that turns out malformed further on matches nothing, as in Helm.
            Pattern::Glob(glob) => glob_match(glob, name).unwrap_or(false),
        }
    }
}

/// A parsed `.helmignore`.
#[derive(Debug, Clone, Default)]
pub struct HelmIgnore {
    rules: Vec<Rule>,
}

impl HelmIgnore {
    /// Parses `.helmignore` text and adds Helm's default rule; errors name the line.
    pub fn parse(text: &str) -> Result<HelmIgnore> {
        let mut ignore = HelmIgnore::default();
        for (i, line) in text.lines().enumerate() {
            ignore.add(line, i + 1)?;
        }
        ignore.add("templates/.?*", 0)?;
        Ok(ignore)
    }

    /// Only Helm's default rule.
    pub fn with_defaults() -> HelmIgnore {
        HelmIgnore::parse("").unwrap_or_default()
    }

    fn add(&mut self, line: &str, number: usize) -> Result<()> {
        let mut rule = line.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err(Error::Ignore {
                line: number,
                message: format!("double-star (**) syntax is not supported in {rule:?}"),
            });
        }
        // Helm checks a rule, as written, by matching it against "abc": what that match
        // reports malformed.
        if glob_match(rule, "abc").is_err() {
            return Err(Error::Ignore {
                line: number,
                message: format!("invalid pattern {rule:?}: syntax error in pattern"),
            });
        }
        let negate = rule.starts_with('!');
        if negate {
            rule = &rule[1..];
        }
        let dir_only = rule.ends_with('/');
        if dir_only {
            rule = &rule[..rule.len() - 1];
        }
        let base_name = !rule.contains('/');
        let rule = rule.strip_prefix('/').unwrap_or(rule);
        self.rules.push(Rule {
            negate,
            dir_only,
            base_name,
            pattern: Pattern::new(rule),
        });
        Ok(())
    }

    /// Whether the chart-relative `path` (with `/` separators) is ignored.
    pub fn ignored(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        let base = path.rsplit('/').next().unwrap_or(path);
        for rule in &self.rules {
            let subject = if rule.base_name { base } else { path };
            if rule.negate {
                if (rule.dir_only && !is_dir) || !rule.pattern.matches(subject) {
                    return true;
                }
                continue;
            }
            if rule.dir_only && !is_dir {
                continue;
            }
            if rule.pattern.matches(subject) {
                return true;
            }
        }
        false
    }
}

/// A malformed pattern (Go's `filepath.ErrBadPattern`).
#[derive(Debug, PartialEq, Eq)]
struct BadPattern;

/// Go's `filepath.Match`: whether `name` matches the shell pattern `pattern` (`*` any run of
/// characters but `/`, `?` one character but `/`, `[...]` / `[^...]` a class of characters and
/// ranges, `\` an escape). Like Go, a pattern is read a chunk (a run up to the next `*`) at a
/// time, and only as far as matching goes: a malformed chunk after a failed one goes unnoticed.
fn glob_match(pattern: &str, mut name: &str) -> std::result::Result<bool, BadPattern> {
    let mut rest = pattern;
    while !rest.is_empty() {
        let (star, chunk, after) = split_chunk(rest);
        rest = after;
        if star && chunk.is_empty() {
            return Ok(!name.contains('/'));
        }
        let last = rest.is_empty();
        match match_chunk(chunk, name)? {
            Some(left) if left.is_empty() || !last => {
                name = left;
                continue;
            }
            _ => {}
        }
        if !star {
            return Ok(false);
        }
        // The star takes one more character each time, never a `/`.
        let mut found = None;
        for (i, c) in name.char_indices() {
            if c == '/' {
                break;
            }
            if let Some(left) = match_chunk(chunk, &name[i + c.len_utf8()..])?
                && (!last || left.is_empty())
            {
                found = Some(left);
                break;
            }
        }
        match found {
            Some(left) => name = left,
            None => return Ok(false),
        }
    }
    Ok(name.is_empty())
}

/// The leading stars of `pattern` (whether there were any), the chunk up to the next star
/// outside a class, and what follows.
fn split_chunk(pattern: &str) -> (bool, &str, &str) {
    let trimmed = pattern.trim_start_matches('*');
    let star = trimmed.len() < pattern.len();
    let bytes = trimmed.as_bytes();
    let mut in_class = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if i + 1 < bytes.len() => i += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'*' if !in_class => return (star, &trimmed[..i], &trimmed[i..]),
            _ => {}
        }
        i += 1;
    }
    (star, trimmed, "")
}

/// Matches `chunk` (no star) against the start of `name`: what is left of `name`, `None`
/// for no match. The whole chunk is read for its syntax even after a mismatch.
fn match_chunk<'a>(chunk: &str, name: &'a str) -> std::result::Result<Option<&'a str>, BadPattern> {
    let mut failed = false;
    let mut s = name;
    let mut p = chunk;
    while let Some(c) = p.chars().next() {
        failed = failed || s.is_empty();
        match c {
            '[' => {
                let got = if failed { None } else { s.chars().next() };
                if let Some(g) = got {
                    s = &s[g.len_utf8()..];
                }
                p = &p[1..];
                let negated = p.starts_with('^');
                if negated {
                    p = &p[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if ranges > 0 && p.starts_with(']') {
                        p = &p[1..];
                        break;
                    }
                    let (lo, after) = class_char(p)?;
                    p = after;
                    let mut hi = lo;
                    if let Some(after) = p.strip_prefix('-') {
                        (hi, p) = class_char(after)?;
                    }
                    matched = matched || got.is_some_and(|g| lo <= g && g <= hi);
                    ranges += 1;
                }
                failed = failed || matched == negated;
            }
            '?' => {
                if !failed {
                    let g = s.chars().next().unwrap_or('/');
                    failed = g == '/';
                    s = &s[g.len_utf8().min(s.len())..];
                }
                p = &p[1..];
            }
            _ => {
                let literal = if c == '\\' {
                    p = &p[1..];
                    p.chars().next().ok_or(BadPattern)?
                } else {
                    c
                };
                if !failed {
                    match s.chars().next() {
                        Some(g) if g == literal => s = &s[g.len_utf8()..],
                        _ => failed = true,
                    }
                }
                p = &p[literal.len_utf8()..];
            }
        }
    }
    Ok((!failed).then_some(s))
}

/// One character of a class (`\` escapes it) and the pattern after it; a class may not end
/// there (Go's `getEsc`).
fn class_char(p: &str) -> std::result::Result<(char, &str), BadPattern> {
    let p = match p.as_bytes().first() {
        None | Some(b'-' | b']') => return Err(BadPattern),
        Some(b'\\') => &p[1..],
        Some(_) => p,
    };
    let c = p.chars().next().ok_or(BadPattern)?;
    let after = &p[c.len_utf8()..];
    if after.is_empty() {
        return Err(BadPattern);
    }
    Ok((c, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_rules() {
        let ig =
            HelmIgnore::parse("# comment\n\n*.bak\n.git/\n/secret.txt\ndocs/*.md\ntmp?\n[^a]x\n")
                .unwrap();
        let cases = [
            ("a.bak", false, true),
            ("sub/dir/b.bak", false, true),
            (".git", true, true),
            (".git", false, false),
            ("secret.txt", false, true),
            ("sub/secret.txt", false, false),
            ("docs/a.md", false, true),
            ("docs/deep/a.md", false, false),
            ("tmp1", false, true),
            ("bx", false, true),
            ("ax", false, false),
            ("templates/.hidden", false, true),
            ("templates/visible.yaml", false, false),
            (".", true, false),
        ];
        for (path, dir, want) in cases {
            assert_eq!(ig.ignored(path, dir), want, "{path}");
        }
    }

    /// Helm's negation (its `Rules.Ignore`), checked against `helm template` and `helm
    /// package`: a path the rule does not match is ignored, one it matches goes on to the
    /// next rule.
    #[test]
    fn negation_ignores_what_it_does_not_match() {
        let neg = HelmIgnore::parse("!*.yaml\n*.bak\n").unwrap();
        let cases = [
            ("Chart.yaml", false, false),
            ("templates/a.yaml", false, false),
            ("keep.bak", false, true),
            ("README.md", false, true),
            // Directories too: `templates` is not `*.yaml`.
            ("templates", true, true),
        ];
        for (path, dir, want) in cases {
            assert_eq!(neg.ignored(path, dir), want, "{path}");
        }
        // Matched by the negation, then ignored by the rule after it.
        let then = HelmIgnore::parse("!keep.bak\n*.bak\n").unwrap();
        assert!(then.ignored("keep.bak", false));
        assert!(then.ignored("Chart.yaml", false));
        // A directory-only negation ignores every file.
        let dirs = HelmIgnore::parse("!templates/\n").unwrap();
        assert!(!dirs.ignored("templates", true));
        assert!(dirs.ignored("Chart.yaml", false));
        assert!(dirs.ignored("other", true));
        // A rule of a lone `/` is a directory-only rule matching nothing.
        let slash = HelmIgnore::parse("/\n").unwrap();
        assert!(!slash.ignored("templates", true));
        assert!(!slash.ignored("Chart.yaml", false));
    }

    #[test]
    fn patterns_match_as_go_s_filepath_match() {
        let cases: &[(&str, &str, Result<bool, BadPattern>)] = &[
            ("abc", "abc", Ok(true)),
            ("*", "abc", Ok(true)),
            ("*c", "abc", Ok(true)),
            ("a*", "a", Ok(true)),
            ("a*", "abc", Ok(true)),
            ("a*", "ab/c", Ok(false)),
            ("a*/b", "abc/b", Ok(true)),
            ("a*/b", "a/c/b", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
            ("ab[c]", "abc", Ok(true)),
            ("ab[b-d]", "abc", Ok(true)),
            ("ab[e-g]", "abc", Ok(false)),
            ("ab[^c]", "abc", Ok(false)),
            ("ab[^b-d]", "abc", Ok(false)),
            ("ab[^e-g]", "abc", Ok(true)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "ab", Ok(false)),
            ("a?b", "a☺b", Ok(true)),
            ("a[^a]b", "a☺b", Ok(true)),
            ("a???b", "a☺b", Ok(false)),
            ("a[!a]b", "a!b", Ok(true)),
            ("a[!a]b", "axb", Ok(false)),
            ("[a-ζ]*", "α", Ok(true)),
            ("*[a-ζ]", "A", Ok(false)),
            ("a?b", "a/b", Ok(false)),
            ("a*b", "a/b", Ok(false)),
            ("[\\]a]", "]", Ok(true)),
            ("[\\-]", "-", Ok(true)),
            ("[x\\-]", "z", Ok(false)),
            ("[]a]", "]", Err(BadPattern)),
            ("[-]", "-", Err(BadPattern)),
            ("[x-]", "x", Err(BadPattern)),
            ("[a-b-c]", "a", Err(BadPattern)),
            ("[", "a", Err(BadPattern)),
            ("[^", "a", Err(BadPattern)),
            ("[^bc", "a", Err(BadPattern)),
            ("a[", "a", Err(BadPattern)),
            ("a[", "ab", Err(BadPattern)),
            ("a[", "x", Err(BadPattern)),
            ("a/b[", "x", Err(BadPattern)),
            ("*x", "xxx", Ok(true)),
            ("\\", "a", Err(BadPattern)),
            ("b*[", "abc", Ok(false)),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(&glob_match(pattern, name), want, "{pattern:?} {name:?}");
            if let Ok(want) = want {
                assert_eq!(
                    Pattern::new(pattern).matches(name),
                    *want,
                    "{pattern:?} {name:?}"
                );
            }
        }
        for (pattern, name) in [
            (".git", ".git"),
            ("*.tgz", "a.tgz"),
            ("*.tgz", ".tgz"),
            ("*.tgz", "a/b.tgz"),
            ("*.tgz", "a.tgz.x"),
            ("OWNERS", "OWNERS2"),
            ("*", "x"),
        ] {
            assert_eq!(
                Pattern::new(pattern).matches(name),
                glob_match(pattern, name).unwrap(),
                "{pattern:?} {name:?}"
            );
        }
    }

    #[test]
    fn double_star_is_an_error_with_line() {
        let e = HelmIgnore::parse("ok\n**/x\n").unwrap_err().to_string();
        assert!(e.starts_with(".helmignore:2:"), "{e}");
    }
}
