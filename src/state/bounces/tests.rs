use std::collections::BTreeMap;

use super::*;
use crate::state::journal::{DeliveryStatus, NewRecipient, Update};
use crate::state::testing::Fresh;

fn t(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// The keys the tests' journal rows carry token ids of.
pub(crate) fn test_keys() -> crate::token::Keys {
    crate::token::Keys::from_secrets(vec![vec![7; 32]]).unwrap()
}

/// A complete send of `issue` started at `at`, delivered (`sent`) to every address.
pub(crate) fn sent(state: &mut State, issue: &str, at: &str, addresses: &[&str]) {
    state.start_send(issue, "hash", t(at), false).unwrap();
    let audience = addresses.iter().map(|a| NewRecipient {
        address_key: crate::address::address_key(a),
        email: (*a).to_owned(),
        name: String::new(),
        attrs: BTreeMap::new(),
        list: "news".to_owned(),
        token_id: Some(test_keys().token_id(a)),
        message_id: None,
    });
    state.add_recipients(issue, audience, t(at)).unwrap();
    let mut updates = Vec::new();
    for a in addresses {
        let update = |status, message_id: Option<String>| Update {
            address_key: crate::address::address_key(a),
            status,
            code: Some(250),
            reply: Some("2.0.0 queued".to_owned()),
            message_id,
            token_id: None,
            attempted: status == DeliveryStatus::Sent,
            relay: None,
        };
        updates.push(update(DeliveryStatus::Inflight, Some(format!("<{a}/{issue}@news.example.org>"))));
        updates.push(update(DeliveryStatus::Sent, None));
    }
    state.apply(issue, &updates, t(at)).unwrap();
    state.finish_send(issue, crate::state::SendState::Complete, None, t(at)).unwrap();
}

fn event(source: &str, address: &str, verdict: &'static str, row: Option<JournalRow>) -> NewEvent {
    NewEvent {
        at: t("2024-03-02T00:00:00Z"),
        attributed: row.as_ref().map(|_| "return-path"),
        row,
        address_key: crate::address::address_key(address),
        address: address.to_owned(),
        verdict,
        status: Some("5.1.1".to_owned()),
        reply: Some(550),
        diagnostic: Some("smtp; 550 5.1.1 no such user".to_owned()),
        reason: "userunknown".to_owned(),
        source: source.to_owned(),
        origin: "test".to_owned(),
        provider: None,
    }
}

fn an_event_is_recorded_once_per_source_and_address(store: &Fresh) {
    let mut state = store.open();
    sent(&mut state, "weekly/a", "2024-03-01T09:00:00Z", &["ann@example.org", "bob@example.org"]);
    let row = state.row_by_seq("weekly/a", 1).unwrap().unwrap();
    assert_eq!(row.email, "ann@example.org");
    assert!(state.record_bounce_event(&event("<b1@mx>", "ann@example.org", "hard", Some(row.clone()))).unwrap());
    assert!(!state.record_bounce_event(&event("<b1@mx>", "ANN@example.org", "hard", Some(row.clone()))).unwrap());
    assert!(state.record_bounce_event(&event("<b1@mx>", "bob@example.org", "hard", None)).unwrap());
    assert!(state.bounce_source_seen("<b1@mx>").unwrap());
    assert!(!state.bounce_source_seen("<b2@mx>").unwrap());
    let events = state.bounce_events(&EventFilter::default()).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(
        (events[0].send.as_deref(), events[0].seq, events[0].verdict.as_str()),
        (Some("weekly/a"), Some(1), "hard")
    );
    let only_bob = EventFilter { send: None, verdict: Some("hard".to_owned()), since: Some(t("2024-03-02T00:00:00Z")) };
    assert_eq!(state.bounce_events(&only_bob).unwrap().len(), 2);
    let later = EventFilter { since: Some(t("2024-03-03T00:00:00Z")), ..EventFilter::default() };
    assert!(state.bounce_events(&later).unwrap().is_empty());
    let of_send = EventFilter { send: Some("weekly/a".to_owned()), ..EventFilter::default() };
    assert_eq!(state.bounce_events(&of_send).unwrap().len(), 1);
}

fn a_bounced_row_keeps_the_log_of_its_send_and_its_bounce(store: &Fresh) {
    let mut state = store.open();
    sent(&mut state, "weekly/a", "2024-03-01T09:00:00Z", &["ann@example.org"]);
    let row = state.row_by_message_id("ann@example.org/weekly/a@news.example.org").unwrap().unwrap();
    assert!(state.mark_bounced(&row, Some(550), "550 5.1.1 no such user", t("2024-03-02T00:00:00Z")).unwrap());
    assert!(!state.mark_bounced(&row, Some(550), "again", t("2024-03-02T00:00:00Z")).unwrap(), "only from sent");
    let delivery = &state.deliveries("weekly/a", &[DeliveryStatus::Bounced]).unwrap()[0];
    assert_eq!(delivery.reply.as_deref(), Some("sent: 2.0.0 queued; bounced: 550 5.1.1 no such user"));
    assert_eq!(delivery.code, Some(550));
    assert_eq!(state.counts("weekly/a").unwrap().bounced, 1);
}

fn rows_are_found_by_token_id_and_by_publication(store: &Fresh) {
    let mut state = store.open();
    sent(&mut state, "weekly/a", "2024-03-01T09:00:00Z", &["ann@example.org"]);
    sent(&mut state, "weekly/b", "2024-03-08T09:00:00Z", &["ann@example.org"]);
    sent(&mut state, "daily/c", "2024-03-09T09:00:00Z", &["ann@example.org"]);
    let issue = |row: Option<JournalRow>| row.map(|r| r.issue);
    assert_eq!(issue(state.latest_row_in(Some("weekly"), "ann@example.org").unwrap()).as_deref(), Some("weekly/b"));
    assert_eq!(issue(state.latest_row_in(None, "ann@example.org").unwrap()).as_deref(), Some("daily/c"));
    assert_eq!(state.latest_row_in(Some("week"), "ann@example.org").unwrap(), None);
    assert!(state.row_by_token_id(&test_keys().token_id("ann@example.org")).unwrap().is_some());
    assert_eq!(state.row_by_token_id("other").unwrap(), None);
}

fn soft_bounces_count_within_the_addresses_last_sends(store: &Fresh) {
    let mut state = store.open();
    for (i, day) in ["01", "02", "03", "04"].iter().enumerate() {
        sent(&mut state, &format!("weekly/{i}"), &format!("2024-03-{day}T09:00:00Z"), &["ann@example.org"]);
    }
    let soft = |state: &State, issue: &str, source: &str| {
        let row = state.row_by_seq(issue, 1).unwrap();
        state.record_bounce_event(&event(source, "ann@example.org", "soft", row)).unwrap();
    };
    soft(&state, "weekly/0", "<s0@mx>");
    soft(&state, "weekly/3", "<s3@mx>");
    soft(&state, "weekly/3", "<s3-again@mx>");
    assert_eq!(state.soft_bounces_within("ann@example.org", 5).unwrap(), 2, "sends, not messages");
    assert_eq!(state.soft_bounces_within("ann@example.org", 3).unwrap(), 1, "weekly/0 is out of the window");
    let counts = state.bounce_counts().unwrap();
    assert_eq!(counts.len(), 4);
    assert_eq!((counts[3].send.as_str(), counts[3].delivered, counts[3].soft, counts[3].hard), ("weekly/3", 1, 1, 0));
}

fn atomically_rolls_back_on_error(store: &Fresh) {
    let state = store.open();
    let failed: Result<(), Error> = state.atomically(|state| {
        state.record_bounce_event(&event("<b@mx>", "ann@example.org", "hard", None))?;
        Err(Error::usage("stop"))
    });
    assert!(failed.is_err());
    assert!(!state.bounce_source_seen("<b@mx>").unwrap());
}

/// A send stores each recipient's Message-ID with its row up front; the row answers to it only
/// once its message was tried, and marks that name no Message-ID keep it.
fn a_message_id_stored_up_front_finds_its_row_only_once_the_message_was_tried(store: &Fresh) {
    let mut state = store.open();
    state.start_send("weekly/a", "hash", t("2024-03-01T09:00:00Z"), false).unwrap();
    let reader = |a: &str| NewRecipient {
        address_key: crate::address::address_key(a),
        email: a.to_owned(),
        name: String::new(),
        attrs: BTreeMap::new(),
        list: "news".to_owned(),
        token_id: None,
        message_id: Some(format!("{a}.id@news.example.org")),
    };
    let audience = [reader("ann@example.org"), reader("bob@example.org")];
    assert_eq!(state.add_recipients("weekly/a", audience.into_iter(), t("2024-03-01T09:00:00Z")).unwrap(), 2);
    assert!(state.row_by_message_id("<ann@example.org.id@news.example.org>").unwrap().is_none(), "never tried");
    let mark = |status| Update {
        address_key: "ann@example.org".to_owned(),
        status,
        code: None,
        reply: None,
        message_id: None,
        token_id: None,
        attempted: status == DeliveryStatus::Inflight,
        relay: None,
    };
    state
        .apply("weekly/a", &[mark(DeliveryStatus::Inflight), mark(DeliveryStatus::Sent)], t("2024-03-01T09:00:01Z"))
        .unwrap();
    let row = state.row_by_message_id("<ann@example.org.id@news.example.org>").unwrap().unwrap();
    assert_eq!((row.email.as_str(), row.seq), ("ann@example.org", 1));
    assert!(state.row_by_message_id("bob@example.org.id@news.example.org").unwrap().is_none());
    let kept = state.deliveries("weekly/a", &[DeliveryStatus::Sent]).unwrap();
    assert_eq!(kept[0].message_id.as_deref(), Some("ann@example.org.id@news.example.org"));
}

crate::state::testing::both!(
    a_message_id_stored_up_front_finds_its_row_only_once_the_message_was_tried,
    an_event_is_recorded_once_per_source_and_address,
    a_bounced_row_keeps_the_log_of_its_send_and_its_bounce,
    rows_are_found_by_token_id_and_by_publication,
    soft_bounces_count_within_the_addresses_last_sends,
    atomically_rolls_back_on_error,
);
