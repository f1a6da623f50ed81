//! The context of the index page: every issue, drafts included, grouped by publication, with
//! its status, `send_at`, delivery state from the journal, audience size and how many problems
//! `check` finds in it.
//!
//! Enters: a [`Snapshot`] and its loaded [`Project`]. Leaves: a serialisable [`Index`].

use serde::Serialize;

use super::audience;
use super::delivery::{self, DeliveryView};
use super::live::Snapshot;
use super::pages::DiagnosticView;
use crate::content::{Issue, Status};
use crate::diagnostic::Diagnostic;
use crate::project::Project;
use crate::segment::Segment;

/// What the index page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    /// The project root, for people.
    pub root: String,
    /// Files that could not be loaded.
    pub problems: Vec<DiagnosticView>,
    /// Publications in configuration order.
    pub publications: Vec<PublicationRows>,
}

/// One publication and its issues, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicationRows {
    /// Display name.
    pub name: String,
    /// Slug.
    pub slug: String,
    /// Its issues.
    pub issues: Vec<IssueRow>,
}

/// One issue in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueRow {
    /// `publication/slug`.
    pub id: String,
    /// Link to its preview page.
    pub href: String,
    /// Headline.
    pub title: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `draft` or `ready`.
    pub status: &'static str,
    /// RFC 3339, or `—`.
    pub send_at: String,
    /// Where its send stands.
    pub delivery: DeliveryView,
    /// Its clicks counted when it was sent with clicks on (`12 clicks`), or empty.
    pub clicks: String,
    /// Recipients now, `—` without lists, or `unavailable`.
    pub audience: String,
    /// Which lists, or why the audience is unavailable.
    pub audience_note: String,
    /// E.g. `2 errors`, or empty.
    pub errors: String,
    /// E.g. `1 warning`, or empty.
    pub warnings: String,
}

/// The index of `project`.
pub fn context(snapshot: &Snapshot, project: &Project) -> Index {
    let deliveries = delivery::read(&snapshot.store);
    let clicks = super::clicks::totals(&snapshot.store);
    let publications = project
        .config
        .publications
        .iter()
        .map(|publication| PublicationRows {
            name: publication.name.clone(),
            slug: publication.slug.clone(),
            issues: project
                .issues
                .iter()
                .filter(|i| i.publication == publication.slug)
                .map(|issue| {
                    let mut row = row(snapshot, project, issue, delivery::of(&deliveries, &issue.id()));
                    row.clicks = clicks.get(&row.id).cloned().unwrap_or_default();
                    row
                })
                .collect(),
        })
        .collect();
    Index {
        root: project.root.display().to_string(),
        problems: project.diagnostics.iter().map(DiagnosticView::new).collect(),
        publications,
    }
}

fn row(snapshot: &Snapshot, project: &Project, issue: &Issue, delivery: DeliveryView) -> IssueRow {
    let checked = snapshot.check(project, issue);
    let diagnostics = &checked.diagnostics;
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let (audience, audience_note) =
        audience_cell(snapshot, &audience::issue_lists(project, issue), project.audience_of(issue).as_ref());
    IssueRow {
        id: issue.id(),
        href: format!("/issue/{}/{}/", issue.publication, issue.slug),
        title: issue.front.title.clone(),
        date: issue.date.to_string(),
        status: status(issue.front.status),
        send_at: send_at(project, issue),
        delivery,
        clicks: String::new(),
        audience,
        audience_note,
        errors: count(errors, "error", "errors"),
        warnings: count(
            diagnostics.iter().filter(|d| d.severity == crate::diagnostic::Severity::Warning).count(),
            "warning",
            "warnings",
        ),
    }
}

/// `draft` or `ready`.
pub fn status(status: Status) -> &'static str {
    match status {
        Status::Draft => "draft",
        Status::Ready => "ready",
    }
}

/// The issue's `send_at` in the site's time zone (RFC 3339 in UTC without one), or `—`.
pub fn send_at(project: &Project, issue: &Issue) -> String {
    let zone = project.config.site.time_zone();
    issue.front.send_at.map_or_else(|| "—".to_owned(), |t| crate::clock::show(t, zone.as_ref()))
}

/// The audience size of some lists for people, and a note on it.
pub fn audience_cell(snapshot: &Snapshot, lists: &[String], segment: Option<&Segment>) -> (String, String) {
    let filtered = if segment.is_some() { ", narrowed by its audience filter" } else { "" };
    match snapshot.reach(lists, segment) {
        None => ("—".to_owned(), "no subscriber lists".to_owned()),
        Some(Ok(reach)) => (reach.total.to_string(), format!("lists: {}{filtered}", lists.join(", "))),
        Some(Err(why)) => ("unavailable".to_owned(), why.to_string()),
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    match n {
        0 => String::new(),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// Errors among `diagnostics`.
pub fn errors(diagnostics: &[Diagnostic]) -> Vec<Diagnostic> {
    diagnostics.iter().filter(|d| d.is_error()).cloned().collect()
}
