//! The HTML fragment of an issue: pulldown-cmark's HTML, sanitised with ammonia.
//!
//! Sanitising happens here, on the fragment only and before templating and CSS inlining, so raw
//! HTML an author wrote (`<script>`, `onerror=`, `javascript:` links) never reaches a subscriber,
//! while the template's own markup and inlined styles are untouched. URLs in `href`, `src` and
//! `cite` pass [`crate::href::judge`] or are removed.
//!
//! The fragment comes in two renditions: the archive page's, where footnotes link within the
//! page and back, and a copy's ([`copy_rendition`], for email and feeds), where local anchors do
//! not work, so they link to the archive page's anchors, and images carry the `width` Outlook
//! needs. Footnotes are numbered in order of first reference and gathered at the end, with the
//! number inline at the start of the note; header cells carry `scope="col"`.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, Tag, TagEnd};

mod plain;

/// Width in CSS pixels of the default email template's content column (600 px less 32 px of
/// padding each side): the `width` attribute images get in emails.
pub const EMAIL_COLUMN_WIDTH: u32 = 536;

/// The URL schemes the sanitiser keeps in links and images (any other absolute URL goes).
const URL_SCHEMES: [&str; 3] = ["https", "http", "mailto"];

static SANITISER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .add_generic_attributes(["id", "class"])
        .add_tag_attributes("a", ["aria-label"])
        .add_tag_attributes("img", ["width", "height"])
        .add_tag_attributes("th", ["style", "scope"])
        .add_tag_attributes("td", ["style"])
        .filter_style_properties(HashSet::from(["text-align"]))
        .url_schemes(HashSet::from(URL_SCHEMES))
        // The link rule again, on what the HTML finally says: no refused URL survives, even one
        // written as raw HTML or one that rewriting let through.
        .attribute_filter(|_, attribute, value| match attribute {
            "href" | "src" | "cite" if !crate::href::is_allowed(value) => None,
            _ => Some(value.into()),
        })
        .link_rel(None);
    builder
});

/// The tags the sanitiser keeps; any other tag an author writes is removed (a `<script>` or
/// `<style>` with its content).
static KEPT_TAGS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| SANITISER.clone_tags());

/// Whether the sanitiser removes the HTML tag `name` (lower case) from the page and the email.
pub fn is_removed_tag(name: &str) -> bool {
    !KEPT_TAGS.contains(name)
}

/// Render events to sanitised HTML: the archive page's rendition. Fragments the sanitiser
/// would not change ([`plain::is_plain`]) skip its parse and get its bytes directly.
pub fn render_html<'a>(events: impl Iterator<Item = Event<'a>>) -> String {
    let (raw, plain) = unsanitised(events);
    match plain.then(|| plain::serialise(&raw)).flatten() {
        Some(html) => html,
        None => SANITISER.clean(&raw).to_string(),
    }
}

/// pulldown-cmark's HTML for `events` after the rewrite, before the sanitiser, and whether the
/// plain path may take it ([`plain::is_plain`]).
fn unsanitised<'a>(events: impl Iterator<Item = Event<'a>>) -> (String, bool) {
    let events: Vec<Event<'a>> = events.collect();
    let plain = plain::is_plain(&events);
    let events = Rewrite::default().run(events.into_iter());
    let mut raw = String::new();
    pulldown_cmark::html::push_html(&mut raw, events.into_iter());
    (raw, plain)
}

/// The rendition for copies (email, feed) of a sanitised page rendition: links to anchors
/// (`href="#…"`, footnote references included) point at `page_url`'s, footnote links back are
/// dropped, and images without a `width` get [`EMAIL_COLUMN_WIDTH`].
///
/// It reads the sanitiser's own serialisation, where a raw `<` only ever opens a tag (text
/// escapes it; comments, scripts and styles are gone) and attribute values are double-quoted
/// with their quotes escaped, so tags are found exactly without parsing the fragment again.
pub fn copy_rendition(page: &str, page_url: &str) -> String {
    let mut out = String::with_capacity(page.len() + page.len() / 16);
    let mut rest = page;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let (tag, after) = rest.split_at(tag_end(rest));
        rest = after;
        if tag.starts_with("<a ") && attribute_of(tag, "class") == Some("footnote-backref") {
            rest = rest.split_once("</a>").map_or("", |(_, after)| after);
            let kept = out.trim_end_matches(' ').len();
            out.truncate(kept);
        } else if tag.starts_with("<a ") {
            out.push_str("<a");
            for (name, value) in attributes(tag) {
                match (name, value.strip_prefix('#')) {
                    ("id", _) if value.starts_with("fnref-") => {}
                    ("href", Some(fragment)) => {
                        let _ = write!(out, " href=\"{}#{fragment}\"", attribute(page_url));
                    }
                    _ => {
                        let _ = write!(out, " {name}=\"{value}\"");
                    }
                }
            }
            out.push('>');
        } else if tag.starts_with("<img ") && attribute_of(tag, "width").is_none() {
            let open = tag.trim_end_matches('>').trim_end_matches('/').trim_end();
            let _ = write!(out, "{open} width=\"{EMAIL_COLUMN_WIDTH}\">");
        } else {
            out.push_str(tag);
        }
    }
    out.push_str(rest);
    out
}

/// The length of the tag that `html` starts with, through its `>` (outside quotes).
fn tag_end(html: &str) -> usize {
    let mut quoted = false;
    for (i, c) in html.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '>' if !quoted => return i + 1,
            _ => {}
        }
    }
    html.len()
}

/// The `name="value"` pairs of a serialised start tag, values still escaped.
fn attributes(tag: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = tag.trim_start_matches('<').trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    std::iter::from_fn(move || {
        let (name, after) = rest.trim_start().split_once("=\"")?;
        let (value, after) = after.split_once('"')?;
        rest = after;
        Some((name, value))
    })
}

/// The value of attribute `wanted` in a serialised start tag.
fn attribute_of<'t>(tag: &'t str, wanted: &str) -> Option<&'t str> {
    attributes(tag).find(|(name, _)| *name == wanted).map(|(_, value)| value)
}

/// A footnote definition held back to the end of the fragment.
struct Note<'a> {
    label: String,
    events: Vec<Event<'a>>,
}

/// Replaces the events pulldown-cmark would render without what accessibility needs
/// (footnotes, header cells) with HTML of our own; the rest pass through.
#[derive(Default)]
struct Rewrite {
    numbers: BTreeMap<String, usize>,
    referenced: std::collections::BTreeSet<usize>,
    in_head: bool,
    aligns: Vec<pulldown_cmark::Alignment>,
    cell: usize,
}

impl Rewrite {
    fn run<'a>(mut self, events: impl Iterator<Item = Event<'a>>) -> Vec<Event<'a>> {
        let (body, mut notes) = split_notes(events);
        self.number(&body, &notes);
        let mut out = Vec::with_capacity(body.len());
        self.events(body, &mut out);
        notes.retain(|n| self.numbers.contains_key(&n.label));
        notes.sort_by_key(|n| self.numbers.get(&n.label).copied().unwrap_or(usize::MAX));
        if !notes.is_empty() {
            out.push(Event::Html(CowStr::from("<div class=\"footnotes\">\n")));
            for note in notes {
                self.note(note, &mut out);
            }
            out.push(Event::Html(CowStr::from("</div>\n")));
        }
        out
    }

    /// Numbers notes as the plain text does: in order of first reference, references inside
    /// notes taken as the notes come, then notes never referenced.
    fn number(&mut self, body: &[Event<'_>], notes: &[Note<'_>]) {
        let defined = |label: &str| notes.iter().position(|n| n.label == label);
        let mut order: Vec<usize> = Vec::new();
        let take_refs = |events: &[Event<'_>], order: &mut Vec<usize>| {
            for event in events {
                if let Event::FootnoteReference(label) = event
                    && let Some(i) = defined(&label.to_lowercase())
                    && !order.contains(&i)
                {
                    order.push(i);
                }
            }
        };
        take_refs(body, &mut order);
        let mut next = 0;
        loop {
            if next == order.len() {
                match (0..notes.len()).find(|i| !order.contains(i)) {
                    Some(i) => order.push(i),
                    None => break,
                }
            }
            let Some(&i) = order.get(next) else { break };
            next += 1;
            if let Some(note) = notes.get(i) {
                take_refs(&note.events, &mut order);
            }
        }
        for (n, i) in order.into_iter().enumerate() {
            if let Some(note) = notes.get(i) {
                self.numbers.insert(note.label.clone(), n + 1);
            }
        }
    }

    fn events<'a>(&mut self, events: Vec<Event<'a>>, out: &mut Vec<Event<'a>>) {
        for event in events {
            match event {
                Event::FootnoteReference(label) => out.push(self.reference(&label)),
                Event::Start(Tag::Table(aligns)) => {
                    self.aligns.clone_from(&aligns);
                    out.push(Event::Start(Tag::Table(aligns)));
                }
                Event::Start(Tag::TableHead) => {
                    self.in_head = true;
                    self.cell = 0;
                    out.push(Event::Start(Tag::TableHead));
                }
                Event::End(TagEnd::TableHead) => {
                    self.in_head = false;
                    out.push(Event::End(TagEnd::TableHead));
                }
                Event::Start(Tag::TableCell) if self.in_head => {
                    let align = match self.aligns.get(self.cell) {
                        Some(pulldown_cmark::Alignment::Left) => " style=\"text-align: left\"",
                        Some(pulldown_cmark::Alignment::Center) => " style=\"text-align: center\"",
                        Some(pulldown_cmark::Alignment::Right) => " style=\"text-align: right\"",
                        _ => "",
                    };
                    out.push(Event::InlineHtml(CowStr::from(format!("<th scope=\"col\"{align}>"))));
                }
                Event::End(TagEnd::TableCell) if self.in_head => {
                    self.cell += 1;
                    out.push(Event::InlineHtml(CowStr::Borrowed("</th>")));
                }
                other => out.push(other),
            }
        }
    }

    fn reference<'a>(&mut self, label: &str) -> Event<'a> {
        let Some(&n) = self.numbers.get(&label.to_lowercase()) else {
            // No definition: show what the author wrote, as the plain text does.
            return Event::Text(CowStr::from(format!("[^{label}]")));
        };
        let html = if self.referenced.insert(n) {
            format!("<sup class=\"footnote-ref\"><a href=\"#fn-{n}\" id=\"fnref-{n}\">{n}</a></sup>")
        } else {
            format!("<sup class=\"footnote-ref\"><a href=\"#fn-{n}\">{n}</a></sup>")
        };
        Event::InlineHtml(CowStr::from(html))
    }

    /// One note: its number inline at the start of its first paragraph, and a link back to
    /// where it is first referenced at the end of its last.
    fn note<'a>(&mut self, note: Note<'a>, out: &mut Vec<Event<'a>>) {
        let n = self.numbers.get(&note.label).copied().unwrap_or_default();
        let mut events = Vec::with_capacity(note.events.len() + 2);
        self.events(note.events, &mut events);
        let label = Event::InlineHtml(CowStr::from(format!("<span class=\"footnote-label\">{n}.</span> ")));
        match events.first() {
            Some(Event::Start(Tag::Paragraph)) => events.insert(1, label),
            _ => events.insert(0, label),
        }
        if self.referenced.contains(&n) {
            let back = format!(
                " <a href=\"#fnref-{n}\" class=\"footnote-backref\" aria-label=\"Back to reference {n}\">↩\u{fe0e}</a>"
            );
            match events.iter().rposition(|e| matches!(e, Event::End(TagEnd::Paragraph))) {
                Some(i) => events.insert(i, Event::InlineHtml(CowStr::from(back))),
                None => events.push(Event::InlineHtml(CowStr::from(back))),
            }
        }
        out.push(Event::Html(CowStr::from(format!("<div class=\"footnote-definition\" id=\"fn-{n}\">"))));
        out.extend(events);
        out.push(Event::Html(CowStr::from("</div>\n")));
    }
}

/// Separates footnote definitions (labels lowercased, as references match them) from the body.
fn split_notes<'a>(events: impl Iterator<Item = Event<'a>>) -> (Vec<Event<'a>>, Vec<Note<'a>>) {
    let mut body = Vec::new();
    let mut notes = Vec::new();
    let mut open: Vec<Note<'a>> = Vec::new();
    for event in events {
        match event {
            Event::Start(Tag::FootnoteDefinition(label)) => {
                open.push(Note { label: label.to_lowercase(), events: Vec::new() });
            }
            Event::End(TagEnd::FootnoteDefinition) => notes.extend(open.pop()),
            other => match open.last_mut() {
                Some(note) => note.events.push(other),
                None => body.push(other),
            },
        }
    }
    // A later definition of the same label is ignored, as references resolve to the first.
    let mut seen = HashSet::new();
    notes.retain(|n| seen.insert(n.label.clone()));
    (body, notes)
}

/// Text escaped for a double-quoted attribute.
fn attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
