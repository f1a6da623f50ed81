//! Load test of `serve`'s click redirect (issue 16): 10,000 `GET /l/<token>` from 16 concurrent
//! keep-alive clients over loopback with counting on. Every request must answer 302 with the
//! link's URL, none 5xx; the figures are requests/s and latency percentiles, then the clicks the
//! store holds once `serve` has stopped (SIGTERM: the writer writes what is queued).
//!
//! Bounded and loopback only: the issue is sent to the outbox, the request count is fixed and
//! every socket has a timeout.
//!
//! The load client is this file's own: one thread per client, each a keep-alive HTTP/1.1
//! connection timing every request from write to the end of its response (per-request latency).
//! `cargo bench` runs it against the release build of `letterpress`.
//!
//! With `STATE_URL`, the state store is PostgreSQL (`LETTERPRESS_STATE_URL` for `send`, `serve`
//! and `clicks`): `auto` starts a throwaway cluster on loopback (`src/state/testing/cluster.rs`,
//! as the tests do); any other value is the URL of an empty database.
//!
//! ```sh
//! cargo bench --bench serve_clicks                     # 10,000 requests, 16 clients, SQLite
//! STATE_URL=auto cargo bench --bench serve_clicks      # the same on PostgreSQL
//! LOAD_REQUESTS=2000 LOAD_CLIENTS=8 cargo bench --bench serve_clicks
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark: a failure is a panic")]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use letterpress::token::{IssueKey, Keys};

#[path = "../src/state/testing/cluster.rs"]
#[allow(dead_code, reason = "shared with the tests, which use all of it")]
mod cluster;

const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";
const ISSUE: &str = "weekly/2016-12-09-plans";
const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn main() {
    let requests: usize = env_number("LOAD_REQUESTS", 10_000);
    let clients: usize = env_number("LOAD_CLIENTS", 16);
    let store = match env_text("STATE_URL").as_deref() {
        None | Some("") => None,
        Some("auto") => Some(cluster::fresh_database()),
        Some(url) => Some(url.to_owned()),
    };
    let project = tempfile::tempdir().expect("temp dir");
    let root = project.path();
    let store = Store(store);
    copy_fixture(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clicks"), root);
    let sent = letterpress(root, &store, &["send", ISSUE, "--yes"], "2026-11-22T09:30:00Z").output().unwrap();
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    // An hour after the send, from many networks: people, as far as the filter can tell.
    let (mut server, address) = start_server(root, &store);
    let keys = Keys::from_secrets(vec![vec![7; 32]]).unwrap();
    let issue = IssueKey::of(ISSUE);
    let targets: Vec<(String, String)> = (0..requests)
        .map(|i| {
            let index = u16::try_from(i % 3).unwrap();
            (format!("/l/{}", keys.click_token(issue, index)), format!("10.{}.{}.7", i / 250 % 250, i % 250))
        })
        .collect();
    let started = Instant::now();
    let results: Vec<(u16, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            targets.chunks(requests.div_ceil(clients)).map(|chunk| scope.spawn(|| client(&address, chunk))).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let wall = started.elapsed();
    let pid = server.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let stopped = server.wait().unwrap();
    let out =
        letterpress(root, &store, &["clicks", ISSUE, "--format", "json"], "2026-11-22T10:30:00Z").output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (counted, filtered) = (json["counted"].as_u64().unwrap(), json["filtered"].as_u64().unwrap());
    report(&results, wall, clients, &store, (counted, filtered));
    assert!(stopped.success(), "serve stopped cleanly");
    assert!(results.iter().all(|(status, _)| *status == 302), "every click answers 302");
}

#[allow(clippy::disallowed_methods, reason = "tests and benches take their settings from the environment")]
fn env_number(name: &str, default: usize) -> usize {
    env_text(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[allow(clippy::disallowed_methods, reason = "tests and benches take their settings from the environment")]
fn env_text(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The state store: `None` for the project's SQLite file, else a PostgreSQL URL.
struct Store(Option<String>);

impl Store {
    fn name(&self) -> &'static str {
        if self.0.is_some() { "PostgreSQL" } else { "SQLite" }
    }
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

/// The release `letterpress` in `root`, keyed, pinned at `now`, on `store`.
fn letterpress(root: &Path, store: &Store, args: &[&str], now: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_letterpress"));
    command.args(args).current_dir(root).env("LETTERPRESS_UNSUBSCRIBE_KEYS", KEY).env("LETTERPRESS_NOW", now);
    if let Some(url) = &store.0 {
        command.env("LETTERPRESS_STATE_URL", url);
    }
    command
}

/// `serve --bind 127.0.0.1:0` an hour after the send; returns it and its address. Its access
/// log is read and dropped.
fn start_server(root: &Path, store: &Store) -> (Child, String) {
    let mut child = letterpress(root, store, &["serve", "--bind", "127.0.0.1:0"], "2026-11-22T10:30:00Z")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(at) = line.find("http://") {
            break line[at + 7..].split('/').next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, address)
}

/// One keep-alive connection getting every (path, client address) in turn.
fn client(address: &str, targets: &[(String, String)]) -> Vec<(u16, Duration)> {
    let connect = || {
        let stream = TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        stream.set_nodelay(true).unwrap();
        BufReader::new(stream)
    };
    let mut reader = connect();
    targets
        .iter()
        .map(|(path, from)| {
            let request = format!(
                "GET {path} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: {BROWSER}\r\nX-Forwarded-For: {from}\r\n\r\n"
            );
            let started = Instant::now();
            reader.get_mut().write_all(request.as_bytes()).unwrap();
            let (status, close) = read_response(&mut reader);
            let elapsed = started.elapsed();
            if close {
                reader = connect();
            }
            (status, elapsed)
        })
        .collect()
}

/// Read one response; returns its status and whether the server closes the connection.
fn read_response(reader: &mut BufReader<TcpStream>) -> (u16, bool) {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("a status line");
    let (mut length, mut close) = (0, false);
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let Some((name, value)) = line.trim_end().split_once(':') else { break };
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap(),
            "connection" => close = value.trim().eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, close)
}

#[allow(clippy::cast_precision_loss, reason = "a report")]
fn report(results: &[(u16, Duration)], wall: Duration, clients: usize, store: &Store, (counted, filtered): (u64, u64)) {
    let mut latencies: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
    latencies.sort();
    let at = |permille: usize| latencies[(latencies.len() * permille).div_ceil(1000).clamp(1, latencies.len()) - 1];
    let errors = results.iter().filter(|(s, _)| *s >= 500).count();
    let other = results.iter().filter(|(s, _)| *s != 302 && *s < 500).count();
    println!(
        "serve_clicks ({}): {} click redirects from {clients} clients in {:.2} s = {:.0} requests/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {errors} 5xx, {other} other non-302; store: {counted} counted, {filtered} filtered",
        store.name(),
        results.len(),
        wall.as_secs_f64(),
        results.len() as f64 / wall.as_secs_f64(),
        at(500).as_secs_f64() * 1000.0,
        at(990).as_secs_f64() * 1000.0,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );
}
