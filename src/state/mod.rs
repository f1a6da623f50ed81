//! The project's state: a SQLite database at `.letterpress/state.db` (git-ignored), or a
//! PostgreSQL database when `state.url` names one ([`Store`]; see [`db`] for how one SQL text
//! serves both, and `docs/state.md`).
//!
//! It owns the suppression list (`suppressions.rs`: addresses that must not be mailed, globally
//! or for one list) and the delivery journal ([`journal`]: one row per issue and recipient).
//! Enters: the database's path and plain values (addresses, scopes, reasons, timestamps read
//! from [`crate::clock`] by the caller; nothing here reads the clock). Leaves: [`Suppression`]s,
//! yes/no answers, and the suppressed set of a list for computing an audience in one pass.
//!
//! [`State::open`] creates the directory and the file (mode 0600 on Unix: it holds addresses), sets WAL,
//! `synchronous = NORMAL`, a 5 s busy timeout (a second process waits rather than fails) and
//! foreign keys, then runs pending [`migrations`] in one transaction.
//!
//! Errors: `error.rs` has no variant for a database, so a file that is not a state database, or
//! was written by a newer letterpress, is an [`Error::Invalid`] diagnostic located at the file
//! with a recovery hint; every other SQLite failure is an [`Error::Io`] on the file, whose reason
//! is SQLite's message ("failed to update `…/state.db`: database is locked").

mod backup;
pub mod bounces;
pub mod budgets;
pub mod clicks;
mod copy;
pub mod db;
pub mod journal;
pub mod keys;
mod migrations;
mod open;
pub mod pg;
pub mod signups;
mod suppressions;
#[cfg(test)]
pub(crate) mod testing;
pub mod welcome;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::ErrorCode;

pub use bounces::{BounceCounts, BounceEvent, EventFilter, JournalRow, NewEvent};
pub use clicks::{ClickCount, ClickTarget, IssueClicks, LinkCounts};
pub use journal::{Counts, Delivery, DeliveryStatus, NewRecipient, Recovered, SendRecord, SendState, Update};
pub use migrations::LATEST as SCHEMA_VERSION;
pub use open::Store;
pub use signups::{NewSignup, Signup};
pub use suppressions::{MAX_NOTE_CHARS, Reason, Scope, Suppression, check_note};

use db::{Conn, DbError, FromColumn, Value, params};

use crate::diagnostic::{Diagnostic, Location};
use crate::error::Error;

/// The state directory's name at the project root.
pub const DIR: &str = ".letterpress";

/// The database's file name inside [`DIR`].
pub const FILE_NAME: &str = "state.db";

/// The state database's path for a project root.
pub fn path_in(root: &Path) -> PathBuf {
    root.join(DIR).join(FILE_NAME)
}

/// How long a process waits for another one's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Run `step` again while SQLite answers `SQLITE_BUSY`, for up to [`BUSY_TIMEOUT`].
///
/// The busy timeout covers ordinary lock waits, but SQLite returns `SQLITE_BUSY` at once, without
/// calling the busy handler, where waiting could deadlock: two connections that both read a new
/// database and both want the exclusive lock that switching it to WAL takes. One of them must
/// let go and try again, which is what this does.
fn retry_busy<T>(mut step: impl FnMut() -> Result<T, DbError>) -> Result<T, DbError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        match step() {
            Err(DbError::Sqlite(e))
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            done => return done,
        }
    }
}

/// An open state database.
#[derive(Debug)]
pub struct State {
    conn: Conn,
    path: PathBuf,
    shown: PathBuf,
}

impl State {
    /// Re-key every row of issue `from` to `to` (`rename`): in every table with an `issue`
    /// column (the journal's sends and deliveries, and any later table keyed the same way), in
    /// one transaction, so the journal follows the issue or stays where it was. Refused if `to`
    /// already has rows. Returns how many rows moved.
    pub fn rename_issue(&self, from: &str, to: &str) -> Result<usize, Error> {
        let run = || -> Result<Result<usize, String>, DbError> {
            let tx = self.conn.begin(true)?;
            let tables_with_issue = match self.conn.backend() {
                db::Backend::Sqlite => {
                    "SELECT m.name FROM sqlite_schema AS m JOIN pragma_table_info(m.name) AS c
                     WHERE m.type = 'table' AND c.name = 'issue' ORDER BY m.name"
                }
                db::Backend::Postgres => {
                    "SELECT CAST(table_name AS TEXT) FROM information_schema.columns
                     WHERE table_schema = current_schema() AND column_name = 'issue' ORDER BY table_name"
                }
            };
            let tables: Vec<String> = self.conn.query(tables_with_issue, &[], |row| row.get(0))?;
            let mut moved = 0;
            for table in &tables {
                let quoted = table.replace('"', "\"\"");
                let taken: bool = self.conn.query_value(
                    &format!("SELECT EXISTS (SELECT 1 FROM \"{quoted}\" WHERE issue = ?1)"),
                    params![to],
                )?;
                if taken {
                    return Ok(Err(table.clone()));
                }
                moved += self
                    .conn
                    .execute(&format!("UPDATE \"{quoted}\" SET issue = ?2 WHERE issue = ?1"), params![from, to])?;
            }
            tx.commit()?;
            Ok(Ok(moved))
        };
        match run().map_err(|e| self.error("update", e))? {
            Ok(moved) => Ok(moved),
            Err(_) => Err(Error::usage(format!("the state store already has a journal for `{to}`"))),
        }
    }

    fn error(&self, action: &'static str, error: DbError) -> Error {
        sql_error(action, &self.path, &self.shown, error)
    }
}

/// An RFC 3339 `TEXT` column.
struct Stamp(Timestamp);

impl FromColumn for Stamp {
    fn from_value(value: Value) -> Result<Self, String> {
        String::from_value(value)?.parse().map(Stamp).map_err(|e: jiff::Error| e.to_string())
    }
}

fn sql_error(action: &'static str, path: &Path, shown: &Path, error: DbError) -> Error {
    let code = match &error {
        DbError::Sqlite(e) => e.sqlite_error_code(),
        _ => None,
    };
    match code {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Error::Invalid(vec![
            Diagnostic::error("state/corrupt", "this file is not a letterpress state database, or it is damaged")
                .in_file(Location::new(shown, 1, 1))
                .help(format!(
                    "move it aside (e.g. `mv {0} {0}.broken`) and letterpress will create a new one; \
                     the suppressions and delivery journal it held are lost unless you restore them from a \
                     backup (without the journal, a resumed send cannot tell who already received an issue)",
                    shown.display()
                )),
        ]),
        _ => Error::io(action, path, io::Error::other(error)),
    }
}

fn newer(shown: &Path, version: i64) -> Error {
    Error::Invalid(vec![
        Diagnostic::error(
            "state/newer-schema",
            format!("this state database was written by a newer letterpress (schema {version})"),
        )
        .in_file(Location::new(shown, 1, 1))
        .help(format!(
            "upgrade letterpress or restore a backup of `{}` (this letterpress knows schema {})",
            shown.display(),
            migrations::LATEST
        )),
    ])
}

#[cfg(test)]
mod tests;
