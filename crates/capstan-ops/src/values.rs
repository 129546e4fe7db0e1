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
//! | none | the new values; if they merge to an empty map (no flag, or `-f empty.yaml`), the previous `config` | the new chart's |
//!
//! `--reset-values` wins over the others, then `--reuse-values`, as in Helm.

use capstan_release::Release;
use serde_json::{Map, Value};

/// The value flags of an upgrade.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ValuesMode {
    /// No flag: keep the previous user values only when the new ones merge to an empty map.
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
    /// The previous revision's `config` when the new values are laid over it (a renderer given
    /// value layers takes it first, then the new layers); `None` when it is not reused.
    pub previous_values: Option<Map<String, Value>>,
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
            previous_values: None,
            chart_defaults: ChartDefaults::NewChart,
        };
    };
    match mode {
        ValuesMode::Reset => ValuesPlan {
            user_values: new_values,
            previous_values: None,
            chart_defaults: ChartDefaults::NewChart,
        },
        ValuesMode::Reuse => ValuesPlan {
            user_values: merge_over(new_values, &previous.config),
            previous_values: Some(previous.config.clone()),
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
            previous_values: Some(previous.config.clone()),
            chart_defaults: ChartDefaults::NewChart,
        },
        ValuesMode::Default => {
            let reused = new_values.is_empty().then(|| previous.config.clone());
            ValuesPlan {
                user_values: reused.clone().unwrap_or(new_values),
                previous_values: reused,
                chart_defaults: ChartDefaults::NewChart,
            }
        }
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

    /// The new values as the user gives them: value layers merged as `-f`/`--set` are.
    fn merged(layers: &[capstan_chart::ValueLayer]) -> Map<String, Value> {
        capstan_chart::user_values(layers, &mut |p| Err(format!("no file {p}"))).unwrap()
    }

    #[test]
    fn an_empty_values_file_reuses_the_previous_values_as_helm_does() {
        let prev = previous();
        // `upgrade -f empty.yaml`: a flag was given, but the values merge to nothing.
        let empty = merged(&[capstan_chart::ValueLayer::File {
            name: "empty.yaml".into(),
            contents: "# nothing here\n".into(),
        }]);
        let plan = upgrade_values(ValuesMode::Default, empty, Some(&prev));
        assert_eq!(plan.user_values, prev.config);
        assert_eq!(plan.previous_values.as_ref(), Some(&prev.config));
        assert_eq!(plan.chart_defaults, ChartDefaults::NewChart);
        // Any value at all, even a null, replaces them.
        let set = merged(&[capstan_chart::ValueLayer::Set("replicas=null".into())]);
        let plan = upgrade_values(ValuesMode::Default, set.clone(), Some(&prev));
        assert_eq!(plan.user_values, set);
        assert_eq!(plan.previous_values, None);
    }

    #[test]
    fn reuse_values_keeps_the_previous_chart_defaults_and_reset_then_reuse_does_not() {
        let prev = previous();
        let new = merged(&[capstan_chart::ValueLayer::Set("image.tag=2.0".into())]);
        // Helm's trap: a default the new chart adds is not seen with --reuse-values.
        let plan = upgrade_values(ValuesMode::Reuse, new.clone(), Some(&prev));
        let ChartDefaults::PreviousChart(defaults) = &plan.chart_defaults else {
            panic!("--reuse-values renders over the previous chart's defaults");
        };
        assert_eq!(
            Value::Object(coalesce(&plan.user_values, defaults)),
            json!({"image": {"tag": "2.0", "pull": "IfNotPresent"}, "replicas": 3})
        );
        let plan = upgrade_values(ValuesMode::ResetThenReuse, new.clone(), Some(&prev));
        assert_eq!(plan.chart_defaults, ChartDefaults::NewChart);
        assert_eq!(plan.previous_values.as_ref(), Some(&prev.config));
        let plan = upgrade_values(ValuesMode::Reset, Map::new(), Some(&prev));
        assert!(plan.user_values.is_empty());
        assert_eq!(plan.previous_values, None);
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
