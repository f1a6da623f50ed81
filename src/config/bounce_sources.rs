//! Where bounces are read from: an IMAP mailbox (`bounces.imap`) and provider webhooks
//! (`bounces.webhooks`).

use serde::Deserialize;

/// `bounces.imap`: the mailbox `bounces fetch` reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Imap {
    /// `imaps://host[:port]` (TLS), or `imap://` to a loopback address only.
    pub url: String,
    /// The login name.
    pub username: String,
    /// The environment variable holding the password.
    pub password_env: String,
    /// The folder to read.
    #[serde(default = "inbox")]
    pub folder: String,
    /// Where processed messages are moved.
    #[serde(default = "done")]
    pub done_folder: String,
    /// Where messages that could not be read are moved.
    #[serde(default = "failed")]
    pub failed_folder: String,
}

fn inbox() -> String {
    "INBOX".to_owned()
}
fn done() -> String {
    "Processed".to_owned()
}
fn failed() -> String {
    "Failed".to_owned()
}

/// `bounces.webhooks`: which providers' webhooks `serve` answers, and how each is verified.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Webhooks {}
