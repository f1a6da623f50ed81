//! `subscribers import`: an export's rows into a list, its unsubscribed and bounced addresses
//! into the suppressions, suppressed addresses skipped unless `--resubscribe` (which lifts an
//! unsubscribe or a block by hand, never a bounce or a complaint: [`crate::subscriptions`]).

use std::path::Path;

use super::{open_state, read_state};
use crate::clock::Clock;
use crate::config::{Config, List};
use crate::error::Result;
use crate::state::Scope;
use crate::subscribers::{self, Appended, Subscriber, Upsert, normalise_address, read_export, read_list};
use crate::subscriptions::{self, Actor, Admission};

/// What an import did, for the report.
#[derive(Debug, Default)]
struct ImportReport {
    imported: usize,
    updated: usize,
    unchanged: usize,
    invalid: Vec<(usize, String)>,
    suppressed: Vec<(usize, String)>,
    blocked: Vec<(usize, String, &'static str)>,
    recorded_unsubscribed: usize,
    resubscribed: usize,
    kept_bounced: usize,
}

#[allow(clippy::too_many_arguments, reason = "the command's arguments, and the environment naming the store")]
pub(super) fn import(
    root: &Path,
    config: &Config,
    list: &List,
    file: &Path,
    resubscribe: bool,
    clock: &Clock,
    welcome: bool,
    env: &crate::env::Env,
) -> Result<usize> {
    let shown = list.csv_path();
    let list_path = root.join(&shown);
    let columns: Option<Vec<String>> = read_list(&list_path, &shown).ok().map(|r| r.columns().to_vec());
    let attrs: Vec<String> =
        columns.iter().flatten().filter(|c| !subscribers::COLUMNS.contains(&c.as_str())).cloned().collect();
    let export = read_export(file, file, &attrs)?;
    let export_dated = export.rows.iter().any(|r| matches!(r.subscribed_at, Ok(Some(_))));
    let state = read_state(root, config, env)?;
    let mut report = ImportReport::default();
    let mut rows = Vec::new();
    let (mut to_suppress, mut to_lift) = (Vec::new(), Vec::new());
    let source = format!("import:{}", file.display());
    let mut seen = std::collections::HashSet::new();
    for row in export.rows {
        let email = match row.email.and_then(|e| normalise_address(&e)) {
            Ok(email) => email,
            Err(why) => {
                report.invalid.push((row.line, why));
                continue;
            }
        };
        let bad = std::iter::once(("name", row.name.as_str()))
            .chain(row.attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .find_map(|(column, value)| subscribers::unwritable(column, value).map(|why| (column, why)));
        if let Some((column, why)) = bad {
            report.invalid.push((row.line, format!("the value of `{column}` {why}")));
            continue;
        }
        // The first occurrence of an address in the export wins: a later one neither updates
        // its row nor records a suppression for it.
        if !seen.insert(subscribers::address_key(&email)) {
            report.unchanged += 1;
            continue;
        }
        if let Some(reason) = subscriptions::import_suppression(row.status, row.complained) {
            to_suppress.push((email, reason));
            continue;
        }
        // An unreadable time is a row to fix, never replaced by the time of the import.
        let subscribed_at = match row.subscribed_at {
            Ok(time) => time,
            Err(why) => {
                report.invalid.push((row.line, why));
                continue;
            }
        };
        match subscriptions::admit(state.as_ref(), &email, &list.slug, Actor::Import, resubscribe)? {
            Admission::Allowed => {}
            Admission::Lift => to_lift.push(email.clone()),
            Admission::Refused(None) => {
                report.suppressed.push((row.line, email));
                continue;
            }
            Admission::Refused(Some(kept)) => {
                report.blocked.push((row.line, email, kept.reason.as_str()));
                continue;
            }
        }
        rows.push(Subscriber {
            email,
            name: row.name,
            attrs: row.attrs,
            status: row.status,
            // The export's time is the consent evidence; the import's time only stands in for
            // a row that has none.
            subscribed_at: subscribed_at.or(Some(clock.now())),
            line: row.line,
        });
    }
    // The list is written first: if that fails, the suppressions are left as they were.
    let mode = if resubscribe { Upsert::Reactivate } else { Upsert::Merge };
    // A list without `subscribed_at` gains it when the export dates its subscribers.
    let dated = export_dated.then(|| "subscribed_at".to_owned());
    let mut welcomed = Vec::new();
    for (result, row) in
        subscribers::upsert_rows_with(&list_path, &shown, &rows, mode, dated.as_slice())?.iter().zip(&rows)
    {
        match result {
            Appended::Added { .. } => {
                report.imported += 1;
                if welcome && row.status == subscribers::SubscriberStatus::Active {
                    welcomed.push(row);
                }
            }
            Appended::Updated { .. } => report.updated += 1,
            Appended::AlreadyListed { .. } => report.unchanged += 1,
            Appended::KeptBounced { .. } => report.kept_bounced += 1,
        }
    }
    let scope = Scope::List(list.slug.clone());
    // The store is created only when there is something to record in it.
    if !to_suppress.is_empty() || !to_lift.is_empty() {
        let state = match state {
            Some(state) => state,
            None => open_state(root, config, env)?,
        };
        for (email, reason) in to_suppress {
            if subscriptions::unsubscribe(&state, &email, &scope, reason, &source, None, clock.now())? {
                report.recorded_unsubscribed += 1;
            }
        }
        let lists: Vec<String> = config.lists.iter().map(|l| l.slug.clone()).collect();
        for email in to_lift {
            report.resubscribed += subscriptions::resubscribe(&state, &email, &scope, Actor::Import, &lists)?.changed();
        }
    }
    if export_dated && columns.is_some_and(|c| !c.iter().any(|c| c == "subscribed_at")) {
        eprintln!("added the column `subscribed_at` to `{}` to keep the export's subscription times", list.slug);
    }
    print_import(&report, export.source, &export.ignored_columns, file, &list.slug);
    if welcomed.is_empty() {
        return Ok(0);
    }
    let state = open_state(root, config, env)?;
    let mut queued = 0;
    for subscriber in welcomed {
        queued += usize::from(crate::subscriptions::welcome::queue(&state, list, subscriber, clock.now())?);
    }
    Ok(queued)
}

fn print_import(report: &ImportReport, source: &str, ignored: &[String], file: &Path, list: &str) {
    eprintln!(
        "imported {} new, {} updated, {} unchanged into `{list}` from `{}` ({source} export)",
        report.imported,
        report.updated,
        report.unchanged,
        file.display()
    );
    if report.recorded_unsubscribed > 0 {
        eprintln!(
            "recorded {} unsubscribed or bounced addresses from the export as suppressed",
            report.recorded_unsubscribed
        );
    }
    if report.resubscribed > 0 {
        eprintln!("lifted {} suppressions (--resubscribe)", report.resubscribed);
    }
    if report.kept_bounced > 0 {
        eprintln!(
            "kept {} bounced: the list marks the address `bounced`, which --resubscribe never lifts",
            report.kept_bounced
        );
    }
    if !report.invalid.is_empty() {
        eprintln!("skipped {} invalid:", report.invalid.len());
        for (line, why) in &report.invalid {
            eprintln!("  {}:{line}: {why}", file.display());
        }
    }
    if !report.suppressed.is_empty() {
        eprintln!("skipped {} suppressed (use --resubscribe only with their consent):", report.suppressed.len());
        for (line, email) in &report.suppressed {
            eprintln!("  {}:{line}: {email}", file.display());
        }
    }
    if !report.blocked.is_empty() {
        eprintln!(
            "skipped {} bounced or complained (only `letterpress resubscribe --force` lifts those):",
            report.blocked.len()
        );
        for (line, email, reason) in &report.blocked {
            eprintln!("  {}:{line}: {email} ({reason})", file.display());
        }
    }
    if !ignored.is_empty() {
        eprintln!("ignored columns: {}", ignored.join(", "));
    }
}
