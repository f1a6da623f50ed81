//! `GET /l/<token>`: the redirect of a counted link, and the counting behind it.
//!
//! Enters: a click token (see [`crate::token::IssueKey`]), the request's method, headers and
//! client address. Leaves: a `302` to the link's original URL at once — the token verified and
//! the URL taken from the issue's link table in the state store (recorded by its send), never
//! from the request, so this is never an open redirect; a tampered or unknown token is a `404`.
//! The click's verdict ([`click_filter`]) goes into a bounded queue and a writer task adds
//! batches of them to the per-hour counts: counting never holds up a redirect, and when the
//! queue is full a click is dropped (and the drops are logged), not waited for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::{Notify, mpsc};

use super::app::{App, Failure, blocking};
use super::click_filter::{Click, Filter, Verdict};
use super::subscribe::ClientAddr;
use crate::error::Result;
use crate::state::{ClickCount, ClickTarget};
use crate::token::IssueKey;

/// Clicks waiting for the writer, at most.
pub const QUEUE: usize = 8192;
/// Clicks written in one transaction, at most.
const BATCH: usize = 2048;
/// Link targets kept in memory, at most (each one a verified token's: real links only).
const MAX_CACHED: usize = 50_000;

/// One verdict on its way to the store: `people` (the counted clicks) may be negative when a burst's earlier
/// clicks move to `filtered`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    issue: Arc<str>,
    index: u16,
    hour: i64,
    people: i64,
    filtered: i64,
}

/// A link's issue id, URL and send time (seconds since the epoch), cached after the first click.
type Target = (Arc<str>, String, i64);

/// The counting side of `serve`: filter, target cache, queue.
#[derive(Debug)]
pub struct Clicks {
    filter: Filter,
    targets: Mutex<HashMap<(IssueKey, u16), Arc<Target>>>,
    queue: mpsc::Sender<Counted>,
    receiver: Mutex<Option<mpsc::Receiver<Counted>>>,
    stop: Notify,
    dropped: AtomicU64,
}

impl Clicks {
    /// The counter, its network hashes salted with fresh random bytes.
    pub fn new() -> Result<Self> {
        let mut salt = [0; 16];
        crate::entropy::fill(&mut salt)?;
        let (queue, receiver) = mpsc::channel(QUEUE);
        Ok(Self {
            filter: Filter::new(salt),
            targets: Mutex::default(),
            queue,
            receiver: Mutex::new(Some(receiver)),
            stop: Notify::new(),
            dropped: AtomicU64::new(0),
        })
    }

    /// Start the writer on the current runtime; [`Clicks::finish`] stops it.
    pub fn start(app: &Arc<App>) -> Option<tokio::task::JoinHandle<()>> {
        let receiver = app.clicks.receiver.lock().unwrap_or_else(PoisonError::into_inner).take()?;
        Some(tokio::spawn(writer(Arc::clone(app), receiver)))
    }

    /// Ask the writer to write what is queued and stop.
    pub fn finish(&self) {
        self.stop.notify_one();
    }

    fn enqueue(&self, counted: Counted) {
        if self.queue.try_send(counted).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `GET /l/<token>` (and `HEAD`, which is answered alike and counted as filtered).
pub async fn follow(
    State(app): State<Arc<App>>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    method: Method,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let Some((issue, index)) = app.keys.verify_click(&token) else { return not_found(&app) };
    let cached = app.clicks.targets.lock().unwrap_or_else(PoisonError::into_inner).get(&(issue, index)).cloned();
    let target = match cached {
        Some(target) => target,
        None => {
            match blocking(&app, move |app| app.pool.with(|s| s.click_target(&issue.hex(), index)).map_err(Into::into))
                .await
            {
                Ok(Some(ClickTarget { issue: id, url, sent_at })) => {
                    let target = Arc::new((Arc::from(id), url, sent_at));
                    let mut targets = app.clicks.targets.lock().unwrap_or_else(PoisonError::into_inner);
                    if targets.len() < MAX_CACHED {
                        targets.insert((issue, index), Arc::clone(&target));
                    }
                    target
                }
                Ok(None) => return not_found(&app),
                Err(failure) => return app.respond(Err(failure), None),
            }
        }
    };
    let (id, url, sent_at) = &*target;
    let Some(location) = location(url) else { return not_found(&app) };
    let now = app.clock.now().as_second();
    let click = Click { method: &method, headers: &headers, client, issue, index, sent_at: *sent_at, now };
    let (verdict, recount) = app.clicks.filter.judge(&click);
    let hour = |at: i64| at.div_euclid(3600) * 3600;
    for (earlier, at) in recount {
        app.clicks.enqueue(Counted { issue: Arc::clone(id), index: earlier, hour: hour(at), people: -1, filtered: 1 });
    }
    let counted = i64::from(verdict == Verdict::Counted);
    app.clicks.enqueue(Counted {
        issue: Arc::clone(id),
        index,
        hour: hour(now),
        people: counted,
        filtered: 1 - counted,
    });
    redirect(location)
}

/// The URL a link leads to, if it is an absolute `http:` or `https:` URL that fits a header.
fn location(url: &str) -> Option<HeaderValue> {
    let parsed = url::Url::parse(url).ok().filter(|u| matches!(u.scheme(), "http" | "https"))?;
    HeaderValue::from_str(parsed.as_str()).ok()
}

fn redirect(location: HeaderValue) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn not_found(app: &App) -> Response {
    app.respond(
        Err(Failure::NotFound(
            "This link is not known here",
            "The link may have been copied incompletely. Please use the link from the email as it was sent.".to_owned(),
        )),
        None,
    )
}

/// Take clicks off the queue in batches and add them to the store, one transaction per batch,
/// until [`Clicks::finish`]; then write what is left and return.
async fn writer(app: Arc<App>, mut receiver: mpsc::Receiver<Counted>) {
    loop {
        let first = tokio::select! {
            biased;
            () = app.clicks.stop.notified() => None,
            next = receiver.recv() => next,
        };
        let mut batch: Vec<Counted> = first.into_iter().collect();
        let stopping = batch.is_empty();
        while batch.len() < BATCH || stopping {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        write(&app, batch).await;
        let dropped = app.clicks.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            eprintln!("serve: clicks: the queue was full; {dropped} clicks were not counted");
        }
        if stopping {
            return;
        }
    }
}

/// Add one batch, summed per issue, link and hour.
async fn write(app: &Arc<App>, batch: Vec<Counted>) {
    if batch.is_empty() {
        return;
    }
    let mut sums: HashMap<(Arc<str>, u16, i64), (i64, i64)> = HashMap::new();
    for c in batch {
        let sum = sums.entry((c.issue, c.index, c.hour)).or_default();
        sum.0 += c.people;
        sum.1 += c.filtered;
    }
    let rows: Vec<ClickCount> = sums
        .into_iter()
        .map(|((issue, index, hour), (counted, filtered))| ClickCount {
            issue: issue.to_string(),
            index,
            hour,
            counted,
            filtered,
        })
        .collect();
    let written = blocking(app, move |app| app.pool.with(|s| s.add_clicks(&rows)).map_err(Into::into)).await;
    if let Err(Failure::Internal(detail)) = written {
        eprintln!("serve: clicks: {detail}");
    }
}
