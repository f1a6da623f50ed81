//! Sending an issue: audience into the journal, messages out through the transport, every
//! recipient accounted for.
//!
//! Enters: a loaded [`Project`], the issue, [`SendOptions`] and the clock. Leaves: a
//! [`SendReport`] (counts from the journal, elapsed time, rate), or an error: the issue fails
//! `check`, another send holds the lock, the relay refused us, or the content changed since the
//! send began, or SIGTERM / SIGINT stopped the run (after the messages in flight finished). See
//! `docs/sending.md` for the state machine and the guarantees.

mod actor;
mod breaker;
mod budget;
pub mod catch_up;
mod copies;
mod due;
mod run;
use copies::{dry_run, test_send};
pub use due::send_due;
use run::{Delivery, deliver, relay_was_dead};
pub mod cancel;
mod engine;
pub mod gate;
pub mod lock;
mod pace;
mod progress;
mod relays;
pub mod retry;
mod sign_pool;
mod signal;
pub mod welcome;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::clock::Clock;
use crate::compose::{ComposeOptions, MessageTemplate};
use crate::content::{Issue, Status};
use crate::diagnostic;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::mail::{KeyUse, Outbound, Signing};
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
    /// `--catch-up [WINDOW]`: send to those who joined since the send started (an empty
    /// window: the publication's `catch-up`, else 7 days).
    pub catch_up: Option<String>,
    /// `--retry-failed`: failed rows that were not bounces go back to pending first.
    pub retry_failed: bool,
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
    let store = crate::state::Store::from_config(&project.config.state, &project.root, env)?;
    let state_path = store.path();
    let state_dir = project.root.join(crate::state::DIR);
    if options.dry_run {
        // A dry run creates no state: no key file, no store.
        return dry_run(project, &checked, &lists, clock, env).map(|()| SendReport::empty(issue));
    }
    let Outbound { signing, transport, pool } =
        Outbound::load(&project.root, &project.config, env, KeyUse::Send, &outbox_sub(issue))?;
    let domain = from_domain_of(project, issue);
    let relays = pool.for_domain(domain.as_deref())?;
    let transport = match pool.single(domain.as_deref()) {
        Ok(relay) => relay.transport,
        Err(_) => transport,
    };
    let keys = signing.keys.clone();
    let mut template = template(project, &checked, &lists, signing, clock, !options.test.is_empty())?;
    if !options.test.is_empty() {
        run::spend_for_tests(project, from_domain_of(project, issue).as_deref(), options.test.len(), clock, env)?;
        return test_send(&project.root, &template, &transport, &options.test).map(|()| SendReport::empty(issue));
    }
    let mut lock = lock::acquire_sender(&store, &state_dir)?;
    let mut state = State::open_store(&store)?;
    state.check_shared_keys(&keys.fingerprints(), clock.now())?;
    let id = issue.id();
    let previous = state.send_record(&id)?;
    if lock.role() == lock::Role::Sharing {
        // Another sender set this send up and is sending it (PostgreSQL): join it, or, for
        // another issue or other content, leave it to finish as a second `send` always did.
        let running = previous.as_ref().is_some_and(|r| {
            r.state == SendState::Running && r.content_hash == template.content_hash() && options.list.is_none()
        });
        if !running || options.retry_failed || options.resend_uncertain {
            return Err(lock::locked(&store));
        }
        eprintln!("joining the senders of `{id}`");
        return join(project, state, &id, (template, &checked), (relays, left_out), clock, &state_path, lock);
    }
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
    if options.retry_failed {
        let requeued = state.retry_failed(&id, clock.now())?;
        eprintln!("{requeued} failed recipients (not bounced, not suppressed) are pending again");
    }
    let skipped = prepare(&mut state, &id, &lists, (&keys, &template), clock)?;
    if let Some(blocks) = template.blocks() {
        // Every journal row's edition (regional blocks), rendered before the first message.
        let sets = crate::editions::journal_sets(&state, &id, blocks)?;
        template.add_editions(project, &checked, sets)?;
    }
    let recovered = state.recover(&id, options.resend_uncertain, clock.now())?;
    if recovered.uncertain > 0 {
        eprintln!(
            "{} recipients were in flight when a previous run stopped: recorded as uncertain (see `letterpress status {id}`; `--resend-uncertain` sends to them again)",
            recovered.uncertain
        );
    }
    confirm(&state, &id, &template, options.yes, skipped)?;
    let careful = relay_was_dead(&state)?;
    state.start_send(&id, template.content_hash(), clock.now(), options.allow_changed)?;
    record_click_links(&state, &id, &template, clock)?;
    // Set up: other senders (PostgreSQL) may join from here.
    lock.share()?;
    warn_about_relays(project);
    let run = Delivery { template: Arc::new(template), relays, only_list: options.list.clone(), left_out, careful };
    deliver(project, state, &id, run, clock, &state_path, Some(&mut lock))
}

/// Send a share of `id`, set up and running under another sender: no audience, no recovery.
#[allow(clippy::too_many_arguments, reason = "the parts of `send_issue` a joining sender uses")]
fn join(
    project: &Project,
    state: State,
    id: &str,
    (mut template, checked): (MessageTemplate, &crate::checked::CheckedIssue),
    (relays, left_out): (Vec<crate::mail::PoolRelay>, Vec<String>),
    clock: &Clock,
    state_path: &std::path::Path,
    mut lock: lock::SendLock,
) -> Result<SendReport> {
    if let Some(blocks) = template.blocks() {
        let sets = crate::editions::journal_sets(&state, id, blocks)?;
        template.add_editions(project, checked, sets)?;
    }
    // The editions this sender prepared may link where the others' do not.
    record_click_links(&state, id, &template, clock)?;
    let careful = relay_was_dead(&state)?;
    let run = Delivery { template: Arc::new(template), relays, only_list: None, left_out, careful };
    deliver(project, state, id, run, clock, state_path, Some(&mut lock))
}

/// With clicks on, record the link table of the editions `template` has prepared, for `serve`
/// (a link already recorded keeps its first record): by the sender that sets the send up and by
/// each one that joins it.
fn record_click_links(state: &State, id: &str, template: &MessageTemplate, clock: &Clock) -> Result<()> {
    let Some((key, links)) = template.click_links() else { return Ok(()) };
    let rows = links.iter().map(|l| (l.index, l.url.as_str(), l.text.as_str()));
    state.record_click_links(id, &key.hex(), rows, clock.now())
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
    checked: &crate::checked::CheckedIssue,
    lists: &[ListFile],
    signing: Signing,
    clock: &Clock,
    test: bool,
) -> Result<MessageTemplate> {
    let mut attr_columns: Vec<String> = Vec::new();
    // A list with only sign-ups has no file yet (and no attribute columns); a list with neither
    // is refused when its members are read.
    for list in lists.iter().filter(|l| l.path.exists()) {
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
/// were skipped (suppressed or not active; rows outside the audience filter are not) for the confirmation. Streams: memory does not grow
/// with the lists.
fn prepare(
    state: &mut State,
    issue: &str,
    lists: &[ListFile],
    (keys, template): (&Keys, &MessageTemplate),
    clock: &Clock,
) -> Result<usize> {
    let mut members = Members::new(lists, state)?;
    let mut failure = None;
    let recipients = members.by_ref().map_while(|member| match member {
        Ok(Member { subscriber: s, key, list }) => Some(NewRecipient {
            token_id: Some(keys.token_id(&s.email)),
            message_id: Some(template.message_id(&key)),
            address_key: key,
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
    // Rows outside the issue's audience filter are not "not active or suppressed": left out.
    Ok(counts.iter().map(|c| c.rows - c.invalid - c.recipients - c.outside.unwrap_or(0)).sum())
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

/// The domain of the issue's publication's `From`, which picks the relays that carry it.
fn from_domain_of(project: &Project, issue: &Issue) -> Option<String> {
    project.config.publication(&issue.publication).and_then(|p| crate::config::from_domain(&p.from))
}

/// Print the warnings about `sending.relays` (a `from-domains` entry no publication uses).
fn warn_about_relays(project: &Project) {
    let warnings = project.config.relay_warnings_in(&project.root);
    if !warnings.is_empty() {
        eprint!("{}", diagnostic::render_all(&warnings));
    }
}
