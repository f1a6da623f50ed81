//! The send records: their content hash, their end, cancelling one, and the previous audience.

use super::*;

fn a_send_record_freezes_the_content_hash_unless_allowed(t: &Fresh) {
    let state = open(t);
    assert_eq!(state.send_record(ISSUE).unwrap(), None);
    assert_eq!(state.start_send(ISSUE, "h1", t0(), false).unwrap(), None);
    state.finish_send(ISSUE, SendState::Stopped, Some("3 deferred"), at("2024-03-01T10:00:00Z")).unwrap();
    let stopped = SendRecord {
        issue: ISSUE.to_owned(),
        content_hash: "h1".to_owned(),
        started_at: t0(),
        finished_at: Some(at("2024-03-01T10:00:00Z")),
        state: SendState::Stopped,
        note: Some("3 deferred".to_owned()),
    };
    assert_eq!(state.send_record(ISSUE).unwrap().as_ref(), Some(&stopped));

    let e = state.start_send(ISSUE, "h2", at("2024-03-02T09:00:00Z"), false).unwrap_err();
    assert!(matches!(e, Error::Usage { .. }), "{e:?}");
    assert!(e.to_string().contains("`--allow-changed`"), "{e}");
    assert_eq!(state.send_record(ISSUE).unwrap().as_ref(), Some(&stopped), "a refused start changes nothing");

    assert_eq!(state.start_send(ISSUE, "h1", at("2024-03-02T09:00:00Z"), false).unwrap().as_ref(), Some(&stopped));
    let running = SendRecord { finished_at: None, state: SendState::Running, note: None, ..stopped.clone() };
    assert_eq!(state.send_record(ISSUE).unwrap().as_ref(), Some(&running), "a resume keeps the first start");
    state.start_send(ISSUE, "h2", at("2024-03-02T09:00:00Z"), true).unwrap();
    assert_eq!(state.send_record(ISSUE).unwrap().unwrap().content_hash, "h2");
    assert_eq!(state.sends().unwrap().len(), 1);
}

fn a_send_is_complete_only_when_nobody_is_left(t: &Fresh) {
    let mut state = journal(t, &["a@x.org", "b@x.org"]);
    state.apply(ISSUE, &[update("a@x.org", S::Inflight), update("a@x.org", S::Uncertain)], t0()).unwrap();
    let e = state.finish_send(ISSUE, SendState::Complete, None, t0()).unwrap_err();
    assert!(e.to_string().ends_with("1 recipients are still pending, in flight or deferred"), "{e}");
    state.apply(ISSUE, &[update("b@x.org", S::Failed)], t0()).unwrap();
    state.finish_send(ISSUE, SendState::Complete, None, t0()).unwrap();
    assert_eq!(state.send_record(ISSUE).unwrap().unwrap().state, SendState::Complete);
    let e = state.finish_send("weekly/nothing", SendState::Stopped, None, t0()).unwrap_err();
    assert!(e.to_string().ends_with("`weekly/nothing` has no send record"), "{e}");
}

fn the_previous_audience_is_the_last_complete_send_of_the_publication(t: &Fresh) {
    let mut state = open(t);
    let mut send = |issue: &str, day: u8, sent: &[&str], end: SendState| {
        state.start_send(issue, "h", at(&format!("2024-03-{day:02}T09:00:00Z")), false).unwrap();
        state.add_recipients(issue, audience(&["x@x.org"]).into_iter().chain(audience(sent)), t0()).unwrap();
        state.apply(issue, &[update("x@x.org", S::Failed)], t0()).unwrap();
        for key in sent {
            state.apply(issue, &[update(key, S::Inflight), update(key, S::Sent)], t0()).unwrap();
        }
        state.finish_send(issue, end, None, at(&format!("2024-03-{day:02}T10:00:00Z"))).unwrap();
    };
    send("weekly/one", 1, &["a@x.org", "b@x.org"], SendState::Complete);
    send("weekly/two", 8, &["b@x.org", "c@x.org"], SendState::Complete);
    send("daily/one", 9, &["d@x.org"], SendState::Complete);
    send("weekly/three", 10, &["e@x.org"], SendState::Stopped);
    let previous = |issue: &str| {
        state.previous_audience(issue).unwrap().map(|(issue, keys)| {
            let mut keys: Vec<_> = keys.into_iter().collect();
            keys.sort();
            (issue, keys)
        })
    };
    let two = Some(("weekly/two".to_owned(), vec!["b@x.org".to_owned(), "c@x.org".to_owned()]));
    assert_eq!(previous("weekly/four"), two, "a stopped send does not count");
    assert_eq!(previous("weekly/three"), two);
    assert_eq!(previous("weekly/two").unwrap().0, "weekly/one", "not itself, and not a later one");
    assert_eq!(previous("weekly/one"), None);
    assert_eq!(previous("monthly/one"), None);
    assert_eq!(previous("weekl/one"), None, "the publication is the whole part before `/`");
}

fn a_cancelled_send_keeps_its_rows_left_and_only_a_started_unfinished_send_can_be_cancelled(t: &Fresh) {
    let mut state = journal(t, &["a@x.org", "b@x.org", "c@x.org", "d@x.org"]);
    assert!(!state.cancel_send("weekly/other", "cancelled", t0()).unwrap(), "never started");
    let batch = [
        update("a@x.org", S::Inflight),
        update("a@x.org", S::Sent),
        update("b@x.org", S::Inflight),
        update("c@x.org", S::Inflight),
        update("c@x.org", S::Deferred),
    ];
    state.apply(ISSUE, &batch, t0()).unwrap();
    // The run died here, leaving it `running` with b in flight.
    assert!(state.cancel_send(ISSUE, "cancelled by hand", at("2024-03-01T10:00:00Z")).unwrap());
    let record = state.send_record(ISSUE).unwrap().unwrap();
    assert_eq!(record.state, SendState::Cancelled);
    assert_eq!(record.note.as_deref(), Some("cancelled by hand"));
    assert_eq!(record.finished_at, Some(at("2024-03-01T10:00:00Z")));
    let counts = state.counts(ISSUE).unwrap();
    assert_eq!((counts.sent, counts.uncertain, counts.deferred, counts.pending), (1, 1, 1, 1));
    assert!(!state.cancel_send(ISSUE, "again", t0()).unwrap(), "already cancelled");
    assert_eq!(state.send_record(ISSUE).unwrap().unwrap().note.as_deref(), Some("cancelled by hand"));
}

crate::state::testing::both!(
    a_send_record_freezes_the_content_hash_unless_allowed,
    a_send_is_complete_only_when_nobody_is_left,
    the_previous_audience_is_the_last_complete_send_of_the_publication,
    a_cancelled_send_keeps_its_rows_left_and_only_a_started_unfinished_send_can_be_cancelled,
);
