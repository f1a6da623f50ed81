//! Catch-up: an issue already sent goes to the subscribers who joined its lists since its send
//! started (`send <issue> --catch-up [WINDOW]`, and `send --due` for publications with
//! `catch-up: 7d`).
//!
//! Enters: a project, an issue with a send record, a window and the clock. Leaves: the members
//! of the issue's lists (the audience stream: suppressions and the audience filter applied)
//! whose `subscribed_at` is after the send's start and within the window of it, appended to the
//! send's journal — whose primary key keeps anyone already in it from a second row, so a second
//! copy — and delivered through the engine.

use jiff::{SignedDuration, Timestamp};

use super::welcome::{Record, deliver_pending};
use super::{SendOptions, SendReport, gate, lists_for, lock};
use crate::clock::Clock;
use crate::content::Issue;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::mail::{KeyUse, Signing};
use crate::project::Project;
use crate::state::journal::{NewRecipient, SendState};
use crate::state::{self, State};
use crate::subscribers::{Member, Members};

/// The window when neither `--catch-up` nor the publication names one.
const DEFAULT_WINDOW: SignedDuration = SignedDuration::from_hours(7 * 24);

/// `send <issue> --catch-up [window]` (`window` empty: the publication's `catch-up`, else
/// [`DEFAULT_WINDOW`]).
pub fn catch_up(
    project: &Project,
    issue: &Issue,
    window: &str,
    options: &SendOptions,
    clock: &Clock,
    env: &Env,
) -> Result<SendReport> {
    let window = match window.trim() {
        "" => publication_window(project, issue)?.unwrap_or(DEFAULT_WINDOW),
        written => parse_window(written)?,
    };
    run(project, issue, window, options, clock, env, false)
}

/// The publication's `catch-up` window, if set.
pub(super) fn publication_window(project: &Project, issue: &Issue) -> Result<Option<SignedDuration>> {
    let Some(publication) = project.config.publication(&issue.publication) else { return Ok(None) };
    publication.catch_up().transpose().map_err(|e| Error::usage(String::from(e)))
}

fn parse_window(written: &str) -> Result<SignedDuration> {
    let span: jiff::Span = written.parse().map_err(|_| {
        Error::usage(format!(
            "`--catch-up {written}` is not a duration; write e.g. `--catch-up 7d` or `--catch-up 48h`"
        ))
    })?;
    span.to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .ok()
        .filter(jiff::SignedDuration::is_positive)
        .ok_or_else(|| {
            Error::usage(format!("`--catch-up {written}` must be a positive number of days, hours or minutes"))
        })
}

/// Append the new subscribers within `window` of the send's start to its journal, then deliver
/// what is pending (nothing when nobody is: no connection). `quiet`: say nothing when nobody new.
#[allow(clippy::too_many_arguments, reason = "the send's inputs, as `send_issue` takes them, and the window")]
pub(super) fn run(
    project: &Project,
    issue: &Issue,
    window: SignedDuration,
    options: &SendOptions,
    clock: &Clock,
    env: &Env,
    quiet: bool,
) -> Result<SendReport> {
    let id = issue.id();
    let store = crate::state::Store::from_config(&project.config.state, &project.root, env)?;
    let not_sent = || Error::usage(format!("`{id}` has not been sent; `letterpress send {id}` sends it to everyone"));
    let state = State::open_store_existing(&store)?.ok_or_else(not_sent)?;
    let record = state.send_record(&id)?.ok_or_else(not_sent)?;
    if record.state == SendState::Cancelled {
        return Err(Error::usage(format!("the send of `{id}` was cancelled; nobody else gets this issue")));
    }
    drop(state);
    let checked = crate::check::issue(project, issue);
    gate::gate(project, &checked, &options.allow)?;
    let (lists, _) = lists_for(project, issue, options.list.as_deref())?;
    let _lock = lock::acquire_for(&store, &project.root.join(state::DIR))?;
    let Signing { keys, .. } = Signing::load(&project.root, &project.config, env, KeyUse::Send)?;
    let mut state = State::open_store(&store)?;
    let until = record.started_at.checked_add(window).unwrap_or(Timestamp::MAX).min(clock.now());
    let joined = |at: Option<Timestamp>| at.is_some_and(|at| at > record.started_at && at <= until);
    let mut members = Members::new(&lists, &state)?;
    let mut failure = None;
    let newcomers: Vec<NewRecipient> = members
        .by_ref()
        .filter_map(|member| match member {
            Ok(Member { subscriber: s, key, list }) if joined(s.subscribed_at) => Some(NewRecipient {
                address_key: key,
                token_id: Some(keys.token_id(&s.email)),
                // A few newcomers: their `inflight` marks store it.
                message_id: None,
                email: s.email,
                name: s.name,
                attrs: s.attrs,
                list: lists[list].slug.clone(),
            }),
            Ok(_) => None,
            Err(e) => {
                failure.get_or_insert(e);
                None
            }
        })
        .collect();
    if let Some(e) = failure {
        return Err(e);
    }
    let added = state.add_recipients(&id, newcomers.into_iter(), clock.now())?;
    if added > 0 || !quiet {
        eprintln!("catch-up of `{id}`: {added} new subscribers who joined between {} and {until}", record.started_at);
    }
    let counts = state.counts(&id)?;
    if counts.pending + counts.deferred == 0 {
        // Nobody to send to: no connection to the relay, the send record as it was.
        return Ok(SendReport { counts, complete: record.state == SendState::Complete, ..SendReport::empty(issue) });
    }
    drop(state);
    let record = Record::Check { allow_changed: options.allow_changed };
    deliver_pending(project, &checked, &lists, (&id, record), clock, env)
}
