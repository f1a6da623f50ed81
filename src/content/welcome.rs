//! Welcome issues: the Markdown file a list names in `lists[].welcome`, sent once to each
//! confirmed subscriber (see `crate::send::welcome`).
//!
//! A welcome issue is an issue like any other (front matter, body, templates), with two
//! differences: its file name needs no date (`content/<publication>/welcome.md`), and it is
//! never one of [`crate::project::Project::issues`], so the archive, the feeds and
//! `send --due`'s issue selection never see it.

use std::path::{Component, Path, PathBuf};

use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::{Issue, parse_named};
use crate::config::{Config, is_slug};
use crate::diagnostic::{Diagnostic, Location};

/// `path` without `.` components, so `./content/x/welcome.md` names `content/x/welcome.md`.
fn plain(path: &Path) -> PathBuf {
    path.components().filter(|c| !matches!(c, Component::CurDir)).collect()
}

/// Whether `a` and `b` name the same file as configuration and content paths are written.
pub fn is_welcome_path(a: &Path, b: &Path) -> bool {
    plain(a) == plain(b)
}

/// Whether `shown` (relative to the project root) is the welcome issue of one of the lists.
pub fn is_welcome(config: &Config, shown: &Path) -> bool {
    let shown = plain(shown);
    config.lists.iter().filter_map(|l| l.welcome.as_deref()).any(|w| plain(w) == shown)
}

/// Read and parse the welcome issue at `shown` (relative to `root`): its publication is the
/// directory under `content/`, its slug the file name without `.md`, its date front matter's
/// `date`, else `today`. Errors are located in the file (or at it, when it cannot be read).
pub fn load_welcome(root: &Path, shown: &Path, zone: Option<&TimeZone>, today: Date) -> Result<Issue, Vec<Diagnostic>> {
    let shown = plain(shown);
    // The path is judged before anything is read: a welcome lies under `content/`, nowhere else.
    welcome_names(&shown, today).map_err(|d| vec![d])?;
    let bytes = std::fs::read(root.join(&shown)).map_err(|e| {
        let message = crate::error::Error::io("read", &shown, e).to_string();
        vec![Diagnostic::error("content/io", message).in_file(Location::file(&shown))]
    })?;
    let issue = parse_named(&shown, &bytes, zone, |path| welcome_names(path, today))?;
    Ok(Issue { date: issue.front.date.unwrap_or(today), ..issue })
}

/// The publication and slug of a welcome issue's path, `content/<publication>/<slug>.md`.
fn welcome_names(path: &Path, today: Date) -> Result<(String, String, Date), Diagnostic> {
    let bad = |why: &str| {
        Diagnostic::error("content/file-name", format!("welcome issue `{}` {why}", path.display()))
            .in_file(Location::new(path, 1, 1))
            .help("put a welcome issue at `content/<publication>/<slug>.md`, e.g. `content/weekly/welcome.md`")
    };
    let parts: Vec<&str> = path.iter().filter_map(|p| p.to_str()).collect();
    let [super::DIR, publication, file] = parts.as_slice() else {
        return Err(bad("is not inside a publication directory under `content/`"));
    };
    let Some(slug) = file.strip_suffix(".md") else { return Err(bad("is not a `.md` file")) };
    if !is_slug(slug) {
        return Err(bad("does not have a lowercase slug as its name"));
    }
    Ok(((*publication).to_owned(), slug.to_owned(), today))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: Date = jiff::civil::date(2026, 11, 30);

    #[test]
    fn a_welcome_needs_no_date_and_takes_its_publication_from_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("content/weekly")).unwrap();
        std::fs::write(dir.path().join("content/weekly/welcome.md"), "---\ntitle: Welcome\n---\n\nHello.\n").unwrap();
        let issue = load_welcome(dir.path(), Path::new("./content/weekly/welcome.md"), None, TODAY).unwrap();
        assert_eq!(
            (issue.id(), issue.date, issue.source),
            ("weekly/welcome".to_owned(), TODAY, "content/weekly/welcome.md".into())
        );
    }

    #[test]
    fn a_missing_or_misplaced_welcome_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let missing = load_welcome(dir.path(), Path::new("content/weekly/welcome.md"), None, TODAY).unwrap_err();
        assert_eq!(missing[0].code, "content/io");
        std::fs::write(dir.path().join("welcome.md"), "---\ntitle: Welcome\n---\n").unwrap();
        let misplaced = load_welcome(dir.path(), Path::new("welcome.md"), None, TODAY).unwrap_err();
        assert_eq!(misplaced[0].code, "content/file-name");
        let outside = load_welcome(dir.path(), Path::new("content/../../etc/passwd.md"), None, TODAY).unwrap_err();
        assert_eq!(outside[0].code, "content/file-name", "never read");
    }
}
