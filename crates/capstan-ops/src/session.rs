//! The machinery every operation shares: [`Ctx`] (store, cluster, progress, control, release
//! identity), steps raced against cancellation, record writes with version preconditions, the
//! lock with crash recovery of an interrupted revision, and running hooks. The lock, each hook
//! and each record write run in a tracing span (`lock`, `hook`, `record`) with the release's
//! identity, never its values.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use capstan_release::{
    BoxFuture, DEFAULT_NAMESPACE, GoTime, History, HistoryScope, Hook, HookDeletePolicy, HookEvent,
    HookPhase, Release, ReleaseStore, Status, StoredRelease,
};
use futures::future::{Either, select};
use tracing::Instrument as _;

use crate::cluster::{
    Cluster, ClusterError, HookRequest, LockGuard, LockHolder, LockRequest, StaleLease,
};
use crate::control::{Cancel, Control, RecoverPolicy};
use crate::error::{Error, Result};
use crate::progress::{Event, Phase, Progress};
use crate::resource::split_manifest;

/// The namespace an empty namespace means.
pub(crate) fn normalize_namespace(namespace: &str) -> &str {
    if namespace.is_empty() {
        DEFAULT_NAMESPACE
    } else {
        namespace
    }
}

/// One operation's view of the world.
pub(crate) struct Ctx<'a> {
    pub store: &'a dyn ReleaseStore,
    pub cluster: &'a dyn Cluster,
    pub progress: &'a dyn Progress,
    pub control: Control,
    pub namespace: String,
    pub name: String,
    started: Instant,
    /// The lock, while held; shared with the detached context, whose writes it fences too.
    held: Arc<Held>,
    /// What history reads found: the unreadable records already reported (object names), and
    /// the highest revision stored, readable or not.
    seen: HistorySeen,
}

/// The lock an operation holds, and the token that fires when it is lost.
#[derive(Default)]
struct Held {
    guard: Mutex<Option<Box<dyn LockGuard>>>,
    lost: Mutex<Option<Cancel>>,
}

impl Held {
    fn lost(&self) -> Option<Cancel> {
        self.lost
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// What the history reads of one operation found, shared by its detached context.
#[derive(Debug, Default)]
struct HistorySeen {
    reported: Mutex<BTreeSet<String>>,
    highest: AtomicU32,
}

impl HistorySeen {
    fn copy(&self) -> Self {
        HistorySeen {
            reported: Mutex::new(
                self.reported
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
            ),
            highest: AtomicU32::new(self.highest.load(Ordering::SeqCst)),
        }
    }
}

impl<'a> Ctx<'a> {
    pub fn new(
        store: &'a dyn ReleaseStore,
        cluster: &'a dyn Cluster,
        progress: &'a dyn Progress,
        control: &Control,
        namespace: &str,
        name: &str,
    ) -> Self {
        Ctx {
            store,
            cluster,
            progress,
            control: control.clone(),
            namespace: normalize_namespace(namespace).to_owned(),
            name: name.to_owned(),
            started: Instant::now(),
            held: Arc::default(),
            seen: HistorySeen::default(),
        }
    }

    /// The same context with no cancellation and no deadline: for finalisation and the
    /// recovery of an atomic operation, which must run even when the operation was cancelled.
    /// It shares the lock: a lost lock stops its writes too.
    pub fn detached(&self) -> Ctx<'a> {
        Ctx {
            store: self.store,
            cluster: self.cluster,
            progress: self.progress,
            control: Control {
                cancel: crate::control::Cancel::new(),
                deadline: None,
                ..self.control.clone()
            },
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            started: self.started,
            held: self.held.clone(),
            seen: self.seen.copy(),
        }
    }

    pub fn phase(&self, phase: Phase, revision: Option<u32>) {
        self.progress.event(Event::Phase { phase, revision });
    }

    /// Fails when the lock this operation holds may have been lost: nothing may be written.
    pub fn fence(&self) -> Result<()> {
        let lost = self
            .held
            .guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|g| g.is_lost());
        if lost {
            let reason = self.held.lost().and_then(|t| t.reason());
            return Err(self.lock_lost(reason));
        }
        Ok(())
    }

    fn lock_lost(&self, reason: Option<String>) -> Error {
        Error::LockLost {
            name: self.name.clone(),
            reason: reason.unwrap_or_else(|| "its lease was not renewed in time".into()),
        }
    }

    /// Runs a write, unless the lock was lost, and abandons it if the lock is lost meanwhile.
    async fn fenced<T>(&self, write: impl Future<Output = Result<T>>) -> Result<T> {
        self.fence()?;
        let Some(lost) = self.held.lost() else {
            return write.await;
        };
        match select(std::pin::pin!(write), lost.cancelled()).await {
            Either::Left((result, _)) => result,
            Either::Right((reason, _)) => Err(self.lock_lost(Some(reason))),
        }
    }

    /// Fails when the token fired, the deadline passed or the lock was lost.
    pub fn check(&self) -> Result<()> {
        self.fence()?;
        if let Some(reason) = self.control.cancel.reason() {
            return Err(Error::Cancelled { reason });
        }
        if self.control.remaining() == Some(Duration::ZERO) {
            return Err(Error::DeadlineExceeded {
                elapsed: self.started.elapsed(),
            });
        }
        Ok(())
    }

    /// A timeout bounded by the deadline.
    pub fn timeout(&self, timeout: Duration) -> Duration {
        self.control.bound(timeout)
    }

    /// Runs one cluster call, abandoning it when the token fires or the lock is lost.
    pub async fn step<T>(
        &self,
        context: impl FnOnce() -> String,
        fut: BoxFuture<'_, Result<T, ClusterError>>,
    ) -> Result<T> {
        self.check()?;
        let call = async {
            match select(fut, self.control.cancel.cancelled()).await {
                Either::Left((result, _)) => result.map_err(Error::cluster(context())),
                Either::Right((reason, _)) => Err(Error::Cancelled { reason }),
            }
        };
        self.fenced(call).await
    }

    /// The revisions an operation works on ([`HistoryScope::Operation`]: the latest readable
    /// one, the one before it, the deployed ones, the newest superseded one; never every
    /// revision), ascending. Unreadable records are skipped, as Helm skips them, and each is
    /// reported once per operation as a [`Event::Warning`] naming it.
    pub async fn history(&self) -> Result<Vec<StoredRelease>> {
        let history = self
            .store
            .history_in(&self.namespace, &self.name, HistoryScope::Operation)
            .await
            .map_err(Error::store(format!(
                "reading the history of release {:?}",
                self.name
            )))?;
        Ok(self.note(history))
    }

    /// Records what a history read found (reporting unreadable records once) and returns its
    /// readable records.
    fn note(&self, history: History) -> Vec<StoredRelease> {
        if let Some(highest) = history.highest_revision {
            self.seen.highest.fetch_max(highest, Ordering::SeqCst);
        }
        let mut reported = self
            .seen
            .reported
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for skipped in &history.unreadable {
            if reported.insert(skipped.object.clone()) {
                tracing::warn!(
                    release = %self.name,
                    namespace = %self.namespace,
                    object = %skipped.object,
                    "skipped an unreadable release record"
                );
                self.progress.event(Event::Warning {
                    message: format!("skipped an unreadable release record: {skipped}"),
                });
            }
        }
        history.records
    }

    /// The revision a new record takes after `latest` (the latest readable one): above every
    /// revision stored, unreadable ones included, so it never collides with one of them.
    pub fn next_revision(&self, latest: u32) -> u32 {
        latest.max(self.seen.highest.load(Ordering::SeqCst)) + 1
    }

    /// Whether a history read found records it could not read.
    pub fn saw_unreadable(&self) -> bool {
        !self
            .seen
            .reported
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    pub async fn create(&self, release: &Release, max_history: usize) -> Result<StoredRelease> {
        let span = tracing::info_span!(
            "record",
            release = %release.name,
            namespace = %release.namespace,
            revision = release.version,
            status = %release.info.status,
            write = "create",
        );
        // Checked before the write is even built: a store may do its work when called.
        self.fence()?;
        let write = self
            .store
            .create_with_history_limit(release, max_history)
            .instrument(span);
        let version = self
            .fenced(async {
                write.await.map_err(Error::store(format!(
                    "storing release {:?} revision {}",
                    release.name, release.version
                )))
            })
            .await?;
        Ok(StoredRelease {
            release: release.clone(),
            version,
        })
    }

    pub async fn save(&self, record: &mut StoredRelease) -> Result<()> {
        let span = tracing::info_span!(
            "record",
            release = %record.release.name,
            namespace = %record.release.namespace,
            revision = record.release.version,
            status = %record.release.info.status,
            write = "update",
        );
        self.fence()?;
        let write = self
            .store
            .update(&record.release, &record.version)
            .instrument(span);
        let (name, revision) = (&record.release.name, record.release.version);
        record.version = self
            .fenced(async {
                match write.await {
                    // Under the lock, only another client can have written the record: a holder
                    // that took over after this one's lease could have expired, or Helm, which
                    // takes no lock. Either way this operation stops writing.
                    Err(capstan_release::Error::Conflict { .. }) if self.holds_lock() => Err(self
                        .lock_lost(Some(format!(
                            "revision {revision} was changed by another client while this \
                             operation held the lock"
                        )))),
                    result => result.map_err(Error::store(format!(
                        "updating release {name:?} revision {revision}"
                    ))),
                }
            })
            .await?;
        Ok(())
    }

    fn holds_lock(&self) -> bool {
        self.held
            .guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// The records to rewrite when finalising `own`, this operation's revision, provided no
    /// other client wrote since: `own` unchanged since this operation last wrote it, and no
    /// later revision, readable or not. Anything else means the lock was lost (see
    /// [`Ctx::save`]), and nothing more is written.
    ///
    /// The check needs no payload: one metadata-only list of the release's records (their
    /// revisions, statuses and versions). Only the records `rewrite` picks (from their
    /// metadata status, and again from the decoded record) are returned, taken from `known`
    /// (what this operation read under the lock) when their version is unchanged, else read;
    /// as before, a record whose metadata or payload cannot be read is left alone.
    pub async fn records_to_finalise(
        &self,
        own: &StoredRelease,
        known: &[StoredRelease],
        rewrite: impl Fn(u32, Status) -> bool,
    ) -> Result<Vec<StoredRelease>> {
        let listing = self
            .store
            .revisions(&self.namespace, &self.name)
            .await
            .map_err(Error::store(format!(
                "reading the history of release {:?}",
                self.name
            )))?;
        let revision = own.release.version;
        let own_meta = listing.items.iter().find(|m| m.revision == revision);
        let highest = listing
            .items
            .iter()
            .map(|m| m.revision)
            .chain(listing.unreadable.iter().filter_map(|u| u.revision()))
            .max();
        if highest != Some(revision) || own_meta.map(|m| &m.version) != Some(&own.version) {
            return Err(self.lock_lost(Some(format!(
                "revision {revision} was changed, or a later one written, by another client \
                 while this operation held the lock"
            ))));
        }
        let candidates = listing
            .items
            .iter()
            .filter(|m| m.revision != revision && rewrite(m.revision, m.status))
            .map(|m| (m.revision, &m.version));
        let mut records = Vec::new();
        for (r, version) in candidates {
            let known = known
                .iter()
                .find(|k| k.release.version == r && &k.version == version);
            let record = match known {
                Some(record) => record.clone(),
                None => match self.store.get(&self.namespace, &self.name, r).await {
                    Ok(record) => record,
                    // Gone since listed, or unreadable: nothing Helm could read to rewrite.
                    Err(e) if e.is_not_found() || e.is_unreadable_record() => continue,
                    Err(e) => {
                        return Err(Error::store(format!(
                            "reading release {:?} revision {r}",
                            self.name
                        ))(e));
                    }
                },
            };
            if rewrite(record.release.version, record.release.info.status) {
                records.push(record);
            }
        }
        records.sort_by_key(|r| r.release.version);
        Ok(records)
    }

    /// Takes the release's lock and recovers an interrupted pending revision. Returns the guard
    /// and the history as it stands after recovery.
    ///
    /// `pending_is_error`: whether a pending latest revision that cannot be recovered is an
    /// error (install/upgrade/rollback) or is left for the operation to handle (uninstall).
    pub async fn lock(&self, pending_is_error: bool) -> Result<Locked> {
        self.phase(Phase::Locking, None);
        let span = tracing::info_span!(
            "lock",
            release = %self.name,
            namespace = %self.namespace,
            took_over = tracing::field::Empty,
        );
        let lock = self
            .step(
                || format!("locking release {:?}", self.name),
                self.cluster.lock(LockRequest {
                    namespace: &self.namespace,
                    name: &self.name,
                    holder: &self.control.holder,
                    wait: self.control.lock_wait,
                }),
            )
            .instrument(span.clone())
            .await
            .map_err(|e| match e {
                Error::Cluster { source, context } => match *source {
                    ClusterError::LockHeld(held) => {
                        let LockHolder {
                            namespace,
                            name,
                            holder,
                            since,
                            until,
                        } = *held;
                        Error::Locked {
                            namespace,
                            name,
                            holder,
                            since,
                            until,
                        }
                    }
                    source => Error::Cluster {
                        context,
                        source: Box::new(source),
                    },
                },
                e => e,
            })?;
        span.record("took_over", lock.took_over.is_some());
        *self
            .held
            .lost
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(lock.guard.lost());
        *self
            .held
            .guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(lock.guard);
        match self
            .recover(lock.took_over.as_ref(), pending_is_error)
            .await
        {
            Ok(history) => Ok(Locked { history }),
            Err(e) => {
                self.unlock(Locked {
                    history: Vec::new(),
                })
                .await;
                Err(e)
            }
        }
    }

    async fn recover(
        &self,
        stale: Option<&StaleLease>,
        pending_is_error: bool,
    ) -> Result<Vec<StoredRelease>> {
        let mut history = self.history().await?;
        let Some(latest) = history.last_mut() else {
            return Ok(history);
        };
        if !latest.release.info.status.is_pending() {
            return Ok(history);
        }
        let description = match (stale, self.control.recover) {
            (_, RecoverPolicy::Never) | (None, RecoverPolicy::IfLeaseExpired) => {
                if pending_is_error {
                    return Err(Error::InProgress {
                        name: self.name.clone(),
                        revision: latest.release.version,
                    });
                }
                return Ok(history);
            }
            (Some(stale), _) => format!(
                "interrupted: the operation holding the lock stopped (lease expired at {})",
                stale.expired_at
            ),
            (None, RecoverPolicy::Always) => format!(
                "interrupted: recovered by {} (no operation held the lock)",
                self.control.holder
            ),
        };
        self.phase(Phase::Recovering, Some(latest.release.version));
        tracing::info!(
            release = %self.name,
            namespace = %self.namespace,
            revision = latest.release.version,
            "recovering an interrupted revision"
        );
        latest
            .release
            .set_status(capstan_release::Status::Failed, description.clone());
        self.save(latest).await?;
        self.progress.event(Event::Recovered {
            revision: latest.release.version,
            description,
        });
        Ok(history)
    }

    /// Releases the lock (errors are not the operation's: the lease expires anyway).
    pub async fn unlock(&self, _locked: Locked) {
        let guard = self
            .held
            .guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(guard) = guard {
            let _ = guard.release().await;
        }
    }

    /// Runs a release's hooks for one event, by weight then name, one at a time, recording each
    /// run in the hook's `last_run`. A failing hook stops the run and fails with
    /// [`Error::HookFailed`]; `prefix` is the operation's wording (`pre-upgrade hooks failed: `).
    pub async fn run_hooks(
        &self,
        release: &mut Release,
        event: HookEvent,
        timeout: Duration,
        prefix: &str,
    ) -> Result<()> {
        let mut order: Vec<usize> = (0..release.hooks.len())
            .filter(|i| release.hooks[*i].events.contains(&event))
            .collect();
        if order.is_empty() {
            return Ok(());
        }
        order.sort_by(|a, b| {
            let (a, b) = (&release.hooks[*a], &release.hooks[*b]);
            a.weight.cmp(&b.weight).then_with(|| a.name.cmp(&b.name))
        });
        for i in order {
            let hook = release.hooks[i].clone();
            let outcome = self.run_hook(release, &hook, &event, timeout).await;
            let fail = |source: Box<ClusterError>| Error::HookFailed {
                prefix: prefix.to_owned(),
                event: event.to_string(),
                path: hook.path.clone(),
                hook: hook.name.clone(),
                source,
            };
            match outcome {
                Ok(outcome) => {
                    let last_run = &mut release.hooks[i].last_run;
                    last_run.started_at = Some(outcome.started_at);
                    last_run.completed_at = Some(outcome.completed_at);
                    last_run.phase = Some(outcome.phase.clone());
                    self.progress.event(Event::HookFinished {
                        name: hook.name.clone(),
                        event: event.clone(),
                        phase: outcome.phase.clone(),
                        message: outcome.message.clone(),
                    });
                    if outcome.phase != HookPhase::Succeeded {
                        let message = outcome.message.unwrap_or_else(|| "failed".into());
                        return Err(fail(Box::new(ClusterError::other(format!(
                            "{} {} failed: {message}",
                            hook.kind.to_lowercase(),
                            hook.name
                        )))));
                    }
                }
                Err(Error::Cluster { source, .. }) => {
                    release.hooks[i].last_run.phase = Some(HookPhase::Failed);
                    self.progress.event(Event::HookFinished {
                        name: hook.name.clone(),
                        event: event.clone(),
                        phase: HookPhase::Failed,
                        message: Some(source.to_string()),
                    });
                    return Err(fail(source));
                }
                Err(e) => {
                    release.hooks[i].last_run.phase = Some(HookPhase::Failed);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    async fn run_hook(
        &self,
        release: &mut Release,
        hook: &Hook,
        event: &HookEvent,
        timeout: Duration,
    ) -> Result<crate::cluster::HookOutcome> {
        let resource = split_manifest(&hook.manifest)
            .map_err(|e| match e {
                Error::Manifest { reason, .. } => Error::Manifest {
                    source_path: hook.path.clone(),
                    reason,
                },
                e => e,
            })?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Manifest {
                source_path: hook.path.clone(),
                reason: "hook manifest is empty".into(),
            })?;
        let policies = if hook.delete_policies.is_empty() {
            vec![HookDeletePolicy::BeforeHookCreation]
        } else {
            hook.delete_policies.clone()
        };
        self.progress.event(Event::HookStarted {
            name: hook.name.clone(),
            kind: hook.kind.clone(),
            event: event.clone(),
            weight: hook.weight,
        });
        if let Some(h) = release.hooks.iter_mut().find(|h| h.name == hook.name) {
            h.last_run.started_at = Some(GoTime::now());
            h.last_run.completed_at = None;
            h.last_run.phase = Some(HookPhase::Running);
        }
        let span = tracing::info_span!(
            "hook",
            release = %self.name,
            namespace = %self.namespace,
            revision = release.version,
            hook = %hook.name,
            kind = %hook.kind,
            event = %event,
            weight = hook.weight,
            phase = tracing::field::Empty,
        );
        let outcome = self
            .step(
                || format!("running hook {}", hook.name),
                self.cluster.run_hook(
                    HookRequest {
                        release: &self.name,
                        namespace: &self.namespace,
                        event,
                        hook,
                        resource: &resource,
                        delete_policies: &policies,
                        timeout: self.timeout(timeout),
                    },
                    self.progress,
                ),
            )
            .instrument(span.clone())
            .await;
        if let Ok(outcome) = &outcome {
            span.record("phase", tracing::field::debug(&outcome.phase));
        }
        outcome
    }
}

/// Proof that the lock is held (the guard lives in the [`Ctx`]), with the history read under
/// it.
pub(crate) struct Locked {
    pub history: Vec<StoredRelease>,
}
