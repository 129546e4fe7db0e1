//! Which values an upgrade renders with ([`upgrade_values`], Helm's `reuseValues`) and how
//! `get values --all` merges the stored chart defaults under the user's values
//! ([`coalesce`]).
//!
//! # Upgrade values, by flag
//!
//! | flag | user values (rendered, stored as `config`) | chart defaults |
//! |---|---|---|
//! | `--reset-values` | the new values only | the new chart's |
//! | `--reuse-values` | new values over the previous `config` | **the previous chart's** (Helm's trap: new defaults are ignored) |
//! | `--reset-then-reuse-values` | new values over the previous `config` | the new chart's |
//! | none | the new values; if none were given at all, the previous `config` | the new chart's |
//!
//! `--reset-values` wins over the others, then `--reuse-values`, as in Helm.

use capstan_release::Release;
use serde_json::{Map, Value};

/// The value flags of an upgrade.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ValuesMode {
    /// No flag: keep the previous user values only when no new ones are given.
    #[default]
    Default,
    /// `--reset-values`.
    Reset,
    /// `--reuse-values`.
    Reuse,
    /// `--reset-then-reuse-values`.
    ResetThenReuse,
}

impl ValuesMode {
    /// The mode from the CLI flags, with Helm's precedence: `--reset-values` wins, then
    /// `--reuse-values`, then `--reset-then-reuse-values`.
    pub fn from_flags(reset: bool, reuse: bool, reset_then_reuse: bool) -> Self {
        if reset {
            ValuesMode::Reset
        } else if reuse {
            ValuesMode::Reuse
        } else if reset_then_reuse {
            ValuesMode::ResetThenReuse
        } else {
            ValuesMode::Default
        }
    }
}

/// Which chart defaults the renderer must use.
#[derive(Clone, Debug, PartialEq)]
pub enum ChartDefaults {
    /// The new chart's `values.yaml`.
    NewChart,
    /// The previous release's stored chart values (`--reuse-values`).
    PreviousChart(Map<String, Value>),
}

/// What the renderer gets for an upgrade.
#[derive(Clone, Debug, PartialEq)]
pub struct ValuesPlan {
    /// The user values to render with and store as the new revision's `config`.
    pub user_values: Map<String, Value>,
    /// The chart defaults to coalesce them over.
    pub chart_defaults: ChartDefaults,
}

/// Decides the value layers of an upgrade from the flags, the new user values (`-f`/`--set`,
/// already merged with each other) and the revision being upgraded (`None` for
/// `upgrade --install` of a new release). See the module docs for the table.
pub fn upgrade_values(
    mode: ValuesMode,
    new_values: Map<String, Value>,
    previous: Option<&Release>,
) -> ValuesPlan {
    let Some(previous) = previous else {
        return ValuesPlan {
            user_values: new_values,
            chart_defaults: ChartDefaults::NewChart,
        };
    };
    match mode {
        ValuesMode::Reset => ValuesPlan {
            user_values: new_values,
            chart_defaults: ChartDefaults::NewChart,
        },
        ValuesMode::Reuse => ValuesPlan {
            user_values: merge_over(new_values, &previous.config),
            chart_defaults: ChartDefaults::PreviousChart(
                previous
                    .chart
                    .as_ref()
                    .and_then(|c| c.values.clone())
                    .unwrap_or_default(),
            ),
        },
        ValuesMode::ResetThenReuse => ValuesPlan {
            user_values: merge_over(new_values, &previous.config),
            chart_defaults: ChartDefaults::NewChart,
        },
        ValuesMode::Default => ValuesPlan {
            user_values: if new_values.is_empty() {
                previous.config.clone()
            } else {
                new_values
            },
            chart_defaults: ChartDefaults::NewChart,
        },
    }
}

/// `top` over `base`: keys of `top` win; maps present in both are merged recursively; `null`s
/// are kept (they delete a key only when coalescing with chart defaults). Helm's
/// `CoalesceTables(top, base)` for user values.
pub fn merge_over(mut top: Map<String, Value>, base: &Map<String, Value>) -> Map<String, Value> {
    for (key, b) in base {
        match top.get_mut(key) {
            None => {
                top.insert(key.clone(), b.clone());
            }
            Some(Value::Object(t)) => {
                if let Value::Object(b) = b {
                    let merged = merge_over(std::mem::take(t), b);
                    *t = merged;
                }
            }
            Some(_) => {}
        }
    }
    top
}

/// User values coalesced over chart defaults, as `get values --all` shows them (Helm's
/// `CoalesceValues`): user keys win, maps merge, and a user `null` removes the key.
pub fn coalesce(user: &Map<String, Value>, defaults: &Map<String, Value>) -> Map<String, Value> {
    let mut out = merge_over(user.clone(), defaults);
    strip_nulls(&mut out, user);
    out
}

fn strip_nulls(out: &mut Map<String, Value>, user: &Map<String, Value>) {
    for (key, u) in user {
        match u {
            Value::Null => {
                out.remove(key);
            }
            Value::Object(u) => {
                if let Some(Value::Object(o)) = out.get_mut(key) {
                    strip_nulls(o, u);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_release::{Status, StoredChart};
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn previous() -> Release {
        let mut r = Release::new("web", "apps", 1, Status::Deployed);
        r.config = map(json!({"image": {"tag": "1.0"}, "replicas": 3}));
        r.chart = Some(StoredChart {
            values: Some(map(
                json!({"image": {"tag": "latest", "pull": "IfNotPresent"}}),
            )),
            ..StoredChart::default()
        });
        r
    }

    #[test]
    fn the_four_modes() {
        let prev = previous();
        let new = map(json!({"image": {"tag": "2.0"}}));
        let plan = upgrade_values(ValuesMode::Reset, new.clone(), Some(&prev));
        assert_eq!(plan.user_values, new);
        assert_eq!(plan.chart_defaults, ChartDefaults::NewChart);

        let plan = upgrade_values(ValuesMode::Reuse, new.clone(), Some(&prev));
        assert_eq!(
            Value::Object(plan.user_values),
            json!({"image": {"tag": "2.0"}, "replicas": 3})
        );
        assert_eq!(
            plan.chart_defaults,
            ChartDefaults::PreviousChart(prev.chart.clone().unwrap().values.unwrap())
        );

        let plan = upgrade_values(ValuesMode::ResetThenReuse, new.clone(), Some(&prev));
        assert_eq!(
            Value::Object(plan.user_values),
            json!({"image": {"tag": "2.0"}, "replicas": 3})
        );
        assert_eq!(plan.chart_defaults, ChartDefaults::NewChart);

        let plan = upgrade_values(ValuesMode::Default, new.clone(), Some(&prev));
        assert_eq!(plan.user_values, new);
        let plan = upgrade_values(ValuesMode::Default, Map::new(), Some(&prev));
        assert_eq!(plan.user_values, prev.config);

        let plan = upgrade_values(ValuesMode::Reuse, new.clone(), None);
        assert_eq!(plan.user_values, new);
        assert_eq!(plan.chart_defaults, ChartDefaults::NewChart);
    }

    #[test]
    fn flag_precedence() {
        assert_eq!(ValuesMode::from_flags(true, true, true), ValuesMode::Reset);
        assert_eq!(ValuesMode::from_flags(false, true, true), ValuesMode::Reuse);
        assert_eq!(
            ValuesMode::from_flags(false, false, true),
            ValuesMode::ResetThenReuse
        );
        assert_eq!(
            ValuesMode::from_flags(false, false, false),
            ValuesMode::Default
        );
    }

    #[test]
    fn coalesce_user_over_defaults() {
        let user = map(json!({"image": {"tag": "1.0", "pull": null}, "x": null, "y": [1]}));
        let defaults = map(
            json!({"image": {"tag": "latest", "pull": "Always", "repo": "nginx"}, "x": 1, "y": [2, 3], "z": true}),
        );
        assert_eq!(
            Value::Object(coalesce(&user, &defaults)),
            json!({"image": {"tag": "1.0", "repo": "nginx"}, "y": [1], "z": true})
        );
    }
}
