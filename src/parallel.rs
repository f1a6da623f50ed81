//! Work spread over the machine's cores, each thread taking the next item as it comes free, so
//! that a long item or a core busy with something else holds no one up (a fixed share per
//! thread waits for the slowest share).
//!
//! Enters: items and what to do with each. Leaves: the results, in the items' order.

use std::sync::{Mutex, PoisonError};

/// `f` of each of `items`, on every core (the calling thread is one of them), in order. Each
/// item is given to `f` by value, so one that is no longer needed is dropped once it is done.
pub fn map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let threads = cores().min(items.len());
    let queue = Mutex::new(items.into_iter().enumerate());
    let work = || {
        let mut done = Vec::new();
        loop {
            // The lock is held only to take the next item, never while one is worked on.
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((n, item)) = next else { break };
            done.push((n, f(item)));
        }
        done
    };
    let (mut done, helped) = with_helpers(threads, work, work);
    done.extend(helped.into_iter().flatten());
    done.sort_unstable_by_key(|(n, _)| *n);
    done.into_iter().map(|(_, u)| u).collect()
}

/// The machine's cores (at least one).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// `caller` on the calling thread while `threads - 1` helper threads each run `helper`, once
/// all are done: what `caller` returned, and what each helper did. A panic on a helper is a
/// bug; it goes on as a panic here.
pub fn with_helpers<R: Send>(threads: usize, helper: impl Fn() -> R + Sync, caller: impl FnOnce() -> R) -> (R, Vec<R>) {
    std::thread::scope(|scope| {
        let spawned: Vec<_> = (1..threads).map(|_| scope.spawn(&helper)).collect();
        let own = caller();
        let theirs = spawned
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect();
        (own, theirs)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_item_is_done_once_and_the_results_keep_the_items_order() {
        let calls = AtomicUsize::new(0);
        let out = super::map((0..1000_u64).collect(), |n| {
            calls.fetch_add(1, Ordering::Relaxed);
            n * 3
        });
        assert_eq!(out, (0..1000_u64).map(|n| n * 3).collect::<Vec<_>>());
        assert_eq!(calls.into_inner(), 1000);
        assert_eq!(super::map(Vec::<u8>::new(), |n| n), Vec::<u8>::new());
    }

    #[test]
    fn the_caller_works_on_its_own_thread_beside_its_helpers() {
        let here = std::thread::current().id();
        let (own, theirs) = super::with_helpers(3, || std::thread::current().id(), || std::thread::current().id());
        assert_eq!(own, here);
        assert_eq!(theirs.len(), 2);
        assert!(theirs.iter().all(|id| *id != here), "{theirs:?}");
    }
}
