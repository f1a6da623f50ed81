//! Header fields: the shared ones formatted once per issue, the per-recipient ones per message.
//!
//! Enters: the publication's mailboxes, the subject, the `Date`, the list identity, and per
//! message the recipient's mailbox, Message-ID, `List-Unsubscribe` value and boundary. Leaves:
//! CRLF-terminated header lines, encoded and folded by lettre's header types (RFC 2047
//! encoded-words for non-ASCII text, quoted strings for specials).

use std::fmt::Write as _;

use email_encoding::headers::{quoted_string, writer::EmailWriter};
use jiff::Timestamp;
use lettre::message::header::{
    self, ContentTransferEncoding, ContentType, Date, HeaderName, HeaderValue, Headers, MessageId, Subject,
};
use lettre::message::{Mailbox, Mailboxes};

/// The longest line RFC 5322 allows, without its CRLF.
pub(crate) const MAX_LINE: usize = 998;

/// A boundary's per-message part: 16 hex digits.
pub(crate) const BOUNDARY_SUFFIX: usize = 16;
const PLACEHOLDER: &str = "xxxxxxxxxxxxxxxx";

/// Which delimiter line of a multipart body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delimiter {
    /// Before the first part.
    First,
    /// Between two parts.
    Next,
    /// After the last part.
    Close,
}

/// What the shared header fields say.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    /// The publication's mailbox.
    pub from: &'a Mailbox,
    /// Where replies go, if not to `from`.
    pub reply_to: Option<&'a Mailbox>,
    /// The subject as sent.
    pub subject: &'a str,
    /// The `Date` of every message of the run.
    pub date: Timestamp,
    /// The list's display name (the publication's name).
    pub list_name: &'a str,
    /// The list's identifier, `<publication slug>.<from domain>`.
    pub list_id: &'a str,
    /// What `Feedback-ID` says before and after the recipient's list (`<issue>:<publication>:`
    /// and `:<sender-id>`), when a sender-id is configured.
    pub feedback_id: Option<(&'a str, &'a str)>,
}

/// The header lines every message of an issue shares, ready to copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedHeaders {
    /// Date, From, Reply-To, Subject, MIME-Version, List-Id, List-Unsubscribe-Post.
    block: Vec<u8>,
    /// The multipart `Content-Type` lines before and after the boundary's per-message part.
    content_type: (Vec<u8>, Vec<u8>),
    /// `=_<run nonce>.`: every boundary of the run starts so. `=_` never occurs in
    /// quoted-printable text, so no part can contain a boundary.
    boundary_prefix: String,
    /// `Feedback-ID: <issue>:<publication>:` and `:<sender-id>\r\n`, around each list.
    feedback_id: Option<(String, String)>,
    /// The text part's header lines and the blank line after them.
    pub text_part: Vec<u8>,
    /// The HTML part's header lines and the blank line after them.
    pub html_part: Vec<u8>,
}

/// Why the shared header lines could not be formatted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeaderError {
    /// A line of the shared block is longer than [`MAX_LINE`] (its start is kept).
    #[error("a header line is longer than {MAX_LINE} characters: `{}`", .0.start)]
    TooLong(LongLine),
    /// lettre refused the multipart content type.
    #[error("cannot format the message's content type: {0}")]
    ContentType(String),
    /// The boundary placeholder vanished from the formatted content type.
    #[error("cannot place the MIME boundary")]
    Boundary,
    /// The list's name cannot be written as a `List-Id` phrase.
    #[error("cannot encode the list's name")]
    ListName,
}

/// A header line longer than [`MAX_LINE`]: its first 60 bytes and an ellipsis.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{start}")]
pub(crate) struct LongLine {
    /// The line's start, as shown in messages.
    pub start: String,
}

impl SharedHeaders {
    /// Format the shared header lines; `nonce` makes this run's boundaries unique.
    pub(crate) fn new(fields: &Fields<'_>, nonce: &str) -> Result<Self, HeaderError> {
        let mut headers = Headers::new();
        headers.set(Date::new(fields.date.into()));
        headers.set(header::From::from(Mailboxes::from(fields.from.clone())));
        if let Some(reply_to) = fields.reply_to {
            headers.set(header::ReplyTo::from(Mailboxes::from(reply_to.clone())));
        }
        headers.set(Subject::from(fields.subject.to_owned()));
        headers.set(header::MIME_VERSION_1_0);
        headers.insert_raw(list_id(fields.list_name, fields.list_id)?);
        headers.insert_raw(raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"));
        let mut block = Vec::new();
        fold_before_address(&headers.to_string(), &mut block);
        check_lines(&block).map_err(HeaderError::TooLong)?;

        let boundary_prefix = format!("=_{nonce}.");
        let content_type =
            ContentType::parse(&format!("multipart/alternative; boundary=\"{boundary_prefix}{PLACEHOLDER}\""))
                .map_err(|e| HeaderError::ContentType(e.to_string()))?;
        let line = one(content_type);
        let (before, after) = line.split_once(PLACEHOLDER).ok_or(HeaderError::Boundary)?;
        Ok(Self {
            block,
            content_type: (before.as_bytes().to_vec(), after.as_bytes().to_vec()),
            boundary_prefix,
            feedback_id: fields
                .feedback_id
                .map(|(before, after)| (format!("Feedback-ID: {before}"), format!(":{after}\r\n"))),
            text_part: part_headers(ContentType::TEXT_PLAIN),
            html_part: part_headers(ContentType::TEXT_HTML),
        })
    }

    /// Append the whole header section of one message and the blank line that ends it.
    pub(crate) fn write(
        &self,
        to: Mailbox,
        message_id: &str,
        list_unsubscribe: &str,
        boundary: &str,
        list: &str,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(&self.block);
        let mut personal = Headers::with_capacity(3);
        personal.set(header::To::from(Mailboxes::from(to)));
        personal.set(MessageId::from(format!("<{message_id}>")));
        personal.insert_raw(raw("List-Unsubscribe", list_unsubscribe));
        fold_before_address(&personal.to_string(), out);
        if let Some((before, after)) = &self.feedback_id {
            out.extend_from_slice(before.as_bytes());
            out.extend(list.bytes().map(feedback_id_byte));
            out.extend_from_slice(after.as_bytes());
        }
        out.extend_from_slice(&self.content_type.0);
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(&self.content_type.1);
        out.extend_from_slice(b"\r\n");
    }

    /// Append a delimiter line: the first, one between parts (after the CRLF that belongs to
    /// it), or the close delimiter.
    pub(crate) fn write_delimiter(&self, suffix: &str, delimiter: Delimiter, out: &mut Vec<u8>) {
        if delimiter != Delimiter::First {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--");
        out.extend_from_slice(self.boundary_prefix.as_bytes());
        out.extend_from_slice(suffix.as_bytes());
        out.extend_from_slice(if delimiter == Delimiter::Close { b"--\r\n" } else { b"\r\n" });
    }
}

/// What `Feedback-ID` says around the list for `issue` (`<issue>:<publication>:` and
/// `<sender-id>`), when `sender` is configured: the slugs with anything but letters, digits, `.`,
/// `_` and `-` replaced.
pub(crate) fn feedback_id(issue: &crate::content::Issue, sender: Option<&str>) -> Option<(String, String)> {
    let clean = |s: &str| String::from_utf8(s.bytes().map(feedback_id_byte).collect()).unwrap_or_default();
    sender.map(|sender| (format!("{}:{}:", clean(&issue.slug), clean(&issue.publication)), sender.trim().to_owned()))
}

/// A byte of a `Feedback-ID` field: anything but a letter, digit, `.`, `_` or `-` becomes `-`,
/// so a field can never hold the separator or break the header.
pub(crate) fn feedback_id_byte(byte: u8) -> u8 {
    if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') { byte } else { b'-' }
}

/// A raw header whose value lettre encodes (encoded-words for non-ASCII) and folds.
fn raw(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_owned())
}

/// `List-Id: "Name" <id>` (RFC 2919): the phrase quoted or encoded like a display name.
fn list_id(name: &str, id: &str) -> Result<HeaderValue, HeaderError> {
    let mut encoded = String::new();
    {
        let mut w = EmailWriter::new(&mut encoded, "List-Id: ".len(), 0, false);
        quoted_string::encode(name, &mut w)
            .and_then(|()| {
                w.space();
                write!(w, "<{id}>")
            })
            .map_err(|_| HeaderError::ListName)?;
    }
    Ok(HeaderValue::dangerous_new_pre_encoded(
        HeaderName::new_from_ascii_str("List-Id"),
        format!("{name} <{id}>"),
        encoded,
    ))
}

/// The formatted line of one header.
fn one<H: header::Header>(value: H) -> String {
    let mut headers = Headers::with_capacity(1);
    headers.set(value);
    headers.to_string()
}

fn part_headers(content_type: ContentType) -> Vec<u8> {
    let mut headers = Headers::with_capacity(2);
    headers.set(content_type);
    headers.set(ContentTransferEncoding::QuotedPrintable);
    format!("{headers}\r\n").into_bytes()
}

/// Whether a value may go into a header: no CR, LF or NUL (EMAIL.md SEC-1).
pub(crate) fn is_header_safe(value: &str) -> bool {
    !value.contains(['\r', '\n', '\0'])
}

/// The first line of `bytes` longer than [`MAX_LINE`], if any.
/// Append `headers` (lettre's formatting) to `out`, with a line that is too long folded before
/// the `<address>` that ends it, when a display name (a quoted string or encoded-words) comes
/// before it: lettre folds between encoded-words but not before the address, so a long non-ASCII
/// name put a line past the 76 characters RFC 2047 §2 allows a line with encoded-words (RFC
/// 5322 §2.1.1: 78). Folding there is folding white space before an angle-addr (RFC 5322
/// §3.4). No other header is touched: `List-Unsubscribe` is never folded.
pub(crate) fn fold_before_address(headers: &str, out: &mut Vec<u8>) {
    for line in headers.split_inclusive("\r\n") {
        let body = line.strip_suffix("\r\n").unwrap_or(line);
        let fold = (body.len() > 76)
            .then(|| body.rfind("?= <").or_else(|| body.rfind("\" <")).map(|at| at + 2))
            .flatten()
            .filter(|&at| body[at + 1..].ends_with('>') && !body[at + 1..].contains(' '));
        match fold {
            Some(at) => {
                out.extend_from_slice(&body.as_bytes()[..at]);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&line.as_bytes()[at..]);
            }
            None => out.extend_from_slice(line.as_bytes()),
        }
    }
}

pub(crate) fn check_lines(bytes: &[u8]) -> Result<(), LongLine> {
    match bytes.split(|&b| b == b'\n').find(|line| line.strip_suffix(b"\r").unwrap_or(line).len() > MAX_LINE) {
        Some(line) => Err(LongLine { start: String::from_utf8_lossy(&line[..60]).into_owned() + "…" }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
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
}
