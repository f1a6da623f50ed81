//! `SmtpServer`: a real SMTP server inside the test process, with fault injection, for the send
//! tests. It runs on its own tokio runtime thread, so tests stay plain `#[test]` functions while
//! the `letterpress` child process talks to it over loopback.
//!
//! In: a `ServerConfig` (TLS mode, credentials, the optional extensions EHLO offers, a fault
//! function consulted at each point of the dialogue, a delay, limits). Out: the log of accepted
//! messages (`Received`), counters (pipelined commands among them), and optionally a
//! `<rcpt>\t<message-id>` line per accepted recipient appended to a file.
//!
//! Commands are parsed by `smtp-proto`; message data is dot-unstuffed by its `DataReceiver`, so a
//! terminator split across reads is handled. Pipelined commands are answered in order, one write
//! per batch. STARTTLS and implicit TLS use a leaf certificate for `localhost` and `127.0.0.1`
//! signed by a per-server test CA (`ca_pem`).

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver};
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN, MAIL_SMTPUTF8, Request};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// Longest command or AUTH line accepted, CRLF included; longer ones get `500 5.5.6`.
const MAX_LINE: usize = 2048;

/// How the server offers TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain SMTP only.
    #[default]
    None,
    /// Plain SMTP that advertises STARTTLS (port 587 style).
    StartTls,
    /// TLS from the first byte (smtps, port 465 style).
    Implicit,
}

/// What the server does after a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Send the reply and carry on.
    Continue,
    /// Send the reply, then close the connection (e.g. `421`).
    Close,
    /// Close the connection without sending the reply: at end of data, the "uncertain" case. The
    /// code still decides the outcome: 2xx means the server took the message (it is recorded)
    /// and only the reply was lost; `Reply::drop_connection` (code 0) means it did not.
    Drop,
}

/// A reply the fault function substitutes for the server's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text after the code, enhanced status code first (`5.1.1 no such user`); `\n` makes a
    /// multi-line reply.
    pub text: String,
    /// What happens after it.
    pub then: After,
}

impl Reply {
    /// A reply after which the session continues.
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Self { code, text: text.into(), then: After::Continue }
    }

    /// Closing the connection without any reply (RFC 1047's gap when used at end of data); the
    /// message is not recorded.
    pub fn drop_connection() -> Self {
        Self { code: 0, text: String::new(), then: After::Drop }
    }

    /// The same reply, lost: the server acts on it (a 2xx at end of data records the message)
    /// but closes the connection instead of sending it.
    #[must_use]
    pub fn then_drop(self) -> Self {
        Self { then: After::Drop, ..self }
    }

    /// The same reply, after which the server closes the connection.
    #[must_use]
    pub fn then_close(self) -> Self {
        Self { then: After::Close, ..self }
    }

    fn accepts(&self) -> bool {
        (200..400).contains(&self.code)
    }

    fn write(&self, out: &mut Vec<u8>) {
        let mut lines = self.text.split('\n').peekable();
        while let Some(line) = lines.next() {
            let separator = if lines.peek().is_some() { '-' } else { ' ' };
            let _ = write!(out, "{}{separator}{}\r\n", self.code, line.trim_end_matches('\r'));
        }
    }
}

/// A point of the dialogue at which the fault function is asked for a reply. Sessions, messages
/// and recipients are numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new connection, before the greeting (after the handshake with implicit TLS).
    Connect { session: u64 },
    /// `MAIL FROM`, after the server's own checks passed.
    Mail { session: u64, from: String },
    /// `RCPT TO`; `n_in_session` counts every RCPT of the connection.
    Rcpt { session: u64, to: String, n_in_session: usize },
    /// `DATA`, with the recipients accepted so far.
    Data { session: u64, rcpts: Vec<String> },
    /// The end of a message's data, before the final reply; messages are counted whether
    /// accepted or not.
    EndOfData { session: u64, rcpts: Vec<String>, message_no_in_session: usize, global_message_no: u64 },
}

/// The fault function: `Some(reply)` replaces the server's reply at that point, `None` keeps it.
pub type Fault = Arc<dyn Fn(&Event) -> Option<Reply> + Send + Sync>;

/// How a server behaves; `Default` is a plain server that accepts everything.
#[derive(Clone)]
pub struct ServerConfig {
    /// Whether and how TLS is offered.
    pub tls: TlsMode,
    /// The only accepted credentials (user, password); others get `535 5.7.8`. `None`: no AUTH.
    pub auth: Option<(String, String)>,
    /// `MAIL` before a successful AUTH gets `530 5.7.0`.
    pub require_auth: bool,
    /// AUTH is offered and accepted only over TLS (`538 5.7.11` otherwise). Default true.
    pub require_tls_for_auth: bool,
    /// Consulted at each `Event`.
    pub fault: Fault,
    /// A pause before each end-of-data reply, to exercise client timeouts.
    pub delay: Option<Duration>,
    /// After this many accepted messages on a connection, the next `MAIL` gets `421 4.7.0` and
    /// the connection closes.
    pub max_messages_per_connection: Option<usize>,
    /// Messages larger than this (after dot-unstuffing) get `552 5.3.4`; advertised as SIZE.
    pub max_message_size: usize,
    /// Appends `<rcpt>\t<message-id>\n` per recipient of each accepted message.
    pub log_file: Option<PathBuf>,
    /// Optional extensions EHLO advertises.
    pub extensions: Extensions,
    /// While closed, end-of-data replies wait for it (see [`Gate`]).
    pub hold: Option<Gate>,
}

/// A gate end-of-data replies wait at until the test opens it: clients that must overlap (two
/// senders sharing a send) are held mid-message, on a condition the test checks, never on time.
/// The message is recorded, or not, when its reply is sent, after the gate.
#[derive(Debug, Clone)]
pub struct Gate(Arc<GateState>);

#[derive(Debug)]
struct GateState {
    open: tokio::sync::watch::Sender<bool>,
    /// Messages that reached the gate, held or not.
    reached: Mutex<usize>,
    arrived: Condvar,
}

impl Gate {
    /// A closed gate.
    pub fn closed() -> Self {
        Self(Arc::new(GateState {
            open: tokio::sync::watch::Sender::new(false),
            reached: Mutex::new(0),
            arrived: Condvar::new(),
        }))
    }

    /// Opens the gate for good: held replies go out, later ones are not held.
    pub fn open(&self) {
        self.0.open.send_replace(true);
    }

    /// Waits until at least `count` messages have reached the gate (their final dot read, the
    /// reply not sent while it is closed); false on timeout.
    pub fn wait_for_reached(&self, count: usize, timeout: Duration) -> bool {
        let reached = self.0.reached.lock().unwrap_or_else(PoisonError::into_inner);
        let (reached, _) = self
            .0
            .arrived
            .wait_timeout_while(reached, timeout, |reached| *reached < count)
            .unwrap_or_else(PoisonError::into_inner);
        *reached >= count
    }

    async fn passed(&self) {
        *self.0.reached.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.arrived.notify_all();
        let mut open = self.0.open.subscribe();
        let _ = open.wait_for(|open| *open).await;
    }
}

/// Optional SMTP extensions the server offers; `Default` offers them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extensions {
    /// PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// SMTPUTF8 (RFC 6531); without it `MAIL … SMTPUTF8` gets `555 5.5.4`.
    pub smtputf8: bool,
}

impl Default for Extensions {
    fn default() -> Self {
        Self { pipelining: true, smtputf8: true }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            tls: TlsMode::None,
            auth: None,
            require_auth: false,
            require_tls_for_auth: true,
            fault: Arc::new(|_| None),
            delay: None,
            max_messages_per_connection: None,
            max_message_size: 10 * 1024 * 1024,
            log_file: None,
            extensions: Extensions::default(),
            hold: None,
        }
    }
}

impl ServerConfig {
    /// Offers STARTTLS.
    #[must_use]
    pub fn starttls(self) -> Self {
        Self { tls: TlsMode::StartTls, ..self }
    }

    /// Speaks TLS from the first byte.
    #[must_use]
    pub fn implicit_tls(self) -> Self {
        Self { tls: TlsMode::Implicit, ..self }
    }

    /// Accepts AUTH PLAIN and LOGIN with these credentials.
    #[must_use]
    pub fn auth(self, user: &str, password: &str) -> Self {
        Self { auth: Some((user.to_owned(), password.to_owned())), ..self }
    }

    /// Refuses `MAIL` before AUTH.
    #[must_use]
    pub fn require_auth(self) -> Self {
        Self { require_auth: true, ..self }
    }

    /// Offers AUTH on a plain connection too.
    #[must_use]
    pub fn auth_without_tls(self) -> Self {
        Self { require_tls_for_auth: false, ..self }
    }

    /// Sets the fault function.
    #[must_use]
    pub fn fault(self, fault: impl Fn(&Event) -> Option<Reply> + Send + Sync + 'static) -> Self {
        Self { fault: Arc::new(fault), ..self }
    }

    /// Pauses before each end-of-data reply.
    #[must_use]
    pub fn delay(self, delay: Duration) -> Self {
        Self { delay: Some(delay), ..self }
    }

    /// Closes a connection with `421 4.7.0` at the `MAIL` after `count` accepted messages.
    #[must_use]
    pub fn max_messages_per_connection(self, count: usize) -> Self {
        Self { max_messages_per_connection: Some(count), ..self }
    }

    /// Rejects larger messages with `552 5.3.4`.
    #[must_use]
    pub fn max_message_size(self, bytes: usize) -> Self {
        Self { max_message_size: bytes, ..self }
    }

    /// Appends a `<rcpt>\t<message-id>` line per accepted recipient to `path`.
    #[must_use]
    pub fn log_file(self, path: &Path) -> Self {
        Self { log_file: Some(path.to_owned()), ..self }
    }

    /// Holds every end-of-data reply until `gate` opens.
    #[must_use]
    pub fn hold(self, gate: &Gate) -> Self {
        Self { hold: Some(gate.clone()), ..self }
    }

    /// Does not advertise PIPELINING (RFC 2920), like `smtp-sink -p`.
    #[must_use]
    pub fn without_pipelining(self) -> Self {
        Self { extensions: Extensions { pipelining: false, ..self.extensions }, ..self }
    }

    /// Does not advertise SMTPUTF8 (RFC 6531); a `MAIL … SMTPUTF8` gets `555 5.5.4`.
    #[must_use]
    pub fn without_smtputf8(self) -> Self {
        Self { extensions: Extensions { smtputf8: false, ..self.extensions }, ..self }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("tls", &self.tls)
            .field("auth", &self.auth.as_ref().map(|(user, _)| user))
            .field("require_auth", &self.require_auth)
            .field("delay", &self.delay)
            .finish_non_exhaustive()
    }
}

/// A message the server accepted with a 2xx at the end of its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The reverse-path, without angle brackets.
    pub mail_from: String,
    /// The accepted recipients, in order.
    pub rcpt_to: Vec<String>,
    /// The message as sent, dot-unstuffed, ending with the CRLF before the terminating dot.
    pub data: Vec<u8>,
    /// The connection it came on (1 for the first).
    pub session: u64,
    /// Whether the connection was encrypted.
    pub tls: bool,
    /// The user who authenticated on the connection.
    pub auth_user: Option<String>,
}

impl Received {
    /// The unfolded value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.data);
        let mut lines = text.split("\r\n").take_while(|line| !line.is_empty()).peekable();
        while let Some(line) = lines.next() {
            let Some((field, value)) = line.split_once(':') else { continue };
            if field.eq_ignore_ascii_case(name) {
                let mut parts = vec![value.trim()];
                while let Some(more) = lines.next_if(|next| next.starts_with([' ', '\t'])) {
                    parts.push(more.trim());
                }
                parts.retain(|part| !part.is_empty());
                return Some(parts.join(" "));
            }
        }
        None
    }

    /// The `Message-ID` header.
    pub fn message_id(&self) -> Option<String> {
        self.header("Message-ID")
    }
}

/// A running server, bound to `127.0.0.1` on a free port; it stops when dropped.
pub struct SmtpServer {
    addr: SocketAddr,
    ca_pem: String,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SmtpServer {
    /// Binds, generates the test CA and certificate, and starts serving on a runtime thread.
    /// Also installs ring as rustls's process-wide provider, for clients in the test process.
    pub fn start(config: ServerConfig) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let (ca_pem, tls) = test_certificates(addr.port());
        let shared = Arc::new(Shared::new(config, TlsAcceptor::from(tls)));
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("smtp-server-{}", addr.port()))
            .spawn({
                let shared = Arc::clone(&shared);
                move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                    runtime.block_on(accept_loop(shared, listener, stopped));
                }
            })
            .expect("spawn the server thread");
        Self { addr, ca_pem, shared, stop: Some(stop), thread: Some(thread) }
    }

    /// The bound address (`127.0.0.1:port`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `smtp://127.0.0.1:port`, or `smtps://…` with implicit TLS.
    pub fn url(&self) -> String {
        let scheme = if self.shared.config.tls == TlsMode::Implicit { "smtps" } else { "smtp" };
        format!("{scheme}://{}", self.addr)
    }

    /// The test CA's certificate (PEM), for a client's `ca-file`.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Writes the test CA's certificate to `path`.
    pub fn write_ca_file(&self, path: &Path) {
        std::fs::write(path, &self.ca_pem).expect("write the test CA");
    }

    /// Every accepted message so far, in order of acceptance.
    pub fn received(&self) -> Vec<Received> {
        self.shared.log().clone()
    }

    /// Waits until at least `count` messages were accepted; false on timeout.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> bool {
        let log = self.shared.log();
        let (log, _) = self
            .shared
            .arrived
            .wait_timeout_while(log, timeout, |log| log.len() < count)
            .unwrap_or_else(PoisonError::into_inner);
        log.len() >= count
    }

    /// Waits until every session accepted so far has ended (a message whose reply is delayed
    /// is recorded, or not, by then); false on timeout.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while self.shared.ended.load(Ordering::SeqCst) < self.shared.connections.load(Ordering::SeqCst) {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Connections accepted.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// `EHLO` and `HELO` commands answered with 250 (twice per STARTTLS connection).
    pub fn ehlo_count(&self) -> u64 {
        self.shared.ehlo.load(Ordering::SeqCst)
    }

    /// Successful authentications.
    pub fn auth_count(&self) -> u64 {
        self.shared.auth.load(Ordering::SeqCst)
    }

    /// Replies of 400 or more to `MAIL`, `RCPT`, `DATA` and end of data.
    pub fn rejected(&self) -> u64 {
        self.shared.rejected.load(Ordering::SeqCst)
    }

    /// Connections closed without a reply (`After::Drop`).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    /// Commands that arrived with more input already behind them: a client that waits for
    /// each reply (no pipelining) leaves this at 0.
    pub fn pipelined(&self) -> u64 {
        self.shared.pipelined.load(Ordering::SeqCst)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A CA certificate (PEM) and a server config whose leaf, for `localhost` and `127.0.0.1`, it
/// signed. The port makes the CA's name unique, so a client trusting another server's CA fails
/// with an unknown issuer.
fn test_certificates(port: u16) -> (String, Arc<rustls::ServerConfig>) {
    let mut ca_params = CertificateParams::new(Vec::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, format!("letterpress test CA {port}"));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key")).expect("CA certificate");

    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("leaf parameters");
    leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf certificate");

    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .expect("server certificate");
    (ca.pem(), Arc::new(config))
}

/// What the server's thread and its connections share.
struct Shared {
    config: ServerConfig,
    acceptor: TlsAcceptor,
    log: Mutex<Vec<Received>>,
    arrived: Condvar,
    connections: AtomicU64,
    /// Sessions that have ended (their task returned).
    ended: AtomicU64,
    messages: AtomicU64,
    ehlo: AtomicU64,
    auth: AtomicU64,
    rejected: AtomicU64,
    dropped: AtomicU64,
    pipelined: AtomicU64,
}

impl Shared {
    fn new(config: ServerConfig, acceptor: TlsAcceptor) -> Self {
        Self {
            config,
            acceptor,
            log: Mutex::default(),
            arrived: Condvar::new(),
            connections: AtomicU64::new(0),
            ended: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            ehlo: AtomicU64::new(0),
            auth: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            pipelined: AtomicU64::new(0),
        }
    }

    fn log(&self) -> MutexGuard<'_, Vec<Received>> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fault(&self, event: &Event) -> Option<Reply> {
        (self.config.fault)(event)
    }

    fn record(&self, received: Received) {
        if let Some(path) = &self.config.log_file {
            let id = received.message_id().unwrap_or_else(|| "-".to_owned());
            let lines = received.rcpt_to.iter().fold(String::new(), |mut lines, rcpt| {
                let _ = writeln!(lines, "{rcpt}\t{id}");
                lines
            });
            let appended = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut file| file.write_all(lines.as_bytes()));
            if let Err(error) = appended {
                eprintln!("smtp test server: cannot append to {}: {error}", path.display());
            }
        }
        self.log().push(received);
        self.arrived.notify_all();
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: std::net::TcpListener, mut stop: oneshot::Receiver<()>) {
    let listener = TcpListener::from_std(listener).expect("tokio listener");
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                if let Ok((tcp, _)) = accepted {
                    let session = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
                    tokio::spawn(serve(Arc::clone(&shared), tcp, session));
                }
            }
        }
    }
}

/// One connection: plain, upgraded by STARTTLS, or TLS from the start. I/O errors end it quietly.
/// Counts a session as ended however its task returns.
struct Ended(Arc<Shared>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.ended.fetch_add(1, Ordering::SeqCst);
    }
}

async fn serve(shared: Arc<Shared>, tcp: TcpStream, id: u64) {
    let _ended = Ended(Arc::clone(&shared));
    let _ = tcp.set_nodelay(true);
    let acceptor = shared.acceptor.clone();
    let mut session = Session::new(shared, id);
    if session.shared.config.tls == TlsMode::Implicit {
        let Ok(mut tls) = acceptor.accept(tcp).await else { return };
        session.tls = true;
        let greeting = session.greeting();
        let _ = session.run(&mut tls, Some(greeting)).await;
        return;
    }
    let mut tcp = tcp;
    let greeting = session.greeting();
    if let Ok(End::StartTls) = session.run(&mut tcp, Some(greeting)).await {
        let Ok(mut tls) = acceptor.accept(tcp).await else { return };
        session.start_tls();
        let _ = session.run(&mut tls, None).await;
    }
}

/// How a run over one stream ended.
enum End {
    Closed,
    StartTls,
}

/// What one unit of input (a line, or a message's data) calls for.
enum Step {
    Reply(Reply),
    /// The end-of-data reply: delayed by the config; the message is recorded as a 2xx is sent.
    Final {
        reply: Reply,
        message: Received,
    },
    StartTls,
}

/// What the next line means.
enum Expect {
    Command,
    AuthPlain,
    AuthLoginUser,
    AuthLoginPassword(String),
}

/// A line of input.
enum Line {
    Complete(Vec<u8>),
    /// Longer than `MAX_LINE`: read to its end and thrown away.
    TooLong,
}

/// A message's data being read.
struct Incoming {
    receiver: DataReceiver,
    body: Vec<u8>,
    /// Set once the message outgrew the limit: the rest is read and thrown away.
    overflow: Option<DummyDataReceiver>,
}

/// The state of one connection.
struct Session {
    shared: Arc<Shared>,
    id: u64,
    tls: bool,
    greeted: bool,
    auth_user: Option<String>,
    mail_from: Option<String>,
    rcpts: Vec<String>,
    rcpt_count: usize,
    message_count: usize,
    accepted_count: usize,
    expect: Expect,
    incoming: Option<Incoming>,
    skipping_long_line: bool,
    input: Vec<u8>,
}

impl Session {
    fn new(shared: Arc<Shared>, id: u64) -> Self {
        Self {
            shared,
            id,
            tls: false,
            greeted: false,
            auth_user: None,
            mail_from: None,
            rcpts: Vec::new(),
            rcpt_count: 0,
            message_count: 0,
            accepted_count: 0,
            expect: Expect::Command,
            incoming: None,
            skipping_long_line: false,
            input: Vec::with_capacity(16 * 1024),
        }
    }

    fn greeting(&self) -> Reply {
        let event = Event::Connect { session: self.id };
        self.shared.fault(&event).unwrap_or_else(|| Reply::new(220, "localhost ESMTP letterpress test server"))
    }

    /// RFC 3207: after the handshake the client starts over with EHLO, and nothing is kept.
    fn start_tls(&mut self) {
        self.tls = true;
        self.greeted = false;
        self.auth_user = None;
        self.reset_transaction();
        self.input.clear();
    }

    fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.rcpts.clear();
    }

    /// Serves `stream` until the client leaves, a reply closes it, or STARTTLS succeeds.
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        greeting: Option<Reply>,
    ) -> std::io::Result<End> {
        let mut out = Vec::new();
        let mut pending = greeting.map(Step::Reply);
        loop {
            while let Some(step) = pending.take().or_else(|| self.advance()) {
                let reply = match step {
                    Step::Reply(reply) => reply,
                    Step::StartTls => {
                        Reply::new(220, "2.0.0 ready to start TLS").write(&mut out);
                        stream.write_all(&out).await?;
                        // Commands pipelined behind STARTTLS are discarded (the CVE-2011-0411 class).
                        self.input.clear();
                        return Ok(End::StartTls);
                    }
                    Step::Final { reply, message } => {
                        if let Some(gate) = &self.shared.config.hold {
                            stream.write_all(&out).await?;
                            out.clear();
                            gate.passed().await;
                        }
                        if let Some(delay) = self.shared.config.delay {
                            stream.write_all(&out).await?;
                            out.clear();
                            tokio::time::sleep(delay).await;
                        }
                        if reply.accepts() {
                            self.accepted_count += 1;
                            self.shared.record(message);
                        }
                        reply
                    }
                };
                if reply.then == After::Drop {
                    self.shared.dropped.fetch_add(1, Ordering::SeqCst);
                } else {
                    reply.write(&mut out);
                }
                if reply.then != After::Continue {
                    stream.write_all(&out).await?;
                    close(stream).await;
                    return Ok(End::Closed);
                }
            }
            stream.write_all(&out).await?;
            out.clear();
            self.input.reserve(16 * 1024);
            if stream.read_buf(&mut self.input).await? == 0 {
                return Ok(End::Closed);
            }
        }
    }

    /// Handles the next complete unit of buffered input; `None` when more input is needed.
    fn advance(&mut self) -> Option<Step> {
        if self.incoming.is_some() {
            return self.advance_data();
        }
        let Line::Complete(line) = self.take_line()? else {
            self.expect = Expect::Command;
            return Some(Step::Reply(Reply::new(500, "5.5.6 line too long")));
        };
        Some(match std::mem::replace(&mut self.expect, Expect::Command) {
            Expect::Command => {
                if !self.input.is_empty() {
                    self.shared.pipelined.fetch_add(1, Ordering::SeqCst);
                }
                self.command(&line)
            }
            Expect::AuthPlain => Step::Reply(self.auth_response(&line, Self::check_plain)),
            Expect::AuthLoginUser => Step::Reply(self.auth_response(&line, Self::login_user)),
            Expect::AuthLoginPassword(user) => {
                Step::Reply(self.auth_response(&line, |session, password| session.check(&user, password)))
            }
        })
    }

    /// The next line, or `None` when no full line is buffered.
    fn take_line(&mut self) -> Option<Line> {
        let Some(end) = self.input.iter().position(|&byte| byte == b'\n') else {
            if self.input.len() > MAX_LINE {
                self.input.clear();
                self.skipping_long_line = true;
            }
            return None;
        };
        let line: Vec<u8> = self.input.drain(..=end).collect();
        let too_long = std::mem::take(&mut self.skipping_long_line) || line.len() > MAX_LINE;
        Some(if too_long { Line::TooLong } else { Line::Complete(line) })
    }

    fn advance_data(&mut self) -> Option<Step> {
        let incoming = self.incoming.as_mut()?;
        let mut bytes = self.input.iter();
        let done = match &mut incoming.overflow {
            Some(discard) => discard.ingest(&mut bytes),
            None => incoming.receiver.ingest(&mut bytes, &mut incoming.body),
        };
        let consumed = self.input.len() - bytes.as_slice().len();
        self.input.drain(..consumed);
        if incoming.overflow.is_none() && incoming.body.len() > self.shared.config.max_message_size {
            incoming.overflow = Some(DummyDataReceiver::new_data(&incoming.receiver));
            incoming.body = Vec::new();
        }
        if !done {
            return None;
        }
        let incoming = self.incoming.take()?;
        Some(self.end_of_data(incoming))
    }

    fn end_of_data(&mut self, incoming: Incoming) -> Step {
        self.message_count += 1;
        let global_message_no = self.shared.messages.fetch_add(1, Ordering::SeqCst) + 1;
        let mail_from = self.mail_from.take().unwrap_or_default();
        let rcpt_to = std::mem::take(&mut self.rcpts);
        if incoming.overflow.is_some() {
            return Step::Reply(self.transaction_reply(Reply::new(552, "5.3.4 message too big")));
        }
        let event = Event::EndOfData {
            session: self.id,
            rcpts: rcpt_to.clone(),
            message_no_in_session: self.message_count,
            global_message_no,
        };
        let reply = self.transaction_reply(
            self.shared
                .fault(&event)
                .unwrap_or_else(|| Reply::new(250, format!("2.0.0 OK queued as {global_message_no}"))),
        );
        let message = Received {
            mail_from,
            rcpt_to,
            data: incoming.body,
            session: self.id,
            tls: self.tls,
            auth_user: self.auth_user.clone(),
        };
        Step::Final { reply, message }
    }

    /// Counts a rejection of the transaction (`MAIL`, `RCPT`, `DATA`, end of data).
    fn transaction_reply(&self, reply: Reply) -> Reply {
        if reply.code >= 400 {
            self.shared.rejected.fetch_add(1, Ordering::SeqCst);
        }
        reply
    }

    fn command(&mut self, line: &[u8]) -> Step {
        let request = match Request::parse(&mut line.iter()) {
            Ok(request) => request.into_owned(),
            Err(error) => return Step::Reply(parse_error_reply(error)),
        };
        Step::Reply(match request {
            Request::Ehlo { host } => {
                self.greet();
                Reply::new(250, self.capabilities(&host))
            }
            Request::Helo { host } => {
                self.greet();
                Reply::new(250, format!("localhost greets {host}"))
            }
            Request::Mail { from } => self.mail(from.address, from.size, from.flags & MAIL_SMTPUTF8 != 0),
            Request::Rcpt { to } => self.rcpt(to.address),
            Request::Data => return self.data(),
            Request::Rset => {
                self.reset_transaction();
                Reply::new(250, "2.0.0 OK")
            }
            Request::Noop { .. } => Reply::new(250, "2.0.0 OK"),
            Request::Quit => Reply::new(221, "2.0.0 bye").then_close(),
            Request::StartTls => return self.starttls(),
            Request::Auth { mechanism, initial_response } => self.auth(mechanism, &initial_response),
            _ => Reply::new(502, "5.5.1 command not implemented"),
        })
    }

    fn greet(&mut self) {
        self.shared.ehlo.fetch_add(1, Ordering::SeqCst);
        self.greeted = true;
        self.reset_transaction();
    }

    fn offers_auth(&self) -> bool {
        self.shared.config.auth.is_some() && (self.tls || !self.shared.config.require_tls_for_auth)
    }

    fn capabilities(&self, host: &str) -> String {
        let config = &self.shared.config;
        let mut lines = vec![format!("localhost greets {host}")];
        if config.extensions.pipelining {
            lines.push("PIPELINING".to_owned());
        }
        lines.push("8BITMIME".to_owned());
        if config.extensions.smtputf8 {
            lines.push("SMTPUTF8".to_owned());
        }
        lines.extend([format!("SIZE {}", config.max_message_size), "ENHANCEDSTATUSCODES".to_owned()]);
        if self.shared.config.tls == TlsMode::StartTls && !self.tls {
            lines.push("STARTTLS".to_owned());
        }
        if self.offers_auth() && self.auth_user.is_none() {
            lines.push("AUTH PLAIN LOGIN".to_owned());
        }
        lines.join("\n")
    }

    fn mail(&mut self, from: String, size: usize, smtputf8: bool) -> Reply {
        let config = &self.shared.config;
        let reply = if !self.greeted {
            Reply::new(503, "5.5.1 send EHLO first")
        } else if self.mail_from.is_some() {
            Reply::new(503, "5.5.1 nested MAIL command")
        } else if config.require_auth && self.auth_user.is_none() {
            Reply::new(530, "5.7.0 authentication required")
        } else if config.max_messages_per_connection.is_some_and(|max| self.accepted_count >= max) {
            Reply::new(421, "4.7.0 too many messages on this connection, closing").then_close()
        } else if size > config.max_message_size {
            Reply::new(552, "5.3.4 message size exceeds the limit")
        } else if smtputf8 && !config.extensions.smtputf8 {
            Reply::new(555, "5.5.4 SMTPUTF8 not supported")
        } else {
            let event = Event::Mail { session: self.id, from: from.clone() };
            let reply = self.shared.fault(&event).unwrap_or_else(|| Reply::new(250, "2.1.0 sender OK"));
            if reply.accepts() {
                self.mail_from = Some(from);
            }
            reply
        };
        self.transaction_reply(reply)
    }

    fn rcpt(&mut self, to: String) -> Reply {
        if self.mail_from.is_none() {
            return self.transaction_reply(Reply::new(503, "5.5.1 need MAIL before RCPT"));
        }
        self.rcpt_count += 1;
        let event = Event::Rcpt { session: self.id, to: to.clone(), n_in_session: self.rcpt_count };
        let reply = self.shared.fault(&event).unwrap_or_else(|| Reply::new(250, "2.1.5 recipient OK"));
        if reply.accepts() {
            self.rcpts.push(to);
        }
        self.transaction_reply(reply)
    }

    fn data(&mut self) -> Step {
        let reply = if self.mail_from.is_none() {
            Reply::new(503, "5.5.1 need MAIL before DATA")
        } else if self.rcpts.is_empty() {
            Reply::new(554, "5.5.1 no valid recipients")
        } else {
            let event = Event::Data { session: self.id, rcpts: self.rcpts.clone() };
            let reply = self.shared.fault(&event).unwrap_or_else(|| Reply::new(354, "end data with <CR><LF>.<CR><LF>"));
            if reply.accepts() {
                let mut receiver = DataReceiver::new();
                // The CRLF that ended DATA counts as the start of a line, so a leading dot is
                // unstuffed and an empty message ends at once.
                receiver.ingest(&mut b"\r\n".iter(), &mut Vec::new());
                self.incoming = Some(Incoming { receiver, body: Vec::new(), overflow: None });
            }
            reply
        };
        Step::Reply(self.transaction_reply(reply))
    }

    fn starttls(&mut self) -> Step {
        if self.shared.config.tls != TlsMode::StartTls {
            Step::Reply(Reply::new(502, "5.5.1 STARTTLS not offered"))
        } else if self.tls {
            Step::Reply(Reply::new(503, "5.5.1 TLS already active"))
        } else {
            Step::StartTls
        }
    }

    fn auth(&mut self, mechanism: u64, initial_response: &str) -> Reply {
        if self.shared.config.auth.is_none() {
            return Reply::new(502, "5.5.1 AUTH not offered");
        }
        if !self.offers_auth() {
            return Reply::new(538, "5.7.11 encryption required for requested authentication mechanism");
        }
        if self.auth_user.is_some() || self.mail_from.is_some() {
            return Reply::new(503, "5.5.1 AUTH not allowed now");
        }
        let initial = initial_response.trim();
        match mechanism {
            AUTH_PLAIN if initial.is_empty() => {
                self.expect = Expect::AuthPlain;
                Reply::new(334, "")
            }
            AUTH_PLAIN => self.auth_response(initial.as_bytes(), Self::check_plain),
            AUTH_LOGIN if initial.is_empty() => {
                self.expect = Expect::AuthLoginUser;
                Reply::new(334, BASE64.encode("Username:"))
            }
            AUTH_LOGIN => self.auth_response(initial.as_bytes(), Self::login_user),
            _ => Reply::new(504, "5.5.4 unrecognised authentication mechanism"),
        }
    }

    /// Decodes one base64 line of an AUTH exchange and hands it to `then`.
    fn auth_response(&mut self, line: &[u8], then: impl FnOnce(&mut Self, &[u8]) -> Reply) -> Reply {
        let line = line.trim_ascii();
        if line == b"*" {
            return Reply::new(501, "5.0.0 authentication cancelled");
        }
        let decoded = if line == b"=" { Ok(Vec::new()) } else { BASE64.decode(line) };
        match decoded {
            Ok(decoded) => then(self, &decoded),
            Err(_) => Reply::new(501, "5.5.2 cannot decode the response"),
        }
    }

    /// AUTH LOGIN's user name: the password comes next.
    fn login_user(&mut self, user: &[u8]) -> Reply {
        self.expect = Expect::AuthLoginPassword(String::from_utf8_lossy(user).into_owned());
        Reply::new(334, BASE64.encode("Password:"))
    }

    /// RFC 4616: `authzid NUL authcid NUL password`.
    fn check_plain(&mut self, decoded: &[u8]) -> Reply {
        let mut parts = decoded.split(|&byte| byte == 0);
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(user), Some(password), None) => self.check(&String::from_utf8_lossy(user), password),
            _ => Reply::new(501, "5.5.2 malformed PLAIN response"),
        }
    }

    fn check(&mut self, user: &str, password: &[u8]) -> Reply {
        let valid = self.shared.config.auth.as_ref().is_some_and(|(expected_user, expected_password)| {
            expected_user == user && expected_password.as_bytes() == password
        });
        if !valid {
            return Reply::new(535, "5.7.8 authentication credentials invalid");
        }
        self.shared.auth.fetch_add(1, Ordering::SeqCst);
        self.auth_user = Some(user.to_owned());
        Reply::new(235, "2.7.0 authentication successful")
    }
}

fn parse_error_reply(error: smtp_proto::Error) -> Reply {
    use smtp_proto::Error;
    match error {
        Error::SyntaxError { syntax } => Reply::new(501, format!("5.5.4 syntax: {syntax}")),
        Error::InvalidSenderAddress => Reply::new(501, "5.1.7 invalid sender address"),
        Error::InvalidRecipientAddress => Reply::new(501, "5.1.3 invalid recipient address"),
        Error::InvalidParameter { param } => Reply::new(501, format!("5.5.4 invalid parameter {param}")),
        Error::UnsupportedParameter { param } => Reply::new(555, format!("5.5.4 unsupported parameter {param}")),
        _ => Reply::new(500, "5.5.1 command not recognised"),
    }
}

/// Closes the write side, then reads until the client closes too (briefly), so that unread
/// input does not turn the close into a reset that could swallow the last reply.
async fn close<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    let _ = stream.shutdown().await;
    let mut sink = [0; 4096];
    let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
}
