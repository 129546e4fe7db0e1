//! SemVer versions and constraints as Helm reads them (the Masterminds `semver/v3` dialect).
//!
//! Versions are lenient like Helm's: a leading `v` and missing minor or patch numbers are
//! accepted (`v1.2` is `1.2.0`). Constraints are `||`-separated alternatives of comma- or
//! space-separated comparators: `=`, `!=`, `>`, `>=`, `<`, `<=`, `~` (patch-level), `^`
//! (compatible), x-ranges (`1.2.x`, `*`) and hyphen ranges (`1.2 - 1.4.5`). As in Helm, a
//! pre-release version only satisfies comparators that carry a pre-release themselves, which is
//! why Kubernetes charts write `>=1.20.0-0`.

use semver::{BuildMetadata, Prerelease, Version};

use crate::{Error, Result};

/// Parses a version leniently, as Helm does: `v1.2.3`, `1.2`, `1` and `1.2.3-rc.1+build` are valid.
pub fn parse_version(input: &str) -> std::result::Result<Version, String> {
    let s = input.trim();
    let s = s
        .strip_prefix('v')
        .or_else(|| s.strip_prefix('V'))
        .unwrap_or(s);
    if s.is_empty() {
        return Err("empty version".into());
    }
    let split = s.find(['-', '+']).unwrap_or(s.len());
    let (core, rest) = s.split_at(split);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return Err(format!("{input:?} has more than three numeric parts"));
    }
    let mut nums = [0u64; 3];
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{input:?}: {part:?} is not a number"));
        }
        nums[i] = part
            .parse()
            .map_err(|_| format!("{input:?}: {part:?} is out of range"))?;
    }
    let normal = format!("{}.{}.{}{rest}", nums[0], nums[1], nums[2]);
    Version::parse(&normal).map_err(|e| format!("{input:?}: {e}"))
}

/// A parsed constraint such as `>=1.20.0-0 <2.0.0 || ~3.1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    raw: String,
    alternatives: Vec<Vec<Cmp>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cmp {
    Eq(Version),
    Ne(Version),
    NotIn(Version, Version),
    Gt(Version),
    Ge(Version),
    Lt(Version),
    Le(Version),
}

impl Cmp {
    fn bound(&self) -> &Version {
        match self {
            Cmp::Eq(v)
            | Cmp::Ne(v)
            | Cmp::NotIn(v, _)
            | Cmp::Gt(v)
            | Cmp::Ge(v)
            | Cmp::Lt(v)
            | Cmp::Le(v) => v,
        }
    }

    fn matches(&self, v: &Version) -> bool {
        if !v.pre.is_empty() && self.bound().pre.is_empty() {
            return false;
        }
        match self {
            Cmp::Eq(b) => v == b,
            Cmp::Ne(b) => v != b,
            Cmp::NotIn(lo, hi) => v < lo || v >= hi,
            Cmp::Gt(b) => v > b,
            Cmp::Ge(b) => v >= b,
            Cmp::Lt(b) => v < b,
            Cmp::Le(b) => v <= b,
        }
    }
}

/// A version with possibly wildcarded parts, as written in a comparator.
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Prerelease,
}

impl Partial {
    fn parse(s: &str) -> std::result::Result<Partial, String> {
        let s = s.strip_prefix('v').unwrap_or(s);
        let s = s.split('+').next().unwrap_or_default();
        let split = s.find('-').unwrap_or(s.len());
        let (core, pre) = s.split_at(split);
        let pre = match pre.strip_prefix('-') {
            Some(p) => Prerelease::new(p).map_err(|e| format!("{s:?}: {e}"))?,
            None => Prerelease::EMPTY,
        };
        let mut nums = [None; 3];
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() > 3 || core.is_empty() {
            return Err(format!("{s:?} is not a version"));
        }
        let mut wild = false;
        for (i, part) in parts.iter().enumerate() {
            if matches!(*part, "x" | "X" | "*") {
                wild = true;
                continue;
            }
            if wild {
                return Err(format!("{s:?}: a number cannot follow a wildcard"));
            }
            nums[i] = Some(
                part.parse::<u64>()
                    .map_err(|_| format!("{s:?}: {part:?} is not a number"))?,
            );
        }
        Ok(Partial {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre,
        })
    }

    fn is_full(&self) -> bool {
        self.patch.is_some()
    }

    fn lower(&self) -> Version {
        let mut v = Version::new(
            self.major.unwrap_or(0),
            self.minor.unwrap_or(0),
            self.patch.unwrap_or(0),
        );
        v.pre = self.pre.clone();
        v
    }

    /// The first version above the wildcard range (`1.2.x` gives `1.3.0`); `None` for `*`.
    fn upper(&self) -> Option<Version> {
        match (self.major, self.minor, self.patch) {
            (None, _, _) => None,
            (Some(m), None, _) => Some(Version::new(m + 1, 0, 0)),
            (Some(m), Some(n), None) => Some(Version::new(m, n + 1, 0)),
            (Some(m), Some(n), Some(p)) => Some(Version::new(m, n, p + 1)),
        }
    }
}

fn with_pre(mut v: Version, pre: &Prerelease) -> Version {
    v.pre = pre.clone();
    v
}

fn expand(term: &str) -> std::result::Result<Vec<Cmp>, String> {
    const OPS: [&str; 11] = [">=", "=>", "<=", "=<", "!=", "~>", ">", "<", "=", "~", "^"];
    let op = OPS.iter().find(|op| term.starts_with(**op)).copied();
    let rest = term[op.map_or(0, str::len)..].trim();
    let p = Partial::parse(rest)?;
    let lo = p.lower();
    let any = Version::new(0, 0, 0);
    let cmps = match op.unwrap_or("=") {
        "=" => match p.upper() {
            _ if p.is_full() => vec![Cmp::Eq(lo)],
            None => vec![Cmp::Ge(any)],
            Some(hi) => vec![Cmp::Ge(lo), Cmp::Lt(hi)],
        },
        "!=" => match p.upper() {
            _ if p.is_full() => vec![Cmp::Ne(lo)],
            None => vec![Cmp::Lt(any)],
            Some(hi) => vec![Cmp::NotIn(lo, hi)],
        },
        ">" => match p.upper() {
            _ if p.is_full() => vec![Cmp::Gt(lo)],
            None => vec![Cmp::Lt(any)],
            Some(hi) => vec![Cmp::Ge(with_pre(hi, &p.pre))],
        },
        ">=" | "=>" => vec![Cmp::Ge(lo)],
        "<" => vec![Cmp::Lt(lo)],
        "<=" | "=<" => match p.upper() {
            _ if p.is_full() => vec![Cmp::Le(lo)],
            None => vec![Cmp::Ge(any)],
            Some(hi) => vec![Cmp::Lt(with_pre(hi, &p.pre))],
        },
        "~" | "~>" => {
            let hi = match (p.major, p.minor) {
                (None, _) => return Ok(vec![Cmp::Ge(any)]),
                (Some(m), None) => Version::new(m + 1, 0, 0),
                (Some(m), Some(n)) => Version::new(m, n + 1, 0),
            };
            vec![Cmp::Ge(lo), Cmp::Lt(with_pre(hi, &p.pre))]
        }
        "^" => {
            let hi = match (p.major, p.minor, p.patch) {
                (None, _, _) => return Ok(vec![Cmp::Ge(any)]),
                (Some(0), Some(0), Some(z)) => Version::new(0, 0, z + 1),
                (Some(0), Some(n), _) => Version::new(0, n + 1, 0),
                (Some(m), _, _) => Version::new(m + 1, 0, 0),
            };
            vec![Cmp::Ge(lo), Cmp::Lt(with_pre(hi, &p.pre))]
        }
        other => return Err(format!("unknown operator {other:?}")),
    };
    Ok(cmps)
}

fn is_op(token: &str) -> bool {
    token
        .chars()
        .all(|c| matches!(c, '>' | '<' | '=' | '!' | '~' | '^'))
}

impl Constraint {
    /// Parses a constraint; the error names the constraint and the bad part.
    pub fn parse(input: &str) -> Result<Constraint> {
        let err = |message: String| Error::Constraint {
            constraint: input.to_string(),
            message,
        };
        let mut alternatives = Vec::new();
        for alt in input.split("||") {
            let tokens: Vec<&str> = alt
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|t| !t.is_empty())
                .collect();
            if tokens.is_empty() {
                return Err(err("empty constraint".into()));
            }
            let mut cmps = Vec::new();
            let mut i = 0;
            while i < tokens.len() {
                let mut term = tokens[i].to_string();
                if is_op(&term) {
                    let next = tokens
                        .get(i + 1)
                        .ok_or_else(|| err(format!("operator {term:?} has no version")))?;
                    term.push_str(next);
                    i += 1;
                }
                if tokens.get(i + 1) == Some(&"-") {
                    let hi = tokens
                        .get(i + 2)
                        .ok_or_else(|| err(format!("range {term:?} - has no upper bound")))?;
                    cmps.extend(expand(&format!(">={term}")).map_err(err)?);
                    cmps.extend(expand(&format!("<={hi}")).map_err(err)?);
                    i += 3;
                    continue;
                }
                cmps.extend(expand(&term).map_err(err)?);
                i += 1;
            }
            alternatives.push(cmps);
        }
        Ok(Constraint {
            raw: input.to_string(),
            alternatives,
        })
    }

    /// Whether `version` satisfies the constraint.
    pub fn matches(&self, version: &Version) -> bool {
        let mut v = version.clone();
        v.build = BuildMetadata::EMPTY;
        self.alternatives
            .iter()
            .any(|all| all.iter().all(|c| c.matches(&v)))
    }

    /// Parses `version` leniently and checks it; an unparsable version is an error.
    pub fn matches_str(&self, version: &str) -> Result<bool> {
        let v = parse_version(version).map_err(|message| Error::Constraint {
            constraint: self.raw.clone(),
            message: format!("cannot compare against version: {message}"),
        })?;
        Ok(self.matches(&v))
    }
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_versions() {
        assert_eq!(parse_version("v1.2").unwrap(), Version::new(1, 2, 0));
        assert_eq!(parse_version("3").unwrap(), Version::new(3, 0, 0));
        assert_eq!(
            parse_version("1.2.3-rc.1+b5").unwrap().to_string(),
            "1.2.3-rc.1+b5"
        );
        for bad in ["", "abc", "1.2.3.4", "1..2", "1.x"] {
            assert!(parse_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn constraints_table() {
        let cases = [
            (">=1.20.0", "1.29.0", true),
            (">=1.20.0", "1.19.9", false),
            (">=1.20.0", "v1.27.3-gke.100", false),
            (">=1.20.0-0", "v1.27.3-gke.100", true),
            ("<2.0.0", "1.9.9", true),
            ("=1.2.3", "1.2.3", true),
            ("1.2.x", "1.2.9", true),
            ("1.2.x", "1.3.0", false),
            ("*", "9.9.9", true),
            ("!=1.2.3", "1.2.4", true),
            ("!=1.2.x", "1.2.4", false),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("^1.2.3", "1.9.0", true),
            ("^1.2.3", "2.0.0", false),
            ("^0.2.3", "0.3.0", false),
            ("^0.0.3", "0.0.4", false),
            (">1.2", "1.2.9", false),
            (">1.2", "1.3.0", true),
            ("<=1.2", "1.2.9", true),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            (">= 1.2, < 1.5", "1.4.0", true),
            (">=1.2 <1.5", "1.5.0", false),
            ("<1.0 || >=3.0", "3.1.0", true),
            ("<1.0 || >=3.0", "2.0.0", false),
            (">=1.2.3+build", "1.2.3+other", true),
        ];
        for (c, v, want) in cases {
            let got = Constraint::parse(c).unwrap().matches_str(v).unwrap();
            assert_eq!(got, want, "{c} vs {v}");
        }
    }

    #[test]
    fn bad_constraints_name_themselves() {
        for bad in ["", ">=", ">=abc", "1.x.2", "1.2 -"] {
            let e = Constraint::parse(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }
}
