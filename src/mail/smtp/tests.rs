//! Unit tests for the SMTP connection.

use super::connect::refuse_cleartext_auth;
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

/// A connection in the middle of a transaction (after the relay's 354), whose relay is the
/// other end of an in-memory stream.
fn open_transaction(capacity: usize) -> (SmtpConnection, tokio::io::DuplexStream) {
    let (ours, relay) = tokio::io::duplex(capacity);
    let connection = SmtpConnection {
        client: wrap(Box::new(ours), Duration::from_secs(5)),
        pipelining: true,
        smtputf8: true,
        timeout: Duration::from_secs(5),
        sent: 0,
        wire: Vec::new(),
        staged: false,
    };
    (connection, relay)
}

/// Everything the relay can read now, without waiting for more.
fn readable(relay: &mut tokio::io::DuplexStream) -> Vec<u8> {
    use futures_util::FutureExt as _;
    use tokio::io::AsyncReadExt as _;
    let mut got = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Some(Ok(n @ 1..)) = relay.read(&mut buffer).now_or_never() {
        got.extend_from_slice(&buffer[..n]);
    }
    got
}

#[test]
fn a_staged_message_reaches_the_relay_without_its_final_dot_until_data() {
    use tokio::io::AsyncWriteExt as _;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let message = b"Subject: x\r\n\r\n.hidden\r\nend";
        let (mut connection, mut relay) = open_transaction(64 * 1024);
        assert_eq!(connection.stage(message).await, None);
        // The body, dot-stuffed, up to its last line's end: not yet a message the relay may
        // deliver.
        assert_eq!(readable(&mut relay), b"Subject: x\r\n\r\n..hidden\r\nend\r\n");
        relay.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
        let outcome = connection.data(message, "x").await;
        assert_eq!(readable(&mut relay), b".\r\n", "only the final dot is left");
        assert!(matches!(outcome, Outcome::Replied { ref reply, stage: Stage::EndOfData } if reply.code == 250));
        assert_eq!(connection.sent(), 1);

        // Without a stage, the next message goes whole, and the same wire results.
        relay.write_all(b"250 2.0.0 queued\r\n").await.unwrap();
        let outcome = connection.data(message, "x").await;
        assert_eq!(readable(&mut relay), b"Subject: x\r\n\r\n..hidden\r\nend\r\n.\r\n");
        assert!(outcome.is_positive());
    });
}

#[test]
fn a_relay_gone_before_the_final_dot_cannot_have_taken_the_message() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (mut connection, relay) = open_transaction(64 * 1024);
        drop(relay);
        let Some(Outcome::Lost { after_data, .. }) = connection.stage(&vec![b'x'; 200_000]).await else {
            panic!("the write must fail");
        };
        assert!(!after_data, "no final dot went out: the message is not delivered, and may be retried");
    });
}

#[test]
fn a_relay_that_stops_reading_the_message_times_out_instead_of_holding_the_worker() {
    // Paused time: the timeout fires as soon as nothing else can run, not after real seconds.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let (mut connection, _relay) = open_transaction(1024);
        let Some(Outcome::Lost { after_data, error }) = connection.stage(&vec![b'x'; 100_000]).await else {
            panic!("the write must give up");
        };
        assert!(!after_data);
        assert!(error.contains("did not take the message within the timeout"), "{error}");
        // Sent whole, the message meets the same timeout, now as a loss after the data (the
        // final dot may have gone out).
        let (mut connection, _relay) = open_transaction(1024);
        let outcome = connection.data(&vec![b'x'; 100_000], "x").await;
        assert!(matches!(outcome, Outcome::Lost { after_data: true, .. }), "{outcome:?}");
    });
}
