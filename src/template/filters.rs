//! The filters letterpress adds to Tera: `wrap`, `underline` and `page_title`.

use tera::{Kwargs, State, TeraResult};

/// `{{ text | wrap(width=72, indent="  ") }}`: hard-wrap text for the plain-text email.
#[allow(clippy::needless_pass_by_value, reason = "tera's filter signature")]
pub(super) fn wrap(value: &str, kwargs: Kwargs, _: &State) -> TeraResult<String> {
    let width = kwargs.get::<usize>("width")?.unwrap_or(crate::render::text::WIDTH);
    let indent = kwargs.get::<&str>("indent")?.unwrap_or("");
    let options = textwrap::Options::new(width.max(1))
        .subsequent_indent(indent)
        .break_words(false)
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    Ok(textwrap::fill(value, options))
}

/// `{{ title | underline(char="=") }}`: the text, then a rule as wide as it.
#[allow(clippy::needless_pass_by_value, reason = "tera's filter signature")]
pub(super) fn underline(value: &str, kwargs: Kwargs, _: &State) -> TeraResult<String> {
    let rule = kwargs.get::<&str>("char")?.and_then(|s| s.chars().next()).unwrap_or('=');
    let width = value.lines().map(unicode_width::UnicodeWidthStr::width).max().unwrap_or(0);
    Ok(format!("{value}\n{}", rule.to_string().repeat(width)))
}

/// Longest `<title>` the archive pages make: search results and tabs cut longer ones.
pub const TITLE_LIMIT: usize = 70;

/// `{{ issue.title | page_title(suffix=publication.name) }}`: `title – suffix` when that fits in
/// [`TITLE_LIMIT`] characters, else the title alone, shortened at a word with `…` if it must be.
#[allow(clippy::needless_pass_by_value, reason = "tera's filter signature")]
pub(super) fn page_title(value: &str, kwargs: Kwargs, _: &State) -> TeraResult<String> {
    let suffix = kwargs.get::<&str>("suffix")?.unwrap_or("");
    Ok(shorten_title(value, suffix))
}

/// See [`page_title`].
pub fn shorten_title(title: &str, suffix: &str) -> String {
    let title = title.trim();
    let full = if suffix.is_empty() { title.to_owned() } else { format!("{title} – {suffix}") };
    if full.chars().count() <= TITLE_LIMIT {
        return full;
    }
    if title.chars().count() <= TITLE_LIMIT {
        return title.to_owned();
    }
    let mut cut = String::new();
    for word in title.split_whitespace() {
        if cut.chars().count() + word.chars().count() + 2 > TITLE_LIMIT {
            break;
        }
        if !cut.is_empty() {
            cut.push(' ');
        }
        cut.push_str(word);
    }
    if cut.is_empty() {
        cut = title.chars().take(TITLE_LIMIT - 1).collect();
    }
    let cut = cut.trim_end_matches([',', ';', ':', '–', '-', ' ']);
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_titles_are_shortened_to_the_limit_at_a_word() {
        assert_eq!(shorten_title("Short", "The Commissioner"), "Short – The Commissioner");
        let long = "STPs at ten: what the people who wrote them would do again, and not";
        assert_eq!(shorten_title(long, "The Commissioner"), long, "the suffix goes first");
        let longer = "The STPs are out: what all forty-four local plans mean for commissioners and providers";
        let short = shorten_title(longer, "The Commissioner");
        assert!(short.chars().count() <= TITLE_LIMIT, "{short}");
        assert_eq!(short, "The STPs are out: what all forty-four local plans mean for…");
        assert!(shorten_title(&"x".repeat(100), "").chars().count() <= TITLE_LIMIT);
    }
}
