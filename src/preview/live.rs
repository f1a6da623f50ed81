//! The live state of a preview: the project as last loaded, numbered, and the channel that tells
//! open pages a newer one exists.
//!
//! Enters: the project root and a [`Clock`]; [`Live::reload`] after each change. Leaves:
//! immutable [`Snapshot`]s shared by the request handlers, and version numbers on a
//! `tokio::sync::watch` channel for the `/events` stream. A snapshot never changes once made, so
//! what it caches (the archive) is always current for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use tokio::sync::watch;

use super::audience::{self, Reach, Unavailable};
use crate::archive;
use crate::clock::Clock;
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::project::Project;

/// The archive as `build --drafts` would write it: file contents by path relative to its root.
pub type ArchiveFiles = BTreeMap<PathBuf, Vec<u8>>;

/// The audience of some lists, or why it is unavailable.
type ReachResult = Result<Reach, Unavailable>;

/// One load of the project, and what was derived from it.
#[derive(Debug)]
pub struct Snapshot {
    /// Increases with each reload; pages embed it to notice they are stale.
    pub version: u64,
    /// The project, or why it could not be loaded (configuration or template errors).
    pub project: Result<Project, Error>,
    archive: OnceLock<Result<ArchiveFiles, Error>>,
    reach: Mutex<BTreeMap<Vec<String>, Option<ReachResult>>>,
}

impl Snapshot {
    fn load(root: &Path, version: u64) -> Self {
        Self { version, project: Project::load(root), archive: OnceLock::new(), reach: Mutex::default() }
    }

    /// The audience of `lists` (see [`audience::reach`]), computed once per snapshot.
    pub fn reach(&self, lists: &[String]) -> Option<ReachResult> {
        let Ok(project) = &self.project else { return None };
        let mut cache = self.reach.lock().unwrap_or_else(PoisonError::into_inner);
        cache.entry(lists.to_vec()).or_insert_with(|| audience::reach(project, lists)).clone()
    }

    /// The archive's files, rendered on first use.
    pub fn archive(&self) -> Result<&ArchiveFiles, &Error> {
        self.archive
            .get_or_init(|| match &self.project {
                Ok(project) => archive::archive_files(project, Path::new(""), true).map(|(_, files)| files),
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
    current: RwLock<Arc<Snapshot>>,
    counter: AtomicU64,
    versions: watch::Sender<u64>,
}

impl Live {
    /// Load the project at `root` as version 1.
    pub fn new(root: PathBuf, clock: Clock) -> Self {
        let snapshot = Snapshot::load(&root, 1);
        let (versions, _) = watch::channel(1);
        Self { root, clock, current: RwLock::new(Arc::new(snapshot)), counter: AtomicU64::new(1), versions }
    }

    /// The project root (canonical).
    pub fn root(&self) -> &Path {
        &self.root
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

    /// Load the project again, publish it, and tell every open page. Blocking: call it off the
    /// async workers.
    pub fn reload(&self) {
        let version = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let snapshot = Arc::new(Snapshot::load(&self.root, version));
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
