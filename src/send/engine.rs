//! The delivery loop: a dispatcher paging pending rows out of the journal, and workers that
//! each own one connection.
//!
//! Enters: the journal handle, the message template, the transport and the settings. Leaves:
//! every row it touched in a final state or `deferred`, the counters in [`Shared`], and an
//! error when the send had to stop (authentication, TLS, a run of sender problems).
//!
//! The crash guarantee lives here: a worker marks a row `inflight` — durably, in the journal
//! task's next group commit — before it sends anything for it, and records the result together
//! with the next row's `inflight` mark. So at any instant each worker has at most one row in
//! flight, and a `kill -9` leaves at most `concurrency` rows `inflight`, which the next run turns
//! into `uncertain` instead of sending them again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

use super::actor::Journal;
#[cfg(test)]
use super::pace::Pace;
use super::relays::{Lane, Selector};
use crate::compose::{Composed, MessageTemplate, Recipient};
use crate::error::{Error, Result};
use crate::mail::Transport;
use crate::state::journal::{Delivery, DeliveryStatus, Update};
use dispatch::{dispatch, fail_bounced, fail_refused};
pub use settle::is_dead_relay;
use worker::{route, worker};

/// Rows fetched from the journal at a time.
const PAGE: usize = 256;
/// How long a worker holds a result before committing it alone.
const LINGER: Duration = Duration::from_millis(50);

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Workers (connections) of each relay without a `concurrency` of its own.
    pub concurrency: usize,
    /// Messages per connection before reconnecting.
    pub max_per_connection: Option<usize>,
    /// Retries of a temporary failure within this run.
    pub retries: u32,
    /// Delay before the first retry (doubling).
    pub retry_delay: Duration,
    /// Attempts across runs after which a temporary failure is final (`failed`).
    pub max_attempts: u32,
    /// Send only to rows of this list (`send --list`); others stay pending.
    pub only_list: Option<String>,
}

/// Consecutive failed connections to the last relay up after which a run gives up.
const MAX_CONNECT_FAILURES: usize = 5;

/// Counters and the stop signal, shared by all tasks.
#[derive(Debug)]
pub struct Shared {
    /// Accepted by the relay.
    pub sent: AtomicUsize,
    /// Failed permanently.
    pub failed: AtomicUsize,
    /// Left for the next run.
    pub deferred: AtomicUsize,
    /// Possibly delivered (connection lost after the message).
    pub uncertain: AtomicUsize,
    /// Skipped because they unsubscribed or bounced.
    pub suppressed: AtomicUsize,
    /// Addresses suppressed after a permanent bounce.
    pub bounced: AtomicUsize,
    stop: AtomicBool,
    /// The highest `seq` a worker has taken, for telling which deliveries follow a bounce.
    taken: AtomicI64,
    reason: std::sync::Mutex<Option<Error>>,
    /// The relays, each with its pace, breaker and budget.
    pub lanes: Vec<Lane>,
    selector: std::sync::Mutex<Selector>,
}

impl Shared {
    /// Fresh counters for a run through one relay ([`crate::mail::quota::RELAY`]), paced by
    /// `pace`.
    #[cfg(test)]
    pub fn new(pace: Pace, circuit_breaker: usize) -> Self {
        Self::with_lanes(vec![Lane::new(crate::mail::quota::RELAY, pace, circuit_breaker)])
    }

    /// Fresh counters for a run through `lanes`.
    pub fn with_lanes(lanes: Vec<Lane>) -> Self {
        let weights: Vec<u32> = lanes.iter().map(|l| l.weight).collect();
        let mut selector = Selector::new(&weights);
        let now = Instant::now();
        for (i, lane) in lanes.iter().enumerate() {
            if lane.start_down {
                selector.mark_down(i, now);
            }
        }
        Self {
            sent: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            deferred: AtomicUsize::new(0),
            uncertain: AtomicUsize::new(0),
            suppressed: AtomicUsize::new(0),
            bounced: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            taken: AtomicI64::new(i64::MIN),
            reason: std::sync::Mutex::new(None),
            lanes,
            selector: std::sync::Mutex::new(selector),
        }
    }

    /// Lock the selector (a poisoned lock still holds a usable selector).
    fn selector(&self) -> std::sync::MutexGuard<'_, Selector> {
        self.selector.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether lane `i` takes messages now.
    fn is_up(&self, i: usize) -> bool {
        self.selector().is_up(i, Instant::now())
    }

    /// Whether a lane other than `i` takes messages now.
    fn others_up(&self, i: usize) -> bool {
        self.selector().others_up(i, Instant::now())
    }

    /// Lane `i` failed in a way that takes a relay out (`why`): while another lane is up, mark
    /// it down (its share goes to the others, it comes back after a backoff at a careful pace);
    /// when it is the last one up, stop the run with `why`, as for a single relay.
    pub(super) fn relay_failed(&self, i: usize, why: Error) {
        let now = Instant::now();
        let mut selector = self.selector();
        if !selector.others_up(i, now) {
            drop(selector);
            self.stop(why);
            return;
        }
        if !selector.is_up(i, now) {
            return;
        }
        let backoff = selector.mark_down(i, now);
        drop(selector);
        if let Some(lane) = self.lanes.get(i) {
            lane.pace.restart_careful();
            lane.breaker.reset();
            lane.connect_failures.store(0, Ordering::SeqCst);
            eprintln!(
                "relay `{}` is down ({why}); its messages go to the other relays, and it is tried again in {} s",
                lane.name,
                backoff.as_secs()
            );
        }
    }

    /// Lane `i` delivered a message.
    fn delivered_by(&self, i: usize) {
        if let Some(lane) = self.lanes.get(i) {
            lane.sent.fetch_add(1, Ordering::Relaxed);
        }
        self.selector().delivered(i);
    }

    /// Stop the run; the first reason wins.
    pub fn stop(&self, reason: Error) {
        if let Ok(mut slot) = self.reason.lock()
            && slot.is_none()
        {
            *slot = Some(reason);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Why the run stopped, if it did.
    pub fn take_reason(&self) -> Option<Error> {
        self.reason.lock().ok().and_then(|mut r| r.take())
    }
}

/// A row handed to a worker.
#[derive(Debug, Clone)]
struct Job {
    delivery: Delivery,
    /// The row is `deferred` in the journal (a retry) rather than `pending`.
    deferred: bool,
    /// Failed tries in this run.
    tries: u32,
    /// The message, composed and signed ahead by the sign pool (signed sends only).
    prepared: Prepared,
    /// The lane that tried it last: its retry goes elsewhere when another relay is up.
    last_lane: Option<usize>,
}

/// A message composed ahead of its job's turn, or why it could not be. A clone (a retry) is
/// empty: the retry composes again.
#[derive(Debug, Default)]
struct Prepared(Option<(Result<Composed>, Vec<u8>)>);

impl Clone for Prepared {
    fn clone(&self) -> Self {
        Self(None)
    }
}

/// A job waiting for its retry time.
#[derive(Debug)]
struct Retry {
    due: Instant,
    job: Job,
}

impl PartialEq for Retry {
    fn eq(&self, other: &Self) -> bool {
        self.due == other.due
    }
}
impl Eq for Retry {}
impl PartialOrd for Retry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Retry {
    // Earliest due first in a max-heap.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.due.cmp(&self.due)
    }
}

/// Everything a worker needs.
struct Context<T> {
    journal: Journal,
    template: Arc<MessageTemplate>,
    /// One per lane of [`Shared::lanes`].
    transports: Vec<Arc<T>>,
    shared: Arc<Shared>,
    settings: Settings,
    outstanding: AtomicUsize,
    retries: mpsc::UnboundedSender<Retry>,
}

/// Deliver every pending row of the journal through one relay. `first` is a connection opened
/// (and so authenticated) before any row changed state.
#[cfg(test)]
pub async fn run<T: Transport>(
    journal: Journal,
    template: Arc<MessageTemplate>,
    transport: Arc<T>,
    shared: Arc<Shared>,
    settings: Settings,
    first: T::Connection,
) -> Result<()> {
    run_pool(journal, template, vec![transport], shared, settings, vec![Some(first)]).await
}

/// Deliver every pending row of the journal through the relays of `transports` (one per lane
/// of `shared`), each with its own workers. `first` holds a connection per relay opened (and
/// so authenticated) before any row changed state, `None` for one that could not connect.
pub async fn run_pool<T: Transport>(
    journal: Journal,
    template: Arc<MessageTemplate>,
    transports: Vec<Arc<T>>,
    shared: Arc<Shared>,
    settings: Settings,
    first: Vec<Option<T::Connection>>,
) -> Result<()> {
    let (retry_tx, retry_rx) = mpsc::unbounded_channel();
    let (work_tx, work_rx) = mpsc::channel::<Job>(settings.concurrency * 2);
    let work_rx = sign_ahead(&template, &shared, settings.concurrency, work_rx)?;
    let context = Arc::new(Context {
        journal,
        template,
        transports,
        shared: Arc::clone(&shared),
        settings: settings.clone(),
        outstanding: AtomicUsize::new(0),
        retries: retry_tx,
    });
    // With one relay there is nothing to route: its workers take jobs straight from the
    // dispatcher's (or the sign pool's) queue, without a router task and a second queue in
    // between (a task hop per message, the suspect for a pool of one sending slower than the
    // single-relay engine did; not measured yet).
    let (direct, to_route) =
        if shared.lanes.len() == 1 { (Some(Arc::new(Mutex::new(work_rx))), None) } else { (None, Some(work_rx)) };
    let mut workers = Vec::new();
    let mut lanes = Vec::new();
    for (i, mut first) in first.into_iter().enumerate().take(shared.lanes.len()) {
        let concurrency = shared.lanes[i].concurrency.unwrap_or(settings.concurrency).max(1);
        let lane_rx = if let Some(queue) = &direct {
            Arc::clone(queue)
        } else {
            let (lane_tx, lane_rx) = mpsc::channel::<Job>(concurrency);
            lanes.push(lane_tx);
            Arc::new(Mutex::new(lane_rx))
        };
        for _ in 0..concurrency {
            workers.push(tokio::spawn(worker(Arc::clone(&context), i, Arc::clone(&lane_rx), first.take())));
        }
    }
    // Only the workers hold the receiving ends (the lanes', or the one queue of a single
    // relay): when every one of them has stopped (the journal failing, say, as when the disk
    // fills), the next hand-out fails — the router's, then the dispatcher's — instead of
    // waiting forever for room.
    drop(direct);
    let router = to_route.map(|work_rx| tokio::spawn(route(Arc::clone(&context), work_rx, lanes)));
    let mut dispatched = dispatch(&context, work_tx, retry_rx).await;
    if let Some(router) = router {
        let route_result = router.await.unwrap_or_else(|e| Err(Error::sender(format!("the router task failed: {e}"))));
        if dispatched.is_ok() {
            dispatched = route_result;
        }
    }
    // When every worker stopped, the first one's error is the run's, not "every worker stopped".
    let mut replace = dispatched.is_err();
    for worker in workers {
        if let Ok(Err(e)) = worker.await {
            if replace {
                dispatched = Err(e);
                replace = false;
            } else {
                shared.stop(e);
            }
        }
    }
    for lane in &shared.lanes {
        if let Some(budget) = &lane.budget {
            budget.release(&context.journal).await?;
        }
    }
    // Every worker has committed its results, so the rows below are `deferred` in the journal.
    let refused = fail_refused(&context).await;
    let bounced = fail_bounced(&context).await;
    dispatched.and(refused).and(bounced)
}

fn update(delivery: &Delivery, status: DeliveryStatus, reply: Option<&super::retry::Reply>, attempted: bool) -> Update {
    Update {
        address_key: delivery.address_key.clone(),
        status,
        code: reply.map(|r| r.code),
        reply: reply.map(super::retry::Reply::summary),
        message_id: None,
        token_id: None,
        attempted,
        relay: None,
    }
}

/// For a signed send, put the sign pool between the dispatcher and the workers: messages are
/// composed and signed on every core while the connections wait on the network. An unsigned
/// message costs less to compose than to hand between threads, so it stays in the worker.
fn sign_ahead(
    template: &Arc<MessageTemplate>,
    shared: &Arc<Shared>,
    concurrency: usize,
    jobs: mpsc::Receiver<Job>,
) -> Result<mpsc::Receiver<Job>> {
    if !template.signs_slowly() {
        return Ok(jobs);
    }
    let threads = super::sign_pool::threads();
    let (template, shared) = (Arc::clone(template), Arc::clone(shared));
    super::sign_pool::start(threads, concurrency + 2 * threads, jobs, move |job: &mut Job| {
        if shared.stopped() {
            return;
        }
        let delivery = &job.delivery;
        let recipient =
            Recipient { email: &delivery.email, name: &delivery.name, attrs: &delivery.attrs, list: &delivery.list };
        let mut message = Vec::with_capacity(64 * 1024);
        let composed = template.compose(&recipient, &mut message);
        job.prepared = Prepared(Some((composed, message)));
    })
    .map_err(|e| Error::sender(format!("could not start the signing threads: {e}")))
}

mod dispatch;
#[cfg(test)]
mod pool_tests;
mod settle;
#[cfg(test)]
mod tests;
mod worker;
