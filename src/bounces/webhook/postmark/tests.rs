use super::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/webhooks/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn auth() -> Auth {
    Auth { basic: Some(("postmark".to_owned(), "hook-pass".to_owned())), secret: Some("s3cr3t-path".to_owned()) }
}

const GOOD: &[u8] = b"Basic cG9zdG1hcms6aG9vay1wYXNz"; // postmark:hook-pass

#[test]
fn a_hard_bounce_with_the_right_credentials_is_a_hard_event() {
    let events = auth().verify(Some(GOOD), Some("s3cr3t-path"), &fixture("postmark-bounce.json")).unwrap();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!((event.recipient.as_str(), event.verdict), ("ghost@example.net", Verdict::Hard));
    assert_eq!((event.status.as_deref(), event.reply), (Some("5.1.1"), Some(550)));
    assert_eq!(event.event_id, "bounce:36854775807");
}

#[test]
fn soft_bounces_complaints_and_deliveries_have_their_verdicts() {
    let one = |name: &str| auth().verify(Some(GOOD), Some("s3cr3t-path"), &fixture(name)).unwrap().remove(0).verdict;
    assert_eq!(one("postmark-soft-bounce.json"), Verdict::Soft);
    assert_eq!(one("postmark-spam-complaint.json"), Verdict::Complaint);
    assert_eq!(one("postmark-delivery.json"), Verdict::Delivered);
}

#[test]
fn wrong_or_missing_credentials_and_secrets_are_refused() {
    let body = fixture("postmark-bounce.json");
    let wrong = b"Basic cG9zdG1hcms6d3Jvbmc="; // postmark:wrong
    assert!(matches!(auth().verify(Some(wrong), Some("s3cr3t-path"), &body), Err(Rejected::Unauthorized(_))));
    assert!(matches!(auth().verify(None, Some("s3cr3t-path"), &body), Err(Rejected::Unauthorized(_))));
    assert!(matches!(auth().verify(Some(GOOD), Some("guess"), &body), Err(Rejected::Forbidden(_))));
    assert!(matches!(auth().verify(Some(GOOD), None, &body), Err(Rejected::Forbidden(_))));
    let basic_only = Auth { secret: None, ..auth() };
    assert!(basic_only.verify(Some(GOOD), None, &body).is_ok());
    assert!(matches!(basic_only.verify(Some(GOOD), Some("x"), &body), Err(Rejected::Forbidden(_))));
}

#[test]
fn the_body_is_not_read_before_the_credentials_check_out() {
    assert!(matches!(auth().verify(None, Some("s3cr3t-path"), b"{not json"), Err(Rejected::Unauthorized(_))));
    assert!(matches!(auth().verify(Some(GOOD), Some("s3cr3t-path"), b"{not json"), Err(Rejected::BadRequest(_))));
}
