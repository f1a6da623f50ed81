//! The project's state: a SQLite database at `.letterpress/state.db` (git-ignored), or a
//! PostgreSQL database when `state.url` names one ([`Store`]; see [`db`] for how one SQL text
//! serves both, and `docs/state.md`).
//!
//! It owns the suppression list (addresses that must not be mailed, globally or for one list)
//! and the delivery journal ([`journal`]: one row per issue and recipient). Enters: the database's path and plain values (addresses,
//! scopes, reasons, timestamps read from [`crate::clock`] by the caller; nothing here reads the
//! clock). Leaves: [`Suppression`]s, yes/no answers, and the suppressed set of a list for
//! computing an audience in one pass.
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
#[cfg(test)]
pub(crate) mod testing;
pub mod welcome;

use std::collections::HashSet;
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

use db::{Conn, DbError, FromColumn, Value, params};

use crate::address::{self, address_key};
use crate::config::is_slug;
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

/// Which lists a suppression applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Every list (stored as `*`).
    All,
    /// One list, by slug.
    List(String),
}

/// Why an address is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The subscriber asked to stop (link, one-click, reply).
    Unsubscribed,
    /// Mail to the address bounced permanently.
    Bounced,
    /// The recipient marked a message as spam.
    Complained,
    /// Added by hand by the publisher.
    Manual,
}

/// One row of the suppression list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Suppression {
    /// The address's duplicate key (see [`crate::address::address_key`]).
    pub address: String,
    /// Every list, or one.
    pub scope: Scope,
    /// Why.
    pub reason: Reason,
    /// Where the suppression came from, e.g. `unsubscribe-link`, `bounce:<message-id>`, `cli`.
    pub source: String,
    /// When it was first recorded.
    pub created_at: Timestamp,
    /// A note the publisher recorded with it (`unsubscribe --note`), if any.
    pub note: Option<String>,
}

/// The longest suppression note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl State {
    /// Suppress `address` for `scope`, recorded as of `at`. Returns whether a new suppression
    /// was recorded: repeating one keeps the first reason, source and time.
    ///
    /// An address that is not valid, or a list that is not a slug, is an [`Error::Usage`].
    pub fn suppress(
        &self,
        address: &str,
        scope: &Scope,
        reason: Reason,
        source: &str,
        at: Timestamp,
    ) -> Result<bool, Error> {
        self.suppress_noted(address, scope, reason, source, None, at)
    }

    /// As [`State::suppress`], with a free-text `note` kept beside the suppression (a repeat keeps
    /// the first record, note included). A note with a control character (a line break, a tab)
    /// or longer than [`MAX_NOTE_CHARS`] characters is an [`Error::Usage`].
    pub fn suppress_noted(
        &self,
        address: &str,
        scope: &Scope,
        reason: Reason,
        source: &str,
        note: Option<&str>,
        at: Timestamp,
    ) -> Result<bool, Error> {
        if let Some(note) = note {
            check_note(note)?;
        }
        let normal = address::parse(address)?;
        if let Scope::List(slug) = scope
            && !is_slug(slug)
        {
            return Err(Error::usage(format!("`{slug}` is not a list name")));
        }
        let added = self
            .conn
            .execute(
                "INSERT INTO suppressions (address, scope, reason, source, created_at, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (address, scope) DO NOTHING",
                params![address_key(&normal), scope.as_str(), reason.as_str(), source, at.to_string(), note],
            )
            .map_err(|e| self.error("update", e))?;
        Ok(added == 1)
    }

    /// Lift suppressions of `address` (a resubscribe): [`Scope::All`] lifts every one, global and
    /// per list; [`Scope::List`] lifts only that list's, so a global one still applies. Returns
    /// how many were lifted.
    pub fn unsuppress(&self, address: &str, scope: &Scope) -> Result<usize, Error> {
        let key = address_key(address);
        let deleted = match scope {
            Scope::All => self.conn.execute("DELETE FROM suppressions WHERE address = ?1", params![&key]),
            Scope::List(slug) => {
                self.conn.execute("DELETE FROM suppressions WHERE address = ?1 AND scope = ?2", params![&key, slug])
            }
        };
        deleted.map_err(|e| self.error("update", e))
    }

    /// Lift only the global suppression of `address` (per-list ones stay). Returns how many
    /// were lifted.
    pub fn unsuppress_global(&self, address: &str) -> Result<usize, Error> {
        let key = address_key(address);
        self.conn
            .execute("DELETE FROM suppressions WHERE address = ?1 AND scope = '*'", params![&key])
            .map_err(|e| self.error("update", e))
    }

    /// Whether `address` must not be mailed through `list`: suppressed globally or for `list`.
    pub fn is_suppressed(&self, address: &str, list: &str) -> Result<bool, Error> {
        self.conn
            .query_opt(
                "SELECT 1 FROM suppressions WHERE address = ?1 AND scope IN ('*', ?2) LIMIT 1",
                params![address_key(address), list],
                |_| Ok(()),
            )
            .map(|found| found.is_some())
            .map_err(|e| self.error("read", e))
    }

    /// The suppressions of one address (any spelling: compared by its key), scope `*` first.
    pub fn suppressions_of(&self, address: &str) -> Result<Vec<Suppression>, Error> {
        self.suppressions_where(Some(&address_key(address)))
    }

    /// Every suppression, ordered by address then scope (`*` first).
    pub fn suppressions(&self) -> Result<Vec<Suppression>, Error> {
        self.suppressions_where(None)
    }

    fn suppressions_where(&self, key: Option<&str>) -> Result<Vec<Suppression>, Error> {
        self.conn
            .query(
                "SELECT address, scope, reason, source, created_at, note FROM suppressions
                 WHERE CAST(?1 AS TEXT) IS NULL OR address = ?1 ORDER BY address, scope",
                params![key],
                |row| {
                    Ok(Suppression {
                        address: row.get(0)?,
                        scope: row.get(1)?,
                        reason: row.get(2)?,
                        source: row.get(3)?,
                        created_at: row.get::<Stamp>(4)?.0,
                        note: row.get(5)?,
                    })
                },
            )
            .map_err(|e| self.error("read", e))
    }

    /// The keys of every address suppressed for `list` (globally or for it), to test each row
    /// of a list against in memory instead of querying per row.
    pub fn suppressed_set(&self, list: &str) -> Result<HashSet<String>, Error> {
        self.conn
            .query("SELECT address FROM suppressions WHERE scope IN ('*', ?1)", params![list], |row| row.get(0))
            .map(HashSet::from_iter)
            .map_err(|e| self.error("read", e))
    }

    /// The keys suppressed for exactly `scope`: [`Scope::All`] gives the global suppressions
    /// only, [`Scope::List`] that list's own (see [`State::suppressed_set`] for both at once).
    pub fn suppressed_keys(&self, scope: &Scope) -> Result<HashSet<String>, Error> {
        self.conn
            .query("SELECT address FROM suppressions WHERE scope = ?1", params![scope.as_str()], |row| row.get(0))
            .map(HashSet::from_iter)
            .map_err(|e| self.error("read", e))
    }

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

impl Scope {
    /// The value stored in the `scope` column: `*` or the list's slug.
    pub fn as_str(&self) -> &str {
        match self {
            Self::All => "*",
            Self::List(slug) => slug,
        }
    }
}

impl Reason {
    /// Every reason.
    pub const ALL: [Self; 4] = [Self::Unsubscribed, Self::Bounced, Self::Complained, Self::Manual];

    /// The value stored in the `reason` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unsubscribed => "unsubscribed",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
            Self::Manual => "manual",
        }
    }

    /// The reason written as `value`.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

impl FromColumn for Scope {
    fn from_value(value: Value) -> Result<Self, String> {
        String::from_value(value).map(|s| if s == "*" { Self::All } else { Self::List(s) })
    }
}

impl FromColumn for Reason {
    fn from_value(value: Value) -> Result<Self, String> {
        let text = String::from_value(value)?;
        Self::parse(&text).ok_or_else(|| format!("unknown reason `{text}`"))
    }
}

/// An RFC 3339 `TEXT` column.
struct Stamp(Timestamp);

impl FromColumn for Stamp {
    fn from_value(value: Value) -> Result<Self, String> {
        String::from_value(value)?.parse().map(Stamp).map_err(|e: jiff::Error| e.to_string())
    }
}

/// Refuse a suppression note that cannot be shown on one line of `suppressions`.
pub fn check_note(note: &str) -> Result<(), Error> {
    if let Some(c) = note.chars().find(|c| c.is_control()) {
        return Err(Error::usage(format!(
            "a note must be one line of text; it contains the control character U+{:04X}",
            u32::from(c)
        )));
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(Error::usage(format!("a note is at most {MAX_NOTE_CHARS} characters")));
    }
    Ok(())
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
