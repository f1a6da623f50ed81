//! YAML parsing for `letterpress.yaml` and front matter, with errors located in the whole file.
//!
//! serde-saphyr does the parsing (with its budgets against hostile input); this module turns its
//! errors into [`Diagnostic`]s in our own voice, with positions shifted from the YAML block to the
//! file it sits in, and "did you mean" hints for unknown keys.

mod quotes;

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::diagnostic::{Diagnostic, Location, did_you_mean};

/// Parse `yaml`, which starts at 1-based line `first_line` of the file `path` whose whole text
/// is `file_text`. `what` names the document in messages ("front matter", "configuration").
pub fn parse<T: DeserializeOwned>(
    path: &Path,
    file_text: &str,
    yaml: &str,
    first_line: usize,
    what: &str,
) -> Result<T, Diagnostic> {
    if let Some(d) = tab_indentation(path, file_text, yaml, first_line, what) {
        return Err(d);
    }
    serde_saphyr::from_str(yaml).map_err(|error| {
        let (line, col) = error
            .location()
            .map_or((1, 1), |l| (usize::try_from(l.line()).unwrap_or(1), usize::try_from(l.column()).unwrap_or(1)));
        let line = line.max(1) + first_line - 1;
        if let Some((why, help)) = budget_breach(&error) {
            return Diagnostic::error("yaml/too-large", format!("{what} is too large to read: {why}"))
                .at(Location::new(path, line, col.max(1)), file_text)
                .help(help);
        }
        let raw = error.without_snippet().to_string();
        let message = strip_position(&raw);
        if message.contains("quote")
            && let Some(mismatch) = quotes::find(yaml, line - first_line)
        {
            return quoting(path, file_text, first_line, &mismatch);
        }
        let source_line = file_text.lines().nth(line - 1).unwrap_or("");
        let (code, message, help) = explain(message, source_line, what);
        let mut diagnostic = Diagnostic::error(code, message).at(Location::new(path, line, col.max(1)), file_text);
        if let Some(help) = help {
            diagnostic = diagnostic.help(help);
        }
        diagnostic
    })
}

/// YAML forbids tabs for indentation; say so plainly at the tab.
fn tab_indentation(path: &Path, file_text: &str, yaml: &str, first_line: usize, what: &str) -> Option<Diagnostic> {
    let (i, line) = yaml.lines().enumerate().find(|(_, l)| l.trim_start_matches(' ').starts_with('\t'))?;
    let col = line.chars().take_while(|c| *c == ' ').count() + 1;
    Some(
        Diagnostic::error("yaml/tab", format!("tab used for indentation in {what}"))
            .at(Location::new(path, i + first_line, col), file_text)
            .help("YAML needs spaces for indentation; replace the tab with spaces"),
    )
}

/// A quoted value whose quotes do not match, located at its opening quote.
fn quoting(path: &Path, file_text: &str, first_line: usize, mismatch: &quotes::Mismatch) -> Diagnostic {
    let why = match mismatch.kind {
        quotes::Kind::Stray => format!("a `{}` inside it ends it early", mismatch.quote),
        quotes::Kind::Unclosed => format!("the opening `{}` is never closed", mismatch.quote),
    };
    let whose = mismatch.key.as_deref().map(|k| format!(" (`{k}`)")).unwrap_or_default();
    Diagnostic::error("yaml/quotes", format!("this value's quotes do not match{whose}: {why}"))
        .at(Location::new(path, mismatch.line + first_line, mismatch.col), file_text)
        .help(mismatch.help())
}

/// What a limit against hostile input (serde-saphyr's budget) stopped, in words, and how to
/// stay within it; `None` for every other error.
fn budget_breach(error: &serde_saphyr::Error) -> Option<(String, &'static str)> {
    use serde_saphyr::Error;
    use serde_saphyr::budget::BudgetBreach;
    const ALIASES: &str = "anchors and aliases (`&name`, `*name`) may not expand it this far; write the values out";
    let mut error = error;
    while let Error::AliasError { error: inner, .. } | Error::WithSnippet { error: inner, .. } = error {
        error = inner;
    }
    let Error::Budget { breach, .. } = error else { return None };
    Some(match breach {
        BudgetBreach::Nodes { nodes } => {
            (format!("it expands to more than {} values", nodes.saturating_sub(1)), ALIASES)
        }
        BudgetBreach::Aliases { aliases } => {
            (format!("it uses more than {} aliases", aliases.saturating_sub(1)), ALIASES)
        }
        BudgetBreach::Anchors { anchors } => {
            (format!("it defines more than {} anchors", anchors.saturating_sub(1)), ALIASES)
        }
        BudgetBreach::AliasAnchorRatio { .. } | BudgetBreach::RecordedAnchorEvents { .. } => {
            ("its aliases expand to too much".to_owned(), ALIASES)
        }
        BudgetBreach::Depth { depth } => {
            (format!("it nests lists and maps deeper than {} levels", depth.saturating_sub(1)), "flatten the nesting")
        }
        _ => ("it is larger than any front matter or configuration needs".to_owned(), "make it shorter"),
    })
}

/// serde-saphyr appends " at line L, column C" (and, for an alias, where it was defined and
/// used); we print the location ourselves.
fn strip_position(message: &str) -> &str {
    let message = message.find(" (defined at line ").map_or(message, |i| &message[..i]);
    match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    }
}

/// serde-saphyr's names for YAML's kinds of value, in an editor's words.
fn in_words(message: &str) -> String {
    message
        .replace("expected string scalar", "expected text")
        .replace("expected mapping start", "expected `key: value` lines")
        .replace("expected sequence start", "expected a list")
}

/// The key written on a `key: value` line, if any.
fn key_of(line: &str) -> Option<&str> {
    let trimmed = line.trim_start().trim_start_matches("- ");
    let (key, _) = trimmed.split_once(':')?;
    let key = key.trim();
    (!key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')).then_some(key)
}

fn explain(message: &str, source_line: &str, what: &str) -> (&'static str, String, Option<String>) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates: Vec<&str> = expected
            .trim_start_matches(", expected one of ")
            .trim_start_matches(", expected ")
            .split(", ")
            .map(|s| s.trim_matches('`'))
            .filter(|s| !s.is_empty())
            .collect();
        let help = match did_you_mean(name, candidates.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!(
                "known keys here: {}",
                candidates.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
            ),
        };
        return ("yaml/unknown-key", format!("unknown {what} key `{name}`"), Some(help));
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        return ("yaml/missing-key", format!("missing required {what} key `{name}`"), Some(format!("add `{name}: …`")));
    }
    if message.contains("found a tab") || message.contains("tab") && message.contains("indent") {
        return (
            "yaml/tab",
            format!("tab character in {what}"),
            Some("YAML does not allow tabs for indentation; use spaces".to_owned()),
        );
    }
    if message.starts_with("duplicate mapping key") {
        let key = message.trim_start_matches("duplicate mapping key: ").split(',').next().unwrap_or("");
        return (
            "yaml/duplicate-key",
            format!("key `{key}` appears twice in {what}"),
            Some("remove one of them".to_owned()),
        );
    }
    // "invalid trailing content after double-quoted scalar" is about syntax, not a type.
    let type_error =
        (message.starts_with("expected ") || message.starts_with("invalid ")) && !message.contains("quoted");
    let message = &in_words(message);
    match (type_error, key_of(source_line)) {
        (true, None) if message == "expected `key: value` lines" => (
            "yaml/wrong-type",
            format!("expected `key: value` lines in {what}"),
            Some("write one setting per line, as `key: value`, e.g. `title: \"…\"`".to_owned()),
        ),
        (true, Some(key)) => (
            "yaml/wrong-type",
            format!("wrong type for `{key}` in {what}: {message}"),
            Some(format!("see the reference for what `{key}` takes")),
        ),
        _ => (
            "yaml/syntax",
            format!("invalid YAML in {what}: {message}"),
            Some("check the indentation and quoting here; quote text that contains `: `".to_owned()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "fields exist to be parsed")]
    struct Probe {
        title: Option<String>,
        send_at: Option<String>,
    }

    #[track_caller]
    fn case(yaml: &str, code: &str, line: usize, col: usize, message: &str) {
        let file = format!("---\n{yaml}---\n");
        let d = parse::<Probe>(Path::new("a.md"), &file, yaml, 2, "front matter").unwrap_err();
        assert_eq!(d.code, code, "{d}");
        assert_eq!(d.message, message);
        let location = d.location.unwrap();
        assert_eq!((location.line, location.col), (line, col));
    }

    #[test]
    fn errors_are_located_in_the_whole_file() {
        case("title: x\nsendat: 1\n", "yaml/unknown-key", 3, 1, "unknown front matter key `sendat`");
        case("title: [a, b]\n", "yaml/wrong-type", 2, 8, "wrong type for `title` in front matter: expected text");
        case("title: x\ntitle: y\n", "yaml/duplicate-key", 3, 1, "key `title` appears twice in front matter");
    }

    #[test]
    fn mismatched_quotes_are_blamed_on_the_value_not_the_next_key() {
        case(
            "title: \"The \"big\" plan\"\nsend_at: x\n",
            "yaml/quotes",
            2,
            8,
            "this value's quotes do not match (`title`): a `\"` inside it ends it early",
        );
        case(
            "title: \"The big plan\nsend_at: x\n",
            "yaml/quotes",
            2,
            8,
            "this value's quotes do not match (`title`): the opening `\"` is never closed",
        );
        case(
            "send_at: x\ntitle: 'It's here'\n",
            "yaml/quotes",
            3,
            8,
            "this value's quotes do not match (`title`): a `'` inside it ends it early",
        );
    }

    #[test]
    fn other_quoting_errors_are_syntax_errors_not_wrong_types() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code, reason = "fields exist to be parsed")]
        struct Tags {
            tags: Vec<String>,
        }
        let yaml = "tags: [\"a\" b]\n";
        let d = parse::<Tags>(Path::new("a.md"), yaml, yaml, 1, "front matter").unwrap_err();
        assert_eq!(d.code, "yaml/syntax", "{d}");
        assert_eq!(d.message, "invalid YAML in front matter: invalid trailing content after double-quoted scalar");
    }

    #[test]
    fn mismatched_quotes_are_found_in_nested_configuration_too() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code, reason = "fields exist to be parsed")]
        struct Site {
            site: std::collections::BTreeMap<String, String>,
        }
        let yaml = "site:\n  title: \"Health \"news\"\"\n  base-url: https://example.org\n";
        let d = parse::<Site>(Path::new("letterpress.yaml"), yaml, yaml, 1, "configuration").unwrap_err();
        assert_eq!(d.code, "yaml/quotes", "{d}");
        assert_eq!(d.location.map(|l| (l.line, l.col)), Some((2, 10)));
        assert_eq!(
            d.help.as_deref(),
            Some(
                "use single quotes around text that contains double quotes, `title: 'Health \"news\"'`, or curly quotes (“ ”) inside it"
            )
        );
    }

    /// A "billion laughs" (aliases of aliases) stops at the parser's budget, in our words.
    #[test]
    fn aliases_that_expand_too_far_are_refused_in_our_words() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code, reason = "fields exist to be parsed")]
        struct Tags {
            tags: serde_json::Value,
        }
        let names = ["a", "b", "c", "d", "e", "f", "g"];
        let levels: Vec<String> = std::iter::once("a: &a [x, x, x, x, x, x, x, x, x]".to_owned())
            .chain(
                names.windows(2).map(|w| format!("{}: &{} [{}]", w[1], w[1], vec![format!("*{}", w[0]); 9].join(", "))),
            )
            .collect();
        let yaml = format!("tags: {{{}}}\n", levels.join(", "));
        let d = parse::<Tags>(Path::new("a.md"), &yaml, &yaml, 1, "front matter").unwrap_err();
        assert_eq!(d.code, "yaml/too-large", "{d}");
        assert!(d.message.starts_with("front matter is too large to read: it expands to more than"), "{d}");
        assert!(!d.message.contains("line"), "{d}");
    }

    /// A type error through an alias is told at the alias, in a message that keeps none of
    /// serde-saphyr's "(defined at line …)" (we print the location ourselves).
    #[test]
    fn a_wrong_type_through_an_alias_is_told_where_it_is_used() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code, reason = "fields exist to be parsed")]
        struct Aliased {
            tags: Vec<String>,
            title: String,
        }
        let yaml = "tags: &t [a]\ntitle: *t\n";
        let d = parse::<Aliased>(Path::new("a.md"), yaml, yaml, 1, "front matter").unwrap_err();
        assert_eq!(d.message, "wrong type for `title` in front matter: expected text", "{d}");
        assert_eq!(d.location.map(|l| (l.line, l.col)), Some((2, 8)));
    }

    /// Front matter that is a list or a bare line, or a key that needs a list or a mapping,
    /// is told in an editor's words, not serde-saphyr's ("mapping start", "string scalar").
    #[test]
    fn wrong_kinds_of_value_are_told_in_words() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code, reason = "fields exist to be parsed")]
        struct Front {
            title: Option<String>,
            tags: Option<Vec<String>>,
        }
        for (yaml, code, message) in [
            ("- a\n- b\n", "yaml/wrong-type", "expected `key: value` lines in front matter"),
            ("just text\n", "yaml/wrong-type", "expected `key: value` lines in front matter"),
            ("tags: stp\n", "yaml/wrong-type", "wrong type for `tags` in front matter: expected a list"),
            ("title: [a]\n", "yaml/wrong-type", "wrong type for `title` in front matter: expected text"),
        ] {
            let d = parse::<Front>(Path::new("a.md"), yaml, yaml, 1, "front matter").unwrap_err();
            assert_eq!((d.code, d.message.as_str()), (code, message), "{yaml}");
        }
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let file = "---\nsendat: 1\n---\n";
        let d = parse::<Probe>(Path::new("a.md"), file, "sendat: 1\n", 2, "front matter").unwrap_err();
        assert_eq!(d.help.as_deref(), Some("did you mean `send_at`?"));
    }
}
