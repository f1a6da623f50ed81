//! The HTML fragment of an issue: pulldown-cmark's HTML, sanitised with ammonia.
//!
//! Sanitising happens here, on the fragment only and before templating and CSS inlining, so raw
//! HTML an author wrote (`<script>`, `onerror=`, `javascript:` links) never reaches a subscriber,
//! while the template's own markup and inlined styles are untouched. URLs in `href`, `src` and
//! `cite` pass [`crate::href::judge`] or are removed.

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
        .url_schemes(HashSet::from(["https", "http", "mailto"]))
        // The link rule again, on what the HTML finally says: no refused URL survives, even one
        // written as raw HTML or one that rewriting let through.
        .attribute_filter(|_, attribute, value| match attribute {
            "href" | "src" | "cite" if !crate::href::is_allowed(value) => None,
            _ => Some(value.into()),
        })
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
    fn removes_every_url_the_link_rule_refuses() {
        let out = html(concat!(
            "<a href=\"&#106;avascript:alert(1)\">a</a> <a href=\"java&Tab;script:alert(1)\">b</a> ",
            "<a href=\"tel:+44\">c</a> <a href=\"vbscript:x\">d</a> <img src=\"data:image/png;base64,AA\" alt=\"e\"> ",
            "<a href=\"mailto:a@example.org\">f</a> <a href=\"https://example.org/\">g</a>"
        ));
        for refused in ["javascript", "script", "tel:", "vbscript", "data:"] {
            assert!(!out.contains(refused), "{refused}: {out}");
        }
        assert!(out.contains(r#"<a href="mailto:a@example.org">f</a>"#), "{out}");
        assert!(out.contains(r#"<a href="https://example.org/">g</a>"#), "{out}");
    }

    #[test]
    fn keeps_tables_alignment_and_footnote_ids() {
        let out = html("| a | b |\n|:--|--:|\n| 1 | 2 |\n\nNote[^n].\n\n[^n]: Here.\n");
        assert!(out.contains(r#"<td style="text-align:right">2</td>"#), "{out}");
        assert!(out.contains(r##"href="#n""##), "{out}");
        assert!(out.contains(r#"id="n""#), "{out}");
    }
}
