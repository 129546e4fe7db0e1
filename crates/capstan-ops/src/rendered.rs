//! [`Rendered`]: the renderer's output, the input of install and upgrade (independent of
//! protobuf).

use capstan_release::{Hook, StoredChart};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What the renderer produced for one install or upgrade.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rendered {
    /// The non-hook documents in Helm's stored form (`---\n# Source: <path>\n<yaml>` each),
    /// stored as the release's `manifest`.
    pub manifest: String,
    /// The hooks, stored in the release.
    pub hooks: Vec<Hook>,
    /// The rendered NOTES.txt.
    pub notes: String,
    /// The chart as a release stores it.
    pub chart: StoredChart,
    /// The user-supplied values, stored as the release's `config` (for an upgrade, the
    /// `user_values` of [`crate::values::upgrade_values`]).
    pub config: Map<String, Value>,
    /// The merged values the templates saw (informational; not stored).
    pub values: Map<String, Value>,
    /// The files of the chart's (and its subcharts') `crds/` folders, not templated and not
    /// stored in the release: created before the release's objects when absent
    /// ([`crate::Install::skip_crds`]).
    #[serde(default)]
    pub crds: Vec<Crd>,
}

/// One file of a chart's `crds/` folder, as written (it may hold several documents).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crd {
    /// Helm's CRD file name: the chart's full path and the file
    /// (`web/charts/db/crds/backups.yaml`).
    pub path: String,
    /// The file's text.
    pub yaml: String,
}

impl Rendered {
    /// The chart from its stored JSON form (as Helm writes it in a release record).
    pub fn chart_from_json(json: Value) -> Result<StoredChart, serde_json::Error> {
        serde_json::from_value(json)
    }
}
