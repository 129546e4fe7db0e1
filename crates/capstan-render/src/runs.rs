//! Work split over a few threads in contiguous runs, results kept in order: the same outcome
//! (and the same first error) as doing the items one by one.

/// `work` over `items` in order: on the calling thread when there are fewer than `from` items
/// or one core, else on up to four named threads (64 MiB stacks, room for parsers' recursion),
/// each taking a contiguous run. A run whose thread cannot be had runs here.
pub(crate) fn in_runs<T: Sync, R: Send>(
    items: &[T],
    from: usize,
    name: &str,
    work: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(4);
    if threads < 2 || items.len() < from {
        return vec![work(items)];
    }
    let work = &work;
    std::thread::scope(|scope| {
        let spawned: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|run| {
                let thread = std::thread::Builder::new()
                    .name(name.into())
                    .stack_size(64 << 20)
                    .spawn_scoped(scope, move || work(run));
                (run, thread)
            })
            .collect();
        spawned
            .into_iter()
            .map(|(run, thread)| match thread {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => work(run),
            })
            .collect()
    })
}
