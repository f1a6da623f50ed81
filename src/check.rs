//! `check`: the stage that renders an issue once and judges it, and every problem in a
//! project, located, without stopping at the first.
//!
//! Enters: a loaded [`Project`] and its issues. Leaves: one [`CheckedIssue`] per issue — the
//! body rendered (HTML, the copy rendition, text), the template view, the generic email, and
//! every diagnostic: from rendering and templating, plus lints of the rendered email (Gmail's
//! clipping size, subject length, plain-text line length, related links, what major email
//! clients do not support ([`crate::lint_clients`]) and the body lints collected by
//! [`crate::render`]). `build`, `render`, `preview` and `send` all take a [`CheckedIssue`], so
//! an issue's Markdown is parsed and its templates rendered here and nowhere else; the archive
//! pages' template errors are found by [`crate::archive::check_pages`] over the checked issues.

use std::path::Path;

use crate::checked::{CheckedIssue, RenderedIssue};
pub use crate::codes::ISSUE_CODES;
use crate::config::List;
use crate::content::{Issue, Related};
use crate::diagnostic::{Diagnostic, Location};
use crate::project::Project;

mod welcome;

/// HTML larger than this is clipped by Gmail (102 KB) once headers are added: an error.
pub const HTML_LIMIT: usize = 100 * 1024;
/// HTML larger than this is close to clipping: a warning.
pub const HTML_WARN: usize = 80 * 1024;
/// Subjects longer than this are cut off in most inboxes.
pub const SUBJECT_LIMIT: usize = 80;

/// Check a whole project, drafts included: every issue (returned, in archive order) and every
/// list; the diagnostics are the loading ones, the lists' and the issues'. The archive pages
/// are judged separately ([`crate::archive::check_pages`] over the returned issues).
pub fn check(project: &Project) -> (Vec<CheckedIssue>, Vec<Diagnostic>) {
    let mut diagnostics = project.diagnostics.clone();
    diagnostics.extend(project.config.relay_warnings_in(&project.root));
    for list in &project.config.lists {
        diagnostics.extend(check_list(&project.root, list).1);
    }
    diagnostics.extend(crate::clicks::serve_needed(project));
    diagnostics.extend(config_header_lines(project));
    let checked = all(project, project.issues.iter());
    diagnostics.extend(checked.iter().flat_map(|c| c.diagnostics.iter().cloned()));
    diagnostics.extend(welcome::check_welcomes(project));
    // A template's unsupported features are reported once, not once per issue using it.
    let mut reported = std::collections::BTreeSet::new();
    diagnostics
        .retain(|d| d.code != crate::lint_clients::CODE || reported.insert((d.location.clone(), d.message.clone())));
    (checked, diagnostics)
}

/// [`issue`] of each of `issues`, in order, on all cores.
pub fn all<'a>(project: &Project, issues: impl Iterator<Item = &'a Issue>) -> Vec<CheckedIssue> {
    all_with(project, issues.collect(), |checked| checked)
}

/// [`issue`] of each of `issues`, in order, on all cores, each result passed through `keep`
/// on the thread that checked it (to keep only what the caller needs, as it goes). Each thread
/// takes the next issue as it comes free, so a long issue or a busy core holds no one up.
/// Issues given by value are dropped as soon as they are checked.
pub fn all_with<I, T>(project: &Project, issues: Vec<I>, keep: impl Fn(CheckedIssue) -> T + Sync) -> Vec<T>
where
    I: std::borrow::Borrow<Issue> + Send,
    T: Send,
{
    crate::parallel::map(issues, |i| keep(issue(project, i.borrow())))
}

/// Check one subscriber list: a one-line summary and its diagnostics (a missing file is one).
pub fn check_list(root: &Path, list: &List) -> (String, Vec<Diagnostic>) {
    let shown = list.csv_path();
    let path = root.join(&shown);
    if !path.is_file() {
        let d = Diagnostic::error("list/missing", format!("list `{}` has no file `{}`", list.slug, shown.display()))
            .help(format!("create it with a header row, e.g. `email,name`, or set `path:` for list `{}`", list.slug));
        // Point at what names the file: its `path:`, else the `slug:` it is derived from.
        let (key, value) = match &list.path {
            Some(path) => ("path", path.to_string_lossy().into_owned()),
            None => ("slug", list.slug.clone()),
        };
        let d = crate::config::at_entry(root, d, "lists", &list.slug, key, &value);
        return (format!("{}: missing", shown.display()), vec![d]);
    }
    match crate::subscribers::check_list(&path, &shown) {
        Ok(report) => {
            let by = &report.by_status;
            let summary = format!(
                "{}: {} rows, {} valid ({} active, {} unsubscribed, {} bounced, {} pending), {} duplicates",
                shown.display(),
                report.rows,
                report.valid,
                by.active,
                by.unsubscribed,
                by.bounced,
                by.pending,
                report.duplicates
            );
            (summary, report.diagnostics)
        }
        Err(e) => (
            format!("{}: unreadable", shown.display()),
            vec![Diagnostic::error("list/io", e.to_string()).in_file(Location::file(&shown))],
        ),
    }
}

/// Check one issue: render it once and lint the result. The rendering is kept (when the
/// templates could render it) so `build`, `preview` and `send` use exactly what was checked.
pub fn issue(project: &Project, issue: &Issue) -> CheckedIssue {
    let mut diagnostics = issue.front.warnings.clone();
    for related in &issue.front.related {
        for (_, word) in crate::render::placeholders(&related.title) {
            let at =
                related_title_location(issue, &related.title).unwrap_or_else(|| related.url.location(&issue.source));
            diagnostics.push(crate::render::placeholder_warning(word).at(at, &issue.text));
        }
    }
    diagnostics.extend(issue.front.related.iter().filter_map(|related| check_related(project, issue, related)));
    let mut named = std::collections::BTreeSet::new();
    for list in issue.front.lists.iter().flatten() {
        if !named.insert(list.value.as_str()) {
            diagnostics.push(
                Diagnostic::warning("front-matter/duplicate-list", format!("list `{}` is named twice", list.value))
                    .at(list.location(&issue.source), &issue.text)
                    .help("remove the second one: a list gets the issue once"),
            );
        } else if project.config.list(&list.value).is_none() {
            diagnostics.push(
                Diagnostic::error("front-matter/unknown-list", format!("unknown list `{}`", list.value))
                    .at(list.location(&issue.source), &issue.text)
                    .help(project.config.list_hint(&list.value)),
            );
        }
    }
    diagnostics.extend(project.check_audience(issue));
    // The body's placeholders are found as it renders; these fields reach the email too.
    let front = &issue.front;
    for (key, value) in [
        ("title", Some(&front.title)),
        ("subject", front.subject.as_ref()),
        ("standfirst", front.standfirst.as_ref()),
        ("summary", front.summary.as_ref()),
    ] {
        for (_, word) in value.map(|v| crate::render::placeholders(v)).unwrap_or_default() {
            diagnostics.push(crate::render::placeholder_warning(word).at(key_location(issue, key), &issue.text));
        }
    }
    if let Some(too_long) = crate::compose::subject_too_long(issue.subject()) {
        diagnostics.push(too_long.at(key_location(issue, subject_key(issue)), &issue.text));
    }
    if issue.front.status == crate::content::Status::Draft && issue.front.send_at.is_some() {
        diagnostics.push(
            Diagnostic::warning("lint/draft-scheduled", "this draft has a `send_at` but drafts are never sent")
                .at(key_location(issue, "send_at"), &issue.text)
                .help("set `status: ready` when it is finished"),
        );
    }
    if let Some(date) = issue.front.date
        && issue.slug.get(..10) != Some(date.to_string().as_str())
    {
        diagnostics.push(
            Diagnostic::warning(
                "lint/date-mismatch",
                format!("`date` is {date} but the file name says {}", issue.slug.get(..10).unwrap_or(&issue.slug)),
            )
            .at(key_location(issue, "date"), &issue.text)
            .help("the archive URL uses the file name; rename the file or drop `date`"),
        );
    }
    let (blocks, problems) = crate::editions::judge(project, issue);
    diagnostics.extend(problems);
    let rendered = crate::editions::render_full(project, issue, &blocks);
    match &rendered {
        Ok(rendered) => {
            diagnostics.extend(rendered.diagnostics.iter().cloned());
            diagnostics.extend(lint_email(issue, rendered));
            diagnostics.extend(lint_clients(project, issue, rendered));
        }
        Err(unrendered) => diagnostics.push(unrendered.error.clone()),
    }
    CheckedIssue { issue: issue.clone(), rendered, diagnostics }
}

/// A `related` link's URL: one that may be a link ([`crate::href::judge`]), that resolves, and
/// preferably `https:`.
fn check_related(project: &Project, issue: &Issue, related: &Related) -> Option<Diagnostic> {
    let url = &related.url.value;
    let diagnostic = match crate::href::judge(url) {
        Err(refused) => Diagnostic::error("link/scheme", format!("related link `{}` {refused}", url.escape_debug()))
            .help(refused.help()),
        Ok(kind) => match project.links.resolve(url) {
            Err(why) => {
                Diagnostic::error("link/broken", format!("related link: {why}")).help(project.links.broken_help(url))
            }
            Ok(_) if kind == crate::href::Kind::Http => {
                Diagnostic::warning("lint/http-link", format!("insecure link `{url}`")).help("use `https://`")
            }
            Ok(_) => return None,
        },
    };
    Some(diagnostic.at(related.url.location(&issue.source), &issue.text))
}

fn lint_email(issue: &Issue, rendered: &RenderedIssue) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let size = rendered.email.html.len();
    let file = Location::new(&issue.source, 1, 1);
    if size > HTML_LIMIT {
        out.push(
            Diagnostic::error(
                "lint/html-size",
                format!(
                    "the HTML email is {} KB; Gmail clips messages over 102 KB, hiding the unsubscribe link",
                    size / 1024
                ),
            )
            .at(file.clone(), &issue.text)
            .help("shorten the issue or split it in two"),
        );
    } else if size > HTML_WARN {
        out.push(
            Diagnostic::warning(
                "lint/html-size",
                format!("the HTML email is {} KB, close to Gmail's 102 KB clipping limit", size / 1024),
            )
            .at(file.clone(), &issue.text),
        );
    }
    let subject = issue.subject();
    if subject.trim().is_empty() {
        out.push(
            Diagnostic::error("front-matter/empty-subject", "the email subject is empty")
                .at(key_location(issue, "subject"), &issue.text)
                .help("write a subject or remove `subject:` to use the title"),
        );
    }
    let subject_len = subject.chars().count();
    if subject_len > SUBJECT_LIMIT {
        out.push(
            Diagnostic::warning(
                "lint/subject-length",
                format!("the subject is {subject_len} characters; inboxes cut it off after about {SUBJECT_LIMIT}"),
            )
            .at(key_location(issue, subject_key(issue)), &issue.text)
            .help("set a shorter `subject:`"),
        );
    }
    let wide: Vec<(usize, &str)> = rendered
        .email
        .text
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            unicode_width::UnicodeWidthStr::width(*line) > crate::render::text::MAX_COLUMNS && !is_unbreakable(line)
        })
        .collect();
    if let Some((n, line)) = wide.first() {
        let more = match wide.len() {
            1 => String::new(),
            k => format!(" (and {} more)", k - 1),
        };
        out.push(
            Diagnostic::warning(
                "lint/text-width",
                format!("plain-text line {} is over 78 columns{more}: `{line}`", n + 1),
            )
            .at(file, &issue.text)
            .help("check the text templates; the body is wrapped at 72"),
        );
    }
    out
}

/// The front-matter key the email subject comes from: `subject`, else `title`.
fn subject_key(issue: &Issue) -> &'static str {
    if issue.front.subject.is_some() { "subject" } else { "title" }
}

/// The header lines the configuration makes too long for any message to carry (RFC 5322's 998
/// characters), located where they are written: each publication's `From`, `Reply-To` and
/// `List-Id`, and `List-Unsubscribe` with the longest token a send appends to the unsubscribe
/// URL (which must not have a `#` fragment either). A send refuses them before its first
/// message, by the same tests.
fn config_header_lines(project: &Project) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for publication in &project.config.publications {
        for (key, value, d) in crate::compose::publication_too_long(publication) {
            out.push(crate::config::at_entry(&project.root, d, "publications", &publication.slug, key, value));
        }
    }
    out.extend(duplicate_publication_lists(project));
    if let Some(d) = crate::compose::unsubscribe_url_problem(&project.config) {
        let site = &project.config.site;
        let (key, value) = match &site.unsubscribe_url {
            Some(url) => ("unsubscribe-url", url.as_str()),
            None => ("base-url", site.base_url.as_str()),
        };
        out.push(crate::config::at_key(&project.root, d, key, value));
    }
    out
}

/// A list a publication's `lists` names twice: a warning (the list gets each issue once).
fn duplicate_publication_lists(project: &Project) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for publication in &project.config.publications {
        let mut named = std::collections::BTreeSet::new();
        for name in publication.lists.iter().filter(|name| !named.insert(name.as_str())) {
            let d = Diagnostic::warning(
                "config/duplicate-list",
                format!("publication `{}` names list `{name}` twice", publication.slug),
            )
            .help("remove the second one: a list gets each issue once");
            out.push(crate::config::at_entry(&project.root, d, "publications", &publication.slug, "lists", name));
        }
    }
    out
}

/// What the major email clients do not support in the final email (see [`crate::lint_clients`]).
fn lint_clients(project: &Project, issue: &Issue, rendered: &RenderedIssue) -> Vec<Diagnostic> {
    let Some(publication) = project.config.publication(&issue.publication) else { return Vec::new() };
    let names = crate::template::Names::of(publication);
    let source = |name: &str| {
        project
            .templates
            .source(name)
            .map_or((Path::new(""), "", true), |(path, text)| (path, text, project.templates.is_built_in(name)))
    };
    let sources =
        crate::lint_clients::Sources { templates: [source(names.email_html), source(names.email_css)], issue };
    crate::lint_clients::lint(&rendered.email.html, &sources)
}

/// A line that cannot be wrapped: one token after any list, quote or reference prefix.
pub fn is_unbreakable(line: &str) -> bool {
    let rest = line.trim_start().trim_start_matches(['>', ' ', '-', '*']);
    let rest = match rest.split_once("] ") {
        Some((prefix, tail)) if prefix.starts_with('[') => tail,
        _ => rest,
    };
    let rest = rest.split_once(": ").map_or(rest, |(_, tail)| tail);
    !rest.trim().contains(char::is_whitespace)
}

/// Where a related link's `title` is written: the first line after `related:` holding it.
fn related_title_location(issue: &Issue, title: &str) -> Option<Location> {
    let start = issue.text.lines().position(|l| l.starts_with("related:"))?;
    let (i, line) = issue.text.lines().enumerate().skip(start).find(|(_, l)| l.contains(title))?;
    let col = line.find(title).map_or(0, |b| line[..b].chars().count());
    Some(issue.location(i + 1, col + 1))
}

/// The location of a front-matter key in an issue.
fn key_location(issue: &Issue, key: &str) -> Location {
    let prefix = format!("{key}:");
    let line = issue.text.lines().position(|l| l.starts_with(&prefix)).map_or(1, |i| i + 1);
    issue.location(line, 1)
}

#[cfg(test)]
mod tests;
