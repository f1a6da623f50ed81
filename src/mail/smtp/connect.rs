//! Opening an SMTP connection: TCP, implicit TLS or STARTTLS, the greeting, EHLO and AUTH,
//! each failure told as retryable ([`ConnectError::Network`]) or not ([`ConnectError::Fatal`]).

use std::fmt;

use mail_send::SmtpClient;
use smtp_proto::{EXT_PIPELINING, EXT_SMTP_UTF8, EXT_START_TLS, EhloResponse};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{Client, SmtpConnection, SmtpTarget, describe, reply, wrap};
use crate::mail::ConnectError;

impl SmtpConnection {
    /// Connect, secure and authenticate.
    pub(super) async fn open(target: &SmtpTarget) -> Result<Self, ConnectError> {
        let net = |e: &dyn fmt::Display| {
            ConnectError::Network(format!("cannot reach `{}:{}`: {e}", target.host, target.port))
        };
        let tcp = tokio::time::timeout(target.timeout, TcpStream::connect((target.host.as_str(), target.port)))
            .await
            .map_err(|_| net(&"timed out"))?
            .map_err(|e| net(&e))?;
        tcp.set_nodelay(true).map_err(|e| net(&e))?;
        let (mut client, tls, known) = if target.implicit_tls {
            let tls = tls_handshake(target, tcp).await?;
            let mut client = wrap(Box::new(tls), target.timeout);
            greeting(&mut client, target).await?;
            (client, true, None)
        } else {
            plain_then_starttls(target, tcp).await?
        };
        // After a TLS upgrade the capabilities must be asked again (RFC 3207 §4.2); a plaintext
        // connection keeps the ones its EHLO gave.
        let capabilities = match known {
            Some(capabilities) => capabilities,
            None => client.capabilities(&target.helo, false).await.map_err(|e| fault(target, "EHLO", &e))?,
        };
        if let Some((user, password)) = &target.credentials {
            refuse_cleartext_auth(target, tls)?;
            let credentials = mail_send::Credentials::new(user.as_str(), password.as_str());
            client.authenticate(&credentials, &capabilities).await.map_err(|e| auth_error(target, &e))?;
        }
        Ok(Self {
            client,
            pipelining: capabilities.has_capability(EXT_PIPELINING),
            smtputf8: capabilities.has_capability(EXT_SMTP_UTF8),
            timeout: target.timeout,
            sent: 0,
            wire: Vec::new(),
            staged: false,
        })
    }
}

async fn tls_handshake(
    target: &SmtpTarget,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ConnectError> {
    let name = rustls_pki_types::ServerName::try_from(target.host.clone())
        .map_err(|_| ConnectError::Fatal(format!("`{}` is not a valid TLS server name", target.host)))?;
    tokio::time::timeout(target.timeout, target.connector.connect(name, tcp))
        .await
        .map_err(|_| ConnectError::Network(format!("TLS handshake with `{}` timed out", target.host)))?
        .map_err(|e| ConnectError::Fatal(format!("TLS with `{}:{}` failed: {e}", target.host, target.port)))
}

async fn greeting<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
    target: &SmtpTarget,
) -> Result<(), ConnectError> {
    let response = client.read().await.map_err(|e| fault(target, "greeting", &e))?;
    if (200..300).contains(&response.code) {
        Ok(())
    } else {
        Err(ConnectError::Network(format!("`{}` refused the connection: {}", target.host, reply(&response).summary())))
    }
}

/// Plain connection, upgraded with STARTTLS when offered; required unless plaintext is allowed.
/// Returns the client, whether it is encrypted, and, when it is not, the capabilities its EHLO
/// already gave.
async fn plain_then_starttls(
    target: &SmtpTarget,
    tcp: TcpStream,
) -> Result<(Client, bool, Option<EhloResponse<String>>), ConnectError> {
    let mut plain = SmtpClient { stream: tcp, timeout: target.timeout };
    greeting(&mut plain, target).await?;
    let ehlo = plain.ehlo(&target.helo).await.map_err(|e| fault(target, "EHLO", &e))?;
    if ehlo.has_capability(EXT_START_TLS) {
        let tls = plain.start_tls(&target.connector, &target.host).await.map_err(|e| match e {
            mail_send::Error::Io(_) | mail_send::Error::Timeout => fault(target, "STARTTLS", &e),
            other => ConnectError::Fatal(format!("STARTTLS with `{}` failed: {}", target.host, describe(&other))),
        })?;
        return Ok((wrap(Box::new(tls.stream), target.timeout), true, None));
    }
    if !target.plaintext_allowed {
        return Err(ConnectError::Fatal(format!(
            "`{}` does not offer STARTTLS; refusing to send in plaintext (use `smtps://` on port 465, or `tls: none` only for a trusted private relay)",
            target.host
        )));
    }
    Ok((wrap(Box::new(plain.stream), target.timeout), false, Some(ehlo)))
}

/// The password never crosses the network in cleartext, whatever `tls` says: without TLS, AUTH
/// goes only to this machine.
pub(super) fn refuse_cleartext_auth(target: &SmtpTarget, tls: bool) -> Result<(), ConnectError> {
    if tls || target.loopback {
        return Ok(());
    }
    Err(ConnectError::Fatal(format!(
        "`{}` offers no STARTTLS; refusing to send the SMTP password in plaintext (use `smtps://` on port 465, a relay that offers STARTTLS, or no `username:` for a trusted private relay)",
        target.host
    )))
}

fn fault(target: &SmtpTarget, during: &str, error: &mail_send::Error) -> ConnectError {
    match error {
        mail_send::Error::Tls(_) | mail_send::Error::InvalidTLSName | mail_send::Error::MissingStartTls => {
            ConnectError::Fatal(format!("{during} with `{}` failed: {}", target.host, describe(error)))
        }
        _ => ConnectError::Network(format!("{during} with `{}` failed: {}", target.host, describe(error))),
    }
}

fn auth_error(target: &SmtpTarget, error: &mail_send::Error) -> ConnectError {
    match error {
        mail_send::Error::Io(_) | mail_send::Error::Timeout => fault(target, "AUTH", error),
        _ => ConnectError::Fatal(format!(
            "`{}` refused authentication as `{}`: {}; check the user name and the password variable",
            target.host,
            target.credentials.as_ref().map_or("", |c| c.0.as_str()),
            describe(error)
        )),
    }
}
