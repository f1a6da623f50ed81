//! Diagnostics: what went wrong, where (`path:line:col`), and how to fix it.
//!
//! Every stage that reads a user's file reports problems as [`Diagnostic`]s instead of failing
//! on the first one, so `check` and `build` can print them all. A diagnostic carries its own copy
//! of the offending source line, so rendering needs no access to the file again.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How serious a diagnostic is: errors block `build` and `send`, warnings only inform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something must be fixed before the issue can be built or sent.
    Error,
    /// Something that is probably a mistake but does not stop the pipeline.
    Warning,
    /// Worth knowing, not a mistake (e.g. which clients ignore a progressive enhancement).
    Info,
}

/// A position in a user's file; `line` and `col` are 1-based, `col` counts characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// Path as the user would type it (relative to the project root where possible).
    pub path: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
}

impl Location {
    /// A location in `path` at `line:col`.
    pub fn new(path: impl Into<PathBuf>, line: usize, col: usize) -> Self {
        Self { path: path.into(), line, col }
    }

    /// The file `path` as a whole (`1:1`), for a problem with the file rather than a place in
    /// it: it cannot be read, or its permissions are wrong.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::new(path, 1, 1)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.col)
    }
}

/// One problem found in a user's project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A short stable identifier, e.g. `yaml/unknown-key`, for filtering in CI.
    pub code: &'static str,
    /// What is wrong, lowercase, names in backticks.
    pub message: String,
    /// Where, when the problem has a place in a file.
    pub location: Option<Location>,
    /// The text of the offending line, shown under the location with a caret.
    pub source_line: Option<String>,
    /// How to fix it, when we can guess.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A new error diagnostic.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }

    /// A new warning diagnostic.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }

    /// A new informational diagnostic.
    pub fn info(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Info, code, message)
    }

    fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Self {
        let message = mask_userinfo(&message.into()).0;
        Self { severity, code, message, location: None, source_line: None, help: None }
    }

    /// Attach a location in `source`, the whole text of the file at `location.path`. The user
    /// info of a URL on that line (`user:password@`) is masked, the caret kept on its character.
    #[must_use]
    pub fn at(mut self, mut location: Location, source: &str) -> Self {
        if let Some(line) = source.lines().nth(location.line.saturating_sub(1)) {
            let (masked, col) = mask_line(line.trim_end_matches('\r'), location.col);
            self.source_line = Some(masked);
            location.col = col;
        }
        self.location = Some(location);
        self
    }

    /// Attach a location whose line text is not available.
    #[must_use]
    pub fn in_file(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// Attach a hint on how to fix the problem.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(mask_userinfo(&help.into()).0);
        self
    }

    /// Whether this diagnostic blocks the pipeline.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// Renders like `just` and `rustc`: message, `-->` location, the line, a caret, `help:`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        writeln!(f, "{label}: {}", self.message)?;
        let Some(location) = &self.location else {
            if let Some(help) = &self.help {
                writeln!(f, "  = help: {help}")?;
            }
            return Ok(());
        };
        let gutter = " ".repeat(location.line.to_string().len());
        writeln!(f, "{gutter}--> {location}")?;
        if let Some(line) = &self.source_line {
            let shown = line.replace('\t', " ");
            let caret_pad: String = shown
                .chars()
                .take(location.col.saturating_sub(1))
                .map(|c| if c.is_whitespace() { c } else { ' ' })
                .collect();
            writeln!(f, "{gutter} |")?;
            writeln!(f, "{} | {shown}", location.line)?;
            writeln!(f, "{gutter} | {caret_pad}^")?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "{gutter} = help: {help}")?;
        }
        Ok(())
    }
}

/// Render diagnostics for a terminal or log: each one, then a one-line summary.
pub fn render_all(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let _ = writeln!(out, "{diagnostic}");
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.iter().filter(|d| d.severity == Severity::Warning).count();
    if !diagnostics.is_empty() {
        let _ = writeln!(
            out,
            "{} {}, {} {}",
            errors,
            plural(errors, "error", "errors"),
            warnings,
            plural(warnings, "warning", "warnings")
        );
    }
    out
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// What the user info of a URL is replaced with wherever text is echoed.
pub const MASK: &str = "***";

/// `text` with the user info of every URL in it (`smtps://user:password@host`) replaced by
/// [`MASK`], and the byte ranges of `text` that were replaced. Diagnostics echo configuration
/// lines and values; a password written into a URL must not reach a terminal or a CI log.
pub fn mask_userinfo(text: &str) -> (String, Vec<std::ops::Range<usize>>) {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("://") {
        let start = from + i + 3;
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | '(' | ')'))
            .map_or(text.len(), |e| start + e);
        if let Some(at) = userinfo_end(&text[start..end]) {
            spans.push(start..start + at);
        }
        from = end.max(start);
    }
    let mut masked = String::with_capacity(text.len());
    let mut last = 0;
    for span in &spans {
        masked.push_str(&text[last..span.start]);
        masked.push_str(MASK);
        last = span.end;
    }
    masked.push_str(&text[last..]);
    (masked, spans)
}

/// Where the user info ends in `run`, the text after a URL's `://`, if it has any.
fn userinfo_end(run: &str) -> Option<usize> {
    let head = &run[..run.find(['/', '?', '#']).unwrap_or(run.len())];
    if let Some(at) = head.rfind('@') {
        return Some(at);
    }
    // A password with an unescaped `/`, `?` or `#` ends the host early: `user:pa/ss@host`.
    // `host:8080/@x` is a port and a path, not a password.
    let at = run.rfind('@')?;
    let (_, after_colon) = head.split_once(':')?;
    (!after_colon.bytes().all(|b| b.is_ascii_digit())).then_some(at)
}

/// `line` masked by [`mask_userinfo`], and the 1-based character column `col` moved with it
/// (onto the mask when it pointed inside one).
fn mask_line(line: &str, col: usize) -> (String, usize) {
    let (masked, spans) = mask_userinfo(line);
    let byte = line.char_indices().nth(col.saturating_sub(1)).map_or(line.len(), |(b, _)| b);
    let mut shift: isize = 0;
    for span in &spans {
        let removed = line[span.clone()].chars().count().cast_signed();
        let added = MASK.chars().count().cast_signed();
        if byte >= span.end {
            shift += added - removed;
        } else if byte >= span.start {
            let before = line[span.start..byte].chars().count().cast_signed();
            shift -= before;
            break;
        } else {
            break;
        }
    }
    (masked, col.saturating_add_signed(shift).max(1))
}

/// Maps byte offsets in a text to 1-based line and character columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Index the line starts of `text`.
    pub fn new(text: &str) -> Self {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Self { starts }
    }

    /// The 1-based (line, column) of byte `offset` in `text` (the same text given to `new`).
    pub fn position(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let col = text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line, col + 1)
    }
}

/// The error for a file that is not valid UTF-8, located where the first bad byte is.
///
/// `bytes` is the file after a BOM of `bom` bytes and is valid up to `valid_up_to`; the message
/// gives the offset in the file, as a hex editor shows it, and the position counts characters
/// after the BOM, like every other position in the file. Nothing of the file is echoed.
pub fn invalid_utf8(code: &'static str, path: &Path, bytes: &[u8], valid_up_to: usize, bom: usize) -> Diagnostic {
    let valid = String::from_utf8_lossy(&bytes[..valid_up_to.min(bytes.len())]);
    let (line, col) = LineIndex::new(&valid).position(&valid, valid.len());
    let offset = bom + valid_up_to;
    Diagnostic::error(code, format!("`{}` is not valid UTF-8 (at byte offset {offset})", path.display()))
        .in_file(Location::new(path, line, col))
        .help("save the file as UTF-8; Latin-1 or UTF-16 files must be converted")
}

/// A value with the place it was written, for later checks that need to point at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// 1-based line in the whole file.
    pub line: usize,
    /// 1-based column in characters.
    pub col: usize,
}

impl<T> Located<T> {
    /// The full location of this value in `path`.
    pub fn location(&self, path: &Path) -> Location {
        Location::new(path, self.line, self.col)
    }
}

/// The closest candidate to `word`, for "did you mean" hints.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::normalized_damerau_levenshtein(word, c), c))
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests;
