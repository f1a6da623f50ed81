//! Shaping a list's columns: add one (every existing row gets an empty cell), rename one.
//!
//! Enters: the list's bytes or path, and the column names. Leaves: the file rewritten through
//! the same locked, atomic write as every other edit ([`super::edit`]): the header changes,
//! every row keeps its bytes and gains only the empty cells of the new columns, in the same
//! one write; or an [`Error::Usage`] that says why, and the file untouched.
//!
//! The four columns letterpress reads itself ([`COLUMNS`]) can be added when a list lacks them,
//! but never renamed away nor listed twice; names are compared without regard to case, so a
//! list cannot hold both `Region` and `region`.

use std::path::Path;

use csv::ByteRecord;

use super::COLUMNS;
use super::edit::{encode, lock};
use super::reader::{ListReader, field_spans, is_blank, refuse_unclosed_quote};
use crate::diagnostic::did_you_mean;
use crate::error::Error;
use crate::fsutil::write_atomic;

/// The columns of the list at `path`, as its header names them.
pub fn list_columns(path: &Path, shown: &Path) -> Result<Vec<String>, Error> {
    Ok(super::read_list(path, shown)?.columns().to_vec())
}

/// Add the column `name` to the list at `path`, empty in every row. Refused if the list has it.
pub fn add_column(path: &Path, shown: &Path, name: &str) -> Result<(), Error> {
    let name = new_name(name)?;
    let _lock = lock(path)?;
    let old = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
    refuse_unclosed_quote(&old, shown)?;
    let columns = ListReader::new(old.as_slice(), path, shown)?.columns().to_vec();
    refuse_taken(&name, &columns, shown, None)?;
    let new = widen(&old, path, &[name])?;
    write_atomic(path, &new)
}

/// Rename the column `old` of the list at `path` to `new`; only the header changes.
pub fn rename_column(path: &Path, shown: &Path, old: &str, new: &str) -> Result<(), Error> {
    let new = new_name(new)?;
    let _lock = lock(path)?;
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
    refuse_unclosed_quote(&bytes, shown)?;
    let columns = ListReader::new(bytes.as_slice(), path, shown)?.columns().to_vec();
    let old = old.trim();
    let index = columns.iter().position(|c| c == old || (reserved(c) && c.eq_ignore_ascii_case(old)));
    let Some(index) = index else {
        let help = did_you_mean(old, columns.iter().map(String::as_str)).map_or_else(
            || format!("its columns are `{}`", columns.join("`, `")),
            |near| format!("did you mean `{near}`?"),
        );
        return Err(Error::usage(format!("`{}` has no column `{old}`; {help}", shown.display())));
    };
    if reserved(&columns[index]) {
        return Err(Error::usage(format!(
            "the `{}` column cannot be renamed: letterpress reads it by that name",
            columns[index]
        )));
    }
    refuse_taken(&new, &columns, shown, Some(index))?;
    let start = header_start(&bytes, path)?;
    let spans = field_spans(&bytes[start..]);
    let Some(span) = spans.get(index) else {
        return Err(Error::usage(format!("cannot find column `{old}` in the header of `{}`", shown.display())));
    };
    let mut out = Vec::with_capacity(bytes.len() + new.len());
    let cell_start = start + span.start + if index == 0 { bom(&bytes[start..]) } else { 0 };
    out.extend_from_slice(&bytes[..cell_start]);
    out.extend(cell(&new, path)?);
    out.extend_from_slice(&bytes[start + span.end..]);
    write_atomic(path, &out)
}

/// `bytes` with the columns `names` added to the header and an empty cell for each at the end
/// of every row; every other byte is kept. `bytes` must hold a valid header (the caller read it).
pub(super) fn widen(bytes: &[u8], path: &Path, names: &[String]) -> Result<Vec<u8>, Error> {
    let header_cells = names.iter().map(|n| cell(n, path)).collect::<Result<Vec<_>, _>>()?;
    let empty = vec![b','; names.len()];
    let mut csv = reader(bytes);
    let mut record = ByteRecord::new();
    let (mut out, mut from, mut header) = (Vec::with_capacity(bytes.len() + bytes.len() / 8), 0, true);
    while csv
        .read_byte_record(&mut record)
        .map_err(|e| Error::io("read", path, std::io::Error::other(e.to_string())))?
    {
        if is_blank(&record) {
            continue;
        }
        let end = usize::try_from(csv.position().byte()).unwrap_or(bytes.len()).min(bytes.len());
        let mut at = end;
        if at > from && bytes[at - 1] == b'\n' {
            at -= 1;
            if at > from && bytes[at - 1] == b'\r' {
                at -= 1;
            }
        }
        out.extend_from_slice(&bytes[from..at]);
        if header {
            for cell in &header_cells {
                out.push(b',');
                out.extend_from_slice(cell);
            }
            header = false;
        } else {
            out.extend_from_slice(&empty);
        }
        from = at;
    }
    out.extend_from_slice(&bytes[from..]);
    Ok(out)
}

/// Why `name` cannot name an attribute column that `add` would create for a `--attr`, if it
/// cannot: it is one of the columns letterpress reads itself, or looks like a typo of one of the
/// list's `columns`.
pub fn refuse_new_attribute(name: &str, columns: &[String], shown: &Path, list: &str) -> Result<(), Error> {
    let name = new_name(name)?;
    if let Some(column) = COLUMNS.iter().find(|c| c.eq_ignore_ascii_case(&name)) {
        return Err(Error::usage(format!("`{column}` is not an attribute; set it with `--name` or edit the list")));
    }
    let lower = name.to_lowercase();
    let lowered: Vec<String> = columns.iter().map(|c| c.to_lowercase()).collect();
    if let Some(near) = did_you_mean(&lower, lowered.iter().map(String::as_str)) {
        let near = &columns[lowered.iter().position(|c| c == near).unwrap_or(0)];
        return Err(Error::usage(format!(
            "`{}` has no `{name}` column; did you mean `{near}`? To add `{name}` as a new column, run `letterpress subscribers columns {list} --add {name}` first",
            shown.display()
        )));
    }
    Ok(())
}

/// A column name as given, trimmed, if it can be one.
fn new_name(name: &str) -> Result<String, Error> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::usage("a column needs a name"));
    }
    if name.contains(char::is_control) {
        return Err(Error::usage("a column name must fit on one line, without control characters"));
    }
    Ok(name.to_owned())
}

/// Refuse `name` if the list's `columns` (but the one at `except`) have it, in any case.
fn refuse_taken(name: &str, columns: &[String], shown: &Path, except: Option<usize>) -> Result<(), Error> {
    let taken = columns.iter().enumerate().find(|(i, c)| Some(*i) != except && c.eq_ignore_ascii_case(name));
    match taken {
        Some((_, column)) => Err(Error::usage(format!("`{}` already has a column `{column}`", shown.display()))),
        None => Ok(()),
    }
}

fn reserved(column: &str) -> bool {
    COLUMNS.contains(&column)
}

/// One cell holding `value`, quoted if it needs to be.
fn cell(value: &str, path: &Path) -> Result<Vec<u8>, Error> {
    let mut cell = encode(&[value], false, path)?;
    if cell.last() == Some(&b'\n') {
        cell.pop();
    }
    Ok(cell)
}

/// The byte offset of the header row in `bytes` (blank lines before it skipped).
fn header_start(bytes: &[u8], path: &Path) -> Result<usize, Error> {
    let mut csv = reader(bytes);
    let mut record = ByteRecord::new();
    while csv
        .read_byte_record(&mut record)
        .map_err(|e| Error::io("read", path, std::io::Error::other(e.to_string())))?
    {
        if !is_blank(&record) {
            break;
        }
    }
    let start = record.position().map_or(0, |p| usize::try_from(p.byte()).unwrap_or(0)).min(bytes.len());
    Ok(start + bytes[start..].iter().take_while(|&&b| matches!(b, b'\r' | b'\n')).count())
}

fn reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(bytes)
}

/// The length of a UTF-8 byte order mark at the start of `bytes` (csv skips it).
fn bom(bytes: &[u8]) -> usize {
    if bytes.starts_with(b"\xef\xbb\xbf") { 3 } else { 0 }
}

#[cfg(test)]
mod tests;
