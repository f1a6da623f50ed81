//! Rate limiting of `POST /subscribe` per client and per address asked for, and who the client
//! is.
//!
//! Enters: the connection's peer address, the request's `X-Forwarded-For` (used only when the
//! configuration trusts a proxy), and the monotonic time of each request. Leaves: a client key
//! and, per request, admission or how long to wait.
//!
//! Each client has a token bucket holding up to `rate-limit` requests that refills evenly over an
//! hour. IPv6 clients are keyed by their /64, since one host commonly holds a whole /64. The map
//! is pruned of full buckets (clients that have been quiet long enough to be back at the start)
//! when it grows past [`PRUNE_AT`] entries, so memory stays bounded by recent activity.
//!
//! The same buckets, keyed by the address a confirmation would go to and refilling over a day,
//! stop the form being used to mail one person again and again from many clients.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Clients remembered before full buckets are forgotten.
pub const PRUNE_AT: usize = 10_000;

const WINDOW: Duration = Duration::from_secs(3600);

/// Token buckets per key: a client address ([`Limiter::admit`]) or anything else
/// ([`Limiter::admit_key`]).
#[derive(Debug)]
pub struct Limiter<K = IpAddr> {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limiter<IpAddr> {
    /// `per_hour` requests per client per hour, in a burst of at most that many.
    pub fn per_hour(per_hour: u32) -> Self {
        Self::new(per_hour, WINDOW)
    }

    /// Take one request from `client`'s bucket at `now`; `Err` says how long until one is free.
    pub fn admit(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        self.admit_key(bucket_key(client), now)
    }
}

impl<K: Hash + Eq> Limiter<K> {
    /// `count` requests per key per `window`, in a burst of at most that many.
    pub fn new(count: u32, window: Duration) -> Self {
        let capacity = f64::from(count.max(1));
        Self { capacity, per_second: capacity / window.as_secs_f64(), buckets: Mutex::new(HashMap::new()) }
    }

    /// Take one request from `key`'s bucket at `now`; `Err` says how long until one is free.
    pub fn admit_key(&self, key: K, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= PRUNE_AT && !buckets.contains_key(&key) {
            buckets.retain(|_, b| self.refilled(*b, now) < self.capacity);
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: self.capacity, at: now });
        let tokens = self.refilled(*bucket, now);
        if tokens >= 1.0 {
            *bucket = Bucket { tokens: tokens - 1.0, at: now };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            Err(Duration::from_secs_f64((1.0 - tokens) / self.per_second))
        }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * self.per_second).min(self.capacity)
    }
}

/// Requests in progress per client (behind a trusted proxy, where the connections are the proxy's
/// and only the request says who the client is).
#[derive(Debug, Default)]
pub struct InFlight {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One request in progress, counted until dropped.
#[derive(Debug)]
pub struct Entered {
    of: Arc<InFlight>,
    key: IpAddr,
}

impl InFlight {
    /// Count a request of `client`, unless it has `max` in progress already.
    pub fn enter(self: &Arc<Self>, client: IpAddr, max: usize) -> Option<Entered> {
        let key = bucket_key(client);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Entered { of: Arc::clone(self), key })
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let mut counts = self.of.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// What a client is counted as: its address, IPv4-mapped IPv6 as IPv4, other IPv6 by /64.
pub fn bucket_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(Ipv6Addr::from(segments))
        }
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The client's address: the connection's peer, or with `trust_proxy` the last entry of
/// `X-Forwarded-For` (the one the proxy appended; earlier ones are whatever the client sent).
/// A header that does not end in an address falls back to the peer.
pub fn client_address(peer: SocketAddr, forwarded_for: Option<&str>, trust_proxy: bool) -> IpAddr {
    if !trust_proxy {
        return peer.ip();
    }
    forwarded_for.and_then(|value| value.rsplit(',').next()).and_then(parse_address).unwrap_or_else(|| peer.ip())
}

/// `192.0.2.1`, `2001:db8::1`, `[2001:db8::1]:443` or `192.0.2.1:443`.
fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>().ok().or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_burst_is_admitted_then_the_bucket_refills_evenly() {
        let limiter = Limiter::per_hour(3);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.admit(ip("192.0.2.1"), start), Ok(()));
        }
        let wait = limiter.admit(ip("192.0.2.1"), start).unwrap_err();
        assert_eq!(wait.as_secs(), 1200, "one request every 20 minutes");
        assert_eq!(limiter.admit(ip("192.0.2.2"), start), Ok(()), "other clients are not affected");
        assert!(limiter.admit(ip("192.0.2.1"), start + Duration::from_secs(1100)).is_err());
        assert_eq!(limiter.admit(ip("192.0.2.1"), start + Duration::from_secs(1201)), Ok(()));
    }

    #[test]
    fn any_key_can_be_limited_over_any_window() {
        let limiter: Limiter<String> = Limiter::new(2, Duration::from_secs(86_400));
        let now = Instant::now();
        assert_eq!(limiter.admit_key("a@example.org".to_owned(), now), Ok(()));
        assert_eq!(limiter.admit_key("a@example.org".to_owned(), now), Ok(()));
        assert_eq!(limiter.admit_key("a@example.org".to_owned(), now).unwrap_err().as_secs(), 43_200);
        assert_eq!(limiter.admit_key("b@example.org".to_owned(), now), Ok(()));
    }

    #[test]
    fn ipv6_clients_share_their_64_and_mapped_ipv4_is_ipv4() {
        let limiter = Limiter::per_hour(1);
        let now = Instant::now();
        assert_eq!(limiter.admit(ip("2001:db8:1:2::1"), now), Ok(()));
        assert!(limiter.admit(ip("2001:db8:1:2:ffff::9"), now).is_err());
        assert_eq!(limiter.admit(ip("2001:db8:1:3::1"), now), Ok(()));
        assert_eq!(limiter.admit(ip("::ffff:192.0.2.7"), now), Ok(()));
        assert!(limiter.admit(ip("192.0.2.7"), now).is_err());
    }

    #[test]
    fn quiet_clients_are_forgotten_when_the_map_is_full() {
        let limiter = Limiter::per_hour(1);
        let now = Instant::now();
        for i in 0..PRUNE_AT {
            let [_, _, a, b] = u32::try_from(i).unwrap().to_be_bytes();
            let _ = limiter.admit(IpAddr::from([10, 0, a, b]), now);
        }
        let later = now + WINDOW * 2;
        assert_eq!(limiter.admit(ip("192.0.2.1"), later), Ok(()));
        assert_eq!(limiter.buckets.lock().unwrap().len(), 1);
    }

    #[test]
    fn requests_in_progress_are_counted_per_client_until_they_end() {
        let in_flight = Arc::new(InFlight::default());
        let first = in_flight.enter(ip("203.0.113.9"), 2).unwrap();
        let _second = in_flight.enter(ip("203.0.113.9"), 2).unwrap();
        assert!(in_flight.enter(ip("203.0.113.9"), 2).is_none());
        assert!(in_flight.enter(ip("203.0.113.10"), 2).is_some(), "other clients are not affected");
        drop(first);
        assert!(in_flight.enter(ip("203.0.113.9"), 2).is_some());
    }

    #[track_caller]
    fn case(forwarded: Option<&str>, trust: bool, expected: &str) {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(client_address(peer, forwarded, trust), ip(expected), "{forwarded:?} trust={trust}");
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy_and_only_its_last_entry() {
        case(Some("203.0.113.9"), false, "127.0.0.1");
        case(Some("203.0.113.9"), true, "203.0.113.9");
        case(Some("6.6.6.6, 203.0.113.9"), true, "203.0.113.9");
        case(Some("6.6.6.6,[2001:db8::1]:443"), true, "2001:db8::1");
        case(Some("203.0.113.9:8443"), true, "203.0.113.9");
        case(Some("unknown"), true, "127.0.0.1");
        case(Some(""), true, "127.0.0.1");
        case(None, true, "127.0.0.1");
    }
}
