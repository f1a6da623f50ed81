//! A loaded project: configuration, issues, templates and link targets, and the per-issue
//! pipeline (`render` then `template`) that [`crate::check::issue`] runs once per issue, for
//! `check`, `render`, `build`, `preview` and `send` alike.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::checked::{RenderedIssue, Unrendered};
use crate::config::{self, Config};
use crate::content::{self, Issue, Status};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::render::{self, Links};
use crate::template::view::IssueView;
use crate::template::{self, Templates};

/// The static directory, copied to the archive root.
pub const STATIC_DIR: &str = "static";

/// Everything read from a project directory.
#[derive(Debug)]
pub struct Project {
    /// The project root.
    pub root: PathBuf,
    /// Parsed configuration.
    pub config: Config,
    /// Every issue that parsed, drafts included, in archive order.
    pub issues: Vec<Issue>,
    /// Templates: defaults plus the project's overrides.
    pub templates: Templates,
    /// Link targets for resolving internal and relative links.
    pub links: Links,
    /// Problems found while loading content (files that did not parse).
    pub diagnostics: Vec<Diagnostic>,
}

impl Project {
    /// Load the project at `root`. Configuration and template errors are fatal; content
    /// errors are collected in `diagnostics`.
    pub fn load(root: &Path) -> Result<Self> {
        let config = load_config(root)?;
        let templates = Templates::load(root, &config).map_err(Error::Invalid)?;
        let (issues, diagnostics) = content::load_all(root, &config);
        let links = Links::new(&config, &issues, static_files(root));
        Ok(Self { root: root.to_path_buf(), config, issues, templates, links, diagnostics })
    }

    /// This project with only the issue files `changed` (paths relative to the root, each
    /// `content/<publication>/<name>.md`) read again: what [`Project::load`] returns when
    /// nothing else changed, without reading the configuration, templates or other issues.
    /// A file that no longer exists drops its issue. `None` when a path is not such a file.
    pub fn with_issues_reloaded(&self, changed: &[PathBuf]) -> Option<Self> {
        let is_issue_file = |path: &PathBuf| {
            let parts: Vec<_> = path.components().collect();
            parts.len() == 3
                && parts[0].as_os_str() == content::DIR
                && path.extension().is_some_and(|e| e == "md")
                && !self.root.join(path).is_dir()
                && !content::is_welcome(&self.config, path)
        };
        if !changed.iter().all(is_issue_file) {
            return None;
        }
        let mut issues: Vec<Issue> = self.issues.iter().filter(|i| !changed.contains(&i.source)).cloned().collect();
        let mut diagnostics: Vec<Diagnostic> = self
            .diagnostics
            .iter()
            .filter(|d| !d.location.as_ref().is_some_and(|l| changed.contains(&l.path)))
            .cloned()
            .collect();
        let zone = self.config.site.time_zone();
        for path in changed {
            let full = self.root.join(path);
            if !full.is_file() {
                continue;
            }
            match content::load(&full, path, zone.as_ref()) {
                Ok(issue) if self.config.publication(&issue.publication).is_some() => issues.push(issue),
                Ok(_) => {}
                Err(mut errors) => diagnostics.append(&mut errors),
            }
        }
        content::sort(&mut issues, &self.config);
        let links = Links::new(&self.config, &issues, static_files(&self.root));
        Some(Self {
            root: self.root.clone(),
            config: self.config.clone(),
            issues,
            templates: self.templates.clone(),
            links,
            diagnostics,
        })
    }

    /// Find an issue by `publication/slug`, `publication/slug.md` or a path to its file:
    /// relative to the project, or absolute or relative to the current directory (compared
    /// after resolving both sides, so `-C` and symbolic links make no difference).
    pub fn find(&self, name: &str) -> Result<&Issue> {
        let wanted = name.trim_end_matches(".md").trim_start_matches("./");
        let wanted = wanted.strip_prefix("content/").unwrap_or(wanted);
        let by_path = Path::new(name);
        let canonical = std::fs::canonicalize(by_path).ok();
        let is_named = |source: &Path| {
            source == by_path
                || self.root.join(source) == by_path
                || canonical
                    .as_ref()
                    .is_some_and(|c| std::fs::canonicalize(self.root.join(source)).is_ok_and(|s| s == *c))
        };
        self.issues.iter().find(|i| i.id() == wanted || is_named(&i.source)).ok_or_else(|| {
            let file = Path::new("content").join(format!("{wanted}.md"));
            let problems: Vec<Diagnostic> = self
                .diagnostics
                .iter()
                .filter(|d| d.location.as_ref().is_some_and(|l| l.path == file || is_named(&l.path)))
                .cloned()
                .collect();
            if !problems.is_empty() {
                return Error::Invalid(problems);
            }
            let ids: Vec<String> = self.issues.iter().map(Issue::id).collect();
            let hint = crate::diagnostic::did_you_mean(wanted, ids.iter().map(String::as_str))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            Error::usage(format!(
                "no issue `{name}`{hint} (name an issue as `<publication>/<file name without .md>` or by path)"
            ))
        })
    }

    /// Issues for the archive: ready ones, and drafts when asked.
    pub fn published(&self, drafts: bool) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(move |i| drafts || i.front.status == Status::Ready)
    }

    /// The list files an issue goes to: its front matter's `lists`, else its publication's.
    pub fn lists_of(&self, issue: &Issue) -> Result<Vec<crate::subscribers::ListFile>> {
        let names: Vec<String> = match &issue.front.lists {
            Some(lists) => lists.iter().map(|l| l.value.clone()).collect(),
            None => self.config.publication(&issue.publication).map(|p| p.lists.clone()).unwrap_or_default(),
        };
        if names.is_empty() {
            return Err(Error::usage(format!(
                "`{}` goes to no list; name lists under its publication in letterpress.yaml or in `lists:` in its front matter",
                issue.id()
            )));
        }
        let segment = self.audience_of(issue).map(std::sync::Arc::new);
        names
            .iter()
            .map(|name| {
                let list = self.config.list_named(name)?;
                let shown = list.csv_path();
                let segment = segment.clone();
                Ok(crate::subscribers::ListFile {
                    slug: list.slug.clone(),
                    path: self.root.join(&shown),
                    shown,
                    segment,
                })
            })
            .collect()
    }

    /// `check`'s diagnostics for the audience filter of an issue: unknown columns, or a filter
    /// that matches nobody (see [`crate::subscribers::check_segment`]). An issue whose lists are
    /// unknown gets none here: the unknown list is the error to fix first.
    pub fn check_audience(&self, issue: &Issue) -> Vec<Diagnostic> {
        let Ok(files) = self.lists_of(issue) else { return Vec::new() };
        let source = match &issue.front.audience {
            Some(_) => issue.text.clone(),
            None => std::fs::read_to_string(self.root.join(crate::config::FILE_NAME)).unwrap_or_default(),
        };
        crate::subscribers::check_segment(&files, &source)
    }

    /// The audience filter of an issue: its front matter's `audience`, else its publication's
    /// (already validated when the configuration was loaded), else none.
    pub fn audience_of(&self, issue: &Issue) -> Option<crate::segment::Segment> {
        if let Some(segment) = &issue.front.audience {
            return Some(segment.clone());
        }
        let publication = self.config.publication(&issue.publication)?;
        let zone = self.config.site.time_zone();
        publication.segment(Path::new(crate::config::FILE_NAME), "", zone.as_ref())?.ok()
    }

    /// Render one issue's body, view and email: the one Markdown parse and template render of
    /// an issue, which [`crate::check::issue`] runs (everything else takes its result).
    pub fn render(&self, issue: &Issue) -> std::result::Result<RenderedIssue, Unrendered> {
        let publication = self.config.publication(&issue.publication).ok_or_else(|| Unrendered {
            view: None,
            error: Diagnostic::error(
                "content/unknown-publication",
                format!("`{}` is not a configured publication", issue.publication),
            ),
        })?;
        let mut rendered = render::render(issue, &self.links);
        let diagnostics = std::mem::take(&mut rendered.diagnostics);
        let view = IssueView::new(issue, rendered, &self.links);
        let context = template::generic_context(&self.config, &self.templates, publication, view.clone());
        match self.templates.email(publication, &context) {
            Ok(email) => Ok(RenderedIssue { view, email, diagnostics }),
            Err(error) => Err(Unrendered { view: Some(view), error }),
        }
    }
}

/// Read the configuration of the project at `root`, or explain how to make one.
pub fn load_config(root: &Path) -> Result<Config> {
    let config_path = config::path_in(root);
    if !config_path.is_file() {
        return Err(Error::usage(format!(
            "no `{}` in `{}`; run `letterpress init <dir>` to create a project, or pass `-C <dir>`",
            config::FILE_NAME,
            root.display()
        )));
    }
    Config::from_file(&config_path, Path::new(config::FILE_NAME))
}

/// Paths of the files under `root/static`, relative to it, with `/` separators.
fn static_files(root: &Path) -> BTreeSet<String> {
    let dir = root.join(STATIC_DIR);
    walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.path().strip_prefix(&dir).ok().map(|p| p.to_string_lossy().replace('\\', "/")))
        .collect()
}

/// The project `tests/fixtures/<name>`, loaded, for unit tests that read a project.
#[cfg(test)]
pub(crate) fn fixture(name: &str) -> Project {
    Project::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

/// A copy of `tests/fixtures/<name>` in a temporary directory, for unit tests that edit a project.
#[cfg(test)]
pub(crate) fn copy_of_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    for entry in walkdir::WalkDir::new(&fixture).into_iter().filter_map(std::result::Result::ok) {
        let to = dir.path().join(entry.path().strip_prefix(&fixture).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Project {
        fixture("minimal")
    }

    #[test]
    fn template_context_is_stable() {
        let project = minimal();
        let issue = project.find("weekly/2016-12-09-first").unwrap();
        let rendered = project.render(issue).unwrap();
        let publication = project.config.publication("weekly").unwrap();
        let context = template::generic_context(&project.config, &project.templates, publication, rendered.view);
        insta::assert_json_snapshot!(context);
    }

    #[test]
    fn finds_issues_by_id_path_or_file() {
        let project = minimal();
        for name in ["weekly/2016-12-09-first", "weekly/2016-12-09-first.md", "content/weekly/2016-12-09-first.md"] {
            assert_eq!(project.find(name).unwrap().slug, "2016-12-09-first", "{name}");
        }
        assert!(project.find("weekly/nope").is_err());
    }

    #[test]
    fn reloading_changed_issues_is_loading_again() {
        let dir = copy_of_fixture("minimal");
        let before = Project::load(dir.path()).unwrap();
        let first = before.issues[0].source.clone();
        let (added, broken) = (PathBuf::from("content/weekly/2016-12-30-new.md"), before.issues[1].source.clone());
        std::fs::write(dir.path().join(&first), "---\ntitle: Edited\nstatus: ready\n---\n\nNew text.\n").unwrap();
        std::fs::write(dir.path().join(&added), "---\ntitle: Added\nstatus: draft\n---\n\nMore.\n").unwrap();
        std::fs::write(dir.path().join(&broken), "---\ntitle: [oops\n---\n").unwrap();
        let changed = [first, added, broken.clone()];
        let reloaded = before.with_issues_reloaded(&changed).unwrap();
        let loaded = Project::load(dir.path()).unwrap();
        assert_eq!(
            (&reloaded.issues, &reloaded.diagnostics, &reloaded.links),
            (&loaded.issues, &loaded.diagnostics, &loaded.links)
        );
        std::fs::remove_file(dir.path().join(&broken)).unwrap();
        let removed = reloaded.with_issues_reloaded(&[broken]).unwrap();
        let loaded = Project::load(dir.path()).unwrap();
        assert_eq!(
            (&removed.issues, &removed.diagnostics, &removed.links),
            (&loaded.issues, &loaded.diagnostics, &loaded.links)
        );
        assert!(loaded.with_issues_reloaded(&[PathBuf::from("templates/email.html")]).is_none());
        assert!(loaded.with_issues_reloaded(&[PathBuf::from("content/weekly")]).is_none());
    }

    #[test]
    fn drafts_are_published_only_when_asked() {
        let project = minimal();
        assert_eq!(project.published(false).count(), 2);
        assert_eq!(project.published(true).count(), 3);
    }
}
