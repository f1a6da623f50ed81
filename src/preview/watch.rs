//! Watching a project for changes: which paths matter ([`classify`], pure and table-tested) and
//! the file watcher that turns them into reloads.
//!
//! Enters: the canonical project root and the shared [`Live`] state. Leaves: a reload after
//! each batch of relevant changes, told which files changed (so that an edited issue is all that
//! is read and rendered again). The watcher (notify) runs on its own thread and hands every
//! event to a tokio task through a channel; that task takes the first event of a batch and those
//! that follow within [`SETTLE`] of each other (an editor's save is a burst of a few writes and
//! renames), reloads on a blocking thread, and keeps the watches in step with the project's
//! directories. Nothing runs between changes.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use super::live::Live;
use crate::config;

/// How long after a change the watcher waits for the next one of the same burst (an editor's
/// save) before reloading.
pub const SETTLE: Duration = Duration::from_millis(10);

/// The subscriber lists' directory at the project root.
const SUBSCRIBERS_DIR: &str = "subscribers";

/// The project directories whose changes are watched recursively.
const DIRS: [&str; 4] = [crate::content::DIR, crate::template::DIR, crate::project::STATIC_DIR, SUBSCRIBERS_DIR];

/// What a changed path is to the preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// `letterpress.yaml`.
    Config,
    /// An issue under `content/`.
    Content,
    /// A template under `templates/`.
    Template,
    /// A file under `static/`.
    Static,
    /// A list under `subscribers/`.
    Subscribers,
    /// Anything else: build output, state, editor swap and backup files, hidden files.
    Ignored,
}

/// Classify a changed path, relative to the project root (an absolute path is never under it).
pub fn classify(path: &Path) -> ChangeKind {
    let parts: Option<Vec<&str>> = path
        .components()
        .map(|c| match c {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect();
    let Some(parts) = parts.filter(|parts| !parts.iter().any(|p| is_scratch(p))) else {
        return ChangeKind::Ignored;
    };
    match parts.as_slice() {
        [file] if *file == config::FILE_NAME => ChangeKind::Config,
        [dir, ..] if *dir == crate::content::DIR => ChangeKind::Content,
        [dir, ..] if *dir == crate::template::DIR => ChangeKind::Template,
        [dir, ..] if *dir == crate::project::STATIC_DIR => ChangeKind::Static,
        [dir, ..] if *dir == SUBSCRIBERS_DIR => ChangeKind::Subscribers,
        _ => ChangeKind::Ignored,
    }
}

/// Whether an event changes a file: reads (the preview's own, when it reloads) and metadata
/// changes do not; a file closed after writing does.
pub fn is_change(kind: EventKind) -> bool {
    match kind {
        EventKind::Access(access) => access == AccessKind::Close(AccessMode::Write),
        EventKind::Modify(modify) => !matches!(modify, ModifyKind::Metadata(_)),
        EventKind::Any | EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Other => false,
    }
}

/// Hidden files and the files editors write beside the one being saved.
fn is_scratch(name: &str) -> bool {
    let swap = [".swp", ".swx", ".swo", ".tmp", ".bak"].iter().any(|ext| name.ends_with(ext));
    name.starts_with('.')
        || name.ends_with('~')
        || (name.starts_with('#') && name.ends_with('#'))
        || name == "4913"
        || swap
}

/// Start watching `root` (canonical): returns once the watches are in place. Each batch with a
/// relevant change reloads the project into `live`; watching stops with the runtime.
pub fn spawn(root: PathBuf, live: Arc<Live>) -> notify::Result<()> {
    let (sender, mut events) = mpsc::unbounded_channel::<notify::Result<Event>>();
    let mut notifier = notify::recommended_watcher(move |event| {
        let _ = sender.send(event);
    })?;
    notifier.watch(&root, RecursiveMode::NonRecursive)?;
    let mut watched = BTreeSet::new();
    sync_watches(&root, &mut watched, |path, on| {
        if on { notifier.watch(path, RecursiveMode::Recursive) } else { notifier.unwatch(path) }
    });
    tokio::spawn(async move {
        while let Some(first) = events.recv().await {
            let mut batch = vec![first];
            while let Ok(Some(next)) = tokio::time::timeout(SETTLE, events.recv()).await {
                batch.push(next);
            }
            let changed = changed_paths(&root, batch);
            if changed.is_empty() {
                continue;
            }
            sync_watches(&root, &mut watched, |path, on| {
                if on { notifier.watch(path, RecursiveMode::Recursive) } else { notifier.unwatch(path) }
            });
            let live = Arc::clone(&live);
            let _ = tokio::task::spawn_blocking(move || live.reload(&changed)).await;
        }
        drop(notifier);
    });
    Ok(())
}

/// The relevant paths a batch of events changed, relative to `root`; watcher errors are printed.
fn changed_paths(root: &Path, batch: Vec<notify::Result<Event>>) -> Vec<PathBuf> {
    let mut changed = BTreeSet::new();
    for event in batch {
        match event {
            Ok(event) if is_change(event.kind) => {
                for path in event.paths {
                    let relative = path.strip_prefix(root).unwrap_or(&path);
                    if classify(relative) != ChangeKind::Ignored {
                        changed.insert(relative.to_path_buf());
                    }
                }
            }
            Ok(_) => {}
            Err(error) => eprintln!("warning: watching for changes: {error}"),
        }
    }
    changed.into_iter().collect()
}

/// Watch each of [`DIRS`] that exists and forget those that no longer do, so a directory created
/// (or deleted and made again) while the server runs is followed.
fn sync_watches(root: &Path, watched: &mut BTreeSet<PathBuf>, mut set: impl FnMut(&Path, bool) -> notify::Result<()>) {
    for dir in DIRS.map(|d| root.join(d)) {
        let exists = dir.is_dir();
        if exists != watched.contains(&dir) {
            match set(&dir, exists) {
                Ok(()) if exists => {
                    watched.insert(dir);
                }
                Ok(()) => {
                    watched.remove(&dir);
                }
                Err(_) if !exists => {
                    watched.remove(&dir);
                }
                Err(e) => eprintln!("warning: cannot watch `{}`: {e}", dir.display()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(path: &str, expected: ChangeKind) {
        assert_eq!(classify(Path::new(path)), expected, "{path}");
    }

    #[test]
    fn classifies_changes_by_place_and_ignores_scratch_files() {
        use ChangeKind::{Config, Content, Ignored, Static, Subscribers, Template};
        case("letterpress.yaml", Config);
        case("letterpress.yaml~", Ignored);
        case(".letterpress.yaml.swp", Ignored);
        case("content/weekly/2016-12-09-first.md", Content);
        case("content/weekly", Content);
        case("content", Content);
        case("content/weekly/.2016-12-09-first.md.swp", Ignored);
        case("content/weekly/2016-12-09-first.md~", Ignored);
        case("content/weekly/4913", Ignored);
        case("content/weekly/#2016-12-09-first.md#", Ignored);
        case("content/weekly/.#2016-12-09-first.md", Ignored);
        case("content/.hidden/x.md", Ignored);
        case("templates/email.html", Template);
        case("templates/integrated-care/email.css", Template);
        case("templates/.letterpress-Ab12Cd", Ignored);
        case("static/images/chart.png", Static);
        case("subscribers/weekly.csv", Subscribers);
        case("subscribers/weekly.csv.tmp", Ignored);
        case("public/index.html", Ignored);
        case(".letterpress/state.db", Ignored);
        case(".letterpress/state.db-wal", Ignored);
        case("target/debug/letterpress", Ignored);
        case("README.md", Ignored);
        case("/etc/letterpress.yaml", Ignored);
        case("../content/x.md", Ignored);
        case("", Ignored);
    }

    #[test]
    fn reads_and_metadata_are_not_changes() {
        use notify::event::{CreateKind, DataChange, MetadataKind, RemoveKind, RenameMode};
        assert!(!is_change(EventKind::Access(AccessKind::Open(AccessMode::Any))));
        assert!(!is_change(EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(!is_change(EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime))));
        assert!(!is_change(EventKind::Other));
        assert!(is_change(EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(is_change(EventKind::Modify(ModifyKind::Data(DataChange::Any))));
        assert!(is_change(EventKind::Modify(ModifyKind::Name(RenameMode::Both))));
        assert!(is_change(EventKind::Create(CreateKind::File)));
        assert!(is_change(EventKind::Remove(RemoveKind::File)));
    }
}
