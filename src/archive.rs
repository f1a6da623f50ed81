//! The static web archive: index pages, one page per issue with its email renditions beside it,
//! Atom feeds with full content, and `static/` copied.
//!
//! The pages link to the site's own pages, stylesheet, feeds and images relatively ([`urls`]),
//! so the archive looks the same from `file://`, from `letterpress serve` on a local port and
//! on the site; email renditions and feeds keep absolute URLs, as they are read elsewhere.
//!
//! Enters: a [`Project`] and the rendered issues. Leaves: files under the output directory,
//! written only when their bytes change, so a rebuild of unchanged input is byte-identical and
//! touches nothing, and a [`MANIFEST`] of them, so that the next build removes the ones it no
//! longer writes (and nothing else).

pub mod urls;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use atom_syndication::{Content, Entry, Feed, Link, Person, Text};
use serde::Serialize;

use crate::config::Publication;
use crate::content::Issue;
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::fsutil::write_if_changed;
use crate::project::{Project, RenderedIssue, STATIC_DIR};
use crate::template::Names;
use crate::template::view::{IssueView, PublicationView, SiteView};

/// The list of files the last `build` wrote into its output directory, one path a line,
/// relative to the directory and with `/` separators. Only files listed here are ever removed.
pub const MANIFEST: &str = ".letterpress-manifest";

/// What `build` wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// Issues in the archive.
    pub issues: usize,
    /// Files whose content changed.
    pub written: usize,
    /// Files already up to date.
    pub unchanged: usize,
    /// Files an earlier build wrote that this one no longer does (drafts, deleted or renamed
    /// issues, removed static files), now removed.
    pub removed: usize,
}
#[derive(Serialize)]
struct PageContext<'a> {
    site: &'a SiteView,
    publication: &'a PublicationView,
    issue: &'a IssueView,
    previous: Option<&'a IssueView>,
    next: Option<&'a IssueView>,
}

#[derive(Serialize)]
struct PublicationContext<'a> {
    site: &'a SiteView,
    publication: &'a PublicationView,
    issues: Vec<&'a IssueView>,
}

#[derive(Serialize)]
struct IndexEntry<'a> {
    publication: &'a PublicationView,
    issues: Vec<&'a IssueView>,
}

#[derive(Serialize)]
struct IndexContext<'a> {
    site: &'a SiteView,
    publications: Vec<IndexEntry<'a>>,
}

/// Render every published issue (drafts too when `drafts`) and write the archive to `out`.
/// Any error in any issue stops the build before a file is written. Files an earlier build
/// wrote and this one does not are removed, and so are directories they leave empty; files
/// letterpress did not write are left alone.
pub fn build_archive(project: &Project, out: &Path, drafts: bool) -> Result<BuildReport> {
    let (issues, files) = archive_files(project, out, drafts)?;
    let previous = read_manifest(out)?;
    let current: BTreeSet<PathBuf> =
        files.keys().filter_map(|p| p.strip_prefix(out).ok()).map(Path::to_path_buf).collect();
    // Listed before writing, so files of a build that dies half-way are still removed later.
    write_manifest(out, previous.union(&current))?;
    let mut report = BuildReport { issues, ..BuildReport::default() };
    for (path, bytes) in &files {
        if write_if_changed(path, bytes)? {
            report.written += 1;
        } else {
            report.unchanged += 1;
        }
    }
    for stale in previous.difference(&current) {
        if remove_output(out, stale)? {
            report.removed += 1;
        }
    }
    write_manifest(out, current.iter())?;
    Ok(report)
}

/// The files the last build recorded in `out`; none when there is no manifest. Lines that are
/// not plain relative paths (hand edits, `..`, absolute paths) are ignored.
fn read_manifest(out: &Path) -> Result<BTreeSet<PathBuf>> {
    let path = out.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    Ok(text
        .lines()
        .map(Path::new)
        .filter(|p| p != &Path::new(MANIFEST))
        .filter(|p| p.components().next().is_some() && p.components().all(|c| matches!(c, Component::Normal(_))))
        .map(Path::to_path_buf)
        .collect())
}

fn write_manifest<'a>(out: &Path, files: impl Iterator<Item = &'a PathBuf>) -> Result<()> {
    let text = files.fold(String::new(), |mut text, p| {
        text.push_str(&p.to_string_lossy().replace('\\', "/"));
        text.push('\n');
        text
    });
    write_if_changed(&out.join(MANIFEST), text.as_bytes()).map(|_| ())
}

/// Remove `out/relative`, a file an earlier build wrote, and the directories it leaves empty.
/// Nothing is removed through a directory that has become a symbolic link, so only files
/// inside `out` go. `false` when there was nothing to remove.
fn remove_output(out: &Path, relative: &Path) -> Result<bool> {
    let inside = relative
        .ancestors()
        .skip(1)
        .filter(|a| !a.as_os_str().is_empty())
        .all(|a| std::fs::symlink_metadata(out.join(a)).is_ok_and(|m| m.file_type().is_dir()));
    let path = out.join(relative);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if inside && !m.is_dir() => std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?,
        Ok(_) => return Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io("read", &path, e)),
    }
    // Stops at the first directory that still holds something (or is `out` itself).
    for dir in relative.ancestors().skip(1).take_while(|a| !a.as_os_str().is_empty()) {
        if std::fs::remove_dir(out.join(dir)).is_err() {
            break;
        }
    }
    Ok(true)
}

/// Every file of the archive, keyed by its path under `out`, and the number of issues in it,
/// without writing anything (`preview` serves them from memory; pass `out = ""` for relative keys).
pub fn archive_files(project: &Project, out: &Path, drafts: bool) -> Result<(usize, BTreeMap<PathBuf, Vec<u8>>)> {
    let issues: Vec<&Issue> = project.published(drafts).collect();
    let rendered = render_all(project, &issues)?;
    let entries: Vec<(&Issue, &RenderedIssue)> = issues.iter().copied().zip(&rendered).collect();
    let (mut files, problems) = pages(project, out, &entries);
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let mut rendered: Vec<PathBuf> = files
        .keys()
        .filter(|path| {
            path.extension().is_some_and(|e| e == "html") && path.file_name().is_some_and(|n| n != "email.html")
        })
        .cloned()
        .collect();
    let mut statics = BTreeMap::new();
    copy_static(&project.root.join(STATIC_DIR), out, &mut statics)?;
    rendered.retain(|path| !statics.contains_key(path));
    files.append(&mut statics);
    relative_links(&project.config.site.archive(), out, &rendered, &mut files);
    crate::rename::redirect_pages(&issues, out, &mut files);
    Ok((issues.len(), files))
}

/// Make the links of the rendered `pages` to other files of the archive relative.
fn relative_links(archive: &str, out: &Path, pages: &[PathBuf], files: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let rewritten: Vec<(PathBuf, Vec<u8>)> = pages
        .iter()
        .filter_map(|path| Some((path, files.get(path)?)))
        .filter_map(|(path, bytes)| {
            let page = path.strip_prefix(out).ok()?;
            let html = std::str::from_utf8(bytes).ok()?;
            let exists = |target: &Path| files.contains_key(&out.join(target));
            let new = urls::rewrite(html, |url| urls::relative(page, url, archive, exists));
            Some((path.clone(), new.into_bytes()))
        })
        .collect();
    files.extend(rewritten);
}

/// The template errors the archive pages of these issues would stop `build` with, found by
/// rendering the pages in memory, so that `check` passing means `build` can too.
pub fn check_pages(project: &Project, entries: &[(&Issue, &RenderedIssue)]) -> Vec<Diagnostic> {
    pages(project, Path::new(""), entries).1
}

/// The pages, feeds and email renditions of the archive under `out`, and every template error
/// met on the way (each once, however many pages share the template).
fn pages(
    project: &Project,
    out: &Path,
    entries: &[(&Issue, &RenderedIssue)],
) -> (BTreeMap<PathBuf, Vec<u8>>, Vec<Diagnostic>) {
    let site = SiteView::new(&project.config);
    let mut pages = Pages { project, files: BTreeMap::new(), problems: Vec::new() };
    let mut index = Vec::new();
    for publication in &project.config.publications {
        let view = PublicationView::new(&project.config, publication);
        let entries: Vec<(&Issue, &RenderedIssue)> =
            entries.iter().filter(|(i, _)| i.publication == publication.slug).copied().collect();
        let views: Vec<&IssueView> = entries.iter().map(|(_, r)| &r.view).collect();
        for (n, (issue, r)) in entries.iter().enumerate() {
            let dir = out.join(&issue.publication).join(&issue.slug);
            let context = PageContext {
                site: &site,
                publication: &view,
                issue: &r.view,
                previous: n.checked_sub(1).and_then(|p| views.get(p).copied()),
                next: views.get(n + 1).copied(),
            };
            pages.render(dir.join("index.html"), Names::of(publication).page, &context);
            pages.files.insert(dir.join("email.html"), r.email.html.clone().into_bytes());
            pages.files.insert(dir.join("email.txt"), r.email.text.clone().into_bytes());
        }
        let newest_first: Vec<&IssueView> = views.iter().rev().copied().collect();
        let listing = PublicationContext { site: &site, publication: &view, issues: newest_first.clone() };
        pages.render(out.join(&publication.slug).join("index.html"), "publication.html", &listing);
        pages.files.insert(
            out.join(&publication.slug).join("atom.xml"),
            atom(&site, publication, &view, &entries).into_bytes(),
        );
        index.push((view, newest_first));
    }
    let entries =
        index.iter().map(|(publication, issues)| IndexEntry { publication, issues: issues.clone() }).collect();
    pages.render(out.join("index.html"), "index.html", &IndexContext { site: &site, publications: entries });
    pages.render(out.join("archive.css"), "archive.css", &IndexContext { site: &site, publications: Vec::new() });
    (pages.files, pages.problems)
}

/// Archive pages being rendered, and the template errors met so far.
struct Pages<'a> {
    project: &'a Project,
    files: BTreeMap<PathBuf, Vec<u8>>,
    problems: Vec<Diagnostic>,
}

impl Pages<'_> {
    fn render<T: Serialize>(&mut self, path: PathBuf, template: &str, context: &T) {
        match self.project.templates.page(template, context) {
            Ok(page) => {
                self.files.insert(path, page.into_bytes());
            }
            Err(d) if !self.problems.contains(&d) => self.problems.push(d),
            Err(_) => {}
        }
    }
}

/// Render every issue, on all cores; every failure is collected.
fn render_all(project: &Project, issues: &[&Issue]) -> Result<Vec<RenderedIssue>> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let chunk = issues.len().div_ceil(threads).max(1);
    let results: Vec<std::result::Result<RenderedIssue, Vec<Diagnostic>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = issues
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().map(|issue| render_checked(project, issue)).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut problems = project.diagnostics.clone();
    let mut rendered = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(r) => rendered.push(r),
            Err(mut errors) => problems.append(&mut errors),
        }
    }
    problems.retain(Diagnostic::is_error);
    if problems.is_empty() && rendered.len() == issues.len() { Ok(rendered) } else { Err(Error::Invalid(problems)) }
}

/// The same checks as `letterpress check`: an issue with any error is not published.
fn render_checked(project: &Project, issue: &Issue) -> std::result::Result<RenderedIssue, Vec<Diagnostic>> {
    let (rendered, mut diagnostics) = crate::check::check_issue(project, issue);
    diagnostics.retain(Diagnostic::is_error);
    match rendered {
        Some(rendered) if diagnostics.is_empty() => Ok(rendered),
        _ => Err(diagnostics),
    }
}

/// A valid Atom feed of a publication, newest first, with full HTML content, authored by the
/// publication where an issue names no `author`. `updated` comes
/// from the issues themselves, never the clock, so the feed is reproducible.
fn atom(
    site: &SiteView,
    publication: &Publication,
    view: &PublicationView,
    entries: &[(&Issue, &RenderedIssue)],
) -> String {
    let stamp = |issue: &Issue| {
        let day = issue.date.to_zoned(jiff::tz::TimeZone::UTC).map_or(0, |z| z.timestamp().as_second());
        chrono::DateTime::from_timestamp(day, 0).unwrap_or_default().fixed_offset()
    };
    let updated = entries.iter().map(|(i, _)| stamp(i)).max().unwrap_or_default();
    let link = |href: &str, rel: &str, mime: &str| Link {
        href: href.to_owned(),
        rel: rel.to_owned(),
        mime_type: Some(mime.to_owned()),
        ..Link::default()
    };
    let items = entries
        .iter()
        .rev()
        .map(|(issue, r)| Entry {
            id: r.view.url.clone(),
            title: Text::plain(r.view.title.clone()),
            updated: stamp(issue),
            published: Some(stamp(issue)),
            authors: (!r.view.author.is_empty())
                .then(|| Person { name: r.view.author.clone(), ..Person::default() })
                .into_iter()
                .collect(),
            links: vec![link(&r.view.url, "alternate", "text/html")],
            summary: (!r.view.summary.is_empty()).then(|| Text::plain(r.view.summary.clone())),
            content: Some(Content {
                value: Some(r.view.email_html.clone()),
                content_type: Some("html".to_owned()),
                ..Content::default()
            }),
            ..Entry::default()
        })
        .collect();
    let feed = Feed {
        id: view.url.clone(),
        title: Text::plain(publication.name.clone()),
        subtitle: (!publication.description.is_empty()).then(|| Text::plain(publication.description.clone())),
        // RFC 4287 §4.1.1: an entry without an author takes the feed's, and one is required.
        authors: vec![Person { name: publication.name.clone(), ..Person::default() }],
        updated,
        links: vec![link(&view.feed_url, "self", "application/atom+xml"), link(&view.url, "alternate", "text/html")],
        lang: Some(site.language.clone()),
        entries: items,
        ..Feed::default()
    };
    feed.to_string()
}

fn copy_static(dir: &Path, out: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) -> Result<()> {
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name().into_iter().filter_map(std::result::Result::ok) {
        if let (true, Ok(relative)) = (entry.file_type().is_file(), entry.path().strip_prefix(dir)) {
            let bytes = std::fs::read(entry.path()).map_err(|e| Error::io("read", entry.path(), e))?;
            files.insert(out.join(relative), bytes);
        }
    }
    Ok(())
}
