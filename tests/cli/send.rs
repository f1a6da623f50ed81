//! Sending against the real SMTP server in `smtp.rs`: STARTTLS with a test CA, AUTH, per-recipient
//! faults, reconnects, the journal's resume rules, and the lock.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::harness::{Output, Project};
use crate::smtp::{Event, Gate, Reply, ServerConfig, SmtpServer};

pub(crate) const ISSUE: &str = "weekly/2016-12-09-plans";
pub(crate) const PASSWORD: &str = "s3cret-for-tests";

/// The send fixture with `extra` readers appended, and a STARTTLS + AUTH server it trusts.
pub(crate) fn setup(config: ServerConfig, extra: usize) -> (Project, SmtpServer) {
    let server = SmtpServer::start(config.starttls().auth("editor", PASSWORD).require_auth());
    let project = project_for(&server, extra);
    (project, server)
}

/// The send fixture trusting `server`'s test CA, with `extra` readers appended.
pub(crate) fn project_for(server: &SmtpServer, extra: usize) -> Project {
    let project = Project::fixture("send");
    server.write_ca_file(&project.path().join("ca.pem"));
    if extra > 0 {
        let mut list = project.read("subscribers/readers.csv");
        for i in 0..extra {
            let _ = writeln!(list, "reader{i:05}@example.org,Reader {i},Somewhere");
        }
        project.write("subscribers/readers.csv", &list);
    }
    project
}

pub(crate) fn send(project: &Project, server: &SmtpServer, args: &[&str]) -> Output {
    let url = server.url();
    project.run_env(args, &[("LETTERPRESS_SMTP_URL", url.as_str()), ("LP_TEST_SMTP_PASSWORD", PASSWORD)])
}

pub(crate) fn journal_status(project: &Project) -> serde_json::Value {
    let out = project.run(&["status", ISSUE, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).expect("json")
}

/// How many messages each recipient received.
pub(crate) fn per_recipient(server: &SmtpServer) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for message in server.received() {
        for rcpt in message.rcpt_to {
            *counts.entry(rcpt).or_default() += 1;
        }
    }
    counts
}

#[test]
fn sends_over_starttls_with_auth_and_every_required_header() {
    let (project, server) = setup(ServerConfig::default(), 0);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains(PASSWORD) && !out.stdout.contains(PASSWORD), "the password is never printed");
    let received = server.received();
    assert_eq!(received.len(), 3);
    for message in &received {
        assert!(message.tls, "STARTTLS was used");
        assert_eq!(message.auth_user.as_deref(), Some("editor"));
        assert_eq!(message.mail_from, "weekly@send.example.org");
        for header in [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "MIME-Version",
            "List-Id",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "Reply-To",
        ] {
            assert!(message.header(header).is_some(), "{header} missing");
        }
        let unsubscribe = message.header("List-Unsubscribe").expect("header");
        assert!(unsubscribe.starts_with("<https://send.example.org/unsubscribe?t="), "{unsubscribe}");
        assert!(unsubscribe.contains("<mailto:unsubscribe@send.example.org?subject="), "{unsubscribe}");
        assert!(!unsubscribe.contains(&message.rcpt_to[0]), "the token never shows the address");
        assert_eq!(message.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
        let body = String::from_utf8_lossy(&message.data);
        assert!(!body.lines().any(|l| l.len() > 998), "no line over 998 octets");
    }
    let ids: std::collections::BTreeSet<_> = received.iter().filter_map(crate::smtp::Received::message_id).collect();
    assert_eq!(ids.len(), 3, "a Message-ID per recipient");
    let status = journal_status(&project);
    assert_eq!(status["counts"]["sent"], 3, "{status:#}");
    assert_eq!(status["send"]["state"], "complete", "{status:#}");
    assert_eq!(server.ehlo_count(), 2 * server.connections(), "EHLO before and after STARTTLS");
    let again = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(server.received().len(), 3, "a second run sends nothing twice");
}

#[test]
fn per_recipient_faults_end_in_the_right_states_and_resume_correctly() {
    let config = ServerConfig::default().fault(|event| match event {
        Event::Rcpt { to, .. } if to == "gone@example.org" => Some(Reply::new(550, "5.1.1 no such user")),
        Event::Rcpt { to, .. } if to == "busy@example.org" => Some(Reply::new(451, "4.3.0 try again later")),
        Event::EndOfData { rcpts, .. } if rcpts[0] == "lost@example.org" => Some(Reply::drop_connection()),
        Event::EndOfData { global_message_no: 3, .. } => {
            Some(Reply::new(421, "4.7.0 closing, come back soon").then_close())
        }
        _ => None,
    });
    let (project, server) = setup(config, 20);
    let mut list = project.read("subscribers/readers.csv");
    list.push_str("gone@example.org,Gone,\nbusy@example.org,Busy,\nlost@example.org,Lost,\n");
    project.write("subscribers/readers.csv", &list);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 3, "finished with failures: {}", out.stderr);
    let status = journal_status(&project);
    let counts = &status["counts"];
    assert_eq!(counts["failed"], 1, "{status:#}");
    assert_eq!(counts["deferred"], 1, "{status:#}");
    assert_eq!(counts["uncertain"], 1, "{status:#}");
    assert_eq!(counts["sent"], 23, "the 421 and the dropped connection were survived: {status:#}");
    let suppressions = project.run(&["suppressions"]).stdout;
    assert!(suppressions.contains("gone@example.org\t*\tbounced"), "{suppressions}");
    assert!(server.connections() >= 3, "reconnected after 421 and the drop");
    let recipients = per_recipient(&server);
    assert!(recipients.values().all(|&n| n == 1), "{recipients:?}");
    // The next run retries only the deferred recipient (still refused here), never the others.
    let before = server.received().len();
    let resumed = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(resumed.code, 3, "{}", resumed.stderr);
    assert_eq!(server.received().len(), before, "nobody got a second copy");
    let resent = send(&project, &server, &["send", ISSUE, "--yes", "--resend-uncertain"]);
    assert_eq!(resent.code, 3, "{}", resent.stderr);
    assert_eq!(journal_status(&project)["counts"]["uncertain"], 1, "lost again: the server drops that one every time");
}

/// Send to the fixture and `extra` generated readers over `config`, with `watch` called at each
/// point of the dialogue with the project's directory (the server keeps its replies).
fn send_watching(
    config: ServerConfig,
    extra: usize,
    watch: impl Fn(&Event, &std::path::Path) + Send + Sync + 'static,
) -> (Project, SmtpServer) {
    let project_dir = std::sync::Arc::new(std::sync::Mutex::new(None::<std::path::PathBuf>));
    let dir = std::sync::Arc::clone(&project_dir);
    let config = config.fault(move |event| {
        if let Some(dir) = dir.lock().expect("lock").clone() {
            watch(event, &dir);
        }
        None
    });
    let (project, server) = setup(config, extra);
    *project_dir.lock().expect("lock") = Some(project.path().to_path_buf());
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    (project, server)
}

/// [`send_watching`], running `letterpress unsubscribe <address>` (reason `unsubscribed`) from
/// the server when the first message ends. Until the unsubscribe is recorded no message gets
/// its reply (the server holds them at a gate), so at most one message per connection has gone
/// out by then, whatever the timing.
fn send_unsubscribing_mid_send(config: ServerConfig, extra: usize, address: &'static str) -> (Project, SmtpServer) {
    let gate = Gate::closed();
    let opener = gate.clone();
    send_watching(config.hold(&gate), extra, move |event, dir| {
        if let Event::EndOfData { global_message_no: 1, .. } = event {
            let out = crate::harness::run_in(dir, &["unsubscribe", address, "--reason", "unsubscribed"]);
            opener.open();
            assert_eq!(out.code, 0, "{}", out.stderr);
        }
    })
}

/// The relay reads a message's final dot, which makes it deliverable, only once the journal
/// says the recipient is in flight: a kill at any moment leaves a delivered row `uncertain`,
/// never `pending` (which the next run would send again). The body may reach the relay before
/// that, while the mark commits.
#[test]
fn every_message_is_in_flight_in_the_journal_before_its_final_dot() {
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;
    let seen: Seen = Seen::default();
    let log = std::sync::Arc::clone(&seen);
    let (_project, server) = send_watching(ServerConfig::default(), 20, move |event, dir| {
        if let Event::EndOfData { rcpts, .. } = event {
            let db = rusqlite::Connection::open(dir.join(".letterpress/state.db")).expect("the store");
            db.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
            let status = db
                .query_row("SELECT status FROM deliveries WHERE issue = ?1 AND email = ?2", [ISSUE, &rcpts[0]], |r| {
                    r.get(0)
                })
                .expect("the recipient's row");
            log.lock().expect("lock").push((rcpts[0].clone(), status));
        }
    });
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 23, "every message: {seen:?}");
    assert!(seen.iter().all(|(_, status)| status == "inflight"), "{seen:?}");
    assert_eq!(server.received().len(), 23);
}

#[test]
fn an_unsubscribe_is_honoured_for_a_recipient_already_handed_to_the_workers() {
    // Every row fits in the first page, which the dispatcher reads before the first message.
    // Reader 240's turn comes long after the first messages, which wait for the unsubscribe.
    let (project, server) = send_unsubscribing_mid_send(ServerConfig::default(), 250, "reader00240@example.org");
    let recipients = per_recipient(&server);
    assert!(!recipients.contains_key("reader00240@example.org"), "unsubscribed before its turn");
    assert_eq!(recipients.len(), 252);
    assert!(recipients.values().all(|&n| n == 1));
    assert_eq!(journal_status(&project)["counts"]["suppressed"], 1);
}

#[test]
fn an_unsubscribe_during_a_send_is_honoured_for_later_recipients() {
    let (project, server) = send_unsubscribing_mid_send(ServerConfig::default(), 600, "reader00500@example.org");
    let recipients = per_recipient(&server);
    assert!(!recipients.contains_key("reader00500@example.org"), "unsubscribed mid-send");
    assert_eq!(recipients.len(), 602);
    assert_eq!(journal_status(&project)["counts"]["suppressed"], 1);
}

#[test]
fn two_due_runs_at_once_send_exactly_once() {
    // The first run's messages wait at the relay's gate until the second run has ended, so the
    // two overlap whatever the machine's speed.
    let gate = Gate::closed();
    let (project, server) = setup(ServerConfig::default().hold(&gate), 40);
    due_recently(&project);
    let url = server.url();
    let env = [("LETTERPRESS_SMTP_URL", url.as_str()), ("LP_TEST_SMTP_PASSWORD", PASSWORD)];
    let spawn =
        || project.command(&["send", "--due"]).envs(env).stderr(std::process::Stdio::piped()).spawn().expect("spawn");
    let first = spawn();
    // The first holds the lock once a message has reached the relay, and keeps it to its end.
    assert!(gate.wait_for_reached(1, Duration::from_secs(20)), "the first run got going");
    let second = spawn().wait_with_output().expect("second");
    gate.open();
    let first = first.wait_with_output().expect("first");
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(second.status.code(), Some(4), "{}", String::from_utf8_lossy(&second.stderr));
    assert!(String::from_utf8_lossy(&second.stderr).contains("another send is running"));
    let recipients = per_recipient(&server);
    assert_eq!(recipients.len(), 43);
    assert!(recipients.values().all(|&n| n == 1), "{recipients:?}");
}

#[test]
fn due_with_nothing_due_exits_quietly() {
    let project = Project::fixture("send");
    project.write(
        "content/weekly/2016-12-09-plans.md",
        &project
            .read("content/weekly/2016-12-09-plans.md")
            .replace("2016-12-09T07:00:00+00:00", "2030-01-01T07:00:00+00:00"),
    );
    let out = project.run(&["send", "--due"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("nothing is due"), "{}", out.stderr);
}

#[test]
fn drafts_and_issues_that_fail_check_are_refused() {
    let project = Project::fixture("send");
    let text = project.read("content/weekly/2016-12-09-plans.md");
    project.write("content/weekly/2016-12-09-plans.md", &text.replace("status: ready", "status: draft"));
    let draft = project.run(&["send", ISSUE, "--yes"]);
    assert_eq!(draft.code, 2);
    assert!(draft.stderr.contains("is a draft"), "{}", draft.stderr);
    project.write("content/weekly/2016-12-09-plans.md", &format!("{text}\n[broken](@/weekly/nope.md)\n"));
    let broken = project.run(&["send", ISSUE, "--yes"]);
    assert_eq!(broken.code, 1, "{}", broken.stderr);
    assert!(broken.stderr.contains("no such issue"), "{}", broken.stderr);
}

/// A server that answers `reply` to every RCPT for Tom, and how many RCPTs for him it has seen.
pub(crate) fn refusing_tom(reply: Reply) -> (ServerConfig, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let tries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&tries);
    let config = ServerConfig::default().fault(move |event| match event {
        Event::Rcpt { to, .. } if to == "tom@example.net" => {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Some(reply.clone())
        }
        _ => None,
    });
    (config, tries)
}

/// A server that answers `451` to every RCPT for Tom, so the send ends with him deferred.
fn deferring_tom() -> ServerConfig {
    refusing_tom(Reply::new(451, "4.3.0 later")).0
}

#[test]
fn a_changed_issue_is_not_resumed_without_allow_changed() {
    let (project, server) = setup(deferring_tom(), 0);
    assert_eq!(send(&project, &server, &["send", ISSUE, "--yes"]).code, 3);
    let text = project.read("content/weekly/2016-12-09-plans.md");
    project.write("content/weekly/2016-12-09-plans.md", &text.replace("Nobody voted", "No one voted"));
    let refused = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("--allow-changed"), "{}", refused.stderr);
}

#[test]
fn dry_run_and_test_sends_leave_the_journal_alone() {
    let (project, server) = setup(ServerConfig::default(), 5);
    let dry = send(&project, &server, &["send", ISSUE, "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(dry.stderr.contains("8 messages composed"), "{}", dry.stderr);
    assert_eq!(server.received().len(), 0);
    let test = send(&project, &server, &["send", ISSUE, "--test", "editor@example.org"]);
    assert_eq!(test.code, 0, "{}", test.stderr);
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].header("Subject").expect("subject").contains("[TEST]"));
    let status = project.run(&["status", ISSUE]);
    assert_eq!(status.code, 2, "nothing journaled: {}", status.stderr);
}

#[test]
fn the_outbox_transport_writes_one_eml_per_recipient() {
    let project = Project::fixture("send");
    let config = project.read("letterpress.yaml").replace("transport: smtp", "transport: outbox");
    project.write("letterpress.yaml", &config);
    let out = project.run(&["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let dir = project.path().join("outbox/weekly/2016-12-09-plans");
    let files: Vec<_> = std::fs::read_dir(&dir).expect("outbox").map(|e| e.expect("entry").path()).collect();
    assert_eq!(files.len(), 3);
    let message = std::fs::read_to_string(&files[0]).expect("eml");
    assert!(message.contains("\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"), "{message}");
    #[cfg(unix)]
    for file in &files {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(file).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} holds a name and an address: owner only", file.display());
    }
    let log = project.run(&["log", ISSUE, "--format", "csv"]);
    assert_eq!(log.stdout.lines().count(), 4, "{}", log.stdout);
    assert!(log.stdout.starts_with("email,list,status,attempts,code,reply,message_id,updated_at,relay\n"));
}

/// A template may print a list's column as `subscriber.attrs.<column>`, as docs/templates.md
/// shows: `check` and `render` (no subscriber) print it empty, and each message of a send its
/// recipient's value.
#[test]
fn a_template_prints_a_list_column_empty_outside_a_send_and_each_value_in_it() {
    let project = Project::fixture("send");
    let config = project.read("letterpress.yaml").replace("transport: smtp", "transport: outbox");
    project.write("letterpress.yaml", &config);
    let text = include_str!("../../src/template/defaults/email.txt");
    project.write("templates/email.txt", &format!("Region: [{{{{ subscriber.attrs.region }}}}]\n{text}"));
    let check = project.run(&["check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    let render = project.run(&["render", ISSUE, "--format", "text"]);
    assert_eq!(render.code, 0, "{}", render.stderr);
    assert!(render.stdout.starts_with("Region: []\n"), "{}", render.stdout);
    let out = project.run(&["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let dir = project.path().join("outbox/weekly/2016-12-09-plans");
    let mut regions: Vec<String> = std::fs::read_dir(&dir)
        .expect("outbox")
        // Quoted-printable: soft line breaks (`=` CRLF) may stand anywhere.
        .map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("eml").replace("=\r\n", ""))
        .filter_map(|m| m.split("Region: [").nth(1).and_then(|r| r.split(']').next()).map(str::to_owned))
        .collect();
    regions.sort();
    assert_eq!(regions, ["London", "Midlands", "North West"]);
}

#[test]
fn audience_reports_the_change_since_the_previous_send() {
    let project = Project::fixture("send");
    let config = project.read("letterpress.yaml").replace("transport: smtp", "transport: outbox");
    project.write("letterpress.yaml", &config);
    assert_eq!(project.run(&["send", ISSUE, "--yes"]).code, 0);
    project.write(
        "content/weekly/2016-12-16-leaders.md",
        "---\ntitle: \"Who leads the STPs?\"\nstatus: ready\n---\n\nLeaders.\n",
    );
    assert_eq!(project.run(&["unsubscribe", "tom@example.net"]).code, 0);
    assert_eq!(project.run(&["subscribers", "add", "readers", "new@example.org", "--name", "New Reader"]).code, 0);
    let out = project.run(&["audience", "weekly/2016-12-16-leaders", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(json["change"]["since"], ISSUE, "{json:#}");
    assert_eq!(json["change"]["new"], 1, "{json:#}");
    assert_eq!(json["change"]["gone"], 1, "{json:#}");
    let text = project.run(&["audience", "weekly/2016-12-16-leaders"]).stdout;
    assert!(text.contains("since `weekly/2016-12-09-plans`: +1 new, \u{2212}1 gone"), "{text}");
}

#[test]
fn audience_dry_run_export_and_send_agree_on_who_is_mailed() {
    let project = Project::fixture("send");
    let config = project.read("letterpress.yaml").replace("transport: smtp", "transport: outbox");
    project.write("letterpress.yaml", &config);
    // Ruth's second row unsubscribes her from this list; Tom is suppressed; Ann's address comes twice.
    project.write(
        "subscribers/readers.csv",
        "email,name,region,status\n\
         ruth@example.org,Ruth Akande,London,active\n\
         ann@example.org,Ann Lee,Wessex,active\n\
         tom@example.net,Tom Ellery,Midlands,active\n\
         ANN@example.org,Ann Lee,Wessex,active\n\
         ruth@example.org,Ruth Akande,London,unsubscribed\n\
         siobhan@example.org,Siobhán O’Neill,North West,active\n",
    );
    assert_eq!(project.run(&["unsubscribe", "tom@example.net"]).code, 0);
    let audience = project.run(&["audience", ISSUE, "--format", "json"]);
    assert_eq!(audience.code, 0, "{}", audience.stderr);
    let json: serde_json::Value = serde_json::from_str(&audience.stdout).expect("json");
    assert_eq!(json["total"], 2, "{json:#}");
    assert_eq!(json["lists"][0]["suppressed"], 1, "{json:#}");
    assert_eq!(json["lists"][0]["duplicates"], 2, "{json:#}");
    let export = project.run(&["subscribers", "export", "readers"]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let exported: Vec<_> = export.stdout.lines().skip(1).map(|l| l.split(',').next().unwrap_or_default()).collect();
    assert_eq!(exported, ["ann@example.org", "siobhan@example.org"]);
    let dry = project.run(&["send", ISSUE, "--dry-run"]);
    assert!(dry.stderr.contains("2 messages composed"), "{}", dry.stderr);
    assert!(dry.stderr.contains("2 duplicates folded, 2 not active or suppressed"), "{}", dry.stderr);
    let sent = project.run(&["send", ISSUE, "--yes"]);
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    let log = project.run(&["log", ISSUE, "--format", "csv"]);
    let mailed: Vec<_> = log.stdout.lines().skip(1).map(|l| l.split(',').next().unwrap_or_default()).collect();
    assert_eq!(mailed, ["ann@example.org", "siobhan@example.org"], "{}", log.stdout);
}

#[test]
fn a_list_run_leaves_the_other_lists_to_the_next_due_run_exactly_once() {
    let (project, server) = setup(ServerConfig::default(), 0);
    let config = project
        .read("letterpress.yaml")
        .replace("lists: [readers]", "lists: [readers, members]")
        .replace("    name: \"Readers\"\n", "    name: \"Readers\"\n  - slug: members\n    name: \"Members\"\n");
    project.write("letterpress.yaml", &config);
    project.write("subscribers/members.csv", "email,name\nann@example.org,Ann Lee\nbob@example.org,Bob Hale\n");
    let first = send(&project, &server, &["send", ISSUE, "--list", "readers", "--yes"]);
    assert_eq!(first.code, 3, "the send is not finished: {}", first.stderr);
    assert!(first.stderr.contains("`members`"), "names what remains: {}", first.stderr);
    let recipients = per_recipient(&server);
    assert_eq!(recipients.len(), 3, "only the readers: {recipients:?}");
    let status = journal_status(&project);
    assert_eq!(status["send"]["state"], "stopped", "{status:#}");
    assert!(status["send"]["note"].as_str().is_some_and(|n| n.contains("`members`")), "{status:#}");
    let due = send(&project, &server, &["send", "--due"]);
    assert_eq!(due.code, 0, "{}", due.stderr);
    let recipients = per_recipient(&server);
    assert_eq!(recipients.len(), 5, "{recipients:?}");
    assert!(recipients.values().all(|&n| n == 1), "{recipients:?}");
    assert_eq!(journal_status(&project)["send"]["state"], "complete");
}

#[test]
fn sigterm_finishes_the_messages_in_flight_and_the_rerun_sends_the_rest_once() {
    // The relay holds the first messages' replies until the run has taken the signal, so the
    // signal comes mid-send whatever the machine's speed.
    let gate = Gate::closed();
    let (project, server) = setup(ServerConfig::default().hold(&gate), 60);
    let url = server.url();
    let env = [("LETTERPRESS_SMTP_URL", url.as_str()), ("LP_TEST_SMTP_PASSWORD", PASSWORD)];
    let mut child = project
        .command(&["send", ISSUE, "--yes"])
        .envs(env)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    assert!(gate.wait_for_reached(1, Duration::from_secs(20)), "the send got going");
    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(kill.success());
    // The run says it is stopping once it has stopped taking recipients; then the messages in
    // flight get their replies.
    let mut stderr = String::new();
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    while !stderr.contains("SIGTERM: finishing the messages in flight") {
        let read = std::io::BufRead::read_line(&mut lines, &mut stderr).expect("read stderr");
        assert_ne!(read, 0, "the run ended without taking the signal: {stderr}");
    }
    gate.open();
    std::io::Read::read_to_string(&mut lines, &mut stderr).expect("read stderr");
    let out = child.wait().expect("wait");
    assert_eq!(out.code(), Some(3), "incomplete, not killed: {stderr}");
    assert!(stderr.contains("stopped by SIGTERM") && stderr.contains("the next run resumes"), "{stderr}");
    let status = journal_status(&project);
    assert_eq!(status["counts"]["uncertain"], 0, "{status:#}");
    assert_eq!(status["counts"]["inflight"], 0, "{status:#}");
    assert_eq!(status["send"]["state"], "stopped", "{status:#}");
    let sent_before = status["counts"]["sent"].as_u64().expect("sent");
    // At most one message per connection (the fixture's four) was out when the signal came.
    assert!((1..=4).contains(&sent_before), "stopped early: {status:#}");
    assert_eq!(
        u64::try_from(server.received().len()).expect("count"),
        sent_before,
        "every accepted message is recorded"
    );
    let rerun = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let recipients = per_recipient(&server);
    assert_eq!(recipients.len(), 63);
    assert!(recipients.values().all(|&n| n == 1), "{recipients:?}");
}

/// Moves the fixture issue's `send_at` to half an hour before the tests' fixed now.
pub(crate) fn due_recently(project: &Project) {
    let text = project.read("content/weekly/2016-12-09-plans.md");
    project.write(
        "content/weekly/2016-12-09-plans.md",
        &text.replace("2016-12-09T07:00:00+00:00", "2026-11-22T09:00:00+00:00"),
    );
}

#[test]
fn due_skips_an_issue_long_past_its_send_at_that_never_started() {
    let (project, server) = setup(ServerConfig::default(), 0);
    let stale = send(&project, &server, &["send", "--due"]);
    assert_eq!(stale.code, 0, "{}", stale.stderr);
    assert!(
        stale.stderr.contains("warning: `weekly/2016-12-09-plans` was due at 2016-12-09T07:00:00Z"),
        "{}",
        stale.stderr
    );
    assert!(stale.stderr.contains("letterpress send weekly/2016-12-09-plans"), "{}", stale.stderr);
    assert_eq!(server.received().len(), 0, "a years-old issue is not sent by cron");
    let by_hand = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(by_hand.code, 0, "{}", by_hand.stderr);
    assert_eq!(server.received().len(), 3, "sent by hand whatever its age");
}

#[test]
fn an_issue_long_past_its_send_at_is_still_sent_by_hand_and_then_resumed_by_due() {
    let (project, server) = setup(deferring_tom(), 0);
    assert_eq!(send(&project, &server, &["send", ISSUE, "--yes"]).code, 3);
    assert_eq!(server.received().len(), 2);
    let due = send(&project, &server, &["send", "--due"]);
    assert_eq!(due.code, 3, "a started send is resumed whatever its age: {}", due.stderr);
    assert!(!due.stderr.contains("warning"), "{}", due.stderr);
}

#[test]
fn a_recipient_deferred_run_after_run_fails_after_max_attempts() {
    let (config, tries) = refusing_tom(Reply::new(452, "4.2.2 mailbox full"));
    let (project, server) = setup(config, 0);
    let limited = project.read("letterpress.yaml").replace("  timeout: 10\n", "  timeout: 10\n  max-attempts: 3\n");
    project.write("letterpress.yaml", &limited);
    // `retries: 1`: two attempts a run, so the third attempt, in the second run, is the last.
    assert_eq!(send(&project, &server, &["send", ISSUE, "--yes"]).code, 3);
    assert_eq!(journal_status(&project)["counts"]["deferred"], 1);
    assert_eq!(send(&project, &server, &["send", ISSUE, "--yes"]).code, 3);
    let status = journal_status(&project);
    assert_eq!(status["counts"]["failed"], 1, "{status:#}");
    assert_eq!(status["counts"]["deferred"], 0, "{status:#}");
    assert_eq!(status["send"]["state"], "complete", "{status:#}");
    let tom = status["recipients"].as_array().expect("recipients").iter().find(|r| r["email"] == "tom@example.net");
    let reply = tom.and_then(|r| r["reply"].as_str()).unwrap_or_default();
    assert!(reply.contains("452 4.2.2 mailbox full") && reply.contains("3 attempts"), "{status:#}");
    assert_eq!(project.run(&["suppressions"]).stdout, "", "a temporary failure suppresses nobody");
    assert_eq!(send(&project, &server, &["send", "--due"]).code, 0, "complete: cron leaves it alone");
    assert_eq!(tries.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(server.received().len(), 2);
}

#[test]
fn a_relay_that_refuses_to_greet_is_named_with_its_reply_and_nothing_is_sent() {
    let config = ServerConfig::default().fault(|event| match event {
        Event::Connect { .. } => Some(Reply::new(554, "5.3.2 no service here").then_close()),
        _ => None,
    });
    let (project, server) = setup(config, 0);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert!(
        out.stderr.contains("`127.0.0.1` refused the connection: 554 5.3.2 no service here; nothing was sent"),
        "{}",
        out.stderr
    );
    assert_eq!(out.code, 3, "incomplete: the next run retries: {}", out.stderr);
    assert_eq!(server.received().len(), 0);
}
