//! Subscriber lists: CSV files under `subscribers/`, validated row by row, and the audience of a
//! send (the lists minus the suppressions in [`crate::state`]).
//!
//! Enters: a list's path (and the path to show in diagnostics). Leaves: a stream of
//! [`Subscriber`]s and located [`Diagnostic`]s ([`read_list`]), a [`ListReport`] of counts and
//! problems ([`check_list`]), the audience of several lists ([`Members`], and [`Recipients`] with
//! each address once), and
//! atomic, locked edits of a list file ([`append_row`], [`upsert_rows_with`], [`remove_address`],
//! [`add_column`], [`rename_column`]).
//!
//! A list is streamed, never loaded whole: a million rows cost one row of parsing state plus a
//! compact set of 64-bit address hashes for duplicate detection.
//!
//! [`Diagnostic`]: crate::diagnostic::Diagnostic

mod audience;
mod columns;
mod edit;
mod import;
mod reader;
mod report;
mod segment;
pub mod signups;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

pub use crate::address::{address_key, normalise_address, person_key};
pub use audience::{ListCount, ListFile, Member, Members, Recipients};
pub use columns::{add_column, list_columns, refuse_new_attribute, rename_column};
pub(crate) use edit::unwritable;
pub use edit::{Appended, Upsert, append_row, remove_address, upsert_decided, upsert_rows, upsert_rows_with};
pub use import::{Export, ExportRow, read_export};
pub use reader::{ListReader, read_list};
pub use report::{ListReport, StatusCounts, check_list, count_list};
pub use segment::check_segment;

/// The subscribers directory's name at the project root.
pub const DIR: &str = "subscribers";

/// Column names with a meaning of their own; every other column is an attribute.
pub const COLUMNS: [&str; 4] = ["email", "name", "status", "subscribed_at"];

/// One valid row of a subscriber list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscriber {
    /// The address, normalised: whitespace trimmed, domain lower-cased and converted to IDNA
    /// A-labels (`xn--…`), local part as written.
    pub email: String,
    /// Display name (the `name` column, trimmed); empty when absent.
    pub name: String,
    /// Every other column, by header name, values as written.
    pub attrs: BTreeMap<String, String>,
    /// The `status` column; [`SubscriberStatus::Active`] when absent or empty.
    pub status: SubscriberStatus,
    /// The `subscribed_at` column (RFC 3339 with an offset), when present and not empty.
    pub subscribed_at: Option<jiff::Timestamp>,
    /// 1-based line of the row in its file.
    pub line: usize,
}

/// Where a subscriber stands on one list; only [`SubscriberStatus::Active`] rows are mailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberStatus {
    /// Receives issues.
    Active,
    /// Asked to stop receiving this list.
    Unsubscribed,
    /// Mail to the address bounced permanently.
    Bounced,
    /// Signed up but has not confirmed yet.
    Pending,
}

impl SubscriberStatus {
    /// Every status, in the order reports list them.
    pub const ALL: [Self; 4] = [Self::Active, Self::Unsubscribed, Self::Bounced, Self::Pending];

    /// The value as written in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Unsubscribed => "unsubscribed",
            Self::Bounced => "bounced",
            Self::Pending => "pending",
        }
    }

    /// Parse a `status` cell: surrounding whitespace and ASCII case are ignored.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        Self::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(value))
    }
}

impl fmt::Display for SubscriberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(cell: &str, expected: Option<SubscriberStatus>) {
        assert_eq!(SubscriberStatus::parse(cell), expected, "cell: {cell:?}");
    }

    #[test]
    fn statuses_parse_leniently_but_only_known_words() {
        case("active", Some(SubscriberStatus::Active));
        case(" Unsubscribed ", Some(SubscriberStatus::Unsubscribed));
        case("BOUNCED", Some(SubscriberStatus::Bounced));
        case("pending", Some(SubscriberStatus::Pending));
        case("unsubscribe", None);
        case("", None);
    }
}
