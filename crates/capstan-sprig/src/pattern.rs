//! A compiled pattern: the `regex` crate's engine, built without its ahead-of-time DFA.
//!
//! `regex::Regex` is regex-automata's meta regex with a fixed configuration. For a small
//! pattern that regex also builds a fully compiled DFA, forwards and backwards, when
//! regex-automata is built with `dfa-build` (a feature other crates of this workspace turn on).
//! That makes compiling three to four times dearer (`-r\d+$|sha256:`: 64 µs against 24 µs),
//! and a chart's pattern is compiled once per render to match a few short strings, where the
//! lazy DFA the meta regex keeps anyway is as fast. [`Pattern`] is the same meta regex with
//! the same configuration, less that DFA: the same matches, captures and errors.

use std::sync::Arc;

use regex_automata::MatchKind;
use regex_automata::meta::{self, Regex};
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;

/// A compiled pattern (see the module docs). A clone shares the compiled program.
#[derive(Clone, Debug)]
pub struct Pattern {
    regex: Regex,
    pattern: Arc<str>,
}

/// A match, or a capture group's: its span of the haystack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found<'h> {
    haystack: &'h str,
    start: usize,
    end: usize,
}

impl<'h> Found<'h> {
    /// Where the match starts (a byte offset).
    pub fn start(&self) -> usize {
        self.start
    }

    /// Where the match ends (a byte offset, exclusive).
    pub fn end(&self) -> usize {
        self.end
    }

    /// The matched text.
    pub fn as_str(&self) -> &'h str {
        &self.haystack[self.start..self.end]
    }
}

/// One match's capture groups.
#[derive(Debug)]
pub struct Groups<'h> {
    haystack: &'h str,
    captures: Captures,
}

impl<'h> Groups<'h> {
    /// Group `index` (0 is the whole match), when it took part in the match.
    pub fn get(&self, index: usize) -> Option<Found<'h>> {
        self.captures.get_group(index).map(|span| Found {
            haystack: self.haystack,
            start: span.start,
            end: span.end,
        })
    }
}

impl Pattern {
    /// Compiles `pattern` (the `regex` crate's syntax) as `regex::Regex::new` does; an error's
    /// text is the `regex` crate's.
    pub fn new(pattern: &str) -> Result<Pattern, String> {
        // `regex::RegexBuilder`'s defaults, and what it sets for a `Regex` of `str`.
        let config = meta::Config::new()
            .nfa_size_limit(Some(10 * (1 << 20)))
            .hybrid_cache_capacity(2 * (1 << 20))
            .match_kind(MatchKind::LeftmostFirst)
            .utf8_empty(true)
            .dfa(false);
        let regex = meta::Builder::new()
            .configure(config)
            .syntax(syntax::Config::new().utf8(true))
            .build(pattern)
            .map_err(|error| match (error.size_limit(), error.syntax_error()) {
                (Some(limit), _) => {
                    format!("Compiled regex exceeds size limit of {limit} bytes.")
                }
                (None, Some(syntax)) => syntax.to_string(),
                (None, None) => error.to_string(),
            })?;
        Ok(Pattern {
            regex,
            pattern: Arc::from(pattern),
        })
    }

    /// The pattern compiled.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the pattern matches somewhere in `haystack`.
    pub fn is_match(&self, haystack: &str) -> bool {
        self.regex.is_match(haystack)
    }

    /// The leftmost-first match in `haystack`.
    pub fn find<'h>(&self, haystack: &'h str) -> Option<Found<'h>> {
        self.regex.find(haystack).map(|m| Found {
            haystack,
            start: m.start(),
            end: m.end(),
        })
    }

    /// Every successive non-overlapping match in `haystack` (as `regex::Regex::find_iter`).
    pub fn find_iter<'h>(&self, haystack: &'h str) -> impl Iterator<Item = Found<'h>> {
        self.regex.find_iter(haystack).map(move |m| Found {
            haystack,
            start: m.start(),
            end: m.end(),
        })
    }

    /// The capture groups of the leftmost-first match in `haystack`.
    pub fn captures<'h>(&self, haystack: &'h str) -> Option<Groups<'h>> {
        let mut captures = self.regex.create_captures();
        self.regex.captures(haystack, &mut captures);
        captures.is_match().then_some(Groups { haystack, captures })
    }

    /// The capture groups of every successive non-overlapping match in `haystack`.
    pub fn captures_iter<'h>(&self, haystack: &'h str) -> impl Iterator<Item = Groups<'h>> {
        self.regex
            .captures_iter(haystack)
            .map(move |captures| Groups { haystack, captures })
    }

    /// Each group's name, by index (None for the whole match and unnamed groups).
    pub fn capture_names(&self) -> impl Iterator<Item = Option<&str>> {
        self.regex
            .group_info()
            .pattern_names(regex_automata::PatternID::ZERO)
    }

    /// `haystack` with every match replaced by what `replace` appends for its groups (as
    /// `regex::Regex::replace_all`).
    pub fn replace_all(
        &self,
        haystack: &str,
        mut replace: impl FnMut(&Groups<'_>, &mut String),
    ) -> String {
        let mut out = String::with_capacity(haystack.len());
        let mut last = 0;
        for groups in self.captures_iter(haystack) {
            let Some(whole) = groups.get(0) else { continue };
            out.push_str(&haystack[last..whole.start]);
            replace(&groups, &mut out);
            last = whole.end;
        }
        out.push_str(&haystack[last..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATTERNS: &[&str] = &[
        r"[^0-9A-Za-z_]",
        r"(-?[^a-z0-9\-])+-?",
        r"\{(v[0-9])*[^}]*}}$",
        r"-r[0-9]+$|sha256:",
        r"(?P<first>[a-z]+)-(?P<second>[0-9]*)",
        r"a*",
        r"",
        r"(?i)é+|x",
        r"^\s*(=|!=|>|<)?\s*v?([0-9]+)(\.[0-9]+)?$",
    ];
    const HAYSTACKS: &[&str] = &[
        "",
        "abc",
        "my_release-name.v2",
        "nginx:1.25-r3",
        "sha256:abcd",
        "{{ include \"x\" . }}",
        "aaa-123 bbb-",
        "ÉéÉ xx",
        ">= v1.2",
        "a b\tc\n",
    ];

    /// Every method agrees with `regex::Regex` on every pattern and haystack.
    #[test]
    fn matches_as_the_regex_crate_does() {
        for p in PATTERNS {
            let ours = Pattern::new(p).unwrap();
            let theirs = regex::Regex::new(p).unwrap();
            assert_eq!(
                ours.capture_names().collect::<Vec<_>>(),
                theirs.capture_names().collect::<Vec<_>>(),
                "{p}"
            );
            for h in HAYSTACKS {
                assert_eq!(ours.is_match(h), theirs.is_match(h), "{p} on {h:?}");
                assert_eq!(
                    ours.find(h).map(|m| (m.start(), m.as_str())),
                    theirs.find(h).map(|m| (m.start(), m.as_str())),
                    "{p} on {h:?}"
                );
                assert_eq!(
                    ours.find_iter(h).map(|m| m.as_str()).collect::<Vec<_>>(),
                    theirs.find_iter(h).map(|m| m.as_str()).collect::<Vec<_>>(),
                    "{p} on {h:?}"
                );
                let groups = |n: usize| {
                    let ours: Vec<Vec<Option<&str>>> = ours
                        .captures_iter(h)
                        .map(|g| (0..n).map(|i| g.get(i).map(|m| m.as_str())).collect())
                        .collect();
                    let theirs: Vec<Vec<Option<&str>>> = theirs
                        .captures_iter(h)
                        .map(|g| (0..n).map(|i| g.get(i).map(|m| m.as_str())).collect())
                        .collect();
                    assert_eq!(ours, theirs, "{p} on {h:?}");
                };
                groups(theirs.captures_len());
                assert_eq!(
                    ours.captures(h).and_then(|g| g.get(1)).map(|m| m.as_str()),
                    theirs
                        .captures(h)
                        .and_then(|g| g.get(1))
                        .map(|m| m.as_str()),
                    "{p} on {h:?}"
                );
                assert_eq!(
                    ours.replace_all(h, |g, out| {
                        out.push('<');
                        out.push_str(g.get(0).map_or("", |m| m.as_str()));
                        out.push('>');
                    }),
                    theirs.replace_all(h, |c: &regex::Captures<'_>| format!("<{}>", &c[0])),
                    "{p} on {h:?}"
                );
            }
        }
    }

    #[test]
    fn errors_are_the_regex_crates() {
        for p in ["(", "a{2,1}", "[z-a]", r"\p{NoSuchClass}", "x{1000}{1000}"] {
            assert_eq!(
                Pattern::new(p).unwrap_err(),
                regex::Regex::new(p).unwrap_err().to_string(),
                "{p}"
            );
        }
    }
}
