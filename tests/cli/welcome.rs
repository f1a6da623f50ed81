//! Welcome issues, catch-up and retries (issue 15 §3–§4), against the suite's SMTP server in
//! `smtp.rs`: the welcome through a real `serve` (and after a `kill -9` of it, from
//! `send --due`), `subscribers add --welcome`, catch-up appending exactly the newcomers on the
//! fake clock, and `--retry-failed` never retrying a bounce.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use letterpress::token::Keys;

use crate::harness::{Output, Project};
use crate::send::{ISSUE, PASSWORD, per_recipient, project_for};
use crate::serve::client::Server;
use crate::smtp::{Event, Reply, ServerConfig, SmtpServer};

const KEY_VAR: &str = "LETTERPRESS_UNSUBSCRIBE_KEYS";
const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";
const WELCOME: &str = "welcome:weekly/welcome";
const NEWCOMER: &str = "new.reader@example.org";

fn relay(config: ServerConfig) -> SmtpServer {
    SmtpServer::start(config.starttls().auth("editor", PASSWORD).require_auth())
}

/// The send fixture with a welcome issue for `readers` (`welcome-latest` as given).
fn project(server: &SmtpServer, latest: bool) -> Project {
    let project = project_for(server, 0);
    let config = project.read("letterpress.yaml").replace(
        "  - slug: readers\n    name: \"Readers\"\n",
        &format!(
            "  - slug: readers\n    name: \"Readers\"\n    welcome: content/weekly/welcome.md\n    welcome-latest: {latest}\n"
        ),
    );
    project.write("letterpress.yaml", &config);
    project.write(
        "content/weekly/welcome.md",
        "---\ntitle: \"Welcome to The Weekly\"\n---\n\nThank you for subscribing: here is what to expect.\n",
    );
    project
}

fn env(server: &SmtpServer) -> Vec<(&'static str, String)> {
    vec![
        ("LETTERPRESS_SMTP_URL", server.url()),
        ("LP_TEST_SMTP_PASSWORD", PASSWORD.to_owned()),
        (KEY_VAR, KEY.to_owned()),
    ]
}

fn run(project: &Project, server: &SmtpServer, args: &[&str]) -> Output {
    let env = env(server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    project.run_env(args, &env)
}

fn run_at(project: &Project, server: &SmtpServer, now: &str, args: &[&str]) -> Output {
    let mut env = env(server);
    env.push(("LETTERPRESS_NOW", now.to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    project.run_env(args, &env)
}

fn serve(project: &Project, server: &SmtpServer) -> Server {
    let env = env(server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start(project, &env)
}

/// The confirmation link's path for `email` on `readers`, signed with the test key.
fn confirm_path(email: &str) -> String {
    let keys = Keys::from_secrets(vec![vec![7; 32]]).expect("a valid key");
    let token = keys.confirm_token(email, "readers", "New Reader", "2026-11-29T09:30:00Z".parse().expect("a time"));
    format!("/confirm?t={token}")
}

/// The subjects `to` received, in order.
fn subjects_to(server: &SmtpServer, to: &str) -> Vec<String> {
    server
        .received()
        .iter()
        .filter(|m| m.rcpt_to.iter().any(|r| r == to))
        .map(|m| m.header("Subject").unwrap_or_default())
        .collect()
}

/// Poll (a real server is involved) until `done`, with a generous deadline; never a timing
/// assertion.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn a_confirmation_through_serve_gets_the_welcome_then_the_latest_issue_exactly_once() {
    let server = relay(ServerConfig::default());
    let project = project(&server, true);
    let sent = run(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    let web = serve(&project, &server);
    for _ in 0..2 {
        let page = web.get(&confirm_path(NEWCOMER));
        assert_eq!(page.status, 200, "{}", page.body);
    }
    wait_until("the welcome and the latest issue", || subjects_to(&server, NEWCOMER).len() >= 2);
    let subjects = subjects_to(&server, NEWCOMER);
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert_eq!(subjects[0], "Welcome to The Weekly", "the welcome first");
    assert!(subjects[1].starts_with("STPs: what the plans say"), "then the latest issue: {subjects:?}");
    let welcome = server.received().into_iter().find(|m| m.rcpt_to == [NEWCOMER]).expect("welcome");
    // Quoted-printable soft line breaks undone, so URLs read whole.
    let text = String::from_utf8_lossy(&welcome.data).replace("=\r\n", "");
    assert!(text.contains("what to expect") && text.contains(NEWCOMER), "{text}");
    assert!(!text.contains("weekly/welcome/"), "the welcome has no archive page to link to: {text}");
    assert!(text.contains("https://send.example.org/weekly/"), "its publication's page instead: {text}");
    assert!(welcome.header("List-Unsubscribe").is_some_and(|h| h.contains("https://")), "one-click works");
    drop(web);
    // Nothing is left for `send --due`, and nobody gets a second copy.
    let due = run(&project, &server, &["send", "--due"]);
    assert_eq!(due.code, 0, "{}", due.stderr);
    assert_eq!(subjects_to(&server, NEWCOMER).len(), 2, "{}", due.stderr);
    assert_eq!(per_recipient(&server).values().max(), Some(&2));
    let status = project.run(&["status"]).stdout;
    assert!(
        status.lines().any(|l| l.starts_with(WELCOME) && l.contains("complete") && l.contains("1 sent")),
        "{status}"
    );
}

#[test]
fn a_serve_killed_between_confirm_and_welcome_loses_none_and_send_due_sends_it_once() {
    let up = Arc::new(AtomicBool::new(false));
    let relay_up = Arc::clone(&up);
    let server = relay(ServerConfig::default().fault(move |event| match event {
        Event::Connect { .. } if !relay_up.load(Ordering::SeqCst) => {
            Some(Reply::new(421, "4.3.2 service not available").then_close())
        }
        _ => None,
    }));
    let project = project(&server, false);
    let mut web = serve(&project, &server);
    let page = web.get(&confirm_path(NEWCOMER));
    assert_eq!(page.status, 200, "confirming does not wait for the relay: {}", page.body);
    web.wait_for_line("welcome to content/weekly/welcome.md", Duration::from_secs(120));
    drop(web); // SIGKILL
    assert!(server.received().is_empty());
    up.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        let due = run(&project, &server, &["send", "--due"]);
        assert_eq!(due.code, 0, "{}", due.stderr);
        assert_eq!(subjects_to(&server, NEWCOMER), ["Welcome to The Weekly"], "{}", due.stderr);
    }
    assert_eq!(server.received().len(), 1);
}

#[test]
fn subscribers_add_welcome_sends_the_welcome_once_per_list() {
    let server = relay(ServerConfig::default());
    let project = project(&server, false);
    let add =
        |email: &str| run(&project, &server, &["subscribers", "add", "readers", email, "--name", "Ann", "--welcome"]);
    let first = add("ann@example.org");
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stderr.contains("1 welcomes to `readers` queued"), "{}", first.stderr);
    assert_eq!(subjects_to(&server, "ann@example.org"), ["Welcome to The Weekly"]);
    let again = add("Ann@Example.org");
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("0 welcomes"), "{}", again.stderr);
    assert_eq!(server.received().len(), 1, "welcomed to a list once");
    let log = project.run(&["log", WELCOME, "--format", "csv"]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    assert!(
        log.stdout.lines().nth(1).is_some_and(|l| l.starts_with("ann@example.org,readers,sent,")),
        "{}",
        log.stdout
    );
    assert_eq!(log.stdout.lines().count(), 2, "its own journal: {}", log.stdout);
    // An import welcomes the addresses it adds, not those already on the list.
    project.write("export.csv", "email,name\nimported@example.org,Imp\nruth@example.org,Ruth Akande\n");
    let import = run(&project, &server, &["subscribers", "import", "readers", "export.csv", "--welcome"]);
    assert_eq!(import.code, 0, "{}", import.stderr);
    assert_eq!(subjects_to(&server, "imported@example.org"), ["Welcome to The Weekly"], "{}", import.stderr);
    assert!(subjects_to(&server, "ruth@example.org").is_empty(), "already on the list: {}", import.stderr);
    // No welcome on the list: refused before anything changes.
    let insiders = project
        .read("letterpress.yaml")
        .replace("    welcome: content/weekly/welcome.md\n    welcome-latest: false\n", "");
    project.write("letterpress.yaml", &insiders);
    let refused = add("bob@example.org");
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("has no welcome issue"), "{}", refused.stderr);
    assert!(!project.read("subscribers/readers.csv").contains("bob@"));
}

#[test]
fn check_reports_a_missing_welcome_at_its_line_and_checks_an_existing_one() {
    let server = relay(ServerConfig::default());
    let project = project(&server, false);
    let ok = project.run(&["check"]);
    assert!(!ok.stderr.contains("welcome"), "{}", ok.stderr);
    project.write("content/weekly/welcome.md", "---\ntitle: \"Welcome\"\nnope: 1\n---\n\nHi.\n");
    let bad = project.run(&["check"]);
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("content/weekly/welcome.md:3"), "{}", bad.stderr);
    std::fs::remove_file(project.path().join("content/weekly/welcome.md")).expect("remove");
    let missing = project.run(&["check"]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(missing.stderr.contains("letterpress.yaml:13:14"), "{}", missing.stderr);
    assert!(missing.stderr.contains("the welcome issue of list `readers`"), "{}", missing.stderr);
    let config = project
        .read("letterpress.yaml")
        .replace("    lists: [readers]\n", "    lists: [readers]\n    catch-up: soon\n");
    project.write("letterpress.yaml", &config);
    let window = project.run(&["check"]);
    assert_eq!(window.code, 1, "{}", window.stderr);
    assert!(
        window.stderr.contains("`catch-up` `soon` is not a duration") && window.stderr.contains("letterpress.yaml:10:"),
        "{}",
        window.stderr
    );
}

#[test]
fn catch_up_appends_exactly_the_subscribers_who_joined_within_the_window() {
    let server = relay(ServerConfig::default());
    let project = project_for(&server, 0);
    let sent = run(&project, &server, &["send", ISSUE, "--yes"]); // started at NOW, 2026-11-22T09:30Z
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    project.write(
        "subscribers/readers.csv",
        "email,name,region,subscribed_at\n\
         ruth@example.org,Ruth Akande,London,2026-11-23T08:00:00Z\n\
         siobhan@example.org,Siobhán O’Neill,North West,\n\
         tom@example.net,Tom Ellery,Midlands,\n\
         before@example.org,Before,London,2026-11-01T00:00:00Z\n\
         late@example.org,Late,London,2026-11-24T12:00:00Z\n\
         later@example.org,Later,London,2026-12-05T12:00:00Z\n",
    );
    let now = "2026-12-06T09:00:00Z";
    let caught = run_at(&project, &server, now, &["send", ISSUE, "--catch-up", "--yes"]);
    assert_eq!(caught.code, 0, "{}", caught.stderr);
    assert!(caught.stderr.contains("1 new subscribers"), "{}", caught.stderr);
    let counts = per_recipient(&server);
    let expected: BTreeMap<String, usize> =
        ["ruth@example.org", "siobhan@example.org", "tom@example.net", "late@example.org"]
            .iter()
            .map(|e| ((*e).to_owned(), 1))
            .collect();
    assert_eq!(counts, expected, "within 7 days of the start, nobody twice");
    let again = run_at(&project, &server, now, &["send", ISSUE, "--catch-up", "--yes"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(server.received().len(), 4, "a second catch-up adds nobody");
    // A wider window by hand; and `catch-up:` of the publication for `send --due`.
    let wider = run_at(&project, &server, now, &["send", ISSUE, "--catch-up", "30d", "--yes"]);
    assert_eq!(wider.code, 0, "{}", wider.stderr);
    assert_eq!(per_recipient(&server).get("later@example.org"), Some(&1));
    let config =
        project.read("letterpress.yaml").replace("    lists: [readers]\n", "    lists: [readers]\n    catch-up: 30d\n");
    project.write("letterpress.yaml", &config);
    let mut list = project.read("subscribers/readers.csv");
    list.push_str("cron@example.org,Cron,London,2026-12-06T08:00:00Z\n");
    project.write("subscribers/readers.csv", &list);
    let due = run_at(&project, &server, now, &["send", "--due"]);
    assert_eq!(due.code, 0, "{}", due.stderr);
    assert_eq!(per_recipient(&server).get("cron@example.org"), Some(&1), "{}", due.stderr);
    assert!(per_recipient(&server).values().all(|&n| n == 1));
    let log = project.run(&["log", ISSUE, "--format", "csv"]).stdout;
    assert_eq!(log.lines().count(), 1 + 6, "appended to the send's journal: {log}");
    assert!(!log.contains("before@example.org"), "joined before the send started: {log}");
}

#[test]
fn retry_failed_resends_a_content_rejection_and_never_a_bounce() {
    let reject = Arc::new(AtomicBool::new(true));
    let rejecting = Arc::clone(&reject);
    let server = relay(ServerConfig::default().fault(move |event| match event {
        Event::Rcpt { to, .. } if to == "gone@example.org" => Some(Reply::new(550, "5.1.1 no such user")),
        Event::EndOfData { rcpts, .. } if rcpts[0] == "spiky@example.org" && rejecting.load(Ordering::SeqCst) => {
            Some(Reply::new(554, "5.6.0 message content rejected"))
        }
        _ => None,
    }));
    let project = project_for(&server, 20);
    let mut list = project.read("subscribers/readers.csv");
    list.push_str("gone@example.org,Gone,\nspiky@example.org,Spiky,\n");
    project.write("subscribers/readers.csv", &list);
    let first = run(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(first.code, 3, "{}", first.stderr);
    let failed = project.run(&["status", ISSUE]).stdout;
    assert!(failed.contains("2 failed"), "{failed}");
    reject.store(false, Ordering::SeqCst);
    let resumed = run(&project, &server, &["send", ISSUE, "--yes"]);
    assert!(
        subjects_to(&server, "spiky@example.org").is_empty(),
        "a plain resume leaves failed rows: {}",
        resumed.stderr
    );
    let retried = run(&project, &server, &["send", ISSUE, "--yes", "--retry-failed"]);
    assert!(retried.stderr.contains("1 failed recipients"), "{}", retried.stderr);
    assert_eq!(subjects_to(&server, "spiky@example.org").len(), 1, "{}", retried.stderr);
    let status = project.run(&["status", ISSUE]).stdout;
    assert!(status.contains("1 failed") && status.contains("gone@example.org"), "the bounce stays failed: {status}");
    assert!(per_recipient(&server).values().all(|&n| n == 1));
    let again = run(&project, &server, &["send", ISSUE, "--yes", "--retry-failed"]);
    assert!(again.stderr.contains("0 failed recipients"), "{}", again.stderr);
}
