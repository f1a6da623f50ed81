//! What links in an issue resolve against: the site's URLs, every issue's archive URL and the
//! static files.

use std::collections::{BTreeMap, BTreeSet};

use url::Url;

use crate::config::Config;
use crate::content::Issue;

/// What links resolve against: the site's URLs, every issue's archive URL and the static files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    base: Url,
    archive: String,
    issues: BTreeMap<String, String>,
    drafts: BTreeSet<String>,
    static_files: BTreeSet<String>,
    /// The lists' welcome issues (`<publication>/<slug>.md`): never archived.
    welcomes: BTreeSet<String>,
}

/// Why a link destination cannot be resolved, or may not be a link at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BrokenLink(String);

impl From<BrokenLink> for String {
    fn from(error: BrokenLink) -> Self {
        error.0
    }
}

impl Links {
    /// Link targets for a project: `issues` may include drafts; `static_files` are paths
    /// relative to `static/` with `/` separators.
    pub fn new(config: &Config, issues: &[Issue], static_files: BTreeSet<String>) -> Self {
        let archive = config.site.archive();
        let base = Url::parse(&config.site.base())
            .unwrap_or_else(|_| Url::parse("https://invalid.example/").expect("literal URL"));
        let drafts = issues
            .iter()
            .filter(|i| i.front.status == crate::content::Status::Draft)
            .map(|i| format!("{}/{}.md", i.publication, i.slug))
            .collect();
        let issues = issues
            .iter()
            .map(|i| (format!("{}/{}.md", i.publication, i.slug), format!("{archive}{}", i.archive_path())))
            .collect();
        let welcomes = config
            .lists
            .iter()
            .filter_map(|l| l.welcome.as_deref()?.strip_prefix(crate::content::DIR).ok())
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .collect();
        Self { base, archive, issues, drafts, static_files, welcomes }
    }

    /// The absolute archive URL of an issue; for a list's welcome issue, which is never
    /// archived, its publication's page.
    pub fn issue_url(&self, issue: &Issue) -> String {
        if self.welcomes.contains(&format!("{}/{}.md", issue.publication, issue.slug)) {
            return format!("{}{}/", self.archive, issue.publication);
        }
        format!("{}{}", self.archive, issue.archive_path())
    }

    /// Resolve a link destination written in Markdown or front matter. `Err` explains why it
    /// cannot be resolved, or why it may not be a link at all ([`crate::href::judge`]).
    pub fn resolve(&self, dest: &str) -> Result<String, BrokenLink> {
        if let Err(refused) = crate::href::judge(dest) {
            return Err(BrokenLink(format!("`{}` {refused}", dest.escape_debug())));
        }
        if let Some(internal) = dest.strip_prefix("@/") {
            let (path, fragment) = internal.split_once('#').map_or((internal, None), |(p, f)| (p, Some(f)));
            return match self.issues.get(path) {
                Some(url) => Ok(fragment.map_or_else(|| url.clone(), |f| format!("{url}#{f}"))),
                None => Err(BrokenLink(format!("internal link to `@/{path}`, but there is no such issue"))),
            };
        }
        if dest.starts_with('#') || Url::parse(dest).is_ok() {
            return Ok(dest.to_owned());
        }
        // Root-relative paths are relative to the site, which may live below the host's root.
        let relative = dest.trim_start_matches('/');
        self.base
            .join(relative)
            .map(String::from)
            .map_err(|e| BrokenLink(format!("cannot make `{dest}` absolute: {e}")))
    }

    /// Whether an internal link points at a draft (which the archive leaves out).
    pub(super) fn is_draft(&self, dest: &str) -> bool {
        let path = dest.trim_start_matches("@/");
        self.drafts.contains(path.split('#').next().unwrap_or(path))
    }

    /// Whether a root-relative path names a file under `static/`.
    pub(super) fn is_static(&self, dest: &str) -> bool {
        let path = dest.trim_start_matches('/');
        let path = path.split(['?', '#']).next().unwrap_or(path);
        self.static_files.contains(path)
    }

    /// How to fix a link that [`Links::resolve`] refused: the nearest issue, or the form of an
    /// internal link.
    pub fn broken_help(&self, dest: &str) -> String {
        let path = dest.trim_start_matches("@/");
        crate::diagnostic::did_you_mean(path, self.issues.keys().map(String::as_str)).map_or_else(
            || "internal links look like `@/<publication>/<yyyy-mm-dd>-<slug>.md`".to_owned(),
            |p| format!("did you mean `@/{p}`?"),
        )
    }
}
