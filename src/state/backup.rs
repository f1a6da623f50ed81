//! `letterpress state backup FILE`: a consistent copy of the SQLite store, taken while sends,
//! `serve` and bounce reading go on.
//!
//! Enters: an open store and the file to write. Leaves: FILE, a complete SQLite database as of
//! one moment (`VACUUM INTO` reads one snapshot of the WAL database, so writers carry on and
//! the copy holds every transaction committed before it began and none after), created
//! atomically and private ([`crate::fsutil::create_private_with`]): a failure leaves FILE as it
//! was.

use std::path::Path;

use super::State;
use super::db::params;
use crate::error::Error;

impl State {
    /// Write a consistent copy of the store to `file` (replacing it). Returns its size in bytes.
    pub fn backup(&self, file: &Path) -> Result<u64, Error> {
        crate::fsutil::create_private_with(file, |temp| {
            let target = temp.to_str().ok_or_else(|| {
                Error::usage(format!("`{}`: the backup's directory must have a UTF-8 path", file.display()))
            })?;
            self.conn.execute("VACUUM INTO ?1", params![target]).map_err(|e| self.error("back up", e))?;
            Ok(())
        })?;
        std::fs::metadata(file).map(|m| m.len()).map_err(|e| Error::io("read", file, e))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};

    use jiff::Timestamp;

    use super::*;
    use crate::state::{Reason, Scope};

    #[test]
    fn a_backup_taken_during_writes_is_a_complete_store_of_one_moment() {
        let dir = tempfile::tempdir().unwrap();
        let path = super::super::path_in(dir.path());
        let state = State::open(&path, Path::new("state.db")).unwrap();
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        state.suppress("first@example.org", &Scope::All, Reason::Manual, "cli", at).unwrap();
        let done = AtomicBool::new(false);
        let backups = dir.path().join("backups/state.db");
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                let state = State::open(&path, Path::new("state.db")).unwrap();
                let mut n = 0;
                // Writes in transactions of two rows each, until the backups are done (and at
                // least a few, so a backup overlaps writes).
                while !done.load(Ordering::Relaxed) || n < 50 {
                    state
                        .atomically(|s| {
                            s.suppress(&format!("a{n}@example.org"), &Scope::All, Reason::Manual, "cli", at)?;
                            s.suppress(&format!("b{n}@example.org"), &Scope::All, Reason::Manual, "cli", at)
                        })
                        .unwrap();
                    n += 1;
                }
                n
            });
            for _ in 0..5 {
                state.backup(&backups).unwrap();
                let copy = State::open(&backups, Path::new("copy.db")).unwrap();
                let rows = copy.suppressions().unwrap();
                assert!(rows.iter().any(|s| s.address == "first@example.org"));
                assert_eq!(rows.len() % 2, 1, "never half a transaction: {} rows", rows.len());
            }
            done.store(true, Ordering::Relaxed);
            let written = writer.join().unwrap();
            assert!(written >= 50);
        });
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&backups).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let leftovers = std::fs::read_dir(dir.path().join("backups"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".letterpress-"))
            .count();
        assert_eq!(leftovers, 0, "no temporary file left behind");
    }
}
