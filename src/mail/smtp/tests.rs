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

/// `mail-send`'s `write_message` transparency, byte by byte: the reference for [`transparent`].
fn stuffed_by_mail_send(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut after_line_end = false;
    let mut last = 0;
    for (pos, &byte) in message.iter().enumerate() {
        if byte == b'.' && after_line_end {
            out.extend_from_slice(&message[last..pos]);
            out.push(b'.');
            last = pos;
            after_line_end = false;
        } else {
            after_line_end = byte == b'\n' || byte == b'\r';
        }
    }
    out.extend_from_slice(&message[last..]);
    out.extend_from_slice(b"\r\n.\r\n");
    out
}

#[test]
fn a_dot_that_starts_a_line_is_doubled_and_the_message_ends_with_the_final_dot() {
    let mut wire = Vec::new();
    transparent(b"Subject: x\r\n\r\n.hidden\r\n..two\r\nend.\r\n.", &mut wire);
    assert_eq!(wire, b"Subject: x\r\n\r\n..hidden\r\n...two\r\nend.\r\n..\r\n.\r\n");
    transparent(b"", &mut wire);
    assert_eq!(wire, b"\r\n.\r\n", "the buffer is reused, not appended to");
}

mod transparency {
    use proptest::prelude::*;

    use super::{stuffed_by_mail_send, transparent};

    proptest! {
        #[test]
        fn is_the_same_as_mail_sends(message in proptest::collection::vec(
            prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), any::<u8>()], 0..200)) {
            let mut wire = vec![b'x'; 3];
            transparent(&message, &mut wire);
            prop_assert_eq!(wire, stuffed_by_mail_send(&message));
        }
    }
}
