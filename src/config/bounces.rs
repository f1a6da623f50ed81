//! The `bounces` section: the bounce address the per-recipient return paths are built on, the
//! soft-bounce rule, and where bounces are read from (`imap`, `webhooks`, in
//! [`super::bounce_sources`]).

use serde::Deserialize;

use super::bounce_sources::{Imap, Webhooks};

/// How bounces come back and what they do.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Bounces {
    /// The bounce mailbox, such as `bounces@news.example.org`; each message's return path is
    /// `bounces+<token>@news.example.org`. Absent: the envelope sender is the `From` address.
    #[serde(default)]
    pub address: Option<String>,
    /// The character between the local part and the token: `+` (default) or `-`.
    #[serde(default)]
    pub separator: Separator,
    /// When soft bounces suppress an address.
    #[serde(default)]
    pub soft: SoftRule,
    /// An IMAP mailbox `bounces fetch` reads.
    #[serde(default)]
    pub imap: Option<Imap>,
    /// Provider webhooks `serve` answers.
    #[serde(default)]
    pub webhooks: Webhooks,
}

/// The separator of a per-recipient return path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Separator {
    /// `bounces+token@…`
    #[default]
    #[serde(rename = "+")]
    Plus,
    /// `bounces-token@…`
    #[serde(rename = "-")]
    Dash,
}

/// Soft bounces suppress an address after `count` of them within its last `window` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SoftRule {
    /// Soft bounces needed.
    pub count: u32,
    /// Within this many of the address's last sends.
    pub window: u32,
}

impl Default for SoftRule {
    fn default() -> Self {
        Self { count: 3, window: 5 }
    }
}
