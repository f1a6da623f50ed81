//! The walk over an issue's Markdown events: links resolved and judged, headings given ids,
//! images checked, raw HTML found, and every problem located in the issue's file.

use std::collections::BTreeSet;
use std::ops::Range;

use pulldown_cmark::{CowStr, Event, HeadingLevel, Tag, TagEnd};
use url::Url;

use super::{Heading, Links, empty_link_warning, placeholder_warning, placeholders, slugify};
use crate::content::Issue;
use crate::diagnostic::{Diagnostic, LineIndex};

/// How deep blocks (quotes, lists) and raw HTML elements may nest in an issue's body.
pub const MAX_DEPTH: usize = 100;

/// Where the body first nests deeper than [`MAX_DEPTH`], counting Markdown's containers and
/// the elements of raw HTML (an opening tag that is not void or self-closing goes down, a
/// closing tag up), if it does.
pub(super) fn too_deep(parsed: &[(Event<'_>, Range<usize>)]) -> Option<Range<usize>> {
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

/// One walk over an issue's events, and what it found so far.
pub(super) struct Walk<'a> {
    pub issue: &'a Issue,
    pub links: &'a Links,
    pub index: LineIndex,
    pub diagnostics: Vec<Diagnostic>,
    pub headings: Vec<Heading>,
    pub ids: BTreeSet<String>,
}

impl Walk<'_> {
    pub(super) fn rewrite<'e>(&mut self, parsed: Vec<(Event<'e>, Range<usize>)>) -> Vec<Event<'e>> {
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

    /// Raw `<img>` and `<a>` tags skip link rewriting and the link and image checks above; a
    /// tag the sanitiser removes (`<script>`, `<iframe>`, `<form>`, …) never reaches a reader.
    fn raw_html(&mut self, html: &str, range: &Range<usize>) {
        let lower = html.to_ascii_lowercase();
        let mut removed = std::collections::BTreeSet::new();
        for (i, _) in lower.match_indices('<') {
            let name: String = lower[i + 1..].chars().take_while(char::is_ascii_alphanumeric).collect();
            if name.starts_with(|c: char| c.is_ascii_alphabetic())
                && super::html::is_removed_tag(&name)
                && removed.insert(name.clone())
            {
                self.push(
                    &(range.start + i..range.end),
                    Diagnostic::warning(
                        "lint/raw-html",
                        format!("raw HTML `<{name}>` is removed from the email and the archive page"),
                    )
                    .help("mail clients do not run scripts, forms or embedded players: link to the content instead, or use an image"),
                );
            }
        }
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

    pub(super) fn push(&mut self, range: &Range<usize>, diagnostic: Diagnostic) {
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
