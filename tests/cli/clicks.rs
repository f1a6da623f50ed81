//! Aggregate click counts (`publications[].clicks`): the links a send writes in both parts,
//! `serve`'s redirect and bot filter, `letterpress clicks`, `check`'s note, and what the state
//! store holds afterwards (nothing about any reader).

use std::collections::BTreeMap;

use crate::harness::Project;
use crate::serve::client::{Response, Server};

const KEY_VAR: &str = "LETTERPRESS_UNSUBSCRIBE_KEYS";
const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";
const ISSUE: &str = "weekly/2016-12-09-plans";
const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const LATER: &str = "2026-11-22T11:00:00Z";

fn sent(clicks: bool) -> Project {
    let project = Project::fixture("clicks");
    if !clicks {
        let config = project.read("letterpress.yaml").replace("clicks: true", "clicks: false");
        project.write("letterpress.yaml", &config);
    }
    let out = project.run_env(&["send", ISSUE, "--yes"], &[(KEY_VAR, KEY)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    project
}

/// The decoded (text, html) bodies of each message of the issue in the outbox, by file name.
fn bodies(project: &Project) -> BTreeMap<String, (String, String)> {
    let dir = project.path().join("outbox").join(ISSUE);
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("the outbox") {
        let path = entry.expect("an entry").path();
        let raw = std::fs::read_to_string(&path).expect("a message");
        let boundary = raw.split("boundary=\"").nth(1).and_then(|b| b.split('"').next()).expect("a boundary");
        let delimiter = format!("\r\n--{boundary}");
        let mut parts = raw.split("Content-Transfer-Encoding: quoted-printable\r\n\r\n").skip(1).map(|p| {
            let body = p.split(delimiter.as_str()).next().expect("a body");
            let decoded = quoted_printable::decode(body, quoted_printable::ParseMode::Robust).expect("qp");
            String::from_utf8(decoded).expect("utf-8").replace("\r\n", "\n")
        });
        let (text, html) = (parts.next().expect("text"), parts.next().expect("html"));
        out.insert(path.file_name().expect("name").to_string_lossy().into_owned(), (text, html));
    }
    out
}

/// Every `https://news.example.org/l/…` URL in `text`, in order, without repeats.
fn click_urls(text: &str) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for (at, _) in text.match_indices("https://news.example.org/l/") {
        let url: String =
            text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || ":/.-_".contains(*c)).collect();
        if !urls.contains(&url) {
            urls.push(url);
        }
    }
    urls
}

fn get(server: &Server, url: &str, network: &str, extra: &[&str]) -> Response {
    let path = url.strip_prefix("https://news.example.org").expect("a click URL");
    let extra = extra.iter().fold(String::new(), |out, h| out + h + "\r\n");
    server.send(&format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {BROWSER}\r\nX-Forwarded-For: {network}\r\n{extra}Connection: close\r\n\r\n",
        server.address
    ))
}

fn clicks_json(project: &Project) -> serde_json::Value {
    let out = project.run(&["clicks", ISSUE, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).expect("json")
}

#[test]
fn sent_links_point_at_serve_in_both_parts_the_same_for_everyone() {
    let project = sent(true);
    let bodies = bodies(&project);
    assert_eq!(bodies.len(), 3);
    let (text, html) = bodies.values().next().expect("a message").clone();
    for (other_text, other_html) in bodies.values() {
        assert_eq!(click_urls(other_html), click_urls(&html), "every recipient gets the same URLs");
        assert_eq!(click_urls(other_text), click_urls(&text));
    }
    let hrefs: Vec<&str> = html.split("href=\"").skip(1).filter_map(|h| h.split('"').next()).collect();
    let redact = |s: &str| {
        let mut s = s.to_owned();
        for (i, url) in click_urls(&s).iter().enumerate() {
            s = s.replace(url.as_str(), &format!("https://news.example.org/l/[token {i}]"));
        }
        redact_token(&s, "unsubscribe?t=")
    };
    insta::assert_snapshot!("html_links", redact(&hrefs.join("\n")));
    let links = text.split("\n-- \n").next().expect("the body").to_owned();
    insta::assert_snapshot!("text_part", redact(&links));
    assert!(html.contains("Clicks on links are counted in total per link, never per reader."));
    assert!(text.contains("Clicks on links are counted in total per link, never per reader."));
}

#[test]
fn with_clicks_off_no_link_is_rewritten() {
    let project = sent(false);
    for (name, (text, html)) in bodies(&project) {
        assert!(!html.contains("/l/") && !text.contains("/l/"), "{name} has a click link");
        assert!(html.contains("https://example.org/plans?region=all&amp;year=2016"), "{name}");
        assert!(!html.contains("counted in total"), "{name}");
    }
    assert_eq!(project.run(&["clicks", ISSUE]).code, 2);
}

#[test]
fn serve_redirects_counts_filters_and_refuses_tampered_tokens() {
    let project = sent(true);
    let (_, html) = bodies(&project).into_values().next().expect("a message");
    let urls = click_urls(&html);
    let mut server = Server::start(&project, &[(KEY_VAR, KEY), ("LETTERPRESS_NOW", LATER)]);
    let first = get(&server, &urls[0], "203.0.113.5", &[]);
    assert_eq!(first.status, 302, "{first:?}");
    assert_eq!(first.header("location"), Some("https://example.org/plans?region=all&year=2016"));
    assert_eq!(first.header("cache-control"), Some("no-store"));
    assert_eq!(get(&server, &urls[0], "198.51.100.7", &[]).status, 302);
    assert_eq!(get(&server, &urls[1], "192.0.2.1", &[]).status, 302);
    assert_eq!(get(&server, &urls[1], "192.0.3.1", &["Sec-Purpose: prefetch"]).status, 302);
    let head = format!(
        "HEAD {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {BROWSER}\r\nX-Forwarded-For: 192.0.4.1\r\nConnection: close\r\n\r\n",
        urls[1].strip_prefix("https://news.example.org").expect("path"),
        server.address
    );
    assert_eq!(server.send(&head).status, 302);
    let token = urls[0].rsplit('/').next().expect("token");
    let mut tampered = token.as_bytes().to_vec();
    tampered[12] = if tampered[12] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    for bad in [tampered.as_str(), &token[..20], "https:%2F%2Fevil.example", "x"] {
        let response = get(&server, &format!("https://news.example.org/l/{bad}"), "192.0.2.9", &[]);
        assert_eq!(response.status, 404, "{bad}");
        assert_eq!(response.header("location"), None);
    }
    assert!(server.stop().success());
    assert!(!server.log().iter().any(|l| l.contains("\" 5")), "{:?}", server.log());
    let json = clicks_json(&project);
    assert_eq!((json["counted"].as_u64(), json["filtered"].as_u64()), (Some(3), Some(2)), "{json}");
    assert_eq!(json["links"][0]["counted"], 2);
    assert_eq!(json["links"][0]["text"], "plans are out");
    assert_eq!(json["links"][1]["filtered"], 2);
    let out = project.run(&["clicks", ISSUE, "--format", "csv"]);
    insta::assert_snapshot!("csv", out.stdout);
    assert_store_holds_nothing_about_readers(&project, &["203.0.113", "198.51.100", "192.0.2", "Mozilla", "Firefox"]);
}

#[test]
fn a_burst_of_50_clicks_within_2s_of_the_send_from_one_network_is_filtered() {
    let project = sent(true);
    let (_, html) = bodies(&project).into_values().next().expect("a message");
    let urls = click_urls(&html);
    let mut server = Server::start(&project, &[(KEY_VAR, KEY), ("LETTERPRESS_NOW", "2026-11-22T09:30:02Z")]);
    for i in 0..50 {
        let response = get(&server, &urls[i % urls.len()], &format!("203.0.113.{}", i + 1), &[]);
        assert_eq!(response.status, 302);
    }
    assert!(server.stop().success());
    let json = clicks_json(&project);
    assert_eq!((json["counted"].as_u64(), json["filtered"].as_u64()), (Some(0), Some(50)), "{json}");
    assert_store_holds_nothing_about_readers(&project, &["203.0.113", "Mozilla"]);
}

#[test]
fn check_says_links_need_serve_and_clicks_explains_an_unsent_issue() {
    let project = Project::fixture("clicks");
    let out = project.run(&["check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("work only while `letterpress serve` answers there"), "{}", out.stderr);
    let out = project.run(&["clicks", ISSUE]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("has not been sent since `clicks: true` was set"), "{}", out.stderr);
}

/// `text` with the token after each `marker` written as `[token]`.
fn redact_token(text: &str, marker: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at + marker.len()]);
        out.push_str("[token]");
        rest =
            rest[at + marker.len()..].trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    }
    out.push_str(rest);
    out
}

/// Every table and every value in the state store, checked for addresses, network addresses and
/// agents: the click tables hold issues, links, hours and counts only.
fn assert_store_holds_nothing_about_readers(project: &Project, needles: &[&str]) {
    let conn = rusqlite::Connection::open(project.path().join(".letterpress/state.db")).expect("the store");
    let columns = |table: &str| -> Vec<String> {
        let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')")).expect("columns");
        stmt.query_map([], |r| r.get(0)).expect("rows").map(Result::unwrap).collect()
    };
    assert_eq!(columns("click_issues"), ["issue", "key", "sent_at"]);
    assert_eq!(columns("click_links"), ["issue", "idx", "url", "text"]);
    assert_eq!(columns("click_counts"), ["issue", "idx", "hour", "counted", "filtered"]);
    for table in ["click_issues", "click_links", "click_counts"] {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).expect("select");
        let width = stmt.column_count();
        let rows: Vec<String> = stmt
            .query_map([], |row| {
                Ok((0..width).map(|i| format!("{:?}", row.get_ref(i).expect("a value"))).collect::<Vec<_>>().join("|"))
            })
            .expect("rows")
            .map(Result::unwrap)
            .collect();
        assert!(!rows.is_empty(), "{table} is empty");
        for row in rows {
            assert!(!row.contains('@'), "{table} holds an address: {row}");
            for needle in needles {
                assert!(!row.contains(needle), "{table} holds `{needle}`: {row}");
            }
        }
    }
    let all: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .expect("tables")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .map(Result::unwrap)
        .collect();
    for table in all {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).expect("select");
        let width = stmt.column_count();
        let mut rows = stmt.query([]).expect("rows");
        while let Some(row) = rows.next().expect("a row") {
            for i in 0..width {
                let value = format!("{:?}", row.get_ref(i).expect("a value"));
                for needle in needles {
                    assert!(!value.contains(needle), "`{table}` holds `{needle}`: {value}");
                }
            }
        }
    }
}
