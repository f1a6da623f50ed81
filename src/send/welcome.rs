//! Welcome issues (`lists[].welcome`, `welcome-latest`): queued when a subscription is
//! confirmed, delivered through the same compose, sign and journal path as any send.
//!
//! Enters: a confirmed subscriber ([`queue`](crate::subscriptions::welcome::queue), from `serve`'s `/confirm`, `subscribers add
//! --welcome` and `subscribers import --welcome`), or a [`Project`] with welcomes waiting
//! ([`send_welcomes`], from `serve`'s background [`Worker`] and from `send --due`). Leaves: rows
//! in the welcome issue's own journal (id `<publication>/<slug>` of the welcome file, so
//! `status` and `log` show it), optionally one in the journal of the list's latest complete send,
//! and those rows delivered.
//!
//! Exactly once: the queue keeps one row per (list, subscriber) for good; moving it into the
//! journal commits the journal rows first, then marks the queue row done, and the journal's
//! primary key makes a repeat of the first step a no-op. Delivery is the engine's: a kill
//! before `DATA` leaves the row `pending` for the next pass, a kill during it `uncertain`. So a
//! crash at any point loses no welcome and sends none twice.

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use super::run::{Delivery, deliver, relay_was_dead};
use super::{SendReport, gate, lock, outbox_sub, template};
use crate::checked::CheckedIssue;
use crate::clock::Clock;
use crate::config::List;
use crate::content::{self, Issue};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::mail::{KeyUse, Outbound};
use crate::project::Project;
use crate::state::journal::NewRecipient;
use crate::state::welcome::QueuedWelcome;
use crate::state::{self, State, Store};
use crate::subscribers::ListFile;

/// What a journal's run does with its send record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Record {
    /// Create it, or set it running with the content as it is now (a welcome: always the
    /// current version).
    Replace,
    /// Start it as `send` does: a changed issue needs `allow_changed`.
    Check { allow_changed: bool },
    /// Leave it as it is (the latest issue for `welcome-latest`: complete, and stays so).
    Keep,
}

/// The journal (and send record) of a welcome issue: `welcome:<publication>/<slug>`, apart
/// from the publication's issues, so it is never taken for the publication's previous send.
pub fn journal_id(issue: &Issue) -> String {
    format!("{JOURNAL_PREFIX}{}", issue.id())
}

/// What starts the id of a welcome's journal.
pub const JOURNAL_PREFIX: &str = "welcome:";

/// Deliver what is pending in journal `id` of `checked`; the caller holds the send lock.
pub(super) fn deliver_pending(
    project: &Project,
    checked: &CheckedIssue,
    lists: &[ListFile],
    (id, record): (&str, Record),
    clock: &Clock,
    env: &Env,
) -> Result<SendReport> {
    let issue = &checked.issue;
    let Outbound { signing, pool, .. } =
        Outbound::load(&project.root, &project.config, env, KeyUse::Send, &outbox_sub(issue))?;
    let relays = pool.for_domain(super::from_domain_of(project, issue).as_deref())?;
    let template = Arc::new(template(project, checked, lists, signing, clock, false)?);
    let store = Store::from_config(&project.config.state, &project.root, env)?;
    let state_path = store.path();
    let state = State::open_store(&store)?;
    match record {
        Record::Replace => state.start_send(id, template.content_hash(), clock.now(), true).map(drop)?,
        Record::Check { allow_changed } => {
            state.start_send(id, template.content_hash(), clock.now(), allow_changed).map(drop)?;
        }
        Record::Keep => {}
    }
    state.recover(id, false, clock.now())?;
    let careful = relay_was_dead(&state)?;
    let run = Delivery { template, relays, only_list: None, left_out: Vec::new(), careful };
    deliver(project, state, id, run, clock, &state_path, None)
}

/// One welcome file and the lists that name it.
struct Welcome<'a> {
    path: PathBuf,
    lists: Vec<&'a List>,
}

impl Welcome<'_> {
    /// The id of its journal, as [`journal_id`] of the issue the file holds:
    /// `welcome:<directory>/<file stem>`.
    fn journal(&self) -> String {
        let name = |p: Option<&std::ffi::OsStr>| p.map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let publication = name(self.path.parent().and_then(Path::file_name));
        format!("{JOURNAL_PREFIX}{publication}/{}", name(self.path.file_stem()))
    }
}

/// Every configured welcome file with its lists, in configuration order.
fn welcomes(project: &Project) -> Vec<Welcome<'_>> {
    let mut found: Vec<Welcome<'_>> = Vec::new();
    for list in &project.config.lists {
        let Some(path) = &list.welcome else { continue };
        match found.iter_mut().find(|w| content::is_welcome_path(&w.path, path)) {
            Some(welcome) => welcome.lists.push(list),
            None => found.push(Welcome { path: path.clone(), lists: vec![list] }),
        }
    }
    found
}

/// Load a list's welcome issue, as `check` and the welcome pass do (dated today when its front
/// matter has no `date`).
pub fn load(
    project: &Project,
    path: &Path,
    clock: &Clock,
) -> std::result::Result<Issue, Vec<crate::diagnostic::Diagnostic>> {
    let zone = project.config.site.time_zone();
    content::load_welcome(&project.root, path, zone.as_ref(), clock.today(zone.as_ref()))
}

/// Move the queued welcomes into their journals and deliver every welcome journal with
/// recipients left: the welcome first, then (`welcome-latest`) the list's latest complete send.
/// Without a state store, or with nothing waiting, does nothing (and takes no lock). One
/// welcome's trouble (a broken welcome issue, a relay down) does not hold back the others: the
/// first error is returned after all were tried, and the waiting rows stay for the next pass.
pub fn send_welcomes(project: &Project, clock: &Clock, env: &Env) -> Result<Vec<SendReport>> {
    let store = Store::from_config(&project.config.state, &project.root, env)?;
    let Some(state) = State::open_store_existing(&store)? else { return Ok(Vec::new()) };
    let welcomes = welcomes(project);
    if welcomes.is_empty() {
        return Ok(Vec::new());
    }
    let queued = state.queued_welcomes()?;
    let mut waiting = Vec::new();
    for welcome in &welcomes {
        let rows: Vec<QueuedWelcome> =
            queued.iter().filter(|q| welcome.lists.iter().any(|l| l.slug == q.list)).cloned().collect();
        // The file is read only when there is work for it: a broken welcome nobody waits for
        // is `check`'s to report, not every `send --due`'s.
        let counts = state.counts(&welcome.journal())?;
        if !rows.is_empty() || counts.pending + counts.deferred > 0 {
            waiting.push((welcome, rows));
        }
    }
    let latest_waiting = latest_with_pending(project, &state, &welcomes)?;
    if waiting.is_empty() && latest_waiting.is_empty() {
        return Ok(Vec::new());
    }
    drop(state);
    let _lock = lock::acquire_for(&store, &project.root.join(state::DIR))?;
    let mut reports = Vec::new();
    let mut first_error = None;
    let mut latest = latest_waiting;
    for (welcome, rows) in waiting {
        let sent = load(project, &welcome.path, clock)
            .map_err(Error::Invalid)
            .and_then(|issue| send_one(project, welcome, &issue, &rows, clock, env));
        match sent {
            Ok((report, more)) => {
                reports.push(report);
                latest.extend(more.into_iter().filter(|id| !latest.contains(id)).collect::<Vec<_>>());
            }
            Err(e) => {
                eprintln!("welcome to {}: {}", welcome.path.display(), e.to_string().trim_end());
                first_error.get_or_insert(e);
            }
        }
    }
    for id in latest {
        let Some(issue) = project.issues.iter().find(|i| i.id() == id) else { continue };
        // Welcomed subscribers who had the issue already added nothing: no run, no connection.
        let counts = State::open_store(&store)?.counts(&id)?;
        if counts.pending + counts.deferred == 0 {
            continue;
        }
        let checked = crate::check::issue(project, issue);
        let sent = gate::gate(project, &checked, &[]).and_then(|()| {
            deliver_pending(project, &checked, &project.lists_of(issue)?, (&id, Record::Keep), clock, env)
        });
        match sent {
            Ok(report) => reports.push(report),
            Err(e) => {
                eprintln!("latest issue for new subscribers, {id}: {}", e.to_string().trim_end());
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(reports), Err)
}

/// Welcome `rows` with `issue` (the file of `welcome`): into its journal (and, for lists with
/// `welcome-latest`, the latest issue's), marked done, delivered. Returns the report and the
/// ids of the latest issues that got rows.
fn send_one(
    project: &Project,
    welcome: &Welcome<'_>,
    issue: &Issue,
    rows: &[QueuedWelcome],
    clock: &Clock,
    env: &Env,
) -> Result<(SendReport, Vec<String>)> {
    let checked = crate::check::issue(project, issue);
    gate::gate(project, &checked, &[])?;
    let keys = crate::mail::Signing::load(&project.root, &project.config, env, KeyUse::Send)?.keys;
    let mut state = State::open_configured(&project.config.state, &project.root, env)?;
    let with_token =
        |q: &QueuedWelcome| NewRecipient { token_id: Some(keys.token_id(&q.recipient.email)), ..q.recipient.clone() };
    let id = journal_id(issue);
    state.add_recipients(&id, rows.iter().map(with_token), clock.now())?;
    let mut latest_ids = Vec::new();
    for row in rows {
        let list = welcome.lists.iter().find(|l| l.slug == row.list);
        if let Some(latest) =
            list.filter(|l| l.welcome_latest).and_then(|l| latest_issue(project, &state, l).transpose())
        {
            let latest = latest?;
            state.add_recipients(&latest, std::iter::once(with_token(row)), clock.now())?;
            if !latest_ids.contains(&latest) {
                latest_ids.push(latest);
            }
        }
    }
    for row in rows {
        state.welcome_done(&row.list, &row.recipient.address_key, clock.now())?;
    }
    drop(state);
    let lists: Vec<ListFile> = welcome
        .lists
        .iter()
        .map(|l| {
            let shown = l.csv_path();
            ListFile { slug: l.slug.clone(), path: project.root.join(&shown), shown, segment: None }
        })
        .collect();
    let report = deliver_pending(project, &checked, &lists, (&id, Record::Replace), clock, env)?;
    Ok((report, latest_ids))
}

/// The id of the latest complete send to `list` that is an issue of this project (not a
/// welcome), if any.
fn latest_issue(project: &Project, state: &State, list: &List) -> Result<Option<String>> {
    Ok(state.sends_to_list(&list.slug, 50)?.into_iter().find(|id| project.issues.iter().any(|i| i.id() == *id)))
}

/// The latest issues of `welcome-latest` lists whose complete send has rows still pending (a
/// pass that stopped before delivering them).
fn latest_with_pending(project: &Project, state: &State, welcomes: &[Welcome<'_>]) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for list in welcomes.iter().flat_map(|w| &w.lists).filter(|l| l.welcome_latest) {
        if let Some(id) = latest_issue(project, state, list)? {
            let counts = state.counts(&id)?;
            if counts.pending + counts.deferred > 0 && !found.contains(&id) {
                found.push(id);
            }
        }
    }
    Ok(found)
}

/// How often `serve`'s worker looks for welcomes when nobody nudges it.
const SWEEP: Duration = Duration::from_secs(30);

/// `serve`'s background sender of welcomes: a thread that runs [`send_welcomes`] when nudged
/// (a confirmation queued one), at start, and every [`SWEEP`] while welcomes wait or a pass
/// failed, so a welcome goes out within a minute of its confirmation.
pub struct Worker {
    thread: std::thread::JoinHandle<()>,
}

impl Worker {
    /// Start the worker for the project at `root`, woken by `rx` (see [`nudges`](crate::subscriptions::welcome::nudges)).
    pub fn start(root: PathBuf, clock: Clock, env: Env, rx: mpsc::Receiver<()>) -> Self {
        let thread = std::thread::spawn(move || {
            let mut again = pass(&root, &clock, &env);
            loop {
                match rx.recv_timeout(SWEEP) {
                    Ok(()) => {
                        while rx.try_recv().is_ok() {}
                        again = pass(&root, &clock, &env);
                    }
                    // Another process (`subscribers add --welcome` while a send held the lock)
                    // may have queued one: a cheap look at the queue decides.
                    Err(mpsc::RecvTimeoutError::Timeout) if again || waiting(&root, &env) => {
                        again = pass(&root, &clock, &env);
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
        });
        Self { thread }
    }

    /// Wait for the worker to finish its pass (once every [`Nudge`](crate::subscriptions::welcome::Nudge) is gone).
    pub fn finish(self) {
        let _ = self.thread.join();
    }
}

/// Whether the queue of the project at `root` has welcomes waiting (no store: none).
fn waiting(root: &Path, env: &Env) -> bool {
    let Ok(config) = crate::project::load_config(root) else { return false };
    State::open_configured_existing(&config.state, root, env)
        .ok()
        .flatten()
        .is_some_and(|state| state.queued_welcomes().is_ok_and(|q| !q.is_empty()))
}

/// One pass of the worker; returns whether another is needed (welcomes wait, or it failed).
fn pass(root: &Path, clock: &Clock, env: &Env) -> bool {
    let outcome = Project::load(root).and_then(|project| send_welcomes(&project, clock, env));
    match outcome {
        // `deliver` printed each run's summary.
        Ok(_) => false,
        Err(e @ Error::Locked { .. }) => {
            eprintln!("serve: welcome: {}; trying again in {} s", e.to_string().trim_end(), SWEEP.as_secs());
            true
        }
        Err(e) => {
            eprintln!("serve: welcome: {}", e.report().trim_end());
            true
        }
    }
}
