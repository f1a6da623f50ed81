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

use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

use super::actor::Journal;
use super::pace::{Breaker, Pace};
use super::retry::{Verdict, classify};
use crate::compose::{MessageTemplate, Recipient};
use crate::error::{Error, Result};
use crate::mail::{ConnectError, Connection, Outcome, Stage, Transport};
use crate::state::journal::{Delivery, DeliveryStatus, Update};

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
    pace: Pace,
    breaker: Breaker,
}

impl Shared {
    /// Fresh counters for a run.
    pub fn new(rate: Option<f64>, circuit_breaker: usize) -> Self {
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
            pace: Pace::new(rate),
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
    // Every worker has committed its results, so the rows below are `deferred` in the journal.
    let refused = fail_refused(&context).await;
    let bounced = fail_bounced(&context).await;
    dispatched.and(refused).and(bounced)
}

/// Record `failed`, and suppress, the bounces the breaker believes (see
/// [`Breaker::believed_bounces`]): a delivery after them showed the relay delivers. The others
/// stay `deferred` for the next run.
///
/// [`Breaker::believed_bounces`]: super::pace::Breaker::believed_bounces
async fn fail_bounced<T: Transport>(context: &Context<T>) -> Result<()> {
    let believed = context.shared.breaker.believed_bounces();
    if believed.is_empty() {
        return Ok(());
    }
    context.shared.deferred.fetch_sub(believed.len(), Ordering::Relaxed);
    context.shared.failed.fetch_add(believed.len(), Ordering::Relaxed);
    context.shared.bounced.fetch_add(believed.len(), Ordering::Relaxed);
    let updates = believed.iter().flat_map(|(key, reply)| failed_by_way_of_pending(key, reply)).collect();
    context.journal.apply(updates).await?;
    for (key, reply) in believed {
        context.journal.bounce(key, format!("bounce: {}", reply.summary())).await?;
    }
    Ok(())
}

/// The two updates that take a `deferred` row to `failed` with `reply`.
fn failed_by_way_of_pending(key: &str, reply: &super::retry::Reply) -> [Update; 2] {
    let row = |status, reply: Option<&super::retry::Reply>| Update {
        address_key: key.to_owned(),
        status,
        code: reply.map(|r| r.code),
        reply: reply.map(super::retry::Reply::summary),
        message_id: None,
        token_id: None,
        attempted: false,
    };
    [row(DeliveryStatus::Pending, None), row(DeliveryStatus::Failed, Some(reply))]
}

/// Record `failed` the content rejections that did not trip the circuit breaker: each was one
/// recipient's message refused, not a broken issue. (`deferred` becomes `failed` by way of
/// `pending`, both in one transaction.)
async fn fail_refused<T: Transport>(context: &Context<T>) -> Result<()> {
    let refused = context.shared.breaker.refused();
    if refused.is_empty() {
        return Ok(());
    }
    context.shared.deferred.fetch_sub(refused.len(), Ordering::Relaxed);
    context.shared.failed.fetch_add(refused.len(), Ordering::Relaxed);
    let updates = refused.iter().flat_map(|(key, reply)| failed_by_way_of_pending(key, reply)).collect();
    context.journal.apply(updates).await.map(drop)
}

/// Feed workers: due retries first, then pages of pending rows with suppressions re-read.
async fn dispatch<T: Transport>(
    context: &Context<T>,
    work: mpsc::Sender<Job>,
    mut retry_rx: mpsc::UnboundedReceiver<Retry>,
) -> Result<()> {
    let mut after = i64::MIN;
    let mut exhausted = false;
    let mut waiting: BinaryHeap<Retry> = BinaryHeap::new();
    loop {
        while let Ok(retry) = retry_rx.try_recv() {
            waiting.push(retry);
        }
        if context.shared.stopped() {
            break;
        }
        if waiting.peek().is_some_and(|r| r.due <= Instant::now()) {
            if let Some(retry) = waiting.pop() {
                send_job(context, &work, retry.job).await?;
            }
            continue;
        }
        if !exhausted {
            let page = context.journal.pending(after, PAGE).await?;
            exhausted = page.len() < PAGE;
            if let Some(last) = page.last() {
                after = last.seq;
            }
            for job in unsuppressed(context, page).await? {
                send_job(context, &work, job).await?;
            }
            continue;
        }
        // Read `outstanding` before draining: a worker queues its retry before it counts the
        // job done, so nothing can slip between the two.
        let idle = context.outstanding.load(Ordering::SeqCst) == 0;
        while let Ok(retry) = retry_rx.try_recv() {
            waiting.push(retry);
        }
        if idle && waiting.is_empty() {
            break;
        }
        let next_due = waiting.peek().map_or(Instant::now() + Duration::from_millis(20), |r| r.due);
        tokio::select! {
            Some(retry) = retry_rx.recv() => waiting.push(retry),
            () = tokio::time::sleep_until(next_due.min(Instant::now() + Duration::from_millis(20))) => {}
        }
    }
    Ok(())
}

async fn send_job<T: Transport>(context: &Context<T>, work: &mpsc::Sender<Job>, job: Job) -> Result<()> {
    context.outstanding.fetch_add(1, Ordering::SeqCst);
    if work.send(job).await.is_err() {
        context.outstanding.fetch_sub(1, Ordering::SeqCst);
        return Err(Error::sender("every worker stopped"));
    }
    Ok(())
}

/// Drop (and record as `suppressed`) rows whose address unsubscribed or bounced since the
/// audience was taken: suppressions are re-read for every page, so a page's suppressed rows
/// cost no compose. The in-flight mark checks again for each row (see [`State::apply`]),
/// which catches an unsubscribe that lands while the page waits for the workers.
///
/// [`State::apply`]: crate::state::State::apply
async fn unsuppressed<T: Transport>(context: &Context<T>, page: Vec<Delivery>) -> Result<Vec<Job>> {
    let mut lists: Vec<String> = page.iter().map(|d| d.list.clone()).collect();
    lists.sort();
    lists.dedup();
    let suppressed = context.journal.suppressed(lists).await?;
    let mut updates = Vec::new();
    let mut jobs = Vec::with_capacity(page.len());
    for delivery in page {
        if context.settings.only_list.as_ref().is_some_and(|only| *only != delivery.list) {
            continue;
        }
        if suppressed.get(&delivery.list).is_some_and(|set| set.contains(&delivery.address_key)) {
            updates.push(update(&delivery, DeliveryStatus::Suppressed, None, false));
        } else {
            jobs.push(Job { delivery, deferred: false, tries: 0 });
        }
    }
    context.shared.suppressed.fetch_add(updates.len(), Ordering::Relaxed);
    context.journal.apply(updates).await?;
    Ok(jobs)
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

/// Send one job; its result joins `held`, to be committed with the next mark.
async fn deliver<T: Transport>(
    context: &Context<T>,
    connection: &mut Option<T::Connection>,
    job: Job,
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
                return retry_or_defer(context, job, held, None, &message, false).await;
            }
        }
    }
    let delivery = &job.delivery;
    context.shared.taken.fetch_max(delivery.seq, Ordering::Relaxed);
    let recipient =
        Recipient { email: &delivery.email, name: &delivery.name, attrs: &delivery.attrs, list: &delivery.list };
    let composed = context.template.compose(&recipient, buffer)?;
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
    let reconnect = settle(context, &job, outcome, held).await?;
    let cap = context.settings.max_per_connection;
    if (reconnect || cap.is_some_and(|cap| connection.as_ref().is_some_and(|c| c.sent() >= cap)))
        && let Some(old) = connection.take()
    {
        old.close().await;
    }
    Ok(())
}

/// Turn an outcome into the row's next state; returns whether to reconnect.
async fn settle<T: Transport>(
    context: &Context<T>,
    job: &Job,
    outcome: Outcome,
    held: &mut Vec<Update>,
) -> Result<bool> {
    let delivery = &job.delivery;
    let shared = &context.shared;
    let (reply, stage) = match outcome {
        Outcome::Lost { after_data: true, error } => {
            shared.uncertain.fetch_add(1, Ordering::Relaxed);
            let lost = super::retry::Reply {
                code: 0,
                enhanced: None,
                text: format!("connection lost after the message: {error}"),
            };
            held.push(update(delivery, DeliveryStatus::Uncertain, Some(&lost), false));
            return Ok(true);
        }
        Outcome::Lost { after_data: false, error } => {
            let job = Job { deferred: false, ..job.clone() };
            retry_or_defer(context, job, held, None, &format!("connection lost: {error}"), true).await?;
            return Ok(true);
        }
        Outcome::Replied { reply, stage } => (reply, stage),
    };
    match classify(&reply) {
        Verdict::Delivered => {
            shared.sent.fetch_add(1, Ordering::Relaxed);
            shared.pace.success();
            shared.breaker.reset();
            shared.breaker.delivered(delivery.seq);
            held.push(update(delivery, DeliveryStatus::Sent, Some(&reply), false));
            Ok(false)
        }
        Verdict::Retry { throttle } => {
            if throttle {
                shared.pace.throttle();
            }
            retry_or_defer(context, job.clone(), held, Some(&reply), &reply.summary(), true).await?;
            Ok(reply.code == 421)
        }
        Verdict::Bounce if delivery.attempts + 1 < context.settings.max_attempts => {
            // `deferred`, not suppressed, until a later delivery shows the relay delivers: a
            // relay refusing every address must not get the whole list suppressed.
            shared.deferred.fetch_add(1, Ordering::Relaxed);
            held.push(update(delivery, DeliveryStatus::Deferred, Some(&reply), false));
            if shared.breaker.bounce(&delivery.address_key, &reply, shared.taken.load(Ordering::Relaxed)) {
                shared.stop(Error::sender(format!(
                    "stopped for a bounce streak: the relay refused {} recipients in a row as unknown addresses, with no delivery between them ({}); that is more likely the relay (its routing, domain or account) than the list — check it, then run again; those recipients are deferred, not suppressed",
                    shared.breaker.limit(),
                    reply.summary()
                )));
            }
            Ok(false)
        }
        Verdict::Bounce => {
            // Refused as unknown in `max-attempts` attempts: believed whatever the streak.
            shared.failed.fetch_add(1, Ordering::Relaxed);
            shared.bounced.fetch_add(1, Ordering::Relaxed);
            held.push(update(delivery, DeliveryStatus::Failed, Some(&reply), false));
            context.journal.bounce(delivery.address_key.clone(), format!("bounce: {}", reply.summary())).await?;
            Ok(false)
        }
        Verdict::Reject if stage == Stage::EndOfData => {
            // `deferred` until the run shows whether the message or the recipient is at fault:
            // the same rejection again and again trips the breaker, and those recipients must
            // get the fixed issue; the others become `failed` when the run ends (see `run`).
            shared.deferred.fetch_add(1, Ordering::Relaxed);
            held.push(update(delivery, DeliveryStatus::Deferred, Some(&reply), false));
            if shared.breaker.content_rejection(&delivery.address_key, &reply) {
                shared.stop(Error::sender(format!(
                    "the relay rejected the same message content {} times in a row: {}; fix the issue or template, then run again — those recipients are deferred, not suppressed",
                    shared.breaker.limit(),
                    reply.summary()
                )));
            }
            Ok(false)
        }
        Verdict::Reject => {
            shared.failed.fetch_add(1, Ordering::Relaxed);
            held.push(update(delivery, DeliveryStatus::Failed, Some(&reply), false));
            Ok(false)
        }
        Verdict::SenderProblem => {
            shared.deferred.fetch_add(1, Ordering::Relaxed);
            held.push(update(delivery, DeliveryStatus::Deferred, Some(&reply), false));
            if shared.breaker.sender_problem() {
                shared.stop(Error::sender(format!(
                    "the relay keeps refusing us, not the recipients: {}; check SPF, DKIM and DMARC for the From domain and the relay account — the recipients are deferred, not suppressed",
                    reply.summary()
                )));
            }
            Ok(false)
        }
    }
}

/// A temporary failure: retry within the run after a backoff, or leave `deferred` for the next
/// run once the retries are used up, or record it `failed` once the recipient has had
/// `max_attempts` attempts across runs. `marked` says whether the row is `inflight` now. The
/// `deferred` mark is committed before the retry is queued: another worker may take the retry,
/// and it must find the row as the journal says.
async fn retry_or_defer<T: Transport>(
    context: &Context<T>,
    job: Job,
    held: &mut Vec<Update>,
    reply: Option<&super::retry::Reply>,
    why: &str,
    marked: bool,
) -> Result<()> {
    let tries = job.tries + 1;
    let reason = super::retry::Reply {
        code: reply.map_or(0, |r| r.code),
        enhanced: reply.and_then(|r| r.enhanced),
        text: why.to_owned(),
    };
    let reply = reply.cloned().unwrap_or(reason);
    let attempts = job.delivery.attempts + u32::from(marked);
    if marked && attempts >= context.settings.max_attempts {
        // Deferred across too many runs: give up, keeping the last reply.
        context.shared.failed.fetch_add(1, Ordering::Relaxed);
        let last = super::retry::Reply { text: format!("{} (gave up after {attempts} attempts)", reply.text), ..reply };
        held.push(update(&job.delivery, DeliveryStatus::Failed, Some(&last), false));
        return Ok(());
    }
    if marked {
        let mut now = std::mem::take(held);
        now.push(update(&job.delivery, DeliveryStatus::Deferred, Some(&reply), false));
        context.journal.apply(now).await?;
    }
    let deferred_in_journal = marked || job.deferred;
    if tries <= context.settings.retries && !context.shared.stopped() {
        let due = Instant::now() + context.settings.retry_delay * 2u32.pow(tries.saturating_sub(1).min(10));
        let mut delivery = job.delivery;
        delivery.attempts = attempts;
        let _ = context.retries.send(Retry { due, job: Job { delivery, deferred: deferred_in_journal, tries } });
    } else {
        context.shared.deferred.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// The address as a file name for the outbox.
fn safe_file_name(email: &str) -> String {
    email.chars().map(|c| if c.is_ascii_alphanumeric() || "@._+-".contains(c) { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests;
