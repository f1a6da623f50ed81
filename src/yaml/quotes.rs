//! Quoted scalars whose quotes do not match: `title: "The "big" plan"` or an unclosed `"`.
//!
//! The YAML parser notices these late (at the stray text, or at the next key when a quote is
//! never closed) and in its own terms. When it fails on a quoted scalar, this scan of the text
//! finds the value that caused it, so the error points at the opening quote.

/// What is wrong with a quoted value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A quote of the same kind inside the value closed it early; more text follows.
    Stray,
    /// The opening quote is never closed.
    Unclosed,
}

/// A quoted value whose quotes do not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// 0-based line in the YAML text.
    pub line: usize,
    /// 1-based column of the opening quote, in characters.
    pub col: usize,
    /// The key the value belongs to, when it has one.
    pub key: Option<String>,
    /// `"` or `'`.
    pub quote: char,
    /// What went wrong.
    pub kind: Kind,
    /// For [`Kind::Stray`]: the text between the opening quote and the last quote of that
    /// kind on the line, i.e. what the author meant the value to be.
    pub meant: String,
}

impl Mismatch {
    /// How to fix it: the value rewritten with other quotes where that is enough.
    pub fn help(&self) -> String {
        let key = self.key.as_deref().map(|k| format!("{k}: ")).unwrap_or_default();
        match (self.kind, self.quote) {
            (Kind::Unclosed, q) => format!(
                "end the value with a matching `{q}` on the same line; for quotes inside it, use single quotes around the value or curly quotes (“ ” ‘ ’) inside"
            ),
            (Kind::Stray, '"') if !self.meant.contains('\'') => format!(
                "use single quotes around text that contains double quotes, `{key}'{}'`, or curly quotes (“ ”) inside it",
                self.meant
            ),
            (Kind::Stray, '\'') if !self.meant.contains(['"', '\\']) => format!(
                "use double quotes around text that contains an apostrophe, `{key}\"{}\"`, or a curly apostrophe (’), or write it twice (`''`)",
                self.meant
            ),
            (Kind::Stray, _) => {
                "use curly quotes (“ ” ‘ ’) inside the value, or single quotes around it with each `'` inside written twice (`''`)"
                    .to_owned()
            }
        }
    }
}

/// The first quoted value of `yaml`, up to 0-based line `until`, whose quotes do not match.
pub fn find(yaml: &str, until: usize) -> Option<Mismatch> {
    let mut open: Option<Mismatch> = None;
    for (i, line) in yaml.lines().enumerate().take(until.saturating_add(1)) {
        if let Some(pending) = open.as_ref() {
            // Inside a quoted value that spans lines: only its closing quote matters here.
            if let Some(end) = closing(line, pending.quote) {
                if !is_end(&line[end..]) {
                    return open.map(|m| Mismatch { kind: Kind::Stray, ..m });
                }
                open = None;
            }
            continue;
        }
        let (start, key) = value_start(line);
        let Some(quote) = line[start..].chars().next().filter(|c| matches!(c, '"' | '\'')) else { continue };
        let col = line[..start].chars().count() + 1;
        let body = &line[start + 1..];
        let found = Mismatch {
            line: i,
            col,
            key: key.map(str::to_owned),
            quote,
            kind: Kind::Unclosed,
            meant: body.rfind(quote).map_or(body, |last| &body[..last]).to_owned(),
        };
        match closing(body, quote) {
            Some(end) if is_end(&body[end..]) => {}
            Some(_) => return Some(Mismatch { kind: Kind::Stray, ..found }),
            None => open = Some(found),
        }
    }
    open
}

/// Where the value of a block `key: value` or `- value` line starts (a byte offset), and the key.
fn value_start(line: &str) -> (usize, Option<&str>) {
    let mut rest = line.trim_start_matches(' ');
    while let Some(item) = rest.strip_prefix("- ") {
        rest = item.trim_start_matches(' ');
    }
    let key = rest
        .split_once(": ")
        .map(|(key, _)| key)
        .filter(|k| !k.is_empty() && !k.starts_with(['"', '\'', '#']) && !k.contains(['"', '\'']));
    if let Some(key) = key {
        rest = rest[key.len() + 1..].trim_start_matches(' ');
    }
    (line.len() - rest.len(), key)
}

/// The byte offset just after the quote that closes a value opened by `quote`, in `text`
/// (which starts after the opening quote, or is a continuation line).
fn closing(text: &str, quote: char) -> Option<usize> {
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            ('"', '\\') => {
                chars.next();
            }
            ('\'', '\'') if chars.peek().is_some_and(|(_, next)| *next == '\'') => {
                chars.next();
            }
            (q, c) if q == c => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// Whether what follows a closing quote may end a value: nothing, a comment, or `:` after a
/// quoted key.
fn is_end(rest: &str) -> bool {
    let rest = rest.trim_start_matches([' ', '\t', '\r']);
    rest.is_empty() || rest.starts_with('#') || rest.starts_with(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(yaml: &str, expected: Option<(usize, usize, Kind)>) {
        let found = find(yaml, usize::MAX).map(|m| (m.line, m.col, m.kind));
        assert_eq!(found, expected, "{yaml:?}");
    }

    #[test]
    fn finds_stray_and_unclosed_quotes() {
        case("title: \"The \"big\" plan\"\n", Some((0, 8, Kind::Stray)));
        case("title: 'It's here'\n", Some((0, 8, Kind::Stray)));
        case("title: x\nsummary: \"Never closed\nstatus: ready\n", Some((1, 10, Kind::Unclosed)));
        case("related:\n  - title: \"A \"b\" c\"\n    url: x\n", Some((1, 12, Kind::Stray)));
        case("- \"a\" b\n", Some((0, 3, Kind::Stray)));
    }

    #[test]
    fn leaves_good_quoting_alone() {
        case("title: \"The \\\"big\\\" plan\"\n", None);
        case("title: 'It''s here'\n", None);
        case("title: \"a\" # note\n", None);
        case("title: 'The \"big\" plan'\n", None);
        case("summary: \"one\n  two\"\nstatus: ready\n", None);
        case("\"quoted key\": value\n", None);
        case("tags: [\"a\", 'b']\n", None);
        case("title: \"a\"\r\nsummary: 'b'\r\n", None);
        case("title: It's \"fine\"\n", None);
    }

    #[test]
    fn suggests_the_other_quotes() {
        let m = find("title: \"The \"big\" plan\"\n", 0).unwrap();
        assert_eq!(m.meant, "The \"big\" plan");
        assert!(m.help().contains("`title: 'The \"big\" plan'`"), "{}", m.help());
        let m = find("title: 'It's here'\n", 0).unwrap();
        assert!(m.help().contains("`title: \"It's here\"`"), "{}", m.help());
    }
}
