//! Unit tests for the SMTP connection.

use super::*;

fn target(host: &str, loopback: bool) -> SmtpTarget {
    SmtpTarget {
        host: host.to_owned(),
        port: 587,
        implicit_tls: false,
        plaintext_allowed: true,
        loopback,
        credentials: Some(("editor".to_owned(), "secret".to_owned())),
        helo: "localhost".to_owned(),
        timeout: Duration::from_secs(1),
        connector: connector(None).expect("connector"),
    }
}

#[test]
fn auth_without_tls_goes_only_to_this_machine_even_when_plaintext_is_allowed() {
    let remote = target("relay.example.org", false);
    let Err(ConnectError::Fatal(message)) = refuse_cleartext_auth(&remote, false) else {
        panic!("AUTH in plaintext to a remote relay must be refused");
    };
    assert!(message.contains("`relay.example.org` offers no STARTTLS"), "{message}");
    assert!(!message.contains("secret"), "{message}");
    assert_eq!(refuse_cleartext_auth(&remote, true), Ok(()));
    assert_eq!(refuse_cleartext_auth(&target("127.0.0.1", true), false), Ok(()));
}
