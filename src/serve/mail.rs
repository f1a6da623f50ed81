//! The confirmation mail of a subscribe request, and its delivery.
//!
//! Enters: the address, the list, the confirmation link and its lifetime, the publication whose
//! sender speaks for the list, and the time. Leaves: an RFC 5322 message (lettre's builder:
//! `multipart/alternative`, text then HTML, both rendered by [`Ui`]; DKIM-signed when the project
//! signs its mail and the From domain aligns) handed to the configured transport — the outbox
//! directory's `confirmations/` folder, or the SMTP relay (`LETTERPRESS_SMTP_URL` as for `send`).
//!
//! `To` is the bare address: the name someone typed never reaches a header. The Message-ID
//! derives from the token, so the same request gives the same Message-ID.

use std::sync::Arc;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::pages::Ui;
use crate::compose::DkimKey;
use crate::config::{Config, List, Publication};
use crate::mail::{Configured, Connection as _, Outcome, Transport as _};
use crate::token::hex;

/// The outbox folder confirmation mails go to (under the configured outbox directory).
pub const OUTBOX_FOLDER: &str = "confirmations";

/// Delivers confirmation mails.
pub struct Mailer {
    transport: Arc<Configured>,
    dkim: Option<DkimKey>,
}

/// One confirmation mail to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation<'a> {
    /// The address to confirm (normalised).
    pub to: &'a str,
    /// The list.
    pub list: &'a List,
    /// The link that confirms.
    pub confirm_url: &'a str,
    /// The link's lifetime for people (`7 days`).
    pub ttl: &'a str,
    /// The token in the link (the Message-ID derives from it).
    pub token: &'a str,
    /// The message's `Date`.
    pub date: jiff::Timestamp,
}

#[derive(Serialize)]
struct MailView<'a> {
    list_name: &'a str,
    confirm_url: &'a str,
    ttl: &'a str,
}

/// A message ready for the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The envelope sender (the From address).
    pub envelope_from: String,
    /// The envelope recipient.
    pub to: String,
    /// The message bytes (CRLF).
    pub bytes: Vec<u8>,
    /// A file name for the outbox.
    pub name: String,
}

/// Why a confirmation could not be composed or delivered, on one line for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The publication's `from` is not a mailbox lettre accepts.
    #[error("`from` of `{slug}`: {reason}")]
    From {
        /// The publication.
        slug: String,
        /// lettre's reason.
        reason: String,
    },
    /// The recipient is not a mailbox lettre accepts.
    #[error("the address `{address}`: {reason}")]
    To {
        /// The address as given.
        address: String,
        /// lettre's reason.
        reason: String,
    },
    /// A project UI template failed to render.
    #[error("{0}")]
    Template(#[from] crate::template::ui::UiError),
    /// lettre could not assemble the message.
    #[error("cannot build the confirmation: {0}")]
    Build(String),
    /// DKIM signing failed.
    #[error("{0}")]
    Sign(String),
    /// No connection to the transport.
    #[error("{0}")]
    Connect(String),
    /// The relay answered with a refusal.
    #[error("the relay refused it: {0}")]
    Refused(String),
    /// The connection failed mid-transaction.
    #[error("{0}")]
    Lost(String),
    /// The blocking task running the delivery died.
    #[error("the mail task failed: {0}")]
    Task(String),
}

impl Mailer {
    /// A mailer delivering through the project's transport (as [`crate::mail::Outbound`] loads
    /// it, like `send`), signing with its DKIM key.
    pub fn new(transport: Configured, dkim: Option<DkimKey>) -> Self {
        Self { transport: Arc::new(transport), dkim }
    }

    /// Where mail goes, for the start-up line.
    pub fn describe(&self) -> String {
        self.transport.describe()
    }

    /// Build the message. Fails only for an address lettre refuses (the caller has validated it
    /// already) or a template error in the project's files.
    pub fn compose(&self, ui: &Ui, sender: &Publication, mail: &Confirmation<'_>) -> Result<Outgoing, MailError> {
        let from: Mailbox = sender.from.parse().map_err(|e: lettre::address::AddressError| MailError::From {
            slug: sender.slug.clone(),
            reason: e.to_string(),
        })?;
        let to: Mailbox = mail.to.parse().map_err(|e: lettre::address::AddressError| MailError::To {
            address: mail.to.to_owned(),
            reason: e.to_string(),
        })?;
        let view = MailView { list_name: &mail.list.name, confirm_url: mail.confirm_url, ttl: mail.ttl };
        let text = ui.render("confirm-email.txt", &view)?;
        let html = ui.render("confirm-email.html", &view)?;
        let digest = hex(&Sha256::new().chain_update(b"confirm\0").chain_update(mail.token.as_bytes()).finalize());
        let domain = from.email.domain().to_owned();
        let message = Message::builder()
            .from(from.clone())
            .to(Mailbox::new(None, to.email.clone()))
            .subject(format!("Confirm your subscription to {}", mail.list.name))
            .date(std::time::SystemTime::from(mail.date))
            .message_id(Some(format!("<{}@{domain}>", &digest[..32])))
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| MailError::Build(e.to_string()))?;
        let mut bytes = message.formatted();
        if let Some(dkim) = self.dkim.as_ref().filter(|d| d.aligns_with(&domain)) {
            dkim.sign(&mut bytes).map_err(MailError::Sign)?;
        }
        Ok(Outgoing {
            envelope_from: from.email.to_string(),
            to: to.email.to_string(),
            bytes,
            name: format!("confirm-{}", &digest[..24]),
        })
    }

    /// Deliver one message on a connection of its own, on a blocking thread (the outbox writes
    /// files synchronously). `Err` carries the relay's reply or the failure, for the log.
    pub async fn deliver(&self, outgoing: Outgoing) -> Result<(), MailError> {
        let transport = Arc::clone(&self.transport);
        let runtime = tokio::runtime::Handle::current();
        let sent = tokio::task::spawn_blocking(move || {
            runtime.block_on(async move {
                let mut connection = transport.connect().await.map_err(|e| MailError::Connect(e.to_string()))?;
                let outcome =
                    connection.send(&outgoing.envelope_from, &outgoing.to, &outgoing.bytes, &outgoing.name).await;
                connection.close().await;
                match outcome {
                    accepted if accepted.is_positive() => Ok(()),
                    Outcome::Replied { reply, .. } => Err(MailError::Refused(reply.summary())),
                    Outcome::Lost { error, .. } => Err(MailError::Lost(error)),
                }
            })
        });
        sent.await.map_err(|e| MailError::Task(e.to_string()))?
    }
}

/// The publication that speaks for `list`: the first that sends to it, else the first one.
pub fn sender_of<'a>(config: &'a Config, list: &str) -> Option<&'a Publication> {
    config.publications.iter().find(|p| p.lists.iter().any(|l| l == list)).or_else(|| config.publications.first())
}
