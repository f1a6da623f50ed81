//! The transport a project is configured for: the outbox directory, or an SMTP relay.
//!
//! Enters: the configuration and the [`Env`] (`LETTERPRESS_SMTP_URL` selects SMTP with that
//! URL; the password comes only from the variable `password-env` names). Leaves: a
//! [`Configured`] transport, which opens [`ConfiguredConnection`]s, each owned by one worker.

use std::path::Path;
use std::time::Duration;

use super::outbox::{Outbox, OutboxConnection};
use super::smtp::{SmtpConnection, SmtpTarget, connector};
use super::{ConnectError, Connection, Outcome, Transport};
use crate::config::{Config, SmtpUrl, TlsPolicy, TransportKind};
use crate::env::Env;
use crate::error::{Error, Result};

/// The environment variable that points a project at an SMTP relay without editing it.
pub const SMTP_URL_ENV: &str = "LETTERPRESS_SMTP_URL";

/// The transport a project is configured for.
#[derive(Debug, Clone)]
pub enum Configured {
    /// Write `.eml` files under a directory.
    Outbox(Outbox),
    /// Send over SMTP.
    Smtp(SmtpTarget),
}

/// A connection of a [`Configured`] transport.
pub enum ConfiguredConnection {
    /// Files in a directory.
    Outbox(OutboxConnection),
    /// An SMTP session.
    Smtp(SmtpConnection),
}

impl Configured {
    /// The transport a project is configured for: `LETTERPRESS_SMTP_URL` in `env` selects SMTP
    /// with that URL; the password comes only from the variable `password-env` names.
    /// `outbox_sub` is the folder under the outbox directory this use writes to.
    pub fn from_config(root: &Path, config: &Config, env: &Env, outbox_sub: &Path) -> Result<Self> {
        let env_url = env.get(SMTP_URL_ENV).filter(|v| !v.is_empty());
        let sending = &config.sending;
        let url = match (env_url, sending.transport, &sending.smtp) {
            (Some(url), _, _) => url.to_owned(),
            (None, TransportKind::Smtp, Some(smtp)) => smtp.url.clone(),
            (None, TransportKind::Smtp, None) => {
                return Err(Error::usage("`transport: smtp` needs an `smtp:` or a `relays:` section"));
            }
            (None, TransportKind::Outbox, _) => {
                return Ok(Self::Outbox(Outbox::new(root.join(&sending.outbox).join(outbox_sub))));
            }
        };
        let source = if env_url.is_some() { format!("`{SMTP_URL_ENV}`") } else { "`sending.smtp.url`".to_owned() };
        Self::smtp(root, config, env, &url, &source, sending.smtp.as_ref())
    }

    /// An SMTP relay at `url` (named `source` in errors) with the settings of `smtp`: the
    /// password only from the variable its `password-env` names.
    pub fn smtp(
        root: &Path,
        config: &Config,
        env: &Env,
        url: &str,
        source: &str,
        smtp: Option<&crate::config::Smtp>,
    ) -> Result<Self> {
        let parsed = SmtpUrl::parse(url).map_err(|why| Error::usage(format!("{source} {why}")))?;
        let tls_none = smtp.is_some_and(|s| s.tls == TlsPolicy::None);
        let ca = match smtp.and_then(|s| s.ca_file.as_ref()) {
            Some(file) => Some(std::fs::read(root.join(file)).map_err(|e| Error::io("read", file, e))?),
            None => None,
        };
        let connector = connector(ca.as_deref()).map_err(|why| Error::usage(format!("`ca-file` {why}")))?;
        Ok(Self::Smtp(SmtpTarget {
            plaintext_allowed: tls_none || parsed.is_loopback(),
            loopback: parsed.is_loopback(),
            host: parsed.host,
            port: parsed.port,
            implicit_tls: parsed.implicit_tls,
            credentials: credentials(smtp, env)?,
            helo: helo(config, smtp),
            timeout: Duration::from_secs_f64(config.sending.timeout),
            connector,
        }))
    }

    /// The outbox directory, when messages go there.
    pub fn outbox(&self) -> Option<&Path> {
        match self {
            Self::Outbox(outbox) => Some(outbox.dir()),
            Self::Smtp(_) => None,
        }
    }
}

impl Transport for Configured {
    type Connection = ConfiguredConnection;

    async fn connect(&self) -> std::result::Result<ConfiguredConnection, ConnectError> {
        match self {
            Self::Outbox(outbox) => outbox.connect().await.map(ConfiguredConnection::Outbox),
            Self::Smtp(target) => target.connect().await.map(ConfiguredConnection::Smtp),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Outbox(outbox) => outbox.describe(),
            Self::Smtp(target) => target.describe(),
        }
    }

    fn writes_files(&self) -> bool {
        matches!(self, Self::Outbox(_))
    }
}

impl Connection for ConfiguredConnection {
    async fn begin(&mut self, from: &str, to: &str) -> Option<Outcome> {
        match self {
            Self::Smtp(connection) => connection.begin(from, to).await,
            Self::Outbox(connection) => connection.begin(from, to).await,
        }
    }

    async fn stage(&mut self, message: &[u8]) -> Option<Outcome> {
        match self {
            Self::Smtp(connection) => connection.stage(message).await,
            Self::Outbox(connection) => connection.stage(message).await,
        }
    }

    async fn data(&mut self, message: &[u8], name: &str) -> Outcome {
        match self {
            Self::Smtp(connection) => connection.data(message, name).await,
            Self::Outbox(connection) => connection.data(message, name).await,
        }
    }

    fn sent(&self) -> usize {
        match self {
            Self::Smtp(connection) => connection.sent(),
            Self::Outbox(connection) => connection.sent(),
        }
    }

    async fn close(self) {
        match self {
            Self::Smtp(connection) => connection.close().await,
            Self::Outbox(connection) => connection.close().await,
        }
    }
}

fn credentials(smtp: Option<&crate::config::Smtp>, env: &Env) -> Result<Option<(String, String)>> {
    let Some(smtp) = smtp else { return Ok(None) };
    let Some(user) = &smtp.username else { return Ok(None) };
    let Some(variable) = &smtp.password_env else {
        return Err(Error::usage(format!(
            "`username: {user}` needs `password-env:` naming the environment variable that holds the password"
        )));
    };
    match env.get(variable) {
        Some(password) if !password.is_empty() => Ok(Some((user.clone(), password.to_owned()))),
        _ => Err(Error::usage(format!(
            "the SMTP password variable `{variable}` is not set (`password-env` in letterpress.yaml)"
        ))),
    }
}

fn helo(config: &Config, smtp: Option<&crate::config::Smtp>) -> String {
    if let Some(helo) = smtp.and_then(|s| s.helo.clone()) {
        return helo;
    }
    let from = config.publications.first().map(|p| p.from.as_str()).unwrap_or_default();
    // The A-label of an internationalised domain: EHLO takes an ASCII name (RFC 5321 §4.1.1.1).
    from.parse::<lettre::message::Mailbox>()
        .ok()
        .and_then(|m| crate::address::ascii_domain(m.email.domain()))
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EHLO names the first publication's From domain, an internationalised one as its A-label
    /// (RFC 5321 §4.1.1.1 wants an ASCII name).
    #[test]
    fn ehlo_names_the_from_domain_in_ascii() {
        let yaml = "site:\n  title: T\n  base-url: https://news.example.org\npublications:\n  - slug: weekly\n    name: Weekly\n    from: Weekly <w@Bücher.example>\n";
        let config = Config::parse(std::path::Path::new("c.yaml"), yaml).unwrap();
        assert_eq!(helo(&config, None), "xn--bcher-kva.example");
    }
}
