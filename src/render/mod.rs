//! Markdown to an HTML fragment and plain text, from one parse.
//!
//! Enters: an [`Issue`] and the [`Links`] of the whole project. Leaves: [`Rendered`], holding the
//! sanitised HTML fragment, the plain-text body (made from the Markdown events, not from the
//! HTML), the headings, and located diagnostics for links and images (broken internal links,
//! missing alt text, missing static files, `http://` links, leftover `TK`/`TODO`, and raw HTML
//! `<img>`/`<a>` tags, which none of that reaches).

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
    /// Sanitised HTML fragment of the body, for the issue's archive page.
    pub html: String,
    /// The same for copies read away from the archive page (email, feed): links to anchors
    /// point at the page's, images carry the email column's `width`.
    pub email_html: String,
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
    drafts: BTreeSet<String>,
    static_files: BTreeSet<String>,
}

/// Why a link destination cannot be resolved, or may not be a link at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BrokenLink(String);

impl From<BrokenLink> for String {
    fn from(error: BrokenLink) -> Self {
        error.0
    }
}

impl Links {
    /// Link targets for a project: `issues` may include drafts; `static_files` are paths
    /// relative to `static/` with `/` separators.
    pub fn new(config: &Config, issues: &[Issue], static_files: BTreeSet<String>) -> Self {
        let archive = config.site.archive();
        let base = Url::parse(&config.site.base())
            .unwrap_or_else(|_| Url::parse("https://invalid.example/").expect("literal URL"));
        let drafts = issues
            .iter()
            .filter(|i| i.front.status == crate::content::Status::Draft)
            .map(|i| format!("{}/{}.md", i.publication, i.slug))
            .collect();
        let issues = issues
            .iter()
            .map(|i| (format!("{}/{}.md", i.publication, i.slug), format!("{archive}{}", i.archive_path())))
            .collect();
        Self { base, archive, issues, drafts, static_files }
    }

    /// The absolute archive URL of an issue.
    pub fn issue_url(&self, issue: &Issue) -> String {
        format!("{}{}", self.archive, issue.archive_path())
    }

    /// Resolve a link destination written in Markdown or front matter. `Err` explains why it
    /// cannot be resolved, or why it may not be a link at all ([`crate::href::judge`]).
    pub fn resolve(&self, dest: &str) -> Result<String, BrokenLink> {
        if let Err(refused) = crate::href::judge(dest) {
            return Err(BrokenLink(format!("`{}` {refused}", dest.escape_debug())));
        }
        if let Some(internal) = dest.strip_prefix("@/") {
            let (path, fragment) = internal.split_once('#').map_or((internal, None), |(p, f)| (p, Some(f)));
            return match self.issues.get(path) {
                Some(url) => Ok(fragment.map_or_else(|| url.clone(), |f| format!("{url}#{f}"))),
                None => Err(BrokenLink(format!("internal link to `@/{path}`, but there is no such issue"))),
            };
        }
        if dest.starts_with('#') || Url::parse(dest).is_ok() {
            return Ok(dest.to_owned());
        }
        // Root-relative paths are relative to the site, which may live below the host's root.
        let relative = dest.trim_start_matches('/');
        self.base
            .join(relative)
            .map(String::from)
            .map_err(|e| BrokenLink(format!("cannot make `{dest}` absolute: {e}")))
    }

    /// Whether an internal link points at a draft (which the archive leaves out).
    fn is_draft(&self, dest: &str) -> bool {
        let path = dest.trim_start_matches("@/");
        self.drafts.contains(path.split('#').next().unwrap_or(path))
    }

    /// Whether a root-relative path names a file under `static/`.
    fn is_static(&self, dest: &str) -> bool {
        let path = dest.trim_start_matches('/');
        let path = path.split(['?', '#']).next().unwrap_or(path);
        self.static_files.contains(path)
    }

    /// How to fix a link that [`Links::resolve`] refused: the nearest issue, or the form of an
    /// internal link.
    pub fn broken_help(&self, dest: &str) -> String {
        let path = dest.trim_start_matches("@/");
        crate::diagnostic::did_you_mean(path, self.issues.keys().map(String::as_str)).map_or_else(
            || "internal links look like `@/<publication>/<yyyy-mm-dd>-<slug>.md`".to_owned(),
            |p| format!("did you mean `@/{p}`?"),
        )
    }
}

/// Counts the issue bodies [`render`] parses on this thread, so tests can assert that a stage
/// parses an issue once (test builds only).
#[cfg(any(test, feature = "test-hooks"))]
pub mod parses {
    use std::cell::Cell;

    thread_local! {
        static COUNT: Cell<usize> = const { Cell::new(0) };
    }

    /// Bodies parsed on this thread so far.
    pub fn count() -> usize {
        COUNT.with(Cell::get)
    }

    pub(super) fn record() {
        COUNT.with(|c| c.set(c.get() + 1));
    }
}

/// Render an issue's body: the one place Markdown is parsed.
pub fn render(issue: &Issue, links: &Links) -> Rendered {
    let mut walk = Walk {
        issue,
        links,
        index: LineIndex::new(&issue.body),
        diagnostics: Vec::new(),
        headings: Vec::new(),
        ids: BTreeSet::new(),
    };
    #[cfg(any(test, feature = "test-hooks"))]
    parses::record();
    let parsed: Vec<(Event<'_>, Range<usize>)> = Parser::new_ext(&issue.body, options()).into_offset_iter().collect();
    if let Some(range) = too_deep(&parsed) {
        // The HTML parsers after this recurse per level: a few thousand levels overflow the stack.
        walk.push(
            &range,
            Diagnostic::error(
                "content/too-deep",
                format!("blocks or HTML elements are nested more than {MAX_DEPTH} deep"),
            )
            .help("no email needs this: flatten the quotes, lists or HTML"),
        );
        return Rendered {
            html: String::new(),
            email_html: String::new(),
            text: String::new(),
            headings: Vec::new(),
            diagnostics: walk.diagnostics,
        };
    }
    let events = walk.rewrite(parsed);
    let html = html::render_html(events.iter().cloned());
    let email_html = html::copy_rendition(&html, &links.issue_url(issue));
    Rendered {
        html,
        email_html,
        text: text::render_text(events),
        headings: walk.headings,
        diagnostics: walk.diagnostics,
    }
}

/// The editors' placeholders (`TK`, `TODO`, `FIXME`, `XXX`) standing as words in `text`, and
/// `lorem ipsum` or `[link]` in any case, with their byte offsets.
pub(crate) fn placeholders(text: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    // ASCII lowercasing keeps every byte offset.
    let lower = text.to_ascii_lowercase();
    for phrase in ["lorem ipsum", "[link]"] {
        found.extend(lower.match_indices(phrase).map(|(i, _)| (i, phrase)));
    }
    for word in ["TK", "TODO", "FIXME", "XXX"] {
        found.extend(
            text.match_indices(word)
                .map(|(i, _)| i)
                .filter(|i| {
                    let before = text[..*i].chars().next_back();
                    let after = text[i + word.len()..].chars().next();
                    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
                })
                .map(|i| (i, word)),
        );
    }
    found
}

/// The `lint/placeholder` warning for a link whose target is empty (`[text]()`), not yet located.
pub(crate) fn empty_link_warning() -> Diagnostic {
    Diagnostic::warning("lint/placeholder", "link with an empty target `()`")
        .help("add the URL, or remove the link, before sending")
}

/// The `lint/placeholder` warning for `word`, not yet located.
pub(crate) fn placeholder_warning(word: &str) -> Diagnostic {
    Diagnostic::warning("lint/placeholder", format!("leftover placeholder `{word}`"))
        .help("finish or remove it before sending")
}

/// How deep blocks (quotes, lists) and raw HTML elements may nest in an issue's body.
pub const MAX_DEPTH: usize = 100;

/// Where the body first nests deeper than [`MAX_DEPTH`], counting Markdown's containers and
/// the elements of raw HTML (an opening tag that is not void or self-closing goes down, a
/// closing tag up), if it does.
fn too_deep(parsed: &[(Event<'_>, Range<usize>)]) -> Option<Range<usize>> {
    const VOID: &[&str] =
        &["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"];
    let mut depth: usize = 0;
    for (event, range) in parsed {
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Html(html) | Event::InlineHtml(html) => {
                for tag in html.split('<').skip(1) {
                    let name: String =
                        tag.trim_start_matches('/').chars().take_while(char::is_ascii_alphanumeric).collect();
                    if name.is_empty() || VOID.contains(&name.to_ascii_lowercase().as_str()) {
                        continue;
                    }
                    let self_closing = tag.split('>').next().is_some_and(|t| t.ends_with('/'));
                    if tag.starts_with('/') {
                        depth = depth.saturating_sub(1);
                    } else if !self_closing {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return Some(range.clone());
                        }
                    }
                }
            }
            _ => {}
        }
        if depth > MAX_DEPTH {
            return Some(range.clone());
        }
    }
    None
}

struct Walk<'a> {
    issue: &'a Issue,
    links: &'a Links,
    index: LineIndex,
    diagnostics: Vec<Diagnostic>,
    headings: Vec<Heading>,
    ids: BTreeSet<String>,
}

impl Walk<'_> {
    fn rewrite<'e>(&mut self, parsed: Vec<(Event<'e>, Range<usize>)>) -> Vec<Event<'e>> {
        let mut out = Vec::with_capacity(parsed.len());
        let mut heading: Option<(usize, Vec<Event<'e>>)> = None;
        let mut image: Option<(Range<usize>, String, String)> = None;
        // For each open link or image: whether its URL was refused, so its tags are dropped
        // and only its text (or alt text) remains.
        let mut refused: Vec<bool> = Vec::new();
        let mut in_code = false;
        // Open links: text inside one is link text, not a placeholder.
        let mut links = 0usize;
        for (event, range) in parsed {
            let event = match event {
                Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
                    links += 1;
                    let dest_url = self.link(&dest_url, &range, false);
                    refused.push(dest_url.is_none());
                    let Some(dest_url) = dest_url else { continue };
                    Event::Start(Tag::Link { link_type, dest_url, title, id })
                }
                Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
                    image = Some((range.clone(), dest_url.to_string(), String::new()));
                    let dest_url = self.link(&dest_url, &range, true);
                    refused.push(dest_url.is_none());
                    let Some(dest_url) = dest_url else { continue };
                    Event::Start(Tag::Image { link_type, dest_url, title, id })
                }
                Event::End(TagEnd::Link) => {
                    links = links.saturating_sub(1);
                    if refused.pop().unwrap_or(false) {
                        continue;
                    }
                    event
                }
                Event::End(TagEnd::Image) => {
                    if let Some((range, dest, alt)) = image.take()
                        && alt.trim().is_empty()
                    {
                        self.push(&range, Diagnostic::warning("lint/alt-text", format!("image `{dest}` has no alt text")).help("describe the image inside the brackets: `![Chart of …](…)`; many readers never see images"));
                    }
                    if refused.pop().unwrap_or(false) {
                        continue;
                    }
                    event
                }
                Event::Html(ref html) | Event::InlineHtml(ref html) => {
                    self.raw_html(html, &range);
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
                        if links == 0 && self.bracketed_link(t, &range) {
                            self.push(&(range.start - 1..range.end + 1), placeholder_warning("[link]"));
                        }
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
            let unique = self.unique_id(&wanted);
            *id = Some(CowStr::from(unique.clone()));
            self.headings.push(Heading { level: heading_level(*level), id: unique, text });
        }
        buffer
    }

    fn unique_id(&mut self, wanted: &str) -> String {
        let mut candidate = wanted.to_owned();
        let mut n = 1;
        while !self.ids.insert(candidate.clone()) {
            candidate = format!("{wanted}-{n}");
            n += 1;
        }
        candidate
    }

    /// The URL a link or image gets, or `None` when its URL may not be a link at all.
    fn link<'e>(&mut self, dest: &str, range: &Range<usize>, is_image: bool) -> Option<CowStr<'e>> {
        if !is_image && dest.trim().is_empty() {
            self.push(range, empty_link_warning());
        }
        let kind = match crate::href::judge(dest) {
            Ok(kind) => kind,
            Err(crate::href::Refused::Scheme { scheme, .. }) if is_image && scheme == "data" => {
                self.push(
                    range,
                    Diagnostic::error("link/data-uri", "image embedded as a `data:` URI, which is removed from emails")
                        .help("put the image in `static/` and link to it; many clients block data URIs"),
                );
                return None;
            }
            Err(refused) => {
                let what = if is_image { "image" } else { "link" };
                self.push(
                    range,
                    Diagnostic::error("link/scheme", format!("{what} `{}` {refused}", dest.escape_debug()))
                        .help(refused.help()),
                );
                return None;
            }
        };
        let resolved = match self.links.resolve(dest) {
            Ok(url) => url,
            Err(why) => {
                let help = self.links.broken_help(dest);
                self.push(range, Diagnostic::error("link/broken", why).help(help));
                return Some(CowStr::from(dest.to_owned()));
            }
        };
        if dest.starts_with("@/")
            && self.links.is_draft(dest)
            && self.issue.front.status == crate::content::Status::Ready
        {
            self.push(
                range,
                Diagnostic::warning("link/draft", format!("link to `{dest}`, which is a draft"))
                    .help("the archive leaves drafts out, so this link will not work until that issue is ready"),
            );
        }
        if dest.starts_with("www.") {
            self.push(
                range,
                Diagnostic::warning(
                    "lint/no-scheme",
                    format!("link `{dest}` has no `https://`, so it is treated as a page of this site"),
                )
                .help(format!("write `https://{dest}`")),
            );
        }
        if kind == crate::href::Kind::Http {
            self.push(
                range,
                Diagnostic::warning("lint/http-link", format!("insecure link `{dest}`"))
                    .help("use `https://`; mail clients and spam filters distrust plain http"),
            );
        }
        let site_relative = !dest.starts_with("@/") && !dest.starts_with('#') && Url::parse(dest).is_err();
        if is_image && site_relative && !self.links.is_static(dest) {
            self.push(
                range,
                Diagnostic::error("link/missing-image", format!("image `{dest}` is not in `static/`"))
                    .help(format!("add the file as `static/{}`", dest.trim_start_matches('/'))),
            );
        }
        Some(CowStr::from(resolved))
    }

    /// Raw `<img>` and `<a>` tags skip link rewriting and the link and image checks above.
    fn raw_html(&mut self, html: &str, range: &Range<usize>) {
        let lower = html.to_ascii_lowercase();
        for (tag, markdown) in [("img", "![description](/images/a.png)"), ("a", "[text](/about/)")] {
            let open = format!("<{tag}");
            let found: Vec<usize> = lower
                .match_indices(&open)
                .map(|(i, _)| i)
                .filter(|i| {
                    lower[i + open.len()..].starts_with(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
                })
                .collect();
            for i in found {
                self.push(
                    &(range.start + i..range.end),
                    Diagnostic::warning(
                        "lint/raw-html",
                        format!("raw HTML `<{tag}>` is not rewritten or checked: relative URLs stay relative and break in emails, and alt text and files are not checked"),
                    )
                    .help(format!("use Markdown syntax instead, e.g. `{markdown}`")),
                );
            }
        }
    }

    /// Whether `text` is the word `link` left in brackets with no link made of it: Markdown
    /// gives an unmatched `[link]` as three text events, `[`, `link` and `]`.
    fn bracketed_link(&self, text: &str, range: &Range<usize>) -> bool {
        let body = self.issue.body.as_bytes();
        text.eq_ignore_ascii_case("link")
            && range.start > 0
            && body.get(range.start - 1) == Some(&b'[')
            && body.get(range.end) == Some(&b']')
    }

    fn placeholders(&mut self, text: &str, range: &Range<usize>) {
        for (i, word) in placeholders(text) {
            let at = range.start + i..range.end;
            self.push(&at, placeholder_warning(word));
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

/// An id made from heading text: lowercase ASCII letters and digits joined by hyphens, or
/// `section` when the text has none.
pub fn slugify(text: &str) -> String {
    let slug = slug(text);
    if slug.is_empty() { "section".to_owned() } else { slug }
}

/// Lowercase ASCII letters and digits of `text` (transliterated), joined by hyphens; empty when
/// the text has none, e.g. `!!!`.
pub fn slug(text: &str) -> String {
    let text = text.replace(['’', '\''], "");
    let ascii = deunicode::deunicode(&text);
    let mut slug = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {

    #[test]
    fn nesting_is_counted_through_markdown_and_raw_html() {
        let deep = |body: &str| {
            let parsed: Vec<_> = Parser::new_ext(body, options()).into_offset_iter().collect();
            too_deep(&parsed).is_some()
        };
        assert!(!deep(&">".repeat(MAX_DEPTH)));
        assert!(deep(&">".repeat(MAX_DEPTH + 1)));
        assert!(deep(&format!("{}x{}", "<div>".repeat(MAX_DEPTH + 1), "</div>".repeat(MAX_DEPTH + 1))));
        assert!(
            !deep(&format!("{}x", "<div><br><img src=\"a.png\"/></div>".repeat(1000))),
            "void, self-closing and closed tags"
        );
    }

    use std::path::Path;

    use proptest::prelude::*;

    use super::*;
    use crate::config::Config;

    const CONFIG: &str = "site:\n  title: T\n  base-url: https://news.example.org\npublications:\n  - slug: weekly\n    name: Weekly\n    from: w@news.example.org\n";

    fn links(issues: &[Issue]) -> Links {
        let config = Config::parse(Path::new("letterpress.yaml"), CONFIG).unwrap();
        Links::new(&config, issues, BTreeSet::from(["images/chart.png".to_owned()]))
    }

    fn issue(body: &str) -> Issue {
        let text = format!("---\ntitle: T\n---\n{body}");
        crate::content::parse(Path::new("content/weekly/2016-12-09-a.md"), text.as_bytes()).unwrap()
    }

    #[track_caller]
    fn resolve_case(dest: &str, expected: Result<&str, &str>) {
        let links = links(&[issue("")]);
        let resolved = links.resolve(dest).map_err(|e| e.to_string());
        assert_eq!(resolved.as_deref().map_err(String::as_str), expected);
    }

    #[test]
    fn resolves_internal_relative_and_absolute_links() {
        resolve_case("@/weekly/2016-12-09-a.md", Ok("https://news.example.org/weekly/2016-12-09-a/"));
        resolve_case("@/weekly/2016-12-09-a.md#table", Ok("https://news.example.org/weekly/2016-12-09-a/#table"));
        resolve_case("@/weekly/nope.md", Err("internal link to `@/weekly/nope.md`, but there is no such issue"));
        resolve_case("/images/chart.png", Ok("https://news.example.org/images/chart.png"));
        resolve_case("about/", Ok("https://news.example.org/about/"));
        resolve_case("https://example.org/x", Ok("https://example.org/x"));
        resolve_case("mailto:editor@example.org", Ok("mailto:editor@example.org"));
        resolve_case("#notes", Ok("#notes"));
        resolve_case(
            "javascript:alert(1)",
            Err(
                "`javascript:alert(1)` uses the `javascript:` scheme; links may only be `https:`, `http:` or `mailto:`",
            ),
        );
    }

    #[test]
    fn headings_get_unique_ids_and_links_are_located() {
        let issue = issue("## The plans\n\n## The plans\n\n### Money {#cash}\n\nSee [x](@/weekly/gone.md).\n");
        let rendered = render(&issue, &links(std::slice::from_ref(&issue)));
        let ids: Vec<&str> = rendered.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["the-plans", "the-plans-1", "cash"]);
        assert!(rendered.html.contains(r#"<h2 id="the-plans-1">"#), "{}", rendered.html);
        let broken = &rendered.diagnostics[0];
        assert_eq!(broken.code, "link/broken");
        assert_eq!(broken.location.as_ref().map(|l| (l.line, l.col)), Some((10, 5)));
    }

    #[test]
    fn refused_links_are_errors_and_never_rendered() {
        let body = "See [the plan](javascript:alert(1)), [a page](data:text/html,hi) and [mail](mailto:a@example.org).\n\n<JavaScript:alert(2)>\n\n![Chart](vbscript:x)\n";
        let issue = issue(body);
        let rendered = render(&issue, &links(std::slice::from_ref(&issue)));
        let found: Vec<(&str, Option<(usize, usize)>)> =
            rendered.diagnostics.iter().map(|d| (d.code, d.location.as_ref().map(|l| (l.line, l.col)))).collect();
        assert_eq!(
            found,
            [
                ("link/scheme", Some((4, 5))),
                ("link/scheme", Some((4, 38))),
                ("link/scheme", Some((6, 1))),
                ("link/scheme", Some((8, 1)))
            ],
            "{:#?}",
            rendered.diagnostics
        );
        assert_eq!(
            rendered.diagnostics[0].message,
            "link `javascript:alert(1)` uses the `javascript:` scheme; links may only be `https:`, `http:` or `mailto:`"
        );
        for output in [&rendered.html, &rendered.text] {
            for refused in ["javascript:alert(1)", "data:", "vbscript"] {
                assert!(!output.contains(refused), "{refused} in {output}");
            }
        }
        // The refused autolink stays as the text it was written as, not as a link.
        assert_eq!(rendered.html.matches("href=").count(), 1, "{}", rendered.html);
        assert!(rendered.html.contains("<p>JavaScript:alert(2)</p>"), "{}", rendered.html);
        assert!(
            rendered.html.contains("See the plan, a page and <a href=\"mailto:a@example.org\">mail</a>."),
            "{}",
            rendered.html
        );
        assert!(rendered.text.contains("See the plan, a page and mail"), "{}", rendered.text);
    }

    #[test]
    fn raw_img_and_a_tags_are_reported_where_they_are() {
        let body = "Text <a href=\"/about/\">about</a>.\n\n<img src=\"/images/a.png\">\n\n<abbr>NHS</abbr> `<img>`\n";
        let issue = issue(body);
        let rendered = render(&issue, &links(std::slice::from_ref(&issue)));
        let found: Vec<(&str, Option<(usize, usize)>)> = rendered
            .diagnostics
            .iter()
            .filter(|d| d.code == "lint/raw-html")
            .map(|d| (d.message.split('`').nth(1).unwrap_or(""), d.location.as_ref().map(|l| (l.line, l.col))))
            .collect();
        assert_eq!(found, [("<a>", Some((4, 6))), ("<img>", Some((6, 1)))]);
    }

    #[test]
    fn slugs_are_ascii_and_never_empty() {
        assert_eq!(slugify("NHS’s plans: 2016–17"), "nhss-plans-2016-17");
        assert_eq!(slugify("Café society"), "cafe-society");
        assert_eq!(slugify("!!!"), "section");
        assert_eq!(slug("!!!"), "");
        assert_eq!(slug("  "), "");
    }

    fn markdownish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[a-zA-Z’“”£–]{1,12}",
            Just(" ".to_owned()),
            Just("\n".to_owned()),
            Just("\n\n".to_owned()),
            Just("# ".to_owned()),
            Just("- ".to_owned()),
            Just("> ".to_owned()),
            Just("| a | b |\n|---|:-:|\n| 1 | 2 |\n".to_owned()),
            Just("[link](@/weekly/2016-12-09-a.md)".to_owned()),
            Just("[x](@/nope/x.md)".to_owned()),
            Just("![alt](/images/chart.png)".to_owned()),
            Just("![](/missing.png)".to_owned()),
            Just("[^1]\n\n[^1]: note".to_owned()),
            Just("<script>x</script>".to_owned()),
            Just("[x](javascript:alert(1))".to_owned()),
            Just("[y](JaVa&#x09;Script:alert(1))".to_owned()),
            Just("<a href=\"java&#9;script:alert(1)\">z</a>".to_owned()),
            Just("```\ncode\n```\n".to_owned()),
            Just("---".to_owned()),
            Just("\t".to_owned()),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    fn front_matterish() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            Just("title: T".to_owned()),
            Just("title: [a, b]".to_owned()),
            Just("send_at: 2017-01-13T07:00:00".to_owned()),
            Just("send_at: 2017-01-13T07:00:00+00:00".to_owned()),
            Just("status: ready".to_owned()),
            Just("status: [".to_owned()),
            Just("tags: {a: b}".to_owned()),
            Just("related:\n  - title: x\n    url: @/weekly/x.md".to_owned()),
            Just("\tlists: [a]".to_owned()),
            Just("date: 2016-02-30".to_owned()),
            "[a-z_]{1,8}: [a-z0-9 :\"'\\[\\]{}-]{0,12}",
        ];
        proptest::collection::vec(line, 0..8).prop_map(|v| v.join("\n"))
    }

    proptest! {
        #[test]
        fn arbitrary_issue_files_never_panic(front in front_matterish(), body in markdownish(), fence in any::<bool>()) {
            let text = if fence { format!("---\n{front}\n---\n{body}") } else { format!("{front}\n{body}") };
            if let Ok(issue) = crate::content::parse(Path::new("content/weekly/2016-12-09-a.md"), text.as_bytes()) {
                let rendered = render(&issue, &links(std::slice::from_ref(&issue)));
                for d in &rendered.diagnostics {
                    let location = d.location.as_ref().unwrap();
                    prop_assert!(location.line >= issue.body_start_line);
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = crate::content::parse(Path::new("content/weekly/2016-12-09-a.md"), &bytes);
        }

        #[test]
        fn rendered_html_never_carries_scripts(body in markdownish()) {
            let issue = issue(&body);
            let rendered = render(&issue, &links(std::slice::from_ref(&issue)));
            prop_assert!(!rendered.html.contains("<script"));
            prop_assert!(!rendered.html.to_ascii_lowercase().contains("<a href=\"java"), "{}", rendered.html);
        }
    }
}
