//! Splitting a Markdown file into YAML front matter and body, and validating the front matter.
//!
//! Enters: the whole text of one file. Leaves: a [`FrontMatter`] and the body with the line it
//! starts on, or located [`Diagnostic`]s. Positions are always in the whole file.

use std::path::Path;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, Located, Location, did_you_mean};

/// Whether an issue may be sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Work in progress: left out of the archive (unless `--drafts`) and never sent by `--due`.
    #[default]
    Draft,
    /// Finished: published in the archive and sendable.
    Ready,
}

/// A "related coverage" link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Related {
    /// Link text.
    pub title: String,
    /// Absolute URL, or an internal `@/publication/file.md` link.
    pub url: Located<String>,
}

/// Validated front matter of one issue. Every field is documented in `docs/front-matter.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontMatter {
    /// Headline; also the email subject unless `subject` is set.
    pub title: String,
    /// Email subject, when it should differ from the title.
    pub subject: Option<String>,
    /// Publication date, when it differs from the date in the file name.
    pub date: Option<Date>,
    /// Byline.
    pub author: Option<String>,
    /// Strapline shown under the title.
    pub standfirst: Option<String>,
    /// Inbox preheader and archive summary.
    pub summary: Option<String>,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// `draft` or `ready`.
    pub status: Status,
    /// When `send --due` may send it.
    pub send_at: Option<Timestamp>,
    /// Lists to send to instead of the publication's defaults.
    pub lists: Option<Vec<Located<String>>>,
    /// Related coverage links.
    pub related: Vec<Related>,
    /// Warnings found while reading these keys (an ambiguous `send_at`), for `check`.
    pub warnings: Vec<Diagnostic>,
    /// Earlier names of the issue, `<publication>/<yyyy-mm-dd>-<slug>` (written by `rename`):
    /// `build` leaves a page at each old URL that redirects to the issue.
    pub aliases: Vec<String>,
    /// Who of its lists' subscribers receive it (`audience:`), instead of the publication's
    /// default; see [`crate::segment`].
    pub audience: Option<crate::segment::Segment>,
}

/// The keys front matter accepts, for hints.
pub const KEYS: &[&str] = &[
    "title",
    "subject",
    "date",
    "author",
    "standfirst",
    "summary",
    "tags",
    "status",
    "send_at",
    "lists",
    "related",
    "aliases",
    "audience",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    title: Option<Spanned<String>>,
    subject: Option<Spanned<String>>,
    date: Option<Spanned<String>>,
    author: Option<Spanned<String>>,
    standfirst: Option<String>,
    summary: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    status: Option<Spanned<String>>,
    send_at: Option<Spanned<String>>,
    lists: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    related: Vec<RawRelated>,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
    audience: Option<crate::segment::Raw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelated {
    title: String,
    url: Spanned<String>,
}

/// The front matter's YAML and the body, split at the `---` fences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split<'a> {
    /// The YAML between the fences.
    pub yaml: &'a str,
    /// Everything after the closing fence.
    pub body: &'a str,
    /// 1-based line of the first body line.
    pub body_start_line: usize,
}

/// Split `text` (BOM already removed, line endings normalised) at its front-matter fences.
pub fn split<'a>(path: &Path, text: &'a str) -> Result<Split<'a>, Diagnostic> {
    let first = text.lines().next().unwrap_or("");
    if first.trim_end() != "---" {
        return Err(Diagnostic::error("front-matter/missing", "missing front matter")
            .at(Location::new(path, 1, 1), text)
            .help("start the file with a `---` line, then `title: \"…\"`, then another `---` line"));
    }
    let yaml_start = first.len() + 1;
    let mut offset = yaml_start;
    for (i, line) in text.get(yaml_start..).unwrap_or("").split_inclusive('\n').enumerate() {
        if line.trim_end() == "---" {
            let body_start = offset + line.len();
            return Ok(Split {
                yaml: &text[yaml_start..offset],
                body: text.get(body_start..).unwrap_or(""),
                body_start_line: i + 3,
            });
        }
        offset += line.len();
    }
    Err(Diagnostic::error("front-matter/unterminated", "unterminated front matter: no closing `---` line")
        .at(Location::new(path, 1, 1), text)
        .help("add a line with just `---` after the last front-matter key"))
}

/// Parse and validate the YAML of `split` (from the file `path` with whole text `text`); a
/// `send_at` without an offset is read in `zone`, the site's time zone.
pub fn parse(path: &Path, text: &str, yaml: &str, zone: Option<&TimeZone>) -> Result<FrontMatter, Vec<Diagnostic>> {
    let raw: Raw = crate::yaml::parse(path, text, yaml, 2, "front matter").map_err(|d| vec![d])?;
    let mut v = Validator { path, text, problems: Vec::new(), warnings: Vec::new() };
    let title = v.title(raw.title.as_ref());
    let subject = raw.subject.as_ref().map(|s| v.header_text("subject", s));
    let author = raw.author.as_ref().map(|s| v.header_text("author", s));
    let front = FrontMatter {
        title,
        subject,
        date: raw.date.as_ref().and_then(|d| v.date(d)),
        author,
        standfirst: raw.standfirst,
        summary: raw.summary,
        tags: raw.tags,
        status: raw.status.as_ref().map_or(Status::Draft, |s| v.status(s)),
        send_at: raw.send_at.as_ref().and_then(|s| v.send_at(s, zone)),
        lists: raw.lists.map(|lists| lists.iter().map(Validator::located).collect()),
        related: raw.related.into_iter().map(|r| Related { title: r.title, url: Validator::located(&r.url) }).collect(),
        warnings: std::mem::take(&mut v.warnings),
        aliases: raw.aliases.iter().filter_map(|a| v.alias(a)).collect(),
        audience: raw.audience.as_ref().and_then(|a| {
            crate::segment::compile(a, path, text, 2, zone).map_err(|problems| v.problems.extend(problems)).ok()
        }),
    };
    if v.problems.is_empty() {
        Ok(front)
    } else {
        v.problems.extend(front.warnings);
        Err(v.problems)
    }
}

/// `YYYY-MM-DD` and nothing more (jiff also accepts a date-time where a date is asked for).
fn is_plain_date(value: &str) -> bool {
    value.len() == 10 && value.parse::<Date>().is_ok()
}

struct Validator<'a> {
    path: &'a Path,
    text: &'a str,
    problems: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn located(s: &Spanned<String>) -> Located<String> {
        Located {
            value: s.value.clone(),
            line: usize::try_from(s.referenced.line()).unwrap_or(1) + 1,
            col: usize::try_from(s.referenced.column()).unwrap_or(1),
        }
    }

    fn fail(&mut self, at: &Located<String>, diagnostic: Diagnostic) {
        self.problems.push(diagnostic.at(at.location(self.path), self.text));
    }

    fn title(&mut self, title: Option<&Spanned<String>>) -> String {
        let Some(title) = title else {
            self.problems.push(
                Diagnostic::error("front-matter/no-title", "missing required key `title`")
                    .at(Location::new(self.path, 1, 1), self.text)
                    .help("add `title: \"…\"` to the front matter; it is also the email subject"),
            );
            return String::new();
        };
        let text = self.header_text("title", title);
        if text.trim().is_empty() {
            let at = Self::located(title);
            self.fail(
                &at,
                Diagnostic::error("front-matter/empty-title", "`title` is empty")
                    .help("write a title; it is also the email subject"),
            );
        }
        text
    }

    /// Text that may end up in a mail header: no line breaks or control characters.
    fn header_text(&mut self, key: &str, value: &Spanned<String>) -> String {
        if value.value.chars().any(char::is_control) {
            let at = Self::located(value);
            self.fail(
                &at,
                Diagnostic::error(
                    "front-matter/control-char",
                    format!("`{key}` contains a line break or control character"),
                )
                .help("write it on one line; it becomes an email header"),
            );
        }
        if crate::header::has_encoded_word(&value.value) {
            let at = Self::located(value);
            self.fail(
                &at,
                Diagnostic::error(
                    "front-matter/encoded-word",
                    format!("`{key}` contains an RFC 2047 encoded-word (`=?…?=`)"),
                )
                .help("write the text itself: letterpress encodes headers, and a mail client would decode this into something else"),
            );
        }
        value.value.clone()
    }

    /// An earlier name of the issue: `<publication>/<file stem>`, both slugs, so the redirect
    /// page `build` writes for it stays inside the archive.
    fn alias(&mut self, value: &Spanned<String>) -> Option<String> {
        let alias = value.value.trim();
        let valid = alias
            .split_once('/')
            .is_some_and(|(publication, stem)| crate::config::is_slug(publication) && crate::config::is_slug(stem));
        if valid {
            return Some(alias.to_owned());
        }
        let at = Self::located(value);
        self.fail(
            &at,
            Diagnostic::error("front-matter/alias", format!("alias `{}` is not an issue's name", value.value))
                .help("write an earlier name as `<publication>/<yyyy-mm-dd>-<slug>`, e.g. `weekly/2016-12-09-plans`"),
        );
        None
    }

    fn date(&mut self, value: &Spanned<String>) -> Option<Date> {
        if let (true, Ok(date)) = (is_plain_date(&value.value), value.value.parse::<Date>()) {
            Some(date)
        } else {
            let at = Self::located(value);
            self.fail(
                &at,
                Diagnostic::error("front-matter/date", format!("`date` is not a date: `{}`", value.value))
                    .help("write it as `YYYY-MM-DD`, e.g. `2016-12-09`"),
            );
            None
        }
    }

    fn status(&mut self, value: &Spanned<String>) -> Status {
        match value.value.as_str() {
            "draft" => Status::Draft,
            "ready" => Status::Ready,
            other => {
                let hint = did_you_mean(other, ["draft", "ready"])
                    .map_or_else(|| "use `draft` or `ready`".to_owned(), |s| format!("did you mean `{s}`?"));
                let at = Self::located(value);
                self.fail(
                    &at,
                    Diagnostic::error("front-matter/status", format!("unknown status `{other}`")).help(hint),
                );
                Status::Draft
            }
        }
    }

    fn send_at(&mut self, value: &Spanned<String>, zone: Option<&TimeZone>) -> Option<Timestamp> {
        let at = Self::located(value);
        match super::send_at::resolve(&value.value, zone) {
            Ok((ts, warning)) => {
                if let Some(w) = warning {
                    let warning = Diagnostic::warning(w.code, w.message).help(w.help);
                    self.warnings.push(warning.at(at.location(self.path), self.text));
                }
                Some(ts)
            }
            Err(e) => {
                self.fail(&at, Diagnostic::error(e.code, e.message).help(e.help));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
