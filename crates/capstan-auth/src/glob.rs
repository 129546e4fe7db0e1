//! [`Glob`]: the patterns of the policy file: `*` matches any run of characters (including none),
//! `?` exactly one; everything else matches itself.

use std::fmt;

/// A `*`/`?` pattern, matched against the whole text.
#[derive(Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    /// A pattern from its text; every text is a valid pattern.
    pub fn new(pattern: impl Into<String>) -> Glob {
        Glob(pattern.into())
    }

    /// The pattern's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        let pattern: Vec<char> = self.0.chars().collect();
        let text: Vec<char> = text.chars().collect();
        // Iterative matching with backtracking to the last `*` only: linear in practice,
        // quadratic at worst, never exponential.
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(&c) if c == '?' || c == text[t] => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|&c| c == '*')
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Glob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Glob, D::Error> {
        String::deserialize(d).map(Glob)
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn globs_match_whole_texts() {
        let cases = [
            ("team-a", "team-a", true),
            ("team-a", "team-ab", false),
            ("team-a-*", "team-a-dev", true),
            ("team-a-*", "team-a-", true),
            ("team-a-*", "team-b-dev", false),
            ("team-a-*", "team-a", false),
            ("*", "", true),
            ("*", "anything/at:all", true),
            ("?", "x", true),
            ("?", "", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            (
                "system:serviceaccount:team-a:*",
                "system:serviceaccount:team-a:ci",
                true,
            ),
            (
                "system:serviceaccount:team-a:*",
                "system:serviceaccount:team-b:ci",
                false,
            ),
            ("*-prod", "api-prod", true),
            ("*-prod", "api-prod-x", false),
            ("**", "x", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                Glob::new(pattern).matches(text),
                expected,
                "{pattern:?} against {text:?}"
            );
        }
    }

    #[test]
    fn many_stars_stay_fast() {
        let pattern = Glob::new("*a*a*a*a*a*a*a*a*a*a*b");
        let text = "a".repeat(2000);
        assert!(!pattern.matches(&text));
    }
}
