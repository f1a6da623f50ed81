//! The generated files of the archive, one at a time: each issue's page and email renditions,
//! each publication's listing and Atom feed, the index and the stylesheet.
//!
//! Enters: the project and the publishable issues, already rendered ([`Entry`]). Leaves: each
//! file handed to a sink as soon as it is made, so nothing holds every page at once, and the
//! template errors met on the way (each once, however many pages share the template).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::feed;
use crate::checked::RenderedIssue;
use crate::content::Issue;
use crate::diagnostic::Diagnostic;
use crate::error::Result;
use crate::project::Project;
use crate::template::Names;
use crate::template::view::{IssueView, PublicationView, SiteView};

/// One issue of the archive: as loaded, and as rendered.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry<'a> {
    pub issue: &'a Issue,
    pub rendered: &'a RenderedIssue,
}

/// What to make: every file, every file but the email renditions, or only the pages made from
/// templates (to find their errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Make {
    /// Pages, renditions, feeds.
    All,
    /// Pages and feeds (the renditions are written separately).
    Pages,
    /// Only what a template renders.
    Templated,
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

/// The path under `out` of every file [`generate`] makes with [`Make::All`].
pub(super) fn paths(project: &Project, out: &Path, entries: &[Entry<'_>]) -> Vec<PathBuf> {
    let mut paths = Vec::with_capacity(entries.len() * 3 + project.config.publications.len() * 2 + 2);
    for publication in &project.config.publications {
        for entry in entries.iter().filter(|e| e.issue.publication == publication.slug) {
            let dir = out.join(&entry.issue.publication).join(&entry.issue.slug);
            paths.extend(["index.html", "email.html", "email.txt"].map(|name| dir.join(name)));
        }
        paths.push(out.join(&publication.slug).join("index.html"));
        paths.push(out.join(&publication.slug).join("atom.xml"));
    }
    paths.push(out.join("index.html"));
    paths.push(out.join("archive.css"));
    paths
}

/// Where [`generate`] hands each file: called from several threads at once.
pub(super) type Sink<'s> = &'s (dyn Fn(PathBuf, Vec<u8>) -> Result<()> + Sync);

/// Make the archive's files under `out`, handing each to `sink`; a page whose template fails
/// is left out and its error returned. Stops at the first error of `sink`.
///
/// The issues' pages (most of the work: a template render each, then the sink's link rewriting
/// and writing) are made on all cores, a contiguous run of each publication's issues per
/// thread; the errors come back in the order one thread would have met them.
pub(super) fn generate(
    project: &Project,
    out: &Path,
    entries: &[Entry<'_>],
    make: Make,
    sink: Sink<'_>,
) -> Result<Vec<Diagnostic>> {
    let site = SiteView::new(&project.config);
    let mut pages = Pages { project, sink, problems: Vec::new() };
    let mut index = Vec::new();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    for publication in &project.config.publications {
        let view = PublicationView::new(&project.config, publication);
        let entries: Vec<Entry<'_>> =
            entries.iter().filter(|e| e.issue.publication == publication.slug).copied().collect();
        let views: Vec<&IssueView> = entries.iter().map(|e| &e.rendered.view).collect();
        let issue_pages = |range: std::ops::Range<usize>| -> Result<Vec<Diagnostic>> {
            let mut pages = Pages { project, sink, problems: Vec::new() };
            for n in range {
                let entry = entries[n];
                let dir = out.join(&entry.issue.publication).join(&entry.issue.slug);
                let context = PageContext {
                    site: &site,
                    publication: &view,
                    issue: &entry.rendered.view,
                    previous: n.checked_sub(1).and_then(|p| views.get(p).copied()),
                    next: views.get(n + 1).copied(),
                };
                pages.render(dir.join("index.html"), Names::of(publication).page, &context)?;
                if make == Make::All {
                    sink(dir.join("email.html"), entry.rendered.email.html.clone().into_bytes())?;
                    sink(dir.join("email.txt"), entry.rendered.email.text.clone().into_bytes())?;
                }
            }
            Ok(pages.problems)
        };
        let (count, chunk) = (entries.len(), entries.len().div_ceil(threads).max(1));
        let found: Vec<Result<Vec<Diagnostic>>> = std::thread::scope(|scope| {
            let issue_pages = &issue_pages;
            let handles: Vec<_> = (0..count)
                .step_by(chunk)
                .map(|start| scope.spawn(move || issue_pages(start..(start + chunk).min(count))))
                .collect();
            // A panic in a render is a bug; it surfaces here rather than as a missing page.
            handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        });
        for problems in found {
            pages.note(problems?);
        }
        let newest_first: Vec<&IssueView> = views.iter().rev().copied().collect();
        let listing = PublicationContext { site: &site, publication: &view, issues: newest_first.clone() };
        pages.render(out.join(&publication.slug).join("index.html"), "publication.html", &listing)?;
        if make != Make::Templated {
            let atom = feed::atom(&site, publication, &view, &entries);
            sink(out.join(&publication.slug).join("atom.xml"), atom.into_bytes())?;
        }
        index.push((view, newest_first));
    }
    let entries =
        index.iter().map(|(publication, issues)| IndexEntry { publication, issues: issues.clone() }).collect();
    pages.render(out.join("index.html"), "index.html", &IndexContext { site: &site, publications: entries })?;
    pages.render(out.join("archive.css"), "archive.css", &IndexContext { site: &site, publications: Vec::new() })?;
    Ok(pages.problems)
}

/// Archive pages being rendered, and the template errors met so far.
struct Pages<'a, 's> {
    project: &'a Project,
    sink: Sink<'s>,
    problems: Vec<Diagnostic>,
}

impl Pages<'_, '_> {
    fn render<T: Serialize>(&mut self, path: PathBuf, template: &str, context: &T) -> Result<()> {
        match self.project.templates.page(template, context) {
            Ok(page) => (self.sink)(path, page.into_bytes())?,
            Err(d) => self.note([d]),
        }
        Ok(())
    }

    /// Keep each template error once, however many pages share the template.
    fn note(&mut self, problems: impl IntoIterator<Item = Diagnostic>) {
        for d in problems {
            if !self.problems.contains(&d) {
                self.problems.push(d);
            }
        }
    }
}
