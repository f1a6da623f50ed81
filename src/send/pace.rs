//! Pacing one relay like TCP paces a connection, and telling when the relay is dead.
//!
//! [`Pace`] spaces messages at a rate (none: as fast as the workers go). A slow-down reply
//! (421/450/451/454, 4.7.x) cuts the rate to 70 % — once per round trip: replies to messages that
//! started before the last decrease do not count again (multiplicative decrease). Each success
//! adds to it (additive increase): back to the rate of the last decrease within
//! [`RECOVER_IN`] successes, then probing beyond it by 1/[`RECOVER_IN`] of the rate per
//! success, until the workers, not the pace, are the limit and pacing switches off (or the
//! configured `rate` caps it). So a relay that slows down some messages at random costs a
//! quarter of the throughput on average, not all of it, and a relay with a hard per-second
//! quota is held near it.
//!
//! The same record decides when the relay is dead (see `docs/sending.md`): every one of the
//! last [`DEAD_AFTER`] attempts refused temporarily with the pace at its slowest, or no
//! success for [`DEAD_SILENCE`] while attempts keep failing. Postfix does the same with a
//! destination and defers its queue; the engine stops the run.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The slowest pace: one message every two seconds.
pub const FLOOR_RATE: f64 = 0.5;
/// The pace a run starts at after the relay was found dead (messages per second); it grows
/// by a quarter per success from there until the first slow-down reply (slow start).
pub const CAREFUL_RATE: f64 = 1.0;
/// What a slow-down reply leaves of the rate (CUBIC's 0.7: a decrease by half, as Reno's, lets a
/// relay slowing down 5 % of messages at random drag the rate down for long stretches).
pub const DECREASE: f64 = 0.7;
/// Successes to recover from a decrease to the rate before it.
pub const RECOVER_IN: f64 = 16.0;
/// Temporary refusals in a row, at the slowest pace, that make the relay dead.
pub const DEAD_AFTER: u32 = 20;
/// No success for this long, with attempts failing, makes the relay dead whatever the pace.
pub const DEAD_SILENCE: Duration = Duration::from_secs(60);
/// Successes remembered to measure the workers' own rate.
const SAMPLES: usize = 32;

/// Message spacing across the workers of one relay, and its health.
#[derive(Debug)]
pub struct Pace {
    ceiling: Option<f64>,
    state: Mutex<PaceState>,
}

#[derive(Debug)]
struct PaceState {
    /// Messages per second; `None`: unpaced.
    rate: Option<f64>,
    /// The rate of the last decrease, to recover to (0: none yet, probe from the start).
    target: f64,
    last_decrease: Option<Instant>,
    /// The last turn given.
    last: Option<Instant>,
    /// When the last successes came, to measure the rate the workers reach unpaced.
    successes: VecDeque<Instant>,
    /// The rate the workers reached unpaced, measured on successes that all came unpaced (the
    /// window is cleared when pacing switches off: successes that came paced measure the pace).
    capacity: Option<f64>,
    /// Temporary refusals since the last success.
    streak: u32,
    /// The last success, or when the pace was made.
    last_success: Instant,
}

impl Pace {
    /// Spacing for at most `ceiling` messages per second (none: as fast as the workers go).
    pub fn new(ceiling: Option<f64>) -> Self {
        Self::starting_at(ceiling, ceiling)
    }

    /// As [`Self::new`], starting at [`CAREFUL_RATE`]: the relay was dead at the end of the
    /// last run.
    pub fn careful(ceiling: Option<f64>) -> Self {
        Self::starting_at(ceiling, Some(ceiling.map_or(CAREFUL_RATE, |c| c.min(CAREFUL_RATE))))
    }

    /// Whether the relay asked to slow down and the pace is below its ceiling now.
    pub fn slowed(&self) -> bool {
        let rate = self.state.lock().ok().and_then(|s| s.rate);
        match (rate, self.ceiling) {
            (Some(rate), Some(ceiling)) => rate < ceiling,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Start again at [`CAREFUL_RATE`]: the relay was marked down and is coming back.
    pub fn restart_careful(&self) {
        let fresh = Self::careful(self.ceiling).state.into_inner().ok();
        if let (Ok(mut state), Some(fresh)) = (self.state.lock(), fresh) {
            *state = fresh;
        }
    }

    fn starting_at(ceiling: Option<f64>, rate: Option<f64>) -> Self {
        let state = PaceState {
            rate,
            target: 0.0,
            last_decrease: None,
            last: None,
            successes: VecDeque::with_capacity(SAMPLES),
            capacity: None,
            streak: 0,
            last_success: Instant::now(),
        };
        Self { ceiling, state: Mutex::new(state) }
    }

    /// Wait for this worker's turn.
    pub async fn wait(&self) {
        let slot = {
            let Ok(mut state) = self.state.lock() else { return };
            let Some(rate) = state.rate else {
                state.last = None;
                return;
            };
            // From the last turn at today's rate: a rate raised since then counts at once.
            let now = Instant::now();
            let slot = state.last.map_or(now, |last| (last + Duration::from_secs_f64(1.0 / rate)).max(now));
            state.last = Some(slot);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// The relay asked to slow down, in reply to a message that started at `started`: cut
    /// the rate, unless it was already cut after that message started.
    pub fn throttle(&self, started: Instant) {
        if let Ok(mut state) = self.state.lock() {
            Self::decrease(&mut state, started, self.ceiling);
        }
    }

    fn decrease(state: &mut PaceState, started: Instant, ceiling: Option<f64>) {
        if state.last_decrease.is_some_and(|at| started < at) {
            return;
        }
        // Cut from what is really sent: unpaced, the workers' rate; paced above it, not the pace
        // (a cut that still leaves the pace above the workers would slow nothing down).
        let current = match (state.rate, state.capacity) {
            (Some(rate), Some(capacity)) => rate.min(capacity),
            (Some(rate), None) => rate,
            (None, capacity) => capacity.or_else(|| measured(&state.successes)).unwrap_or(CAREFUL_RATE * 10.0),
        };
        state.target = current;
        let cut = (current * DECREASE).max(FLOOR_RATE);
        state.rate = Some(ceiling.map_or(cut, |c| cut.min(c)));
        state.last_decrease = Some(Instant::now());
    }

    /// A message went through: speed up.
    pub fn success(&self) {
        let Ok(mut state) = self.state.lock() else { return };
        let now = Instant::now();
        state.streak = 0;
        state.last_success = now;
        if state.successes.len() == SAMPLES {
            state.successes.pop_front();
        }
        state.successes.push_back(now);
        let Some(rate) = state.rate else {
            state.capacity = measured(&state.successes).or(state.capacity);
            return;
        };
        let step = if state.target == 0.0 {
            // Slow start (a careful run, no slow-down yet): a quarter more per success.
            rate / 4.0
        } else if rate < state.target {
            state.target * (1.0 - DECREASE) / RECOVER_IN
        } else {
            rate / RECOVER_IN
        };
        let faster = rate + step;
        // The workers, not the pace, are the limit: above the rate they reached unpaced, or (that
        // unknown, as after a careful start) well above the rate the successes come at.
        let unlimited = match state.capacity {
            Some(capacity) => faster > capacity,
            None => measured(&state.successes).is_some_and(|m| faster > 4.0 * m),
        };
        state.rate = match self.ceiling {
            Some(ceiling) => Some(faster.min(ceiling)),
            None if unlimited => {
                // Stop pacing, and measure the workers afresh: the successes so far came at the
                // pace, and a cut from their rate would start below the last one.
                state.successes.clear();
                None
            }
            None => Some(faster),
        };
    }

    /// A temporary refusal (any 4xx, a lost connection, a failed connect) of a message that
    /// started at `started`. Returns true when the relay is now dead. A long streak slows the
    /// pace down even without slow-down replies, so that it reaches its slowest.
    pub fn failure(&self, started: Instant) -> bool {
        let Ok(mut state) = self.state.lock() else { return false };
        state.streak += 1;
        let at_floor = state.rate.is_some_and(|r| r <= FLOOR_RATE);
        if state.streak >= DEAD_AFTER && !at_floor {
            Self::decrease(&mut state, started, self.ceiling);
        }
        (state.streak >= DEAD_AFTER && at_floor)
            || (state.streak >= 2 && Instant::now().duration_since(state.last_success) >= DEAD_SILENCE)
    }

    /// The current rate (`None`: unpaced).
    #[cfg(test)]
    pub fn rate(&self) -> Option<f64> {
        self.state.lock().ok().and_then(|s| s.rate)
    }
}

/// The rate of the last successes, when enough of them are known.
fn measured(successes: &VecDeque<Instant>) -> Option<f64> {
    let (first, last) = (successes.front()?, successes.back()?);
    if successes.len() < 8 {
        return None;
    }
    let span = last.duration_since(*first).as_secs_f64().max(1e-4);
    Some((successes.len() - 1) as f64 / span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_slow_down_cuts_the_rate_once_per_round_and_successes_bring_it_back() {
        let pace = Pace::new(Some(100.0));
        let started = Instant::now();
        tokio::time::advance(Duration::from_millis(10)).await;
        pace.throttle(started);
        assert_eq!(pace.rate(), Some(70.0));
        pace.throttle(started);
        assert_eq!(pace.rate(), Some(70.0), "a reply to a message from before the decrease: no second cut");
        for _ in 0..15 {
            pace.success();
        }
        assert!(pace.rate().is_some_and(|r| r < 100.0 && r > 95.0), "{:?}", pace.rate());
        pace.success();
        pace.success();
        assert_eq!(pace.rate(), Some(100.0), "recovered within RECOVER_IN successes, capped by `rate`");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unpaced_relay_is_paced_below_its_measured_rate_and_unpaced_again() {
        let pace = Pace::new(None);
        for _ in 0..SAMPLES {
            tokio::time::advance(Duration::from_millis(1)).await;
            pace.success();
        }
        assert_eq!(pace.rate(), None);
        pace.throttle(Instant::now());
        let cut = pace.rate().expect("paced");
        assert!((cut - 700.0).abs() < 1.0, "1,000 a second measured: {cut}");
        let mut n = 0;
        while pace.rate().is_some() {
            tokio::time::advance(Duration::from_millis(1)).await;
            pace.success();
            n += 1;
            assert!(n < 200, "never unpaced again: {:?}", pace.rate());
        }
    }

    /// The spiral a real relay showed (a run at 5 msg/s where the workers do 500): pacing
    /// switched off, a slow-down within a few successes cut from the rate the successes came
    /// at while paced — a quarter of the pace by then — and each round started lower.
    #[tokio::test(start_paused = true)]
    async fn a_slow_down_soon_after_pacing_switches_off_cuts_from_the_workers_rate() {
        let pace = Pace::new(None);
        let worker_rate = 1000.0;
        for _ in 0..SAMPLES {
            tokio::time::advance(Duration::from_millis(1)).await;
            pace.success();
        }
        for round in 0..20 {
            // Unpaced or not, the successes come at the pace or the workers' rate, the slower.
            while pace.rate().is_some() {
                let rate = pace.rate().map_or(worker_rate, |r: f64| r.min(worker_rate));
                tokio::time::advance(Duration::from_secs_f64(1.0 / rate)).await;
                pace.success();
            }
            for _ in 0..3 {
                tokio::time::advance(Duration::from_millis(1)).await;
                pace.success();
            }
            tokio::time::advance(Duration::from_millis(1)).await;
            pace.throttle(Instant::now() - Duration::from_micros(500));
            let cut = pace.rate().expect("paced after a slow-down");
            assert!(cut >= 0.69 * worker_rate, "round {round}: cut to {cut:.0}/s, the workers do {worker_rate}/s");
        }
    }

    /// Paced above what the workers do, a slow-down still slows them down.
    #[tokio::test(start_paused = true)]
    async fn a_slow_down_above_the_workers_rate_cuts_below_it() {
        let pace = Pace::new(None);
        for _ in 0..SAMPLES {
            tokio::time::advance(Duration::from_millis(10)).await;
            pace.success();
        }
        pace.throttle(Instant::now());
        assert!(pace.rate().is_some_and(|r| (r - 70.0).abs() < 1.0), "{:?}", pace.rate());
    }

    #[tokio::test(start_paused = true)]
    async fn a_relay_refusing_everything_is_dead_once_at_the_slowest_pace() {
        let pace = Pace::new(None);
        let mut attempts = 0;
        let dead = loop {
            pace.wait().await;
            let started = Instant::now();
            tokio::time::advance(Duration::from_millis(5)).await;
            pace.throttle(started);
            attempts += 1;
            if pace.failure(started) {
                break attempts;
            }
            assert!(attempts < 200, "never dead");
        };
        assert!(dead >= DEAD_AFTER as usize, "{dead}");
        assert_eq!(pace.rate(), Some(FLOOR_RATE));
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_now_and_then_keeps_the_relay_alive_and_silence_kills_it() {
        let pace = Pace::new(None);
        for i in 0..100 {
            let started = Instant::now();
            tokio::time::advance(Duration::from_millis(10)).await;
            if i % 10 == 0 {
                pace.success();
            } else {
                assert!(!pace.failure(started), "alive at {i}");
            }
        }
        let silent = Pace::new(Some(10.0));
        tokio::time::advance(DEAD_SILENCE).await;
        assert!(!silent.failure(Instant::now()), "one failure is not a pattern");
        assert!(silent.failure(Instant::now()), "a minute without success");
    }

    #[tokio::test(start_paused = true)]
    async fn a_careful_start_grows_to_the_workers_rate() {
        let pace = Pace::careful(None);
        assert_eq!(pace.rate(), Some(CAREFUL_RATE));
        let start = Instant::now();
        let mut sent = 0;
        while pace.rate().is_some() {
            pace.wait().await;
            tokio::time::advance(Duration::from_millis(1)).await;
            pace.success();
            sent += 1;
            assert!(sent < 1000);
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{:?} for {sent}", start.elapsed());
    }

    /// The target: a relay answering 5 % of messages with a slow-down keeps at least
    /// half the throughput of a healthy one (virtual time; 8 workers, 2 ms a message).
    #[tokio::test(start_paused = true)]
    async fn five_percent_random_slow_downs_keep_half_the_throughput() {
        async fn run(every: Option<u64>) -> f64 {
            let pace = std::sync::Arc::new(Pace::new(None));
            let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let start = Instant::now();
            let workers: Vec<_> = (0..8)
                .map(|w| {
                    let (pace, count) = (pace.clone(), count.clone());
                    tokio::spawn(async move {
                        let mut seed = 0x9e37_79b9_u64 + w;
                        while start.elapsed() < Duration::from_secs(20) {
                            pace.wait().await;
                            let started = Instant::now();
                            tokio::time::sleep(Duration::from_millis(2)).await;
                            seed ^= seed << 13;
                            seed ^= seed >> 7;
                            seed ^= seed << 17;
                            if every.is_some_and(|n| seed.is_multiple_of(n)) {
                                pace.throttle(started);
                                pace.failure(started);
                            } else {
                                pace.success();
                                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for w in workers {
                w.await.unwrap();
            }
            count.load(std::sync::atomic::Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
        }
        let healthy = run(None).await;
        let throttled = run(Some(20)).await;
        eprintln!("5 % slow-downs: {throttled:.0}/s against {healthy:.0}/s healthy (virtual time)");
        assert!(throttled >= 0.5 * healthy, "{throttled:.0}/s against {healthy:.0}/s");
    }
}
