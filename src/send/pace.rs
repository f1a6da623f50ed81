//! Pacing and the circuit breaker, shared by every worker of a send.
//!
//! [`Pace`] spaces messages at the configured rate and slows down when the relay throttles
//! (421/450/451/454), recovering gradually after a run of successes. [`Breaker`] counts
//! consecutive sender problems (5.7.x policy rejections, or the same content rejection again and
//! again) and trips after the configured number, so a misconfigured domain stops the send
//! instead of burning through the list.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The slowest a throttled send will go between messages.
const MAX_INTERVAL: Duration = Duration::from_secs(2);
/// The first slow-down step when no rate is configured.
const FIRST_STEP: Duration = Duration::from_millis(20);
/// Successes before the interval halves again.
const RECOVER_AFTER: u32 = 200;

/// Message spacing across workers.
#[derive(Debug)]
pub struct Pace {
    state: Mutex<PaceState>,
}

#[derive(Debug)]
struct PaceState {
    base: Duration,
    interval: Duration,
    next: Option<Instant>,
    successes: u32,
}

impl Pace {
    /// Spacing for `rate` messages per second (none: as fast as the workers go).
    pub fn new(rate: Option<f64>) -> Self {
        let base = rate.map_or(Duration::ZERO, |r| Duration::from_secs_f64(1.0 / r));
        Self { state: Mutex::new(PaceState { base, interval: base, next: None, successes: 0 }) }
    }

    /// Wait for this worker's turn.
    pub async fn wait(&self) {
        let slot = {
            let Ok(mut state) = self.state.lock() else { return };
            if state.interval.is_zero() {
                return;
            }
            let now = Instant::now();
            let slot = state.next.map_or(now, |next| next.max(now));
            state.next = Some(slot + state.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// The relay asked us to slow down: double the interval.
    pub fn throttle(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.interval = (state.interval * 2).max(FIRST_STEP).min(MAX_INTERVAL.max(state.base));
            state.successes = 0;
        }
    }

    /// A message went through; after enough of them, speed back up towards the base rate.
    pub fn success(&self) {
        if let Ok(mut state) = self.state.lock()
            && state.interval > state.base
        {
            state.successes += 1;
            if state.successes >= RECOVER_AFTER {
                state.successes = 0;
                state.interval = (state.interval / 2).max(state.base);
                if state.interval < FIRST_STEP {
                    state.interval = state.base;
                }
            }
        }
    }

    /// The current interval.
    #[cfg(test)]
    fn interval(&self) -> Duration {
        self.state.lock().map_or(Duration::ZERO, |s| s.interval)
    }
}

/// Consecutive sender-problem rejections.
#[derive(Debug)]
pub struct Breaker {
    limit: usize,
    state: Mutex<(usize, Option<String>)>,
}

impl Breaker {
    /// Trip after `limit` in a row.
    pub fn new(limit: usize) -> Self {
        Self { limit: limit.max(1), state: Mutex::new((0, None)) }
    }

    /// How many in a row trip it.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A delivery succeeded: the streak is over.
    pub fn reset(&self) {
        if let Ok(mut state) = self.state.lock() {
            *state = (0, None);
        }
    }

    /// A sender problem: returns true when the breaker trips.
    pub fn sender_problem(&self) -> bool {
        self.state.lock().is_ok_and(|mut state| {
            state.0 += 1;
            state.1 = None;
            state.0 >= self.limit
        })
    }

    /// A content rejection with `text`: only the same rejection again and again trips it.
    pub fn content_rejection(&self, text: &str) -> bool {
        self.state.lock().is_ok_and(|mut state| {
            if state.1.as_deref() == Some(text) {
                state.0 += 1;
            } else {
                *state = (1, Some(text.to_owned()));
            }
            state.0 >= self.limit
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_slows_down_and_recovers() {
        let pace = Pace::new(None);
        assert_eq!(pace.interval(), Duration::ZERO);
        pace.throttle();
        assert_eq!(pace.interval(), FIRST_STEP);
        pace.throttle();
        assert_eq!(pace.interval(), FIRST_STEP * 2);
        for _ in 0..RECOVER_AFTER {
            pace.success();
        }
        assert_eq!(pace.interval(), FIRST_STEP);
        for _ in 0..RECOVER_AFTER {
            pace.success();
        }
        assert_eq!(pace.interval(), Duration::ZERO, "back to full speed");
        let capped = Pace::new(Some(10.0));
        for _ in 0..20 {
            capped.throttle();
        }
        assert_eq!(capped.interval(), MAX_INTERVAL);
    }

    #[test]
    fn breaker_trips_on_a_run_not_on_scattered_problems() {
        let breaker = Breaker::new(3);
        assert!(!breaker.sender_problem());
        assert!(!breaker.sender_problem());
        breaker.reset();
        assert!(!breaker.sender_problem());
        assert!(!breaker.sender_problem());
        assert!(breaker.sender_problem());
        let content = Breaker::new(2);
        assert!(!content.content_rejection("552 too big"));
        assert!(!content.content_rejection("554 other"));
        assert!(content.content_rejection("554 other"));
    }
}
