//! The release record: [`Release`], [`Info`], [`Hook`] and friends, with Helm's JSON names.
//!
//! Reading accepts what Helm 3 and Helm 4 write; writing produces Helm 3's style (zero times as
//! `""`, `deleted` and hook times always present), which both read. Fields this version of
//! capstan does not model are kept in `extra` maps and written back unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::chart::StoredChart;
use crate::serde_util::{null_default, string_enum};
use crate::status::Status;
use crate::time::{GoTime, helm_time};

/// One revision of a release, as Helm stores it (`release.Release`).
///
/// `name`, `info` and `version` are required when decoding: a record without them is not a
/// release. Everything else may be missing or `null`, as Go allows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// The release name.
    pub name: String,
    /// Status, times, description and notes.
    pub info: Info,
    /// The chart that was released; Helm omits it when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<StoredChart>,
    /// The user-supplied values (not merged with the chart's defaults).
    #[serde(
        default,
        skip_serializing_if = "Map::is_empty",
        deserialize_with = "null_default"
    )]
    pub config: Map<String, Value>,
    /// The rendered non-hook documents, each `---\n# Source: <chart>/templates/<file>\n<yaml>`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub manifest: String,
    /// The hooks of this revision (not part of `manifest`).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub hooks: Vec<Hook>,
    /// The revision number, from 1.
    pub version: u32,
    /// The namespace the release lives in.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub namespace: String,
    /// Custom labels. Not part of the JSON: they live on the storage object's labels (Helm's
    /// `json:"-"`). Never one of the system labels (see [`crate::storage`]).
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
    /// Helm 4: how the manifest was applied (`ssa` or `csa`); `None` means client-side apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_method: Option<ApplyMethod>,
    /// Fields this version of capstan does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Release {
    /// A release with a name, namespace, revision and status, and nothing else.
    pub fn new(
        name: impl Into<String>,
        namespace: impl Into<String>,
        version: u32,
        status: Status,
    ) -> Self {
        Release {
            name: name.into(),
            info: Info {
                status,
                ..Info::default()
            },
            chart: None,
            config: Map::new(),
            manifest: String::new(),
            hooks: Vec::new(),
            version,
            namespace: namespace.into(),
            labels: BTreeMap::new(),
            apply_method: None,
            extra: Map::new(),
        }
    }

    /// The chart's `<name>-<version>`, or `""` when no chart is stored.
    pub fn chart_name_version(&self) -> String {
        self.chart
            .as_ref()
            .map(StoredChart::name_version)
            .unwrap_or_default()
    }

    /// The chart's app version, or `""`.
    pub fn app_version(&self) -> &str {
        self.chart.as_ref().map_or("", StoredChart::app_version)
    }
}

/// Information about a revision (`release.Info`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Info {
    /// When the release was first deployed.
    #[serde(default, with = "helm_time")]
    pub first_deployed: Option<GoTime>,
    /// When this revision was deployed (`helm list`'s UPDATED).
    #[serde(default, with = "helm_time")]
    pub last_deployed: Option<GoTime>,
    /// When the release was uninstalled.
    #[serde(default, with = "helm_time")]
    pub deleted: Option<GoTime>,
    /// A human-friendly log entry ("Install complete", ...).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub description: String,
    /// The status.
    #[serde(default)]
    pub status: Status,
    /// Helm 4: the revision this one rolled back to; 0 when not a rollback.
    #[serde(
        default,
        skip_serializing_if = "is_zero",
        deserialize_with = "null_default"
    )]
    pub rollback_revision: u32,
    /// The rendered NOTES.txt.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub notes: String,
    /// Fields this version of capstan does not model (e.g. `resources`), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Info {
    /// Sets the status and description together (Helm's `SetStatus`).
    pub fn set_status(&mut self, status: Status, description: impl Into<String>) {
        self.status = status;
        self.description = description.into();
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

string_enum! {
    /// Helm 4's `apply_method`.
    pub enum ApplyMethod {
        /// `ssa`: server-side apply.
        ServerSide => "ssa",
        /// `csa`: client-side apply (also what an absent value means).
        ClientSide => "csa",
    }
}

string_enum! {
    /// When a hook runs (`helm.sh/hook` annotation values).
    pub enum HookEvent {
        /// `pre-install`.
        PreInstall => "pre-install",
        /// `post-install`.
        PostInstall => "post-install",
        /// `pre-delete`.
        PreDelete => "pre-delete",
        /// `post-delete`.
        PostDelete => "post-delete",
        /// `pre-upgrade`.
        PreUpgrade => "pre-upgrade",
        /// `post-upgrade`.
        PostUpgrade => "post-upgrade",
        /// `pre-rollback`.
        PreRollback => "pre-rollback",
        /// `post-rollback`.
        PostRollback => "post-rollback",
        /// `test`.
        Test => "test",
    }
}

string_enum! {
    /// When a hook's resource is deleted (`helm.sh/hook-delete-policy`).
    pub enum HookDeletePolicy {
        /// `hook-succeeded`.
        HookSucceeded => "hook-succeeded",
        /// `hook-failed`.
        HookFailed => "hook-failed",
        /// `before-hook-creation` (the default).
        BeforeHookCreation => "before-hook-creation",
    }
}

string_enum! {
    /// Helm 4: when a hook's logs are copied out (`helm.sh/hook-output-log-policy`).
    pub enum HookOutputLogPolicy {
        /// `hook-succeeded`.
        OnSucceeded => "hook-succeeded",
        /// `hook-failed`.
        OnFailed => "hook-failed",
    }
}

string_enum! {
    /// The outcome of a hook's last run.
    pub enum HookPhase {
        /// `Unknown`.
        Unknown => "Unknown",
        /// `Running`.
        Running => "Running",
        /// `Succeeded`.
        Succeeded => "Succeeded",
        /// `Failed`.
        Failed => "Failed",
    }
}

/// A hook of a release (`release.Hook`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    /// The resource's name.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub name: String,
    /// The Kubernetes kind.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub kind: String,
    /// The chart-relative template path.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub path: String,
    /// The rendered manifest.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub manifest: String,
    /// The events it fires on.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub events: Vec<HookEvent>,
    /// The last run (always written).
    #[serde(default, deserialize_with = "null_default")]
    pub last_run: HookExecution,
    /// Execution order among hooks of the same event.
    #[serde(
        default,
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "null_default"
    )]
    pub weight: i64,
    /// When the hook's resource is deleted.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub delete_policies: Vec<HookDeletePolicy>,
    /// Helm 4: when the hook's logs are copied out.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub output_log_policies: Vec<HookOutputLogPolicy>,
    /// Fields this version of capstan does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The last run of a hook (`release.HookExecution`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HookExecution {
    /// When it started.
    #[serde(default, with = "helm_time")]
    pub started_at: Option<GoTime>,
    /// When it completed.
    #[serde(default, with = "helm_time")]
    pub completed_at: Option<GoTime>,
    /// Its outcome; `None` (written `""`) when it never ran.
    #[serde(default, with = "phase")]
    pub phase: Option<HookPhase>,
}

/// `phase` is always written; Go's zero value is `""`.
mod phase {
    use super::HookPhase;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Option<HookPhase>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value.as_ref().map_or("", HookPhase::as_str))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<HookPhase>, D::Error> {
        Ok(Option::<String>::deserialize(deserializer)?
            .filter(|s| !s.is_empty())
            .map(|s| HookPhase::from(s.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A release as Helm 3 (v3.21) writes it: zero times as "", `deleted` always present.
    pub(crate) fn helm3_json() -> Value {
        json!({
            "name": "web",
            "info": {
                "first_deployed": "2024-05-01T10:00:00.123456789+02:00",
                "last_deployed": "2024-05-02T10:00:00.5+02:00",
                "deleted": "",
                "description": "Upgrade complete",
                "status": "deployed",
                "notes": "Visit http://web"
            },
            "chart": {
                "metadata": {"name": "web", "version": "1.0.0", "appVersion": "1.16", "apiVersion": "v2"},
                "lock": null,
                "templates": [{"name": "templates/cm.yaml", "data": "a2luZDogQ29uZmlnTWFw"}],
                "values": {"replicas": 1},
                "schema": null,
                "files": null
            },
            "config": {"replicas": 3},
            "manifest": "---\n# Source: web/templates/cm.yaml\nkind: ConfigMap\n",
            "hooks": [{
                "name": "web-test",
                "kind": "Pod",
                "path": "web/templates/tests/test.yaml",
                "manifest": "kind: Pod",
                "events": ["test", "post-install"],
                "last_run": {"started_at": "", "completed_at": "", "phase": ""},
                "weight": -5,
                "delete_policies": ["before-hook-creation"]
            }],
            "version": 2,
            "namespace": "apps"
        })
    }

    /// A release as Helm 4 writes it: zero times omitted, apply_method, rollback_revision.
    fn helm4_json() -> Value {
        json!({
            "name": "web",
            "info": {
                "first_deployed": "2024-05-01T08:00:00Z",
                "last_deployed": "2024-05-03T08:00:00Z",
                "description": "Rollback to 1",
                "status": "deployed",
                "rollback_revision": 1
            },
            "hooks": [{
                "name": "h", "kind": "Job", "events": ["pre-upgrade"],
                "last_run": {"started_at": "2024-05-03T08:00:00Z", "completed_at": "2024-05-03T08:00:01Z", "phase": "Succeeded"},
                "output_log_policies": ["hook-failed"]
            }],
            "version": 3,
            "namespace": "apps",
            "apply_method": "ssa"
        })
    }

    #[test]
    fn helm3_record_round_trips_exactly() {
        let v = helm3_json();
        let r: Release = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(r.info.status, Status::Deployed);
        assert_eq!(r.info.deleted, None);
        assert_eq!(r.hooks[0].events, [HookEvent::Test, HookEvent::PostInstall]);
        assert_eq!(r.hooks[0].weight, -5);
        assert_eq!(r.hooks[0].last_run.phase, None);
        assert_eq!(r.chart_name_version(), "web-1.0.0");
        assert_eq!(r.app_version(), "1.16");
        assert_eq!(serde_json::to_value(&r).unwrap(), v);
    }

    #[test]
    fn helm4_record_is_read_and_written_in_helm3_style() {
        let r: Release = serde_json::from_value(helm4_json()).unwrap();
        assert_eq!(r.apply_method, Some(ApplyMethod::ServerSide));
        assert_eq!(r.info.rollback_revision, 1);
        assert_eq!(r.hooks[0].last_run.phase, Some(HookPhase::Succeeded));
        assert_eq!(
            r.hooks[0].output_log_policies,
            [HookOutputLogPolicy::OnFailed]
        );
        let out = serde_json::to_value(&r).unwrap();
        // Helm 3 needs `deleted` present and reads "" as zero; Helm 4 accepts "" too.
        assert_eq!(out["info"]["deleted"], "");
        assert_eq!(out["info"]["rollback_revision"], 1);
        assert_eq!(out["apply_method"], "ssa");
        assert_eq!(out["hooks"][0]["last_run"]["phase"], "Succeeded");
        let again: Release = serde_json::from_value(out).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn unknown_fields_and_values_survive() {
        let mut v = helm4_json();
        v["future_field"] = json!({"a": 1});
        v["info"]["resources"] = json!({"v1/Pod": [{"kind": "Pod"}]});
        v["hooks"][0]["events"] = json!(["post-something"]);
        v["hooks"][0]["x"] = json!(true);
        v["apply_method"] = json!("magic");
        let r: Release = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(
            r.hooks[0].events,
            [HookEvent::Other("post-something".into())]
        );
        let out = serde_json::to_value(&r).unwrap();
        assert_eq!(out["future_field"], v["future_field"]);
        assert_eq!(out["info"]["resources"], v["info"]["resources"]);
        assert_eq!(out["hooks"][0]["events"], v["hooks"][0]["events"]);
        assert_eq!(out["hooks"][0]["x"], true);
        assert_eq!(out["apply_method"], "magic");
    }

    #[test]
    fn nulls_read_as_zero_values() {
        let v = json!({
            "name": "n", "version": 1, "info": {"status": "failed", "first_deployed": null},
            "config": null, "hooks": null, "manifest": null, "chart": null
        });
        let r: Release = serde_json::from_value(v).unwrap();
        assert!(r.config.is_empty() && r.hooks.is_empty() && r.manifest.is_empty());
        assert!(r.chart.is_none());
        let out = serde_json::to_value(&r).unwrap();
        assert_eq!(
            out,
            json!({"name": "n", "version": 1, "info": {"status": "failed",
                "first_deployed": "", "last_deployed": "", "deleted": ""}})
        );
    }

    #[test]
    fn missing_required_fields_are_errors() {
        for (v, field) in [
            (json!({"info": {}, "version": 1}), "name"),
            (json!({"name": "a", "version": 1}), "info"),
            (json!({"name": "a", "info": {}}), "version"),
        ] {
            let err = serde_json::from_value::<Release>(v).unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("missing field `{field}`")),
                "{err}"
            );
        }
    }

    #[test]
    fn wrong_types_are_errors() {
        for v in [
            json!({"name": 1, "info": {}, "version": 1}),
            json!({"name": "a", "info": {}, "version": "1"}),
            json!({"name": "a", "info": {}, "version": -1}),
            json!({"name": "a", "info": {"status": 3}, "version": 1}),
            json!({"name": "a", "info": {"last_deployed": "soon"}, "version": 1}),
            json!({"name": "a", "info": [], "version": 1}),
            json!({"name": "a", "info": {}, "version": 1, "hooks": {}}),
            json!({"name": "a", "info": {}, "version": 1, "config": []}),
        ] {
            assert!(serde_json::from_value::<Release>(v.clone()).is_err(), "{v}");
        }
    }

    #[test]
    fn labels_are_not_in_the_json() {
        let mut r = Release::new("a", "ns", 1, Status::Deployed);
        r.labels.insert("team".into(), "x".into());
        let out = serde_json::to_string(&r).unwrap();
        assert!(!out.contains("team") && !out.contains("labels"), "{out}");
    }
}
