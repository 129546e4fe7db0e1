//! Sprig's `semver` and `semverCompare`, with the version and constraint rules of
//! Masterminds/semver v3.5.0 (the version Helm 3.22 builds with): lenient versions (`v`
//! prefix, missing minor or patch, leading zeros), `||` groups of comparators separated by
//! spaces or commas, `x`/`*` wildcards, `~`, `^`, hyphen ranges, and pre-releases matched
//! only by groups that name one.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use crate::pattern::Pattern;
use minijinja::{Error, State, Value};

use crate::args::string_arg;
use crate::value::{GoStruct, int};
use crate::{Registry, go_error, want_args};

/// Registers `semver` and `semverCompare`.
pub fn register(r: &mut Registry) {
    r.add("semver", |_: &State<'_, '_>, a: &[Value]| {
        want_args("semver", a, 1)?;
        let v = Version::parse(string_arg(a, 0)?).map_err(go_error)?;
        Ok(v.to_value())
    });
    r.add("semverCompare", |_: &State<'_, '_>, a: &[Value]| {
        want_args("semverCompare", a, 2)?;
        let (c, v) = (string_arg(a, 0)?, string_arg(a, 1)?);
        semver_compare(c, v).map(Value::from)
    });
}

/// Answers of `semverCompare` by constraint and version: charts ask the same few questions
/// (`>=1.21-0` of the cluster's version) at every render, and parsing a constraint takes
/// several regular expressions. Cleared when full.
static COMPARED: LazyLock<Mutex<Answers>> = LazyLock::new(Default::default);

/// `semverCompare`'s answers (or errors) by (constraint, version).
type Answers = HashMap<(String, String), Result<bool, String>>;

/// How many answers [`COMPARED`] keeps.
const COMPARED_ENTRIES: usize = 1024;

/// Compiles one of this module's Go patterns (they are valid: a failure is a bug).
fn go_regex(p: &str) -> Pattern {
    crate::regex::compile(p).unwrap_or_else(|e| panic!("semver pattern {p}: {e}"))
}

const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

static LOOSE_VERSION: LazyLock<Pattern> = LazyLock::new(|| {
    go_regex(
        r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$",
    )
});
static CONSTRAINT: LazyLock<Pattern> =
    LazyLock::new(|| go_regex(&format!(r"^\s*({OPS})\s*({CV})\s*$")));
static RANGE: LazyLock<Pattern> =
    LazyLock::new(|| go_regex(&format!(r"\s*({CV})\s+-\s+({CV})\s*")));
static FIND: LazyLock<Pattern> = LazyLock::new(|| go_regex(&format!(r"({OPS})\s*({CV})")));
static VALID: LazyLock<Pattern> = LazyLock::new(|| {
    go_regex(&format!(
        r"^(\s*({OPS})\s*({CV})\s*)((?:\s+|,\s*)({OPS})\s*({CV})\s*)*$"
    ))
});

/// Compiles the patterns versions and constraints are read with, ahead of the first
/// `semverCompare` (which compiles them otherwise): a renderer calls it on a spare thread
/// while a render starts.
pub fn prepare() {
    for pattern in [&LOOSE_VERSION, &CONSTRAINT, &RANGE, &FIND, &VALID] {
        LazyLock::force(pattern);
    }
}

/// A Masterminds `*semver.Version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The major number.
    pub major: u64,
    /// The minor number.
    pub minor: u64,
    /// The patch number.
    pub patch: u64,
    /// The pre-release, without its `-`.
    pub pre: String,
    /// The build metadata, without its `+`.
    pub metadata: String,
    /// The text parsed.
    pub original: String,
}

impl Version {
    /// Masterminds' `NewVersion` (with `CoerceNewVersion`, the default), and its errors.
    pub fn parse(s: &str) -> Result<Version, String> {
        if s.len() > 256 {
            return Err("version string is too long (max 256 bytes)".into());
        }
        let Some(m) = LOOSE_VERSION.captures(s) else {
            return Err("invalid semantic version".into());
        };
        let group = |i: usize| m.get(i).map_or("", |g| g.as_str());
        let segment = |t: &str| -> Result<u64, String> {
            let t = t.trim_start_matches('.');
            t.parse::<u64>().map_err(|_| {
                format!(
                    "error parsing version segment: strconv.ParseUint: parsing {}: value out of range",
                    crate::fmt::go_quote(t)
                )
            })
        };
        let major = segment(group(1))?;
        let minor = if group(2).is_empty() {
            0
        } else {
            segment(group(2))?
        };
        let patch = if group(3).is_empty() {
            0
        } else {
            segment(group(3))?
        };
        let pre = group(5).to_string();
        let metadata = group(8).to_string();
        if !pre.is_empty() {
            for part in pre.split('.') {
                if part.is_empty() {
                    return Err("invalid prerelease string".into());
                }
                if part.bytes().all(|b| b.is_ascii_digit())
                    && part.len() > 1
                    && part.starts_with('0')
                {
                    return Err("version segment starts with 0".into());
                }
            }
        }
        if metadata.split('.').any(str::is_empty) && !metadata.is_empty() {
            return Err("invalid metadata string".into());
        }
        Ok(Version {
            major,
            minor,
            patch,
            pre,
            metadata,
            original: s.to_string(),
        })
    }

    /// `String()`: `1.2.3-pre+meta`.
    pub fn canonical(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }

    /// The template value: `.Major`, `.Minor`, `.Patch`, `.Prerelease`, `.Metadata`,
    /// `.Original`, printing as `String()`.
    pub fn to_value(&self) -> Value {
        Value::from_object(
            GoStruct::new(
                "*semver.Version",
                [
                    ("Major", int(self.major as i64)),
                    ("Minor", int(self.minor as i64)),
                    ("Patch", int(self.patch as i64)),
                    ("Prerelease", Value::from(self.pre.as_str())),
                    ("Metadata", Value::from(self.metadata.as_str())),
                    ("Original", Value::from(self.original.as_str())),
                ],
            )
            .with_display(self.canonical())
            .with_methods(version_methods),
        )
    }

    /// The version a template value stands for: a `*semver.Version` struct.
    fn of_value(v: &Value) -> Option<Version> {
        let s = v.downcast_object_ref::<GoStruct>()?;
        if s.type_name != "*semver.Version" {
            return None;
        }
        Version::parse(s.display.as_deref()?).ok()
    }

    /// Masterminds' `Compare`: numbers, then pre-releases (metadata ignored).
    pub fn compare(&self, o: &Version) -> Ordering {
        self.major
            .cmp(&o.major)
            .then(self.minor.cmp(&o.minor))
            .then(self.patch.cmp(&o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &o.pre),
            })
    }
}

/// The methods of a `*semver.Version` that take a version: `Compare`, `LessThan`,
/// `GreaterThan`, `Equal`.
fn version_methods(s: &GoStruct, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    if !matches!(method, "Compare" | "LessThan" | "GreaterThan" | "Equal") {
        return None;
    }
    Some((|| {
        want_args(method, args, 1)?;
        let me = Version::parse(s.display.as_deref().unwrap_or_default()).map_err(go_error)?;
        let other = Version::of_value(&args[0]).ok_or_else(|| {
            crate::arg_error(
                0,
                format!(
                    "wrong type for value; expected *semver.Version; got {}",
                    crate::value::type_name(&args[0])
                ),
            )
        })?;
        let order = me.compare(&other);
        Ok(match method {
            "Compare" => int(order as i64),
            "LessThan" => Value::from(order == Ordering::Less),
            "GreaterThan" => Value::from(order == Ordering::Greater),
            _ => Value::from(order == Ordering::Equal),
        })
    })())
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let (x, y): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..x.len().max(y.len()) {
        let (s, o) = (
            x.get(i).copied().unwrap_or(""),
            y.get(i).copied().unwrap_or(""),
        );
        let d = compare_pre_part(s, o);
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(a), Ok(b)) => {
            if a > b {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

/// One comparator.
#[derive(Debug, Clone)]
struct Comparator {
    con: Version,
    op: String,
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

/// Masterminds' `Constraints`: `||` groups of comparators that must all hold.
#[derive(Debug, Clone)]
pub struct Constraints {
    groups: Vec<(Vec<Comparator>, bool)>,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

impl Constraints {
    /// Masterminds' `NewConstraint`, and its errors.
    pub fn parse(c: &str) -> Result<Constraints, String> {
        if c.len() > 512 {
            return Err("constraint string is too long (max 512 bytes)".into());
        }
        let c = rewrite_range(c);
        let ors: Vec<&str> = c.split("||").collect();
        if ors.len() > 32 {
            return Err("too many constraint groups (max 32)".into());
        }
        let mut groups = Vec::new();
        for part in ors {
            if !VALID.is_match(part) {
                return Err(format!(
                    "improper constraint: {}",
                    crate::fmt::go_quote(part)
                ));
            }
            let mut found: Vec<&str> = FIND.find_iter(part).map(|m| m.as_str()).collect();
            if found.is_empty() {
                found.push(part);
            }
            let mut comps = Vec::new();
            let mut has_pre = false;
            for s in found {
                let comp = parse_comparator(s)?;
                has_pre |= !comp.con.pre.is_empty();
                comps.push(comp);
            }
            groups.push((comps, has_pre));
        }
        Ok(Constraints { groups })
    }

    /// Masterminds' `Check`.
    pub fn check(&self, v: &Version) -> bool {
        self.groups
            .iter()
            .any(|(comps, pre)| comps.iter().all(|c| c.check(v, *pre)))
    }
}

/// Masterminds' `rewriteRange`: `a - b` becomes `>= a, <= b `.
fn rewrite_range(s: &str) -> String {
    let mut out = s.to_string();
    for m in RANGE.captures_iter(s) {
        let whole = m.get(0).map_or("", |g| g.as_str());
        let lo = m.get(1).map_or("", |g| g.as_str());
        let hi = m.get(11).map_or("", |g| g.as_str());
        out = out.replacen(whole, &format!(">= {lo}, <= {hi} "), 1);
    }
    out
}

fn parse_comparator(s: &str) -> Result<Comparator, String> {
    if s.is_empty() {
        return Ok(Comparator {
            con: Version::parse("0.0.0").map_err(|_| "constraint parser error".to_string())?,
            op: String::new(),
            dirty: true,
            minor_dirty: false,
            patch_dirty: false,
        });
    }
    let Some(m) = CONSTRAINT.captures(s) else {
        return Err(format!("improper constraint: {}", crate::fmt::go_quote(s)));
    };
    let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
    let (mut ver, mut dirty, mut minor_dirty, mut patch_dirty) =
        (g(2).to_string(), false, false, false);
    if is_x(g(3)) || g(3).is_empty() {
        ver = format!("0.0.0{}", g(6));
        dirty = true;
    } else if is_x(g(4).trim_start_matches('.')) || g(4).is_empty() {
        ver = format!("{}.0.0{}", g(3), g(6));
        dirty = true;
        minor_dirty = true;
    } else if is_x(g(5).trim_start_matches('.')) || g(5).is_empty() {
        ver = format!("{}{}.0{}", g(3), g(4), g(6));
        dirty = true;
        patch_dirty = true;
    }
    let con = Version::parse(&ver).map_err(|_| "constraint parser error".to_string())?;
    Ok(Comparator {
        con,
        op: g(1).to_string(),
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

impl Comparator {
    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        match self.op.as_str() {
            "" | "=" => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.compare(&self.con) == Ordering::Equal
                }
            }
            "!=" => self.not_equal(v),
            ">" => self.greater(v),
            "<" => v.compare(&self.con) == Ordering::Less,
            ">=" | "=>" => v.compare(&self.con) != Ordering::Less,
            "<=" | "=<" => self.less_equal(v),
            "~" | "~>" => self.tilde(v),
            "^" => self.caret(v),
            _ => false,
        }
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if self.dirty {
            if c.major != v.major {
                return true;
            }
            if c.minor != v.minor && !self.minor_dirty {
                return true;
            } else if self.minor_dirty {
                return false;
            } else if c.patch != v.patch && !self.patch_dirty {
                return true;
            } else if self.patch_dirty {
                if !v.pre.is_empty() || !c.pre.is_empty() {
                    return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                }
                return false;
            }
        }
        v.compare(c) != Ordering::Equal
    }

    fn greater(&self, v: &Version) -> bool {
        let c = &self.con;
        if !self.dirty {
            return v.compare(c) == Ordering::Greater;
        }
        if v.major > c.major {
            true
        } else if v.major < c.major || self.minor_dirty {
            false
        } else if self.patch_dirty {
            v.minor > c.minor
        } else {
            v.compare(c) == Ordering::Greater
        }
    }

    fn less_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if !self.dirty {
            return v.compare(c) != Ordering::Greater;
        }
        if v.major > c.major {
            return false;
        }
        !(v.major == c.major && v.minor > c.minor && !self.minor_dirty)
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        if c.major == 0 && v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        if c.minor == 0 && v.minor > 0 {
            return false;
        }
        c.patch == v.patch
    }
}

/// Whether `version` satisfies `constraint`, as Sprig's `semverCompare` decides.
pub fn semver_compare(constraint: &str, version: &str) -> Result<bool, Error> {
    let key = (constraint.to_string(), version.to_string());
    let known = COMPARED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
        .cloned();
    let answer = match known {
        Some(answer) => answer,
        None => {
            let answer = Constraints::parse(constraint)
                .and_then(|c| Version::parse(version).map(|v| c.check(&v)));
            let mut compared = COMPARED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if compared.len() >= COMPARED_ENTRIES {
                compared.clear();
            }
            compared.insert(key, answer.clone());
            answer
        }
    };
    answer.map_err(go_error)
}

#[cfg(test)]
mod tests {
    use crate::testing::show;

    /// Answers come from the cache after the first time: the same, errors included.
    #[test]
    fn remembered_answers_are_the_first_ones() {
        for _ in 0..3 {
            assert!(super::semver_compare(">=1.21-0", "v1.33.0").unwrap());
            assert!(!super::semver_compare("<1.21-0", "v1.33.0").unwrap());
            let e = super::semver_compare("!!1", "1.0.0").unwrap_err();
            assert!(e.to_string().contains("improper constraint"), "{e}");
            let e = super::semver_compare(">=1", "one").unwrap_err();
            assert!(e.to_string().contains("invalid semantic version"), "{e}");
        }
    }

    /// Expected values are Sprig v3.3.0's with Masterminds/semver v3.5.0, in Go 1.26.
    #[test]
    fn semver_matches_sprig() {
        let cases: &[(&str, &[&str], &str)] = &[
            // BEGIN GO CASES
            (
                "semverCompare",
                &["s:>=1.21-0", "s:v1.22.3-gke.100"],
                "true",
            ),
            ("semverCompare", &["s:>=1.21", "s:v1.22.3-gke.100"], "false"),
            ("semverCompare", &["s:>=1.21.0", "s:1.22.3"], "true"),
            ("semverCompare", &["s:<1.19-0", "s:1.18.20-eks-abc"], "true"),
            (
                "semverCompare",
                &["s:>=1.14-0, <1.19-0", "s:1.16.0"],
                "true",
            ),
            (
                "semverCompare",
                &["s:>=1.14-0 <1.19-0", "s:1.19.0"],
                "false",
            ),
            ("semverCompare", &["s:~1.2", "s:1.2.9"], "true"),
            ("semverCompare", &["s:~1.2", "s:1.3.0"], "false"),
            ("semverCompare", &["s:~1.2.3", "s:1.2.2"], "false"),
            ("semverCompare", &["s:~1", "s:1.9.0"], "true"),
            ("semverCompare", &["s:^1.2", "s:1.9.0"], "true"),
            ("semverCompare", &["s:^1.2", "s:2.0.0"], "false"),
            ("semverCompare", &["s:^0.2.3", "s:0.2.9"], "true"),
            ("semverCompare", &["s:^0.2.3", "s:0.3.0"], "false"),
            ("semverCompare", &["s:^0.0.3", "s:0.0.4"], "false"),
            ("semverCompare", &["s:1.2.x", "s:1.2.7"], "true"),
            ("semverCompare", &["s:1.2.x", "s:1.3.0"], "false"),
            ("semverCompare", &["s:*", "s:3.0.0"], "true"),
            ("semverCompare", &["s:*", "s:3.0.0-beta"], "false"),
            ("semverCompare", &["s:1.2 - 1.4.5", "s:1.4.5"], "true"),
            ("semverCompare", &["s:1.2 - 1.4.5", "s:1.4.6"], "false"),
            ("semverCompare", &["s:1.2 - 1.4", "s:1.4.9"], "true"),
            ("semverCompare", &["s:<=1.2", "s:1.2.9"], "true"),
            ("semverCompare", &["s:<=1.2", "s:1.3.0"], "false"),
            ("semverCompare", &["s:>1.2", "s:1.2.9"], "false"),
            ("semverCompare", &["s:>1.2", "s:1.3.0"], "true"),
            ("semverCompare", &["s:>1", "s:1.9.0"], "false"),
            ("semverCompare", &["s:!=1.2", "s:1.2.5"], "false"),
            ("semverCompare", &["s:!=1.2.3", "s:1.2.4"], "true"),
            ("semverCompare", &["s:<1.0.0 || >=2.0.0", "s:2.1.0"], "true"),
            (
                "semverCompare",
                &["s:<1.0.0 || >=2.0.0", "s:1.5.0"],
                "false",
            ),
            ("semverCompare", &["s:=1.2.3", "s:v1.2.3+build"], "true"),
            ("semverCompare", &["s:1.2.3", "s:1.2.3"], "true"),
            ("semverCompare", &["s:>= 1.2.3", "s:1.2.3"], "true"),
            ("semverCompare", &["s:=>1.2.3", "s:1.2.3"], "true"),
            ("semverCompare", &["s:~>1.2", "s:1.2.3"], "true"),
            (
                "semverCompare",
                &["s:>=1.2.0-alpha", "s:1.2.0-beta"],
                "true",
            ),
            (
                "semverCompare",
                &["s:>=1.2.0-beta", "s:1.2.0-alpha"],
                "false",
            ),
            (
                "semverCompare",
                &["s:>=1.2.0-alpha.2", "s:1.2.0-alpha.10"],
                "true",
            ),
            (
                "semverCompare",
                &["s:>=1.2.0-alpha.b", "s:1.2.0-alpha.10"],
                "false",
            ),
            (
                "semverCompare",
                &["s:foo", "s:1.2.3"],
                "ERR:improper constraint: \"foo\"",
            ),
            (
                "semverCompare",
                &["s:>=1.2", "s:foo"],
                "ERR:invalid semantic version",
            ),
            (
                "semverCompare",
                &["s:>=1.2", "s:1.2.3 "],
                "ERR:invalid semantic version",
            ),
            (
                "semverCompare",
                &["s:", "s:1.2.3"],
                "ERR:improper constraint: \"\"",
            ),
            ("semverCompare", &["s:>=1.2", "s:01.02.03"], "true"),
            (
                "semverCompare",
                &["s:>=1.2", "s:1.2.3-01"],
                "ERR:version segment starts with 0",
            ),
            (
                "semverCompare",
                &["s:>=1.2", "s:99999999999999999999.0.0"],
                "ERR:error parsing version segment: strconv.ParseUint: parsing \"99999999999999999999\": value out of range",
            ),
            (
                "semverCompare",
                &["s:>=1.2", "s:V1.2.3"],
                "ERR:invalid semantic version",
            ),
            ("semverCompare", &["s:>=v1.2", "s:1.2.3"], "true"),
            (
                "semverCompare",
                &["s:>=1.2 || foo", "s:1.2.3"],
                "ERR:improper constraint: \" foo\"",
            ),
            (
                "semverCompare",
                &["s:>=1.2,,<2", "s:1.2.3"],
                "ERR:improper constraint: \">=1.2,,<2\"",
            ),
            ("semverCompare", &["s:1.x.3", "s:1.5.3"], "true"),
            ("semverCompare", &["s:>=1.18-0", "s:v1.30.0"], "true"),
            ("semverCompare", &["s:>=1.21-0", "s:1.20.15-gke.1"], "false"),
            (
                "semverCompare",
                &["i:1", "s:1.2.3"],
                "ERR:wrong type for value; expected string; got int",
            ),
            ("semver", &["s:v1.2.3-rc.1+build.5"], "1.2.3-rc.1+build.5"),
            ("semver", &["s:1.2"], "1.2.0"),
            ("semver", &["s:1.2.3.4"], "ERR:invalid semantic version"),
            ("semver", &["s:"], "ERR:invalid semantic version"),
            ("semver", &["s:1.2.3-"], "ERR:invalid semantic version"),
            ("semver", &["s:1.2.3-a..b"], "ERR:invalid semantic version"),
            ("semver", &["s:1.2.3+a..b"], "ERR:invalid semantic version"),
            ("semverCompare", &["s:>=1.20", "s:v1.36.0"], "true"),
            ("semverCompare", &["s:<v3.20.6-0", "s:v1.24"], "true"),
            ("semverCompare", &["s:>=1.8", "s:1.19.0-eks-1"], "false"),
            (
                "semverCompare",
                &["s:<v3.7.6-0", "s:1.8.x"],
                "ERR:invalid semantic version",
            ),
            (
                "semverCompare",
                &["s:>=1.31.0-0", "s:1.19.0-eks-1"],
                "false",
            ),
            ("semverCompare", &["s:>=1.8", "s:v1.36.0"], "true"),
            ("semverCompare", &["s:>=1.23", "s:v1.36.0"], "true"),
            ("semverCompare", &["s:>=1.10-0", "s:v1.25.3+k3s1"], "true"),
            (
                "semverCompare",
                &["s:< 2.11.0", "s:1.8.x"],
                "ERR:invalid semantic version",
            ),
            ("semverCompare", &["s:>= 2.12.0", "s:v1.21.0"], "false"),
            ("semverCompare", &["s:<v3.20.6-0", "s:v1.36.0"], "true"),
            (
                "semverCompare",
                &["s:>=1.21.0-0", "s:v1.33.1-eks-123456"],
                "true",
            ),
            ("semverCompare", &["s:<0.9.0", "s:1.36.0"], "false"),
            ("semverCompare", &["s:<1.7-0", "s:v1.22.0-rc.1"], "false"),
            ("semverCompare", &["s:<1.21-0", "s:v1.22.0-rc.1"], "false"),
            ("semverCompare", &["s:> 1.20.0-0", "s:v1.16.0"], "false"),
            ("semverCompare", &["s:>= 2.8.0", "s:v1.36.0"], "false"),
            (
                "semverCompare",
                &["s:<v3.20.5-0", "s:v1.33.1-eks-123456"],
                "true",
            ),
            (
                "semverCompare",
                &["s:>= 1.18-0", "s:1.8.x"],
                "ERR:invalid semantic version",
            ),
            ("semverCompare", &["s:>=1.12", "s:v1.18.0"], "true"),
            ("semverCompare", &["s:<1.19-0", "s:v1.24"], "false"),
            ("semverCompare", &["s:>=1.14.0-0", "s:v1.25.3+k3s1"], "true"),
            ("semverCompare", &["s:< 1.35-0", "s:v1.16.0"], "true"),
            ("semverCompare", &["s:>=1.5-0", "s:0.9.0"], "false"),
            ("semverCompare", &["s:<v3.20.0-ea.7", "s:v1.21.0"], "true"),
            ("semverCompare", &["s:>= 1.27-0", "s:v2.0.0"], "true"),
            (
                "semverCompare",
                &["s:<v3.21.0-ea", "s:v1.20.15-gke.1"],
                "true",
            ),
            ("semverCompare", &["s:<=1.10-0", "s:0.9.0"], "true"),
            ("semverCompare", &["s:^1.6-0", "s:v1.21.0"], "true"),
            (
                "semverCompare",
                &["s:>= 1.21-0", "s:v1.20.15-gke.1"],
                "false",
            ),
            ("semverCompare", &["s:<1.7-0", "s:v1.16.0"], "false"),
            ("semverCompare", &["s:^1.6-0", "s:v1.36.0"], "true"),
            ("semverCompare", &["s:<1.14-0", "s:0.9.0"], "true"),
            (
                "semverCompare",
                &["s:<1.25-0", "s:1.8.x"],
                "ERR:invalid semantic version",
            ),
            ("semverCompare", &["s:>=1.19-0", "s:v1.25.3+k3s1"], "true"),
            ("semverCompare", &["s:>=1.19-0", "s:1.19.0-eks-1"], "true"),
            ("semverCompare", &["s:>= 2.0.4", "s:v1.16.0"], "false"),
            ("semverCompare", &["s:<1.23-0", "s:1.19.0-eks-1"], "true"),
            ("semverCompare", &["s:<1.25-0", "s:v1.36.0"], "false"),
            ("semverCompare", &["s:< 1.30-0", "s:v1.18.0"], "true"),
            ("semverCompare", &["s:< 1.30-0", "s:v2.0.0"], "false"),
            ("semverCompare", &["s:<v3.20.0-ea.1", "s:v1.21.0"], "true"),
            (
                "semverCompare",
                &["s:<v3.20.0-ea.7", "s:v1.22.0-rc.1"],
                "true",
            ),
            (
                "semverCompare",
                &["s:<1.9-0", "s:v1.33.1-eks-123456"],
                "false",
            ),
            ("semverCompare", &["s:<1.9-0", "s:v2.0.0"], "false"),
            ("semverCompare", &["s:<v3.4.0-0", "s:1.14.10"], "true"),
            ("semverCompare", &["s:<v3.7.0-0", "s:0.9.0"], "true"),
            (
                "semverCompare",
                &["s:<v3.20.0-0", "s:v1.20.15-gke.1"],
                "true",
            ),
            (
                "semverCompare",
                &["s:>=1.11-0", "s:v1.33.1-eks-123456"],
                "true",
            ),
            ("semverCompare", &["s:>=1.30-0", "s:v1.21.0"], "false"),
            ("semverCompare", &["s:>=1.20", "s:v1.22.0-rc.1"], "false"),
            (
                "semverCompare",
                &["s:<v3.20.0-0", "s:1.8.x"],
                "ERR:invalid semantic version",
            ),
            ("semverCompare", &["s:<v3.19.0-0", "s:v1.24"], "true"),
            ("semverCompare", &["s:>= 1.19-0", "s:1.19.0-eks-1"], "true"),
            ("semverCompare", &["s:<v3.6.2-0", "s:v1.16.0"], "true"),
            (
                "semverCompare",
                &["s:< 2.10.0", "s:1.8.x"],
                "ERR:invalid semantic version",
            ),
            ("semverCompare", &["s:<v3.9.0", "s:1.19.0-eks-1"], "false"),
            (
                "semverCompare",
                &["s:>= 1.27.x", "s:v1.33.1-eks-123456"],
                "false",
            ),
            ("semverCompare", &["s:<1.30.0", "s:v1.24"], "true"),
            ("semverCompare", &["s:<v3.20.8-0", "s:v1.36.0"], "true"),
            ("semverCompare", &["s:<1.10-0", "s:v1.24"], "false"),
            ("semverCompare", &["s:<v3.7.1-0", "s:1.19.0-eks-1"], "true"),
            (
                "semverCompare",
                &["s:<v3.6.4-0", "s:v1.20.15-gke.1"],
                "true",
            ),
            ("semverCompare", &["s:>=1.18", "s:v1.25.3+k3s1"], "true"),
            ("semverCompare", &["s:>=1.16-0", "s:v1.36.0"], "true"),
            ("semverCompare", &["s:< 1.30-0", "s:v1.22.0-rc.1"], "true"),
            ("semverCompare", &["s:>=1.17", "s:v1.25.3+k3s1"], "true"),
            (
                "semverCompare",
                &["s:>=1.33.0-0", "s:v1.33.1-eks-123456"],
                "true",
            ),
            (
                "semverCompare",
                &["s:<v3.7.11-0", "s:v1.20.15-gke.1"],
                "true",
            ),
            ("semverCompare", &["s:<1.14-0", "s:v1.36.0"], "false"),
            ("semverCompare", &["s:<v3.7.0-0", "s:1.19.0-eks-1"], "true"),
            ("semverCompare", &["s:<v3.7.6-0", "s:1.14.10"], "true"),
            ("semverCompare", &["s:<v3.6.4-0", "s:v1.16.0"], "true"),
            (
                "semverCompare",
                &["s:>= 3.0.0", "s:v1.33.1-eks-123456"],
                "false",
            ),
            ("semverCompare", &["s:>=1.33-0", "s:1.36.0"], "true"),
            ("semverCompare", &["s:<v3.7.0-ea.2", "s:1.36.0"], "true"),
            ("semverCompare", &["s:<=1.25-0", "s:v1.18.0"], "true"),
            ("semverCompare", &["s:>= 3.0.0", "s:v2.0.0"], "false"),
            ("semverCompare", &["s:>= 2.8.0", "s:1.14.10"], "false"),
            ("semverCompare", &["s:>=1.33.0-0", "s:v1.18.0"], "false"),
            // END GO CASES
        ];
        for (name, args, want) in cases {
            assert_eq!(show(name, args), *want, "{name} {args:?}");
        }
    }

    #[test]
    fn semver_fields() {
        let v = crate::testing::call("semver", &["s:v1.22.3-gke.1+b"]).unwrap();
        let field = |f: &str| crate::fmt::sprint_value(&v.get_attr(f).unwrap());
        assert_eq!(field("Major"), "1");
        assert_eq!(field("Minor"), "22");
        assert_eq!(field("Patch"), "3");
        assert_eq!(field("Prerelease"), "gke.1");
        assert_eq!(field("Metadata"), "b");
        assert_eq!(field("Original"), "v1.22.3-gke.1+b");
        assert_eq!(crate::value::type_name(&v), "*semver.Version");
        assert_eq!(crate::fmt::sprint_value(&v), "1.22.3-gke.1+b");
    }
}
