//! Issues: the Markdown files under `content/<publication>/`.
//!
//! Enters: the project root and configuration. Leaves: [`Issue`]s (plain data: where the file is,
//! its slug, validated front matter and body) and located [`Diagnostic`]s for every file that
//! could not be read. Nothing here renders.

pub mod front_matter;
mod send_at;
mod welcome;

use std::path::{Path, PathBuf};

use jiff::civil::Date;
use jiff::tz::TimeZone;

pub use front_matter::{FrontMatter, Related, Status};
pub use welcome::{is_welcome, is_welcome_path, load_welcome};

use crate::config::{Config, is_slug};
use crate::diagnostic::{Diagnostic, LineIndex, Location, invalid_utf8};

/// The content directory's name at the project root.
pub const DIR: &str = "content";

/// Markdown files larger than this are refused: no newsletter is a megabyte of text.
pub const MAX_BYTES: usize = 1024 * 1024;

/// One issue of a publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Where the file is, relative to the project root (for diagnostics).
    pub source: PathBuf,
    /// The publication's slug (the directory under `content/`).
    pub publication: String,
    /// The file stem, e.g. `2016-12-09-stp-plans-published`; used in URLs.
    pub slug: String,
    /// Publication date: front matter `date`, else the date in the file name.
    pub date: Date,
    /// Validated front matter.
    pub front: FrontMatter,
    /// The Markdown after the front matter.
    pub body: String,
    /// 1-based line of the file where `body` starts.
    pub body_start_line: usize,
    /// The whole file text (BOM removed, line endings normalised), for diagnostics.
    pub text: String,
}

impl Issue {
    /// `publication/slug`, the name commands accept and internal links use (without `.md`).
    pub fn id(&self) -> String {
        format!("{}/{}", self.publication, self.slug)
    }

    /// The email subject: `subject`, else `title`.
    pub fn subject(&self) -> &str {
        self.front.subject.as_deref().unwrap_or(&self.front.title)
    }

    /// The archive path of this issue's web page, relative to the archive root, e.g.
    /// `commissioner/2016-12-09-stp-plans-published/`.
    pub fn archive_path(&self) -> String {
        format!("{}/{}/", self.publication, self.slug)
    }

    /// A location in this issue's file.
    pub fn location(&self, line: usize, col: usize) -> Location {
        Location::new(&self.source, line, col)
    }
}

/// Every issue under `root/content`, sorted by publication (config order), date and slug,
/// with a diagnostic for each file or directory that is not valid.
pub fn load_all(root: &Path, config: &Config) -> (Vec<Issue>, Vec<Diagnostic>) {
    let zone = config.site.time_zone();
    let mut issues = Vec::new();
    let mut problems = Vec::new();
    let content = root.join(DIR);
    if !content.is_dir() {
        return (issues, problems);
    }
    // The walk's problems and the files to load, in the walk's order; the files are read and
    // parsed on all cores, and their problems take their places in that order.
    let mut found: Vec<Result<(PathBuf, PathBuf), Diagnostic>> = Vec::new();
    let walker = walkdir::WalkDir::new(&content).min_depth(1).sort_by_file_name();
    for entry in walker.into_iter().filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.')) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e.path().map_or_else(|| content.clone(), Path::to_path_buf);
                let shown = relative(root, &path);
                found.push(Err(Diagnostic::error(
                    "content/io",
                    format!("failed to read `{}`: {}", shown.display(), e),
                )
                .in_file(Location::file(shown))));
                continue;
            }
        };
        let shown = relative(root, entry.path());
        if entry.depth() == 1 && entry.file_type().is_dir() {
            let name = entry.file_name().to_string_lossy();
            if config.publication(&name).is_none() {
                let known: Vec<&str> = config.publications.iter().map(|p| p.slug.as_str()).collect();
                let hint = crate::diagnostic::did_you_mean(&name, known.iter().copied()).map_or_else(
                    || format!("publications are: {}", known.join(", ")),
                    |s| format!("did you mean `{s}`?"),
                );
                found.push(Err(Diagnostic::error(
                    "content/unknown-publication",
                    format!("`{}` is not a configured publication", shown.display()),
                )
                .in_file(Location::new(&shown, 1, 1))
                .help(hint)));
            }
        }
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "md") {
            if entry.depth() != 2 {
                found.push(Err(Diagnostic::error(
                    "content/misplaced",
                    format!("`{}` is not inside a publication directory", shown.display()),
                )
                .in_file(Location::new(&shown, 1, 1))
                .help("move it to `content/<publication>/<yyyy-mm-dd>-<slug>.md`")));
                continue;
            }
            if is_welcome(config, &shown) {
                // A list's welcome issue: loaded on its own (`load_welcome`), never archived.
                continue;
            }
            found.push(Ok((entry.into_path(), shown)));
        }
    }
    let loaded = crate::parallel::map(found, |found| found.map(|(path, shown)| load(&path, &shown, zone.as_ref())));
    for loaded in loaded {
        match loaded {
            Err(problem) => problems.push(problem),
            Ok(Ok(issue)) if config.publication(&issue.publication).is_some() => issues.push(issue),
            Ok(Ok(_)) => {}
            Ok(Err(mut errors)) => problems.append(&mut errors),
        }
    }
    sort(&mut issues, config);
    (issues, problems)
}

/// Put issues in archive order: by publication (as configured), then date, then slug.
pub fn sort(issues: &mut [Issue], config: &Config) {
    let order = |i: &Issue| config.publications.iter().position(|p| p.slug == i.publication);
    issues.sort_by(|a, b| (order(a), a.date, &a.slug).cmp(&(order(b), b.date, &b.slug)));
}

/// Read and parse one issue file; `shown` is its path as diagnostics print it, `zone` the
/// site's time zone.
pub fn load(path: &Path, shown: &Path, zone: Option<&TimeZone>) -> Result<Issue, Vec<Diagnostic>> {
    let bytes = std::fs::read(path).map_err(|e| {
        let message = crate::error::Error::io("read", shown, e).to_string();
        vec![Diagnostic::error("content/io", message).in_file(Location::file(shown))]
    })?;
    parse_in(shown, &bytes, zone)
}

/// Parse one issue from the raw bytes of the file at `path` (`content/<publication>/<name>.md`).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Issue, Vec<Diagnostic>> {
    parse_in(path, bytes, None)
}

/// [`parse`], reading a `send_at` without an offset in `zone`, the site's time zone.
pub fn parse_in(path: &Path, bytes: &[u8], zone: Option<&TimeZone>) -> Result<Issue, Vec<Diagnostic>> {
    parse_named(path, bytes, zone, name_parts)
}

/// [`parse_in`] with `names` telling the publication, slug and date from the path.
fn parse_named(
    path: &Path,
    bytes: &[u8],
    zone: Option<&TimeZone>,
    names: impl FnOnce(&Path) -> Result<(String, String, Date), Diagnostic>,
) -> Result<Issue, Vec<Diagnostic>> {
    let file = bytes;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.len() > MAX_BYTES {
        return Err(vec![
            Diagnostic::error(
                "content/too-large",
                format!(
                    "`{}` is {} KB; issues are limited to {} KB",
                    path.display(),
                    bytes.len() / 1024,
                    MAX_BYTES / 1024
                ),
            )
            .in_file(Location::new(path, 1, 1))
            .help("split it into several issues or trim it"),
        ]);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.replace("\r\n", "\n"),
        Err(e) => {
            let bom = file.len() - bytes.len();
            return Err(vec![invalid_utf8("content/utf8", path, bytes, e.valid_up_to(), bom)]);
        }
    };
    if let Some(offset) = text.find('\0') {
        return Err(vec![nul_byte(path, &text, offset)]);
    }
    let (publication, slug, file_date) = names(path).map_err(|d| vec![d])?;
    let split = front_matter::split(path, &text).map_err(|d| vec![d])?;
    let front = front_matter::parse(path, &text, split.yaml, zone)?;
    Ok(Issue {
        source: path.to_path_buf(),
        publication,
        slug,
        date: front.date.unwrap_or(file_date),
        body: split.body.to_owned(),
        body_start_line: split.body_start_line,
        front,
        text: text.clone(),
    })
}

/// A NUL byte at `offset` of `text`: Markdown would quietly turn it into `�` or drop it, and it
/// is never meant; the source line shows it as `␀`.
fn nul_byte(path: &Path, text: &str, offset: usize) -> Diagnostic {
    let (line, col) = LineIndex::new(text).position(text, offset);
    let more = match text.matches('\0').count() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    Diagnostic::error("content/nul", format!("NUL byte in `{}`{more}", path.display()))
        .at(Location::new(path, line, col), &text.replace('\0', "\u{2400}"))
        .help("delete it; NUL bytes come from binary data or from text copied out of another program, and mean nothing in an issue")
}

/// `(publication, slug, date)` from `content/<publication>/<yyyy-mm-dd>-<rest>.md`.
fn name_parts(path: &Path) -> Result<(String, String, Date), Diagnostic> {
    let bad = |why: &str| {
        Diagnostic::error("content/file-name", format!("`{}` {why}", path.display()))
            .in_file(Location::new(path, 1, 1))
            .help("name issue files `<yyyy-mm-dd>-<slug>.md`, e.g. `2016-12-09-stp-plans-published.md`")
    };
    let stem = path.file_stem().and_then(|s| s.to_str()).ok_or_else(|| bad("has no usable file name"))?;
    let publication = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|s| s.to_str())
        .ok_or_else(|| bad("is not inside a publication directory"))?;
    let date = stem.get(..10).and_then(|d| d.parse::<Date>().ok()).ok_or_else(|| bad("does not start with a date"))?;
    let rest = stem.get(10..).unwrap_or("");
    if !rest.starts_with('-') || !is_slug(&rest[1..]) {
        return Err(bad("does not have a lowercase slug after the date"));
    }
    Ok((publication.to_owned(), stem.to_owned(), date))
}

fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_issue_is_located_at_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let shown = Path::new("content/weekly/2016-12-09-gone.md");
        let problems = load(&dir.path().join("gone.md"), shown, None).unwrap_err();
        assert_eq!(problems[0].code, "content/io");
        assert_eq!(problems[0].location, Some(Location::file(shown)));
        assert!(problems[0].to_string().contains("--> content/weekly/2016-12-09-gone.md:1:1"), "{}", problems[0]);
    }

    #[test]
    fn parses_name_bom_and_crlf() {
        let issue = parse(
            Path::new("content/weekly/2016-12-09-plans.md"),
            b"\xef\xbb\xbf---\r\ntitle: Plans\r\n---\r\nHello\r\n",
        )
        .unwrap();
        assert_eq!(issue.id(), "weekly/2016-12-09-plans");
        assert_eq!(issue.date.to_string(), "2016-12-09");
        assert_eq!(issue.body, "Hello\n");
        assert_eq!(issue.body_start_line, 4);
        assert_eq!(issue.archive_path(), "weekly/2016-12-09-plans/");
    }

    #[test]
    fn invalid_utf8_reports_byte_offset_and_position() {
        let errors = parse(Path::new("content/w/2016-12-09-a.md"), b"---\ntitle: caf\xe9\n---\n").unwrap_err();
        assert_eq!(errors[0].code, "content/utf8");
        assert!(errors[0].message.contains("byte offset 14"), "{}", errors[0].message);
        assert_eq!(errors[0].location.as_ref().map(|l| (l.line, l.col)), Some((2, 11)));
    }

    #[test]
    fn invalid_utf8_offset_counts_the_bom() {
        let errors =
            parse(Path::new("content/w/2016-12-09-a.md"), b"\xef\xbb\xbf---\ntitle: caf\xe9\n---\n").unwrap_err();
        assert_eq!(errors[0].code, "content/utf8");
        assert!(errors[0].message.contains("byte offset 17"), "{}", errors[0].message);
        assert_eq!(errors[0].location.as_ref().map(|l| (l.line, l.col)), Some((2, 11)));
    }

    #[test]
    fn nul_bytes_are_located_errors() {
        let errors =
            parse(Path::new("content/w/2016-12-09-a.md"), b"---\ntitle: x\n---\n\nOne\0two \0three\n").unwrap_err();
        assert_eq!(errors[0].code, "content/nul");
        assert_eq!(errors[0].message, "NUL byte in `content/w/2016-12-09-a.md` (and 1 more)");
        assert_eq!(errors[0].location.as_ref().map(|l| (l.line, l.col)), Some((5, 4)));
        assert_eq!(errors[0].source_line.as_deref(), Some("One\u{2400}two \u{2400}three"));
    }

    #[test]
    fn file_names_need_a_date_and_slug() {
        for name in [
            "content/w/plans.md",
            "content/w/2016-13-01-x.md",
            "content/w/2016-12-09.md",
            "content/w/2016-12-09-Big Plans.md",
        ] {
            let errors = parse(Path::new(name), b"---\ntitle: x\n---\n").unwrap_err();
            assert_eq!(errors[0].code, "content/file-name", "{name}");
        }
    }
}
