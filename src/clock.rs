//! The only place that reads the wall clock.
//!
//! Commands receive a [`Clock`] and ask it for the time, so tests can pin it. The environment
//! variable `LETTERPRESS_NOW` (an RFC 3339 timestamp) pins the clock for a whole process, which
//! is how the CLI tests and reproducible runs fix "today".

use jiff::{Timestamp, Zoned, tz::TimeZone};

/// A source of the current time.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    fixed: Option<Timestamp>,
}

impl Clock {
    /// The real clock, unless `LETTERPRESS_NOW` pins it.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var("LETTERPRESS_NOW") {
            Ok(value) => value
                .parse::<Timestamp>()
                .map(Self::fixed)
                .map_err(|e| format!("`LETTERPRESS_NOW` is not an RFC 3339 timestamp: {e}")),
            Err(_) => Ok(Self { fixed: None }),
        }
    }

    /// A clock stopped at `at`.
    pub fn fixed(at: Timestamp) -> Self {
        Self { fixed: Some(at) }
    }

    /// The current instant, to the second (what files and the state store record).
    #[allow(clippy::disallowed_methods, reason = "this is the one place allowed to read the clock")]
    pub fn now(&self) -> Timestamp {
        let now = self.fixed.unwrap_or_else(Timestamp::now);
        Timestamp::from_second(now.as_second()).unwrap_or(now)
    }

    /// The current time in the system's time zone (UTC when pinned, for reproducibility).
    pub fn now_local(&self) -> Zoned {
        let tz = if self.fixed.is_some() { TimeZone::UTC } else { TimeZone::system() };
        self.now().to_zoned(tz)
    }
}

/// Elapsed time from a start, on the monotonic clock: what budgets and timeouts measure, never
/// shown to anyone and unaffected by `LETTERPRESS_NOW` or the wall clock being set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopwatch {
    started: std::time::Instant,
}

impl Stopwatch {
    /// A stopwatch started now.
    pub fn start() -> Self {
        Self { started: std::time::Instant::now() }
    }

    /// Time since [`Stopwatch::start`].
    pub fn elapsed(&self) -> std::time::Duration {
        self.started.elapsed()
    }
}
