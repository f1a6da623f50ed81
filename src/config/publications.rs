//! `publications:`: each newsletter's sender, default lists and template overrides.

use std::path::Path;

use serde::Deserialize;

use super::{Config, find, is_one_line, is_slug};
use crate::diagnostic::Diagnostic;

/// One newsletter: its sender, default lists and templates.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Publication {
    /// Directory name under `content/` and in URLs, e.g. `commissioner`.
    pub slug: String,
    /// Display name, e.g. "The Commissioner".
    pub name: String,
    /// One-line description shown in the archive and feed.
    #[serde(default)]
    pub description: String,
    /// Sender mailbox, e.g. `The Commissioner <commissioner@news.example.org>`.
    pub from: String,
    /// Optional Reply-To mailbox.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Subscriber lists an issue goes to unless its front matter says otherwise.
    #[serde(default)]
    pub lists: Vec<String>,
    /// Template overrides for this publication (paths under `templates/`).
    #[serde(default)]
    pub templates: TemplateOverrides,
    /// The default audience filter of its issues (an issue's own `audience:` replaces it); see
    /// [`crate::segment`]. Kept as written, compiled by [`Publication::segment`].
    #[serde(default)]
    pub audience: Option<crate::segment::Raw>,
    /// How long after an issue's send started `send --due` still sends it to subscribers who
    /// joined its lists since (`7d`, `48h`); unset = no catch-up.
    #[serde(default)]
    pub catch_up: Option<String>,
    /// Count clicks in aggregate (off by default): links in sent issues point at `serve`'s
    /// `/l/<token>`, which redirects and counts per issue, link and hour; see `docs/clicks.md`.
    #[serde(default)]
    pub clicks: bool,
}

impl Publication {
    /// `catch-up` as a duration between an hour and 365 days, if set.
    pub fn catch_up(&self) -> Option<Result<jiff::SignedDuration, super::ValueError>> {
        self.catch_up.as_deref().map(|value| {
            super::duration::duration("catch-up", value, "`7d` or `48h`", (60, "1 hour"), (365 * 24 * 60, "365 days"))
        })
    }

    /// The default audience, compiled against the configuration file `path` (whole text
    /// `text`); errors are located there.
    pub fn segment(
        &self,
        path: &Path,
        text: &str,
        zone: Option<&jiff::tz::TimeZone>,
    ) -> Option<Result<crate::segment::Segment, Vec<Diagnostic>>> {
        self.audience.as_ref().map(|raw| crate::segment::compile(raw, path, text, 1, zone))
    }
}

/// Per-publication template files, relative to the project's `templates/` directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TemplateOverrides {
    /// HTML email layout (default `email.html`).
    pub email_html: Option<String>,
    /// Plain-text email layout (default `email.txt`).
    pub email_text: Option<String>,
    /// Stylesheet inlined into the HTML email (default `email.css`).
    pub email_css: Option<String>,
    /// Web archive page for one issue (default `page.html`).
    pub page: Option<String>,
}

impl Config {
    /// `config/no-publication` when `publications:` is empty.
    pub(super) fn validate_have_publications(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let mut locate = |key: &str, value: &str, d: Diagnostic| {
            problems.push(d.at(find(path, text, key, value), text));
        };
        if self.publications.is_empty() {
            locate(
                "publications",
                "",
                Diagnostic::error("config/no-publication", "no publications configured")
                    .help("add at least one entry under `publications:`"),
            );
        }
        problems
    }
}

impl Config {
    /// Each publication's lists exist, its slug is a unique slug, its mailboxes parse.
    pub(super) fn validate_publications(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let mut locate = |key: &str, value: &str, d: Diagnostic| {
            problems.push(d.at(find(path, text, key, value), text));
        };
        let mut seen = std::collections::BTreeSet::new();
        let mut audience = Vec::new();
        for publication in &self.publications {
            if let Some(Err(found)) = publication.segment(path, text, self.site.time_zone().as_ref()) {
                audience.extend(found);
            }
            if let (Some(value), Some(Err(why))) = (&publication.catch_up, publication.catch_up()) {
                locate(
                    "catch-up",
                    value,
                    Diagnostic::error("config/catch-up", String::from(why))
                        .help("write how long after a send new subscribers still get it, e.g. `catch-up: 7d`"),
                );
            }
            for name in &publication.lists {
                if self.list(name).is_none() {
                    locate(
                        "lists",
                        name,
                        Diagnostic::error(
                            "config/unknown-list",
                            format!("publication `{}` sends to list `{name}`, which is not defined", publication.slug),
                        )
                        .help(self.list_hint(name)),
                    );
                }
            }
            if !is_slug(&publication.slug) {
                locate(
                    "slug",
                    &publication.slug,
                    Diagnostic::error(
                        "config/slug",
                        format!("publication slug `{}` is not a valid slug", publication.slug),
                    )
                    .help("use lowercase letters, digits and hyphens, e.g. `weekly-briefing`"),
                );
            }
            if !seen.insert(publication.slug.as_str()) {
                locate(
                    "slug",
                    &publication.slug,
                    Diagnostic::error(
                        "config/duplicate",
                        format!("publication `{}` is defined twice", publication.slug),
                    )
                    .help("give each publication a different slug"),
                );
            }
            for (key, value) in [("from", Some(&publication.from)), ("reply-to", publication.reply_to.as_ref())] {
                // A line break or an encoded-word is reported once, by `one_line_texts`.
                if let Some(value) = value.filter(|v| is_one_line(v))
                    && let Err(e) = value.parse::<lettre::message::Mailbox>()
                {
                    locate(
                        key,
                        value,
                        Diagnostic::error(
                            "config/mailbox",
                            format!(
                                "`{key}` of publication `{}` is not a valid mailbox: {}",
                                publication.slug,
                                e.to_string().to_lowercase()
                            ),
                        )
                        .help("write `Name <address@example.org>` or a bare address"),
                    );
                }
            }
        }
        problems.extend(audience);
        problems
    }
}
