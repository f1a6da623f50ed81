//! Streaming one list file: the header row, then one validated row at a time.
//!
//! Enters: a CSV file (any reader), its real path (for I/O errors) and the path to show in
//! diagnostics. Leaves: [`ListReader`], an iterator of `Result<Subscriber, Diagnostic>`. A bad row
//! is a diagnostic located at `path:line` and never stops the rows after it; a problem with the
//! header is one diagnostic, and the list is not read at all.
//!
//! Rows are read as bytes (`csv::ByteRecord`) so that invalid UTF-8 is reported with its line
//! instead of ending the stream. The raw bytes of the row being read are kept beside it (one row
//! and what the parser has buffered, never the whole file), so a diagnostic quotes the row's line
//! with a caret under the field at fault, as content errors do.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use csv::ByteRecord;

mod raw;

pub(crate) use raw::{Field, field_spans};
use raw::{Recorder, quote, unclosed_quote};

use super::{COLUMNS, Subscriber, SubscriberStatus};
use crate::address::{self, normalise_address};
use crate::diagnostic::{Diagnostic, Location, did_you_mean};
use crate::error::Error;

/// Open the list at `path` and read its header; `shown` is the path used in diagnostics.
///
/// Fails with [`Error::Io`] if the file cannot be opened, and with [`Error::Invalid`] (one
/// diagnostic at the header's line) if the header is missing, has no `email` column, or names a
/// column twice.
pub fn read_list(path: &Path, shown: &Path) -> Result<ListReader, Error> {
    let file = File::open(path).map_err(|e| Error::io("read", path, e))?;
    ListReader::new(file, path, shown)
}

/// The rows of one list, in file order; see [`read_list`].
///
/// After iterating, call [`ListReader::finish`]: a list cut short by a read error must not pass
/// for a shorter list.
#[derive(Debug)]
pub struct ListReader<R = File> {
    csv: csv::Reader<Recorder<R>>,
    path: PathBuf,
    shown: PathBuf,
    columns: Columns,
    record: ByteRecord,
    /// The byte range of the last record read, in the file.
    span: Range<u64>,
    failure: Option<Error>,
}

/// Which column holds what, from the header row.
#[derive(Debug)]
struct Columns {
    names: Vec<String>,
    email: usize,
    name: Option<usize>,
    status: Option<usize>,
    subscribed_at: Option<usize>,
}

impl<R: io::Read> ListReader<R> {
    /// Read the header of the list in `reader`.
    pub(crate) fn new(reader: R, path: &Path, shown: &Path) -> Result<Self, Error> {
        // `\n` rather than csv's default CRLF terminator: csv reports the line of every row after
        // a `\r\n` one too low (rust-csv#395). The `\r` left at the end of a row is cut in `field`.
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .buffer_capacity(64 * 1024)
            .from_reader(Recorder { inner: reader, kept: Vec::new(), base: 0, keep_from: 0 });
        let mut record = ByteRecord::new();
        loop {
            if !csv.read_byte_record(&mut record).map_err(|e| read_error(path, e))? {
                record.clear();
                break;
            }
            if !is_blank(&record) {
                break;
            }
        }
        let span = record.position().map_or(0, csv::Position::byte)..csv.position().byte();
        let raw = csv.get_ref().bytes(&span);
        // csv starts the record's position before the empty `\n` lines it skipped.
        let start = to_usize(record.position().map_or(1, csv::Position::line)).max(1);
        let line = start + count_newlines(&raw[..raw.iter().take_while(|&&b| matches!(b, b'\r' | b'\n')).count()]);
        if let Some(d) = unclosed_quote_at(raw, start, shown) {
            return Err(Error::Invalid(vec![d]));
        }
        let columns = Columns::parse(&record)
            .map_err(|(d, field)| Error::Invalid(vec![quote(d, raw, Location::new(shown, line, 1), field)]))?;
        Ok(Self { csv, path: path.to_path_buf(), shown: shown.to_path_buf(), columns, record, span, failure: None })
    }

    /// The column names of the header row, trimmed; `email`, `name`, `status` and
    /// `subscribed_at` in lowercase whatever their case in the file.
    pub fn columns(&self) -> &[String] {
        &self.columns.names
    }

    /// Whether the list has a `status` column (without one, every valid row is active).
    pub fn has_status(&self) -> bool {
        self.columns.status.is_some()
    }

    /// The I/O error that ended the iteration early, if any.
    pub fn finish(self) -> Result<(), Error> {
        self.failure.map_or(Ok(()), Err)
    }

    /// The next row with the byte range it occupies in the file (for edits).
    pub(crate) fn next_row(&mut self) -> Option<(Result<Subscriber, Diagnostic>, Range<usize>)> {
        self.csv.get_mut().keep_from = self.csv.position().byte();
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(true) if is_blank(&self.record) => {}
                Ok(true) => break,
                Ok(false) => return None,
                Err(e) => {
                    self.failure = Some(read_error(&self.path, e));
                    return None;
                }
            }
        }
        let start = self.record.position().map_or(0, csv::Position::byte);
        let end = self.csv.position().byte();
        self.span = start..end;
        let span = to_usize(start)..to_usize(end);
        let start_line = self.record.position().map_or(1, csv::Position::line);
        // A quote never closed swallows the rest of the file into this row: an error for the
        // whole list, not one bad row, or every row after it would silently go missing.
        if let Some(d) = unclosed_quote_at(self.csv.get_ref().bytes(&self.span), to_usize(start_line), &self.shown) {
            self.failure = Some(Error::Invalid(vec![d]));
            return None;
        }
        let inner_newlines = count_newlines(self.record.as_slice());
        let line = row_line(start_line, self.csv.position().line(), inner_newlines);
        Some((self.parse_row(line), span))
    }

    /// `diagnostic` located at `line` of the last row read, quoting the row's first line with a
    /// caret under `field`.
    pub(crate) fn quote_row(&self, diagnostic: Diagnostic, line: usize, field: Field) -> Diagnostic {
        quote(diagnostic, self.csv.get_ref().bytes(&self.span), Location::new(&self.shown, line, 1), field)
    }

    fn parse_row(&self, line: usize) -> Result<Subscriber, Diagnostic> {
        let at = |field: Field| move |d: Diagnostic| self.quote_row(d, line, field);
        let names = &self.columns.names;
        if self.record.len() != names.len() {
            let d = Diagnostic::error(
                "subscribers/fields",
                format!("row has {} fields but the header has {}", self.record.len(), names.len()),
            );
            return Err(if self.record.len() > names.len() {
                at(Field::At(names.len()))(d.help("quote values that contain commas, e.g. `\"Smith, Anna\"`"))
            } else {
                at(Field::End)(
                    d.help(format!(
                        "give every column a value, even an empty one: the header is `{}`",
                        names.join(",")
                    )),
                )
            });
        }
        let mut values = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            values.push(text(field(&self.record, i), name).map_err(at(Field::At(i)))?);
        }
        let at_column = |i: Option<usize>| at(i.map_or(Field::Start, Field::At));
        let email = values[self.columns.email];
        let email = normalise_address(email).map_err(|why| {
            let at = at_column(Some(self.columns.email));
            let message = address::invalid(email, &why);
            // A row marked `unsubscribed` or `bounced` is never mailed: a bad address in it is a
            // warning, so an editor can keep the record without failing `check`.
            let marked =
                self.columns.status.map(|i| SubscriberStatus::parse(values[i].trim())).and_then(|s| {
                    s.filter(|s| matches!(s, SubscriberStatus::Unsubscribed | SubscriberStatus::Bounced))
                });
            match marked {
                Some(status) => at(Diagnostic::warning("subscribers/address", message).help(format!(
                    "the row is marked `{}`, so it is never mailed; fix or delete it when you like",
                    status.as_str()
                ))),
                None => at(Diagnostic::error("subscribers/address", message)),
            }
        })?;
        let status = match self.columns.status.map(|i| values[i].trim()) {
            None | Some("") => SubscriberStatus::Active,
            Some(cell) => {
                SubscriberStatus::parse(cell).ok_or_else(|| at_column(self.columns.status)(unknown_status(cell)))?
            }
        };
        let subscribed_at = match self.columns.subscribed_at.map(|i| values[i].trim()) {
            None | Some("") => None,
            Some(cell) => Some(
                cell.parse::<jiff::Timestamp>()
                    .map_err(|_| at_column(self.columns.subscribed_at)(bad_timestamp(cell)))?,
            ),
        };
        let known = [Some(self.columns.email), self.columns.name, self.columns.status, self.columns.subscribed_at];
        let attrs: BTreeMap<String, String> = names
            .iter()
            .zip(&values)
            .enumerate()
            .filter(|(i, _)| !known.contains(&Some(*i)))
            .map(|(_, (name, value))| (name.clone(), (*value).to_owned()))
            .collect();
        let name = self.columns.name.map_or("", |i| values[i].trim()).to_owned();
        Ok(Subscriber { email, name, attrs, status, subscribed_at, line })
    }
}

impl<R: io::Read> Iterator for ListReader<R> {
    type Item = Result<Subscriber, Diagnostic>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_row().map(|(row, _)| row)
    }
}

impl Columns {
    /// The columns named by `header`, or what is wrong with it and where.
    fn parse(header: &ByteRecord) -> Result<Self, (Diagnostic, Field)> {
        Self::parse_names(header).map_err(|(d, i)| (d, i.map_or(Field::Start, Field::At)))
    }

    fn parse_names(header: &ByteRecord) -> Result<Self, (Diagnostic, Option<usize>)> {
        let problem = |message: String| Diagnostic::error("subscribers/header", message);
        if header.is_empty() {
            return Err((
                problem("the list is empty: it has no header row".to_owned())
                    .help("start the file with a header row such as `email,name`"),
                None,
            ));
        }
        let mut names: Vec<String> = Vec::with_capacity(header.len());
        for i in 0..header.len() {
            let problem = |message: String| (problem(message), Some(i));
            let raw = std::str::from_utf8(field(header, i)).map_err(|_| {
                let (d, i) = problem("the header row is not valid UTF-8".to_owned());
                (d.help("save the file as UTF-8"), i)
            })?;
            let name = raw.trim();
            let name = COLUMNS.iter().find(|c| c.eq_ignore_ascii_case(name)).map_or(name, |c| *c).to_owned();
            let help = |(d, i): (Diagnostic, Option<usize>), help: &str| (d.help(help), i);
            if name.contains(['\r', '\n', '\0']) {
                return Err(help(
                    problem(format!("column {} of the header contains a line break or a NUL byte", i + 1)),
                    "a column name must fit on one line",
                ));
            }
            if name.is_empty() {
                return Err(help(
                    problem(format!("column {} of the header has no name", i + 1)),
                    "name the column or delete it",
                ));
            }
            if names.contains(&name) {
                return Err(help(
                    problem(format!("column `{name}` appears twice in the header")),
                    "rename or delete one of them",
                ));
            }
            names.push(name);
        }
        let index = |column: &str| names.iter().position(|n| n == column);
        let Some(email) = index("email") else {
            let near = names.iter().find(|n| did_you_mean(&n.to_lowercase(), ["email"]).is_some());
            let help = match near {
                Some(near) => format!("rename the column `{near}` to `email`"),
                None => format!("the first row must name the columns, e.g. `email,name`; it is `{}`", names.join(",")),
            };
            return Err((problem("the header has no `email` column".to_owned()).help(help), None));
        };
        let (name, status, subscribed_at) = (index("name"), index("status"), index("subscribed_at"));
        Ok(Self { names, email, name, status, subscribed_at })
    }
}

/// Refuse to edit the list `bytes` (`shown` in messages) if a quote in it is never closed: csv
/// reads the rest of the file as one value, so a row written after it would land inside the
/// quote, and a row removed or updated after it would not be found.
pub(crate) fn refuse_unclosed_quote(bytes: &[u8], shown: &Path) -> Result<(), Error> {
    unclosed_quote_at(bytes, 1, shown).map_or(Ok(()), |d| Err(Error::Invalid(vec![d])))
}

/// The error for a quote opened in `raw` (rows of a list, the first of them on line `line`,
/// counting any blank lines before it) and never closed, located at the quote.
fn unclosed_quote_at(raw: &[u8], line: usize, shown: &Path) -> Option<Diagnostic> {
    if !raw.contains(&b'"') {
        return None;
    }
    // A byte-order mark before the header is not part of the first field.
    let bom = if raw.starts_with(b"\xef\xbb\xbf") { 3 } else { 0 };
    let at = bom + unclosed_quote(&raw[bom..])?;
    let line_start = raw[..at].iter().rposition(|&b| b == b'\n').map_or(bom, |i| i + 1);
    let line = line + count_newlines(&raw[..at]);
    let col = String::from_utf8_lossy(&raw[line_start..at]).chars().count() + 1;
    let diagnostic = Diagnostic::error(
        "subscribers/quote",
        format!("the quote opened at line {line}, column {col} is never closed"),
    )
    .help("close the quote or remove the stray `\"`; until then every row after it is read as part of one value");
    Some(quote(diagnostic, &raw[line_start..], Location::new(shown, line, 1), Field::Offset(at - line_start)))
}

/// Field `i` of `record`, without the `\r` of a `\r\n` line ending on the last field.
fn field(record: &ByteRecord, i: usize) -> &[u8] {
    let value = record.get(i).unwrap_or_default();
    if i + 1 == record.len() { value.strip_suffix(b"\r").unwrap_or(value) } else { value }
}

/// A line with nothing on it (csv already skips empty `\n` lines; `\r\n` ones reach us).
pub(super) fn is_blank(record: &ByteRecord) -> bool {
    record.len() == 1 && field(record, 0).is_empty()
}

/// The value of column `column` as text: valid UTF-8 with no line break and no NUL.
fn text<'a>(bytes: &'a [u8], column: &str) -> Result<&'a str, Diagnostic> {
    let value = std::str::from_utf8(bytes).map_err(|e| {
        Diagnostic::error(
            "subscribers/utf8",
            format!("column `{column}` is not valid UTF-8 (byte {} of the value)", e.valid_up_to() + 1),
        )
        .help("save the file as UTF-8")
    })?;
    let what = match value.bytes().find(|b| matches!(b, b'\r' | b'\n' | b'\0')) {
        None => return Ok(value),
        Some(b'\0') => "a NUL byte",
        Some(_) => "a line break",
    };
    Err(Diagnostic::error("subscribers/control", format!("column `{column}` contains {what}"))
        .help("a value must fit on one line; remove the line break or stray character"))
}

fn unknown_status(cell: &str) -> Diagnostic {
    let names = SubscriberStatus::ALL.map(SubscriberStatus::as_str);
    let help = match did_you_mean(&cell.to_lowercase(), names) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!("use one of `{}`", names.join("`, `")),
    };
    Diagnostic::error("subscribers/status", format!("unknown status `{cell}`")).help(help)
}

fn bad_timestamp(cell: &str) -> Diagnostic {
    Diagnostic::error(
        "subscribers/subscribed-at",
        format!("`subscribed_at` value `{cell}` is not an RFC 3339 timestamp with an offset"),
    )
    .help("write e.g. `2016-04-04T08:12:00+01:00` or `2016-04-04T07:12:00Z`")
}

/// The 1-based line a row starts on. csv gives the position before any blank lines it skipped
/// (`start`) and after the row's terminator (`end`); a row that ends at end of file without a
/// newline is one line shorter, hence the `max`.
fn row_line(start: u64, end: u64, inner_newlines: usize) -> usize {
    let from_end = end.saturating_sub(u64::try_from(inner_newlines).unwrap_or(u64::MAX)).saturating_sub(1);
    to_usize(start.max(from_end)).max(1)
}

/// The number of `\n` bytes in `bytes`.
#[allow(clippy::naive_bytecount, reason = "rows and edited lists are small; not worth the `bytecount` dependency")]
pub(super) fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn read_error(path: &Path, error: csv::Error) -> Error {
    let text = error.to_string();
    match error.into_kind() {
        csv::ErrorKind::Io(e) => Error::io("read", path, e),
        _ => Error::io("read", path, io::Error::other(text)),
    }
}

#[cfg(test)]
mod tests;
