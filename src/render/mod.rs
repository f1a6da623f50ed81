//! Markdown to an HTML fragment and plain text, from one parse.
//!
//! Enters: an [`Issue`] and the [`Links`] of the whole project. Leaves: [`Rendered`], holding the
//! sanitised HTML fragment, the plain-text body (made from the Markdown events, not from the
//! HTML), the headings, and located diagnostics for links and images (broken internal links,
//! missing alt text, missing static files, `http://` links, leftover `TK`/`TODO`, and raw HTML
//! `<img>`/`<a>` tags, which none of that reaches).

pub mod html;
mod links;
pub mod text;
mod walk;

pub use links::{BrokenLink, Links};
pub use walk::MAX_DEPTH;
use walk::{Walk, too_deep};

use std::collections::BTreeSet;
use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser};
use serde::Serialize;

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
/// `lorem ipsum` or `[link]` in any case, with their byte offsets: each phrase's non-overlapping
/// matches from the left, phrase by phrase.
///
/// It runs on every text event of a body, so it reads the text once, stops only at bytes a
/// phrase starts with, and allocates nothing unless it finds something.
pub(crate) fn placeholders(text: &str) -> Vec<(usize, &'static str)> {
    /// (phrase, matched in any ASCII case, must stand as a word)
    const PHRASES: [(&str, bool, bool); 6] = [
        ("lorem ipsum", true, false),
        ("[link]", true, false),
        ("TK", false, true),
        ("TODO", false, true),
        ("FIXME", false, true),
        ("XXX", false, true),
    ];
    let bytes = text.as_bytes();
    let mut found: Vec<(usize, usize)> = Vec::new();
    // Where each phrase may match next: matches do not overlap.
    let mut next = [0; PHRASES.len()];
    for (at, byte) in bytes.iter().enumerate() {
        if !matches!(byte, b'l' | b'L' | b'[' | b'T' | b'F' | b'X') {
            continue;
        }
        for (n, (phrase, any_case, _)) in PHRASES.iter().enumerate() {
            let hit = at >= next[n]
                && bytes.get(at..at + phrase.len()).is_some_and(|candidate| {
                    if *any_case {
                        candidate.eq_ignore_ascii_case(phrase.as_bytes())
                    } else {
                        candidate == phrase.as_bytes()
                    }
                });
            if hit {
                next[n] = at + phrase.len();
                found.push((n, at));
            }
        }
    }
    // Phrase by phrase, then from the left; words only where they stand alone.
    found.sort_unstable();
    found
        .into_iter()
        .filter(|&(n, i)| {
            let (phrase, _, word) = PHRASES[n];
            let before = text[..i].chars().next_back();
            let after = text[i + phrase.len()..].chars().next();
            !word || (!before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric))
        })
        .map(|(n, i)| (i, PHRASES[n].0))
        .collect()
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
mod tests;
