//! The bounce loop from the outside: per-recipient return paths on a real send, `bounces
//! ingest` over a Maildir, an mbox and `.eml` files, exactly once across a `kill -9`, the
//! journal and suppressions it changes, and `bounces` listing the events.

use crate::harness::{Project, run_in};
use crate::send::{ISSUE, journal_status, send, setup};
use crate::smtp::{Received, ServerConfig, SmtpServer};

const BOUNCE_ADDRESS: &str = "bounces@send.example.org";

/// The send fixture with a bounce address, sent to its readers and `extra` more.
fn sent_with_return_paths(extra: usize) -> (Project, SmtpServer, Vec<Received>) {
    let (project, server) = setup(ServerConfig::default(), extra);
    let config = project.read("letterpress.yaml");
    project.write("letterpress.yaml", &format!("{config}bounces:\n  address: {BOUNCE_ADDRESS}\n"));
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let received = server.received();
    (project, server, received)
}

/// An RFC 3464 delivery status notification, as Postfix writes one, for the message that went
/// out with return path `return_path` to `recipient`.
fn dsn(id: &str, return_path: &str, recipient: &str, status: &str, diagnostic: &str) -> String {
    let action = if status.starts_with('5') { "failed" } else { "delayed" };
    format!(
        "Return-Path: <>\r\nDelivered-To: {return_path}\r\nFrom: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n\
         To: {return_path}\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <{id}@mx.example.org>\r\n\
         Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\r\n\
         <{recipient}>: {diagnostic}\r\n\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\nAction: {action}\r\n\
         Status: {status}\r\nDiagnostic-Code: smtp; {diagnostic}\r\n\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: The Weekly <weekly@send.example.org>\r\nTo: {recipient}\r\n\
         Subject: Plans\r\n\r\n--B--\r\n"
    )
}

/// [`dsn`] sent to the plain bounce mailbox (no return-path token), quoting `headers` of the
/// original (CRLF-terminated lines) beside its From, To and Subject.
fn dsn_quoting(id: &str, recipient: &str, headers: &str) -> String {
    dsn(id, BOUNCE_ADDRESS, recipient, "5.1.1", "550 5.1.1 user unknown")
        .replace("Subject: Plans\r\n", &format!("Subject: Plans\r\n{headers}"))
}

/// An RFC 5965 abuse report from a feedback loop about the message to `recipient`, quoting it
/// with `headers`.
fn arf(id: &str, recipient: &str, headers: &str) -> String {
    format!(
        "From: feedback@isp.example\r\nTo: abuse@send.example.org\r\nSubject: FW: Plans\r\n\
         Message-ID: <{id}@isp.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"A\"\r\n\r\n\
         --A\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n\r\n\
         --A\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n\
         User-Agent: FBL/1.0\r\nVersion: 1\r\nOriginal-Rcpt-To: {recipient}\r\n\r\n\
         --A\r\nContent-Type: message/rfc822\r\n\r\nFrom: The Weekly <weekly@send.example.org>\r\n\
         To: {recipient}\r\nSubject: Plans\r\n{headers}\r\nHello.\r\n--A--\r\n"
    )
}

/// A Maildir under the project holding `messages` in `new/`.
fn maildir(project: &Project, name: &str, messages: &[String]) -> String {
    for (i, message) in messages.iter().enumerate() {
        project.write(&format!("{name}/new/{i:06}.bounce.mx"), message);
    }
    std::fs::create_dir_all(project.path().join(name).join("cur")).expect("cur");
    std::fs::create_dir_all(project.path().join(name).join("tmp")).expect("tmp");
    name.to_owned()
}

fn audience_total(project: &Project) -> u64 {
    let out = project.run(&["audience", ISSUE, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    json["total"].as_u64().expect("a total")
}

fn events(project: &Project) -> Vec<serde_json::Value> {
    let out = project.run(&["bounces", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    json["events"].as_array().cloned().unwrap_or_default()
}

#[test]
fn each_message_goes_out_with_its_own_signed_return_path_and_a_test_from_the_plain_one() {
    let (project, server, received) = sent_with_return_paths(5);
    assert!(received.len() >= 6, "{}", received.len());
    let mut seen = std::collections::BTreeSet::new();
    for message in &received {
        let (local, domain) = message.mail_from.split_once('@').expect("an address");
        assert_eq!(domain, "send.example.org");
        assert!(local.starts_with("bounces+") && local.len() <= 64, "{local}");
        assert!(local["bounces+".len()..].bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{local}");
        assert!(seen.insert(message.mail_from.clone()), "one return path per recipient");
        assert_eq!(message.header("From").as_deref(), Some("\"The Weekly\" <weekly@send.example.org>"));
    }
    let out = send(&project, &server, &["send", ISSUE, "--test", "editor@example.org"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let test = server.received().pop().expect("the test message");
    assert_eq!(test.mail_from, BOUNCE_ADDRESS);
}

#[test]
fn a_bounce_address_without_room_for_a_token_is_a_located_error() {
    let project = Project::fixture("send");
    let config = project.read("letterpress.yaml");
    project.write("letterpress.yaml", &format!("{config}bounces:\n  address: \"not an address\"\n"));
    let out = project.run(&["check"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let line = config.lines().count() + 2;
    assert!(out.stderr.contains(&format!("letterpress.yaml:{line}:3")), "{}", out.stderr);
    assert!(out.stderr.contains("`bounces.address`"), "{}", out.stderr);
}

#[test]
fn ingest_reads_maildirs_mboxes_and_eml_files_and_names_what_it_cannot_read() {
    let project = Project::fixture("send");
    let dsn = |i: usize| dsn(&format!("m{i}"), "postmaster@example.org", "ann@example.org", "5.1.1", "550 no");
    let dir = maildir(&project, "Maildir", &[dsn(1), dsn(2)]);
    project.write(
        "old.mbox",
        &format!(
            "From MAILER-DAEMON Sat Nov 21 10:00:00 2026\n{}\nFrom MAILER-DAEMON Sat Nov 21 10:00:01 2026\n{}",
            dsn(3),
            dsn(4)
        ),
    );
    project.write("one.eml", &dsn(5));
    let out = project.run(&["bounces", "ingest", &dir, "old.mbox", "one.eml"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("read 5 messages"), "{}", out.stderr);
    let missing = project.run(&["bounces", "ingest", "nowhere"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("`nowhere`"), "{}", missing.stderr);
    let listed = project.run(&["bounces", "--since", "yesterday"]);
    assert_eq!(listed.code, 2, "{}", listed.stderr);
    assert!(listed.stderr.contains("--since yesterday"), "{}", listed.stderr);
}

#[test]
fn ingest_reads_relative_paths_in_the_project_directory_of_dash_c() {
    let project = Project::fixture("send");
    project.write("one.eml", &dsn("c1", "postmaster@example.org", "ann@example.org", "5.1.1", "550 no"));
    let dir = project.path().to_str().expect("utf-8");
    let parent = project.path().parent().expect("parent");
    let out = run_in(parent, &["-C", dir, "bounces", "ingest", "one.eml"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("read 1 messages: 1 recorded"), "{}", out.stderr);
    let scan = run_in(parent, &["-C", dir, "bounces", "scan", "one.eml"]);
    assert_eq!(scan.code, 0, "as `scan` does: {}", scan.stderr);
}

#[test]
fn terminal_escapes_in_a_bounce_never_reach_the_terminal() {
    let project = Project::fixture("send");
    let hostile = "\u{1b}]0;PWNED\u{7}\u{1b}[2Jevil";
    project.write("esc.eml", &dsn("esc1", "postmaster@example.org", hostile, "5.1.1", "550 5.1.1 user unknown"));
    project.write("csi.eml", &dsn("csi1", "postmaster@example.org", "ok\u{9b}2J@example.org", "5.1.1", "550 no"));
    project
        .write("odd/\u{1b}[2Jname.eml", &dsn("odd1", "postmaster@example.org", "ann@example.org", "5.1.1", "550 no"));
    let ingest = project.run(&["bounces", "ingest", "esc.eml", "csi.eml", "odd"]);
    assert_eq!(ingest.code, 0, "{}", ingest.stderr);
    let scan = project.run(&["bounces", "scan", "esc.eml", "csi.eml", "odd"]);
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    assert!(scan.stdout.contains("odd/\\u{1b}[2Jname.eml\tann@example.org\thard"), "escaped: {}", scan.stdout);
    let listed = project.run(&["bounces"]);
    let csv = project.run(&["bounces", "--format", "csv"]);
    assert!(listed.stdout.contains("ann@example.org"), "{}", listed.stdout);
    for out in [&ingest.stderr, &scan.stdout, &scan.stderr, &listed.stdout, &csv.stdout] {
        assert!(!out.contains(['\u{1b}', '\u{7}', '\u{9b}']), "a control character reached the terminal: {out:?}");
    }
}

#[test]
fn bounces_fed_back_to_their_return_paths_bounce_the_rows_and_suppress_the_addresses() {
    let (project, _server, received) = sent_with_return_paths(20);
    let dead: Vec<&Received> = received.iter().filter(|m| m.rcpt_to[0].starts_with("reader0000")).take(3).collect();
    let mut messages: Vec<String> = dead
        .iter()
        .enumerate()
        .map(|(i, m)| dsn(&format!("hard{i}"), &m.mail_from, &m.rcpt_to[0], "5.1.1", "550 5.1.1 user unknown"))
        .collect();
    let delayed = received.iter().find(|m| m.rcpt_to[0] == "reader00010@example.org").expect("reader 10");
    messages.push(dsn("delay", &delayed.mail_from, &delayed.rcpt_to[0], "4.4.7", "451 4.4.7 delayed"));
    let expired = received.iter().find(|m| m.rcpt_to[0] == "reader00011@example.org").expect("reader 11");
    messages.push(
        dsn("expired", &expired.mail_from, &expired.rcpt_to[0], "4.4.7", "451 4.4.7 message expired in queue")
            .replace("Action: delayed", "Action: failed"),
    );
    let forged = format!("bounces+{}@send.example.org", "a".repeat(32));
    messages.push(dsn("forged", &forged, "ruth@example.org", "5.1.1", "550 5.1.1 user unknown"));
    let dir = maildir(&project, "Maildir", &messages);
    let before = audience_total(&project);

    let out = project.run(&["bounces", "ingest", &dir]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("does not verify"), "the forged bounce is named: {}", out.stderr);
    let status = journal_status(&project);
    assert_eq!(status["counts"]["bounced"], 4, "three hard and one soft, not the delay: {status:#}");
    assert_eq!(status["bounces"]["hard"], 3, "{status:#}");
    let suppressions = project.run(&["suppressions"]).stdout;
    for m in &dead {
        assert!(suppressions.contains(&format!("{}\t*\tbounced", m.rcpt_to[0])), "{suppressions}");
    }
    assert!(!suppressions.contains("ruth@example.org"), "a forged bounce suppresses nobody: {suppressions}");
    assert!(!suppressions.contains("reader00011@"), "one soft bounce is not enough: {suppressions}");
    assert!(!suppressions.contains("reader00010@"), "a delay is no bounce: {suppressions}");
    assert_eq!(events(&project).len(), 5, "the delay warning is recorded");

    let again = project.run(&["bounces", "ingest", &dir]);
    assert!(again.stderr.contains("0 recorded"), "{}", again.stderr);
    assert_eq!(events(&project).len(), 5, "nothing twice");
    assert_eq!(audience_total(&project), before - 3, "the next send leaves the hard bounces out");
    let check = project.run(&["check"]);
    assert!(check.stderr.contains("4 bounced (17.39 %, over 2 %)"), "{}", check.stderr);
    let dry = project.run(&["send", ISSUE, "--dry-run"]);
    assert!(dry.stderr.contains("over 2 %"), "send warns too: {}", dry.stderr);
    let text = project.run(&["status"]).stdout;
    assert!(text.contains("4 bounced (3 hard, 1 soft;"), "{text}");
    let csv = project.run(&["bounces", "--verdict", "hard", "--format", "csv"]).stdout;
    assert_eq!(csv.lines().count(), 4, "a header and three events: {csv}");
}

#[test]
fn a_bounce_or_complaint_without_a_signed_token_suppresses_nobody() {
    let (project, _server, received) = sent_with_return_paths(10);
    let to = |address: &str| received.iter().find(|m| m.rcpt_to[0] == address).expect("sent to");
    let header = |address: &str, name: &str| {
        let value = to(address).header(name).unwrap_or_else(|| panic!("{name}"));
        format!("{name}: {value}\r\n")
    };
    let victims = ["reader00001@example.org", "reader00002@example.org", "reader00003@example.org"];
    // What anyone can write: the Message-ID (derived from the issue and the address), the
    // public List-Id, and a feedback report quoting the Message-ID.
    let forged = [
        dsn_quoting("forged-mid", victims[0], &header(victims[0], "Message-ID")),
        dsn_quoting("forged-list-id", victims[1], &header(victims[1], "List-Id")),
        arf("forged-arf", victims[2], &header(victims[2], "Message-ID")),
    ];
    // The same, quoting the original's signed List-Unsubscribe: only its recipient had it.
    let genuine = ["reader00004@example.org", "reader00005@example.org"];
    let quoted = |address: &str| format!("{}{}", header(address, "Message-ID"), header(address, "List-Unsubscribe"));
    let mut messages = forged.to_vec();
    messages.push(dsn_quoting("genuine-dsn", genuine[0], &quoted(genuine[0])));
    messages.push(arf("genuine-arf", genuine[1], &quoted(genuine[1])));
    let dir = maildir(&project, "Maildir", &messages);

    let out = project.run(&["bounces", "ingest", &dir]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("5 recorded (5 events)"), "{}", out.stderr);
    assert!(out.stderr.contains("1 journal rows marked bounced, 2 addresses suppressed"), "{}", out.stderr);
    let suppressions = project.run(&["suppressions"]).stdout;
    for victim in victims {
        assert!(!suppressions.contains(victim), "a made-up bounce suppresses nobody: {suppressions}");
    }
    assert!(suppressions.contains(&format!("{}\t*\tbounced", genuine[0])), "{suppressions}");
    assert!(suppressions.contains(&format!("{}\t*\tcomplained", genuine[1])), "{suppressions}");
    let attributed: Vec<(String, String, String)> = events(&project)
        .iter()
        .map(|e| {
            let text = |key: &str| e[key].as_str().unwrap_or("-").to_owned();
            (text("address"), text("send"), text("attributed"))
        })
        .collect();
    let row = |address: &str, send: &str, how: &str| (address.to_owned(), send.to_owned(), how.to_owned());
    assert_eq!(
        attributed,
        [
            row(victims[0], "-", "unverified-message-id"),
            row(victims[1], "-", "unverified-list-id"),
            row(victims[2], "-", "unverified-message-id"),
            row(genuine[0], ISSUE, "message-id"),
            row(genuine[1], ISSUE, "message-id"),
        ]
    );
    let status = journal_status(&project);
    assert_eq!(status["bounces"]["hard"], 1, "unverified claims count towards no rate: {status:#}");
    assert_eq!(status["bounces"]["complaints"], 1, "{status:#}");
}

#[test]
fn ingest_killed_mid_run_and_run_again_records_every_message_exactly_once() {
    let (project, _server, received) = sent_with_return_paths(60);
    let messages: Vec<String> = received
        .iter()
        .enumerate()
        .map(|(i, m)| dsn(&format!("b{i}"), &m.mail_from, &m.rcpt_to[0], "5.1.1", "550 5.1.1 user unknown"))
        .collect();
    let total = messages.len();
    let dir = maildir(&project, "Maildir", &messages);
    // Each run dies inside the transaction of the message after `n` new ones: those `n` stay
    // recorded, the one it died in left nothing, and the next run picks up the rest.
    let mut recorded = 0;
    for n in [0, 17, 23] {
        let hook = n.to_string();
        let killed =
            project.run_env(&["bounces", "ingest", &dir], &[("LETTERPRESS_CRASH_AFTER_MESSAGES", hook.as_str())]);
        assert_ne!(killed.code, 0, "the hook aborts the run: {}", killed.stderr);
        recorded += n;
        assert_eq!(events(&project).len(), recorded, "committed messages stay, the interrupted one left nothing");
    }
    let out = project.run(&["bounces", "ingest", &dir]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let events = events(&project);
    assert_eq!(events.len(), total, "every message once");
    let mut sources: Vec<&str> = events.iter().map(|e| e["source"].as_str().unwrap()).collect();
    sources.sort_unstable();
    sources.dedup();
    assert_eq!(sources.len(), total);
    let status = journal_status(&project);
    assert_eq!(status["counts"]["bounced"], total, "{status:#}");
    let suppressions = project.run(&["suppressions"]).stdout;
    assert_eq!(suppressions.lines().count(), total, "{suppressions}");
}

#[test]
#[ignore = "needs dovecot; run by .ci/run"]
fn bounces_fetched_from_a_real_imap_mailbox_are_recorded_once_and_moved_to_the_done_folder() {
    use crate::dovecot::{Dovecot, PASSWORD, USER};
    let (project, _server, received) = sent_with_return_paths(10);
    let imap = Dovecot::start();
    let dead: Vec<&Received> = received.iter().filter(|m| m.rcpt_to[0].starts_with("reader0000")).take(2).collect();
    for (i, m) in dead.iter().enumerate() {
        let message = dsn(&format!("imap{i}"), &m.mail_from, &m.rcpt_to[0], "5.1.1", "550 5.1.1 user unknown");
        imap.deliver(&format!("{i}.bounce"), message.as_bytes());
    }
    imap.deliver("9.garbage", b"\x00\x01 not a message at all");
    let config = project.read("letterpress.yaml");
    let with_imap = config.replace(
        &format!("bounces:\n  address: {BOUNCE_ADDRESS}\n"),
        &format!(
            "bounces:\n  address: {BOUNCE_ADDRESS}\n  imap:\n    url: imap://127.0.0.1:{}\n    username: {USER}\n    password-env: LP_TEST_IMAP_PASSWORD\n",
            imap.imap_port
        ),
    );
    assert_ne!(with_imap, config, "the bounces section was found");
    project.write("letterpress.yaml", &with_imap);
    let env = [("LP_TEST_IMAP_PASSWORD", PASSWORD)];

    let out = project.run_env(&["bounces", "fetch"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(imap.messages("INBOX").is_empty(), "every message left the inbox: {}", out.stderr);
    assert_eq!(imap.messages("Processed").len() + imap.messages("Failed").len(), 3, "{}", out.stderr);
    let status = journal_status(&project);
    assert_eq!(status["counts"]["bounced"], 2, "{status:#}");
    let suppressions = project.run(&["suppressions"]).stdout;
    for m in &dead {
        assert!(suppressions.contains(&format!("{}\t*\tbounced", m.rcpt_to[0])), "{suppressions}");
    }
    assert_eq!(events(&project).len(), 2);

    // The same bounces delivered again (a relay retrying) change nothing, and move on too.
    for (i, m) in dead.iter().enumerate() {
        let message = dsn(&format!("imap{i}"), &m.mail_from, &m.rcpt_to[0], "5.1.1", "550 5.1.1 user unknown");
        imap.deliver(&format!("{i}.again"), message.as_bytes());
    }
    let again = project.run_env(&["bounces", "fetch"], &env);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(imap.messages("INBOX").is_empty());
    assert_eq!(events(&project).len(), 2, "nothing twice");
}
