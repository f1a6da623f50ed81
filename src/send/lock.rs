//! One send at a time per project: an exclusive advisory lock on `.letterpress/send.lock`.
//!
//! A second `send --due` from cron finds the lock held and exits at once with its own exit code
//! (4) and a one-line message; the operating system releases the lock when the holder exits,
//! even after `kill -9`.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};

/// The lock file's name in the state directory.
pub const FILE_NAME: &str = "send.lock";

/// Held for as long as the value lives.
#[derive(Debug)]
pub struct SendLock {
    _file: File,
}

/// Take the send lock in `state_dir`, or fail with [`Error::Locked`] if another process has it.
pub fn acquire(state_dir: &Path) -> Result<SendLock> {
    match crate::fsutil::try_lock_file(state_dir, FILE_NAME)? {
        Some(file) => Ok(SendLock { _file: file }),
        None => Err(Error::Locked { path: state_dir.join(FILE_NAME) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path()).unwrap();
        assert!(matches!(acquire(dir.path()), Err(Error::Locked { .. })));
        drop(first);
        assert!(acquire(dir.path()).is_ok());
    }
}
