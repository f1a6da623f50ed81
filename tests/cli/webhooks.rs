//! Provider webhooks through a real `letterpress serve`: signed fixtures accepted and their
//! events recorded once, tampered and replayed ones refused with nothing recorded, SNS
//! subscription confirmed, limits. The events go to the `test-hooks` file sink
//! (`LETTERPRESS_TEST_WEBHOOK_EVENTS`), the SNS certificate comes from
//! `LETTERPRESS_TEST_SNS_CERT`: no network.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;

use crate::harness::{Project, fixture_dir};
use crate::serve::client::{Response, Server, parse};

const KEY_VAR: &str = "LETTERPRESS_UNSUBSCRIBE_KEYS";
const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";
const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:ses-bounces";
const MAILGUN_KEY: &str = "key-mailgun-test-signing-0123456789";
const SECRET_PATH: &str = "pm-7d1c0f3e";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_dir("webhooks").join(name)).expect("fixture")
}

struct Hooked {
    project: Project,
    server: Server,
}

impl Hooked {
    fn start() -> Self {
        let project = Project::fixture("serve");
        let config = project.read("letterpress.yaml");
        project.write(
            "letterpress.yaml",
            &format!(
                "{config}bounces:\n  webhooks:\n    ses:\n      topics: [\"{TOPIC}\"]\n    postmark:\n      username-env: PM_USER\n      password-env: PM_PASS\n      secret-path-env: PM_PATH\n    mailgun:\n      signing-key-env: MG_KEY\n      replay-window: 5m\n"
            ),
        );
        let events = project.path().join("events.jsonl");
        let cert = project.path().join("sns-cert.pem");
        std::fs::copy(fixture_dir("webhooks").join("sns-signing-cert.pem"), &cert).expect("cert");
        let server = Server::start(
            &project,
            &[
                (KEY_VAR, KEY),
                ("PM_USER", "postmark"),
                ("PM_PASS", "hook-pass"),
                ("PM_PATH", SECRET_PATH),
                ("MG_KEY", MAILGUN_KEY),
                ("LETTERPRESS_TEST_WEBHOOK_EVENTS", events.to_str().expect("utf-8")),
                ("LETTERPRESS_TEST_SNS_CERT", cert.to_str().expect("utf-8")),
            ],
        );
        Self { project, server }
    }

    fn post(&self, path: &str, body: &str, headers: &[&str]) -> Response {
        self.server.post(path, body, headers)
    }

    /// (recipient, verdict) of every event recorded so far.
    fn events(&self) -> Vec<(String, String)> {
        let path: PathBuf = self.project.path().join("events.jsonl");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
                (
                    value["recipient"].as_str().expect("a recipient").to_owned(),
                    value["verdict"].as_str().expect("a verdict").to_owned(),
                )
            })
            .collect()
    }
}

fn basic(user: &str, password: &str) -> String {
    format!("Authorization: Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

#[test]
fn ses_notifications_are_verified_recorded_once_and_tampered_ones_refused() {
    let mut hooked = Hooked::start();
    let bounce = fixture("ses-bounce.json");
    assert_eq!(hooked.post("/webhooks/ses", &bounce, &[]).status, 200);
    assert_eq!(hooked.post("/webhooks/ses", &fixture("ses-complaint.json"), &[]).status, 200);
    let tampered = hooked.post("/webhooks/ses", &fixture("ses-bounce-tampered.json"), &[]);
    assert_eq!(tampered.status, 401);
    assert_eq!(hooked.post("/webhooks/ses", &bounce, &[]).status, 200, "a redelivery is fine");
    assert_eq!(
        hooked.events(),
        vec![
            ("ghost@example.net".to_owned(), "hard".to_owned()),
            ("reader@example.com".to_owned(), "complaint".to_owned())
        ],
        "once each; nothing from the tampered copy"
    );
    // The lines come through a pipe read by another thread: wait for them to arrive.
    hooked.server.wait_for_line("webhook ses: refused (401)", Duration::from_secs(60));
    hooked.server.wait_for_line("1 events, 0 recorded, 1 seen before", Duration::from_secs(60));
}

#[test]
fn an_sns_subscription_is_confirmed_by_fetching_its_subscribe_url() {
    let hooked = Hooked::start();
    let response = hooked.post("/webhooks/ses", &fixture("ses-subscription.json"), &[]);
    assert_eq!(response.status, 200, "{}", response.body);
    let fetched = std::fs::read_to_string(hooked.project.path().join("sns-cert.fetched")).expect("a GET");
    assert!(fetched.starts_with("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"), "{fetched}");
    assert!(hooked.events().is_empty());
}

#[test]
fn mailgun_events_are_verified_and_replays_refused() {
    let hooked = Hooked::start();
    let failed = fixture("mailgun-failed-permanent.json");
    assert_eq!(hooked.post("/webhooks/mailgun", &failed, &[]).status, 200);
    assert_eq!(hooked.post("/webhooks/mailgun", &failed, &[]).status, 403, "the same token again");
    assert_eq!(hooked.post("/webhooks/mailgun", &fixture("mailgun-replayed-old.json"), &[]).status, 403);
    assert_eq!(hooked.post("/webhooks/mailgun", &fixture("mailgun-tampered.json"), &[]).status, 401);
    assert_eq!(hooked.post("/webhooks/mailgun", &fixture("mailgun-failed-temporary.json"), &[]).status, 200);
    assert_eq!(
        hooked.events(),
        vec![("ghost@example.net".to_owned(), "hard".to_owned()), ("full@example.com".to_owned(), "soft".to_owned())]
    );
}

#[test]
fn postmark_needs_both_its_credentials_and_its_secret_path() {
    let hooked = Hooked::start();
    let body = fixture("postmark-bounce.json");
    let good = basic("postmark", "hook-pass");
    let secret = format!("/webhooks/postmark/{SECRET_PATH}");
    for wrong in [vec![basic("postmark", "guess")], vec![]] {
        let headers: Vec<&str> = wrong.iter().map(String::as_str).collect();
        let reply = hooked.post(&secret, &body, &headers);
        assert_eq!(reply.status, 401);
        let challenge = reply.header("www-authenticate");
        assert_eq!(challenge, Some("Basic realm=\"letterpress webhooks\", charset=\"UTF-8\""), "{:?}", reply.headers);
    }
    assert_eq!(hooked.post("/webhooks/postmark/guess", &body, &[&good]).status, 403);
    assert_eq!(hooked.post("/webhooks/postmark", &body, &[&good]).status, 403);
    assert!(hooked.events().is_empty(), "nothing recorded from refused requests");
    assert_eq!(hooked.post(&secret, &body, &[&good]).status, 200);
    assert_eq!(hooked.post(&secret, &fixture("postmark-spam-complaint.json"), &[&good]).status, 200);
    // An event whose recipient is not an address is answered 200 (a provider retries an error
    // for ever) and recorded nowhere.
    for (i, junk) in
        ["", "ghost@localhost", "Ghost <ghost@example.net>", "ghost@example.net\r\nX: y"].iter().enumerate()
    {
        let body = body
            .replace("\"ghost@example.net\"", &serde_json::to_string(junk).expect("json"))
            .replace("36854775807", &format!("4{i}"));
        assert_eq!(hooked.post(&secret, &body, &[&good]).status, 200, "{junk:?}");
    }
    assert_eq!(
        hooked.events(),
        vec![
            ("ghost@example.net".to_owned(), "hard".to_owned()),
            ("reader@example.com".to_owned(), "complaint".to_owned())
        ]
    );
}

/// Send a POST of `length` bytes, tolerating the server closing before it is all written.
fn post_sized(address: &str, path: &str, length: usize) -> Response {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let head =
        format!("POST {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {length}\r\n\r\n");
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&vec![b' '; length]));
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    parse(&bytes)
}

#[test]
fn webhook_bodies_may_be_larger_than_forms_but_are_still_limited() {
    let hooked = Hooked::start();
    let address = &hooked.server.address;
    // 40 KiB is over the forms' limit but a fine webhook body (then refused as junk: 400).
    assert_eq!(post_sized(address, "/webhooks/mailgun", 40 * 1024).status, 400);
    assert_eq!(post_sized(address, "/subscribe", 40 * 1024).status, 413);
    assert_eq!(post_sized(address, "/webhooks/mailgun", 300 * 1024).status, 413);
    // Pages of the archive take no body: no more of one is read than of a form.
    assert_eq!(post_sized(address, "/", 40 * 1024).status, 413);
    assert_eq!(post_sized(address, "/nope", 40 * 1024).status, 413);
}
