//! Watching a project for changes: which paths matter ([`classify`], pure and table-tested) and
//! the file watcher that turns them into reloads.
//!
//! Enters: the canonical project root and the shared [`Live`] state. Leaves: a reload of the
//! whole project after each debounced batch of relevant changes. The watcher (notify, with
//! notify-debouncer-full at [`DEBOUNCE`]) runs on its own thread and hands each batch to a tokio
//! task through a channel; that task reloads on a blocking thread and keeps the watches in step
//! with the project's directories.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc;

use super::live::Live;
use crate::config;

/// How long the watcher waits for a burst of writes (an editor's save) to settle.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

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

/// Start watching `root` (canonical): returns once the watches are in place. Each debounced
/// batch with a relevant change reloads the project into `live`; watching stops with the runtime.
pub fn spawn(root: PathBuf, live: Arc<Live>) -> notify::Result<()> {
    let (sender, mut batches) = mpsc::unbounded_channel::<Vec<PathBuf>>();
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        let paths = match result {
            Ok(events) => events.into_iter().filter(|e| is_change(e.event.kind)).flat_map(|e| e.event.paths).collect(),
            Err(errors) => {
                for error in errors {
                    eprintln!("warning: watching for changes: {error}");
                }
                return;
            }
        };
        let _ = sender.send(paths);
    })?;
    debouncer.watch(&root, RecursiveMode::NonRecursive)?;
    let mut watched = BTreeSet::new();
    sync_watches(&root, &mut watched, |path, on| {
        if on { debouncer.watch(path, RecursiveMode::Recursive) } else { debouncer.unwatch(path) }
    });
    tokio::spawn(async move {
        while let Some(paths) = batches.recv().await {
            let kinds: BTreeSet<ChangeKind> =
                paths.iter().map(|p| classify(p.strip_prefix(&root).unwrap_or(p))).collect();
            if kinds.iter().all(|k| *k == ChangeKind::Ignored) {
                continue;
            }
            sync_watches(&root, &mut watched, |path, on| {
                if on { debouncer.watch(path, RecursiveMode::Recursive) } else { debouncer.unwatch(path) }
            });
            let live = Arc::clone(&live);
            let _ = tokio::task::spawn_blocking(move || live.reload()).await;
        }
        drop(debouncer);
    });
    Ok(())
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
