//! The HTTP/1.1 listener: hyper with limits `axum::serve` does not offer.
//!
//! Enters: a bound listener, the router, [`Limits`], and a shutdown signal. Leaves: connections
//! served until the signal, then up to [`DRAIN`] for requests in progress. Request heads are
//! limited to [`MAX_HEAD`] bytes and [`MAX_HEADERS`] fields and must arrive within the head
//! timeout (a client that trickles its headers is dropped). Each request carries the peer address
//! as a [`ConnectInfo`] extension.
//!
//! Connections are counted in a [`Registry`]: one client address (IPv6 by /64) may hold at most
//! `per_peer` of them, further ones from it are closed at accept; at `max_connections` in all, a
//! new connection closes the one idle longest (no request in progress; one that never sent a
//! request counts as idle since it opened), so a client hoarding idle connections cannot keep
//! anyone else out. Only when every connection is busy is the new one closed.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, watch};
use tower::ServiceExt as _;

use super::limit;
use crate::clock::Stopwatch;

/// Largest request line plus headers, in bytes.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header fields in one request.
pub const MAX_HEADERS: usize = 64;
/// How long requests in progress may finish after a shutdown signal.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Connection limits, from the `serve` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest a client may take to send a request's head.
    pub head_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections one peer address may hold.
    pub per_peer: usize,
}

impl Limits {
    /// The limits of `serve`: behind a trusted proxy the proxy's address may hold three
    /// quarters of all connections (clients are then counted per request, see
    /// [`super::router`]), otherwise each address `max-connections-per-client`.
    pub fn of(serve: &crate::config::Serve) -> Self {
        let max_connections = serve.max_connections.max(1);
        let per_peer = if serve.trust_proxy {
            (max_connections * 3 / 4).max(serve.max_connections_per_client)
        } else {
            serve.max_connections_per_client
        };
        Self {
            head_timeout: serve.head_timeout().unwrap_or(Duration::from_secs(10)),
            max_connections,
            per_peer: per_peer.clamp(1, max_connections),
        }
    }
}

/// The open connections.
#[derive(Debug, Default)]
struct Registry {
    next: u64,
    open: HashMap<u64, Entry>,
}

#[derive(Debug)]
struct Entry {
    peer: IpAddr,
    /// Requests in progress.
    busy: usize,
    /// When the connection last became idle (or opened).
    idle_since: Stopwatch,
    close: Arc<Notify>,
}

/// Why a new connection is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// Its address holds its share already.
    PerPeer,
    /// Every connection is busy.
    Full,
}

impl Registry {
    /// Admit a connection from `peer`, closing the longest-idle one if all slots are taken.
    fn admit(&mut self, peer: IpAddr, limits: Limits) -> Result<(u64, Arc<Notify>), Refused> {
        if self.open.values().filter(|e| e.peer == peer).count() >= limits.per_peer {
            return Err(Refused::PerPeer);
        }
        if self.open.len() >= limits.max_connections {
            let oldest = self
                .open
                .iter()
                .filter(|(_, e)| e.busy == 0)
                .max_by_key(|(_, e)| e.idle_since.elapsed())
                .map(|(id, _)| *id)
                .ok_or(Refused::Full)?;
            if let Some(shed) = self.open.remove(&oldest) {
                shed.close.notify_one();
            }
        }
        let id = self.next;
        self.next += 1;
        let close = Arc::new(Notify::new());
        self.open.insert(id, Entry { peer, busy: 0, idle_since: Stopwatch::start(), close: Arc::clone(&close) });
        Ok((id, close))
    }

    fn start_request(&mut self, id: u64) {
        if let Some(entry) = self.open.get_mut(&id) {
            entry.busy += 1;
        }
    }

    fn end_request(&mut self, id: u64) {
        if let Some(entry) = self.open.get_mut(&id) {
            entry.busy = entry.busy.saturating_sub(1);
            entry.idle_since = Stopwatch::start();
        }
    }
}

type Shared = Arc<Mutex<Registry>>;

fn lock(registry: &Shared) -> std::sync::MutexGuard<'_, Registry> {
    registry.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Marks a connection busy while a request is in progress.
struct Busy(Shared, u64);

impl Busy {
    fn start(registry: &Shared, id: u64) -> Self {
        lock(registry).start_request(id);
        Self(Arc::clone(registry), id)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        lock(&self.0).end_request(self.1);
    }
}

/// Serve `router` on `listener` within `limits` until `shutdown` completes.
pub async fn run(listener: TcpListener, router: Router, limits: Limits, shutdown: impl Future<Output = ()>) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout)
        .max_buf_size(MAX_HEAD.max(8192))
        .max_header_size(MAX_HEAD)
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    let registry: Shared = Arc::default();
    let (stopping, stop) = watch::channel(false);
    let (running, mut drained) = mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    eprintln!("serve: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let admitted = lock(&registry).admit(limit::bucket_key(peer.ip()), limits);
        let Ok((id, close)) = admitted else { continue };
        let _ = stream.set_nodelay(true);
        let (requests, router) = (Arc::clone(&registry), router.clone());
        let service = tower::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            let busy = Busy::start(&requests, id);
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await;
                drop(busy);
                response
            }
        });
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let (registry, mut stop, running) = (Arc::clone(&registry), stop.clone(), running.clone());
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let mut closing = false;
            loop {
                tokio::select! {
                    _ = connection.as_mut() => break,
                    () = close.notified(), if !closing => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                    _ = stop.wait_for(|stopped| *stopped), if !closing => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
            lock(&registry).open.remove(&id);
            drop(running);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    drop(running);
    tokio::select! {
        _ = drained.recv() => {}
        () = tokio::time::sleep(DRAIN) => eprintln!("serve: requests still running after {} s were cut off", DRAIN.as_secs()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { head_timeout: Duration::from_secs(1), max_connections: 3, per_peer: 2 };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_address_gets_its_share_and_a_full_server_sheds_the_longest_idle() {
        let mut registry = Registry::default();
        let (first, first_close) = registry.admit(ip("192.0.2.1"), LIMITS).unwrap();
        let (second, _) = registry.admit(ip("192.0.2.1"), LIMITS).unwrap();
        assert_eq!(registry.admit(ip("192.0.2.1"), LIMITS).unwrap_err(), Refused::PerPeer);
        let (third, _) = registry.admit(ip("192.0.2.2"), LIMITS).unwrap();
        registry.start_request(third);
        let (_, _) = registry.admit(ip("192.0.2.3"), LIMITS).unwrap();
        assert!(!registry.open.contains_key(&first), "the longest idle went first");
        assert!(registry.open.contains_key(&second) && registry.open.contains_key(&third));
        let shed = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), first_close.notified()).await });
        assert!(shed.is_ok(), "the shed connection is told to close");
        registry.start_request(second);
        registry.start_request(registry.next - 1);
        assert_eq!(registry.admit(ip("192.0.2.4"), LIMITS).unwrap_err(), Refused::Full, "busy ones stay");
        registry.end_request(second);
        assert!(registry.admit(ip("192.0.2.4"), LIMITS).is_ok());
        assert!(!registry.open.contains_key(&second));
    }

    #[test]
    fn behind_a_proxy_its_address_may_hold_most_connections() {
        let mut serve =
            crate::config::Serve { max_connections: 100, max_connections_per_client: 8, ..Default::default() };
        assert_eq!(Limits::of(&serve).per_peer, 8);
        serve.trust_proxy = true;
        assert_eq!(Limits::of(&serve).per_peer, 75);
    }
}
