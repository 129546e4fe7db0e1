//! How an operation is controlled from outside: [`Control`] (lock holder identity, lock wait,
//! recovery policy, deadline) and [`Cancel`], a runtime-independent cancellation token.
//!
//! Cancellation is cooperative and always finalised: when the token fires or the deadline
//! passes, the step in flight is abandoned (its cluster future dropped), and the operation then
//! runs its finalisation without the token (the revision is marked `failed`, and an atomic
//! operation rolls back or uninstalls), so the record is never left `pending-*`. If the whole
//! operation future is dropped instead (no chance to finalise), its lock guard is dropped
//! without being released: the lease is left to expire, and the next operation on the release
//! recovers the pending revision ([`crate::session`]). A server should therefore run
//! operations as spawned tasks and translate a client going away into [`Cancel::cancel`].

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A cancellation token: clone it, hand a clone to the operation, call [`cancel`](Self::cancel).
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    inner: Arc<CancelInner>,
}

#[derive(Debug, Default)]
struct CancelInner {
    cancelled: AtomicBool,
    reason: Mutex<Option<String>>,
    wakers: Mutex<Vec<Waker>>,
}

impl Cancel {
    /// A token that has not fired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires the token with a reason (`client went away`, `shutting down`). The first reason
    /// wins; later calls do nothing.
    pub fn cancel(&self, reason: impl Into<String>) {
        {
            let mut slot = self
                .inner
                .reason
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if slot.is_some() {
                return;
            }
            *slot = Some(reason.into());
        }
        self.inner.cancelled.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(
            &mut *self
                .inner
                .wakers
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for w in wakers {
            w.wake();
        }
    }

    /// Whether it has fired.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// The reason it fired with, if it has.
    pub fn reason(&self) -> Option<String> {
        self.inner
            .reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A future that completes, with the reason, when the token fires.
    pub fn cancelled(&self) -> Cancelled {
        Cancelled {
            token: self.clone(),
        }
    }
}

/// The future [`Cancel::cancelled`] returns.
#[derive(Debug)]
pub struct Cancelled {
    token: Cancel,
}

impl Future for Cancelled {
    type Output = String;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<String> {
        if let Some(r) = self.token.reason() {
            return Poll::Ready(r);
        }
        {
            let mut wakers = self
                .token
                .inner
                .wakers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                wakers.push(cx.waker().clone());
            }
        }
        match self.token.reason() {
            Some(r) => Poll::Ready(r),
            None => Poll::Pending,
        }
    }
}

/// What to do when the latest revision is `pending-*` on entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecoverPolicy {
    /// Recover (mark it failed and proceed) only when the lock we took had expired under
    /// another holder: proof that the operation that wrote it stopped. Otherwise fail with
    /// Helm's "another operation (install/upgrade/rollback) is in progress" (the writer may be
    /// Helm itself, which takes no lock).
    #[default]
    IfLeaseExpired,
    /// The caller has established that nothing is running (e.g. `--recover`): always recover.
    Always,
    /// Never recover: always Helm's error.
    Never,
}

/// Identity, locking and limits shared by every mutating operation.
#[derive(Clone, Debug)]
pub struct Control {
    /// Who holds the lock while this operation runs (applier instance + operation id).
    pub holder: String,
    /// How long to wait for a held lock (`--wait-for-lock`); `None` fails at once.
    pub lock_wait: Option<Duration>,
    /// Recovery of a pending latest revision.
    pub recover: RecoverPolicy,
    /// A hard deadline for the whole operation (the client's gRPC deadline). Checked between
    /// steps and bounding every wait; fire [`Control::cancel`] for an immediate stop.
    pub deadline: Option<Instant>,
    /// The cancellation token.
    pub cancel: Cancel,
}

impl Default for Control {
    fn default() -> Self {
        Control {
            holder: "capstan".into(),
            lock_wait: None,
            recover: RecoverPolicy::default(),
            deadline: None,
            cancel: Cancel::new(),
        }
    }
}

impl Control {
    /// A control block with a holder identity.
    pub fn with_holder(holder: impl Into<String>) -> Self {
        Control {
            holder: holder.into(),
            ..Control::default()
        }
    }

    /// Time left before the deadline (`None`: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// `timeout` bounded by the time left before the deadline.
    pub fn bound(&self, timeout: Duration) -> Duration {
        self.remaining().map_or(timeout, |r| r.min(timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn cancel_fires_once_and_wakes() {
        let token = Cancel::new();
        let mut fut = token.cancelled();
        assert!((&mut fut).now_or_never().is_none());
        token.cancel("client went away");
        token.cancel("later");
        assert!(token.is_cancelled());
        assert_eq!(fut.now_or_never().as_deref(), Some("client went away"));
    }

    #[test]
    fn bound_by_deadline() {
        let mut c = Control::default();
        assert_eq!(c.bound(Duration::from_secs(5)), Duration::from_secs(5));
        c.deadline = Some(Instant::now());
        assert_eq!(c.bound(Duration::from_secs(5)), Duration::ZERO);
    }
}
