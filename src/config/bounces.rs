//! The `bounces` section: the bounce address the per-recipient return paths are built on, the
//! soft-bounce rule, and where bounces are read from (`imap`, `webhooks`, in
//! [`super::bounce_sources`]).

use std::path::Path;

use serde::Deserialize;

use super::bounce_sources::{Imap, Webhooks};
use super::{Config, find};
use crate::diagnostic::Diagnostic;
use crate::token::return_path::ReturnPath;

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

impl Bounces {
    /// The return paths built on `address`, when it is set; why not, when it is not a plain
    /// mailbox with room for a token.
    pub fn return_path(&self) -> Result<Option<ReturnPath>, String> {
        self.address.as_deref().map(|address| ReturnPath::parse(address, self.separator)).transpose()
    }
}

impl Config {
    pub(super) fn validate_bounces(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        if let (Err(why), Some(address)) = (self.bounces.return_path(), &self.bounces.address) {
            let at = find(path, text, "address", address);
            problems.push(
                Diagnostic::error("config/bounces", format!("`bounces.address`: {why}"))
                    .help("write the bounce mailbox, e.g. `address: bounces@news.example.org`")
                    .at(at, text),
            );
        }
        let soft = self.bounces.soft;
        if soft.count == 0 || soft.window == 0 || soft.count > soft.window || soft.window > 1000 {
            let at = find(path, text, "soft", "");
            problems.push(
                Diagnostic::error(
                    "config/bounces",
                    format!(
                        "`bounces.soft` is {} of {}; `count` must be at least 1 and at most `window`, `window` at most 1000",
                        soft.count, soft.window
                    ),
                )
                .help("write e.g. `soft: {count: 3, window: 5}`")
                .at(at, text),
            );
        }
        problems
    }
}
