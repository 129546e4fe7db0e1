//! `oci://host[:port]/path/chart[:tag][@digest]` references, read as Helm reads them.

use std::fmt;

use crate::{Error, Result};

/// The scheme that marks a chart reference as living in an OCI registry.
pub const SCHEME: &str = "oci://";

/// Whether `text` names a chart in an OCI registry (it starts with `oci://`).
pub fn is_oci(text: &str) -> bool {
    text.starts_with(SCHEME)
}

/// A parsed reference: registry host, repository, and optionally a tag and a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host` or `host:port`.
    pub registry: String,
    /// The repository path, e.g. `charts/web`.
    pub repository: String,
    /// The tag (a chart version with `+` written as `_`), if any.
    pub tag: Option<String>,
    /// The manifest digest (`sha256:<hex>`), if any.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `oci://host/path/chart[:tag][@digest]` (the scheme is optional). As in Helm, a `+`
    /// in the tag becomes `_`, since tags cannot hold `+`.
    pub fn parse(text: &str) -> Result<Reference> {
        let invalid = |message: &str| Error::Reference {
            reference: text.to_string(),
            message: message.to_string(),
        };
        let raw = text.strip_prefix(SCHEME).unwrap_or(text);
        let (raw, digest) = match raw.rsplit_once('@') {
            Some((rest, digest)) => {
                crate::digest::validate(digest).map_err(|m| invalid(&m))?;
                (rest, Some(digest.to_string()))
            }
            None => (raw, None),
        };
        let (registry, path) = raw
            .split_once('/')
            .ok_or_else(|| invalid("expected host/repository after oci://"))?;
        if registry.is_empty() || !registry.chars().all(valid_host_char) {
            return Err(invalid(
                "the registry host is empty or has invalid characters",
            ));
        }
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => {
                (repository, Some(tag.replace('+', "_")))
            }
            _ => (path, None),
        };
        if let Some(tag) = &tag
            && !valid_tag(tag)
        {
            return Err(invalid(&format!("{tag:?} is not a valid tag")));
        }
        if !valid_repository(repository) {
            return Err(invalid(&format!(
                "{repository:?} is not a valid repository (lowercase letters, digits and \
                 separators, in /-separated parts)"
            )));
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// Where `helm push CHART oci://host/path` puts a chart: `host/path/<name>:<version>`
    /// (`+` in the version written as `_`). `base` must not carry a tag or digest.
    pub fn for_push(base: &str, name: &str, version: &str) -> Result<Reference> {
        let trimmed = base.trim_end_matches('/');
        let parsed = Reference::parse(&format!("{trimmed}/{name}"))?;
        if parsed.tag.is_some() || parsed.digest.is_some() {
            return Err(Error::Reference {
                reference: base.to_string(),
                message: "a push destination takes no tag or digest: the chart's name and \
                          version are added to it"
                    .into(),
            });
        }
        let tag = version.replace('+', "_");
        if !valid_tag(&tag) {
            return Err(Error::Reference {
                reference: base.to_string(),
                message: format!("chart version {version:?} is not a valid tag"),
            });
        }
        Ok(Reference {
            tag: Some(tag),
            ..parsed
        })
    }

    /// The chart name: the repository's last path element.
    pub fn chart_name(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// The manifest reference to ask the registry for: the digest when given, else the tag.
    pub fn manifest_reference(&self) -> Option<&str> {
        self.digest.as_deref().or(self.tag.as_deref())
    }

    /// `host/repository` without tag or digest.
    pub fn repository_url(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn valid_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_')
}

/// `[a-z0-9]+([._-]+[a-z0-9]+)*` parts separated by `/` (the distribution spec's name rule,
/// with the separators it allows).
fn valid_repository(repository: &str) -> bool {
    !repository.is_empty()
        && repository.split('/').all(|part| {
            let bytes = part.as_bytes();
            !part.is_empty()
                && bytes[0].is_ascii_alphanumeric()
                && bytes[bytes.len() - 1].is_ascii_alphanumeric()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        })
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_parse_as_helm_reads_them() {
        let r = Reference::parse("oci://localhost:5000/charts/web:1.2.3+build.1").unwrap();
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "charts/web");
        assert_eq!(r.tag.as_deref(), Some("1.2.3_build.1"));
        assert_eq!(r.chart_name(), "web");
        assert_eq!(r.to_string(), "localhost:5000/charts/web:1.2.3_build.1");

        let r = Reference::parse(&format!("oci://registry.example.com/web@{DIGEST}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_reference(), Some(DIGEST));

        let r = Reference::parse(&format!("oci://r.io:443/a/b/web:1.0.0@{DIGEST}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("1.0.0"));
        assert_eq!(r.manifest_reference(), Some(DIGEST));

        let r = Reference::parse("oci://127.0.0.1:5000/charts/web").unwrap();
        assert_eq!((r.registry.as_str(), r.tag), ("127.0.0.1:5000", None));
    }

    #[test]
    fn bad_references_say_why() {
        for bad in [
            "oci://localhost:5000",
            "oci:///charts/web",
            "oci://host/Charts/Web",
            "oci://host/charts//web",
            "oci://host/web:bad tag",
            "oci://host/web@sha256:abc",
            "oci://host/web@md5:0123",
        ] {
            let error = Reference::parse(bad).unwrap_err().to_string();
            assert!(error.contains(bad), "{error}");
        }
    }

    #[test]
    fn push_destinations_take_the_chart_name_and_version() {
        let r = Reference::for_push("oci://localhost:5000/charts/", "web", "0.1.0+g1").unwrap();
        assert_eq!(r.to_string(), "localhost:5000/charts/web:0.1.0_g1");
        let r = Reference::for_push("oci://localhost:5000", "web", "1.0.0").unwrap();
        assert_eq!(r.to_string(), "localhost:5000/web:1.0.0");
        assert!(Reference::for_push("oci://localhost:5000/charts:1.0", "web", "1.0.0").is_err());
    }
}
