//! The chart as a release record stores it: `metadata` (Chart.yaml), `lock`, `templates`,
//! `values`, `schema` and `files`, with Helm's JSON names. Subcharts are not stored.
//!
//! Every struct keeps the JSON fields it does not know in an `extra` map (for example Helm 4's
//! `modtime` and `schemamodtime`), so a record read and written back loses nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::serde_util::{bytes, null_default, opt_bytes, vec_or_null};
use crate::time::{GoTime, go_time};

/// A chart as stored in a release record (Helm's `chart.Chart` JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredChart {
    /// The contents of Chart.yaml; `null` when absent.
    #[serde(default)]
    pub metadata: Option<ChartMetadata>,
    /// The contents of Chart.lock; `null` when absent.
    #[serde(default)]
    pub lock: Option<ChartLock>,
    /// The chart's templates, with their raw bytes.
    #[serde(
        default,
        deserialize_with = "null_default",
        serialize_with = "vec_or_null"
    )]
    pub templates: Vec<ChartFile>,
    /// The chart's default values (values.yaml); `None` is JSON `null`.
    #[serde(default)]
    pub values: Option<Map<String, Value>>,
    /// values.schema.json, raw bytes (base64 in JSON); `None` is JSON `null`.
    #[serde(default, with = "opt_bytes")]
    pub schema: Option<Vec<u8>>,
    /// Other files of the chart (README, LICENSE, ...).
    #[serde(
        default,
        deserialize_with = "null_default",
        serialize_with = "vec_or_null"
    )]
    pub files: Vec<ChartFile>,
    /// Fields this version of capstan does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StoredChart {
    /// The chart's name from its metadata, or `""`.
    pub fn name(&self) -> &str {
        self.metadata.as_ref().map_or("", |m| m.name.as_str())
    }

    /// The chart's version from its metadata, or `""`.
    pub fn version(&self) -> &str {
        self.metadata.as_ref().map_or("", |m| m.version.as_str())
    }

    /// The chart's app version from its metadata, or `""`.
    pub fn app_version(&self) -> &str {
        self.metadata
            .as_ref()
            .map_or("", |m| m.app_version.as_str())
    }

    /// `<name>-<version>`, as `helm list` shows it in the CHART column.
    pub fn name_version(&self) -> String {
        format!("{}-{}", self.name(), self.version())
    }
}

/// A file of a chart: path-like name and raw bytes (base64 in JSON).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartFile {
    /// Chart-relative path, e.g. `templates/deployment.yaml`.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// The file's bytes.
    #[serde(default, with = "bytes")]
    pub data: Vec<u8>,
    /// Fields this version of capstan does not model (Helm 4's `modtime`), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChartFile {
    /// A file from a name and its bytes.
    pub fn new(name: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            data: data.into(),
            extra: Map::new(),
        }
    }
}

/// Chart.yaml as Helm stores it (`chart.Metadata`), with its JSON names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartMetadata {
    /// `name`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub name: String,
    /// `home`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub home: String,
    /// `sources`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub sources: Vec<String>,
    /// `version` (SemVer 2).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub version: String,
    /// `description`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub description: String,
    /// `keywords`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub keywords: Vec<String>,
    /// `maintainers`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub maintainers: Vec<Maintainer>,
    /// `icon`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub icon: String,
    /// `apiVersion` (`v1` or `v2`).
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub api_version: String,
    /// `condition`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub condition: String,
    /// `tags` (a single string in Chart.yaml's model).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub tags: String,
    /// `appVersion`.
    #[serde(
        rename = "appVersion",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub app_version: String,
    /// `deprecated`.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "null_default"
    )]
    pub deprecated: bool,
    /// `annotations`.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub annotations: BTreeMap<String, String>,
    /// `kubeVersion` (a SemVer constraint).
    #[serde(
        rename = "kubeVersion",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub kube_version: String,
    /// `dependencies`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub dependencies: Vec<Dependency>,
    /// `type` (`application` or `library`).
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub chart_type: String,
    /// Fields this version of capstan does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A chart maintainer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Maintainer {
    /// `name`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub name: String,
    /// `email`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub email: String,
    /// `url`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub url: String,
    /// Fields this version of capstan does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A chart dependency (in Chart.yaml and Chart.lock).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dependency {
    /// `name` (always written).
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `version`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub version: String,
    /// `repository` (always written).
    #[serde(default, deserialize_with = "null_default")]
    pub repository: String,
    /// `condition`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub condition: String,
    /// `tags`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub tags: Vec<String>,
    /// `enabled`.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "null_default"
    )]
    pub enabled: bool,
    /// `import-values`.
    #[serde(
        rename = "import-values",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub import_values: Vec<Value>,
    /// `alias`.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub alias: String,
    /// Fields this version of capstan does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Chart.lock as stored (`chart.Lock`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartLock {
    /// `generated`: a plain Go time, written `0001-01-01T00:00:00Z` when unset.
    #[serde(default, with = "go_time")]
    pub generated: Option<GoTime>,
    /// `digest`.
    #[serde(default, deserialize_with = "null_default")]
    pub digest: String,
    /// `dependencies`.
    #[serde(
        default,
        deserialize_with = "null_default",
        serialize_with = "vec_or_null"
    )]
    pub dependencies: Vec<Dependency>,
    /// Fields this version of capstan does not model, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn helm_chart_json_round_trips_losslessly() {
        let helm = json!({
            "metadata": {
                "name": "web", "version": "1.2.3", "appVersion": "2.0", "apiVersion": "v2",
                "description": "a web app", "type": "application", "kubeVersion": ">=1.20",
                "keywords": ["web"], "home": "https://example.com", "sources": ["https://git"],
                "icon": "https://icon", "deprecated": true, "condition": "web.enabled", "tags": "t",
                "annotations": {"category": "web"},
                "maintainers": [{"name": "ann", "email": "ann@example.com", "url": "https://ann"}],
                "dependencies": [{"name": "db", "version": "1.x", "repository": "oci://r",
                    "condition": "db.enabled", "tags": ["back"], "enabled": true,
                    "import-values": ["data", {"child": "a", "parent": "b"}], "alias": "database"}],
                "x-future": {"nested": [1, 2]}
            },
            "lock": {"generated": "2024-01-02T03:04:05.6+01:00", "digest": "sha256:abc",
                "dependencies": [{"name": "db", "version": "1.0.0", "repository": "oci://r"}]},
            "templates": [{"name": "templates/cm.yaml", "data": "a2luZDogQ29uZmlnTWFw"}],
            "values": {"replicas": 2, "image": {"tag": "v1"}, "list": [1, "two", null, 1.5]},
            "schema": "eyJ0eXBlIjoib2JqZWN0In0=",
            "files": [{"name": "README.md", "data": "aGk=", "modtime": "2024-01-01T00:00:00Z"}],
            "schemamodtime": "0001-01-01T00:00:00Z",
            "modtime": "2024-01-01T00:00:00Z"
        });
        let chart: StoredChart = serde_json::from_value(helm.clone()).unwrap();
        assert_eq!(chart.name_version(), "web-1.2.3");
        assert_eq!(chart.app_version(), "2.0");
        assert_eq!(chart.templates[0].data, b"kind: ConfigMap");
        assert_eq!(chart.schema.as_deref(), Some(&br#"{"type":"object"}"#[..]));
        assert_eq!(chart.files[0].extra["modtime"], "2024-01-01T00:00:00Z");
        assert_eq!(chart.extra["schemamodtime"], "0001-01-01T00:00:00Z");
        assert_eq!(serde_json::to_value(&chart).unwrap(), helm);
    }

    #[test]
    fn nulls_as_helm_writes_them() {
        let helm = json!({
            "metadata": {"name": "tiny", "version": "0.1.0", "apiVersion": "v2"},
            "lock": null,
            "templates": [{"name": "templates/a.yaml", "data": ""}],
            "values": null,
            "schema": null,
            "files": null
        });
        let chart: StoredChart = serde_json::from_value(helm.clone()).unwrap();
        assert!(chart.lock.is_none() && chart.values.is_none() && chart.schema.is_none());
        assert!(chart.files.is_empty());
        assert_eq!(serde_json::to_value(&chart).unwrap(), helm);
    }

    #[test]
    fn lock_with_zero_time() {
        let lock: ChartLock = serde_json::from_value(
            json!({"generated": "0001-01-01T00:00:00Z", "digest": "d", "dependencies": null}),
        )
        .unwrap();
        assert!(lock.generated.is_none());
        assert_eq!(
            serde_json::to_value(&lock).unwrap(),
            json!({"generated": "0001-01-01T00:00:00Z", "digest": "d", "dependencies": null})
        );
    }

    #[test]
    fn bad_base64_in_a_template_is_an_error() {
        let err = serde_json::from_value::<StoredChart>(
            json!({"templates": [{"name": "t", "data": "not base64!"}]}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("Invalid"), "{err}");
    }
}
