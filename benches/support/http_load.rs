//! The HTTP load side of the `serve` benchmarks (`serve_load`, `serve_clicks`): a fixture copy,
//! `letterpress serve` on a free loopback port, and a load client — one thread per client, each
//! a keep-alive HTTP/1.1 connection timing every request from its write to the end of its
//! response — with the figures of a run.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The number in environment variable `name`, or `default`.
#[allow(clippy::disallowed_methods, reason = "tests and benches take their settings from the environment")]
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Copy the fixture directory `from` into `to`.
pub fn copy_fixture(from: &Path, to: &Path) {
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

/// Start `command` (a `letterpress serve --bind 127.0.0.1:0`); returns it and the address it
/// printed. Its access log is read and dropped.
pub fn start_server(mut command: Command) -> (Child, String) {
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
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

/// Send `requests` (whole requests, byte for byte) to `address` from `clients` keep-alive
/// connections at once, each taking an equal share in order: (status, latency) per request, and
/// the wall time of the whole load.
pub fn load(address: &str, requests: &[String], clients: usize) -> (Vec<(u16, Duration)>, Duration) {
    let started = Instant::now();
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = requests
            .chunks(requests.len().div_ceil(clients).max(1))
            .map(|chunk| scope.spawn(|| client(address, chunk)))
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    (results, started.elapsed())
}

/// One keep-alive connection sending every request in turn, reconnecting when the server
/// closes: (status, latency) per request.
fn client(address: &str, requests: &[String]) -> Vec<(u16, Duration)> {
    let connect = || {
        let stream = TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        stream.set_nodelay(true).unwrap();
        BufReader::new(stream)
    };
    let mut reader = connect();
    requests
        .iter()
        .map(|request| {
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

/// The figures of a load whose every request should answer `expected`: "from N clients in
/// S s = R requests/s; latency p50 …, p99 …, max …; E 5xx, O other non-`expected`".
#[allow(clippy::cast_precision_loss, reason = "a report")]
pub fn figures(results: &[(u16, Duration)], wall: Duration, clients: usize, expected: u16) -> String {
    let mut latencies: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
    latencies.sort();
    let at = |permille: usize| latencies[(latencies.len() * permille).div_ceil(1000).clamp(1, latencies.len()) - 1];
    let errors = results.iter().filter(|(s, _)| *s >= 500).count();
    let other = results.iter().filter(|(s, _)| *s != expected && *s < 500).count();
    format!(
        "from {clients} clients in {:.2} s = {:.0} requests/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {errors} 5xx, {other} other non-{expected}",
        wall.as_secs_f64(),
        results.len() as f64 / wall.as_secs_f64(),
        at(500).as_secs_f64() * 1000.0,
        at(990).as_secs_f64() * 1000.0,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    )
}
