//! One run's delivery phase: connect, pace and budget, the engine over the journal, and the
//! send's final state.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::relays::Lane;
use super::{SendReport, actor, budget, engine, pace, progress, signal};
use crate::clock::Clock;
use crate::compose::MessageTemplate;
use crate::error::{Error, Result};
use crate::mail::quota::{exhausted, limits_of};
use crate::mail::{ConnectError, PoolRelay, Transport as _};
use crate::project::Project;
use crate::state::State;
use crate::state::journal::{Counts, SendState};

pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start the sender's runtime in", Path::new("."), e))
}

/// What one run delivers, and how.
pub(super) struct Delivery {
    pub(super) template: Arc<MessageTemplate>,
    /// The relays that carry the issue's From domain (one, without `sending.relays`).
    pub(super) relays: Vec<PoolRelay>,
    pub(super) only_list: Option<String>,
    /// The issue's lists a `--list` run leaves out: the send cannot be complete after it.
    pub(super) left_out: Vec<String>,
    /// The relay was dead when the last send stopped: start at a careful pace.
    pub(super) careful: bool,
}

/// Whether the send that finished last stopped because the relay was dead (see
/// [`engine::is_dead_relay`]): the next run starts at a careful pace.
pub(super) fn relay_was_dead(state: &State) -> Result<bool> {
    let last = state.sends()?.into_iter().filter(|r| r.finished_at.is_some()).max_by_key(|r| r.finished_at);
    Ok(last.is_some_and(|r| r.state == SendState::Stopped && r.note.as_deref().is_some_and(engine::is_dead_relay)))
}

pub(super) fn deliver(
    project: &Project,
    state: State,
    id: &str,
    run: Delivery,
    clock: &Clock,
    state_path: &Path,
    lock: Option<&mut super::lock::SendLock>,
) -> Result<SendReport> {
    let sending = &project.config.sending;
    let (run_id, locked) = match &lock {
        Some(lock) => (lock.run(), true),
        None => (crate::state::journal::new_run_id()?, false),
    };
    let runtime = runtime()?;
    let Delivery { template, relays, only_list, left_out, careful } = run;
    let writes_files = relays.iter().any(|r| r.transport.writes_files());
    // Relays whose hourly or daily budget is used up sit this run out; when all are, it stops.
    let several = relays.len() > 1;
    let mut usable = Vec::new();
    let mut spent = None;
    for relay in relays {
        match used_up(&state, &relay.name, &limits_of(&relay.limits), clock)? {
            Some((limit, resets_at)) => {
                let error = exhausted(&relay.name, limit, resets_at);
                if several {
                    eprintln!("{error}; the other relays take its share");
                }
                spent.get_or_insert(error);
            }
            None => usable.push(relay),
        }
    }
    if usable.is_empty() {
        let error = spent.unwrap_or_else(|| Error::usage("no relay to send through"));
        state.finish_send(id, SendState::Stopped, Some(&error.to_string()), clock.now())?;
        return Err(error);
    }
    // The first connection to each relay proves TLS and authentication before any recipient
    // changes state. A relay that cannot be reached starts the run down; all of them: stop.
    let transports: Vec<Arc<_>> = usable.iter().map(|r| Arc::new(r.transport.clone())).collect();
    let opened = runtime.block_on(futures_join(&transports));
    let mut first = Vec::new();
    let mut unreachable = None;
    for (relay, opened) in usable.iter().zip(opened) {
        match opened {
            Ok(connection) => first.push(Some(connection)),
            Err(ConnectError::Fatal(m)) => {
                let m = if usable.len() > 1 { format!("relay `{}`: {m}", relay.name) } else { m };
                let error = Error::sender(m);
                state.finish_send(id, SendState::Stopped, Some(&error.to_string()), clock.now())?;
                return Err(error);
            }
            Err(ConnectError::Network(m)) => {
                if usable.len() > 1 {
                    eprintln!("relay `{}` cannot be reached ({m}); the others take its share", relay.name);
                }
                unreachable.get_or_insert(m);
                first.push(None);
            }
        }
    }
    if first.iter().all(Option::is_none) {
        let m = unreachable.unwrap_or_default();
        let error = Error::Incomplete { message: format!("{m}; nothing was sent, the next run retries") };
        state.finish_send(id, SendState::Stopped, Some(&error.to_string()), clock.now())?;
        return Err(error);
    }
    if careful {
        eprintln!("the relay was not accepting mail when the last send stopped: starting at a careful pace");
    }
    let lanes = usable
        .iter()
        .zip(&first)
        .map(|(relay, first)| {
            let pace = if careful { pace::Pace::careful(sending.rate) } else { pace::Pace::new(sending.rate) };
            let mut lane = Lane::new(&relay.name, pace, sending.circuit_breaker);
            lane.weight = relay.weight;
            lane.concurrency = if writes_files { Some(1) } else { relay.concurrency };
            lane.budget = budget::Budget::new(&relay.name, limits_of(&relay.limits), clock.now()).map(Arc::new);
            lane.start_down = first.is_none();
            lane
        })
        .collect();
    let shared = Arc::new(engine::Shared::with_lanes(lanes));
    let settings = engine::Settings {
        concurrency: if writes_files { 1 } else { sending.concurrency },
        max_per_connection: sending.max_per_connection,
        retries: sending.retries,
        retry_delay: Duration::from_secs_f64(sending.retry_delay),
        max_attempts: sending.max_attempts,
        only_list: only_list.clone(),
    };
    let total = state.counts(id)?;
    let started = Instant::now();
    let progress = progress::Progress::start(id, total.pending + total.deferred, Arc::clone(&shared));
    let (ran, state) = runtime.block_on(async {
        let signals = signal::watch(Arc::clone(&shared));
        let pipelined = actor::pipelines(total.pending + total.deferred);
        let run = actor::Run { issue: id.to_owned(), id: run_id, locked, pipelined };
        let (journal, task) = actor::start_run(state, run, clock.clone(), state_path.to_path_buf());
        let ran = engine::run_pool(journal, template, transports, Arc::clone(&shared), settings, first).await;
        signals.abort();
        (ran, task.await)
    });
    progress.finish();
    let state = state.map_err(|_| {
        Error::io("finish the journal in", state_path, std::io::Error::other("the journal task panicked"))
    })?;
    let stop = shared.take_reason();
    // Other senders still at work on this send (PostgreSQL): the last one out records its end.
    let last = match lock {
        Some(lock) => lock.last_out()?,
        None => true,
    };
    let counts = state.counts(id)?;
    let remains = remains(&counts, only_list.as_deref(), &left_out);
    let (final_state, note) = match (&stop, &remains) {
        (Some(reason), _) => (SendState::Stopped, Some(reason.to_string())),
        (None, None) => (SendState::Complete, None),
        (None, Some(what)) => (SendState::Stopped, Some(what.clone())),
    };
    if last {
        state.finish_send(id, final_state, note.as_deref(), clock.now())?;
    } else if stop.is_none() {
        eprintln!("other senders are still sending `{id}`; the last to finish records the end of the send");
    }
    let complete = remains.is_none();
    let report = SendReport {
        issue: id.to_owned(),
        counts,
        sent_now: shared.sent.load(std::sync::atomic::Ordering::Relaxed),
        bounced_now: shared.bounced.load(std::sync::atomic::Ordering::Relaxed),
        elapsed_ms: started.elapsed().as_millis(),
        complete,
    };
    eprintln!("{}", report.summary());
    if shared.lanes.len() > 1 {
        let per: Vec<String> = shared.lanes.iter().map(|l| format!("{} {}", l.name, l.sent())).collect();
        eprintln!("sent this run by relay: {}", per.join(", "));
    }
    ran?;
    if let Some(reason) = stop {
        return Err(reason);
    }
    if !last {
        // This run's share is done; what remains is the others'.
        return Ok(report);
    }
    if !left_out.is_empty() {
        return Err(Error::Incomplete {
            message: format!("{}; see `letterpress status {id}`", note.unwrap_or_default()),
        });
    }
    let c = &report.counts;
    if c.failed + c.deferred + c.pending + c.uncertain > 0 {
        return Err(Error::Incomplete {
            message: format!("not every recipient was delivered; see `letterpress status {id}`"),
        });
    }
    Ok(report)
}

/// An hourly or daily budget used up now, and when it frees up: a run would only stop at once.
fn used_up(
    state: &State,
    relay: &str,
    limits: &[crate::state::budgets::Limit],
    clock: &Clock,
) -> Result<Option<(crate::state::budgets::Limit, jiff::Timestamp)>> {
    use crate::state::budgets::Window;
    let used = state.budget_use(relay, limits, clock.now())?;
    Ok(used
        .into_iter()
        .find(|u| matches!(u.limit.window, Window::Hour | Window::Day) && u.used >= u.limit.max)
        .map(|u| (u.limit, u.resets_at)))
}

/// `send --test` draws on the budgets of the relay its copies go through: all of them, or none.
pub(super) fn spend_for_tests(
    project: &Project,
    from_domain: Option<&str>,
    copies: usize,
    clock: &Clock,
    env: &crate::env::Env,
) -> Result<()> {
    let (relay, limits) = crate::mail::quota::single(&project.config, from_domain);
    if limits.is_empty() {
        return Ok(());
    }
    let state = State::open_configured(&project.config.state, &project.root, env)?;
    crate::mail::quota::spend(&state, &relay, &limits, copies as u64, clock.now())
}

/// Open the first connection to each relay, all at once.
async fn futures_join<T: crate::mail::Transport>(
    transports: &[Arc<T>],
) -> Vec<std::result::Result<T::Connection, ConnectError>> {
    let tasks: Vec<_> = transports
        .iter()
        .map(|t| {
            let t = Arc::clone(t);
            tokio::spawn(async move { t.connect().await })
        })
        .collect();
    let mut opened = Vec::with_capacity(tasks.len());
    for task in tasks {
        opened.push(
            task.await.unwrap_or_else(|e| Err(ConnectError::Network(format!("the connecting task failed: {e}")))),
        );
    }
    opened
}

/// What keeps a send from being complete after a run that was not stopped: recipients still
/// to send, or lists a `--list` run left out. `None`: the send is complete.
pub(super) fn remains(counts: &Counts, only_list: Option<&str>, left_out: &[String]) -> Option<String> {
    if let Some(only) = only_list
        && !left_out.is_empty()
    {
        let lists: Vec<String> = left_out.iter().map(|l| format!("`{l}`")).collect();
        return Some(format!(
            "this run covered only list `{only}`; {} remain: `send` without `--list`, or `send --due`, sends the rest",
            lists.join(", ")
        ));
    }
    (counts.pending + counts.deferred + counts.inflight > 0).then(|| "deferred recipients remain".to_owned())
}
