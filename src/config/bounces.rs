//! The `bounces` section: the bounce address the per-recipient return paths are built on, the
//! soft-bounce rule, and where bounces are read from (`imap`, `webhooks`, in
//! [`super::bounce_sources`]).

use std::path::Path;

use serde::Deserialize;

use super::bounce_sources::{Imap, Webhooks};
use super::{Config, find};
use crate::diagnostic::Diagnostic;
use crate::token::return_path::ReturnPath;
pub use crate::token::return_path::Separator;

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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const SITE: &str = "site:\n  title: T\n  base-url: https://news.example.org\npublications:\n  - slug: weekly\n    name: Weekly\n    from: Weekly <w@news.example.org>\n";

    fn problems(bounces: &str) -> Vec<(String, usize, usize)> {
        match Config::parse(Path::new("letterpress.yaml"), &format!("{SITE}bounces:\n{bounces}")) {
            Ok(_) => Vec::new(),
            Err(problems) => problems
                .into_iter()
                .map(|d| {
                    let at = d.location.as_ref().map_or((0, 0), |l| (l.line, l.col));
                    (d.message, at.0, at.1)
                })
                .collect(),
        }
    }

    #[test]
    fn a_bounce_address_and_soft_rule_are_checked_where_they_are_written() {
        assert_eq!(problems("  address: bounces@news.example.org\n  separator: \"-\"\n"), []);
        let bad = problems("  address: \"b+x@news.example.org\"\n  soft: {count: 6, window: 5}\n");
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert_eq!(
            bad[0],
            (
                "`bounces.address`: the local part of `b+x@news.example.org` must be plain and must not contain `+`"
                    .to_owned(),
                9,
                3
            )
        );
        assert_eq!((bad[1].1, bad[1].2), (10, 3));
        assert!(bad[1].0.contains("6 of 5"), "{}", bad[1].0);
        let parsed =
            Config::parse(Path::new("letterpress.yaml"), &format!("{SITE}bounces:\n  address: b@x.example\n")).unwrap();
        assert_eq!(parsed.bounces.return_path().unwrap().map(|p| p.plain()).as_deref(), Some("b@x.example"));
        assert_eq!(parsed.bounces.soft, SoftRule { count: 3, window: 5 });
    }
}
