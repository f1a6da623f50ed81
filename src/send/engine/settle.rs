//! What a worker does with the relay's answer: the row's next state, the pace, the breaker,
//! and a retry or a deferral.

use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::{Context, Job, Prepared, Retry, update};
use crate::error::{Error, Result};
use crate::mail::{Outcome, Stage, Transport};
use crate::send::retry::{Verdict, classify};
use crate::state::journal::{DeliveryStatus, Update};

/// Turn an outcome into the row's next state; returns whether to reconnect.
/// `started` is when the message's turn came, for the pace.
pub(super) async fn settle<T: Transport>(
    context: &Context<T>,
    lane: usize,
    job: &Job,
    outcome: Outcome,
    started: Instant,
    held: &mut Vec<Update>,
) -> Result<bool> {
    let delivery = &job.delivery;
    let shared = &context.shared;
    let Some(own) = shared.lanes.get(lane) else { return Ok(true) };
    let relay = Some(own.name.clone());
    let (reply, stage) = match outcome {
        Outcome::Lost { after_data: true, error } => {
            shared.uncertain.fetch_add(1, Ordering::Relaxed);
            if shared.others_up(lane) {
                shared.relay_failed(lane, Error::Incomplete { message: format!("connection lost: {error}") });
            }
            let lost = crate::send::retry::Reply {
                code: 0,
                enhanced: None,
                text: format!("connection lost after the message: {error}"),
            };
            held.push(Update { relay, ..update(delivery, DeliveryStatus::Uncertain, Some(&lost), false) });
            return Ok(true);
        }
        Outcome::Lost { after_data: false, error } => {
            let job = Job { deferred: false, ..job.clone() };
            let why = format!("connection lost: {error}");
            if shared.others_up(lane) {
                shared.relay_failed(lane, Error::Incomplete { message: why.clone() });
            } else {
                temporary_failure(context, lane, started, &why);
            }
            retry_or_defer(context, job, held, None, &why, true).await?;
            return Ok(true);
        }
        Outcome::Replied { reply, stage } => (reply, stage),
    };
    match classify(&reply) {
        Verdict::Delivered => {
            shared.sent.fetch_add(1, Ordering::Relaxed);
            shared.delivered_by(lane);
            own.pace.success();
            own.breaker.reset();
            own.breaker.delivered(delivery.seq);
            held.push(Update { relay, ..update(delivery, DeliveryStatus::Sent, Some(&reply), false) });
            Ok(false)
        }
        Verdict::Retry { throttle } => {
            if throttle {
                own.pace.throttle(started);
            }
            if reply.code == 421 && shared.others_up(lane) {
                // The relay is closing the session: down for a while, its share to the others.
                shared.relay_failed(lane, Error::Incomplete { message: reply.summary() });
            } else {
                temporary_failure(context, lane, started, &reply.summary());
            }
            retry_or_defer(context, job.clone(), held, Some(&reply), &reply.summary(), true).await?;
            Ok(reply.code == 421)
        }
        Verdict::Bounce if delivery.attempts + 1 < context.settings.max_attempts => {
            // `deferred`, not suppressed, until a later delivery shows the relay delivers: a
            // relay refusing every address must not get the whole list suppressed.
            shared.deferred.fetch_add(1, Ordering::Relaxed);
            held.push(update(delivery, DeliveryStatus::Deferred, Some(&reply), false));
            if own.breaker.bounce(&delivery.address_key, &reply, shared.taken.load(Ordering::Relaxed)) {
                shared.relay_failed(lane, Error::sender(format!(
                    "stopped for a bounce streak: the relay refused {} recipients in a row as unknown addresses, with no delivery between them ({}); that is more likely the relay (its routing, domain or account) than the list — check it, then run again; those recipients are deferred, not suppressed",
                    own.breaker.limit(),
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
            if own.breaker.content_rejection(&delivery.address_key, &reply) {
                shared.relay_failed(lane, Error::sender(format!(
                    "the relay rejected the same message content {} times in a row: {}; fix the issue or template, then run again — those recipients are deferred, not suppressed",
                    own.breaker.limit(),
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
            if own.breaker.sender_problem() {
                shared.relay_failed(lane, Error::sender(format!(
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
pub(super) async fn retry_or_defer<T: Transport>(
    context: &Context<T>,
    job: Job,
    held: &mut Vec<Update>,
    reply: Option<&crate::send::retry::Reply>,
    why: &str,
    marked: bool,
) -> Result<()> {
    let tries = job.tries + 1;
    let reason = crate::send::retry::Reply {
        code: reply.map_or(0, |r| r.code),
        enhanced: reply.and_then(|r| r.enhanced),
        text: why.to_owned(),
    };
    let reply = reply.cloned().unwrap_or(reason);
    let attempts = job.delivery.attempts + u32::from(marked);
    if marked && attempts >= context.settings.max_attempts {
        // Deferred across too many runs: give up, keeping the last reply.
        context.shared.failed.fetch_add(1, Ordering::Relaxed);
        let last =
            crate::send::retry::Reply { text: format!("{} (gave up after {attempts} attempts)", reply.text), ..reply };
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
        let _ = context.retries.send(Retry {
            due,
            job: Job {
                delivery,
                deferred: deferred_in_journal,
                tries,
                prepared: Prepared::default(),
                last_lane: job.last_lane,
            },
        });
    } else {
        context.shared.deferred.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// A temporary refusal: when it makes the relay dead (see [`crate::send::pace`]), stop the
/// run with the relay's last reply; the rows not sent wait for the next run, which starts at a
/// careful pace.
pub(super) fn temporary_failure<T: Transport>(context: &Context<T>, lane: usize, started: Instant, last: &str) {
    let (Some(own), Some(transport)) = (context.shared.lanes.get(lane), context.transports.get(lane)) else { return };
    if own.pace.failure(started) {
        let relay = if context.shared.lanes.len() > 1 {
            format!("relay `{}`, {}", own.name, transport.describe())
        } else {
            transport.describe()
        };
        context.shared.relay_failed(lane, Error::Incomplete { message: dead_relay(&relay, last) });
    }
}

/// The note of a send stopped because its relay is dead; [`is_dead_relay`] recognises it.
pub fn dead_relay(relay: &str, last: &str) -> String {
    format!(
        "{DEAD_RELAY} ({relay}): it refused every one of the last {} attempts temporarily at the slowest pace, or for {} s; its last reply: {last}. The recipients not sent wait for the next run (`send --due`), which starts at a careful pace",
        crate::send::pace::DEAD_AFTER,
        crate::send::pace::DEAD_SILENCE.as_secs()
    )
}

const DEAD_RELAY: &str = "stopped: the relay is not accepting mail";

/// Whether a send's note says its relay was dead.
pub fn is_dead_relay(note: &str) -> bool {
    note.starts_with(DEAD_RELAY)
}
