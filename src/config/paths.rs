//! Paths the configuration names stay inside the project: a list's CSV file (`lists[].path`),
//! the state database (`state.path`) and the outbox (`sending.outbox`).
//!
//! Enters: the parsed [`Config`], its text and the project root. Leaves: a located
//! `config/outside-project` error for each path that leads out of the project, by an absolute
//! path, by `..` or through a symbolic link, unless the top-level `allow-outside-project: true`
//! says that is meant. A refused path is never opened, so nothing of a file that is not the
//! project's is read or echoed.

use std::path::{Component, Path, PathBuf};

use super::{Config, locate};
use crate::diagnostic::{Diagnostic, Location};

/// One configured path: what it is for, its key and section, and the path in effect.
struct Named<'a> {
    what: String,
    section: &'a str,
    slug: Option<&'a str>,
    key: &'a str,
    written: Option<&'a Path>,
    path: PathBuf,
}

/// A `config/outside-project` error for each path of `config` that leads out of `root`.
pub fn outside_project(config: &Config, root: &Path, shown: &Path, text: &str) -> Vec<Diagnostic> {
    if config.allow_outside_project {
        return Vec::new();
    }
    let Ok(root) = std::fs::canonicalize(root) else { return Vec::new() };
    let lists = config.lists.iter().map(|list| Named {
        what: format!("list `{}`", list.slug),
        section: "lists",
        slug: Some(&list.slug),
        key: "path",
        written: list.path.as_deref(),
        path: list.csv_path(),
    });
    let state = Named {
        what: "the state database".to_owned(),
        section: "state",
        slug: None,
        key: "path",
        written: config.state.path.as_deref(),
        path: config.state.db_path(),
    };
    let outbox = Named {
        what: "the outbox".to_owned(),
        section: "sending",
        slug: None,
        key: "outbox",
        written: Some(&config.sending.outbox),
        path: config.sending.outbox.clone(),
    };
    let mut problems = Vec::new();
    for named in lists.chain([state, outbox]) {
        let resolved = resolve(&root, &named.path);
        if resolved.starts_with(&root) {
            continue;
        }
        let message = if leaves_lexically(&named.path) {
            format!("{} is outside the project: `{}`", named.what, named.path.display())
        } else {
            format!(
                "{} `{}` leads outside the project through a symbolic link, to `{}`",
                named.what,
                named.path.display(),
                resolved.display()
            )
        };
        let d = Diagnostic::error("config/outside-project", message).help(
            "keep it inside the project directory, or set `allow-outside-project: true` at the top of letterpress.yaml if it is meant to be elsewhere",
        );
        let value = named.written.map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let location = match named.slug {
            Some(slug) => locate::entry_key(shown, text, named.section, (slug, named.key, &value)),
            None => in_section(shown, text, named.section, named.key),
        };
        problems.push(d.at(location, text));
    }
    problems
}

/// Whether `path`, relative to the project root, leaves it without following any link: it is
/// absolute, or a `..` climbs above the root.
fn leaves_lexically(path: &Path) -> bool {
    let mut depth = 0usize;
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return true,
            Component::CurDir => {}
            Component::ParentDir if depth == 0 => return true,
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
        }
    }
    false
}

/// Where `path` (relative to `root`, which is canonical, or absolute) really is, as the
/// operating system would follow it: each existing prefix is resolved with its symbolic links,
/// and `..` steps out of the real directory, not the link. Components that do not exist yet
/// (a state database not created) are taken as written.
pub(super) fn resolve(root: &Path, path: &Path) -> PathBuf {
    let mut resolved = root.to_path_buf();
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => resolved = PathBuf::from(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(name) => {
                resolved.push(name);
                if let Ok(real) = std::fs::canonicalize(&resolved) {
                    resolved = real;
                }
            }
        }
    }
    resolved
}

/// The location of `key:` inside the top-level `section:`, else the section's line, else `1:1`.
fn in_section(path: &Path, text: &str, section: &str, key: &str) -> Location {
    let lines: Vec<&str> = text.lines().collect();
    let header = format!("{section}:");
    let Some(start) = lines.iter().position(|l| l.split(" #").next().unwrap_or(l).trim_end() == header) else {
        return Location::new(path, 1, 1);
    };
    let needle = format!("{key}:");
    let found = lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .take_while(|(_, l)| l.is_empty() || l.starts_with([' ', '#']))
        .find(|(_, l)| l.trim_start().starts_with(&needle));
    match found {
        Some((i, line)) => Location::new(path, i + 1, line.len() - line.trim_start().len() + 1),
        None => Location::new(path, start + 1, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "site:\n  title: T\n  base-url: https://news.example.org\npublications:\n  - slug: weekly\n    name: Weekly\n    from: w@news.example.org\n";

    fn problems(root: &Path, extra: &str) -> Vec<Diagnostic> {
        let text = format!("{CONFIG}{extra}");
        let config = Config::parse(Path::new("letterpress.yaml"), &text).unwrap();
        outside_project(&config, root, Path::new("letterpress.yaml"), &text)
    }

    #[test]
    fn absolute_and_parent_paths_are_refused_and_located() {
        let dir = tempfile::tempdir().unwrap();
        let found = problems(dir.path(), "lists:\n  - slug: readers\n    name: R\n    path: /etc/passwd\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, "config/outside-project");
        assert_eq!(found[0].message, "list `readers` is outside the project: `/etc/passwd`");
        assert_eq!(found[0].location.as_ref().map(|l| (l.line, l.col)), Some((11, 5)));
        let found = problems(dir.path(), "state:\n  path: ../state.db\nsending:\n  outbox: sub/../../out\n");
        let located: Vec<_> = found.iter().map(|d| d.location.as_ref().map(|l| (l.line, l.col))).collect();
        assert_eq!(located, [Some((9, 3)), Some((11, 3))], "{found:?}");
        assert!(problems(dir.path(), "state:\n  path: ./data/../data/state.db\nsending:\n  outbox: out\n").is_empty());
    }

    #[test]
    fn the_option_allows_them() {
        let dir = tempfile::tempdir().unwrap();
        let extra =
            "allow-outside-project: true\nlists:\n  - slug: readers\n    name: R\n    path: /srv/lists/readers.csv\n";
        assert!(problems(dir.path(), extra).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_out_of_the_project_counts_as_outside() {
        let outside = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.csv"), "email\n").unwrap();
        std::fs::create_dir(project.path().join("subscribers")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.csv"), project.path().join("subscribers/readers.csv"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), project.path().join("elsewhere")).unwrap();
        let found = problems(
            project.path(),
            "lists:\n  - slug: readers\n    name: R\nstate:\n  path: elsewhere/../state.db\nsending:\n  outbox: elsewhere/new/out\n",
        );
        let codes: Vec<_> = found.iter().map(|d| (d.code, d.location.as_ref().map(|l| l.line))).collect();
        assert_eq!(
            codes,
            [
                ("config/outside-project", Some(9)),
                ("config/outside-project", Some(12)),
                ("config/outside-project", Some(14))
            ],
            "{found:#?}"
        );
        assert!(found[0].message.contains("through a symbolic link"), "{}", found[0].message);
        // A link that stays inside is fine.
        std::fs::create_dir(project.path().join("lists")).unwrap();
        std::os::unix::fs::symlink(project.path().join("lists"), project.path().join("inside")).unwrap();
        assert!(problems(project.path(), "state:\n  path: inside/state.db\n").is_empty());
    }
}
