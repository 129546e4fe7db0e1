//! A release's history as a store reads it: [`History`] (the readable records and the
//! unreadable ones, never one failing the other), [`RevisionMeta`] (a revision as its storage
//! metadata says, no payload decoded) and [`HistoryScope`], which revisions a reader needs
//! decoded, so an operation's cost does not grow with the number of revisions.

use std::collections::BTreeSet;

use crate::status::Status;
use crate::store::{RecordVersion, StoredRelease, Unreadable};

/// One revision as its storage object's metadata says (labels, SQL columns): no payload is
/// decoded to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevisionMeta {
    /// The revision.
    pub revision: u32,
    /// The status its metadata records (Helm keeps the `status` label in step with the payload).
    pub status: Status,
    /// The record's current version, for a delete's precondition.
    pub version: RecordVersion,
}

/// A release's revisions as read: the readable records, ascending, and those that could not be
/// read (each with its object and why), which readers skip and report, as Helm's driver skips
/// the records it cannot decode.
#[derive(Debug, Default)]
pub struct History {
    /// The records read, ascending by revision (with a [`HistoryScope`] narrower than
    /// [`HistoryScope::All`], only those the scope asked for).
    pub records: Vec<StoredRelease>,
    /// The revisions that could not be read.
    pub unreadable: Vec<Unreadable>,
    /// The highest revision stored, readable or not: a new revision must be above it.
    pub highest_revision: Option<u32>,
}

impl History {
    /// A history from every revision read: `highest_revision` is computed from both lists.
    pub fn from_parts(mut records: Vec<StoredRelease>, unreadable: Vec<Unreadable>) -> Self {
        records.sort_by_key(|r| r.release.version);
        let highest_revision = records
            .iter()
            .map(|r| r.release.version)
            .chain(unreadable.iter().filter_map(Unreadable::revision))
            .max();
        History {
            records,
            unreadable,
            highest_revision,
        }
    }

    /// The newest readable record.
    pub fn latest(&self) -> Option<&StoredRelease> {
        self.records.last()
    }

    /// Whether nothing at all is stored (no record, readable or not).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.unreadable.is_empty()
    }
}

/// Which revisions a reader needs decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryScope {
    /// Every revision (`history`).
    All,
    /// The newest readable revision (`status`, `get` without a revision).
    Latest,
    /// What install, upgrade, rollback and uninstall read: the newest readable revision `L`,
    /// revision `L - 1` (a rollback's default target), every `deployed` revision (superseded
    /// when a new one deploys), `L` when pending (recovery), and the newest `superseded`
    /// revision (an atomic upgrade's rollback target).
    Operation,
    /// What preparing an upgrade reads: the newest readable revision and the newest
    /// `deployed` one (the revision an upgrade builds on and reuses values from); not the
    /// older ones [`HistoryScope::Operation`] keeps for a rollback.
    Upgrade,
}

impl HistoryScope {
    /// The revisions of `metas` to decode, leaving out `failed` (already found unreadable or
    /// gone). Readers call this again after each round of reads, since an unreadable newest
    /// revision makes an older one the newest readable.
    pub fn wanted(self, metas: &[RevisionMeta], failed: &BTreeSet<u32>) -> BTreeSet<u32> {
        let usable = || metas.iter().filter(|m| !failed.contains(&m.revision));
        let latest = usable().map(|m| m.revision).max();
        match self {
            HistoryScope::All => usable().map(|m| m.revision).collect(),
            HistoryScope::Latest => latest.into_iter().collect(),
            HistoryScope::Upgrade => latest
                .into_iter()
                .chain(
                    usable()
                        .filter(|m| m.status == Status::Deployed)
                        .map(|m| m.revision)
                        .max(),
                )
                .collect(),
            HistoryScope::Operation => {
                let Some(latest) = latest else {
                    return BTreeSet::new();
                };
                let mut wanted = BTreeSet::from([latest]);
                if usable().any(|m| m.revision + 1 == latest) {
                    wanted.insert(latest - 1);
                }
                wanted.extend(
                    usable()
                        .filter(|m| m.status == Status::Deployed)
                        .map(|m| m.revision),
                );
                wanted.extend(
                    usable()
                        .filter(|m| m.status == Status::Superseded)
                        .map(|m| m.revision)
                        .max(),
                );
                wanted
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metas(statuses: &[Status]) -> Vec<RevisionMeta> {
        statuses
            .iter()
            .zip(1u32..)
            .map(|(status, revision)| RevisionMeta {
                revision,
                status: *status,
                version: RecordVersion::new(revision.to_string()),
            })
            .collect()
    }

    fn set(v: &[u32]) -> BTreeSet<u32> {
        v.iter().copied().collect()
    }

    #[test]
    fn an_operation_reads_a_bounded_number_of_revisions() {
        use Status::*;
        let mut statuses = vec![Superseded; 30];
        statuses.push(Deployed);
        let m = metas(&statuses);
        let none = BTreeSet::new();
        assert_eq!(HistoryScope::Operation.wanted(&m, &none), set(&[30, 31]));
        assert_eq!(HistoryScope::Latest.wanted(&m, &none), set(&[31]));
        assert_eq!(HistoryScope::Upgrade.wanted(&m, &none), set(&[31]));
        assert_eq!(HistoryScope::All.wanted(&m, &none).len(), 31);

        // A failed upgrade on top: the deployed one and the newest superseded one are read.
        let m = metas(&[Superseded, Superseded, Deployed, Failed, Failed]);
        assert_eq!(
            HistoryScope::Operation.wanted(&m, &none),
            set(&[2, 3, 4, 5])
        );
        assert_eq!(HistoryScope::Upgrade.wanted(&m, &none), set(&[3, 5]));
        // A pending latest is the latest.
        let m = metas(&[Superseded, Deployed, PendingUpgrade]);
        assert_eq!(HistoryScope::Operation.wanted(&m, &none), set(&[1, 2, 3]));
    }

    #[test]
    fn an_unreadable_newest_revision_makes_the_next_one_the_latest() {
        use Status::*;
        let m = metas(&[Superseded, Superseded, Superseded, Deployed]);
        assert_eq!(HistoryScope::Latest.wanted(&m, &set(&[4])), set(&[3]));
        assert_eq!(HistoryScope::Latest.wanted(&m, &set(&[4, 3])), set(&[2]));
        assert_eq!(HistoryScope::Operation.wanted(&m, &set(&[4])), set(&[2, 3]));
        assert!(
            HistoryScope::Latest
                .wanted(&m, &set(&[1, 2, 3, 4]))
                .is_empty()
        );
    }

    #[test]
    fn highest_revision_counts_unreadable_records() {
        let unreadable = Unreadable {
            namespace: "apps".into(),
            object: "sh.helm.release.v1.web.v7".into(),
            error: crate::Error::Base64 {
                object: "apps/sh.helm.release.v1.web.v7".into(),
                source: base64::DecodeError::InvalidLength(3),
            },
        };
        assert_eq!(unreadable.revision(), Some(7));
        let h = History::from_parts(Vec::new(), vec![unreadable]);
        assert_eq!(h.highest_revision, Some(7));
        assert!(h.latest().is_none());
        assert!(!h.is_empty());
    }
}
