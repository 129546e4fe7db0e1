//! `upgrade`: Helm's upgrade with `--install`, `--history-max`, `--atomic` /
//! `--rollback-on-failure`, `--cleanup-on-fail`, `--force`, `--dry-run`, `--wait`,
//! `--timeout`, `--description`, `--labels`, `--no-hooks`, `--server-side`. The value flags
//! are decided before rendering, by [`crate::values::upgrade_values`].

use std::collections::BTreeMap;
use std::time::Duration;

use capstan_release::{
    ApplyMethod, DEFAULT_MAX_HISTORY, GoTime, HookEvent, Release, ReleaseStore, Status,
    StoredRelease, descriptions, validate_release_name,
};

use crate::cluster::{ApplyMode, ApplyOptions, Cluster, DryRun};
use crate::control::Control;
use crate::error::{Error, Result, error_chain};
use crate::install::{DEFAULT_TIMEOUT, Install};
use crate::prepare::check_expected;
use crate::progress::{Event, Phase, Progress};
use crate::race;
use crate::rendered::Rendered;
use crate::resource::{ObjectRef, Resource};
use crate::rollback::Rollback;
use crate::session::Ctx;
use crate::steps;

/// The options of an upgrade.
#[derive(Clone, Debug)]
pub struct Upgrade {
    /// The release name.
    pub name: String,
    /// The release namespace (empty: `default`).
    pub namespace: String,
    /// `--install`: install when there is no release, or only an uninstalled one.
    pub install: bool,
    /// `--create-namespace` (for the `--install` path).
    pub create_namespace: bool,
    /// `--history-max` (0 = unlimited).
    pub history_max: usize,
    /// `--atomic` / `--rollback-on-failure`: implies wait; on failure roll back to the newest
    /// superseded or deployed revision.
    pub atomic: bool,
    /// `--cleanup-on-fail`: delete the objects the failed upgrade created.
    pub cleanup_on_fail: bool,
    /// `--dry-run=client|server`: nothing is recorded.
    pub dry_run: Option<DryRun>,
    /// `--wait`.
    pub wait: bool,
    /// `--wait-for-jobs`.
    pub wait_for_jobs: bool,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--no-hooks`.
    pub no_hooks: bool,
    /// `--skip-crds`: do not create the chart's missing CRDs ([`Rendered::crds`]).
    pub skip_crds: bool,
    /// `--description`.
    pub description: Option<String>,
    /// `--labels`, merged over the previous revision's labels.
    pub labels: BTreeMap<String, String>,
    /// How objects are applied (`force` is `--force`; the mode is decided by `server_side`).
    pub apply: ApplyOptions,
    /// `--server-side=true|false`; `None` is `auto`: follow the release's `apply_method`
    /// (absent means client-side); a fresh install is server-side.
    pub server_side: Option<bool>,
    /// The latest revision the upgrade was prepared against ([`crate::Plan::expected_revision`];
    /// 0: none): when the release has moved since, the upgrade is refused ([`Error::Moved`])
    /// and writes nothing. `None` checks nothing.
    pub expected_revision: Option<u32>,
    /// Locking, recovery, deadline, cancellation.
    pub control: Control,
}

impl Upgrade {
    /// An upgrade of `name` in `namespace` with Helm's defaults.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Upgrade {
            name: name.into(),
            namespace: namespace.into(),
            install: false,
            create_namespace: false,
            history_max: DEFAULT_MAX_HISTORY,
            atomic: false,
            cleanup_on_fail: false,
            dry_run: None,
            wait: false,
            wait_for_jobs: false,
            timeout: DEFAULT_TIMEOUT,
            no_hooks: false,
            skip_crds: false,
            description: None,
            labels: BTreeMap::new(),
            apply: ApplyOptions::default(),
            server_side: None,
            expected_revision: None,
            control: Control::default(),
        }
    }

    /// Runs the upgrade: revision latest+1 `pending-upgrade` "Preparing upgrade" -> pre-upgrade
    /// hooks -> apply over the current revision's objects -> wait -> post-upgrade hooks -> the
    /// current revision `superseded`, the new one `deployed` "Upgrade complete". On failure the
    /// new revision is `failed` `Upgrade "<name>" failed: ...`; `cleanup_on_fail` deletes what
    /// it created; `atomic` rolls back (adding a "Rollback to N" revision).
    pub async fn run(
        &self,
        store: &dyn ReleaseStore,
        cluster: &dyn Cluster,
        progress: &dyn Progress,
        rendered: Rendered,
    ) -> Result<Release> {
        let ctx = Ctx::new(
            store,
            cluster,
            progress,
            &self.control,
            &self.namespace,
            &self.name,
        );
        let result = self.run_in(&ctx, rendered).await;
        steps::finished(&ctx, &result, |r| Some(r));
        result
    }

    async fn run_in(&self, ctx: &Ctx<'_>, rendered: Rendered) -> Result<Release> {
        validate_release_name(&self.name).map_err(|e| Error::InvalidInput {
            reason: e.to_string(),
        })?;
        let target = steps::target_objects(&rendered.manifest, &ctx.name, &ctx.namespace)?;
        if let Some(dry_run) = self.dry_run {
            let history = ctx.history().await?;
            check_expected(&self.name, "upgrade", self.expected_revision, &history)?;
            if self.installs(&history) {
                return self
                    .as_install(Some(dry_run))
                    .dry_run_in(ctx, rendered)
                    .await;
            }
            let (current, latest) = self.current(ctx, &history)?;
            let version = ctx.next_revision(latest.release.version);
            let mut release = self.build(current, version, rendered);
            if dry_run == DryRun::Server {
                let previous =
                    steps::target_objects(&current.release.manifest, &ctx.name, &ctx.namespace)?;
                let options = ApplyOptions {
                    dry_run: Some(DryRun::Server),
                    ..self.options(current)
                };
                steps::apply(
                    ctx,
                    release.version,
                    &previous,
                    &target,
                    &options,
                    &mut Vec::new(),
                )
                .await?;
            }
            release.info.description = descriptions::DRY_RUN_COMPLETE.into();
            return Ok(release);
        }
        if self.create_namespace {
            crate::install::create_namespace(ctx).await?;
        }
        let locked = race::lock(ctx, true).await?;
        let result = if let Err(e) = check_expected(
            &self.name,
            "upgrade",
            self.expected_revision,
            &locked.history,
        ) {
            Err(e)
        } else if self.installs(&locked.history) {
            self.as_install(None)
                .install_locked(ctx, &locked.history, rendered, &target, GoTime::now())
                .await
        } else {
            self.upgrade_locked(ctx, &locked.history, rendered, &target)
                .await
        };
        ctx.unlock(locked).await;
        result
    }

    /// Whether `--install` applies: no release, or only an uninstalled one.
    fn installs(&self, history: &[StoredRelease]) -> bool {
        self.install
            && history
                .last()
                .is_none_or(|r| r.release.info.status == Status::Uninstalled)
    }

    fn as_install(&self, dry_run: Option<DryRun>) -> Install {
        let mut apply = self.apply.clone();
        apply.mode = match self.server_side {
            Some(false) => ApplyMode::ClientSide,
            _ => ApplyMode::ServerSide,
        };
        Install {
            create_namespace: self.create_namespace,
            replace: true,
            dry_run,
            wait: self.wait,
            wait_for_jobs: self.wait_for_jobs,
            timeout: self.timeout,
            atomic: self.atomic,
            no_hooks: self.no_hooks,
            skip_crds: self.skip_crds,
            description: self.description.clone(),
            labels: self.labels.clone(),
            apply,
            expected_revision: self.expected_revision,
            control: self.control.clone(),
            ..Install::new(self.name.clone(), self.namespace.clone())
        }
    }

    /// The revision being upgraded (Helm's `currentRelease`) and the latest one.
    fn current<'h>(
        &self,
        ctx: &Ctx<'_>,
        history: &'h [StoredRelease],
    ) -> Result<(&'h StoredRelease, &'h StoredRelease)> {
        let latest = history.last().ok_or_else(|| Error::NotFound {
            name: ctx.name.clone(),
            revision: None,
        })?;
        if latest.release.info.status.is_pending() {
            return Err(Error::InProgress {
                name: ctx.name.clone(),
                revision: latest.release.version,
            });
        }
        let current = history
            .iter()
            .rev()
            .find(|r| r.release.info.status == Status::Deployed)
            .or_else(|| {
                matches!(
                    latest.release.info.status,
                    Status::Failed | Status::Superseded
                )
                .then_some(latest)
            })
            .ok_or_else(|| Error::NoDeployedReleases {
                name: ctx.name.clone(),
            })?;
        Ok((current, latest))
    }

    fn options(&self, current: &StoredRelease) -> ApplyOptions {
        let mode = match self.server_side {
            Some(true) => ApplyMode::ServerSide,
            Some(false) => ApplyMode::ClientSide,
            None => match current.release.apply_method {
                Some(ApplyMethod::ServerSide) => ApplyMode::ServerSide,
                _ => ApplyMode::ClientSide,
            },
        };
        ApplyOptions {
            mode,
            ..self.apply.clone()
        }
    }

    /// The new revision `version` over `current`.
    fn build(&self, current: &StoredRelease, version: u32, rendered: Rendered) -> Release {
        let mut release = Release::new(
            current.release.name.clone(),
            current.release.namespace.clone(),
            version,
            Status::Unknown,
        );
        release.mark_pending_upgrade();
        release.info.first_deployed = current.release.info.first_deployed;
        release.info.last_deployed = Some(GoTime::now());
        release.info.notes = rendered.notes;
        release.chart = Some(rendered.chart);
        release.config = rendered.config;
        release.manifest = rendered.manifest;
        release.hooks = rendered.hooks;
        release.labels = current.release.labels.clone();
        release.labels.extend(self.labels.clone());
        release.apply_method = Some(match self.options(current).mode {
            ApplyMode::ServerSide => ApplyMethod::ServerSide,
            ApplyMode::ClientSide => ApplyMethod::ClientSide,
        });
        release
    }

    async fn upgrade_locked(
        &self,
        ctx: &Ctx<'_>,
        history: &[StoredRelease],
        rendered: Rendered,
        target: &[Resource],
    ) -> Result<Release> {
        // Another client (Helm) may create the revision first: then build again on top of
        // what it wrote (`race::create` decides whether to).
        let mut history = std::borrow::Cow::Borrowed(history);
        let mut attempts = 0;
        let (current, mut record, previous) = loop {
            let (current, latest) = self.current(ctx, &history)?;
            let current = current.clone();
            let version = ctx.next_revision(latest.release.version);
            let release = self.build(&current, version, rendered.clone());
            // Encoded while the CRDs and the objects' ownership are checked.
            ctx.store.encode_ahead(&release);
            let live = steps::target_objects(&current.release.manifest, &ctx.name, &ctx.namespace)?;
            // The CRD step first: the ownership check resolves every kind, including those the
            // CRD step makes, which the API server serves only once they are established.
            crate::crds::install(ctx, &rendered.crds, self.skip_crds).await?;
            steps::check_adoption(ctx, "update", &live, target, &self.options(&current)).await?;
            ctx.phase(Phase::Recording, Some(version));
            match race::create(ctx, &release, self.history_max, &mut attempts).await? {
                race::Created::Record(record) => break (current, *record, live),
                // Rendered for the revision another client has just taken: stale.
                race::Created::Retry(fresh) if self.expected_revision.is_some() => {
                    check_expected(&self.name, "upgrade", Some(latest.release.version), &fresh)?;
                    history = std::borrow::Cow::Owned(fresh);
                }
                race::Created::Retry(fresh) => history = std::borrow::Cow::Owned(fresh),
            }
        };
        let options = self.options(&current);
        let version = record.release.version;
        let supersede = |revision: u32, status: Status| {
            (revision == current.release.version || status == Status::Deployed)
                && status != Status::Superseded
        };
        // What finalising writes when all goes well, encoded while the objects are applied and
        // waited for (a record the hooks change is encoded when written).
        for known in history.iter() {
            if known.release.version != version
                && supersede(known.release.version, known.release.info.status)
            {
                let mut superseded = known.release.clone();
                superseded.mark_superseded();
                ctx.store.encode_ahead(&superseded);
            }
        }
        let mut deployed = record.release.clone();
        deployed.mark_deployed(true, self.description.as_deref());
        ctx.store.encode_ahead(&deployed);
        drop(deployed);
        let mut created = Vec::new();
        let result = self
            .perform(
                ctx,
                &mut record.release,
                &previous,
                target,
                &options,
                &mut created,
            )
            .await;
        let ctx = ctx.detached();
        ctx.phase(Phase::Finalising, Some(version));
        match result {
            Ok(()) => {
                for mut r in ctx
                    .records_to_finalise(&record, &history, supersede)
                    .await?
                {
                    r.release.mark_superseded();
                    ctx.save(&mut r).await?;
                }
                record
                    .release
                    .mark_deployed(true, self.description.as_deref());
                ctx.save(&mut record).await?;
                Ok(record.release)
            }
            Err(error) => self.fail(&ctx, record, error, &created, target).await,
        }
    }

    async fn perform(
        &self,
        ctx: &Ctx<'_>,
        release: &mut Release,
        previous: &[Resource],
        target: &[Resource],
        options: &ApplyOptions,
        created: &mut Vec<ObjectRef>,
    ) -> Result<()> {
        let version = release.version;
        if !self.no_hooks {
            ctx.phase(Phase::PreHooks, Some(version));
            ctx.run_hooks(
                release,
                HookEvent::PreUpgrade,
                self.timeout,
                "pre-upgrade hooks failed: ",
            )
            .await?;
        }
        steps::apply(ctx, version, previous, target, options, created).await?;
        if self.wait || self.atomic {
            steps::wait(
                ctx,
                Some(version),
                target,
                self.timeout,
                self.wait_for_jobs,
                false,
            )
            .await?;
        }
        if !self.no_hooks {
            ctx.phase(Phase::PostHooks, Some(version));
            ctx.run_hooks(
                release,
                HookEvent::PostUpgrade,
                self.timeout,
                "post-upgrade hooks failed: ",
            )
            .await?;
        }
        Ok(())
    }

    /// Records the failure, cleans up, and with `atomic` rolls back. `ctx` is detached.
    async fn fail(
        &self,
        ctx: &Ctx<'_>,
        mut record: StoredRelease,
        error: Error,
        created: &[ObjectRef],
        target: &[Resource],
    ) -> Result<Release> {
        record.release.mark_upgrade_failed(&error_chain(&error));
        ctx.save(&mut record).await?;
        if self.cleanup_on_fail
            && let Err(e) = steps::cleanup_created(ctx, created, target).await
        {
            ctx.progress.event(Event::Warning {
                message: format!("cleanup on fail: {}", error_chain(&e)),
            });
        }
        if !self.atomic {
            return Err(error);
        }
        ctx.phase(Phase::RollingBack, Some(record.release.version));
        let history = ctx.history().await?;
        let Some(to) = history
            .iter()
            .rev()
            .find(|r| matches!(r.release.info.status, Status::Superseded | Status::Deployed))
            .map(|r| r.release.version)
        else {
            return Err(Error::NoSuccessfulRelease {
                original: error_chain(&error),
            });
        };
        let rollback = Rollback {
            revision: Some(to),
            wait: true,
            wait_for_jobs: self.wait_for_jobs,
            timeout: self.timeout,
            history_max: self.history_max,
            no_hooks: self.no_hooks,
            apply: self.apply.clone(),
            server_side: self.server_side,
            control: ctx.control.clone(),
            ..Rollback::new(ctx.name.clone(), ctx.namespace.clone())
        };
        match rollback.rollback_locked(ctx, &history).await {
            Ok(_) => Err(Error::AtomicRolledBack {
                name: ctx.name.clone(),
                to,
                source: Box::new(error),
            }),
            Err(e) => Err(Error::AtomicRecoveryFailed {
                action: "rolling back",
                operation: "upgrade",
                original: error_chain(&error),
                source: Box::new(e),
            }),
        }
    }
}
