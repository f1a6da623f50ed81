//! `serve` against slow and greedy clients: a trickled body, idle connections hoarded from a few
//! addresses, requests without one `Host`. Timeouts and caps are set small in the project so the
//! outcomes show at once; nothing here measures time.

use std::io::Write as _;

use super::client::{closed_by_server, connect_from, parse};
use super::{KEY, KEY_VAR};
use crate::harness::Project;

fn project(serve: &str) -> Project {
    let project = Project::fixture("serve");
    let config = std::fs::read_to_string(project.path().join("letterpress.yaml")).expect("config");
    let (before, _) = config.split_once("serve:\n").expect("a serve section");
    project.write("letterpress.yaml", &format!("{before}serve:\n{serve}"));
    project
}

fn server(project: &Project) -> super::Server {
    super::Server::start(project, &[(KEY_VAR, KEY)])
}

#[test]
fn a_body_trickled_past_the_body_timeout_is_cut_off_with_408() {
    let project = project("  body-timeout: 200ms\n");
    let server = server(&project);
    let mut stream = connect_from(&server.address, &[("127.0.0.1", 1)]).remove(0);
    let head = format!(
        "POST /subscribe HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=",
        server.address
    );
    stream.write_all(head.as_bytes()).expect("send");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut raw).expect("the server answers and closes");
    let response = parse(&raw);
    assert_eq!(response.status, 408, "{response:?}");
    assert_eq!(response.header("connection"), Some("close"));
    assert!(response.body.contains("Please try again"), "our page: {}", response.body);
}

#[test]
fn requests_without_exactly_one_host_are_400() {
    let project = project("  trust-proxy: false\n");
    let server = server(&project);
    let host = &server.address;
    let none = server.send("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(none.status, 400);
    let two = server
        .send(&format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nHost: evil.example\r\nConnection: close\r\n\r\n"));
    assert_eq!(two.status, 400);
    assert_eq!(server.send("GET /healthz HTTP/1.0\r\n\r\n").status, 200, "HTTP/1.0 may omit it");
    assert_eq!(server.get("/healthz").status, 200);
}

#[test]
fn hoarded_idle_connections_are_capped_per_client_and_shed_oldest_first() {
    let project = project("  trust-proxy: false\n  max-connections: 20\n  max-connections-per-client: 10\n");
    super::send(&project, super::ISSUE);
    let link = super::list_unsubscribe(&project, super::ISSUE, "ruth@example.org");
    let server = server(&project);
    let mut greedy = connect_from(&server.address, &[("127.0.0.2", 11)]);
    assert!(closed_by_server(&mut greedy[10]), "the 11th from one address is closed at once");
    let others = ["127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"].map(|a| (a, 10));
    greedy.extend(connect_from(&server.address, &others));
    assert!(closed_by_server(&mut greedy[0]), "the longest idle was shed for newer ones");
    for _ in 0..5 {
        assert_eq!(server.get("/healthz").status, 200);
        let done = server.post(super::target(&link), super::ONE_CLICK, &[]);
        assert_eq!(done.status, 200, "{}", done.body);
    }
    drop(greedy);
}

#[test]
fn behind_a_proxy_requests_in_progress_are_capped_per_forwarded_client() {
    let project = project("  trust-proxy: true\n  body-timeout: 10m\n  max-connections-per-client: 2\n");
    let server = server(&project);
    let slow = format!(
        "POST /subscribe HTTP/1.1\r\nHost: {}\r\nX-Forwarded-For: 203.0.113.9\r\nContent-Length: 100\r\n\r\nemail=",
        server.address
    );
    let open_slow = || {
        let mut stream = connect_from(&server.address, &[("127.0.0.1", 1)]).remove(0);
        stream.write_all(slow.as_bytes()).expect("send");
        stream.set_nonblocking(true).expect("non-blocking");
        stream
    };
    let mut held = vec![open_slow(), open_slow()];
    let probe = |client: &str| {
        let raw = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {client}\r\nConnection: close\r\n\r\n");
        server.send(&raw)
    };
    let health = |client: &str| probe(client).status;
    let mut retry_after = None;
    // The two slow requests count once the server has their heads; ask until it has. A probe
    // is a request of the same client too: one in progress when a slow head arrives gets that
    // slow request refused (429, which is the cap working), so a slow request that was answered
    // is replaced by a new one before the next probe.
    let mut seen = Vec::new();
    let refused = eventually(|| {
        for stream in &mut held {
            let mut byte = [0u8; 1];
            if !matches!(stream.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock) {
                *stream = open_slow();
            }
        }
        let response = probe("203.0.113.9");
        seen.push(response.status);
        retry_after = response.header("retry-after").map(str::to_owned);
        response.status == 429
    });
    seen.dedup();
    assert!(
        refused,
        "a third request of that client is refused while two are in progress; statuses seen: {seen:?}; log:\n{}",
        server.log().join("\n")
    );
    assert_eq!(retry_after.as_deref(), Some("1"), "a refusal says when to come back (RFC 6585 §4)");
    assert_eq!(health("203.0.113.10"), 200, "other clients behind the proxy are not affected");
    drop(held);
    let answered = eventually(|| health("203.0.113.9") == 200);
    assert!(answered, "the client is served again once its requests end");
}

/// Whether `done` becomes true within a minute of asking every 10 ms.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}
