use super::*;

fn fields<'a>(from: &'a Mailbox, subject: &'a str, name: &'a str) -> Fields<'a> {
    Fields {
        from,
        reply_to: None,
        subject,
        date: Timestamp::UNIX_EPOCH,
        list_name: name,
        list_id: "weekly.example.org",
        feedback_id: None,
    }
}

#[test]
fn shared_headers_are_encoded_and_folded_by_lettre() {
    let from = Mailbox::new(Some("Zoë \"Q\" Müller, Jr.".to_owned()), "zoe@example.org".parse().unwrap());
    let subject = "Grüße aus 日本 👋🏽 ".repeat(12);
    let shared = SharedHeaders::new(&fields(&from, &subject, "The Weekly"), "0123456789abcdef").unwrap();
    let text = String::from_utf8(shared.block.clone()).unwrap();
    assert!(text.starts_with("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"), "{text}");
    assert!(text.contains("From: =?utf-8?"), "{text}");
    assert!(text.contains("List-Id: \"The Weekly\" <weekly.example.org>\r\n"), "{text}");
    assert!(text.ends_with("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"), "{text}");
    for line in text.split_terminator("\r\n") {
        assert!(line.len() <= 78 && line.is_ascii(), "{line:?}");
    }
    assert!(text.contains("\r\n =?utf-8?"), "the subject is folded between encoded-words");
    let mut out = Vec::new();
    shared.write_delimiter("fedcba9876543210", Delimiter::Close, &mut out);
    assert_eq!(out, b"\r\n--=_0123456789abcdef.fedcba9876543210--\r\n");
}

#[test]
fn a_long_display_name_is_folded_before_its_address() {
    let name = "Zoë Ångström-Müller de la Peña y Castellón-Hernández Öztürk Łukasiewicz";
    let from = Mailbox::new(Some(name.to_owned()), "zoe@example.org".parse().unwrap());
    let ascii = Mailbox::new(Some("A. ".repeat(25).trim().to_owned()), "ascii@example.org".parse().unwrap());
    let mut fields = fields(&from, "Hi", "W");
    fields.reply_to = Some(&ascii);
    let shared = SharedHeaders::new(&fields, "0123456789abcdef").unwrap();
    let mut out = shared.block.clone();
    let to = Mailbox::new(Some(name.to_owned()), "ruth@example.org".parse().unwrap());
    let unsubscribe = format!("<https://example.org/u?t={}>", "x".repeat(90));
    shared.write(to, "abc@example.org", &unsubscribe, "fedcba9876543210", "readers", &mut out);
    let text = String::from_utf8(out).unwrap();
    for line in text.split_terminator("\r\n").filter(|l| !l.starts_with("List-Unsubscribe:")) {
        assert!(line.len() <= if line.contains("=?") { 76 } else { 78 }, "{line:?} in\n{text}");
    }
    for address in ["<zoe@example.org>", "<ruth@example.org>"] {
        assert!(text.contains(&format!("?=\r\n {address}\r\n")), "{text}");
    }
    assert!(text.contains(&format!("List-Unsubscribe: {unsubscribe}\r\n")), "never folded: {text}");
    // Unfolded (RFC 5322 §2.2.3), the names read back whole.
    let parsed = mail_parser::MessageParser::default().parse(text.as_bytes()).unwrap();
    let to = parsed.to().and_then(|a| a.first()).unwrap();
    assert_eq!((to.name(), to.address()), (Some(name), Some("ruth@example.org")));
}

#[test]
fn content_type_holds_the_whole_boundary() {
    let from: Mailbox = "w@example.org".parse().unwrap();
    let shared = SharedHeaders::new(&fields(&from, "Hi", "W"), "0123456789abcdef").unwrap();
    let mut out = Vec::new();
    let to: Mailbox = "a@example.org".parse().unwrap();
    shared.write(to, "abc@example.org", "<https://example.org/u?t=x>", "fedcba9876543210", "readers", &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.ends_with(
            "Content-Type: multipart/alternative;\r\n boundary=\"=_0123456789abcdef.fedcba9876543210\"\r\n\r\n"
        ),
        "{text}"
    );
    assert!(text.contains(
        "To: a@example.org\r\nMessage-ID: <abc@example.org>\r\nList-Unsubscribe: <https://example.org/u?t=x>\r\n"
    ));
}

#[track_caller]
fn refused(line: Result<String, HeaderError>, field: Field, len: usize) {
    match line {
        Err(HeaderError::TooLong { field: f, line }) => assert_eq!((f, line.len), (field, len)),
        other => panic!("{field:?}: {other:?}"),
    }
}

#[test]
fn a_written_header_with_a_run_too_long_to_fold_is_refused_and_named() {
    let x = |n: usize| "x".repeat(n);
    // `Subject: ` and 989 characters: 998, the most a line may hold.
    assert_eq!(subject_line(&x(989)).unwrap().len(), 998 + 2);
    refused(subject_line(&x(990)), Field::Subject, 999);
    refused(subject_line(&format!("Re: {}", x(998))), Field::Subject, 999);
    let words = vec!["word"; 500].join(" ");
    assert!(subject_line(&words).unwrap().split("\r\n").all(|l| l.len() <= 78), "spaces fold");
    assert!(subject_line(&"ü".repeat(600)).is_ok(), "non-ASCII is encoded in folded encoded-words");
    let mailbox = |name: String| Mailbox::new(Some(name), "w@example.org".parse().unwrap());
    refused(from_line(&mailbox(x(990))), Field::From, 1012);
    refused(reply_to_line(&mailbox(x(990))), Field::ReplyTo, 1016);
    assert!(from_line(&mailbox(format!("{} {}", x(400), x(400)))).is_ok());
    refused(list_id_line(&x(990), "weekly.example.org"), Field::ListId, 1020);
    refused(list_unsubscribe_line(&format!("<https://example.org/{}>", x(959))), Field::ListUnsubscribe, 999);
}

#[test]
fn the_shared_block_refuses_what_each_written_header_refuses() {
    let from: Mailbox = "w@example.org".parse().unwrap();
    let long = "x".repeat(990);
    match SharedHeaders::new(&fields(&from, &long, "W"), "0123456789abcdef") {
        Err(e @ HeaderError::TooLong { field: Field::Subject, .. }) => assert!(
            e.to_string().starts_with(
                "the `Subject` header would have a line of 999 characters; RFC 5322 allows 998: `Subject: xxx"
            ),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        SharedHeaders::new(&fields(&from, "Hi", &long), "0123456789abcdef"),
        Err(HeaderError::TooLong { field: Field::ListId, .. })
    ));
}

#[test]
fn header_values_with_line_breaks_are_unsafe() {
    for (value, safe) in
        [("Plain name", true), ("Zoë", true), ("a\r\nBcc: x@example.com", false), ("a\nb", false), ("a\0", false)]
    {
        assert_eq!(is_header_safe(value), safe, "{value:?}");
    }
    assert!(check_lines(format!("A: {}\r\nB: b\r\n", "x".repeat(996)).as_bytes()).is_err());
    assert!(check_lines(format!("A: {}\r\nB: b\r\n", "x".repeat(995)).as_bytes()).is_ok());
}
