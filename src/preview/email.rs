//! One issue's email as a chosen subscriber will receive it: the personalised body, its size
//! against Gmail's clipping limit, and the raw message exactly as `send` composes it.
//!
//! Enters: a loaded [`Project`], a [`CheckedIssue`] (from [`crate::check::issue`]: what
//! composing starts from) and a [`SubscriberView`]. Leaves: the decoded bodies, a [`Size`],
//! and the `.eml` text from [`MessageTemplate`] — headers, MIME structure, List-Unsubscribe
//! and DKIM as a send writes them (only the Date differs).

use jiff::Timestamp;
use serde::Serialize;

use crate::check::{HTML_LIMIT, HTML_WARN};
use crate::checked::CheckedIssue;
use crate::compose::{ComposeOptions, MessageTemplate, Recipient};
use crate::env::Env;
use crate::error::Error;
use crate::mail::{KeyUse, Signing};
use crate::project::Project;
use crate::template::view::SubscriberView;

/// Gmail clips an HTML part larger than this and hides the rest behind a link.
pub const GMAIL_CLIP: usize = 102 * 1024;

/// The stand-in recipient when an issue has no lists to choose from.
pub fn sample_subscriber() -> SubscriberView {
    SubscriberView { email: "sam.reader@example.com".to_owned(), name: "Sam Reader".to_owned(), ..Default::default() }
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

/// One composed message and its bodies, decoded.
pub struct Composition {
    /// The raw message, as a send writes it.
    pub eml: String,
    /// The HTML part's body, decoded.
    pub html: String,
    /// The text part's body, decoded.
    pub text: String,
}

/// Compose the message a send would write for `to` on `list`, dated `at`; `Err` says why it
/// cannot be composed (shown in its place). Tokens use the project's keys when it has some,
/// otherwise a preview-only key, so the preview never creates state.
pub fn compose(
    project: &Project,
    checked: &CheckedIssue,
    to: &SubscriberView,
    list: Option<&String>,
    at: Timestamp,
    env: &Env,
) -> Result<Composition, Error> {
    let Signing { keys, dkim } = Signing::load(&project.root, &project.config, env, KeyUse::Preview)?;
    let options =
        ComposeOptions { date: at, keys, dkim, attr_columns: to.attrs.keys().cloned().collect(), test: false };
    let template = MessageTemplate::new(project, checked, options)?;
    let recipient = Recipient {
        email: &to.email,
        name: &to.name,
        attrs: &to.attrs,
        list: list.map_or(crate::compose::PREVIEW_LIST, String::as_str),
    };
    let mut out = Vec::new();
    let composed = template.compose(&recipient, &mut out)?;
    let (text, html) = composed.bodies(&out);
    Ok(Composition { eml: String::from_utf8_lossy(&out).into_owned(), html, text })
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
    fn the_message_is_what_a_send_composes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minimal");
        let project = Project::load(&root).unwrap();
        let issue = project.find("weekly/2016-12-09-first").unwrap();
        let at = "2026-11-22T09:30:00Z".parse().unwrap();
        let checked = crate::check::issue(&project, issue);
        let eml = compose(&project, &checked, &sample_subscriber(), None, at, &Env::default()).unwrap().eml;
        assert!(eml.contains("To: \"Sam Reader\" <sam.reader@example.com>\r\n"), "{eml}");
        assert!(eml.contains("Date: Sun, 22 Nov 2026 09:30:00 +0000\r\n"), "{eml}");
        assert!(eml.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"), "{eml}");
        let text = eml.find("Content-Type: text/plain").unwrap();
        let html = eml.find("Content-Type: text/html").unwrap();
        assert!(text < html, "text before html: {eml}");
        assert!(!root.join(crate::state::DIR).exists(), "the preview creates no state");
    }
}
