//! `send --due` from cron on two hosts at the same minute, with the state store on PostgreSQL
//! (issue 14): one sends, or both share the work — never the same recipient twice.
//!
//! The relay holds every end-of-data reply ([`Gate`]) until both runs have claimed rows of the
//! send, so the two overlap on a condition the test checks in the journal, not on timing; then
//! it lets them finish. Ignored unless asked for: they need PostgreSQL's server binaries, which
//! `.ci/run` installs.

use std::collections::BTreeMap;
use std::process::Output;

use crate::postgres::{cluster, rows};
use crate::send::{ISSUE, due_recently, per_recipient, setup};
use crate::senders::{claiming_runs, sender_env, spawn, until_claimed_by};
use crate::smtp::{Gate, ServerConfig};

/// More than one page of the journal (256 rows), so a first run held at the relay leaves rows
/// for the second to claim.
const EXTRA: usize = 600;
/// The fixture's own readers plus `EXTRA`.
const AUDIENCE: usize = EXTRA + 3;

fn said(outputs: &[&Output]) -> String {
    outputs.iter().map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).collect::<Vec<_>>().join("\n---\n")
}

#[test]
#[ignore = "needs PostgreSQL; run by .ci/run"]
fn two_due_runs_at_the_same_minute_share_the_send_and_deliver_each_recipient_once() {
    let gate = Gate::closed();
    let (project, server) = setup(ServerConfig::default().hold(&gate), EXTRA);
    due_recently(&project);
    // Held replies must not time the senders out while the test waits for the second.
    let config = project.read("letterpress.yaml").replace("timeout: 10", "timeout: 300");
    project.write("letterpress.yaml", &config);
    let url = cluster::fresh_database();
    let smtp = server.url();
    let env = sender_env(&smtp, &url);
    let due = ["send", "--due"];
    let (mut a, mut b) = (spawn(&project, &due, &env), spawn(&project, &due, &env));
    until_claimed_by(2, &url, &mut [&mut a, &mut b]);
    let overlapped = claiming_runs(&url);
    gate.open();
    let (a, b) = (a.wait_with_output().expect("wait"), b.wait_with_output().expect("wait"));
    let said = said(&[&a, &b]);
    assert_eq!((a.status.code(), b.status.code()), (Some(0), Some(0)), "{said}");
    assert_eq!(overlapped, 2, "both runs claimed rows while the relay held the first: {said}");
    assert!(said.contains("joining the senders of `weekly/2016-12-09-plans`"), "{said}");

    let received = per_recipient(&server);
    assert_eq!(received.len(), AUDIENCE, "{said}");
    assert!(received.values().all(|&n| n == 1), "a recipient got two copies: {said}");
    assert_eq!(server.received().len(), AUDIENCE, "one message per recipient");
    let journal: BTreeMap<String, String> =
        rows(&url, &format!("SELECT status, COUNT(*) FROM deliveries WHERE issue = '{ISSUE}' GROUP BY status"))
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect();
    assert_eq!(journal, BTreeMap::from([("sent".to_owned(), AUDIENCE.to_string())]), "{said}");
    assert_eq!(rows(&url, "SELECT issue, state FROM sends"), [vec![ISSUE.to_owned(), "complete".to_owned()]]);
    let per_run = rows(&url, &format!("SELECT COUNT(*) FROM deliveries WHERE issue = '{ISSUE}' GROUP BY claimed_by"));
    assert_eq!(per_run.len(), 2, "each run sent a share: {per_run:?}");

    // The next minute's cron run finds the send complete and sends nothing.
    let third = project.run_env(&["send", "--due"], &env);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert!(third.stderr.contains("nothing is due"), "{}", third.stderr);
    assert_eq!(server.received().len(), AUDIENCE, "the third run sent nothing");
}
