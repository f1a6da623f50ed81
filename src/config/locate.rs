//! Where a value of `letterpress.yaml` is written, for problems found after parsing: in one entry
//! of a top-level list, such as a publication's template override or a list's file, or a setting
//! such as `site:`'s unsubscribe URL.
//!
//! Enters: the configuration text. Leaves: a [`Location`]. Best effort on the block style
//! `letterpress init` writes: when the key cannot be found, the entry's `slug:` line, then the
//! section's line, then `1:1`.

use std::path::Path;

use crate::diagnostic::{Diagnostic, Location};

/// `d` located at `key: value` in the entry with `slug` of the top-level list `section` of the
/// configuration file at `root`, with its source line.
pub fn at_entry(root: &Path, d: Diagnostic, section: &str, slug: &str, key: &str, value: &str) -> Diagnostic {
    // The configuration parsed moments ago; if it cannot be read now, `1:1` is all we can say.
    let text = std::fs::read_to_string(super::path_in(root)).unwrap_or_default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let location = entry_key(Path::new(super::FILE_NAME), text, section, (slug, key, value));
    d.at(location, text)
}

/// `d` located at the first `key: value` line of the configuration file at `root` (a setting
/// outside the top-level lists, such as `site:`'s), with its source line.
pub fn at_key(root: &Path, d: Diagnostic, key: &str, value: &str) -> Diagnostic {
    let text = std::fs::read_to_string(super::path_in(root)).unwrap_or_default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    d.at(super::find(Path::new(super::FILE_NAME), text, key, value), text)
}

/// The location of `key: value` in the entry whose `slug` is `slug` of the top-level list
/// `section`.
pub(super) fn entry_key(path: &Path, text: &str, section: &str, (slug, key, value): (&str, &str, &str)) -> Location {
    let lines: Vec<&str> = text.lines().collect();
    let header = format!("{section}:");
    let Some(start) = lines.iter().position(|l| strip_comment(l).trim_end() == header) else {
        return Location::new(path, 1, 1);
    };
    let end = (start + 1..lines.len())
        .find(|&i| lines[i].starts_with(|c: char| !c.is_whitespace() && c != '#' && c != '-'))
        .unwrap_or(lines.len());
    let is_item = |l: &str| l.trim_start().starts_with("- ");
    let Some(indent) = lines[start + 1..end].iter().find(|l| is_item(l)).map(|l| indent_of(l)) else {
        return Location::new(path, start + 1, 1);
    };
    let starts: Vec<usize> = (start + 1..end).filter(|&i| is_item(lines[i]) && indent_of(lines[i]) == indent).collect();
    let entries = starts.iter().enumerate().map(|(n, &from)| from..starts.get(n + 1).copied().unwrap_or(end));
    let at = |i: usize, k: &str| {
        let col = lines[i].find(k).map_or(0, |b| lines[i][..b].chars().count());
        Location::new(path, i + 1, col + 1)
    };
    for entry in entries {
        let Some(slug_line) = entry.clone().find(|&i| key_value(lines[i]) == Some(("slug", slug))) else {
            continue;
        };
        return entry
            .clone()
            .find(|&i| key_value(lines[i]) == Some((key, value)))
            .map_or_else(|| at(slug_line, "slug"), |i| at(i, key));
    }
    Location::new(path, start + 1, 1)
}

/// `(key, value)` of a `key: value` or `- key: value` line, quotes and comment removed.
fn key_value(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_start().trim_start_matches("- ");
    let (key, value) = strip_comment(line).split_once(':')?;
    let value = value.trim();
    let unquoted =
        ['"', '\''].iter().find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q))).unwrap_or(value);
    Some((key.trim(), unquoted))
}

fn strip_comment(line: &str) -> &str {
    line.split(" #").next().unwrap_or(line)
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "site:\n  title: T\npublications:\n  - slug: weekly\n    templates:\n      page: page.html\n  - slug: extra # second\n    templates:\n      page: \"page.html\"\nlists:\n- slug: weekly\n  path: lists/w.csv\n";

    #[track_caller]
    fn case(section: &str, wanted: (&str, &str, &str), line: usize, col: usize) {
        let location = entry_key(Path::new("letterpress.yaml"), TEXT, section, wanted);
        assert_eq!((location.line, location.col), (line, col), "{section} {wanted:?}");
    }

    #[test]
    fn finds_the_key_in_the_entry_with_the_slug() {
        case("publications", ("weekly", "page", "page.html"), 6, 7);
        case("publications", ("extra", "page", "page.html"), 9, 7);
        case("lists", ("weekly", "path", "lists/w.csv"), 12, 3);
        case("lists", ("weekly", "slug", "weekly"), 11, 3);
    }

    #[test]
    fn falls_back_to_the_entry_then_the_section_then_the_start() {
        case("publications", ("extra", "email-html", "x.html"), 7, 5);
        case("publications", ("other", "page", "page.html"), 3, 1);
        case("state", ("weekly", "path", "x"), 1, 1);
    }
}
