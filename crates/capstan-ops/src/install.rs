//! `install`: Helm's install with `--create-namespace`, `--replace`, `--generate-name`,
//! `--dry-run`, `--wait`, `--timeout`, `--atomic`, `--description`, `--labels`, `--no-hooks`.

use std::collections::BTreeMap;
use std::time::Duration;

use capstan_release::{
    ApplyMethod, GoTime, HookEvent, Release, ReleaseStore, Status, StoredRelease, descriptions,
    validate_release_name,
};

use crate::cluster::{ApplyMode, ApplyOptions, Cluster, DryRun};
use crate::control::Control;
use crate::error::{Error, Result, error_chain};
use crate::prepare::check_expected;
use crate::progress::{Phase, Progress};
use crate::race;
use crate::rendered::Rendered;
use crate::resource::Resource;
use crate::session::Ctx;
use crate::steps;
use crate::uninstall::Uninstall;

/// Helm's default `--timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// `--generate-name`: `<chart>-<unix seconds>`, as Helm names it (the chart reference's last
/// path element, without extension; `chart` when there is none).
pub fn generate_name(chart_reference: &str, unix_seconds: i64) -> String {
    let base = chart_reference
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    let base = base.split('.').next().unwrap_or("");
    let base = if base.is_empty() { "chart" } else { base };
    format!("{base}-{unix_seconds}")
}

/// The options of an install.
#[derive(Clone, Debug)]
pub struct Install {
    /// The release name.
    pub name: String,
    /// The release namespace (empty: `default`).
    pub namespace: String,
    /// `--create-namespace`.
    pub create_namespace: bool,
    /// `--replace`: re-use the name of a release whose latest revision is failed or
    /// uninstalled.
    pub replace: bool,
    /// `--dry-run=client|server`: nothing is recorded; server sends every object with the
    /// server's dry run.
    pub dry_run: Option<DryRun>,
    /// `--wait`.
    pub wait: bool,
    /// `--wait-for-jobs`.
    pub wait_for_jobs: bool,
    /// `--timeout` for hooks and waiting.
    pub timeout: Duration,
    /// `--atomic` / `--rollback-on-failure`: implies wait; uninstall on failure.
    pub atomic: bool,
    /// `--no-hooks`.
    pub no_hooks: bool,
    /// `--skip-crds`: do not create the chart's CRDs ([`Rendered::crds`]).
    pub skip_crds: bool,
    /// `--description`.
    pub description: Option<String>,
    /// `--labels`: custom labels on the release record.
    pub labels: BTreeMap<String, String>,
    /// How objects are applied (installs default to server-side).
    pub apply: ApplyOptions,
    /// Locking, recovery, deadline, cancellation.
    pub control: Control,
    /// The latest revision the install was prepared against ([`crate::Plan::expected_revision`];
    /// 0: none): when the release has moved since, the install is refused ([`Error::Moved`])
    /// and writes nothing. `None` checks nothing.
    pub expected_revision: Option<u32>,
}

impl Install {
    /// An install of `name` into `namespace` with Helm's defaults.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Install {
            name: name.into(),
            namespace: namespace.into(),
            create_namespace: false,
            replace: false,
            dry_run: None,
            wait: false,
            wait_for_jobs: false,
            timeout: DEFAULT_TIMEOUT,
            atomic: false,
            no_hooks: false,
            skip_crds: false,
            description: None,
            labels: BTreeMap::new(),
            apply: ApplyOptions::default(),
            control: Control::default(),
            expected_revision: None,
        }
    }

    /// Runs the install: `pending-install` "Initial install underway" -> pre-install hooks ->
    /// create objects in install order -> wait -> post-install hooks -> `deployed`
    /// "Install complete". On failure the revision is `failed` `Release "<name>" failed: ...`
    /// (and, with `atomic`, the release is uninstalled). Returns the release written (for a
    /// dry run, the one that would be, with "Dry run complete").
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
        if self.dry_run.is_some() {
            return self.dry_run_in(ctx, rendered).await;
        }
        let target = steps::target_objects(&rendered.manifest, &ctx.name, &ctx.namespace)?;
        if self.create_namespace {
            create_namespace(ctx).await?;
        }
        // The kinds of the objects and CRDs looked up while the lock is taken and the history
        // read: the CRD step and the ownership check then find them known.
        let crd_kind = if self.skip_crds || rendered.crds.is_empty() {
            Vec::new()
        } else {
            crate::crds::crd_kind()
        };
        // The record the install will most likely write (the revision after the one it was
        // prepared against: 1 for a new name), announced while the lock is taken, so that its
        // encoding is done when the record is written. The revision is known only under the
        // lock: when it turns out otherwise, the announcement is merely unused.
        let now = GoTime::now();
        let announce = async {
            let likely = self.expected_revision.unwrap_or(0).saturating_add(1);
            ctx.store
                .encode_ahead(&self.build(ctx, likely, rendered.clone(), now));
        };
        let (locked, (), (), ()) = futures::join!(
            race::lock(ctx, true),
            announce,
            ctx.cluster.prefetch_kinds(&target),
            ctx.cluster.prefetch_kinds(&crd_kind),
        );
        let locked = locked?;
        let result = match check_expected(
            &self.name,
            "install",
            self.expected_revision,
            &locked.history,
        ) {
            Ok(()) => {
                self.install_locked(ctx, &locked.history, rendered, &target, now)
                    .await
            }
            Err(e) => Err(e),
        };
        ctx.unlock(locked).await;
        result
    }

    /// A dry run: the release that would be written, nothing recorded; with `Server`, every
    /// object is sent with the server's dry run. Like Helm, the name is not checked.
    pub(crate) async fn dry_run_in(&self, ctx: &Ctx<'_>, rendered: Rendered) -> Result<Release> {
        let target = steps::target_objects(&rendered.manifest, &ctx.name, &ctx.namespace)?;
        let mut release = self.build(ctx, 1, rendered, GoTime::now());
        if self.dry_run == Some(DryRun::Server) {
            if self.create_namespace {
                ctx.step(
                    || format!("creating namespace {:?}", ctx.namespace),
                    ctx.cluster.create_namespace(&ctx.namespace, true),
                )
                .await?;
            }
            let options = ApplyOptions {
                dry_run: Some(DryRun::Server),
                ..self.apply.clone()
            };
            steps::apply(ctx, 1, &[], &target, &options, &mut Vec::new()).await?;
        }
        release.info.description = descriptions::DRY_RUN_COMPLETE.into();
        Ok(release)
    }

    fn build(&self, ctx: &Ctx<'_>, version: u32, rendered: Rendered, now: GoTime) -> Release {
        let mut release = Release::new(
            ctx.name.clone(),
            ctx.namespace.clone(),
            version,
            Status::Unknown,
        );
        release.mark_pending_install();
        release.info.first_deployed = Some(now);
        release.info.last_deployed = Some(now);
        release.info.notes = rendered.notes;
        release.chart = Some(rendered.chart);
        release.config = rendered.config;
        release.manifest = rendered.manifest;
        release.hooks = rendered.hooks;
        release.labels = self.labels.clone();
        release.apply_method = Some(match self.apply.mode {
            ApplyMode::ServerSide => ApplyMethod::ServerSide,
            ApplyMode::ClientSide => ApplyMethod::ClientSide,
        });
        release
    }

    /// The install proper, under the lock; also `upgrade --install`'s install path. `now` is
    /// the time the record is stamped with (first and last deployed).
    pub(crate) async fn install_locked(
        &self,
        ctx: &Ctx<'_>,
        history: &[StoredRelease],
        rendered: Rendered,
        target: &[Resource],
        now: GoTime,
    ) -> Result<Release> {
        // Another client (Helm) may create the revision first: then decide again on what it
        // wrote (`race::create` decides whether to).
        let mut history = std::borrow::Cow::Borrowed(history);
        let mut attempts = 0;
        let mut record = loop {
            let version = self.next_version(ctx, &history).await?;
            let release = self.build(ctx, version, rendered.clone(), now);
            // Encoded while the CRDs and the objects' ownership are checked.
            ctx.store.encode_ahead(&release);
            // The ownership check beside the CRD step, for the kinds already served; the
            // objects of kinds the CRD step may be making (the API server serves them only
            // once established) are checked after it.
            steps::check_adoption_beside_crds(
                ctx,
                target,
                &self.apply,
                crate::crds::install(ctx, &rendered.crds, self.skip_crds),
            )
            .await?;
            ctx.phase(Phase::Recording, Some(version));
            match race::create(ctx, &release, 0, &mut attempts).await? {
                race::Created::Record(record) => break *record,
                // Prepared against the history another client has just changed: stale.
                race::Created::Retry(fresh) if self.expected_revision.is_some() => {
                    let seen = history.last().map_or(0, |r| r.release.version);
                    check_expected(&self.name, "install", Some(seen), &fresh)?;
                    history = std::borrow::Cow::Owned(fresh);
                }
                race::Created::Retry(fresh) => history = std::borrow::Cow::Owned(fresh),
            }
        };
        let version = record.release.version;
        // What finalising writes when all goes well, encoded while the objects are created and
        // waited for (a record the hooks change is encoded when written).
        let mut deployed = record.release.clone();
        deployed.mark_deployed(false, self.description.as_deref());
        ctx.store.encode_ahead(&deployed);
        drop(deployed);
        match self.perform(ctx, &mut record.release, target).await {
            Ok(()) => {
                ctx.phase(Phase::Finalising, Some(version));
                record
                    .release
                    .mark_deployed(false, self.description.as_deref());
                ctx.detached().save(&mut record).await?;
                Ok(record.release)
            }
            Err(error) => self.fail(ctx, record, error).await,
        }
    }

    /// The revision an install writes: 1, or with `replace` the one after a failed or
    /// uninstalled latest revision (superseding an uninstalled one first). A name whose records
    /// are all unreadable is still in use, unless replaced.
    async fn next_version(&self, ctx: &Ctx<'_>, history: &[StoredRelease]) -> Result<u32> {
        let Some(last) = history.last() else {
            if ctx.saw_unreadable() && !self.replace {
                return Err(Error::NameInUse {
                    name: ctx.name.clone(),
                });
            }
            return Ok(ctx.next_revision(0));
        };
        let status = last.release.info.status;
        if !(self.replace && matches!(status, Status::Uninstalled | Status::Failed)) {
            return Err(Error::NameInUse {
                name: ctx.name.clone(),
            });
        }
        if status != Status::Failed {
            let mut last = last.clone();
            last.release
                .set_status(Status::Superseded, descriptions::SUPERSEDED_BY_NEW_RELEASE);
            ctx.save(&mut last).await?;
        }
        Ok(ctx.next_revision(last.release.version))
    }

    async fn perform(
        &self,
        ctx: &Ctx<'_>,
        release: &mut Release,
        target: &[Resource],
    ) -> Result<()> {
        let version = release.version;
        if !self.no_hooks {
            ctx.phase(Phase::PreHooks, Some(version));
            ctx.run_hooks(
                release,
                HookEvent::PreInstall,
                self.timeout,
                "failed pre-install: ",
            )
            .await?;
        }
        steps::apply(ctx, version, &[], target, &self.apply, &mut Vec::new()).await?;
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
                HookEvent::PostInstall,
                self.timeout,
                "failed post-install: ",
            )
            .await?;
        }
        Ok(())
    }

    /// Records the failure and, with `atomic`, uninstalls. Runs detached from cancellation.
    async fn fail(
        &self,
        ctx: &Ctx<'_>,
        mut record: StoredRelease,
        error: Error,
    ) -> Result<Release> {
        let ctx = ctx.detached();
        ctx.phase(Phase::Finalising, Some(record.release.version));
        record.release.mark_install_failed(&error_chain(&error));
        ctx.save(&mut record).await?;
        if !self.atomic {
            return Err(error);
        }
        ctx.phase(Phase::RollingBack, Some(record.release.version));
        let uninstall = Uninstall {
            no_hooks: self.no_hooks,
            wait: false,
            timeout: self.timeout,
            ..Uninstall::new(ctx.name.clone(), ctx.namespace.clone())
        };
        let history = ctx.history().await?;
        match uninstall.uninstall_locked(&ctx, &history).await {
            Ok(_) => Err(Error::AtomicUninstalled {
                name: ctx.name.clone(),
                source: Box::new(error),
            }),
            Err(e) => Err(Error::AtomicRecoveryFailed {
                action: "uninstalling",
                operation: "install",
                original: error_chain(&error),
                source: Box::new(e),
            }),
        }
    }
}

/// `--create-namespace`: creates the release namespace before the release's lock is taken, since
/// the lock lives in that namespace.
pub(crate) async fn create_namespace(ctx: &Ctx<'_>) -> Result<()> {
    ctx.phase(Phase::CreatingNamespace, None);
    ctx.step(
        || format!("creating namespace {:?}", ctx.namespace),
        ctx.cluster.create_namespace(&ctx.namespace, false),
    )
    .await?;
    Ok(())
}
