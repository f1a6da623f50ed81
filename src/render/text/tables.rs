//! Tables: aligned in columns when they fit the width, else one record per row.

use std::mem::take;

use pulldown_cmark::Alignment;
use unicode_width::UnicodeWidthStr;

use super::Renderer;
use super::wrap::{collapse_spaces, wrap};

#[derive(Default)]
pub(super) struct Table {
    pub(super) aligns: Vec<Alignment>,
    pub(super) head: Vec<String>,
    pub(super) rows: Vec<Vec<String>>,
    pub(super) row: Vec<String>,
}

impl Renderer<'_> {
    pub(super) fn table_cell(&mut self) {
        let text = take(&mut self.inline);
        match &mut self.table {
            Some(table) => table.row.push(collapse_spaces(&text.replace('\n', " "))),
            None => self.inline = text,
        }
    }

    pub(super) fn table_row(&mut self, head: bool) {
        if let Some(table) = &mut self.table {
            let row = take(&mut table.row);
            if head {
                table.head = row;
            } else {
                table.rows.push(row);
            }
        }
    }

    pub(super) fn table_end(&mut self) {
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

    pub(super) fn aligned_table(&mut self, table: &Table, widths: &[usize]) {
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
    pub(super) fn record_table(&mut self, table: &Table, columns: usize) {
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
