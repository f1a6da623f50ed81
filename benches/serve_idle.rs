//! `letterpress serve` while idle connections are hoarded: how many legitimate requests succeed.
//!
//! Opens `IDLE_CONNECTIONS` (default 1,000) connections that never send a byte, from
//! `IDLE_ADDRESSES` loopback addresses (default 1: one greedy client; more spreads them so the
//! overall cap, not the per-client one, is what holds), then makes 38 legitimate requests from
//! 127.0.0.1 — `GET /healthz` and `GET /` in turn, each on a new connection with a 5 s timeout —
//! and counts those answered 200. Loopback only, bounded in count and time.
//!
//! ```sh
//! cargo bench --bench serve_idle
//! IDLE_CONNECTIONS=1100 IDLE_ADDRESSES=110 cargo bench --bench serve_idle
//! LETTERPRESS_BIN=/path/to/letterpress cargo bench --bench serve_idle   # another build
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark: a failure is a panic")]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Legitimate requests made while the idle connections are held.
const LEGITIMATE: usize = 38;

fn main() {
    let idle: usize = env_number("IDLE_CONNECTIONS", 1_000);
    let addresses: usize = env_number("IDLE_ADDRESSES", 1).clamp(1, 250);
    let project = tempfile::tempdir().expect("temp dir");
    copy_fixture(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serve"), project.path());
    // Clients connect directly, as without a proxy: each address is a client.
    let config = project.path().join("letterpress.yaml");
    let text = std::fs::read_to_string(&config).unwrap().replace("trust-proxy: true", "trust-proxy: false");
    std::fs::write(&config, text).unwrap();
    #[allow(clippy::disallowed_methods, reason = "tests and benches take their settings from the environment")]
    let binary = std::env::var("LETTERPRESS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_letterpress").to_owned());
    let mut server = Command::new(&binary)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(project.path())
        .env("LETTERPRESS_UNSUBSCRIBE_KEYS", "07".repeat(32))
        .env("LETTERPRESS_NOW", "2026-11-22T09:30:00Z")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let address: SocketAddr = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(at) = line.find("http://") {
            break line[at + 7..].split('/').next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let started = Instant::now();
    let held = hold(address, idle, addresses);
    let opened = started.elapsed();
    let ok = (0..LEGITIMATE).filter(|i| get(address, if i % 2 == 0 { "/healthz" } else { "/" }) == Some(200)).count();
    let still_open = held.iter().filter(|s| is_open(s)).count();
    println!(
        "serve_idle: {ok}/{LEGITIMATE} legitimate requests answered 200 while {idle} idle connections from {addresses} address(es) were opened (in {:.2} s); {still_open} of them still open afterwards; binary {binary}",
        opened.as_secs_f64()
    );
    let _ = server.kill();
    let _ = server.wait();
}

/// `count` silent connections, spread evenly over 127.0.0.2 and up; connects that fail are
/// not retried (a refused or reset connection is what a greedy client gets).
fn hold(server: SocketAddr, count: usize, addresses: usize) -> Vec<TcpStream> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build().unwrap();
    runtime.block_on(async {
        let mut held = Vec::new();
        for i in 0..count {
            let local = SocketAddr::from(([127, 0, 0, u8::try_from(2 + i % addresses).unwrap()], 0));
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(local).unwrap();
            if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(2), socket.connect(server)).await {
                held.push(stream.into_std().unwrap());
            }
        }
        held
    })
}

/// Whether the server has not closed `stream` (a read would block rather than end).
fn is_open(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0; 1];
    matches!((&*stream).read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// `GET path` on a new connection; the status, or `None` if the request failed.
fn get(server: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&server, Duration::from_secs(5)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n").as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let head = String::from_utf8_lossy(&response);
    head.split(' ').nth(1)?.parse().ok()
}

fn copy_fixture(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[allow(clippy::disallowed_methods, reason = "tests and benches take their settings from the environment")]
fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
