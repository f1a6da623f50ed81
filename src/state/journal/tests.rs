use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::*;
use crate::state::testing::Fresh;
use crate::state::{Reason, Scope};
use DeliveryStatus as S;

mod records;

const ISSUE: &str = "weekly/hello";

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn t0() -> Timestamp {
    at("2024-03-01T09:00:00Z")
}

fn open(t: &Fresh) -> State {
    t.open()
}

fn recipient(key: &str, list: &str) -> NewRecipient {
    NewRecipient {
        address_key: key.to_lowercase(),
        email: key.to_owned(),
        name: format!("Reader {key}"),
        attrs: BTreeMap::from([("plan".to_owned(), "pro".to_owned())]),
        list: list.to_owned(),
        token_id: None,
        message_id: None,
    }
}

fn audience(keys: &[&str]) -> Vec<NewRecipient> {
    keys.iter().map(|k| recipient(k, "news")).collect()
}

fn update(key: &str, status: DeliveryStatus) -> Update {
    Update {
        address_key: key.to_owned(),
        status,
        code: None,
        reply: None,
        message_id: None,
        token_id: None,
        attempted: false,
        relay: None,
    }
}

/// A journal for [`ISSUE`] holding `keys`, all pending.
fn journal(t: &Fresh, keys: &[&str]) -> State {
    let mut state = open(t);
    assert_eq!(state.start_send(ISSUE, "hash-1", t0(), false).unwrap(), None);
    assert_eq!(state.add_recipients(ISSUE, audience(keys).into_iter(), t0()).unwrap(), keys.len());
    state
}

fn statuses(state: &State) -> Vec<(String, DeliveryStatus)> {
    state.deliveries(ISSUE, &[]).unwrap().into_iter().map(|d| (d.address_key, d.status)).collect()
}

/// The updates that take a pending row to `status` by allowed steps.
fn path_to(status: DeliveryStatus) -> &'static [DeliveryStatus] {
    match status {
        S::Pending | S::Bounced => &[],
        S::Inflight => &[S::Inflight],
        S::Sent => &[S::Inflight, S::Sent],
        S::Failed => &[S::Failed],
        S::Deferred => &[S::Inflight, S::Deferred],
        S::Uncertain => &[S::Inflight, S::Uncertain],
        S::Suppressed => &[S::Suppressed],
    }
}

fn apply_allows_exactly_the_transitions_of_the_table(t: &Fresh) {
    let keys: Vec<String> =
        S::ALL.iter().flat_map(|from| S::ALL.iter().map(move |to| format!("{from:?}-{to:?}@example.org"))).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut state = journal(t, &keys);
    // `bounced` is set by the bounce loop (`state/bounces.rs`), never reached through `apply`.
    for from in S::ALL.into_iter().filter(|s| *s != S::Bounced) {
        for to in S::ALL {
            let key = format!("{from:?}-{to:?}@example.org").to_lowercase();
            for &step in path_to(from) {
                state.apply(ISSUE, &[update(&key, step)], t0()).unwrap();
            }
            let result = state.apply(ISSUE, &[update(&key, to)], t0());
            let now = state.deliveries(ISSUE, &[]).unwrap().into_iter().find(|d| d.address_key == key).unwrap().status;
            if from.can_become(to) {
                assert!(result.is_ok(), "{from:?} -> {to:?}: {result:?}");
                assert_eq!(now, to);
            } else {
                let message = result.unwrap_err().to_string();
                assert!(message.contains(&format!("refusing to mark `{key}` `{}`", to.as_str())), "{message}");
                assert_eq!(now, from, "a refused change leaves the row as it was");
            }
        }
    }
}

fn a_sent_recipient_cannot_be_sent_again(t: &Fresh) {
    let mut state = journal(t, &["bob@example.org"]);
    let sent = [update("bob@example.org", S::Inflight), update("bob@example.org", S::Sent)];
    state.apply(ISSUE, &sent, t0()).unwrap();
    let e = state.apply(ISSUE, &[update("bob@example.org", S::Inflight)], t0()).unwrap_err();
    let shown = t.path();
    assert_eq!(
        e.to_string(),
        format!(
            "failed to update `{}`: refusing to mark `bob@example.org` `inflight` in the journal of `weekly/hello`: \
             it is already `sent`, and sending again would deliver it twice",
            shown.display()
        )
    );
    let e = state.apply(ISSUE, &[update("nobody@example.org", S::Inflight)], t0()).unwrap_err();
    assert!(e.to_string().ends_with(": `nobody@example.org` is not in the journal of `weekly/hello`"), "{e}");
}

fn a_refused_change_rolls_back_the_whole_batch(t: &Fresh) {
    let mut state = journal(t, &["a@x.org", "b@x.org", "c@x.org"]);
    state.apply(ISSUE, &[update("b@x.org", S::Suppressed)], t0()).unwrap();
    let batch = [update("a@x.org", S::Inflight), update("b@x.org", S::Inflight), update("c@x.org", S::Failed)];
    let e = state.apply(ISSUE, &batch, t0()).unwrap_err();
    assert!(e.to_string().contains("`b@x.org`"), "the error names the address: {e}");
    let expected = [("a@x.org", S::Pending), ("b@x.org", S::Suppressed), ("c@x.org", S::Pending)];
    assert_eq!(statuses(&state), expected.map(|(k, s)| (k.to_owned(), s)));
    assert_eq!(state.deliveries(ISSUE, &[S::Pending]).unwrap().iter().map(|d| d.attempts).sum::<u32>(), 0);
}

fn updates_record_replies_and_attempts_and_keep_what_they_do_not_say(t: &Fresh) {
    let mut state = journal(t, &["bob@example.org"]);
    let inflight = Update {
        message_id: Some("<x@example.org>".to_owned()),
        token_id: Some("tok-1".to_owned()),
        ..update("bob@example.org", S::Inflight)
    };
    let deferred = Update {
        code: Some(451),
        reply: Some("4.7.1 try later".to_owned()),
        attempted: true,
        ..update("bob@example.org", S::Deferred)
    };
    state.apply(ISSUE, &[inflight, deferred], at("2024-03-01T09:00:01.750Z")).unwrap();
    state.recover(ISSUE, false, t0()).unwrap();
    let sent = Update {
        code: Some(250),
        reply: Some("2.0.0 queued".to_owned()),
        attempted: true,
        relay: Some("backup".to_owned()),
        ..update("bob@example.org", S::Sent)
    };
    state.apply(ISSUE, &[update("bob@example.org", S::Inflight), sent], at("2024-03-01T09:05:00.5Z")).unwrap();
    let row = state.deliveries(ISSUE, &[]).unwrap().remove(0);
    assert_eq!(
        row,
        Delivery {
            issue: ISSUE.to_owned(),
            address_key: "bob@example.org".to_owned(),
            email: "bob@example.org".to_owned(),
            name: "Reader bob@example.org".to_owned(),
            attrs: BTreeMap::from([("plan".to_owned(), "pro".to_owned())]),
            list: "news".to_owned(),
            seq: 1,
            status: S::Sent,
            attempts: 2,
            code: Some(250),
            reply: Some("2.0.0 queued".to_owned()),
            message_id: Some("<x@example.org>".to_owned()),
            token_id: Some("tok-1".to_owned()),
            updated_at: at("2024-03-01T09:05:00Z"),
            relay: Some("backup".to_owned()),
        }
    );
    let json = serde_json::to_value(&row).unwrap();
    assert_eq!(json["status"], "sent");
    assert_eq!(json["updated_at"], "2024-03-01T09:05:00Z", "RFC 3339, to the second");
}

fn adding_the_audience_again_adds_nothing_and_duplicates_fold(t: &Fresh) {
    let mut state = open(t);
    state.start_send(ISSUE, "hash-1", t0(), false).unwrap();
    let first = [
        recipient("Ann@example.org", "news"),
        recipient("bob@example.org", "news"),
        recipient("ANN@example.org", "extra"),
    ];
    assert_eq!(state.add_recipients(ISSUE, first.into_iter(), t0()).unwrap(), 2, "ann is on two lists");
    let again = [
        recipient("bob@example.org", "news"),
        recipient("ann@example.org", "extra"),
        recipient("cy@example.org", "news"),
    ];
    assert_eq!(state.add_recipients(ISSUE, again.into_iter(), t0()).unwrap(), 1);
    let rows = state.deliveries(ISSUE, &[]).unwrap();
    let seen: Vec<_> = rows.iter().map(|d| (d.seq, d.email.as_str(), d.list.as_str())).collect();
    assert_eq!(seen, [(1, "Ann@example.org", "news"), (2, "bob@example.org", "news"), (3, "cy@example.org", "news")]);
    assert_eq!(state.add_recipients("weekly/other", audience(&["ann@example.org"]).into_iter(), t0()).unwrap(), 1);
    assert_eq!(state.deliveries("weekly/other", &[]).unwrap()[0].seq, 1, "each issue counts from 1");
}

fn audience_order_is_stable_across_chunks_and_resumes(t: &Fresh) {
    const N: usize = 25_000;
    let keys: Vec<String> = (0..N).map(|i| format!("r{:05}@example.org", N - i)).collect();
    let members = || keys.iter().map(|k| recipient(k, "news"));
    let mut state = open(t);
    state.start_send(ISSUE, "hash-1", t0(), false).unwrap();
    assert_eq!(state.add_recipients(ISSUE, members().take(12_345), t0()).unwrap(), 12_345);
    let first_page: Vec<_> = state.pending(ISSUE, 0, 3).unwrap().into_iter().map(|d| (d.seq, d.address_key)).collect();
    assert_eq!(first_page, [(1, keys[0].clone()), (2, keys[1].clone()), (3, keys[2].clone())]);
    let done: Vec<_> = (0..100).flat_map(|i| [update(&keys[i], S::Inflight), update(&keys[i], S::Sent)]).collect();
    state.apply(ISSUE, &done, t0()).unwrap();
    drop(state);

    let mut state = open(t);
    assert_eq!(state.add_recipients(ISSUE, members(), t0()).unwrap(), N - 12_345, "the killed run's rows stay");
    let mut seqs = Vec::with_capacity(N);
    state
        .for_each_delivery(ISSUE, |d| {
            assert_eq!(d.address_key, keys[seqs.len()]);
            seqs.push(d.seq);
            Ok(())
        })
        .unwrap();
    assert!(seqs.iter().copied().eq(1..=i64::try_from(N).unwrap()), "seq is 1..=N in audience order");
    let page = state.pending(ISSUE, 0, 2).unwrap();
    assert_eq!((page[0].seq, page[1].seq), (101, 102), "paging skips the sent rows");
    let page = state.pending(ISSUE, 20_000, 10_000).unwrap();
    assert_eq!((page.len(), page[0].seq), (5_000, 20_001));
    assert_eq!(state.counts(ISSUE).unwrap(), Counts { pending: N - 100, sent: 100, total: N, ..Counts::default() });
}

fn for_each_delivery_stops_at_the_first_error(t: &Fresh) {
    let state = journal(t, &["a@example.org", "b@example.org", "c@example.org"]);
    let mut seen = Vec::new();
    let result = state.for_each_delivery(ISSUE, |d| {
        seen.push(d.seq);
        if d.seq == 2 { Err(Error::usage("stop")) } else { Ok(()) }
    });
    assert_eq!(result.unwrap_err().to_string(), "stop");
    assert_eq!(seen, [1, 2]);
}

fn recover_marks_the_killed_runs_messages_uncertain_and_requeues_deferred(t: &Fresh) {
    let keys = ["p@x.org", "i1@x.org", "i2@x.org", "s@x.org", "d@x.org", "u@x.org", "f@x.org"];
    let mut state = journal(t, &keys);
    let to = |key: &str, status| path_to(status).iter().map(|&s| update(key, s)).collect::<Vec<_>>();
    for (key, status) in
        keys.iter().zip([S::Pending, S::Inflight, S::Inflight, S::Sent, S::Deferred, S::Uncertain, S::Failed])
    {
        state.apply(ISSUE, &to(key, status), t0()).unwrap();
    }
    assert_eq!(state.recover(ISSUE, false, t0()).unwrap(), Recovered { uncertain: 2, requeued: 1 });
    let counts = Counts { pending: 2, sent: 1, failed: 1, uncertain: 3, total: 7, ..Counts::default() };
    assert_eq!(state.counts(ISSUE).unwrap(), counts);
    let uncertain: Vec<_> =
        state.deliveries(ISSUE, &[S::Uncertain]).unwrap().into_iter().map(|d| d.address_key).collect();
    assert_eq!(uncertain, ["i1@x.org", "i2@x.org", "u@x.org"]);
    assert_eq!(state.recover(ISSUE, false, t0()).unwrap(), Recovered::default(), "a second recover changes nothing");

    state.apply(ISSUE, &to("p@x.org", S::Inflight), t0()).unwrap();
    assert_eq!(state.recover(ISSUE, true, t0()).unwrap(), Recovered { uncertain: 1, requeued: 4 });
    assert_eq!(state.counts(ISSUE).unwrap(), Counts { pending: 5, sent: 1, failed: 1, total: 7, ..Counts::default() });
}

fn deliveries_filter_by_status_in_audience_order(t: &Fresh) {
    let mut state = journal(t, &["a@x.org", "b@x.org", "c@x.org", "d@x.org"]);
    let batch = [update("d@x.org", S::Failed), update("b@x.org", S::Suppressed), update("a@x.org", S::Failed)];
    state.apply(ISSUE, &batch, t0()).unwrap();
    let keys = |statuses: &[S]| -> Vec<String> {
        state.deliveries(ISSUE, statuses).unwrap().into_iter().map(|d| d.address_key).collect()
    };
    assert_eq!(keys(&[S::Failed, S::Suppressed]), ["a@x.org", "b@x.org", "d@x.org"]);
    assert_eq!(keys(&[S::Pending, S::Pending]), ["c@x.org"]);
    assert_eq!(keys(&[]).len(), 4);
    assert!(keys(&[S::Sent]).is_empty());
}

fn a_reader_sees_committed_counts_while_a_writer_runs(t: &Fresh) {
    let writer = journal(t, &["a@x.org", "b@x.org"]);
    let reader = open(t);
    let tx = writer.conn.begin(true).unwrap();
    writer.conn.execute("UPDATE deliveries SET status = 'failed' WHERE address_key = 'a@x.org'", &[]).unwrap();
    let started = Instant::now();
    assert_eq!(reader.counts(ISSUE).unwrap(), Counts { pending: 2, total: 2, ..Counts::default() });
    assert!(started.elapsed() < Duration::from_secs(1), "WAL readers do not wait for the writer");
    tx.commit().unwrap();
    assert_eq!(reader.counts(ISSUE).unwrap().failed, 1);

    // A writer adding 50,000 rows in another thread: a reader only ever sees whole chunks.
    let store = t.store.clone();
    let adding = std::thread::spawn(move || {
        let mut state = State::open_store(&store).unwrap();
        let members = (0..50_000).map(|i| recipient(&format!("m{i}@x.org"), "news"));
        state.add_recipients(ISSUE, members, t0()).unwrap()
    });
    while !adding.is_finished() {
        let total = reader.counts(ISSUE).unwrap().total;
        assert_eq!((total - 2) % 10_000, 0, "saw {total} rows: a chunk half-written");
    }
    assert_eq!(adding.join().unwrap(), 50_000);
    assert_eq!(reader.counts(ISSUE).unwrap().total, 50_002);
}

fn a_token_finds_the_address_and_list_it_was_sent_to(t: &Fresh) {
    let mut state = journal(t, &["Ann@x.org", "bob@x.org"]);
    let with_token = |key: &str, token: &str| Update { token_id: Some(token.to_owned()), ..update(key, S::Inflight) };
    state.apply(ISSUE, &[with_token("ann@x.org", "t-ann"), with_token("bob@x.org", "t-bob")], t0()).unwrap();
    state.start_send("weekly/later", "h", t0(), false).unwrap();
    state.add_recipients("weekly/later", [recipient("ann@x.org", "extra")].into_iter(), t0()).unwrap();
    state.apply("weekly/later", &[with_token("ann@x.org", "t-ann")], at("2024-04-01T00:00:00Z")).unwrap();
    assert_eq!(state.find_token("t-ann").unwrap(), Some(("ann@x.org".to_owned(), "extra".to_owned())));
    assert_eq!(state.find_token("t-bob").unwrap(), Some(("bob@x.org".to_owned(), "news".to_owned())));
    assert_eq!(state.find_token("t-nobody").unwrap(), None);
}

fn an_inflight_mark_withholds_a_recipient_suppressed_since_the_audience_was_taken(t: &Fresh) {
    let mut state = journal(t, &["ann@x.org", "bob@x.org", "cat@x.org", "dan@x.org"]);
    let unsubscribed = Reason::Unsubscribed;
    state.suppress("bob@x.org", &Scope::All, unsubscribed, "test", t0()).unwrap();
    state.suppress("cat@x.org", &Scope::List("news".to_owned()), unsubscribed, "test", t0()).unwrap();
    state.suppress("dan@x.org", &Scope::List("other".to_owned()), unsubscribed, "test", t0()).unwrap();
    let marks: Vec<_> = ["ann@x.org", "bob@x.org", "cat@x.org", "dan@x.org"].map(|k| update(k, S::Inflight)).into();
    let withheld = state.apply(ISSUE, &marks, t0()).unwrap();
    assert_eq!(withheld, ["bob@x.org", "cat@x.org"], "suppressed globally or for the row's list");
    assert_eq!(
        statuses(&state),
        [
            ("ann@x.org".to_owned(), S::Inflight),
            ("bob@x.org".to_owned(), S::Suppressed),
            ("cat@x.org".to_owned(), S::Suppressed),
            ("dan@x.org".to_owned(), S::Inflight),
        ]
    );
    // Later updates are not affected: a row already in flight finishes as usual.
    state.suppress("ann@x.org", &Scope::All, unsubscribed, "test", t0()).unwrap();
    assert_eq!(state.apply(ISSUE, &[update("ann@x.org", S::Sent)], t0()).unwrap(), Vec::<String>::new());
}

crate::state::testing::both!(
    apply_allows_exactly_the_transitions_of_the_table,
    a_sent_recipient_cannot_be_sent_again,
    a_refused_change_rolls_back_the_whole_batch,
    updates_record_replies_and_attempts_and_keep_what_they_do_not_say,
    adding_the_audience_again_adds_nothing_and_duplicates_fold,
    audience_order_is_stable_across_chunks_and_resumes,
    for_each_delivery_stops_at_the_first_error,
    recover_marks_the_killed_runs_messages_uncertain_and_requeues_deferred,
    deliveries_filter_by_status_in_audience_order,
    a_reader_sees_committed_counts_while_a_writer_runs,
    a_token_finds_the_address_and_list_it_was_sent_to,
    an_inflight_mark_withholds_a_recipient_suppressed_since_the_audience_was_taken,
);
