//! How a message leaves: the one outbound seam.
//!
//! Enters: a message's envelope (from, to) and its bytes. Leaves: an [`Outcome`] — the relay's
//! reply and at which stage, or a lost connection and whether the message may have been accepted.
//!
//! A [`Transport`] opens [`Connection`]s, one per worker; three implement it: the outbox
//! directory ([`outbox::Outbox`], `.eml` files any mail client opens), an SMTP relay
//! ([`smtp::SmtpTarget`]) and, for tests, an in-memory [`recorder::Recorder`] answering from a
//! script. [`Configured`] is the one a project is set up for, and [`Outbound`] reads everything
//! outgoing mail needs — unsubscribe keys, the DKIM key, the transport — once, from the
//! configuration and the [`Env`]: `send`, `send --test`, `serve`'s confirmation mail and the
//! preview's raw message all take it from there.
//!
//! [`Env`]: crate::env::Env

mod outbound;
pub mod outbox;
pub mod pool;
pub mod quota;
pub mod recorder;
pub mod smtp;
pub mod tls;
mod transport;

use std::fmt;
use std::future::Future;

use serde::Serialize;

pub use outbound::{KeyUse, Outbound, Signing};
pub use pool::{Pool, PoolRelay};
pub use transport::{Configured, ConfiguredConnection, SMTP_URL_ENV};

/// A way to deliver: opens connections, each owned by one worker.
pub trait Transport: Send + Sync + 'static {
    /// One worker's session.
    type Connection: Connection;

    /// Open a connection (for the outbox, make sure the directory exists). The first one a
    /// send opens proves TLS and authentication before any recipient changes state.
    fn connect(&self) -> impl Future<Output = Result<Self::Connection, ConnectError>> + Send;

    /// A short description for logs, without secrets.
    fn describe(&self) -> String;

    /// Whether messages only land in files, so nobody is mailed (and one worker is enough).
    fn writes_files(&self) -> bool {
        false
    }
}

/// An open session with a transport.
pub trait Connection: Send + 'static {
    /// Open a transaction for one recipient: `None` when the transport waits for the message,
    /// `Some` is why not. Nothing deliverable has left yet.
    fn begin(&mut self, from: &str, to: &str) -> impl Future<Output = Option<Outcome>> + Send;

    /// After a successful [`Self::begin`], optionally: send all of `message` that does not
    /// make it deliverable yet, so the relay reads it while the caller waits for something
    /// else (the journal's in-flight mark). For SMTP that is the body without its final dot:
    /// a relay delivers nothing until the dot, and a connection dropped before it aborts the
    /// transaction (RFC 5321 §4.1.1.4). `Some` when the connection failed meanwhile (nothing
    /// was delivered). [`Self::data`] must then be given the same `message`. Default: nothing
    /// to send ahead.
    fn stage(&mut self, message: &[u8]) -> impl Future<Output = Option<Outcome>> + Send {
        let _ = message;
        std::future::ready(None)
    }

    /// After a successful [`Self::begin`] (and [`Self::stage`], if called): deliver the message;
    /// `name` is a stable file name for the outbox.
    fn data(&mut self, message: &[u8], name: &str) -> impl Future<Output = Outcome> + Send;

    /// Messages accepted on this connection.
    fn sent(&self) -> usize;

    /// Close politely (errors do not matter any more).
    fn close(self) -> impl Future<Output = ()> + Send;

    /// Deliver one message in one go (test copies and confirmation mails, not journaled).
    fn send(&mut self, from: &str, to: &str, message: &[u8], name: &str) -> impl Future<Output = Outcome> + Send
    where
        Self: Sized,
    {
        async move {
            match self.begin(from, to).await {
                Some(refused) => refused,
                None => self.data(message, name).await,
            }
        }
    }
}

/// Why a connection could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// TLS, STARTTLS or authentication failed: retrying will not help, stop the send.
    Fatal(String),
    /// The network or the relay is unavailable: retry later.
    Network(String),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fatal(m) | Self::Network(m) => f.write_str(m),
        }
    }
}

/// Where in a transaction a reply came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA (before the message).
    Data,
    /// After the message's final dot.
    EndOfData,
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The relay answered; a 2xx at [`Stage::EndOfData`] means accepted.
    Replied {
        /// The reply.
        reply: Reply,
        /// To which command.
        stage: Stage,
    },
    /// The connection failed; `after_data` means the whole message was sent and its reply lost,
    /// so it may have been accepted.
    Lost {
        /// Whether the message may have been accepted.
        after_data: bool,
        /// What went wrong.
        error: String,
    },
}

impl Outcome {
    /// The relay accepted the message (a 2xx to its end).
    pub fn is_positive(&self) -> bool {
        matches!(self, Self::Replied { reply, stage: Stage::EndOfData } if reply.is_positive())
    }

    /// Trying again later may help: a 4xx reply, or a connection lost before the message went.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Replied { reply, .. } => reply.is_transient(),
            Self::Lost { after_data, .. } => !after_data,
        }
    }

    /// The relay refused for good (a 5xx reply).
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Replied { reply, .. } if reply.is_permanent())
    }
}

/// An SMTP reply, reduced to what classification needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The enhanced status code (RFC 3463), when the server gave one.
    pub enhanced: Option<(u8, u16, u16)>,
    /// The text after the codes, lines joined with spaces.
    pub text: String,
}

impl Reply {
    /// `250 2.0.0 Ok: queued as …` for the journal and reports.
    pub fn summary(&self) -> String {
        match self.enhanced {
            Some((a, b, c)) => format!("{} {a}.{b}.{c} {}", self.code, self.text),
            None => format!("{} {}", self.code, self.text),
        }
    }

    /// A 2xx (or 3xx) reply.
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// A 4xx reply: try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// A 5xx reply.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }
}

/// Parse an enhanced status code at the start of a reply text (`5.1.1 …`).
pub fn enhanced_code(text: &str) -> Option<(u8, u16, u16)> {
    let first = text.split_whitespace().next()?;
    let mut parts = first.split('.');
    let class = parts.next()?.parse().ok()?;
    let subject = parts.next()?.parse().ok()?;
    let detail = parts.next()?.parse().ok()?;
    (parts.next().is_none() && matches!(class, 2 | 4 | 5)).then_some((class, subject, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replied(code: u16, stage: Stage) -> Outcome {
        Outcome::Replied { reply: Reply { code, enhanced: None, text: String::new() }, stage }
    }

    #[test]
    fn outcomes_say_whether_trying_again_can_help() {
        assert!(replied(250, Stage::EndOfData).is_positive());
        assert!(!replied(250, Stage::Rcpt).is_positive(), "accepted a command, not the message");
        assert!(replied(451, Stage::Rcpt).is_transient() && !replied(451, Stage::Rcpt).is_permanent());
        assert!(replied(550, Stage::EndOfData).is_permanent() && !replied(550, Stage::EndOfData).is_transient());
        let before = Outcome::Lost { after_data: false, error: String::new() };
        let after = Outcome::Lost { after_data: true, error: String::new() };
        assert!(before.is_transient() && !before.is_permanent());
        assert!(!after.is_transient() && !after.is_permanent() && !after.is_positive(), "may have been accepted");
    }
}
