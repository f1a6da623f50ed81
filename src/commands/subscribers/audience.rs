//! `letterpress audience <issue>`: who an issue goes to, per list (before and after its audience
//! filter, when it has one), and how that moved since the publication's previous send.

use std::fmt::Write as _;
use std::path::Path;

use super::super::write_stdout;
use super::read_state;
use crate::cli::ReportFormat;
use crate::diagnostic;
use crate::error::Result;
use crate::project::Project;
use crate::state::State;
use crate::subscribers;

/// `letterpress audience <issue> [--format json]`.
pub fn audience(root: &Path, name: &str, format: ReportFormat, env: &crate::env::Env) -> Result<()> {
    let project = Project::load(root)?;
    let issue = project.find(name)?;
    let files = project.lists_of(issue)?;
    let filtered_by = files.first().and_then(|f| f.segment.as_ref()).map(|s| s.location.clone());
    let state = read_state(root, &project.config, env)?;
    // Streamed: memory holds the recipients' keys, not their rows.
    let mut recipients = subscribers::Members::against(&files, state.as_ref())?.one_per_address();
    for recipient in recipients.by_ref() {
        recipient?;
    }
    let (per_list, diagnostics, current) = recipients.finish();
    if !diagnostics.is_empty() {
        eprint!("{}", diagnostic::render_all(&diagnostics));
    }
    let change = match &state {
        Some(state) => change_since_previous(state, &issue.id(), &current)?,
        None => None,
    };
    let text = match format {
        ReportFormat::Json => {
            let mut report = serde_json::json!({
                "issue": issue.id(),
                "lists": per_list,
                "total": current.len(),
                "change": change.as_ref().map(|c| serde_json::json!({ "since": c.since, "new": c.new, "gone": c.gone })),
            });
            if let (Some(at), Some(fields)) = (&filtered_by, report.as_object_mut()) {
                fields.insert("audience".to_owned(), serde_json::Value::String(at.to_string()));
            }
            format!("{report:#}\n")
        }
        ReportFormat::Text => {
            let mut out = format!("audience of `{}`\n", issue.id());
            if let Some(at) = &filtered_by {
                let _ = writeln!(out, "  filtered by the audience at {at}");
            }
            for c in &per_list {
                let matching = c.outside.map(|outside| format!("  {:>7} in audience", c.active - outside));
                let _ = writeln!(
                    out,
                    "  {:<24} {:>7} rows  {:>7} active{}  {:>5} suppressed  {:>5} duplicates  {:>7} recipients",
                    c.list,
                    c.rows,
                    c.active,
                    matching.unwrap_or_default(),
                    c.suppressed,
                    c.duplicates,
                    c.recipients
                );
            }
            let _ = writeln!(out, "  total: {} recipients", current.len());
            if let Some(c) = &change {
                let _ = writeln!(
                    out,
                    "  since `{}`: +{} new, \u{2212}{} gone (unsubscribed, bounced or removed)",
                    c.since, c.new, c.gone
                );
            }
            out
        }
    };
    write_stdout(text.as_bytes())
}

/// How the audience moved since the publication's previous complete send.
struct Change {
    since: String,
    new: usize,
    gone: usize,
}

fn change_since_previous(
    state: &State,
    issue: &str,
    current: &std::collections::HashSet<String>,
) -> Result<Option<Change>> {
    let Some((since, previous)) = state.previous_audience(issue)? else { return Ok(None) };
    let new = current.difference(&previous).count();
    let gone = previous.difference(current).count();
    Ok(Some(Change { since, new, gone }))
}
