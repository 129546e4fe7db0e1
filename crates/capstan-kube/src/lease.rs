//! Per-release locks on `coordination.k8s.io/v1` Leases, fenced by a local deadline.
//!
//! A release's lock is the Lease `capstan.release.<name>` in the release namespace. Its holder
//! identity is the operation's holder string; it is taken with a create (the API server's
//! "already exists" decides races) or, when free or expired, an update carrying the
//! `resourceVersion` read (a conflict means someone else moved first: read again). A lease is
//! free when it has no holder and expired when `renewTime + leaseDurationSeconds` has passed;
//! taking over an expired lease reports a [`StaleLease`] so the operation recovers the revision
//! its holder left pending.
//!
//! While the guard lives a background task renews the lease every third of its duration, each
//! renewal an update with the last `resourceVersion` as precondition (so a renewal never lands
//! over a successor's takeover). **Fencing**: other clients consider the lease expired at
//! `renewTime + duration`, where `renewTime` is stamped before the renewal is sent; so the
//! holder counts its own deadline from the moment it sent the last renewal that was
//! acknowledged, minus a margin of a fifth of the duration, and once that local deadline passes
//! (renewals hung or failed meanwhile) or another holder is seen, the guard reports the lock lost
//! ([`LockGuard::is_lost`], [`LockGuard::lost`] fires) for good and stops renewing. The
//! operation writes nothing after that (capstan-ops checks before and races every write).
//!
//! [`LockGuard::release`] deletes the lease (with the last `resourceVersion` as precondition, so
//! a successor's lease is never deleted); dropping the guard only stops renewing, leaving the
//! lease to expire. Every call is retried through transient API errors ([`crate::retry`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use capstan_ops::{Cancel, ClusterError, Lock, LockGuard, LockHolder, LockRequest, StaleLease};
use capstan_release::BoxFuture;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::{Api, Client};

use crate::cluster::{go_time, kube_error};
use crate::retry::{jitter, retrying};

/// The prefix of every release's Lease name: `capstan.release.<name>`.
pub const LEASE_PREFIX: &str = "capstan.release.";

/// The default lease duration.
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);

/// The Lease name of a release.
pub fn lease_name(release: &str) -> String {
    format!("{LEASE_PREFIX}{release}")
}

/// How long before others could see the lease expired the holder stops trusting it.
fn margin(duration: Duration) -> Duration {
    duration / 5
}

/// Takes the lock `request` names, waiting for a live holder as the request allows.
pub(crate) async fn lock(
    client: &Client,
    duration: Duration,
    request: LockRequest<'_>,
) -> Result<Lock, ClusterError> {
    let api: Api<Lease> = Api::namespaced(client.clone(), request.namespace);
    let name = lease_name(request.name);
    let deadline = request.wait.map(|w| Instant::now() + w);
    let mut pause = Duration::from_millis(100);
    loop {
        match try_lock(&api, &name, duration, &request).await? {
            Attempt::Taken(lock) => return Ok(lock),
            Attempt::Raced => continue,
            Attempt::Held(holder) => {
                let now = Instant::now();
                let Some(deadline) = deadline.filter(|d| *d > now) else {
                    return Err(ClusterError::LockHeld(holder));
                };
                // Poll with a short, jittered backoff, but never past the deadline nor much
                // past the moment the lease would expire.
                let until_expiry = holder
                    .until
                    .timestamp()
                    .duration_since(Timestamp::now())
                    .try_into()
                    .unwrap_or(Duration::ZERO)
                    + Duration::from_millis(50);
                let sleep = pause.min(until_expiry).min(deadline - now) + jitter(pause / 4);
                tokio::time::sleep(sleep).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

enum Attempt {
    Taken(Lock),
    Held(Box<LockHolder>),
    Raced,
}

async fn try_lock(
    api: &Api<Lease>,
    name: &str,
    duration: Duration,
    request: &LockRequest<'_>,
) -> Result<Attempt, ClusterError> {
    let error = |op: &str, e| kube_error(format!("{op} lease {}/{name}", request.namespace), e);
    let sent = Instant::now();
    let now = Timestamp::now();
    let spec = |transitions: i32| LeaseSpec {
        holder_identity: Some(request.holder.to_owned()),
        lease_duration_seconds: Some(duration.as_secs().try_into().unwrap_or(i32::MAX)),
        acquire_time: Some(MicroTime(now)),
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    };
    let post = PostParams::default();
    // Created first, as a release's lease is usually absent (its last holder deleted it): one
    // round trip. When it exists ("already exists"), it is read and taken over, renewed or
    // reported held. A create whose answer was lost and that is retried meets "already
    // exists" too: the lease read is then ours (same holder), and renewed.
    let fresh = Lease {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(request.namespace.to_owned()),
            labels: Some(
                [
                    ("app.kubernetes.io/managed-by".into(), "capstan".into()),
                    ("capstan.dev/release".into(), request.name.to_owned()),
                ]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(spec(0)),
    };
    /// What the create found.
    enum Found {
        Created(Lease),
        Existing(Lease),
    }
    let found = match retrying("create lease", || api.create(&post, &fresh)).await {
        Ok(created) => Found::Created(created),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            match retrying("get lease", || api.get_opt(name))
                .await
                .map_err(|e| error("get", e))?
            {
                Some(lease) => Found::Existing(lease),
                // Deleted since: try again.
                None => return Ok(Attempt::Raced),
            }
        }
        Err(e) => return Err(error("create", e)),
    };
    let (written, took_over) = match found {
        Found::Created(created) => (created, None),
        Found::Existing(mut lease) => {
            let current = lease.spec.clone().unwrap_or_default();
            let holder = current.holder_identity.clone().unwrap_or_default();
            let until = lease_until(&current);
            let expired = until.is_none_or(|u| u <= now);
            let took_over = if holder.is_empty() || holder == request.holder {
                None
            } else if expired {
                Some(StaleLease {
                    holder: holder.clone(),
                    since: go_time(current.acquire_time.as_ref().map_or(now, |t| t.0)),
                    expired_at: go_time(until.unwrap_or(now)),
                })
            } else {
                return Ok(Attempt::Held(Box::new(LockHolder {
                    namespace: request.namespace.to_owned(),
                    name: request.name.to_owned(),
                    holder,
                    since: go_time(current.acquire_time.as_ref().map_or(now, |t| t.0)),
                    until: go_time(until.unwrap_or(now)),
                })));
            };
            let transitions = current.lease_transitions.unwrap_or(0)
                + i32::from(!holder.is_empty() && holder != request.holder);
            lease.spec = Some(spec(transitions));
            // `replace` carries the resourceVersion read: a conflict means we lost a race.
            match retrying("update lease", || api.replace(name, &post, &lease)).await {
                Ok(l) => (l, took_over),
                Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {
                    return Ok(Attempt::Raced);
                }
                Err(e) => return Err(error("update", e)),
            }
        }
    };
    tracing::debug!(
        namespace = request.namespace,
        release = request.name,
        holder = request.holder,
        took_over = took_over.is_some(),
        "lock taken"
    );
    let shared = Arc::new(Shared {
        lease: Mutex::new(written),
        valid_until: Mutex::new(sent + duration.saturating_sub(margin(duration))),
        lost: Cancel::new(),
    });
    let keeper = tokio::spawn(keep(
        api.clone(),
        shared.clone(),
        request.holder.to_owned(),
        duration,
    ));
    Ok(Attempt::Taken(Lock {
        guard: Box::new(KubeLockGuard {
            api: api.clone(),
            holder: request.holder.to_owned(),
            shared,
            keeper: Some(keeper),
        }),
        took_over,
    }))
}

/// When a lease expires unless renewed.
fn lease_until(spec: &LeaseSpec) -> Option<Timestamp> {
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let seconds = spec.lease_duration_seconds.unwrap_or(0);
    renewed
        .checked_add(SignedDuration::from_secs(i64::from(seconds)))
        .ok()
}

fn holder_of(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref()?.holder_identity.as_deref()
}

/// What the guard and its keeper task share.
struct Shared {
    /// The lease as last written by us (its resourceVersion is the next precondition).
    lease: Mutex<Lease>,
    /// The local deadline: until then no other client can have seen the lease expired.
    valid_until: Mutex<Instant>,
    /// Fires, for good, when the lock may no longer be ours.
    lost: Cancel,
}

impl Shared {
    fn lease(&self) -> Lease {
        self.lease
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn valid_until(&self) -> Instant {
        *self
            .valid_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records an acknowledged renewal that was sent at `sent`.
    fn renewed(&self, written: Lease, sent: Instant, duration: Duration) {
        *self.lease.lock().unwrap_or_else(PoisonError::into_inner) = written;
        let until = sent + duration.saturating_sub(margin(duration));
        let mut valid = self
            .valid_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *valid = (*valid).max(until);
    }

    fn is_lost(&self) -> bool {
        self.lost.is_cancelled() || Instant::now() >= self.valid_until()
    }
}

/// Keeps the lock until aborted: renews it, and declares it lost when the local deadline
/// passes without an acknowledged renewal or someone else is seen holding it.
async fn keep(api: Api<Lease>, shared: Arc<Shared>, holder: String, duration: Duration) {
    let name = shared.lease().metadata.name.clone().unwrap_or_default();
    let watchdog = async {
        loop {
            let until = shared.valid_until();
            if Instant::now() >= until {
                return format!(
                    "its lease was not renewed in time (the last renewal acknowledged was sent \
                     more than {}s ago)",
                    duration.saturating_sub(margin(duration)).as_secs()
                );
            }
            tokio::time::sleep_until(until.into()).await;
        }
    };
    let renewals = renew(&api, &shared, &holder, &name, duration);
    let reason = tokio::select! {
        reason = watchdog => reason,
        reason = renewals => reason,
    };
    tracing::warn!(lease = %name, holder, reason, "lock lost");
    shared.lost.cancel(reason);
}

/// Renews the lease every third of its duration (every half second after a failure); returns
/// why the lock is lost when someone else holds it.
async fn renew(
    api: &Api<Lease>,
    shared: &Shared,
    holder: &str,
    name: &str,
    duration: Duration,
) -> String {
    let interval = duration / 3;
    let mut pause = interval;
    loop {
        tokio::time::sleep(pause).await;
        pause = Duration::from_millis(500).min(interval);
        let mut lease = shared.lease();
        if let Some(spec) = lease.spec.as_mut() {
            spec.renew_time = Some(MicroTime(Timestamp::now()));
        }
        let sent = Instant::now();
        match api.replace(name, &PostParams::default(), &lease).await {
            Ok(written) => {
                shared.renewed(written, sent, duration);
                pause = interval;
            }
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {
                // Someone wrote the lease: it is ours only if the holder is still us (a renewal
                // of ours whose answer was lost); it is not renewed by that, so try at once.
                match api.get_opt(name).await {
                    Ok(Some(current)) if holder_of(&current) == Some(holder) => {
                        *shared.lease.lock().unwrap_or_else(PoisonError::into_inner) = current;
                        pause = Duration::ZERO;
                    }
                    Ok(_) => return "its lease was taken by another holder".into(),
                    Err(e) => tracing::debug!(lease = %name, error = %e, "reading lease failed"),
                }
            }
            Err(e) => tracing::debug!(lease = %name, error = %e, "renewing lease failed"),
        }
    }
}

/// The guard of a lease taken by [`lock`].
struct KubeLockGuard {
    api: Api<Lease>,
    holder: String,
    shared: Arc<Shared>,
    keeper: Option<tokio::task::JoinHandle<()>>,
}

impl LockGuard for KubeLockGuard {
    fn holder(&self) -> &str {
        &self.holder
    }

    fn is_lost(&self) -> bool {
        self.shared.is_lost()
    }

    fn lost(&self) -> Cancel {
        self.shared.lost.clone()
    }

    fn release(mut self: Box<Self>) -> BoxFuture<'static, Result<(), ClusterError>> {
        let keeper = self.keeper.take();
        let holder = self.holder.clone();
        let api = self.api.clone();
        let shared = self.shared.clone();
        Box::pin(async move {
            if let Some(keeper) = keeper {
                keeper.abort();
                let _ = keeper.await;
            }
            if shared.lost.is_cancelled() {
                return Ok(());
            }
            let mut lease = shared.lease();
            let name = lease.metadata.name.clone().unwrap_or_default();
            // A renewal cut short by the abort may have landed without our knowing its
            // resourceVersion: on a conflict, read again and delete only while it is ours.
            for _ in 0..3 {
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        resource_version: lease.metadata.resource_version.clone(),
                        uid: lease.metadata.uid.clone(),
                    }),
                    ..DeleteParams::default()
                };
                match retrying("delete lease", || api.delete(&name, &params)).await {
                    Ok(_) => return Ok(()),
                    Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
                    Err(kube::Error::Api(s)) if s.code == 409 => {}
                    Err(e) => return Err(kube_error(format!("delete lease {name}"), e)),
                }
                lease = match retrying("get lease", || api.get_opt(&name)).await {
                    Ok(Some(current)) if holder_of(&current) == Some(holder.as_str()) => current,
                    // Gone, or already someone else's: nothing of ours to release.
                    Ok(_) => return Ok(()),
                    Err(e) => return Err(kube_error(format!("get lease {name}"), e)),
                };
            }
            Err(ClusterError::other(format!(
                "releasing lease {name}: it kept changing under us"
            )))
        })
    }
}

impl Drop for KubeLockGuard {
    /// Abandoned without release: stop renewing and leave the lease to expire.
    fn drop(&mut self) {
        if let Some(keeper) = self.keeper.take() {
            keeper.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_expiry_is_renewal_plus_duration() {
        let renewed: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let spec = LeaseSpec {
            renew_time: Some(MicroTime(renewed)),
            lease_duration_seconds: Some(15),
            ..LeaseSpec::default()
        };
        assert_eq!(
            lease_until(&spec).unwrap(),
            "2026-01-01T00:00:15Z".parse::<Timestamp>().unwrap()
        );
    }

    fn shared(valid_for: Duration) -> Shared {
        Shared {
            lease: Mutex::new(Lease::default()),
            valid_until: Mutex::new(Instant::now() + valid_for),
            lost: Cancel::new(),
        }
    }

    #[test]
    fn the_lock_is_lost_once_its_local_deadline_passes() {
        assert!(!shared(Duration::from_secs(60)).is_lost());
        assert!(shared(Duration::ZERO).is_lost());
    }

    #[test]
    fn a_renewal_counts_from_when_it_was_sent_and_never_moves_the_deadline_back() {
        let duration = Duration::from_secs(15);
        let shared = shared(Duration::from_secs(1));
        let sent = Instant::now();
        shared.renewed(Lease::default(), sent, duration);
        assert_eq!(shared.valid_until(), sent + Duration::from_secs(12));
        // A late acknowledgement of an older renewal does not shorten it.
        shared.renewed(Lease::default(), sent - Duration::from_secs(5), duration);
        assert_eq!(shared.valid_until(), sent + Duration::from_secs(12));
    }
}
