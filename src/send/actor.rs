//! The journal's one writer: a task on the send's runtime that owns the state database.
//!
//! Enters: requests from async tasks (updates to apply, pages of pending rows to claim, suppression
//! sets, bounce suppressions). Leaves: replies on oneshot channels. Every update queued while a
//! transaction runs goes into the next one, so eight workers waiting for their "in flight" mark
//! share one commit (group commit) — durable before the worker sends, as the crash guarantee
//! needs, without one commit per message. On PostgreSQL the updates go through a pipelined
//! connection of their own (`state/journal/pipeline.rs`) and everything else through the
//! store's connection, on a blocking thread.

use std::collections::HashSet;
use std::path::PathBuf;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::SoftRule;
use crate::error::{Error, Result};
use crate::state::State;
use crate::state::budgets::{Limit, Reserved};
use crate::state::journal::{Delivery, Pipeline, Update};
use crate::subscriptions::{Bounce, BounceKind, record_bounce};

type Reply<T> = oneshot::Sender<std::result::Result<T, String>>;

enum Request {
    Apply(Vec<Update>, Reply<Vec<String>>),
    Claim(i64, usize, Reply<Option<Vec<Delivery>>>),
    Suppressed(Vec<String>, Reply<HashSet<String>>),
    Bounce(String, String, Reply<()>),
    Reserve(Box<Reservation>, Reply<Reserved>),
}

/// A reservation of a relay's budgets (see [`State::reserve`]); `want: 0` gives `release`
/// messages back instead.
#[derive(Debug, Clone)]
pub struct Reservation {
    /// The relay.
    pub relay: String,
    /// Its limits.
    pub limits: Vec<Limit>,
    /// Messages wanted.
    pub want: u64,
    /// Messages to give back, reserved at `reserved_at`.
    pub release: u64,
    /// When the messages given back were reserved.
    pub reserved_at: Timestamp,
    /// Now.
    pub at: Timestamp,
}

/// A handle to the journal task; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    requests: mpsc::UnboundedSender<Request>,
    /// Where updates go on PostgreSQL (the pipeline); `None` on SQLite, where they are
    /// requests like the others.
    updates: Option<mpsc::UnboundedSender<Request>>,
    path: PathBuf,
}

/// Start the journal task for `issue` on the current runtime; it ends when every handle is
/// dropped, giving the state back. On SQLite it runs on the workers' own thread: while a
/// transaction runs no worker does, which is fine (each is waiting on it or on the network),
/// and no commit needs a thread switch. On PostgreSQL its transactions wait on the network
/// off the workers' threads: the updates through a pipeline of their own when the run has one,
/// the rest on a blocking thread (see `serve`).
#[cfg(test)]
pub fn start(state: State, issue: String, clock: Clock, path: PathBuf) -> (Journal, JoinHandle<State>) {
    // A fresh run id, as the send lock gives one; the operating system's randomness failing
    // leaves run 0, which only a second run in the same instant could mistake for its own.
    let id = crate::state::journal::new_run_id().unwrap_or(0);
    start_run(state, Run { issue, id, locked: false, pipelined: true }, clock, path)
}

/// Whose journal rows the task claims: `issue`'s, for run `id` (see `state/journal/claim.rs`).
#[derive(Debug, Clone)]
pub struct Run {
    /// The issue's journal id.
    pub issue: String,
    /// The run's id, which the run's send lock holds alive on PostgreSQL.
    pub id: i64,
    /// Whether a run lock holds `id` (a run under the send lock): then each claim first checks
    /// that the lock is still held, and claims nothing once its session is gone.
    pub locked: bool,
    /// Whether, on PostgreSQL, the updates go through a pipelined connection of their own:
    /// worth its set-up (a connection, TLS, a session) for a send of many recipients, not for a
    /// welcome or a catch-up of a few ([`pipelines`]).
    pub pipelined: bool,
}

/// From how many recipients to send a run's updates go through a pipeline of their own on
/// PostgreSQL: one claimed page. Below that, the store's own connection takes them.
pub const PIPELINE_FROM: usize = 256;

/// Whether a run that may send to `recipients` pipelines its updates (on PostgreSQL).
pub fn pipelines(recipients: usize) -> bool {
    recipients >= PIPELINE_FROM
}

/// Start the journal task for run `run.id` of `run.issue` (see `start`), whose pages of pending rows are claimed under that id.
pub fn start_run(state: State, run: Run, clock: Clock, path: PathBuf) -> (Journal, JoinHandle<State>) {
    let (requests, inbox) = mpsc::unbounded_channel();
    let (updates, pipe) = if state.is_postgres() && run.pipelined {
        let (updates, pipe) = mpsc::unbounded_channel();
        (Some(updates), Some((pipe, requests.clone())))
    } else {
        (None, None)
    };
    let task = tokio::spawn(serve(state, run, clock, inbox, pipe));
    (Journal { requests, updates, path }, task)
}

/// How many of the pipeline's transactions may be on their way at once: while the server runs
/// one, the next is already there; updates queued meanwhile wait for a free place, and so go
/// out in larger batches when the server is the slower side.
const IN_FLIGHT: usize = 2;

/// What a journal writer owns: a connection to the store, whose rows it claims, and the time.
struct Writer {
    state: State,
    run: Run,
    clock: Clock,
}

/// `pipe`, on PostgreSQL for a run that pipelines its updates: where updates come in, and
/// where those the pipeline could not commit go on to (the requests' own queue).
async fn serve(
    state: State,
    run: Run,
    clock: Clock,
    mut inbox: mpsc::UnboundedReceiver<Request>,
    pipe: Option<(mpsc::UnboundedReceiver<Request>, mpsc::UnboundedSender<Request>)>,
) -> State {
    let mut writer = Writer { state, run, clock };
    let (updates, fallback) = match pipe {
        Some(pipe) => pipe,
        None if !writer.state.is_postgres() => {
            // SQLite's commits are local and short, and its file takes one writer at a time:
            // on the workers' own thread.
            while let Some(first) = inbox.recv().await {
                handle(&mut writer, drain(first, &mut inbox));
            }
            return writer.state;
        }
        // PostgreSQL, a run of a few recipients: everything on the store's connection.
        None => return joined(on_blocking_thread(writer, inbox)).await,
    };
    // On PostgreSQL a transaction waits on the network. The updates, which the workers wait
    // for, go through the pipeline; the rest (claims, suppression lookups, bounces, budgets)
    // run on the store's connection on a blocking thread, so the workers keep moving meanwhile.
    let connect = writer.state.pipeline(&writer.run.issue, writer.run.id);
    let pipeline = match connect {
        Some(connect) => connect.await.map(Some),
        None => Ok(None),
    };
    let pipeline = match pipeline {
        Ok(pipeline) => pipeline,
        Err(e) => {
            eprintln!("warning: {e}; the journal's updates go through the store's connection");
            None
        }
    };
    let clock = writer.clock.clone();
    let others = on_blocking_thread(writer, inbox);
    pipelined(pipeline, updates, fallback, clock).await;
    joined(others).await
}

/// Handle the requests of `inbox` on a blocking thread (PostgreSQL's transactions wait on the
/// network, which the workers need not), giving the store back when every handle is gone.
fn on_blocking_thread(mut writer: Writer, mut inbox: mpsc::UnboundedReceiver<Request>) -> JoinHandle<State> {
    tokio::task::spawn_blocking(move || {
        while let Some(first) = inbox.blocking_recv() {
            let batch = drain(first, &mut inbox);
            handle(&mut writer, batch);
        }
        writer.state
    })
}

/// The store, once the blocking thread gives it back.
async fn joined(task: JoinHandle<State>) -> State {
    match task.await {
        Ok(state) => state,
        // A blocking task is cancelled only when the runtime shuts down, which drops this task
        // too; a panic goes on as a panic of this task.
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// Commit the updates that come in through `pipeline`, up to [`IN_FLIGHT`] batches at a
/// time, all from this one task (so each transaction's statements go out together); a batch
/// that did not commit, and every batch without a pipeline, goes on to `fallback`.
async fn pipelined(
    pipeline: Option<Pipeline>,
    mut updates: mpsc::UnboundedReceiver<Request>,
    fallback: mpsc::UnboundedSender<Request>,
    clock: Clock,
) {
    let Some(pipeline) = pipeline else {
        while let Some(request) = updates.recv().await {
            let _ = fallback.send(request);
        }
        return;
    };
    let mut running = FuturesUnordered::new();
    let mut open = true;
    loop {
        tokio::select! {
            first = updates.recv(), if open && running.len() < IN_FLIGHT => match first {
                Some(first) => running.push(commit(&pipeline, drain(first, &mut updates), clock.now(), &fallback)),
                None => open = false,
            },
            Some(()) = running.next() => {}
            else => break,
        }
    }
}

/// One pipelined transaction of `batch`'s updates; each requester gets the batch's withheld
/// keys, or, when it did not commit, its request goes on to `fallback` as it came.
async fn commit(pipeline: &Pipeline, batch: Vec<Request>, at: Timestamp, fallback: &mpsc::UnboundedSender<Request>) {
    let mut updates = Vec::new();
    let mut waiting = Vec::with_capacity(batch.len());
    for request in batch {
        match request {
            Request::Apply(mut more, reply) => {
                waiting.push((more.len(), reply));
                updates.append(&mut more);
            }
            other => {
                let _ = fallback.send(other);
            }
        }
    }
    if let Some(withheld) = pipeline.apply(&updates, at).await {
        for (_, reply) in waiting {
            let _ = reply.send(Ok(withheld.clone()));
        }
    } else {
        let mut updates = updates.into_iter();
        for (n, reply) in waiting {
            let _ = fallback.send(Request::Apply(updates.by_ref().take(n).collect(), reply));
        }
    }
}

/// `first` and whatever else is queued (up to a batch): everything queued while the workers ran
/// goes into one transaction.
fn drain<T>(first: T, inbox: &mut mpsc::UnboundedReceiver<T>) -> Vec<T> {
    let mut batch = vec![first];
    while batch.len() < 512 {
        match inbox.try_recv() {
            Ok(request) => batch.push(request),
            Err(_) => break,
        }
    }
    batch
}

fn handle(writer: &mut Writer, batch: Vec<Request>) {
    let Writer { state, run, clock, .. } = writer;
    let issue = run.issue.as_str();
    let mut updates = Vec::new();
    let mut waiting = Vec::new();
    for request in batch {
        match request {
            Request::Apply(mut more, reply) => {
                updates.append(&mut more);
                waiting.push(reply);
            }
            Request::Claim(after, limit, reply) => {
                let claimed = match run.locked.then(|| state.run_alive(run.id)) {
                    Some(Ok(false)) => Ok(None),
                    Some(Err(e)) => Err(e),
                    None | Some(Ok(true)) => state.claim(issue, run.id, after, limit).map(Some),
                };
                let _ = reply.send(claimed.map_err(|e| e.to_string()));
            }
            Request::Suppressed(keys, reply) => {
                let _ = reply.send(state.suppressed_among(issue, &keys).map_err(|e| e.to_string()));
            }
            Request::Reserve(r, reply) => {
                let done = state
                    .release(&r.relay, &r.limits, r.release, r.reserved_at, r.at)
                    .and_then(|()| state.reserve(&r.relay, &r.limits, r.want, r.at));
                let _ = reply.send(done.map_err(|e| e.to_string()));
            }
            Request::Bounce(address, source, reply) => {
                let bounce = Bounce { address: &address, kind: BounceKind::Hard, source: &source };
                let done = record_bounce(state, &bounce, SoftRule::default(), clock.now());
                let _ = reply.send(done.map(|_| ()).map_err(|e| e.to_string()));
            }
        }
    }
    if !waiting.is_empty() {
        let result = state.apply_for(run.id, issue, &updates, clock.now()).map_err(|e| e.to_string());
        for reply in waiting {
            let _ = reply.send(result.clone());
        }
    }
}

impl Journal {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T> {
        self.ask_on(&self.requests, make).await
    }

    async fn ask_on<T>(
        &self,
        to: &mpsc::UnboundedSender<Request>,
        make: impl FnOnce(Reply<T>) -> Request,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        to.send(make(reply)).map_err(|_| self.failure("the journal task stopped".to_owned()))?;
        answer.await.map_err(|_| self.failure("the journal task stopped".to_owned()))?.map_err(|e| self.failure(e))
    }

    fn failure(&self, message: String) -> Error {
        Error::io("update the delivery journal in", &self.path, std::io::Error::other(message))
    }

    /// Apply updates in the next group commit and wait until it is durable. Returns the keys
    /// of the commit's withheld recipients (see [`State::apply`]): whose `inflight` mark found
    /// them suppressed. Usually none.
    pub async fn apply(&self, updates: Vec<Update>) -> Result<Vec<String>> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        self.ask_on(self.updates.as_ref().unwrap_or(&self.requests), |reply| Request::Apply(updates, reply)).await
    }

    /// Claim the next pending rows after `after` (by seq) that no live run holds; `None` when
    /// this run's lock is gone (see [`Run::locked`]): it must claim and hand out nothing more.
    pub async fn claim(&self, after: i64, limit: usize) -> Result<Option<Vec<Delivery>>> {
        self.ask(|reply| Request::Claim(after, limit, reply)).await
    }

    /// Which of `keys` (the issue's recipients) are suppressed, read now (unsubscribes during
    /// a run count), globally or for their row's list.
    pub async fn suppressed(&self, keys: Vec<String>) -> Result<HashSet<String>> {
        self.ask(|reply| Request::Suppressed(keys, reply)).await
    }

    /// Record a permanent bounce so no list mails the address again.
    pub async fn bounce(&self, address: String, source: String) -> Result<()> {
        self.ask(|reply| Request::Bounce(address, source, reply)).await
    }

    /// Reserve (and give back) budget, in the journal's next turn.
    pub async fn reserve(&self, reservation: Reservation) -> Result<Reserved> {
        self.ask(|reply| Request::Reserve(Box::new(reservation), reply)).await
    }
}

#[cfg(test)]
mod tests;
