//! The dispatcher (claimed pages of pending rows and due retries to the workers) and the end-of-run
//! verdicts on what the breaker held back.

use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Context, Job, PAGE, Prepared, Retry, update};
use crate::error::{Error, Result};
use crate::mail::Transport;
use crate::state::journal::{Delivery, DeliveryStatus, Update};

/// Record `failed`, and suppress, the bounces the breaker believes (see
/// [`Breaker::believed_bounces`]): a delivery after them showed the relay delivers. The others
/// stay `deferred` for the next run.
///
/// [`Breaker::believed_bounces`]: super::pace::Breaker::believed_bounces
pub(super) async fn fail_bounced<T: Transport>(context: &Context<T>) -> Result<()> {
    let believed: Vec<_> = context.shared.lanes.iter().flat_map(|l| l.breaker.believed_bounces()).collect();
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
fn failed_by_way_of_pending(key: &str, reply: &crate::send::retry::Reply) -> [Update; 2] {
    let row = |status, reply: Option<&crate::send::retry::Reply>| Update {
        address_key: key.to_owned(),
        status,
        code: reply.map(|r| r.code),
        reply: reply.map(crate::send::retry::Reply::summary),
        message_id: None,
        token_id: None,
        attempted: false,
        relay: None,
    };
    [row(DeliveryStatus::Pending, None), row(DeliveryStatus::Failed, Some(reply))]
}

/// Record `failed` the content rejections that did not trip the circuit breaker: each was one
/// recipient's message refused, not a broken issue. (`deferred` becomes `failed` by way of
/// `pending`, both in one transaction.)
pub(super) async fn fail_refused<T: Transport>(context: &Context<T>) -> Result<()> {
    let refused: Vec<_> = context.shared.lanes.iter().flat_map(|l| l.breaker.refused()).collect();
    if refused.is_empty() {
        return Ok(());
    }
    context.shared.deferred.fetch_sub(refused.len(), Ordering::Relaxed);
    context.shared.failed.fetch_add(refused.len(), Ordering::Relaxed);
    let updates = refused.iter().flat_map(|(key, reply)| failed_by_way_of_pending(key, reply)).collect();
    context.journal.apply(updates).await.map(drop)
}

/// Feed workers: due retries first, then pages of pending rows with suppressions re-read.
pub(super) async fn dispatch<T: Transport>(
    context: &Context<T>,
    work: mpsc::Sender<Job>,
    mut retry_rx: mpsc::UnboundedReceiver<Retry>,
) -> Result<()> {
    let mut cursor = Cursor { after: i64::MIN, swept: false, exhausted: false };
    // The next page, claimed while the workers took the one before: a claim is a write
    // transaction (milliseconds on PostgreSQL), which the workers' short queue would not cover.
    let mut ahead: Option<Option<Vec<Job>>> = None;
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
        if !cursor.exhausted || ahead.is_some() {
            let page = match ahead.take() {
                Some(page) => page,
                None => next_page(context, &mut cursor).await?,
            };
            let Some(jobs) = page else {
                // This run's lock session ended: other senders may take its claims now.
                context.shared.stop(crate::send::lock::lost());
                break;
            };
            if cursor.exhausted {
                feed(context, &work, jobs).await?;
            } else {
                let (fed, next) = tokio::join!(feed(context, &work, jobs), next_page(context, &mut cursor));
                fed?;
                ahead = Some(next?);
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

/// Where the dispatcher's claims have got to.
struct Cursor {
    /// The `seq` after which the next page is claimed.
    after: i64,
    /// Whether a page came back short once: the next claim starts from the beginning, to pick
    /// up rows a dead sender claimed behind the cursor.
    swept: bool,
    /// Whether the sweep found nothing either: every row is claimed.
    exhausted: bool,
}

/// Claim the page after `cursor` and drop its suppressed rows (see [`unsuppressed`]); `None`
/// when this run's lock is gone.
async fn next_page<T: Transport>(context: &Context<T>, cursor: &mut Cursor) -> Result<Option<Vec<Job>>> {
    let Some(page) = context.journal.claim(cursor.after, PAGE).await? else { return Ok(None) };
    if page.len() < PAGE {
        if cursor.swept && page.is_empty() {
            cursor.exhausted = true;
        }
        cursor.swept = true;
        cursor.after = i64::MIN;
    } else if let Some(last) = page.last() {
        cursor.after = last.seq;
    }
    unsuppressed(context, page).await.map(Some)
}

/// Hand `jobs` to the workers in order, waiting for room in their queue.
async fn feed<T: Transport>(context: &Context<T>, work: &mpsc::Sender<Job>, jobs: Vec<Job>) -> Result<()> {
    for job in jobs {
        send_job(context, work, job).await?;
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
    let suppressed = context.journal.suppressed(page.iter().map(|d| d.address_key.clone()).collect()).await?;
    let mut updates = Vec::new();
    let mut jobs = Vec::with_capacity(page.len());
    for delivery in page {
        if context.settings.only_list.as_ref().is_some_and(|only| *only != delivery.list) {
            continue;
        }
        if suppressed.contains(&delivery.address_key) {
            updates.push(update(&delivery, DeliveryStatus::Suppressed, None, false));
        } else {
            jobs.push(Job { delivery, deferred: false, tries: 0, prepared: Prepared::default(), last_lane: None });
        }
    }
    context.shared.suppressed.fetch_add(updates.len(), Ordering::Relaxed);
    context.journal.apply(updates).await?;
    Ok(jobs)
}
