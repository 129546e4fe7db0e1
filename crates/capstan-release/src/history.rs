//! History policy and state transitions, as Helm's actions write them: which revisions to prune
//! before a new one, the descriptions Helm records, and the status changes of install, upgrade,
//! rollback and uninstall.

use crate::release::Release;
use crate::status::Status;
use crate::time::GoTime;

/// Helm's default `--history-max`.
pub const DEFAULT_MAX_HISTORY: usize = 10;

/// Which revisions to delete before creating a new one, with Helm's rule
/// (`Storage.removeLeastRecent(name, max-1)`): `max_history` 0 means unlimited; otherwise,
/// oldest first, delete until `max_history - 1` remain, skipping the latest `deployed` revision.
///
/// `history` is every `(revision, status)` of the release, in any order. The result is in
/// ascending revision order. Like Helm, when the latest deployed revision is old, newer revisions
/// can be chosen to make room; it is never chosen itself.
pub fn revisions_to_prune(
    history: impl IntoIterator<Item = (u32, Status)>,
    max_history: usize,
) -> Vec<u32> {
    if max_history == 0 {
        return Vec::new();
    }
    let keep = max_history - 1;
    let mut revisions: Vec<(u32, Status)> = history.into_iter().collect();
    if revisions.len() <= keep {
        return Vec::new();
    }
    revisions.sort_by_key(|(rev, _)| *rev);
    let last_deployed = revisions
        .iter()
        .filter(|(_, s)| *s == Status::Deployed)
        .map(|(rev, _)| *rev)
        .max();
    let mut to_delete = Vec::new();
    for (rev, _) in &revisions {
        if revisions.len() - to_delete.len() == keep {
            break;
        }
        if Some(*rev) != last_deployed {
            to_delete.push(*rev);
        }
    }
    to_delete
}

/// The descriptions Helm writes in `info.description`.
pub mod descriptions {
    /// A new release being installed (`pending-install`).
    pub const INSTALL_UNDERWAY: &str = "Initial install underway";
    /// A successful install.
    pub const INSTALL_COMPLETE: &str = "Install complete";
    /// A new revision being upgraded to (`pending-upgrade`).
    pub const PREPARING_UPGRADE: &str = "Preparing upgrade";
    /// A successful upgrade.
    pub const UPGRADE_COMPLETE: &str = "Upgrade complete";
    /// A release being uninstalled (`uninstalling`).
    pub const UNINSTALL_IN_PROGRESS: &str = "Deletion in progress (or silently failed)";
    /// A completed uninstall.
    pub const UNINSTALL_COMPLETE: &str = "Uninstallation complete";
    /// A dry run.
    pub const DRY_RUN_COMPLETE: &str = "Dry run complete";
    /// The previous revision when an install replaces a failed or uninstalled release.
    pub const SUPERSEDED_BY_NEW_RELEASE: &str = "superseded by new release";

    /// `Rollback to N`.
    pub fn rollback_to(revision: u32) -> String {
        format!("Rollback to {revision}")
    }

    /// `Upgrade "<name>" failed: <error>`.
    pub fn upgrade_failed(name: &str, error: &str) -> String {
        format!("Upgrade {} failed: {error}", go_quote(name))
    }

    /// `Release "<name>" failed: <error>` (a failed install).
    pub fn install_failed(name: &str, error: &str) -> String {
        format!("Release {} failed: {error}", go_quote(name))
    }

    /// `Rollback "<name>" failed: <error>`.
    pub fn rollback_failed(name: &str, error: &str) -> String {
        format!("Rollback {} failed: {error}", go_quote(name))
    }

    /// `failed to render resource: <error>`.
    pub fn render_failed(error: &str) -> String {
        format!("failed to render resource: {error}")
    }

    /// Go's `%q` for a release name (names are ASCII; escapes `"` and `\` like Go).
    fn go_quote(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
}

impl Release {
    /// Sets status and description (Helm's `SetStatus`).
    pub fn set_status(&mut self, status: Status, description: impl Into<String>) {
        self.info.set_status(status, description);
    }

    /// Marks this revision superseded by a newer one (status only; Helm keeps the description).
    pub fn mark_superseded(&mut self) {
        self.info.status = Status::Superseded;
    }

    /// `pending-install`, "Initial install underway".
    pub fn mark_pending_install(&mut self) {
        self.set_status(Status::PendingInstall, descriptions::INSTALL_UNDERWAY);
    }

    /// `pending-upgrade`, "Preparing upgrade".
    pub fn mark_pending_upgrade(&mut self) {
        self.set_status(Status::PendingUpgrade, descriptions::PREPARING_UPGRADE);
    }

    /// `deployed` with Helm's description for a finished install or upgrade, or the user's
    /// `--description` when given.
    pub fn mark_deployed(&mut self, upgrade: bool, user_description: Option<&str>) {
        let default = if upgrade {
            descriptions::UPGRADE_COMPLETE
        } else {
            descriptions::INSTALL_COMPLETE
        };
        let description = user_description
            .filter(|d| !d.is_empty())
            .unwrap_or(default);
        self.set_status(Status::Deployed, description);
    }

    /// `failed`, `Upgrade "<name>" failed: <error>`.
    pub fn mark_upgrade_failed(&mut self, error: &str) {
        let description = descriptions::upgrade_failed(&self.name, error);
        self.set_status(Status::Failed, description);
    }

    /// `failed`, `Release "<name>" failed: <error>`.
    pub fn mark_install_failed(&mut self, error: &str) {
        let description = descriptions::install_failed(&self.name, error);
        self.set_status(Status::Failed, description);
    }

    /// `failed`, `Rollback "<name>" failed: <error>`.
    pub fn mark_rollback_failed(&mut self, error: &str) {
        let description = descriptions::rollback_failed(&self.name, error);
        self.set_status(Status::Failed, description);
    }

    /// `uninstalling`, "Deletion in progress (or silently failed)", `deleted` = `now`.
    pub fn mark_uninstalling(&mut self, now: GoTime) {
        self.info.deleted = Some(now);
        self.set_status(Status::Uninstalling, descriptions::UNINSTALL_IN_PROGRESS);
    }

    /// `uninstalled`, "Uninstallation complete" or the user's `--description`.
    pub fn mark_uninstalled(&mut self, user_description: Option<&str>) {
        let description = user_description
            .filter(|d| !d.is_empty())
            .unwrap_or(descriptions::UNINSTALL_COMPLETE);
        self.set_status(Status::Uninstalled, description);
    }

    /// The new revision a rollback writes (Helm's `prepareRollback`): revision
    /// `current.version + 1`, `pending-rollback`, "Rollback to N", with the chart, values,
    /// manifest, hooks, notes and labels of `target` (revision N), `first_deployed` of `current`,
    /// `last_deployed` = `now`, and Helm 4's `rollback_revision` = N. The apply method is
    /// `target`'s.
    pub fn rollback_from(current: &Release, target: &Release, now: GoTime) -> Release {
        let mut next = Release::new(
            current.name.clone(),
            current.namespace.clone(),
            current.version + 1,
            Status::PendingRollback,
        );
        next.chart = target.chart.clone();
        next.config = target.config.clone();
        next.manifest = target.manifest.clone();
        next.hooks = target.hooks.clone();
        next.labels = target.labels.clone();
        next.apply_method = target.apply_method.clone();
        next.info.first_deployed = current.info.first_deployed;
        next.info.last_deployed = Some(now);
        next.info.notes = target.info.notes.clone();
        next.info.description = descriptions::rollback_to(target.version);
        next.info.rollback_revision = target.version;
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    fn h(statuses: &[Status]) -> Vec<(u32, Status)> {
        statuses
            .iter()
            .copied()
            .zip(1..)
            .map(|(s, r)| (r, s))
            .collect()
    }

    #[test]
    fn unlimited_and_under_the_limit() {
        assert!(revisions_to_prune(h(&[Superseded; 50]), 0).is_empty());
        assert!(revisions_to_prune(h(&[Superseded, Superseded, Deployed]), 4).is_empty());
        assert!(revisions_to_prune(Vec::new(), 1).is_empty());
    }

    #[test]
    fn oldest_go_first_until_max_minus_one_remain() {
        let mut statuses = vec![Superseded; 11];
        statuses.push(Deployed);
        // 12 revisions, max 10: keep 9, so delete the 3 oldest.
        assert_eq!(revisions_to_prune(h(&statuses), 10), [1, 2, 3]);
        assert_eq!(
            revisions_to_prune(h(&statuses), DEFAULT_MAX_HISTORY),
            [1, 2, 3]
        );
        // At the limit exactly: make room for one.
        assert_eq!(revisions_to_prune(h(&statuses[..10]), 10), [1]);
    }

    #[test]
    fn never_the_latest_deployed() {
        // Deployed is the oldest: it is skipped.
        assert_eq!(
            revisions_to_prune(h(&[Deployed, Failed, Failed, Failed]), 3),
            [2, 3]
        );
        // max 1: keep nothing but the deployed one; Helm deletes newer failed ones too.
        assert_eq!(
            revisions_to_prune(h(&[Deployed, Failed, Failed]), 1),
            [2, 3]
        );
        // Two deployed (a corrupted history): only the latest is protected.
        assert_eq!(
            revisions_to_prune(h(&[Deployed, Superseded, Deployed]), 2),
            [1, 2]
        );
    }

    #[test]
    fn order_of_input_does_not_matter() {
        let mut hist = h(&[Superseded, Superseded, Superseded, Deployed]);
        hist.reverse();
        assert_eq!(revisions_to_prune(hist, 2), [1, 2, 3]);
    }

    #[test]
    fn prune_result_leaves_room_for_one() {
        for len in 0..15usize {
            for max in 1..12usize {
                let mut statuses = vec![Superseded; len];
                if len > 0 {
                    statuses[len / 2] = Deployed;
                }
                let deleted = revisions_to_prune(h(&statuses), max);
                let remaining = len - deleted.len();
                assert!(
                    remaining <= (max - 1).max(usize::from(len > 0)),
                    "len {len} max {max}"
                );
                if len > 0 {
                    assert!(!deleted.contains(&(len as u32 / 2 + 1)), "deployed kept");
                }
            }
        }
    }

    #[test]
    fn descriptions_as_helm_writes_them() {
        use descriptions::*;
        assert_eq!(rollback_to(3), "Rollback to 3");
        assert_eq!(
            upgrade_failed("web", "timed out waiting for the condition"),
            "Upgrade \"web\" failed: timed out waiting for the condition"
        );
        assert_eq!(
            install_failed("web", "boom"),
            "Release \"web\" failed: boom"
        );
        assert_eq!(
            rollback_failed("web", "boom"),
            "Rollback \"web\" failed: boom"
        );
        assert_eq!(
            UNINSTALL_IN_PROGRESS,
            "Deletion in progress (or silently failed)"
        );
        assert_eq!(upgrade_failed("a\"b", "x"), "Upgrade \"a\\\"b\" failed: x");
    }

    #[test]
    fn transitions() {
        let mut r = Release::new("web", "ns", 1, Unknown);
        r.mark_pending_install();
        assert_eq!(
            (r.info.status, r.info.description.as_str()),
            (PendingInstall, "Initial install underway")
        );
        r.mark_deployed(false, None);
        assert_eq!(
            (r.info.status, r.info.description.as_str()),
            (Deployed, "Install complete")
        );
        r.mark_pending_upgrade();
        assert_eq!(r.info.description, "Preparing upgrade");
        r.mark_deployed(true, Some(""));
        assert_eq!(r.info.description, "Upgrade complete");
        r.mark_deployed(true, Some("by CI"));
        assert_eq!(r.info.description, "by CI");
        r.mark_superseded();
        assert_eq!(
            (r.info.status, r.info.description.as_str()),
            (Superseded, "by CI")
        );
        r.mark_upgrade_failed("oops");
        assert_eq!(
            (r.info.status, r.info.description.as_str()),
            (Failed, "Upgrade \"web\" failed: oops")
        );
        let now = GoTime::now();
        r.mark_uninstalling(now);
        assert_eq!(r.info.deleted, Some(now));
        assert_eq!(r.info.status, Uninstalling);
        r.mark_uninstalled(None);
        assert_eq!(
            (r.info.status, r.info.description.as_str()),
            (Uninstalled, "Uninstallation complete")
        );
        r.mark_install_failed("x");
        assert_eq!(r.info.description, "Release \"web\" failed: x");
        r.mark_rollback_failed("y");
        assert_eq!(r.info.description, "Rollback \"web\" failed: y");
    }

    #[test]
    fn rollback_copies_the_target() {
        let first: GoTime = "2024-01-01T00:00:00Z".parse().unwrap();
        let mut target = Release::new("web", "ns", 2, Superseded);
        target.manifest = "kind: ConfigMap".into();
        target.config.insert("a".into(), 1.into());
        target.info.notes = "notes of 2".into();
        target.labels.insert("team".into(), "x".into());
        let mut current = Release::new("web", "ns", 5, Deployed);
        current.info.first_deployed = Some(first);
        let now = GoTime::now();
        let next = Release::rollback_from(&current, &target, now);
        assert_eq!(next.version, 6);
        assert_eq!(next.info.status, PendingRollback);
        assert_eq!(next.info.description, "Rollback to 2");
        assert_eq!(next.info.rollback_revision, 2);
        assert_eq!(next.info.first_deployed, Some(first));
        assert_eq!(next.info.last_deployed, Some(now));
        assert_eq!(next.manifest, target.manifest);
        assert_eq!(next.config, target.config);
        assert_eq!(next.info.notes, "notes of 2");
        assert_eq!(next.labels, target.labels);
    }
}
