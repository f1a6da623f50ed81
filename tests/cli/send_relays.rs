//! Relays that say "later": a relay deferring everything ends the run (exit 3, the send
//! `stopped` with its last reply) and the next run starts at a careful pace; one slowing down
//! some messages slows the send down and it finishes. Against the fault-injecting server of
//! `smtp.rs`; no assertion on how long anything took.

use crate::send::{ISSUE, journal_status, per_recipient, send, setup};
use crate::smtp::{Event, Reply, ServerConfig};

#[test]
fn a_relay_deferring_everything_stops_the_run_and_the_next_run_starts_carefully() {
    let config = ServerConfig::default()
        .fault(|event| matches!(event, Event::Rcpt { .. }).then(|| Reply::new(451, "4.3.0 try again later")));
    let (project, server) = setup(config, 247);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("the relay is not accepting mail"), "{}", out.stderr);
    let status = journal_status(&project);
    assert_eq!(status["send"]["state"], "stopped", "{status:#}");
    let note = status["send"]["note"].as_str().unwrap_or_default();
    assert!(note.contains("451 4.3.0 try again later"), "the relay's last reply: {note}");
    let counts = &status["counts"];
    assert_eq!(counts["sent"], 0, "{status:#}");
    let (deferred, pending) = (counts["deferred"].as_u64().unwrap(), counts["pending"].as_u64().unwrap());
    assert_eq!(deferred + pending, 250, "every recipient waits for the next run: {status:#}");
    assert!(pending > 100, "most were never tried: {status:#}");
    for row in status["recipients"].as_array().unwrap() {
        assert!(row["attempts"].as_u64().unwrap() <= 3, "{row}");
    }

    let healthy = crate::smtp::SmtpServer::start(
        ServerConfig::default().starttls().auth("editor", crate::send::PASSWORD).require_auth(),
    );
    healthy.write_ca_file(&project.path().join("ca.pem"));
    let out = send(&project, &healthy, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("starting at a careful pace"), "{}", out.stderr);
    assert_eq!(journal_status(&project)["counts"]["sent"], 250);
    assert!(per_recipient(&healthy).values().all(|&n| n == 1));
}

#[test]
fn a_relay_throttling_one_message_in_twenty_slows_down_and_the_send_finishes() {
    let config = ServerConfig::default().fault(|event| match event {
        Event::EndOfData { global_message_no, .. } if global_message_no % 20 == 7 => {
            Some(Reply::new(454, "4.7.0 Throttling failure: Maximum sending rate exceeded"))
        }
        _ => None,
    });
    let (project, server) = setup(config, 97);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let status = journal_status(&project);
    assert_eq!(status["counts"]["sent"], 100, "{status:#}");
    let accepted = per_recipient(&server);
    assert_eq!(accepted.len(), 100);
}

/// Add `lines` (YAML under `sending:`, indented two spaces) to the project's configuration.
fn with_sending(project: &crate::harness::Project, lines: &str) {
    let config = project.read("letterpress.yaml").replace("  concurrency: 4\n", &format!("  concurrency: 4\n{lines}"));
    project.write("letterpress.yaml", &config);
}

#[test]
fn a_daily_budget_stops_the_send_with_the_rest_pending_and_send_due_resumes_it_the_next_day() {
    let (project, server) = setup(ServerConfig::default(), 0);
    with_sending(&project, "  limits:\n    per-day: 2\n");
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("`per-day: 2` budget of relay `default` is used up; it frees up at 2026-11-23T00:00:00Z"),
        "{}",
        out.stderr
    );
    let status = journal_status(&project);
    assert_eq!(
        (status["counts"]["sent"].as_u64(), status["counts"]["pending"].as_u64()),
        (Some(2), Some(1)),
        "{status:#}"
    );
    let overview = project.run(&["status"]);
    assert!(
        overview.stdout.contains("budget default per-day: 2 of 2 used, resets 2026-11-23T00:00:00Z"),
        "{}",
        overview.stdout
    );

    let test_copy = send(&project, &server, &["send", ISSUE, "--test", "editor@send.example.org"]);
    assert_eq!(test_copy.code, 3, "a test copy draws on the same budget: {}", test_copy.stderr);
    let again = send(&project, &server, &["send", "--due"]);
    assert_eq!(again.code, 3, "still the same day: {}", again.stderr);
    assert_eq!(server.received().len(), 2);

    let url = server.url();
    let next_day = project.run_env(
        &["send", "--due"],
        &[
            ("LETTERPRESS_SMTP_URL", url.as_str()),
            ("LP_TEST_SMTP_PASSWORD", crate::send::PASSWORD),
            ("LETTERPRESS_NOW", "2026-11-23T00:00:05Z"),
        ],
    );
    assert_eq!(next_day.code, 0, "{}", next_day.stderr);
    assert_eq!(journal_status(&project)["counts"]["sent"], 3);
    assert!(per_recipient(&server).values().all(|&n| n == 1), "nobody twice");
}

#[test]
fn a_limit_of_zero_or_an_unknown_limit_is_a_located_config_error() {
    let (project, _server) = setup(ServerConfig::default(), 0);
    with_sending(&project, "  limits:\n    per-day: 0\n");
    let out = project.run(&["check"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("`per-day` must be at least 1") && out.stderr.contains("letterpress.yaml:"),
        "{}",
        out.stderr
    );
    let (project, _server) = setup(ServerConfig::default(), 0);
    with_sending(&project, "  limits:\n    per-week: 10\n");
    let out = project.run(&["check"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("per-week") && out.stderr.contains("letterpress.yaml:"), "{}", out.stderr);
}
