//! The project's state: a SQLite database at `.letterpress/state.db` (git-ignored).
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

pub mod bounces;
pub mod budgets;
pub mod clicks;
pub mod journal;
mod migrations;

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{Connection, ErrorCode, OptionalExtension as _};

pub use bounces::{BounceCounts, BounceEvent, EventFilter, JournalRow, NewEvent};
pub use clicks::{ClickCount, ClickTarget, IssueClicks, LinkCounts};
pub use journal::{Counts, Delivery, DeliveryStatus, NewRecipient, Recovered, SendRecord, SendState, Update};
pub use migrations::LATEST as SCHEMA_VERSION;

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
fn retry_busy<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        match step() {
            Err(e)
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
    conn: Connection,
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
    /// Open (creating if needed) the state database at `path`; `shown` names it in messages.
    pub fn open(path: &Path, shown: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
        }
        create_private(path)?;
        let fail = |action, e| sql_error(action, path, shown, e);
        let mut conn = Connection::open(path).map_err(|e| fail("open", e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| fail("open", e))?;
        retry_busy(|| {
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
            conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 20000; PRAGMA cache_size = -16384;")
        })
        .map_err(|e| fail("open", e))?;
        match migrations::run(&mut conn) {
            Ok(_) => {}
            Err(migrations::Problem::Sql(e)) => return Err(fail("migrate", e)),
            Err(migrations::Problem::Newer(version)) => return Err(newer(shown, version)),
        }
        Ok(Self { conn, path: path.to_path_buf(), shown: shown.to_path_buf() })
    }

    /// Open the state database at `path` if there is one, for a command that only reads: a
    /// project without a store has no suppressions and no journal, and reading must not create
    /// one (a command that fails, or only looks, leaves `.letterpress/` as it found it).
    pub fn open_existing(path: &Path, shown: &Path) -> Result<Option<Self>, Error> {
        match std::fs::metadata(path) {
            Ok(_) => Self::open(path, shown).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    /// Open an existing state database for reading only: nothing is created, migrated or
    /// written (the preview reads delivery states this way). A database of another schema
    /// version than this letterpress's is refused.
    pub fn open_read_only(path: &Path, shown: &Path) -> Result<Self, Error> {
        use rusqlite::OpenFlags;
        let fail = |action, e| sql_error(action, path, shown, e);
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| fail("open", e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| fail("open", e))?;
        let version: i64 =
            conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(|e| fail("read", e))?;
        if version > i64::from(SCHEMA_VERSION) {
            return Err(newer(shown, version));
        }
        if version < i64::from(SCHEMA_VERSION) {
            return Err(Error::usage(format!(
                "`{}` was written by an older letterpress; any command that writes it (e.g. `letterpress send`) updates it",
                shown.display()
            )));
        }
        Ok(Self { conn, path: path.to_path_buf(), shown: shown.to_path_buf() })
    }

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
                (address_key(&normal), scope.as_str(), reason.as_str(), source, at.to_string(), note),
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
            Scope::All => self.conn.execute("DELETE FROM suppressions WHERE address = ?1", [&key]),
            Scope::List(slug) => {
                self.conn.execute("DELETE FROM suppressions WHERE address = ?1 AND scope = ?2", [&key, slug])
            }
        };
        deleted.map_err(|e| self.error("update", e))
    }

    /// Lift only the global suppression of `address` (per-list ones stay). Returns how many
    /// were lifted.
    pub fn unsuppress_global(&self, address: &str) -> Result<usize, Error> {
        let key = address_key(address);
        self.conn
            .execute("DELETE FROM suppressions WHERE address = ?1 AND scope = '*'", [&key])
            .map_err(|e| self.error("update", e))
    }

    /// Whether `address` must not be mailed through `list`: suppressed globally or for `list`.
    pub fn is_suppressed(&self, address: &str, list: &str) -> Result<bool, Error> {
        self.conn
            .query_row(
                "SELECT 1 FROM suppressions WHERE address = ?1 AND scope IN ('*', ?2) LIMIT 1",
                [address_key(address).as_str(), list],
                |_| Ok(()),
            )
            .optional()
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
        let read = || -> rusqlite::Result<Vec<Suppression>> {
            let mut stmt = self.conn.prepare(
                "SELECT address, scope, reason, source, created_at, note FROM suppressions
                 WHERE ?1 IS NULL OR address = ?1 ORDER BY address, scope",
            )?;
            let rows = stmt.query_map([key], |row| {
                Ok(Suppression {
                    address: row.get(0)?,
                    scope: row.get(1)?,
                    reason: row.get(2)?,
                    source: row.get(3)?,
                    created_at: row.get::<_, Stamp>(4)?.0,
                    note: row.get(5)?,
                })
            })?;
            rows.collect()
        };
        read().map_err(|e| self.error("read", e))
    }

    /// The keys of every address suppressed for `list` (globally or for it), to test each row
    /// of a list against in memory instead of querying per row.
    pub fn suppressed_set(&self, list: &str) -> Result<HashSet<String>, Error> {
        let read = || -> rusqlite::Result<HashSet<String>> {
            let mut stmt = self.conn.prepare("SELECT address FROM suppressions WHERE scope IN ('*', ?1)")?;
            let rows = stmt.query_map([list], |row| row.get(0))?;
            rows.collect()
        };
        read().map_err(|e| self.error("read", e))
    }

    /// The keys suppressed for exactly `scope`: [`Scope::All`] gives the global suppressions
    /// only, [`Scope::List`] that list's own (see [`State::suppressed_set`] for both at once).
    pub fn suppressed_keys(&self, scope: &Scope) -> Result<HashSet<String>, Error> {
        let read = || -> rusqlite::Result<HashSet<String>> {
            let mut stmt = self.conn.prepare("SELECT address FROM suppressions WHERE scope = ?1")?;
            let rows = stmt.query_map([scope.as_str()], |row| row.get(0))?;
            rows.collect()
        };
        read().map_err(|e| self.error("read", e))
    }

    /// Re-key every row of issue `from` to `to` (`rename`): in every table with an `issue`
    /// column (the journal's sends and deliveries, and any later table keyed the same way), in
    /// one transaction, so the journal follows the issue or stays where it was. Refused if `to`
    /// already has rows. Returns how many rows moved.
    pub fn rename_issue(&self, from: &str, to: &str) -> Result<usize, Error> {
        let run = || -> rusqlite::Result<Result<usize, String>> {
            let tx = rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
            let tables: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT m.name FROM sqlite_schema AS m JOIN pragma_table_info(m.name) AS c
                     WHERE m.type = 'table' AND c.name = 'issue' ORDER BY m.name",
                )?;
                stmt.query_map([], |row| row.get(0))?.collect::<rusqlite::Result<_>>()?
            };
            let mut moved = 0;
            for table in &tables {
                let quoted = table.replace('"', "\"\"");
                let taken: bool =
                    tx.query_row(&format!("SELECT EXISTS (SELECT 1 FROM \"{quoted}\" WHERE issue = ?1)"), [to], |r| {
                        r.get(0)
                    })?;
                if taken {
                    return Ok(Err(table.clone()));
                }
                moved += tx.execute(&format!("UPDATE \"{quoted}\" SET issue = ?2 WHERE issue = ?1"), [from, to])?;
            }
            tx.commit()?;
            Ok(Ok(moved))
        };
        match run().map_err(|e| self.error("update", e))? {
            Ok(moved) => Ok(moved),
            Err(_) => Err(Error::usage(format!("the state store already has a journal for `{to}`"))),
        }
    }

    fn error(&self, action: &'static str, error: rusqlite::Error) -> Error {
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

impl FromSql for Scope {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value.as_str().map(|s| if s == "*" { Self::All } else { Self::List(s.to_owned()) })
    }
}

impl FromSql for Reason {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Self::parse(text).ok_or_else(|| FromSqlError::Other(format!("unknown reason `{text}`").into()))
    }
}

/// An RFC 3339 `TEXT` column.
struct Stamp(Timestamp);

impl FromSql for Stamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value.as_str()?.parse().map(Stamp).map_err(|e| FromSqlError::Other(Box::new(e)))
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

/// Create the database file readable only by its owner, unless it exists (SQLite gives its
/// `-wal` and `-shm` files the same mode).
fn create_private(path: &Path) -> Result<(), Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io("create", path, e)),
    }
}

fn sql_error(action: &'static str, path: &Path, shown: &Path, error: rusqlite::Error) -> Error {
    match error.sqlite_error_code() {
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
