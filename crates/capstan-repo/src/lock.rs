//! `Chart.lock` and chart dependencies: `dependency list|update|build`, as Helm does them.

use std::path::{Path, PathBuf};

use capstan_chart::{ChartMetadata, Dependency};
use serde::{Deserialize, Serialize};

use crate::access::Access;
use crate::cache::write_atomic;
use crate::index::{IndexFile, now};
use crate::{Error, FetchOptions, Resolver, Result};

/// One resolved dependency of `Chart.lock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locked {
    /// The chart name.
    pub name: String,
    /// Where it came from, as `Chart.yaml` says.
    #[serde(default)]
    pub repository: String,
    /// The exact version chosen.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
}

/// `Chart.lock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFile {
    /// The resolved dependencies, in `Chart.yaml`'s order.
    pub dependencies: Vec<Locked>,
    /// `sha256:` of Helm's JSON of the requirements and the lock (see [`hash_requirements`]).
    pub digest: String,
    /// When it was generated (RFC 3339).
    pub generated: String,
}

impl LockFile {
    /// Reads `<chart>/Chart.lock`, if there is one.
    pub fn load(chart_dir: &Path) -> Result<Option<LockFile>> {
        let path = chart_dir.join("Chart.lock");
        match std::fs::read(&path) {
            Ok(bytes) => serde_yaml_ng::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Parse {
                    what: path.display().to_string(),
                    message: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading", &path, e)),
        }
    }
}

/// A JSON string as Go's `encoding/json` writes it (`<`, `>` and `&` escaped).
fn go_json_string(text: &str) -> String {
    serde_json::to_string(text)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// One dependency as Go marshals Helm's `chart.Dependency` (field order and `omitempty`).
fn go_dependency_json(
    name: &str,
    version: &str,
    repository: &str,
    dependency: Option<&Dependency>,
) -> String {
    let mut out = format!("{{\"name\":{}", go_json_string(name));
    if !version.is_empty() {
        out += &format!(",\"version\":{}", go_json_string(version));
    }
    out += &format!(",\"repository\":{}", go_json_string(repository));
    if let Some(d) = dependency {
        if !d.condition.is_empty() {
            out += &format!(",\"condition\":{}", go_json_string(&d.condition));
        }
        if !d.tags.is_empty() {
            let tags: Vec<String> = d.tags.iter().map(|t| go_json_string(t)).collect();
            out += &format!(",\"tags\":[{}]", tags.join(","));
        }
        if let Some(values) = d.import_values.as_ref().filter(|v| !v.is_null()) {
            let json = serde_json::to_string(values).unwrap_or_default();
            out += &format!(
                ",\"import-values\":{}",
                json.replace('<', "\\u003c")
                    .replace('>', "\\u003e")
                    .replace('&', "\\u0026")
            );
        }
        if !d.alias.is_empty() {
            out += &format!(",\"alias\":{}", go_json_string(&d.alias));
        }
    }
    out + "}"
}

/// Helm's `HashReq`: `sha256:` of Go's JSON of `[requirements, lock]`, which `dependency build`
/// compares with `Chart.lock`'s digest (Helm's and capstan's locks are interchangeable).
pub fn hash_requirements(requirements: &[Dependency], lock: &[Locked]) -> String {
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "null".to_string()
        } else {
            format!("[{}]", items.join(","))
        }
    };
    let req = list(
        requirements
            .iter()
            .map(|d| go_dependency_json(&d.name, &d.version, &d.repository, Some(d)))
            .collect(),
    );
    let locked = list(
        lock.iter()
            .map(|l| go_dependency_json(&l.name, &l.version, &l.repository, None))
            .collect(),
    );
    format!(
        "sha256:{}",
        capstan_chart::archive_digest(format!("[{req},{locked}]").as_bytes())
    )
}

/// Reads `<chart>/Chart.yaml`.
pub fn read_metadata(chart_dir: &Path) -> Result<ChartMetadata> {
    let path = chart_dir.join("Chart.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
    ChartMetadata::parse(&text, &path.display().to_string()).map_err(|source| Error::Chart {
        chart: chart_dir.display().to_string(),
        source,
    })
}

/// The state of one dependency in `charts/`, as `dependency list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyStatus {
    /// The dependency's name.
    pub name: String,
    /// Its version constraint.
    pub version: String,
    /// Its repository.
    pub repository: String,
    /// `ok`, `missing`, `unpacked`, `wrong version` or `misnamed`.
    pub status: String,
}

/// `dependency list`: every dependency of `Chart.yaml` and whether `charts/` holds it.
pub fn list(chart_dir: &Path) -> Result<Vec<DependencyStatus>> {
    let metadata = read_metadata(chart_dir)?;
    let charts = chart_dir.join("charts");
    let mut out = Vec::new();
    for dep in &metadata.dependencies {
        let status = dependency_status(&charts, dep);
        out.push(DependencyStatus {
            name: dep.name.clone(),
            version: dep.version.clone(),
            repository: dep.repository.clone(),
            status,
        });
    }
    Ok(out)
}

fn dependency_status(charts: &Path, dep: &Dependency) -> String {
    let limits = capstan_chart::Limits::default();
    let matches_version = |version: &str| {
        dep.version.is_empty()
            || capstan_chart::constraint::Constraint::parse(&dep.version)
                .and_then(|c| c.matches_str(version))
                .unwrap_or(false)
    };
    let archives = std::fs::read_dir(charts).into_iter().flatten().flatten();
    let mut found = None;
    for entry in archives {
        let path = entry.path();
        let file = entry.file_name().to_string_lossy().into_owned();
        if path.is_file() && file.ends_with(".tgz") && file.starts_with(&format!("{}-", dep.name)) {
            found = Some(match capstan_chart::Chart::load_path(&path, &limits) {
                Ok(chart) if chart.metadata.name != dep.name => "misnamed",
                Ok(chart) if !matches_version(&chart.metadata.version) => "wrong version",
                Ok(_) => "ok",
                Err(_) => "corrupt",
            });
            if found == Some("ok") {
                break;
            }
        }
    }
    if let Some(status) = found {
        return status.into();
    }
    let dir = charts.join(&dep.name);
    if dir.join("Chart.yaml").is_file() {
        return match read_metadata(&dir) {
            Ok(md) if md.name != dep.name => "misnamed".into(),
            Ok(md) if !matches_version(&md.version) => "wrong version".into(),
            Ok(_) => "unpacked".into(),
            Err(_) => "corrupt".into(),
        };
    }
    "missing".into()
}

/// How `dependency update|build` behaves.
#[derive(Clone, Default)]
pub struct UpdateOptions {
    /// Use the cached indexes as they are (`--skip-refresh`).
    pub skip_refresh: bool,
    /// Credentials and TLS for repositories given by URL.
    pub fetch: FetchOptions,
    /// The OCI client, for `oci://` dependencies (none: they are refused).
    pub oci: Option<std::sync::Arc<dyn crate::ChartFetcher>>,
}

impl std::fmt::Debug for UpdateOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateOptions")
            .field("skip_refresh", &self.skip_refresh)
            .field("fetch", &self.fetch)
            .field("oci", &self.oci.is_some())
            .finish()
    }
}

/// What a dependency update did, for the command's output.
#[derive(Debug, Clone, Default)]
pub struct UpdateReport {
    /// Repositories whose indexes were refreshed.
    pub refreshed: Vec<String>,
    /// Charts written to `charts/` (file names).
    pub saved: Vec<String>,
    /// The versions chosen, in `Chart.yaml`'s order.
    pub locked: Vec<Locked>,
    /// The lock written (by `update`).
    pub lock: Option<LockFile>,
}

/// `dependency update`: resolves every dependency to the newest version its constraint allows,
/// downloads it into `charts/` and writes `Chart.lock`.
pub async fn update(
    resolver: &Resolver,
    chart_dir: &Path,
    options: &UpdateOptions,
) -> Result<UpdateReport> {
    let metadata = read_metadata(chart_dir)?;
    let mut report = fill_charts(resolver, chart_dir, &metadata.dependencies, options).await?;
    let locked = report.locked.clone();
    let lock = LockFile {
        digest: hash_requirements(&metadata.dependencies, &locked),
        dependencies: locked,
        generated: now(),
    };
    if !metadata.dependencies.is_empty() {
        let text = serde_yaml_ng::to_string(&lock).map_err(|e| Error::Parse {
            what: "Chart.lock".into(),
            message: e.to_string(),
        })?;
        write_atomic(&chart_dir.join("Chart.lock"), text.as_bytes(), 0o644)?;
    }
    report.lock = Some(lock);
    Ok(report)
}

/// Resolves `deps` (constraints or pinned versions), downloads them and replaces their
/// archives in `charts/`; the versions chosen are in the report's `locked`.
async fn fill_charts(
    resolver: &Resolver,
    chart_dir: &Path,
    deps: &[Dependency],
    options: &UpdateOptions,
) -> Result<UpdateReport> {
    let mut locked = Vec::new();
    let mut report = UpdateReport::default();
    let mut plan: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let dep_error = |message: String| Error::Dependency {
        chart: chart_dir.display().to_string(),
        message,
    };
    for dep in deps {
        let repository = dep.repository.as_str();
        if repository.is_empty() {
            let md = read_metadata(&chart_dir.join("charts").join(&dep.name)).map_err(|_| {
                dep_error(format!(
                    "{:?} has no repository and is not in charts/{}",
                    dep.name, dep.name
                ))
            })?;
            locked.push(Locked {
                name: dep.name.clone(),
                repository: String::new(),
                version: md.version,
            });
            continue;
        }
        if let Some(path) = repository.strip_prefix("file://") {
            let dir = chart_dir.join(path);
            let packaged = crate::package::package(&dir, &Default::default())?;
            if packaged.name != dep.name {
                return Err(dep_error(format!(
                    "{repository} holds chart {:?}, not {:?}",
                    packaged.name, dep.name
                )));
            }
            locked.push(Locked {
                name: dep.name.clone(),
                repository: repository.into(),
                version: packaged.version.clone(),
            });
            plan.push((PathBuf::from(&packaged.file_name), packaged.bytes));
            continue;
        }
        if repository.starts_with("oci://") {
            let Some(oci) = &options.oci else {
                return Err(dep_error(format!(
                    "{:?} comes from {repository}: oci:// dependencies are not supported yet",
                    dep.name
                )));
            };
            let reference = format!("{}/{}", repository.trim_end_matches('/'), dep.name);
            let fetch = FetchOptions {
                version: dep.version.clone(),
                ..options.fetch.clone()
            };
            let fetched = oci.fetch(&reference, &fetch).await?;
            locked.push(Locked {
                name: dep.name.clone(),
                repository: repository.into(),
                version: fetched.version.clone(),
            });
            plan.push((
                PathBuf::from(format!("{}-{}.tgz", dep.name, fetched.version)),
                fetched.archive,
            ));
            continue;
        }
        let (index, access) = dependency_index(resolver, repository, options, &mut report).await?;
        let version = index
            .select(&access.repo, &dep.name, &dep.version)
            .map_err(|e| dep_error(e.to_string()))?
            .clone();
        let resolved = resolver.download(version.clone(), access).await?;
        locked.push(Locked {
            name: dep.name.clone(),
            repository: repository.into(),
            version: version.version.clone(),
        });
        plan.push((PathBuf::from(&resolved.file_name), resolved.archive));
    }
    let charts = chart_dir.join("charts");
    remove_old_archives(&charts, deps)?;
    for (file, bytes) in plan {
        write_atomic(&charts.join(&file), &bytes, 0o644)?;
        report.saved.push(file.display().to_string());
    }
    report.locked = locked;
    Ok(report)
}

/// The index a dependency's repository URL (or `@name`/`alias:name`) refers to, refreshed
/// once unless `skip_refresh`.
async fn dependency_index(
    resolver: &Resolver,
    repository: &str,
    options: &UpdateOptions,
    report: &mut UpdateReport,
) -> Result<(IndexFile, Access)> {
    let file = resolver.repo_file()?;
    let by_name = repository
        .strip_prefix('@')
        .or_else(|| repository.strip_prefix("alias:"));
    let entry = match by_name {
        Some(name) => Some(file.require(name)?.clone()),
        None => file
            .repositories
            .iter()
            .find(|r| r.url.trim_end_matches('/') == repository.trim_end_matches('/'))
            .cloned(),
    };
    match entry {
        Some(entry) => {
            let access = options.fetch.apply_to(Access::from_entry(&entry));
            if !options.skip_refresh && !report.refreshed.contains(&entry.name) {
                report.refreshed.push(entry.name.clone());
                return Ok((resolver.update_repo(&entry, &options.fetch).await?, access));
            }
            Ok((resolver.cached_index(&entry.name)?, access))
        }
        None => {
            let access = options.fetch.apply_to(Access {
                repo: repository.into(),
                url: repository.into(),
                ..Access::default()
            });
            let url = crate::join_url(repository, "index.yaml");
            let bytes = crate::fetch(
                &access,
                &url,
                &format!("repository {repository} index"),
                crate::MAX_INDEX_BYTES,
            )
            .await?;
            Ok((
                IndexFile::parse(&bytes, &format!("index.yaml of repository {repository}"))?,
                access,
            ))
        }
    }
}

/// Removes archives in `charts/` of the dependencies about to be written.
fn remove_old_archives(charts: &Path, deps: &[Dependency]) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(charts) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let file = entry.file_name().to_string_lossy().into_owned();
        if !file.ends_with(".tgz") || !path.is_file() {
            continue;
        }
        let ours = deps.iter().any(|d| {
            file.strip_prefix(&format!("{}-", d.name))
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit() || c == 'v'))
        });
        if ours {
            std::fs::remove_file(&path).map_err(|e| Error::io("removing", &path, e))?;
        }
    }
    Ok(())
}

/// `dependency build`: with a `Chart.lock` in sync with `Chart.yaml`, downloads exactly the
/// locked versions; without one, does an update.
pub async fn build(
    resolver: &Resolver,
    chart_dir: &Path,
    options: &UpdateOptions,
) -> Result<UpdateReport> {
    let Some(lock) = LockFile::load(chart_dir)? else {
        return update(resolver, chart_dir, options).await;
    };
    let metadata = read_metadata(chart_dir)?;
    if hash_requirements(&metadata.dependencies, &lock.dependencies) != lock.digest {
        return Err(Error::Dependency {
            chart: chart_dir.display().to_string(),
            message: "the lock file (Chart.lock) is out of sync with the dependencies file (Chart.yaml); run `capstan dependency update`".into(),
        });
    }
    let mut pinned = metadata.clone();
    for (dep, locked) in pinned.dependencies.iter_mut().zip(&lock.dependencies) {
        dep.version = locked.version.clone();
    }
    let mut pinned = metadata.dependencies.clone();
    for (dep, locked) in pinned.iter_mut().zip(&lock.dependencies) {
        dep.version = locked.version.clone();
    }
    fill_charts(resolver, chart_dir, &pinned, options).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[tokio::test]
    async fn file_dependencies_update_build_and_list() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_path_buf();
        let resolver = Resolver::new(crate::HelmPaths::from_lookup(|n| {
            (n == "HOME").then(|| home.clone())
        }));
        write(
            &dir.path().join("child/Chart.yaml"),
            "apiVersion: v2\nname: child\nversion: 0.3.0\n",
        );
        let parent = dir.path().join("parent");
        write(
            &parent.join("Chart.yaml"),
            "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: child\n  version: ~0.3\n  repository: file://../child\n",
        );
        write(
            &parent.join("charts/child-0.1.0.tgz"),
            "an outdated archive",
        );
        assert_eq!(list(&parent).unwrap()[0].status, "corrupt");
        let report = update(&resolver, &parent, &UpdateOptions::default())
            .await
            .unwrap();
        assert_eq!(report.saved, ["child-0.3.0.tgz"]);
        assert!(!parent.join("charts/child-0.1.0.tgz").exists());
        assert_eq!(list(&parent).unwrap()[0].status, "ok");
        let lock = LockFile::load(&parent).unwrap().unwrap();
        assert_eq!(lock.dependencies[0].version, "0.3.0");
        let text = std::fs::read_to_string(parent.join("Chart.lock")).unwrap();
        assert!(text.starts_with("dependencies:\n- name: child\n  repository: file://../child\n  version: 0.3.0\ndigest: sha256:"), "{text}");
        std::fs::remove_dir_all(parent.join("charts")).unwrap();
        build(&resolver, &parent, &UpdateOptions::default())
            .await
            .unwrap();
        assert!(parent.join("charts/child-0.3.0.tgz").is_file());
        assert_eq!(
            std::fs::read_to_string(parent.join("Chart.lock")).unwrap(),
            text
        );
        // Chart.yaml changed after the lock: build refuses, as Helm's does.
        let chart_yaml = std::fs::read_to_string(parent.join("Chart.yaml")).unwrap();
        write(
            &parent.join("Chart.yaml"),
            &chart_yaml.replace("~0.3", "~0.4"),
        );
        let err = build(&resolver, &parent, &UpdateOptions::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("out of sync"), "{err}");
    }

    #[test]
    fn hash_matches_helm_s_json() {
        let req = vec![Dependency {
            name: "db".into(),
            version: ">=1.0.0 <2".into(),
            repository: "https://h/c".into(),
            condition: "db.enabled".into(),
            ..Dependency::default()
        }];
        let lock = vec![Locked {
            name: "db".into(),
            repository: "https://h/c".into(),
            version: "1.2.0".into(),
        }];
        let json = r#"[[{"name":"db","version":"\u003e=1.0.0 \u003c2","repository":"https://h/c","condition":"db.enabled"}],[{"name":"db","version":"1.2.0","repository":"https://h/c"}]]"#;
        assert_eq!(
            hash_requirements(&req, &lock),
            format!("sha256:{}", capstan_chart::archive_digest(json.as_bytes()))
        );
    }
}
