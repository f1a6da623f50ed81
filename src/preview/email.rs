//! One issue's email as a chosen subscriber will receive it: the personalised body, its size
//! against Gmail's clipping limit, and a labelled approximation of the raw message.
//!
//! Enters: a loaded [`Project`], an issue's generic [`RenderedIssue`] (from
//! [`crate::check::check_issue`]) and an optional [`SubscriberView`]. Leaves: an [`EmailBody`],
//! a [`Size`], and `.eml` text. Until the sending stage has its own MIME composer, the raw
//! message is built with lettre's `Message` builder (multipart/alternative, text then HTML,
//! From/Reply-To/To/Subject/Date); a send adds Message-ID, List-Unsubscribe and a DKIM signature.

use std::hash::{Hash as _, Hasher as _};

use jiff::Timestamp;
use lettre::Message;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use serde::Serialize;

use crate::check::{HTML_LIMIT, HTML_WARN};
use crate::config::Publication;
use crate::diagnostic::Diagnostic;
use crate::project::{Project, RenderedIssue};
use crate::template::view::SubscriberView;
use crate::template::{self, EmailBody};

/// Gmail clips an HTML part larger than this and hides the rest behind a link.
pub const GMAIL_CLIP: usize = 102 * 1024;

/// The stand-in recipient when an issue has no lists to choose from.
pub fn sample_subscriber() -> SubscriberView {
    SubscriberView { email: "sam.reader@example.com".to_owned(), name: "Sam Reader".to_owned(), ..Default::default() }
}

/// The email of an issue for `subscriber`, or the generic one (as in the archive) for `None`.
pub fn personalise(
    project: &Project,
    publication: &Publication,
    generic: &RenderedIssue,
    subscriber: Option<&SubscriberView>,
) -> Result<EmailBody, Diagnostic> {
    let Some(subscriber) = subscriber else {
        return Ok(generic.email.clone());
    };
    let mut context = template::generic_context(&project.config, publication, generic.view.clone());
    context.subscriber = subscriber.clone();
    project.templates.email(publication, &context)
}

/// The size of an HTML email against Gmail's clipping limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Size {
    /// Bytes of HTML.
    pub bytes: usize,
    /// For people, e.g. `23.4 KB of 102 KB (23%)`.
    pub label: String,
    /// Share of the limit for a meter, 0 to 100.
    pub percent: usize,
    /// `ok`, `warning` (as `check` warns) or `error` (as `check` fails).
    pub level: &'static str,
}

impl Size {
    /// The size of `html`.
    pub fn of(html: &str) -> Self {
        let bytes = html.len();
        let percent = bytes * 100 / GMAIL_CLIP;
        let tenths = (bytes * 10).div_ceil(1024);
        let level = match bytes {
            b if b > HTML_LIMIT => "error",
            b if b > HTML_WARN => "warning",
            _ => "ok",
        };
        let label = format!("{}.{} KB of Gmail's 102 KB clip ({percent}%)", tenths / 10, tenths % 10);
        Self { bytes, label, percent: percent.min(100), level }
    }
}

/// `Name <address>` of a subscriber, or the bare address when there is no name.
pub fn mailbox_text(subscriber: &SubscriberView) -> String {
    if subscriber.name.is_empty() {
        subscriber.email.clone()
    } else {
        format!("{} <{}>", subscriber.name, subscriber.email)
    }
}

fn recipient(to: &SubscriberView) -> Result<Mailbox, String> {
    let address = to.email.parse().map_err(|e| format!("the recipient address `{}` cannot be used: {e}", to.email))?;
    Ok(Mailbox::new((!to.name.is_empty()).then(|| to.name.clone()), address))
}

/// An approximation of the raw message of `email` to `to`, dated `at`; `Err` says why it could
/// not be built (an unparsable address).
pub fn approximate_eml(
    publication: &Publication,
    email: &EmailBody,
    to: &SubscriberView,
    at: Timestamp,
) -> Result<String, String> {
    let parse = |what: &str, text: &str| {
        text.parse::<Mailbox>().map_err(|e| format!("the {what} address `{text}` cannot be used: {e}"))
    };
    let mut builder = Message::builder()
        .from(parse("from", &publication.from)?)
        .to(recipient(to)?)
        .subject(email.subject.clone())
        .date(at.into());
    if let Some(reply_to) = &publication.reply_to {
        builder = builder.reply_to(parse("reply-to", reply_to)?);
    }
    // A boundary made from the content keeps the text stable between reloads; `=_` cannot occur
    // in quoted-printable or base64 parts, so it cannot collide with them.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (&email.html, &email.text).hash(&mut hasher);
    let body = MultiPart::alternative()
        .boundary(format!("=_letterpress_{:016x}", hasher.finish()))
        .singlepart(SinglePart::plain(email.text.clone()))
        .singlepart(SinglePart::html(email.html.clone()));
    let message = builder.multipart(body).map_err(|e| format!("the message cannot be built: {e}"))?;
    Ok(String::from_utf8_lossy(&message.formatted()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_measured_against_the_clip() {
        let small = Size::of(&"x".repeat(2048));
        assert_eq!((small.label.as_str(), small.percent, small.level), ("2.0 KB of Gmail's 102 KB clip (1%)", 1, "ok"));
        assert_eq!(Size::of(&"x".repeat(HTML_WARN + 1)).level, "warning");
        let large = Size::of(&"x".repeat(GMAIL_CLIP * 2));
        assert_eq!((large.percent, large.level), (100, "error"));
    }

    #[test]
    fn the_approximate_message_is_multipart_text_then_html() {
        let config = crate::config::Config::parse(
            std::path::Path::new("letterpress.yaml"),
            "site: {title: T, base-url: 'https://t.example'}\npublications: [{slug: w, name: W, from: 'W <w@t.example>'}]\n",
        )
        .unwrap();
        let email = EmailBody {
            subject: "Plans & people".to_owned(),
            preheader: String::new(),
            html: "<p>Hi</p>".to_owned(),
            text: "Hi\n".to_owned(),
        };
        let at = "2026-11-22T09:30:00Z".parse().unwrap();
        let eml = approximate_eml(&config.publications[0], &email, &sample_subscriber(), at).unwrap();
        assert!(eml.contains("From: W <w@t.example>\r\n"), "{eml}");
        assert!(eml.contains("To: \"Sam Reader\" <sam.reader@example.com>\r\n"), "{eml}");
        assert!(eml.contains("Date: Sun, 22 Nov 2026 09:30:00 +0000\r\n"), "{eml}");
        assert!(eml.contains("Subject: Plans & people\r\n"), "{eml}");
        let text = eml.find("Content-Type: text/plain").unwrap();
        let html = eml.find("Content-Type: text/html").unwrap();
        assert!(text < html, "text before html: {eml}");
        assert_eq!(eml, approximate_eml(&config.publications[0], &email, &sample_subscriber(), at).unwrap());
    }
}
