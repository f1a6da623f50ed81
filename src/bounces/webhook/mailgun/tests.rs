use super::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/webhooks/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

const KEY: &str = "key-mailgun-test-signing-0123456789";

fn now() -> Timestamp {
    "2026-11-22T09:30:00Z".parse().unwrap()
}

fn verifier() -> Verifier {
    Verifier::new(KEY, SignedDuration::from_mins(5))
}

#[test]
fn a_signed_permanent_failure_is_a_hard_event() {
    let events = verifier().verify(&fixture("mailgun-failed-permanent.json"), now()).unwrap();
    assert_eq!(
        events,
        vec![ProviderEvent {
            provider: Provider::Mailgun,
            event_id: "mg-event-failed-1".to_owned(),
            recipient: "ghost@example.net".to_owned(),
            verdict: Verdict::Hard,
            status: Some("5.1.1".to_owned()),
            reply: Some(550),
            diagnostic: Some("5.1.1 The email account that you tried to reach does not exist".to_owned()),
            message_id: Some("weekly.2026-11-22.ghost@minimal.example.org".to_owned()),
            at: Some("2026-11-22T09:29:57Z".parse().unwrap()),
        }]
    );
}

#[test]
fn temporary_failures_and_complaints_have_their_verdicts() {
    let verifier = verifier();
    let one = |name: &str| verifier.verify(&fixture(name), now()).unwrap().remove(0).verdict;
    assert_eq!(one("mailgun-failed-temporary.json"), Verdict::Soft);
    assert_eq!(one("mailgun-complained.json"), Verdict::Complaint);
}

#[test]
fn a_tampered_event_a_wrong_key_and_junk_are_unauthorized() {
    let result = verifier().verify(&fixture("mailgun-tampered.json"), now());
    assert!(matches!(result, Err(Rejected::Unauthorized(_))), "{result:?}");
    let wrong = Verifier::new("another-key", SignedDuration::from_mins(5));
    assert!(matches!(wrong.verify(&fixture("mailgun-failed-permanent.json"), now()), Err(Rejected::Unauthorized(_))));
    assert!(matches!(verifier().verify(b"{}", now()), Err(Rejected::Unauthorized(_))));
    assert!(matches!(verifier().verify(b"[", now()), Err(Rejected::BadRequest(_))));
}

#[test]
fn an_event_outside_the_window_or_replayed_is_forbidden() {
    let verifier = verifier();
    let old = verifier.verify(&fixture("mailgun-replayed-old.json"), now());
    assert!(matches!(old, Err(Rejected::Forbidden(ref why)) if why.contains("replay window")), "{old:?}");
    let body = fixture("mailgun-failed-permanent.json");
    assert!(verifier.verify(&body, now()).is_ok());
    let again = verifier.verify(&body, now());
    assert!(matches!(again, Err(Rejected::Forbidden(ref why)) if why.contains("used before")), "{again:?}");
    let later = now() + SignedDuration::from_mins(10);
    assert!(matches!(verifier.verify(&body, later), Err(Rejected::Forbidden(_))), "stale by then");
}

#[test]
fn events_we_do_not_track_record_nothing() {
    use hmac::{KeyInit as _, Mac as _};
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(b"1795339800token-opened");
    let hex = mac.finalize().into_bytes().iter().fold(String::new(), |hex, b| hex + &format!("{b:02x}"));
    let body = serde_json::json!({
        "signature": {"timestamp": "1795339800", "token": "token-opened", "signature": hex},
        "event-data": {"event": "opened", "id": "x", "recipient": "a@example.org"}
    });
    assert_eq!(verifier().verify(body.to_string().as_bytes(), now()).unwrap(), Vec::new());
}
