use std::path::Path;

use super::*;
use crate::bounces::{Original, Provider};
use crate::config::Separator;
use crate::state::bounces::tests::sent;
use crate::state::path_in;
use crate::token::return_path::ReturnPath;

/// A stand-in for `analyse`: `key: value` lines (`message-id`, `to`, `original-message-id`,
/// `list-id`, `list-unsubscribe`) and `finding: <recipient|-> <verdict> <status> [<reason>]` lines
/// (reason `userunknown` unless given).
fn fake(raw: &[u8]) -> Analysis {
    let text = String::from_utf8_lossy(raw);
    let mut analysis = Analysis::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(": ") else { continue };
        let value = value.to_owned();
        match key {
            "message-id" => analysis.message_id = Some(value),
            "to" => analysis.delivered_to.push(value),
            "original-message-id" => analysis.original.message_id = Some(value),
            "list-id" => analysis.original.list_id = Some(value),
            "list-unsubscribe" => analysis.original.list_unsubscribe = Some(value),
            "finding" => {
                let parts: Vec<&str> = value.split(' ').collect();
                let verdict = match parts[1] {
                    "hard" => Verdict::Hard,
                    "soft" => Verdict::Soft,
                    "complaint" => Verdict::Complaint,
                    "auto-reply" => Verdict::AutoReply,
                    _ => Verdict::Unknown,
                };
                analysis.findings.push(Finding {
                    recipient: (parts[0] != "-").then(|| parts[0].to_owned()),
                    verdict,
                    status: parts.get(2).map(|s| (*s).to_owned()),
                    reply: Some(550),
                    reason: parts.get(3).unwrap_or(&"userunknown").to_string(),
                    diagnostic: Some("no such user".to_owned()),
                });
            }
            _ => {}
        }
    }
    analysis
}

const AT: &str = "2024-03-20T10:00:00Z";

fn keys() -> Keys {
    Keys::from_secrets(vec![vec![7; 32]]).unwrap()
}

fn return_path() -> ReturnPath {
    ReturnPath::parse("bounces@news.example.org", Separator::Plus).unwrap()
}

fn sink(dir: &Path, soft: SoftRule) -> StoreSink {
    let state = State::open(&path_in(dir), Path::new(".letterpress/state.db")).unwrap();
    StoreSink::new(state, keys(), Some(return_path()), soft, Clock::fixed(AT.parse().unwrap()))
        .unwrap()
        .with_analyser(fake)
}

fn prepare(dir: &Path, sends: &[(&str, &str)], addresses: &[&str]) {
    let mut state = State::open(&path_in(dir), Path::new(".letterpress/state.db")).unwrap();
    for (issue, at) in sends {
        sent(&mut state, issue, at, addresses);
    }
}

fn dsn(id: &str, to: &str, finding: &str) -> Vec<u8> {
    format!("message-id: {id}\nto: {to}\nfinding: {finding}\n").into_bytes()
}

fn suppressed(sink: &StoreSink, address: &str) -> Vec<(String, crate::state::Reason)> {
    sink.state()
        .suppressions_of(address)
        .unwrap()
        .into_iter()
        .map(|s| (s.scope.as_str().to_owned(), s.reason))
        .collect()
}

#[test]
fn a_hard_bounce_to_a_return_path_marks_the_row_and_suppresses_once() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), &[("weekly/a", "2024-03-01T09:00:00Z")], &["ann@example.org", "bob@example.org"]);
    let mut sink = sink(dir.path(), SoftRule::default());
    let to = return_path().address(&keys(), "weekly/a", 2);
    // The report names a forwarding target: the token says whom we sent to.
    let raw = dsn("<b1@mx>", &to, "bob.forward@elsewhere.example hard 5.1.1");
    let (handled, effects) = sink.message_effects(&raw, "new/1").unwrap();
    assert_eq!(handled, Handled::Recorded(1));
    assert_eq!(effects, Effects { bounced: 1, suppressed: 1 });
    assert_eq!(suppressed(&sink, "bob@example.org"), [("*".to_owned(), crate::state::Reason::Bounced)]);
    assert!(suppressed(&sink, "ann@example.org").is_empty());
    assert_eq!(sink.message(&raw, "new/1").unwrap(), Handled::Duplicate);
    let events = sink.state().bounce_events(&crate::state::EventFilter::default()).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].send.as_deref(), events[0].address.as_str(), events[0].attributed.as_deref()),
        (Some("weekly/a"), "bob@example.org", Some("return-path"))
    );
    let row = &sink.state().deliveries("weekly/a", &[crate::state::DeliveryStatus::Bounced]).unwrap()[0];
    assert_eq!(row.email, "bob@example.org");
    assert_eq!(row.reply.as_deref(), Some("sent: 2.0.0 queued; bounced: 550 5.1.1 no such user"));
}

#[test]
fn the_journal_row_gives_each_code_once() {
    let event = |reply: Option<u16>, status: Option<&str>, diagnostic: Option<&str>| NewEvent {
        at: AT.parse().unwrap(),
        row: None,
        attributed: None,
        address_key: String::new(),
        address: String::new(),
        verdict: "hard",
        status: status.map(str::to_owned),
        reply,
        diagnostic: diagnostic.map(str::to_owned),
        reason: "userunknown".to_owned(),
        source: String::new(),
        origin: String::new(),
        provider: None,
    };
    let text = |reply, status, diagnostic| reply_text(&event(reply, status, diagnostic));
    assert_eq!(text(Some(550), Some("5.1.1"), Some("550 5.1.1 user unknown")), "550 5.1.1 user unknown");
    assert_eq!(text(Some(550), Some("5.1.1"), Some("550-5.1.1 The email account")), "550-5.1.1 The email account");
    assert_eq!(text(Some(550), Some("5.1.1"), Some("no such user")), "550 5.1.1 no such user");
    assert_eq!(text(Some(550), Some("5.1.1"), Some("5.1.1 no such user")), "550 5.1.1 no such user");
    assert_eq!(text(None, Some("5.1.1"), Some("550 mailbox unavailable")), "5.1.1 550 mailbox unavailable");
    assert_eq!(text(None, None, None), "userunknown");
}

#[test]
fn a_forged_token_is_ignored_and_an_unattributed_bounce_suppresses_nobody() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), &[("weekly/a", "2024-03-01T09:00:00Z")], &["ann@example.org"]);
    let mut sink = sink(dir.path(), SoftRule::default());
    let forged = format!("bounces+{}@news.example.org", "a".repeat(32));
    let handled = sink.message(&dsn("<f@mx>", &forged, "ann@example.org hard 5.1.1"), "new/f").unwrap();
    assert!(matches!(handled, Handled::Ignored(ref why) if why.contains("does not verify")), "{handled:?}");
    let other_key = ReturnPath::address(&return_path(), &Keys::from_secrets(vec![vec![8; 32]]).unwrap(), "weekly/a", 1);
    assert!(matches!(
        sink.message(&dsn("<g@mx>", &other_key, "ann@example.org hard"), "x").unwrap(),
        Handled::Ignored(_)
    ));
    let (handled, effects) =
        sink.message_effects(&dsn("<u@mx>", "postmaster@example.org", "ann@example.org hard"), "x").unwrap();
    assert_eq!((handled, effects), (Handled::Recorded(1), Effects::default()));
    assert!(suppressed(&sink, "ann@example.org").is_empty(), "anyone can mail a bounce naming an address");
    assert_eq!(sink.state().counts("weekly/a").unwrap().sent, 1);
}

#[test]
fn bounces_are_attributed_by_list_unsubscribe_and_by_message_id_only_with_a_signed_token() {
    let dir = tempfile::tempdir().unwrap();
    prepare(
        dir.path(),
        &[("weekly/a", "2024-03-01T09:00:00Z"), ("weekly/b", "2024-03-08T09:00:00Z")],
        &["ann@example.org", "bob@example.org", "cy@example.org"],
    );
    let mut sink = sink(dir.path(), SoftRule::default());
    let mut state = State::open(&path_in(dir.path()), Path::new(".letterpress/state.db")).unwrap();
    sent(&mut state, "daily/x", "2024-03-09T09:00:00Z", &["dee@example.org"]);
    drop(state);
    let unsubscribe = |address: &str| format!("<https://news.example.org/u?t={}>", keys().token(address, "news"));
    // The quoted Message-ID with the same recipient's signed unsubscribe token.
    let by_id = format!(
        "message-id: <1@mx>\noriginal-message-id: <ann@example.org/weekly/a@news.example.org>\n\
         list-unsubscribe: {}\nfinding: - hard\n",
        unsubscribe("ann@example.org")
    );
    let by_unsubscribe = format!(
        "message-id: <2@mx>\nlist-unsubscribe: {}\nfinding: bob@example.org complaint\n",
        unsubscribe("bob@example.org")
    );
    // An issue renamed after its send: its return path verifies but names no send; the quoted
    // headers decide.
    let renamed = format!(
        "message-id: <3@mx>\nto: {}\noriginal-message-id: <cy@example.org/weekly/b@news.example.org>\n\
         list-unsubscribe: {}\nfinding: - hard\n",
        return_path().address(&keys(), "weekly/old-name", 3),
        unsubscribe("cy@example.org")
    );
    for raw in [&by_id, &by_unsubscribe, &renamed] {
        assert_eq!(sink.message(raw.as_bytes(), "x").unwrap(), Handled::Recorded(1), "{raw}");
    }
    let events = sink.state().bounce_events(&crate::state::EventFilter::default()).unwrap();
    let found: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| (e.address.as_str(), e.send.as_deref().unwrap_or("-"), e.attributed.as_deref().unwrap_or("-")))
        .collect();
    assert_eq!(
        found,
        [
            ("ann@example.org", "weekly/a", "message-id"),
            ("bob@example.org", "weekly/b", "list-unsubscribe"),
            ("cy@example.org", "weekly/b", "message-id"),
        ]
    );
    assert_eq!(suppressed(&sink, "ann@example.org"), [("*".to_owned(), crate::state::Reason::Bounced)]);
    assert_eq!(suppressed(&sink, "bob@example.org"), [("*".to_owned(), crate::state::Reason::Complained)]);
    assert_eq!(suppressed(&sink, "cy@example.org"), [("*".to_owned(), crate::state::Reason::Bounced)]);
    assert_eq!(sink.state().counts("weekly/b").unwrap().bounced, 1, "a complaint is not a bounce of the row");
}

#[test]
fn a_bounce_that_quotes_only_what_anyone_can_write_suppresses_nobody() {
    let dir = tempfile::tempdir().unwrap();
    prepare(
        dir.path(),
        &[("weekly/a", "2024-03-01T09:00:00Z"), ("weekly/b", "2024-03-08T09:00:00Z")],
        &["ann@example.org", "bob@example.org", "cy@example.org"],
    );
    let mut sink = sink(dir.path(), SoftRule { count: 1, window: 5 });
    let ann_id = "original-message-id: <ann@example.org/weekly/a@news.example.org>";
    // Bob's own unsubscribe token, and his return path of a renamed issue with Ann's `seq`, do
    // not vouch for Ann's row.
    let bob_token = format!("<https://news.example.org/u?t={}>", keys().token("bob@example.org", "news"));
    let bob_renamed = return_path().address(&keys(), "weekly/old-name", 1);
    let forged = [
        format!("message-id: <f1@mx>\n{ann_id}\nfinding: ann@example.org hard 5.1.1\n"),
        format!("message-id: <f2@mx>\n{ann_id}\nfinding: - complaint\n"),
        "message-id: <f3@mx>\nlist-id: \"Weekly\" <weekly.news.example.org>\nfinding: ann@example.org hard\n"
            .to_owned(),
        "message-id: <f4@mx>\nlist-id: <weekly.news.example.org>\nfinding: ann@example.org soft 4.2.2\n".to_owned(),
        format!("message-id: <f5@mx>\nto: {bob_renamed}\n{ann_id}\nfinding: - hard\n"),
    ];
    for raw in &forged {
        let (handled, effects) = sink.message_effects(raw.as_bytes(), "x").unwrap();
        assert_eq!((handled, effects), (Handled::Recorded(1), Effects::default()), "{raw}");
    }
    let (handled, effects) = sink
        .message_effects(
            format!("message-id: <f6@mx>\n{ann_id}\nlist-unsubscribe: {bob_token}\nfinding: - complaint\n").as_bytes(),
            "x",
        )
        .unwrap();
    assert_eq!((handled, effects.suppressed), (Handled::Recorded(1), 1), "Bob's token speaks for Bob only");
    assert!(suppressed(&sink, "ann@example.org").is_empty(), "a made-up bounce suppresses nobody");
    assert_eq!(suppressed(&sink, "bob@example.org"), [("*".to_owned(), crate::state::Reason::Complained)]);
    assert_eq!(sink.state().counts("weekly/a").unwrap().bounced, 0);
    assert_eq!(sink.state().counts("weekly/b").unwrap().bounced, 0);
    let events = sink.state().bounce_events(&crate::state::EventFilter::default()).unwrap();
    let found: Vec<(&str, &str, &str, &str)> = events
        .iter()
        .map(|e| {
            let send = e.send.as_deref().unwrap_or("-");
            (e.address.as_str(), send, e.verdict.as_str(), e.attributed.as_deref().unwrap_or("-"))
        })
        .collect();
    assert_eq!(
        found,
        [
            ("ann@example.org", "-", "hard", "unverified-message-id"),
            ("ann@example.org", "-", "complaint", "unverified-message-id"),
            ("ann@example.org", "-", "hard", "unverified-list-id"),
            ("ann@example.org", "-", "soft", "unverified-list-id"),
            ("ann@example.org", "-", "hard", "unverified-message-id"),
            ("bob@example.org", "weekly/b", "complaint", "list-unsubscribe"),
        ]
    );
    let rates = sink.state().bounce_counts().unwrap();
    assert!(rates.iter().all(|c| c.hard == 0 && c.soft == 0), "unverified claims count towards no rate: {rates:?}");
}

/// Five sends, `weekly/1` to `weekly/5`, to ann@example.org only, and a sink whose soft rule is
/// 3 of 5.
fn five_sends_to_ann() -> (tempfile::TempDir, StoreSink) {
    let dir = tempfile::tempdir().unwrap();
    let sends: Vec<(String, String)> =
        (1..=5).map(|i| (format!("weekly/{i}"), format!("2024-03-0{i}T09:00:00Z"))).collect();
    let sends: Vec<(&str, &str)> = sends.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    prepare(dir.path(), &sends, &["ann@example.org"]);
    let sink = sink(dir.path(), SoftRule { count: 3, window: 5 });
    (dir, sink)
}

#[test]
fn soft_bounces_suppress_at_the_configured_count_within_the_window() {
    let (_dir, mut sink) = five_sends_to_ann();
    let soft = |sink: &mut StoreSink, issue: &str, id: &str| {
        let to = return_path().address(&keys(), issue, 1);
        sink.message_effects(&dsn(id, &to, "ann@example.org soft 4.2.2"), "x").unwrap().1
    };
    assert_eq!(soft(&mut sink, "weekly/1", "<s1@mx>").suppressed, 0);
    assert_eq!(soft(&mut sink, "weekly/2", "<s2@mx>").suppressed, 0);
    assert_eq!(soft(&mut sink, "weekly/2", "<s2b@mx>").suppressed, 0, "two on one send count once");
    assert_eq!(soft(&mut sink, "weekly/4", "<s4@mx>").suppressed, 1);
    assert_eq!(suppressed(&sink, "ann@example.org"), [("*".to_owned(), crate::state::Reason::Bounced)]);
}

#[test]
fn delay_warnings_are_recorded_and_neither_bounce_the_row_nor_count_as_soft_bounces() {
    let (_dir, mut sink) = five_sends_to_ann();
    let report = |sink: &mut StoreSink, issue: &str, id: &str, finding: &str| {
        let to = return_path().address(&keys(), issue, 1);
        sink.message_effects(&dsn(id, &to, &format!("ann@example.org {finding}")), "x").unwrap()
    };
    for i in 1..=5 {
        let (handled, effects) = report(&mut sink, &format!("weekly/{i}"), &format!("<d{i}@mx>"), "soft 4.4.1 delayed");
        assert_eq!((handled, effects), (Handled::Recorded(1), Effects::default()), "weekly/{i}");
        assert_eq!(sink.state().counts(&format!("weekly/{i}")).unwrap().sent, 1, "the row stays sent");
    }
    assert!(suppressed(&sink, "ann@example.org").is_empty(), "five delays are no bounce");
    let events = sink.state().bounce_events(&crate::state::EventFilter::default()).unwrap();
    assert_eq!(events.len(), 5, "each warning is kept");
    assert_eq!(events[0].send.as_deref(), Some("weekly/1"));
    assert!(sink.state().bounce_counts().unwrap().iter().all(|c| c.soft == 0), "nor counted in the rate");
    // Real soft bounces on the same sends still count, once each.
    for i in 1..=2 {
        let (_, effects) = report(&mut sink, &format!("weekly/{i}"), &format!("<s{i}@mx>"), "soft 4.2.2 mailboxfull");
        assert_eq!(effects, Effects { bounced: 1, suppressed: 0 });
    }
    let (_, effects) = report(&mut sink, "weekly/3", "<s3@mx>", "soft 4.2.2 mailboxfull");
    assert_eq!(effects, Effects { bounced: 1, suppressed: 1 });
}

#[test]
fn of_several_blocks_about_one_recipient_the_one_about_them_that_says_most_counts() {
    let dir = tempfile::tempdir().unwrap();
    let addresses = ["ann@example.org", "bob@example.org", "cy@example.org"];
    prepare(dir.path(), &[("weekly/a", "2024-03-01T09:00:00Z")], &addresses);
    let mut sink = sink(dir.path(), SoftRule::default());
    let report = |sink: &mut StoreSink, seq: i64, id: &str, findings: &[&str]| {
        let to = return_path().address(&keys(), "weekly/a", seq);
        let lines = findings.iter().map(|f| format!("finding: {f}")).collect::<Vec<_>>().join("\n");
        let raw = format!("message-id: {id}\nto: {to}\n{lines}\n");
        let effects = sink.message_effects(raw.as_bytes(), "x").unwrap().1;
        let events = sink.state().bounce_events(&crate::state::EventFilter::default()).unwrap();
        let event = events.into_iter().rfind(|e| e.source == id).expect("recorded");
        (effects, event.verdict, event.reason)
    };
    // A warning first, the failure after: the failure counts.
    let (effects, verdict, reason) =
        report(&mut sink, 1, "<m1@mx>", &["ann@example.org soft 4.4.1 delayed", "ann@example.org hard 5.1.1"]);
    assert_eq!((effects.bounced, effects.suppressed, verdict.as_str(), reason.as_str()), (1, 1, "hard", "userunknown"));
    // A forwarding target failed, the recipient's own mailbox took it: nothing happens.
    let (effects, verdict, _) =
        report(&mut sink, 2, "<m2@mx>", &["bob@elsewhere.example hard 5.1.1", "bob@example.org delivered 2.0.0"]);
    assert_eq!((effects, verdict.as_str()), (Effects::default(), "unknown"));
    assert!(suppressed(&sink, "bob@example.org").is_empty());
    // Only forwarding targets: the one that says most stands for the recipient.
    let (effects, verdict, _) =
        report(&mut sink, 3, "<m3@mx>", &["a@elsewhere.example soft 4.2.2", "b@elsewhere.example hard 5.1.1"]);
    assert_eq!((effects.bounced, effects.suppressed, verdict.as_str()), (1, 1, "hard"));
}

#[test]
fn a_message_without_a_message_id_is_one_message_whatever_its_line_ends() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), &[("weekly/a", "2024-03-01T09:00:00Z")], &["ann@example.org", "bob@example.org"]);
    let mut sink = sink(dir.path(), SoftRule::default());
    let lf = format!("to: {}\nfinding: ann@example.org hard 5.1.1\n", return_path().address(&keys(), "weekly/a", 1));
    assert_eq!(sink.message(lf.as_bytes(), "Maildir/new/1").unwrap(), Handled::Recorded(1));
    let crlf = lf.replace('\n', "\r\n");
    assert_eq!(sink.message(crlf.as_bytes(), "imap:INBOX/1").unwrap(), Handled::Duplicate);
    assert_eq!(sink.message(format!("{lf}\n\n").as_bytes(), "x.mbox#1").unwrap(), Handled::Duplicate);
    // One recorded before under the digest of its bytes as they were is not recorded again.
    let bob =
        format!("to: {}\r\nfinding: bob@example.org hard 5.1.1\r\n", return_path().address(&keys(), "weekly/a", 2));
    let before = format!("sha256:{}", crate::token::hex(&Sha256::digest(bob.as_bytes())));
    let event = NewEvent {
        at: AT.parse().unwrap(),
        row: None,
        attributed: None,
        address_key: "bob@example.org".to_owned(),
        address: "bob@example.org".to_owned(),
        verdict: "hard",
        status: None,
        reply: None,
        diagnostic: None,
        reason: "userunknown".to_owned(),
        source: before,
        origin: "earlier".to_owned(),
        provider: None,
    };
    assert!(sink.state().record_bounce_event(&event).unwrap());
    assert_eq!(sink.message(bob.as_bytes(), "again").unwrap(), Handled::Duplicate);
}

#[test]
fn auto_replies_and_empty_reports_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), &[("weekly/a", "2024-03-01T09:00:00Z")], &["ann@example.org"]);
    let mut sink = sink(dir.path(), SoftRule::default());
    let to = return_path().address(&keys(), "weekly/a", 1);
    let (handled, effects) = sink.message_effects(&dsn("<v@mx>", &to, "ann@example.org auto-reply"), "x").unwrap();
    assert_eq!((handled, effects), (Handled::Recorded(1), Effects::default()));
    assert!(suppressed(&sink, "ann@example.org").is_empty());
    assert_eq!(sink.state().counts("weekly/a").unwrap().sent, 1);
    assert!(matches!(sink.message(b"hello", "x").unwrap(), Handled::Ignored(_)));
    assert!(matches!(sink.message(b"finding: - unknown\n", "x").unwrap(), Handled::Unparsable(_)));
}

#[test]
fn a_provider_event_is_recorded_once_and_acted_on() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), &[("weekly/a", "2024-03-01T09:00:00Z")], &["ann@example.org"]);
    let mut sink = sink(dir.path(), SoftRule::default());
    let event = ProviderEvent {
        provider: Provider::Postmark,
        event_id: "42".to_owned(),
        recipient: "Ann@Example.org".to_owned(),
        verdict: Verdict::Hard,
        status: Some("5.1.1".to_owned()),
        reply: Some(550),
        diagnostic: None,
        message_id: Some("<ann@example.org/weekly/a@news.example.org>".to_owned()),
        at: Some("2024-03-02T00:00:00Z".parse().unwrap()),
    };
    assert_eq!(sink.event(&event).unwrap(), Handled::Recorded(1));
    assert_eq!(sink.event(&event).unwrap(), Handled::Duplicate);
    let events = sink.state().bounce_events(&crate::state::EventFilter::default()).unwrap();
    assert_eq!((events[0].source.as_str(), events[0].provider.as_deref()), ("postmark:42", Some("postmark")));
    assert_eq!(events[0].attributed.as_deref(), Some("message-id"));
    assert_eq!(suppressed(&sink, "ann@example.org").len(), 1);
    let _ = Original::default();
}
