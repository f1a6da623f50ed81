//! The bot filter of click counting: what is plainly not a person is counted as `filtered`.
//!
//! Enters: facts of one click (method, a few headers, the client's address), the issue's send
//! time and the time. Leaves: a [`Verdict`], and — when a network turns out to be a burst — the
//! clicks from it already counted, to move to `filtered`.
//!
//! Filtered: `HEAD`; prefetches (`Purpose: prefetch`, `Sec-Purpose: prefetch…`, `X-Moz:
//! prefetch`, `X-Purpose: preview`); no `User-Agent`, or a known scanner, link-preview or
//! library agent ([`AGENTS`]); and bursts: more than [`BURST_CLICKS`] clicks on an issue from one
//! network (an IPv4 /24 or IPv6 /48) within [`BURST_SECONDS`], or more than one within
//! [`FRESH_SECONDS`] of the send, when mail gateways scan every link of every copy. A burst's
//! first clicks, counted before it was one, are moved to `filtered` too.
//!
//! Networks are held only in memory, for [`BURST_SECONDS`], as a salted hash (the salt is random
//! per process): no address, agent or cookie is ever stored.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use axum::http::{HeaderMap, Method, header};
use sha2::{Digest as _, Sha256};

use crate::token::IssueKey;

/// A burst: more clicks than this from one network on one issue within [`BURST_SECONDS`].
pub const BURST_CLICKS: u32 = 3;
/// The window bursts are counted in.
pub const BURST_SECONDS: i64 = 10;
/// Within this many seconds of the send, a second click from a network makes a burst.
pub const FRESH_SECONDS: i64 = 120;
/// Past this many networks tracked, windows that have ended are dropped.
const PRUNE_AT: usize = 10_000;
/// The most networks tracked at once; past it the oldest half of the windows are dropped.
const MAX_TRACKED: usize = 200_000;

/// User agents of scanners, link previews and HTTP libraries (lower case, matched anywhere).
pub const AGENTS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "preview",
    "scanner",
    "facebookexternalhit",
    "whatsapp",
    "skypeuripreview",
    "bingpreview",
    "google-safety",
    "googleimageproxy",
    "barracuda",
    "mimecast",
    "proofpoint",
    "urldefense",
    "safelinks",
    "symantec",
    "trendmicro",
    "forcepoint",
    "existence discovery",
    "headlesschrome",
    "phantomjs",
    "python-",
    "curl/",
    "wget/",
    "go-http-client",
    "java/",
    "libwww",
    "okhttp",
    "axios",
    "node-fetch",
];

/// What a click counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Looks like a person.
    Counted,
    /// Plainly not a person.
    Filtered,
}

/// One click, as the filter sees it.
#[derive(Debug, Clone, Copy)]
pub struct Click<'a> {
    /// The request method.
    pub method: &'a Method,
    /// Its headers.
    pub headers: &'a HeaderMap,
    /// The client's address (behind a trusted proxy, the forwarded one).
    pub client: IpAddr,
    /// The issue.
    pub issue: IssueKey,
    /// The link.
    pub index: u16,
    /// When the issue's send began, seconds since the epoch.
    pub sent_at: i64,
    /// Now, seconds since the epoch.
    pub now: i64,
}

/// Clicks of a burst counted before it was one: (link, time in seconds) each.
pub type Recount = Vec<(u16, i64)>;

/// One network's recent clicks on one issue.
#[derive(Debug, Default)]
struct Window {
    start: i64,
    clicks: u32,
    /// Clicks counted in this window, until it is a burst (then empty).
    counted: Recount,
}

/// The filter, with its in-memory burst windows.
#[derive(Debug)]
pub struct Filter {
    salt: [u8; 16],
    windows: Mutex<HashMap<u64, Window>>,
}

impl Filter {
    /// A filter salting network hashes with `salt`.
    pub fn new(salt: [u8; 16]) -> Self {
        Self { salt, windows: Mutex::default() }
    }

    /// The verdict on `click`, and the clicks to move from `counted` to `filtered` when it
    /// reveals a burst.
    pub fn judge(&self, click: &Click<'_>) -> (Verdict, Recount) {
        let plainly_not_a_person =
            *click.method == Method::HEAD || is_prefetch(click.headers) || is_agent(click.headers);
        let key = self.network_key(click.client, click.issue);
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        prune(&mut windows, click.now);
        let window = windows.entry(key).or_default();
        if click.now - window.start >= BURST_SECONDS || click.now < window.start {
            *window = Window { start: click.now, clicks: 0, counted: Vec::new() };
        }
        window.clicks = window.clicks.saturating_add(1);
        let fresh = click.now - click.sent_at < FRESH_SECONDS;
        let burst = window.clicks > BURST_CLICKS || (fresh && window.clicks > 1);
        if burst {
            return (Verdict::Filtered, std::mem::take(&mut window.counted));
        }
        if plainly_not_a_person {
            return (Verdict::Filtered, Vec::new());
        }
        window.counted.push((click.index, click.now));
        (Verdict::Counted, Vec::new())
    }

    /// The salted hash of the client's network and the issue.
    fn network_key(&self, client: IpAddr, issue: IssueKey) -> u64 {
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        let mut hash = Sha256::new();
        hash.update(self.salt);
        match client {
            IpAddr::V4(v4) => hash.update(&v4.octets()[..3]),
            IpAddr::V6(v6) => hash.update(&v6.octets()[..6]),
        }
        hash.update(issue.0);
        let digest = hash.finalize();
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(bytes)
    }
}

/// Drop windows that have ended once many are tracked; if an attack still fills the table,
/// drop the older half (the filter forgets, it never grows without bound).
fn prune(windows: &mut HashMap<u64, Window>, now: i64) {
    if windows.len() < PRUNE_AT {
        return;
    }
    windows.retain(|_, w| now - w.start < BURST_SECONDS);
    if windows.len() >= MAX_TRACKED {
        let mut starts: Vec<i64> = windows.values().map(|w| w.start).collect();
        let (_, &mut median, _) = starts.select_nth_unstable(windows.len() / 2);
        windows.retain(|_, w| w.start > median);
    }
}

fn is_prefetch(headers: &HeaderMap) -> bool {
    let has = |name: &str, needle: &str| {
        headers.get_all(name).iter().any(|v| v.to_str().is_ok_and(|v| v.to_ascii_lowercase().contains(needle)))
    };
    has("purpose", "prefetch")
        || has("sec-purpose", "prefetch")
        || has("x-moz", "prefetch")
        || has("x-purpose", "preview")
}

fn is_agent(headers: &HeaderMap) -> bool {
    let Some(agent) = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()) else { return true };
    let agent = agent.trim().to_ascii_lowercase();
    agent.is_empty() || AGENTS.iter().any(|a| agent.contains(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROWSER: &str =
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15";
    const SENT: i64 = 1_795_000_000;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn judge(filter: &Filter, method: &Method, headers: &HeaderMap, client: &str, now: i64) -> (Verdict, Recount) {
        let click = Click {
            method,
            headers,
            client: client.parse().unwrap(),
            issue: IssueKey::of("w/x"),
            index: 0,
            sent_at: SENT,
            now,
        };
        filter.judge(&click)
    }

    #[test]
    fn a_burst_of_50_clicks_within_2s_of_the_send_from_one_network_is_filtered() {
        let filter = Filter::new([1; 16]);
        let browser = headers(&[("user-agent", BROWSER)]);
        let mut counted = 0i64;
        for i in 0..50 {
            let client = format!("203.0.113.{}", i % 7 + 1);
            let (verdict, recount) = judge(&filter, &Method::GET, &browser, &client, SENT + i64::from(i) / 25);
            counted += i64::from(verdict == Verdict::Counted) - i64::try_from(recount.len()).unwrap();
        }
        assert_eq!(counted, 0, "the first click is moved to filtered once the burst shows");
    }

    #[test]
    fn people_on_different_networks_count_and_a_late_network_burst_does_not() {
        use Verdict::{Counted, Filtered};
        let filter = Filter::new([1; 16]);
        let browser = headers(&[("user-agent", BROWSER)]);
        let later = SENT + 3600;
        for i in 0..50 {
            let client = format!("198.51.{i}.9");
            assert_eq!(judge(&filter, &Method::GET, &browser, &client, SENT + 5).0, Verdict::Counted, "{client}");
        }
        let verdicts: Vec<(Verdict, usize)> = (0..5)
            .map(|_| judge(&filter, &Method::GET, &browser, "2001:db8:1:2::7", later))
            .map(|(v, r)| (v, r.len()))
            .collect();
        assert_eq!(verdicts, [(Counted, 0), (Counted, 0), (Counted, 0), (Filtered, 3), (Filtered, 0)]);
        assert_eq!(judge(&filter, &Method::GET, &browser, "2001:db8:1:2::7", later + BURST_SECONDS).0, Counted);
        assert_eq!(judge(&filter, &Method::GET, &browser, "2001:db8:1:3::7", later).0, Counted, "another /48");
    }

    #[test]
    fn head_prefetch_and_scanner_agents_are_filtered() {
        let filter = Filter::new([1; 16]);
        let later = SENT + 7200;
        let cases: &[(Method, &[(&'static str, &str)])] = &[
            (Method::HEAD, &[("user-agent", BROWSER)]),
            (Method::GET, &[("user-agent", BROWSER), ("purpose", "prefetch")]),
            (Method::GET, &[("user-agent", BROWSER), ("sec-purpose", "prefetch;prerender")]),
            (Method::GET, &[("user-agent", BROWSER), ("x-moz", "prefetch")]),
            (Method::GET, &[]),
            (Method::GET, &[("user-agent", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")]),
            (Method::GET, &[("user-agent", "Mozilla/5.0 (compatible; Barracuda Sentinel)")]),
            (Method::GET, &[("user-agent", "python-requests/2.32")]),
        ];
        for (i, (method, pairs)) in cases.iter().enumerate() {
            let client = format!("192.0.{i}.1");
            assert_eq!(judge(&filter, method, &headers(pairs), &client, later).0, Verdict::Filtered, "{pairs:?}");
        }
    }

    #[test]
    fn networks_are_salted_hashes_of_the_prefix() {
        let (a, b) = (Filter::new([1; 16]), Filter::new([2; 16]));
        let key = |f: &Filter, ip: &str| f.network_key(ip.parse().unwrap(), IssueKey::of("w/x"));
        assert_eq!(key(&a, "203.0.113.1"), key(&a, "203.0.113.200"));
        assert_eq!(key(&a, "203.0.113.1"), key(&a, "::ffff:203.0.113.9"));
        assert_ne!(key(&a, "203.0.113.1"), key(&a, "203.0.114.1"));
        assert_ne!(key(&a, "203.0.113.1"), key(&b, "203.0.113.1"), "another process, another salt");
    }
}
