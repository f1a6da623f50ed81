//! The raw bytes behind a list's rows, for diagnostics that quote them: a reader that keeps
//! the row being parsed, where each field of a raw row lies, and the quoting itself.

use std::io;
use std::ops::Range;

use crate::diagnostic::{Diagnostic, Location};

/// Which field of a row a diagnostic points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// The start of the row.
    Start,
    /// The field with this 0-based index.
    At(usize),
    /// Just past the end of the row's first line (something is missing).
    End,
    /// This byte offset in the row's first line.
    Offset(usize),
}

/// A reader that keeps the bytes read from `keep_from` on, so the raw text of the row being
/// parsed can be quoted. Bytes before `keep_from` are dropped at the next read, once per buffer
/// the parser fills, so keeping costs one copy of the input and memory for about one row.
#[derive(Debug)]
pub(super) struct Recorder<R> {
    pub(super) inner: R,
    pub(super) kept: Vec<u8>,
    /// The file offset of `kept[0]`.
    pub(super) base: u64,
    pub(super) keep_from: u64,
}

impl<R: io::Read> io::Read for Recorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let drop = usize::try_from(self.keep_from.saturating_sub(self.base)).unwrap_or(usize::MAX).min(self.kept.len());
        if drop > 0 {
            self.kept.drain(..drop);
            self.base += drop as u64;
        }
        let n = self.inner.read(buf)?;
        self.kept.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl<R> Recorder<R> {
    /// The kept bytes of `span` (empty if they are gone, which the callers never ask for).
    pub(super) fn bytes(&self, span: &Range<u64>) -> &[u8] {
        let start = usize::try_from(span.start.saturating_sub(self.base)).unwrap_or(usize::MAX).min(self.kept.len());
        let end = usize::try_from(span.end.saturating_sub(self.base)).unwrap_or(usize::MAX).min(self.kept.len());
        &self.kept[start..end.max(start)]
    }
}

/// `diagnostic` at `location` (its column set from `field`), quoting the first line of `raw`,
/// the row's bytes. Control characters in the quoted line are shown as `\u{fffd}`, one for one,
/// so the caret stays under its character.
pub(super) fn quote(diagnostic: Diagnostic, raw: &[u8], mut location: Location, field: Field) -> Diagnostic {
    // csv starts a row's span before any blank lines it skipped.
    let raw = &raw[raw.iter().take_while(|&&b| matches!(b, b'\r' | b'\n')).count()..];
    // A byte-order mark before the header is not part of what the editor sees.
    let raw = raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw);
    if raw.is_empty() {
        return diagnostic.in_file(location);
    }
    let first = raw.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let chars = |bytes: &[u8]| String::from_utf8_lossy(bytes).chars().count();
    let offset = match field {
        Field::Start => Some(0),
        Field::At(i) => field_spans(raw).get(i).map(|span| span.start),
        Field::End => Some(first.len()),
        Field::Offset(offset) => Some(offset),
    };
    location.col = offset.filter(|&o| o <= first.len()).map_or(1, |o| chars(&first[..o]) + 1);
    let shown: String = String::from_utf8_lossy(first)
        .chars()
        .map(|c| if c.is_control() && c != '\t' { char::REPLACEMENT_CHARACTER } else { c })
        .collect();
    let mut diagnostic = diagnostic.in_file(location);
    diagnostic.source_line = Some(shown);
    diagnostic
}

/// The byte range of each field of the CSV row in `raw` (quotes included), as the list format
/// reads it: `,` separates fields outside `"` quotes, a line break outside quotes ends the row.
/// The last field's range stops before the line ending.
pub(crate) fn field_spans(raw: &[u8]) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let (mut start, mut quoted) = (0, false);
    let mut end = raw.len();
    for (i, &b) in raw.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                spans.push(start..i);
                start = i + 1;
            }
            b'\n' if !quoted => {
                end = if i > start && raw[i - 1] == b'\r' { i - 1 } else { i };
                break;
            }
            _ => {}
        }
    }
    spans.push(start..end.max(start));
    spans
}

/// The offset in `raw` of the `"` that opens a quoted field never closed, if one is: csv then
/// reads the rest of the file as that one value. `raw` is whole rows read as the list format
/// reads them (csv's rules): a `"` opens a quoted field only at the start of a field, `""` inside
/// one is a quote, and after the closing `"` the field goes on unquoted.
pub(crate) fn unclosed_quote(raw: &[u8]) -> Option<usize> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        Start,
        Unquoted,
        Quoted,
        AfterQuote,
    }
    let (mut state, mut opened) = (State::Start, 0);
    for (i, &b) in raw.iter().enumerate() {
        state = match (state, b) {
            (State::Start, b'"') => {
                opened = i;
                State::Quoted
            }
            (State::Start | State::Unquoted | State::AfterQuote, b',' | b'\n') => State::Start,
            (State::Quoted, b'"') => State::AfterQuote,
            // `""` inside a quoted field is a quote.
            (State::Quoted, _) | (State::AfterQuote, b'"') => State::Quoted,
            (State::Start | State::Unquoted | State::AfterQuote, _) => State::Unquoted,
        };
    }
    (state == State::Quoted).then_some(opened)
}
