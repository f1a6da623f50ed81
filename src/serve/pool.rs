//! A small pool of state store connections for request handlers.
//!
//! Enters: where the store is (a SQLite file, or PostgreSQL). Leaves: a [`State`] lent to
//! one closure at a time, on the calling (blocking) thread. Handlers call [`Pool::with`] inside
//! `spawn_blocking`, so SQLite never blocks the async runtime; each connection has the store's
//! WAL mode and 5 s busy timeout, so requests and a running `send` (another process) wait for
//! each other's short write transactions instead of failing. Idle connections are kept up to
//! [`MAX_IDLE`]; under a burst, more are opened and the extra ones closed afterwards.

use std::sync::{Mutex, PoisonError};

use crate::error::Result;
use crate::state::{State, Store};

/// Idle connections kept open between requests.
pub const MAX_IDLE: usize = 16;

/// Open state store connections, lent one per request.
#[derive(Debug)]
pub struct Pool {
    store: Store,
    idle: Mutex<Vec<State>>,
}

impl Pool {
    /// Open the store at `path` once (creating and migrating it if needed) and keep the
    /// connection; an error here means the server cannot work at all.
    pub fn open(store: Store) -> Result<Self> {
        let first = State::open_store(&store)?;
        Ok(Self { store, idle: Mutex::new(vec![first]) })
    }

    /// Open a fresh connection and ask it something: whether the store works right now (for
    /// `/healthz`; an idle connection would keep working after its file was removed).
    pub fn check(&self) -> Result<()> {
        State::open_store(&self.store)?.is_suppressed("healthz@example.invalid", "healthz").map(|_| ())
    }

    /// Run `work` with a connection: an idle one, or a new one when all are busy. Blocks (on
    /// SQLite's busy timeout too): call it from a blocking thread.
    pub fn with<T>(&self, work: impl FnOnce(&State) -> Result<T>) -> Result<T> {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let state = match idle {
            Some(state) => state,
            None => State::open_store(&self.store)?,
        };
        let result = work(&state);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(state);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::Fresh;
    use crate::state::{Reason, Scope};

    fn connections_are_reused_and_see_each_others_writes(t: &Fresh) {
        let pool = Pool::open(t.store.clone()).unwrap();
        let at = jiff::Timestamp::from_second(0).unwrap();
        std::thread::scope(|scope| {
            for i in 0..8 {
                let pool = &pool;
                scope.spawn(move || {
                    let address = format!("reader{i}@example.org");
                    pool.with(|s| s.suppress(&address, &Scope::List("w".to_owned()), Reason::Unsubscribed, "t", at))
                        .unwrap();
                });
            }
        });
        assert_eq!(pool.with(State::suppressions).unwrap().len(), 8);
        let idle = pool.idle.lock().unwrap().len();
        assert!((1..=MAX_IDLE).contains(&idle), "{idle}");
    }

    crate::state::testing::both!(connections_are_reused_and_see_each_others_writes);
}
