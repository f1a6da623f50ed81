//! Aggregate click counting (`publications[].clicks: true`): the link rewrite of an issue's
//! email, and the report of its counts.
//!
//! Enters: the email's HTML and plain text as rendered once per issue (by
//! [`crate::compose::MessageTemplate::new`], with markers in the personalisation slots), the
//! site's URLs and the token keys. Leaves: both parts with each counted link pointing at
//! `<base-url>/l/<token>`, and the issue's link table ([`Link`]: index, URL, text, in the order
//! the HTML shows them) that a send records in the state store for `serve` to redirect with.
//!
//! The token names the issue and the link, never the recipient: every recipient gets the same
//! URLs, so a click cannot be tied to a person. Never rewritten: links whose `href` holds a
//! personalisation slot (the unsubscribe link), anything that is not `http:`/`https:` (`mailto:`,
//! `tel:`, fragments), and links to the site's own pages (under `site.base-url`,
//! `site.archive-url` or the unsubscribe URL). The same URL is one link however often it
//! appears. In the plain text, a line that is a counted URL (the numbered `[n] https://…` links
//! and the related links) points at the same token as in the HTML; the archive pages keep the
//! original links (they are rendered from the issue's view, not from the email).

mod report;

use std::cell::RefCell;
use std::collections::HashMap;

use lol_html::html_content::Element;
use lol_html::{RewriteStrSettings, element, rewrite_str, text};
use serde::Serialize;

pub use report::{Format, Row, rows, write_report};

use crate::config::Config;
use crate::token::{IssueKey, Keys};

/// The path prefix of click links under the site's base URL: `<base-url>/l/<token>`.
pub const PATH: &str = "l/";

/// The longest link text kept, in characters.
const MAX_TEXT_CHARS: usize = 200;

/// One counted link of an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// Its position among the issue's counted links, from 0, in the order of the HTML.
    pub index: u16,
    /// Where it goes.
    pub url: String,
    /// Its text in the HTML (whitespace collapsed; an image's `alt` when it has no text).
    pub text: String,
}

/// An issue's email with counted links, and its link table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The HTML part.
    pub html: String,
    /// The plain-text part.
    pub text: String,
    /// The counted links, by index.
    pub links: Vec<Link>,
}

/// What one issue's links are rewritten with.
#[derive(Debug, Clone)]
pub struct Rewriter<'a> {
    keys: &'a Keys,
    issue: IssueKey,
    prefix: String,
    own: Vec<String>,
}

impl<'a> Rewriter<'a> {
    /// The rewriter for the issue with id `issue` (`<publication>/<slug>`).
    pub fn new(config: &Config, keys: &'a Keys, issue: &str) -> Self {
        let site = &config.site;
        Self {
            keys,
            issue: IssueKey::of(issue),
            prefix: format!("{}{PATH}", site.base()),
            own: vec![site.base(), site.archive(), site.unsubscribe()],
        }
    }

    /// Whether `url` (an `href` as the browser reads it) is a link to count.
    fn counts(&self, url: &str) -> bool {
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        (lower.starts_with("https://") || lower.starts_with("http://"))
            && !url.contains(['\u{E000}', '\u{E001}'])
            && !self.own.iter().any(|own| url.starts_with(own.as_str()))
    }

    /// The click URL of link `index`.
    fn url(&self, index: u16) -> String {
        format!("{}{}", self.prefix, self.keys.click_token(self.issue, index))
    }

    /// Rewrite both parts. HTML the rewriter cannot parse is left as it is, with no links.
    pub fn rewrite(&self, html: &str, text: &str) -> Rewritten {
        self.rewrite_onto(html, text, Vec::new())
    }

    /// Rewrite both parts of one edition of an issue whose link table so far is `known` (an
    /// earlier edition's): a URL in it keeps its index, a new one is appended. The result's
    /// links are the whole table; HTML the rewriter cannot parse is left as it is.
    pub fn rewrite_onto(&self, html: &str, text: &str, known: Vec<Link>) -> Rewritten {
        let before = known.len();
        let table = RefCell::new(Table::seeded(known));
        let current: RefCell<Option<usize>> = RefCell::new(None);
        let on_link = |el: &mut Element<'_, '_>| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            *current.borrow_mut() = None;
            let Some(href) = el.get_attribute("href") else { return Ok(()) };
            let url = decode_entities(href.trim());
            if !self.counts(&url) {
                return Ok(());
            }
            let Some(index) = table.borrow_mut().index_of(&url) else { return Ok(()) };
            el.set_attribute("href", &self.url(index))?;
            // A link's text is that of its first appearance with any text.
            let fresh = table.borrow().links.get(usize::from(index)).is_some_and(|l| l.text.trim().is_empty());
            *current.borrow_mut() = fresh.then_some(usize::from(index));
            Ok(())
        };
        let settings = RewriteStrSettings::new()
            .append_element_content_handler(element!("a[href]", on_link))
            .append_element_content_handler(element!("a[href] img[alt]", |el| {
                if let (Some(i), Some(alt)) = (*current.borrow(), el.get_attribute("alt")) {
                    table.borrow_mut().alt(i, &alt);
                }
                Ok(())
            }))
            .append_element_content_handler(text!("a[href]", |chunk| {
                if let Some(i) = *current.borrow() {
                    table.borrow_mut().text(i, chunk.as_str());
                }
                Ok(())
            }));
        let rewritten = rewrite_str(html, settings);
        let Ok(html) = rewritten else {
            let mut links = table.into_inner().links;
            links.truncate(before);
            return Rewritten { html: html.to_owned(), text: text.to_owned(), links };
        };
        let table = table.into_inner();
        let text = self.rewrite_text(text, &table.by_url);
        Rewritten { html, text, links: table.finish() }
    }

    /// Each line that is a counted URL, alone or after a `[n] ` number, points at its token.
    fn rewrite_text(&self, text: &str, by_url: &HashMap<String, u16>) -> String {
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            let body = line.trim_end_matches(['\n', '\r']);
            let indent = body.len() - body.trim_start().len();
            let rest = &body[indent..];
            let number = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once("] "))
                .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            let (lead, url) = match number {
                Some((n, url)) => (n.len() + 3, url),
                None => (0, rest),
            };
            match by_url.get(url.trim_end()) {
                Some(&index) => {
                    out.push_str(&body[..indent + lead]);
                    out.push_str(&self.url(index));
                    out.push_str(&line[body.len()..]);
                }
                None => out.push_str(line),
            }
        }
        out
    }
}

/// The links found so far.
#[derive(Debug, Default)]
struct Table {
    links: Vec<Link>,
    by_url: HashMap<String, u16>,
}

impl Table {
    /// A table holding `known` (finished links, by index).
    fn seeded(links: Vec<Link>) -> Self {
        let by_url = links.iter().map(|l| (l.url.clone(), l.index)).collect();
        Self { links, by_url }
    }

    /// The index of `url`, new if unseen; `None` past `u16::MAX` links (left as they are).
    fn index_of(&mut self, url: &str) -> Option<u16> {
        if let Some(&index) = self.by_url.get(url) {
            return Some(index);
        }
        let index = u16::try_from(self.links.len()).ok()?;
        self.by_url.insert(url.to_owned(), index);
        self.links.push(Link { index, url: url.to_owned(), text: String::new() });
        Some(index)
    }

    fn text(&mut self, i: usize, chunk: &str) {
        if let Some(link) = self.links.get_mut(i)
            && link.text.chars().count() < MAX_TEXT_CHARS * 2
        {
            link.text.push_str(&decode_entities(chunk));
        }
    }

    fn alt(&mut self, i: usize, alt: &str) {
        if let Some(link) = self.links.get_mut(i) {
            link.text.push_str(&decode_entities(alt));
            link.text.push(' ');
        }
    }

    /// The links with their text tidied: whitespace collapsed, slot markers shown as `…`, cut to
    /// [`MAX_TEXT_CHARS`].
    fn finish(self) -> Vec<Link> {
        self.links
            .into_iter()
            .map(|mut link| {
                let cleaned: String = strip_markers(&link.text);
                link.text =
                    cleaned.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(MAX_TEXT_CHARS).collect();
                link
            })
            .collect()
    }
}

/// `text` with each personalisation marker (`U+E000 n U+E001`) written as `…`.
fn strip_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for c in text.chars() {
        match c {
            '\u{E000}' => {
                inside = true;
                out.push('…');
            }
            '\u{E001}' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

/// The HTML character references a serialiser writes in attribute values and text, decoded.
fn decode_entities(raw: &str) -> String {
    if !raw.contains('&') {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let decoded = after.find(';').filter(|&end| end <= 10).and_then(|end| {
            let name = &after[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end + 1))
        });
        let (c, len) = decoded.unwrap_or(('&', 1));
        out.push(c);
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// For each publication with `clicks: true`, an info diagnostic at its `clicks` key: its links
/// lead through `serve`, which must be up at the site's base URL for them to work.
pub fn serve_needed(project: &crate::project::Project) -> Vec<crate::diagnostic::Diagnostic> {
    let base = project.config.site.base();
    project
        .config
        .publications
        .iter()
        .filter(|p| p.clicks)
        .map(|p| {
            let d = crate::diagnostic::Diagnostic::info(
                "config/clicks",
                format!(
                    "publication `{}` counts clicks: the links of its emails lead to `{base}{PATH}…` and work only while `letterpress serve` answers there",
                    p.slug
                ),
            )
            .help("run `letterpress serve` behind the site's base URL (see docs/clicks.md), or set `clicks: false`");
            crate::config::at_entry(&project.root, d, "publications", &p.slug, "clicks", "true")
        })
        .collect()
}

#[cfg(test)]
mod tests;
