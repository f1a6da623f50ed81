//! Where messages go: the outbox directory (`.eml` files any mail client opens) or an SMTP relay.
//!
//! Enters: the configuration and the environment (`LETTERPRESS_SMTP_URL` selects SMTP with that
//! URL; the password comes only from the variable `password-env` names). Leaves: a [`Transport`]
//! that opens [`Connection`]s, each owned by one worker.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::retry::Reply;
use super::smtp::{ConnectError, Outcome, SmtpConnection, SmtpTarget, Stage, connector};
use crate::config::{Config, SmtpUrl, TlsPolicy, TransportKind};
use crate::error::{Error, Result};

/// The environment variable that points a project at an SMTP relay without editing it.
pub const SMTP_URL_ENV: &str = "LETTERPRESS_SMTP_URL";

/// How to deliver.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Write `.eml` files under this directory.
    Outbox(PathBuf),
    /// Send over SMTP.
    Smtp(SmtpTarget),
}

/// One worker's way to deliver.
pub enum Connection {
    /// Files in a directory.
    Outbox(PathBuf),
    /// An SMTP session.
    Smtp(SmtpConnection),
}

impl Transport {
    /// The transport a project is configured for; `env_url` is `LETTERPRESS_SMTP_URL` if set.
    pub fn from_config(root: &Path, config: &Config, env_url: Option<&str>, outbox_sub: &Path) -> Result<Self> {
        let sending = &config.sending;
        let url = match (env_url, sending.transport, &sending.smtp) {
            (Some(url), _, _) => url.to_owned(),
            (None, TransportKind::Smtp, Some(smtp)) => smtp.url.clone(),
            (None, TransportKind::Smtp, None) => {
                return Err(Error::usage("`transport: smtp` needs an `smtp:` section"));
            }
            (None, TransportKind::Outbox, _) => return Ok(Self::Outbox(root.join(&sending.outbox).join(outbox_sub))),
        };
        let parsed = SmtpUrl::parse(&url).map_err(|why| {
            let source = if env_url.is_some() { format!("`{SMTP_URL_ENV}`") } else { "`sending.smtp.url`".to_owned() };
            Error::usage(format!("{source} {why}"))
        })?;
        let smtp = sending.smtp.clone();
        let tls_none = smtp.as_ref().is_some_and(|s| s.tls == TlsPolicy::None);
        let ca = match smtp.as_ref().and_then(|s| s.ca_file.as_ref()) {
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
            credentials: credentials(smtp.as_ref())?,
            helo: helo(config, smtp.as_ref()),
            timeout: Duration::from_secs_f64(sending.timeout),
            connector,
        }))
    }

    /// Open a connection (for the outbox, make sure the directory exists).
    pub async fn connect(&self) -> std::result::Result<Connection, ConnectError> {
        match self {
            Self::Outbox(dir) => std::fs::create_dir_all(dir)
                .map(|()| Connection::Outbox(dir.clone()))
                .map_err(|e| ConnectError::Fatal(format!("cannot create `{}`: {e}", dir.display()))),
            Self::Smtp(target) => SmtpConnection::connect(target).await.map(Connection::Smtp),
        }
    }

    /// A short description for logs, without secrets.
    pub fn describe(&self) -> String {
        match self {
            Self::Outbox(dir) => format!("outbox `{}`", dir.display()),
            Self::Smtp(t) => format!("{}://{}:{}", if t.implicit_tls { "smtps" } else { "smtp" }, t.host, t.port),
        }
    }
}

impl Connection {
    /// Open a transaction for one recipient (see [`SmtpConnection::begin`]); the outbox needs
    /// none.
    pub async fn begin(&mut self, from: &str, to: &str) -> Option<Outcome> {
        match self {
            Self::Smtp(connection) => connection.begin(from, to).await,
            Self::Outbox(_) => None,
        }
    }

    /// After a successful [`Self::begin`]: deliver the message; `name` is a stable file name
    /// for the outbox.
    pub async fn data(&mut self, message: &[u8], name: &str) -> Outcome {
        match self {
            Self::Smtp(connection) => connection.data(message).await,
            Self::Outbox(dir) => {
                let path = dir.join(format!("{name}.eml"));
                match crate::fsutil::write_private(&path, message) {
                    Ok(()) => Outcome::Replied {
                        reply: Reply {
                            code: 250,
                            enhanced: Some((2, 0, 0)),
                            text: format!("written to {}", path.display()),
                        },
                        stage: Stage::EndOfData,
                    },
                    Err(e) => Outcome::Lost { after_data: false, error: e.to_string() },
                }
            }
        }
    }

    /// Deliver one message in one go (test sends, which are not journaled).
    pub async fn send(&mut self, from: &str, to: &str, message: &[u8], name: &str) -> Outcome {
        match self.begin(from, to).await {
            Some(refused) => refused,
            None => self.data(message, name).await,
        }
    }

    /// Messages accepted on this connection.
    pub fn sent(&self) -> usize {
        match self {
            Self::Smtp(connection) => connection.sent,
            Self::Outbox(_) => 0,
        }
    }

    /// Close politely.
    pub async fn close(self) {
        if let Self::Smtp(connection) = self {
            connection.quit().await;
        }
    }
}

fn credentials(smtp: Option<&crate::config::Smtp>) -> Result<Option<(String, String)>> {
    let Some(smtp) = smtp else { return Ok(None) };
    let Some(user) = &smtp.username else { return Ok(None) };
    let Some(variable) = &smtp.password_env else {
        return Err(Error::usage(format!(
            "`username: {user}` needs `password-env:` naming the environment variable that holds the password"
        )));
    };
    match std::env::var(variable) {
        Ok(password) if !password.is_empty() => Ok(Some((user.clone(), password))),
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
    from.parse::<lettre::message::Mailbox>().map_or_else(|_| "localhost".to_owned(), |m| m.email.domain().to_owned())
}
