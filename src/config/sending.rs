//! `sending:`: the transport (outbox or SMTP relay), pacing, retries and the send gates.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use super::duration::duration;
use super::{Config, ValueError, find, find_in_list};
use crate::diagnostic::Diagnostic;

/// Delivery settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Sending {
    /// `outbox` (write `.eml` files, the default) or `smtp`. `LETTERPRESS_SMTP_URL` selects `smtp`.
    #[serde(default)]
    pub transport: TransportKind,
    /// Directory for the outbox transport, relative to the project root.
    #[serde(default = "default_outbox")]
    pub outbox: PathBuf,
    /// The SMTP relay, for the smtp transport.
    #[serde(default)]
    pub smtp: Option<Smtp>,
    /// Connections used at once, each owned by one worker.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Messages per second at most, across all connections (provider quotas); unset = no cap.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Messages sent on one connection before it is replaced; unset = no limit.
    #[serde(default)]
    pub max_per_connection: Option<usize>,
    /// Retries of a temporary (4xx) failure within one run before the recipient is deferred.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Seconds before the first retry; each further retry waits twice as long.
    #[serde(default = "default_retry_delay")]
    pub retry_delay: f64,
    /// Consecutive sender-problem rejections (5.7.x, identical content rejections) that stop a send.
    #[serde(default = "default_circuit_breaker")]
    pub circuit_breaker: usize,
    /// Seconds to wait for any one SMTP reply.
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// An address for `List-Unsubscribe: <mailto:…>`, in addition to the one-click URL.
    #[serde(default)]
    pub unsubscribe_mailto: Option<String>,
    /// How late `send --due` may start an issue's send: one whose `send_at` is further in the
    /// past, and whose send never started, is skipped with a warning. `24h` (the default),
    /// `3d`, `90m`.
    #[serde(default = "default_due_window")]
    pub due_window: String,
    /// Attempts of a recipient, across all runs, after which a temporary failure is final: the
    /// recipient becomes `failed` with the last reply instead of `deferred` again. Default 10.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Diagnostic codes (see `docs/checks.md`) that stop a send as errors do, e.g.
    /// `[lint/http-link, lint/alt-text]`; leftover placeholders (`lint/placeholder`) always do.
    /// `send --allow CODE` lets one run through.
    #[serde(default)]
    pub block_on: Vec<String>,
    /// The sender-id of Gmail's `Feedback-ID` header (`<issue>:<publication>:<list>:<sender-id>`),
    /// e.g. your organisation's short name; unset = no `Feedback-ID`. No colons or line breaks.
    #[serde(default)]
    pub feedback_id_sender: Option<String>,
    /// The relay's quotas (`per-second`, `per-minute`, `per-hour`, `per-day`), counted in the
    /// state store across runs and processes.
    #[serde(default)]
    pub limits: Limits,
    /// Several relays instead of `smtp:` (see `docs/sending.md`, "Several relays").
    #[serde(default)]
    pub relays: Vec<super::relays::Relay>,
}

/// Quotas of a relay; each unset one is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Limits {
    /// Messages per second.
    pub per_second: Option<u64>,
    /// Messages per minute.
    pub per_minute: Option<u64>,
    /// Messages per hour.
    pub per_hour: Option<u64>,
    /// Messages per UTC day.
    pub per_day: Option<u64>,
}

impl Limits {
    /// `(key, value)` of each limit set, shortest window first.
    pub fn set(&self) -> Vec<(&'static str, u64)> {
        [
            ("per-second", self.per_second),
            ("per-minute", self.per_minute),
            ("per-hour", self.per_hour),
            ("per-day", self.per_day),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| (key, v)))
        .collect()
    }
}

impl Sending {
    /// `due-window` as a duration (days count as 24 hours), or why it is not one between a
    /// minute and 365 days.
    pub fn due_window(&self) -> Result<jiff::SignedDuration, ValueError> {
        duration("due-window", &self.due_window, "`24h` or `3d`", (1, "1 minute"), (365 * 24 * 60, "365 days"))
    }
}

/// Which transport delivers messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    /// Write each message as an `.eml` file under the outbox directory.
    #[default]
    Outbox,
    /// Send over SMTP.
    Smtp,
}

/// An SMTP relay.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Smtp {
    /// `smtps://host:465` (implicit TLS) or `smtp://host:587` (STARTTLS required).
    pub url: String,
    /// AUTH user name.
    #[serde(default)]
    pub username: Option<String>,
    /// Name of the environment variable holding the password (never the password itself).
    #[serde(default)]
    pub password_env: Option<String>,
    /// `required` (default) or `none`: plaintext when no STARTTLS is offered, only for relays you
    /// trust on a private network.
    #[serde(default)]
    pub tls: TlsPolicy,
    /// A PEM file of extra certificate authorities to trust, relative to the project root.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Name to announce in EHLO (default: the sender's domain).
    #[serde(default)]
    pub helo: Option<String>,
}

/// Whether TLS is required on SMTP connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsPolicy {
    /// Implicit TLS or STARTTLS, with certificate verification (plaintext only to loopback).
    #[default]
    Required,
    /// Plaintext allowed when the relay offers no STARTTLS (STARTTLS is still used when
    /// offered, and AUTH never goes in plaintext to another machine): an explicit opt-in for a
    /// trusted private relay.
    None,
}

impl Default for Sending {
    fn default() -> Self {
        Self {
            transport: TransportKind::default(),
            outbox: default_outbox(),
            smtp: None,
            concurrency: default_concurrency(),
            rate: None,
            max_per_connection: None,
            retries: default_retries(),
            retry_delay: default_retry_delay(),
            circuit_breaker: default_circuit_breaker(),
            timeout: default_timeout(),
            unsubscribe_mailto: None,
            due_window: default_due_window(),
            max_attempts: default_max_attempts(),
            block_on: Vec::new(),
            feedback_id_sender: None,
            limits: Limits::default(),
            relays: Vec::new(),
        }
    }
}

fn default_due_window() -> String {
    "24h".to_owned()
}
fn default_max_attempts() -> u32 {
    10
}

fn default_outbox() -> PathBuf {
    PathBuf::from("outbox")
}
fn default_concurrency() -> usize {
    4
}
fn default_retries() -> u32 {
    2
}
fn default_retry_delay() -> f64 {
    2.0
}
fn default_circuit_breaker() -> usize {
    20
}
fn default_timeout() -> f64 {
    60.0
}

/// A parsed SMTP relay URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    /// Host name or IP address.
    pub host: String,
    /// Port (default 465 for `smtps`, 587 for `smtp`).
    pub port: u16,
    /// `smtps://`: TLS from the first byte.
    pub implicit_tls: bool,
}

impl SmtpUrl {
    /// Parse `smtps://host[:port]` or `smtp://host[:port]`; user info is refused (passwords
    /// come from the environment only).
    pub fn parse(value: &str) -> Result<Self, ValueError> {
        let url = Url::parse(value).map_err(|e| format!("is not a URL ({e})"))?;
        let implicit_tls = match url.scheme() {
            "smtps" => true,
            "smtp" => false,
            other => return Err(format!("must start with `smtp://` or `smtps://`, not `{other}://`").into()),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain a user name or password; use `username:` and `password-env:`".into());
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or("has no host")?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = url.port().unwrap_or(if implicit_tls { 465 } else { 587 });
        Ok(Self { host, port, implicit_tls })
    }

    /// Whether the host is this machine (plaintext is allowed there).
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl Config {
    pub(super) fn validate_sending(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let sending = &self.sending;
        let mut fail = |key: &str, value: &str, d: Diagnostic| problems.push(d.at(find(path, text, key, value), text));
        if sending.concurrency == 0 || sending.concurrency > 64 {
            fail("concurrency", "", Diagnostic::error("config/sending", "`concurrency` must be between 1 and 64"));
        }
        if sending.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
            fail(
                "rate",
                "",
                Diagnostic::error("config/sending", "`rate` must be a positive number of messages per second"),
            );
        }
        if !(sending.retry_delay >= 0.0 && sending.timeout > 0.0) {
            fail(
                "timeout",
                "",
                Diagnostic::error("config/sending", "`retry-delay` and `timeout` must be positive numbers of seconds"),
            );
        }
        for (key, value) in sending.limits.set() {
            if value == 0 {
                fail(
                    key,
                    "0",
                    Diagnostic::error("config/sending", format!("`{key}` must be at least 1"))
                        .help(format!("remove `{key}` for no limit, or write the relay's quota")),
                );
            }
        }
        if sending.max_attempts == 0 {
            fail("max-attempts", "", Diagnostic::error("config/sending", "`max-attempts` must be at least 1"));
        }
        if let Err(why) = sending.due_window() {
            fail("due-window", "", Diagnostic::error("config/sending", why).help("write e.g. `due-window: 24h`"));
        }
        if let Some(smtp) = &sending.smtp
            && let Err(why) = SmtpUrl::parse(&smtp.url)
        {
            fail(
                "url",
                &smtp.url,
                Diagnostic::error("config/smtp-url", format!("`url` {why}"))
                    .help("write `smtps://smtp.example.org:465` or `smtp://smtp.example.org:587`"),
            );
        }
        if sending.transport == TransportKind::Smtp && sending.smtp.is_none() && sending.relays.is_empty() {
            fail(
                "transport",
                "smtp",
                Diagnostic::error("config/smtp-missing", "`transport: smtp` needs an `smtp:` or a `relays:` section")
                    .help("add `smtp:` with at least `url:` under `sending:`"),
            );
        }
        if let Some(mailto) = &sending.unsubscribe_mailto
            && let Err(why) = crate::address::normalise_address(mailto)
        {
            fail(
                "unsubscribe-mailto",
                mailto,
                Diagnostic::error("config/mailbox", format!("`unsubscribe-mailto` is not a valid address: {why}")),
            );
        }
        if let Some(sender) = &sending.feedback_id_sender
            && (sender.trim().is_empty() || sender.contains([':', '\r', '\n']) || sender.len() > 64)
        {
            fail(
                "feedback-id-sender",
                "",
                Diagnostic::error(
                    "config/sending",
                    format!(
                        "`feedback-id-sender` must be 1 to 64 characters without colons or line breaks: `{}`",
                        sender.escape_debug()
                    ),
                )
                .help("write a short name for your organisation, e.g. `feedback-id-sender: newsroom`"),
            );
        }
        for code in &sending.block_on {
            if !crate::codes::ISSUE_CODES.contains(&code.as_str()) {
                let codes = crate::codes::ISSUE_CODES.iter().copied();
                let suffix = crate::codes::ISSUE_CODES.iter().find(|c| c.ends_with(&format!("/{code}"))).copied();
                let help = match suffix.or_else(|| crate::diagnostic::did_you_mean(code, codes)) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "name codes from `docs/checks.md`, e.g. `lint/http-link`".to_owned(),
                };
                problems.push(
                    Diagnostic::error(
                        "config/sending",
                        format!("`block-on` names an unknown diagnostic code `{code}`"),
                    )
                    .help(help)
                    .at(find_in_list(path, text, "block-on", code), text),
                );
            }
        }
        problems
    }
}
