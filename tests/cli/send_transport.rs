//! Sending through the transport's edge cases against the in-process SMTP server in `smtp.rs`:
//! TLS and STARTTLS choices, authentication, relays without PIPELINING or SMTPUTF8, connection
//! caps and rate, pipelined 421s, and the circuit breakers. The journal's rules are in `send.rs`.

use std::collections::BTreeMap;

use crate::harness::Project;
use crate::send::{ISSUE, PASSWORD, journal_status, per_recipient, project_for, refusing_tom, send, setup};
use crate::smtp::{Event, Reply, ServerConfig, SmtpServer};

#[test]
fn a_plaintext_loopback_relay_is_greeted_once_per_connection() {
    let server = SmtpServer::start(ServerConfig::default());
    let project = Project::fixture("send");
    let config = project
        .read("letterpress.yaml")
        .replace("    username: editor\n    password-env: LP_TEST_SMTP_PASSWORD\n    ca-file: ca.pem\n", "");
    project.write("letterpress.yaml", &config);
    let out = project.run_env(&["send", ISSUE, "--yes"], &[("LETTERPRESS_SMTP_URL", server.url().as_str())]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let received = server.received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|m| !m.tls && m.auth_user.is_none()), "plaintext, no AUTH, to a loopback relay");
    assert_eq!(server.ehlo_count(), server.connections(), "one EHLO per connection without STARTTLS");
}

#[test]
fn authentication_failure_stops_before_any_recipient_changes_state() {
    let (project, server) = setup(ServerConfig::default(), 0);
    let url = server.url();
    let out = project.run_env(
        &["send", ISSUE, "--yes"],
        &[("LETTERPRESS_SMTP_URL", url.as_str()), ("LP_TEST_SMTP_PASSWORD", "wrong")],
    );
    assert_eq!(out.code, 5, "sender problem: {}", out.stderr);
    assert!(out.stderr.contains("refused authentication as `editor`"), "{}", out.stderr);
    assert!(!out.stderr.contains("wrong"), "the password is never printed");
    assert_eq!(server.received().len(), 0);
    let status = journal_status(&project);
    assert_eq!(status["counts"]["sent"], 0, "{status:#}");
    assert_eq!(status["counts"]["inflight"], 0, "{status:#}");
}

#[test]
fn a_run_of_policy_rejections_trips_the_circuit_breaker_without_suppressing_anyone() {
    let config = ServerConfig::default().fault(|event| {
        matches!(event, Event::Rcpt { .. }).then(|| Reply::new(550, "5.7.26 unauthenticated email is not accepted"))
    });
    let (project, server) = setup(config, 30);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(out.stderr.contains("check SPF, DKIM and DMARC"), "{}", out.stderr);
    let status = journal_status(&project);
    assert_eq!(status["counts"]["failed"], 0, "nobody failed permanently: {status:#}");
    assert!(status["counts"]["pending"].as_u64().expect("pending") > 0, "the rest wait for the fix: {status:#}");
    assert_eq!(project.run(&["suppressions"]).stdout, "", "no subscriber was suppressed");
}

#[test]
fn tls_none_still_upgrades_with_starttls_when_the_relay_offers_it() {
    let (project, server) = setup(ServerConfig::default(), 0);
    let config =
        project.read("letterpress.yaml").replace("    ca-file: ca.pem\n", "    ca-file: ca.pem\n    tls: none\n");
    project.write("letterpress.yaml", &config);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let received = server.received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|m| m.tls && m.auth_user.as_deref() == Some("editor")), "STARTTLS was used");
}

/// The status row of `email` (`status --format json` lists the rows that are not `sent`).
fn recipient(project: &Project, email: &str) -> serde_json::Value {
    let status = journal_status(project);
    let rows = status["recipients"].as_array().cloned().unwrap_or_default();
    rows.into_iter().find(|row| row["email"] == email).unwrap_or_else(|| panic!("no row for {email}: {status:#}"))
}

/// `letterpress.yaml` with `line` added to the `sending:` section.
fn with_sending_option(project: &Project, line: &str) {
    let config = project.read("letterpress.yaml").replace("  timeout: 10\n", &format!("  timeout: 10\n  {line}\n"));
    project.write("letterpress.yaml", &config);
}

#[test]
fn a_remote_relay_without_starttls_stops_the_send_before_any_recipient_changes_state() {
    let server = SmtpServer::start(ServerConfig::default().auth("editor", PASSWORD).auth_without_tls());
    let project = project_for(&server, 0);
    // `0.0.0.0` reaches this machine's listener, but it is not a loopback address, so the relay
    // counts as another machine and the default `tls` forbids plaintext.
    let url = format!("smtp://0.0.0.0:{}", server.port());
    let out = project.run_env(
        &["send", ISSUE, "--yes"],
        &[("LETTERPRESS_SMTP_URL", url.as_str()), ("LP_TEST_SMTP_PASSWORD", PASSWORD)],
    );
    assert_eq!(out.code, 5, "sender problem: {}", out.stderr);
    assert!(out.stderr.contains("`0.0.0.0` does not offer STARTTLS; refusing to send in plaintext"), "{}", out.stderr);
    assert_eq!(server.auth_count(), 0, "no password went out in plaintext");
    assert_eq!(server.received().len(), 0);
    let status = journal_status(&project);
    assert_eq!(status["counts"]["pending"], 3, "nobody changed state: {status:#}");
    assert_eq!(status["counts"]["inflight"], 0, "{status:#}");
}

#[test]
fn an_untrusted_certificate_stops_the_send_naming_the_certificate_problem() {
    let (project, server) = setup(ServerConfig::default(), 0);
    project.write("letterpress.yaml", &project.read("letterpress.yaml").replace("    ca-file: ca.pem\n", ""));
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 5, "sender problem: {}", out.stderr);
    assert!(out.stderr.contains("STARTTLS with `127.0.0.1` failed"), "{}", out.stderr);
    assert!(out.stderr.contains("invalid peer certificate: UnknownIssuer"), "{}", out.stderr);
    assert_eq!(server.auth_count(), 0, "no password went to an unverified relay");
    assert_eq!(server.received().len(), 0);
    assert_eq!(journal_status(&project)["counts"]["pending"], 3);
}

#[test]
fn smtps_delivers_over_implicit_tls() {
    let server = SmtpServer::start(ServerConfig::default().implicit_tls().auth("editor", PASSWORD).require_auth());
    let project = project_for(&server, 0);
    assert!(server.url().starts_with("smtps://"));
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let received = server.received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|m| m.tls && m.auth_user.as_deref() == Some("editor")), "TLS and AUTH");
    assert_eq!(server.ehlo_count(), server.connections(), "one EHLO per connection: no STARTTLS");
}

#[test]
fn max_per_connection_replaces_the_connection_after_that_many_messages() {
    let (project, server) = setup(ServerConfig::default(), 20);
    with_sending_option(&project, "max-per-connection: 2");
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut per_session = BTreeMap::<u64, usize>::new();
    for message in server.received() {
        *per_session.entry(message.session).or_default() += 1;
    }
    assert!(per_session.values().all(|&n| n <= 2), "{per_session:?}");
    assert!(per_session.len() >= 12, "23 messages, at most 2 a connection: {per_session:?}");
    let recipients = per_recipient(&server);
    assert_eq!(recipients.len(), 23);
    assert!(recipients.values().all(|&n| n == 1), "{recipients:?}");
}

#[test]
fn a_relay_without_pipelining_gets_one_command_at_a_time() {
    let (project, server) = setup(ServerConfig::default().without_pipelining(), 5);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(per_recipient(&server).len(), 8);
    assert_eq!(server.pipelined(), 0, "no command was sent before the previous reply");
    assert_eq!(journal_status(&project)["counts"]["sent"], 8);
}

#[test]
fn a_utf8_address_fails_alone_when_the_relay_lacks_smtputf8() {
    let (project, server) = setup(ServerConfig::default().without_smtputf8(), 0);
    let mut list = project.read("subscribers/readers.csv");
    list.push_str("pelé@example.org,Pelé,\n");
    project.write("subscribers/readers.csv", &list);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 3, "finished with a failure: {}", out.stderr);
    let pele = recipient(&project, "pelé@example.org");
    assert_eq!(pele["status"], "failed", "{pele:#}");
    assert_eq!(pele["reply"], "553 5.6.7 the relay does not support SMTPUTF8 for this address", "{pele:#}");
    let recipients = per_recipient(&server);
    assert_eq!(recipients.len(), 3, "the others were delivered: {recipients:?}");
    assert_eq!(journal_status(&project)["counts"]["sent"], 3);
    assert_eq!(project.run(&["suppressions"]).stdout, "", "the address is not suppressed");
}

#[test]
fn a_pipelined_421_before_the_relay_closes_counts_as_a_421_and_the_recipient_is_retried() {
    // MAIL's 250 and RCPT's 421 come in one write, then the connection closes before DATA's reply.
    let (config, tries) = refusing_tom(Reply::new(421, "4.7.0 too many connections, closing").then_close());
    let (project, server) = setup(config, 5);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 3, "tom is left for the next run: {}", out.stderr);
    assert_eq!(tries.load(std::sync::atomic::Ordering::SeqCst), 2, "retried once in the run (`retries: 1`)");
    let tom = recipient(&project, "tom@example.net");
    assert_eq!(tom["status"], "deferred", "{tom:#}");
    assert_eq!(
        tom["reply"], "421 4.7.0 too many connections, closing",
        "the relay's reply, not a lost connection: {tom:#}"
    );
    assert!(server.connections() >= 3, "a new connection after each 421");
    let recipients = per_recipient(&server);
    assert_eq!(recipients.len(), 7, "{recipients:?}");
    assert!(recipients.values().all(|&n| n == 1), "{recipients:?}");
}

#[test]
fn identical_content_rejections_defer_their_recipients_until_the_run_after_the_fix() {
    let config = ServerConfig::default().fault(|event| {
        matches!(event, Event::EndOfData { .. }).then(|| Reply::new(554, "5.6.0 message header malformed"))
    });
    let (project, server) = setup(config, 30);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 5, "a sender problem: {}", out.stderr);
    assert!(out.stderr.contains("rejected the same message content 5 times in a row"), "{}", out.stderr);
    let status = journal_status(&project);
    assert_eq!(status["counts"]["failed"], 0, "nobody failed for good: {status:#}");
    assert_eq!(status["counts"]["sent"], 0, "{status:#}");
    let refused: Vec<String> = status["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .filter(|row| row["status"] == "deferred")
        .map(|row| row["email"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(refused.len() >= 5, "the streak's recipients are deferred: {status:#}");
    assert_eq!(project.run(&["suppressions"]).stdout, "", "no subscriber was suppressed");
    // The fix: the relay takes the message now.
    let fixed = SmtpServer::start(ServerConfig::default().starttls().auth("editor", PASSWORD).require_auth());
    fixed.write_ca_file(&project.path().join("ca.pem"));
    let rerun = send(&project, &fixed, &["send", ISSUE, "--yes"]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let recipients = per_recipient(&fixed);
    assert!(refused.iter().all(|email| recipients.get(email) == Some(&1)), "{refused:?} {recipients:?}");
    assert_eq!(recipients.len(), 33, "{recipients:?}");
    assert_eq!(journal_status(&project)["send"]["state"], "complete");
}

#[test]
fn a_content_rejection_that_does_not_repeat_fails_that_recipient() {
    let config = ServerConfig::default().fault(|event| match event {
        Event::EndOfData { rcpts, .. } if rcpts[0] == "tom@example.net" => {
            Some(Reply::new(552, "5.3.4 message too big for this mailbox"))
        }
        _ => None,
    });
    let (project, server) = setup(config, 5);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 3, "finished with a failure: {}", out.stderr);
    let tom = recipient(&project, "tom@example.net");
    assert_eq!(tom["status"], "failed", "{tom:#}");
    assert_eq!(tom["reply"], "552 5.3.4 message too big for this mailbox", "{tom:#}");
    let status = journal_status(&project);
    assert_eq!(status["counts"]["sent"], 7, "{status:#}");
    assert_eq!(status["send"]["state"], "complete", "{status:#}");
    assert_eq!(per_recipient(&server).len(), 7);
    assert_eq!(project.run(&["suppressions"]).stdout, "", "not suppressed");
}
