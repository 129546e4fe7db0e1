//! Sharing a release with a client that takes no lock (Helm): waiting out its pending revision
//! with `--wait-for-lock`, and losing the revision create race to it.
//!
//! capstan's Lease keeps capstan clients apart, but Helm reads the history and creates revision
//! N without it. So a capstan operation can find Helm's revision pending when it takes the
//! lock, or lose the create of revision N to Helm (`AlreadyExists`). With a lock wait
//! (`--wait-for-lock`) both are waited out like a held lock: the history is re-read until
//! Helm's revision has left `pending-*` (within the wait), and the operation takes the next
//! revision from what Helm wrote. Without one, the operation fails at once, saying so.

use std::future::Future;
use std::time::{Duration, Instant};

use capstan_release::{Release, StoredRelease};
use futures::future::{Either, select};

use crate::error::{Error, Result};
use crate::progress::Event;
use crate::session::{Ctx, Locked};

/// How often the history is re-read while another client's revision is pending.
const POLL: Duration = Duration::from_millis(250);

/// Revisions lost to other clients before an operation gives up (each loss means another
/// client wrote a newer revision meanwhile).
pub(crate) const MAX_CREATE_ATTEMPTS: u32 = 5;

/// What [`create`] did.
pub(crate) enum Created {
    /// The record was created.
    Record(Box<StoredRelease>),
    /// Another client created that revision first; this is the history after its operation
    /// ended: build the revision again on top of it.
    Retry(Vec<StoredRelease>),
}

/// [`Ctx::lock`], waiting (with a lock wait) while the latest revision is pending without a
/// lease, i.e. while a client that takes no lock is working on the release. Without a lock
/// wait, or once it is spent, the pending revision is [`Error::InProgress`].
pub(crate) async fn lock(ctx: &Ctx<'_>, pending_is_error: bool) -> Result<Locked> {
    let Some(wait) = ctx.control.lock_wait else {
        return ctx.lock(pending_is_error).await;
    };
    let until = Instant::now() + wait;
    let mut reported = false;
    loop {
        match ctx.lock(pending_is_error).await {
            Err(Error::InProgress { name, revision }) if Instant::now() < until => {
                if !reported {
                    reported = true;
                    ctx.progress.event(Event::Warning {
                        message: format!(
                            "revision {revision} of release {name:?} is pending and no capstan operation holds the lock (Helm?): waiting for it to end"
                        ),
                    });
                }
                pause(ctx, POLL).await?;
            }
            other => return other,
        }
    }
}

/// Creates `release` (pruning to `max_history`). When another client created that revision
/// first: without a lock wait, or after [`MAX_CREATE_ATTEMPTS`] losses, fails with
/// [`Error::RevisionTaken`]; with one, waits (within it) until the other client's revision has
/// left `pending-*` and returns the history to build on.
pub(crate) async fn create(
    ctx: &Ctx<'_>,
    release: &Release,
    max_history: usize,
    attempts: &mut u32,
) -> Result<Created> {
    let taken = match ctx.create(release, max_history).await {
        Ok(record) => return Ok(Created::Record(Box::new(record))),
        Err(Error::Store { source, .. }) if source.is_already_exists() => Error::RevisionTaken {
            name: release.name.clone(),
            revision: release.version,
        },
        Err(e) => return Err(e),
    };
    *attempts += 1;
    let Some(wait) = ctx.control.lock_wait else {
        return Err(taken);
    };
    if *attempts >= MAX_CREATE_ATTEMPTS {
        return Err(taken);
    }
    tracing::info!(
        release = %release.name,
        namespace = %release.namespace,
        revision = release.version,
        "another client created this revision first: retrying on top of it"
    );
    ctx.progress.event(Event::Warning {
        message: format!(
            "another client (Helm?) wrote revision {} of release {:?} first: taking the next revision once it is done",
            release.version, release.name
        ),
    });
    let until = Instant::now() + wait;
    loop {
        ctx.check()?;
        let history = ctx.history().await?;
        let pending = history
            .last()
            .is_some_and(|r| r.release.info.status.is_pending());
        if !pending {
            return Ok(Created::Retry(history));
        }
        if Instant::now() >= until {
            let latest = history
                .last()
                .map_or(release.version, |r| r.release.version);
            return Err(Error::InProgress {
                name: release.name.clone(),
                revision: latest,
            });
        }
        pause(ctx, POLL).await?;
    }
}

/// Waits `duration`, or until the operation is cancelled.
async fn pause(ctx: &Ctx<'_>, duration: Duration) -> Result<()> {
    let duration = ctx.timeout(duration);
    match select(
        std::pin::pin!(delay(duration)),
        ctx.control.cancel.cancelled(),
    )
    .await
    {
        Either::Left(((), _)) => ctx.check(),
        Either::Right((reason, _)) => Err(Error::Cancelled { reason }),
    }
}

/// A timer that needs no async runtime (this crate has none): a thread sleeps, then completes
/// the future. Used only while waiting for another client, a few times a second at most.
fn delay(duration: Duration) -> impl Future<Output = ()> {
    let (done, wait) = futures::channel::oneshot::channel::<()>();
    std::thread::spawn(move || {
        std::thread::sleep(duration);
        let _ = done.send(());
    });
    async move {
        let _ = wait.await;
    }
}
