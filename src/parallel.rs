//! Work spread over the machine's cores: one function over many items, the results in order.

/// How many cores the machine gives this process.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// `f` of every item, computed on up to one thread per core, each taking a run of items.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = cores();
    if cores < 2 || items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let running: Vec<_> = items
            .chunks(items.len().div_ceil(cores))
            .map(|run| scope.spawn(move || run.iter().map(f).collect::<Vec<R>>()))
            .collect();
        running.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

/// `a()` and `b()`, the second on a thread of its own when `apart` (work worth a thread: two
/// large bodies read or parsed at once, one per core).
pub(crate) fn both<A: Send, B: Send>(
    apart: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if !apart {
        return (a(), b());
    }
    std::thread::scope(|scope| {
        let second = scope.spawn(b);
        let first = a();
        (first, second.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_come_in_the_order_of_the_items() {
        let items: Vec<u32> = (0..1000).collect();
        assert_eq!(super::map(&items, |n| n * 2), items.iter().map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(super::map(&[7], |n| n + 1), [8]);
        assert!(super::map(&[] as &[u8], |n| *n).is_empty());
    }

    #[test]
    fn both_gives_each_result_in_its_place() {
        assert_eq!(super::both(true, || 1, || "two"), (1, "two"));
        assert_eq!(super::both(false, || 1, || "two"), (1, "two"));
    }
}
