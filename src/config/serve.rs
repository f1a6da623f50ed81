//! `serve:`: the public endpoint's confirmation links, rate limit, proxy and connection limits.

use std::path::Path;

use serde::Deserialize;

use super::duration::{duration, short_duration};
use super::{Config, ValueError, find};
use crate::diagnostic::Diagnostic;

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
    pub fn confirm_ttl(&self) -> Result<jiff::SignedDuration, ValueError> {
        duration("confirm-ttl", &self.confirm_ttl, "`7d` or `48h`", (1, "1 minute"), (90 * 24 * 60, "90 days"))
    }

    /// `head-timeout`, or why it is not a duration between 10 milliseconds and 10 minutes.
    pub fn head_timeout(&self) -> Result<std::time::Duration, ValueError> {
        short_duration("head-timeout", &self.head_timeout)
    }

    /// `body-timeout`, or why it is not a duration between 10 milliseconds and 10 minutes.
    pub fn body_timeout(&self) -> Result<std::time::Duration, ValueError> {
        short_duration("body-timeout", &self.body_timeout)
    }
}

fn default_confirm_ttl() -> String {
    "7d".to_owned()
}
fn default_rate_limit() -> u32 {
    10
}

impl Config {
    pub(super) fn validate_serve(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
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
