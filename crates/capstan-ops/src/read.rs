//! The read side: `history`, `status` (with the live status of each object), `get` (values,
//! manifest, notes, hooks, metadata) and `list`.

use capstan_release::{
    History, HistoryScope, ListFilter, Listing, Release, ReleaseStore, ReleaseSummary,
    StoredRelease, Unreadable,
};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::cluster::{Cluster, ObjectStatus};
use crate::error::{Error, Result};
use crate::resource::split_manifest;
use crate::session::normalize_namespace;
use crate::values::coalesce;

/// `helm history`'s default `--max`.
pub const DEFAULT_HISTORY_MAX: usize = 256;

fn read_error(name: &str, revision: Option<u32>) -> impl FnOnce(capstan_release::Error) -> Error {
    let name = name.to_owned();
    move |e| {
        if e.is_not_found() {
            Error::NotFound { name, revision }
        } else {
            Error::Store {
                context: match revision {
                    Some(r) => format!("reading release {name:?} revision {r}"),
                    None => format!("reading release {name:?}"),
                },
                source: Box::new(e),
            }
        }
    }
}

/// What a read returns, with the records it skipped because they cannot be read (each naming
/// its object and why), for the caller to show as warnings.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading<T> {
    /// What was read.
    pub value: T,
    /// The unreadable records skipped.
    pub skipped: Vec<String>,
}

/// Turns a history read into its readable records and warnings; with nothing readable, the
/// newest unreadable record's error (or `release: not found` when there is no record at all).
fn readable(name: &str, mut history: History) -> Result<Reading<Vec<StoredRelease>>> {
    if history.records.is_empty() {
        history.unreadable.sort_by_key(Unreadable::revision);
        return Err(match history.unreadable.pop() {
            Some(newest) => read_error(name, newest.revision())(newest.error),
            None => Error::NotFound {
                name: name.to_owned(),
                revision: None,
            },
        });
    }
    Ok(Reading {
        skipped: history.unreadable.iter().map(ToString::to_string).collect(),
        value: history.records,
    })
}

/// The last `max` readable revisions of a release (0 = all), ascending, with the unreadable
/// ones skipped (as Helm skips them); `release: not found` when there is none.
pub async fn history(
    store: &dyn ReleaseStore,
    namespace: &str,
    name: &str,
    max: usize,
) -> Result<Reading<Vec<Release>>> {
    let all = store
        .read_history(normalize_namespace(namespace), name)
        .await
        .map_err(read_error(name, None))?;
    let Reading {
        value: all,
        skipped,
    } = readable(name, all)?;
    let skip = if max == 0 {
        0
    } else {
        all.len().saturating_sub(max)
    };
    Ok(Reading {
        value: all.into_iter().skip(skip).map(|r| r.release).collect(),
        skipped,
    })
}

/// One revision (`None`: the newest readable one, skipping and reporting newer unreadable
/// ones, as Helm does; a revision asked for by number must be readable).
pub async fn get(
    store: &dyn ReleaseStore,
    namespace: &str,
    name: &str,
    revision: Option<u32>,
) -> Result<Reading<Release>> {
    let namespace = normalize_namespace(namespace);
    match revision.filter(|r| *r > 0) {
        Some(r) => Ok(Reading {
            value: store
                .get(namespace, name, r)
                .await
                .map_err(read_error(name, Some(r)))?
                .release,
            skipped: Vec::new(),
        }),
        None => {
            let history = store
                .history_in(namespace, name, HistoryScope::Latest)
                .await
                .map_err(read_error(name, None))?;
            let Reading { mut value, skipped } = readable(name, history)?;
            let latest = value
                .pop()
                .map(|r| r.release)
                .ok_or_else(|| Error::NotFound {
                    name: name.to_owned(),
                    revision: None,
                })?;
            Ok(Reading {
                value: latest,
                skipped,
            })
        }
    }
}

/// What `status` shows: the revision and the live status of each of its objects.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusReport {
    /// The revision.
    pub release: Release,
    /// The live status of its objects, as the cluster reports it.
    pub objects: Vec<ObjectStatus>,
    /// Newer records skipped because they cannot be read.
    pub skipped: Vec<String>,
}

/// `status [--revision N]`.
pub async fn status(
    store: &dyn ReleaseStore,
    cluster: &dyn Cluster,
    namespace: &str,
    name: &str,
    revision: Option<u32>,
) -> Result<StatusReport> {
    let Reading {
        value: release,
        skipped,
    } = get(store, namespace, name, revision).await?;
    let objects = split_manifest(&release.manifest)?;
    let objects = cluster
        .object_status(normalize_namespace(namespace), &objects)
        .await
        .map_err(Error::cluster(format!(
            "reading the live status of release {name:?}"
        )))?;
    Ok(StatusReport {
        release,
        objects,
        skipped,
    })
}

/// `list`: the latest revision of each release passing the filter, from metadata.
pub async fn list(
    store: &dyn ReleaseStore,
    filter: &ListFilter,
) -> Result<Listing<ReleaseSummary>> {
    store
        .list_summaries(filter)
        .await
        .map_err(Error::store("listing releases"))
}

/// `get values`: the user values, or with `all` the stored chart's defaults coalesced under
/// them.
pub fn values(release: &Release, all: bool) -> Map<String, Value> {
    if !all {
        return release.config.clone();
    }
    let defaults = release
        .chart
        .as_ref()
        .and_then(|c| c.values.clone())
        .unwrap_or_default();
    coalesce(&release.config, &defaults)
}

/// `get hooks`: each hook as `---\n# Source: <path>\n<manifest>\n`, as Helm prints them.
pub fn hooks_text(release: &Release) -> String {
    let mut out = String::new();
    for h in &release.hooks {
        out.push_str("---\n# Source: ");
        out.push_str(&h.path);
        out.push('\n');
        out.push_str(&h.manifest);
        out.push('\n');
    }
    out
}

/// `get metadata`, with Helm's JSON names.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// The release name.
    pub name: String,
    /// The chart name.
    pub chart: String,
    /// The chart version.
    pub version: String,
    /// The app version.
    pub app_version: String,
    /// The chart's annotations.
    pub annotations: std::collections::BTreeMap<String, String>,
    /// The release's custom labels (`--labels`).
    pub labels: std::collections::BTreeMap<String, String>,
    /// The chart's dependencies.
    pub dependencies: Vec<Value>,
    /// The namespace.
    pub namespace: String,
    /// The revision.
    pub revision: u32,
    /// The status.
    pub status: String,
    /// When the revision was deployed.
    pub deployed_at: String,
    /// `ssa` or `csa` (Helm 4).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub apply_method: String,
}

/// `get metadata`.
pub fn metadata(release: &Release) -> Metadata {
    let meta = release.chart.as_ref().and_then(|c| c.metadata.as_ref());
    Metadata {
        name: release.name.clone(),
        chart: meta.map(|m| m.name.clone()).unwrap_or_default(),
        version: meta.map(|m| m.version.clone()).unwrap_or_default(),
        app_version: release.app_version().to_owned(),
        annotations: meta.map(|m| m.annotations.clone()).unwrap_or_default(),
        labels: release.labels.clone(),
        dependencies: meta
            .map(|m| {
                m.dependencies
                    .iter()
                    .filter_map(|d| serde_json::to_value(d).ok())
                    .collect()
            })
            .unwrap_or_default(),
        namespace: release.namespace.clone(),
        revision: release.version,
        status: release.info.status.to_string(),
        deployed_at: release
            .info
            .last_deployed
            .map(|t| t.to_string())
            .unwrap_or_default(),
        apply_method: release
            .apply_method
            .as_ref()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default(),
    }
}
