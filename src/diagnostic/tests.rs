use super::*;

#[test]
fn line_index_counts_characters_not_bytes() {
    let text = "ab\n£c’d\nx";
    let index = LineIndex::new(text);
    assert_eq!(index.position(text, 0), (1, 1));
    assert_eq!(index.position(text, 3), (2, 1));
    let d = text.find('d').unwrap();
    assert_eq!(index.position(text, d), (2, 4));
    assert_eq!(index.position(text, text.len()), (3, 2));
}

#[test]
fn renders_location_source_line_caret_and_help() {
    let source = "---\ntitle: x\nsendat: 1\n---\n";
    let d = Diagnostic::error("yaml/unknown-key", "unknown key `sendat`")
        .at(Location::new("content/a.md", 3, 1), source)
        .help("did you mean `send_at`?");
    assert_eq!(
        d.to_string(),
        "error: unknown key `sendat`\n --> content/a.md:3:1\n  |\n3 | sendat: 1\n  | ^\n  = help: did you mean `send_at`?\n"
    );
}

#[track_caller]
fn mask_case(text: &str, masked: &str) {
    assert_eq!(mask_userinfo(text).0, masked, "{text}");
}

#[test]
fn masks_the_user_info_of_every_url() {
    mask_case("url: smtps://user:hunter2@smtp.example.org:465", "url: smtps://***@smtp.example.org:465");
    mask_case("url: \"smtp://u:p@a@h\" and https://k@x.org/p", "url: \"smtp://***@h\" and https://***@x.org/p");
    mask_case("smtp://user:pa/ss@host", "smtp://***@host");
    mask_case("no URL: user:pass@host", "no URL: user:pass@host");
    for clean in ["https://medium.com/@someone", "https://host:8080/@x", "https://example.org/?a=b@c"] {
        mask_case(clean, clean);
    }
}

#[test]
fn echoed_lines_messages_and_hints_are_masked_with_the_caret_kept() {
    let source = "sending:\n  smtp: { url: \"smtps://me:s3cret@relay.example.org\", port: x }\n";
    let col = source.lines().nth(1).unwrap().find("port").unwrap() + 1;
    let d = Diagnostic::error("config/x", "bad `smtps://me:s3cret@relay.example.org`")
        .at(Location::new("letterpress.yaml", 2, col), source)
        .help("not smtps://me:s3cret@relay.example.org");
    let shown = d.to_string();
    assert!(!shown.contains("s3cret"), "{shown}");
    let line = d.source_line.as_deref().unwrap();
    let caret = d.location.as_ref().unwrap().col;
    assert_eq!(&line[caret - 1..caret + 3], "port", "{shown}");
    let inside = Diagnostic::error("config/x", "x").at(Location::new("c.yaml", 2, 30), source);
    assert_eq!(inside.location.unwrap().col, 25, "a caret inside the user info moves onto the mask");
}

#[test]
fn suggests_close_names_only() {
    let keys = ["send_at", "summary", "standfirst"];
    assert_eq!(did_you_mean("sendat", keys), Some("send_at"));
    assert_eq!(did_you_mean("standfirts", keys), Some("standfirst"));
    assert_eq!(did_you_mean("zzz", keys), None);
}
