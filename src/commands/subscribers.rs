//! Handlers for `subscribers …`, `audience`, `unsubscribe`, `resubscribe` and `suppressions`:
//! thin adapters from the CLI to [`crate::subscribers`] (the list files), [`crate::subscriptions`]
//! (who may be mailed) and [`crate::state`] (reading suppressions).

use std::fmt::Write as _;
use std::path::Path;

use super::write_stdout;
use crate::cli::SubscribersCommand;
use crate::clock::Clock;
use crate::config::{Config, List};
use crate::diagnostic::{self, Diagnostic};
use crate::error::{Error, Result};
use crate::project;
use crate::state::State;
use crate::subscribers::{self, Appended, Subscriber, SubscriberStatus, normalise_address};
use crate::subscriptions;

mod audience;
mod import;
mod signups;
mod suppression;

pub use audience::audience;
pub use suppression::{resubscribe, suppressions, unsubscribe};

/// `letterpress subscribers <command>`.
pub fn subscribers(root: &Path, command: SubscribersCommand, clock: &Clock, env: &crate::env::Env) -> Result<()> {
    let config = project::load_config(root)?;
    match command {
        SubscribersCommand::Check { list } => check(root, &config, list.as_deref()),
        SubscribersCommand::List { list } => signups::print_list(root, &config, config.list_named(&list)?, env),
        SubscribersCommand::Count { list } => count(root, &config, list.as_deref(), env),
        SubscribersCommand::Columns { list, add, rename } => {
            columns(root, config.list_named(&list)?, add.as_deref(), rename.as_deref())
        }
        SubscribersCommand::Add { list, email, name, attrs, welcome } => {
            let list = config.list_named(&list)?;
            let subscriber = Subscriber {
                email,
                name: name.unwrap_or_default(),
                attrs: attrs.into_iter().collect(),
                status: SubscriberStatus::Active,
                subscribed_at: Some(clock.now()),
                line: 0,
            };
            if welcome {
                require_welcome(list)?;
            }
            add(root, &config, list, &subscriber, env)?;
            if welcome {
                let state = open_state(root, &config, env)?;
                let email = normalise_address(&subscriber.email).unwrap_or_else(|_| subscriber.email.clone());
                let subscriber = Subscriber { email, ..subscriber };
                let queued = crate::subscriptions::welcome::queue(&state, list, &subscriber, clock.now())?;
                return welcome_now(root, list, usize::from(queued), clock, env);
            }
            Ok(())
        }
        SubscribersCommand::Remove { list, email } => {
            signups::remove(root, &config, config.list_named(&list)?, &email, env)
        }
        SubscribersCommand::Import { list, file, resubscribe, welcome } => {
            let list = config.list_named(&list)?;
            if welcome {
                require_welcome(list)?;
            }
            let queued = import::import(root, &config, list, &file, resubscribe, clock, welcome, env)?;
            if welcome { welcome_now(root, list, queued, clock, env) } else { Ok(()) }
        }
        SubscribersCommand::Export { list } => export(root, &config, config.list_named(&list)?, env),
        SubscribersCommand::Pull { list } => signups::pull(root, &config, config.list_named(&list)?, clock, env),
    }
}

/// `--welcome`: `queued` welcomes were queued for `list`; send every waiting welcome now, or
/// say who will when another send holds the lock.
fn welcome_now(root: &Path, list: &List, queued: usize, clock: &Clock, env: &crate::env::Env) -> Result<()> {
    eprintln!("{queued} welcomes to `{}` queued (anyone welcomed to it before is not welcomed again)", list.slug);
    let project = project::Project::load(root)?;
    match crate::send::welcome::send_welcomes(&project, clock, env) {
        Err(Error::Locked { .. }) => {
            eprintln!("another send is running: `serve` or the next `send --due` sends the welcomes");
            Ok(())
        }
        other => other.map(drop),
    }
}

/// `--welcome` needs a list with a welcome issue.
fn require_welcome(list: &List) -> Result<()> {
    if list.welcome.is_some() {
        return Ok(());
    }
    Err(Error::usage(format!(
        "list `{}` has no welcome issue; name one with `welcome: content/<publication>/welcome.md` under the list in letterpress.yaml",
        list.slug
    )))
}

/// The state store, created if missing: for commands that record something.
fn open_state(root: &Path, config: &Config, env: &crate::env::Env) -> Result<State> {
    State::open_configured(&config.state, root, env)
}

/// The state store if there is one: for commands that only read it (no store, nothing
/// suppressed), so they create nothing, and a command that fails leaves no store behind.
fn read_state(root: &Path, config: &Config, env: &crate::env::Env) -> Result<Option<State>> {
    State::open_configured_existing(&config.state, root, env)
}

fn check(root: &Path, config: &Config, only: Option<&str>) -> Result<()> {
    if let Some(name) = only {
        config.list_named(name)?;
    }
    let mut diagnostics = Vec::new();
    for list in config.lists.iter().filter(|l| only.is_none_or(|name| l.slug == name)) {
        let (summary, mut found) = crate::check::check_list(root, list);
        eprintln!("{summary}");
        diagnostics.append(&mut found);
    }
    if !diagnostics.is_empty() {
        eprint!("{}", diagnostic::render_all(&diagnostics));
    }
    if diagnostics.iter().any(Diagnostic::is_error) { Err(Error::reported()) } else { Ok(()) }
}

/// One line per list (or for `only`); a list that cannot be counted (missing, unreadable, a
/// broken header) is reported on standard error, the others are still counted, and the command
/// fails at the end. Active rows whose address is suppressed count as suppressed.
fn count(root: &Path, config: &Config, only: Option<&str>, env: &crate::env::Env) -> Result<()> {
    if let Some(name) = only {
        config.list_named(name)?;
    }
    let state = read_state(root, config, env)?;
    let mut out = String::new();
    let mut failed = false;
    for list in config.lists.iter().filter(|l| only.is_none_or(|name| l.slug == name)) {
        let shown = list.csv_path();
        let suppressed = match &state {
            Some(state) => state.suppressed_set(&list.slug)?,
            None => std::collections::HashSet::new(),
        };
        let signed_up = signups::count(root, state.as_ref(), list, &suppressed)?;
        let only_signups = signed_up.rows > 0 && !root.join(&shown).exists();
        let counted = if only_signups {
            Ok(subscribers::ListReport::default())
        } else {
            subscribers::count_list(&root.join(&shown), &shown, &suppressed)
        };
        let report = match counted {
            Ok(report) if report.rows == 0 && report.diagnostics.iter().any(Diagnostic::is_error) => {
                eprint!("{}", diagnostic::render_all(&report.diagnostics));
                failed = true;
                continue;
            }
            Ok(report) => report,
            Err(error) => {
                eprint!("{}", error.report());
                failed = true;
                continue;
            }
        };
        let by = &report.by_status;
        let _ = write!(
            out,
            "{}\t{} rows\t{} active\t{} suppressed\t{} unsubscribed\t{} bounced\t{} pending\t{} invalid",
            list.slug,
            report.rows + signed_up.rows,
            by.active + signed_up.active,
            report.suppressed + signed_up.suppressed,
            by.unsubscribed,
            by.bounced,
            by.pending,
            report.rows - report.valid
        );
        if signed_up.rows > 0 {
            let _ = write!(out, "\t{} signed up", signed_up.rows);
        }
        out.push('\n');
    }
    write_stdout(out.as_bytes())?;
    if failed { Err(Error::reported()) } else { Ok(()) }
}

/// The effective list: exactly who a send to this list alone would mail (the audience rules:
/// active rows, duplicates folded, suppressions applied), streamed: memory holds the keys seen.
fn export(root: &Path, config: &Config, list: &List, env: &crate::env::Env) -> Result<()> {
    let shown = list.csv_path();
    let state = read_state(root, config, env)?;
    let columns = signups::columns(&root.join(&shown), &shown, state.as_ref(), &list.slug)?;
    let file = subscribers::ListFile { slug: list.slug.clone(), path: root.join(&shown), shown, segment: None };
    let recipients = subscribers::Members::against(std::slice::from_ref(&file), state.as_ref())?.one_per_address();
    write_csv(&columns, recipients.map(|r| r.map(|r| r.subscriber)))
}

/// Write `rows` as CSV under `columns` to standard output as they come; stops at the first
/// error. A reader that goes away (`| head`) ends the output quietly.
fn write_csv(columns: &[String], rows: impl Iterator<Item = Result<Subscriber>>) -> Result<()> {
    let stdout = std::io::stdout().lock();
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::with_capacity(64 * 1024, stdout));
    let write = || -> Result<std::result::Result<(), csv::Error>> {
        if let Err(e) = writer.write_record(columns) {
            return Ok(Err(e));
        }
        for subscriber in rows {
            let subscriber = subscriber?;
            if let Err(e) = writer.write_record(columns.iter().map(|c| cell(&subscriber, c))) {
                return Ok(Err(e));
            }
        }
        Ok(writer.flush().map_err(csv::Error::from))
    };
    match write()? {
        Err(e) if !matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe) => {
            Err(Error::io("write", Path::new("<stdout>"), std::io::Error::other(e.to_string())))
        }
        _ => Ok(()),
    }
}

fn cell(subscriber: &Subscriber, column: &str) -> String {
    match column {
        "email" => subscriber.email.clone(),
        "name" => inert(&subscriber.name),
        "status" => subscriber.status.as_str().to_owned(),
        "subscribed_at" => subscriber.subscribed_at.map(|t| t.to_string()).unwrap_or_default(),
        other => subscriber.attrs.get(other).map(|v| inert(v)).unwrap_or_default(),
    }
}

/// A free-text value (a name, an attribute: what a subscriber typed into the sign-up form) as a
/// spreadsheet reads it as text: one starting with `=`, `+`, `-`, `@`, a tab or a carriage
/// return, which a spreadsheet (Excel, Calc, Google Sheets) would run as a formula, gets a leading
/// `'` (OWASP's "CSV injection" advice). Addresses are written as they are: a `'` before one
/// would name another mailbox, and the address rules leave no room for a formula's spaces,
/// double quotes or parentheses.
fn inert(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() }
}

/// `subscribers columns <list> [--add NAME | --rename OLD NEW]`.
fn columns(root: &Path, list: &List, add: Option<&str>, rename: Option<&[String]>) -> Result<()> {
    let shown = list.csv_path();
    let path = root.join(&shown);
    match (add, rename) {
        (Some(name), _) => {
            subscribers::add_column(&path, &shown, name)?;
            eprintln!("added the column `{}` to `{}` ({})", name.trim(), list.slug, shown.display());
        }
        (None, Some([old, new])) => {
            subscribers::rename_column(&path, &shown, old, new)?;
            eprintln!("renamed the column `{}` of `{}` to `{}`", old.trim(), list.slug, new.trim());
        }
        (None, Some(_)) => return Err(Error::usage("`--rename` takes the old name and the new one")),
        (None, None) => {
            let names = subscribers::list_columns(&path, &shown)?;
            return write_stdout(names.iter().fold(String::new(), |out, n| out + n + "\n").as_bytes());
        }
    }
    Ok(())
}

/// The attribute columns `subscriber` needs that the list lacks (vetted: not a column letterpress
/// reads itself, not a near-miss of one the list has); `add` adds them in the same write.
fn new_attribute_columns(path: &Path, shown: &Path, list: &List, subscriber: &Subscriber) -> Result<Vec<String>> {
    let columns = match subscribers::list_columns(path, shown) {
        Ok(columns) => columns,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut new = Vec::new();
    for (key, value) in &subscriber.attrs {
        if subscribers::COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(key)) || !columns.contains(key) {
            subscribers::refuse_new_attribute(key, &columns, shown, &list.slug)?;
            if !value.is_empty() && !columns.is_empty() {
                new.push(key.clone());
            }
        }
    }
    Ok(new)
}

fn add(root: &Path, config: &Config, list: &List, subscriber: &Subscriber, env: &crate::env::Env) -> Result<()> {
    let shown = list.csv_path();
    let path = root.join(&shown);
    let new_columns = new_attribute_columns(&path, &shown, list, subscriber)?;
    let state = read_state(root, config, env)?;
    let (result, suppressed) =
        subscriptions::subscribe(state.as_ref(), &path, &shown, &list.slug, subscriber, &new_columns)?;
    for column in &new_columns {
        eprintln!("added the column `{column}` to `{}`, empty for the rows already there", list.slug);
    }
    let email = normalise_address(&subscriber.email).unwrap_or_else(|_| subscriber.email.clone());
    let (verb, line) = match result.as_ref() {
        Some(Appended::Added { line }) => ("added", *line),
        Some(Appended::Updated { line }) => ("updated", *line),
        Some(Appended::AlreadyListed { line }) => ("already listed", *line),
        Some(Appended::KeptBounced { line }) => ("kept bounced", *line),
        None => ("already listed", 0),
    };
    eprintln!("{verb} `{email}` in `{}` ({}:{line})", list.slug, shown.display());
    if suppressed {
        eprintln!(
            "note: `{email}` is suppressed and will not be mailed; only with their consent, run `letterpress resubscribe {email}`"
        );
    }
    Ok(())
}
