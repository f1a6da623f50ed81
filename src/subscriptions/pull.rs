//! Sign-ups into the editors' CSV (`subscribers pull`), and removing an address that may be
//! only in the store (`subscribers remove`).
//!
//! Enters: the state store, a list's slug and file. Leaves: the list file rewritten once
//! (locked, atomic: [`subscribers::upsert_decided`]) with the sign-ups that are members on their
//! own ([`subscribers::signups`]'s rule) made active rows, and every sign-up read marked pulled;
//! or the address's rows and sign-up gone.
//!
//! A pull changes no audience: a sign-up the CSV overrules is marked pulled without a write
//! (the CSV already says what is true), one already active in the CSV too; the rest become the
//! CSV's rows, which say the same as the sign-ups did. It is idempotent: a second pull finds
//! nothing un-pulled, and a crash between the write and the marking leaves sign-ups that the
//! next pull finds already active in the file and only marks.

use std::path::Path;

use jiff::Timestamp;

use crate::error::Error;
use crate::state::State;
use crate::subscribers::{self, Appended, Subscriber, Upsert, read_list};

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pulled {
    /// Each sign-up written into the CSV, with what happened to its row.
    pub written: Vec<(Subscriber, Appended)>,
    /// How many sign-ups were marked pulled (written, or already as the CSV says).
    pub marked: usize,
}

/// Write the store's un-pulled sign-ups of `list` into its CSV at `path` (`shown` in messages)
/// and mark them pulled as of `now`. Fields the list has no column for (a name, an attribute)
/// stay in the store only: a pull never changes the list's header.
pub fn pull(state: &State, path: &Path, shown: &Path, list: &str, now: Timestamp) -> Result<Pulled, Error> {
    let signups = state.unpulled_signups(list)?;
    if signups.is_empty() {
        return Ok(Pulled::default());
    }
    let (rows, done) = subscribers::upsert_decided(path, shown, Upsert::Reactivate, || {
        let members = subscribers::signups::scan(path, shown, &signups)?.members;
        let columns = if path.exists() {
            read_list(path, shown)?.columns().to_vec()
        } else {
            subscribers::COLUMNS.iter().map(|c| (*c).to_owned()).collect()
        };
        Ok(members
            .into_iter()
            .map(|mut row| {
                if !columns.iter().any(|c| c == "name") {
                    row.name.clear();
                }
                row.attrs.retain(|column, _| columns.contains(column));
                row
            })
            .collect())
    })?;
    let marked = state.mark_pulled(&signups, now)?;
    Ok(Pulled { written: rows.into_iter().zip(done).collect(), marked })
}

/// What removing an address from a list did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Removed {
    /// The lines of the CSV rows removed.
    pub lines: Vec<usize>,
    /// Whether a sign-up was deleted from the store.
    pub signup: bool,
}

/// Remove `email` from `list`: every row of it in the CSV at `path` (if the file exists) and its
/// sign-up in the store (if there is a store). Nothing found is an [`Error::Usage`].
pub fn remove(state: Option<&State>, path: &Path, shown: &Path, list: &str, email: &str) -> Result<Removed, Error> {
    let lines = if path.exists() { subscribers::remove_address(path, shown, email)? } else { Vec::new() };
    let signup = match state {
        Some(state) => state.remove_signup(list, email)? > 0,
        None => false,
    };
    if lines.is_empty() && !signup {
        return Err(Error::usage(format!("`{}` is not in `{list}`", email.trim())));
    }
    Ok(Removed { lines, signup })
}
