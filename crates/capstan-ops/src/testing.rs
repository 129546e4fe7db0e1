//! Test fakes for the `testing` feature: [`FakeCluster`], a deterministic in-memory [`Cluster`]
//! that records every call, keeps live objects, and fails on demand per object, hook, wait or lock.
//!
//! For this crate's tests and doc examples and for any service's tests that need a cluster but not
//! Kubernetes (`dev-dependencies`: `capstan-ops = { workspace = true, features = ["testing"] }`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::{
    ApplyMode, ApplyRequest, Cluster, ClusterError, DeleteRequest, DryRun, HookOutcome,
    HookRequest, Lock, LockGuard, LockHolder, LockRequest, ObjectAction, ObjectReport,
    ObjectResult, ObjectStatus, Progress, Resource, StaleLease, WaitRequest,
};
use capstan_release::{BoxFuture, GoTime, HookPhase};
use serde_json::Value;

/// A fixed instant (RFC 3339), so descriptions are deterministic.
///
/// # Panics
/// When `s` is not a valid time.
pub fn t(s: &str) -> GoTime {
    s.parse().unwrap()
}

/// A lease as the fake stores it.
#[derive(Clone, Debug)]
pub struct Lease {
    /// Who holds it.
    pub holder: String,
    /// When it was taken.
    pub since: GoTime,
    /// When it expires unless renewed.
    pub until: GoTime,
    /// Whether its holder is alive (false: expired).
    pub live: bool,
}

/// What the fake knows and what it has been told to do.
#[derive(Debug, Default)]
pub struct State {
    /// Every call, as text.
    pub calls: Vec<String>,
    /// Live objects by `namespace/kind/name`.
    pub live: BTreeMap<String, Value>,
    /// Namespaces that exist.
    pub namespaces: BTreeSet<String>,
    /// Objects (`kind/name`) whose apply fails.
    pub fail_apply: BTreeSet<String>,
    /// Objects (`kind/name`) that never get ready, with why.
    pub not_ready: BTreeMap<String, String>,
    /// Hooks (by name) that fail, with why.
    pub fail_hooks: BTreeMap<String, String>,
    /// Whether `wait` never completes.
    pub hang_wait: bool,
    /// Leases by `namespace/name`.
    pub leases: BTreeMap<String, Lease>,
    /// Whether held locks report that renewal failed.
    pub lose_locks: bool,
    /// Whether `apply` yields to the executor once before completing (to interleave
    /// concurrent operations).
    pub yield_in_apply: bool,
}

/// Returns `Pending` once (waking itself), then `Ready`.
pub async fn yield_now() {
    let mut yielded = false;
    futures::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

/// The fake cluster.
#[derive(Clone, Debug, Default)]
pub struct FakeCluster {
    state: Arc<Mutex<State>>,
}

fn key(r: &Resource, namespace: &str) -> String {
    format!(
        "{}/{}",
        r.object.namespace.as_deref().unwrap_or(namespace),
        r.object
    )
}

fn names(objects: &[Resource]) -> String {
    objects
        .iter()
        .map(|o| o.object.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl FakeCluster {
    /// A cluster with no objects, namespaces or leases, where everything succeeds.
    pub fn new() -> Self {
        Self::default()
    }

    /// What the fake knows and has been told to do, to read or change.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every call so far, as text.
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// Forgets the calls so far.
    pub fn clear_calls(&self) {
        self.state().calls.clear();
    }

    /// Live object keys (`namespace/kind/name`).
    pub fn live(&self) -> Vec<String> {
        self.state().live.keys().cloned().collect()
    }

    /// The live object at `key` (`namespace/kind/name`).
    pub fn live_object(&self, key: &str) -> Option<Value> {
        self.state().live.get(key).cloned()
    }
}

struct Guard {
    state: Arc<Mutex<State>>,
    key: String,
    holder: String,
    released: bool,
}

impl LockGuard for Guard {
    fn holder(&self) -> &str {
        &self.holder
    }

    fn is_lost(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .lose_locks
    }

    fn release(mut self: Box<Self>) -> BoxFuture<'static, Result<(), ClusterError>> {
        self.released = true;
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.leases.remove(&self.key);
        s.calls.push(format!("unlock {}", self.key));
        Box::pin(async { Ok(()) })
    }
}

impl Drop for Guard {
    /// Abandoned (dropped without release): the holder stops renewing; the lease expires.
    fn drop(&mut self) {
        if !self.released {
            let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(l) = s.leases.get_mut(&self.key) {
                l.live = false;
            }
            s.calls.push(format!("abandon {}", self.key));
        }
    }
}

impl FakeCluster {
    fn try_lock(&self, req: &LockRequest<'_>) -> Result<Lock, ClusterError> {
        let mut s = self.state();
        let k = format!("{}/{}", req.namespace, req.name);
        let mut took_over = None;
        if let Some(l) = s.leases.get(&k) {
            if l.live {
                return Err(ClusterError::LockHeld(Box::new(LockHolder {
                    namespace: req.namespace.into(),
                    name: req.name.into(),
                    holder: l.holder.clone(),
                    since: l.since,
                    until: l.until,
                })));
            }
            took_over = Some(StaleLease {
                holder: l.holder.clone(),
                since: l.since,
                expired_at: l.until,
            });
        }
        s.calls.push(format!("lock {k} by {}", req.holder));
        s.leases.insert(
            k.clone(),
            Lease {
                holder: req.holder.into(),
                since: t("2026-01-01T00:00:00Z"),
                until: t("2026-01-01T00:00:15Z"),
                live: true,
            },
        );
        Ok(Lock {
            guard: Box::new(Guard {
                state: self.state.clone(),
                key: k,
                holder: req.holder.into(),
                released: false,
            }),
            took_over,
        })
    }
}

impl Cluster for FakeCluster {
    fn create_namespace<'a>(
        &'a self,
        namespace: &'a str,
        dry_run: bool,
    ) -> BoxFuture<'a, Result<bool, ClusterError>> {
        Box::pin(async move {
            let mut s = self.state();
            s.calls
                .push(format!("create-namespace {namespace} dry-run={dry_run}"));
            Ok(!dry_run && s.namespaces.insert(namespace.to_owned()))
        })
    }

    fn apply<'a>(
        &'a self,
        req: ApplyRequest<'a>,
        _progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<ObjectReport, ClusterError>> {
        Box::pin(async move {
            if self.state().yield_in_apply {
                yield_now().await;
            }
            let mut s = self.state();
            let mode = match req.options.mode {
                ApplyMode::ServerSide => "ssa",
                ApplyMode::ClientSide => "csa",
            };
            let dry = req.options.dry_run == Some(DryRun::Server);
            s.calls.push(format!(
                "apply {} [{}] prev [{}] {mode}{}{}",
                req.release,
                names(req.target),
                names(req.previous),
                if req.options.force { " force" } else { "" },
                if dry { " dry-run" } else { "" },
            ));
            let mut report = ObjectReport::default();
            for r in req.target {
                if s.fail_apply.contains(&r.object.to_string()) {
                    report
                        .failed
                        .push((r.object.clone(), "admission webhook denied".into()));
                    continue;
                }
                let k = key(r, req.namespace);
                let action = match s.live.get(&k) {
                    None => ObjectAction::Created,
                    Some(v) if *v == r.manifest => ObjectAction::Unchanged,
                    Some(_) if req.options.force => ObjectAction::Replaced,
                    Some(_) => ObjectAction::Configured,
                };
                if !dry {
                    s.live.insert(k, r.manifest.clone());
                }
                report.results.push(ObjectResult {
                    object: r.object.clone(),
                    action,
                    preview: None,
                });
            }
            for p in req.previous {
                if req.target.iter().any(|t| t.object == p.object) {
                    continue;
                }
                let action = if p.is_kept() {
                    ObjectAction::Kept
                } else {
                    if !dry {
                        s.live.remove(&key(p, req.namespace));
                    }
                    ObjectAction::Deleted
                };
                report.results.push(ObjectResult {
                    object: p.object.clone(),
                    action,
                    preview: None,
                });
            }
            Ok(report)
        })
    }

    fn delete<'a>(
        &'a self,
        req: DeleteRequest<'a>,
        _progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<ObjectReport, ClusterError>> {
        Box::pin(async move {
            let mut s = self.state();
            s.calls
                .push(format!("delete [{}] {:?}", names(req.objects), req.cascade));
            let mut report = ObjectReport::default();
            for o in req.objects {
                let action = match s.live.remove(&key(o, req.namespace)) {
                    Some(_) => ObjectAction::Deleted,
                    None => ObjectAction::NotFound,
                };
                report.results.push(ObjectResult {
                    object: o.object.clone(),
                    action,
                    preview: None,
                });
            }
            Ok(report)
        })
    }

    fn wait<'a>(
        &'a self,
        req: WaitRequest<'a>,
        _progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<(), ClusterError>> {
        let (hang, result) = {
            let mut s = self.state();
            s.calls.push(format!(
                "wait [{}]{}",
                names(req.objects),
                if req.for_deletion { " deletion" } else { "" }
            ));
            let not_ready: Vec<String> = req
                .objects
                .iter()
                .filter_map(|o| {
                    s.not_ready
                        .get(&o.object.to_string())
                        .map(|why| format!("{}: {why}", o.object))
                })
                .collect();
            let result = if not_ready.is_empty() || req.for_deletion {
                Ok(())
            } else {
                Err(ClusterError::Timeout { not_ready })
            };
            (s.hang_wait, result)
        };
        if hang {
            Box::pin(futures::future::pending())
        } else {
            Box::pin(async move { result })
        }
    }

    fn run_hook<'a>(
        &'a self,
        req: HookRequest<'a>,
        _progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<HookOutcome, ClusterError>> {
        Box::pin(async move {
            let mut s = self.state();
            let policies: Vec<&str> = req.delete_policies.iter().map(|p| p.as_str()).collect();
            s.calls.push(format!(
                "hook {} {} [{}]",
                req.event,
                req.hook.name,
                policies.join(",")
            ));
            let failure = s.fail_hooks.get(&req.hook.name).cloned();
            Ok(HookOutcome {
                phase: if failure.is_some() {
                    HookPhase::Failed
                } else {
                    HookPhase::Succeeded
                },
                started_at: t("2026-01-01T00:00:00Z"),
                completed_at: t("2026-01-01T00:00:05Z"),
                message: failure,
            })
        })
    }

    fn lock<'a>(&'a self, req: LockRequest<'a>) -> BoxFuture<'a, Result<Lock, ClusterError>> {
        Box::pin(async move {
            loop {
                match self.try_lock(&req) {
                    Err(ClusterError::LockHeld(_)) if req.wait.is_some() => yield_now().await,
                    result => return result,
                }
            }
        })
    }

    fn object_status<'a>(
        &'a self,
        namespace: &'a str,
        objects: &'a [Resource],
    ) -> BoxFuture<'a, Result<Vec<ObjectStatus>, ClusterError>> {
        Box::pin(async move {
            let s = self.state();
            Ok(objects
                .iter()
                .map(|o| {
                    let exists = s.live.contains_key(&key(o, namespace));
                    let why = s.not_ready.get(&o.object.to_string());
                    ObjectStatus {
                        object: o.object.clone(),
                        exists,
                        ready: exists && why.is_none(),
                        reason: why.cloned().unwrap_or_default(),
                    }
                })
                .collect())
        })
    }
}
