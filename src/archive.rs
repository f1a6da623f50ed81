//! The static web archive: index pages, one page per issue with its email renditions beside it,
//! Atom feeds with full content, and `static/` copied.
//!
//! The pages link to the site's own pages, stylesheet, feeds and images relatively ([`urls`]),
//! so the archive looks the same from `file://`, from `letterpress serve` on a local port and
//! on the site; email renditions and feeds keep absolute URLs, as they are read elsewhere.
//!
//! Enters: a [`Project`] and its issues, checked here ([`CheckedIssue`], rendered once by
//! [`crate::check`]; of each only what the archive needs is kept, its email renditions in a
//! temporary file, until every issue has passed). Leaves: files under the output directory,
//! written one at a time as they are made (a page is rendered, its links made relative,
//! written and dropped: memory grows with the archive only by its issues' template views),
//! and only when their bytes change, so a rebuild of unchanged input is byte-identical and
//! touches nothing; and a [`MANIFEST`] of them, so that the next build removes the ones it no
//! longer writes (and nothing else).

mod feed;
mod pages;
mod spill;
pub mod urls;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::checked::CheckedIssue;
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::fsutil::write_if_changed;
use crate::project::{Project, STATIC_DIR};
use pages::{Entry, Make};
use spill::{Kept, Spill};

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
/// Check every published issue (drafts too when `drafts`) and write the archive to `out`:
/// what `letterpress build` does. See [`build_issues`].
pub fn build_archive(project: &Project, out: &Path, drafts: bool) -> Result<BuildReport> {
    build_issues(project, project.published(drafts).collect(), out)
}

/// Check `issues` (the ones to publish, in archive order; given by value, each is dropped once
/// checked) and write their archive to `out`. Any error in any issue, or in a page template,
/// stops the build before a file is written. Files an earlier build wrote and this one does
/// not are removed, and so are directories they leave empty; files letterpress did not write
/// are left alone.
///
/// Memory: of each checked issue only what the archive needs is kept (the issue's text and
/// body, and the warnings, go), and its email renditions wait in a temporary file until they
/// are written, so a large archive's checked issues take little memory.
pub fn build_issues<I>(project: &Project, issues: Vec<I>, out: &Path) -> Result<BuildReport>
where
    I: std::borrow::Borrow<crate::content::Issue> + Send,
{
    let spill = Spill::new();
    let checked = crate::check::all_with(project, issues, |mut checked| {
        checked.issue.text = String::new();
        checked.issue.body = String::new();
        checked.diagnostics.retain(Diagnostic::is_error);
        let renditions = match &mut checked.rendered {
            Ok(rendered) => {
                rendered.diagnostics = Vec::new();
                let html = spill.put(std::mem::take(&mut rendered.email.html));
                Some([html, spill.put(std::mem::take(&mut rendered.email.text))])
            }
            Err(_) => None,
        };
        (checked, renditions)
    });
    let (checked, renditions): (Vec<CheckedIssue>, Vec<Option<[Kept; 2]>>) = checked.into_iter().unzip();
    let entries = publishable(project, &checked)?;
    let plan = Plan::new(project, out, &entries)?;
    let previous = read_manifest(out)?;
    let current: BTreeSet<PathBuf> =
        plan.paths().filter_map(|p| p.strip_prefix(out).ok()).map(Path::to_path_buf).collect();
    // Listed before writing, so files of a build that dies half-way are still removed later.
    write_manifest(out, previous.union(&current))?;
    let (written, unchanged) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let sink = |path: PathBuf, bytes: Vec<u8>| {
        let count = if write_if_changed(&path, &bytes)? { &written } else { &unchanged };
        count.fetch_add(1, Ordering::Relaxed);
        Ok(())
    };
    // Each issue's renditions are read back and written when its page is made.
    let kept: Mutex<HashMap<String, [Kept; 2]>> =
        Mutex::new(checked.iter().zip(renditions).filter_map(|(c, kept)| Some((c.issue.id(), kept?))).collect());
    let read_back = |entry: &Entry<'_>| -> Result<Option<[Vec<u8>; 2]>> {
        let taken = kept.lock().unwrap_or_else(PoisonError::into_inner).remove(&entry.issue.id());
        let Some([html, text]) = taken else { return Ok(None) };
        Ok(Some([spill.take(html)?, spill.take(text)?]))
    };
    plan.make(project, out, &entries, Make::All(&read_back), &sink)?;
    drop(spill);
    let mut report = BuildReport {
        issues: entries.len(),
        written: written.into_inner(),
        unchanged: unchanged.into_inner(),
        ..BuildReport::default()
    };
    for stale in previous.difference(&current) {
        if remove_output(out, stale)? {
            report.removed += 1;
        }
    }
    write_manifest(out, current.iter())?;
    Ok(report)
}

/// Every file of the archive of `checked`, keyed by its path under `out`, and the number of
/// issues in it, without writing anything (`preview` serves them from memory; pass `out = ""`
/// for relative keys).
pub fn archive_files(
    project: &Project,
    checked: &[CheckedIssue],
    out: &Path,
) -> Result<(usize, BTreeMap<PathBuf, Vec<u8>>)> {
    let entries = publishable(project, checked)?;
    let plan = Plan::new(project, out, &entries)?;
    let files = std::sync::Mutex::new(BTreeMap::new());
    let renditions = |entry: &Entry<'_>| {
        let email = &entry.rendered.email;
        Ok(Some([email.html.clone().into_bytes(), email.text.clone().into_bytes()]))
    };
    plan.make(project, out, &entries, Make::All(&renditions), &|path, bytes| {
        files.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(path, bytes);
        Ok(())
    })?;
    Ok((entries.len(), files.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)))
}

/// The template errors the archive pages of these issues would stop `build` with, found by
/// rendering the pages in memory (and dropping them), so that `check` passing means `build`
/// can too. Issues that did not render are left out (their own diagnostics say why).
pub fn check_pages(project: &Project, checked: &[CheckedIssue]) -> Vec<Diagnostic> {
    let entries: Vec<Entry<'_>> =
        checked.iter().filter_map(|c| Some(Entry { issue: &c.issue, rendered: c.output()? })).collect();
    pages::generate(project, Path::new(""), &entries, Make::Templated, &|_, _| Ok(())).unwrap_or_default()
}

/// The issues as archive entries, or every error that keeps them (or the project's content)
/// out of the archive: the same checks as `letterpress check`.
fn publishable<'a>(project: &Project, checked: &'a [CheckedIssue]) -> Result<Vec<Entry<'a>>> {
    let mut problems: Vec<Diagnostic> = project.diagnostics.iter().filter(|d| d.is_error()).cloned().collect();
    let mut entries = Vec::with_capacity(checked.len());
    for c in checked {
        problems.extend(c.diagnostics.iter().filter(|d| d.is_error()).cloned());
        if let (Some(rendered), false) = (c.output(), c.has_errors()) {
            entries.push(Entry { issue: &c.issue, rendered });
        }
    }
    if problems.is_empty() { Ok(entries) } else { Err(Error::Invalid(problems)) }
}

/// Where every file of an archive goes: the generated ones, `static/` (a static file wins over
/// a generated one at the same path) and the redirect pages of renamed issues (only where
/// nothing else is).
struct Plan {
    generated: BTreeSet<PathBuf>,
    statics: BTreeMap<PathBuf, PathBuf>,
    redirects: BTreeMap<PathBuf, Vec<u8>>,
    archive: String,
}

impl Plan {
    /// The plan, once the page templates are known to render every page.
    fn new(project: &Project, out: &Path, entries: &[Entry<'_>]) -> Result<Self> {
        let problems = pages::generate(project, Path::new(""), entries, Make::Templated, &|_, _| Ok(()))?;
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        let generated: BTreeSet<PathBuf> = pages::paths(project, out, entries).into_iter().collect();
        let statics = static_files(&project.root.join(STATIC_DIR), out);
        let issues: Vec<&crate::content::Issue> = entries.iter().map(|e| e.issue).collect();
        let mut redirects = BTreeMap::new();
        crate::rename::redirect_pages(&issues, out, &mut redirects);
        redirects.retain(|path, _| !generated.contains(path) && !statics.contains_key(path));
        Ok(Self { generated, statics, redirects, archive: project.config.site.archive() })
    }

    /// The path of every file under `out`.
    fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.generated.iter().chain(self.statics.keys()).chain(self.redirects.keys())
    }

    /// Make every file `make` names, and the static files and redirects, and hand them to
    /// `sink`, one at a time; pages get relative links.
    fn make(
        &self,
        project: &Project,
        out: &Path,
        entries: &[Entry<'_>],
        make: Make<'_>,
        sink: pages::Sink<'_>,
    ) -> Result<()> {
        let exists = |target: &Path| {
            let path = out.join(target);
            self.generated.contains(&path) || self.statics.contains_key(&path)
        };
        let problems = pages::generate(project, out, entries, make, &|path, bytes| {
            if self.statics.contains_key(&path) {
                return Ok(());
            }
            let is_page =
                path.extension().is_some_and(|e| e == "html") && path.file_name().is_some_and(|n| n != "email.html");
            let relative = path.strip_prefix(out).ok().map(Path::to_path_buf);
            match (is_page, relative, std::str::from_utf8(&bytes)) {
                (true, Some(page), Ok(html)) => {
                    let new = urls::rewrite(html, |url| urls::relative(&page, url, &self.archive, exists));
                    sink(path, new.into_bytes())
                }
                _ => sink(path, bytes),
            }
        })?;
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        for (path, source) in &self.statics {
            let bytes = std::fs::read(source).map_err(|e| Error::io("read", source, e))?;
            sink(path.clone(), bytes)?;
        }
        for (path, bytes) in &self.redirects {
            sink(path.clone(), bytes.clone())?;
        }
        Ok(())
    }
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

/// The files under `dir` (`static/`), by their path under `out`, in name order.
fn static_files(dir: &Path, out: &Path) -> BTreeMap<PathBuf, PathBuf> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(std::result::Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .filter_map(|entry| Some((out.join(entry.path().strip_prefix(dir).ok()?), entry.into_path())))
        .collect()
}
