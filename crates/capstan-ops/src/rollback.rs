//! `rollback [REVISION]`: Helm's rollback with `--wait`, `--wait-for-jobs`, `--timeout`,
//! `--force`, `--cleanup-on-fail`, `--history-max`, `--no-hooks`, `--dry-run`; it also
//! re-installs a release uninstalled with `--keep-history`.

use std::time::Duration;

use capstan_release::{
    ApplyMethod, DEFAULT_MAX_HISTORY, GoTime, HookEvent, Release, ReleaseStore, Status,
    StoredRelease,
};

use crate::cluster::{ApplyMode, ApplyOptions, Cluster};
use crate::control::Control;
use crate::error::{Error, Result, error_chain};
use crate::install::DEFAULT_TIMEOUT;
use crate::progress::{Event, Phase, Progress};
use crate::race;
use crate::session::Ctx;
use crate::steps;

/// The options of a rollback.
#[derive(Clone, Debug)]
pub struct Rollback {
    /// The release name.
    pub name: String,
    /// The release namespace (empty: `default`).
    pub namespace: String,
    /// The revision to roll back to; `None` (or 0): the one before the latest.
    pub revision: Option<u32>,
    /// `--wait`.
    pub wait: bool,
    /// `--wait-for-jobs`.
    pub wait_for_jobs: bool,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--cleanup-on-fail`.
    pub cleanup_on_fail: bool,
    /// `--history-max` (0 = unlimited).
    pub history_max: usize,
    /// `--no-hooks`.
    pub no_hooks: bool,
    /// `--dry-run`: return the revision that would be written; change nothing.
    pub dry_run: bool,
    /// How objects are applied (`force` is `--force`). The mode follows the target revision's
    /// `apply_method` unless `server_side` is set.
    pub apply: ApplyOptions,
    /// `--server-side=true|false`; `None` is `auto` (follow the target revision).
    pub server_side: Option<bool>,
    /// Locking, recovery, deadline, cancellation.
    pub control: Control,
}

impl Rollback {
    /// A rollback of `name` in `namespace` to the previous revision, with Helm's defaults.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Rollback {
            name: name.into(),
            namespace: namespace.into(),
            revision: None,
            wait: false,
            wait_for_jobs: false,
            timeout: DEFAULT_TIMEOUT,
            cleanup_on_fail: false,
            history_max: DEFAULT_MAX_HISTORY,
            no_hooks: false,
            dry_run: false,
            apply: ApplyOptions::default(),
            server_side: None,
            control: Control::default(),
        }
    }

    /// Runs the rollback: a new revision `pending-rollback` "Rollback to N" with the chart,
    /// values, manifest and hooks of N -> pre-rollback hooks -> apply over the latest
    /// revision's objects -> wait -> post-rollback hooks -> every deployed revision
    /// `superseded`, the new one `deployed`. On failure the new revision is `failed`
    /// `Rollback "<name>" failed: ...` and the latest one `superseded`, as Helm does.
    pub async fn run(
        &self,
        store: &dyn ReleaseStore,
        cluster: &dyn Cluster,
        progress: &dyn Progress,
    ) -> Result<Release> {
        let ctx = Ctx::new(
            store,
            cluster,
            progress,
            &self.control,
            &self.namespace,
            &self.name,
        );
        let result = self.run_in(&ctx).await;
        steps::finished(&ctx, &result, |r| Some(r));
        result
    }

    async fn run_in(&self, ctx: &Ctx<'_>) -> Result<Release> {
        if self.dry_run {
            let history = ctx.history().await?;
            let (current, target) = self.prepare(ctx, &history).await?;
            return Ok(Release::rollback_from(
                &current.release,
                &target,
                GoTime::now(),
            ));
        }
        let locked = race::lock(ctx, true).await?;
        let result = self.rollback_locked(ctx, &locked.history).await;
        ctx.unlock(locked).await;
        result
    }

    /// The latest revision and the target.
    async fn prepare(
        &self,
        ctx: &Ctx<'_>,
        history: &[StoredRelease],
    ) -> Result<(StoredRelease, Release)> {
        let current = history
            .last()
            .ok_or_else(|| Error::NotFound {
                name: ctx.name.clone(),
                revision: None,
            })?
            .clone();
        if current.release.info.status.is_pending() {
            return Err(Error::InProgress {
                name: ctx.name.clone(),
                revision: current.release.version,
            });
        }
        let wanted = match self.revision {
            Some(r) if r > 0 => r,
            _ => current.release.version.saturating_sub(1),
        };
        if wanted == 0 {
            return Err(Error::InvalidInput {
                reason: format!(
                    "release {:?} has no revision before {} to roll back to",
                    ctx.name, current.release.version
                ),
            });
        }
        // The operation's history holds the revisions an operation usually needs (the one
        // before the latest among them); an older target is read on its own.
        let target = match history.iter().find(|r| r.release.version == wanted) {
            Some(found) => found.release.clone(),
            None => match ctx.store.get(&ctx.namespace, &ctx.name, wanted).await {
                Ok(stored) => stored.release,
                Err(e) if e.is_not_found() => {
                    return Err(Error::NotFound {
                        name: ctx.name.clone(),
                        revision: Some(wanted),
                    });
                }
                Err(e) => {
                    return Err(Error::store(format!(
                        "reading release {:?} revision {wanted}, the rollback's target",
                        ctx.name
                    ))(e));
                }
            },
        };
        Ok((current, target))
    }

    /// The rollback proper, under the lock; also an atomic upgrade's recovery.
    pub(crate) async fn rollback_locked(
        &self,
        ctx: &Ctx<'_>,
        history: &[StoredRelease],
    ) -> Result<Release> {
        let (current, target) = self.prepare(ctx, history).await?;
        let mut next = Release::rollback_from(&current.release, &target, GoTime::now());
        next.version = ctx.next_revision(current.release.version);
        let version = next.version;
        let previous_objects =
            steps::target_objects(&current.release.manifest, &ctx.name, &ctx.namespace)?;
        let target_objects = steps::target_objects(&next.manifest, &ctx.name, &ctx.namespace)?;
        let mode = match self.server_side {
            Some(true) => ApplyMode::ServerSide,
            Some(false) => ApplyMode::ClientSide,
            None => match next.apply_method {
                Some(ApplyMethod::ServerSide) => ApplyMode::ServerSide,
                _ => ApplyMode::ClientSide,
            },
        };
        next.apply_method = Some(match mode {
            ApplyMode::ServerSide => ApplyMethod::ServerSide,
            ApplyMode::ClientSide => ApplyMethod::ClientSide,
        });
        let options = ApplyOptions {
            mode,
            ..self.apply.clone()
        };
        ctx.phase(Phase::Recording, Some(version));
        let mut record = ctx.create(&next, self.history_max).await?;
        let mut created = Vec::new();
        // Which step failed decides what Helm records (see the failure arm below).
        let mut stage = Stage::Hooks;
        let result = async {
            if !self.no_hooks {
                ctx.phase(Phase::PreHooks, Some(version));
                ctx.run_hooks(
                    &mut record.release,
                    HookEvent::PreRollback,
                    self.timeout,
                    "",
                )
                .await?;
            }
            stage = Stage::Apply;
            steps::apply(
                ctx,
                version,
                &previous_objects,
                &target_objects,
                &options,
                &mut created,
            )
            .await?;
            if self.wait {
                stage = Stage::Wait;
                steps::wait(
                    ctx,
                    Some(version),
                    &target_objects,
                    self.timeout,
                    self.wait_for_jobs,
                    false,
                )
                .await?;
            }
            stage = Stage::Hooks;
            if !self.no_hooks {
                ctx.phase(Phase::PostHooks, Some(version));
                ctx.run_hooks(
                    &mut record.release,
                    HookEvent::PostRollback,
                    self.timeout,
                    "",
                )
                .await?;
            }
            Ok(())
        }
        .await;
        let ctx = ctx.detached();
        ctx.phase(Phase::Finalising, Some(version));
        match result {
            Ok(()) => {
                let deployed = |_: u32, status: Status| status == Status::Deployed;
                for mut r in ctx.records_to_finalise(&record, history, deployed).await? {
                    r.release.mark_superseded();
                    ctx.save(&mut r).await?;
                }
                record.release.info.status = Status::Deployed;
                ctx.save(&mut record).await?;
                Ok(record.release)
            }
            Err(error) => {
                // Helm, when the apply fails, supersedes the revision it rolled back from and
                // writes `Rollback "<name>" failed`; when the wait fails it writes
                // `Release "<name>" failed` and leaves the current revision alone. (Helm leaves
                // a failed hook's revision pending-rollback; capstan marks it failed.)
                if stage == Stage::Apply && current.release.info.status == Status::Deployed {
                    match ctx
                        .store
                        .get(&ctx.namespace, &ctx.name, current.release.version)
                        .await
                    {
                        Ok(mut fresh) => {
                            fresh.release.mark_superseded();
                            ctx.save(&mut fresh).await?;
                        }
                        Err(e) if e.is_not_found() => {}
                        Err(e) => {
                            return Err(Error::store(format!(
                                "reading release {:?} revision {}",
                                ctx.name, current.release.version
                            ))(e));
                        }
                    }
                }
                if stage == Stage::Wait {
                    record.release.mark_install_failed(&error_chain(&error));
                } else {
                    record.release.mark_rollback_failed(&error_chain(&error));
                }
                ctx.save(&mut record).await?;
                if self.cleanup_on_fail
                    && let Err(e) = steps::cleanup_created(&ctx, &created, &target_objects).await
                {
                    ctx.progress.event(Event::Warning {
                        message: format!("cleanup on fail: {}", error_chain(&e)),
                    });
                }
                Err(error)
            }
        }
    }
}

/// The step of a rollback that was running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Hooks,
    Apply,
    Wait,
}
