//! Handler for `clicks`: an adapter from the CLI to the click counts in [`crate::state`] and
//! their report in [`crate::clicks`]. Reads the configured store (SQLite or PostgreSQL).

use std::path::Path;

use super::write_stdout;
use crate::cli::ClicksFormat;
use crate::clicks::{Format, write_report};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::project::Project;
use crate::state::State;

/// `letterpress clicks <issue> [--format text|json|csv]`.
pub fn clicks(root: &Path, name: &str, format: ClicksFormat, env: &Env) -> Result<()> {
    let project = Project::load(root)?;
    let issue = project.find(name)?;
    let id = issue.id();
    let clicks_on = project.config.publication(&issue.publication).is_some_and(|p| p.clicks);
    let not_counted = || {
        let why = if clicks_on {
            "it has not been sent since `clicks: true` was set"
        } else {
            "its publication does not count clicks (set `clicks: true` on it in `letterpress.yaml`)"
        };
        Error::usage(format!("`{id}` has no click counts: {why}"))
    };
    let state = State::open_configured_existing(&project.config.state, root, env)?.ok_or_else(not_counted)?;
    let links = state.click_report(&id)?.ok_or_else(not_counted)?;
    let format = match format {
        ClicksFormat::Text => Format::Text,
        ClicksFormat::Json => Format::Json,
        ClicksFormat::Csv => Format::Csv,
    };
    let mut out = Vec::new();
    write_report(&id, &links, format, &mut out)?;
    write_stdout(&out)
}
