//! Client-side throttling of requests to the API server, as client-go's token bucket does for
//! Helm's `--qps` and `--burst-limit`: up to `burst` requests at once, then `qps` a second.
//! Without a rate capstan does not throttle (the API server's priority and fairness does); Helm's
//! client-go defaults to 5 a second after a burst of 100.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

/// A request rate: `qps` a second after a burst of `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests a second once the burst is spent.
    pub qps: f64,
    /// Requests let through at once.
    pub burst: u32,
}

impl Rate {
    /// The rate Helm's `--qps` and `--burst-limit` name; `None` (no throttling) when `qps` is
    /// not positive, as Helm leaves client-go's default then and capstan has none.
    pub fn from_flags(qps: f32, burst: u32) -> Option<Self> {
        (qps.is_finite() && qps > 0.0).then(|| Rate {
            qps: f64::from(qps),
            burst: burst.max(1),
        })
    }
}

/// A Kubernetes client for `config` whose requests are throttled to `rate` (none when `None`).
pub fn client(config: kube::Config, rate: Option<Rate>) -> kube::Result<kube::Client> {
    let builder = kube::client::ClientBuilder::try_from(config)?;
    Ok(match rate {
        Some(rate) => builder.with_layer(&ThrottleLayer::new(rate)).build(),
        None => builder.build(),
    })
}

/// The token bucket: tokens refill at `qps` up to `burst`; each request takes one, waiting for
/// it when none is left (the debt is what later requests wait behind).
#[derive(Debug)]
struct Bucket {
    rate: Rate,
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn new(rate: Rate) -> Self {
        Bucket {
            rate,
            tokens: f64::from(rate.burst),
            refilled: Instant::now(),
        }
    }

    /// Takes a token at `now`: how long the request waits for it.
    fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens = (self.tokens + elapsed * self.rate.qps).min(f64::from(self.rate.burst));
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate.qps)
        }
    }
}

/// The layer putting a [`Throttle`] in front of kube-rs's service stack.
#[derive(Debug, Clone)]
struct ThrottleLayer {
    bucket: Arc<Mutex<Bucket>>,
}

impl ThrottleLayer {
    fn new(rate: Rate) -> Self {
        ThrottleLayer {
            bucket: Arc::new(Mutex::new(Bucket::new(rate))),
        }
    }
}

impl<S> tower_layer::Layer<S> for ThrottleLayer {
    type Service = Throttle<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Throttle {
            inner,
            bucket: self.bucket.clone(),
        }
    }
}

/// A service whose requests each wait for a token before they are sent.
#[derive(Debug, Clone)]
struct Throttle<S> {
    inner: S,
    bucket: Arc<Mutex<Bucket>>,
}

impl<S, R> tower_service::Service<R> for Throttle<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let wait = self
            .bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take(Instant::now());
        // The inner future sends nothing until it is first polled, after the wait.
        let response = self.inner.call(request);
        Box::pin(async move {
            if !wait.is_zero() {
                tracing::trace!(wait_ms = wait.as_millis() as u64, "throttled API request");
                tokio::time::sleep(wait).await;
            }
            response.await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rate_means_no_throttling() {
        assert_eq!(Rate::from_flags(0.0, 100), None);
        assert_eq!(Rate::from_flags(-1.0, 100), None);
        assert_eq!(Rate::from_flags(f32::NAN, 100), None);
        assert_eq!(Rate::from_flags(5.0, 0), Some(Rate { qps: 5.0, burst: 1 }));
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_the_rate() {
        let mut bucket = Bucket::new(Rate { qps: 4.0, burst: 3 });
        let now = Instant::now();
        let waits: Vec<Duration> = (0..6).map(|_| bucket.take(now)).collect();
        assert_eq!(&waits[..3], [Duration::ZERO; 3]);
        // Then a quarter of a second each, queued behind one another.
        assert_eq!(
            &waits[3..],
            [
                Duration::from_millis(250),
                Duration::from_millis(500),
                Duration::from_millis(750)
            ]
        );
        // Two seconds later the debt is paid and the bucket is full again (never above burst).
        let later = now + Duration::from_secs(2);
        let waits: Vec<Duration> = (0..4).map(|_| bucket.take(later)).collect();
        assert_eq!(&waits[..3], [Duration::ZERO; 3]);
        assert_eq!(waits[3], Duration::from_millis(250));
    }
}
