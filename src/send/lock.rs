//! One send at a time per project: an exclusive advisory lock on `.letterpress/send.lock`, or,
//! with a PostgreSQL state store, PostgreSQL's session advisory lock held by a connection of its
//! own for the whole run.
//!
//! A second `send --due` from cron finds the lock held and exits at once with its own exit code
//! (4) and a one-line message; the lock is released when the holder exits, even after `kill -9`
//! (the operating system closes the file, or the connection, and PostgreSQL ends the session).

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::state::{State, Store};

/// The lock file's name in the state directory.
pub const FILE_NAME: &str = "send.lock";

/// Held for as long as the value lives.
#[derive(Debug)]
pub struct SendLock {
    _held: Held,
}

#[derive(Debug)]
enum Held {
    File(#[allow(dead_code, reason = "held, never read")] File),
    Session(#[allow(dead_code, reason = "held, never read")] State),
}

/// Take the send lock in `state_dir`, or fail with [`Error::Locked`] if another process has it.
pub fn acquire(state_dir: &Path) -> Result<SendLock> {
    match crate::fsutil::try_lock_file(state_dir, FILE_NAME)? {
        Some(file) => Ok(SendLock { _held: Held::File(file) }),
        None => Err(Error::Locked { path: state_dir.join(FILE_NAME) }),
    }
}

/// Take the send lock of `store`: the file lock in `state_dir` for SQLite, the session lock on
/// PostgreSQL (on every host sharing the database).
pub fn acquire_for(store: &Store, state_dir: &Path) -> Result<SendLock> {
    if !store.is_postgres() {
        return acquire(state_dir);
    }
    let session = State::open_store(store)?;
    if session.try_session_lock(crate::state::pg::SEND_LOCK)? {
        Ok(SendLock { _held: Held::Session(session) })
    } else {
        Err(Error::Locked { path: PathBuf::from(format!("{} (its send lock)", store.path().display())) })
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
}
