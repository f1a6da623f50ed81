//! Sign-ups beside a list's CSV: which of the store's confirmed sign-ups ([`Signup`]) count as
//! members of the list, by the precedence rule (documented as a table in `docs/subscribers.md`).
//!
//! Enters: a list's un-pulled sign-ups and its CSV file. Leaves: the sign-ups that are members
//! on their own (as [`Subscriber`] rows, in confirmation order) and the keys of the CSV's
//! not-active rows ([`Scan`]). Used by the one audience stream ([`super::Members`]) and by
//! `subscribers pull`, so what pull writes is exactly what the audience already held.
//!
//! The rule, within one list (suppressions are applied after it, to CSV rows and sign-ups alike):
//! - a pulled sign-up is the CSV's: the CSV row says what is true (the editor may have changed
//!   or removed it since), so only un-pulled sign-ups are weighed here;
//! - an address with an active CSV row and no row of another status is the CSV's row (it carries
//!   the editor's columns); the sign-up adds nothing;
//! - an address whose CSV rows include one not active (`unsubscribed`, `bounced`, `pending`):
//!   the later of the two wins. The CSV row's time is its `subscribed_at` (the latest of its
//!   not-active rows); a row without one is older than any confirmation. A tie goes to the CSV.
//! - an address not in the CSV: the sign-up is a member.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use jiff::Timestamp;

use super::{ListReader, Subscriber, SubscriberStatus, read_list};
use crate::address::fold;
use crate::error::Error;
use crate::state::Signup;

/// What a list's CSV says about one address, for the precedence rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InCsv {
    /// No row.
    Absent,
    /// Only active rows.
    Active,
    /// At least one row not active; the latest `subscribed_at` among them, if any.
    Inactive(Option<Timestamp>),
}

/// Whether a sign-up confirmed at `confirmed_at` is a member on its own, beside what the CSV
/// says of its address.
pub fn signup_wins(csv: InCsv, confirmed_at: Timestamp) -> bool {
    match csv {
        InCsv::Absent | InCsv::Inactive(None) => true,
        InCsv::Active => false,
        InCsv::Inactive(Some(at)) => confirmed_at > at,
    }
}

/// One read of a list's CSV against its sign-ups.
#[derive(Debug, Default)]
pub struct Scan {
    /// The keys of valid rows not active.
    pub inactive: HashSet<String>,
    /// The sign-ups that are members on their own, as active rows, oldest confirmation first.
    pub members: Vec<Subscriber>,
}

/// Read the list at `path` once (a missing file is an empty list when there are `signups`) and
/// weigh `signups` against it.
pub fn scan(path: &Path, shown: &Path, signups: &[Signup]) -> Result<Scan, Error> {
    if !signups.is_empty() && !path.exists() {
        return Ok(Scan { inactive: HashSet::new(), members: signups.iter().map(as_row).collect() });
    }
    scan_reader(read_list(path, shown)?, signups)
}

/// [`scan`] over an open reader.
pub fn scan_reader<R: std::io::Read>(mut reader: ListReader<R>, signups: &[Signup]) -> Result<Scan, Error> {
    let wanted: HashSet<&str> = signups.iter().map(|s| s.key.as_str()).collect();
    let mut inactive = HashSet::new();
    let mut seen: HashMap<String, InCsv> = HashMap::new();
    for subscriber in reader.by_ref().filter_map(Result::ok) {
        let key = fold(&subscriber.email);
        let active = subscriber.status == SubscriberStatus::Active;
        if !active {
            inactive.insert(key.clone());
        }
        if !wanted.contains(key.as_str()) {
            continue;
        }
        let entry = seen.entry(key).or_insert(InCsv::Absent);
        *entry = match (*entry, active) {
            (InCsv::Absent | InCsv::Active, true) => InCsv::Active,
            (InCsv::Inactive(at), true) => InCsv::Inactive(at),
            (InCsv::Absent | InCsv::Active, false) => InCsv::Inactive(subscriber.subscribed_at),
            (InCsv::Inactive(at), false) => InCsv::Inactive(at.max(subscriber.subscribed_at)),
        };
    }
    reader.finish()?;
    let members = signups
        .iter()
        .filter(|s| signup_wins(seen.get(&s.key).copied().unwrap_or(InCsv::Absent), s.confirmed_at))
        .map(as_row)
        .collect();
    Ok(Scan { inactive, members })
}

/// A sign-up as an active row of its list.
pub fn as_row(signup: &Signup) -> Subscriber {
    Subscriber {
        email: signup.email.clone(),
        name: signup.name.clone(),
        attrs: signup.attrs.clone(),
        status: SubscriberStatus::Active,
        subscribed_at: Some(signup.confirmed_at),
        line: 0,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    const SIGNED_UP: &str = "2026-03-01T00:00:00Z";

    #[track_caller]
    fn case(csv: &str, expected: &[&str]) {
        let signups: Vec<Signup> = ["ann@example.org", "bob@example.org"]
            .iter()
            .map(|email| Signup {
                list: "weekly".into(),
                key: fold(email),
                email: (*email).into(),
                name: String::new(),
                attrs: BTreeMap::new(),
                confirmed_at: at(SIGNED_UP),
                pulled_at: None,
                source: "confirm-link".into(),
            })
            .collect();
        let reader = ListReader::new(csv.as_bytes(), Path::new("w.csv"), Path::new("w.csv")).unwrap();
        let scan = scan_reader(reader, &signups).unwrap();
        let got: Vec<&str> = scan.members.iter().map(|s| s.email.as_str()).collect();
        assert_eq!(got, expected, "csv:\n{csv}");
    }

    #[test]
    fn the_precedence_of_the_csv_and_sign_ups_within_one_list() {
        // Neither address in the CSV: both sign-ups are members.
        case("email\ncarl@example.org\n", &["ann@example.org", "bob@example.org"]);
        // An active CSV row: the CSV's row is the member, the sign-up adds nothing.
        case("email\nann@example.org\n", &["bob@example.org"]);
        // A CSV row unsubscribed after the confirmation wins.
        case("email,status,subscribed_at\nann@example.org,unsubscribed,2026-04-01T00:00:00Z\n", &["bob@example.org"]);
        // A tie goes to the CSV.
        case("email,status,subscribed_at\nann@example.org,unsubscribed,2026-03-01T00:00:00Z\n", &["bob@example.org"]);
        // A confirmation newer than the CSV's status wins.
        case(
            "email,status,subscribed_at\nann@example.org,unsubscribed,2025-01-01T00:00:00Z\n",
            &["ann@example.org", "bob@example.org"],
        );
        // A not-active row without a time is older than any confirmation.
        case(
            "email,status\nann@example.org,pending\nbob@example.org,bounced\n",
            &["ann@example.org", "bob@example.org"],
        );
        // An active row beside a newer inactive one: the inactive one decides, and it is newer.
        case(
            "email,status,subscribed_at\nann@example.org,,2024-01-01T00:00:00Z\nann@example.org,unsubscribed,2026-05-01T00:00:00Z\n",
            &["bob@example.org"],
        );
        // The latest of several not-active rows counts.
        case(
            "email,status,subscribed_at\nann@example.org,bounced,2026-06-01T00:00:00Z\nANN@example.org,pending,2020-01-01T00:00:00Z\n",
            &["bob@example.org"],
        );
    }

    #[test]
    fn the_rule_as_a_table() {
        let t = at(SIGNED_UP);
        let before = at("2026-01-01T00:00:00Z");
        let after = at("2026-09-01T00:00:00Z");
        for (csv, wins) in [
            (InCsv::Absent, true),
            (InCsv::Active, false),
            (InCsv::Inactive(None), true),
            (InCsv::Inactive(Some(before)), true),
            (InCsv::Inactive(Some(t)), false),
            (InCsv::Inactive(Some(after)), false),
        ] {
            assert_eq!(signup_wins(csv, t), wins, "{csv:?}");
        }
    }

    #[test]
    fn a_missing_list_file_holds_only_the_sign_ups() {
        let dir = tempfile::tempdir().unwrap();
        let signup = Signup {
            list: "new".into(),
            key: "a@example.org".into(),
            email: "a@example.org".into(),
            name: "A".into(),
            attrs: BTreeMap::new(),
            confirmed_at: at(SIGNED_UP),
            pulled_at: None,
            source: "confirm-link".into(),
        };
        let path = dir.path().join("new.csv");
        let scan = scan(&path, Path::new("subscribers/new.csv"), std::slice::from_ref(&signup)).unwrap();
        assert_eq!(scan.members, [as_row(&signup)]);
    }
}
