//! Checking one list: counts by status and every problem, for `letterpress check` and
//! `subscribers check`.
//!
//! Enters: a list's path. Leaves: a [`ListReport`]. Invalid rows and header problems are error
//! diagnostics; an address listed twice in the same file is a warning that points at the first.

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;

use super::reader::Field;
use super::{Subscriber, SubscriberStatus, read_list};
use crate::address::{Seen, fold};
use crate::diagnostic::{Diagnostic, Location};
use crate::error::Error;

/// What [`check_list`] found in one list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListReport {
    /// Data rows read (blank lines and the header not counted).
    pub rows: usize,
    /// Rows without errors (duplicates included).
    pub valid: usize,
    /// Valid rows by status.
    pub by_status: StatusCounts,
    /// Valid rows whose address already appeared earlier in the file.
    pub duplicates: usize,
    /// Rows marked `active` in the file whose address is suppressed in the state store (for the
    /// list or globally): counted here, not under `by_status.active` ([`count_list`] only).
    pub suppressed: usize,
    /// Every problem, in file order: errors for the header and invalid rows, warnings for
    /// duplicates.
    pub diagnostics: Vec<Diagnostic>,
}

/// Numbers of rows per [`SubscriberStatus`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    /// Rows with status `active` (or none).
    pub active: usize,
    /// Rows with status `unsubscribed`.
    pub unsubscribed: usize,
    /// Rows with status `bounced`.
    pub bounced: usize,
    /// Rows with status `pending`.
    pub pending: usize,
}

impl StatusCounts {
    /// The count for `status`.
    pub fn get(&self, status: SubscriberStatus) -> usize {
        match status {
            SubscriberStatus::Active => self.active,
            SubscriberStatus::Unsubscribed => self.unsubscribed,
            SubscriberStatus::Bounced => self.bounced,
            SubscriberStatus::Pending => self.pending,
        }
    }

    fn add(&mut self, status: SubscriberStatus) {
        let count = match status {
            SubscriberStatus::Active => &mut self.active,
            SubscriberStatus::Unsubscribed => &mut self.unsubscribed,
            SubscriberStatus::Bounced => &mut self.bounced,
            SubscriberStatus::Pending => &mut self.pending,
        };
        *count += 1;
    }
}

/// Read the whole list at `path` and report on it; `shown` is the path used in diagnostics.
///
/// Header problems are reported in the [`ListReport`], not as an error, so `check` can print
/// them with everything else; only a file that cannot be read is an [`Error`].
pub fn check_list(path: &Path, shown: &Path) -> Result<ListReport, Error> {
    report_on::<std::hash::RandomState>(path, shown, None)
}

/// As [`check_list`], counting the active rows whose address is in `suppressed` (the keys of
/// [`crate::state::State::suppressed_set`]) as suppressed instead of active: what
/// `subscribers count` shows, so the counts agree with who would be mailed.
pub fn count_list<S: std::hash::BuildHasher>(
    path: &Path,
    shown: &Path,
    suppressed: &HashSet<String, S>,
) -> Result<ListReport, Error> {
    report_on(path, shown, Some(suppressed))
}

fn report_on<S: std::hash::BuildHasher>(
    path: &Path,
    shown: &Path,
    suppressed: Option<&HashSet<String, S>>,
) -> Result<ListReport, Error> {
    let mut report = ListReport::default();
    let mut reader = match read_list(path, shown) {
        Ok(reader) => reader,
        Err(Error::Invalid(diagnostics)) => {
            report.diagnostics = diagnostics;
            return Ok(report);
        }
        Err(error) => return Err(error),
    };
    let mut seen = Seen::default();
    while let Some(row) = reader.next() {
        report.rows += 1;
        match row {
            Err(diagnostic) => report.diagnostics.push(diagnostic),
            Ok(subscriber) => {
                report.valid += 1;
                if subscriber.status == SubscriberStatus::Active
                    && suppressed.is_some_and(|keys| keys.contains(&fold(&subscriber.email)))
                {
                    report.suppressed += 1;
                } else {
                    report.by_status.add(subscriber.status);
                }
                if let Some(first) = seen.insert(&subscriber.email, subscriber.line) {
                    report.duplicates += 1;
                    let warning = duplicate(shown, &subscriber, first);
                    report.diagnostics.push(reader.quote_row(warning, subscriber.line, Field::Start));
                }
            }
        }
    }
    match reader.finish() {
        // A quote never closed: reported with the rows' problems.
        Err(Error::Invalid(diagnostics)) => report.diagnostics.extend(diagnostics),
        done => done?,
    }
    Ok(report)
}

/// The warning for a row whose address is already listed at line `first` of the same file.
pub(crate) fn duplicate(shown: &Path, subscriber: &Subscriber, first: usize) -> Diagnostic {
    Diagnostic::warning("subscribers/duplicate", format!("`{}` is already listed at line {first}", subscriber.email))
        .in_file(Location::new(shown, subscriber.line, 1))
        .help("delete one of the rows; the address gets one copy of each issue either way")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(csv: &str, expected: (usize, usize, StatusCounts, usize), codes: &[(usize, &str)]) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.csv");
        std::fs::write(&path, csv).unwrap();
        let report = check_list(&path, Path::new("subscribers/list.csv")).unwrap();
        assert_eq!((report.rows, report.valid, report.by_status, report.duplicates), expected, "{report:#?}");
        let got: Vec<_> =
            report.diagnostics.iter().map(|d| (d.location.as_ref().map_or(0, |l| l.line), d.code)).collect();
        assert_eq!(got, codes);
    }

    fn counts(active: usize, unsubscribed: usize, bounced: usize, pending: usize) -> StatusCounts {
        StatusCounts { active, unsubscribed, bounced, pending }
    }

    #[test]
    fn counts_rows_statuses_problems_and_duplicates() {
        case("email\n", (0, 0, counts(0, 0, 0, 0), 0), &[]);
        case(
            "email,status\na@example.org,\nb@example.org,bounced\nbad,\nA@EXAMPLE.org,pending\nc@example.org,x\n",
            (5, 3, counts(1, 0, 1, 1), 1),
            &[(4, "subscribers/address"), (5, "subscribers/duplicate"), (6, "subscribers/status")],
        );
        case(
            "email\nbob@example.org\nbob+news@example.org\n Bob@example.org\n",
            (3, 3, counts(3, 0, 0, 0), 1),
            &[(4, "subscribers/duplicate")],
        );
        case("name\nBob\n", (0, 0, counts(0, 0, 0, 0), 0), &[(1, "subscribers/header")]);
    }

    #[test]
    fn duplicate_warnings_point_at_the_first_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.csv");
        std::fs::write(&path, "email\nbob@example.org\nBOB@example.org\n").unwrap();
        let report = check_list(&path, Path::new("subscribers/list.csv")).unwrap();
        assert_eq!(
            report.diagnostics[0].to_string(),
            "warning: `BOB@example.org` is already listed at line 2\n --> subscribers/list.csv:3:1\n  |\n3 | BOB@example.org\n  | ^\n  = help: delete one of the rows; the address gets one copy of each issue either way\n"
        );
        assert!(!report.diagnostics[0].is_error());
    }

    #[test]
    fn reads_the_example_lists() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for list in ["commissioner-weekly", "integrated-care"] {
            let path = root.join("subscribers").join(format!("{list}.csv"));
            let report = check_list(&path, &path).unwrap();
            assert_eq!(report.diagnostics, [], "{list}");
            assert_eq!(report.rows, report.valid, "{list}");
        }
    }
}
