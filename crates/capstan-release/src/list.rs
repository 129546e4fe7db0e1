//! `list`'s filters, as Helm's `action.List` applies them: name regex, latest revision per
//! release, status mask, label selector, sorted by name.
//!
//! The same [`ListFilter::apply`] runs over [`ReleaseSummary`] rows built from labels (before any
//! payload is decoded) and over decoded releases, so every driver lists the same way.

use std::collections::{BTreeMap, HashMap};

use regex::Regex;

use crate::error::{Error, Result};
use crate::release::Release;
use crate::status::Status;
use crate::storage::{
    LABEL_NAME, LABEL_OWNER, LABEL_STATUS, LABEL_VERSION, OWNER_HELM, ReleaseSummary,
};
use crate::store::StoredRelease;

/// A set of statuses to list (Helm's `ListStates` bit mask).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StateMask(u16);

impl StateMask {
    /// `deployed` (`--deployed`).
    pub const DEPLOYED: StateMask = StateMask(1);
    /// `uninstalled` (`--uninstalled`).
    pub const UNINSTALLED: StateMask = StateMask(1 << 1);
    /// `uninstalling` (`--uninstalling`).
    pub const UNINSTALLING: StateMask = StateMask(1 << 2);
    /// `pending-install`.
    pub const PENDING_INSTALL: StateMask = StateMask(1 << 3);
    /// `pending-upgrade`.
    pub const PENDING_UPGRADE: StateMask = StateMask(1 << 4);
    /// `pending-rollback`.
    pub const PENDING_ROLLBACK: StateMask = StateMask(1 << 5);
    /// `superseded` (`--superseded`). When it is the whole mask, every superseded revision is
    /// listed, not only the latest revision of each release (as Helm does).
    pub const SUPERSEDED: StateMask = StateMask(1 << 6);
    /// `failed` (`--failed`).
    pub const FAILED: StateMask = StateMask(1 << 7);
    /// `unknown`. Not part of [`StateMask::ALL`], as in Helm.
    pub const UNKNOWN: StateMask = StateMask(1 << 8);
    /// The three pending statuses (`--pending`).
    pub const PENDING: StateMask = StateMask((1 << 3) | (1 << 4) | (1 << 5));
    /// Every status but `unknown` (Helm's `ListAll`, the default and `--all`).
    pub const ALL: StateMask = StateMask(0xff);
    /// No status.
    pub const NONE: StateMask = StateMask(0);

    /// The mask of one status.
    pub fn of(status: Status) -> StateMask {
        match status {
            Status::Deployed => Self::DEPLOYED,
            Status::Uninstalled => Self::UNINSTALLED,
            Status::Uninstalling => Self::UNINSTALLING,
            Status::PendingInstall => Self::PENDING_INSTALL,
            Status::PendingUpgrade => Self::PENDING_UPGRADE,
            Status::PendingRollback => Self::PENDING_ROLLBACK,
            Status::Superseded => Self::SUPERSEDED,
            Status::Failed => Self::FAILED,
            Status::Unknown => Self::UNKNOWN,
        }
    }

    /// Whether `status` is in the mask.
    pub fn contains(self, status: Status) -> bool {
        self.0 & Self::of(status).0 != 0
    }

    /// Whether the mask is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The mask from `helm list`'s flags: none given (or `--all`) means [`StateMask::ALL`].
    pub fn from_flags(flags: &[StateMask]) -> StateMask {
        let mask = flags.iter().fold(Self::NONE, |a, b| a | *b);
        if mask.is_empty() { Self::ALL } else { mask }
    }
}

impl std::ops::BitOr for StateMask {
    type Output = StateMask;
    fn bitor(self, rhs: StateMask) -> StateMask {
        StateMask(self.0 | rhs.0)
    }
}

impl Default for StateMask {
    fn default() -> Self {
        Self::ALL
    }
}

/// Something `list` can filter: a summary, a release, a stored release.
pub trait Listable {
    /// The release name.
    fn name(&self) -> &str;
    /// The namespace.
    fn namespace(&self) -> &str;
    /// The revision.
    fn revision(&self) -> u32;
    /// The status.
    fn status(&self) -> Status;
    /// The custom labels.
    fn labels(&self) -> &BTreeMap<String, String>;
}

impl Listable for ReleaseSummary {
    fn name(&self) -> &str {
        &self.name
    }
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn revision(&self) -> u32 {
        self.revision
    }
    fn status(&self) -> Status {
        self.status
    }
    fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }
}

impl Listable for Release {
    fn name(&self) -> &str {
        &self.name
    }
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn revision(&self) -> u32 {
        self.version
    }
    fn status(&self) -> Status {
        self.info.status
    }
    fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }
}

impl Listable for StoredRelease {
    fn name(&self) -> &str {
        self.release.name()
    }
    fn namespace(&self) -> &str {
        self.release.namespace()
    }
    fn revision(&self) -> u32 {
        self.release.revision()
    }
    fn status(&self) -> Status {
        self.release.status()
    }
    fn labels(&self) -> &BTreeMap<String, String> {
        self.release.labels()
    }
}

/// What `list` returns: Helm's filters.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// The namespace to list; `None` lists all namespaces (`-A`).
    pub namespace: Option<String>,
    /// The statuses to list.
    pub states: StateMask,
    /// `--filter`: a regex the release name must match (unanchored, as Go's `MatchString`).
    pub name_filter: Option<Regex>,
    /// `--selector`, equality form: every pair must match the record's labels (custom labels,
    /// and the system labels `name`, `owner`, `status`, `version`).
    pub selector: BTreeMap<String, String>,
}

impl ListFilter {
    /// Every status, one namespace.
    pub fn in_namespace(namespace: impl Into<String>) -> Self {
        Self {
            namespace: Some(namespace.into()),
            ..Self::default()
        }
    }

    /// Every status, all namespaces.
    pub fn all_namespaces() -> Self {
        Self::default()
    }

    /// Sets the status mask.
    pub fn with_states(mut self, states: StateMask) -> Self {
        self.states = states;
        self
    }

    /// Sets the name filter; fails on an invalid regex, naming it.
    pub fn with_name_filter(mut self, filter: &str) -> Result<Self> {
        let regex = Regex::new(filter).map_err(|e| Error::InvalidFilter {
            filter: filter.to_owned(),
            source: Box::new(e),
        })?;
        self.name_filter = Some(regex);
        Ok(self)
    }

    /// Adds a `key=value` selector requirement.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.selector.insert(key.into(), value.into());
        self
    }

    /// Whether an item passes the namespace and name filters (the checks that need no history).
    pub fn admits<T: Listable>(&self, item: &T) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| ns == item.namespace())
            && self
                .name_filter
                .as_ref()
                .is_none_or(|re| re.is_match(item.name()))
    }

    fn selector_matches<T: Listable>(&self, item: &T) -> bool {
        self.selector.iter().all(|(k, v)| {
            let system = match k.as_str() {
                LABEL_NAME => Some(item.name().to_owned()),
                LABEL_OWNER => Some(OWNER_HELM.to_owned()),
                LABEL_STATUS => Some(item.status().as_str().to_owned()),
                LABEL_VERSION => Some(item.revision().to_string()),
                _ => None,
            };
            match system {
                Some(actual) => actual == *v,
                None => item.labels().get(k) == Some(v),
            }
        })
    }

    /// Applies the filters to every revision of every release, as Helm does: namespace and name
    /// regex; then the latest revision of each release (unless the mask is exactly
    /// `superseded`); then the status mask and the selector; sorted by name, then namespace.
    pub fn apply<T: Listable>(&self, items: Vec<T>) -> Vec<T> {
        let admitted = items.into_iter().filter(|i| self.admits(i));
        let mut selected: Vec<T> = if self.states == StateMask::SUPERSEDED {
            admitted.collect()
        } else {
            let mut latest: HashMap<(String, String), T> = HashMap::new();
            for item in admitted {
                let key = (item.namespace().to_owned(), item.name().to_owned());
                match latest.get(&key) {
                    Some(existing) if existing.revision() >= item.revision() => {}
                    _ => {
                        latest.insert(key, item);
                    }
                }
            }
            latest.into_values().collect()
        };
        selected.retain(|i| self.states.contains(i.status()) && self.selector_matches(i));
        selected.sort_by(|a, b| {
            (a.name(), a.namespace(), a.revision()).cmp(&(b.name(), b.namespace(), b.revision()))
        });
        selected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(ns: &str, name: &str, rev: u32, status: Status) -> Release {
        Release::new(name, ns, rev, status)
    }

    fn names(v: &[Release]) -> Vec<String> {
        v.iter()
            .map(|r| format!("{}/{}.v{}", r.namespace, r.name, r.version))
            .collect()
    }

    fn sample() -> Vec<Release> {
        vec![
            rel("a", "web", 1, Status::Superseded),
            rel("a", "web", 2, Status::Deployed),
            rel("a", "db", 1, Status::Superseded),
            rel("a", "db", 2, Status::Failed),
            rel("b", "web", 1, Status::Deployed),
            rel("b", "cache", 1, Status::Uninstalled),
            rel("b", "queue", 3, Status::PendingUpgrade),
            rel("b", "queue", 2, Status::Deployed),
            rel("b", "odd", 1, Status::Unknown),
        ]
    }

    #[test]
    fn latest_per_release_sorted_by_name() {
        let all = ListFilter::all_namespaces().apply(sample());
        assert_eq!(
            names(&all),
            [
                "b/cache.v1",
                "a/db.v2",
                "b/queue.v3",
                "a/web.v2",
                "b/web.v1"
            ]
        );
        let a = ListFilter::in_namespace("a").apply(sample());
        assert_eq!(names(&a), ["a/db.v2", "a/web.v2"]);
    }

    #[test]
    fn status_masks() {
        let f = |mask| {
            names(
                &ListFilter::all_namespaces()
                    .with_states(mask)
                    .apply(sample()),
            )
        };
        assert_eq!(f(StateMask::DEPLOYED), ["a/web.v2", "b/web.v1"]);
        assert_eq!(f(StateMask::FAILED), ["a/db.v2"]);
        assert_eq!(f(StateMask::PENDING), ["b/queue.v3"]);
        assert_eq!(f(StateMask::UNINSTALLED), ["b/cache.v1"]);
        // Exactly --superseded lists every superseded revision, not only latest ones.
        assert_eq!(f(StateMask::SUPERSEDED), ["a/db.v1", "a/web.v1"]);
        assert_eq!(
            f(StateMask::SUPERSEDED | StateMask::DEPLOYED),
            ["a/web.v2", "b/web.v1"]
        );
        assert_eq!(f(StateMask::UNKNOWN), ["b/odd.v1"]);
        assert_eq!(StateMask::from_flags(&[]), StateMask::ALL);
        assert_eq!(
            StateMask::from_flags(&[StateMask::FAILED, StateMask::DEPLOYED]),
            StateMask::FAILED | StateMask::DEPLOYED
        );
        assert!(!StateMask::ALL.contains(Status::Unknown));
        for s in Status::ALL.into_iter().filter(|s| *s != Status::Unknown) {
            assert!(StateMask::ALL.contains(s));
        }
    }

    #[test]
    fn name_regex_and_selector() {
        let f = ListFilter::all_namespaces()
            .with_name_filter("^we")
            .unwrap();
        assert_eq!(names(&f.apply(sample())), ["a/web.v2", "b/web.v1"]);
        let f = ListFilter::all_namespaces().with_name_filter("ue").unwrap();
        assert_eq!(names(&f.apply(sample())), ["b/queue.v3"]);
        let err = ListFilter::all_namespaces()
            .with_name_filter("(")
            .unwrap_err();
        assert!(
            err.to_string().starts_with("invalid name filter \"(\""),
            "{err}"
        );

        let mut items = sample();
        items[1].labels.insert("team".into(), "x".into());
        let f = ListFilter::all_namespaces().with_label("team", "x");
        assert_eq!(names(&f.apply(items.clone())), ["a/web.v2"]);
        let f = ListFilter::all_namespaces().with_label("status", "deployed");
        assert_eq!(names(&f.apply(items)), ["a/web.v2", "b/web.v1"]);
    }

    #[test]
    fn works_on_summaries() {
        let summaries: Vec<ReleaseSummary> = sample()
            .iter()
            .map(|r| ReleaseSummary::from_release(r, ""))
            .collect();
        let out = ListFilter::in_namespace("b")
            .with_states(StateMask::DEPLOYED | StateMask::PENDING)
            .apply(summaries);
        let got: Vec<_> = out.iter().map(|s| (s.name.as_str(), s.revision)).collect();
        assert_eq!(got, [("queue", 3), ("web", 1)]);
    }
}
