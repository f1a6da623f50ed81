//! `letterpress serve`: the real binary on an ephemeral port in a copy of `tests/fixtures/serve`,
//! spoken to over raw HTTP/1.1. One-click unsubscribe from the `List-Unsubscribe` header of a
//! message the sending code wrote, refused tokens, double opt-in through the outbox, the archive
//! and limits, and unsubscribes racing a send to the in-process SMTP server.

pub mod client;
mod http;
mod limits;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use letterpress::token::Keys;

use crate::harness::{NOW, Output, Project};
use crate::smtp::{Gate, ServerConfig, SmtpServer};
use client::{Running, Server, post_from_threads};

const KEY_VAR: &str = "LETTERPRESS_UNSUBSCRIBE_KEYS";
const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";
const ISSUE: &str = "weekly/2016-12-09-plans";
const NEXT: &str = "weekly/2016-12-16-winter";
const ONE_CLICK: &str = "List-Unsubscribe=One-Click";
const ORIGIN: &str = "https://serve.example.org";

fn keys() -> Keys {
    Keys::from_secrets(vec![vec![7; 32]]).expect("a valid key")
}

fn send(project: &Project, issue: &str) -> Output {
    let out = project.run_env(&["send", issue, "--yes"], &[(KEY_VAR, KEY)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out
}

fn serve(project: &Project) -> Server {
    Server::start(project, &[(KEY_VAR, KEY)])
}

/// The path and query of a public URL.
pub fn target(url: &str) -> &str {
    url.strip_prefix(ORIGIN).unwrap_or_else(|| panic!("{url} is not on {ORIGIN}"))
}

/// The outbox files of `issue`, by recipient.
pub fn outbox(project: &Project, issue: &str) -> BTreeMap<String, PathBuf> {
    let dir = project.path().join("outbox").join(issue);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("an outbox entry").path())
        .map(|path| {
            let name = path.file_stem().expect("a file name").to_string_lossy().into_owned();
            (name.split_once('-').expect("<seq>-<address>").1.to_owned(), path)
        })
        .collect()
}

/// The https URI of the `List-Unsubscribe` header of the message `email` got.
fn list_unsubscribe(project: &Project, issue: &str, email: &str) -> String {
    let text = std::fs::read_to_string(&outbox(project, issue)[email]).expect("the message");
    let mut lines =
        text.split("\r\n").take_while(|l| !l.is_empty()).skip_while(|l| !l.starts_with("List-Unsubscribe:"));
    let mut value = lines.next().expect("a List-Unsubscribe header")["List-Unsubscribe:".len()..].trim().to_owned();
    value.extend(lines.take_while(|l| l.starts_with([' ', '\t'])).map(str::trim));
    let url = value.split('<').nth(1).and_then(|v| v.split('>').next()).expect("a <URI>").to_owned();
    assert!(url.starts_with(&format!("{ORIGIN}/unsubscribe?t=")), "{url}");
    url
}

fn suppressions(project: &Project) -> Vec<String> {
    let out = project.run(&["suppressions"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout.lines().map(str::to_owned).collect()
}

/// The confirmation mails in the outbox: (to, subject, the confirm link).
pub fn confirmations(project: &Project) -> Vec<(String, String, String)> {
    let dir = project.path().join("outbox/confirmations");
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .map(|e| std::fs::read(e.expect("an outbox entry").path()).expect("a confirmation"))
        .map(|bytes| {
            let message = mail_parser::MessageParser::default().parse(&bytes).expect("a message");
            let to = message.to().and_then(|a| a.first()).and_then(|a| a.address()).expect("a To address").to_owned();
            let text = message.body_text(0).expect("a text part").into_owned();
            let link = text.split_whitespace().find(|w| w.contains("/confirm?t=")).expect("a link").to_owned();
            (to, message.subject().unwrap_or_default().to_owned(), link)
        })
        .collect()
}

/// The rows of `email` in the list `readers` as `subscribers list` prints it: the CSV file's rows
/// and the sign-ups kept in the state store.
fn rows_for(project: &Project, email: &str) -> Vec<String> {
    let out = project.run(&["subscribers", "list", "readers"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout
        .lines()
        .filter(|l| l.to_lowercase().starts_with(&format!("{},", email.to_lowercase())))
        .map(str::to_owned)
        .collect()
}

#[test]
fn one_click_from_a_real_message_unsubscribes_once_and_the_next_send_skips_the_address() {
    let project = Project::fixture("serve");
    send(&project, ISSUE);
    let url = list_unsubscribe(&project, ISSUE, "ruth@example.org");
    let mut server = serve(&project);
    let page = server.get(target(&url));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Unsubscribe from Weekly Readers"), "{}", page.body);
    assert!(page.body.contains("<form method=\"post\""), "{}", page.body);
    assert_eq!(suppressions(&project), Vec::<String>::new(), "GET alone unsubscribes nobody");
    for _ in 0..2 {
        let done = server.post(target(&url), ONE_CLICK, &[]);
        assert_eq!(done.status, 200, "idempotent: {}", done.body);
        assert_eq!(done.header("location"), None, "never redirects");
        assert!(done.body.contains("You are unsubscribed") && done.body.contains("Subscribe again"), "{}", done.body);
    }
    assert_eq!(suppressions(&project), [format!("ruth@example.org\treaders\tunsubscribed\t{NOW}\tone-click")]);
    assert!(server.get(target(&url)).body.contains("already unsubscribed"));
    send(&project, NEXT);
    let next: Vec<String> = outbox(&project, NEXT).into_keys().collect();
    assert_eq!(next, ["siobhan@example.org", "tom@example.net"], "the next send skips the address");
    let token = url.rsplit_once("?t=").unwrap().1;
    // The access log line is read by another thread of the test: wait for it rather than race it.
    server.wait_for_line("\"POST /unsubscribe\" 200", Duration::from_secs(30));
    let log = server.log();
    assert!(!log.iter().any(|l| l.contains(token) || l.contains("?t=")), "no tokens in the log: {log:#?}");
}

#[test]
fn one_click_leaves_every_list_of_the_issue_so_a_reader_on_two_stops_getting_it() {
    let project = Project::fixture("serve");
    let config = project.read("letterpress.yaml").replacen("lists: [readers]", "lists: [readers, insiders]", 1);
    project.write("letterpress.yaml", &config);
    send(&project, ISSUE);
    let url = list_unsubscribe(&project, ISSUE, "ruth@example.org");
    let server = serve(&project);
    let page = server.get(target(&url));
    assert!(page.body.contains("Unsubscribe from Weekly Readers and Insiders"), "{}", page.body);
    assert_eq!(server.post(target(&url), ONE_CLICK, &[]).status, 200);
    assert_eq!(
        suppressions(&project),
        [
            format!("ruth@example.org\tinsiders\tunsubscribed\t{NOW}\tone-click"),
            format!("ruth@example.org\treaders\tunsubscribed\t{NOW}\tone-click"),
        ]
    );
    send(&project, NEXT);
    let next: Vec<String> = outbox(&project, NEXT).into_keys().collect();
    assert_eq!(next, ["siobhan@example.org", "tom@example.net"], "Ruth is on both lists and gets it from neither");
}

#[test]
fn one_address_gets_at_most_three_confirmations_a_day_whoever_asks() {
    let project = Project::fixture("serve");
    let mut server = serve(&project);
    for i in 0..5 {
        let client = format!("X-Forwarded-For: 203.0.113.{i}");
        // A different name each time, so each confirmation is a different file in the outbox.
        let form = format!("email=target%40example.org&list=readers&name=T{i}");
        let asked = server.post("/subscribe", &form, &[client.as_str()]);
        assert_eq!(asked.status, 200, "the page never tells: {}", asked.body);
        assert!(asked.body.contains("Check your inbox"), "{}", asked.body);
    }
    assert_eq!(confirmations(&project).len(), 3);
    // The log line is read by another thread of the test: wait for it rather than race it.
    server.wait_for_line("its address had 3 today already", Duration::from_secs(30));
}

#[test]
fn one_mailbox_gets_at_most_three_confirmations_a_day_however_its_address_is_spelled() {
    let project = Project::fixture("serve");
    let mut server = serve(&project);
    for client in 0..5 {
        let from = format!("X-Forwarded-For: 203.0.113.{client}");
        for tag in 0..3 {
            let local = if tag % 2 == 0 { "victim" } else { "Victim" };
            let form = format!("email={local}%2B{client}{tag}%40Example.org&list=readers");
            let asked = server.post("/subscribe", &form, &[from.as_str()]);
            assert_eq!(asked.status, 200, "the page never tells: {}", asked.body);
        }
    }
    let sent = confirmations(&project);
    assert_eq!(sent.len(), 3, "{sent:#?}");
    // The log line is read by another thread of the test: wait for it rather than race it.
    server.wait_for_line("its address had 3 today already", Duration::from_secs(30));
}

#[test]
fn a_multipart_one_click_post_as_rfc_8058_prefers_unsubscribes_too() {
    let project = Project::fixture("serve");
    send(&project, ISSUE);
    let url = list_unsubscribe(&project, ISSUE, "tom@example.net");
    let server = serve(&project);
    let body =
        "--lp-test\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--lp-test--\r\n";
    let raw = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary=lp-test\r\nContent-Length: {}\r\n\r\n{body}",
        target(&url),
        server.address,
        body.len()
    );
    let done = server.send(&raw);
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(suppressions(&project), [format!("tom@example.net\treaders\tunsubscribed\t{NOW}\tone-click")]);
}

#[test]
fn tampered_forged_truncated_unknown_and_wrong_list_tokens_change_nothing() {
    let project = Project::fixture("serve");
    send(&project, ISSUE);
    let server = serve(&project);
    let keys = keys();
    let real = keys.token("ruth@example.org", "readers");
    let bytes = URL_SAFE_NO_PAD.decode(&real).unwrap();
    let retargeted = [&bytes[..17], b"insiders", &bytes[bytes.len() - 16..]].concat();
    let mut tampered = real.clone().into_bytes();
    tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
    let other_key = Keys::from_secrets(vec![vec![8; 32]]).unwrap();
    let expires = "2027-01-01T00:00:00Z".parse().unwrap();
    let cases = [
        (String::from_utf8(tampered).unwrap(), 400),
        (real[..real.len() - 4].to_owned(), 400),
        (real[..12].to_owned(), 400),
        (other_key.token("ruth@example.org", "readers"), 400),
        (URL_SAFE_NO_PAD.encode(retargeted), 400),
        (keys.confirm_token("ruth@example.org", "readers", "", expires), 400),
        (keys.token("ruth@example.org", "no-such-list"), 404),
        (keys.token("stranger@example.org", "readers"), 404),
        (String::new(), 400),
    ];
    for (token, status) in &cases {
        let path = format!("/unsubscribe?t={token}");
        assert_eq!(server.post(&path, ONE_CLICK, &[]).status, *status, "POST {token:?}");
        assert_eq!(server.get(&path).status, *status, "GET {token:?}");
    }
    assert_eq!(server.post("/unsubscribe", ONE_CLICK, &[]).status, 400, "no token");
    let real_path = format!("/unsubscribe?t={real}");
    assert_eq!(server.post(&real_path, "unsubscribe=yes", &[]).status, 400, "not a one-click body");
    assert_eq!(suppressions(&project), Vec::<String>::new(), "nothing changed");
    assert_eq!(server.post(&real_path, ONE_CLICK, &[]).status, 200, "the genuine token still works");
    assert_eq!(suppressions(&project).len(), 1);
}

#[test]
fn subscribe_then_confirm_adds_the_address_exactly_once() {
    let project = Project::fixture("serve");
    let server = serve(&project);
    let form = "email=New.Reader%40Example.ORG&name=New+Reader&list=readers&website=";
    let sent = server.post("/subscribe", form, &["X-Forwarded-For: 192.0.2.10"]);
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(sent.body.contains("Check your inbox") && sent.body.contains("7 days"), "{}", sent.body);
    let mails = confirmations(&project);
    assert_eq!(mails.len(), 1);
    let (to, subject, link) = &mails[0];
    assert_eq!(
        (to.as_str(), subject.as_str()),
        ("New.Reader@example.org", "Confirm your subscription to Weekly Readers")
    );
    assert!(rows_for(&project, to).is_empty(), "nothing is stored before the confirmation");
    for _ in 0..2 {
        let done = server.get(target(link));
        assert_eq!(done.status, 200, "{}", done.body);
        assert!(done.body.contains("You are subscribed to Weekly Readers"), "{}", done.body);
        assert_eq!(rows_for(&project, to), ["New.Reader@example.org,New Reader,active,"], "exactly once");
    }
    // Unsubscribing after the link was sent: following the old link again must not undo it.
    let later = [("LETTERPRESS_NOW", "2026-11-23T09:00:00Z")];
    assert_eq!(project.run_env(&["unsubscribe", to, "--list", "readers"], &later).code, 0);
    let stale = server.get(target(link));
    assert_eq!(stale.status, 410, "{}", stale.body);
    assert!(stale.body.contains("unsubscribed from the list after this confirmation link was sent"), "{}", stale.body);
    let suppressed = project.run(&["suppressions"]).stdout;
    assert!(suppressed.contains("new.reader@example.org\treaders\tmanual"), "still suppressed: {suppressed}");
    let forged = Keys::from_secrets(vec![vec![8; 32]]).unwrap().confirm_token(
        to,
        "readers",
        "",
        "2027-01-01T00:00:00Z".parse().unwrap(),
    );
    assert_eq!(server.get(&format!("/confirm?t={forged}")).status, 400);
    assert_eq!(server.get(&format!("{}x", target(link))).status, 400, "tampered");
    let honeypot = server.post(
        "/subscribe",
        "email=bot%40example.org&list=readers&website=spam",
        &["X-Forwarded-For: 192.0.2.11"],
    );
    assert_eq!(honeypot.status, 200);
    assert_eq!(confirmations(&project).len(), 1, "a filled honeypot sends nothing");
    assert_eq!(server.post("/subscribe", "email=nope&list=readers", &["X-Forwarded-For: 192.0.2.12"]).status, 400);
    assert_eq!(
        server.post("/subscribe", "email=a%40example.org&list=nope", &["X-Forwarded-For: 192.0.2.13"]).status,
        400
    );
    let statuses: Vec<u16> = (0..4)
        .map(|i| {
            server.post(
                "/subscribe",
                &format!("email=r{i}%40example.org&list=readers"),
                &["X-Forwarded-For: 198.51.100.7"],
            )
        })
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429], "rate-limit: 3 per client address");
    let limited =
        server.post("/subscribe", "email=r9%40example.org&list=readers", &["X-Forwarded-For: 6.6.6.6, 198.51.100.7"]);
    assert_eq!((limited.status, limited.header("retry-after")), (429, Some("1200")), "the proxy's entry counts");
    // A proxy that adds its own field line: the client's line before it counts for nothing.
    let own_line = server.post(
        "/subscribe",
        "email=r10%40example.org&list=readers",
        &["X-Forwarded-For: 6.6.6.7", "X-Forwarded-For: 198.51.100.7"],
    );
    assert_eq!(own_line.status, 429, "the last field line's entry counts");
}

#[test]
fn resubscribing_needs_the_confirmation_and_expired_links_do_nothing() {
    let project = Project::fixture("serve");
    send(&project, ISSUE);
    let url = list_unsubscribe(&project, ISSUE, "ruth@example.org");
    let mut server = serve(&project);
    assert_eq!(server.post(target(&url), ONE_CLICK, &[]).status, 200);
    let token = url.rsplit_once("?t=").unwrap().1;
    let again = server.post("/subscribe", &format!("t={token}&list=readers"), &["X-Forwarded-For: 192.0.2.20"]);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(suppressions(&project).len(), 1, "asking alone lifts nothing");
    let mails = confirmations(&project);
    assert_eq!(mails[0].0, "ruth@example.org");
    assert_eq!(server.get(target(&mails[0].2)).status, 200);
    assert_eq!(suppressions(&project), Vec::<String>::new(), "confirmed: the suppression is lifted");
    assert_eq!(rows_for(&project, "ruth@example.org").len(), 1);
    let everywhere = project.run(&["unsubscribe", "tom@example.net", "--reason", "unsubscribed"]);
    assert_eq!(everywhere.code, 0, "{}", everywhere.stderr);
    let bounced = project.run(&["unsubscribe", "siobhan@example.org", "--reason", "bounced"]);
    assert_eq!(bounced.code, 0, "{}", bounced.stderr);
    for (form, xff) in [
        ("email=tom%40example.net&list=readers", "192.0.2.22"),
        ("email=siobhan%40example.org&list=readers", "192.0.2.23"),
    ] {
        assert_eq!(server.post("/subscribe", form, &[&format!("X-Forwarded-For: {xff}")]).status, 200);
    }
    let mails = confirmations(&project);
    let link_for = |to: &str| mails.iter().find(|m| m.0 == to).map(|m| m.2.clone()).expect("a confirmation");
    assert!(!server.get(target(&link_for("tom@example.net"))).body.contains("blocked"));
    let still = server.get(target(&link_for("siobhan@example.org")));
    assert!(still.body.contains("currently blocked (bounced)"), "{}", still.body);
    assert_eq!(
        suppressions(&project),
        [
            format!("siobhan@example.org\t*\tbounced\t{NOW}\tcli"),
            format!("tom@example.net\tinsiders\tunsubscribed\t{NOW}\tcli"),
        ],
        "a global unsubscribe is narrowed to the other lists; a bounce stays"
    );
    let late = server.post("/subscribe", "email=late%40example.org&list=readers", &["X-Forwarded-For: 192.0.2.21"]);
    assert_eq!(late.status, 200);
    let link = confirmations(&project).into_iter().find(|m| m.0 == "late@example.org").unwrap().2;
    drop(server);
    server = Server::start(&project, &[(KEY_VAR, KEY), ("LETTERPRESS_NOW", "2026-11-30T09:30:00Z")]);
    let expired = server.get(target(&link));
    assert_eq!(expired.status, 410, "{}", expired.body);
    assert!(expired.body.contains("class=\"subscribe\""), "a new form: {}", expired.body);
    assert!(rows_for(&project, "late@example.org").is_empty());
    server.wait_for_line("\"GET /confirm\" 410", Duration::from_secs(5));
}

#[test]
fn the_archive_has_subscribe_forms_and_limits_hold() {
    let project = Project::fixture("serve");
    let server = serve(&project);
    assert!(project.path().join("public/index.html").is_file(), "built at start");
    let home = server.get("/");
    assert!(
        home.body.contains("<form class=\"subscribe\"") && home.body.contains("<select name=\"list\">"),
        "{}",
        home.body
    );
    let weekly = server.get("/weekly/");
    assert!(weekly.body.contains("Subscribe to The Weekly"), "{}", weekly.body);
    assert!(weekly.body.contains("type=\"hidden\" name=\"list\" value=\"readers\""), "{}", weekly.body);
    let issue = server.get("/weekly/2016-12-09-plans/");
    assert!(issue.body.contains("Forty-four plans") && issue.body.contains("class=\"subscribe\""), "{}", issue.body);
    let email = server.get("/weekly/2016-12-09-plans/email.html");
    assert!(email.status == 200 && !email.body.contains("class=\"subscribe\""), "email renditions are left alone");
    let slash = server.get("/weekly");
    assert_eq!((slash.status, slash.header("location")), (308, Some("/weekly/")));
    let doubled = server.get("//weekly");
    assert_eq!((doubled.status, doubled.header("location")), (308, Some("/weekly/")), "never to another host");
    let health = server.get("/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    assert_eq!(server.get("/nothing-here").status, 404);
    assert_eq!(server.get("/../letterpress.yaml").status, 400);
    assert_eq!(server.get("/%2e%2e/letterpress.yaml").status, 400);
    let too_big = server.post("/subscribe", &"a".repeat(20_000), &[]);
    assert_eq!(too_big.status, 413);
    assert!(too_big.body.contains("Request too large"), "our page: {}", too_big.body);
    assert!(!too_big.body.contains("length limit"), "no framework detail reaches the client: {}", too_big.body);
    let big = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n", "a".repeat(20_000));
    assert_eq!(server.send(&big).status, 431);
    assert_eq!(server.post("/healthz", "", &[]).status, 405);
    let page = server.get("/nothing-here");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
}

#[test]
fn archive_and_serve_pages_carry_a_restrictive_content_security_policy() {
    let project = Project::fixture("serve");
    let server = serve(&project);
    let policy = |r: &client::Response| {
        let value = r.header("content-security-policy").unwrap_or_else(|| panic!("no policy: {:?}", r.headers));
        value.split(';').map(|d| d.trim().to_owned()).collect::<Vec<_>>()
    };
    let pages = [
        ("/", "strict-origin-when-cross-origin"),
        ("/weekly/2016-12-09-plans/", "strict-origin-when-cross-origin"),
        ("/archive.css", "strict-origin-when-cross-origin"),
        ("/unsubscribe?t=nonsense", "no-referrer"),
        ("/nothing-here", "no-referrer"),
    ];
    for (path, referrer) in pages {
        let response = server.get(path);
        let directives = policy(&response);
        for wanted in [
            "default-src 'none'",
            "style-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(directives.iter().any(|d| d == wanted), "{path}: no {wanted} in {directives:?}");
        }
        assert!(
            !directives.iter().any(|d| d.contains("script") || d.contains("unsafe-eval")),
            "{path}: {directives:?}"
        );
        assert!(directives.iter().any(|d| d.starts_with("img-src 'self'")), "{path}: {directives:?}");
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(response.header("referrer-policy"), Some(referrer), "{path}");
    }
    let email = server.get("/weekly/2016-12-09-plans/email.html");
    assert!(policy(&email).contains(&"style-src 'self' 'unsafe-inline'".to_owned()), "its <style> applies");
    assert!(policy(&email).contains(&"default-src 'none'".to_owned()));
}

/// Each recipient's delivery status in `issue`'s journal.
fn journal(project: &Project, issue: &str) -> BTreeMap<String, String> {
    let log = project.run(&["log", issue]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    log.stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .map(|d| {
            (d["email"].as_str().unwrap_or_default().to_owned(), d["status"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

#[test]
fn unsubscribes_during_a_running_send_are_all_recorded_and_honoured_for_rows_not_yet_sent() {
    // The relay holds every reply until the unsubscribes are all answered: they come while the
    // send runs, whatever the machine's speed.
    let gate = Gate::closed();
    let smtp = SmtpServer::start(ServerConfig::default().hold(&gate));
    let project = Project::fixture("serve");
    let mut list = project.read("subscribers/readers.csv");
    for i in 0..600 {
        let _ = writeln!(list, "reader{i:05}@example.org,Reader {i},,Somewhere");
    }
    project.write("subscribers/readers.csv", &list);
    // Last week's issue, to the outbox: its links are what readers click during this week's send.
    send(&project, ISSUE);
    let keys = keys();
    let link = |email: &str| format!("/unsubscribe?t={}", keys.token(email, "readers"));
    assert_eq!(link("reader00599@example.org"), target(&list_unsubscribe(&project, ISSUE, "reader00599@example.org")));
    let server = serve(&project);
    let mut sending = Running(
        project
            .command(&["send", NEXT, "--yes"])
            .env(KEY_VAR, KEY)
            .env("LETTERPRESS_SMTP_URL", smtp.url())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The first four rows (the fixture's connections) are in flight, held at the gate.
    assert!(gate.wait_for_reached(4, Duration::from_secs(60)), "the send started");
    let early = ["ruth@example.org".to_owned(), "siobhan@example.org".to_owned()];
    // Rows 204–263 straddle the first page of 256 the sender took before these requests; rows
    // 514–603 are on its third page, which it reads after they are all recorded.
    let middle: Vec<String> = (200..260).map(|i| format!("reader{i:05}@example.org")).collect();
    let late: Vec<String> = (510..600).map(|i| format!("reader{i:05}@example.org")).collect();
    let all: Vec<String> = early.iter().chain(&middle).chain(&late).cloned().collect();
    let links: Vec<String> = all.iter().map(|a| link(a)).collect();
    let statuses = post_from_threads(&server, &links, 8);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(sending.0.try_wait().unwrap().is_none(), "the unsubscribes finished while the send ran");
    gate.open();
    assert!(sending.0.wait().unwrap().success(), "the send completes");
    assert_eq!(suppressions(&project).len(), all.len(), "every unsubscribe is recorded");
    let status = journal(&project, NEXT);
    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    for message in smtp.received() {
        *received.entry(message.rcpt_to[0].clone()).or_default() += 1;
    }
    assert_eq!(status.len(), 603);
    for (email, state) in &status {
        let got = received.get(email).copied().unwrap_or(0);
        match state.as_str() {
            "sent" => assert_eq!(got, 1, "{email}"),
            "suppressed" => assert!(all.contains(email) && got == 0, "{email}: {got}"),
            other => panic!("{email} ended {other}"),
        }
    }
    for email in &late {
        assert_eq!(status[email], "suppressed", "{email} was unsubscribed before its page was read");
    }
    for email in &middle {
        assert_eq!(status[email], "suppressed", "{email} was unsubscribed before its turn");
    }
    for email in &early {
        assert_eq!(status[email], "sent", "{email}: in flight before the unsubscribe, and still recorded");
    }
}

#[test]
fn a_confirmation_link_lifts_an_unsubscribe_but_never_a_bounce_for_its_list() {
    let project = Project::fixture("serve");
    for (email, reason) in
        [("ann@example.org", "bounced"), ("ben@example.org", "manual"), ("cat@example.org", "unsubscribed")]
    {
        let out = project.run(&["unsubscribe", email, "--list", "readers", "--reason", reason]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let server = serve(&project);
    for (i, email) in ["ann%40example.org", "ben%40example.org", "cat%40example.org"].iter().enumerate() {
        let xff = format!("X-Forwarded-For: 192.0.2.{}", 40 + i);
        assert_eq!(server.post("/subscribe", &format!("email={email}&list=readers"), &[&xff]).status, 200);
    }
    let mails = confirmations(&project);
    let link_for = |to: &str| mails.iter().find(|m| m.0 == to).map(|m| m.2.clone()).expect("a confirmation");
    let ann = server.get(target(&link_for("ann@example.org")));
    assert!(ann.body.contains("currently blocked (bounced)"), "{}", ann.body);
    let ben = server.get(target(&link_for("ben@example.org")));
    assert!(ben.body.contains("currently blocked (manual)"), "{}", ben.body);
    let cat = server.get(target(&link_for("cat@example.org")));
    assert_eq!(cat.status, 200);
    assert!(!cat.body.contains("blocked"), "{}", cat.body);
    assert_eq!(
        suppressions(&project),
        [
            format!("ann@example.org\treaders\tbounced\t{NOW}\tcli"),
            format!("ben@example.org\treaders\tmanual\t{NOW}\tcli")
        ],
        "the person's own unsubscribe is lifted; a bounce or a block by hand stays"
    );
}
