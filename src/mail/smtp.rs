//! One SMTP connection, driven with `mail-send` (Stalwart's client) on a socket with
//! `TCP_NODELAY`, TLS by rustls, and RFC 2920 PIPELINING when the relay offers it.
//!
//! Enters: an [`SmtpTarget`] (where, how to secure and authenticate). Leaves: a connected
//! [`SmtpConnection`] or a [`ConnectError`] that says whether retrying can help; then, per
//! message, an [`Outcome`]: the relay's reply and at which stage, or a lost connection and
//! whether the message may have been accepted (the journal's `uncertain`).
//!
//! Pipelining puts MAIL, RCPT and DATA in one write and the message in a second, so a message
//! costs two round trips instead of four; the buffered stream sends each group in one flush.
//! A send stages the message: its body goes out while the journal commits the recipient's
//! in-flight mark, and the final dot, which makes it deliverable, after. Opening a connection
//! (TLS, STARTTLS, EHLO, AUTH) is in `smtp/connect.rs`.

use std::fmt;
use std::time::Duration;

use mail_send::SmtpClient;
use smtp_proto::Response;
use smtp_proto::response::parser::ResponseReceiver;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufStream};

pub use super::tls::connector;
use super::{ConnectError, Connection, Outcome, Reply, Stage, Transport, enhanced_code};

/// Any stream a connection can run over (plain TCP or TLS).
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Client = SmtpClient<BufStream<Box<dyn Io>>>;

/// Where and how to connect.
#[derive(Clone)]
pub struct SmtpTarget {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS from the first byte (`smtps://`).
    pub implicit_tls: bool,
    /// Whether a connection without TLS is acceptable when the relay offers no STARTTLS
    /// (loopback, or `tls: none`). STARTTLS is used whenever it is offered.
    pub plaintext_allowed: bool,
    /// Whether the host is this machine: the only place AUTH may go without TLS.
    pub loopback: bool,
    /// AUTH user and password.
    pub credentials: Option<(String, String)>,
    /// EHLO name.
    pub helo: String,
    /// Per-reply timeout.
    pub timeout: Duration,
    /// TLS configuration (roots: the system's plus any `ca-file`).
    pub connector: tokio_rustls::TlsConnector,
}

impl fmt::Debug for SmtpTarget {
    // The password never reaches a log or an error message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("implicit_tls", &self.implicit_tls)
            .field("user", &self.credentials.as_ref().map(|c| c.0.as_str()))
            .finish_non_exhaustive()
    }
}

/// `message` as DATA carries it, in `wire`: RFC 5321 §4.5.2's transparency (a dot that starts a
/// line is doubled; like `mail-send`, a dot after a lone CR too), then the final `CRLF.CRLF`.
/// memchr's searchers find the rare line-starting dots without stopping at every line end, and
/// the message goes in one write on the connection: `mail-send`'s `write_message` looks at
/// every byte in turn and writes the body and the dot apart.
fn transparent(message: &[u8], wire: &mut Vec<u8>) {
    static AFTER_LF: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\n."));
    static AFTER_CR: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\r."));
    wire.clear();
    wire.reserve(message.len() + 8);
    // Where a dot follows a line end, in order: the two searches merged (a byte is a CR or an
    // LF, never both, so no place is found twice).
    let mut after_lf = AFTER_LF.find_iter(message).peekable();
    let mut after_cr = AFTER_CR.find_iter(message).peekable();
    let mut from = 0;
    loop {
        let end = match (after_lf.peek(), after_cr.peek()) {
            (Some(&lf), Some(&cr)) if lf < cr => after_lf.next(),
            (Some(_) | None, Some(_)) => after_cr.next(),
            (Some(_), None) => after_lf.next(),
            (None, None) => None,
        };
        let Some(end) = end else { break };
        wire.extend_from_slice(message.get(from..=end).unwrap_or_default());
        wire.push(b'.');
        from = end + 1;
    }
    wire.extend_from_slice(message.get(from..).unwrap_or_default());
    wire.extend_from_slice(b"\r\n");
    wire.extend_from_slice(FINAL_DOT);
}

/// What ends the message on the wire, after its last line's CRLF: until the relay reads it,
/// it delivers nothing.
const FINAL_DOT: &[u8] = b".\r\n";

/// An open, ready connection.
pub struct SmtpConnection {
    client: Client,
    pipelining: bool,
    smtputf8: bool,
    timeout: Duration,
    /// Messages accepted on this connection.
    sent: usize,
    /// The message as it goes on the wire (see [`transparent`]), reused from one to the next.
    wire: Vec<u8>,
    /// Whether [`Connection::stage`] has sent `wire` but its final dot.
    staged: bool,
}

impl SmtpConnection {
    /// Open a transaction for one recipient: MAIL, RCPT and DATA (pipelined when offered).
    /// `None` means the relay is waiting for the message (354); `Some` is why not. Nothing the
    /// relay could deliver has been sent yet.
    async fn start(&mut self, from: &str, to: &str) -> Option<Outcome> {
        let utf8 = !to.is_ascii() || !from.is_ascii();
        if utf8 && !self.smtputf8 {
            return Some(Outcome::Replied {
                reply: Reply {
                    code: 553,
                    enhanced: Some((5, 6, 7)),
                    text: "the relay does not support SMTPUTF8 for this address".to_owned(),
                },
                stage: Stage::Rcpt,
            });
        }
        let params = if utf8 { " SMTPUTF8" } else { "" };
        // Bodies are quoted-printable and headers encoded, so messages are 7-bit: no BODY=.
        let mail = format!("MAIL FROM:<{from}>{params}\r\n");
        let rcpt = format!("RCPT TO:<{to}>\r\n");
        let replies = if self.pipelining {
            self.pipelined([mail.as_bytes(), rcpt.as_bytes(), b"DATA\r\n"]).await
        } else {
            self.sequential(&mail, &rcpt).await
        };
        let replies = match replies {
            Ok(replies) => replies,
            Err(e) => return Some(Outcome::Lost { after_data: false, error: describe(&e) }),
        };
        for (response, stage) in replies.iter().zip([Stage::Mail, Stage::Rcpt, Stage::Data]) {
            let accepted =
                if stage == Stage::Data { response.code == 354 } else { (200..300).contains(&response.code) };
            if !accepted {
                // A 421 closes the connection (RFC 5321 §3.8): nothing is left to reset.
                if response.code != 421 {
                    self.reset_after(stage).await;
                }
                return Some(Outcome::Replied { reply: reply(response), stage });
            }
        }
        (replies.len() < 3)
            .then(|| Outcome::Lost { after_data: false, error: "the relay stopped answering".to_owned() })
    }

    /// With PIPELINING: every command in one write, then their replies. A relay may answer some
    /// and close the connection (a `421` to RCPT, then no reply to DATA, RFC 2920 §3.1): the
    /// replies read before the end of the stream are returned, fewer than the commands, so a
    /// `421` is seen as one. (mail-send's `cmds` drops them all at the end of the stream.)
    async fn pipelined<const N: usize>(&mut self, commands: [&[u8]; N]) -> mail_send::Result<Vec<Response<String>>> {
        let stream = &mut self.client.stream;
        let exchange = async {
            for command in commands {
                stream.write_all(command).await?;
            }
            stream.flush().await?;
            let mut replies = Vec::with_capacity(N);
            let mut parser = ResponseReceiver::default();
            let mut buffer = [0u8; 1024];
            while replies.len() < N {
                let read = stream.read(&mut buffer).await?;
                if read == 0 {
                    break;
                }
                let mut bytes = buffer[..read].iter();
                while replies.len() < N {
                    match parser.parse(&mut bytes) {
                        Ok(response) => {
                            replies.push(response);
                            parser.reset();
                        }
                        Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
                        Err(_) => return Err(mail_send::Error::UnparseableReply),
                    }
                }
            }
            Ok(replies)
        };
        tokio::time::timeout(self.timeout, exchange).await.map_err(|_| mail_send::Error::Timeout)?
    }

    /// Without PIPELINING: one command, one reply; stop at the first refusal.
    async fn sequential(&mut self, mail: &str, rcpt: &str) -> mail_send::Result<Vec<Response<String>>> {
        let mut replies = Vec::with_capacity(3);
        for (command, ok) in [(mail.as_bytes(), 250), (rcpt.as_bytes(), 250), (b"DATA\r\n".as_slice(), 354)] {
            let response = self.client.cmd(command).await?;
            let accepted = response.code == ok || (ok == 250 && (200..300).contains(&response.code));
            replies.push(response);
            if !accepted {
                break;
            }
        }
        Ok(replies)
    }

    /// After [`Self::begin`]: the message and its final dot, then the verdict.
    async fn message(&mut self, message: &[u8]) -> Outcome {
        let staged = std::mem::take(&mut self.staged);
        if !staged {
            transparent(message, &mut self.wire);
        }
        // After `stage`, only the final dot is left to send.
        let from = if staged { self.wire.len().saturating_sub(FINAL_DOT.len()) } else { 0 };
        if let Err(error) = self.write(from..self.wire.len()).await {
            return Outcome::Lost { after_data: true, error };
        }
        match tokio::time::timeout(self.timeout, self.client.read()).await {
            Ok(Ok(response)) => {
                if (200..300).contains(&response.code) {
                    self.sent += 1;
                }
                Outcome::Replied { reply: reply(&response), stage: Stage::EndOfData }
            }
            Ok(Err(e)) => Outcome::Lost { after_data: true, error: describe(&e) },
            Err(_) => {
                Outcome::Lost { after_data: true, error: "no reply to the message within the timeout".to_owned() }
            }
        }
    }

    /// The body without its final dot, which the relay reads meanwhile (see
    /// [`Connection::stage`]).
    async fn stage_body(&mut self, message: &[u8]) -> Option<Outcome> {
        transparent(message, &mut self.wire);
        let body = 0..self.wire.len().saturating_sub(FINAL_DOT.len());
        match self.write(body).await {
            Ok(()) => {
                self.staged = true;
                None
            }
            // The dot was not sent: the relay cannot have taken the message.
            Err(error) => Some(Outcome::Lost { after_data: false, error }),
        }
    }

    /// Write `range` of the wire and flush it, within the timeout.
    async fn write(&mut self, range: std::ops::Range<usize>) -> Result<(), String> {
        let stream = &mut self.client.stream;
        let bytes = self.wire.get(range).unwrap_or_default();
        let written = async {
            stream.write_all(bytes).await?;
            stream.flush().await
        };
        match tokio::time::timeout(self.timeout, written).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the relay did not take the message within the timeout".to_owned()),
        }
    }

    /// After a refusal mid-transaction, RSET so the next message starts clean. With
    /// pipelining the later commands were refused too (RFC 2920), so only a refused DATA or
    /// RCPT leaves a transaction open.
    async fn reset_after(&mut self, stage: Stage) {
        if stage != Stage::Mail {
            let _ = self.client.rset().await;
        }
    }

    /// Say goodbye politely (errors do not matter any more).
    async fn quit(self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.quit()).await;
    }
}

impl Transport for SmtpTarget {
    type Connection = SmtpConnection;

    async fn connect(&self) -> Result<SmtpConnection, ConnectError> {
        SmtpConnection::open(self).await
    }

    fn describe(&self) -> String {
        format!("{}://{}:{}", if self.implicit_tls { "smtps" } else { "smtp" }, self.host, self.port)
    }
}

impl Connection for SmtpConnection {
    async fn begin(&mut self, from: &str, to: &str) -> Option<Outcome> {
        self.start(from, to).await
    }

    async fn stage(&mut self, message: &[u8]) -> Option<Outcome> {
        self.stage_body(message).await
    }

    async fn data(&mut self, message: &[u8], _name: &str) -> Outcome {
        self.message(message).await
    }

    fn sent(&self) -> usize {
        self.sent
    }

    async fn close(self) {
        self.quit().await;
    }
}

fn wrap(stream: Box<dyn Io>, timeout: Duration) -> Client {
    SmtpClient { stream: BufStream::with_capacity(8 * 1024, 64 * 1024, stream), timeout }
}

fn reply(response: &Response<String>) -> Reply {
    let text = response.message.split_whitespace().collect::<Vec<_>>().join(" ");
    let enhanced = match response.esc {
        [0, _, _] => enhanced_code(&text),
        [class, subject, detail] => Some((class, u16::from(subject), u16::from(detail))),
    };
    let text = match enhanced {
        Some((a, b, c)) => {
            text.strip_prefix(&format!("{a}.{b}.{c}")).map_or(text.clone(), |t| t.trim_start().to_owned())
        }
        None => text,
    };
    Reply { code: response.code, enhanced, text }
}

/// mail-send's errors in our voice (its `Display` is debug-like for some variants).
fn describe(error: &mail_send::Error) -> String {
    match error {
        mail_send::Error::Io(e) => e.to_string(),
        mail_send::Error::Tls(e) => format!("TLS: {e}"),
        mail_send::Error::UnexpectedReply(r) | mail_send::Error::AuthenticationFailed(r) => reply(r).summary(),
        mail_send::Error::Timeout => "timed out".to_owned(),
        mail_send::Error::MissingStartTls => "STARTTLS is not offered".to_owned(),
        mail_send::Error::UnsupportedAuthMechanism => "no AUTH mechanism in common (PLAIN or LOGIN)".to_owned(),
        other => other.to_string(),
    }
}

mod connect;
#[cfg(test)]
mod tests;
