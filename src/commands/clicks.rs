//! Handler for `clicks`: an adapter from the CLI to the click counts in [`crate::state`] and
//! their report in [`crate::clicks`].

use std::path::Path;

use super::write_stdout;
use crate::cli::ClicksFormat;
use crate::clicks::{Format, write_report};
use crate::error::{Error, Result};
use crate::project::Project;
use crate::state::State;

/// `letterpress clicks <issue> [--format text|json|csv]`.
pub fn clicks(root: &Path, name: &str, format: ClicksFormat) -> Result<()> {
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
    let shown = project.config.state.db_path();
    let state = State::open_existing(&root.join(&shown), &shown)?.ok_or_else(not_counted)?;
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
