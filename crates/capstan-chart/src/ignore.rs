//! `.helmignore`: Helm's ignore rules, matched as Helm matches them.
//!
//! One rule a line; blank lines and `#` comments are skipped. A rule starting with `!` negates,
//! a rule ending with `/` matches directories only, a rule starting with `/` or containing a `/`
//! matches the whole chart-relative path, any other rule matches the file's base name. Rules are
//! shell globs (`*`, `?`, `[...]`) where `*` never crosses a `/`; `**` is not supported, as in
//! Helm. The first rule that matches decides. Like Helm, `templates/.?*` (hidden files in
//! `templates/`) is always ignored.

use globset::{GlobBuilder, GlobMatcher};

use crate::{Error, Result};

#[derive(Debug, Clone)]
struct Rule {
    negate: bool,
    dir_only: bool,
    base_name: bool,
    glob: GlobMatcher,
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
        let negate = rule.starts_with('!');
        if negate {
            rule = &rule[1..];
        }
        let dir_only = rule.len() > 1 && rule.ends_with('/');
        if dir_only {
            rule = &rule[..rule.len() - 1];
        }
        let base_name = !rule.contains('/');
        let rule = rule.strip_prefix('/').unwrap_or(rule);
        let pattern = rule.replace("[^", "[!");
        let glob = GlobBuilder::new(&pattern)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| Error::Ignore {
                line: number,
                message: format!("invalid pattern {rule:?}: {e}"),
            })?
            .compile_matcher();
        self.rules.push(Rule {
            negate,
            dir_only,
            base_name,
            glob,
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
            if rule.dir_only && !is_dir {
                continue;
            }
            let subject = if rule.base_name { base } else { path };
            if rule.glob.is_match(subject) {
                return !rule.negate;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_rules() {
        let ig = HelmIgnore::parse(
            "# comment\n\n*.bak\n!keep.bak\n.git/\n/secret.txt\ndocs/*.md\ntmp?\n[^a]x\n",
        )
        .unwrap();
        let cases = [
            ("a.bak", false, true),
            ("sub/dir/b.bak", false, true),
            ("keep.bak", false, true), // first match (*.bak) wins, as in Helm
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
        let neg = HelmIgnore::parse("!keep.bak\n*.bak\n").unwrap();
        assert!(!neg.ignored("keep.bak", false));
        assert!(neg.ignored("x.bak", false));
    }

    #[test]
    fn double_star_is_an_error_with_line() {
        let e = HelmIgnore::parse("ok\n**/x\n").unwrap_err().to_string();
        assert!(e.starts_with(".helmignore:2:"), "{e}");
    }
}
