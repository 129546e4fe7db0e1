//! `uninstall`: Helm's uninstall with `--keep-history`, `--dry-run`, `--no-hooks`, `--wait`,
//! `--timeout`, `--cascade`, `--description`.

use std::time::Duration;

use capstan_release::{GoTime, HookEvent, Release, ReleaseStore, Status, StoredRelease};

use crate::cluster::{Cascade, Cluster, ObjectAction};
use crate::control::Control;
use crate::error::{Error, Result};
use crate::install::DEFAULT_TIMEOUT;
use crate::progress::{Event, Phase, Progress};
use crate::resource::{ObjectRef, Resource, sort_uninstall_order, split_manifest};
use crate::session::Ctx;
use crate::steps;

/// The options of an uninstall.
#[derive(Clone, Debug)]
pub struct Uninstall {
    /// The release name.
    pub name: String,
    /// The release namespace (empty: `default`).
    pub namespace: String,
    /// `--keep-history`: keep the records, the latest marked `uninstalled`.
    pub keep_history: bool,
    /// `--dry-run`: change nothing, return the release that would be uninstalled.
    pub dry_run: bool,
    /// `--no-hooks`.
    pub no_hooks: bool,
    /// `--wait`: wait for the objects to be gone.
    pub wait: bool,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--cascade`.
    pub cascade: Cascade,
    /// `--description`.
    pub description: Option<String>,
    /// Locking, recovery, deadline, cancellation.
    pub control: Control,
}

/// What an uninstall did.
#[derive(Clone, Debug, PartialEq)]
pub struct UninstallResult {
    /// The release as last written (`uninstalled`), or as it was for a dry run.
    pub release: Release,
    /// Objects kept because of `helm.sh/resource-policy: keep`.
    pub kept: Vec<ObjectRef>,
    /// Helm's note about kept objects, or `""`.
    pub info: String,
}

impl Uninstall {
    /// An uninstall of `name` in `namespace` with Helm's defaults.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Uninstall {
            name: name.into(),
            namespace: namespace.into(),
            keep_history: false,
            dry_run: false,
            no_hooks: false,
            wait: false,
            timeout: DEFAULT_TIMEOUT,
            cascade: Cascade::default(),
            description: None,
            control: Control::default(),
        }
    }

    /// Runs the uninstall: `uninstalling` "Deletion in progress (or silently failed)" ->
    /// pre-delete hooks -> delete in uninstall order (keeping objects annotated
    /// `helm.sh/resource-policy: keep`) -> wait -> post-delete hooks -> `uninstalled`
    /// "Uninstallation complete"; without `keep_history` every record is then deleted.
    ///
    /// Like Helm, a pending latest revision does not stop an uninstall, and a failing hook
    /// leaves the release `uninstalling` (running uninstall again finishes it).
    pub async fn run(
        &self,
        store: &dyn ReleaseStore,
        cluster: &dyn Cluster,
        progress: &dyn Progress,
    ) -> Result<UninstallResult> {
        let ctx = Ctx::new(
            store,
            cluster,
            progress,
            &self.control,
            &self.namespace,
            &self.name,
        );
        let result = self.run_in(&ctx).await;
        steps::finished(&ctx, &result, |r| {
            (r.release.info.status == Status::Uninstalled || self.dry_run).then_some(&r.release)
        });
        result
    }

    async fn run_in(&self, ctx: &Ctx<'_>) -> Result<UninstallResult> {
        if self.dry_run {
            let history = ctx.history().await?;
            let release = history
                .last()
                .ok_or_else(|| self.not_found())?
                .release
                .clone();
            return Ok(UninstallResult {
                release,
                kept: Vec::new(),
                info: String::new(),
            });
        }
        let locked = crate::race::lock(ctx, false).await?;
        let result = self.uninstall_locked(ctx, &locked.history).await;
        ctx.unlock(locked).await;
        result
    }

    fn not_found(&self) -> Error {
        Error::NotFound {
            name: self.name.clone(),
            revision: None,
        }
    }

    /// The uninstall proper, under the lock; also an atomic install's recovery.
    pub(crate) async fn uninstall_locked(
        &self,
        ctx: &Ctx<'_>,
        history: &[StoredRelease],
    ) -> Result<UninstallResult> {
        let Some(latest) = history.last() else {
            return self.purge_unreadable(ctx).await;
        };
        let mut record = latest.clone();
        if record.release.info.status == Status::Uninstalled {
            if self.keep_history {
                return Err(Error::AlreadyDeleted {
                    name: self.name.clone(),
                });
            }
            self.purge(ctx).await?;
            return Ok(UninstallResult {
                release: record.release,
                kept: Vec::new(),
                info: String::new(),
            });
        }
        let version = record.release.version;
        record.release.mark_uninstalling(GoTime::now());
        ctx.save(&mut record).await?;

        if !self.no_hooks {
            ctx.phase(Phase::PreHooks, Some(version));
            ctx.run_hooks(&mut record.release, HookEvent::PreDelete, self.timeout, "")
                .await?;
        }

        let mut errors = Vec::new();
        let (mut delete, kept): (Vec<Resource>, Vec<Resource>) =
            match split_manifest(&record.release.manifest) {
                Ok(objects) => objects.into_iter().partition(|r| !r.is_kept()),
                Err(e) => {
                    errors.push(e.to_string());
                    (Vec::new(), Vec::new())
                }
            };
        for k in &kept {
            ctx.progress.event(Event::Object {
                object: k.object.clone(),
                action: ObjectAction::Kept,
                preview: None,
            });
        }
        sort_uninstall_order(&mut delete);
        if !delete.is_empty() {
            let report = steps::delete(ctx, &delete, self.cascade, false).await?;
            errors.extend(report.failed.iter().map(|(o, why)| format!("{o}: {why}")));
            if self.wait
                && let Err(e) =
                    steps::wait(ctx, Some(version), &delete, self.timeout, false, true).await
            {
                if e.is_cancellation() {
                    return Err(e);
                }
                errors.push(crate::error::error_chain(&e));
            }
        }

        if !self.no_hooks {
            ctx.phase(Phase::PostHooks, Some(version));
            ctx.run_hooks(&mut record.release, HookEvent::PostDelete, self.timeout, "")
                .await?;
        }

        ctx.phase(Phase::Finalising, Some(version));
        record.release.mark_uninstalled(self.description.as_deref());
        let ctx = ctx.detached();
        if self.keep_history {
            ctx.save(&mut record).await?;
        } else {
            self.purge(&ctx).await?;
        }
        let kept_refs: Vec<ObjectRef> = kept.iter().map(|k| k.object.clone()).collect();
        let info = if kept_refs.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = kept_refs
                .iter()
                .map(|o| format!("[{}] {}", o.kind, o.name))
                .collect();
            format!(
                "These resources were kept due to the resource policy:\n{}\n",
                list.join("\n")
            )
        };
        if !errors.is_empty() {
            return Err(Error::UninstallErrors {
                count: errors.len(),
                errors,
            });
        }
        Ok(UninstallResult {
            release: record.release,
            kept: kept_refs,
            info,
        })
    }

    /// Deletes every record of the release, readable or not (found by label, never decoded).
    async fn purge(&self, ctx: &Ctx<'_>) -> Result<()> {
        ctx.fence()?;
        ctx.store
            .purge(&ctx.namespace, &ctx.name)
            .await
            .map_err(Error::store(format!(
                "deleting the records of release {:?}",
                ctx.name
            )))?;
        Ok(())
    }

    /// A release none of whose records can be read (each was reported as it was skipped):
    /// there is nothing to delete from the cluster that capstan can know of, so the records
    /// are deleted (unless `keep_history`, which has no record to mark); with no record at all,
    /// the release is not found.
    async fn purge_unreadable(&self, ctx: &Ctx<'_>) -> Result<UninstallResult> {
        if !ctx.saw_unreadable() {
            return Err(self.not_found());
        }
        if self.keep_history {
            return Err(Error::InvalidInput {
                reason: format!(
                    "release {:?} has no readable revision to mark uninstalled: uninstall without --keep-history deletes its records",
                    ctx.name
                ),
            });
        }
        self.purge(ctx).await?;
        let revision = ctx.next_revision(0) - 1;
        let mut release = Release::new(
            ctx.name.clone(),
            ctx.namespace.clone(),
            revision,
            Status::Uninstalled,
        );
        release.mark_uninstalled(self.description.as_deref());
        Ok(UninstallResult {
            release,
            kept: Vec::new(),
            info: String::new(),
        })
    }
}
