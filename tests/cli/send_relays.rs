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
