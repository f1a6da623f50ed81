//! Footnotes and links: `^n` references gathered into `Notes:`, link targets
//! numbered into `Links:`, and how a URL or address is shown as text.

use std::fmt::Write as _;
use std::mem::take;

use pulldown_cmark::{CowStr, Event, LinkType, Tag, TagEnd};
use unicode_width::UnicodeWidthStr;

use super::{Container, GLUE, Kind, Renderer};

/// A footnote definition, held back until the body has been rendered.
pub(super) struct Note<'a> {
    pub(super) label: CowStr<'a>,
    pub(super) events: Vec<Event<'a>>,
}

/// Separates footnote definitions from the body, since they are printed
/// after it however early they appear in the source.
pub(super) fn split_footnotes<'a, I>(events: I) -> (Vec<Event<'a>>, Vec<Note<'a>>)
where
    I: IntoIterator<Item = Event<'a>>,
{
    let mut body = Vec::new();
    let mut notes = Vec::new();
    let mut open: Vec<Note<'a>> = Vec::new();
    for event in events {
        match event {
            Event::Start(Tag::FootnoteDefinition(label)) => open.push(Note { label, events: Vec::new() }),
            Event::End(TagEnd::FootnoteDefinition) => notes.extend(open.pop()),
            other => match open.last_mut() {
                Some(note) => note.events.push(other),
                None => body.push(other),
            },
        }
    }
    // An unterminated definition still has content worth printing.
    notes.extend(open.into_iter().rev());
    (body, notes)
}

pub(super) struct OpenLink<'a> {
    /// Byte offset in the inline buffer where the link text begins.
    pub(super) start: usize,
    pub(super) link_type: LinkType,
    pub(super) url: CowStr<'a>,
}

impl Renderer<'_> {
    pub(super) fn footnote_reference(&mut self, label: &str) {
        let found = self.notes.iter().position(|note| note.label.to_lowercase() == label.to_lowercase());
        let Some(index) = found else {
            // No definition to point at: show what the author wrote.
            self.inline.push_str("[^");
            self.push_inline(label);
            self.inline.push(']');
            return;
        };
        let number = number_of(&mut self.note_order, index);
        self.inline.push('^');
        self.inline.push_str(&number.to_string());
    }

    pub(super) fn end_link(&mut self) {
        let Some(link) = self.links.pop() else {
            return;
        };
        // A link inside an image's alt text can only be shown as that text.
        if !self.images.is_empty() {
            return;
        }
        let text = self.inline.get(link.start..).unwrap_or("").trim().to_owned();
        let url = display_url(&link.url);
        if let Some(address) = mail_address(link.link_type, &link.url) {
            if text.is_empty() || text == address || text == url {
                self.replace_from(link.start, &address);
            } else {
                self.inline.push_str(" (");
                self.inline.push_str(&address);
                self.inline.push(')');
            }
        } else if link.link_type == LinkType::Autolink || text.is_empty() || same_url(&text, &url) {
            // The URL is already in the text; a number would repeat it.
            self.replace_from(link.start, &url);
        } else {
            let number = number_of(&mut self.urls, url);
            self.append_marker(&format!("[{number}]"));
        }
    }

    pub(super) fn replace_from(&mut self, start: usize, text: &str) {
        if self.inline.is_char_boundary(start) {
            self.inline.truncate(start);
        }
        self.inline.push_str(text);
    }

    /// Attaches `marker` to the last word unless together they could not
    /// fit on a line, in which case the marker may wrap on its own.
    pub(super) fn append_marker(&mut self, marker: &str) {
        let kept = self.inline.trim_end_matches([' ', '\n']).len();
        self.inline.truncate(kept);
        let word = self.inline.rsplit([' ', '\n']).next().unwrap_or("");
        let glued = word.width() + 1 + marker.width() <= self.width();
        self.inline.push(if glued { GLUE } else { ' ' });
        self.inline.push_str(marker);
    }

    pub(super) fn end_image(&mut self) {
        let Some(start) = self.images.pop() else {
            return;
        };
        let alt = self.inline.get(start..).unwrap_or("").replace('\n', " ");
        let alt = alt.trim();
        if alt.is_empty() {
            self.replace_from(start, "");
        } else {
            let shown = format!("[{alt}]");
            self.replace_from(start, &shown);
        }
    }

    /// A section title such as `Notes:`, with its entries right below.
    pub(super) fn section(&mut self, title: &str) {
        self.need_blank = true;
        self.open_block();
        self.push_line(title);
    }

    /// Prints notes in order of first reference, taking references made by
    /// notes themselves as they come, then any note never referenced.
    pub(super) fn render_notes(&mut self) {
        let mut next = 0;
        loop {
            if next == self.note_order.len() {
                let unreferenced = (0..self.notes.len()).find(|i| !self.note_order.contains(i));
                match unreferenced {
                    Some(index) => self.note_order.push(index),
                    None => break,
                }
            }
            if next == 0 {
                self.section("Notes:");
            }
            let Some(&index) = self.note_order.get(next) else {
                break;
            };
            next += 1;
            self.render_note(index, next);
        }
    }

    pub(super) fn render_note(&mut self, index: usize, number: usize) {
        let events = self.notes.get_mut(index).map(|note| take(&mut note.events)).unwrap_or_default();
        // Notes follow one another like the items of a tight list.
        self.need_blank = false;
        self.containers.push(Container::marker(Kind::Note, format!("^{number} ")));
        let depth = self.containers.len();
        for event in events {
            self.event(event);
        }
        // Drop whatever a malformed definition left open, then the note.
        self.flush_inline();
        self.containers.truncate(depth);
        self.close_container();
    }

    pub(super) fn render_links(&mut self) {
        if self.urls.is_empty() {
            return;
        }
        self.section("Links:");
        for (index, url) in take(&mut self.urls).iter().enumerate() {
            self.push_line(&format!("[{}] {url}", index + 1));
        }
    }
}

/// The 1-based number of `item` in `numbered`, appending it if it is new.
fn number_of<T: PartialEq>(numbered: &mut Vec<T>, item: T) -> usize {
    if let Some(position) = numbered.iter().position(|known| *known == item) {
        position + 1
    } else {
        numbered.push(item);
        numbered.len()
    }
}

/// A URL as one printable token: whitespace and control characters are
/// percent-encoded so the URL can never be wrapped or look like two.
fn display_url(url: &str) -> String {
    let mut shown = String::with_capacity(url.len());
    for c in url.chars() {
        if c.is_whitespace() || c.is_control() {
            let mut buffer = [0; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(shown, "%{byte:02X}");
            }
        } else {
            shown.push(c);
        }
    }
    shown
}

/// The address of an email link, without `mailto:` or any `?subject=…`.
fn mail_address(link_type: LinkType, url: &str) -> Option<String> {
    let scheme = "mailto:";
    let after_scheme =
        url.get(..scheme.len()).filter(|head| head.eq_ignore_ascii_case(scheme)).and_then(|_| url.get(scheme.len()..));
    let address = match (after_scheme, link_type) {
        (Some(rest), _) => rest.split('?').next().unwrap_or(rest),
        (None, LinkType::Email) => url,
        (None, _) => return None,
    };
    Some(display_url(address))
}

/// Whether link text just repeats its URL, allowing a trailing slash.
fn same_url(text: &str, url: &str) -> bool {
    text.trim_end_matches('/') == url.trim_end_matches('/')
}

pub(super) fn is_line_break_tag(html: &str) -> bool {
    let name = html.trim().trim_start_matches('<').trim_end_matches('>').trim_end_matches('/').trim();
    name.eq_ignore_ascii_case("br")
}
