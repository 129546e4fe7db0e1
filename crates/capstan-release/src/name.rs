//! Release-name validation and storage object names (`sh.helm.release.v1.<name>.v<revision>`).

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

use crate::error::{Error, Result};

/// The longest release name Helm accepts.
pub const MAX_RELEASE_NAME_LEN: usize = 53;

/// Helm's release-name rule (DNS-1123 subdomain labels).
pub const RELEASE_NAME_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// The prefix of every release storage object's name (Helm's storage type and version).
pub const OBJECT_NAME_PREFIX: &str = "sh.helm.release.v1.";

static RELEASE_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(RELEASE_NAME_PATTERN).expect("release name pattern compiles"));

/// Checks a release name against Helm's rule: at most 53 characters, lowercase letters, digits,
/// `-` and `.`, each dot-separated part starting and ending with a letter or digit.
pub fn validate_release_name(name: &str) -> Result<()> {
    let invalid = |reason: String| Error::InvalidReleaseName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("a release name is required".to_owned()));
    }
    if name.len() > MAX_RELEASE_NAME_LEN {
        return Err(invalid(format!(
            "must be at most {MAX_RELEASE_NAME_LEN} characters, not {}",
            name.len()
        )));
    }
    if !RELEASE_NAME.is_match(name) {
        return Err(invalid(format!(
            "must consist of lowercase letters, digits, '-' and '.', and each '.'-separated part \
             must start and end with a letter or digit (regex {RELEASE_NAME_PATTERN})"
        )));
    }
    Ok(())
}

/// A release name and revision: the key of one stored record, printed as its object name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The release name.
    pub name: String,
    /// The revision, from 1.
    pub revision: u32,
}

impl ObjectKey {
    /// A key from a release name and revision.
    pub fn new(name: impl Into<String>, revision: u32) -> Self {
        Self {
            name: name.into(),
            revision,
        }
    }

    /// The storage object name, `sh.helm.release.v1.<name>.v<revision>`.
    pub fn object_name(&self) -> String {
        object_name(&self.name, self.revision)
    }

    /// Parses an object name. The name must be exactly what [`ObjectKey::object_name`] would
    /// print: the prefix, a non-empty release name, `.v`, and a revision from 1 without leading
    /// zeros. Names of chunk parts (see [`crate::chunk`]) are not keys.
    pub fn parse(object: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidObjectName {
            object: object.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = object
            .strip_prefix(OBJECT_NAME_PREFIX)
            .ok_or_else(|| invalid("expected the prefix sh.helm.release.v1."))?;
        let (name, revision) = rest
            .rsplit_once(".v")
            .ok_or_else(|| invalid("expected sh.helm.release.v1.<name>.v<revision>"))?;
        if name.is_empty() {
            return Err(invalid("the release name is empty"));
        }
        if revision.is_empty()
            || !revision.bytes().all(|b| b.is_ascii_digit())
            || revision.starts_with('0')
        {
            return Err(invalid("the revision is not a number from 1"));
        }
        let revision = revision
            .parse()
            .map_err(|_| invalid("the revision is too large"))?;
        Ok(Self {
            name: name.to_owned(),
            revision,
        })
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{OBJECT_NAME_PREFIX}{}.v{}", self.name, self.revision)
    }
}

impl FromStr for ObjectKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        ObjectKey::parse(s)
    }
}

/// The storage object name of a release revision, `sh.helm.release.v1.<name>.v<revision>`.
pub fn object_name(name: &str, revision: u32) -> String {
    format!("{OBJECT_NAME_PREFIX}{name}.v{revision}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for name in [
            "a",
            "web",
            "my-app",
            "my.app",
            "a1.b-2.c",
            "0",
            &"a".repeat(53),
        ] {
            validate_release_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn invalid_names_with_clear_errors() {
        let cases = [
            ("", "required"),
            (&*"a".repeat(54), "at most 53 characters, not 54"),
            ("Web", "lowercase"),
            ("-web", "lowercase"),
            ("web-", "lowercase"),
            ("web.", "lowercase"),
            ("a..b", "lowercase"),
            ("a.-b", "lowercase"),
            ("my_app", "lowercase"),
            ("my app", "lowercase"),
            ("ünï", "lowercase"),
        ];
        for (name, needle) in cases {
            let err = validate_release_name(name).unwrap_err().to_string();
            assert!(err.starts_with("invalid release name"), "{err}");
            assert!(err.contains(needle), "{name:?}: {err}");
        }
    }

    #[test]
    fn object_names_round_trip() {
        for (name, rev) in [("web", 1), ("my.app.v2", 10), ("a", u32::MAX), ("x.v", 3)] {
            let key = ObjectKey::new(name, rev);
            let object = key.object_name();
            assert_eq!(object, format!("sh.helm.release.v1.{name}.v{rev}"));
            assert_eq!(key.to_string(), object);
            assert_eq!(ObjectKey::parse(&object).unwrap(), key);
        }
    }

    #[test]
    fn malformed_object_names() {
        for object in [
            "web.v1",
            "sh.helm.release.v1.web",
            "sh.helm.release.v1.web.v",
            "sh.helm.release.v1..v1",
            "sh.helm.release.v1.web.v0",
            "sh.helm.release.v1.web.v01",
            "sh.helm.release.v1.web.v1a",
            "sh.helm.release.v1.web.v-1",
            "sh.helm.release.v1.web.v99999999999",
            "sh.helm.release.v2.web.v1",
            "sh.helm.release.v1.web.v1.part-abc-0",
        ] {
            let err = ObjectKey::parse(object).unwrap_err().to_string();
            assert!(
                err.contains(object) && err.starts_with("invalid release object name"),
                "{err}"
            );
        }
    }
}
