//! One send at a time per project: an exclusive advisory lock on `.letterpress/send.lock`, or,
//! with a PostgreSQL state store, PostgreSQL's session advisory lock held by a connection of its
//! own for the whole run — except that on PostgreSQL several `send` processes may share one
//! send ([`acquire_sender`]).
//!
//! A second `send --due` from cron finds the lock held and exits at once with its own exit code
//! (4) and a one-line message; the lock is released when the holder exits, even after `kill -9`
//! (the operating system closes the file, or the connection, and PostgreSQL ends the session).
//!
//! Sharing on PostgreSQL: the first sender takes the send lock exclusively and sets the send up
//! (the audience into the journal, recovery of dead runs' rows), then holds it *shared* while it
//! sends. A sender that finds it held shared joins that running send; one that finds it held
//! exclusively waits (up to the store's lock timeout) for the set-up to end. Every run also holds
//! the advisory lock `(RUN_LOCKS, run id)`, which tells the journal its claims are alive (see
//! `state/journal/claim.rs`). At the end, the last sender out (the one that gets the lock
//! exclusively again) records the send's end.
//!
//! A run whose lock session ends while the process lives (the connection to the database cut,
//! its backend terminated) has lost both locks: the others now see it as dead and may claim its
//! rows. Its journal checks the run lock before each claim ([`crate::state::State::run_alive`]),
//! so it claims and hands out nothing more, finishes what is in flight and stops with [`lost`].

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::state::journal::{RUN_LOCKS, new_run_id};
use crate::state::pg::SEND_LOCK;
use crate::state::{State, Store};

/// The lock file's name in the state directory.
pub const FILE_NAME: &str = "send.lock";

/// Held for as long as the value lives.
#[derive(Debug)]
pub struct SendLock {
    held: Held,
    run: i64,
    role: Role,
}

#[derive(Debug)]
enum Held {
    File(#[allow(dead_code, reason = "held, never read")] File),
    Session(State),
}

/// What this holder may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It holds the lock alone: it sets the send up (and, on PostgreSQL, may share it after).
    Alone,
    /// It holds the lock shared with other senders of a send that is set up and running.
    Sharing,
}

/// Take the send lock in `state_dir`, or fail with [`Error::Locked`] if another process has it.
pub fn acquire(state_dir: &Path) -> Result<SendLock> {
    match crate::fsutil::try_lock_file(state_dir, FILE_NAME)? {
        Some(file) => Ok(SendLock { held: Held::File(file), run: new_run_id()?, role: Role::Alone }),
        None => Err(Error::Locked { path: state_dir.join(FILE_NAME) }),
    }
}

/// The answer to a sender that finds the send lock held (by another issue's send, say).
pub(super) fn locked(store: &Store) -> Error {
    Error::Locked { path: PathBuf::from(format!("{} (its send lock)", store.path().display())) }
}

/// Why a run stopped early when its lock session ended (the connection holding the send and
/// run locks dropped, or its backend was terminated): PostgreSQL let its locks go, so its
/// claimed rows are free to other senders; it claims and hands out nothing more and finishes
/// only the messages already in flight.
pub fn lost() -> Error {
    Error::Incomplete {
        message: "this run lost its send lock (the PostgreSQL session holding it ended; check the connection to the \
                  database), so it finished only the messages in flight; the other senders, or the next `send`, \
                  deliver the rest"
            .to_owned(),
    }
}

/// Take the send lock of `store` alone: the file lock in `state_dir` for SQLite, the session
/// lock on PostgreSQL (on every host sharing the database).
pub fn acquire_for(store: &Store, state_dir: &Path) -> Result<SendLock> {
    if !store.is_postgres() {
        return acquire(state_dir);
    }
    let session = State::open_store(store)?;
    if session.try_session_lock(SEND_LOCK)? { with_run(session, Role::Alone) } else { Err(locked(store)) }
}

/// Take the send lock of `store` for a sender of an issue: alone when it is free (SQLite: only
/// then), or on PostgreSQL shared with the senders of a running send. [`SendLock::role`] says
/// which; a sharing holder must not set the send up (the holder alone did) — it only sends.
pub fn acquire_sender(store: &Store, state_dir: &Path) -> Result<SendLock> {
    if !store.is_postgres() {
        return acquire(state_dir);
    }
    let session = State::open_store(store)?;
    if session.try_session_lock(SEND_LOCK)? {
        return with_run(session, Role::Alone);
    }
    // Held: shared by senders (join them), or alone by one setting up (wait for it to share).
    let shared = session.session_lock_call("pg_try_advisory_lock_shared(?1)", &[SEND_LOCK])?
        || session
            .session_lock_call("true FROM (SELECT pg_advisory_lock_shared(?1)) AS held", &[SEND_LOCK])
            .map_err(|_| locked(store))?;
    if !shared {
        return Err(locked(store));
    }
    // Everyone else may have left between the two: then this one is alone after all.
    if session.try_session_lock(SEND_LOCK)? {
        session.session_lock_call("pg_advisory_unlock_shared(?1)", &[SEND_LOCK])?;
        return with_run(session, Role::Alone);
    }
    with_run(session, Role::Sharing)
}

/// Take a fresh run's lock on `session`.
fn with_run(session: State, role: Role) -> Result<SendLock> {
    loop {
        let run = new_run_id()?;
        if session.session_lock_call("pg_try_advisory_lock(?1, CAST(?2 AS INTEGER))", &[RUN_LOCKS.into(), run])? {
            return Ok(SendLock { held: Held::Session(session), run, role });
        }
    }
}

impl SendLock {
    /// This run's id (the journal's `claimed_by`).
    pub fn run(&self) -> i64 {
        self.run
    }

    /// Whether this holder sets the send up or joins one.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Let other senders join (PostgreSQL, after the set-up): the lock is held shared from now.
    pub fn share(&mut self) -> Result<()> {
        if let Held::Session(session) = &self.held
            && self.role == Role::Alone
        {
            session.session_lock_call("pg_try_advisory_lock_shared(?1)", &[SEND_LOCK])?;
            session.session_lock_call("pg_advisory_unlock(?1)", &[SEND_LOCK])?;
            self.role = Role::Sharing;
        }
        Ok(())
    }

    /// At the end of this run's work: whether it is the last sender out, which records the
    /// send's end. Always on SQLite or when never shared; on PostgreSQL the holder lets the
    /// shared lock go and tries to take it alone (of two finishing together, at least one gets it).
    pub fn last_out(&mut self) -> Result<bool> {
        let Held::Session(session) = &self.held else { return Ok(true) };
        if self.role == Role::Alone {
            return Ok(true);
        }
        if session.session_lock_call("pg_advisory_unlock_shared(?1)", &[SEND_LOCK]).is_err() {
            // The session is gone, and its locks with it: this run is no one's last out.
            return Ok(false);
        }
        let alone = session.try_session_lock(SEND_LOCK)?;
        if alone {
            self.role = Role::Alone;
        }
        Ok(alone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::Fresh;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path()).unwrap();
        assert!(matches!(acquire(dir.path()), Err(Error::Locked { .. })));
        drop(first);
        assert!(acquire(dir.path()).is_ok());
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn on_postgres_a_second_holder_is_refused_until_the_first_session_ends() {
        let t = Fresh::postgres();
        let first = acquire_for(&t.store, t.dir.path()).unwrap();
        let second = acquire_for(&t.store, t.dir.path());
        assert!(
            matches!(&second, Err(Error::Locked { path }) if path.to_string_lossy().contains("send lock")),
            "{second:?}"
        );
        assert!(acquire(t.dir.path()).is_ok(), "the file lock is not the one taken");
        drop(first);
        assert!(acquire_for(&t.store, t.dir.path()).is_ok());
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn on_postgres_senders_share_after_the_set_up_and_the_last_out_records_the_end() {
        let t = Fresh::postgres();
        let mut first = acquire_sender(&t.store, t.dir.path()).unwrap();
        assert_eq!(first.role(), Role::Alone);
        first.share().unwrap();
        let mut second = acquire_sender(&t.store, t.dir.path()).unwrap();
        assert_eq!(second.role(), Role::Sharing);
        assert_ne!(first.run(), second.run());
        let live = t.open().live_runs().unwrap();
        assert!(live.contains(&first.run()) && live.contains(&second.run()), "{live:?}");
        // While senders share, nothing else takes the lock alone.
        assert!(matches!(acquire_for(&t.store, t.dir.path()), Err(Error::Locked { .. })));
        assert!(!first.last_out().unwrap(), "the second is still sending");
        assert!(second.last_out().unwrap(), "the second is the last out");
    }

    #[test]
    fn on_sqlite_a_second_sender_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let store = Store::sqlite(&path, &path);
        let mut first = acquire_sender(&store, dir.path()).unwrap();
        assert_eq!(first.role(), Role::Alone);
        first.share().unwrap();
        assert!(matches!(acquire_sender(&store, dir.path()), Err(Error::Locked { .. })));
        assert!(first.last_out().unwrap());
    }
}
