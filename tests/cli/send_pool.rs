//! Several relays (`sending.relays`), against three real SMTP servers of `smtp.rs`: a steady
//! one, one that dies mid-run and one that defers everything. Every recipient ends exactly
//! once, the journal names the relay that took each, nothing is lost. No assertion on time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::harness::{Output, Project};
use crate::send::{ISSUE, PASSWORD, journal_status, per_recipient, project_for};
use crate::smtp::{Event, Reply, ServerConfig, SmtpServer};

const DYING_PASSWORD: &str = "another-s3cret-for-the-dying-relay";

fn server(config: ServerConfig, password: &str) -> SmtpServer {
    SmtpServer::start(config.starttls().auth("editor", password).require_auth())
}

/// `relays` (name, server, password variable, extra lines) replace the fixture's `smtp:`.
fn with_relays(project: &Project, relays: &[(&str, &SmtpServer, &str, &str)], extra: &str) {
    let mut block = String::from("  relays:\n");
    for (name, server, variable, lines) in relays {
        server.write_ca_file(&project.path().join(format!("ca-{name}.pem")));
        let _ = write!(
            block,
            "    - name: {name}\n      url: \"{}\"\n      username: editor\n      password-env: {variable}\n      ca-file: ca-{name}.pem\n{lines}",
            server.url()
        );
    }
    let config = project.read("letterpress.yaml");
    let start = config.find("  smtp:\n").expect("the fixture's smtp block");
    let end = config.find("  concurrency: 4\n").expect("the fixture's concurrency");
    let config = format!("{}{block}{}", &config[..start], &config[end..]).replace("  retries: 1\n", extra);
    project.write("letterpress.yaml", &config);
}

fn send(project: &Project, args: &[&str]) -> Output {
    project.run_env(args, &[("LP_TEST_SMTP_PASSWORD", PASSWORD), ("LP_DYING_PASSWORD", DYING_PASSWORD)])
}

/// The `log` rows as (email, status, relay).
fn log_rows(project: &Project) -> Vec<(String, String, String)> {
    let out = project.run(&["log", ISSUE, "--format", "csv"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut lines = out.stdout.lines();
    assert!(lines.next().is_some_and(|h| h.ends_with(",relay")), "{}", out.stdout);
    lines
        .map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            (fields[0].to_owned(), fields[2].to_owned(), fields.last().copied().unwrap_or_default().to_owned())
        })
        .collect()
}

#[test]
fn three_relays_one_dying_and_one_deferring_deliver_everyone_exactly_once() {
    let steady = server(ServerConfig::default(), PASSWORD);
    // Dies after its 15th message: every later session and transaction is cut off.
    let taken = Arc::new(AtomicUsize::new(0));
    let dying = server(
        ServerConfig::default().fault({
            let taken = Arc::clone(&taken);
            move |event| match event {
                Event::EndOfData { .. } if taken.fetch_add(1, Ordering::SeqCst) >= 15 => {
                    Some(Reply::new(421, "4.3.2 shutting down").then_close())
                }
                Event::Connect { .. } | Event::Mail { .. } if taken.load(Ordering::SeqCst) >= 15 => {
                    Some(Reply::drop_connection())
                }
                _ => None,
            }
        }),
        DYING_PASSWORD,
    );
    let deferring = server(
        ServerConfig::default()
            .fault(|event| matches!(event, Event::Rcpt { .. }).then(|| Reply::new(451, "4.3.0 try again later"))),
        PASSWORD,
    );
    let project = project_for(&steady, 150);
    with_relays(
        &project,
        &[
            ("steady", &steady, "LP_TEST_SMTP_PASSWORD", ""),
            ("dying", &dying, "LP_DYING_PASSWORD", "      weight: 2\n"),
            ("deferring", &deferring, "LP_TEST_SMTP_PASSWORD", "      concurrency: 1\n"),
        ],
        "  retries: 3\n",
    );
    let out = send(&project, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("relay `dying` is down"), "{}", out.stderr);
    assert!(!out.stderr.contains(DYING_PASSWORD) && !out.stderr.contains(PASSWORD), "no password printed");

    let status = journal_status(&project);
    assert_eq!(status["counts"]["sent"], 153, "{status:#}");
    assert_eq!(status["send"]["state"], "complete", "{status:#}");
    let (steady_got, dying_got) = (per_recipient(&steady), per_recipient(&dying));
    assert!(deferring.received().is_empty(), "the deferring relay took nothing");
    assert!(!dying_got.is_empty() && dying_got.len() <= 16, "the dying relay took some first: {}", dying_got.len());
    let mut everyone: BTreeMap<String, usize> = steady_got.clone();
    for (rcpt, n) in &dying_got {
        *everyone.entry(rcpt.clone()).or_default() += n;
    }
    assert_eq!(everyone.len(), 153, "nobody lost");
    assert!(everyone.values().all(|&n| n == 1), "nobody twice: {everyone:?}");

    // The journal names the relay that took each message, and `status` counts them.
    let rows = log_rows(&project);
    assert_eq!(rows.len(), 153);
    for (email, status, relay) in &rows {
        assert_eq!(status, "sent", "{email}");
        let expected = if dying_got.contains_key(email) { "dying" } else { "steady" };
        assert_eq!(relay, expected, "{email}");
    }
    assert_eq!(status["relays"]["steady"], steady_got.len(), "{status:#}");
    assert_eq!(status["relays"]["dying"], dying_got.len(), "{status:#}");
    let text = project.run(&["status", ISSUE]);
    assert!(
        text.stdout.contains(&format!("by relay: dying {}, steady {}", dying_got.len(), steady_got.len())),
        "{}",
        text.stdout
    );
}

#[test]
fn with_every_relay_deferring_the_run_stops_and_rows_never_tried_stay_pending() {
    let defer = || {
        ServerConfig::default()
            .fault(|event| matches!(event, Event::Rcpt { .. }).then(|| Reply::new(451, "4.3.0 try again later")))
    };
    let (one, two) = (server(defer(), PASSWORD), server(defer(), PASSWORD));
    let project = project_for(&one, 247);
    with_relays(
        &project,
        &[("one", &one, "LP_TEST_SMTP_PASSWORD", ""), ("two", &two, "LP_TEST_SMTP_PASSWORD", "")],
        "  retries: 1\n",
    );
    let out = send(&project, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("the relay is not accepting mail"), "{}", out.stderr);
    let status = journal_status(&project);
    assert_eq!(status["send"]["state"], "stopped", "{status:#}");
    assert_eq!(status["counts"]["sent"], 0);
    let rows = log_rows(&project);
    let pending = rows.iter().filter(|(_, s, _)| s == "pending").count();
    let deferred = rows.iter().filter(|(_, s, _)| s == "deferred").count();
    assert_eq!(pending + deferred, 250, "every recipient waits for the next run");
    assert!(pending > 100, "most were never tried: {pending}");
    // Never tried: `pending` with no attempt; tried: `deferred` with its attempts.
    let out = project.run(&["log", ISSUE]);
    for line in out.stdout.lines() {
        let row: serde_json::Value = serde_json::from_str(line).expect("jsonl");
        let attempts = row["attempts"].as_u64().unwrap_or(99);
        match row["status"].as_str() {
            Some("pending") => assert_eq!(attempts, 0, "{row}"),
            Some("deferred") => assert!((1..=2).contains(&attempts), "{row}"),
            other => panic!("{other:?}: {row}"),
        }
    }
}

#[test]
fn a_from_domain_no_publication_uses_is_a_located_warning() {
    let steady = server(ServerConfig::default(), PASSWORD);
    let project = project_for(&steady, 0);
    with_relays(
        &project,
        &[
            ("steady", &steady, "LP_TEST_SMTP_PASSWORD", ""),
            ("typo", &steady, "LP_TEST_SMTP_PASSWORD", "      from-domains: [send.exmaple.org]\n"),
        ],
        "  retries: 1\n",
    );
    let checked = project.run(&["check"]);
    assert_eq!(checked.code, 0, "a warning does not fail `check`: {}", checked.stderr);
    let shown = format!("{}{}", checked.stdout, checked.stderr);
    assert!(shown.contains("relay `typo` lists `send.exmaple.org` in `from-domains`"), "{shown}");
    assert!(shown.contains("letterpress.yaml:"), "located: {shown}");
    let out = send(&project, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("relay `typo` lists `send.exmaple.org` in `from-domains`"), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `send.example.org`?"), "{}", out.stderr);
    assert!(out.stderr.contains("letterpress.yaml:"), "located: {}", out.stderr);
    assert_eq!(per_recipient(&steady).len(), 3, "only the relay for the domain was used");
    assert!(log_rows(&project).iter().all(|(_, _, relay)| relay == "steady"));
}
