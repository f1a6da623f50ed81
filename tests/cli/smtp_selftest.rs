//! Tests of the in-process SMTP server itself, with lettre as a real client and a raw TCP client
//! for what lettre cannot do (pipelining, split writes, garbage).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use crate::smtp::{Event, Reply, ServerConfig, SmtpServer};

/// A lettre transport to `server` over `tls`, trusting only the test CA of `trusted`.
fn lettre_client(
    server: &SmtpServer,
    trusted: &SmtpServer,
    domain: &str,
    wrapper: bool,
    password: &str,
) -> SmtpTransport {
    let ca = Certificate::from_pem(trusted.ca_pem().as_bytes()).expect("the test CA");
    let parameters = TlsParameters::builder(domain.to_owned())
        .certificate_store(CertificateStore::None)
        .add_root_certificate(ca)
        .build_rustls()
        .expect("TLS parameters");
    let tls = if wrapper { Tls::Wrapper(parameters) } else { Tls::Required(parameters) };
    SmtpTransport::builder_dangerous("127.0.0.1")
        .port(server.port())
        .tls(tls)
        .credentials(Credentials::new("ed".to_owned(), password.to_owned()))
        .timeout(Some(Duration::from_secs(5)))
        .build()
}

fn message(to: &str, id: &str) -> Message {
    Message::builder()
        .from("Ed <ed@example.com>".parse::<Mailbox>().expect("sender"))
        .to(to.parse::<Mailbox>().expect("recipient"))
        .subject("Hello")
        .message_id(Some(format!("<{id}@example.com>")))
        .body("Hi.\r\n.A line that starts with a dot.\r\n".to_owned())
        .expect("message")
}

/// A hand-driven SMTP client on a plain connection.
struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    /// Connects and returns the client with the greeting's code.
    fn connect(server: &SmtpServer) -> (Self, u16) {
        let stream = TcpStream::connect(server.addr()).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");
        stream.set_nodelay(true).expect("nodelay");
        let mut client = Self { reader: BufReader::new(stream.try_clone().expect("clone the stream")), stream };
        let (code, _) = client.reply();
        (client, code)
    }

    fn send(&mut self, bytes: &str) {
        self.stream.write_all(bytes.as_bytes()).expect("write");
    }

    /// One whole reply: its code and its lines' texts joined by `\n`.
    fn reply(&mut self) -> (u16, String) {
        let mut texts = Vec::new();
        loop {
            let mut line = String::new();
            assert!(
                self.reader.read_line(&mut line).expect("read a reply") > 0,
                "connection closed while awaiting a reply"
            );
            let line = line.trim_end_matches("\r\n");
            texts.push(line.get(4..).unwrap_or_default().to_owned());
            if line.as_bytes().get(3) != Some(&b'-') {
                return (line[..3].parse().expect("a reply code"), texts.join("\n"));
            }
        }
    }

    fn command(&mut self, line: &str) -> (u16, String) {
        self.send(&format!("{line}\r\n"));
        self.reply()
    }

    /// True when the server has closed the connection (end of file or reset), false when it sent
    /// more or stayed silent for the read timeout.
    fn closed(&mut self) -> bool {
        let mut byte = [0];
        match self.reader.read(&mut byte) {
            Ok(n) => n == 0,
            Err(error) => matches!(error.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted),
        }
    }

    /// EHLO, MAIL, one RCPT per address, DATA, `body` and the final dot: the final reply.
    fn deliver(&mut self, from: &str, to: &[&str], body: &str) -> (u16, String) {
        assert_eq!(self.command("EHLO client.test").0, 250);
        assert_eq!(self.command(&format!("MAIL FROM:<{from}>")).0, 250);
        for rcpt in to {
            assert_eq!(self.command(&format!("RCPT TO:<{rcpt}>")).0, 250);
        }
        assert_eq!(self.command("DATA").0, 354);
        self.send(body);
        self.command(".")
    }
}

#[test]
fn lettre_delivers_over_starttls_with_auth() {
    let server = SmtpServer::start(ServerConfig::default().starttls().auth("ed", "secret").require_auth());
    let client = lettre_client(&server, &server, "localhost", false, "secret");
    client.send(&message("Ann <ann@example.org>", "1")).unwrap();
    client.send(&message("bob@example.org", "2")).unwrap();

    let received = server.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].mail_from, "ed@example.com");
    assert_eq!(received[0].rcpt_to, ["ann@example.org"]);
    assert_eq!(received[1].rcpt_to, ["bob@example.org"]);
    assert!(received.iter().all(|r| r.tls && r.auth_user.as_deref() == Some("ed")));
    assert_eq!(received[1].message_id().as_deref(), Some("<2@example.com>"));
    assert_eq!(received[0].header("subject").as_deref(), Some("Hello"));
    let text = String::from_utf8(received[0].data.clone()).unwrap();
    assert!(text.contains("\r\n\r\nHi.\r\n.A line that starts with a dot.\r\n"), "{text:?}");
    assert_eq!((server.connections(), server.ehlo_count(), server.auth_count()), (2, 4, 2));
}

#[test]
fn lettre_delivers_over_implicit_tls_to_an_ip_address() {
    let server = SmtpServer::start(ServerConfig::default().implicit_tls().auth("ed", "secret"));
    assert!(server.url().starts_with("smtps://127.0.0.1:"));
    let dir = tempfile::tempdir().unwrap();
    server.write_ca_file(&dir.path().join("ca.pem"));
    assert_eq!(std::fs::read_to_string(dir.path().join("ca.pem")).unwrap(), server.ca_pem());

    lettre_client(&server, &server, "127.0.0.1", true, "secret").send(&message("ann@example.org", "1")).unwrap();
    assert!(server.received()[0].tls);
}

#[test]
fn a_client_that_trusts_another_ca_refuses_the_certificate() {
    let server = SmtpServer::start(ServerConfig::default().starttls());
    let stranger = SmtpServer::start(ServerConfig::default());
    let error = lettre_client(&server, &stranger, "localhost", false, "secret")
        .send(&message("ann@example.org", "1"))
        .unwrap_err();
    assert!(error.to_string().contains("invalid peer certificate: UnknownIssuer"), "{error}");
    assert!(server.received().is_empty());
}

#[test]
fn a_wrong_password_gets_535_and_nothing_is_sent() {
    let server = SmtpServer::start(ServerConfig::default().starttls().auth("ed", "secret").require_auth());
    let error = lettre_client(&server, &server, "localhost", false, "guess")
        .send(&message("ann@example.org", "1"))
        .unwrap_err();
    assert!(error.to_string().contains("535"), "{error}");
    assert_eq!(server.auth_count(), 0);
    assert!(server.received().is_empty());
}

#[test]
fn auth_needs_starttls_first() {
    let server = SmtpServer::start(ServerConfig::default().starttls().auth("ed", "secret").require_auth());
    let (mut client, _) = Client::connect(&server);
    let (code, capabilities) = client.command("EHLO client.test");
    assert_eq!(code, 250);
    assert!(capabilities.contains("\nSTARTTLS"), "{capabilities}");
    assert!(!capabilities.contains("AUTH"), "{capabilities}");
    assert_eq!(client.command("AUTH PLAIN AGVkAHNlY3JldA==").0, 538);
    assert_eq!(client.command("MAIL FROM:<ed@example.com>"), (530, "5.7.0 authentication required".to_owned()));
    assert_eq!(server.rejected(), 1);
}

#[test]
fn auth_plain_and_login_exchanges() {
    let server = SmtpServer::start(ServerConfig::default().auth("ed", "secret").auth_without_tls().require_auth());
    let (mut client, _) = Client::connect(&server);
    assert!(client.command("EHLO client.test").1.contains("AUTH PLAIN LOGIN"));
    assert_eq!(client.command("AUTH PLAIN AGVkAGd1ZXNz").0, 535); // ed / guess
    assert_eq!(client.command("AUTH PLAIN").0, 334);
    assert_eq!(client.command("*").0, 501);
    assert_eq!(client.command("AUTH PLAIN AGVkAHNlY3JldA==").0, 235); // ed / secret
    assert_eq!(client.command("AUTH PLAIN AGVkAHNlY3JldA==").0, 503);

    let (mut client, _) = Client::connect(&server);
    client.command("EHLO client.test");
    assert_eq!(client.command("AUTH LOGIN"), (334, "VXNlcm5hbWU6".to_owned()));
    assert_eq!(client.command("ZWQ="), (334, "UGFzc3dvcmQ6".to_owned()));
    assert_eq!(client.command("c2VjcmV0").0, 235);
    assert_eq!(client.deliver("ed@example.com", &["ann@example.org"], "Hi\r\n").0, 250);
    assert_eq!(server.received()[0].auth_user.as_deref(), Some("ed"));
    assert_eq!(server.auth_count(), 2);
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let server = SmtpServer::start(ServerConfig::default().fault(|event| match event {
        Event::Rcpt { to, .. } if to == "gone@example.org" => Some(Reply::new(550, "5.1.1 no such user")),
        _ => None,
    }));
    let (mut client, _) = Client::connect(&server);
    assert!(client.command("EHLO client.test").1.contains("PIPELINING"));
    client.send(concat!(
        "MAIL FROM:<ed@example.com> SIZE=100 BODY=8BITMIME SMTPUTF8\r\n",
        "RCPT TO:<ann@example.org>\r\n",
        "RCPT TO:<gone@example.org>\r\n",
        "RCPT TO:<zoë@exämple.org>\r\n",
        "DATA\r\n",
    ));
    let codes: Vec<u16> = (0..5).map(|_| client.reply().0).collect();
    assert_eq!(codes, [250, 250, 550, 250, 354]);
    client.send("Subject: pipelined\r\n\r\nHi\r\n.\r\nNOOP\r\nQUIT\r\n");
    assert_eq!([client.reply().0, client.reply().0, client.reply().0], [250, 250, 221]);
    assert!(client.closed());
    assert_eq!(server.received()[0].rcpt_to, ["ann@example.org", "zoë@exämple.org"]);
}

#[test]
fn dot_stuffing_and_a_terminator_split_across_reads() {
    let server = SmtpServer::start(ServerConfig::default());
    let (mut client, _) = Client::connect(&server);
    client.command("EHLO client.test");
    client.command("MAIL FROM:<>");
    client.command("RCPT TO:<ann@example.org>");
    assert_eq!(client.command("DATA").0, 354);
    for part in ["..first\r\nsecond\r", "\n", ".", ".third\r\n", "\r\n.", "\r", "\n"] {
        client.send(part);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(client.reply().0, 250);
    let received = &server.received()[0];
    assert_eq!(received.mail_from, "");
    assert_eq!(received.data, b".first\r\nsecond\r\n.third\r\n\r\n");
}

#[test]
fn recipient_faults_reject_only_that_recipient() {
    let server = SmtpServer::start(ServerConfig::default().fault(|event| match event {
        Event::Rcpt { to, .. } if to == "busy@example.org" => Some(Reply::new(451, "4.7.1 try again later")),
        Event::Rcpt { n_in_session: 3, .. } => Some(Reply::new(550, "5.1.1 no such user")),
        _ => None,
    }));
    let (mut client, _) = Client::connect(&server);
    client.command("EHLO client.test");
    client.command("MAIL FROM:<ed@example.com>");
    assert_eq!(client.command("RCPT TO:<ann@example.org>").0, 250);
    assert_eq!(client.command("RCPT TO:<busy@example.org>"), (451, "4.7.1 try again later".to_owned()));
    assert_eq!(client.command("RCPT TO:<cat@example.org>"), (550, "5.1.1 no such user".to_owned()));
    assert_eq!(client.command("DATA").0, 354);
    assert_eq!(client.command("Hi\r\n.").0, 250);
    assert_eq!(server.received()[0].rcpt_to, ["ann@example.org"]);
    assert_eq!(server.rejected(), 2);
}

#[test]
fn max_messages_per_connection_closes_with_421() {
    let server = SmtpServer::start(ServerConfig::default().max_messages_per_connection(2));
    let (mut client, _) = Client::connect(&server);
    assert_eq!(client.deliver("ed@example.com", &["ann@example.org"], "One\r\n").0, 250);
    assert_eq!(client.deliver("ed@example.com", &["bob@example.org"], "Two\r\n").0, 250);
    assert_eq!(client.command("RSET").0, 250);
    assert_eq!(client.command("MAIL FROM:<ed@example.com>").0, 421);
    assert!(client.closed());
    assert_eq!(server.received().len(), 2);
}

#[test]
fn a_421_fault_mid_session_closes_the_connection() {
    let server = SmtpServer::start(ServerConfig::default().fault(|event| match event {
        Event::Connect { session: 1 } => Some(Reply::new(421, "4.3.2 not now").then_close()),
        Event::EndOfData { global_message_no: 2, .. } => Some(Reply::new(421, "4.4.2 shutting down").then_close()),
        _ => None,
    }));
    let (mut refused, code) = Client::connect(&server);
    assert_eq!(code, 421);
    assert!(refused.closed());

    let (mut client, code) = Client::connect(&server);
    assert_eq!(code, 220);
    assert_eq!(client.deliver("ed@example.com", &["ann@example.org"], "One\r\n").0, 250);
    assert_eq!(client.deliver("ed@example.com", &["bob@example.org"], "Two\r\n").0, 421);
    assert!(client.closed());
    assert_eq!(server.received().len(), 1);
    assert_eq!((server.connections(), server.rejected()), (2, 1));
}

#[test]
fn dropping_after_data_leaves_no_entry() {
    let server = SmtpServer::start(ServerConfig::default().fault(|event| match event {
        Event::EndOfData { .. } => Some(Reply::drop_connection()),
        _ => None,
    }));
    let (mut client, _) = Client::connect(&server);
    client.command("EHLO client.test");
    client.command("MAIL FROM:<ed@example.com>");
    client.command("RCPT TO:<ann@example.org>");
    client.command("DATA");
    client.send("Hi\r\n.\r\n");
    assert!(client.closed());
    assert!(server.received().is_empty());
    assert_eq!(server.dropped(), 1);
    assert!(!server.wait_for(1, Duration::from_millis(50)));
}

#[test]
fn a_lost_250_records_the_message_the_client_never_hears_of() {
    let server = SmtpServer::start(ServerConfig::default().fault(|event| match event {
        Event::EndOfData { message_no_in_session: 2, .. } => Some(Reply::new(250, "2.0.0 OK").then_drop()),
        _ => None,
    }));
    let (mut client, _) = Client::connect(&server);
    assert_eq!(client.deliver("ed@example.com", &["ann@example.org"], "One\r\n").0, 250);
    client.command("MAIL FROM:<ed@example.com>");
    client.command("RCPT TO:<bob@example.org>");
    client.command("DATA");
    client.send("Two\r\n.\r\n");
    assert!(client.closed());
    assert!(server.wait_for(2, Duration::from_secs(1)));
    assert_eq!(server.received()[1].rcpt_to, ["bob@example.org"]);
    assert_eq!(server.dropped(), 1);
}

#[test]
fn delay_holds_the_final_reply() {
    let server = SmtpServer::start(ServerConfig::default().delay(Duration::from_millis(300)));
    let (mut client, _) = Client::connect(&server);
    let started = Instant::now();
    assert_eq!(client.deliver("ed@example.com", &["ann@example.org"], "Hi\r\n").0, 250);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn long_lines_big_messages_and_garbage_are_refused_without_harm() {
    let server = SmtpServer::start(ServerConfig::default().max_message_size(1000));
    let (mut client, _) = Client::connect(&server);
    assert_eq!(client.command(&"X".repeat(5000)), (500, "5.5.6 line too long".to_owned()));
    assert_eq!(client.command("\u{0}\u{ff}garbage \u{7}").0, 500);
    assert_eq!(client.command("MAIL FROM:<ed@example.com>").0, 503);
    assert_eq!(client.command("EHLO client.test").0, 250);
    assert_eq!(client.command("MAIL FROM:<ed@example.com> SIZE=5000").0, 552);
    assert_eq!(client.command("MAIL FROM:<no-brackets").0, 501);
    assert_eq!(client.command("DATA").0, 503);
    let big = format!("{}\r\n", "y".repeat(70)).repeat(40);
    assert_eq!(client.deliver("ed@example.com", &["ann@example.org"], &big).0, 552);
    assert_eq!(client.deliver("ed@example.com", &["ann@example.org"], "small\r\n").0, 250);
    assert_eq!(server.received().len(), 1);
    assert_eq!(client.command("VRFY ann").0, 502);
    assert_eq!(client.command("NOOP").0, 250);
}

#[test]
fn log_file_lists_each_recipient_with_the_message_id() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("deliveries.tsv");
    let server = SmtpServer::start(ServerConfig::default().log_file(&log));
    let (mut client, _) = Client::connect(&server);
    let body = "Message-ID:\r\n <7@example.com>\r\nSubject: x\r\n\r\nHi\r\n";
    assert_eq!(client.deliver("ed@example.com", &["ann@example.org", "bob@example.org"], body).0, 250);
    assert!(server.wait_for(1, Duration::from_secs(1)));
    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(lines, "ann@example.org\t<7@example.com>\nbob@example.org\t<7@example.com>\n");
}
