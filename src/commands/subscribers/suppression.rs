//! The suppression commands: `unsubscribe`, `resubscribe` and `suppressions`, thin adapters over
//! [`crate::subscriptions`].

use std::fmt::Write as _;
use std::path::Path;

use super::super::write_stdout;
use super::{open_state, read_state};
use crate::address;
use crate::cli::{ReportFormat, SuppressionReason};
use crate::clock::Clock;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::project;
use crate::state::{Reason, Scope, Suppression};
use crate::subscriptions::{self, Actor, Resubscribed};

/// `letterpress unsubscribe <email> [--list] [--reason] [--note]`.
pub fn unsubscribe(
    root: &Path,
    email: &str,
    list: Option<&str>,
    reason: SuppressionReason,
    note: Option<&str>,
    clock: &Clock,
    env: &crate::env::Env,
) -> Result<()> {
    let config = project::load_config(root)?;
    let scope = scope(&config, list)?;
    let address = address::parse(email)?;
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if let Some(note) = note {
        crate::state::check_note(note)?;
    }
    let reason = match reason {
        SuppressionReason::Unsubscribed => Reason::Unsubscribed,
        SuppressionReason::Bounced => Reason::Bounced,
        SuppressionReason::Complained => Reason::Complained,
        SuppressionReason::Manual => Reason::Manual,
    };
    let state = open_state(root, &config, env)?;
    let new = subscriptions::unsubscribe(&state, &address, &scope, reason, "cli", note, clock.now())?;
    let what = describe(&scope);
    if new {
        eprintln!("`{address}` will not be mailed {what} again");
    } else {
        eprintln!("`{address}` was already suppressed {what}");
    }
    Ok(())
}

/// `letterpress resubscribe <email> [--list] [--force]`: the editor's resubscribe, by the rule in
/// [`subscriptions::outcome`].
pub fn resubscribe(root: &Path, email: &str, list: Option<&str>, force: bool, env: &crate::env::Env) -> Result<()> {
    let config = project::load_config(root)?;
    let scope = scope(&config, list)?;
    let address = address::parse(email)?;
    let lists: Vec<String> = config.lists.iter().map(|l| l.slug.clone()).collect();
    let done = match read_state(root, &config, env)? {
        Some(state) => subscriptions::resubscribe(&state, &address, &scope, Actor::Editor { force }, &lists)?,
        None => Resubscribed::default(),
    };
    let kept = |s: &Suppression| {
        format!(
            "`{address}` stays suppressed {} ({}, recorded {} from {}); a bounce or a complaint is lifted only by \
             `letterpress resubscribe {address} --force`, once the address is known to work and its owner wants the mail",
            describe(&s.scope),
            s.reason.as_str(),
            s.created_at,
            s.source
        )
    };
    if done.changed() == 0 {
        return Err(Error::usage(match done.kept.first() {
            Some(s) => kept(s),
            None => format!("`{address}` is not suppressed {}", describe(&scope)),
        }));
    }
    eprintln!("lifted {} suppression(s) of `{address}` {}", done.changed(), describe(&scope));
    if done.narrowed > 0 {
        eprintln!("note: a suppression on every list now covers every list but `{}`", scope.as_str());
    }
    for s in &done.kept {
        eprintln!("note: {}", kept(s));
    }
    Ok(())
}

fn scope(config: &Config, list: Option<&str>) -> Result<Scope> {
    match list {
        Some(name) => config.list_named(name).map(|l| Scope::List(l.slug.clone())),
        None => Ok(Scope::All),
    }
}

fn describe(scope: &Scope) -> String {
    match scope {
        Scope::All => "on any list".to_owned(),
        Scope::List(list) => format!("on `{list}`"),
    }
}

/// `letterpress suppressions [--format json]`.
pub fn suppressions(root: &Path, format: ReportFormat, env: &crate::env::Env) -> Result<()> {
    let config = project::load_config(root)?;
    let all = match read_state(root, &config, env)? {
        Some(state) => state.suppressions()?,
        None => Vec::new(),
    };
    let text = match format {
        ReportFormat::Json => format!("{:#}\n", serde_json::json!({ "suppressions": all })),
        ReportFormat::Text => all.iter().fold(String::new(), |mut out, s| {
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}{}",
                s.address,
                s.scope.as_str(),
                s.reason.as_str(),
                s.created_at,
                s.source,
                s.note.as_ref().map(|n| format!("\t{n}")).unwrap_or_default()
            );
            out
        }),
    };
    write_stdout(text.as_bytes())
}
