//! The `text/plain` part of a newsletter email, rendered from Markdown.
//!
//! This module owns turning a parsed issue into a plain-text body that reads
//! well in a mail client. It works from pulldown-cmark events, never from the
//! HTML rendering: the events still say what is a list item, a quote, a table
//! cell or a link, which would otherwise have to be guessed back out of markup.
//!
//! In: the events of a document parsed with tables, footnotes, strikethrough,
//! smart punctuation and heading attributes enabled, whose link destinations
//! the caller has already made absolute. Out: a `String` of `\n`-separated
//! lines hard-wrapped at [`WIDTH`] display columns, with no trailing spaces,
//! no runs of blank lines and exactly one final newline. Footnotes are
//! gathered into a `Notes:` section and link targets into a numbered `Links:`
//! section at the end, in order of first appearance in the output. Raw HTML
//! is dropped (text between inline tags stays), and pulldown has already
//! decoded entities, so none are written back.

mod blocks;
mod links;
mod tables;
#[cfg(test)]
mod tests;
mod wrap;

use std::mem::take;

use links::{Note, OpenLink, is_line_break_tag, split_footnotes};
use tables::Table;
use wrap::{join_lines, wrap};

use pulldown_cmark::{Event, Tag, TagEnd};
use unicode_width::UnicodeWidthStr;

/// Column at which prose is wrapped, counted in display width.
pub const WIDTH: usize = 72;

/// Hard limit on line width: only a line holding one unbreakable token (such
/// as a long URL, after any list, quote or `[n] ` prefix) may be longer.
pub const MAX_COLUMNS: usize = 78;

/// Holds a link marker to the word before it so the wrapper cannot strand
/// `[n]` at the start of a line; every line turns it back into a space.
/// Non-breaking spaces from the input are already plain spaces by then.
const GLUE: char = '\u{a0}';

/// A thematic break, centred in the available width.
const RULE: &str = "* * *";

/// Renders Markdown events as the plain-text body of a newsletter email.
///
/// Link destinations are used exactly as given. The result always ends with
/// a single newline (an empty document gives `"\n"`).
#[must_use]
pub fn render_text<'a, I>(events: I) -> String
where
    I: IntoIterator<Item = Event<'a>>,
{
    let (body, notes) = split_footnotes(events);
    let mut renderer = Renderer::new(notes);
    for event in body {
        renderer.event(event);
    }
    renderer.finish()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A list item: its marker starts its first line.
    Item,
    /// A footnote in the `Notes:` section, marked like an item.
    Note,
    /// A quote or an indented definition: same prefix on every line.
    Plain,
}

/// A block that prefixes each line rendered inside it.
struct Container {
    kind: Kind,
    /// Prefix of the container's first line (a list marker, say).
    first: String,
    /// Prefix of every later line, as wide as `first` so text lines up.
    rest: String,
    /// Whether a line has been printed inside it yet.
    used: bool,
}

impl Container {
    fn marker(kind: Kind, first: String) -> Self {
        let rest = " ".repeat(first.width());
        Self { kind, first, rest, used: false }
    }

    fn plain(prefix: &str) -> Self {
        Self { kind: Kind::Plain, first: prefix.to_owned(), rest: prefix.to_owned(), used: false }
    }
}

/// The closing tag of an inline `<script>` or `<style>` that `html` opens, whose content the
/// sanitiser removes with it.
fn hidden_content(html: &str) -> Option<&'static str> {
    let lower = html.trim_start().to_ascii_lowercase();
    ["script", "style"].into_iter().zip(["</script", "</style"]).find_map(|(name, close)| {
        let rest = lower.strip_prefix('<')?.strip_prefix(name)?;
        (rest.starts_with(|c: char| c == '>' || c.is_ascii_whitespace()) && !rest.trim_end().ends_with("/>"))
            .then_some(close)
    })
}

struct List {
    /// Number of the next item, for ordered lists.
    next: Option<u64>,
    /// Loose lists wrap item text in paragraphs and get blank lines.
    loose: bool,
    items: usize,
}

struct Renderer<'a> {
    lines: Vec<String>,
    containers: Vec<Container>,
    lists: Vec<List>,
    /// Inline text of the current leaf block; `\n` marks a hard break.
    inline: String,
    /// A block ended; the next one starts after a blank line.
    need_blank: bool,
    code: Option<String>,
    metadata: bool,
    table: Option<Table>,
    links: Vec<OpenLink<'a>>,
    /// Inline-buffer offsets where open images' alt text begins.
    images: Vec<usize>,
    /// Link targets, numbered by position plus one.
    urls: Vec<String>,
    notes: Vec<Note<'a>>,
    /// Indices into `notes`, numbered by position plus one.
    note_order: Vec<usize>,
    /// Inside an inline `<script>` or `<style>` (its closing tag, lower case): its text is
    /// code, which the HTML rendition removes with the tag, so the text leaves it out too.
    hidden: Option<&'static str>,
}

impl<'a> Renderer<'a> {
    fn new(notes: Vec<Note<'a>>) -> Self {
        Self {
            lines: Vec::new(),
            containers: Vec::new(),
            lists: Vec::new(),
            inline: String::new(),
            need_blank: false,
            code: None,
            metadata: false,
            table: None,
            links: Vec::new(),
            images: Vec::new(),
            urls: Vec::new(),
            notes,
            note_order: Vec::new(),
            hidden: None,
        }
    }

    fn event(&mut self, event: Event<'a>) {
        if let Some(close) = self.hidden {
            match event {
                Event::InlineHtml(html) if html.trim_start().to_ascii_lowercase().starts_with(close) => {
                    self.hidden = None;
                }
                Event::Text(_) | Event::Code(_) | Event::InlineHtml(_) | Event::SoftBreak | Event::HardBreak => {}
                // A paragraph's end (or anything else that is not inline) ends the hiding: the
                // element never closed within it.
                other => {
                    self.hidden = None;
                    self.event(other);
                }
            }
            return;
        }
        match event {
            Event::InlineHtml(html) if hidden_content(&html).is_some() => self.hidden = hidden_content(&html),
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text),
            Event::Code(text) | Event::InlineMath(text) | Event::DisplayMath(text) => {
                self.push_inline(&text);
            }
            Event::InlineHtml(html) if is_line_break_tag(&html) => self.inline.push('\n'),
            Event::Html(_) | Event::InlineHtml(_) => {}
            Event::FootnoteReference(label) => self.footnote_reference(&label),
            Event::SoftBreak => self.inline.push(' '),
            Event::HardBreak => self.inline.push('\n'),
            Event::Rule => self.rule(),
            Event::TaskListMarker(checked) => self.task_marker(checked),
        }
    }

    fn start(&mut self, tag: Tag<'a>) {
        match tag {
            Tag::Paragraph => {
                self.flush_inline();
                self.mark_loose();
            }
            Tag::Heading { .. }
            | Tag::HtmlBlock
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::FootnoteDefinition(_) => self.flush_inline(),
            Tag::MetadataBlock(_) => {
                self.flush_inline();
                self.metadata = true;
            }
            Tag::BlockQuote(_) => self.open_container(Container::plain("> ")),
            Tag::DefinitionListDefinition => {
                self.open_container(Container::plain("    "));
                // The definition belongs right under its term.
                self.need_blank = false;
            }
            Tag::CodeBlock(_) => {
                self.flush_inline();
                self.code = Some(String::new());
            }
            Tag::List(start) => self.start_list(start),
            Tag::Item => self.start_item(),
            Tag::Table(aligns) => {
                self.flush_inline();
                self.table = Some(Table { aligns, ..Table::default() });
            }
            Tag::Link { link_type, dest_url, .. } => {
                self.links.push(OpenLink { start: self.inline.len(), link_type, url: dest_url });
            }
            Tag::Image { .. } => self.images.push(self.inline.len()),
            Tag::TableHead
            | Tag::TableRow
            | Tag::TableCell
            | Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionList
            | TagEnd::HtmlBlock
            | TagEnd::FootnoteDefinition => self.flush_inline(),
            TagEnd::MetadataBlock(_) => {
                self.flush_inline();
                self.metadata = false;
            }
            TagEnd::Heading(level) => self.heading(level),
            TagEnd::BlockQuote(_) | TagEnd::DefinitionListDefinition | TagEnd::Item => {
                self.close_container();
            }
            TagEnd::CodeBlock => self.code_block(),
            TagEnd::List(_) => {
                self.flush_inline();
                self.lists.pop();
                self.need_blank = true;
            }
            TagEnd::TableCell => self.table_cell(),
            TagEnd::TableHead => self.table_row(true),
            TagEnd::TableRow => self.table_row(false),
            TagEnd::Table => self.table_end(),
            TagEnd::Link => self.end_link(),
            TagEnd::Image => self.end_image(),
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Superscript | TagEnd::Subscript => {}
        }
    }

    fn text(&mut self, text: &str) {
        if let Some(code) = &mut self.code {
            code.extend(text.chars().filter(|&c| !c.is_control() || c == '\n' || c == '\t'));
        } else if self.metadata {
            // Front matter is line-oriented: keep its lines apart.
            for (index, line) in text.split('\n').enumerate() {
                if index > 0 {
                    self.inline.push('\n');
                }
                self.push_inline(line);
            }
        } else {
            self.push_inline(text);
        }
    }

    /// Appends inline text with every kind of whitespace made a plain space
    /// (that is what a browser would show) and control characters dropped.
    fn push_inline(&mut self, text: &str) {
        // Most text has none of those: no byte below a space, no DEL, and no `0xC2`, the first
        // byte of U+0080 to U+00BF (the C1 controls and the no-break space among them).
        if !text.bytes().any(|b| b < b' ' || b == 0x7f || b == 0xc2) {
            self.inline.push_str(text);
            return;
        }
        self.inline.extend(text.chars().filter_map(|c| match c {
            '\u{a0}' | '\t' | '\n' | '\r' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        }));
    }

    /// Columns left for text inside the open containers; at least one, so
    /// absurdly deep nesting degrades to a word per line instead of failing.
    fn width(&self) -> usize {
        let prefix: usize = self.containers.iter().map(|c| c.rest.width()).sum();
        WIDTH.saturating_sub(prefix).max(1)
    }

    /// Emits a line inside the open containers.
    fn push_line(&mut self, content: &str) {
        let mut line: String =
            self.containers.iter().map(|c| if c.used { c.rest.as_str() } else { c.first.as_str() }).collect();
        line.push_str(content);
        if line.contains(GLUE) {
            line = line.replace(GLUE, " ");
        }
        self.lines.push(line);
        for container in &mut self.containers {
            container.used = true;
        }
    }

    /// Starts a block, after a blank line if the previous block asked for one.
    fn open_block(&mut self) {
        if self.need_blank && !self.lines.is_empty() {
            // Containers that have not printed yet start after the blank
            // line, so their markers must not appear on it.
            let prefix: String = self.containers.iter().filter(|c| c.used).map(|c| c.rest.as_str()).collect();
            self.lines.push(prefix.trim_end().to_owned());
        }
        self.need_blank = false;
    }

    /// Prints pending inline text as a wrapped paragraph. Tight list items
    /// and definition terms have text outside any paragraph tag, so this runs
    /// whenever a block starts or a container closes.
    fn flush_inline(&mut self) {
        let text = take(&mut self.inline);
        if text.trim().is_empty() {
            return;
        }
        self.open_block();
        for line in wrap(&text, self.width(), "", "") {
            self.push_line(&line);
        }
        self.need_blank = true;
    }

    fn open_container(&mut self, container: Container) {
        self.flush_inline();
        self.containers.push(container);
    }

    fn close_container(&mut self) {
        self.flush_inline();
        if let Some(top) = self.containers.last() {
            // An empty item or note still shows its marker.
            if !top.used && top.kind != Kind::Plain {
                self.open_block();
                self.push_line("");
            }
        }
        self.containers.pop();
        self.need_blank = true;
    }

    fn finish(mut self) -> String {
        self.flush_inline();
        self.containers.clear();
        self.render_notes();
        self.render_links();
        join_lines(&self.lines)
    }
}
