//! Atomic file writes: a temporary file in the same directory, fsync, then rename.
//!
//! A crash or a full disk leaves either the old file or the new one, never a half-written file.

use std::io::Write as _;
use std::path::Path;

use crate::error::{Error, Result};

/// Write `contents` to `path` atomically and durably (fsync of the file and its directory),
/// creating parent directories as needed. For the user's own files. If `path` is a symbolic
/// link, the file it leads to is rewritten (the temporary file beside it) and the link stays.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let path = followed(path);
    replace(&path, contents, true, kept_permissions(&path))
}

/// `path`, or, if it is a symbolic link, the path it leads to, through any chain of links (the
/// last one may lead nowhere yet: the write creates that file). A rename onto `path` would
/// replace the link itself with a regular file.
fn followed(path: &Path) -> std::path::PathBuf {
    let mut path = path.to_path_buf();
    // Linux gives up after 40 links; a loop ends here too, and the write then fails as it would.
    for _ in 0..40 {
        let Ok(link) = std::fs::read_link(&path) else { break };
        // A relative link is relative to the directory holding it; `join` keeps an absolute one.
        path = path.parent().map_or_else(|| link.clone(), |dir| dir.join(&link));
    }
    path
}

/// Write `contents` to `path` atomically and durably, readable and writable by its owner only
/// (mode 0600), whatever the file's mode was: for files that hold subscribers' names and
/// addresses (outbox messages), like the state database.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    replace(path, contents, true, private_permissions())
}

/// The permissions a rewritten `path` keeps: the old file's, or the usual ones for a new file.
fn kept_permissions(path: &Path) -> Option<std::fs::Permissions> {
    std::fs::metadata(path).map(|m| m.permissions()).ok().or_else(new_file_permissions)
}

/// Replace `path` with `contents` through a temporary file, which is created private and gets
/// `permissions` before it takes the old file's place (`None`: it stays private).
fn replace(path: &Path, contents: &[u8], durable: bool, permissions: Option<std::fs::Permissions>) -> Result<()> {
    let (dir, mut temp) = temp_beside(path)?;
    temp.write_all(contents)
        .and_then(|()| permissions.map_or(Ok(()), |p| temp.as_file().set_permissions(p)))
        .and_then(|()| if durable { temp.as_file().sync_all() } else { Ok(()) })
        .map_err(|e| Error::io("write", path, e))?;
    crash_point_before_rename();
    temp.persist(path).map_err(|e| Error::io("replace", path, e.error))?;
    if durable {
        sync_dir(dir);
    }
    Ok(())
}

/// A new temporary file in the directory of `path`, and that directory, created (with its
/// parents) only when it is missing: a build writes thousands of files into directories that
/// mostly exist already, where asking for each one again costs two system calls a file.
fn temp_beside(path: &Path) -> Result<(&Path, tempfile::NamedTempFile)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let temp = || tempfile::Builder::new().prefix(".letterpress-").tempfile_in(dir);
    let made = match temp() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
            temp()
        }
        made => made,
    };
    Ok((dir, made.map_err(|e| Error::io("create a temporary file in", dir, e))?))
}

/// Create `path` atomically, durably and private (mode 0600) from what `fill` writes to an
/// empty temporary file in the same directory (given by its path, for writers that open files by
/// name, such as SQLite's `VACUUM INTO`): a failure or a crash leaves `path` as it was.
pub fn create_private_with(path: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let (dir, temp) = temp_beside(path)?;
    private_permissions()
        .map_or(Ok(()), |p| temp.as_file().set_permissions(p))
        .map_err(|e| Error::io("write", path, e))?;
    fill(temp.path())?;
    temp.as_file().sync_all().map_err(|e| Error::io("write", path, e))?;
    temp.persist(path).map_err(|e| Error::io("replace", path, e.error))?;
    sync_dir(dir);
    Ok(())
}

/// A new file's permissions: readable by everyone (`0o644`), the umask's default for files.
fn new_file_permissions() -> Option<std::fs::Permissions> {
    mode(0o644)
}

/// A new file's permissions when it holds addresses or names: its owner's only (`0o600`).
fn private_permissions() -> Option<std::fs::Permissions> {
    mode(0o600)
}

#[cfg(unix)]
#[allow(clippy::unnecessary_wraps, reason = "the other platforms have no mode to give")]
fn mode(mode: u32) -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt as _;
    Some(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn mode(_: u32) -> Option<std::fs::Permissions> {
    None
}

/// Make the rename itself durable (best effort: not every platform can sync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// Test seam for crash-safety tests: with `LETTERPRESS_CRASH_BEFORE_RENAME` set, the process
/// dies after the new contents are durable in the temporary file and before the rename. Only
/// in builds with the `test-hooks` feature, which `cargo test` enables (see Cargo.toml); a
/// release build has neither the check nor the variable's name.
#[cfg(feature = "test-hooks")]
#[allow(clippy::disallowed_methods, reason = "a test seam, not a setting")]
fn crash_point_before_rename() {
    if std::env::var_os("LETTERPRESS_CRASH_BEFORE_RENAME").is_some() {
        std::process::abort();
    }
}

#[cfg(not(feature = "test-hooks"))]
fn crash_point_before_rename() {}

/// Write build output to `path` unless the file already holds exactly those bytes, so
/// rebuilding an unchanged site touches nothing. Atomically but without waiting for the disk:
/// output can be built again (the archive), where a thousand fsyncs would cost seconds.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> Result<bool> {
    // The old file read once: its bytes, and the permissions the new one keeps.
    let old = std::fs::File::open(path).and_then(|mut file| {
        let permissions = file.metadata()?.permissions();
        let mut bytes = Vec::with_capacity(contents.len());
        std::io::Read::read_to_end(&mut file, &mut bytes)?;
        Ok((bytes, permissions))
    });
    let permissions = match old {
        Ok((bytes, _)) if bytes == contents => return Ok(false),
        Ok((_, permissions)) => Some(permissions),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_file_permissions(),
        Err(_) => kept_permissions(path),
    };
    replace(path, contents, false, permissions)?;
    Ok(true)
}

/// Refuse a secret (a key file) that users other than its owner can read or change, as OpenSSH
/// does; `shown` names it and `code` is the diagnostic's code.
#[cfg(unix)]
pub fn check_private(path: &Path, shown: &Path, code: &'static str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).map_err(|e| Error::io("read", shown, e))?.permissions().mode();
    let shared = mode & 0o077;
    if shared == 0 {
        return Ok(());
    }
    Err(Error::Invalid(vec![
        crate::diagnostic::Diagnostic::error(
            code,
            format!("`{}` can be read by other users (mode {:o}); refusing to use it", shown.display(), mode & 0o777),
        )
        .help(format!("run `chmod 600 {}`", shown.display()))
        .in_file(crate::diagnostic::Location::file(shown)),
    ]))
}

/// Permissions are not checked where there are no Unix modes.
#[cfg(not(unix))]
pub fn check_private(_: &Path, _: &Path, _: &'static str) -> Result<()> {
    Ok(())
}

/// Take an exclusive advisory lock on the file `name` in `dir` (both created if missing), held
/// for as long as the returned file is open; `None` when another process holds it. The lock is
/// released by the kernel when the process dies, so a `kill -9` never leaves it behind.
pub fn try_lock_file(dir: &Path, name: &str) -> Result<Option<std::fs::File>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    let path = dir.join(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io("open", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io("lock", &path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_skips_identical_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b.txt");
        write_atomic(&path, b"one").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        assert!(!write_if_changed(&path, b"one").unwrap());
        assert!(write_if_changed(&path, b"two").unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let leftovers = std::fs::read_dir(dir.path().join("a")).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o644, "new files are not private");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            write_atomic(&path, b"three").unwrap();
            assert_eq!(mode(&path), 0o600, "a rewrite keeps the file's permissions");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
            assert!(write_if_changed(&path, b"four").unwrap());
            assert_eq!(mode(&path), 0o640, "build output rewritten keeps its permissions");
            let fresh = dir.path().join("c/d/e.html");
            assert!(write_if_changed(&fresh, b"new").unwrap());
            assert_eq!(mode(&fresh), 0o644, "new build output is not private");
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), if cfg!(unix) { "four" } else { "three" });
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_followed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::create_dir_all(dir.path().join("subscribers")).unwrap();
        let target = dir.path().join("data/weekly.csv");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("subscribers/weekly.csv");
        std::os::unix::fs::symlink("../data/weekly.csv", &link).unwrap();
        let chain = dir.path().join("subscribers/again.csv");
        std::os::unix::fs::symlink("weekly.csv", &chain).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
        assert_eq!(std::fs::read(&target).unwrap(), b"new", "the file it leads to is rewritten");
        write_atomic(&chain, b"newer").unwrap();
        assert!(std::fs::symlink_metadata(&chain).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"newer", "through a chain of links");
        let names = |d: &str| std::fs::read_dir(dir.path().join(d)).unwrap().count();
        assert_eq!((names("data"), names("subscribers")), (1, 2), "no temporary files left behind");
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_created_and_rewritten_mode_0600() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox/a.eml");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        write_private(&path, b"one").unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"two").unwrap();
        assert_eq!((mode(&path), std::fs::read(&path).unwrap()), (0o600, b"two".to_vec()));
    }
}
