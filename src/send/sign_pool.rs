//! The compose/sign stage: a pool of OS threads between the dispatcher and the connections, so
//! DKIM signing (CPU-bound, about 0.15–0.3 ms per RSA-2048 message) runs on every core while the
//! connections wait on the network on the runtime's thread.
//!
//! Enters: the dispatcher's bounded queue of jobs and a function that prepares one job (composes
//! and signs its message). Leaves: a bounded queue of prepared jobs for the workers. Memory is
//! bounded, not per recipient: at most `threads` jobs being prepared plus `capacity` prepared
//! ones wait, whatever the size of the list.
//!
//! Shutdown follows the queues: when the dispatcher drops its sender, each thread finishes its
//! job and exits, and the workers see the end of their queue once the last thread is gone. When
//! every worker has stopped, a thread's hand-over fails, the threads exit, and the dispatcher's
//! next hand-out fails in turn — nobody waits forever.
//!
//! Nothing here sends or marks anything: a prepared message goes out only after a worker has
//! marked its row `inflight` (the crash guarantee of `engine.rs` is unchanged).

use std::sync::{Arc, Mutex};
use std::thread;

use tokio::sync::mpsc;

/// How many signing threads: one per core the process may use.
pub fn threads() -> usize {
    crate::parallel::cores()
}

/// Start `threads` threads that take jobs from `input`, run `prepare` on each and hand them on
/// to the returned queue (room for `capacity` prepared jobs).
///
/// Errors: the operating system refusing a thread (with none started, the caller prepares jobs
/// itself).
pub fn start<J, F>(
    threads: usize,
    capacity: usize,
    input: mpsc::Receiver<J>,
    prepare: F,
) -> std::io::Result<mpsc::Receiver<J>>
where
    J: Send + 'static,
    F: Fn(&mut J) + Send + Sync + 'static,
{
    let (output, prepared) = mpsc::channel(capacity.max(1));
    let input = Arc::new(Mutex::new(input));
    let prepare = Arc::new(prepare);
    for n in 0..threads.max(1) {
        let input = Arc::clone(&input);
        let output = output.clone();
        let prepare = Arc::clone(&prepare);
        let started = thread::Builder::new().name(format!("letterpress-sign-{n}")).spawn(move || {
            loop {
                // The lock is held only while waiting for the next job, never while preparing.
                let next = match input.lock() {
                    Ok(mut input) => input.blocking_recv(),
                    Err(_) => None,
                };
                let Some(mut job) = next else { break };
                prepare(&mut job);
                if output.blocking_send(job).is_err() {
                    break;
                }
            }
        });
        if let Err(e) = started {
            if n == 0 {
                return Err(e);
            }
            // Fewer threads than cores still sign in parallel.
            break;
        }
    }
    Ok(prepared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_comes_out_prepared_once_and_the_queue_ends() {
        let (tx, rx) = mpsc::channel::<(u32, u32)>(4);
        let mut prepared = start(3, 2, rx, |job: &mut (u32, u32)| job.1 = job.0 * 2).unwrap();
        let feeder = thread::spawn(move || {
            for n in 0..1000 {
                tx.blocking_send((n, 0)).unwrap();
            }
        });
        let mut seen = Vec::new();
        while let Some((n, doubled)) = prepared.blocking_recv() {
            assert_eq!(doubled, n * 2);
            seen.push(n);
        }
        feeder.join().unwrap();
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn when_the_consumer_is_gone_the_producer_is_told() {
        let (tx, rx) = mpsc::channel::<u32>(1);
        let prepared = start(2, 1, rx, |_: &mut u32| {}).unwrap();
        drop(prepared);
        // Each thread takes at most one job, fails to hand it over and exits; the input then
        // has no receiver and a send fails instead of blocking forever.
        let mut refused = false;
        for n in 0..10 {
            if tx.blocking_send(n).is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused);
    }
}
