//! Sending an issue: audience into the journal, messages out through the transport, every
//! recipient accounted for.
//!
//! Enters: a loaded [`Project`], the issue, [`SendOptions`] and the clock. Leaves: a
//! [`SendReport`] (counts from the journal, elapsed time, rate), or an error: the issue fails
//! `check`, another send holds the lock, the relay refused us, or the content changed since the
//! send began, or SIGTERM / SIGINT stopped the run (after the messages in flight finished). See
//! `docs/sending.md` for the state machine and the guarantees.

mod actor;
pub mod cancel;
mod engine;
pub mod gate;
pub mod lock;
mod pace;
mod progress;
pub mod retry;
mod signal;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::clock::Clock;
use crate::compose::{ComposeOptions, MessageTemplate, Recipient};
use crate::content::{Issue, Status};
use crate::diagnostic;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::mail::{
    Configured, ConnectError, Connection as _, KeyUse, Outbound, Outcome, Signing, Stage, Transport as _,
};
use crate::project::Project;
use crate::state::State;
use crate::state::journal::{Counts, NewRecipient, SendState};
use crate::subscribers::{ListFile, Member, Members, read_list};
use crate::token::Keys;

/// What the command line asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools, reason = "each is a command-line flag")]
pub struct SendOptions {
    /// Do not ask for confirmation.
    pub yes: bool,
    /// Render and validate every message, deliver nothing.
    pub dry_run: bool,
    /// Send `[TEST]` copies to these addresses only (not journaled).
    pub test: Vec<String>,
    /// Only this list of the issue's lists.
    pub list: Option<String>,
    /// Send a draft.
    pub force: bool,
    /// Resume although the content changed since the send began.
    pub allow_changed: bool,
    /// Send again to recipients recorded `uncertain`.
    pub resend_uncertain: bool,
    /// Diagnostic codes that may not block this run (`--allow`).
    pub allow: Vec<String>,
}

/// The outcome of one send run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendReport {
    /// `publication/slug`.
    pub issue: String,
    /// Journal counts after the run.
    pub counts: Counts,
    /// Sent in this run.
    pub sent_now: usize,
    /// Addresses suppressed after a permanent bounce in this run.
    pub bounced_now: usize,
    /// Wall time of the delivery phase, in milliseconds.
    pub elapsed_ms: u128,
    /// Whether every recipient is in a final state.
    pub complete: bool,
}

impl SendReport {
    /// The one-line summary printed at the end of a send.
    pub fn summary(&self) -> String {
        let c = &self.counts;
        let seconds = (self.elapsed_ms as f64 / 1000.0).max(0.001);
        format!(
            "{}: {} sent, {} failed, {} deferred, {} pending, {} uncertain, {} suppressed of {} — {} this run in {:.1} s ({:.0} msg/s)",
            self.issue,
            c.sent,
            c.failed,
            c.deferred,
            c.pending,
            c.uncertain,
            c.suppressed,
            c.total,
            self.sent_now,
            seconds,
            self.sent_now as f64 / seconds
        )
    }
}

/// Send (or resume) an issue to its audience.
pub fn send_issue(
    project: &Project,
    issue: &Issue,
    options: &SendOptions,
    clock: &Clock,
    env: &Env,
) -> Result<SendReport> {
    if issue.front.status == Status::Draft && !options.force {
        return Err(Error::usage(format!("`{}` is a draft; set `status: ready` or pass `--force`", issue.id())));
    }
    gate::validate_allow(&options.allow)?;
    // The one render of the issue: the gate judges it, the message template is made from it.
    let checked = crate::check::issue(project, issue);
    gate::gate(project, &checked, &options.allow)?;
    let (lists, left_out) = lists_for(project, issue, options.list.as_deref())?;
    let state_path = project.root.join(project.config.state.db_path());
    let shown = project.config.state.db_path();
    let state_dir = project.root.join(crate::state::DIR);
    if options.dry_run {
        // A dry run creates no state: no key file, no store.
        return dry_run(project, &checked, &lists, clock, env).map(|()| SendReport::empty(issue));
    }
    let Outbound { signing, transport } =
        Outbound::load(&project.root, &project.config, env, KeyUse::Send, &outbox_sub(issue))?;
    let keys = signing.keys.clone();
    let template = Arc::new(template(project, &checked, &lists, signing, clock, !options.test.is_empty())?);
    if !options.test.is_empty() {
        return test_send(&project.root, &template, &transport, &options.test).map(|()| SendReport::empty(issue));
    }
    let _lock = lock::acquire(&state_dir)?;
    let mut state = State::open(&state_path, &shown)?;
    let id = issue.id();
    let previous = state.send_record(&id)?;
    if let Some(cancelled) = previous.as_ref().filter(|r| r.state == SendState::Cancelled) {
        return Err(Error::usage(format!(
            "the send of `{id}` was cancelled ({}); nobody else gets this issue",
            cancelled.note.as_deref().unwrap_or("by hand")
        )));
    }
    if let Some(previous) = previous
        && previous.content_hash != template.content_hash()
        && !options.allow_changed
    {
        return Err(Error::usage(format!(
            "`{id}` changed since its send began on {}; resuming would send two versions. Use `--allow-changed` to send the new version to the rest",
            previous.started_at
        )));
    }
    let skipped = prepare(&mut state, &id, &lists, &keys, clock)?;
    let recovered = state.recover(&id, options.resend_uncertain, clock.now())?;
    if recovered.uncertain > 0 {
        eprintln!(
            "{} recipients were in flight when a previous run stopped: recorded as uncertain (see `letterpress status {id}`; `--resend-uncertain` sends to them again)",
            recovered.uncertain
        );
    }
    confirm(&state, &id, &template, options.yes, skipped)?;
    state.start_send(&id, template.content_hash(), clock.now(), options.allow_changed)?;
    let run = Delivery { template, transport, only_list: options.list.clone(), left_out };
    deliver(project, state, &id, run, clock, &state_path)
}

impl SendReport {
    fn empty(issue: &Issue) -> Self {
        Self {
            issue: issue.id(),
            counts: Counts::default(),
            sent_now: 0,
            bounced_now: 0,
            elapsed_ms: 0,
            complete: true,
        }
    }
}

/// `send --due`: every ready issue whose `send_at` has passed and whose send is not complete,
/// except one never started whose `send_at` is more than `sending.due-window` ago.
/// `allow` is `--allow`'s codes, for every issue.
pub fn send_due(project: &Project, allow: &[String], clock: &Clock, env: &Env) -> Result<Vec<SendReport>> {
    gate::validate_allow(allow)?;
    let now = clock.now();
    let due: Vec<&Issue> = project
        .issues
        .iter()
        .filter(|i| i.front.status == Status::Ready && i.front.send_at.is_some_and(|at| at <= now))
        .collect();
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let state_path = project.root.join(project.config.state.db_path());
    let records = if state_path.exists() {
        State::open(&state_path, &project.config.state.db_path())?.sends()?
    } else {
        Vec::new()
    };
    let window = project.config.sending.due_window().map_err(Error::usage)?;
    let mut reports = Vec::new();
    let mut first_error = None;
    for issue in due {
        let record = records.iter().find(|r| r.issue == issue.id());
        if record.is_some_and(|r| matches!(r.state, SendState::Complete | SendState::Cancelled)) {
            continue;
        }
        if record.is_none() && too_late(issue, now, window) {
            continue;
        }
        let options = SendOptions { yes: true, allow: allow.to_vec(), ..SendOptions::default() };
        match send_issue(project, issue, &options, clock, env) {
            Ok(report) => reports.push(report),
            // Another run holds the lock: it will see to every issue; stop now.
            Err(e @ Error::Locked { .. }) => return Err(e),
            // One issue's trouble must not hold back the others on every cron tick.
            Err(e @ Error::Blocked { .. }) => {
                eprintln!("skipped: {e}");
                first_error.get_or_insert(e);
            }
            Err(e) => {
                eprintln!("{}: {}", issue.id(), e.to_string().trim_end());
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        None => Ok(reports),
        // Its line is logged above, with every other issue's: exit 1 without repeating it.
        Some(Error::Blocked { .. }) => Err(Error::reported()),
        Some(e) => Err(e),
    }
}

/// Whether an issue whose send never started is due so long ago that `--due` must not start it
/// (a restored backup or a forgotten `status: ready` would otherwise mail a stale issue, as
/// listmonk #1801 did); warns when so.
fn too_late(issue: &Issue, now: jiff::Timestamp, window: jiff::SignedDuration) -> bool {
    let Some(at) = issue.front.send_at else { return false };
    if now.duration_since(at) <= window {
        return false;
    }
    eprintln!(
        "warning: `{id}` was due at {at}, more than `due-window` ({window:#}) ago, and its send never started: not sending it\n  = help: send it by hand with `letterpress send {id}`, or raise `sending.due-window` in letterpress.yaml",
        id = issue.id(),
    );
    true
}

/// The issue's list files, restricted to `only` when given, and the slugs of the issue's lists
/// that restriction leaves out.
fn lists_for(project: &Project, issue: &Issue, only: Option<&str>) -> Result<(Vec<ListFile>, Vec<String>)> {
    let (lists, left_out): (Vec<ListFile>, Vec<ListFile>) =
        project.lists_of(issue)?.into_iter().partition(|l| only.is_none_or(|only| l.slug == only));
    if let Some(only) = only
        && lists.is_empty()
    {
        return Err(Error::usage(format!("`{}` does not go to list `{only}`", issue.id())));
    }
    Ok((lists, left_out.into_iter().map(|l| l.slug).collect()))
}

fn template(
    project: &Project,
    checked: &crate::check::CheckedIssue,
    lists: &[ListFile],
    signing: Signing,
    clock: &Clock,
    test: bool,
) -> Result<MessageTemplate> {
    let mut attr_columns: Vec<String> = Vec::new();
    for list in lists {
        let reader = read_list(&list.path, &list.shown)?;
        for column in reader.columns() {
            if !crate::subscribers::COLUMNS.contains(&column.as_str()) && !attr_columns.contains(column) {
                attr_columns.push(column.clone());
            }
        }
    }
    let Signing { keys, dkim } = signing;
    MessageTemplate::new(project, checked, ComposeOptions { date: clock.now(), keys, dkim, attr_columns, test })
}

/// The folder of the outbox an issue's messages go to.
fn outbox_sub(issue: &Issue) -> PathBuf {
    Path::new(&issue.publication).join(&issue.slug)
}

/// Put every current audience member into the journal (new ones only); returns how many rows
/// were skipped (suppressed or not active) for the confirmation. Streams: memory does not grow
/// with the lists.
fn prepare(state: &mut State, issue: &str, lists: &[ListFile], keys: &Keys, clock: &Clock) -> Result<usize> {
    let mut members = Members::new(lists, state)?;
    let mut failure = None;
    let recipients = members.by_ref().map_while(|member| match member {
        Ok(Member { subscriber: s, key, list }) => Some(NewRecipient {
            address_key: key,
            token_id: Some(keys.token_id(&s.email)),
            email: s.email,
            name: s.name,
            attrs: s.attrs,
            list: lists[list].slug.clone(),
        }),
        Err(e) => {
            failure = Some(e);
            None
        }
    });
    state.add_recipients(issue, recipients, clock.now())?;
    if let Some(e) = failure {
        return Err(e);
    }
    let (counts, problems) = members.finish();
    if !problems.is_empty() {
        eprint!("{}", diagnostic::render_all(&problems));
        eprintln!("those rows are left out of this send");
    }
    Ok(counts.iter().map(|c| c.rows - c.invalid - c.recipients).sum())
}

fn confirm(state: &State, issue: &str, template: &MessageTemplate, yes: bool, skipped: usize) -> Result<()> {
    let counts = state.counts(issue)?;
    let todo = counts.pending + counts.deferred;
    eprintln!(
        "`{}` to {} recipients: {} to send, {} already sent, {} failed, {} uncertain ({skipped} rows not active or suppressed)",
        template.subject(),
        counts.total,
        todo,
        counts.sent,
        counts.failed,
        counts.uncertain
    );
    if yes || todo == 0 {
        return Ok(());
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(Error::usage("not on a terminal: pass `--yes` to send without confirmation"));
    }
    eprint!("send now? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| Error::io("read", Path::new("<stdin>"), e))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") { Ok(()) } else { Err(Error::usage("not sent")) }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start the sender's runtime in", Path::new("."), e))
}

/// What one run delivers, and how.
struct Delivery {
    template: Arc<MessageTemplate>,
    transport: Configured,
    only_list: Option<String>,
    /// The issue's lists a `--list` run leaves out: the send cannot be complete after it.
    left_out: Vec<String>,
}

fn deliver(
    project: &Project,
    state: State,
    id: &str,
    run: Delivery,
    clock: &Clock,
    state_path: &Path,
) -> Result<SendReport> {
    let sending = &project.config.sending;
    let runtime = runtime()?;
    let Delivery { template, transport, only_list, left_out } = run;
    let transport = Arc::new(transport);
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
    let shared = Arc::new(engine::Shared::new(sending.rate, sending.circuit_breaker));
    let settings = engine::Settings {
        concurrency: if transport.writes_files() { 1 } else { sending.concurrency },
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

/// What keeps a send from being complete after a run that was not stopped: recipients still
/// to send, or lists a `--list` run left out. `None`: the send is complete.
fn remains(counts: &Counts, only_list: Option<&str>, left_out: &[String]) -> Option<String> {
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

/// `--dry-run`: compose every message, deliver none, report counts and sizes.
fn dry_run(
    project: &Project,
    checked: &crate::check::CheckedIssue,
    lists: &[ListFile],
    clock: &Clock,
    env: &Env,
) -> Result<()> {
    let issue = &checked.issue;
    // What the real send would refuse before connecting (the relay's URL, the password
    // variable, the CA file), refused here too, in the same words.
    let Outbound { signing, .. } =
        Outbound::load(&project.root, &project.config, env, KeyUse::Throwaway, &outbox_sub(issue))?;
    let template = template(project, checked, lists, signing, clock, false)?;
    let state =
        State::open_existing(&project.root.join(project.config.state.db_path()), &project.config.state.db_path())?;
    let mut recipients = Members::against(lists, state.as_ref())?.one_per_address();
    let (mut messages, mut bytes, mut largest) = (0usize, 0usize, 0usize);
    let mut buffer = Vec::new();
    for recipient in recipients.by_ref() {
        let Member { subscriber: s, list, .. } = recipient?;
        template.compose(
            &Recipient { email: &s.email, name: &s.name, attrs: &s.attrs, list: &lists[list].slug },
            &mut buffer,
        )?;
        messages += 1;
        bytes += buffer.len();
        largest = largest.max(buffer.len());
    }
    let (counts, _, _) = recipients.finish();
    let duplicates: usize = counts.iter().map(|c| c.duplicates).sum();
    let skipped: usize = counts.iter().map(|c| c.rows - c.invalid - c.active + c.suppressed).sum();
    eprintln!(
        "dry run of `{}`: {messages} messages composed ({} KB on average, largest {} KB), {duplicates} duplicates folded, {skipped} not active or suppressed; nothing was sent",
        issue.id(),
        bytes / messages.max(1) / 1024,
        largest / 1024
    );
    Ok(())
}

/// `--test <addr>…`: `[TEST]` copies to these addresses, not journaled.
fn test_send(root: &Path, template: &MessageTemplate, transport: &Configured, addresses: &[String]) -> Result<()> {
    let runtime = runtime()?;
    // The outbox directory as the editor would type it.
    let outbox = transport.outbox().map(|dir| dir.strip_prefix(root).unwrap_or(dir));
    runtime.block_on(async {
        let mut connection = transport.connect().await.map_err(|e| Error::sender(e.to_string()))?;
        let mut buffer = Vec::new();
        let none = std::collections::BTreeMap::new();
        for address in addresses {
            let email = crate::address::parse(address)?;
            template.compose(&Recipient { email: &email, name: "", attrs: &none, list: "test" }, &mut buffer)?;
            match connection
                .send(template.envelope_from(), &email, &buffer, &format!("test-{}", email.replace('@', "_at_")))
                .await
            {
                Outcome::Replied { stage: Stage::EndOfData, .. } if outbox.is_some() => {
                    let dir = outbox.unwrap_or(Path::new("outbox"));
                    eprintln!(
                        "test copy for `{email}` written to the outbox `{}`; no SMTP relay is configured, so nobody was mailed (set `LETTERPRESS_SMTP_URL`, or `transport: smtp`, to mail it)",
                        dir.display()
                    );
                }
                Outcome::Replied { reply, stage: Stage::EndOfData } if reply.is_positive() => {
                    eprintln!("test copy sent to `{email}`: {}", reply.summary());
                }
                Outcome::Replied { reply, .. } => {
                    return Err(Error::sender(format!("test copy to `{email}` refused: {}", reply.summary())));
                }
                Outcome::Lost { error, .. } => {
                    return Err(Error::sender(format!("test copy to `{email}` failed: {error}")));
                }
            }
        }
        connection.close().await;
        Ok(())
    })
}
