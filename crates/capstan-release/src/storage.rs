//! Storage object metadata: Helm's system labels, custom labels, capstan's list annotations,
//! and [`ReleaseSummary`], the row of `list` built from metadata alone.
//!
//! Every release object carries Helm's labels `owner=helm`, `name`, `status`, `version` and
//! `createdAt` (on create) or `modifiedAt` (on update), unix seconds. capstan adds annotations
//! (which Helm ignores and drops when it rewrites an object) holding what `list` shows beyond
//! the labels: chart, app version and the UPDATED time. An object without them (written by
//! Helm) still yields a summary from its labels, marked as needing its payload decoded for the
//! rest ([`ReleaseSummary::needs_payload`]).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::name::ObjectKey;
use crate::release::Release;
use crate::status::Status;
use crate::time::GoTime;

/// Label key: the owner, always [`OWNER_HELM`] on release objects.
pub const LABEL_OWNER: &str = "owner";
/// Label key: the release name.
pub const LABEL_NAME: &str = "name";
/// Label key: the revision's status.
pub const LABEL_STATUS: &str = "status";
/// Label key: the revision number.
pub const LABEL_VERSION: &str = "version";
/// Label key: unix seconds when the object was created (set on create).
pub const LABEL_CREATED_AT: &str = "createdAt";
/// Label key: unix seconds when the object was last updated (set on update).
pub const LABEL_MODIFIED_AT: &str = "modifiedAt";
/// The value of the `owner` label on release objects.
pub const OWNER_HELM: &str = "helm";
/// Helm's system labels; custom labels may not use these keys.
pub const SYSTEM_LABELS: [&str; 6] = [
    LABEL_NAME,
    LABEL_OWNER,
    LABEL_STATUS,
    LABEL_VERSION,
    LABEL_CREATED_AT,
    LABEL_MODIFIED_AT,
];

/// The Secret type of release Secrets.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";
/// The key of the payload in a Secret's or ConfigMap's data.
pub const DATA_KEY: &str = "release";

/// Annotation: the chart as `<name>-<version>` (the CHART column).
pub const ANNOTATION_CHART: &str = "capstan.dev/chart";
/// Annotation: the chart's app version (the APP VERSION column).
pub const ANNOTATION_APP_VERSION: &str = "capstan.dev/app-version";
/// Annotation: `info.last_deployed` in Go's RFC 3339 form (the UPDATED column); absent when
/// the revision was never deployed.
pub const ANNOTATION_UPDATED: &str = "capstan.dev/updated";

/// Whether `key` is one of Helm's system labels.
pub fn is_system_label(key: &str) -> bool {
    SYSTEM_LABELS.contains(&key)
}

/// Checks that custom labels use no system label key (Helm refuses them too).
pub fn validate_custom_labels(labels: &BTreeMap<String, String>) -> Result<()> {
    match labels.keys().find(|k| is_system_label(k)) {
        Some(key) => Err(Error::ReservedLabel { key: key.clone() }),
        None => Ok(()),
    }
}

/// The custom labels among an object's labels: all but the system labels and the head label
/// of a split record ([`crate::chunk::LABEL_PART_SET`], which Helm copies to the revisions it
/// writes as if it were a custom label).
pub fn custom_labels(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, _)| !is_system_label(k) && k.as_str() != crate::chunk::LABEL_PART_SET)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Which write the metadata is for: Helm sets `createdAt` on create and `modifiedAt` on update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// A new object.
    Create,
    /// A replacement of an existing object. `created_at` is the existing object's `createdAt`,
    /// kept when known (Helm itself drops it on update).
    Update {
        /// The existing `createdAt`, unix seconds.
        created_at: Option<i64>,
    },
}

/// The name, labels and annotations of a release's storage object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectMetadata {
    /// `sh.helm.release.v1.<name>.v<revision>`.
    pub name: String,
    /// Custom labels plus Helm's system labels.
    pub labels: BTreeMap<String, String>,
    /// capstan's list annotations.
    pub annotations: BTreeMap<String, String>,
}

/// The metadata Helm (plus capstan's annotations) puts on the object holding `release`, for a
/// write at `now` (unix seconds). Fails when custom labels use a system key.
pub fn object_metadata(release: &Release, write: Write, now_unix: i64) -> Result<ObjectMetadata> {
    validate_custom_labels(&release.labels)?;
    let mut labels = release.labels.clone();
    match write {
        Write::Create => {
            labels.insert(LABEL_CREATED_AT.into(), now_unix.to_string());
        }
        Write::Update { created_at } => {
            if let Some(created) = created_at {
                labels.insert(LABEL_CREATED_AT.into(), created.to_string());
            }
            labels.insert(LABEL_MODIFIED_AT.into(), now_unix.to_string());
        }
    }
    labels.insert(LABEL_NAME.into(), release.name.clone());
    labels.insert(LABEL_OWNER.into(), OWNER_HELM.into());
    labels.insert(LABEL_STATUS.into(), release.info.status.as_str().into());
    labels.insert(LABEL_VERSION.into(), release.version.to_string());
    Ok(ObjectMetadata {
        name: ObjectKey::new(release.name.clone(), release.version).object_name(),
        labels,
        annotations: summary_annotations(release),
    })
}

/// capstan's list annotations for a release.
pub fn summary_annotations(release: &Release) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::new();
    if let Some(chart) = &release.chart {
        annotations.insert(ANNOTATION_CHART.into(), chart.name_version());
        annotations.insert(ANNOTATION_APP_VERSION.into(), chart.app_version().into());
    }
    if let Some(updated) = release.info.last_deployed {
        annotations.insert(ANNOTATION_UPDATED.into(), updated.to_string());
    }
    annotations
}

/// The label selector that finds every release object (`owner=helm`).
pub fn owner_selector() -> String {
    format!("{LABEL_OWNER}={OWNER_HELM}")
}

/// The label selector that finds every revision of one release (`owner=helm,name=<name>`).
pub fn history_selector(name: &str) -> String {
    format!("{LABEL_OWNER}={OWNER_HELM},{LABEL_NAME}={name}")
}

/// Where a [`ReleaseSummary`]'s chart, app version and updated time came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SummarySource {
    /// Labels and capstan's annotations: complete without decoding the payload.
    Metadata,
    /// Labels only (an object written by Helm): chart, app version and updated are unknown until
    /// the payload is decoded.
    LabelsOnly,
    /// A decoded release.
    Release,
}

/// One row of `list`: NAME NAMESPACE REVISION UPDATED STATUS CHART APP VERSION.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseSummary {
    /// The release name.
    pub name: String,
    /// The namespace.
    pub namespace: String,
    /// The revision.
    pub revision: u32,
    /// The revision's status.
    pub status: Status,
    /// `info.last_deployed`.
    pub updated: Option<GoTime>,
    /// The chart as `<name>-<version>`.
    pub chart: Option<String>,
    /// The chart's app version.
    pub app_version: Option<String>,
    /// The custom labels.
    pub labels: BTreeMap<String, String>,
    /// Where the chart, app version and updated time came from.
    pub source: SummarySource,
}

impl ReleaseSummary {
    /// The summary of a decoded release. An empty `release.namespace` takes `namespace`.
    pub fn from_release(release: &Release, namespace: &str) -> Self {
        let namespace = if release.namespace.is_empty() {
            namespace
        } else {
            &release.namespace
        };
        Self {
            name: release.name.clone(),
            namespace: namespace.to_owned(),
            revision: release.version,
            status: release.info.status,
            updated: release.info.last_deployed,
            chart: release.chart.as_ref().map(|c| c.name_version()),
            app_version: release.chart.as_ref().map(|c| c.app_version().to_owned()),
            labels: release.labels.clone(),
            source: SummarySource::Release,
        }
    }

    /// The summary of a storage object from its name, namespace, labels and annotations, without
    /// its payload. Fails, naming the object, when the name is not a release key, a system label
    /// is missing or malformed, or the labels disagree with the name (an object with the right
    /// labels but the wrong name). Without capstan's annotations the summary is
    /// [`SummarySource::LabelsOnly`] and [`needs_payload`](Self::needs_payload).
    pub fn from_metadata(
        object: &str,
        namespace: &str,
        labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let key = ObjectKey::parse(object)?;
        let label = |k: &str| {
            labels.get(k).ok_or_else(|| Error::InvalidMetadata {
                object: object.to_owned(),
                reason: format!("label {k:?} is missing"),
            })
        };
        let owner = label(LABEL_OWNER)?;
        if owner != OWNER_HELM {
            return Err(Error::InvalidMetadata {
                object: object.to_owned(),
                reason: format!("label owner is {owner:?}, not \"helm\""),
            });
        }
        let name = label(LABEL_NAME)?;
        let version = label(LABEL_VERSION)?;
        let status_text = label(LABEL_STATUS)?;
        let status: Status = status_text.parse().map_err(|_| Error::InvalidMetadata {
            object: object.to_owned(),
            reason: format!("label status {status_text:?} is not a release status"),
        })?;
        let revision: u32 = version.parse().map_err(|_| Error::InvalidMetadata {
            object: object.to_owned(),
            reason: format!("label version {version:?} is not a revision"),
        })?;
        if *name != key.name || revision != key.revision {
            return Err(Error::Mismatch {
                object: object.to_owned(),
                what: "name",
                expected: format!("release {:?} revision {}", key.name, key.revision),
                found: format!("labels for release {name:?} revision {revision}"),
            });
        }
        let chart = annotations.get(ANNOTATION_CHART).cloned();
        let app_version = annotations.get(ANNOTATION_APP_VERSION).cloned();
        let updated = annotations
            .get(ANNOTATION_UPDATED)
            .and_then(|t| GoTime::parse_go(t).ok().flatten());
        let source = if chart.is_some() {
            SummarySource::Metadata
        } else {
            SummarySource::LabelsOnly
        };
        Ok(Self {
            name: key.name,
            namespace: namespace.to_owned(),
            revision,
            status,
            updated,
            chart,
            app_version,
            labels: custom_labels(labels),
            source,
        })
    }

    /// Whether the payload must be decoded to know the chart, app version and updated time.
    pub fn needs_payload(&self) -> bool {
        self.source == SummarySource::LabelsOnly
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::{ChartMetadata, StoredChart};

    fn release() -> Release {
        let mut r = Release::new("web", "apps", 3, Status::Deployed);
        r.chart = Some(StoredChart {
            metadata: Some(ChartMetadata {
                name: "web".into(),
                version: "1.2.3".into(),
                app_version: "2.0".into(),
                ..Default::default()
            }),
            ..Default::default()
        });
        r.info.last_deployed = Some("2024-05-02T10:00:00.5+02:00".parse().unwrap());
        r.labels.insert("team".into(), "payments".into());
        r
    }

    #[test]
    fn create_metadata_has_helms_labels() {
        let meta = object_metadata(&release(), Write::Create, 1_700_000_000).unwrap();
        assert_eq!(meta.name, "sh.helm.release.v1.web.v3");
        let expected: BTreeMap<String, String> = [
            ("owner", "helm"),
            ("name", "web"),
            ("status", "deployed"),
            ("version", "3"),
            ("createdAt", "1700000000"),
            ("team", "payments"),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
        assert_eq!(meta.labels, expected);
        assert_eq!(meta.annotations[ANNOTATION_CHART], "web-1.2.3");
        assert_eq!(meta.annotations[ANNOTATION_APP_VERSION], "2.0");
        assert_eq!(
            meta.annotations[ANNOTATION_UPDATED],
            "2024-05-02T10:00:00.5+02:00"
        );
    }

    #[test]
    fn update_metadata_sets_modified_at_and_keeps_created_at() {
        let meta = object_metadata(
            &release(),
            Write::Update {
                created_at: Some(5),
            },
            9,
        )
        .unwrap();
        assert_eq!(meta.labels["createdAt"], "5");
        assert_eq!(meta.labels["modifiedAt"], "9");
        let meta = object_metadata(&release(), Write::Update { created_at: None }, 9).unwrap();
        assert!(!meta.labels.contains_key("createdAt"));
    }

    #[test]
    fn custom_labels_never_collide() {
        for key in SYSTEM_LABELS {
            let mut r = release();
            r.labels.insert(key.into(), "x".into());
            let err = object_metadata(&r, Write::Create, 0).unwrap_err();
            assert!(matches!(err, Error::ReservedLabel { .. }), "{key}");
            assert!(err.to_string().contains(key));
        }
        let mut all = BTreeMap::new();
        all.insert("status".to_owned(), "deployed".to_owned());
        all.insert(
            crate::chunk::LABEL_PART_SET.to_owned(),
            "0123456789ab".to_owned(),
        );
        all.insert("team".to_owned(), "a".to_owned());
        assert_eq!(
            custom_labels(&all).into_keys().collect::<Vec<_>>(),
            ["team"]
        );
    }

    #[test]
    fn summary_from_metadata_matches_summary_from_release() {
        let r = release();
        let meta = object_metadata(&r, Write::Create, 0).unwrap();
        let from_meta =
            ReleaseSummary::from_metadata(&meta.name, "apps", &meta.labels, &meta.annotations)
                .unwrap();
        let from_release = ReleaseSummary::from_release(&r, "ignored");
        assert_eq!(from_meta.source, SummarySource::Metadata);
        assert!(!from_meta.needs_payload());
        assert_eq!(
            ReleaseSummary {
                source: SummarySource::Release,
                ..from_meta
            },
            from_release
        );
    }

    #[test]
    fn helm_written_objects_are_summarised_from_labels() {
        let r = release();
        let meta = object_metadata(&r, Write::Create, 0).unwrap();
        let s = ReleaseSummary::from_metadata(&meta.name, "apps", &meta.labels, &BTreeMap::new())
            .unwrap();
        assert!(s.needs_payload());
        assert_eq!(
            (s.name.as_str(), s.revision, s.status),
            ("web", 3, Status::Deployed)
        );
        assert_eq!(s.chart, None);
        assert_eq!(s.labels.len(), 1);
    }

    #[test]
    fn release_without_chart_or_times() {
        let r = Release::new("bare", "", 1, Status::PendingInstall);
        let meta = object_metadata(&r, Write::Create, 0).unwrap();
        assert!(meta.annotations.is_empty());
        let s = ReleaseSummary::from_release(&r, "default");
        assert_eq!(s.namespace, "default");
        assert_eq!(s.chart, None);
    }

    #[test]
    fn bad_metadata_names_the_object() {
        let r = release();
        let meta = object_metadata(&r, Write::Create, 0).unwrap();
        let none = BTreeMap::new();
        let with = |k: &str, v: Option<&str>| {
            let mut l = meta.labels.clone();
            match v {
                Some(v) => l.insert(k.into(), v.into()),
                None => l.remove(k),
            };
            l
        };
        let cases = [
            ("sh.helm.release.v1.web.v3", with("status", Some("great"))),
            ("sh.helm.release.v1.web.v3", with("version", Some("x"))),
            ("sh.helm.release.v1.web.v3", with("name", None)),
            ("sh.helm.release.v1.web.v3", with("owner", Some("someone"))),
            ("sh.helm.release.v1.web.v4", meta.labels.clone()),
            ("sh.helm.release.v1.api.v3", meta.labels.clone()),
            ("web-v3", meta.labels.clone()),
        ];
        for (object, labels) in cases {
            let err = ReleaseSummary::from_metadata(object, "apps", &labels, &none).unwrap_err();
            assert!(err.to_string().contains(object), "{err}");
            assert!(err.is_unreadable_record(), "{err:?}");
        }
    }

    #[test]
    fn selectors() {
        assert_eq!(owner_selector(), "owner=helm");
        assert_eq!(history_selector("web"), "owner=helm,name=web");
    }
}
