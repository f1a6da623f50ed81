//! Line breaking: wrapping prose at a width and joining the finished lines.

/// `textwrap::core::display_width`, at once for printable ASCII (a column a byte).
fn display_width(text: &str) -> usize {
    if text.bytes().all(|b| (b' '..=b'~').contains(&b)) { text.len() } else { textwrap::core::display_width(text) }
}

/// Wraps text at `width` display columns without ever splitting a word or
/// URL; `\n` in `text` is a hard break. Indents count towards the width.
///
/// Runs of spaces collapse to one ([`collapse_spaces`]); the lines are then exactly those of
/// `textwrap::wrap` with ASCII-space word separation, no hyphenation, no broken words, first
/// fit and these indents (a test holds the two together), without its per-line allocations:
/// this runs for every paragraph of every issue.
pub(super) fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut words: Vec<(&str, usize)> = Vec::new();
    for segment in text.split('\n') {
        words.clear();
        words.extend(segment.split(' ').filter(|w| !w.is_empty()).map(|w| (w, display_width(w))));
        let Some(last) = words.len().checked_sub(1) else { continue };
        let indent = if lines.is_empty() { first } else { rest };
        let bytes = words.iter().map(|(w, _)| w.len()).sum::<usize>() + last;
        if bytes < width && indent.is_empty() {
            lines.push(joined("", &words));
            continue;
        }
        let widths = [width.saturating_sub(display_width(indent)), width.saturating_sub(display_width(rest))];
        let (mut start, mut used, mut made) = (0, 0, 0);
        for (i, (_, w)) in words.iter().enumerate() {
            if used + w > widths[made.min(1)] && i > start {
                lines.push(joined(if made == 0 { indent } else { rest }, &words[start..i]));
                made += 1;
                start = i;
                used = 0;
            }
            used += w + usize::from(i < last);
        }
        lines.push(joined(if made == 0 { indent } else { rest }, &words[start..]));
    }
    lines
}

/// `indent` then `words` joined by single spaces.
fn joined(indent: &str, words: &[(&str, usize)]) -> String {
    let mut line = String::with_capacity(indent.len() + words.iter().map(|(w, _)| w.len() + 1).sum::<usize>());
    line.push_str(indent);
    for (i, (word, _)) in words.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(word);
    }
    line
}

/// Collapses runs of spaces, as a browser would, and trims the ends.
pub(super) fn collapse_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split(' ').filter(|word| !word.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Joins lines, trimming trailing spaces, dropping leading blank lines and
/// collapsing runs of blank lines, and ends with exactly one newline.
pub(super) fn join_lines(lines: &[String]) -> String {
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
    use std::borrow::Cow;

    use proptest::prelude::*;
    use textwrap::{WordSeparator, WordSplitter, WrapAlgorithm};

    use super::*;

    /// [`wrap`] as it was written on `textwrap::wrap`: the reference it must agree with.
    fn wrap_with_textwrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
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

    #[test]
    fn wraps_as_textwrap_does() {
        let text = "A  paragraph with   https://example.org/a/very/long/url/that/cannot/break and 漢字 wide \
                    characters,\n\n   a hard break, café and \u{1b}[1mescapes\u{1b}[0m too.  ";
        for width in [0, 1, 5, 10, 20, 40, 72] {
            for (first, rest) in [("", ""), ("* ", "  "), ("10. ", "    "), ("", "  "), ("> ", "> ")] {
                assert_eq!(
                    wrap(text, width, first, rest),
                    wrap_with_textwrap(text, width, first, rest),
                    "{width} {first:?}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn agrees_with_textwrap(
            text in "([a-zé漢 ]{0,9}|  |\n|https://x\\.org/[a-z/]{0,30}){0,12}",
            width in 0usize..30,
            first in "[*> 0-9.]{0,4}",
            rest in " {0,4}",
        ) {
            prop_assert_eq!(wrap(&text, width, &first, &rest), wrap_with_textwrap(&text, width, &first, &rest));
        }
    }
}
