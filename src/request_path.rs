//! Turning a request path into a file a server (the preview, `serve`) may send, and nothing else.
//!
//! Enters: the raw (still percent-encoded) path of a request and the canonical directory it may
//! read from. Leaves: the canonical path of a regular file inside that directory, or a
//! [`Refusal`]. Traversal is refused twice: `.` and `..` segments are rejected after decoding
//! (so `%2e%2e` is caught too), and the final path is canonicalised and must still lie inside the
//! directory (so a symlink cannot lead out of it).

use std::path::{Path, PathBuf};

/// Why a path is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed or trying to leave the directory: `..`, encoded slashes, bad encoding.
    BadRequest,
    /// Resolves outside the directory (through a symlink).
    Forbidden,
    /// No such file, a directory, or a hidden file.
    NotFound,
}

/// The decoded segments of a URL path, or why it is refused. Empty segments (`//`) are skipped.
pub fn segments(raw: &str) -> Result<Vec<String>, Refusal> {
    let mut out = Vec::new();
    for part in raw.split('/').filter(|p| !p.is_empty()) {
        let decoded = percent_decode(part).ok_or(Refusal::BadRequest)?;
        if decoded == "." || decoded == ".." || decoded.contains(['/', '\\', '\0']) {
            return Err(Refusal::BadRequest);
        }
        if decoded.starts_with('.') {
            return Err(Refusal::NotFound);
        }
        out.push(decoded);
    }
    Ok(out)
}

/// The file under `dir` (canonical) that the URL path `raw` names.
pub fn resolve(dir: &Path, raw: &str) -> Result<PathBuf, Refusal> {
    let segments = segments(raw)?;
    let joined = segments.iter().fold(dir.to_path_buf(), |path, s| path.join(s));
    let real = joined.canonicalize().map_err(|_| Refusal::NotFound)?;
    if !real.starts_with(dir) {
        return Err(Refusal::Forbidden);
    }
    if real.is_file() { Ok(real) } else { Err(Refusal::NotFound) }
}

/// Decode `%XX` escapes; `None` for a malformed escape or bytes that are not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let hex = text.get(i + 1..i + 3).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(raw: &str, expected: Result<&[&str], Refusal>) {
        let expected = expected.map(|s| s.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>());
        assert_eq!(segments(raw), expected, "{raw}");
    }

    #[test]
    fn decodes_segments_and_refuses_traversal() {
        case("/images/chart.png", Ok(&["images", "chart.png"]));
        case("/images//a%20b.png", Ok(&["images", "a b.png"]));
        case("/caf%C3%A9.png", Ok(&["café.png"]));
        case("/", Ok(&[]));
        case("/static/../letterpress.yaml", Err(Refusal::BadRequest));
        case("/images/%2e%2e/%2e%2e/letterpress.yaml", Err(Refusal::BadRequest));
        case("/images/%2E%2E/x", Err(Refusal::BadRequest));
        case("/./x", Err(Refusal::BadRequest));
        case("/images/..%2fletterpress.yaml", Err(Refusal::BadRequest));
        case("/images/..%5cletterpress.yaml", Err(Refusal::BadRequest));
        case("/x%00.png", Err(Refusal::BadRequest));
        case("/x%zz.png", Err(Refusal::BadRequest));
        case("/x%2", Err(Refusal::BadRequest));
        case("/x%+f", Err(Refusal::BadRequest));
        case("/%ff.png", Err(Refusal::BadRequest));
        case("/.git/config", Err(Refusal::NotFound));
        case("/images/.hidden", Err(Refusal::NotFound));
    }

    #[test]
    fn resolves_inside_the_directory_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("static/images")).unwrap();
        std::fs::write(root.join("static/images/a.png"), b"png").unwrap();
        std::fs::write(root.join("secret.txt"), b"secret").unwrap();
        let static_dir = root.join("static");
        assert_eq!(resolve(&static_dir, "/images/a.png"), Ok(static_dir.join("images/a.png")));
        assert_eq!(resolve(&static_dir, "/images"), Err(Refusal::NotFound));
        assert_eq!(resolve(&static_dir, "/images/b.png"), Err(Refusal::NotFound));
        assert_eq!(resolve(&static_dir, "/../secret.txt"), Err(Refusal::BadRequest));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("secret.txt"), static_dir.join("escape.txt")).unwrap();
            std::os::unix::fs::symlink(root.join("static/images/a.png"), static_dir.join("inside.png")).unwrap();
            assert_eq!(resolve(&static_dir, "/escape.txt"), Err(Refusal::Forbidden));
            assert_eq!(resolve(&static_dir, "/inside.png"), Ok(static_dir.join("images/a.png")));
        }
    }
}
