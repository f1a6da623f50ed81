//! Renaming an issue: its file, the links to it, its journal, and a redirect from its old URL.
//!
//! Enters: a loaded [`Project`], one of its issues and the new slug. Leaves: the file moved to
//! `content/<publication>/<same date>-<new slug>.md`, every `@/<publication>/<old>.md` link
//! across `content/` rewritten (each file written atomically), the issue's rows in the state
//! store re-keyed in one transaction, and — for an issue already sent, only with `--force` —
//! the old name kept in the moved file's front matter (`aliases:`), from which
//! [`redirect_pages`] gives `build` a page at the old URL that points at the new one.
//!
//! Everything is read and prepared before the first write; the moved file is written first and
//! the old one removed only once the journal follows, so a failure leaves the old name working.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::is_slug;
use crate::content::Issue;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::project::Project;
use crate::state::State;

/// What [`rename`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// The old name, `<publication>/<stem>`.
    pub from: String,
    /// The new name.
    pub to: String,
    /// The new file, relative to the project root.
    pub path: PathBuf,
    /// Links rewritten, and in how many files.
    pub links: usize,
    /// Files whose links were rewritten.
    pub files: usize,
    /// Rows of the state store re-keyed.
    pub journal: usize,
    /// Whether the old URL keeps a redirect (the issue had been sent).
    pub redirect: bool,
}

/// Rename `issue` to `new_slug` (the date prefix stays); see the module docs. An issue whose
/// send has begun is refused unless `force`.
pub fn rename(project: &Project, issue: &Issue, new_slug: &str, force: bool, env: &crate::env::Env) -> Result<Renamed> {
    let stem = new_stem(issue, new_slug)?;
    let from = issue.id();
    let to = format!("{}/{stem}", issue.publication);
    let old_path = project.root.join(&issue.source);
    let relative = Path::new(crate::content::DIR).join(&issue.publication).join(format!("{stem}.md"));
    let new_path = project.root.join(&relative);
    if new_path.exists() {
        return Err(Error::usage(format!("`{}` already exists", relative.display())));
    }
    let store = crate::state::Store::from_config(&project.config.state, &project.root, env)?;
    let state = State::open_store_existing(&store)?;
    // A send in progress writes the journal under the old name: wait for none (as `send` does).
    let _lock = match &state {
        Some(_) => Some(crate::send::lock::acquire_for(&store, &project.root.join(crate::state::DIR))?),
        None => None,
    };
    let sent = match &state {
        Some(state) => state.send_record(&from)?,
        None => None,
    };
    if let Some(record) = &sent
        && !force
    {
        return Err(Error::usage(format!(
            "`{from}` was sent (its send began {}): mail already delivered links to its archive page; \
             rename it with `--force` to keep a page at the old URL that redirects to the new one",
            record.started_at
        )));
    }
    let text = std::fs::read_to_string(&old_path).map_err(|e| Error::io("read", &old_path, e))?;
    let (mut moved, own_links) = rewrite_links(&text, &from, &to);
    let mut links = own_links;
    if sent.is_some() {
        moved = add_alias(&moved, &from);
    }
    let mut others = Vec::new();
    for path in content_files(&project.root)? {
        if path == old_path {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
        let (new, count) = rewrite_links(&text, &from, &to);
        if count > 0 {
            links += count;
            others.push((path, new));
        }
    }
    write_atomic(&new_path, moved.as_bytes())?;
    let journal = match &state {
        Some(state) => state.rename_issue(&from, &to).inspect_err(|_| {
            let _ = std::fs::remove_file(&new_path);
        })?,
        None => 0,
    };
    std::fs::remove_file(&old_path).map_err(|e| Error::io("remove", &old_path, e))?;
    let files = others.len() + usize::from(own_links > 0);
    for (path, text) in &others {
        write_atomic(path, text.as_bytes())?;
    }
    Ok(Renamed { from, to, path: relative, links, files, journal, redirect: sent.is_some() })
}

/// The new file stem: the issue's date prefix and `new_slug`, which must be a lowercase slug
/// given without a date.
fn new_stem(issue: &Issue, new_slug: &str) -> Result<String> {
    let slug = new_slug.trim().trim_end_matches(".md");
    if !is_slug(slug) || slug.ends_with('-') || slug.contains("--") {
        return Err(Error::usage(format!(
            "`{new_slug}` is not a slug: use lowercase letters, digits and single hyphens, e.g. `stp-plans-published`"
        )));
    }
    if slug.get(..10).is_some_and(|d| d.parse::<jiff::civil::Date>().is_ok()) {
        return Err(Error::usage(format!(
            "give the new slug without a date: the issue keeps its date prefix `{}`",
            issue.slug.get(..10).unwrap_or_default()
        )));
    }
    let stem = format!("{}-{slug}", issue.slug.get(..10).unwrap_or_default());
    if stem == issue.slug {
        return Err(Error::usage(format!("`{}` is already called that", issue.id())));
    }
    Ok(stem)
}

/// `text` with every internal link to `from` (`@/<from>.md`, with or without a `#fragment`)
/// pointing at `to`, and how many were rewritten. A longer name that starts the same
/// (`@/<from>-2.md`) is left alone.
pub fn rewrite_links(text: &str, from: &str, to: &str) -> (String, usize) {
    let needle = format!("@/{from}.md");
    let mut out = String::with_capacity(text.len());
    let (mut rest, mut count) = (text, 0);
    while let Some(i) = rest.find(&needle) {
        let before = rest[..i].chars().next_back().or_else(|| out.chars().next_back());
        let after = rest[i + needle.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
        out.push_str(&rest[..i]);
        if word(before) || word(after) {
            out.push_str(&needle);
        } else {
            out.push_str("@/");
            out.push_str(to);
            out.push_str(".md");
            count += 1;
        }
        rest = &rest[i + needle.len()..];
    }
    out.push_str(rest);
    (out, count)
}

/// `text` (a whole issue file) with `alias` added to its front matter's `aliases:` list (written
/// as one flow list in place of any earlier one, before the closing fence), keeping the
/// file's line ending and byte-order mark.
pub fn add_alias(text: &str, alias: &str) -> String {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(close) = lines.iter().skip(1).position(|l| l.trim_end() == "---").map(|i| i + 1) else {
        return text.to_owned();
    };
    let mut aliases: Vec<String> = Vec::new();
    let mut keep: Vec<&str> = Vec::with_capacity(lines.len() + 1);
    let mut in_aliases = false;
    for line in lines.drain(1..close) {
        if let Some(value) = line.strip_prefix("aliases:") {
            in_aliases = true;
            let value = value.trim().trim_start_matches('[').trim_end_matches(']');
            aliases.extend(value.split(',').map(unquote).filter(|a| !a.is_empty()));
            continue;
        }
        if in_aliases && (line.starts_with([' ', '\t', '-'])) {
            aliases.push(unquote(line.trim().trim_start_matches('-')));
            continue;
        }
        in_aliases = false;
        keep.push(line);
    }
    if !aliases.iter().any(|a| a == alias) {
        aliases.push(alias.to_owned());
    }
    let quoted: Vec<String> = aliases.iter().map(|a| format!("\"{a}\"")).collect();
    let entry = format!("aliases: [{}]{newline}", quoted.join(", "));
    let mut out = String::with_capacity(text.len() + entry.len());
    out.push_str(lines[0]);
    for line in &keep {
        out.push_str(line);
    }
    out.push_str(&entry);
    for line in &lines[1..] {
        out.push_str(line);
    }
    out
}

fn unquote(value: &str) -> String {
    value.trim().trim_matches(['"', '\'']).trim().to_owned()
}

/// Every Markdown file under `content/`, in a stable order.
fn content_files(root: &Path) -> Result<Vec<PathBuf>> {
    let content = root.join(crate::content::DIR);
    let mut files = Vec::new();
    let walker = walkdir::WalkDir::new(&content).min_depth(1).max_depth(2).sort_by_file_name();
    for entry in walker.into_iter().filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.')) {
        let entry = entry.map_err(|e| {
            let path = e.path().map_or_else(|| content.clone(), Path::to_path_buf);
            Error::io("read", &path, e.into())
        })?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "md") {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// A page at the old URL of each of `issues`' aliases, under `out`, that sends the reader on
/// to the issue's page (unless the archive has a page of its own there).
pub fn redirect_pages(issues: &[&Issue], out: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for issue in issues {
        for alias in &issue.front.aliases {
            let target = format!("../../{}", issue.archive_path());
            let page = format!(
                "<!doctype html>\n<html lang=\"en\">\n<meta charset=\"utf-8\">\n<title>Moved</title>\n\
                 <link rel=\"canonical\" href=\"{target}\">\n<meta http-equiv=\"refresh\" content=\"0; url={target}\">\n\
                 <p>This issue has moved to <a href=\"{target}\">{}</a>.</p>\n</html>\n",
                issue.id()
            );
            files.entry(out.join(alias).join("index.html")).or_insert_with(|| page.into_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn links(text: &str, expected: &str, count: usize) {
        assert_eq!(rewrite_links(text, "weekly/2016-12-09-a", "weekly/2016-12-09-b"), (expected.to_owned(), count));
    }

    #[test]
    fn rewrites_exactly_the_links_to_the_issue() {
        links("[x](@/weekly/2016-12-09-a.md)", "[x](@/weekly/2016-12-09-b.md)", 1);
        links(
            "see [x](@/weekly/2016-12-09-a.md#table) and <@/weekly/2016-12-09-a.md>\n  url: \"@/weekly/2016-12-09-a.md\"",
            "see [x](@/weekly/2016-12-09-b.md#table) and <@/weekly/2016-12-09-b.md>\n  url: \"@/weekly/2016-12-09-b.md\"",
            3,
        );
        links(
            "[x](@/weekly/2016-12-09-a.mdx) [y](x@/weekly/2016-12-09-a.md)",
            "[x](@/weekly/2016-12-09-a.mdx) [y](x@/weekly/2016-12-09-a.md)",
            0,
        );
        links(
            "[x](@/weekly/2016-12-09-ab.md) [y](@/other/2016-12-09-a.md)",
            "[x](@/weekly/2016-12-09-ab.md) [y](@/other/2016-12-09-a.md)",
            0,
        );
    }

    #[test]
    fn aliases_are_added_to_the_front_matter_once() {
        let once = add_alias("---\ntitle: A\nstatus: ready\n---\n\nBody with ---\n", "weekly/2016-12-09-a");
        assert_eq!(once, "---\ntitle: A\nstatus: ready\naliases: [\"weekly/2016-12-09-a\"]\n---\n\nBody with ---\n");
        let twice = add_alias(&once, "weekly/2016-12-09-b");
        assert_eq!(
            twice,
            "---\ntitle: A\nstatus: ready\naliases: [\"weekly/2016-12-09-a\", \"weekly/2016-12-09-b\"]\n---\n\nBody with ---\n"
        );
        assert_eq!(add_alias(&twice, "weekly/2016-12-09-a"), twice);
        assert_eq!(
            add_alias("\u{feff}---\r\naliases:\r\n  - weekly/x\r\ntitle: A\r\n---\r\n", "weekly/y"),
            "\u{feff}---\r\ntitle: A\r\naliases: [\"weekly/x\", \"weekly/y\"]\r\n---\r\n"
        );
    }
}
