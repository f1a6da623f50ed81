//! Click counts with regional editions (issues 15 and 16): an issue with `clicks: true` and two
//! `::: only region="…"` blocks, each holding a link, sent through the suite's SMTP server to
//! readers in London and the North West. Each edition's links point at `serve`, numbered as in
//! the full issue, so a link has one token whatever edition it is in; following a token through
//! a real `serve` redirects to its URL and `letterpress clicks` counts it against that link.

use std::collections::BTreeMap;

use letterpress::token::{IssueKey, Keys};

use crate::harness::Project;
use crate::serve::client::{Response, Server};
use crate::smtp::{Received, ServerConfig, SmtpServer};

pub(crate) const KEY_VAR: &str = "LETTERPRESS_UNSUBSCRIBE_KEYS";
pub(crate) const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";
pub(crate) const ISSUE: &str = "weekly/2026-02-05-local-plans";
const ORIGIN: &str = "https://news.example.org";
const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
/// An hour and a half after the send (at [`crate::harness::NOW`], 09:30): one click per network
/// counts.
pub(crate) const LATER: &str = "2026-11-22T11:00:00Z";
/// Five seconds after the send: mail gateways scanning every link of a fresh copy.
const FRESH: &str = "2026-11-22T09:30:05Z";

/// The issue's links in the full issue's order (its click numbering): (URL, text).
pub(crate) const LINKS: [(&str, &str); 4] = [
    ("https://example.org/plans", "plans are out"),
    ("https://example.org/london/walk-in", "walk-in centres"),
    ("https://example.org/map", "map of closures"),
    ("https://example.org/north-west/trusts", "merges three trusts"),
];
pub(crate) const LONDON: [&str; 2] = ["ruth@example.org", "hana@example.com"];
pub(crate) const NORTH_WEST: [&str; 2] = ["li@example.com", "sam@example.net"];

/// The click URL of link `index` (the full issue's numbering), made with the test key.
pub(crate) fn click_url(index: u16) -> String {
    let keys = Keys::from_secrets(vec![vec![7; 32]]).expect("a valid key");
    format!("{ORIGIN}/l/{}", keys.click_token(IssueKey::of(ISSUE), index))
}

/// The fixture sent through a plain loopback SMTP server with `env` added; the messages by
/// recipient.
pub(crate) fn send(project: &Project, env: &[(&str, &str)]) -> BTreeMap<String, Received> {
    let smtp = SmtpServer::start(ServerConfig::default());
    let url = smtp.url();
    let mut all = vec![(KEY_VAR, KEY), ("LETTERPRESS_SMTP_URL", url.as_str())];
    all.extend_from_slice(env);
    let out = project.run_env(&["send", ISSUE, "--yes"], &all);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut messages = BTreeMap::new();
    for message in smtp.received() {
        let [to] = message.rcpt_to.as_slice() else { panic!("one recipient per message: {:?}", message.rcpt_to) };
        messages.insert(to.clone(), message.clone());
    }
    assert_eq!(messages.len(), 4, "{:?}", messages.keys());
    messages
}

/// The decoded text and HTML parts of `message`, line ends as `\n`.
pub(crate) fn parts(message: &Received) -> (String, String) {
    let raw = String::from_utf8(message.data.clone()).expect("a 7-bit message");
    let boundary = raw.split("boundary=\"").nth(1).and_then(|b| b.split('"').next()).expect("a boundary");
    let part = |kind: &str| {
        let body = &raw[raw.find(&format!("Content-Type: {kind}")).unwrap_or_else(|| panic!("a {kind} part"))..];
        let body = &body[body.find("\r\n\r\n").expect("the part's headers") + 4..];
        let body = &body[..body.find(&format!("\r\n--{boundary}")).expect("the next boundary")];
        let decoded = quoted_printable::decode(body, quoted_printable::ParseMode::Robust).expect("quoted-printable");
        String::from_utf8(decoded).expect("utf-8").replace("\r\n", "\n")
    };
    (part("text/plain"), part("text/html"))
}

/// Every click URL in `text`, in order, without repeats.
pub(crate) fn click_urls(text: &str) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for (at, _) in text.match_indices(&format!("{ORIGIN}/l/")) {
        let url: String =
            text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || ":/.-_".contains(*c)).collect();
        if !urls.contains(&url) {
            urls.push(url);
        }
    }
    urls
}

/// The `href` values of `html`.
fn hrefs(html: &str) -> Vec<&str> {
    html.split("href=\"").skip(1).filter_map(|h| h.split('"').next()).collect()
}

/// `GET` a click URL from a browser at `network` (through the trusted proxy's header).
pub(crate) fn follow(server: &Server, url: &str, network: &str) -> Response {
    let path = url.strip_prefix(ORIGIN).expect("a click URL");
    server.send(&format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {BROWSER}\r\nX-Forwarded-For: {network}\r\nConnection: close\r\n\r\n",
        server.address
    ))
}

/// One link of `letterpress clicks`'s report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkRow {
    pub url: String,
    pub text: String,
    pub counted: u64,
    pub filtered: u64,
}

/// `letterpress clicks <issue> --format json` with `env`: each link in issue order, and the
/// totals (counted, filtered).
pub(crate) fn report(project: &Project, env: &[(&str, &str)]) -> (Vec<LinkRow>, (u64, u64)) {
    let out = project.run_env(&["clicks", ISSUE, "--format", "json"], env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let links = json["links"]
        .as_array()
        .expect("links")
        .iter()
        .enumerate()
        .map(|(i, l)| {
            assert_eq!(l["number"].as_u64(), Some(i as u64 + 1), "{json}");
            let text = |k: &str| l[k].as_str().expect("a string").to_owned();
            let count = |k: &str| l[k].as_u64().expect("a count");
            LinkRow { url: text("url"), text: text("text"), counted: count("counted"), filtered: count("filtered") }
        })
        .collect();
    (links, (json["counted"].as_u64().expect("counted"), json["filtered"].as_u64().expect("filtered")))
}

#[test]
fn each_edition_links_through_serve_with_the_full_issues_numbering() {
    let project = Project::fixture("clicks-editions");
    let messages = send(&project, &[]);
    let tokens: Vec<String> = (0..4).map(click_url).collect();
    // London: plans, walk-in, map; the North West: plans, map (first in its block), trusts.
    let edition = |indices: [usize; 3]| indices.map(|i| tokens[i].clone()).to_vec();
    let expected = [(LONDON, edition([0, 1, 2])), (NORTH_WEST, edition([0, 2, 3]))];
    for (readers, urls) in expected {
        for reader in readers {
            let (text, html) = parts(&messages[reader]);
            assert_eq!(click_urls(&html), urls, "{reader}'s HTML links, in the full issue's numbering:\n{html}");
            assert_eq!(click_urls(&text), urls, "{reader}'s text links:\n{text}");
            for (url, _) in LINKS {
                assert!(!text.contains(url), "{reader}'s text shows the original `{url}`:\n{text}");
            }
            let hrefs = hrefs(&html);
            for href in &hrefs {
                let counted = href.starts_with(&format!("{ORIGIN}/l/"));
                let own = href.starts_with(ORIGIN) && !counted;
                assert!(counted || own || href.starts_with("mailto:"), "{reader}: `{href}` is not rewritten");
            }
            assert!(hrefs.contains(&"mailto:editor@news.example.org"), "{reader}: mailto left alone: {hrefs:?}");
            assert!(hrefs.contains(&"https://news.example.org/weekly/"), "{reader}: the site's page left alone");
            let unsubscribe = hrefs.iter().find(|h| h.contains("/unsubscribe?t=")).expect("an unsubscribe link");
            assert!(text.contains(unsubscribe), "{reader}: the same unsubscribe link in the text part");
            let list_unsubscribe = messages[reader].header("List-Unsubscribe").expect("a List-Unsubscribe header");
            assert!(list_unsubscribe.contains(unsubscribe), "{reader}: {list_unsubscribe}");
        }
    }
    let (london, north_west) = (parts(&messages[LONDON[0]]), parts(&messages[NORTH_WEST[0]]));
    assert!(london.1.contains("The London plan") && !london.1.contains("Lancashire"), "{}", london.1);
    assert!(north_west.1.contains("Lancashire") && !north_west.1.contains("The London plan"), "{}", north_west.1);
    for reader in NORTH_WEST {
        let (text, html) = parts(&messages[reader]);
        assert!(!html.contains(&tokens[1]) && !text.contains(&tokens[1]), "the London link reached {reader}");
    }
    for reader in LONDON {
        let (text, html) = parts(&messages[reader]);
        assert!(!html.contains(&tokens[3]) && !text.contains(&tokens[3]), "the North West link reached {reader}");
    }
}

#[test]
fn a_click_in_either_edition_redirects_and_counts_against_its_link() {
    let project = Project::fixture("clicks-editions");
    let messages = send(&project, &[]);
    let (_, london) = parts(&messages[LONDON[0]]);
    let (_, north_west) = parts(&messages[NORTH_WEST[1]]);
    let (london, north_west) = (click_urls(&london), click_urls(&north_west));
    let env = [(KEY_VAR, KEY)];

    // Seconds after the send, one network clicking twice is a gateway's scan: both filtered.
    let mut scan = Server::start(&project, &[(KEY_VAR, KEY), ("LETTERPRESS_NOW", FRESH)]);
    for url in &london[1..] {
        assert_eq!(follow(&scan, url, "198.51.100.20").status, 302);
    }
    assert!(scan.stop().success());
    let (_, totals) = report(&project, &env);
    assert_eq!(totals, (0, 2), "a fresh copy's scan is filtered");

    // Later, people: one click per network, from both editions.
    let mut server = Server::start(&project, &[(KEY_VAR, KEY), ("LETTERPRESS_NOW", LATER)]);
    let clicks = [
        (&london[0], LINKS[0].0, "203.0.113.1"),
        (&london[1], LINKS[1].0, "203.0.114.1"),
        (&london[2], LINKS[2].0, "203.0.115.1"),
        (&north_west[0], LINKS[0].0, "203.0.116.1"),
        (&north_west[1], LINKS[2].0, "203.0.117.1"),
        (&north_west[2], LINKS[3].0, "203.0.118.1"),
        (&north_west[2], LINKS[3].0, "203.0.119.1"),
    ];
    for (url, target, network) in clicks {
        let response = follow(&server, url, network);
        assert_eq!((response.status, response.header("location")), (302, Some(target)), "{url}: {response:?}");
    }
    assert!(server.stop().success());
    assert!(!server.log().iter().any(|l| l.contains("\" 5")), "{:?}", server.log());
    let (links, totals) = report(&project, &env);
    let expected: Vec<LinkRow> = LINKS
        .iter()
        .zip([(2, 0), (1, 1), (2, 1), (2, 0)])
        .map(|((url, text), (counted, filtered))| LinkRow {
            url: (*url).to_owned(),
            text: (*text).to_owned(),
            counted,
            filtered,
        })
        .collect();
    assert_eq!(links, expected, "each click counts against the link it was for, in issue order");
    assert_eq!(totals, (7, 2));
}
