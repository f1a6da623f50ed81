//! The suppression list: addresses that must not be mailed, globally ([`Scope::All`]) or for
//! one list, each with why ([`Reason`]), where from, when, and an optional note.
//!
//! Enters: addresses (any spelling; stored by their duplicate key, see
//! [`crate::address::address_key`]), scopes, reasons and times read by the caller. Leaves:
//! [`Suppression`]s, yes/no answers, and the keys suppressed for a list or among a page of a
//! journal, for testing many rows in memory instead of querying per row.

use std::collections::HashSet;

use jiff::Timestamp;

use super::db::{Backend, DbError, FromColumn, Value, params};
use super::{Stamp, State};
use crate::address::{self, address_key};
use crate::config::is_slug;
use crate::error::Error;

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

    /// Which of `keys` (recipients of `issue`, such as a page just claimed) are suppressed now,
    /// globally or for the list of their row: the page's own addresses looked up in the
    /// suppressions, not every list's whole set read for every page.
    pub fn suppressed_among(&self, issue: &str, keys: &[String]) -> Result<HashSet<String>, Error> {
        let keys_json = serde_json::to_string(keys).map_err(|e| self.error("read", DbError::Value(e.to_string())))?;
        let among = match self.conn.backend() {
            Backend::Sqlite => "SELECT value FROM json_each(?2)",
            Backend::Postgres => "SELECT json_array_elements_text(CAST(?2 AS json))",
        };
        let sql = format!(
            "SELECT d.address_key FROM deliveries d
             WHERE d.issue = ?1 AND d.address_key IN ({among})
               AND EXISTS (SELECT 1 FROM suppressions s WHERE s.address = d.address_key AND s.scope IN ('*', d.list))"
        );
        self.conn
            .query(&sql, params![issue, keys_json], |row| row.get(0))
            .map(HashSet::from_iter)
            .map_err(|e| self.error("read", e))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::{Fresh, at, both, recipients};

    both!(a_pages_suppressed_recipients_are_those_suppressed_globally_or_for_their_rows_list);

    fn a_pages_suppressed_recipients_are_those_suppressed_globally_or_for_their_rows_list(t: &Fresh) {
        let mut state = t.open();
        state.add_recipients("w/a", recipients(4), at()).unwrap();
        let list = |l: &str| Scope::List(l.to_owned());
        state.suppress("r000@example.com", &Scope::All, Reason::Manual, "test", at()).unwrap();
        state.suppress("r001@example.com", &list("other"), Reason::Manual, "test", at()).unwrap();
        state.suppress("r002@example.com", &list("main"), Reason::Manual, "test", at()).unwrap();
        state.suppress("nobody@example.com", &Scope::All, Reason::Manual, "test", at()).unwrap();
        let page: Vec<String> =
            ["r000", "r001", "r002", "r003", "nobody"].iter().map(|k| format!("{k}@example.com")).collect();
        let mut got: Vec<String> = state.suppressed_among("w/a", &page).unwrap().into_iter().collect();
        got.sort();
        assert_eq!(got, ["r000@example.com", "r002@example.com"]);
        assert!(state.suppressed_among("w/a", &page[3..]).unwrap().is_empty());
        assert!(state.suppressed_among("w/b", &page).unwrap().is_empty(), "another issue's journal");
    }
}
