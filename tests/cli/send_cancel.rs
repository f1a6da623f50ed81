//! Sends an editor can manage: cancelling a stopped or dead send, `--test` into the outbox,
//! and `status` with long issue ids.

use std::time::Duration;

use crate::harness::Project;
use crate::send::{ISSUE, PASSWORD, journal_status, refusing_tom, send, setup};
use crate::smtp::{Gate, Reply, ServerConfig};

#[test]
fn a_stopped_send_is_cancelled_and_never_resumed() {
    let (config, tries) = refusing_tom(Reply::new(451, "4.3.0 later"));
    let (project, server) = setup(config, 0);
    assert_eq!(send(&project, &server, &["send", ISSUE, "--yes"]).code, 3, "Tom is deferred");
    let unconfirmed = project.run(&["send", ISSUE, "--cancel"]);
    assert_eq!(unconfirmed.code, 2, "{}", unconfirmed.stderr);
    assert!(unconfirmed.stderr.contains("pass `--yes` to cancel"), "{}", unconfirmed.stderr);
    assert_eq!(journal_status(&project)["send"]["state"], "stopped", "refused: nothing changed");

    let cancelled = project.run(&["send", ISSUE, "--cancel", "--yes"]);
    assert_eq!(cancelled.code, 0, "{}", cancelled.stderr);
    assert!(
        cancelled.stderr.contains("0 pending and 1 deferred recipients will never be sent"),
        "{}",
        cancelled.stderr
    );
    let status = journal_status(&project);
    assert_eq!(status["send"]["state"], "cancelled", "{status:#}");
    assert_eq!(status["counts"]["deferred"], 1, "{status:#}");
    let text = project.run(&["status", ISSUE]).stdout;
    assert!(text.starts_with(&format!("{ISSUE}: cancelled")), "{text}");
    assert!(project.run(&["status"]).stdout.contains(" cancelled "), "the overview shows it");

    let tries_before = tries.load(std::sync::atomic::Ordering::SeqCst);
    let due = send(&project, &server, &["send", "--due"]);
    assert_eq!(due.code, 0, "cron skips a cancelled send: {}", due.stderr);
    let by_hand = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(by_hand.code, 2, "{}", by_hand.stderr);
    assert!(by_hand.stderr.contains("was cancelled"), "{}", by_hand.stderr);
    assert_eq!(tries.load(std::sync::atomic::Ordering::SeqCst), tries_before, "Tom was never tried again");
    assert_eq!(server.received().len(), 2);

    let again = project.run(&["send", ISSUE, "--cancel", "--yes"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("already cancelled"), "{}", again.stderr);
}

#[test]
fn a_send_whose_run_died_is_cancelled_with_its_rows_in_flight_uncertain() {
    // The relay holds every reply until the run is dead, so it dies mid-send whatever the
    // machine's speed.
    let gate = Gate::closed();
    let (project, server) = setup(ServerConfig::default().hold(&gate), 100);
    let url = server.url();
    let env = [("LETTERPRESS_SMTP_URL", url.as_str()), ("LP_TEST_SMTP_PASSWORD", PASSWORD)];
    let mut child = project
        .command(&["send", ISSUE, "--yes"])
        .envs(env)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    assert!(gate.wait_for_reached(1, Duration::from_secs(20)), "the send got going");
    let _ = child.kill(); // SIGKILL: the record stays `running`
    let _ = child.wait();
    // The relay had the messages' final dots: it delivers them, as a real one would.
    gate.open();
    assert_eq!(journal_status(&project)["send"]["state"], "running");
    let out = project.run(&["send", ISSUE, "--cancel", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let status = journal_status(&project);
    assert_eq!(status["send"]["state"], "cancelled", "{status:#}");
    assert_eq!(status["counts"]["inflight"], 0, "{status:#}");
    assert!(status["counts"]["pending"].as_u64().is_some_and(|n| n > 0), "{status:#}");
    // The killed run's last message may still be in the relay's hands: count once it is done.
    assert!(server.wait_idle(Duration::from_secs(20)), "the killed run's sessions ended");
    let received = server.received().len();
    assert_eq!(send(&project, &server, &["send", "--due"]).code, 0);
    assert_eq!(server.received().len(), received, "nothing more was sent");
}

#[test]
fn cancelling_needs_the_lock_and_a_started_unfinished_send() {
    let project = Project::fixture("send");
    let config = project.read("letterpress.yaml").replace("transport: smtp", "transport: outbox");
    project.write("letterpress.yaml", &config);
    let never = project.run(&["send", ISSUE, "--cancel", "--yes"]);
    assert_eq!(never.code, 2, "{}", never.stderr);
    assert!(never.stderr.contains("has no send to cancel: it never started"), "{}", never.stderr);
    assert_eq!(project.run(&["send", ISSUE, "--yes"]).code, 0);
    let complete = project.run(&["send", ISSUE, "--cancel", "--yes"]);
    assert_eq!(complete.code, 2, "{}", complete.stderr);
    assert!(complete.stderr.contains("is complete"), "{}", complete.stderr);
    let lock = std::fs::File::create(project.path().join(".letterpress/send.lock")).expect("lock file");
    lock.try_lock().expect("take the send lock");
    let locked = project.run(&["send", ISSUE, "--cancel", "--yes"]);
    assert_eq!(locked.code, 4, "{}", locked.stderr);
    assert!(locked.stderr.contains("another send is running"), "{}", locked.stderr);
}

#[test]
fn a_test_send_into_the_outbox_says_nobody_was_mailed() {
    let project = Project::fixture("send");
    let config = project.read("letterpress.yaml").replace("transport: smtp", "transport: outbox");
    project.write("letterpress.yaml", &config);
    let out = project.run(&["send", ISSUE, "--test", "editor@example.org"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "test copy for `editor@example.org` written to the outbox `outbox/weekly/2016-12-09-plans`; no SMTP relay is configured, so nobody was mailed"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("test copy sent"), "{}", out.stderr);
}

#[test]
fn status_keeps_its_columns_aligned_for_long_issue_ids() {
    let project = Project::fixture("send");
    let config = project.read("letterpress.yaml").replace("transport: smtp", "transport: outbox");
    project.write("letterpress.yaml", &config);
    let long = "2016-12-16-what-the-sustainability-and-transformation-plans-mean-for-your-local-hospital";
    project.write(&format!("content/weekly/{long}.md"), "---\ntitle: \"Long\"\nstatus: ready\n---\n\nBody.\n");
    assert_eq!(project.run(&["send", ISSUE, "--yes"]).code, 0);
    assert_eq!(project.run(&["send", &format!("weekly/{long}"), "--yes"]).code, 0);
    let out = project.run(&["status"]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    let column = |line: &str| line.find(" sent ").expect("sent column");
    assert_eq!(column(lines[0]), column(lines[1]), "{}", out.stdout);
    assert!(lines.iter().all(|l| l.contains(" complete ")), "{}", out.stdout);
}
