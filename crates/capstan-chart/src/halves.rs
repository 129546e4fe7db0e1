//! Work over a list on two threads: the first half of its weight on the calling thread, the
//! rest on a second one, the results in the list's order. Chart files are read and hashed this
//! way when there are enough bytes of them for a second core to pay.

/// `f` of each of `items`, in order. When the items' `weight`s add up to at least `from`, the
/// items up to half the total weight are done on this thread and the rest on a second thread
/// named `thread_name` (on this one too when no thread can be started); a panic in either is
/// this call's panic.
pub fn map_in_halves<T: Sync, R: Send>(
    items: &[T],
    weight: impl Fn(&T) -> u64,
    from: u64,
    thread_name: &str,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let total: u64 = items.iter().map(&weight).sum();
    if total < from {
        return items.iter().map(&f).collect();
    }
    let mut sum = 0;
    let cut = items
        .iter()
        .position(|item| {
            sum += weight(item);
            sum * 2 >= total
        })
        .map_or(items.len(), |i| i + 1);
    let (first, second) = items.split_at(cut);
    let f = &f;
    std::thread::scope(|scope| {
        let other = std::thread::Builder::new()
            .name(thread_name.to_owned())
            .spawn_scoped(scope, move || second.iter().map(f).collect::<Vec<_>>());
        let mut out: Vec<R> = first.iter().map(f).collect();
        match other {
            Ok(handle) => out.extend(
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            ),
            Err(_) => out.extend(second.iter().map(f)),
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_above_and_below_the_threshold() {
        let items: Vec<u64> = (1..=50).collect();
        let square = |n: &u64| n * n;
        let expected: Vec<u64> = items.iter().map(square).collect();
        assert_eq!(
            map_in_halves(&items, |n| *n, u64::MAX, "t", square),
            expected
        );
        assert_eq!(map_in_halves(&items, |n| *n, 0, "t", square), expected);
        assert!(map_in_halves(&[] as &[u64], |n| *n, 0, "t", square).is_empty());
    }

    #[test]
    fn the_second_part_runs_on_another_thread() {
        let items = [1u64, 1, 1, 1];
        let main = std::thread::current().id();
        let on_main = map_in_halves(
            &items,
            |n| *n,
            1,
            "t",
            |_| std::thread::current().id() == main,
        );
        assert_eq!(on_main, vec![true, true, false, false]);
    }
}
