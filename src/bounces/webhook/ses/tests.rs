use std::sync::Mutex;

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/webhooks/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:ses-bounces";
const CERT_URL: &str = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem";

/// Serves the test certificate at its URL and records every URL asked for.
#[derive(Default)]
struct Recorded(Mutex<Vec<String>>);

impl Fetch for Recorded {
    fn get<'a>(&'a self, url: &'a Url) -> fetch::Fetched<'a> {
        self.0.lock().unwrap().push(url.to_string());
        let answer = if url.as_str() == CERT_URL { Ok(fixture("sns-signing-cert.pem")) } else { Err("404".to_owned()) };
        Box::pin(async move { answer })
    }
}

fn now() -> Timestamp {
    "2026-11-22T09:30:00Z".parse().unwrap()
}

fn verify(verifier: &Verifier, body: &[u8]) -> Result<Verified, Rejected> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(verifier.verify(body, now()))
}

fn verifier() -> (Verifier, Arc<Recorded>) {
    let fetch = Arc::new(Recorded::default());
    (Verifier::new(vec![TOPIC.to_owned()], Arc::clone(&fetch) as Arc<dyn Fetch>), fetch)
}

fn events(result: Result<Verified, Rejected>) -> Vec<ProviderEvent> {
    match result {
        Ok(Verified::Events(events)) => events,
        other => panic!("expected events, got {other:?}"),
    }
}

#[test]
fn a_signed_permanent_bounce_is_a_hard_event_and_the_certificate_is_fetched_once() {
    let (verifier, fetched) = verifier();
    let got = events(verify(&verifier, &fixture("ses-bounce.json")));
    assert_eq!(
        got,
        vec![ProviderEvent {
            provider: Provider::Ses,
            event_id: "0102018f-feedback-bounce-1:ghost@example.net".to_owned(),
            recipient: "ghost@example.net".to_owned(),
            verdict: Verdict::Hard,
            status: Some("5.1.1".to_owned()),
            reply: Some(550),
            diagnostic: Some(
                "smtp; 550 5.1.1 <ghost@example.net>: Recipient address rejected: User unknown".to_owned()
            ),
            message_id: Some("weekly.2026-11-22.ghost@minimal.example.org".to_owned()),
            at: Some("2026-11-22T09:29:57Z".parse().unwrap()),
        }]
    );
    events(verify(&verifier, &fixture("ses-complaint.json")));
    assert_eq!(*fetched.0.lock().unwrap(), vec![CERT_URL.to_owned()], "cached");
}

#[test]
fn both_signature_versions_and_every_notification_type_are_read() {
    let (verifier, _) = verifier();
    let verdicts = |name: &str| -> Vec<(String, Verdict)> {
        events(verify(&verifier, &fixture(name))).into_iter().map(|e| (e.recipient, e.verdict)).collect()
    };
    assert_eq!(verdicts("ses-transient.json"), vec![("full@example.com".to_owned(), Verdict::Soft)]);
    assert_eq!(verdicts("ses-complaint.json"), vec![("reader@example.com".to_owned(), Verdict::Complaint)]);
    assert_eq!(verdicts("ses-delivery.json"), vec![("ruth@example.org".to_owned(), Verdict::Delivered)]);
}

#[test]
fn a_subscription_confirmation_asks_to_fetch_its_subscribe_url() {
    let (verifier, _) = verifier();
    match verify(&verifier, &fixture("ses-subscription.json")) {
        Ok(Verified::Subscribe(url)) => {
            assert_eq!(url.host_str(), Some("sns.eu-west-1.amazonaws.com"));
            assert!(url.query().unwrap().contains("Action=ConfirmSubscription"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_tampered_message_does_not_verify() {
    let (verifier, _) = verifier();
    let result = verify(&verifier, &fixture("ses-bounce-tampered.json"));
    assert!(matches!(result, Err(Rejected::Unauthorized(ref why)) if why.contains("does not verify")), "{result:?}");
}

fn edited(name: &str, key: &str, value: &str) -> Vec<u8> {
    let mut message: Value = serde_json::from_slice(&fixture(name)).unwrap();
    message[key] = Value::String(value.to_owned());
    serde_json::to_vec(&message).unwrap()
}

#[test]
fn certificates_off_sns_hosts_are_refused_before_any_fetch() {
    let (verifier, fetched) = verifier();
    for url in [
        "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
        "http://sns.eu-west-1.amazonaws.com/cert.pem",
        "https://evil.example/sns.eu-west-1.amazonaws.com.pem",
        "https://sns.eu-west-1.amazonaws.com:8443/cert.pem",
        "https://user@sns.eu-west-1.amazonaws.com/cert.pem",
        "https://s3.eu-west-1.amazonaws.com/cert.pem",
        "https://sns.eu-west-1.amazonaws.com/cert.txt",
    ] {
        let result = verify(&verifier, &edited("ses-bounce.json", "SigningCertURL", url));
        assert!(matches!(result, Err(Rejected::Forbidden(_))), "{url}: {result:?}");
    }
    assert!(fetched.0.lock().unwrap().is_empty());
}

#[test]
fn another_topic_an_unknown_version_and_junk_are_refused() {
    let (verifier, fetched) = verifier();
    let other = edited("ses-bounce.json", "TopicArn", "arn:aws:sns:eu-west-1:999999999999:other");
    assert!(matches!(verify(&verifier, &other), Err(Rejected::Forbidden(_))));
    let version = edited("ses-bounce.json", "SignatureVersion", "3");
    assert!(matches!(verify(&verifier, &version), Err(Rejected::Unauthorized(_))));
    assert!(matches!(verify(&verifier, b"{not json"), Err(Rejected::BadRequest(_))));
    assert!(fetched.0.lock().unwrap().is_empty());
    let subscribe = edited("ses-subscription.json", "SubscribeURL", "https://evil.example/confirm");
    assert!(verify(&verifier, &subscribe).is_err(), "the signature covers SubscribeURL, and its host is checked");
}

#[test]
fn sns_hosts_are_recognised() {
    for host in ["sns.eu-west-1.amazonaws.com", "sns.us-gov-west-1.amazonaws.com", "sns.cn-north-1.amazonaws.com.cn"] {
        assert!(is_sns_host(host), "{host}");
    }
    for host in [
        "sns.amazonaws.com",
        "sns.eu-west-1.amazonaws.com.evil.example",
        "xsns.eu-west-1.amazonaws.com",
        "sns.EU-west-1.amazonaws.com",
        "sns..amazonaws.com",
    ] {
        assert!(!is_sns_host(host), "{host}");
    }
}

#[test]
fn undetermined_bounces_are_unknown_not_spam_reports_record_nothing_and_only_abuse_complains() {
    let undetermined = r#"{"notificationType":"Bounce","mail":{"messageId":"m"},"bounce":{"bounceType":"Undetermined","feedbackId":"f","bouncedRecipients":[{"emailAddress":"a@example.org"}]}}"#;
    let got = super::events(undetermined).unwrap();
    assert_eq!((got[0].verdict, got[0].event_id.as_str()), (Verdict::Unknown, "f:a@example.org"));
    let not_spam = r#"{"notificationType":"Complaint","mail":{},"complaint":{"feedbackId":"f","complaintFeedbackType":"not-spam","complainedRecipients":[{"emailAddress":"a@example.org"}]}}"#;
    assert_eq!(super::events(not_spam).unwrap(), Vec::new());
    for (kind, verdict) in [
        ("abuse", Verdict::Complaint),
        ("fraud", Verdict::Complaint),
        ("virus", Verdict::Complaint),
        ("auth-failure", Verdict::Unknown),
        ("other", Verdict::Unknown),
    ] {
        let complaint = not_spam.replace("not-spam", kind);
        assert_eq!(super::events(&complaint).unwrap()[0].verdict, verdict, "{kind}");
    }
    let untyped = not_spam.replace(r#""complaintFeedbackType":"not-spam","#, "");
    assert_eq!(super::events(&untyped).unwrap()[0].verdict, Verdict::Complaint, "no type: a complaint");
    let published = r#"{"eventType":"Delivery","mail":{"messageId":"m"},"delivery":{"recipients":["b@example.org"]}}"#;
    assert_eq!(super::events(published).unwrap()[0].verdict, Verdict::Delivered, "event publishing's `eventType`");
    assert!(super::events("not json").is_err());
}
