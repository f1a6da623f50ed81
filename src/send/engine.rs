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
use super::breaker::Breaker;
use super::budget::{Budget, Denied};
use super::pace::Pace;
use crate::compose::{Composed, MessageTemplate, Recipient};
use crate::error::{Error, Result};
use crate::mail::{ConnectError, Connection, Transport};
use crate::state::journal::{Delivery, DeliveryStatus, Update};
use dispatch::{dispatch, fail_bounced, fail_refused};
pub use settle::is_dead_relay;
use settle::{retry_or_defer, settle};

/// Rows fetched from the journal at a time.
const PAGE: usize = 256;
/// How long a worker holds a result before committing it alone.
const LINGER: Duration = Duration::from_millis(50);

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Workers (connections).
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
    /// The relay's quotas, when it has some.
    pub budget: Option<Arc<Budget>>,
}

/// Consecutive failed connections after which a run gives up (the relay is down).
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
    connect_failures: AtomicUsize,
    reason: std::sync::Mutex<Option<Error>>,
    pub(super) pace: Pace,
    breaker: Breaker,
}

impl Shared {
    /// Fresh counters for a run, paced by `pace`.
    pub fn new(pace: Pace, circuit_breaker: usize) -> Self {
        Self {
            sent: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            deferred: AtomicUsize::new(0),
            uncertain: AtomicUsize::new(0),
            suppressed: AtomicUsize::new(0),
            bounced: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            taken: AtomicI64::new(i64::MIN),
            connect_failures: AtomicUsize::new(0),
            reason: std::sync::Mutex::new(None),
            pace,
            breaker: Breaker::new(circuit_breaker),
        }
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
    transport: Arc<T>,
    shared: Arc<Shared>,
    settings: Settings,
    outstanding: AtomicUsize,
    retries: mpsc::UnboundedSender<Retry>,
}

/// Deliver every pending row of the journal. `first` is a connection opened (and so
/// authenticated) before any row changed state.
pub async fn run<T: Transport>(
    journal: Journal,
    template: Arc<MessageTemplate>,
    transport: Arc<T>,
    shared: Arc<Shared>,
    settings: Settings,
    first: T::Connection,
) -> Result<()> {
    let (retry_tx, retry_rx) = mpsc::unbounded_channel();
    let (work_tx, work_rx) = mpsc::channel::<Job>(settings.concurrency * 2);
    let work_rx = sign_ahead(&template, &shared, settings.concurrency, work_rx)?;
    let work_rx = Arc::new(Mutex::new(work_rx));
    let context = Arc::new(Context {
        journal,
        template,
        transport,
        shared: Arc::clone(&shared),
        settings: settings.clone(),
        outstanding: AtomicUsize::new(0),
        retries: retry_tx,
    });
    let mut first = Some(first);
    let workers: Vec<_> = (0..settings.concurrency)
        .map(|_| tokio::spawn(worker(Arc::clone(&context), Arc::clone(&work_rx), first.take())))
        .collect();
    // Only the workers hold the queue's receiving end: when every one of them has stopped (the
    // journal failing, say, as when the disk fills), the dispatcher's next hand-out fails
    // instead of waiting forever for room.
    drop(work_rx);
    let mut dispatched = dispatch(&context, work_tx, retry_rx).await;
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
    if let Some(budget) = &context.settings.budget {
        budget.release(&context.journal).await?;
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
    }
}

/// One connection's loop.
async fn worker<T: Transport>(
    context: Arc<Context<T>>,
    work: Arc<Mutex<mpsc::Receiver<Job>>>,
    mut connection: Option<T::Connection>,
) -> Result<()> {
    let mut held: Vec<Update> = Vec::new();
    let mut buffer = Vec::with_capacity(64 * 1024);
    let result = loop {
        let job = {
            let mut work = work.lock().await;
            match tokio::time::timeout(LINGER, work.recv()).await {
                Ok(Some(job)) => job,
                Ok(None) => break Ok(()),
                Err(_) => {
                    drop(work);
                    if let Err(e) = context.journal.apply(std::mem::take(&mut held)).await {
                        break Err(e);
                    }
                    continue;
                }
            }
        };
        let outcome = deliver(&context, &mut connection, job, &mut held, &mut buffer).await;
        context.outstanding.fetch_sub(1, Ordering::SeqCst);
        if let Err(e) = outcome {
            break Err(e);
        }
    };
    let flushed = context.journal.apply(held).await;
    if let Some(connection) = connection {
        connection.close().await;
    }
    result.and(flushed.map(drop))
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
    if !template.signs() {
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

/// Send one job; its result joins `held`, to be committed with the next mark.
async fn deliver<T: Transport>(
    context: &Context<T>,
    connection: &mut Option<T::Connection>,
    mut job: Job,
    held: &mut Vec<Update>,
    buffer: &mut Vec<u8>,
) -> Result<()> {
    if context.shared.stopped() {
        // Never marked: the row stays as it is for the next run.
        return Ok(());
    }
    context.shared.pace.wait().await;
    if context.shared.stopped() {
        return Ok(());
    }
    if let Some(budget) = &context.settings.budget {
        loop {
            match budget.take(&context.journal).await? {
                Ok(()) => break,
                Err(Denied::Wait(wait)) => tokio::time::sleep(wait).await,
                Err(Denied::Stop(why)) => {
                    context.shared.stop(why);
                    return Ok(());
                }
            }
            if context.shared.stopped() {
                return Ok(());
            }
        }
    }
    let started = Instant::now();
    if connection.is_none() {
        match context.transport.connect().await {
            Ok(fresh) => {
                context.shared.connect_failures.store(0, Ordering::SeqCst);
                *connection = Some(fresh);
            }
            Err(ConnectError::Fatal(message)) => {
                context.shared.stop(Error::sender(message));
                return Ok(());
            }
            Err(ConnectError::Network(message)) => {
                if context.shared.connect_failures.fetch_add(1, Ordering::SeqCst) + 1 >= MAX_CONNECT_FAILURES {
                    context.shared.stop(Error::Incomplete {
                        message: format!(
                            "{message}; giving up after {MAX_CONNECT_FAILURES} failed connections, the next run resumes"
                        ),
                    });
                }
                // Nothing was marked; try the row again later like a temporary failure.
                settle::temporary_failure(context, started, &message);
                return retry_or_defer(context, job, held, None, &message, false).await;
            }
        }
    }
    let delivery = &job.delivery;
    context.shared.taken.fetch_max(delivery.seq, Ordering::Relaxed);
    let recipient =
        Recipient { email: &delivery.email, name: &delivery.name, attrs: &delivery.attrs, list: &delivery.list };
    let composed = match job.prepared.0.take() {
        Some((composed, message)) => {
            *buffer = message;
            composed?
        }
        None => context.template.compose(&recipient, buffer)?,
    };
    let mut mark = std::mem::take(held);
    if job.deferred {
        mark.push(update(delivery, DeliveryStatus::Pending, None, false));
    }
    mark.push(Update {
        message_id: Some(composed.message_id.clone()),
        // Stored when the recipient was added; setting it again would rewrite the token index.
        token_id: None,
        ..update(delivery, DeliveryStatus::Inflight, None, true)
    });
    let Some(open) = connection.as_mut() else { return Ok(()) };
    let name = format!("{:07}-{}", delivery.seq, safe_file_name(&delivery.email));
    // The in-flight mark must be durable before the message itself goes out; the MAIL, RCPT and
    // DATA round trip can overlap its commit, since nothing deliverable is sent before the body.
    let envelope = context.template.envelope_from_for(delivery.seq);
    let (marked, begun) = tokio::join!(context.journal.apply(mark), open.begin(&envelope, &delivery.email));
    if marked?.contains(&delivery.address_key) {
        // Unsubscribed after the page was read: the mark made the row `suppressed` instead. The
        // relay may already be waiting for the body; closing without sending it makes it drop
        // the transaction (RFC 5321 §4.1.1.4), so nothing reaches the recipient.
        context.shared.suppressed.fetch_add(1, Ordering::Relaxed);
        if begun.is_none() {
            connection.take();
        }
        return Ok(());
    }
    let outcome = match begun {
        Some(refused) => refused,
        None => open.data(buffer, &name).await,
    };
    let reconnect = settle(context, &job, outcome, started, held).await?;
    let cap = context.settings.max_per_connection;
    if (reconnect || cap.is_some_and(|cap| connection.as_ref().is_some_and(|c| c.sent() >= cap)))
        && let Some(old) = connection.take()
    {
        old.close().await;
    }
    Ok(())
}

/// The address as a file name for the outbox.
fn safe_file_name(email: &str) -> String {
    email.chars().map(|c| if c.is_ascii_alphanumeric() || "@._+-".contains(c) { c } else { '_' }).collect()
}

mod dispatch;
mod settle;
#[cfg(test)]
mod tests;
