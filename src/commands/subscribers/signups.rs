//! `subscribers list`, `remove` and `pull` where the store's sign-ups meet the CSV file, and the
//! sign-ups' share of `subscribers count`.

use std::collections::HashSet;
use std::path::Path;

use super::{open_state, read_state, write_csv};
use crate::clock::Clock;
use crate::config::{Config, List};
use crate::error::Result;
use crate::state::State;
use crate::subscribers::{self, COLUMNS, read_list};
use crate::subscriptions;

/// The columns to print a list under: its file's, or the standard ones when it has no file yet
/// but has sign-ups.
pub(super) fn columns(path: &Path, shown: &Path, state: Option<&State>, list: &str) -> Result<Vec<String>> {
    if !path.exists() && state.is_some_and(|s| s.unpulled_signups(list).is_ok_and(|s| !s.is_empty())) {
        return Ok(COLUMNS.iter().map(|c| (*c).to_owned()).collect());
    }
    Ok(read_list(path, shown)?.columns().to_vec())
}

/// The sign-ups of `list` that are members on their own (not pulled, not overruled by the CSV).
fn members(root: &Path, state: Option<&State>, list: &List) -> Result<Vec<subscribers::Subscriber>> {
    let Some(state) = state else { return Ok(Vec::new()) };
    let signups = state.unpulled_signups(&list.slug)?;
    if signups.is_empty() {
        return Ok(Vec::new());
    }
    let shown = list.csv_path();
    Ok(subscribers::signups::scan(&root.join(&shown), &shown, &signups)?.members)
}

/// `subscribers list <list>`: every valid row of the file, streamed, then the sign-ups that are
/// members on their own.
pub(super) fn print_list(root: &Path, config: &Config, list: &List, env: &crate::env::Env) -> Result<()> {
    let shown = list.csv_path();
    let path = root.join(&shown);
    let state = read_state(root, config, env)?;
    let signed_up = members(root, state.as_ref(), list)?;
    let columns = columns(&path, &shown, state.as_ref(), &list.slug)?;
    if !path.exists() && !signed_up.is_empty() {
        return write_csv(&columns, signed_up.into_iter().map(Ok));
    }
    let mut reader = read_list(&path, &shown)?;
    write_csv(&columns, reader.by_ref().filter_map(std::result::Result::ok).chain(signed_up).map(Ok))?;
    reader.finish()
}

/// The sign-ups' share of a list's counts.
#[derive(Debug, Default)]
pub(super) struct Counted {
    pub rows: usize,
    pub active: usize,
    pub suppressed: usize,
}

/// Count the sign-ups of `list` that are members on their own: as rows, and as active or
/// suppressed (`suppressed`: the keys suppressed for the list).
pub(super) fn count(root: &Path, state: Option<&State>, list: &List, suppressed: &HashSet<String>) -> Result<Counted> {
    let mut counted = Counted::default();
    for member in members(root, state, list)? {
        counted.rows += 1;
        if suppressed.contains(&subscribers::address_key(&member.email)) {
            counted.suppressed += 1;
        } else {
            counted.active += 1;
        }
    }
    Ok(counted)
}

/// `subscribers remove <list> <email>`: its rows in the file and its sign-up in the store.
pub(super) fn remove(root: &Path, config: &Config, list: &List, email: &str, env: &crate::env::Env) -> Result<()> {
    let shown = list.csv_path();
    let state = read_state(root, config, env)?;
    let removed = subscriptions::remove(state.as_ref(), &root.join(&shown), &shown, &list.slug, email)?;
    if !removed.lines.is_empty() {
        let at: Vec<String> = removed.lines.iter().map(ToString::to_string).collect();
        eprintln!("removed `{}` from `{}` (was line {})", email.trim(), list.slug, at.join(", "));
    }
    if removed.signup {
        eprintln!("removed the sign-up of `{}` to `{}` from the state store", email.trim(), list.slug);
    }
    Ok(())
}

/// `subscribers pull <list>`.
pub(super) fn pull(root: &Path, config: &Config, list: &List, clock: &Clock, env: &crate::env::Env) -> Result<()> {
    let shown = list.csv_path();
    let state = open_state(root, config, env)?;
    let pulled = subscriptions::pull(&state, &root.join(&shown), &shown, &list.slug, clock.now())?;
    for (row, done) in &pulled.written {
        let (verb, line) = match done {
            subscribers::Appended::Added { line } => ("added", line),
            subscribers::Appended::Updated { line } => ("reactivated", line),
            subscribers::Appended::AlreadyListed { line } => ("already listed", line),
            subscribers::Appended::KeptBounced { line } => ("kept bounced", line),
        };
        eprintln!("{verb} `{}` ({}:{line})", row.email, shown.display());
    }
    eprintln!(
        "pulled {} sign-ups into `{}`: {} rows written, {} already as the list says",
        pulled.marked,
        shown.display(),
        pulled.written.len(),
        pulled.marked.saturating_sub(pulled.written.len())
    );
    Ok(())
}
