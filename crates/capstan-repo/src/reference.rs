//! What users name a chart by, classified as Helm's `LocateChart` does.

use std::path::PathBuf;

/// A chart reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartRef {
    /// A directory or `.tgz` on disk.
    Local(PathBuf),
    /// `REPO/CHART`: a chart of a repository in `repositories.yaml`.
    Repo {
        /// The repository name.
        repo: String,
        /// The chart name.
        chart: String,
    },
    /// `CHART --repo URL`: a chart of a repository given by URL.
    RepoUrl {
        /// The repository URL.
        url: String,
        /// The chart name.
        chart: String,
    },
    /// An `http(s)://` URL of a chart archive.
    Url(String),
    /// `oci://host/path/chart[:tag|@digest]`.
    Oci(String),
    /// Nothing on disk and not a reference form (e.g. `./missing`, or a bare name).
    Missing(String),
}

impl ChartRef {
    /// Classifies `reference` (with `--repo URL` when given): `oci://` first, then an existing
    /// path, then `--repo`, then a URL, then `REPO/CHART`.
    pub fn parse(reference: &str, repo_url: Option<&str>) -> ChartRef {
        let reference = reference.trim();
        if reference.starts_with("oci://") {
            return ChartRef::Oci(reference.into());
        }
        let path = PathBuf::from(reference);
        if path.exists() {
            return ChartRef::Local(path);
        }
        if path.is_absolute() || reference.starts_with('.') {
            return ChartRef::Missing(reference.into());
        }
        if let Some(url) = repo_url.filter(|u| !u.is_empty()) {
            return ChartRef::RepoUrl {
                url: url.into(),
                chart: reference.into(),
            };
        }
        if reference.starts_with("http://") || reference.starts_with("https://") {
            return ChartRef::Url(reference.into());
        }
        match reference.split_once('/') {
            Some((repo, chart))
                if !repo.is_empty() && !chart.is_empty() && !chart.contains('/') =>
            {
                ChartRef::Repo {
                    repo: repo.into(),
                    chart: chart.into(),
                }
            }
            _ => ChartRef::Missing(reference.into()),
        }
    }

    /// The chart's name as far as the reference tells (the last path element, without a tag,
    /// digest, version or `.tgz`).
    pub fn chart_name(&self) -> String {
        let text = match self {
            ChartRef::Local(p) => p.display().to_string(),
            ChartRef::Repo { chart, .. } | ChartRef::RepoUrl { chart, .. } => chart.clone(),
            ChartRef::Url(u) | ChartRef::Oci(u) | ChartRef::Missing(u) => u.clone(),
        };
        let last = text
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string();
        let last = last.split(['@', '?']).next().unwrap_or("");
        let last = last.split(':').next().unwrap_or("");
        last.trim_end_matches(".tgz").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_as_helm_does() {
        let here = env!("CARGO_MANIFEST_DIR");
        assert_eq!(ChartRef::parse(here, None), ChartRef::Local(here.into()));
        assert_eq!(
            ChartRef::parse("stable/web", None),
            ChartRef::Repo {
                repo: "stable".into(),
                chart: "web".into()
            }
        );
        assert_eq!(
            ChartRef::parse("web", Some("https://h/c")),
            ChartRef::RepoUrl {
                url: "https://h/c".into(),
                chart: "web".into()
            }
        );
        assert_eq!(
            ChartRef::parse("https://h/web-1.0.0.tgz", None),
            ChartRef::Url("https://h/web-1.0.0.tgz".into())
        );
        assert_eq!(
            ChartRef::parse("oci://h/c/web:1.0", None),
            ChartRef::Oci("oci://h/c/web:1.0".into())
        );
        assert_eq!(
            ChartRef::parse("./nope", None),
            ChartRef::Missing("./nope".into())
        );
        assert_eq!(
            ChartRef::parse("web", None),
            ChartRef::Missing("web".into())
        );
        assert_eq!(
            ChartRef::parse("oci://h/c/web:1.0", None).chart_name(),
            "web"
        );
        assert_eq!(
            ChartRef::parse("https://h/web-1.0.0.tgz", None).chart_name(),
            "web-1.0.0"
        );
    }
}
