//! The HTML fragment of an issue: pulldown-cmark's HTML, sanitised with ammonia.
//!
//! Sanitising happens here, on the fragment only and before templating and CSS inlining, so raw
//! HTML an author wrote (`<script>`, `onerror=`, `javascript:` links) never reaches a subscriber,
//! while the template's own markup and inlined styles are untouched.

use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::Event;

static SANITISER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .add_generic_attributes(["id", "class"])
        .add_tag_attributes("img", ["width", "height"])
        .add_tag_attributes("th", ["style"])
        .add_tag_attributes("td", ["style"])
        .filter_style_properties(HashSet::from(["text-align"]))
        .url_schemes(HashSet::from(["https", "http", "mailto", "tel"]))
        .link_rel(None);
    builder
});

/// Render events to sanitised HTML.
pub fn render_html<'a>(events: impl Iterator<Item = Event<'a>>) -> String {
    let mut raw = String::new();
    pulldown_cmark::html::push_html(&mut raw, events);
    SANITISER.clean(&raw).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(markdown: &str) -> String {
        render_html(pulldown_cmark::Parser::new_ext(markdown, super::super::options()))
    }

    #[test]
    fn strips_scripts_handlers_and_javascript_urls() {
        let out = html(
            "<script>alert(1)</script>\n\n<img src=\"https://x.example/a.png\" onerror=\"x()\" alt=\"a\">\n\n[x](javascript:alert(1))",
        );
        assert!(!out.contains("script"), "{out}");
        assert!(!out.contains("onerror"), "{out}");
        assert!(!out.contains("javascript:"), "{out}");
        assert!(out.contains(r#"<img src="https://x.example/a.png" alt="a">"#), "{out}");
    }

    #[test]
    fn keeps_tables_alignment_and_footnote_ids() {
        let out = html("| a | b |\n|:--|--:|\n| 1 | 2 |\n\nNote[^n].\n\n[^n]: Here.\n");
        assert!(out.contains(r#"<td style="text-align:right">2</td>"#), "{out}");
        assert!(out.contains(r##"href="#n""##), "{out}");
        assert!(out.contains(r#"id="n""#), "{out}");
    }
}
