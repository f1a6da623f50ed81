//! Load test of `serve`'s click redirect (issue 16): 10,000 `GET /l/<token>` from 16 concurrent
//! keep-alive clients over loopback with counting on. Every request must answer 302 with the
//! link's URL, none 5xx; the figures are requests/s and latency percentiles, then the clicks the
//! store holds once `serve` has stopped (SIGTERM: the writer writes what is queued).
//!
//! Bounded and loopback only: the issue is sent to the outbox, the request count is fixed and
//! every socket has a timeout.
//!
//! The load client is `support/http_load.rs` (shared with `serve_load`): one thread per
//! client, each a keep-alive HTTP/1.1 connection timing every request from write to the end of
//! its response (per-request latency). `cargo bench` runs it against the release build of
//! `letterpress`.
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

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use http_load::{copy_fixture, env_number, figures, load, start_server};
use letterpress::token::{IssueKey, Keys};

#[path = "support/http_load.rs"]
mod http_load;

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
    let (mut server, address) =
        start_server(letterpress(root, &store, &["serve", "--bind", "127.0.0.1:0"], "2026-11-22T10:30:00Z"));
    let keys = Keys::from_secrets(vec![vec![7; 32]]).unwrap();
    let issue = IssueKey::of(ISSUE);
    let targets: Vec<String> = (0..requests)
        .map(|i| {
            let token = keys.click_token(issue, u16::try_from(i % 3).unwrap());
            let from = format!("10.{}.{}.7", i / 250 % 250, i % 250);
            format!(
                "GET /l/{token} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: {BROWSER}\r\nX-Forwarded-For: {from}\r\n\r\n"
            )
        })
        .collect();
    let (results, wall) = load(&address, &targets, clients);
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

/// The release `letterpress` in `root`, keyed, pinned at `now`, on `store`.
fn letterpress(root: &Path, store: &Store, args: &[&str], now: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_letterpress"));
    command.args(args).current_dir(root).env("LETTERPRESS_UNSUBSCRIBE_KEYS", KEY).env("LETTERPRESS_NOW", now);
    if let Some(url) = &store.0 {
        command.env("LETTERPRESS_STATE_URL", url);
    }
    command
}

fn report(results: &[(u16, Duration)], wall: Duration, clients: usize, store: &Store, (counted, filtered): (u64, u64)) {
    println!(
        "serve_clicks ({}): {} click redirects {}; store: {counted} counted, {filtered} filtered",
        store.name(),
        results.len(),
        figures(results, wall, clients, 302),
    );
}
