//! `send --due`: every ready issue whose time has come, each in its own send.

use super::{SendOptions, SendReport, gate, send_issue};
use crate::clock::Clock;
use crate::content::{Issue, Status};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::project::Project;
use crate::state::State;
use crate::state::journal::SendState;

/// `send --due`: the welcomes waiting ([`super::welcome::send_welcomes`]), then every ready
/// issue whose `send_at` has passed and whose send is not complete (except one never started
/// whose `send_at` is more than `sending.due-window` ago), then the catch-up of complete sends
/// of publications with `catch-up` ([`catch_ups`]). `allow` is `--allow`'s codes, for every issue.
pub fn send_due(project: &Project, allow: &[String], clock: &Clock, env: &Env) -> Result<Vec<SendReport>> {
    gate::validate_allow(allow)?;
    let mut first_error = None;
    let mut reports = super::welcome::send_welcomes(project, clock, env).unwrap_or_else(|e| {
        first_error = Some(e);
        Vec::new()
    });
    if let Some(Error::Locked { .. }) = first_error {
        // `serve` is sending welcomes (or a send runs): the issues below find the lock free,
        // or stop on it themselves.
        first_error = None;
    }
    match due_issues(project, allow, clock, env) {
        Ok(mut sent) => reports.append(&mut sent),
        Err(e) => return Err(first_error.unwrap_or(e)),
    }
    match catch_ups(project, allow, clock, env) {
        Ok(mut sent) => reports.append(&mut sent),
        Err(e) => return Err(first_error.unwrap_or(e)),
    }
    first_error.map_or(Ok(reports), Err)
}

/// The catch-up of every complete send whose publication has `catch-up` and whose window is
/// still open: only those with new subscribers are delivered.
fn catch_ups(project: &Project, allow: &[String], clock: &Clock, env: &Env) -> Result<Vec<SendReport>> {
    let Some(state) = State::open_configured_existing(&project.config.state, &project.root, env)? else {
        return Ok(Vec::new());
    };
    let records = state.sends()?;
    drop(state);
    let now = clock.now();
    let mut reports = Vec::new();
    for record in records.iter().filter(|r| r.state == SendState::Complete) {
        let Some(issue) = project.issues.iter().find(|i| i.id() == record.issue) else { continue };
        let Some(window) = super::catch_up::publication_window(project, issue)? else { continue };
        if record.started_at.checked_add(window).is_ok_and(|end| end < now) {
            continue;
        }
        let options = SendOptions { yes: true, allow: allow.to_vec(), ..SendOptions::default() };
        let report = super::catch_up::run(project, issue, window, &options, clock, env, true)?;
        if report.sent_now > 0 {
            reports.push(report);
        }
    }
    Ok(reports)
}

/// The ready issues whose time has come (see [`send_due`]).
fn due_issues(project: &Project, allow: &[String], clock: &Clock, env: &Env) -> Result<Vec<SendReport>> {
    let now = clock.now();
    let due: Vec<&Issue> = project
        .issues
        .iter()
        .filter(|i| i.front.status == Status::Ready && i.front.send_at.is_some_and(|at| at <= now))
        .collect();
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let store = crate::state::Store::from_config(&project.config.state, &project.root, env)?;
    let records = match State::open_store_existing(&store)? {
        Some(state) => state.sends()?,
        None => Vec::new(),
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
