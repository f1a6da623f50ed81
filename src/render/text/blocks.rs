//! Blocks of the plain-text body: lists and their items, headings, rules and code.

use std::mem::take;

use pulldown_cmark::HeadingLevel;
use unicode_width::UnicodeWidthStr;

use super::wrap::wrap;
use super::{Container, Kind, List, RULE, Renderer};

impl Renderer<'_> {
    pub(super) fn in_item(&self) -> bool {
        self.containers.last().is_some_and(|c| c.kind == Kind::Item)
    }

    /// Pulldown wraps item text in paragraphs only in loose lists.
    pub(super) fn mark_loose(&mut self) {
        if self.in_item()
            && let Some(list) = self.lists.last_mut()
        {
            list.loose = true;
        }
    }

    pub(super) fn start_list(&mut self, start: Option<u64>) {
        self.flush_inline();
        // A list nested in a tight item hangs right under the item's text.
        if self.in_item() && self.lists.last().is_some_and(|l| !l.loose) {
            self.need_blank = false;
        }
        self.lists.push(List { next: start, loose: false, items: 0 });
    }

    pub(super) fn start_item(&mut self) {
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
    pub(super) fn task_marker(&mut self, checked: bool) {
        let mark = if checked { "[x] " } else { "[ ] " };
        match self.containers.last_mut() {
            Some(item) if item.kind == Kind::Item && !item.used => {
                item.first.push_str(mark);
                item.rest = " ".repeat(item.first.width());
            }
            _ => self.inline.push_str(mark),
        }
    }

    pub(super) fn heading(&mut self, level: HeadingLevel) {
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

    pub(super) fn rule(&mut self) {
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
    pub(super) fn code_block(&mut self) {
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
}
