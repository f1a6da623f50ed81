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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::state::NewSignup;
    use crate::subscribers::{SubscriberStatus, upsert_rows};

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn pull_writes_what_the_audience_holds_once_and_survives_a_crash_before_marking() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("state.db"), Path::new("state.db")).unwrap();
        let path = dir.path().join("w.csv");
        let shown = Path::new("subscribers/w.csv");
        std::fs::write(
            &path,
            "email,status,subscribed_at\nold@example.org,unsubscribed,2025-01-01T00:00:00Z\nlate@example.org,unsubscribed,2027-01-01T00:00:00Z\n",
        )
        .unwrap();
        let attrs = BTreeMap::new();
        for email in ["old@example.org", "late@example.org", "new@example.org", "crash@example.org"] {
            let signup = NewSignup { list: "w", email, name: "Has A Name", attrs: &attrs, source: "test" };
            state.record_signup(&signup, at("2026-06-01T00:00:00Z")).unwrap();
        }
        // A pull that wrote `crash@` and died before marking it.
        let row = Subscriber {
            email: "crash@example.org".into(),
            name: String::new(),
            attrs: BTreeMap::new(),
            status: SubscriberStatus::Active,
            subscribed_at: Some(at("2026-06-01T00:00:00Z")),
            line: 0,
        };
        upsert_rows(&path, shown, &[row], Upsert::Reactivate).unwrap();

        let pulled = pull(&state, &path, shown, "w", at("2026-06-02T00:00:00Z")).unwrap();
        let written: Vec<&str> = pulled.written.iter().map(|(s, _)| s.email.as_str()).collect();
        assert_eq!(written, ["new@example.org", "old@example.org"], "confirmation order, then address");
        assert_eq!(pulled.marked, 4, "`late@` (overruled) and `crash@` (already there) are only marked");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "email,status,subscribed_at\nold@example.org,active,2026-06-01T00:00:00Z\nlate@example.org,unsubscribed,2027-01-01T00:00:00Z\ncrash@example.org,active,2026-06-01T00:00:00Z\nnew@example.org,active,2026-06-01T00:00:00Z\n",
            "no `name` column, so no name; the header is kept"
        );
        let again = pull(&state, &path, shown, "w", at("2026-06-03T00:00:00Z")).unwrap();
        assert_eq!(again, Pulled::default());
    }

    #[test]
    fn remove_takes_an_address_out_of_the_file_and_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("state.db"), Path::new("state.db")).unwrap();
        let path = dir.path().join("w.csv");
        std::fs::write(&path, "email\nin@example.org\n").unwrap();
        let attrs = BTreeMap::new();
        let signup = NewSignup { list: "w", email: "only@example.org", name: "", attrs: &attrs, source: "test" };
        state.record_signup(&signup, at("2026-06-01T00:00:00Z")).unwrap();
        let shown = Path::new("w.csv");
        assert_eq!(
            remove(Some(&state), &path, shown, "w", "ONLY@example.org").unwrap(),
            Removed { lines: vec![], signup: true }
        );
        assert_eq!(
            remove(Some(&state), &path, shown, "w", "in@example.org").unwrap(),
            Removed { lines: vec![2], signup: false }
        );
        assert!(matches!(remove(Some(&state), &path, shown, "w", "only@example.org"), Err(Error::Usage { .. })));
    }
}
