//! The workers, each owning one connection to one relay, and the router that hands each job
//! to a relay's workers by weight.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

use super::settle::{self, retry_or_defer, settle};
use super::{Context, Job, LINGER, MAX_CONNECT_FAILURES, Retry, update};
use crate::compose::Recipient;
use crate::error::{Error, Result};
use crate::mail::{ConnectError, Connection, Outcome, Transport};
use crate::send::budget::Denied;
use crate::state::journal::{DeliveryStatus, Update};

/// Hand each job from the dispatcher (by way of the sign pool) to the workers of the relay the
/// selector picks. Once every relay is down the run has stopped, and the workers drop what
/// they get.
pub(super) async fn route<T: Transport>(
    context: Arc<Context<T>>,
    mut work: mpsc::Receiver<Job>,
    lanes: Vec<mpsc::Sender<Job>>,
) -> Result<()> {
    while let Some(job) = work.recv().await {
        let last = job.last_lane;
        let lane = context.shared.selector().pick_avoiding(Instant::now(), last).unwrap_or(0);
        // A relay that is slowed down (it asked to) does not hold the others up: when its
        // workers are busy the job goes to the next relay up with room, and waits only when
        // none has any. Healthy relays keep to their weights.
        let mut job = Some(job);
        let slowed = context.shared.lanes.get(lane).is_some_and(|l| l.pace.slowed());
        let spill = if slowed { lanes.len() } else { 1 };
        for other in (0..spill).map(|k| (lane + k) % lanes.len()) {
            if other != lane && (!context.shared.is_up(other) || Some(other) == last) {
                continue;
            }
            match job.take().map(|j| lanes[other].try_send(j)) {
                Some(Err(mpsc::error::TrySendError::Full(back))) => job = Some(back),
                Some(Err(mpsc::error::TrySendError::Closed(back))) if other != lane => job = Some(back),
                Some(Err(mpsc::error::TrySendError::Closed(_))) => return stopped(&context),
                Some(Ok(())) | None => break,
            }
        }
        if let Some(job) = job
            && lanes[lane].send(job).await.is_err()
        {
            return stopped(&context);
        }
    }
    Ok(())
}

fn stopped<T: Transport>(context: &Context<T>) -> Result<()> {
    context.outstanding.fetch_sub(1, Ordering::SeqCst);
    Err(Error::sender("every worker stopped"))
}

/// One connection's loop.
pub(super) async fn worker<T: Transport>(
    context: Arc<Context<T>>,
    lane: usize,
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
        let outcome = deliver(&context, lane, &mut connection, job, &mut held, &mut buffer).await;
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
    lane: usize,
    connection: &mut Option<T::Connection>,
    mut job: Job,
    held: &mut Vec<Update>,
    buffer: &mut Vec<u8>,
) -> Result<()> {
    let shared = &context.shared;
    let (Some(own), Some(transport)) = (shared.lanes.get(lane), context.transports.get(lane)) else { return Ok(()) };
    if shared.stopped() {
        // Never marked: the row stays as it is for the next run.
        return Ok(());
    }
    job.last_lane = Some(lane);
    if !shared.is_up(lane) {
        // Its relay went down after the router chose it: to another relay, at once, as no try.
        reroute(context, job);
        return Ok(());
    }
    own.pace.wait().await;
    if shared.stopped() {
        return Ok(());
    }
    if let Some(budget) = &own.budget {
        loop {
            match budget.take(&context.journal).await? {
                Ok(()) => break,
                Err(Denied::Wait(wait)) => tokio::time::sleep(wait).await,
                Err(Denied::Stop(why)) => {
                    shared.relay_failed(lane, why);
                    reroute(context, job);
                    return Ok(());
                }
            }
            if shared.stopped() {
                return Ok(());
            }
        }
    }
    let started = Instant::now();
    if connection.is_none() {
        match transport.connect().await {
            Ok(fresh) => {
                own.connect_failures.store(0, Ordering::SeqCst);
                *connection = Some(fresh);
            }
            Err(ConnectError::Fatal(message)) => {
                shared.stop(Error::sender(format!("relay `{}`: {message}", own.name)));
                return Ok(());
            }
            Err(ConnectError::Network(message)) if shared.others_up(lane) => {
                // Another relay is up: this one is down for a while, and the row goes there.
                shared.relay_failed(lane, Error::Incomplete { message });
                reroute(context, job);
                return Ok(());
            }
            Err(ConnectError::Network(message)) => {
                if own.connect_failures.fetch_add(1, Ordering::SeqCst) + 1 >= MAX_CONNECT_FAILURES {
                    shared.stop(Error::Incomplete {
                        message: format!(
                            "{message}; giving up after {MAX_CONNECT_FAILURES} failed connections, the next run resumes"
                        ),
                    });
                }
                // Nothing was marked; try the row again later like a temporary failure.
                settle::temporary_failure(context, lane, started, &message);
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
        // Stored when the recipient was added, as a rule: naming it again costs a write of the
        // Message-ID index.
        message_id: (delivery.message_id.as_deref() != Some(composed.message_id.as_str()))
            .then(|| composed.message_id.clone()),
        // Stored when the recipient was added; setting it again would rewrite the token index.
        token_id: None,
        ..update(delivery, DeliveryStatus::Inflight, None, true)
    });
    let Some(open) = connection.as_mut() else { return Ok(()) };
    let name = format!("{:07}-{}", delivery.seq, delivery.email);
    // The in-flight mark must be durable before the message can be delivered. Its commit
    // overlaps the MAIL, RCPT and DATA round trip and the body without its final dot: the
    // relay delivers nothing before that dot, and drops the transaction if the connection
    // closes first (RFC 5321 §4.1.1.4).
    let envelope = context.template.envelope_from_for(delivery.seq);
    let message = buffer.as_slice();
    let opened = async {
        match open.begin(&envelope, &delivery.email).await {
            None => open.stage(message).await,
            refused => refused,
        }
    };
    let (marked, begun) = tokio::join!(context.journal.apply(mark), opened);
    let marked = match marked {
        Ok(marked) => marked,
        Err(e) => {
            // Dropped, not closed: the relay may be reading the message (after its 354), and
            // would take a QUIT as a line of it; a dropped connection abandons the transaction.
            connection.take();
            return Err(e);
        }
    };
    if marked.contains(&delivery.address_key) {
        // Unsubscribed after the page was read: the mark made the row `suppressed` instead. The
        // relay may already have the body without its final dot; closing before the dot makes
        // it drop the transaction (RFC 5321 §4.1.1.4), so nothing reaches the recipient.
        context.shared.suppressed.fetch_add(1, Ordering::Relaxed);
        // Only a refusal leaves the session clean (the relay reset it).
        if !matches!(begun, Some(Outcome::Replied { .. })) {
            connection.take();
        }
        return Ok(());
    }
    let outcome = match begun {
        Some(refused) => refused,
        None => open.data(buffer, &name).await,
    };
    let reconnect = settle(context, lane, &job, outcome, started, held).await?;
    let cap = context.settings.max_per_connection;
    if (reconnect || cap.is_some_and(|cap| connection.as_ref().is_some_and(|c| c.sent() >= cap)))
        && let Some(old) = connection.take()
    {
        old.close().await;
    }
    Ok(())
}

/// The address as a file name for the outbox.
/// Give `job` back to the dispatcher to go out at once through another relay: not a try, and
/// its row unchanged.
fn reroute<T: Transport>(context: &Context<T>, job: Job) {
    let _ = context.retries.send(Retry { due: Instant::now(), job });
}
