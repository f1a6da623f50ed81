//! Sign-ups: subscriptions confirmed through `serve`'s `/confirm`, kept in the store instead of
//! the list's CSV file (which is the editors', in git).
//!
//! Enters: a confirmed [`NewSignup`] (the address is normalised and keyed here), a list slug,
//! times read by the caller. Leaves: [`Signup`] rows, those not yet written into the CSV first
//! (`subscribers pull` writes them and marks them pulled), and how many rows a removal deleted.
//!
//! Table `signups` (migration 10): primary key (list, address key), so a person is one row per
//! list; confirming again updates the row and makes it un-pulled again (the confirmation is
//! newer than whatever the CSV said when it was last pulled). Every query is portable SQL
//! (numbered placeholders, `ON CONFLICT … DO UPDATE`, RFC 3339 text times).

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::db::{DbError, params};
use super::journal::Attrs;
use super::{Stamp, State};
use crate::address::{self, address_key};
use crate::config::is_slug;
use crate::error::Error;

/// A confirmed subscription to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSignup<'a> {
    /// The list's slug.
    pub list: &'a str,
    /// The address as confirmed.
    pub email: &'a str,
    /// The name the form gave (empty when none).
    pub name: &'a str,
    /// Other fields the form gave, by column name.
    pub attrs: &'a BTreeMap<String, String>,
    /// Where it came from, e.g. `confirm-link`.
    pub source: &'a str,
}

/// One sign-up as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signup {
    /// The list's slug.
    pub list: String,
    /// The address's duplicate key ([`address_key`]).
    pub key: String,
    /// The address, normalised.
    pub email: String,
    /// The name given, or empty.
    pub name: String,
    /// Other fields given, by column name.
    pub attrs: BTreeMap<String, String>,
    /// When the person confirmed (the latest time, if they confirmed again).
    pub confirmed_at: Timestamp,
    /// When `subscribers pull` wrote it into the list's CSV; `None`: not yet.
    pub pulled_at: Option<Timestamp>,
    /// Where it came from.
    pub source: String,
}

const COLUMNS: &str = "list, address_key, email, name, attrs, confirmed_at, pulled_at, source";

impl State {
    /// Record a confirmed sign-up at `at`: a new row, or the person's row on that list brought up
    /// to date (name, fields, time) and made un-pulled again. An invalid address or a list that is
    /// not a slug is an [`Error::Usage`].
    pub fn record_signup(&self, signup: &NewSignup<'_>, at: Timestamp) -> Result<(), Error> {
        let email = address::parse(signup.email)?;
        if !is_slug(signup.list) {
            return Err(Error::usage(format!("`{}` is not a list name", signup.list)));
        }
        let attrs = serde_json::to_string(signup.attrs).map_err(|e| Error::usage(e.to_string()))?;
        self.conn
            .execute(
                "INSERT INTO signups (list, address_key, email, name, attrs, confirmed_at, pulled_at, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7)
                 ON CONFLICT (list, address_key) DO UPDATE SET email = excluded.email, name = excluded.name,
                     attrs = excluded.attrs, confirmed_at = excluded.confirmed_at, pulled_at = NULL,
                     source = excluded.source",
                params![signup.list, address_key(&email), &email, signup.name, attrs, at.to_string(), signup.source],
            )
            .map_err(|e| self.error("update", e))?;
        Ok(())
    }

    /// The sign-ups of `list` not yet pulled into its CSV, oldest confirmation first.
    pub fn unpulled_signups(&self, list: &str) -> Result<Vec<Signup>, Error> {
        self.signups_where(
            &format!(
                "SELECT {COLUMNS} FROM signups WHERE list = ?1 AND pulled_at IS NULL ORDER BY confirmed_at, address_key"
            ),
            list,
        )
    }

    /// Every sign-up of `list`, pulled or not, oldest confirmation first.
    pub fn signups(&self, list: &str) -> Result<Vec<Signup>, Error> {
        self.signups_where(
            &format!("SELECT {COLUMNS} FROM signups WHERE list = ?1 ORDER BY confirmed_at, address_key"),
            list,
        )
    }

    /// Mark `signups` pulled at `at`: each only if it is still as it was read (not confirmed
    /// again since, which makes it due for the next pull). Returns how many were marked.
    pub fn mark_pulled(&self, signups: &[Signup], at: Timestamp) -> Result<usize, Error> {
        let run = || -> Result<usize, DbError> {
            let tx = self.conn.begin(true)?;
            let mut marked = 0;
            for s in signups {
                marked += self.conn.execute(
                    "UPDATE signups SET pulled_at = ?3
                     WHERE list = ?1 AND address_key = ?2 AND confirmed_at = ?4 AND pulled_at IS NULL",
                    params![&s.list, &s.key, at.to_string(), s.confirmed_at.to_string()],
                )?;
            }
            tx.commit()?;
            Ok(marked)
        };
        run().map_err(|e| self.error("update", e))
    }

    /// Delete the sign-up of `address` (any spelling) on `list`; returns how many rows went (0
    /// or 1).
    pub fn remove_signup(&self, list: &str, address: &str) -> Result<usize, Error> {
        self.conn
            .execute("DELETE FROM signups WHERE list = ?1 AND address_key = ?2", params![list, address_key(address)])
            .map_err(|e| self.error("update", e))
    }

    fn signups_where(&self, sql: &str, list: &str) -> Result<Vec<Signup>, Error> {
        let read = || -> Result<Vec<Signup>, DbError> {
            self.conn.query(sql, params![list], |row| {
                Ok(Signup {
                    list: row.get(0)?,
                    key: row.get(1)?,
                    email: row.get(2)?,
                    name: row.get(3)?,
                    attrs: row.get::<Attrs>(4)?.0,
                    confirmed_at: row.get::<Stamp>(5)?.0,
                    pulled_at: row.get::<Option<Stamp>>(6)?.map(|s| s.0),
                    source: row.get(7)?,
                })
            })
        };
        read().map_err(|e| self.error("read", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::Fresh;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn record(state: &State, list: &str, email: &str, name: &str, when: &str) {
        let attrs = BTreeMap::from([("city".to_owned(), "Leeds".to_owned())]);
        let signup = NewSignup { list, email, name, attrs: &attrs, source: "confirm-link" };
        state.record_signup(&signup, at(when)).unwrap();
    }

    crate::state::testing::both!(
        a_sign_up_is_one_row_per_list_and_address_and_a_new_confirmation_unpulls_it,
        refuses_a_bad_address_or_list,
    );

    fn a_sign_up_is_one_row_per_list_and_address_and_a_new_confirmation_unpulls_it(t: &Fresh) {
        let state = t.open();
        record(&state, "weekly", "Ann@Example.ORG", "Ann", "2026-01-01T00:00:00Z");
        record(&state, "daily", "ann@example.org", "", "2026-01-02T00:00:00Z");
        let rows = state.unpulled_signups("weekly").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].email.as_str(), rows[0].name.as_str()), ("Ann@example.org", "Ann"));
        assert_eq!(rows[0].attrs.get("city").map(String::as_str), Some("Leeds"));

        assert_eq!(state.mark_pulled(&rows, at("2026-01-03T00:00:00Z")).unwrap(), 1);
        assert!(state.unpulled_signups("weekly").unwrap().is_empty());
        assert_eq!(state.signups("weekly").unwrap()[0].pulled_at, Some(at("2026-01-03T00:00:00Z")));

        record(&state, "weekly", "ann@example.org", "Ann B", "2026-01-04T00:00:00Z");
        let again = state.unpulled_signups("weekly").unwrap();
        assert_eq!((again.len(), again[0].name.as_str()), (1, "Ann B"));
        // Marking what was read before the new confirmation leaves the new one due.
        assert_eq!(state.mark_pulled(&rows, at("2026-01-05T00:00:00Z")).unwrap(), 0);
        assert_eq!(state.unpulled_signups("weekly").unwrap().len(), 1);

        assert_eq!(state.remove_signup("weekly", "ANN@example.org").unwrap(), 1);
        assert!(state.signups("weekly").unwrap().is_empty());
        assert_eq!(state.signups("daily").unwrap().len(), 1);
    }

    fn refuses_a_bad_address_or_list(t: &Fresh) {
        let state = t.open();
        let attrs = BTreeMap::new();
        let bad = NewSignup { list: "weekly", email: "nope", name: "", attrs: &attrs, source: "x" };
        assert!(matches!(state.record_signup(&bad, at("2026-01-01T00:00:00Z")), Err(Error::Usage { .. })));
        let bad = NewSignup { list: "Not A Slug", email: "a@b.org", name: "", attrs: &attrs, source: "x" };
        assert!(matches!(state.record_signup(&bad, at("2026-01-01T00:00:00Z")), Err(Error::Usage { .. })));
    }
}
