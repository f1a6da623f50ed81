//! Regional blocks: parts of an issue's body shown only to the subscribers a filter matches.
//!
//! ```markdown
//! ::: only region="London"
//! The London plan is out.
//! :::
//! ```
//!
//! This is a pre-pass over the Markdown, before it is rendered: it finds the blocks (skipping
//! fenced code), compiles each filter ([`super::attrs`]), and writes the body an **edition**
//! sees: the text outside blocks plus the blocks of its [`BlockSet`] ([`Blocks::select`]), the
//! full body with every block labelled for the archive ([`Blocks::labelled`]), or the full body
//! with only the fence lines blanked, so positions stay those of the file ([`Blocks::blanked`]).
//!
//! Enters: an issue's body, where it starts in its file and the file's text (for diagnostics).
//! Leaves: [`Blocks`], or located diagnostics: an unknown block kind, a nested or unclosed
//! block, a stray `:::`, a bad filter.

use std::path::Path;

use super::{Fields, Filter, attrs};
use crate::diagnostic::{Diagnostic, Located, Location, did_you_mean};

/// A set of blocks, bit `i` for block `i`: what an edition shows.
pub type BlockSet = u64;

/// The most blocks one issue may have (a [`BlockSet`] has one bit per block).
pub const MAX_BLOCKS: usize = 64;

/// One `::: only …` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Who sees it.
    pub filter: Filter,
    /// The archive's label, e.g. "Only for readers in London".
    pub label: String,
    /// The filter as written after `only`.
    pub source: String,
    /// The fields the filter names, each where it was written (checked against the lists).
    pub fields: Vec<Located<String>>,
    /// Where the opening line is.
    pub location: Location,
    /// The opening fence's line in the body (0-based).
    open: usize,
    /// The closing fence's line in the body (0-based).
    close: usize,
}

/// The blocks of one body, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Blocks {
    /// Each block.
    pub blocks: Vec<Block>,
}

impl Blocks {
    /// Whether the body has no blocks (one edition, the body as written).
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The set with every block: the full issue.
    pub fn all(&self) -> BlockSet {
        match self.blocks.len() {
            MAX_BLOCKS.. => BlockSet::MAX,
            n => (1 << n) - 1,
        }
    }

    /// The blocks `subscriber` sees.
    pub fn set_of(&self, subscriber: &impl Fields) -> BlockSet {
        self.blocks
            .iter()
            .enumerate()
            .filter(|(_, b)| b.filter.matches(subscriber))
            .fold(0, |set, (i, _)| set | (1 << i))
    }

    /// The body an edition shows: the text outside blocks, and the blocks of `set` without
    /// their fence lines.
    pub fn select(&self, body: &str, set: BlockSet) -> String {
        self.rewrite(body, |i, block, line, out| {
            if set & (1 << i) != 0 && line != block.open && line != block.close { Some(out) } else { None }
        })
    }

    /// The full body with the fence lines blank: every line where the file has it.
    pub fn blanked(&self, body: &str) -> String {
        self.rewrite(
            body,
            |_, block, line, out| {
                if line == block.open || line == block.close { Some("") } else { Some(out) }
            },
        )
    }

    /// The full body with each block in a `<div class="only">` under its label.
    pub fn labelled(&self, body: &str) -> String {
        let mut out = String::with_capacity(body.len() + 128 * self.blocks.len());
        let mut blocks = self.blocks.iter().peekable();
        for (n, line) in body.split_inclusive('\n').enumerate() {
            match blocks.peek() {
                Some(block) if n == block.open => {
                    out.push_str("\n<div class=\"only\">\n<p class=\"only-label\"><strong>");
                    out.push_str(&escape(&block.label));
                    out.push_str("</strong></p>\n\n");
                }
                Some(block) if n == block.close => {
                    out.push_str("\n</div>\n\n");
                    blocks.next();
                }
                _ => out.push_str(line),
            }
        }
        out
    }

    /// `body` with each line of a block passed through `keep(index, block, line number, line)`.
    fn rewrite<'a>(&self, body: &'a str, keep: impl Fn(usize, &Block, usize, &'a str) -> Option<&'a str>) -> String {
        let mut out = String::with_capacity(body.len());
        let mut blocks = self.blocks.iter().enumerate().peekable();
        for (n, line) in body.split_inclusive('\n').enumerate() {
            while blocks.peek().is_some_and(|(_, b)| n > b.close) {
                blocks.next();
            }
            match blocks.peek() {
                Some((i, block)) if n >= block.open => match keep(*i, block, n, line) {
                    Some("") => out.push('\n'),
                    Some(line) => out.push_str(line),
                    None => {}
                },
                _ => out.push_str(line),
            }
        }
        out
    }
}

/// Escape text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Find the blocks of `body`, which starts on line `first_line` of `path` (whole text `text`).
pub fn parse(body: &str, path: &Path, text: &str, first_line: usize) -> (Blocks, Vec<Diagnostic>) {
    let mut blocks = Vec::new();
    let mut problems = Vec::new();
    let mut open: Option<(usize, Block)> = None;
    let mut code_fence: Option<(char, usize)> = None;
    // Blocks refused as nested: their `:::` closes them, not the block around them.
    let mut nested = 0usize;
    let at = |line: usize, col: usize| Location::new(path, first_line + line, col + 1);
    for (n, line) in body.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let trimmed = line.trim();
        if indent <= 3
            && let Some(fence) = code_fence_of(trimmed)
        {
            match code_fence {
                None => code_fence = Some(fence),
                Some((c, len)) if fence.0 == c && fence.1 >= len && trimmed.chars().all(|x| x == c) => {
                    code_fence = None;
                }
                Some(_) => {}
            }
            continue;
        }
        if code_fence.is_some() || indent > 3 || !trimmed.starts_with(":::") {
            continue;
        }
        let rest = trimmed.trim_start_matches(':');
        if rest.trim().is_empty() {
            if nested > 0 {
                nested -= 1;
                continue;
            }
            match open.take() {
                Some((_, mut block)) => {
                    block.close = n;
                    blocks.push(block);
                }
                None => problems.push(
                    Diagnostic::error("block/stray-close", "`:::` closes no block")
                        .at(at(n, indent), text)
                        .help("remove it, or open the block above with `::: only region=\"London\"`"),
                ),
            }
            continue;
        }
        // Column (in characters) where the text after the colons starts.
        let rest_col = line.chars().count() - line.trim_start_matches(' ').trim_start_matches(':').chars().count();
        let word_start = rest.len() - rest.trim_start().len();
        let word: String = rest.trim_start().chars().take_while(|c| !c.is_whitespace()).collect();
        let word_col = rest_col + rest[..word_start].chars().count();
        if let Some((opened, _)) = &open {
            nested += 1;
            problems.push(
                Diagnostic::error("block/nested", "a block cannot be inside another block")
                    .at(at(n, indent), text)
                    .help(format!(
                        "close the block opened on line {} with `:::` first; a reader sees a block when its one filter matches",
                        first_line + opened
                    )),
            );
            continue;
        }
        if word != "only" {
            let help = match did_you_mean(&word, ["only"]) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "a block is `::: only region=\"London\"`, its Markdown, then `:::`".to_owned(),
            };
            problems.push(
                Diagnostic::error("block/kind", format!("unknown block `{word}`")).at(at(n, word_col), text).help(help),
            );
            // Still a block: its `:::` must not read as a stray close.
            open = Some((n, refused(at(n, indent), n)));
            continue;
        }
        let after = &rest.trim_start()[word.len()..];
        let source_col = word_col + word.chars().count();
        match attrs::parse(after) {
            Ok(terms) => {
                let fields = terms
                    .iter()
                    .map(|t| Located { value: t.field.clone(), line: first_line + n, col: source_col + t.col + 1 })
                    .collect();
                let block = Block {
                    filter: attrs::filter(&terms),
                    label: attrs::describe(&terms),
                    source: after.trim().to_owned(),
                    fields,
                    location: at(n, indent),
                    open: n,
                    close: n,
                };
                open = Some((n, block));
            }
            Err(problem) => {
                problems.push(problem.diagnostic.at(at(n, source_col + problem.col), text));
                open = Some((n, refused(at(n, indent), n)));
            }
        }
    }
    if let Some((n, block)) = open {
        problems.push(
            Diagnostic::error("block/unclosed", "this block is never closed")
                .at(block.location.clone(), text)
                .help(format!("end it with a line `:::` (it opens on line {})", first_line + n)),
        );
    }
    if blocks.len() > MAX_BLOCKS
        && let Some(block) = blocks.get(MAX_BLOCKS)
    {
        problems.push(
            Diagnostic::error("block/too-many", format!("an issue can have at most {MAX_BLOCKS} blocks"))
                .at(block.location.clone(), text)
                .help("merge blocks for the same readers, or split the issue"),
        );
    }
    (Blocks { blocks }, problems)
}

/// A block whose opening line was refused: it matches nobody, and its `:::` still closes it.
fn refused(location: Location, line: usize) -> Block {
    Block {
        filter: Filter::Any(Vec::new()),
        label: String::new(),
        source: String::new(),
        fields: Vec::new(),
        location,
        open: line,
        close: line,
    }
}

/// The fence character and length of a line that opens or closes fenced code.
fn code_fence_of(trimmed: &str) -> Option<(char, usize)> {
    let c = trimmed.chars().next().filter(|c| matches!(c, '`' | '~'))?;
    let len = trimmed.chars().take_while(|x| *x == c).count();
    (len >= 3).then_some((c, len))
}

#[cfg(test)]
#[path = "blocks_tests.rs"]
mod tests;
