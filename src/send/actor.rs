//! The journal's one writer: a task on the send's runtime that owns the state database.
//!
//! Enters: requests from async tasks (updates to apply, pages of pending rows to claim, suppression
//! sets, bounce suppressions). Leaves: replies on oneshot channels. Every update queued while a
//! transaction runs goes into the next one, so eight workers waiting for their "in flight" mark
//! share one commit (group commit) — durable before the worker sends, as the crash guarantee
//! needs, without one commit per message.

use std::collections::HashSet;
use std::path::PathBuf;

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::config::SoftRule;
use crate::error::{Error, Result};
use crate::state::State;
use crate::state::budgets::{Limit, Reserved};
use crate::state::journal::{Delivery, Update};
use crate::subscriptions::{Bounce, BounceKind, record_bounce};

enum Request {
    Apply(Vec<Update>, oneshot::Sender<std::result::Result<Vec<String>, String>>),
    Claim(i64, usize, oneshot::Sender<std::result::Result<Option<Vec<Delivery>>, String>>),
    Suppressed(Vec<String>, oneshot::Sender<std::result::Result<HashSet<String>, String>>),
    Bounce(String, String, oneshot::Sender<std::result::Result<(), String>>),
    Reserve(Box<Reservation>, oneshot::Sender<std::result::Result<Reserved, String>>),
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
    path: PathBuf,
}

/// Start the journal task for `issue` on the current runtime; it ends when every handle is
/// dropped, giving the state back. On SQLite it runs on the workers' own thread: while a
/// transaction runs no worker does, which is fine (each is waiting on it or on the network),
/// and no commit needs a thread switch. On PostgreSQL its transactions run on blocking
/// threads, two at a time (see `serve`).
#[cfg(test)]
pub fn start(state: State, issue: String, clock: Clock, path: PathBuf) -> (Journal, tokio::task::JoinHandle<State>) {
    // A fresh run id, as the send lock gives one; the operating system's randomness failing
    // leaves run 0, which only a second run in the same instant could mistake for its own.
    let id = crate::state::journal::new_run_id().unwrap_or(0);
    start_run(state, Run { issue, id, locked: false }, clock, path)
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
}

/// Start the journal task for run `run.id` of `run.issue` (see `start`), whose pages of pending rows are claimed under that id.
pub fn start_run(state: State, run: Run, clock: Clock, path: PathBuf) -> (Journal, tokio::task::JoinHandle<State>) {
    let (requests, inbox) = mpsc::unbounded_channel();
    let task = tokio::spawn(serve(state, run, clock, inbox));
    (Journal { requests, path }, task)
}

/// How many transactions the journal runs at once on PostgreSQL, each on a connection of its
/// own: while one waits on the network the next batch commits beside it.
const PG_WRITERS: usize = 2;

/// What a journal writer owns: a connection to the store, whose rows it claims, and the time.
struct Writer {
    state: State,
    run: Run,
    clock: Clock,
    /// The connection the task was given (the others it opened itself); it goes back.
    given: bool,
}

async fn serve(state: State, run: Run, clock: Clock, mut inbox: mpsc::UnboundedReceiver<Request>) -> State {
    let mut writer = Writer { state, run, clock, given: true };
    if !writer.state.is_postgres() {
        // SQLite's commits are local and short, and its file takes one writer at a time: on
        // the workers' own thread.
        while let Some(first) = inbox.recv().await {
            handle(&mut writer, drain(first, &mut inbox));
        }
        return writer.state;
    }
    // On PostgreSQL a transaction waits on the network: it runs on a blocking thread, so the
    // workers' connections keep moving meanwhile (their next updates queue for the next
    // transaction), and a second connection commits the next batch beside it.
    let mut idle = Vec::with_capacity(PG_WRITERS);
    for _ in 1..PG_WRITERS {
        match writer.state.another() {
            Ok(Some(state)) => {
                idle.push(Writer { state, run: writer.run.clone(), clock: writer.clock.clone(), given: false });
            }
            Ok(None) => {}
            Err(e) => eprintln!("warning: {e}; the journal writes on one connection"),
        }
    }
    idle.push(writer);
    let mut running = tokio::task::JoinSet::new();
    let mut open = true;
    loop {
        tokio::select! {
            request = inbox.recv(), if open && !idle.is_empty() => match (request, idle.pop()) {
                (Some(first), Some(mut writer)) => {
                    let batch = drain(first, &mut inbox);
                    running.spawn_blocking(move || {
                        handle(&mut writer, batch);
                        writer
                    });
                }
                (_, writer) => {
                    open = false;
                    idle.extend(writer);
                }
            },
            Some(done) = running.join_next() => match done {
                Ok(writer) => idle.push(writer),
                // A blocking task is cancelled only when the runtime shuts down, which drops
                // this task too; a panic goes on as a panic of this task.
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            },
            else => break,
        }
    }
    // The caller carries on with the connection it gave; the others close here.
    idle.sort_by_key(|w| !w.given);
    match idle.into_iter().next() {
        Some(writer) => writer.state,
        None => unreachable!("every writer is idle once the journal task ends"),
    }
}

/// `first` and whatever else is queued (up to a batch): everything queued while the workers ran
/// goes into one transaction.
fn drain(first: Request, inbox: &mut mpsc::UnboundedReceiver<Request>) -> Vec<Request> {
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
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<std::result::Result<T, String>>) -> Request) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.requests.send(make(reply)).map_err(|_| self.failure("the journal task stopped".to_owned()))?;
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
        self.ask(|reply| Request::Apply(updates, reply)).await
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
