//! Admission: a bound on the requests a daemon works on at once, refused with
//! `RESOURCE_EXHAUSTED` naming the limit rather than queued without end.
//!
//! [`InFlightLimit`] is a budget for the whole daemon and, with
//! [`InFlightLimit::per_tenant`], a smaller one for each authenticated tenant, so that one
//! tenant's burst cannot take every slot from the others. [`InFlightLimit::admit`] takes both
//! (the tenant's first) or neither.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use capstan_auth::Caller;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Who a request is admitted for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Tenant {
    /// A request without a tenant (no policy: single-tenant capstan). Only the daemon-wide
    /// budget applies.
    Anonymous,
    /// A request of an authenticated tenant (its stable name).
    Named(String),
}

impl Tenant {
    /// The tenant `caller` is admitted as: its tenant's name under a policy, else anonymous.
    pub fn of(caller: &Caller) -> Tenant {
        match caller.tenant() {
            Some(tenant) => Tenant::Named(tenant.name.clone()),
            None => Tenant::Anonymous,
        }
    }
}

/// The most requests a daemon works on at once (renders, compiles, uploads, operations), in
/// all and per tenant.
#[derive(Debug, Clone)]
pub struct InFlightLimit {
    max: usize,
    what: &'static str,
    semaphore: Arc<Semaphore>,
    per_tenant: Option<PerTenant>,
}

/// One semaphore per tenant seen, created on its first request. Tenants are the policy's
/// names, so the map is as bounded as the policy.
#[derive(Debug, Clone)]
struct PerTenant {
    max: usize,
    what: &'static str,
    buckets: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

/// A slot of an [`InFlightLimit`], given back when dropped. Move it into the work it admits
/// (a blocking thread, a spawned task) so that work abandoned by its client still counts until
/// it really ends.
#[derive(Debug)]
pub struct Admitted {
    _tenant: Option<OwnedSemaphorePermit>,
    _daemon: OwnedSemaphorePermit,
}

impl InFlightLimit {
    /// A limit of `max` requests at once; `what` names it in errors and should name the flag
    /// that sets it (e.g. `--max-in-flight`). `max` of 0 counts as 1.
    pub fn new(max: usize, what: &'static str) -> InFlightLimit {
        let max = max.max(1);
        InFlightLimit {
            max,
            what,
            semaphore: Arc::new(Semaphore::new(max)),
            per_tenant: None,
        }
    }

    /// The same limit, also holding each named tenant to `max` requests at once (`what`
    /// names the flag, e.g. `--max-in-flight-per-tenant`). `max` of 0 counts as 1.
    pub fn per_tenant(self, max: usize, what: &'static str) -> InFlightLimit {
        InFlightLimit {
            per_tenant: Some(PerTenant {
                max: max.max(1),
                what,
                buckets: Arc::default(),
            }),
            ..self
        }
    }

    /// The configured daemon-wide bound.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Requests being worked on now.
    pub fn in_use(&self) -> usize {
        self.max - self.semaphore.available_permits()
    }

    /// Admits one request for `tenant`, or refuses it with `RESOURCE_EXHAUSTED` when the
    /// tenant, or the daemon, already works on as many as allowed.
    pub fn admit(&self, tenant: &Tenant) -> Result<Admitted, tonic::Status> {
        let tenant_permit = match (tenant, &self.per_tenant) {
            (Tenant::Named(name), Some(per_tenant)) => Some(per_tenant.admit(name)?),
            _ => None,
        };
        match self.semaphore.clone().try_acquire_owned() {
            Ok(permit) => Ok(Admitted {
                _tenant: tenant_permit,
                _daemon: permit,
            }),
            Err(_) => Err(tonic::Status::resource_exhausted(format!(
                "the daemon is working on {} requests already, its limit ({} {}); retry later",
                self.max, self.what, self.max
            ))),
        }
    }
}

impl PerTenant {
    fn admit(&self, name: &str) -> Result<OwnedSemaphorePermit, tonic::Status> {
        let bucket = {
            let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
            buckets
                .entry(name.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.max)))
                .clone()
        };
        bucket.try_acquire_owned().map_err(|_| {
            tonic::Status::resource_exhausted(format!(
                "tenant {name:?} has {} requests in flight already, its limit ({} {}); retry later",
                self.max, self.what, self.max
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> Tenant {
        Tenant::Named(name.into())
    }

    #[test]
    fn refuses_beyond_the_limit_and_frees_on_drop() {
        let limit = InFlightLimit::new(2, "--max-in-flight");
        let a = limit.admit(&Tenant::Anonymous).unwrap();
        let _b = limit.admit(&named("team-a")).unwrap();
        assert_eq!(limit.in_use(), 2);
        let e = limit.admit(&Tenant::Anonymous).unwrap_err();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
        assert!(e.message().contains("--max-in-flight 2"), "{}", e.message());
        drop(a);
        assert!(limit.admit(&Tenant::Anonymous).is_ok());
    }

    #[test]
    fn one_tenant_cannot_take_every_slot() {
        let limit =
            InFlightLimit::new(4, "--max-in-flight").per_tenant(2, "--max-in-flight-per-tenant");
        let a1 = limit.admit(&named("a")).unwrap();
        let _a2 = limit.admit(&named("a")).unwrap();
        let e = limit.admit(&named("a")).unwrap_err();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
        assert_eq!(
            e.message(),
            "tenant \"a\" has 2 requests in flight already, its limit \
             (--max-in-flight-per-tenant 2); retry later"
        );
        // Tenant a's refusal took no daemon slot; b still gets in.
        assert_eq!(limit.in_use(), 2);
        let _b1 = limit.admit(&named("b")).unwrap();
        let _b2 = limit.admit(&named("b")).unwrap();
        // The daemon is full now: even an unlimited anonymous caller waits.
        let e = limit.admit(&Tenant::Anonymous).unwrap_err();
        assert!(e.message().contains("--max-in-flight 4"), "{}", e.message());
        drop(a1);
        assert!(limit.admit(&named("a")).is_ok());
    }

    #[test]
    fn a_daemon_refusal_gives_the_tenant_slot_back() {
        let limit =
            InFlightLimit::new(1, "--max-in-flight").per_tenant(1, "--max-in-flight-per-tenant");
        let _b = limit.admit(&named("b")).unwrap();
        assert!(limit.admit(&named("a")).is_err());
        drop(_b);
        // a's earlier refusal by the daemon did not keep a's own slot.
        assert!(limit.admit(&named("a")).is_ok());
    }
}
