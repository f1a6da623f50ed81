//! The live state of a preview: the project as last loaded, numbered, and the channel that tells
//! open pages a newer one exists.
//!
//! Enters: the project root and a [`Clock`]; [`Live::reload`] with the changed paths after each
//! change. Leaves: immutable [`Snapshot`]s shared by the request handlers, and version numbers on
//! a `tokio::sync::watch` channel for the `/events` stream. A snapshot never changes once made, so
//! what it caches (the archive, each issue's check, audiences) is always current for it.
//!
//! Reloads redo only what changed: when only issue files changed, only those are read again
//! ([`Project::with_issues_reloaded`]), and the new snapshot keeps the previous one's audiences
//! and, while no link target changed, the checks of the other issues.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use tokio::sync::watch;

use super::audience::{self, Reach, Unavailable};
use crate::archive;
use crate::check;
use crate::checked::CheckedIssue;
use crate::clock::Clock;
use crate::content::Issue;
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::project::Project;
use crate::segment::Segment;
use crate::state::Store;

/// The archive as `build --drafts` would write it: file contents by path relative to its root.
pub type ArchiveFiles = BTreeMap<PathBuf, Vec<u8>>;

/// The audience of some lists, or why it is unavailable.
type ReachResult = Result<Reach, Unavailable>;
/// An audience's lists and its filter (as JSON; empty without one).
type ReachKey = (Vec<String>, String);

/// One issue as [`check::issue`] rendered and judged it, shared by the requests that need it.
pub type Checked = Arc<CheckedIssue>;

/// One load of the project, and what was derived from it.
#[derive(Debug)]
pub struct Snapshot {
    /// Increases with each reload; pages embed it to notice they are stale.
    pub version: u64,
    /// The project, or why it could not be loaded (configuration or template errors).
    pub project: Result<Project, Error>,
    archive: OnceLock<Result<ArchiveFiles, Error>>,
    reach: Mutex<BTreeMap<ReachKey, Option<ReachResult>>>,
    checked: Mutex<HashMap<String, Arc<OnceLock<Checked>>>>,
    /// The state store the project's configuration and the environment name, or why not.
    pub store: Result<Store, String>,
}

impl Snapshot {
    fn load(root: &Path, version: u64, env: &crate::env::Env) -> Self {
        let project = Project::load(root);
        let store = match &project {
            Ok(project) => {
                Store::from_config(&project.config.state, root, env).map_err(|e| e.to_string().trim().to_owned())
            }
            Err(_) => Err("the project did not load".to_owned()),
        };
        Self::new(version, project, store)
    }

    fn new(version: u64, project: Result<Project, Error>, store: Result<Store, String>) -> Self {
        Self { version, project, archive: OnceLock::new(), reach: Mutex::default(), checked: Mutex::default(), store }
    }

    /// The next snapshot after only the issue files `changed` changed, or `None` when a full
    /// load is needed (see [`Project::with_issues_reloaded`]).
    fn after_issue_edits(&self, version: u64, changed: &[PathBuf]) -> Option<Self> {
        let old = self.project.as_ref().ok()?;
        let project = old.with_issues_reloaded(changed)?;
        // Lists, subscribers and the configuration are as they were.
        let reach = self.reach.lock().unwrap_or_else(PoisonError::into_inner).clone();
        // A check depends on its own issue and on the link targets (other issues, drafts,
        // static files): while those are the same, the other issues' checks stand.
        let checked = if project.links == old.links {
            let mut checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner).clone();
            let edited: Vec<String> = project
                .issues
                .iter()
                .chain(&old.issues)
                .filter(|i| changed.contains(&i.source))
                .map(Issue::id)
                .collect();
            checked.retain(|id, _| !edited.contains(id));
            checked
        } else {
            HashMap::new()
        };
        Some(Self {
            reach: Mutex::new(reach),
            checked: Mutex::new(checked),
            ..Self::new(version, Ok(project), self.store.clone())
        })
    }

    /// [`check::issue`] of `issue` of this snapshot's project, once per snapshot: requests
    /// asking at the same time (a page and its email frame) wait for the one check.
    pub fn check(&self, project: &Project, issue: &Issue) -> Checked {
        let once =
            Arc::clone(self.checked.lock().unwrap_or_else(PoisonError::into_inner).entry(issue.id()).or_default());
        Arc::clone(once.get_or_init(|| Arc::new(check::issue(project, issue))))
    }

    /// The audience of `lists` narrowed by `segment` (see [`audience::reach`]), computed once per
    /// snapshot for each lists and filter.
    pub fn reach(&self, lists: &[String], segment: Option<&Segment>) -> Option<ReachResult> {
        let Ok(project) = &self.project else { return None };
        let filter = segment.map(|s| serde_json::to_string(&s.filter).unwrap_or_default()).unwrap_or_default();
        let mut cache = self.reach.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .entry((lists.to_vec(), filter))
            .or_insert_with(|| audience::reach(project, &self.store, lists, segment))
            .clone()
    }

    /// The archive's files, rendered on first use.
    pub fn archive(&self) -> Result<&ArchiveFiles, &Error> {
        self.archive
            .get_or_init(|| match &self.project {
                Ok(project) => {
                    let checked = check::all(project, project.published(true));
                    archive::archive_files(project, &checked, Path::new("")).map(|(_, files)| files)
                }
                Err(error) => Err(copy_error(error)),
            })
            .as_ref()
    }

    /// Errors (not warnings) found while loading: a failed load, or files that did not parse.
    pub fn load_errors(&self) -> Vec<Diagnostic> {
        match &self.project {
            Ok(project) => project.diagnostics.iter().filter(|d| d.is_error()).cloned().collect(),
            Err(Error::Invalid(diagnostics)) => diagnostics.clone(),
            // Not a problem in a file (those are `Invalid`): an I/O or usage error, which names
            // the path involved itself.
            Err(other) => vec![Diagnostic::error("preview/load", other.to_string())],
        }
    }
}

/// A copy of an error for a second owner; I/O errors keep their message, not their kind.
fn copy_error(error: &Error) -> Error {
    match error {
        Error::Invalid(diagnostics) => Error::Invalid(diagnostics.clone()),
        other => Error::usage(other.to_string()),
    }
}

/// The preview's shared state.
#[derive(Debug)]
pub struct Live {
    root: PathBuf,
    clock: Clock,
    env: crate::env::Env,
    current: RwLock<Arc<Snapshot>>,
    counter: AtomicU64,
    versions: watch::Sender<u64>,
}

impl Live {
    /// Load the project at `root` as version 1.
    pub fn new(root: PathBuf, clock: Clock, env: crate::env::Env) -> Self {
        let snapshot = Snapshot::load(&root, 1, &env);
        let (versions, _) = watch::channel(1);
        Self { root, clock, env, current: RwLock::new(Arc::new(snapshot)), counter: AtomicU64::new(1), versions }
    }

    /// The project root (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The environment the preview started in (whether the project's keys are set there).
    pub fn env(&self) -> &crate::env::Env {
        &self.env
    }

    /// The clock messages are dated by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The latest snapshot.
    pub fn current(&self) -> Arc<Snapshot> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// A receiver of version numbers, starting with the current one.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.versions.subscribe()
    }

    /// Load the project again after the files `changed` (relative to the root) changed,
    /// publish it, and tell every open page. Blocking: call it off the async workers.
    pub fn reload(&self, changed: &[PathBuf]) {
        let version = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let previous = self.current();
        let snapshot = previous
            .after_issue_edits(version, changed)
            .unwrap_or_else(|| Snapshot::load(&self.root, version, &self.env));
        let snapshot = Arc::new(snapshot);
        let errors = snapshot.load_errors().len();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = snapshot;
        self.versions.send_replace(version);
        match errors {
            0 => eprintln!("preview: reloaded"),
            1 => eprintln!("preview: reloaded; 1 error is shown in the browser"),
            n => eprintln!("preview: reloaded; {n} errors are shown in the browser"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_of_minimal() -> tempfile::TempDir {
        crate::project::copy_of_fixture("minimal")
    }

    fn checked(live: &Live, id: &str) -> Checked {
        let snapshot = live.current();
        let project = snapshot.project.as_ref().unwrap();
        snapshot.check(project, project.find(id).unwrap())
    }

    #[test]
    fn an_edit_re_renders_only_the_edited_issue() {
        let dir = copy_of_minimal();
        let live = Live::new(
            dir.path().canonicalize().unwrap(),
            Clock::fixed("2026-11-22T09:30:00Z".parse().unwrap()),
            crate::env::Env::from_pairs([]),
        );
        let (edited, other) = ("weekly/2016-12-09-first", "weekly/2016-12-16-second");
        let (before, untouched) = (checked(&live, edited), checked(&live, other));
        let source = PathBuf::from("content/weekly/2016-12-09-first.md");
        let text = std::fs::read_to_string(dir.path().join(&source)).unwrap();
        std::fs::write(dir.path().join(&source), format!("{text}\nAn added paragraph.\n")).unwrap();
        live.reload(std::slice::from_ref(&source));
        assert_eq!(live.current().version, 2);
        assert!(Arc::ptr_eq(&untouched, &checked(&live, other)), "the other issue is not checked again");
        let after = checked(&live, edited);
        assert!(!Arc::ptr_eq(&before, &after));
        assert!(after.output().unwrap().email.html.contains("An added paragraph."));

        // A template change loads everything again.
        live.reload(&[PathBuf::from("templates/email.html")]);
        assert!(!Arc::ptr_eq(&untouched, &checked(&live, other)));
    }
}
