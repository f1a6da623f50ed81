//! Load test of `letterpress serve` (issue 6): 10,000 one-click unsubscribe POSTs from 16
//! concurrent keep-alive clients while a send runs against the same state store. Every POST must
//! answer 200 and be recorded; the figures are requests/s and latency percentiles.
//!
//! Bounded and loopback only: the server, a tiny SMTP sink and the clients all use 127.0.0.1, the
//! request count is fixed, every socket has a timeout, and the send is stopped after
//! [`SEND_LIMIT`] if it is still running. The load client is `support/http_load.rs` (shared
//! with `serve_clicks`).
//!
//! ```sh
//! cargo bench --bench serve_load                      # 10,000 requests, 16 clients
//! LOAD_REQUESTS=2000 LOAD_CLIENTS=8 cargo bench --bench serve_load
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark: a failure is a panic")]

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_load::{copy_fixture, env_number, figures, load, start_server};
use letterpress::token::Keys;

#[path = "support/http_load.rs"]
mod http_load;

const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";
const SEND_LIMIT: Duration = Duration::from_secs(300);
/// Readers of the running send who do not unsubscribe.
const STAYING: usize = 5_000;
/// Pause before each end-of-data reply during the load: 4 connections give about 800 messages/s.
const SINK_DELAY_MS: u64 = 5;

fn main() {
    let requests: usize = env_number("LOAD_REQUESTS", 10_000);
    let clients: usize = env_number("LOAD_CLIENTS", 16);
    let project = tempfile::tempdir().expect("temp dir");
    let root = project.path();
    copy_fixture(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serve"), root);
    let mut list = std::fs::read_to_string(root.join("subscribers/readers.csv")).unwrap();
    // Readers who stay keep the send busy for the whole load, whatever the others do.
    for i in 0..STAYING {
        let _ = writeln!(list, "stay{i:06}@example.org,Reader {i},,Elsewhere");
    }
    for i in 0..requests {
        let _ = writeln!(list, "load{i:06}@example.org,Reader {i},,Somewhere");
    }
    std::fs::write(root.join("subscribers/readers.csv"), list).unwrap();
    let delay = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let sink = smtp_sink(Arc::clone(&delay), Arc::clone(&accepted));
    eprintln!(
        "load: sending last week's issue to {} readers (their links are what is clicked)",
        requests + STAYING + 3
    );
    let first = letterpress(root, &["send", "weekly/2016-12-09-plans", "--yes"], &sink).output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let (mut server, address) = start_server(letterpress(root, &["serve", "--bind", "127.0.0.1:0"], &sink));
    delay.store(SINK_DELAY_MS, Ordering::SeqCst);
    let before = accepted.load(Ordering::SeqCst);
    let mut sending = letterpress(root, &["send", "weekly/2016-12-16-winter", "--yes"], &sink)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while accepted.load(Ordering::SeqCst) < before + 10 {
        assert!(Instant::now() < deadline && sending.try_wait().unwrap().is_none(), "the send did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let keys = Keys::from_secrets(vec![vec![7; 32]]).unwrap();
    let body = "List-Unsubscribe=One-Click";
    let posts: Vec<String> = (0..requests)
        .map(|i| {
            let token = keys.token(&format!("load{i:06}@example.org"), "readers");
            format!(
                "POST /unsubscribe?t={token} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        })
        .collect();
    let (results, wall) = load(&address, &posts, clients);
    let send_was_running = sending.try_wait().unwrap().is_none();
    let sent_status = wait_or_stop(&mut sending);
    let _ = server.kill();
    let _ = server.wait();
    let recorded = letterpress(root, &["suppressions"], &sink).output().unwrap();
    let recorded = String::from_utf8_lossy(&recorded.stdout).lines().count();
    report(&results, wall, clients, send_was_running, &sent_status, recorded);
    assert!(results.iter().all(|(status, _)| *status == 200), "every POST answers 200");
    assert_eq!(recorded, requests, "every unsubscribe is recorded");
    assert!(send_was_running, "the send ran during the whole load");
}

/// The release `letterpress` in `root`, keyed, pinned in time, sending to `sink`.
fn letterpress(root: &Path, args: &[&str], sink: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_letterpress"));
    command
        .args(args)
        .current_dir(root)
        .env("LETTERPRESS_UNSUBSCRIBE_KEYS", KEY)
        .env("LETTERPRESS_NOW", "2026-11-22T09:30:00Z")
        .env("LETTERPRESS_SMTP_URL", format!("smtp://{sink}"));
    command
}

/// Wait for the send up to [`SEND_LIMIT`], then stop it.
fn wait_or_stop(sending: &mut Child) -> String {
    let deadline = Instant::now() + SEND_LIMIT;
    while Instant::now() < deadline {
        if let Some(status) = sending.try_wait().unwrap() {
            return format!("finished ({status})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = sending.kill();
    let _ = sending.wait();
    "stopped after the time limit".to_owned()
}

fn report(results: &[(u16, Duration)], wall: Duration, clients: usize, running: bool, send: &str, recorded: usize) {
    println!(
        "serve_load: {} one-click POSTs {}; {recorded} suppressions recorded; send running throughout: {running}, then {send}",
        results.len(),
        figures(results, wall, clients, 200),
    );
}

/// A minimal SMTP server on loopback that accepts everything, pausing `delay` ms before each
/// end-of-data reply (so a send keeps running) and counting messages in `accepted`. Returns
/// `127.0.0.1:port`.
fn smtp_sink(delay: Arc<AtomicU64>, accepted: Arc<AtomicU64>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let (delay, accepted) = (Arc::clone(&delay), Arc::clone(&accepted));
            std::thread::spawn(move || {
                let _ = smtp_session(stream, &delay, &accepted);
            });
        }
    });
    address
}

fn smtp_session(stream: TcpStream, delay: &AtomicU64, accepted: &AtomicU64) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    out.write_all(b"220 sink ESMTP\r\n")?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line).to_ascii_uppercase();
        let reply: &[u8] = match command.get(..4).unwrap_or("") {
            "EHLO" | "HELO" => b"250 sink\r\n",
            "DATA" => {
                out.write_all(b"354 go ahead\r\n")?;
                loop {
                    line.clear();
                    if reader.read_until(b'\n', &mut line)? == 0 || line == b".\r\n" {
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(delay.load(Ordering::SeqCst)));
                accepted.fetch_add(1, Ordering::SeqCst);
                b"250 2.0.0 queued\r\n"
            }
            "QUIT" => {
                out.write_all(b"221 2.0.0 bye\r\n")?;
                return Ok(());
            }
            _ => b"250 2.0.0 ok\r\n",
        };
        out.write_all(reply)?;
    }
}
