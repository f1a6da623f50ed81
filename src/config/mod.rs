//! `letterpress.yaml`: the site, its publications and (in later stages) lists, SMTP and state.
//!
//! [`Config::parse`] takes the text and returns a validated [`Config`] or every problem found as
//! located [`Diagnostic`]s; [`Config::from_file`] reads the file first. Keys are kebab-case and
//! unknown keys are errors with a "did you mean" hint.
//!
//! One file per section, each holding its types and its validation: `site`, `publications`,
//! `lists`, `state`, `sending`, `serve`, `templates`, `dkim`; `paths` keeps configured paths in
//! the project, `locate` and [`find`] turn a key into a [`Location`]. The types are re-exported
//! here, so they are all `crate::config::X`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diagnostic::{Diagnostic, Location, did_you_mean};
use crate::error::{Error, Result};

mod bounce_sources;
mod bounces;
mod dkim;
mod duration;
mod lists;
mod locate;
mod paths;
mod publications;
mod relays;
mod sending;
mod serve;
mod site;
mod state;
mod templates;
#[cfg(test)]
mod tests;
mod timezone;

pub use bounce_sources::{
    Imap, MailgunWebhook, PostmarkWebhook, SesWebhook, Webhooks, check_imap_url, is_loopback_host,
};
pub use bounces::{Bounces, Separator, SoftRule};
pub use dkim::{Dkim, DkimAlgorithm};
pub use lists::{List, MAX_LIST_SLUG};
pub use locate::{at_entry, at_key};
pub use publications::{Publication, TemplateOverrides};
pub use relays::{Relay, from_domain};
pub use sending::{Limits, Sending, Smtp, SmtpUrl, TlsPolicy, TransportKind};
pub use serve::Serve;
pub use site::Site;
pub use state::StateConfig;
pub use templates::{Budget, TemplateLimits};

/// Why a setting's value is not valid, as a sentence fragment naming the key and the value:
/// ``"`confirm-ttl` `soon` is not a duration such as `7d` or `48h`"``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(String);

impl From<String> for ValueError {
    fn from(why: String) -> Self {
        Self(why)
    }
}

impl From<&str> for ValueError {
    fn from(why: &str) -> Self {
        Self(why.to_owned())
    }
}

impl From<ValueError> for String {
    fn from(error: ValueError) -> Self {
        error.0
    }
}

/// The configuration file's name at the project root.
pub const FILE_NAME: &str = "letterpress.yaml";

/// The whole project configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    /// Site-wide settings: title and URLs.
    pub site: Site,
    /// The newsletters this project publishes, in the order the archive lists them.
    pub publications: Vec<Publication>,
    /// Subscriber lists, each a CSV file under `subscribers/`.
    #[serde(default)]
    pub lists: Vec<List>,
    /// Where letterpress keeps its state (suppressions, delivery journal).
    #[serde(default)]
    pub state: StateConfig,
    /// How issues are delivered: the outbox directory or an SMTP relay, and how fast.
    #[serde(default)]
    pub sending: Sending,
    /// DKIM signing of every message, when configured.
    #[serde(default)]
    pub dkim: Option<Dkim>,
    /// The public endpoint of `letterpress serve`: confirmation links, rate limit, proxy.
    #[serde(default)]
    pub serve: Serve,
    /// Let `lists[].path`, `state.path` and `sending.outbox` lead outside the project directory
    /// (an absolute path, `..`, or a symbolic link out). Off by default, so a configuration
    /// cannot make letterpress read, echo or write files that are not the project's.
    #[serde(default)]
    pub allow_outside_project: bool,
    /// Limits on rendering any template: output size and time.
    #[serde(default)]
    pub templates: TemplateLimits,
    /// Bounces and complaints: the return-path address, the soft-bounce rule, and the IMAP
    /// mailbox and webhooks they come from.
    #[serde(default)]
    pub bounces: Bounces,
}

impl Config {
    /// Read and validate the configuration at `path`, at the root of its project: the paths it
    /// names must stay inside the project, symbolic links followed, unless
    /// `allow-outside-project` says otherwise.
    pub fn from_file(path: &Path, shown_as: &Path) -> Result<Self> {
        let file = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        let bytes = file.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&file);
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let bom = file.len() - bytes.len();
            Error::Invalid(vec![crate::diagnostic::invalid_utf8("config/utf8", shown_as, bytes, e.valid_up_to(), bom)])
        })?;
        let config = Self::parse(shown_as, text).map_err(Error::Invalid)?;
        let root = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let outside = paths::outside_project(&config, root, shown_as, text);
        if outside.is_empty() { Ok(config) } else { Err(Error::Invalid(outside)) }
    }

    /// Parse and validate configuration text; `path` is used in diagnostics.
    pub fn parse(path: &Path, text: &str) -> std::result::Result<Self, Vec<Diagnostic>> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let config: Self = crate::yaml::parse(path, text, text, 1, "configuration").map_err(|d| vec![d])?;
        let problems = config.validate(path, text);
        if problems.is_empty() { Ok(config) } else { Err(problems) }
    }

    /// The publication with `slug`.
    pub fn publication(&self, slug: &str) -> Option<&Publication> {
        self.publications.iter().find(|p| p.slug == slug)
    }

    /// The list with `slug`.
    pub fn list(&self, slug: &str) -> Option<&List> {
        self.lists.iter().find(|l| l.slug == slug)
    }

    /// The list with `slug`, or a usage error naming the closest one.
    pub fn list_named(&self, slug: &str) -> Result<&List> {
        self.list(slug).ok_or_else(|| Error::usage(format!("no list `{slug}`; {}", self.list_hint(slug))))
    }

    /// A "did you mean" or "lists are" hint for an unknown list name.
    pub fn list_hint(&self, name: &str) -> String {
        let known: Vec<&str> = self.lists.iter().map(|l| l.slug.as_str()).collect();
        match did_you_mean(name, known.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None if known.is_empty() => "define it under `lists:` in letterpress.yaml".to_owned(),
            None => format!("lists are: {}", known.join(", ")),
        }
    }

    fn validate(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let mut problems = self.validate_site_urls(path, text);
        problems.extend(self.validate_language(path, text));
        problems.extend(self.validate_have_publications(path, text));
        problems.extend(self.validate_lists(path, text));
        problems.extend(self.one_line_texts(path, text));
        problems.extend(self.validate_publications(path, text));
        problems.extend(self.url_control_characters(path, text));
        problems.extend(timezone::validate(&self.site, path, text));
        problems.extend(self.validate_sending(path, text));
        problems.extend(self.validate_relays(path, text));
        problems.extend(self.validate_serve(path, text));
        problems.extend(self.validate_template_limits(path, text));
        problems.extend(self.validate_bounce_sources(path, text));
        problems.extend(self.validate_bounces(path, text));
        problems
    }

    /// `config/control-character` for each text that reaches email headers and pages.
    fn one_line_texts(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let mut locate = |key: &str, value: &str, d: Diagnostic| {
            problems.push(d.at(find(path, text, key, value), text));
        };
        // These reach email headers (From, Reply-To, List-Id, a confirmation's Subject) and
        // pages: one line each, whatever the YAML's escapes allow.
        let site = [("title", Some(&self.site.title)), ("description", self.site.description.as_ref())];
        let publications = self.publications.iter().flat_map(|p| {
            [
                ("name", Some(&p.name)),
                ("description", Some(&p.description)),
                ("from", Some(&p.from)),
                ("reply-to", p.reply_to.as_ref()),
            ]
        });
        let lists = self.lists.iter().flat_map(|l| [("name", Some(&l.name)), ("description", Some(&l.description))]);
        for (key, value) in site.into_iter().chain(publications).chain(lists) {
            if let Some(value) = value.filter(|v| !is_one_line(v)) {
                // The file holds the value escaped (`\r\n`): find it by what comes before.
                let before = value.split(char::is_control).next().unwrap_or_default();
                locate(
                    key,
                    before,
                    Diagnostic::error(
                        "config/control-character",
                        format!(
                            "`{key}` contains a line break, another control character or an encoded-word (`=?…?=`)"
                        ),
                    )
                    .help("write the text itself, on one line: it goes into email headers and pages"),
                );
            }
        }
        problems
    }
}

/// Whether `text` may go into an email header and a page as it is: no line break or other
/// control character, no encoded-word (`=?…?=`).
fn is_one_line(text: &str) -> bool {
    !text.contains(char::is_control) && !crate::header::has_encoded_word(text)
}

/// Whether `s` is a URL- and directory-safe slug.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('-') && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Best-effort location of `key: value` in the YAML text, for validation errors found after
/// parsing.
fn find(path: &Path, text: &str, key: &str, value: &str) -> Location {
    let needle = format!("{key}:");
    let hit = text.lines().enumerate().find(|(_, line)| {
        let line = line.trim_start().trim_start_matches("- ");
        line.starts_with(&needle) && line.contains(value)
    });
    match hit {
        Some((i, line)) => {
            let col = line.find(&needle).map_or(0, |b| line[..b].chars().count());
            Location::new(path, i + 1, col + 1)
        }
        None => Location::new(path, 1, 1),
    }
}

/// Where `value` is written in the list under `key` (flow `[a, b]` or block `- a`): the first
/// line from `key:` on that holds it; else the start of the file.
fn find_in_list(path: &Path, text: &str, key: &str, value: &str) -> Location {
    let needle = format!("{key}:");
    let start = text.lines().position(|line| line.trim_start().starts_with(&needle));
    let hit = start.and_then(|start| text.lines().enumerate().skip(start).find(|(_, line)| line.contains(value)));
    match hit {
        Some((i, line)) => {
            let col = line.find(value).map_or(0, |b| line[..b].chars().count());
            Location::new(path, i + 1, col + 1)
        }
        None => Location::new(path, 1, 1),
    }
}

/// The location of the configuration file relative to a project root.
pub fn path_in(root: &Path) -> PathBuf {
    root.join(FILE_NAME)
}
