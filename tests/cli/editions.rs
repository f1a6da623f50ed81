//! Regional editions (`::: only region="London"` blocks): what each recipient of a send gets,
//! the editions' text and HTML, `check`'s diagnostics, the preview's edition selector and the
//! archive's labels.

use crate::harness::Project;
use crate::preview::Server;

const ISSUE: &str = "weekly/2026-02-05-local-plans";
const FILE: &str = "content/weekly/2026-02-05-local-plans.md";

/// The decoded text and HTML bodies of the message to `address` in the issue's outbox.
fn bodies(project: &Project, address: &str) -> (String, String) {
    let dir = project.path().join("outbox").join(ISSUE);
    let file = std::fs::read_dir(&dir)
        .expect("outbox")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with(&format!("-{address}.eml")))
        .unwrap_or_else(|| panic!("no message to {address} in {}", dir.display()));
    let message = std::fs::read_to_string(file).expect("message");
    let boundary = message.split("boundary=\"").nth(1).and_then(|b| b.split('"').next()).expect("boundary");
    let part = |kind: &str| {
        let start = message.find(&format!("Content-Type: {kind}")).expect("part");
        let body = &message[start..];
        let body = &body[body.find("\r\n\r\n").expect("part headers") + 4..];
        let body = &body[..body.find(&format!("\r\n--{boundary}")).expect("boundary")];
        let decoded = quoted_printable::decode(body, quoted_printable::ParseMode::Robust).expect("qp");
        let text = String::from_utf8(decoded).expect("utf-8").replace("\r\n", "\n");
        // The unsubscribe token differs per recipient and run.
        regex_lite(&text)
    };
    (part("text/plain"), part("text/html"))
}

/// `text` with every unsubscribe token replaced by `[token]`.
fn regex_lite(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("unsubscribe?t=") {
        let end = i + "unsubscribe?t=".len();
        out.push_str(&rest[..end]);
        out.push_str("[token]");
        rest = &rest[end..];
        rest = &rest[rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).unwrap_or(rest.len())..];
    }
    out.push_str(rest);
    out
}

fn send(project: &Project) {
    let out = project.run(&["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("4 sent"), "{}", out.stderr);
}

#[test]
fn each_recipient_gets_the_text_outside_blocks_and_exactly_their_regions_blocks() {
    let project = Project::fixture("editions");
    send(&project);
    let london = "The London plan closes";
    let north_west = "merges";
    let outside = "Outside London?";
    // (address, blocks expected, blocks not expected)
    let cases: [(&str, &[&str], &[&str]); 4] = [
        ("ruth@example.org", &[london], &[north_west, outside]),
        ("li@example.com", &[north_west, outside], &[london]),
        ("jo@example.com", &[outside], &[london, north_west]),
        ("amir@example.org", &[outside], &[london, north_west]),
    ];
    for (address, shown, hidden) in cases {
        let (text, html) = bodies(&project, address);
        for body in [&text, &html] {
            assert!(body.contains("the plans are out") && body.contains("Thanks for reading"), "{address}: {body}");
            for block in shown {
                assert!(body.contains(block), "{address} should see `{block}`:\n{body}");
            }
            for block in hidden {
                assert!(!body.contains(block), "{address} should not see `{block}`:\n{body}");
            }
            assert!(!body.contains(":::") && !body.contains("Only for readers"), "{address}: {body}");
        }
    }
}

#[test]
fn two_editions_text_and_html() {
    let project = Project::fixture("editions");
    send(&project);
    let (text, html) = bodies(&project, "ruth@example.org");
    insta::assert_snapshot!("london-text", text);
    insta::assert_snapshot!("london-html", html);
    let (text, html) = bodies(&project, "li@example.com");
    insta::assert_snapshot!("north-west-text", text);
    insta::assert_snapshot!("north-west-html", html);
}

#[test]
fn a_block_nobody_matches_is_a_warning_and_an_unknown_column_an_error() {
    let project = Project::fixture("editions");
    let text = project.read(FILE).replace("region=\"London\"", "region=\"Londn\"");
    project.write(FILE, &text);
    let out = project.run(&["check"]);
    assert_eq!(out.code, 0, "a warning does not fail check: {}", out.stderr);
    assert!(out.stderr.contains("warning: block 1 matches none of the active subscribers"), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("{FILE}:8:1")), "{}", out.stderr);

    project.write(FILE, &text.replace("region!=", "regoin!="));
    let out = project.run(&["check"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("no list of this issue has a column `regoin`"), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("{FILE}:20:10")), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `region`?"), "{}", out.stderr);
    let send = project.run(&["send", ISSUE, "--yes"]);
    assert_eq!(send.code, 1, "an issue with block errors is not sent: {}", send.stderr);
}

#[test]
fn the_preview_offers_each_edition_and_view_as_picks_the_subscribers() {
    let project = Project::fixture("editions");
    let server = Server::start(&project);
    let page = format!("/issue/{ISSUE}/");
    let html = server.get(&page).text();
    assert!(html.contains("<select id=\"edition\" name=\"edition\""), "{html}");
    // Ruth: block 1; Li: blocks 2 and 3; Jo and Amir (and a test copy): block 3.
    for (value, label) in [
        ("1", "With 1. in London"),
        ("4", "With 3. outside London"),
        ("6", "With 2. in North West or Lancashire; 3. outside London"),
    ] {
        assert!(html.contains(&format!("<option value=\"{value}\">{label}</option>")), "{value}: {html}");
    }
    let london = server.get(&format!("{page}email.txt?edition=1")).text();
    assert!(london.contains("The London plan") && !london.contains("Outside London?"), "{london}");
    let full = server.get(&format!("{page}email.html")).text();
    assert!(full.contains("Only for readers in London") && full.contains("Only for readers outside London"), "{full}");
    assert_eq!(server.get(&format!("{page}?edition=2")).status, 404, "nobody gets block 2 alone");
    let li = server.get(&format!("{page}?as=li%40example.com")).text();
    assert!(li.contains("<option value=\"6\" selected>"), "view as picks Li's edition: {li}");
    let li_text = server.get(&format!("{page}email.txt?as=li%40example.com")).text();
    assert!(li_text.contains("merges") && !li_text.contains("The London plan"), "{li_text}");
}

#[test]
fn the_archive_shows_every_block_labelled() {
    let project = Project::fixture("editions");
    let out = project.run(&["build"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let page = project.read("public/weekly/2026-02-05-local-plans/index.html");
    for label in [
        "Only for readers in London",
        "Only for readers in North West or Lancashire",
        "Only for readers outside London",
    ] {
        assert!(page.contains(&format!("<p class=\"only-label\"><strong>{label}</strong></p>")), "{label}: {page}");
    }
    assert!(page.contains("The London plan") && page.contains("merges") && !page.contains(":::"), "{page}");
}
