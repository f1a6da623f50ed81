use super::*;

fn html(markdown: &str) -> String {
    render_html(pulldown_cmark::Parser::new_ext(markdown, super::super::options()))
}

fn copy(markdown: &str) -> String {
    copy_rendition(&html(markdown), "https://news.example.org/w/a/")
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
fn keeps_tables_alignment_and_heads_cells_with_scope() {
    let out = html("| a | b |\n|:--|--:|\n| 1 | 2 |\n");
    assert!(out.contains(r#"<td style="text-align:right">2</td>"#), "{out}");
    assert!(out.contains(r#"<th scope="col" style="text-align:left">a</th>"#), "{out}");
    assert!(out.contains(r#"<th scope="col" style="text-align:right">b</th>"#), "{out}");
}

#[test]
fn footnotes_on_the_page_have_prefixed_ids_inline_labels_and_links_back() {
    let out = html("Note[^n] and[^2].\n\n[^2]: Two.\n[^n]: Here.\n");
    assert!(
        out.contains(r##"<sup class="footnote-ref"><a href="#fn-1" id="fnref-1">1</a></sup>"##),
        "numbered by first reference: {out}"
    );
    assert!(out.contains(r##"<a href="#fn-2" id="fnref-2">2</a>"##), "{out}");
    assert!(
            out.contains(r##"<div class="footnote-definition" id="fn-1">
<p><span class="footnote-label">1.</span> Here. <a href="#fnref-1" class="footnote-backref" aria-label="Back to reference 1">↩"##),
            "{out}"
        );
    assert!(out.find(r#"id="fn-1""#) < out.find(r#"id="fn-2""#), "in number order: {out}");
    assert!(!out.contains(r#"id="n""#) && !out.contains(r#"id="2""#), "{out}");
}

#[test]
fn footnotes_in_copies_link_to_the_archive_page_and_images_get_the_column_width() {
    let out = copy("Note[^1].\n\n![A chart](https://x.example/c.png \"T\")\n\n[^1]: Here.\n");
    assert!(
        out.contains(r#"<sup class="footnote-ref"><a href="https://news.example.org/w/a/#fn-1">1</a></sup>"#),
        "{out}"
    );
    assert!(!out.contains("fnref") && !out.contains("href=\"#"), "no local anchors: {out}");
    assert!(out.contains(r#"<img src="https://x.example/c.png" alt="A chart" title="T" width="536">"#), "{out}");
    assert!(out.contains("<p><span class=\"footnote-label\">1.</span> Here.</p>"), "no link back: {out}");
}

#[test]
fn copies_change_tags_only_never_text_or_attribute_values() {
    let markdown = concat!(
        "Code `<a href=\"#x\">` and <img src=\"https://x.example/a.png\" width=\"100\" alt=\"a\">\n\n",
        "![<img src=\"#y\"> > <a href=\"#z\">](https://x.example/b.png) ",
        "[top](#top \"<a href='#q'>\")\n",
    );
    let page = html(markdown);
    let out = copy_rendition(&page, "https://n.example/a/");
    assert!(out.contains("<code>&lt;a href=\"#x\"&gt;</code>"), "text untouched: {out}");
    assert!(out.contains(r#"width="100" alt="a">"#), "a width is kept: {out}");
    assert!(out.contains(r#"alt="&lt;img src=&quot;#y&quot;&gt; &gt; &lt;a href=&quot;#z&quot;&gt;" width="536">"#));
    assert!(out.contains(r#"<a href="https://n.example/a/#top" title="&lt;a href='#q'&gt;">top</a>"#), "{out}");
    assert_eq!(out.matches('<').count(), page.matches('<').count(), "{page}\n{out}");
}

#[test]
fn a_reference_without_a_note_stays_as_written() {
    assert!(html("No note[^x].").contains("No note[^x]."));
}

/// pulldown-cmark's HTML for `markdown` after the rewrite, and whether the plain path may
/// take it.
fn raw_html(markdown: &str) -> (String, bool) {
    unsanitised(pulldown_cmark::Parser::new_ext(markdown, super::super::options()))
}

/// Pieces of Markdown that pulldown-cmark writes in every way the sanitiser might rewrite.
const PIECES: &[&str] = &[
    "# Head",
    "## Head {#an-id .a-class}",
    "### Head {#x data-x=\"1\"}",
    "| a | b | c |\n|:--|--:|:-:|\n| 1 | 2 | 3 |",
    "| h |\n|---|\n| `x|y` |",
    "[link](https://x.example/a?b=1&c='2' \"t 'q' & <y>\")",
    "![alt \"q\" 'x' & <y>](/img.png \"title 'q' &\")",
    "![](images/a b.png)",
    "`code <&> \"'`",
    "```rust\nfn main() {}\r\n```",
    "```a\"b'c\nx\n```",
    "    indented\r\n    code",
    "> quote",
    "1. one\n2. two",
    "3. three",
    "- item\n  - nested",
    "**bold** _em_ ~~del~~",
    "a\u{a0}b",
    "&nbsp;&amp;&copy;&#39;&quot;&lt;",
    "text with \"quotes\" and 'apostrophes' -- and...",
    "hard  \nbreak",
    "hard\\\nbreak",
    "---",
    "***",
    "foot[^1] again[^1] none[^2]\n\n[^1]: a note with [a link](#x)",
    "<https://auto.example/x?a=1&b=2>",
    "<mail@example.org>",
    "[rel](../a%20b)",
    "[q](<https://x.example/\"quote\">)",
    "[bad](javascript:alert(1))",
    "[odd](HTTPS://X.EXAMPLE/)",
    "[proto](//x.example/a)",
    "[colon](a:b)",
    "[frag](#x)",
    "[tel](tel:+44)",
    "[empty]()",
    "[ref]\n\n[ref]: https://x.example/r 'T'",
    "<b>raw</b>",
    "\u{0}",
    "\ttab",
    "\r\n",
    "é ü 漢字 🙂",
    "[e](https://x.example/?a=&amp;b&#x27;c'd)",
    "[sp](<https://x.example/a b>)",
    "[nb](https://x.example/\u{a0}x \"a\u{a0}b\r\nc\")",
    "## Q {#a\"b .c'd}",
    "![a\u{a0}&nbsp;b](/i.png)",
    "&#x27;&#0;&#xa0;&#13;",
    "<https://x.example/it's>",
    "[t](https://x.example/ 'it\\'s \"x\"')",
    "a\u{c}b\u{7f}c\u{fffe}d",
    "[in a link[^1]](https://x.example/l)",
    "[see <https://x.example/a>](https://y.example/b)",
    "[^1]: n\n",
    "- # in a list\n- > quoted",
    "> - a list in a quote\n>\n> | t |\n> |---|\n> | c |",
    "1. [x](https://x.example/) ![i](/i.png)\n\n   loose",
    "**bold [link](/a) _em `c`_** ~~del **b**~~",
    "| [l](/a) | **b** |\n|---|---|\n| ![i](/i.png) | `c` |",
    "## [h](/x) `c`",
    "- a[^2]\n\n  [^2]: in a list",
    "***strong em*** __*mixed*__",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Where the plain path may take a fragment, it writes exactly what the sanitiser writes.
    #[test]
    fn the_plain_path_writes_what_the_sanitiser_writes(
        picks in proptest::collection::vec((0..PIECES.len(), 0..4usize), 1..12)
    ) {
        let separators = [" ", "\n", "\n\n", "\r\n\r\n"];
        let markdown: String = picks.iter().flat_map(|&(p, s)| [PIECES[p], separators[s]]).collect();
        let (raw, plain) = raw_html(&markdown);
        if let Some(html) = plain.then(|| plain::serialise(&raw)).flatten() {
            proptest::prop_assert_eq!(html, SANITISER.clean(&raw).to_string(), "{:?}", markdown);
        }
    }
}

#[test]
fn the_plain_path_takes_the_example_issues_and_leaves_raw_html_to_the_sanitiser() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("content");
    let mut taken = 0;
    for entry in walkdir::WalkDir::new(&root).into_iter().filter_map(Result::ok) {
        if entry.path().extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let (raw, plain) = raw_html(text.splitn(3, "---\n").nth(2).unwrap());
            if plain {
                taken += 1;
                assert_eq!(
                    plain::serialise(&raw),
                    Some(SANITISER.clean(&raw).to_string()),
                    "{}",
                    entry.path().display()
                );
            }
        }
    }
    assert!(taken >= 4, "{taken}");
    for (markdown, plain) in [
        ("a <b>b</b>", false),
        ("<div>x</div>", false),
        ("## H {#x data-x=\"1\"}", false),
        ("[a](javascript:x)", false),
        ("[a](tel:+1)", false),
        ("[see <https://x.example/a>](https://y.example/b)", false),
        ("## H {#x .y}\n\n[a](https://x.example/) ![i](/i.png)", true),
    ] {
        assert_eq!(raw_html(markdown).1, plain, "{markdown}");
    }
}
