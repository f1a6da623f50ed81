//! Hearing back: delivery status notifications, complaints and provider webhooks turned into
//! verdicts, recorded once in the state store, and acted on by the subscription policy.
//!
//! Enters: raw messages (a Maildir, an mbox, `.eml` files, an IMAP mailbox) and verified
//! provider events (SES through SNS, Postmark, Mailgun). Leaves: one [`Finding`] per recipient
//! of each bounce, with a [`Verdict`]; recorded events; suppressions decided by
//! [`crate::subscriptions`].
//!
//! The types here are the seam between the parts: [`analyse`] reads one message, a [`Sink`]
//! records what was read (the state store in a run, a recorder in tests), and the sources (files,
//! IMAP, webhooks) only ever hand messages or [`ProviderEvent`]s to a sink.

pub mod imap;
pub mod webhook;

use serde::Serialize;

use crate::error::Result;

mod addr;
mod arf;
pub mod attribute;
mod autoreply;
mod classify;
mod codes;
mod failed;
mod fields;
pub mod files;
mod json;
mod parse;
mod phrases;
pub mod rates;
mod read;
pub mod store;
mod text;

/// What a bounce says about one recipient (also what `bounces --verdict` takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum Verdict {
    /// Permanent: no such user or domain, address moved, a 5xx "does not accept mail". A
    /// disabled or suspended mailbox is [`Verdict::Soft`] (reason `suspend`), as the field's
    /// reference classifiers have it: such mailboxes come back.
    Hard,
    /// Temporary: mailbox full, a suspended mailbox, greylisting, a temporary block, too big,
    /// expired in a queue, a policy or spam block; and a delayed-delivery warning (reason
    /// [`DELAYED`]), which is recorded only.
    Soft,
    /// A spam complaint (an ARF feedback report, or a provider's complaint event).
    Complaint,
    /// An automatic reply (RFC 3834, vacation, out of office): never a bounce.
    AutoReply,
    /// A success notification (`Action: delivered`, `relayed`, `expanded`): never a bounce.
    Delivered,
    /// Not recognised.
    Unknown,
}

impl Verdict {
    /// The word used in output, the state store and the docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hard => "hard",
            Self::Soft => "soft",
            Self::Complaint => "complaint",
            Self::AutoReply => "auto-reply",
            Self::Delivered => "delivered",
            Self::Unknown => "unknown",
        }
    }

    /// Whether this verdict suppresses the address at once (hard bounce or complaint).
    pub fn suppresses_now(self) -> bool {
        matches!(self, Self::Hard | Self::Complaint)
    }
}

/// One recipient of one bounce or report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The address that failed, as the report gives it (`Final-Recipient`, `Original-Rcpt-To`,
    /// or found in the text of a non-standard bounce); `None` when no address could be found.
    pub recipient: Option<String>,
    /// What happened to it.
    pub verdict: Verdict,
    /// The enhanced status code (RFC 3463), such as `5.1.1`.
    pub status: Option<String>,
    /// The SMTP reply code, such as `550`.
    pub reply: Option<u16>,
    /// A short reason word: `userunknown`, `hostunknown`, `hasmoved`, `mailboxfull`, `expired`,
    /// `blocked`, `spamdetected`, `policyviolation`, `toobig`, `complaint`, `vacation`, …
    pub reason: String,
    /// The diagnostic text (`Diagnostic-Code`, or the line of the bounce that explained it).
    pub diagnostic: Option<String>,
}

/// The reason word of a delayed-delivery warning (`Action: delayed`, "THIS IS A WARNING ONLY"):
/// verdict [`Verdict::Soft`], recorded, and otherwise nothing — the message may still be
/// delivered, so it neither marks the journal row nor counts as a soft bounce.
pub const DELAYED: &str = "delayed";

impl Finding {
    /// Whether this is only a warning that delivery is late.
    pub fn is_delay(&self) -> bool {
        self.reason == DELAYED
    }
}

/// What the bounce tells about the message it answers, for attributing it to a send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Original {
    /// `Message-ID` of the original message, when the bounce quotes its headers.
    pub message_id: Option<String>,
    /// `List-Id` of the original message.
    pub list_id: Option<String>,
    /// `List-Unsubscribe` of the original message (it carries the recipient's token).
    pub list_unsubscribe: Option<String>,
    /// `To` of the original message.
    pub to: Option<String>,
}

/// Everything read from one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Analysis {
    /// The bounce's own `Message-ID` (the key, with the recipient, that makes ingesting twice
    /// change nothing).
    pub message_id: Option<String>,
    /// The addresses the bounce was delivered to (`To`, `Delivered-To`, `X-Original-To`,
    /// `Envelope-To`, `Return-Path` of a forwarded copy): where a per-recipient return path,
    /// and so its token, is found.
    pub delivered_to: Vec<String>,
    /// Headers of the original message quoted in the bounce.
    pub original: Original,
    /// One finding per recipient; empty when the message is not a bounce at all.
    pub findings: Vec<Finding>,
}

/// Read one raw message. Never fails and never panics: a message that is not a bounce gives no
/// findings, and one that cannot be parsed gives an `unknown` finding.
pub fn analyse(raw: &[u8]) -> Analysis {
    read::analyse(raw)
}

/// The providers whose webhooks `serve` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// Amazon SES, through an SNS topic.
    Ses,
    /// Postmark.
    Postmark,
    /// Mailgun.
    Mailgun,
}

impl Provider {
    /// The provider's name in output and the state store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ses => "ses",
            Self::Postmark => "postmark",
            Self::Mailgun => "mailgun",
        }
    }
}

/// One verified event from a provider's webhook, for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderEvent {
    /// Who sent it.
    pub provider: Provider,
    /// The provider's id of the event (the key that makes a replay change nothing).
    pub event_id: String,
    /// The recipient the event is about.
    pub recipient: String,
    /// What happened.
    pub verdict: Verdict,
    /// The enhanced status code, when the provider gives one.
    pub status: Option<String>,
    /// The SMTP reply code, when the provider gives one.
    pub reply: Option<u16>,
    /// The diagnostic text.
    pub diagnostic: Option<String>,
    /// The `Message-ID` of our message, when the provider echoes it.
    pub message_id: Option<String>,
    /// When it happened, by the provider's clock.
    pub at: Option<jiff::Timestamp>,
}

/// What a sink did with one message or event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Recorded this many recipient events.
    Recorded(usize),
    /// Seen before: nothing changed.
    Duplicate,
    /// Read, but nothing to record (an auto-reply, a success notice, a token that does not
    /// verify); the reason is logged.
    Ignored(String),
    /// Could not be read at all; the reason is logged and the message goes to the `failed`
    /// folder.
    Unparsable(String),
}

/// Where read messages and events go: the state store in a run, a recorder in tests.
pub trait Sink: Send {
    /// Take one raw message; `origin` names it in log lines (a file path, `imap:INBOX/42`).
    fn message(&mut self, raw: &[u8], origin: &str) -> Result<Handled>;
    /// Take one verified provider event.
    fn event(&mut self, event: &ProviderEvent) -> Result<Handled>;
}
