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
}

impl Rendered {
    /// The chart from its stored JSON form (as Helm writes it in a release record).
    pub fn chart_from_json(json: Value) -> Result<StoredChart, serde_json::Error> {
        serde_json::from_value(json)
    }
}
