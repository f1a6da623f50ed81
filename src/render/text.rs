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

use std::borrow::Cow;
use std::fmt::Write as _;
use std::mem::take;

use pulldown_cmark::{Alignment, CowStr, Event, HeadingLevel, LinkType, Tag, TagEnd};
use textwrap::{WordSeparator, WordSplitter, WrapAlgorithm};
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

/// A footnote definition, held back until the body has been rendered.
struct Note<'a> {
    label: CowStr<'a>,
    events: Vec<Event<'a>>,
}

/// Separates footnote definitions from the body, since they are printed
/// after it however early they appear in the source.
fn split_footnotes<'a, I>(events: I) -> (Vec<Event<'a>>, Vec<Note<'a>>)
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

struct List {
    /// Number of the next item, for ordered lists.
    next: Option<u64>,
    /// Loose lists wrap item text in paragraphs and get blank lines.
    loose: bool,
    items: usize,
}

struct OpenLink<'a> {
    /// Byte offset in the inline buffer where the link text begins.
    start: usize,
    link_type: LinkType,
    url: CowStr<'a>,
}

#[derive(Default)]
struct Table {
    aligns: Vec<Alignment>,
    head: Vec<String>,
    rows: Vec<Vec<String>>,
    row: Vec<String>,
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
        }
    }

    fn event(&mut self, event: Event<'a>) {
        match event {
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
        self.lines.push(line.replace(GLUE, " "));
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

    fn in_item(&self) -> bool {
        self.containers.last().is_some_and(|c| c.kind == Kind::Item)
    }

    /// Pulldown wraps item text in paragraphs only in loose lists.
    fn mark_loose(&mut self) {
        if self.in_item()
            && let Some(list) = self.lists.last_mut()
        {
            list.loose = true;
        }
    }

    fn start_list(&mut self, start: Option<u64>) {
        self.flush_inline();
        // A list nested in a tight item hangs right under the item's text.
        if self.in_item() && self.lists.last().is_some_and(|l| !l.loose) {
            self.need_blank = false;
        }
        self.lists.push(List { next: start, loose: false, items: 0 });
    }

    fn start_item(&mut self) {
        self.flush_inline();
        let marker = match self.lists.last_mut() {
            Some(list) => {
                if list.items > 0 && !list.loose {
                    self.need_blank = false;
                }
                list.items = list.items.saturating_add(1);
                match &mut list.next {
                    Some(number) => {
                        let marker = format!("{number}. ");
                        *number = number.saturating_add(1);
                        marker
                    }
                    None => "- ".to_owned(),
                }
            }
            None => "- ".to_owned(),
        };
        self.containers.push(Container::marker(Kind::Item, marker));
    }

    /// Puts `[x]`/`[ ]` into the item marker so wrapped lines align under
    /// the task text rather than under the box.
    fn task_marker(&mut self, checked: bool) {
        let mark = if checked { "[x] " } else { "[ ] " };
        match self.containers.last_mut() {
            Some(item) if item.kind == Kind::Item && !item.used => {
                item.first.push_str(mark);
                item.rest = " ".repeat(item.first.width());
            }
            _ => self.inline.push_str(mark),
        }
    }

    fn heading(&mut self, level: HeadingLevel) {
        let text = take(&mut self.inline);
        if text.trim().is_empty() {
            return;
        }
        self.open_block();
        let width = self.width();
        let lines = match level {
            HeadingLevel::H1 | HeadingLevel::H2 => {
                let mut lines = wrap(&text, width, "", "");
                let longest = lines.iter().map(|l| l.width()).max().unwrap_or(0);
                let rule = if level == HeadingLevel::H1 { "=" } else { "-" };
                lines.push(rule.repeat(longest));
                lines
            }
            _ => {
                let marker = format!("{} ", "#".repeat(level as usize));
                wrap(&text, width, &marker, &" ".repeat(marker.len()))
            }
        };
        for line in lines {
            self.push_line(&line);
        }
        self.need_blank = true;
    }

    fn rule(&mut self) {
        self.flush_inline();
        self.open_block();
        let width = self.width();
        let line = if width < RULE.len() {
            // Too deep to centre: one token keeps within the width rule.
            "***".to_owned()
        } else {
            format!("{}{RULE}", " ".repeat(width.saturating_sub(RULE.len()) / 2))
        };
        self.push_line(&line);
        self.need_blank = true;
    }

    /// Code is shown verbatim, never wrapped: rewrapping would change it.
    fn code_block(&mut self) {
        let Some(code) = self.code.take() else {
            return;
        };
        self.open_block();
        for line in code.trim_end_matches('\n').lines() {
            if line.trim().is_empty() {
                self.push_line("");
            } else {
                self.push_line(&format!("    {line}"));
            }
        }
        self.need_blank = true;
    }

    fn footnote_reference(&mut self, label: &str) {
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

    fn end_link(&mut self) {
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

    fn replace_from(&mut self, start: usize, text: &str) {
        if self.inline.is_char_boundary(start) {
            self.inline.truncate(start);
        }
        self.inline.push_str(text);
    }

    /// Attaches `marker` to the last word unless together they could not
    /// fit on a line, in which case the marker may wrap on its own.
    fn append_marker(&mut self, marker: &str) {
        let kept = self.inline.trim_end_matches([' ', '\n']).len();
        self.inline.truncate(kept);
        let word = self.inline.rsplit([' ', '\n']).next().unwrap_or("");
        let glued = word.width() + 1 + marker.width() <= self.width();
        self.inline.push(if glued { GLUE } else { ' ' });
        self.inline.push_str(marker);
    }

    fn end_image(&mut self) {
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

    fn table_cell(&mut self) {
        let text = take(&mut self.inline);
        match &mut self.table {
            Some(table) => table.row.push(collapse_spaces(&text.replace('\n', " "))),
            None => self.inline = text,
        }
    }

    fn table_row(&mut self, head: bool) {
        if let Some(table) = &mut self.table {
            let row = take(&mut table.row);
            if head {
                table.head = row;
            } else {
                table.rows.push(row);
            }
        }
    }

    fn table_end(&mut self) {
        let Some(table) = self.table.take() else {
            return;
        };
        let widths = table.column_widths();
        if widths.is_empty() {
            return;
        }
        let gaps = 2 * widths.len().saturating_sub(1);
        if widths.iter().sum::<usize>() + gaps <= self.width() {
            self.aligned_table(&table, &widths);
        } else {
            self.record_table(&table, widths.len());
        }
        self.need_blank = true;
    }

    fn aligned_table(&mut self, table: &Table, widths: &[usize]) {
        self.open_block();
        if table.head.iter().any(|cell| !cell.is_empty()) {
            self.push_line(&table.layout_row(&table.head, widths));
            let rules: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
            self.push_line(&rules.join("  "));
        }
        for row in &table.rows {
            self.push_line(&table.layout_row(row, widths));
        }
    }

    /// Too wide to align: each row becomes a record of `Header: value` lines.
    fn record_table(&mut self, table: &Table, columns: usize) {
        let width = self.width();
        if table.rows.is_empty() {
            self.open_block();
            for header in &table.head {
                for line in wrap(header, width, "", "  ") {
                    self.push_line(&line);
                }
            }
        }
        for row in &table.rows {
            self.open_block();
            for column in 0..columns {
                let header = table.head.get(column).map_or("", String::as_str);
                let value = row.get(column).map_or("", String::as_str);
                let entry = match (header.is_empty(), value.is_empty()) {
                    (true, _) => value.to_owned(),
                    (false, true) => format!("{header}:"),
                    (false, false) => format!("{header}: {value}"),
                };
                for line in wrap(&entry, width, "", "  ") {
                    self.push_line(&line);
                }
            }
            self.need_blank = true;
        }
    }

    fn finish(mut self) -> String {
        self.flush_inline();
        self.containers.clear();
        self.render_notes();
        self.render_links();
        join_lines(&self.lines)
    }

    /// A section title such as `Notes:`, with its entries right below.
    fn section(&mut self, title: &str) {
        self.need_blank = true;
        self.open_block();
        self.push_line(title);
    }

    /// Prints notes in order of first reference, taking references made by
    /// notes themselves as they come, then any note never referenced.
    fn render_notes(&mut self) {
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

    fn render_note(&mut self, index: usize, number: usize) {
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

    fn render_links(&mut self) {
        if self.urls.is_empty() {
            return;
        }
        self.section("Links:");
        for (index, url) in take(&mut self.urls).iter().enumerate() {
            self.push_line(&format!("[{}] {url}", index + 1));
        }
    }
}

impl Table {
    /// Display width of each column, at least one so its rule shows.
    fn column_widths(&self) -> Vec<usize> {
        let rows = || std::iter::once(&self.head).chain(&self.rows);
        let columns = rows().map(Vec::len).chain([self.aligns.len()]).max().unwrap_or(0);
        (0..columns)
            .map(|column| rows().filter_map(|row| row.get(column)).map(|cell| cell.width()).max().unwrap_or(0).max(1))
            .collect()
    }

    fn layout_row(&self, row: &[String], widths: &[usize]) -> String {
        let cells: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(column, &width)| {
                let cell = row.get(column).map_or("", String::as_str);
                let align = self.aligns.get(column).copied().unwrap_or(Alignment::None);
                pad(cell, width, align)
            })
            .collect();
        cells.join("  ")
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

fn pad(cell: &str, width: usize, align: Alignment) -> String {
    let room = width.saturating_sub(cell.width());
    let left = match align {
        Alignment::Right => room,
        Alignment::Center => room / 2,
        Alignment::Left | Alignment::None => 0,
    };
    let right = room.saturating_sub(left);
    format!("{}{cell}{}", " ".repeat(left), " ".repeat(right))
}

/// Wraps text at `width` display columns without ever splitting a word or
/// URL; `\n` in `text` is a hard break. Indents count towards the width.
fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for segment in text.split('\n') {
        let segment = collapse_spaces(segment);
        if segment.is_empty() {
            continue;
        }
        let indent = if lines.is_empty() { first } else { rest };
        let options = textwrap::Options::new(width.max(1))
            .break_words(false)
            .word_separator(WordSeparator::AsciiSpace)
            .word_splitter(WordSplitter::NoHyphenation)
            .wrap_algorithm(WrapAlgorithm::FirstFit)
            .initial_indent(indent)
            .subsequent_indent(rest);
        lines.extend(textwrap::wrap(&segment, options).into_iter().map(Cow::into_owned));
    }
    lines
}

/// Collapses runs of spaces, as a browser would, and trims the ends.
fn collapse_spaces(text: &str) -> String {
    text.split(' ').filter(|word| !word.is_empty()).collect::<Vec<_>>().join(" ")
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

fn is_line_break_tag(html: &str) -> bool {
    let name = html.trim().trim_start_matches('<').trim_end_matches('>').trim_end_matches('/').trim();
    name.eq_ignore_ascii_case("br")
}

/// Joins lines, trimming trailing spaces, dropping leading blank lines and
/// collapsing runs of blank lines, and ends with exactly one newline.
fn join_lines(lines: &[String]) -> String {
    let mut out = String::new();
    let mut blank = false;
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push('\n');
            blank = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    if out.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{MAX_COLUMNS, WIDTH, render_text};
    use proptest::prelude::*;
    use pulldown_cmark::{Alignment, CowStr, Event, LinkType, Options, Parser, Tag};
    use unicode_width::UnicodeWidthStr;

    fn options() -> Options {
        Options::ENABLE_TABLES
            | Options::ENABLE_FOOTNOTES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_SMART_PUNCTUATION
            | Options::ENABLE_HEADING_ATTRIBUTES
    }

    fn render(markdown: &str) -> String {
        render_text(Parser::new_ext(markdown, options()))
    }

    #[track_caller]
    fn case(markdown: &str, expected: &str) {
        assert_eq!(render(markdown), expected, "markdown: {markdown:?}");
    }

    const LONG_URL: &str =
        "https://example.org/archive/2024/issues/a-very-long-path-segment-that-goes-on/and-on-and-on";

    #[test]
    fn paragraphs() {
        case("", "\n");
        case("Hello, *world*.", "Hello, world.\n");
        case(
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
             incididunt ut labore et dolore magna aliqua.",
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod\n\
             tempor incididunt ut labore et dolore magna aliqua.\n",
        );
        case("one\ntwo\n\n\n\nthree", "one two\n\nthree\n");
        case("one  \ntwo\\\nthree", "one\ntwo\nthree\n");
        case("spaced   out\t text  ", "spaced out text\n");
        case(&format!("Read {LONG_URL} today."), &format!("Read\n{LONG_URL}\ntoday.\n"));
        case(
            "well-known-and-hyphenated-compound-words-stay-whole-even-when-they-would-fit-split",
            "well-known-and-hyphenated-compound-words-stay-whole-even-when-they-would-fit-split\n",
        );
        // Double-width characters: 14 × (4 + 1) - 1 = 69 columns, 15 would be 74.
        case("漢字 ".repeat(20).trim(), &format!("{}\n{}\n", "漢字 ".repeat(14).trim(), "漢字 ".repeat(6).trim()));
    }

    #[test]
    fn inline_markup() {
        case("*em* **strong** ~~gone~~ `a  b` ***both***", "em strong gone a b both\n");
    }

    #[test]
    fn headings() {
        case("# Title\n\nText", "Title\n=====\n\nText\n");
        case("Sub\n---\ntext", "Sub\n---\n\ntext\n");
        case("### Third {#id .class}\n#### Fourth\n###### Sixth", "### Third\n\n#### Fourth\n\n###### Sixth\n");
        case(
            "# The weekly letter: a very long heading that will certainly need to wrap nicely",
            "The weekly letter: a very long heading that will certainly need to wrap\n\
             nicely\n\
             =======================================================================\n",
        );
        case(
            "### The weekly letter: a very long heading that will certainly need to wrap",
            "### The weekly letter: a very long heading that will certainly need to\n    wrap\n",
        );
        case("#\n\ntext", "text\n");
    }

    #[test]
    fn code_blocks() {
        let long = format!("let x = \"{}\";", "a".repeat(90));
        case(
            &format!("Before:\n\n```rust\n{long}\n\n  indented();  \n```\n\nAfter."),
            &format!("Before:\n\n    {long}\n\n      indented();\n\nAfter.\n"),
        );
        case("    indented code\n", "    indented code\n");
    }

    #[test]
    fn lists() {
        case("- one\n- two\n- three", "- one\n- two\n- three\n");
        case("- one\n  - nested\n    - deeper\n- two", "- one\n  - nested\n    - deeper\n- two\n");
        case("3. three\n4. four", "3. three\n4. four\n");
        case(
            "- an item long enough to wrap past the seventy-two column limit of the email",
            "- an item long enough to wrap past the seventy-two column limit of the\n  email\n",
        );
        case(
            "9. nine\n10. ten long enough to wrap past the seventy-two column limit of the email",
            "9. nine\n10. ten long enough to wrap past the seventy-two column limit of the\n    email\n",
        );
        case("- one\n\n- two\n\n  more", "- one\n\n- two\n\n  more\n");
        case("Before\n\n- a\n-\n\nAfter", "Before\n\n- a\n-\n\nAfter\n");
        case(
            "- [x] done but long enough to wrap past the seventy-two column limit\n- [ ] open",
            "- [x] done but long enough to wrap past the seventy-two column limit\n- [ ] open\n",
        );
    }

    #[test]
    fn quotes() {
        case(
            "> A pull quote long enough to wrap past the seventy-two column limit, surely.",
            "> A pull quote long enough to wrap past the seventy-two column limit,\n> surely.\n",
        );
        case("> one\n>\n> > two\n\nafter", "> one\n>\n> > two\n\nafter\n");
        case("> - a\n> - b\n>\n> text", "> - a\n> - b\n>\n> text\n");
        case("- > quoted\n  > item", "- > quoted item\n");
    }

    #[test]
    fn rule() {
        case("a\n\n---\n\nb", &format!("a\n\n{}* * *\n\nb\n", " ".repeat(33)));
    }

    #[test]
    fn tables() {
        case(
            "| Name | Qty | Price |\n|:--|:-:|--:|\n| Apple | 1 | £1.00 |\n| Banana split | 12 | £10.50 |",
            "Name          Qty   Price\n\
             ------------  ---  ------\n\
             Apple          1    £1.00\n\
             Banana split  12   £10.50\n",
        );
        case(
            "| 名前 | x |\n|---|---|\n| 漢字漢字 | [a](https://example.org/a) |",
            "名前      x\n--------  -----\n漢字漢字  a [1]\n\nLinks:\n[1] https://example.org/a\n",
        );
        case(
            "| Name | Description |\n|---|---|\n\
             | Alpha | A description that is rather long and will push the table past the limit |\n\
             | Beta | |",
            "Name: Alpha\n\
             Description: A description that is rather long and will push the table\n  past the limit\n\
             \n\
             Name: Beta\n\
             Description:\n",
        );
        case("- item\n\n  | A | B |\n  |---|---|\n  | 1 | 2 |", "- item\n\n  A  B\n  -  -\n  1  2\n");
    }

    #[test]
    fn links() {
        case(
            "See [our site](https://example.org/about), [again](https://example.org/about) \
             and [more](https://example.org/more).",
            "See our site [1], again [1] and more [2].\n\n\
             Links:\n[1] https://example.org/about\n[2] https://example.org/more\n",
        );
        case("Go to <https://example.org/x>.", "Go to https://example.org/x.\n");
        case(
            "[https://example.org/x](https://example.org/x/) and https://example.org/y",
            "https://example.org/x/ and https://example.org/y\n",
        );
        case("[](https://example.org/empty)", "https://example.org/empty\n");
        case(
            "Mail [us](mailto:us@example.org?subject=Hi), <me@example.org> \
             or [you@example.org](mailto:you@example.org).",
            "Mail us (us@example.org), me@example.org or you@example.org.\n",
        );
        case(&format!("[text]({LONG_URL})"), &format!("text [1]\n\nLinks:\n[1] {LONG_URL}\n"));
        // The marker stays with its word instead of starting a line.
        case(
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do [eiusmod](https://e.org)",
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do\neiusmod [1]\n\n\
             Links:\n[1] https://e.org\n",
        );
    }

    #[test]
    fn images() {
        case("![A photo](https://example.org/a.png) and ![](https://example.org/b.png) end.", "[A photo] and end.\n");
        case(
            "[![Logo](https://example.org/l.png)](https://example.org/)",
            "[Logo] [1]\n\nLinks:\n[1] https://example.org/\n",
        );
    }

    #[test]
    fn footnotes() {
        case(
            "Here[^b] and there[^a] and again[^b]. A [link](https://example.org/1).\n\n\
             [^a]: First defined, second referenced.\n\
             [^b]: A note with [a link](https://example.org/2) and text that goes past the limit.",
            "Here^1 and there^2 and again^1. A link [1].\n\n\
             Notes:\n\
             ^1 A note with a link [2] and text that goes past the limit.\n\
             ^2 First defined, second referenced.\n\n\
             Links:\n[1] https://example.org/1\n[2] https://example.org/2\n",
        );
        case(
            "Text[^n].\n\n[^n]: A note long enough to wrap past the seventy-two column limit, truly. Yes.",
            "Text^1.\n\nNotes:\n\
             ^1 A note long enough to wrap past the seventy-two column limit, truly.\n   Yes.\n",
        );
        case("No definition[^missing].", "No definition[^missing].\n");
        case("Body.\n\n[^u]: Never referenced.", "Body.\n\nNotes:\n^1 Never referenced.\n");
    }

    #[test]
    fn html_and_characters() {
        case("<div>\nraw block\n</div>\n\nafter", "after\n");
        case("Inline <span class=\"x\">kept</span> a<br>b", "Inline kept a\nb\n");
        case("&amp; &lt; &gt; &quot; &copy; &#8212;", "& < > \" © —\n");
        case("a&nbsp;b a\u{a0}b", "a b a b\n");
        case("It's \"quoted\" -- £5 --- 'single'", "It’s “quoted” – £5 — ‘single’\n");
    }

    #[test]
    fn other_extensions_render_plainly() {
        let extra = options()
            | Options::ENABLE_MATH
            | Options::ENABLE_DEFINITION_LIST
            | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
            | Options::ENABLE_TASKLISTS;
        let render = |markdown| render_text(Parser::new_ext(markdown, extra));
        assert_eq!(
            render("---\ntitle: Hi\nauthor: Me\n---\n\nBody $x^2$ and $$y$$."),
            "title: Hi\nauthor: Me\n\nBody x^2 and y.\n"
        );
        assert_eq!(render("Term\n: Definition."), "Term\n    Definition.\n");
    }

    /// Strips what may precede a line's content: indentation, quote and
    /// list markers, task boxes, note markers, `[n] ` and heading hashes.
    fn content(line: &str) -> &str {
        let mut rest = line;
        loop {
            let before = rest.len();
            rest = rest.trim_start_matches([' ', '>']);
            for marker in ["- ", "[x] ", "[ ] "] {
                rest = rest.strip_prefix(marker).unwrap_or(rest);
            }
            let hashes = rest.trim_start_matches('#');
            if hashes.len() < rest.len() {
                rest = hashes.strip_prefix(' ').unwrap_or(rest);
            }
            for (open, close) in [("", ". "), ("^", " "), ("[", "] ")] {
                if let Some(tail) = rest.strip_prefix(open) {
                    let digits = tail.trim_start_matches(|c: char| c.is_ascii_digit());
                    if digits.len() < tail.len() {
                        rest = digits.strip_prefix(close).unwrap_or(rest);
                    }
                }
            }
            if rest.len() == before {
                return rest;
            }
        }
    }

    fn markdownish() -> impl Strategy<Value = String> {
        let long_url = "[a-z0-9/-]{60,120}".prop_map(|path| format!("https://example.org/{path}"));
        let token = prop_oneof![
            4 => "[a-z]{1,12}",
            1 => long_url.clone(),
            1 => long_url.prop_map(|url| format!("[link text]({url})")),
            1 => Just("[x](y)".to_owned()),
            1 => Just("[x](https://example.org/x)".to_owned()),
            1 => Just("![alt](y)".to_owned()),
            2 => prop::sample::select(vec!["#", "##", "###", "-", "1.", ">", "|", "*", "**", "_", "~~"])
                .prop_map(str::to_owned),
            2 => prop::sample::select(vec!["\n", "\n\n", "\n- ", "\n> ", "\n| a | b |\n|---|:-:|\n"])
                .prop_map(str::to_owned),
            1 => prop::sample::select(vec!["’", "£", "–", "日本語", "漢字漢字漢字", "[^1]", "\n\n[^1]: ", "<b>", "<br>", "`c`", "---", "[ ]"])
                .prop_map(str::to_owned),
        ];
        prop::collection::vec(token, 0..80).prop_map(|tokens| tokens.join(" "))
    }

    /// Events in any order, balanced or not, as a careless caller might
    /// pass them.
    fn loose_events() -> impl Strategy<Value = Vec<Event<'static>>> {
        let link = |link_type, url: &'static str| Tag::Link {
            link_type,
            dest_url: CowStr::Borrowed(url),
            title: CowStr::Borrowed(""),
            id: CowStr::Borrowed(""),
        };
        let tags = vec![
            Tag::Paragraph,
            Tag::BlockQuote(None),
            Tag::List(Some(u64::MAX)),
            Tag::List(None),
            Tag::Item,
            Tag::FootnoteDefinition(CowStr::Borrowed("n")),
            Tag::Table(vec![Alignment::Center]),
            Tag::TableHead,
            Tag::TableRow,
            Tag::TableCell,
            Tag::CodeBlock(pulldown_cmark::CodeBlockKind::Indented),
            link(LinkType::Inline, "https://example.org/"),
            link(LinkType::Email, "a@example.org"),
            Tag::Image {
                link_type: LinkType::Inline,
                dest_url: CowStr::Borrowed("i.png"),
                title: CowStr::Borrowed(""),
                id: CowStr::Borrowed(""),
            },
        ];
        let event = prop_oneof![
            prop::sample::select(tags.clone()).prop_map(Event::Start),
            prop::sample::select(tags).prop_map(|tag| Event::End(tag.to_end())),
            "[a-z ]{0,90}".prop_map(|text| Event::Text(text.into())),
            Just(Event::FootnoteReference(CowStr::Borrowed("n"))),
            Just(Event::TaskListMarker(true)),
            Just(Event::HardBreak),
            Just(Event::Rule),
        ];
        prop::collection::vec(event, 0..60)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_input_gives_tidy_lines(markdown in "\\PC*") {
            let text = render(&markdown);
            prop_assert!(text.ends_with('\n') && !text.contains("\n\n\n"));
            prop_assert!(text.lines().all(|line| line == line.trim_end()));
        }

        #[test]
        fn unbalanced_events_do_not_panic(events in loose_events()) {
            prop_assert!(render_text(events).ends_with('\n'));
        }

        #[test]
        fn lines_stay_within_limits(markdown in markdownish()) {
            let text = render(&markdown);
            prop_assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
            prop_assert!(!text.starts_with('\n') || text == "\n");
            prop_assert!(!text.contains("\n\n\n"));
            for line in text.lines() {
                prop_assert_eq!(line, line.trim_end());
                let rest = content(line);
                prop_assert!(
                    line.width() <= MAX_COLUMNS || !rest.contains(char::is_whitespace),
                    "line too long: {:?}", line
                );
                if line.width() > WIDTH {
                    prop_assert!(!rest.contains(' '), "prose past the wrap column: {:?}", line);
                }
            }
        }

        #[test]
        fn no_entities_or_nbsp(markdown in markdownish(), nbsp in any::<bool>()) {
            let markdown = if nbsp { markdown.replace(' ', "\u{a0}") } else { markdown };
            let text = render(&markdown);
            prop_assert!(!text.contains('&'), "entity in {:?}", text);
            prop_assert!(!text.contains('\u{a0}'), "nbsp in {:?}", text);
        }
    }
}
