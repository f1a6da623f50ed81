//! Several relays in one run: each a [`Lane`] with its own pace, breaker, budget and
//! connections, and a [`Selector`] that spreads the messages over the lanes that are up, by
//! weight (smooth weighted round-robin, as nginx does: deterministic, and no relay gets a run
//! of messages while another waits).
//!
//! A relay that fails to connect, times out, answers `421`, is dead by the pace's rule or
//! trips its breaker is marked down while another relay is up: its share goes to the others,
//! and it gets messages again after a backoff (30 s, doubling up to 10 min), starting at a
//! careful pace. The last relay up is never marked down: what would mark it down stops the run
//! instead, as for a single relay (see `docs/sending.md`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::breaker::Breaker;
use super::budget::Budget;
use super::pace::Pace;

/// The first backoff of a relay marked down.
pub const BACKOFF: Duration = Duration::from_secs(30);
/// The longest backoff.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// One relay during a run.
#[derive(Debug)]
pub struct Lane {
    /// Its name in the journal and the budgets.
    pub name: String,
    /// Its share of the messages (0: standby).
    pub weight: u32,
    /// Connections to it; `None`: the run's concurrency.
    pub concurrency: Option<usize>,
    /// Its spacing and health.
    pub pace: Pace,
    /// Its streaks of sender problems, content rejections and bounces.
    pub breaker: Breaker,
    /// Its quotas, when it has some.
    pub budget: Option<Arc<Budget>>,
    /// Consecutive failed connections.
    pub connect_failures: AtomicUsize,
    /// Accepted by it in this run.
    pub sent: AtomicUsize,
    /// Its first connection failed: it starts the run down.
    pub start_down: bool,
}

impl Lane {
    /// A lane named `name`, paced by `pace`, tripping its breaker after `circuit_breaker`.
    pub fn new(name: &str, pace: Pace, circuit_breaker: usize) -> Self {
        Self {
            name: name.to_owned(),
            weight: 1,
            concurrency: None,
            pace,
            breaker: Breaker::new(circuit_breaker),
            budget: None,
            connect_failures: AtomicUsize::new(0),
            sent: AtomicUsize::new(0),
            start_down: false,
        }
    }

    /// Messages it accepted in this run.
    pub fn sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }
}

/// Which lane takes the next message.
#[derive(Debug, Clone)]
pub struct Selector {
    weights: Vec<i64>,
    current: Vec<i64>,
    down_until: Vec<Option<Instant>>,
    downs: Vec<u32>,
}

impl Selector {
    /// Lanes with these weights, all up.
    pub fn new(weights: &[u32]) -> Self {
        let n = weights.len();
        Self {
            weights: weights.iter().map(|&w| i64::from(w)).collect(),
            current: vec![0; n],
            down_until: vec![None; n],
            downs: vec![0; n],
        }
    }

    /// Whether lane `i` takes messages at `now`.
    pub fn is_up(&self, i: usize, now: Instant) -> bool {
        self.down_until.get(i).is_some_and(|until| until.is_none_or(|t| t <= now))
    }

    /// Whether a lane other than `i` is up at `now`.
    pub fn others_up(&self, i: usize, now: Instant) -> bool {
        (0..self.weights.len()).any(|j| j != i && self.is_up(j, now))
    }

    /// The lane for the next message: among the weighted lanes that are up, the one furthest
    /// behind its share; when none is, a standby (weight 0) that is up. `None`: all are down.
    pub fn pick(&mut self, now: Instant) -> Option<usize> {
        let up: Vec<usize> = (0..self.weights.len()).filter(|&i| self.is_up(i, now)).collect();
        let weighted: Vec<usize> = up.iter().copied().filter(|&i| self.weights[i] > 0).collect();
        let (candidates, weight): (Vec<usize>, fn(i64) -> i64) =
            if weighted.is_empty() { (up, |_| 1) } else { (weighted, |w| w) };
        let total: i64 = candidates.iter().map(|&i| weight(self.weights[i])).sum();
        let mut best: Option<usize> = None;
        for &i in &candidates {
            self.current[i] += weight(self.weights[i]);
            if best.is_none_or(|b| self.current[i] > self.current[b]) {
                best = Some(i);
            }
        }
        let best = best?;
        self.current[best] -= total;
        Some(best)
    }

    /// As [`Self::pick`], but not lane `avoid` (the one that just failed the message) while
    /// another lane is up.
    pub fn pick_avoiding(&mut self, now: Instant, avoid: Option<usize>) -> Option<usize> {
        let Some(avoid) = avoid.filter(|&a| self.others_up(a, now)) else { return self.pick(now) };
        let until = self.down_until[avoid];
        self.down_until[avoid] = Some(now + MAX_BACKOFF);
        let picked = self.pick(now);
        self.down_until[avoid] = until;
        picked
    }

    /// Take lane `i` out until its backoff has passed; returns the backoff.
    pub fn mark_down(&mut self, i: usize, now: Instant) -> Duration {
        let Some(downs) = self.downs.get_mut(i) else { return Duration::ZERO };
        let backoff = BACKOFF.saturating_mul(2u32.saturating_pow((*downs).min(16))).min(MAX_BACKOFF);
        *downs += 1;
        self.down_until[i] = Some(now + backoff);
        self.current[i] = 0;
        backoff
    }

    /// Lane `i` delivered: its next failure backs off from the start again.
    pub fn delivered(&mut self, i: usize) {
        if let Some(downs) = self.downs.get_mut(i) {
            *downs = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picks(selector: &mut Selector, n: usize, now: Instant) -> Vec<usize> {
        (0..n).map(|_| selector.pick(now).unwrap_or(99)).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn messages_are_spread_smoothly_by_weight() {
        let now = Instant::now();
        let mut selector = Selector::new(&[5, 1, 1]);
        assert_eq!(picks(&mut selector, 7, now), [0, 0, 1, 0, 2, 0, 0], "nginx's sequence: no burst of five");
        let mut selector = Selector::new(&[2, 1]);
        let spread = picks(&mut selector, 300, now);
        assert_eq!(spread.iter().filter(|&&i| i == 0).count(), 200);
    }

    #[tokio::test(start_paused = true)]
    async fn a_down_relay_gives_its_share_to_the_others_and_comes_back_after_its_backoff() {
        let now = Instant::now();
        let mut selector = Selector::new(&[1, 1, 1]);
        assert_eq!(selector.mark_down(1, now), BACKOFF);
        assert!(selector.others_up(1, now) && !selector.is_up(1, now));
        assert_eq!(picks(&mut selector, 4, now), [0, 2, 0, 2]);
        let later = now + BACKOFF;
        assert!(selector.is_up(1, later));
        assert!(picks(&mut selector, 3, later).contains(&1), "back after its backoff");
        assert_eq!(selector.mark_down(1, later), BACKOFF * 2, "down again: twice as long");
        selector.delivered(1);
        assert_eq!(selector.mark_down(1, later), BACKOFF, "a delivery in between starts the backoff afresh");
        for _ in 0..10 {
            selector.mark_down(0, now);
        }
        assert_eq!(selector.mark_down(0, now), MAX_BACKOFF);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_goes_to_another_relay_while_one_is_up() {
        let now = Instant::now();
        let mut selector = Selector::new(&[1, 1, 1]);
        assert!((0..6).all(|_| selector.pick_avoiding(now, Some(2)) != Some(2)));
        selector.mark_down(0, now);
        selector.mark_down(1, now);
        assert_eq!(selector.pick_avoiding(now, Some(2)), Some(2), "the only one up");
        assert!(selector.is_up(2, now));
    }

    #[tokio::test(start_paused = true)]
    async fn a_standby_takes_messages_only_while_every_weighted_relay_is_down() {
        let now = Instant::now();
        let mut selector = Selector::new(&[1, 0]);
        assert_eq!(picks(&mut selector, 3, now), [0, 0, 0]);
        selector.mark_down(0, now);
        assert_eq!(picks(&mut selector, 2, now), [1, 1]);
        selector.mark_down(1, now);
        assert_eq!(selector.pick(now), None, "every relay down");
        assert!(!selector.others_up(0, now));
    }
}
