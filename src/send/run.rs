//! One run's delivery phase: connect, pace and budget, the engine over the journal, and the
//! send's final state.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{SendReport, actor, budget, engine, pace, progress, signal};
use crate::clock::Clock;
use crate::compose::MessageTemplate;
use crate::error::{Error, Result};
use crate::mail::{Configured, ConnectError, Transport as _};
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
    pub(super) transport: Configured,
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
) -> Result<SendReport> {
    let sending = &project.config.sending;
    let runtime = runtime()?;
    let Delivery { template, transport, only_list, left_out, careful } = run;
    let transport = Arc::new(transport);
    let limits = budget::limits_of(&sending.limits);
    if let Some((limit, resets_at)) = used_up(&state, &limits, clock)? {
        let error = budget::exhausted(RELAY, limit, resets_at);
        state.finish_send(id, SendState::Stopped, Some(&error.to_string()), clock.now())?;
        return Err(error);
    }
    let budget = budget::Budget::new(RELAY, limits, clock.now()).map(Arc::new);
    // The first connection proves TLS and authentication before any recipient changes state.
    let first = match runtime.block_on(transport.connect()) {
        Ok(first) => first,
        Err(e) => {
            let error = match e {
                ConnectError::Fatal(m) => Error::sender(m),
                ConnectError::Network(m) => {
                    Error::Incomplete { message: format!("{m}; nothing was sent, the next run retries") }
                }
            };
            state.finish_send(id, SendState::Stopped, Some(&error.to_string()), clock.now())?;
            return Err(error);
        }
    };
    let pace = if careful {
        eprintln!("the relay was not accepting mail when the last send stopped: starting at a careful pace");
        pace::Pace::careful(sending.rate)
    } else {
        pace::Pace::new(sending.rate)
    };
    let shared = Arc::new(engine::Shared::new(pace, sending.circuit_breaker));
    let settings = engine::Settings {
        concurrency: if transport.writes_files() { 1 } else { sending.concurrency },
        max_per_connection: sending.max_per_connection,
        retries: sending.retries,
        retry_delay: Duration::from_secs_f64(sending.retry_delay),
        max_attempts: sending.max_attempts,
        only_list: only_list.clone(),
        budget,
    };
    let total = state.counts(id)?;
    let started = Instant::now();
    let progress = progress::Progress::start(id, total.pending + total.deferred, Arc::clone(&shared));
    let (ran, state) = runtime.block_on(async {
        let signals = signal::watch(Arc::clone(&shared));
        let (journal, task) = actor::start(state, id.to_owned(), clock.clone(), state_path.to_path_buf());
        let ran = engine::run(journal, template, Arc::clone(&transport), Arc::clone(&shared), settings, first).await;
        signals.abort();
        (ran, task.await)
    });
    progress.finish();
    let state = state.map_err(|_| {
        Error::io("finish the journal in", state_path, std::io::Error::other("the journal task panicked"))
    })?;
    let counts = state.counts(id)?;
    let stop = shared.take_reason();
    let remains = remains(&counts, only_list.as_deref(), &left_out);
    let (final_state, note) = match (&stop, &remains) {
        (Some(reason), _) => (SendState::Stopped, Some(reason.to_string())),
        (None, None) => (SendState::Complete, None),
        (None, Some(what)) => (SendState::Stopped, Some(what.clone())),
    };
    state.finish_send(id, final_state, note.as_deref(), clock.now())?;
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
    ran?;
    if let Some(reason) = stop {
        return Err(reason);
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

/// The name a single relay (`sending.smtp`, `LETTERPRESS_SMTP_URL`, the outbox) has in the
/// budgets and the journal.
pub const RELAY: &str = "default";

/// An hourly or daily budget used up now, and when it frees up: a run would only stop at once.
fn used_up(
    state: &State,
    limits: &[crate::state::budgets::Limit],
    clock: &Clock,
) -> Result<Option<(crate::state::budgets::Limit, jiff::Timestamp)>> {
    use crate::state::budgets::Window;
    let used = state.budget_use(RELAY, limits, clock.now())?;
    Ok(used
        .into_iter()
        .find(|u| matches!(u.limit.window, Window::Hour | Window::Day) && u.used >= u.limit.max)
        .map(|u| (u.limit, u.resets_at)))
}

/// `send --test` draws on the relay's budgets too: all its copies, or none.
pub(super) fn spend_for_tests(project: &Project, copies: usize, clock: &Clock, env: &crate::env::Env) -> Result<()> {
    let limits = budget::limits_of(&project.config.sending.limits);
    if limits.is_empty() {
        return Ok(());
    }
    let state = State::open_configured(&project.config.state, &project.root, env)?;
    spend(&state, &limits, copies as u64, clock.now())
}

/// Take `n` messages sent outside a journaled send (test copies, `serve`'s confirmation mails)
/// from the relay's budgets: all of them, or none and why not.
pub fn spend(state: &State, limits: &[crate::state::budgets::Limit], n: u64, now: jiff::Timestamp) -> Result<()> {
    use crate::state::budgets::Reserved;
    match state.reserve(RELAY, limits, n, now)? {
        Reserved::Granted(granted) if granted == n => Ok(()),
        Reserved::Granted(granted) => {
            state.release(RELAY, limits, granted, now, now)?;
            Err(Error::Incomplete {
                message: format!("the relay's budget has room for {granted} of {n} messages now; nothing was sent"),
            })
        }
        Reserved::Exhausted { limit, resets_at } => Err(budget::exhausted(RELAY, limit, resets_at)),
    }
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
