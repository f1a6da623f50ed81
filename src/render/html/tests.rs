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
