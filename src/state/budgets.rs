//! Sending quotas (`sending.limits`, a relay's `limits`), counted in the state store so that
//! every process on the project — two `send` runs, `send --test`, `serve`'s confirmation mails —
//! draws on the same budget, across runs and restarts.
//!
//! Enters: a relay's name, its limits, how many messages a process wants and the time. Leaves:
//! how many it may send now, or which budget is used up and when it frees up. Each limit counts
//! in a fixed window (the current second, minute, hour, or UTC day). A reservation reads and
//! raises every window's count in one `IMMEDIATE` transaction, so two processes racing for the
//! last messages of a budget never get more than it holds between them.

use jiff::Timestamp;

use super::db::{Conn, DbError, params};
use serde::Serialize;

use super::State;
use crate::error::Error;

/// The window a limit counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Window {
    /// `per-second`.
    Second,
    /// `per-minute`.
    Minute,
    /// `per-hour`.
    Hour,
    /// `per-day`: the UTC day.
    Day,
}

impl Window {
    /// The window's length in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3600,
            Self::Day => 86_400,
        }
    }

    /// The name stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    /// The configuration key, `per-day`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Second => "per-second",
            Self::Minute => "per-minute",
            Self::Hour => "per-hour",
            Self::Day => "per-day",
        }
    }

    /// The first second of the window `at` falls in.
    fn start(self, at: Timestamp) -> i64 {
        at.as_second().div_euclid(self.seconds()) * self.seconds()
    }

    /// When the window `at` falls in ends.
    pub fn resets_at(self, at: Timestamp) -> Timestamp {
        Timestamp::from_second(self.start(at) + self.seconds()).unwrap_or(at)
    }
}

/// At most `max` messages per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limit {
    /// The window.
    pub window: Window,
    /// Messages in it.
    pub max: u64,
}

/// The answer to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// This many messages may go now (at least one, at most what was asked).
    Granted(u64),
    /// A budget is used up.
    Exhausted {
        /// Which.
        limit: Limit,
        /// When it frees up.
        resets_at: Timestamp,
    },
}

/// One budget's use, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Use {
    /// The relay.
    pub relay: String,
    /// The limit.
    pub limit: Limit,
    /// Used in the current window.
    pub used: u64,
    /// When the current window ends.
    pub resets_at: Timestamp,
}

impl State {
    /// Reserve up to `want` messages of `relay`'s budgets at `at`: as many as every limit
    /// still allows, or which limit is used up. Atomic across processes.
    pub fn reserve(&self, relay: &str, limits: &[Limit], want: u64, at: Timestamp) -> Result<Reserved, Error> {
        if limits.is_empty() || want == 0 {
            return Ok(Reserved::Granted(want));
        }
        let run = |conn: &Conn| -> Result<Reserved, DbError> {
            // `&self`, so that `serve`'s shared connections reserve too; dropped uncommitted on
            // an early return, which rolls back. The write lock (SQLite's, or the advisory one
            // on PostgreSQL) is taken at `begin`, before the read: two processes never both
            // read the same budget left.
            let tx = conn.begin(true)?;
            let mut granted = want;
            for limit in limits {
                let used = used(conn, relay, limit.window, at)?;
                let left = limit.max.saturating_sub(used);
                if left == 0 {
                    return Ok(Reserved::Exhausted { limit: *limit, resets_at: limit.window.resets_at(at) });
                }
                granted = granted.min(left);
            }
            for limit in limits {
                let start = limit.window.start(at);
                conn.execute(
                    "INSERT INTO budgets (relay, \"window\", start, used) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (relay, \"window\") DO UPDATE SET
                        used = CASE WHEN budgets.start = excluded.start THEN budgets.used + excluded.used
                                    ELSE excluded.used END,
                        start = excluded.start",
                    params![relay, limit.window.as_str(), start, count(granted)],
                )?;
            }
            tx.commit()?;
            Ok(Reserved::Granted(granted))
        };
        super::retry_busy(|| run(&self.conn)).map_err(|e| self.error("update the sending budgets in", e))
    }

    /// Give back `n` messages reserved at `reserved_at` and not sent, to the windows that are
    /// still the current ones at `at`.
    pub fn release(
        &self,
        relay: &str,
        limits: &[Limit],
        n: u64,
        reserved_at: Timestamp,
        at: Timestamp,
    ) -> Result<(), Error> {
        if n == 0 {
            return Ok(());
        }
        for limit in limits.iter().filter(|l| l.window.start(reserved_at) == l.window.start(at)) {
            self.conn
                .execute(
                    "UPDATE budgets SET used = CASE WHEN used > ?4 THEN used - ?4 ELSE 0 END
                     WHERE relay = ?1 AND \"window\" = ?2 AND start = ?3",
                    params![relay, limit.window.as_str(), limit.window.start(at), count(n)],
                )
                .map_err(|e| self.error("update the sending budgets in", e))?;
        }
        Ok(())
    }

    /// How much of each of `relay`'s budgets is used at `at`.
    pub fn budget_use(&self, relay: &str, limits: &[Limit], at: Timestamp) -> Result<Vec<Use>, Error> {
        limits
            .iter()
            .map(|limit| {
                let used = used(&self.conn, relay, limit.window, at).map_err(|e| self.error("read", e))?;
                Ok(Use { relay: relay.to_owned(), limit: *limit, used, resets_at: limit.window.resets_at(at) })
            })
            .collect()
    }
}

/// Messages counted in `relay`'s current `window` at `at`.
fn used(conn: &Conn, relay: &str, window: Window, at: Timestamp) -> Result<u64, DbError> {
    let row: Option<(i64, i64)> = conn.query_opt(
        "SELECT start, used FROM budgets WHERE relay = ?1 AND \"window\" = ?2",
        params![relay, window.as_str()],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(match row {
        Some((start, used)) if start == window.start(at) => u64::try_from(used).unwrap_or(0),
        _ => 0,
    })
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::Fresh;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn a_budget_grants_what_is_left_and_resets_with_its_window(t: &Fresh) {
        let state = t.open();
        let limits = [Limit { window: Window::Day, max: 10 }, Limit { window: Window::Minute, max: 4 }];
        let now = at("2026-11-22T09:30:10Z");
        assert_eq!(state.reserve("main", &limits, 3, now).unwrap(), Reserved::Granted(3));
        assert_eq!(state.reserve("main", &limits, 3, now).unwrap(), Reserved::Granted(1), "the minute's last");
        let Reserved::Exhausted { limit, resets_at } = state.reserve("main", &limits, 1, now).unwrap() else {
            panic!("exhausted")
        };
        assert_eq!((limit.window, resets_at), (Window::Minute, at("2026-11-22T09:31:00Z")));
        let later = at("2026-11-22T09:31:00Z");
        assert_eq!(state.reserve("main", &limits, 9, later).unwrap(), Reserved::Granted(4));
        state.release("main", &limits, 2, later, later).unwrap();
        let used = state.budget_use("main", &limits, later).unwrap();
        assert_eq!((used[0].used, used[1].used), (6, 2), "{used:?}");
        assert_eq!(used[0].resets_at, at("2026-11-23T00:00:00Z"));
        assert_eq!(state.reserve("other", &limits, 9, later).unwrap(), Reserved::Granted(4), "per relay");
    }

    fn two_connections_racing_for_the_last_ten_get_ten_between_them(t: &Fresh) {
        let limits = [Limit { window: Window::Day, max: 1000 }];
        let now = at("2026-11-22T09:30:10Z");
        let state = t.open();
        assert_eq!(state.reserve("main", &limits, 990, now).unwrap(), Reserved::Granted(990));
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let store = t.store.clone();
                std::thread::spawn(move || {
                    let state = State::open_store(&store).unwrap();
                    let mut got = 0;
                    while let Reserved::Granted(n) = state.reserve("main", &limits, 1, now).unwrap() {
                        got += n;
                    }
                    got
                })
            })
            .collect();
        let total: u64 = racers.into_iter().map(|r| r.join().unwrap()).sum();
        assert_eq!(total, 10);
        assert_eq!(state.budget_use("main", &limits, now).unwrap()[0].used, 1000, "never past the budget");
    }

    crate::state::testing::both!(
        a_budget_grants_what_is_left_and_resets_with_its_window,
        two_connections_racing_for_the_last_ten_get_ten_between_them,
    );
}
