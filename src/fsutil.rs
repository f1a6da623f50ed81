//! Atomic file writes: a temporary file in the same directory, fsync, then rename.
//!
//! A crash or a full disk leaves either the old file or the new one, never a half-written file.

use std::io::Write as _;
use std::path::Path;

use crate::error::{Error, Result};

/// Write `contents` to `path` atomically, creating parent directories as needed.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".letterpress-")
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a temporary file in", dir, e))?;
    temp.write_all(contents).and_then(|()| temp.as_file().sync_all()).map_err(|e| Error::io("write", path, e))?;
    temp.persist(path).map_err(|e| Error::io("replace", path, e.error))?;
    Ok(())
}

/// Write `contents` to `path` atomically unless the file already holds exactly those bytes,
/// so rebuilding an unchanged site touches nothing.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(false);
    }
    write_atomic(path, contents)?;
    Ok(true)
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
    }
}
