//! Editing a list file: append or update subscribers, reactivate one who asked again, remove
//! an address.
//!
//! Enters: the list's path and the row or address. Leaves: the file rewritten through
//! [`write_atomic`] (a crash leaves the old file or the new one, never half of one) with the
//! header and every other row kept byte for byte, its permissions kept; or an error and the file
//! untouched.
//!
//! Writers hold an advisory lock (`File::lock`) on a sibling `.<name>.lock` file for the whole
//! read-modify-write, so two `subscribers add` at once both land. The lock file is left in place:
//! deleting it would let a third writer lock a new file while the second still holds the old one.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::reader::{ListReader, count_newlines, refuse_unclosed_quote};
use super::{COLUMNS, Subscriber, SubscriberStatus};
use crate::address::fold;
use crate::address::{self, address_key, normalise_address};
use crate::error::Error;
use crate::fsutil::write_atomic;

/// What [`append_row`] or [`upsert_rows`] did with one subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The row was added at this line.
    Added {
        /// 1-based line of the new row.
        line: usize,
    },
    /// The address was listed; its row was brought up to date (a new name, attributes for empty
    /// cells). Its status is changed only by [`Upsert::Reactivate`].
    Updated {
        /// 1-based line of the row.
        line: usize,
    },
    /// The address is already in the list (in any status) with nothing new; nothing was written.
    AlreadyListed {
        /// 1-based line of the existing row.
        line: usize,
    },
    /// [`Upsert::Reactivate`] found a row of the address marked `bounced`: the address is known
    /// not to work, so its rows keep their status (only a new name or attributes for empty
    /// cells are merged into the first).
    KeptBounced {
        /// 1-based line of the address's first row.
        line: usize,
    },
}

/// How [`upsert_rows`] treats an address that is already listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    /// Bring its row up to date (a new non-empty name, attributes for empty cells); never change
    /// its status, so nobody who unsubscribed is brought back by an edit.
    Merge,
    /// The person asked again (a confirmed subscription, an import with `--resubscribe`): for an
    /// incoming active row, if any row of the address is not active, its first row is rewritten
    /// active with the incoming row's time, merged as above, and its other rows are removed, in
    /// the same one write. Incoming rows of another status are merged as by [`Upsert::Merge`].
    /// A bounce is never lifted this way: if any row of the address is `bounced`, its rows keep
    /// their status ([`Appended::KeptBounced`]).
    Reactivate,
}

/// Append `subscriber` to the list at `path` (creating it, with a header, if it does not exist),
/// or update its row; `shown` names the file in messages. `subscriber.line` is ignored.
///
/// The row follows the file's header and line ending. A value with no column to hold it, an
/// invalid address or a line break in a value is an [`Error::Usage`], and nothing is written.
pub fn append_row(path: &Path, shown: &Path, subscriber: &Subscriber) -> Result<Appended, Error> {
    let appended = upsert_rows(path, shown, std::slice::from_ref(subscriber), Upsert::Merge)?;
    appended.into_iter().next().ok_or_else(|| Error::usage("nothing to append"))
}

/// A row already in the file: where it is and what it holds.
struct Existing {
    subscriber: Subscriber,
    span: Range<usize>,
    /// The address's later rows, and whether any row of it (first or later) is not active, or
    /// is bounced.
    others: Vec<Range<usize>>,
    any_inactive: bool,
    any_bounced: bool,
}

/// Add every subscriber not yet listed and update the rows of those who are (see [`Upsert`]),
/// in one locked read-modify-write (an import of thousands of rows rewrites the file once).
/// Returns what happened to each, in order. Any invalid subscriber is an [`Error::Usage`] and
/// nothing is written.
pub fn upsert_rows(
    path: &Path,
    shown: &Path,
    subscribers: &[Subscriber],
    mode: Upsert,
) -> Result<Vec<Appended>, Error> {
    upsert_rows_with(path, shown, subscribers, mode, &[])
}

/// As [`upsert_rows`], first adding to the list's header those of `new_columns` it lacks (every
/// existing row gets an empty cell for each), in the same one locked write: `subscribers add
/// --attr region=London` on a list without `region`, an import bringing subscription times to a
/// list without `subscribed_at`. The caller has vetted the names.
pub fn upsert_rows_with(
    path: &Path,
    shown: &Path,
    subscribers: &[Subscriber],
    mode: Upsert,
    new_columns: &[String],
) -> Result<Vec<Appended>, Error> {
    let _lock = lock(path)?;
    upsert_unlocked(path, shown, subscribers, mode, new_columns)
}

/// As [`upsert_rows`] with the rows `decide` gives, called under the list's lock (so what it
/// read of the file is what is rewritten: `subscribers pull` weighs the store's sign-ups against
/// the file, then writes them, with no other writer in between). Returns the rows and what
/// happened to each.
pub fn upsert_decided(
    path: &Path,
    shown: &Path,
    mode: Upsert,
    decide: impl FnOnce() -> Result<Vec<Subscriber>, Error>,
) -> Result<(Vec<Subscriber>, Vec<Appended>), Error> {
    let _lock = lock(path)?;
    let rows = decide()?;
    let done = if rows.is_empty() { Vec::new() } else { upsert_unlocked(path, shown, &rows, mode, &[])? };
    Ok((rows, done))
}

/// [`upsert_rows_with`] for a caller holding the list's lock.
fn upsert_unlocked(
    path: &Path,
    shown: &Path,
    subscribers: &[Subscriber],
    mode: Upsert,
    new_columns: &[String],
) -> Result<Vec<Appended>, Error> {
    let emails = subscribers
        .iter()
        .map(|s| normalise_address(&s.email).map_err(|why| Error::usage(address::invalid(&s.email, &why))))
        .collect::<Result<Vec<_>, _>>()?;
    let mut old = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let mut widened = false;
    if !old.is_empty() && !new_columns.is_empty() {
        let columns = ListReader::new(old.as_slice(), path, shown)?.columns().to_vec();
        let missing: Vec<String> = new_columns.iter().filter(|c| !columns.contains(c)).cloned().collect();
        if !missing.is_empty() {
            // Widening rewrites every row: not across a quote never closed. Otherwise reading the
            // rows ([`existing_rows`]) refuses such a list before anything is written.
            refuse_unclosed_quote(&old, shown)?;
            old = super::columns::widen(&old, path, &missing)?;
            widened = true;
        }
    }
    let crlf = old.iter().position(|&b| b == b'\n').is_some_and(|i| i > 0 && old[i - 1] == b'\r');
    let (header, columns, mut existing) = if old.is_empty() {
        let attrs: BTreeSet<&str> = subscribers.iter().flat_map(|s| s.attrs.keys().map(String::as_str)).collect();
        let header: Vec<&str> = COLUMNS.iter().copied().chain(attrs).collect();
        (encode(&header, crlf, path)?, header.into_iter().map(str::to_owned).collect(), HashMap::new())
    } else {
        let wanted: HashSet<String> = emails.iter().map(|e| fold(e)).collect();
        let (columns, existing) = existing_rows(&old, path, shown, &wanted)?;
        (Vec::new(), columns, existing)
    };
    let mut replacements: BTreeMap<usize, (Range<usize>, Vec<u8>)> = BTreeMap::new();
    let mut appended = Vec::new();
    let mut line = count_newlines(&old) + usize::from(old.is_empty()) + 1;
    if !old.is_empty() && !old.ends_with(b"\n") {
        line += 1;
    }
    let mut results = Vec::with_capacity(subscribers.len());
    for (subscriber, email) in subscribers.iter().zip(&emails) {
        let key = fold(email);
        let Some(row) = existing.get_mut(&key) else {
            appended.extend(encode(&row_values(&columns, email, subscriber, shown)?, crlf, path)?);
            let subscriber = Subscriber { line, ..subscriber.clone() };
            existing.insert(
                key,
                Existing { subscriber, span: 0..0, others: Vec::new(), any_inactive: false, any_bounced: false },
            );
            results.push(Appended::Added { line });
            line += 1;
            continue;
        };
        let mut merged = merge(&row.subscriber, subscriber);
        let mut cut = false;
        let reactivate = mode == Upsert::Reactivate && subscriber.status == SubscriberStatus::Active;
        let kept_bounced = reactivate && row.any_bounced;
        if reactivate && row.any_inactive && !row.any_bounced && !row.span.is_empty() {
            merged.status = SubscriberStatus::Active;
            merged.subscribed_at = subscriber.subscribed_at.or(merged.subscribed_at);
            for other in row.others.drain(..) {
                replacements.insert(other.start, (other, Vec::new()));
                cut = true;
            }
            row.any_inactive = false;
        }
        let line = row.subscriber.line;
        if (merged == row.subscriber && !cut) || row.span.is_empty() {
            results.push(if kept_bounced { Appended::KeptBounced { line } } else { Appended::AlreadyListed { line } });
            continue;
        }
        let bytes = encode(&row_values(&columns, &row.subscriber.email, &merged, shown)?, crlf, path)?;
        replacements.insert(row.span.start, (row.span.clone(), bytes));
        row.subscriber = merged;
        results.push(if kept_bounced { Appended::KeptBounced { line } } else { Appended::Updated { line } });
    }
    if appended.is_empty() && replacements.is_empty() && !widened {
        return Ok(results);
    }
    let mut new = header;
    let mut from = 0;
    for (span, bytes) in replacements.into_values() {
        new.extend_from_slice(&old[from..span.start]);
        new.extend(bytes);
        from = span.end;
    }
    new.extend_from_slice(&old[from..]);
    if !new.is_empty() && !new.ends_with(b"\n") && !appended.is_empty() {
        new.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    }
    new.extend(appended);
    write_atomic(path, &new)?;
    Ok(results)
}

/// The columns of a list, and its valid rows of the `wanted` addresses (by key; the first row
/// of each, with the spans of the others). Only those are kept: adding one subscriber to a list
/// of a million holds one row, not a million.
fn existing_rows(
    old: &[u8],
    path: &Path,
    shown: &Path,
    wanted: &HashSet<String>,
) -> Result<(Vec<String>, HashMap<String, Existing>), Error> {
    let mut reader = ListReader::new(old, path, shown)?;
    let mut rows = HashMap::new();
    while let Some((row, span)) = reader.next_row() {
        let Ok(subscriber) = row else { continue };
        let key = fold(&subscriber.email);
        if !wanted.contains(&key) {
            continue;
        }
        // csv starts a row's span before any blank lines it skipped; keep those.
        let start = span.start + old[span.clone()].iter().take_while(|&&b| matches!(b, b'\r' | b'\n')).count();
        let inactive = subscriber.status != SubscriberStatus::Active;
        let bounced = subscriber.status == SubscriberStatus::Bounced;
        match rows.entry(key) {
            Entry::Occupied(mut first) => {
                let first: &mut Existing = first.get_mut();
                first.others.push(start..span.end);
                first.any_inactive |= inactive;
                first.any_bounced |= bounced;
            }
            Entry::Vacant(slot) => {
                slot.insert(Existing {
                    subscriber,
                    span: start..span.end,
                    others: Vec::new(),
                    any_inactive: inactive,
                    any_bounced: bounced,
                });
            }
        }
    }
    let columns = reader.columns().to_vec();
    reader.finish()?;
    Ok((columns, rows))
}

/// `existing` brought up to date by `incoming`: a new non-empty name, attributes for empty cells.
fn merge(existing: &Subscriber, incoming: &Subscriber) -> Subscriber {
    let mut merged = existing.clone();
    if !incoming.name.trim().is_empty() {
        merged.name.clone_from(&incoming.name);
    }
    for (key, value) in &incoming.attrs {
        let cell = merged.attrs.entry(key.clone()).or_default();
        if cell.is_empty() {
            cell.clone_from(value);
        }
    }
    merged
}

/// Remove every row of the list at `path` whose address is `email` (compared by
/// [`address_key`]); returns the lines removed, none if the address is not listed (then nothing
/// is written). Rows that are not valid are kept as they are.
pub fn remove_address(path: &Path, shown: &Path, email: &str) -> Result<Vec<usize>, Error> {
    let key = address_key(email);
    let _lock = lock(path)?;
    let old = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
    // A quote never closed is refused by the reader (`finish`), before anything is written.
    let mut reader = ListReader::new(old.as_slice(), path, shown)?;
    let (mut lines, mut cuts) = (Vec::new(), Vec::new());
    while let Some((row, span)) = reader.next_row() {
        if let Ok(subscriber) = row
            && fold(&subscriber.email) == key
        {
            lines.push(subscriber.line);
            // csv starts a row's span before any blank lines it skipped; keep those.
            let start = span.start + old[span.clone()].iter().take_while(|&&b| matches!(b, b'\r' | b'\n')).count();
            cuts.push(start..span.end);
        }
    }
    reader.finish()?;
    if cuts.is_empty() {
        return Ok(lines);
    }
    let mut new = Vec::with_capacity(old.len());
    let mut from = 0;
    for cut in cuts {
        new.extend_from_slice(&old[from..cut.start]);
        from = cut.end;
    }
    new.extend_from_slice(&old[from..]);
    write_atomic(path, &new)?;
    Ok(lines)
}

/// Why `value` cannot be written to `column` of a list, if it cannot: no value may hold a line
/// break or a NUL byte, and a name (it goes into the `To` header) no control character at all,
/// a tab included. `subscribers add`, `import` and `/confirm` all write through this rule.
pub(crate) fn unwritable(column: &str, value: &str) -> Option<&'static str> {
    if value.contains(['\r', '\n', '\0']) {
        Some("contains a line break or a NUL byte")
    } else if column == "name" && value.contains(char::is_control) {
        Some("contains a control character (a tab?)")
    } else {
        None
    }
}

/// The cells of `subscriber`'s row under `columns`; every non-empty value needs a column.
fn row_values(columns: &[String], email: &str, subscriber: &Subscriber, shown: &Path) -> Result<Vec<String>, Error> {
    let subscribed_at = subscriber.subscribed_at.map(|t| t.to_string()).unwrap_or_default();
    let status = if subscriber.status == SubscriberStatus::Active { "" } else { subscriber.status.as_str() };
    let known =
        [("email", email), ("name", subscriber.name.as_str()), ("status", status), ("subscribed_at", &subscribed_at)];
    let attrs = subscriber.attrs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    for (column, value) in known.into_iter().chain(attrs) {
        // The time of subscription is a courtesy: a list without the column simply does not keep it.
        if !value.is_empty() && !columns.iter().any(|c| c == column) && column != "subscribed_at" {
            return Err(Error::usage(format!(
                "`{}` has no `{column}` column for the value `{value}`; add the column to its header first",
                shown.display()
            )));
        }
        if let Some(why) = unwritable(column, value) {
            return Err(Error::usage(format!("the value of `{column}` {why}")));
        }
    }
    let values = columns.iter().map(|column| match column.as_str() {
        "email" => email.to_owned(),
        "name" => subscriber.name.clone(),
        "status" => subscriber.status.as_str().to_owned(),
        "subscribed_at" => subscribed_at.clone(),
        attr => subscriber.attrs.get(attr).cloned().unwrap_or_default(),
    });
    Ok(values.collect())
}

/// One CSV row, quoted where needed, ending with the file's line ending.
pub(super) fn encode<S: AsRef<[u8]>>(values: &[S], crlf: bool, path: &Path) -> Result<Vec<u8>, Error> {
    let terminator = if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
    let mut writer = csv::WriterBuilder::new().terminator(terminator).from_writer(Vec::new());
    // Writing to memory fails only if memory does; report it against the file being edited.
    let failed = |e: String| Error::io("write", path, io::Error::other(e));
    writer.write_record(values).map_err(|e| failed(e.to_string()))?;
    writer.into_inner().map_err(|e| failed(e.to_string()))
}

/// Take the exclusive lock for editing the list at `path`, waiting for other writers.
pub(super) fn lock(path: &Path) -> Result<File, Error> {
    let lock_path = lock_path(path);
    if let Some(dir) = lock_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| Error::io("create", &lock_path, e))?;
    file.lock().map_err(|e| Error::io("lock", &lock_path, e))?;
    Ok(file)
}

/// `subscribers/.weekly.csv.lock` for `subscribers/weekly.csv`.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".lock");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests;
