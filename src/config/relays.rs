//! `sending.relays:`: several SMTP relays, each with its own credentials, weight, connections,
//! quotas and From domains. `sending.smtp` (or `LETTERPRESS_SMTP_URL`) is the pool of one.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::sending::{Limits, Smtp, SmtpUrl, TlsPolicy};
use super::{Config, TransportKind};
use crate::diagnostic::{Diagnostic, Location, did_you_mean};

/// One relay of `sending.relays`.
///
/// Its connection fields repeat [`Smtp`]'s by hand, and [`Relay::smtp`] copies them across:
/// serde's `flatten` would share them but cannot be combined with `deny_unknown_fields`, which
/// is what turns a misspelt relay key into a located error.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Relay {
    /// Its name in the journal, the budgets, `status` and `log`: letters, digits, `-` and `_`.
    pub name: String,
    /// `smtps://host:465` (implicit TLS) or `smtp://host:587` (STARTTLS required).
    pub url: String,
    /// AUTH user name.
    #[serde(default)]
    pub username: Option<String>,
    /// Name of the environment variable holding this relay's password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// `required` (default) or `none`, as for `sending.smtp`.
    #[serde(default)]
    pub tls: TlsPolicy,
    /// A PEM file of extra certificate authorities to trust, relative to the project root.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Name to announce in EHLO (default: the sender's domain).
    #[serde(default)]
    pub helo: Option<String>,
    /// Its share of the messages against the others' (default 1); 0 is a standby, used only
    /// while every weighted relay is down.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Connections to it at once (default: `sending.concurrency`).
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Its quotas, counted in the state store under its name.
    #[serde(default)]
    pub limits: Limits,
    /// Use it only for messages from these domains (the publications' `from`); empty: all.
    #[serde(default)]
    pub from_domains: Vec<String>,
}

fn default_weight() -> u32 {
    1
}

impl Relay {
    /// The connection settings, as `sending.smtp` holds them.
    pub fn smtp(&self) -> Smtp {
        Smtp {
            url: self.url.clone(),
            username: self.username.clone(),
            password_env: self.password_env.clone(),
            tls: self.tls,
            ca_file: self.ca_file.clone(),
            helo: self.helo.clone(),
        }
    }

    /// Whether it carries mail from `domain` (case-insensitive).
    pub fn serves(&self, domain: &str) -> bool {
        self.from_domains.is_empty() || self.from_domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}

/// The domain of a `Name <local@domain>` or bare address, lowercased.
pub fn from_domain(from: &str) -> Option<String> {
    let address = from.rsplit_once('<').map_or(from, |(_, rest)| rest.trim_end().trim_end_matches('>'));
    address.rsplit_once('@').map(|(_, domain)| domain.trim().to_ascii_lowercase()).filter(|d| !d.is_empty())
}

impl Config {
    pub(super) fn validate_relays(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let sending = &self.sending;
        let relays = &sending.relays;
        let mut problems = Vec::new();
        if relays.is_empty() {
            return problems;
        }
        let mut fail = |at: Location, d: Diagnostic| problems.push(d.at(at, text));
        if sending.smtp.is_some() {
            fail(
                relay_key(path, text, None, "relays"),
                Diagnostic::error("config/relays", "`sending` has both `smtp:` and `relays:`")
                    .help("move the `smtp:` relay into `relays:` as one entry with a `name:`, or remove `relays:`"),
            );
        }
        if sending.transport != TransportKind::Smtp {
            fail(
                relay_key(path, text, None, "relays"),
                Diagnostic::error("config/relays", "`relays:` is set but `transport` is not `smtp`")
                    .help("add `transport: smtp` under `sending:`, or remove `relays:`"),
            );
        }
        if !sending.limits.set().is_empty() {
            fail(
                relay_key(path, text, None, "limits"),
                Diagnostic::error(
                    "config/relays",
                    "`sending.limits` does not apply with `relays:`: each relay has its own",
                )
                .help("move the quotas to `limits:` under the relay they belong to"),
            );
        }
        if relays.iter().all(|r| r.weight == 0) {
            fail(
                relay_key(path, text, Some(0), "weight"),
                Diagnostic::error("config/relays", "every relay has `weight: 0`, so no relay would get any message")
                    .help("give at least one relay a weight of 1 or more (0 is a standby)"),
            );
        }
        let domains: Vec<String> = self.publications.iter().filter_map(|p| from_domain(&p.from)).collect();
        for (i, relay) in relays.iter().enumerate() {
            let at = |key: &str| relay_key(path, text, Some(i), key);
            let valid_name = !relay.name.is_empty()
                && relay.name.len() <= 64
                && relay.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid_name {
                fail(
                    at("name"),
                    Diagnostic::error(
                        "config/relays",
                        format!("relay name `{}` is not a name", relay.name.escape_debug()),
                    )
                    .help("use 1 to 64 letters, digits, `-` or `_`, e.g. `name: ses-eu`"),
                );
            }
            if relays[..i].iter().any(|r| r.name == relay.name) {
                fail(
                    at("name"),
                    Diagnostic::error("config/relays", format!("two relays are named `{}`", relay.name))
                        .help("give each relay its own name: the journal and the budgets count by it"),
                );
            }
            if let Err(why) = SmtpUrl::parse(&relay.url) {
                fail(
                    at("url"),
                    Diagnostic::error("config/smtp-url", format!("relay `{}`: `url` {why}", relay.name))
                        .help("write `smtps://smtp.example.org:465` or `smtp://smtp.example.org:587`"),
                );
            }
            if relay.username.is_some() && relay.password_env.is_none() {
                fail(
                    at("username"),
                    Diagnostic::error(
                        "config/relays",
                        format!("relay `{}` has `username:` but no `password-env:`", relay.name),
                    )
                    .help("add `password-env:` naming the environment variable that holds its password"),
                );
            }
            if relay.concurrency.is_some_and(|c| c == 0 || c > 64) {
                fail(
                    at("concurrency"),
                    Diagnostic::error(
                        "config/relays",
                        format!("relay `{}`: `concurrency` must be between 1 and 64", relay.name),
                    ),
                );
            }
            for (key, value) in relay.limits.set() {
                if value == 0 {
                    fail(
                        at(key),
                        Diagnostic::error(
                            "config/relays",
                            format!("relay `{}`: `{key}` must be at least 1", relay.name),
                        )
                        .help(format!("remove `{key}` for no limit, or write the relay's quota")),
                    );
                }
            }
        }
        // Every publication's domain needs a relay, or its sends would have nowhere to go.
        for domain in domains.iter().filter(|d| !relays.iter().any(|r| r.serves(d))) {
            fail(
                relay_key(path, text, None, "relays"),
                Diagnostic::error("config/relays", format!("no relay carries mail from `{domain}`"))
                    .help(format!("add `{domain}` to a relay's `from-domains`, or add a relay without `from-domains`")),
            );
        }
        problems
    }

    /// [`Config::relay_warnings`] of the project at `root`, located in its `letterpress.yaml`
    /// (unlocated if the file cannot be read again).
    pub fn relay_warnings_in(&self, root: &Path) -> Vec<Diagnostic> {
        if self.sending.relays.is_empty() {
            return Vec::new();
        }
        let text = std::fs::read_to_string(super::path_in(root)).unwrap_or_default();
        self.relay_warnings(Path::new(super::FILE_NAME), &text)
    }

    /// Warnings about `sending.relays` that do not stop a send: a `from-domains` entry no
    /// publication's `from` uses (a typo, most likely), with a did-you-mean.
    pub fn relay_warnings(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let domains: Vec<String> = self.publications.iter().filter_map(|p| from_domain(&p.from)).collect();
        let mut warnings = Vec::new();
        for (i, relay) in self.sending.relays.iter().enumerate() {
            for domain in relay.from_domains.iter().filter(|d| !domains.iter().any(|p| p.eq_ignore_ascii_case(d))) {
                let help = match did_you_mean(domain, domains.iter().map(String::as_str)) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("the publications send from: {}", domains.join(", ")),
                };
                let d = Diagnostic::warning(
                    "config/relays",
                    format!(
                        "relay `{}` lists `{domain}` in `from-domains`, but no publication sends from it",
                        relay.name
                    ),
                )
                .help(help);
                warnings.push(d.at(relay_value(path, text, i, "from-domains", domain), text));
            }
        }
        warnings
    }
}

/// The lines of `sending.relays` entry `index` (each starts at a `- `), or of the `sending:`
/// block when `index` is `None`.
fn relay_lines(text: &str, index: Option<usize>) -> Option<std::ops::Range<usize>> {
    let lines: Vec<&str> = text.lines().collect();
    let sending = lines.iter().position(|l| l.trim_end() == "sending:")?;
    let end = (sending + 1..lines.len())
        .find(|&i| lines[i].starts_with(|c: char| !c.is_whitespace() && c != '#'))
        .unwrap_or(lines.len());
    let Some(index) = index else { return Some(sending..end) };
    let relays = (sending + 1..end).find(|&i| lines[i].trim_start().starts_with("relays:"))?;
    let depth = |l: &str| l.len() - l.trim_start().len();
    let base = depth(lines[relays]);
    let stop = (relays + 1..end)
        .find(|&i| !lines[i].trim().is_empty() && depth(lines[i]) <= base && !lines[i].trim_start().starts_with("- "))
        .unwrap_or(end);
    let starts: Vec<usize> = (relays + 1..stop).filter(|&i| lines[i].trim_start().starts_with("- ")).collect();
    let item_depth = starts.first().map(|&s| depth(lines[s]))?;
    let starts: Vec<usize> = starts.into_iter().filter(|&s| depth(lines[s]) == item_depth).collect();
    let from = *starts.get(index)?;
    Some(from..starts.get(index + 1).copied().unwrap_or(stop))
}

/// Where `key:` is in relay entry `index` (or in `sending:`), falling back to the entry's first
/// line, then `sending:`, then `1:1`.
fn relay_key(path: &Path, text: &str, index: Option<usize>, key: &str) -> Location {
    relay_value(path, text, index.unwrap_or(usize::MAX), key, "")
}

fn relay_value(path: &Path, text: &str, index: usize, key: &str, value: &str) -> Location {
    let entry = if index == usize::MAX { relay_lines(text, None) } else { relay_lines(text, Some(index)) };
    let Some(range) = entry.or_else(|| relay_lines(text, None)) else { return Location::new(path, 1, 1) };
    let needle = format!("{key}:");
    let lines: Vec<&str> = text.lines().collect();
    let hit = range.clone().find(|&i| {
        let l = lines[i].trim_start().trim_start_matches("- ");
        l.starts_with(&needle) && l.contains(value)
    });
    let hit = hit.or_else(|| {
        // A value on a line of its own below the key (`- example.org`).
        let key_line = range.clone().find(|&i| lines[i].trim_start().trim_start_matches("- ").starts_with(&needle))?;
        (key_line..range.end).find(|&i| !value.is_empty() && lines[i].contains(value))
    });
    let i = hit.unwrap_or(range.start);
    let col = if hit.is_some() && !value.is_empty() && !lines[i].contains(&needle) {
        lines[i].find(value)
    } else {
        lines[i].find(&needle).or_else(|| lines[i].find(|c: char| !c.is_whitespace() && c != '-'))
    };
    let col = col.map_or(0, |b| lines[i][..b].chars().count());
    Location::new(path, i + 1, col + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "site:\n  title: T\n  base-url: https://news.example.org\npublications:\n  - slug: weekly\n    name: Weekly\n    from: Weekly <w@news.example.org>\n";

    fn parse(sending: &str) -> Result<Config, Vec<Diagnostic>> {
        Config::parse(Path::new("letterpress.yaml"), &format!("{BASE}sending:\n  transport: smtp\n{sending}"))
    }

    fn at(errors: &[Diagnostic]) -> Vec<(String, usize, usize)> {
        errors
            .iter()
            .map(|e| {
                (e.message.clone(), e.location.as_ref().map_or(0, |l| l.line), e.location.as_ref().map_or(0, |l| l.col))
            })
            .collect()
    }

    #[test]
    fn a_list_of_relays_parses_with_defaults() {
        let config = parse(
            "  relays:\n    - name: a\n      url: smtp://127.0.0.1:2525\n      weight: 3\n      limits: { per-day: 100 }\n    - name: b\n      url: smtp://127.0.0.1:2526\n      from-domains: [news.example.org]\n",
        )
        .unwrap();
        let relays = &config.sending.relays;
        assert_eq!((relays[0].weight, relays[0].limits.per_day, relays[1].weight), (3, Some(100), 1));
        assert!(relays[1].serves("NEWS.example.org") && !relays[1].serves("other.org") && relays[0].serves("x.org"));
        assert!(config.relay_warnings(Path::new("l"), "").is_empty());
    }

    #[test]
    fn each_bad_relay_list_is_a_located_error() {
        let two = |first: &str, second: &str| {
            format!(
                "  relays:\n    - name: a\n      url: smtp://127.0.0.1:1\n{first}    - name: b\n      url: smtp://127.0.0.1:2\n{second}"
            )
        };
        let duplicate = parse(&two("", "").replace("name: b", "name: a")).unwrap_err();
        assert_eq!(at(&duplicate), [("two relays are named `a`".to_owned(), 13, 7)]);
        let zero = parse(&two("      weight: 0\n", "      weight: 0\n")).unwrap_err();
        assert_eq!(zero[0].location.as_ref().map(|l| (l.line, l.col)), Some((13, 7)), "{zero:?}");
        let limit = parse(&two("", "      limits:\n        per-hour: 0\n")).unwrap_err();
        assert_eq!(at(&limit), [("relay `b`: `per-hour` must be at least 1".to_owned(), 16, 9)]);
        let both = parse(&format!("  smtp:\n    url: smtp://127.0.0.1:1\n{}", two("", ""))).unwrap_err();
        assert_eq!(both[0].message, "`sending` has both `smtp:` and `relays:`");
        let unknown = parse(&two("      wieght: 2\n", "")).unwrap_err();
        assert!(
            unknown[0].message.contains("wieght") && unknown[0].help.as_deref().unwrap_or("").contains("weight"),
            "{unknown:?}"
        );
        assert_eq!(unknown[0].location.as_ref().map(|l| l.line), Some(13));
    }

    #[test]
    fn a_from_domain_nobody_uses_is_a_warning_with_a_guess() {
        let text = format!(
            "{BASE}sending:\n  transport: smtp\n  relays:\n    - name: a\n      url: smtp://127.0.0.1:1\n    - name: b\n      url: smtp://127.0.0.1:2\n      from-domains:\n        - news.exmaple.org\n"
        );
        let config = Config::parse(Path::new("l.yaml"), &text).unwrap();
        let warnings = config.relay_warnings(Path::new("l.yaml"), &text);
        assert_eq!(warnings.len(), 1);
        assert!(!warnings[0].is_error());
        assert_eq!(warnings[0].help.as_deref(), Some("did you mean `news.example.org`?"));
        assert_eq!(warnings[0].location.as_ref().map(|l| (l.line, l.col)), Some((16, 11)));
    }

    #[test]
    fn from_domains_come_from_mailboxes() {
        assert_eq!(from_domain("Weekly <w@News.Example.org>").as_deref(), Some("news.example.org"));
        assert_eq!(from_domain("w@example.org").as_deref(), Some("example.org"));
        assert_eq!(from_domain("nobody"), None);
    }
}
