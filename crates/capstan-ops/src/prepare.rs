//! Preparing an install, upgrade or rollback before it is rendered or run, the same for every
//! client: the latest revision, the revision an upgrade builds on, the values plan by Helm's
//! rules ([`crate::values`]), the revision the templates see, and the revision the operation
//! expects to find when it takes the lock (`expected_revision` on [`crate::Upgrade`] and [`crate::Install`]).
//!
//! The plan is read without the lock: between it and the operation another client may write a
//! revision, and then the values and `.Release.Revision` the chart was rendered with are
//! stale. An operation given the plan's `expected_revision` checks it under the lock and is
//! refused ([`Error::Moved`]) when the release has moved; nothing is written.

use capstan_release::{HistoryScope, Release, ReleaseStore, Status, StoredRelease};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::session::normalize_namespace;
use crate::values::{ValuesMode, ValuesPlan, upgrade_values};

/// What is being prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preparing {
    /// `install`: rendered as revision 1 (as Helm does, also when `--replace` takes a later
    /// revision), with the new values only.
    Install,
    /// `upgrade` (also `upgrade --install`): rendered as the revision after the latest.
    Upgrade,
    /// `rollback` to a revision (`None`: the one before the latest).
    Rollback(Option<u32>),
}

/// The inputs of a preparation: the release, the operation, and the user's values.
#[derive(Clone, Debug)]
pub struct Prepare {
    /// The release name.
    pub name: String,
    /// The release namespace (empty: `default`).
    pub namespace: String,
    /// The operation.
    pub operation: Preparing,
    /// The value flags (`--reuse-values`...).
    pub mode: ValuesMode,
    /// The new user values (`-f`, `--set`...), merged with each other.
    pub new_values: Map<String, Value>,
}

/// What a preparation found and decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The latest readable revision, if any.
    pub latest: Option<Release>,
    /// Whether an upgrade installs (no release, or only an uninstalled one); true for an
    /// install.
    pub installs: bool,
    /// The revision the templates see (`.Release.Revision`).
    pub revision: u32,
    /// The latest revision now (0: none), for the operation to check under the lock.
    pub expected_revision: u32,
    /// The values to render with (a rollback renders nothing: the new values only).
    pub values: ValuesPlan,
    /// A rollback's target revision, when it exists and can be read.
    pub rollback_to: Option<Release>,
    /// Records skipped because they cannot be read, each naming its object and why.
    pub skipped: Vec<String>,
}

impl Prepare {
    /// A preparation of `operation` with no value flags and no new values (what a service
    /// needs to know before running an operation it did not prepare: whether an upgrade
    /// installs, a rollback's target).
    pub fn new(
        name: impl Into<String>,
        namespace: impl Into<String>,
        operation: Preparing,
    ) -> Prepare {
        Prepare {
            name: name.into(),
            namespace: namespace.into(),
            operation,
            mode: ValuesMode::Default,
            new_values: Map::new(),
        }
    }

    /// Reads what the operation builds on (one history read of the revisions it uses: the
    /// latest for an install, the latest and the newest deployed for an upgrade, those of
    /// [`HistoryScope::Operation`] for a rollback, and for a rollback to an older revision one
    /// more) and decides the plan. A release that does not exist is no error: the operation
    /// itself reports what it cannot do.
    pub async fn run(self, store: &dyn ReleaseStore) -> Result<Plan> {
        let namespace = normalize_namespace(&self.namespace);
        let scope = match self.operation {
            Preparing::Install => HistoryScope::Latest,
            Preparing::Upgrade => HistoryScope::Upgrade,
            Preparing::Rollback(_) => HistoryScope::Operation,
        };
        let history = match store.history_in(namespace, &self.name, scope).await {
            Ok(history) => history,
            Err(e) if e.is_not_found() => capstan_release::History::default(),
            Err(e) => {
                return Err(Error::store(format!("reading release {:?}", self.name))(e));
            }
        };
        let skipped = history.unreadable.iter().map(ToString::to_string).collect();
        let records = history.records;
        let latest = records.last().map(|r| r.release.clone());
        let latest_version = latest.as_ref().map_or(0, |r| r.version);
        let installs = match self.operation {
            Preparing::Install => true,
            Preparing::Upgrade | Preparing::Rollback(_) => latest
                .as_ref()
                .is_none_or(|r| r.info.status == Status::Uninstalled),
        };
        let (revision, previous) = match self.operation {
            Preparing::Install => (1, None),
            Preparing::Upgrade | Preparing::Rollback(_) => (
                latest_version + 1,
                (!installs).then(|| current(&records)).flatten(),
            ),
        };
        let rollback_to = match self.operation {
            Preparing::Rollback(wanted) => {
                let wanted = wanted.or(latest_version.checked_sub(1)).filter(|v| *v > 0);
                match wanted {
                    Some(v) => match records.iter().find(|r| r.release.version == v) {
                        Some(r) => Some(r.release.clone()),
                        None => match store.get(namespace, &self.name, v).await {
                            Ok(r) => Some(r.release),
                            Err(e) if e.is_not_found() => None,
                            Err(e) => {
                                return Err(Error::store(format!(
                                    "reading release {:?} revision {v}",
                                    self.name
                                ))(e));
                            }
                        },
                    },
                    None => None,
                }
            }
            _ => None,
        };
        let values = match self.operation {
            Preparing::Rollback(_) => upgrade_values(self.mode, self.new_values, None),
            _ => upgrade_values(self.mode, self.new_values, previous.map(|r| &r.release)),
        };
        Ok(Plan {
            latest,
            installs,
            revision,
            expected_revision: latest_version,
            values,
            rollback_to,
            skipped,
        })
    }
}

/// The revision an upgrade builds on and reuses values from (Helm's `currentRelease`): the
/// newest `deployed` one, else the latest when it is `failed` or `superseded`, else the latest.
fn current(records: &[StoredRelease]) -> Option<&StoredRelease> {
    let latest = records.last()?;
    records
        .iter()
        .rev()
        .find(|r| r.release.info.status == Status::Deployed)
        .or(Some(latest))
}

/// Refuses an operation prepared against revision `expected` (0: no release) when the history
/// read under the lock ends elsewhere ([`Error::Moved`]). `None`: the client sent no expected
/// revision (older clients), nothing is checked.
pub(crate) fn check_expected(
    name: &str,
    operation: &'static str,
    expected: Option<u32>,
    history: &[StoredRelease],
) -> Result<()> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let found = history.last().map_or(0, |r| r.release.version);
    if found == expected {
        return Ok(());
    }
    Err(Error::Moved {
        name: name.to_owned(),
        operation,
        expected,
        found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::ChartDefaults;
    use capstan_release::{MemoryStore, StoredChart};
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn revision(version: u32, status: Status, config: Value, defaults: Value) -> Release {
        let mut r = Release::new("web", "apps", version, status);
        r.config = map(config);
        r.chart = Some(StoredChart {
            values: Some(map(defaults)),
            ..StoredChart::default()
        });
        r
    }

    async fn store_with(releases: Vec<Release>) -> MemoryStore {
        let store = MemoryStore::new();
        for r in releases {
            store.create(&r).await.unwrap();
        }
        store
    }

    fn upgrade(mode: ValuesMode, new_values: Value) -> Prepare {
        Prepare {
            name: "web".into(),
            namespace: "apps".into(),
            operation: Preparing::Upgrade,
            mode,
            new_values: map(new_values),
        }
    }

    #[test]
    fn no_release_installs_as_revision_one() {
        futures::executor::block_on(async {
            let store = MemoryStore::new();
            let plan = upgrade(ValuesMode::Reuse, json!({"a": 1}))
                .run(&store)
                .await
                .unwrap();
            assert!(plan.installs);
            assert_eq!((plan.revision, plan.expected_revision), (1, 0));
            assert_eq!(Value::Object(plan.values.user_values), json!({"a": 1}));
            assert_eq!(plan.values.previous_values, None);
            assert_eq!(plan.values.chart_defaults, ChartDefaults::NewChart);
        });
    }

    #[test]
    fn an_upgrade_builds_on_the_deployed_revision_and_expects_the_latest() {
        futures::executor::block_on(async {
            let store = store_with(vec![
                revision(1, Status::Superseded, json!({"x": 1}), json!({})),
                revision(2, Status::Deployed, json!({"x": 2}), json!({})),
                revision(3, Status::Failed, json!({"x": 3}), json!({})),
            ])
            .await;
            let plan = upgrade(ValuesMode::Default, json!({}))
                .run(&store)
                .await
                .unwrap();
            assert!(!plan.installs);
            assert_eq!((plan.revision, plan.expected_revision), (4, 3));
            // Helm's currentRelease: the deployed revision, not the failed latest one.
            assert_eq!(Value::Object(plan.values.user_values), json!({"x": 2}));
            assert_eq!(plan.values.previous_values, Some(map(json!({"x": 2}))));
        });
    }

    #[test]
    fn an_uninstalled_release_is_installed_afresh_without_its_values() {
        futures::executor::block_on(async {
            let store = store_with(vec![revision(
                1,
                Status::Uninstalled,
                json!({"x": 1}),
                json!({}),
            )])
            .await;
            let plan = upgrade(ValuesMode::Default, json!({}))
                .run(&store)
                .await
                .unwrap();
            assert!(plan.installs);
            assert_eq!((plan.revision, plan.expected_revision), (2, 1));
            assert!(plan.values.user_values.is_empty());
            assert_eq!(plan.values.previous_values, None);
        });
    }

    #[test]
    fn an_install_renders_revision_one_and_a_rollback_finds_its_target() {
        futures::executor::block_on(async {
            let store = store_with(vec![
                revision(1, Status::Superseded, json!({"x": 1}), json!({})),
                revision(2, Status::Deployed, json!({"x": 2}), json!({})),
            ])
            .await;
            let mut install = upgrade(ValuesMode::Default, json!({}));
            install.operation = Preparing::Install;
            let plan = install.run(&store).await.unwrap();
            assert_eq!((plan.revision, plan.expected_revision), (1, 2));
            assert!(plan.values.user_values.is_empty());

            let mut rollback = upgrade(ValuesMode::Default, json!({}));
            rollback.operation = Preparing::Rollback(None);
            let plan = rollback.clone().run(&store).await.unwrap();
            assert_eq!(plan.rollback_to.map(|r| r.version), Some(1));
            rollback.operation = Preparing::Rollback(Some(7));
            assert_eq!(rollback.run(&store).await.unwrap().rollback_to, None);
        });
    }

    #[test]
    fn a_moved_release_is_refused_with_both_revisions() {
        let history: Vec<StoredRelease> = [1, 2, 4]
            .into_iter()
            .map(|v| StoredRelease {
                release: Release::new("web", "apps", v, Status::Deployed),
                version: capstan_release::RecordVersion::new("1"),
            })
            .collect();
        assert!(check_expected("web", "upgrade", None, &history).is_ok());
        assert!(check_expected("web", "upgrade", Some(4), &history).is_ok());
        let error = check_expected("web", "upgrade", Some(3), &history).unwrap_err();
        assert_eq!(
            error.to_string(),
            "release \"web\" moved from revision 3 to 4 while this upgrade was prepared; run it again"
        );
        assert_eq!(error.class(), crate::ErrorClass::Conflict);
        let error = check_expected("web", "install", Some(0), &history).unwrap_err();
        assert_eq!(
            error.to_string(),
            "release \"web\" was created (revision 4) while this install was prepared; run it again"
        );
        assert!(check_expected("web", "install", Some(0), &[]).is_ok());
    }
}
