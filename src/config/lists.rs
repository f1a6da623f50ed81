//! `lists:`: subscriber lists, each a CSV file with an `email` column.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Config, find, is_slug};
use crate::diagnostic::Diagnostic;

/// A subscriber list: a CSV file with an `email` column.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct List {
    /// Identifier used by publications and front matter, e.g. `commissioner-weekly`.
    pub slug: String,
    /// Display name, shown on unsubscribe pages.
    pub name: String,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// CSV path relative to the project root; defaults to `subscribers/<slug>.csv`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// The welcome issue a confirmed subscriber gets once, relative to the project root, e.g.
    /// `content/weekly/welcome.md` (any Markdown issue with front matter; never archived).
    #[serde(default)]
    pub welcome: Option<PathBuf>,
    /// After the welcome, also send the list's latest sent issue.
    #[serde(default)]
    pub welcome_latest: bool,
}

impl List {
    /// The CSV file, relative to the project root.
    pub fn csv_path(&self) -> PathBuf {
        self.path.clone().unwrap_or_else(|| PathBuf::from(format!("subscribers/{}.csv", self.slug)))
    }
}

/// The longest list slug, in characters: every unsubscribe token carries the slug of the
/// recipient's list (see `token.rs`, whose longest token this keeps within what it verifies),
/// and `subscribers/<slug>.csv` must be a file name any file system takes.
pub const MAX_LIST_SLUG: usize = 200;
const _: () = assert!(crate::token::token_chars(MAX_LIST_SLUG) <= crate::token::MAX_TOKEN_CHARS);

impl Config {
    /// Each list's slug is a slug of at most [`MAX_LIST_SLUG`] characters, and no two lists
    /// share one.
    pub(super) fn validate_lists(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let mut locate = |key: &str, value: &str, d: Diagnostic| {
            problems.push(d.at(find(path, text, key, value), text));
        };
        let mut lists = std::collections::BTreeSet::new();
        for list in &self.lists {
            if !is_slug(&list.slug) {
                locate(
                    "slug",
                    &list.slug,
                    Diagnostic::error("config/slug", format!("list slug `{}` is not a valid slug", list.slug))
                        .help("use lowercase letters, digits and hyphens"),
                );
            } else if list.slug.len() > MAX_LIST_SLUG {
                locate(
                    "slug",
                    &list.slug,
                    Diagnostic::error(
                        "config/slug",
                        format!("list slug `{}…` is {} characters long", &list.slug[..40], list.slug.len()),
                    )
                    .help(format!(
                        "use at most {MAX_LIST_SLUG} characters: the slug is in every unsubscribe link and names the list's file"
                    )),
                );
            }
            if list.welcome_latest && list.welcome.is_none() {
                locate(
                    "welcome-latest",
                    "true",
                    Diagnostic::error(
                        "config/welcome-latest",
                        format!("list `{}` has `welcome-latest` but no `welcome` issue", list.slug),
                    )
                    .help("name the welcome issue with `welcome: content/<publication>/welcome.md`"),
                );
            }
            if !lists.insert(list.slug.as_str()) {
                locate(
                    "slug",
                    &list.slug,
                    Diagnostic::error("config/duplicate", format!("list `{}` is defined twice", list.slug))
                        .help("give each list a different slug"),
                );
            }
        }
        problems
    }
}
