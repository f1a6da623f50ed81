//! Handlers for `send`, `status` and `log`: adapters from the CLI to [`crate::send`] and the
//! journal in [`crate::state`].

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::write_stdout;
use crate::cli::{LogFormat, ReportFormat};
use crate::clock::{Clock, show};
use crate::error::{Error, Result};
use crate::project::{self, Project};
use crate::send::{self, SendOptions};
use crate::state::State;
use crate::state::journal::DeliveryStatus;

/// `letterpress send <issue>` or `letterpress send --due`.
pub fn send(
    root: &Path,
    issue: Option<&str>,
    due: bool,
    options: &SendOptions,
    clock: &Clock,
    env: &crate::env::Env,
) -> Result<()> {
    let project = Project::load(root)?;
    if let Some(warning) = super::bounces::rate_warning(root, env) {
        eprint!("{}", crate::diagnostic::render_all(&[warning]));
    }
    if due {
        let reports = send::send_due(&project, &options.allow, clock, env)?;
        if reports.is_empty() {
            eprintln!("nothing is due");
        }
        return Ok(());
    }
    let name = issue.ok_or_else(|| Error::usage("name an issue, or pass `--due`"))?;
    let issue = project.find(name)?;
    if let Some(window) = &options.catch_up {
        return send::catch_up::catch_up(&project, issue, window, options, clock, env).map(|_| ());
    }
    send::send_issue(&project, issue, options, clock, env).map(|_| ())
}

/// The journal `name` means: an issue's (`<publication>/<slug>` or its path), or a welcome's
/// as `status` lists it (`welcome:<publication>/<slug>`).
fn journal_of(project: &Project, name: &str) -> Result<String> {
    if name.starts_with(send::welcome::JOURNAL_PREFIX) {
        return Ok(name.to_owned());
    }
    project.find(name).map(crate::content::Issue::id)
}

/// `letterpress send <issue> --cancel`.
pub fn cancel(root: &Path, issue: Option<&str>, yes: bool, clock: &Clock, env: &crate::env::Env) -> Result<()> {
    let project = Project::load(root)?;
    let name = issue.ok_or_else(|| Error::usage("name the issue whose send to cancel"))?;
    send::cancel::cancel(&project, project.find(name)?, yes, clock, env)
}

fn open_state(root: &Path, env: &crate::env::Env) -> Result<Option<State>> {
    let config = project::load_config(root)?;
    State::open_store_existing(&crate::state::Store::from_config(&config.state, root, env)?)
}

/// `letterpress status [<issue>] [--format json]`.
pub fn status(
    root: &Path,
    issue: Option<&str>,
    format: ReportFormat,
    clock: &Clock,
    env: &crate::env::Env,
) -> Result<()> {
    let state = open_state(root, env)?;
    let text = match (issue, state) {
        (None, None) => match format {
            ReportFormat::Json => "{\n  \"sends\": []\n}\n".to_owned(),
            ReportFormat::Text => "no sends yet\n".to_owned(),
        },
        (None, Some(state)) => {
            let config = project::load_config(root)?;
            overview(&state, format)? + &budgets(&state, &config, format, clock)?
        }
        (Some(name), state) => {
            let project = Project::load(root)?;
            let id = journal_of(&project, name)?;
            let Some(state) = state else { return Err(Error::usage(format!("`{id}` has not been sent"))) };
            one(&state, &id, project.config.site.time_zone().as_ref(), format)?
        }
    };
    write_stdout(text.as_bytes())
}

fn overview(state: &State, format: ReportFormat) -> Result<String> {
    let mut rows = Vec::new();
    let bounces = state.bounce_counts()?;
    for record in state.sends()? {
        let counts = state.counts(&record.issue)?;
        rows.push((record, counts));
    }
    let bounces_of = |issue: &str| bounces.iter().find(|b| b.send == issue);
    // Columns as wide as the longest id and state, so long ids keep the table aligned.
    let id_width = rows.iter().map(|(r, _)| r.issue.chars().count()).max().unwrap_or(0);
    let state_width = rows.iter().map(|(r, _)| r.state.as_str().len()).max().unwrap_or(0);
    Ok(match format {
        ReportFormat::Json => {
            let sends: Vec<_> = rows
                .iter()
                .map(|(r, c)| serde_json::json!({ "send": r, "counts": c, "bounces": bounce_json(bounces_of(&r.issue)) }))
                .collect();
            format!("{:#}\n", serde_json::json!({ "sends": sends }))
        }
        ReportFormat::Text => rows.iter().fold(String::new(), |mut out, (r, c)| {
            let _ = writeln!(
                out,
                "{:<id_width$} {:<state_width$} {:>7} sent {:>5} failed {:>5} deferred {:>5} uncertain {:>5} pending of {}",
                r.issue,
                r.state.as_str(),
                c.sent,
                c.failed,
                c.deferred,
                c.uncertain,
                c.pending,
                c.total
            );
            if let Some(line) = bounces_of(&r.issue).and_then(bounce_line) {
                out.pop();
                let _ = writeln!(out, "; {line}");
            }
            out
        }),
    })
}

/// Each budget's use and reset time (text only; JSON readers have `status --format json`'s
/// sends and compute nothing from the budgets yet).
fn budgets(state: &State, config: &crate::config::Config, format: ReportFormat, clock: &Clock) -> Result<String> {
    if format == ReportFormat::Json {
        return Ok(String::new());
    }
    let mut used = Vec::new();
    for (relay, limits) in crate::mail::quota::budgets(config) {
        used.extend(state.budget_use(&relay, &limits, clock.now())?);
    }
    Ok(used.iter().fold(String::new(), |mut out, u| {
        let _ = writeln!(
            out,
            "budget {} {}: {} of {} used, resets {}",
            u.relay,
            u.limit.window.key(),
            u.used,
            u.limit.max,
            u.resets_at
        );
        out
    }))
}

/// One send; times in text are in `zone`, the site's time zone.
fn one(state: &State, id: &str, zone: Option<&jiff::tz::TimeZone>, format: ReportFormat) -> Result<String> {
    let record = state.send_record(id)?.ok_or_else(|| Error::usage(format!("`{id}` has not been sent")))?;
    let counts = state.counts(id)?;
    let problems = state.deliveries(
        id,
        &[DeliveryStatus::Failed, DeliveryStatus::Deferred, DeliveryStatus::Uncertain, DeliveryStatus::Bounced],
    )?;
    let bounces = state.bounce_counts()?.into_iter().find(|b| b.send == id);
    let relays = state.relay_counts(id)?;
    Ok(match format {
        ReportFormat::Json => {
            let bounces = bounce_json(bounces.as_ref());
            let relays: serde_json::Map<String, serde_json::Value> =
                relays.into_iter().map(|(relay, n)| (relay, n.into())).collect();
            format!(
                "{:#}\n",
                serde_json::json!({ "send": record, "counts": counts, "relays": relays, "bounces": bounces, "recipients": problems })
            )
        }
        ReportFormat::Text => {
            let mut out = format!(
                "{id}: {} — {} sent{}, {} failed, {} deferred, {} uncertain, {} suppressed, {} pending of {}\n",
                record.state.as_str(),
                counts.sent,
                if counts.bounced > 0 { format!(" (and {} bounced later)", counts.bounced) } else { String::new() },
                counts.failed,
                counts.deferred,
                counts.uncertain,
                counts.suppressed,
                counts.pending,
                counts.total
            );
            let finished = record.finished_at.map_or_else(|| "—".to_owned(), |t| show(t, zone));
            let _ = writeln!(out, "  started {}, finished {finished}", show(record.started_at, zone));
            if let Some(note) = &record.note {
                let _ = writeln!(out, "  note: {note}");
            }
            if let Some(line) = bounces.as_ref().and_then(bounce_line) {
                let _ = writeln!(out, "  {line}");
            }
            if !relays.is_empty() {
                let per: Vec<String> = relays.iter().map(|(relay, n)| format!("{relay} {n}")).collect();
                let _ = writeln!(out, "  by relay: {}", per.join(", "));
            }
            for d in problems {
                let _ = writeln!(out, "  {:<10} {:<40} {}", d.status.as_str(), d.email, d.reply.unwrap_or_default());
            }
            out
        }
    })
}

/// A send's bounce figures in `status --format json`.
fn bounce_json(counts: Option<&crate::state::BounceCounts>) -> serde_json::Value {
    counts.map_or(serde_json::Value::Null, |c| {
        serde_json::json!({
            "hard": c.hard,
            "soft": c.soft,
            "complaints": c.complaints,
            "bounce_rate": c.bounce_rate(),
            "complaint_rate": c.complaint_rate(),
        })
    })
}

/// A send's bounce figures in text, when it has any.
fn bounce_line(c: &crate::state::BounceCounts) -> Option<String> {
    use crate::bounces::rates::percent;
    (c.hard + c.soft + c.complaints > 0).then(|| {
        format!(
            "{} bounced ({} hard, {} soft; {}), {} complaints ({})",
            c.hard + c.soft,
            c.hard,
            c.soft,
            percent(c.bounce_rate()),
            c.complaints,
            percent(c.complaint_rate())
        )
    })
}

/// `letterpress log <issue> --format jsonl|csv`, streamed.
pub fn log(root: &Path, name: &str, format: LogFormat, env: &crate::env::Env) -> Result<()> {
    let id = journal_of(&Project::load(root)?, name)?;
    let state = open_state(root, env)?.ok_or_else(|| Error::usage(format!("`{id}` has not been sent")))?;
    let failed = |e: std::io::Error| Error::io("write", Path::new("<stdout>"), e);
    let stdout = std::io::BufWriter::new(std::io::stdout().lock());
    match format {
        LogFormat::Csv => {
            let mut writer = csv::Writer::from_writer(stdout);
            let csv_failed = |e: csv::Error| failed(std::io::Error::other(e.to_string()));
            writer
                .write_record([
                    "email",
                    "list",
                    "status",
                    "attempts",
                    "code",
                    "reply",
                    "message_id",
                    "updated_at",
                    "relay",
                ])
                .map_err(csv_failed)?;
            state.for_each_delivery(&id, |d| {
                writer
                    .write_record([
                        d.email,
                        d.list,
                        d.status.as_str().to_owned(),
                        d.attempts.to_string(),
                        d.code.map(|c| c.to_string()).unwrap_or_default(),
                        d.reply.unwrap_or_default(),
                        d.message_id.unwrap_or_default(),
                        d.updated_at.to_string(),
                        d.relay.unwrap_or_default(),
                    ])
                    .map_err(csv_failed)
            })?;
            writer.flush().map_err(failed)
        }
        LogFormat::Jsonl => {
            let mut out = stdout;
            state.for_each_delivery(&id, |d| {
                let line = serde_json::to_string(&d).map_err(|e| failed(std::io::Error::other(e)))?;
                writeln!(out, "{line}").map_err(failed)
            })?;
            out.flush().map_err(failed)
        }
    }
}
