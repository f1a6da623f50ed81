//! Handlers for `bounces` (list the recorded events) and `bounces ingest`: adapters from the
//! CLI to [`crate::bounces`] and the events in [`crate::state`].

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::write_stdout;
use crate::bounces::Handled;
use crate::bounces::files::for_each_message;
use crate::bounces::store::StoreSink;
use crate::cli::{BouncesArgs, BouncesCommand, EventFormat};
use crate::clock::Clock;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::project::{self, Project};
use crate::state::{BounceEvent, EventFilter, State};

/// `letterpress bounces [--send …] [--verdict …] [--since …] [--format …]` and
/// `letterpress bounces ingest PATH…`.
pub fn bounces(root: &Path, args: BouncesArgs, clock: &Clock, env: &Env) -> Result<()> {
    match args.command {
        Some(BouncesCommand::Ingest { paths }) => ingest(root, &paths, clock, env),
        Some(BouncesCommand::Fetch { dry_run }) => super::bounces_fetch(root, dry_run, clock, env),
        Some(BouncesCommand::Scan { paths, format }) => super::bounces_scan(root, &paths, format, env),
        None => list(root, &args, env),
    }
}

/// The `bounces/rate` warning about the last send, for `check` and `send`; nothing when there
/// is no state store or it cannot be read (`check` reports on the project, not the store).
pub fn rate_warning(root: &Path, env: &Env) -> Option<crate::diagnostic::Diagnostic> {
    let config = project::load_config(root).ok()?;
    let state = State::open_configured_existing(&config.state, root, env).ok()??;
    crate::bounces::rates::last_send_warning(&state).ok()?
}

/// What an ingest did, for its summary line.
#[derive(Debug, Default)]
struct Tally {
    messages: usize,
    recorded: usize,
    events: usize,
    duplicates: usize,
    skipped: usize,
    bounced: usize,
    suppressed: usize,
}

/// `paths` as given on the command line, read against the project directory `root` (`-C`),
/// as every other path of the project is; absolute ones as they are.
pub(super) fn in_project(root: &Path, paths: &[PathBuf]) -> Vec<PathBuf> {
    paths.iter().map(|p| if p.is_absolute() || root == Path::new(".") { p.clone() } else { root.join(p) }).collect()
}

fn ingest(root: &Path, paths: &[PathBuf], clock: &Clock, env: &Env) -> Result<()> {
    let project = Project::load(root)?;
    let mut sink = StoreSink::open(&project, clock, env)?.crash_after(crash_after(env));
    let mut tally = Tally::default();
    let unreadable = Cell::new(0usize);
    for_each_message(
        &in_project(root, paths),
        |origin, raw| {
            tally.messages += 1;
            let (handled, effects) = sink.message_effects(raw, origin)?;
            tally.bounced += effects.bounced;
            tally.suppressed += effects.suppressed;
            match handled {
                Handled::Recorded(n) => {
                    tally.recorded += 1;
                    tally.events += n;
                }
                Handled::Duplicate => tally.duplicates += 1,
                Handled::Ignored(why) => {
                    tally.skipped += 1;
                    eprintln!("{}: skipped: {}", printable(origin), printable(&why));
                }
                Handled::Unparsable(why) => {
                    unreadable.set(unreadable.get() + 1);
                    eprintln!("{}: cannot be read as a bounce: {}", printable(origin), printable(&why));
                }
            }
            Ok(())
        },
        |problem| {
            unreadable.set(unreadable.get() + 1);
            eprintln!("{}: {}", printable(&problem.origin), printable(&problem.why));
        },
    )?;
    let t = &tally;
    eprintln!(
        "read {} messages: {} recorded ({} events), {} already recorded, {} skipped, {} unreadable; \
         {} journal rows marked bounced, {} addresses suppressed",
        t.messages,
        t.recorded,
        t.events,
        t.duplicates,
        t.skipped,
        unreadable.get(),
        t.bounced,
        t.suppressed
    );
    Ok(())
}

/// Test seam: `LETTERPRESS_CRASH_AFTER_MESSAGES=n` aborts inside the transaction of the message
/// after `n` recorded ones. Only in builds with the `test-hooks` feature.
#[cfg(feature = "test-hooks")]
fn crash_after(env: &Env) -> Option<u64> {
    env.get("LETTERPRESS_CRASH_AFTER_MESSAGES").and_then(|n| n.parse().ok())
}

#[cfg(not(feature = "test-hooks"))]
fn crash_after(_: &Env) -> Option<u64> {
    None
}

fn list(root: &Path, args: &BouncesArgs, env: &Env) -> Result<()> {
    let config = project::load_config(root)?;
    let filter = EventFilter {
        send: args.send.clone(),
        verdict: args.verdict.map(|v| v.as_str().to_owned()),
        since: args.since.as_deref().map(parse_since).transpose()?,
    };
    let events = match State::open_configured_existing(&config.state, root, env)? {
        Some(state) => state.bounce_events(&filter)?,
        None => Vec::new(),
    };
    let text = match args.format {
        EventFormat::Json => format!("{:#}\n", serde_json::json!({ "events": events })),
        EventFormat::Csv => csv_text(&events)?,
        EventFormat::Text if events.is_empty() => "no bounces recorded\n".to_owned(),
        EventFormat::Text => events.iter().fold(String::new(), |mut out, e| {
            let code = [e.reply.map(|r| r.to_string()), e.status.clone()].into_iter().flatten().collect::<Vec<_>>();
            let _ = writeln!(
                out,
                "{} {:<10} {:<40} {:<30} {:<12} {}",
                e.at,
                printable(&e.verdict),
                printable(&e.address),
                printable(e.send.as_deref().unwrap_or("—")),
                printable(&code.join(" ")),
                printable(&e.reason)
            );
            out
        }),
    };
    write_stdout(text.as_bytes())
}

/// `text` with its control characters escaped (`\u{1b}`, `\t`): what a bounce says is
/// written by strangers, and a terminal obeys the escape sequences it is shown.
pub(super) fn printable(text: &str) -> Cow<'_, str> {
    if !text.contains(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn csv_text(events: &[BounceEvent]) -> Result<String> {
    let failed = |e: csv::Error| Error::io("write", Path::new("<stdout>"), std::io::Error::other(e.to_string()));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record([
            "at",
            "send",
            "address",
            "verdict",
            "status",
            "reply",
            "reason",
            "diagnostic",
            "source",
            "origin",
            "provider",
            "attributed",
        ])
        .map_err(failed)?;
    for e in events {
        writer
            .write_record(
                [
                    e.at.to_string(),
                    e.send.clone().unwrap_or_default(),
                    e.address.clone(),
                    e.verdict.clone(),
                    e.status.clone().unwrap_or_default(),
                    e.reply.map(|r| r.to_string()).unwrap_or_default(),
                    e.reason.clone(),
                    e.diagnostic.clone().unwrap_or_default(),
                    e.source.clone(),
                    e.origin.clone(),
                    e.provider.clone().unwrap_or_default(),
                    e.attributed.clone().unwrap_or_default(),
                ]
                .iter()
                .map(|field| printable(field).into_owned()),
            )
            .map_err(failed)?;
    }
    let bytes = writer.into_inner().map_err(|e| failed(e.into_error().into()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `--since`: a timestamp, or a date (its start, UTC).
fn parse_since(value: &str) -> Result<jiff::Timestamp> {
    if let Ok(at) = value.parse::<jiff::Timestamp>() {
        return Ok(at);
    }
    value
        .parse::<jiff::civil::Date>()
        .ok()
        .and_then(|date| date.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|zoned| zoned.timestamp())
        .ok_or_else(|| {
            Error::usage(format!(
                "`--since {value}` is not a date or a time; write e.g. `2024-05-01` or `2024-05-01T08:00:00Z`"
            ))
        })
}
