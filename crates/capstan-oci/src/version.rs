//! Choosing the tag for `--version`: an exact version is its own tag; a constraint
//! (Masterminds syntax, as `capstan_chart::constraint` reads it) picks the highest tag that is a
//! strict SemVer version and satisfies it, as Helm does.

use capstan_chart::constraint::{Constraint, parse_version};

/// Whether `version` is one exact version rather than a constraint (Helm's `semver.NewVersion`
/// succeeds on it), so it is used as the tag without listing tags.
pub fn is_exact(version: &str) -> bool {
    parse_version(version).is_ok()
}

/// The tag for an exact version (`+` written as `_`).
pub fn tag_of(version: &str) -> String {
    version.replace('+', "_")
}

/// The tag to use among `tags` for `constraint` (`None`: the highest stable version): an exact
/// string match first, then the highest strict SemVer tag (`_` read as `+`) satisfying it.
/// `Err` carries the constraint's parse error.
pub fn select_tag(tags: &[String], constraint: Option<&str>) -> Result<Option<String>, String> {
    let constraint = constraint.map(str::trim).filter(|c| !c.is_empty());
    if let Some(wanted) = constraint {
        let wanted_tag = tag_of(wanted);
        if let Some(exact) = tags.iter().find(|t| **t == wanted_tag) {
            return Ok(Some(exact.clone()));
        }
    }
    let parsed = Constraint::parse(constraint.unwrap_or("*")).map_err(|e| e.to_string())?;
    let mut versions: Vec<(semver::Version, &String)> = tags
        .iter()
        .filter_map(|tag| {
            semver::Version::parse(&tag.replace('_', "+"))
                .ok()
                .map(|v| (v, tag))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(versions
        .into_iter()
        .find(|(v, _)| parsed.matches(v))
        .map(|(_, tag)| tag.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags() -> Vec<String> {
        [
            "0.9.0",
            "1.0.0",
            "1.2.0",
            "1.10.1",
            "2.0.0-rc.1",
            "1.3.0_build.7",
            "latest",
            "v3",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn constraints_pick_the_highest_matching_tag() {
        let pick = |c: Option<&str>| select_tag(&tags(), c).unwrap();
        assert_eq!(pick(None).as_deref(), Some("1.10.1"));
        assert_eq!(pick(Some("^1.0")).as_deref(), Some("1.10.1"));
        assert_eq!(pick(Some("~1.2")).as_deref(), Some("1.2.0"));
        assert_eq!(pick(Some(">=1.3 <1.4")).as_deref(), Some("1.3.0_build.7"));
        assert_eq!(
            pick(Some("1.3.0+build.7")).as_deref(),
            Some("1.3.0_build.7")
        );
        assert_eq!(pick(Some(">=2.0.0-0")).as_deref(), Some("2.0.0-rc.1"));
        assert_eq!(pick(Some("<1.0.0")).as_deref(), Some("0.9.0"));
        assert_eq!(pick(Some("latest")).as_deref(), Some("latest"));
        assert_eq!(pick(Some(">5")), None);
        assert!(select_tag(&tags(), Some(">>1")).is_err());
        assert!(is_exact("1.2.3") && is_exact("1.2") && !is_exact("^1.2") && !is_exact("1.x"));
        assert_eq!(tag_of("1.0.0+abc"), "1.0.0_abc");
    }
}
