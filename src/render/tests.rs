use super::*;
use std::path::Path;

use proptest::prelude::*;

use crate::config::Config;

#[test]
fn nesting_is_counted_through_markdown_and_raw_html() {
    let deep = |body: &str| {
        let parsed: Vec<_> = Parser::new_ext(body, options()).into_offset_iter().collect();
        too_deep(&parsed).is_some()
    };
    assert!(!deep(&">".repeat(MAX_DEPTH)));
    assert!(deep(&">".repeat(MAX_DEPTH + 1)));
    assert!(deep(&format!("{}x{}", "<div>".repeat(MAX_DEPTH + 1), "</div>".repeat(MAX_DEPTH + 1))));
    assert!(
        !deep(&format!("{}x", "<div><br><img src=\"a.png\"/></div>".repeat(1000))),
        "void, self-closing and closed tags"
    );
}

const CONFIG: &str = "site:\n  title: T\n  base-url: https://news.example.org\npublications:\n  - slug: weekly\n    name: Weekly\n    from: w@news.example.org\n";

fn links(issues: &[Issue]) -> Links {
    let config = Config::parse(Path::new("letterpress.yaml"), CONFIG).unwrap();
    Links::new(&config, issues, BTreeSet::from(["images/chart.png".to_owned()]))
}

fn issue(body: &str) -> Issue {
    let text = format!("---\ntitle: T\n---\n{body}");
    crate::content::parse(Path::new("content/weekly/2016-12-09-a.md"), text.as_bytes()).unwrap()
}

#[track_caller]
fn resolve_case(dest: &str, expected: Result<&str, &str>) {
    let links = links(&[issue("")]);
    let resolved = links.resolve(dest).map_err(|e| e.to_string());
    assert_eq!(resolved.as_deref().map_err(String::as_str), expected);
}

#[test]
fn resolves_internal_relative_and_absolute_links() {
    resolve_case("@/weekly/2016-12-09-a.md", Ok("https://news.example.org/weekly/2016-12-09-a/"));
    resolve_case("@/weekly/2016-12-09-a.md#table", Ok("https://news.example.org/weekly/2016-12-09-a/#table"));
    resolve_case("@/weekly/nope.md", Err("internal link to `@/weekly/nope.md`, but there is no such issue"));
    resolve_case("/images/chart.png", Ok("https://news.example.org/images/chart.png"));
    resolve_case("about/", Ok("https://news.example.org/about/"));
    resolve_case("https://example.org/x", Ok("https://example.org/x"));
    resolve_case("mailto:editor@example.org", Ok("mailto:editor@example.org"));
    resolve_case("#notes", Ok("#notes"));
    resolve_case(
        "javascript:alert(1)",
        Err("`javascript:alert(1)` uses the `javascript:` scheme; links may only be `https:`, `http:` or `mailto:`"),
    );
}

#[test]
fn headings_get_unique_ids_and_links_are_located() {
    let issue = issue("## The plans\n\n## The plans\n\n### Money {#cash}\n\nSee [x](@/weekly/gone.md).\n");
    let rendered = render(&issue, &links(std::slice::from_ref(&issue)));
    let ids: Vec<&str> = rendered.headings.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["the-plans", "the-plans-1", "cash"]);
    assert!(rendered.html.contains(r#"<h2 id="the-plans-1">"#), "{}", rendered.html);
    let broken = &rendered.diagnostics[0];
    assert_eq!(broken.code, "link/broken");
    assert_eq!(broken.location.as_ref().map(|l| (l.line, l.col)), Some((10, 5)));
}

#[test]
fn refused_links_are_errors_and_never_rendered() {
    let body = "See [the plan](javascript:alert(1)), [a page](data:text/html,hi) and [mail](mailto:a@example.org).\n\n<JavaScript:alert(2)>\n\n![Chart](vbscript:x)\n";
    let issue = issue(body);
    let rendered = render(&issue, &links(std::slice::from_ref(&issue)));
    let found: Vec<(&str, Option<(usize, usize)>)> =
        rendered.diagnostics.iter().map(|d| (d.code, d.location.as_ref().map(|l| (l.line, l.col)))).collect();
    assert_eq!(
        found,
        [
            ("link/scheme", Some((4, 5))),
            ("link/scheme", Some((4, 38))),
            ("link/scheme", Some((6, 1))),
            ("link/scheme", Some((8, 1)))
        ],
        "{:#?}",
        rendered.diagnostics
    );
    assert_eq!(
        rendered.diagnostics[0].message,
        "link `javascript:alert(1)` uses the `javascript:` scheme; links may only be `https:`, `http:` or `mailto:`"
    );
    for output in [&rendered.html, &rendered.text] {
        for refused in ["javascript:alert(1)", "data:", "vbscript"] {
            assert!(!output.contains(refused), "{refused} in {output}");
        }
    }
    // The refused autolink stays as the text it was written as, not as a link.
    assert_eq!(rendered.html.matches("href=").count(), 1, "{}", rendered.html);
    assert!(rendered.html.contains("<p>JavaScript:alert(2)</p>"), "{}", rendered.html);
    assert!(
        rendered.html.contains("See the plan, a page and <a href=\"mailto:a@example.org\">mail</a>."),
        "{}",
        rendered.html
    );
    assert!(rendered.text.contains("See the plan, a page and mail"), "{}", rendered.text);
}

/// A tag a `lint/raw-html` names, and its line and column.
type RawHtmlReport = (String, Option<(usize, usize)>);

/// The tag each `lint/raw-html` of `body` names, and where, with the rendered issue.
fn raw_html_reports(body: &str) -> (Vec<RawHtmlReport>, Rendered) {
    let issue = issue(body);
    let rendered = render(&issue, &links(std::slice::from_ref(&issue)));
    let found = rendered
        .diagnostics
        .iter()
        .filter(|d| d.code == "lint/raw-html")
        .map(|d| (d.message.split('`').nth(1).unwrap_or("").to_owned(), d.location.as_ref().map(|l| (l.line, l.col))))
        .collect();
    (found, rendered)
}

#[test]
fn raw_img_and_a_tags_are_reported_where_they_are() {
    let body = "Text <a href=\"/about/\">about</a>.\n\n<img src=\"/images/a.png\">\n\n<abbr>NHS</abbr> `<img>`\n";
    let (found, _) = raw_html_reports(body);
    assert_eq!(found, [("<a>".to_owned(), Some((4, 6))), ("<img>".to_owned(), Some((6, 1)))]);
}

/// A tag the sanitiser removes is reported once per event, where it opens; a closing tag, a
/// kept tag and a `<` that opens no tag are not.
#[test]
fn raw_tags_the_sanitiser_removes_are_reported_where_they_are() {
    let body = "Text <script>alert(1)</script> and <b>bold</b>, 1 < 2.\n\n<iframe src=\"https://v.example.org/x\"></iframe>\n\n<form><input name=q><input name=r></form>\n";
    let (found, rendered) = raw_html_reports(body);
    let found: Vec<(&str, Option<(usize, usize)>)> = found.iter().map(|(tag, at)| (tag.as_str(), *at)).collect();
    assert_eq!(
        found,
        [("<script>", Some((4, 6))), ("<iframe>", Some((6, 1))), ("<form>", Some((8, 1))), ("<input>", Some((8, 7)))]
    );
    assert!(!rendered.html.contains("script") && !rendered.html.contains("iframe"), "{}", rendered.html);
}

#[test]
fn slugs_are_ascii_and_never_empty() {
    assert_eq!(slugify("NHS’s plans: 2016–17"), "nhss-plans-2016-17");
    assert_eq!(slugify("Café society"), "cafe-society");
    assert_eq!(slugify("!!!"), "section");
    assert_eq!(slug("!!!"), "");
    assert_eq!(slug("  "), "");
}

fn markdownish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z’“”£–]{1,12}",
        Just(" ".to_owned()),
        Just("\n".to_owned()),
        Just("\n\n".to_owned()),
        Just("# ".to_owned()),
        Just("- ".to_owned()),
        Just("> ".to_owned()),
        Just("| a | b |\n|---|:-:|\n| 1 | 2 |\n".to_owned()),
        Just("[link](@/weekly/2016-12-09-a.md)".to_owned()),
        Just("[x](@/nope/x.md)".to_owned()),
        Just("![alt](/images/chart.png)".to_owned()),
        Just("![](/missing.png)".to_owned()),
        Just("[^1]\n\n[^1]: note".to_owned()),
        Just("<script>x</script>".to_owned()),
        Just("[x](javascript:alert(1))".to_owned()),
        Just("[y](JaVa&#x09;Script:alert(1))".to_owned()),
        Just("<a href=\"java&#9;script:alert(1)\">z</a>".to_owned()),
        Just("```\ncode\n```\n".to_owned()),
        Just("---".to_owned()),
        Just("\t".to_owned()),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn front_matterish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("title: T".to_owned()),
        Just("title: [a, b]".to_owned()),
        Just("send_at: 2017-01-13T07:00:00".to_owned()),
        Just("send_at: 2017-01-13T07:00:00+00:00".to_owned()),
        Just("status: ready".to_owned()),
        Just("status: [".to_owned()),
        Just("tags: {a: b}".to_owned()),
        Just("related:\n  - title: x\n    url: @/weekly/x.md".to_owned()),
        Just("\tlists: [a]".to_owned()),
        Just("date: 2016-02-30".to_owned()),
        "[a-z_]{1,8}: [a-z0-9 :\"'\\[\\]{}-]{0,12}",
    ];
    proptest::collection::vec(line, 0..8).prop_map(|v| v.join("\n"))
}

proptest! {
    #[test]
    fn arbitrary_issue_files_never_panic(front in front_matterish(), body in markdownish(), fence in any::<bool>()) {
        let text = if fence { format!("---\n{front}\n---\n{body}") } else { format!("{front}\n{body}") };
        if let Ok(issue) = crate::content::parse(Path::new("content/weekly/2016-12-09-a.md"), text.as_bytes()) {
            let rendered = render(&issue, &links(std::slice::from_ref(&issue)));
            for d in &rendered.diagnostics {
                let location = d.location.as_ref().unwrap();
                prop_assert!(location.line >= issue.body_start_line);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = crate::content::parse(Path::new("content/weekly/2016-12-09-a.md"), &bytes);
    }

    #[test]
    fn rendered_html_never_carries_scripts(body in markdownish()) {
        let issue = issue(&body);
        let rendered = render(&issue, &links(std::slice::from_ref(&issue)));
        prop_assert!(!rendered.html.contains("<script"));
        prop_assert!(!rendered.html.to_ascii_lowercase().contains("<a href=\"java"), "{}", rendered.html);
    }
}

/// What [`placeholders`] found before it was made to skip to candidate bytes: the reference it
/// must agree with.
fn placeholders_by_searching(text: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    let lower = text.to_ascii_lowercase();
    for phrase in ["lorem ipsum", "[link]"] {
        found.extend(lower.match_indices(phrase).map(|(i, _)| (i, phrase)));
    }
    for word in ["TK", "TODO", "FIXME", "XXX"] {
        found.extend(
            text.match_indices(word)
                .map(|(i, _)| i)
                .filter(|i| {
                    let before = text[..*i].chars().next_back();
                    let after = text[i + word.len()..].chars().next();
                    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
                })
                .map(|i| (i, word)),
        );
    }
    found
}

#[test]
fn placeholders_are_found_in_order_without_overlaps() {
    for text in
        ["", "TK", "XXXX XXX", "[LINK] and [link", "Lorem Ipsum, lorem ipsumlorem ipsum", "éTODO TODO", "FIXMEs FIXME."]
    {
        assert_eq!(placeholders(text), placeholders_by_searching(text), "{text:?}");
    }
    assert_eq!(placeholders("a TK, XXXXXX and TODO"), [(2, "TK"), (17, "TODO")]);
}

proptest! {
    #[test]
    fn placeholders_agree_with_searching(text in "([TKODFIXMElorem ipsu\\[\\]nkLK é.]{0,12}|TK|XXX|TODO|FIXME|lorem ipsum|\\[link\\]){0,8}") {
        prop_assert_eq!(placeholders(&text), placeholders_by_searching(&text));
    }
}
