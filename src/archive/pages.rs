//! The generated files of the archive, one at a time: each issue's page and email renditions,
//! each publication's listing and Atom feed, the index and the stylesheet.
//!
//! Enters: the project and the publishable issues, already rendered ([`Entry`]). Leaves: each
//! file handed to a sink as soon as it is made, so nothing holds every page at once, and the
//! template errors met on the way (each once, however many pages share the template).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use super::feed;
use crate::checked::RenderedIssue;
use crate::content::Issue;
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::project::Project;
use crate::template::Names;
use crate::template::view::{IssueView, PublicationView, SiteView};

/// One issue of the archive: as loaded, and as rendered.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry<'a> {
    pub issue: &'a Issue,
    pub rendered: &'a RenderedIssue,
}

/// What to make: every file, each issue's email renditions as `Renditions` gives them, or only
/// the pages made from templates (to find their errors).
#[derive(Clone, Copy)]
pub(super) enum Make<'r> {
    /// Pages, renditions, feeds.
    All(Renditions<'r>),
    /// Only what a template renders.
    Templated,
}

/// An issue's email renditions (`email.html`, `email.txt`), made or read back when its page is
/// made; `None` for none.
pub(super) type Renditions<'r> = &'r (dyn Fn(&Entry<'_>) -> Result<Option<[Vec<u8>; 2]>> + Sync);

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
/// The files are made on all cores, each thread taking the next [`Job`] as it comes free, so a
/// busy core or a long issue holds no one up: the calling thread makes the files that take a
/// view of every issue of a publication or of the site (listings, feeds, the index), one at a
/// time so that only one such view is held at once, while the others make the issue pages, in
/// runs of [`RUN`]; then it joins them. The errors come back in the order one thread making the
/// files in turn would have met them.
pub(super) fn generate(
    project: &Project,
    out: &Path,
    entries: &[Entry<'_>],
    make: Make<'_>,
    sink: Sink<'_>,
) -> Result<Vec<Diagnostic>> {
    let site = SiteView::new(&project.config);
    let publications = publications(project, entries);
    let (whole, runs) = jobs(&publications, make);
    let stop = AtomicBool::new(false);
    let done: Mutex<Vec<Option<Result<Vec<Diagnostic>>>>> =
        Mutex::new((0..whole.len() + runs.len()).map(|_| None).collect());
    let work = |queue: &[Ranked], next: &AtomicUsize| {
        while !stop.load(Relaxed) {
            let Some((rank, job)) = queue.get(next.fetch_add(1, Relaxed)) else { break };
            let mut pages = Pages { project, sink, problems: Vec::new() };
            let result = pages.make(&site, &publications, out, make, job).map(|()| pages.problems);
            stop.fetch_or(result.is_err(), Relaxed);
            done.lock().unwrap_or_else(PoisonError::into_inner)[*rank] = Some(result);
        }
    };
    let (next_whole, next_run) = (AtomicUsize::new(0), AtomicUsize::new(0));
    // A panic in a render is a bug; it surfaces here rather than as a missing page.
    crate::parallel::with_helpers(
        crate::parallel::cores(),
        || work(&runs, &next_run),
        || {
            work(&whole, &next_whole);
            work(&runs, &next_run);
        },
    );
    let mut pages = Pages { project, sink, problems: Vec::new() };
    for result in done.into_inner().unwrap_or_else(PoisonError::into_inner).into_iter().flatten() {
        pages.note(result?);
    }
    Ok(pages.problems)
}

/// Issue pages are made in runs of this many, a job each.
const RUN: usize = 16;

/// One publication of the archive, with its issues in archive order.
struct Publication<'a, 'e> {
    config: &'a crate::config::Publication,
    view: PublicationView,
    entries: Vec<Entry<'e>>,
    views: Vec<&'e IssueView>,
}

/// The project's publications, each with its entries.
fn publications<'a, 'e>(project: &'a Project, entries: &[Entry<'e>]) -> Vec<Publication<'a, 'e>> {
    project
        .config
        .publications
        .iter()
        .map(|config| {
            let entries: Vec<Entry<'_>> =
                entries.iter().filter(|e| e.issue.publication == config.slug).copied().collect();
            let views = entries.iter().map(|e| &e.rendered.view).collect();
            Publication { config, view: PublicationView::new(&project.config, config), entries, views }
        })
        .collect()
}

impl<'e> Publication<'_, 'e> {
    fn newest_first(&self) -> Vec<&'e IssueView> {
        self.views.iter().rev().copied().collect()
    }
}

/// A piece of the archive one thread makes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Job {
    /// The pages (and, with [`Make::All`], the email renditions) of a run of a publication's
    /// issues, by their place in it.
    Issues(usize, std::ops::Range<usize>),
    /// A publication's listing.
    Listing(usize),
    /// A publication's Atom feed.
    Feed(usize),
    /// The site's index.
    Index,
    /// The archive's stylesheet.
    Stylesheet,
}

/// A job and its rank.
type Ranked = (usize, Job);

/// What there is to make, each job with its rank (its place in the order one thread would
/// make them in: each publication's issue pages, then its listing and feed; the index; the
/// stylesheet, by which their errors are reported): the jobs that take a view of many issues,
/// and the runs of issue pages.
fn jobs(publications: &[Publication<'_, '_>], make: Make<'_>) -> (Vec<Ranked>, Vec<Ranked>) {
    let mut in_order = Vec::new();
    for (p, publication) in publications.iter().enumerate() {
        let count = publication.entries.len();
        in_order.extend((0..count).step_by(RUN).map(|start| Job::Issues(p, start..(start + RUN).min(count))));
        in_order.push(Job::Listing(p));
        if matches!(make, Make::All(_)) {
            in_order.push(Job::Feed(p));
        }
    }
    in_order.extend([Job::Index, Job::Stylesheet]);
    in_order.into_iter().enumerate().partition(|(_, job)| !matches!(job, Job::Issues(..)))
}

/// Archive pages being rendered, and the template errors met so far.
struct Pages<'a, 's> {
    project: &'a Project,
    sink: Sink<'s>,
    problems: Vec<Diagnostic>,
}

impl Pages<'_, '_> {
    /// Make `job`'s files.
    fn make(
        &mut self,
        site: &SiteView,
        publications: &[Publication<'_, '_>],
        out: &Path,
        make: Make<'_>,
        job: &Job,
    ) -> Result<()> {
        match job {
            Job::Issues(p, range) => {
                let Some(publication) = publications.get(*p) else { return Ok(()) };
                let views = &publication.views;
                for n in range.clone() {
                    let Some(entry) = publication.entries.get(n) else { continue };
                    let dir = out.join(&entry.issue.publication).join(&entry.issue.slug);
                    let context = PageContext {
                        site,
                        publication: &publication.view,
                        issue: &entry.rendered.view,
                        previous: n.checked_sub(1).and_then(|p| views.get(p).copied()),
                        next: views.get(n + 1).copied(),
                    };
                    self.render(dir.join("index.html"), Names::of(publication.config).page, &context)?;
                    if let Make::All(renditions) = make
                        && let Some(renditions) = renditions(entry)?
                    {
                        for (name, bytes) in ["email.html", "email.txt"].into_iter().zip(renditions) {
                            (self.sink)(dir.join(name), bytes)?;
                        }
                    }
                }
            }
            Job::Listing(p) => {
                let Some(publication) = publications.get(*p) else { return Ok(()) };
                let listing =
                    PublicationContext { site, publication: &publication.view, issues: publication.newest_first() };
                let path = out.join(&publication.config.slug).join("index.html");
                self.render(path, "publication.html", &listing)?;
            }
            Job::Feed(p) => {
                let Some(publication) = publications.get(*p) else { return Ok(()) };
                let path = out.join(&publication.config.slug).join("atom.xml");
                let atom = feed::atom(site, publication.config, &publication.view, &publication.entries)
                    .map_err(|e| Error::io("write", &path, std::io::Error::other(e)))?;
                (self.sink)(path, atom)?;
            }
            Job::Index => {
                let entries = publications
                    .iter()
                    .map(|p| IndexEntry { publication: &p.view, issues: p.newest_first() })
                    .collect();
                self.render(out.join("index.html"), "index.html", &IndexContext { site, publications: entries })?;
            }
            Job::Stylesheet => {
                let context = IndexContext { site, publications: Vec::new() };
                self.render(out.join("archive.css"), "archive.css", &context)?;
            }
        }
        Ok(())
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checked::CheckedIssue;

    /// The minimal fixture's issues, checked.
    fn checked(project: &Project) -> Vec<CheckedIssue> {
        crate::check::all(project, project.issues.iter())
    }

    /// The archive's entries of `checked`.
    fn entries(checked: &[CheckedIssue]) -> Vec<Entry<'_>> {
        checked.iter().filter_map(|c| Some(Entry { issue: &c.issue, rendered: c.output()? })).collect()
    }

    /// Each job is one of the files one thread would make in turn, ranked by that turn: each
    /// publication's issue pages in runs, its listing and (when files are written) feed, then the
    /// index and the stylesheet; the runs apart from the rest.
    #[test]
    fn every_file_is_in_one_job_ranked_in_the_order_one_thread_makes_them() {
        let project = crate::project::fixture("minimal");
        let checked = checked(&project);
        let one = entries(&checked);
        let entries: Vec<Entry<'_>> = one.iter().cycle().take(one.len() * 20).copied().collect();
        let count = entries.len();
        assert!(count > 2 * RUN && !count.is_multiple_of(RUN), "{count} issues make runs of several lengths");
        let publications = publications(&project, &entries);
        let none = |_: &Entry<'_>| Ok(None);
        for make in [Make::Templated, Make::All(&none)] {
            let (whole, runs) = jobs(&publications, make);
            assert!(runs.iter().all(|(_, job)| matches!(job, Job::Issues(..))));
            assert!(whole.iter().all(|(_, job)| !matches!(job, Job::Issues(..))));
            let mut all: Vec<Ranked> = whole.into_iter().chain(runs).collect();
            all.sort_by_key(|(rank, _)| *rank);
            assert!(all.iter().enumerate().all(|(n, (rank, _))| n == *rank), "ranks are 0..n");
            let mut expected: Vec<Job> =
                (0..count).step_by(RUN).map(|start| Job::Issues(0, start..(start + RUN).min(count))).collect();
            expected.push(Job::Listing(0));
            if matches!(make, Make::All(_)) {
                expected.push(Job::Feed(0));
            }
            expected.extend([Job::Index, Job::Stylesheet]);
            assert_eq!(all.into_iter().map(|(_, job)| job).collect::<Vec<_>>(), expected);
        }
    }

    /// Made on several threads, the files are the ones one thread makes, each once.
    #[test]
    fn every_file_is_made_once() {
        let project = crate::project::fixture("minimal");
        let checked = checked(&project);
        let one = entries(&checked);
        let made = Mutex::new(Vec::new());
        let renditions = |_: &Entry<'_>| Ok(Some([b"<p>html</p>".to_vec(), b"text".to_vec()]));
        let problems = generate(&project, Path::new("out"), &one, Make::All(&renditions), &|path, _| {
            made.lock().unwrap().push(path);
            Ok(())
        })
        .unwrap();
        assert_eq!(problems, []);
        let mut made = made.into_inner().unwrap();
        made.sort();
        let mut expected = paths(&project, Path::new("out"), &one);
        expected.sort();
        assert_eq!(made, expected);
    }

    /// A sink that fails stops the making, and its error comes back.
    #[test]
    fn the_first_error_of_the_sink_comes_back() {
        let project = crate::project::fixture("minimal");
        let checked = checked(&project);
        let one = entries(&checked);
        let error = generate(&project, Path::new("out"), &one, Make::Templated, &|path, _| {
            Err(Error::io("write", &path, std::io::Error::other("disk full")))
        })
        .unwrap_err();
        assert!(error.to_string().contains("disk full"), "{error}");
    }
}
