//! `check` of the lists' welcome issues (`lists[].welcome`): each is checked like an issue; a
//! path that names no file is an error located at its `welcome:` line in `letterpress.yaml`.

use std::path::Path;

use crate::config::{FILE_NAME, List};
use crate::diagnostic::{Diagnostic, Location};
use crate::project::Project;

/// The diagnostics of every welcome issue, each file once however many lists name it.
pub(super) fn check_welcomes(project: &Project) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut seen: Vec<&Path> = Vec::new();
    for list in &project.config.lists {
        let Some(path) = list.welcome.as_deref() else { continue };
        if seen.iter().any(|s| crate::content::is_welcome_path(s, path)) {
            continue;
        }
        seen.push(path);
        if !project.root.join(path).is_file() {
            diagnostics.push(missing(project, list, path));
            continue;
        }
        let zone = project.config.site.time_zone();
        // Checked as of no particular day: a welcome without `date` is dated when it is sent.
        let undated = jiff::civil::date(2000, 1, 1);
        match crate::content::load_welcome(&project.root, path, zone.as_ref(), undated) {
            Ok(issue) if project.config.publication(&issue.publication).is_none() => diagnostics.push(
                Diagnostic::error(
                    "content/unknown-publication",
                    format!(
                        "welcome issue `{}`: `{}` is not a configured publication",
                        path.display(),
                        issue.publication
                    ),
                )
                .in_file(Location::new(&issue.source, 1, 1))
                .help("put the welcome issue in the directory of one of the publications under `content/`"),
            ),
            Ok(issue) => diagnostics.extend(super::issue(project, &issue).diagnostics),
            Err(found) => diagnostics.extend(found),
        }
    }
    diagnostics
}

/// `welcome:` of `list` names no file: located at that line of the configuration.
fn missing(project: &Project, list: &List, path: &Path) -> Diagnostic {
    let text = std::fs::read_to_string(project.root.join(FILE_NAME)).unwrap_or_default();
    let written = path.display().to_string();
    let hit = text.lines().enumerate().find(|(_, line)| {
        let line = line.trim_start().trim_start_matches("- ");
        line.starts_with("welcome:") && line.contains(written.trim_start_matches("./"))
    });
    let location = hit.map_or_else(
        || Location::new(FILE_NAME, 1, 1),
        |(i, line)| Location::new(FILE_NAME, i + 1, line.find(written.trim_start_matches("./")).map_or(1, |c| c + 1)),
    );
    Diagnostic::error(
        "config/welcome",
        format!("the welcome issue of list `{}`, `{written}`, does not exist", list.slug),
    )
    .at(location, &text)
    .help("create it (any Markdown issue with front matter), or fix the path under `welcome:`")
}
