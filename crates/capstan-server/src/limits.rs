//! Admission: a bound on the requests a daemon works on at once, refused with
//! `RESOURCE_EXHAUSTED` naming the limit rather than queued without end.
//!
//! [`InFlightLimit`] is one budget for the whole daemon; [`InFlightLimit::admit`] takes a
//! [`Tenant`] key so that a per-tenant budget can be added behind the same call once requests
//! carry an authenticated tenant (until then every request is [`Tenant::Anonymous`]).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Who a request is admitted for. Only the daemon-wide budget exists so far.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Tenant {
    /// A request without an authenticated tenant.
    Anonymous,
    /// A request of an authenticated tenant (its stable name).
    Named(String),
}

/// The most requests a daemon works on at once (renders, compiles, uploads, operations).
#[derive(Debug, Clone)]
pub struct InFlightLimit {
    max: usize,
    what: &'static str,
    semaphore: Arc<Semaphore>,
}

/// A slot of an [`InFlightLimit`], given back when dropped. Move it into the work it admits
/// (a blocking thread, a spawned task) so that work abandoned by its client still counts until
/// it really ends.
#[derive(Debug)]
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
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
        }
    }

    /// The configured bound.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Requests being worked on now.
    pub fn in_use(&self) -> usize {
        self.max - self.semaphore.available_permits()
    }

    /// Admits one request for `tenant`, or refuses it with `RESOURCE_EXHAUSTED` when the
    /// daemon already works on as many as allowed.
    pub fn admit(&self, tenant: &Tenant) -> Result<Admitted, tonic::Status> {
        let _ = tenant;
        match self.semaphore.clone().try_acquire_owned() {
            Ok(permit) => Ok(Admitted { _permit: permit }),
            Err(_) => Err(tonic::Status::resource_exhausted(format!(
                "the daemon is working on {} requests already, its limit ({} {}); retry later",
                self.max, self.what, self.max
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_beyond_the_limit_and_frees_on_drop() {
        let limit = InFlightLimit::new(2, "--max-in-flight");
        let a = limit.admit(&Tenant::Anonymous).unwrap();
        let _b = limit.admit(&Tenant::Named("team-a".into())).unwrap();
        assert_eq!(limit.in_use(), 2);
        let e = limit.admit(&Tenant::Anonymous).unwrap_err();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
        assert!(e.message().contains("--max-in-flight 2"), "{}", e.message());
        drop(a);
        assert!(limit.admit(&Tenant::Anonymous).is_ok());
    }
}
