//! Header fields: the shared ones formatted once per issue, the per-recipient ones per message.
//!
//! Enters: the publication's mailboxes, the subject, the `Date`, the list identity, and per
//! message the recipient's mailbox, Message-ID, `List-Unsubscribe` value and boundary. Leaves:
//! CRLF-terminated header lines, encoded and folded by lettre's header types (RFC 2047
//! encoded-words for non-ASCII text, quoted strings for specials).

use std::fmt::Write as _;
use std::io::Write as _;

use email_encoding::headers::{quoted_string, writer::EmailWriter};
use jiff::Timestamp;
use lettre::message::header::{
    self, ContentTransferEncoding, ContentType, Date, Header as _, HeaderName, HeaderValue, Headers, MessageId, Subject,
};
use lettre::message::{Mailbox, Mailboxes};

use crate::diagnostic::Diagnostic;

/// The longest line RFC 5322 allows, without its CRLF.
pub(crate) const MAX_LINE: usize = 998;

/// A boundary's per-message part: 16 hex digits.
pub(crate) const BOUNDARY_SUFFIX: usize = 16;
const PLACEHOLDER: &str = "xxxxxxxxxxxxxxxx";

/// A header field whose value a person writes, in the front matter or the configuration: text
/// that can hold a run without a space too long to fold under [`MAX_LINE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// `From`: the publication's `from`.
    From,
    /// `Reply-To`: the publication's `reply-to`.
    ReplyTo,
    /// `Subject`: the issue's `subject`, else its `title`.
    Subject,
    /// `List-Id`: the publication's `name`, then its slug at the From domain.
    ListId,
    /// `List-Unsubscribe`: the unsubscribe URL with a token, then the `mailto:` when configured.
    ListUnsubscribe,
}

impl Field {
    /// The header's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::From => "From",
            Self::ReplyTo => "Reply-To",
            Self::Subject => "Subject",
            Self::ListId => "List-Id",
            Self::ListUnsubscribe => "List-Unsubscribe",
        }
    }
}

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
    /// A line of a header is longer than [`MAX_LINE`]: lettre folds a header only at a space.
    #[error(
        "the `{}` header would have a line of {} characters; RFC 5322 allows {MAX_LINE}: `{}`",
        .field.name(),
        .line.len,
        .line.start
    )]
    TooLong {
        /// The header.
        field: Field,
        /// Its line that is too long.
        line: LongLine,
    },
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

impl HeaderError {
    /// What a send and `check` say of it: for a line too long, the code of what writes the
    /// header (the front matter's subject, the publication, the unsubscribe URL) and how to make
    /// it fit.
    pub(crate) fn diagnostic(&self) -> Diagnostic {
        let Self::TooLong { field, .. } = self else {
            return Diagnostic::error("compose/header", self.to_string());
        };
        let fold = "a header is folded onto a new line only at a space";
        let (code, help) = match field {
            Field::Subject => {
                ("front-matter/subject-line", format!("{fold}: put spaces in the subject, or shorten its longest word"))
            }
            Field::From | Field::ReplyTo => {
                ("config/header-line", format!("{fold}: put spaces in the display name, or shorten its longest word"))
            }
            Field::ListId => {
                ("config/header-line", format!("{fold}: put spaces in the publication's `name`, or shorten its longest word"))
            }
            Field::ListUnsubscribe => (
                "config/unsubscribe-url",
                "shorten the unsubscribe URL (`unsubscribe-url`, else `base-url` and `unsubscribe`): it cannot be folded, and each message's `List-Unsubscribe` appends a token to it".to_owned(),
            ),
        };
        Diagnostic::error(code, self.to_string()).help(help)
    }
}

/// A header line longer than [`MAX_LINE`]: its first 60 bytes and an ellipsis, and its length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{start}")]
pub(crate) struct LongLine {
    /// The line's start, as shown in messages.
    pub start: String,
    /// Its length in bytes, without the CRLF.
    pub len: usize,
}

impl SharedHeaders {
    /// Format the shared header lines; `nonce` makes this run's boundaries unique.
    pub(crate) fn new(fields: &Fields<'_>, nonce: &str) -> Result<Self, HeaderError> {
        let mut block = line(Date::new(fields.date.into()).display());
        block.push_str(&from_line(fields.from)?);
        if let Some(reply_to) = fields.reply_to {
            block.push_str(&reply_to_line(reply_to)?);
        }
        block.push_str(&subject_line(fields.subject)?);
        block.push_str(&line(header::MIME_VERSION_1_0.display()));
        block.push_str(&list_id_line(fields.list_name, fields.list_id)?);
        block.push_str(&line(raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")));
        let block = block.into_bytes();

        let boundary_prefix = format!("=_{nonce}.");
        let content_type =
            ContentType::parse(&format!("multipart/alternative; boundary=\"{boundary_prefix}{PLACEHOLDER}\""))
                .map_err(|e| HeaderError::ContentType(e.to_string()))?;
        let content_type = line(content_type.display());
        let (before, after) = content_type.split_once(PLACEHOLDER).ok_or(HeaderError::Boundary)?;
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
        // `To` written straight into the message; refolded only in the rare case a long display
        // name needs it, so the common message costs no copy. The other two hold no display name.
        let mut personal = Headers::with_capacity(1);
        personal.set(header::To::from(Mailboxes::from(to)));
        let start = out.len();
        let _ = write!(out, "{personal}");
        if let Ok(written) = std::str::from_utf8(&out[start..])
            && let std::borrow::Cow::Owned(folded) = fold_before_address(written)
        {
            out.truncate(start);
            out.extend_from_slice(folded.as_bytes());
        }
        let mut personal = Headers::with_capacity(2);
        personal.set(MessageId::from(format!("<{message_id}>")));
        personal.insert_raw(raw("List-Unsubscribe", list_unsubscribe));
        let _ = write!(out, "{personal}");
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

/// The `From` line(s) of `mailbox`; see [`fitted`].
pub(crate) fn from_line(mailbox: &Mailbox) -> Result<String, HeaderError> {
    fitted(Field::From, header::From::from(Mailboxes::from(mailbox.clone())).display())
}

/// The `Reply-To` line(s) of `mailbox`; see [`fitted`].
pub(crate) fn reply_to_line(mailbox: &Mailbox) -> Result<String, HeaderError> {
    fitted(Field::ReplyTo, header::ReplyTo::from(Mailboxes::from(mailbox.clone())).display())
}

/// The `Subject` line(s) of `subject` (as sent: a test send's with its `[TEST] `); see [`fitted`].
pub(crate) fn subject_line(subject: &str) -> Result<String, HeaderError> {
    fitted(Field::Subject, Subject::from(subject.to_owned()).display())
}

/// The `List-Id` line(s) of the list `name` with identifier `id`; see [`fitted`].
pub(crate) fn list_id_line(name: &str, id: &str) -> Result<String, HeaderError> {
    fitted(Field::ListId, list_id(name, id)?)
}

/// The `List-Unsubscribe` line(s) of `value` (see [`super::unsubscribe::value`]); see [`fitted`].
pub(crate) fn list_unsubscribe_line(value: &str) -> Result<String, HeaderError> {
    fitted(Field::ListUnsubscribe, raw("List-Unsubscribe", value))
}

/// The CRLF-terminated line(s) of a header a person writes, as every message carries it, or
/// [`HeaderError::TooLong`]: lettre folds a header only at a space, so text with a long run
/// without one makes a line no message may carry. The one test of those headers, made by a send
/// (before its first message) and by `check`.
fn fitted(field: Field, value: HeaderValue) -> Result<String, HeaderError> {
    let text = fold_before_address(&line(value)).into_owned();
    check_lines(text.as_bytes()).map_err(|line| HeaderError::TooLong { field, line })?;
    Ok(text)
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

/// The formatted line(s) of one header.
fn line(value: HeaderValue) -> String {
    let mut headers = Headers::with_capacity(1);
    headers.insert_raw(value);
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

/// `headers` (lettre's formatting), with a line that is too long folded before the `<address>`
/// that ends it, when a display name (a quoted string or encoded-words) comes
/// before it: lettre folds between encoded-words but not before the address, so a long non-ASCII
/// name put a line past the 76 characters RFC 2047 §2 allows a line with encoded-words (RFC
/// 5322 §2.1.1: 78). Folding there is folding white space before an angle-addr (RFC 5322
/// §3.4). No other header is touched: `List-Unsubscribe` is never folded.
pub(crate) fn fold_before_address(headers: &str) -> std::borrow::Cow<'_, str> {
    let fold_at = |body: &str| {
        (body.len() > 76)
            .then(|| body.rfind("?= <").or_else(|| body.rfind("\" <")).map(|at| at + 2))
            .flatten()
            .filter(|&at| body[at + 1..].ends_with('>') && !body[at + 1..].contains(' '))
    };
    let lines = || headers.split_inclusive("\r\n").map(|line| (line, line.strip_suffix("\r\n").unwrap_or(line)));
    if lines().all(|(_, body)| fold_at(body).is_none()) {
        return std::borrow::Cow::Borrowed(headers);
    }
    let mut out = String::with_capacity(headers.len() + 8);
    for (line, body) in lines() {
        match fold_at(body) {
            Some(at) => {
                out.push_str(&body[..at]);
                out.push_str("\r\n");
                out.push_str(&line[at..]);
            }
            None => out.push_str(line),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The first line of `bytes` longer than [`MAX_LINE`], if any.
pub(crate) fn check_lines(bytes: &[u8]) -> Result<(), LongLine> {
    match bytes.split(|&b| b == b'\n').find(|line| line.strip_suffix(b"\r").unwrap_or(line).len() > MAX_LINE) {
        Some(line) => {
            let len = line.strip_suffix(b"\r").unwrap_or(line).len();
            Err(LongLine { start: String::from_utf8_lossy(&line[..60]).into_owned() + "…", len })
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
