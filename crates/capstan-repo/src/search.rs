//! `search repo`: Helm's literal and regular-expression search over cached indexes.

use capstan_chart::constraint::parse_version;

use crate::index::{ChartVersion, IndexFile, parse_constraint};
use crate::{Error, Result};

/// Helm's score threshold: matches past this many fields are left out.
const THRESHOLD: usize = 25;
/// Separates the fields of a search line (as Helm's `\v`).
const SEP: char = '\u{b}';

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// `REPO/CHART`.
    pub name: String,
    /// Which field matched first (lower is better).
    pub score: usize,
    /// The chart version.
    pub chart: ChartVersion,
}

/// What `search repo` looks for.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// The keyword (empty: every chart).
    pub term: String,
    /// Treat the keyword as a regular expression.
    pub regexp: bool,
    /// Every version, not only the newest matching one.
    pub versions: bool,
    /// A version constraint (empty: releases only; `--devel`: pre-releases too).
    pub version: String,
    /// Pre-releases too.
    pub devel: bool,
}

/// Searches `indexes` (repository name, index) as `helm search repo` does: results sorted by
/// score, then name, then newest version first; filtered by the version constraint, one per
/// chart unless `versions`.
pub fn search(indexes: &[(String, IndexFile)], query: &SearchQuery) -> Result<Vec<SearchResult>> {
    let constraint_text = match (query.version.is_empty(), query.devel) {
        (false, _) => query.version.clone(),
        (true, true) => ">0.0.0-0".into(),
        (true, false) => ">0.0.0".into(),
    };
    let constraint = parse_constraint(&constraint_text)?;
    let matcher = if query.regexp {
        Some(regex::Regex::new(&query.term).map_err(|e| {
            Error::Reference(format!("invalid regular expression {:?}: {e}", query.term))
        })?)
    } else {
        None
    };
    let term = query.term.to_lowercase();
    let mut results = Vec::new();
    for (repo, index) in indexes {
        for (name, versions) in &index.entries {
            let full = format!("{repo}/{name}");
            for chart in versions {
                let score = if query.term.is_empty() {
                    Some(0)
                } else {
                    let line = format!(
                        "{}{SEP}{full}{SEP}{}{SEP}{}",
                        chart.name,
                        chart.description,
                        chart.keywords.join(" ")
                    )
                    .to_lowercase();
                    let at = match &matcher {
                        Some(re) => re.find(&line).map(|m| m.start()),
                        None => line.find(&term),
                    };
                    at.map(|at| line[..at].matches(SEP).count())
                        .filter(|score| *score < THRESHOLD)
                };
                if let Some(score) = score {
                    results.push(SearchResult {
                        name: full.clone(),
                        score,
                        chart: chart.clone(),
                    });
                }
            }
        }
    }
    results.sort_by(|a, b| {
        a.score
            .cmp(&b.score)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| {
                parse_version(&b.chart.version)
                    .ok()
                    .cmp(&parse_version(&a.chart.version).ok())
            })
    });
    let mut seen = std::collections::BTreeSet::new();
    results.retain(|r| {
        if !query.versions && seen.contains(&r.name) {
            return false;
        }
        let ok = parse_version(&r.chart.version).is_ok_and(|v| constraint.matches(&v));
        if ok {
            seen.insert(r.name.clone());
        }
        ok
    });
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> IndexFile {
        let text = r#"apiVersion: v1
entries:
  web:
  - {name: web, version: 1.0.0, description: A web server, keywords: [http]}
  - {name: web, version: 1.1.0, description: A web server, keywords: [http]}
  - {name: web, version: 2.0.0-beta.1, description: A web server}
  db:
  - {name: db, version: 0.3.0, description: Database with a web console}
"#;
        IndexFile::parse(text.as_bytes(), "i").unwrap()
    }

    fn names(results: &[SearchResult]) -> Vec<String> {
        results
            .iter()
            .map(|r| format!("{}@{}", r.name, r.chart.version))
            .collect()
    }

    #[test]
    fn searches_as_helm_does() {
        let indexes = vec![("r".to_string(), index())];
        let q = |term: &str| SearchQuery {
            term: term.into(),
            ..SearchQuery::default()
        };
        assert_eq!(
            names(&search(&indexes, &q("")).unwrap()),
            ["r/db@0.3.0", "r/web@1.1.0"]
        );
        assert_eq!(
            names(&search(&indexes, &q("web")).unwrap()),
            ["r/web@1.1.0", "r/db@0.3.0"]
        );
        assert_eq!(
            names(&search(&indexes, &q("HTTP")).unwrap()),
            ["r/web@1.1.0"]
        );
        let all = SearchQuery {
            term: "web".into(),
            versions: true,
            devel: true,
            ..SearchQuery::default()
        };
        assert_eq!(
            names(&search(&indexes, &all).unwrap()),
            [
                "r/web@2.0.0-beta.1",
                "r/web@1.1.0",
                "r/web@1.0.0",
                "r/db@0.3.0"
            ]
        );
        let constrained = SearchQuery {
            term: "web".into(),
            version: "<1.1".into(),
            ..SearchQuery::default()
        };
        assert_eq!(
            names(&search(&indexes, &constrained).unwrap()),
            ["r/web@1.0.0", "r/db@0.3.0"]
        );
        let re = SearchQuery {
            term: "^d.".into(),
            regexp: true,
            ..SearchQuery::default()
        };
        assert_eq!(names(&search(&indexes, &re).unwrap()), ["r/db@0.3.0"]);
        let bad = SearchQuery {
            term: "(".into(),
            regexp: true,
            ..SearchQuery::default()
        };
        assert!(search(&indexes, &bad).is_err());
    }
}
