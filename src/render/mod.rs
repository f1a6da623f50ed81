//! Markdown to an HTML fragment and plain text, from one parse.
//!
//! Enters: an [`Issue`] and the [`Links`] of the whole project. Leaves: [`Rendered`], holding the
//! sanitised HTML fragment, the plain-text body (made from the Markdown events, not from the
//! HTML), the headings, and located diagnostics for links and images (broken internal links,
//! missing alt text, missing static files, `http://` links, leftover `TK`/`TODO`).

pub mod html;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::Serialize;
use url::Url;

use crate::config::Config;
use crate::content::Issue;
use crate::diagnostic::{Diagnostic, LineIndex};

/// Markdown extensions letterpress enables everywhere.
pub fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_SMART_PUNCTUATION
        | Options::ENABLE_HEADING_ATTRIBUTES
}

/// An issue's body, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Sanitised HTML fragment of the body.
    pub html: String,
    /// Plain-text body, wrapped at 72 columns, links as numbered references.
    pub text: String,
    /// Section headings in order, for tables of contents.
    pub headings: Vec<Heading>,
    /// Problems found in the body's links, images and text.
    pub diagnostics: Vec<Diagnostic>,
}

/// A section heading of an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heading {
    /// 1 to 6.
    pub level: u8,
    /// The `id` attribute (explicit `{#id}` or made from the text).
    pub id: String,
    /// The heading's text.
    pub text: String,
}

/// What links resolve against: the site's URLs, every issue's archive URL and the static files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    base: Url,
    archive: String,
    issues: BTreeMap<String, String>,
    static_files: BTreeSet<String>,
}

impl Links {
    /// Link targets for a project: `issues` may include drafts; `static_files` are paths
    /// relative to `static/` with `/` separators.
    pub fn new(config: &Config, issues: &[Issue], static_files: BTreeSet<String>) -> Self {
        let archive = config.site.archive();
        let base = Url::parse(&config.site.base()).unwrap_or_else(|_| Url::parse("https://invalid.example/").expect("literal URL"));
        let issues = issues
            .iter()
            .map(|i| (format!("{}/{}.md", i.publication, i.slug), format!("{archive}{}", i.archive_path())))
            .collect();
        Self { base, archive, issues, static_files }
    }

    /// The absolute archive URL of an issue.
    pub fn issue_url(&self, issue: &Issue) -> String {
        format!("{}{}", self.archive, issue.archive_path())
    }

    /// Resolve a link destination written in Markdown or front matter. `Err` explains why it
    /// cannot be resolved.
    pub fn resolve(&self, dest: &str) -> Result<String, String> {
        if let Some(internal) = dest.strip_prefix("@/") {
            let (path, fragment) = internal.split_once('#').map_or((internal, None), |(p, f)| (p, Some(f)));
            return match self.issues.get(path) {
                Some(url) => Ok(fragment.map_or_else(|| url.clone(), |f| format!("{url}#{f}"))),
                None => Err(format!("internal link to `@/{path}`, but there is no such issue")),
            };
        }
        if dest.starts_with('#') || Url::parse(dest).is_ok() {
            return Ok(dest.to_owned());
        }
        self.base.join(dest).map(String::from).map_err(|e| format!("cannot make `{dest}` absolute: {e}"))
    }

    /// Whether a root-relative path names a file under `static/`.
    fn is_static(&self, dest: &str) -> bool {
        let path = dest.trim_start_matches('/');
        let path = path.split(['?', '#']).next().unwrap_or(path);
        self.static_files.contains(path)
    }

    /// The nearest issue path to a broken internal link, for hints.
    fn closest_issue(&self, path: &str) -> Option<&str> {
        crate::diagnostic::did_you_mean(path, self.issues.keys().map(String::as_str))
    }
}

/// Render an issue's body.
pub fn render(issue: &Issue, links: &Links) -> Rendered {
    let mut walk = Walk { issue, links, index: LineIndex::new(&issue.body), diagnostics: Vec::new(), headings: Vec::new(), ids: BTreeSet::new() };
    let parsed: Vec<(Event<'_>, Range<usize>)> = Parser::new_ext(&issue.body, options()).into_offset_iter().collect();
    let events = walk.rewrite(parsed);
    Rendered {
        html: html::render_html(events.iter().cloned()),
        text: text::render_text(events),
        headings: walk.headings,
        diagnostics: walk.diagnostics,
    }
}

struct Walk<'a> {
    issue: &'a Issue,
    links: &'a Links,
    index: LineIndex,
    diagnostics: Vec<Diagnostic>,
    headings: Vec<Heading>,
    ids: BTreeSet<String>,
}

impl<'a> Walk<'a> {
    fn rewrite<'e>(&mut self, parsed: Vec<(Event<'e>, Range<usize>)>) -> Vec<Event<'e>> {
        let mut out = Vec::with_capacity(parsed.len());
        let mut heading: Option<(usize, Vec<Event<'e>>)> = None;
        let mut image: Option<(Range<usize>, String, String)> = None;
        let mut in_code = false;
        for (event, range) in parsed {
            let event = match event {
                Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
                    let dest_url = self.link(&dest_url, &range, false);
                    Event::Start(Tag::Link { link_type, dest_url, title, id })
                }
                Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
                    image = Some((range.clone(), dest_url.to_string(), String::new()));
                    let dest_url = self.link(&dest_url, &range, true);
                    Event::Start(Tag::Image { link_type, dest_url, title, id })
                }
                Event::End(TagEnd::Image) => {
                    if let Some((range, dest, alt)) = image.take()
                        && alt.trim().is_empty()
                    {
                        self.push(&range, Diagnostic::warning("lint/alt-text", format!("image `{dest}` has no alt text")).help("describe the image inside the brackets: `![Chart of …](…)`; many readers never see images"));
                    }
                    event
                }
                Event::Start(Tag::CodeBlock(_)) => {
                    in_code = true;
                    event
                }
                Event::End(TagEnd::CodeBlock) => {
                    in_code = false;
                    event
                }
                Event::Text(ref t) => {
                    if let Some((_, _, alt)) = image.as_mut() {
                        alt.push_str(t);
                    }
                    if !in_code {
                        self.placeholders(t, &range);
                    }
                    event
                }
                other => other,
            };
            // Headings are buffered so an id can be made from their text.
            match (heading.as_mut(), &event) {
                (None, Event::Start(Tag::Heading { .. })) => heading = Some((out.len(), vec![event])),
                (Some((_, buffer)), Event::End(TagEnd::Heading(_))) => {
                    buffer.push(event);
                    let (_, buffer) = heading.take().unwrap_or_default();
                    out.extend(self.heading(buffer));
                }
                (Some((_, buffer)), _) => buffer.push(event),
                (None, _) => out.push(event),
            }
        }
        out
    }

    fn heading<'e>(&mut self, mut buffer: Vec<Event<'e>>) -> Vec<Event<'e>> {
        let text: String = buffer
            .iter()
            .filter_map(|e| match e {
                Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
                _ => None,
            })
            .collect();
        if let Some(Event::Start(Tag::Heading { level, id, .. })) = buffer.first_mut() {
            let wanted = id.as_ref().map_or_else(|| slugify(&text), ToString::to_string);
            let unique = self.unique_id(wanted);
            *id = Some(CowStr::from(unique.clone()));
            self.headings.push(Heading { level: heading_level(*level), id: unique, text });
        }
        buffer
    }

    fn unique_id(&mut self, wanted: String) -> String {
        let mut candidate = wanted.clone();
        let mut n = 1;
        while !self.ids.insert(candidate.clone()) {
            candidate = format!("{wanted}-{n}");
            n += 1;
        }
        candidate
    }

    fn link<'e>(&mut self, dest: &str, range: &Range<usize>, is_image: bool) -> CowStr<'e> {
        let resolved = match self.links.resolve(dest) {
            Ok(url) => url,
            Err(why) => {
                let path = dest.trim_start_matches("@/");
                let help = self.links.closest_issue(path).map_or_else(
                    || "internal links look like `@/<publication>/<yyyy-mm-dd>-<slug>.md`".to_owned(),
                    |p| format!("did you mean `@/{p}`?"),
                );
                self.push(range, Diagnostic::error("link/broken", why).help(help));
                return CowStr::from(dest.to_owned());
            }
        };
        if dest.starts_with("http://") {
            self.push(range, Diagnostic::warning("lint/http-link", format!("insecure link `{dest}`")).help("use `https://`; mail clients and spam filters distrust plain http"));
        }
        let site_relative = !dest.starts_with("@/") && !dest.starts_with('#') && Url::parse(dest).is_err();
        if is_image && site_relative && !self.links.is_static(dest) {
            self.push(range, Diagnostic::error("link/missing-image", format!("image `{dest}` is not in `static/`")).help(format!("add the file as `static/{}`", dest.trim_start_matches('/'))));
        }
        if is_image && dest.starts_with("data:") {
            self.push(range, Diagnostic::warning("lint/data-uri", "image embedded as a `data:` URI").help("put the image in `static/` and link to it; many clients block data URIs"));
        }
        CowStr::from(resolved)
    }

    fn placeholders(&mut self, text: &str, range: &Range<usize>) {
        for word in ["TK", "TODO", "FIXME", "XXX"] {
            let found = text.match_indices(word).find(|(i, _)| {
                let before = text[..*i].chars().next_back();
                let after = text[i + word.len()..].chars().next();
                !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
            });
            if let Some((i, _)) = found {
                let at = range.start + i..range.end;
                self.push(&at, Diagnostic::warning("lint/placeholder", format!("leftover placeholder `{word}`")).help("finish or remove it before sending"));
            }
        }
    }

    fn push(&mut self, range: &Range<usize>, diagnostic: Diagnostic) {
        let (line, col) = self.index.position(&self.issue.body, range.start);
        let location = self.issue.location(line + self.issue.body_start_line - 1, col);
        self.diagnostics.push(diagnostic.at(location, &self.issue.text));
    }
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// An id made from heading text: lowercase ASCII letters and digits joined by hyphens.
pub fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if c == '’' || c == '\'' {
            // "NHS’s" reads better as "nhss" than "nhs-s".
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() { "section".to_owned() } else { slug }
}
