//! Retries of transient API errors: a reset or refused connection, a body cut short, `429 Too
//! Many Requests` and the `5xx` answers an API server gives while it restarts or sheds load.
//!
//! client-go and kube-rs's runtime retry these with backoff; so does every call capstan makes on
//! behalf of an operation (record reads and writes, the Lease, applies, deletes, hooks, watches).
//! A call is tried again with exponential backoff and jitter (100 ms doubling to 2 s) for at most
//! [`BUDGET`]; the operation around it bounds it further by its own deadline, its cancellation
//! and its lock's validity (capstan-ops races every step against those).
//!
//! A connection cut under a request (reset, aborted, closed early) is always retried. A refused
//! connection or a connect timeout is retried only once the cluster has answered in this
//! process: a cluster never reached is unreachable, and the user hears so at once rather than
//! after the budget; once it has answered, the same error is a blip.
//!
//! A retried write may have landed before its connection broke: a create then meets
//! `AlreadyExists` and an update `Conflict` on its own earlier attempt. [`attempts`] says
//! whether that can be so; callers that can tell their own write from another client's (the
//! release store compares the record) then check.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// How long a call is retried at most.
pub const BUDGET: Duration = Duration::from_secs(30);

const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// Whether the API server has answered any call in this process.
static REACHED: AtomicBool = AtomicBool::new(false);

/// Whether `error` is worth trying again: the request may not have reached the server, or the
/// server said to come back later.
pub fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            cut_off(error) || REACHED.load(Ordering::Relaxed)
        }
        _ => false,
    }
}

/// How the standard library and hyper word a connection cut under a request.
const CUT_OFF: [&str; 5] = [
    "connection reset",
    "broken pipe",
    "connection closed before message completed",
    "unexpected end of file",
    "unexpected eof",
];

/// Whether a connection was cut under a request (reset, aborted, closed early): a blip, even
/// on the first call. A refused connection or a timeout is not, until the server has answered.
fn cut_off(error: &kube::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            )
        {
            return true;
        }
        if let Some(hyper) = e.downcast_ref::<hyper::Error>()
            && (hyper.is_incomplete_message() || hyper.is_closed() || hyper.is_canceled())
        {
            return true;
        }
        // Connectors box their errors in boxes, and a box as an error hides what it holds
        // from `downcast_ref` (its `source` skips to the inner error's source): read its text.
        let text = e.to_string().to_ascii_lowercase();
        if CUT_OFF.iter().any(|phrase| text.contains(phrase)) {
            return true;
        }
        cause = e.source();
    }
    false
}

/// An error that may come from the API server: kube-rs's own, or one of this crate's that
/// carries one.
pub trait ApiFailure: std::fmt::Display {
    /// The API error inside, if any.
    fn api_error(&self) -> Option<&kube::Error>;
}

impl ApiFailure for kube::Error {
    fn api_error(&self) -> Option<&kube::Error> {
        Some(self)
    }
}

/// Notes that the server answered (any answer, an error status included, proves it is there).
fn reached<T, E: ApiFailure>(result: &Result<T, E>) {
    let answered = match result {
        Ok(_) => true,
        Err(e) => matches!(e.api_error(), Some(kube::Error::Api(_))),
    };
    if answered {
        REACHED.store(true, Ordering::Relaxed);
    }
}

/// Runs `call` until it succeeds, fails for good, or [`BUDGET`] is spent on transient errors.
pub async fn retrying<T, E, F, Fut>(what: &str, call: F) -> Result<T, E>
where
    E: ApiFailure,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    attempts(what, call).await.result
}

/// What [`attempts`] ended with.
#[derive(Debug)]
pub struct Attempts<T, E = kube::Error> {
    /// The last attempt's result.
    pub result: Result<T, E>,
    /// Whether an earlier attempt failed transiently: a write's `AlreadyExists` or `Conflict`
    /// may then be the trace of that attempt, which landed although its answer was lost.
    pub retried: bool,
}

/// [`retrying`], telling whether it had to retry.
pub async fn attempts<T, E, F, Fut>(what: &str, mut call: F) -> Attempts<T, E>
where
    E: ApiFailure,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut pause = FIRST_PAUSE;
    let mut retried = false;
    loop {
        let result = call().await;
        reached(&result);
        // The pause with its jitter is what must fit in the budget.
        let wait = pause + jitter(pause / 4);
        match &result {
            Err(error)
                if error.api_error().is_some_and(is_transient)
                    && started.elapsed() + wait <= BUDGET =>
            {
                tracing::debug!(what, error = %error, pause = ?wait, "transient API error, retrying");
            }
            _ => return Attempts { result, retried },
        }
        retried = true;
        tokio::time::sleep(wait).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// A little randomness (from the clock's nanoseconds) so retrying clients spread out.
pub(crate) fn jitter(max: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let max = max.as_nanos().max(1);
    Duration::from_nanos(u64::try_from(u128::from(nanos) % max).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    fn status(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            ..kube::core::Status::default()
        }))
    }

    #[test]
    fn busy_and_unavailable_answers_are_transient_refusals_are_not() {
        for code in [429, 500, 502, 503, 504] {
            assert!(is_transient(&status(code)), "{code}");
        }
        for code in [400, 403, 404, 409, 422] {
            assert!(!is_transient(&status(code)), "{code}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_transient_error_is_retried_until_the_call_succeeds() {
        let calls = AtomicU32::new(0);
        let value = retrying("test", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(status(503)),
                _ => Ok(7),
            }
        })
        .await
        .unwrap();
        assert_eq!((value, calls.load(Ordering::SeqCst)), (7, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_final_error_is_returned_at_once() {
        let calls = AtomicU32::new(0);
        let error = retrying("test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(status(404))
        })
        .await
        .unwrap_err();
        assert!(matches!(error, kube::Error::Api(s) if s.code == 404));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_when_the_budget_is_spent() {
        let started = tokio::time::Instant::now();
        let calls = AtomicU32::new(0);
        let error = retrying("test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(status(503))
        })
        .await
        .unwrap_err();
        assert!(matches!(error, kube::Error::Api(s) if s.code == 503));
        assert!(started.elapsed() <= BUDGET, "{:?}", started.elapsed());
        assert!(calls.load(Ordering::SeqCst) > 10);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_tell_whether_an_earlier_try_failed() {
        let calls = AtomicU32::new(0);
        let outcome = attempts("test", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err::<(), _>(status(503)),
                _ => Err(status(409)),
            }
        })
        .await;
        assert!(outcome.retried);
        assert!(matches!(outcome.result, Err(kube::Error::Api(s)) if s.code == 409));
        let outcome = attempts("test", || async { Err::<(), _>(status(409)) }).await;
        assert!(!outcome.retried);
    }
}
