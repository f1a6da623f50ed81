//! `letterpress.yaml`: the site, its publications and (in later stages) lists, SMTP and state.
//!
//! [`Config::parse`] takes the text and returns a validated [`Config`] or every problem found as
//! located [`Diagnostic`]s; [`Config::from_file`] reads the file first. Keys are kebab-case and
//! unknown keys are errors with a "did you mean" hint.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

use crate::diagnostic::{Diagnostic, Location, did_you_mean};
use crate::error::{Error, Result};

mod locate;
mod paths;
mod timezone;
pub use locate::at_entry;

/// The configuration file's name at the project root.
pub const FILE_NAME: &str = "letterpress.yaml";

/// The whole project configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    /// Site-wide settings: title and URLs.
    pub site: Site,
    /// The newsletters this project publishes, in the order the archive lists them.
    pub publications: Vec<Publication>,
    /// Subscriber lists, each a CSV file under `subscribers/`.
    #[serde(default)]
    pub lists: Vec<List>,
    /// Where letterpress keeps its state (suppressions, delivery journal).
    #[serde(default)]
    pub state: StateConfig,
    /// How issues are delivered: the outbox directory or an SMTP relay, and how fast.
    #[serde(default)]
    pub sending: Sending,
    /// DKIM signing of every message, when configured.
    #[serde(default)]
    pub dkim: Option<Dkim>,
    /// The public endpoint of `letterpress serve`: confirmation links, rate limit, proxy.
    #[serde(default)]
    pub serve: Serve,
    /// Let `lists[].path`, `state.path` and `sending.outbox` lead outside the project directory
    /// (an absolute path, `..`, or a symbolic link out). Off by default, so a configuration
    /// cannot make letterpress read, echo or write files that are not the project's.
    #[serde(default)]
    pub allow_outside_project: bool,
    /// Limits on rendering any template: output size and time.
    #[serde(default)]
    pub templates: TemplateLimits,
}

/// How much one render of a template may write and how long it may take; a template past
/// either fails with an error at the loop that was running.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TemplateLimits {
    /// Largest output of one render: `2MB` (the default), `512KB`, or bytes. KB = 1024 bytes.
    #[serde(default = "default_max_output")]
    pub max_output: String,
    /// Longest one render may take: `2s` (the default), `500ms`.
    #[serde(default = "default_max_render_time")]
    pub max_render_time: String,
}

impl Default for TemplateLimits {
    fn default() -> Self {
        Self { max_output: default_max_output(), max_render_time: default_max_render_time() }
    }
}

impl TemplateLimits {
    /// `max-output` in bytes, or why it is not a size between 1 KB and 1 GB.
    pub fn max_output(&self) -> std::result::Result<usize, String> {
        let text = self.max_output.trim();
        let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let unit = match text[digits..].trim().to_ascii_uppercase().as_str() {
            "" | "B" => 1,
            "KB" | "K" => 1024,
            "MB" | "M" => 1024 * 1024,
            "GB" | "G" => 1024 * 1024 * 1024,
            _ => 0,
        };
        let bytes = text[..digits].parse::<usize>().ok().and_then(|n| n.checked_mul(unit));
        match bytes {
            Some(b) if (1024..=1024 * 1024 * 1024).contains(&b) => Ok(b),
            _ => Err(format!("`max-output` `{}` is not a size between 1KB and 1GB such as `2MB`", self.max_output)),
        }
    }

    /// `max-render-time`, or why it is not a duration between 10 milliseconds and 10 minutes.
    pub fn max_render_time(&self) -> std::result::Result<std::time::Duration, String> {
        short_duration("max-render-time", &self.max_render_time)
    }

    /// The limits, the defaults standing in for invalid values (which `parse` reports).
    pub fn budget(&self) -> crate::template::budget::Budget {
        let default = crate::template::budget::Budget::default();
        crate::template::budget::Budget {
            max_output: self.max_output().unwrap_or(default.max_output),
            max_time: self.max_render_time().unwrap_or(default.max_time),
        }
    }
}

/// `value` of `key` as a duration between 10 milliseconds and 10 minutes: `2s`, `500ms`, `1m`.
fn short_duration(key: &str, value: &str) -> std::result::Result<std::time::Duration, String> {
    let error = || format!("`{key}` `{value}` is not a duration between 10ms and 10m such as `2s`");
    let duration: jiff::SignedDuration = value.trim().parse().map_err(|_| error())?;
    let duration = std::time::Duration::try_from(duration).map_err(|_| error())?;
    if duration < std::time::Duration::from_millis(10) || duration > std::time::Duration::from_secs(600) {
        return Err(error());
    }
    Ok(duration)
}

fn default_max_output() -> String {
    "2MB".to_owned()
}
fn default_max_render_time() -> String {
    "2s".to_owned()
}

/// Settings of `letterpress serve` (unsubscribe, subscribe with double opt-in, the archive).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Serve {
    /// How long a subscription confirmation link works: `7d` (the default), `48h`, `90m`.
    #[serde(default = "default_confirm_ttl")]
    pub confirm_ttl: String,
    /// Subscribe requests allowed per client address per hour (a burst of this many, then one
    /// every hour / `rate-limit`). Default 10.
    #[serde(default = "default_rate_limit")]
    pub rate_limit: u32,
    /// Behind a reverse proxy: take the client address from the last `X-Forwarded-For` entry
    /// (the one the proxy added) instead of the connection. Default false.
    #[serde(default)]
    pub trust_proxy: bool,
    /// Longest a client may take to send a request's line and headers: `10s` (the default).
    #[serde(default = "default_read_timeout")]
    pub head_timeout: String,
    /// Longest a client may take to send a whole request body: `10s` (the default).
    #[serde(default = "default_read_timeout")]
    pub body_timeout: String,
    /// Connections open at once; at the limit the longest-idle one is closed for a new one.
    /// Default 1024.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Connections one client address may hold open (behind a trusted proxy: requests in
    /// progress per forwarded client). Default 32.
    #[serde(default = "default_max_connections_per_client")]
    pub max_connections_per_client: usize,
}

impl Default for Serve {
    fn default() -> Self {
        Self {
            confirm_ttl: default_confirm_ttl(),
            rate_limit: default_rate_limit(),
            trust_proxy: false,
            head_timeout: default_read_timeout(),
            body_timeout: default_read_timeout(),
            max_connections: default_max_connections(),
            max_connections_per_client: default_max_connections_per_client(),
        }
    }
}

fn default_read_timeout() -> String {
    "10s".to_owned()
}
fn default_max_connections() -> usize {
    1024
}
fn default_max_connections_per_client() -> usize {
    32
}

impl Serve {
    /// `confirm-ttl` as a duration (days count as 24 hours), or why it is not one between a
    /// minute and 90 days.
    pub fn confirm_ttl(&self) -> std::result::Result<jiff::SignedDuration, String> {
        duration("confirm-ttl", &self.confirm_ttl, "`7d` or `48h`", (1, "1 minute"), (90 * 24 * 60, "90 days"))
    }

    /// `head-timeout`, or why it is not a duration between 10 milliseconds and 10 minutes.
    pub fn head_timeout(&self) -> std::result::Result<std::time::Duration, String> {
        short_duration("head-timeout", &self.head_timeout)
    }

    /// `body-timeout`, or why it is not a duration between 10 milliseconds and 10 minutes.
    pub fn body_timeout(&self) -> std::result::Result<std::time::Duration, String> {
        short_duration("body-timeout", &self.body_timeout)
    }
}

/// `value` of `key` as a duration (days count as 24 hours), or why it is not one between `min`
/// and `max` minutes (each with its text for the message); `example` shows the syntax.
fn duration(
    key: &str,
    value: &str,
    example: &str,
    (min, min_text): (i64, &str),
    (max, max_text): (i64, &str),
) -> std::result::Result<jiff::SignedDuration, String> {
    let span: jiff::Span =
        value.trim().parse().map_err(|_| format!("`{key}` `{value}` is not a duration such as {example}"))?;
    let duration = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|_| format!("`{key}` `{value}` must be in days, hours or minutes"))?;
    if duration < jiff::SignedDuration::from_mins(min) || duration > jiff::SignedDuration::from_mins(max) {
        return Err(format!("`{key}` `{value}` must be between {min_text} and {max_text}"));
    }
    Ok(duration)
}

fn default_confirm_ttl() -> String {
    "7d".to_owned()
}
fn default_rate_limit() -> u32 {
    10
}

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
}

impl Sending {
    /// `due-window` as a duration (days count as 24 hours), or why it is not one between a
    /// minute and 365 days.
    pub fn due_window(&self) -> std::result::Result<jiff::SignedDuration, String> {
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

/// DKIM signing settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Dkim {
    /// The signing domain (`d=`); should match the `From` domain for DMARC alignment.
    pub domain: String,
    /// The selector (`s=`): the key is published at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// Private key file (PEM, PKCS#8 or PKCS#1 for RSA), relative to the project root.
    pub key_file: PathBuf,
    /// `rsa-sha256` (default) or `ed25519-sha256`.
    #[serde(default)]
    pub algorithm: DkimAlgorithm,
}

/// DKIM signature algorithms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DkimAlgorithm {
    /// RSA with SHA-256.
    #[default]
    RsaSha256,
    /// Ed25519 with SHA-256 (RFC 8463).
    Ed25519Sha256,
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

/// A subscriber list: a CSV file with an `email` column.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct List {
    /// Identifier used by publications and front matter, e.g. `commissioner-weekly`.
    pub slug: String,
    /// Display name, shown on unsubscribe pages.
    pub name: String,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// CSV path relative to the project root; defaults to `subscribers/<slug>.csv`.
    #[serde(default)]
    pub path: Option<PathBuf>,
}

impl List {
    /// The CSV file, relative to the project root.
    pub fn csv_path(&self) -> PathBuf {
        self.path.clone().unwrap_or_else(|| PathBuf::from(format!("subscribers/{}.csv", self.slug)))
    }
}

/// State store settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StateConfig {
    /// SQLite database path relative to the project root; defaults to `.letterpress/state.db`.
    #[serde(default)]
    pub path: Option<PathBuf>,
}

impl StateConfig {
    /// The database file, relative to the project root.
    pub fn db_path(&self) -> PathBuf {
        self.path.clone().unwrap_or_else(|| PathBuf::from(".letterpress/state.db"))
    }
}

/// Site-wide settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Site {
    /// The site's name, shown on the archive's front page.
    pub title: String,
    /// Absolute URL where `public/` is served; relative links and images become absolute with it.
    pub base_url: String,
    /// Language tag for `<html lang>` and the Atom feeds (default `en`).
    #[serde(default = "default_language")]
    pub language: String,
    /// Short description of the site for the archive front page.
    #[serde(default)]
    pub description: Option<String>,
    /// URL of the web archive if it is not `base-url` itself.
    #[serde(default)]
    pub archive_url: Option<String>,
    /// Unsubscribe endpoint; defaults to `<base-url>/unsubscribe`.
    #[serde(default)]
    pub unsubscribe_url: Option<String>,
    /// The IANA time zone editors think in, e.g. `Europe/London`: a `send_at` without an
    /// offset is read in it, `preview` and `status` show times in it, and `new` dates issues by
    /// its calendar. Unset: UTC, and `send_at` needs an offset.
    #[serde(default)]
    pub timezone: Option<String>,
}

/// One newsletter: its sender, default lists and templates.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Publication {
    /// Directory name under `content/` and in URLs, e.g. `commissioner`.
    pub slug: String,
    /// Display name, e.g. "The Commissioner".
    pub name: String,
    /// One-line description shown in the archive and feed.
    #[serde(default)]
    pub description: String,
    /// Sender mailbox, e.g. `The Commissioner <commissioner@news.example.org>`.
    pub from: String,
    /// Optional Reply-To mailbox.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Subscriber lists an issue goes to unless its front matter says otherwise.
    #[serde(default)]
    pub lists: Vec<String>,
    /// Template overrides for this publication (paths under `templates/`).
    #[serde(default)]
    pub templates: TemplateOverrides,
}

/// Per-publication template files, relative to the project's `templates/` directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TemplateOverrides {
    /// HTML email layout (default `email.html`).
    pub email_html: Option<String>,
    /// Plain-text email layout (default `email.txt`).
    pub email_text: Option<String>,
    /// Stylesheet inlined into the HTML email (default `email.css`).
    pub email_css: Option<String>,
    /// Web archive page for one issue (default `page.html`).
    pub page: Option<String>,
}

fn default_language() -> String {
    "en".to_owned()
}

impl Config {
    /// Read and validate the configuration at `path`, at the root of its project: the paths it
    /// names must stay inside the project, symbolic links followed, unless
    /// `allow-outside-project` says otherwise.
    pub fn from_file(path: &Path, shown_as: &Path) -> Result<Self> {
        let file = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        let bytes = file.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&file);
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let bom = file.len() - bytes.len();
            Error::Invalid(vec![crate::diagnostic::invalid_utf8("config/utf8", shown_as, bytes, e.valid_up_to(), bom)])
        })?;
        let config = Self::parse(shown_as, text).map_err(Error::Invalid)?;
        let root = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let outside = paths::outside_project(&config, root, shown_as, text);
        if outside.is_empty() { Ok(config) } else { Err(Error::Invalid(outside)) }
    }

    /// Parse and validate configuration text; `path` is used in diagnostics.
    pub fn parse(path: &Path, text: &str) -> std::result::Result<Self, Vec<Diagnostic>> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let config: Self = crate::yaml::parse(path, text, text, 1, "configuration").map_err(|d| vec![d])?;
        let problems = config.validate(path, text);
        if problems.is_empty() { Ok(config) } else { Err(problems) }
    }

    /// The publication with `slug`.
    pub fn publication(&self, slug: &str) -> Option<&Publication> {
        self.publications.iter().find(|p| p.slug == slug)
    }

    /// The list with `slug`.
    pub fn list(&self, slug: &str) -> Option<&List> {
        self.lists.iter().find(|l| l.slug == slug)
    }

    /// The list with `slug`, or a usage error naming the closest one.
    pub fn list_named(&self, slug: &str) -> Result<&List> {
        self.list(slug).ok_or_else(|| Error::usage(format!("no list `{slug}`; {}", self.list_hint(slug))))
    }

    /// A "did you mean" or "lists are" hint for an unknown list name.
    pub fn list_hint(&self, name: &str) -> String {
        let known: Vec<&str> = self.lists.iter().map(|l| l.slug.as_str()).collect();
        match did_you_mean(name, known.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None if known.is_empty() => "define it under `lists:` in letterpress.yaml".to_owned(),
            None => format!("lists are: {}", known.join(", ")),
        }
    }

    fn validate(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let mut locate = |key: &str, value: &str, d: Diagnostic| {
            problems.push(d.at(find(path, text, key, value), text));
        };
        for (key, value) in [
            ("base-url", Some(&self.site.base_url)),
            ("archive-url", self.site.archive_url.as_ref()),
            ("unsubscribe-url", self.site.unsubscribe_url.as_ref()),
        ] {
            if let Some(value) = value
                && let Err(why) = absolute_url(value)
            {
                locate(
                    key,
                    value,
                    Diagnostic::error("config/url", format!("`{key}` {why}"))
                        .help("write a full URL such as `https://news.example.org`"),
                );
            }
        }
        if self.publications.is_empty() {
            locate(
                "publications",
                "",
                Diagnostic::error("config/no-publication", "no publications configured")
                    .help("add at least one entry under `publications:`"),
            );
        }
        let mut lists = std::collections::BTreeSet::new();
        for list in &self.lists {
            if !is_slug(&list.slug) {
                locate(
                    "slug",
                    &list.slug,
                    Diagnostic::error("config/slug", format!("list slug `{}` is not a valid slug", list.slug))
                        .help("use lowercase letters, digits and hyphens"),
                );
            }
            if !lists.insert(list.slug.as_str()) {
                locate(
                    "slug",
                    &list.slug,
                    Diagnostic::error("config/duplicate", format!("list `{}` is defined twice", list.slug))
                        .help("give each list a different slug"),
                );
            }
        }
        // These reach email headers (From, Reply-To, List-Id, a confirmation's Subject) and
        // pages: one line each, whatever the YAML's escapes allow.
        let site = [("title", Some(&self.site.title)), ("description", self.site.description.as_ref())];
        let publications = self.publications.iter().flat_map(|p| {
            [
                ("name", Some(&p.name)),
                ("description", Some(&p.description)),
                ("from", Some(&p.from)),
                ("reply-to", p.reply_to.as_ref()),
            ]
        });
        let lists = self.lists.iter().flat_map(|l| [("name", Some(&l.name)), ("description", Some(&l.description))]);
        for (key, value) in site.into_iter().chain(publications).chain(lists) {
            if let Some(value) = value.filter(|v| v.contains(char::is_control) || crate::header::has_encoded_word(v)) {
                // The file holds the value escaped (`\r\n`): find it by what comes before.
                let before = value.split(char::is_control).next().unwrap_or_default();
                locate(
                    key,
                    before,
                    Diagnostic::error(
                        "config/control-character",
                        format!(
                            "`{key}` contains a line break, another control character or an encoded-word (`=?…?=`)"
                        ),
                    )
                    .help("write the text itself, on one line: it goes into email headers and pages"),
                );
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for publication in &self.publications {
            for name in &publication.lists {
                if self.list(name).is_none() {
                    locate(
                        "lists",
                        name,
                        Diagnostic::error(
                            "config/unknown-list",
                            format!("publication `{}` sends to list `{name}`, which is not defined", publication.slug),
                        )
                        .help(self.list_hint(name)),
                    );
                }
            }
            if !is_slug(&publication.slug) {
                locate(
                    "slug",
                    &publication.slug,
                    Diagnostic::error(
                        "config/slug",
                        format!("publication slug `{}` is not a valid slug", publication.slug),
                    )
                    .help("use lowercase letters, digits and hyphens, e.g. `weekly-briefing`"),
                );
            }
            if !seen.insert(publication.slug.as_str()) {
                locate(
                    "slug",
                    &publication.slug,
                    Diagnostic::error(
                        "config/duplicate",
                        format!("publication `{}` is defined twice", publication.slug),
                    )
                    .help("give each publication a different slug"),
                );
            }
            for (key, value) in [("from", Some(&publication.from)), ("reply-to", publication.reply_to.as_ref())] {
                if let Some(value) = value
                    && let Err(e) = value.parse::<lettre::message::Mailbox>()
                {
                    locate(
                        key,
                        value,
                        Diagnostic::error(
                            "config/mailbox",
                            format!(
                                "`{key}` of publication `{}` is not a valid mailbox: {}",
                                publication.slug,
                                e.to_string().to_lowercase()
                            ),
                        )
                        .help("write `Name <address@example.org>` or a bare address"),
                    );
                }
            }
        }
        problems.extend(self.url_control_characters(path, text));
        problems.extend(timezone::validate(&self.site, path, text));
        problems.extend(self.validate_sending(path, text));
        problems.extend(self.validate_serve(path, text));
        problems.extend(self.validate_template_limits(path, text));
        problems
    }

    /// A URL parser drops line breaks and tabs without a word; these URLs end up in headers
    /// (`List-Unsubscribe`, `List-Archive`) and links, so a control character is an error.
    fn url_control_characters(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let sending = &self.sending;
        let urls = [
            ("base-url", Some(&self.site.base_url)),
            ("archive-url", self.site.archive_url.as_ref()),
            ("unsubscribe-url", self.site.unsubscribe_url.as_ref()),
            ("unsubscribe-mailto", sending.unsubscribe_mailto.as_ref()),
            ("url", sending.smtp.as_ref().map(|smtp| &smtp.url)),
        ];
        let mut problems = Vec::new();
        for (key, value) in urls {
            if let Some(value) = value.filter(|v| v.contains(char::is_control)) {
                // The file holds the value escaped (`\r\n`): find it by what comes before.
                let before = value.split(char::is_control).next().unwrap_or_default();
                problems.push(
                    Diagnostic::error(
                        "config/control-character",
                        format!("`{key}` contains a line break or another control character"),
                    )
                    .help("write the URL on one line: it goes into email headers and links")
                    .at(find(path, text, key, before), text),
                );
            }
        }
        problems
    }
}

impl Config {
    fn validate_template_limits(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let limits = &self.templates;
        let checks = [
            ("max-output", limits.max_output().err(), "write e.g. `max-output: 2MB`"),
            ("max-render-time", limits.max_render_time().err(), "write e.g. `max-render-time: 2s`"),
        ];
        checks
            .into_iter()
            .filter_map(|(key, why, help)| {
                why.map(|why| Diagnostic::error("config/templates", why).help(help).at(find(path, text, key, ""), text))
            })
            .collect()
    }

    fn validate_serve(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        if let Err(why) = self.serve.confirm_ttl() {
            let at = find(path, text, "confirm-ttl", "");
            problems.push(Diagnostic::error("config/serve", why).help("write e.g. `confirm-ttl: 7d`").at(at, text));
        }
        if !(1..=10_000).contains(&self.serve.rate_limit) {
            let at = find(path, text, "rate-limit", "");
            problems.push(
                Diagnostic::error("config/serve", "`rate-limit` must be between 1 and 10000 requests per hour")
                    .at(at, text),
            );
        }
        for (key, why) in
            [("head-timeout", self.serve.head_timeout().err()), ("body-timeout", self.serve.body_timeout().err())]
        {
            if let Some(why) = why {
                let at = find(path, text, key, "");
                problems
                    .push(Diagnostic::error("config/serve", why).help(format!("write e.g. `{key}: 10s`")).at(at, text));
            }
        }
        let serve = &self.serve;
        if !(1..=100_000).contains(&serve.max_connections) {
            let at = find(path, text, "max-connections", "");
            problems
                .push(Diagnostic::error("config/serve", "`max-connections` must be between 1 and 100000").at(at, text));
        }
        if serve.max_connections_per_client == 0 || serve.max_connections_per_client > serve.max_connections {
            let at = find(path, text, "max-connections-per-client", "");
            problems.push(
                Diagnostic::error(
                    "config/serve",
                    "`max-connections-per-client` must be between 1 and `max-connections`",
                )
                .at(at, text),
            );
        }
        problems
    }
}

impl Config {
    fn validate_sending(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
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
        if sending.transport == TransportKind::Smtp && sending.smtp.is_none() {
            fail(
                "transport",
                "smtp",
                Diagnostic::error("config/smtp-missing", "`transport: smtp` needs an `smtp:` section")
                    .help("add `smtp:` with at least `url:` under `sending:`"),
            );
        }
        if let Some(mailto) = &sending.unsubscribe_mailto
            && mailto.parse::<lettre::Address>().is_err()
        {
            fail(
                "unsubscribe-mailto",
                mailto,
                Diagnostic::error("config/mailbox", format!("`unsubscribe-mailto` is not an address: `{mailto}`")),
            );
        }
        for code in &sending.block_on {
            if !crate::check::ISSUE_CODES.contains(&code.as_str()) {
                let codes = crate::check::ISSUE_CODES.iter().copied();
                let suffix = crate::check::ISSUE_CODES.iter().find(|c| c.ends_with(&format!("/{code}"))).copied();
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
    pub fn parse(value: &str) -> std::result::Result<Self, String> {
        let url = Url::parse(value).map_err(|e| format!("is not a URL ({e})"))?;
        let implicit_tls = match url.scheme() {
            "smtps" => true,
            "smtp" => false,
            other => return Err(format!("must start with `smtp://` or `smtps://`, not `{other}://`")),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain a user name or password; use `username:` and `password-env:`".to_owned());
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

impl Site {
    /// The base URL, always ending with `/`.
    pub fn base(&self) -> String {
        with_slash(&self.base_url)
    }

    /// The archive's root URL, always ending with `/`.
    pub fn archive(&self) -> String {
        with_slash(self.archive_url.as_deref().unwrap_or(&self.base_url))
    }

    /// The unsubscribe endpoint.
    pub fn unsubscribe(&self) -> String {
        self.unsubscribe_url.clone().unwrap_or_else(|| format!("{}unsubscribe", self.base()))
    }
}

fn with_slash(url: &str) -> String {
    if url.ends_with('/') { url.to_owned() } else { format!("{url}/") }
}

/// A site URL: one the link rule ([`crate::href::judge`]) allows, absolute, `https:` or `http:`.
fn absolute_url(value: &str) -> std::result::Result<(), String> {
    crate::href::judge(value).map_err(|refused| refused.to_string())?;
    match Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.host().is_some() => Ok(()),
        Ok(url) => Err(format!("must be an http(s) URL, not `{}:`", url.scheme())),
        Err(e) => Err(format!("is not an absolute URL ({e})")),
    }
}

/// Whether `s` is a URL- and directory-safe slug.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('-') && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Best-effort location of `key: value` in the YAML text, for validation errors found after
/// parsing.
fn find(path: &Path, text: &str, key: &str, value: &str) -> Location {
    let needle = format!("{key}:");
    let hit = text.lines().enumerate().find(|(_, line)| {
        let line = line.trim_start().trim_start_matches("- ");
        line.starts_with(&needle) && line.contains(value)
    });
    match hit {
        Some((i, line)) => {
            let col = line.find(&needle).map_or(0, |b| line[..b].chars().count());
            Location::new(path, i + 1, col + 1)
        }
        None => Location::new(path, 1, 1),
    }
}

/// Where `value` is written in the list under `key` (flow `[a, b]` or block `- a`): the first
/// line from `key:` on that holds it; else the start of the file.
fn find_in_list(path: &Path, text: &str, key: &str, value: &str) -> Location {
    let needle = format!("{key}:");
    let start = text.lines().position(|line| line.trim_start().starts_with(&needle));
    let hit = start.and_then(|start| text.lines().enumerate().skip(start).find(|(_, line)| line.contains(value)));
    match hit {
        Some((i, line)) => {
            let col = line.find(value).map_or(0, |b| line[..b].chars().count());
            Location::new(path, i + 1, col + 1)
        }
        None => Location::new(path, 1, 1),
    }
}

/// The location of the configuration file relative to a project root.
pub fn path_in(root: &Path) -> PathBuf {
    root.join(FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "site:\n  title: T\n  base-url: https://news.example.org\npublications:\n  - slug: weekly\n    name: Weekly\n    from: Weekly <w@news.example.org>\n";

    #[test]
    fn parses_a_minimal_config() {
        let config = Config::parse(Path::new("letterpress.yaml"), GOOD).unwrap();
        assert_eq!(config.site.base(), "https://news.example.org/");
        assert_eq!(config.site.unsubscribe(), "https://news.example.org/unsubscribe");
        assert_eq!(config.publication("weekly").map(|p| p.name.as_str()), Some("Weekly"));
    }

    #[test]
    fn invalid_utf8_is_located_at_the_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, b"\xef\xbb\xbfsite:\n  title: caf\xe9\n").unwrap();
        let Err(Error::Invalid(errors)) = Config::from_file(&path, Path::new(FILE_NAME)) else {
            panic!("invalid UTF-8 accepted")
        };
        assert_eq!(errors[0].code, "config/utf8");
        assert!(errors[0].message.contains("byte offset 21"), "{}", errors[0].message);
        assert_eq!(errors[0].location.as_ref().map(|l| (l.line, l.col)), Some((2, 13)));
    }

    #[test]
    fn urls_with_line_breaks_are_located_errors() {
        let text = GOOD.replace(
            "  base-url: https://news.example.org\n",
            "  base-url: https://news.example.org\n  unsubscribe-url: \"https://news.example.org/u\\r\\nBcc: all@example.org\"\n",
        );
        let errors = Config::parse(Path::new("c.yaml"), &text).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].code, "config/control-character");
        assert_eq!(errors[0].message, "`unsubscribe-url` contains a line break or another control character");
        assert_eq!(errors[0].location.as_ref().map(|l| (l.line, l.col)), Some((4, 3)));
        let text = format!("{GOOD}sending:\n  unsubscribe-mailto: \"u@news.example.org\\r\\nX: y\"\n");
        let errors = Config::parse(Path::new("c.yaml"), &text).unwrap_err();
        assert!(
            errors.iter().any(|e| e.code == "config/control-character" && e.message.contains("`unsubscribe-mailto`"))
        );
    }

    #[test]
    fn reports_unknown_keys_with_a_hint() {
        let text = GOOD.replace("base-url", "base_url");
        let errors = Config::parse(Path::new("letterpress.yaml"), &text).unwrap_err();
        assert_eq!(errors[0].message, "unknown configuration key `base_url`");
        assert_eq!(errors[0].help.as_deref(), Some("did you mean `base-url`?"));
        assert_eq!(errors[0].location.as_ref().map(|l| (l.line, l.col)), Some((3, 3)));
    }

    #[test]
    fn lists_must_exist_and_default_to_the_subscribers_directory() {
        let text = format!("{GOOD}    lists: [weekly-list]\nlists:\n  - slug: weekly-lists\n    name: W\n");
        let errors = Config::parse(Path::new("c.yaml"), &text).unwrap_err();
        assert_eq!(errors[0].code, "config/unknown-list");
        assert_eq!(errors[0].help.as_deref(), Some("did you mean `weekly-lists`?"));
        let fixed = text.replace("[weekly-list]", "[weekly-lists]");
        let config = Config::parse(Path::new("c.yaml"), &fixed).unwrap();
        assert_eq!(config.lists[0].csv_path(), PathBuf::from("subscribers/weekly-lists.csv"));
        assert_eq!(config.state.db_path(), PathBuf::from(".letterpress/state.db"));
    }

    #[test]
    fn validates_urls_slugs_and_mailboxes() {
        let text = GOOD
            .replace("https://news.example.org", "news.example.org")
            .replace("slug: weekly", "slug: Weekly News")
            .replace("Weekly <w@news.example.org>", "Weekly <not an address>");
        let codes: Vec<_> = Config::parse(Path::new("c.yaml"), &text).unwrap_err().iter().map(|d| d.code).collect();
        assert_eq!(codes, ["config/url", "config/slug", "config/mailbox"]);
    }

    #[test]
    fn site_urls_follow_the_link_rule() {
        for (bad, why) in [
            ("javascript:alert(1)", "uses the `javascript:` scheme"),
            ("\" JavaScript:alert(1)\"", "uses the `javascript:` scheme"),
            ("\"java\\tscript:alert(1)\"", "is a `javascript:` link disguised"),
            ("data:text/html,hi", "uses the `data:` scheme"),
            ("file:///srv/unsubscribe", "uses the `file:` scheme"),
            ("mailto:editor@news.example.org", "must be an http(s) URL, not `mailto:`"),
        ] {
            let text = GOOD.replace(
                "base-url: https://news.example.org",
                &format!("base-url: https://news.example.org\n  unsubscribe-url: {bad}"),
            );
            let errors = Config::parse(Path::new("c.yaml"), &text).unwrap_err();
            assert_eq!(errors[0].code, "config/url", "{bad}");
            assert!(errors[0].message.starts_with(&format!("`unsubscribe-url` {why}")), "{bad}: {}", errors[0].message);
        }
    }

    #[test]
    fn serve_settings_have_defaults_and_are_validated() {
        let config = Config::parse(Path::new("c.yaml"), GOOD).unwrap();
        assert_eq!(config.serve.confirm_ttl(), Ok(jiff::SignedDuration::from_hours(7 * 24)));
        assert_eq!((config.serve.rate_limit, config.serve.trust_proxy), (10, false));
        let text = format!("{GOOD}serve:\n  confirm-ttl: 48h\n  rate-limit: 5\n  trust-proxy: true\n");
        let config = Config::parse(Path::new("c.yaml"), &text).unwrap();
        assert_eq!(config.serve.confirm_ttl(), Ok(jiff::SignedDuration::from_hours(48)));
        let text =
            format!("{GOOD}serve:\n  body-timeout: 250ms\n  max-connections: 20\n  max-connections-per-client: 5\n");
        let serve = Config::parse(Path::new("c.yaml"), &text).unwrap().serve;
        assert_eq!(serve.body_timeout(), Ok(std::time::Duration::from_millis(250)));
        assert_eq!(serve.head_timeout(), Ok(std::time::Duration::from_secs(10)));
        assert_eq!((serve.max_connections, serve.max_connections_per_client), (20, 5));
        for bad in [
            "confirm-ttl: soon",
            "confirm-ttl: 30s",
            "confirm-ttl: 100d",
            "rate-limit: 0",
            "body-timeout: 1h",
            "head-timeout: never",
            "max-connections: 0",
            "max-connections-per-client: 2000",
        ] {
            let errors = Config::parse(Path::new("c.yaml"), &format!("{GOOD}serve:\n  {bad}\n")).unwrap_err();
            assert_eq!(errors[0].code, "config/serve", "{bad}");
            assert_eq!(errors[0].location.as_ref().map(|l| l.line), Some(9), "{bad}");
        }
    }

    #[test]
    fn template_limits_have_generous_defaults_and_are_validated() {
        let config = Config::parse(Path::new("c.yaml"), GOOD).unwrap();
        let budget = config.templates.budget();
        assert_eq!((budget.max_output, budget.max_time), (2 * 1024 * 1024, std::time::Duration::from_secs(2)));
        let text = format!("{GOOD}templates:\n  max-output: 64KB\n  max-render-time: 500ms\n");
        let budget = Config::parse(Path::new("c.yaml"), &text).unwrap().templates.budget();
        assert_eq!((budget.max_output, budget.max_time), (64 * 1024, std::time::Duration::from_millis(500)));
        for bad in
            ["max-output: 10", "max-output: lots", "max-output: 2TB", "max-render-time: 1h", "max-render-time: x"]
        {
            let errors = Config::parse(Path::new("c.yaml"), &format!("{GOOD}templates:\n  {bad}\n")).unwrap_err();
            assert_eq!(errors[0].code, "config/templates", "{bad}");
            assert_eq!(errors[0].location.as_ref().map(|l| l.line), Some(9), "{bad}");
        }
    }

    #[test]
    fn due_window_and_max_attempts_have_defaults_and_are_validated() {
        let config = Config::parse(Path::new("c.yaml"), GOOD).unwrap();
        assert_eq!(config.sending.due_window(), Ok(jiff::SignedDuration::from_hours(24)));
        assert_eq!(config.sending.max_attempts, 10);
        let errors = Config::parse(Path::new("c.yaml"), &format!("{GOOD}sending:\n  max-attempts: 0\n")).unwrap_err();
        assert!(errors[0].message.contains("`max-attempts` must be at least 1"), "{}", errors[0].message);
        let config = Config::parse(Path::new("c.yaml"), &format!("{GOOD}sending:\n  due-window: 3d\n")).unwrap();
        assert_eq!(config.sending.due_window(), Ok(jiff::SignedDuration::from_hours(72)));
        for bad in ["due-window: soon", "due-window: 30s", "due-window: 400d"] {
            let errors = Config::parse(Path::new("c.yaml"), &format!("{GOOD}sending:\n  {bad}\n")).unwrap_err();
            assert_eq!(errors[0].code, "config/sending", "{bad}");
            assert!(errors[0].message.contains("`due-window`"), "{bad}: {}", errors[0].message);
            assert_eq!(errors[0].location.as_ref().map(|l| l.line), Some(9), "{bad}");
        }
    }
}
