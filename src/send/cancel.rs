//! Cancelling a send: `send <issue> --cancel`.
//!
//! Enters: the project, the issue, whether `--yes` was given, and the clock. Leaves: the send
//! record `cancelled` (its `pending` and `deferred` rows are never sent: `send` refuses the
//! issue and `send --due` skips it), or why not: another send holds the lock, the send never
//! started, or it is complete.

use crate::clock::Clock;
use crate::content::Issue;
use crate::error::{Error, Result};
use crate::project::Project;
use crate::state::State;
use crate::state::journal::SendState;

/// Cancel `issue`'s stopped, or running but dead, send.
pub fn cancel(project: &Project, issue: &Issue, yes: bool, clock: &Clock, env: &crate::env::Env) -> Result<()> {
    let id = issue.id();
    let state_dir = project.root.join(crate::state::DIR);
    // A live run holds the lock: it must stop (SIGTERM) before its send can be cancelled.
    let store = crate::state::Store::from_config(&project.config.state, &project.root, env)?;
    let _lock = super::lock::acquire_for(&store, &state_dir)?;
    let record = match State::open_store_existing(&store)? {
        Some(state) => state.send_record(&id)?,
        None => None,
    };
    let Some(record) = record else {
        return Err(Error::usage(format!(
            "`{id}` has no send to cancel: it never started. To keep `send --due` from starting it, set `status: draft`"
        )));
    };
    match record.state {
        SendState::Complete => {
            return Err(Error::usage(format!(
                "the send of `{id}` is complete: every recipient was dealt with, there is nothing to cancel"
            )));
        }
        SendState::Cancelled => {
            eprintln!("the send of `{id}` was already cancelled: {}", record.note.unwrap_or_default());
            return Ok(());
        }
        SendState::Running | SendState::Stopped => {}
    }
    let state = State::open_store(&store)?;
    let counts = state.counts(&id)?;
    let left = format!(
        "{} pending and {} deferred recipients will never be sent ({} sent already)",
        counts.pending, counts.deferred, counts.sent
    );
    eprintln!("cancelling the {} send of `{id}`: {left}", record.state.as_str());
    confirm(yes)?;
    let note = format!("cancelled on {}: {left}", clock.now().strftime("%Y-%m-%d %H:%M UTC"));
    state.cancel_send(&id, &note, clock.now())?;
    eprintln!("`{id}`: cancelled");
    Ok(())
}

fn confirm(yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(Error::usage("not on a terminal: pass `--yes` to cancel without confirmation"));
    }
    eprint!("cancel it? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| Error::io("read", std::path::Path::new("<stdin>"), e))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") { Ok(()) } else { Err(Error::usage("not cancelled")) }
}
