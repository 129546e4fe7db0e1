//! The metrics an operation's progress events update: lock waits and crash recoveries.

use std::time::Instant;

use capstan_ops::Event;

/// Updates the lock-wait and crash-recovery metrics from an operation's progress: the lock
/// wait runs from the `Locking` phase to the next event.
pub(crate) fn record_metrics(
    operation: &'static str,
    locking: &std::sync::Mutex<Option<Instant>>,
    event: &Event,
) {
    let mut locking = locking
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match event {
        Event::Phase {
            phase: capstan_ops::Phase::Locking,
            ..
        } => *locking = Some(Instant::now()),
        _ => {
            if let Some(since) = locking.take() {
                capstan_telemetry::metrics::lock_waited(operation, since.elapsed());
            }
        }
    }
    if let Event::Recovered { .. } = event {
        capstan_telemetry::metrics::recovered(operation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(series: &str) -> f64 {
        capstan_telemetry::metrics::encode()
            .lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    #[test]
    fn progress_events_record_lock_waits_and_recoveries() {
        let waits = "capstan_lock_wait_seconds_count{operation=\"uninstall\"}";
        let recoveries = "capstan_crash_recoveries_total{operation=\"uninstall\"}";
        let (waits_before, recoveries_before) = (sample(waits), sample(recoveries));
        let locking = std::sync::Mutex::new(None);
        let phase = |phase| Event::Phase {
            phase,
            revision: None,
        };
        record_metrics("uninstall", &locking, &phase(capstan_ops::Phase::Locking));
        assert_eq!(sample(waits), waits_before, "still waiting for the lock");
        record_metrics(
            "uninstall",
            &locking,
            &Event::Recovered {
                revision: 3,
                description: "interrupted".into(),
            },
        );
        record_metrics("uninstall", &locking, &phase(capstan_ops::Phase::Deleting));
        assert_eq!(sample(waits), waits_before + 1.0);
        assert_eq!(sample(recoveries), recoveries_before + 1.0);
    }
}
