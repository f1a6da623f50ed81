use std::path::Path;

use super::*;

fn config() -> Config {
    let text = "site:\n  title: T\n  base-url: https://news.example.org/\npublications:\n  - slug: w\n    name: W\n    from: w@news.example.org\n    clicks: true\n";
    Config::parse(Path::new("letterpress.yaml"), text).unwrap()
}

fn keys() -> Keys {
    Keys::from_secrets(vec![vec![7; 32]]).unwrap()
}

const HTML: &str = r##"<html><body>
<p>Read <a href="https://example.org/story?a=1&amp;b=2">the <em>whole</em> story</a>,
the <a href="https://example.org/report.pdf">report</a> and <a href="https://example.org/story?a=1&amp;b=2">again</a>.</p>
<p><a href="http://example.com/old"><img src="x.png" alt="A chart"></a></p>
<p><a href="mailto:editor@example.org">Write to us</a> · <a href="#top">Top</a> · <a href="tel:+4412">Call</a></p>
<p><a href="https://news.example.org/w/2016-12-09-first/">View in your browser</a>
· <a href="\u{E000}2\u{E001}">Unsubscribe</a> · <a href="https://example.org/?who=\u{E000}0\u{E001}">Personal</a></p>
</body></html>"##;

const TEXT: &str = "Read the whole story [1], the report [2].\n\nLinks:\n[1] https://example.org/story?a=1&b=2\n[2] https://example.org/report.pdf\n[3] https://example.org/not-in-the-html\n\nRelated coverage\n- Old\n  http://example.com/old\n\nView in your browser:\nhttps://news.example.org/w/2016-12-09-first/\nUnsubscribe: \u{E000}2\u{E001}\n";

#[test]
fn counted_links_point_at_serve_in_both_parts() {
    let keys = keys();
    let config = config();
    let rewriter = Rewriter::new(&config, &keys, "w/2016-12-09-first");
    let html = HTML.replace("\\u{E000}", "\u{E000}").replace("\\u{E001}", "\u{E001}");
    let done = rewriter.rewrite(&html, TEXT);
    insta::assert_snapshot!("html", done.html);
    insta::assert_snapshot!("text", done.text);
    insta::assert_yaml_snapshot!("links", done.links);
    let token = |i| keys.click_token(IssueKey::of("w/2016-12-09-first"), i);
    assert!(done.html.contains(&format!("https://news.example.org/l/{}", token(0))));
    assert_eq!(keys.verify_click(&token(2)), Some((IssueKey::of("w/2016-12-09-first"), 2)));
    for kept in ["mailto:editor@example.org", "#top", "tel:+4412", "https://news.example.org/w/2016-12-09-first/"] {
        assert!(done.html.contains(kept), "{kept} was rewritten");
    }
    assert!(done.text.contains("[3] https://example.org/not-in-the-html"));
    assert!(done.text.contains("Unsubscribe: \u{E000}2\u{E001}"));
}

#[test]
fn the_rewrite_is_the_same_for_every_run_and_names_no_recipient() {
    let (keys, config) = (keys(), config());
    let a = Rewriter::new(&config, &keys, "w/x").rewrite(HTML, TEXT);
    let b = Rewriter::new(&config, &keys, "w/x").rewrite(HTML, TEXT);
    assert_eq!(a, b);
    assert_ne!(a.html, Rewriter::new(&config, &keys, "w/y").rewrite(HTML, TEXT).html);
}

#[test]
fn entities_and_markers_are_decoded_and_hidden() {
    assert_eq!(decode_entities("a&amp;b&lt;&#65;&#x42;&unknown;&"), "a&b<AB&unknown;&");
    assert_eq!(strip_markers("Hi \u{E000}1\u{E001}!"), "Hi …!");
}
