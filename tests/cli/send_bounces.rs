//! Bounces during a send: a sprinkling of dead addresses is suppressed as before, but a relay
//! that refuses everyone as unknown trips the breaker, suppresses nobody and leaves the streak
//! `deferred` (the fixture's `circuit-breaker` is 5).

use crate::send::{ISSUE, journal_status, per_recipient, send, setup};
use crate::smtp::{Event, Reply, ServerConfig};

fn unknown() -> Reply {
    Reply::new(550, "5.1.1 no such user")
}

#[test]
fn a_sprinkling_of_dead_addresses_is_suppressed_as_before() {
    let dead = ["reader00003@example.org", "reader00004@example.org", "reader00017@example.org"];
    let config = ServerConfig::default()
        .fault(move |event| matches!(event, Event::Rcpt { to, .. } if dead.contains(&to.as_str())).then(unknown));
    let (project, server) = setup(config, 30);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 3, "finished with failures: {}", out.stderr);
    let status = journal_status(&project);
    assert_eq!(status["counts"]["failed"], 3, "{status:#}");
    assert_eq!(status["counts"]["deferred"], 0, "{status:#}");
    assert_eq!(status["counts"]["sent"], 30, "{status:#}");
    assert_eq!(status["send"]["state"], "complete", "{status:#}");
    let suppressions = project.run(&["suppressions"]).stdout;
    for address in dead {
        assert!(suppressions.contains(&format!("{address}\t*\tbounced")), "{suppressions}");
    }
    assert_eq!(suppressions.lines().count(), 3, "{suppressions}");
    assert_eq!(per_recipient(&server).len(), 30);
}

#[test]
fn a_relay_that_bounces_everyone_trips_the_breaker_and_suppresses_nobody() {
    // The first three recipients get through; then the relay refuses everyone as unknown.
    let config = ServerConfig::default().fault(|event| match event {
        Event::Rcpt { to, .. } if to.starts_with("reader") => Some(unknown()),
        _ => None,
    });
    let (project, server) = setup(config, 30);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(out.stderr.contains("stopped for a bounce streak"), "{}", out.stderr);
    assert_eq!(project.run(&["suppressions"]).stdout, "", "nobody was suppressed");
    let status = journal_status(&project);
    assert_eq!(status["counts"]["failed"], 0, "{status:#}");
    assert_eq!(status["counts"]["sent"], 3, "{status:#}");
    assert!(status["counts"]["deferred"].as_u64().is_some_and(|n| n >= 5), "the streak is deferred: {status:#}");
    assert_eq!(status["send"]["state"], "stopped", "{status:#}");
    assert!(status["send"]["note"].as_str().is_some_and(|n| n.contains("bounce streak")), "{status:#}");
    let text = project.run(&["status", ISSUE]).stdout;
    assert!(text.contains("note: stopped for a bounce streak"), "{text}");
    assert_eq!(server.received().len(), 3);
}

#[test]
fn a_relay_refusing_every_recipient_from_the_start_suppresses_nobody_and_resumes_after_the_fix() {
    let broken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = std::sync::Arc::clone(&broken);
    let config = ServerConfig::default().fault(move |event| {
        (matches!(event, Event::Rcpt { .. }) && flag.load(std::sync::atomic::Ordering::SeqCst)).then(unknown)
    });
    let (project, server) = setup(config, 30);
    let out = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert_eq!(project.run(&["suppressions"]).stdout, "", "nobody was suppressed");
    let status = journal_status(&project);
    assert_eq!((status["counts"]["failed"].as_u64(), status["counts"]["sent"].as_u64()), (Some(0), Some(0)));
    // The relay is fixed: the next run sends to everyone, the streak included, once.
    broken.store(false, std::sync::atomic::Ordering::SeqCst);
    let rerun = send(&project, &server, &["send", ISSUE, "--yes"]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let recipients = per_recipient(&server);
    assert_eq!(recipients.len(), 33);
    assert!(recipients.values().all(|&n| n == 1), "{recipients:?}");
}
