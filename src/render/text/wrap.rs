//! Line breaking: wrapping prose at a width and joining the finished lines.

use std::borrow::Cow;

use textwrap::{WordSeparator, WordSplitter, WrapAlgorithm};

/// Wraps text at `width` display columns without ever splitting a word or
/// URL; `\n` in `text` is a hard break. Indents count towards the width.
pub(super) fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
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
pub(super) fn collapse_spaces(text: &str) -> String {
    text.split(' ').filter(|word| !word.is_empty()).collect::<Vec<_>>().join(" ")
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
