//! `check`'s view of an issue's audience filter: every field it names is a column of one of the
//! issue's lists, and it matches somebody.
//!
//! Enters: the issue's [`ListFile`]s (each carrying the filter) and the text of the file the
//! filter was written in (for the caret line). Leaves: located diagnostics. A list that cannot
//! be read is left to the list checks, which report it.

use std::collections::BTreeSet;

use super::{ListFile, Members, list_columns};
use crate::diagnostic::{Diagnostic, did_you_mean};

/// Diagnostics for the audience filter of `lists` (none when they carry no filter).
pub fn check_segment(lists: &[ListFile], source: &str) -> Vec<Diagnostic> {
    let Some(segment) = lists.iter().find_map(|l| l.segment.as_ref()) else { return Vec::new() };
    let mut columns = BTreeSet::new();
    for list in lists {
        match list_columns(&list.path, &list.shown) {
            Ok(found) => columns.extend(found),
            Err(_) => return Vec::new(),
        }
    }
    let mut out = Vec::new();
    let names = || lists.iter().map(|l| format!("`{}`", l.slug)).collect::<Vec<_>>().join(", ");
    for field in &segment.fields {
        if columns.contains(&field.value) {
            continue;
        }
        let help = match did_you_mean(&field.value, columns.iter().map(String::as_str)) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!(
                "the columns of {} are {}",
                names(),
                columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
            ),
        };
        out.push(
            Diagnostic::error(
                "audience/unknown-column",
                format!("no list of this issue has a column `{}`", field.value),
            )
            .at(field.location(&segment.location.path), source)
            .help(help),
        );
    }
    if !out.is_empty() {
        return out;
    }
    // Suppressions are left aside: the question is whether the filter selects anybody. The
    // stream stops at the first match and holds no set of addresses, so a large list costs a
    // read, not memory.
    let Ok(mut members) = Members::against(lists, None) else { return out };
    // A member means a match; an error (an unreadable list) is the list checks' to report.
    if members.next().is_some() {
        return out;
    }
    let (counts, _) = members.finish();
    let active: usize = counts.iter().map(|c| c.active).sum();
    if active > 0 {
        out.push(
            Diagnostic::warning(
                "audience/nobody",
                format!("the audience matches none of the {active} active subscribers of {}", names()),
            )
            .at(segment.location.clone(), source)
            .help(
                "check the values against the lists (matching ignores case), or remove `audience` to send to everyone",
            ),
        );
    }
    out
}
