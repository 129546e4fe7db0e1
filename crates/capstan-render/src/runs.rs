//! Work split over a few threads in contiguous runs, results kept in order: the same outcome
//! (and the same first error) as doing the items one by one.

/// `work` over `items` in order: on the calling thread when there are fewer than `from` items
/// or one core, else in up to four contiguous runs, the first on the calling thread and each
/// other on a named thread of its own (64 MiB stacks, room for parsers' recursion), started
/// first. A run whose thread cannot be had runs here.
pub(crate) fn in_runs<T: Sync, R: Send>(
    items: &[T],
    from: usize,
    name: &str,
    work: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    let threads = cores().min(4);
    if threads < 2 || items.len() < from {
        return vec![work(items)];
    }
    let work = &work;
    std::thread::scope(|scope| {
        let mut runs = items.chunks(items.len().div_ceil(threads));
        let first = runs.next().unwrap_or_default();
        let spawned: Vec<_> = runs
            .map(|run| {
                let thread = std::thread::Builder::new()
                    .name(name.into())
                    .stack_size(64 << 20)
                    .spawn_scoped(scope, move || work(run));
                (run, thread)
            })
            .collect();
        let mut results = Vec::with_capacity(spawned.len() + 1);
        results.push(work(first));
        results.extend(spawned.into_iter().map(|(run, thread)| {
            match thread {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => work(run),
            }
        }));
        results
    })
}

/// The cores this process may use, asked once (the answer reads the process's CPU affinity and
/// the cgroup's files).
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES
        .get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
}

#[cfg(test)]
mod tests {
    use super::in_runs;

    #[test]
    fn runs_keep_the_items_order_and_the_first_run_stays_here() {
        let items: Vec<u32> = (0..100).collect();
        let here = std::thread::current().id();
        let runs = in_runs(&items, 8, "capstan-test-run", |run| {
            (run.to_vec(), std::thread::current().id() == here)
        });
        let joined: Vec<u32> = runs.iter().flat_map(|(run, _)| run.clone()).collect();
        assert_eq!(joined, items);
        assert!(runs[0].1, "the first run is worked on the calling thread");
        if super::cores() >= 2 {
            assert!(runs.len() >= 2);
            assert!(runs[1..].iter().all(|(_, here)| !here));
        }
    }

    #[test]
    fn few_items_are_one_run_here() {
        let items = [1, 2, 3];
        let runs = in_runs(&items, 8, "capstan-test-run", |run| run.iter().sum::<i32>());
        assert_eq!(runs, [6]);
    }
}
