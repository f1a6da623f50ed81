//! `site:`: the site's title, URLs, language and time zone, and the rule for its URLs.

use std::path::Path;

use serde::Deserialize;
use url::Url;

use super::{Config, ValueError, find};
use crate::diagnostic::Diagnostic;

/// Site-wide settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Site {
    /// The site's name, shown on the archive's front page.
    pub title: String,
    /// Absolute URL where `public/` is served; relative links and images become absolute with it.
    pub base_url: String,
    /// Language tag for `<html lang>` and the Atom feeds (default `en`).
    #[serde(default = "default_language")]
    pub language: String,
    /// Short description of the site for the archive front page.
    #[serde(default)]
    pub description: Option<String>,
    /// URL of the web archive if it is not `base-url` itself.
    #[serde(default)]
    pub archive_url: Option<String>,
    /// Unsubscribe endpoint; defaults to `<base-url>/unsubscribe`.
    #[serde(default)]
    pub unsubscribe_url: Option<String>,
    /// The IANA time zone editors think in, e.g. `Europe/London`: a `send_at` without an
    /// offset is read in it, `preview` and `status` show times in it, and `new` dates issues by
    /// its calendar. Unset: UTC, and `send_at` needs an offset.
    #[serde(default)]
    pub timezone: Option<String>,
}

impl Site {
    /// The base URL, always ending with `/`.
    pub fn base(&self) -> String {
        with_slash(&self.base_url)
    }

    /// The archive's root URL, always ending with `/`.
    pub fn archive(&self) -> String {
        with_slash(self.archive_url.as_deref().unwrap_or(&self.base_url))
    }

    /// The unsubscribe endpoint.
    pub fn unsubscribe(&self) -> String {
        self.unsubscribe_url.clone().unwrap_or_else(|| format!("{}unsubscribe", self.base()))
    }
}

fn with_slash(url: &str) -> String {
    if url.ends_with('/') { url.to_owned() } else { format!("{url}/") }
}

/// A site URL: one the link rule ([`crate::href::judge`]) allows, absolute, `https:` or `http:`.
fn absolute_url(value: &str) -> Result<(), ValueError> {
    crate::href::judge(value).map_err(|refused| refused.to_string())?;
    match Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.host().is_some() => Ok(()),
        Ok(url) => Err(format!("must be an http(s) URL, not `{}:`", url.scheme()).into()),
        Err(e) => Err(format!("is not an absolute URL ({e})").into()),
    }
}

fn default_language() -> String {
    "en".to_owned()
}

impl Config {
    /// `config/url` for each site URL that is not an absolute http(s) URL the link rule allows.
    pub(super) fn validate_site_urls(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let mut locate = |key: &str, value: &str, d: Diagnostic| {
            problems.push(d.at(find(path, text, key, value), text));
        };
        for (key, value) in [
            ("base-url", Some(&self.site.base_url)),
            ("archive-url", self.site.archive_url.as_ref()),
            ("unsubscribe-url", self.site.unsubscribe_url.as_ref()),
        ] {
            if let Some(value) = value
                && let Err(why) = absolute_url(value)
            {
                locate(
                    key,
                    value,
                    Diagnostic::error("config/url", format!("`{key}` {why}"))
                        .help("write a full URL such as `https://news.example.org`"),
                );
            }
        }
        problems
    }
}

impl Config {
    /// `config/language` when `language` is not a well-formed RFC 5646 (BCP 47) tag: it becomes
    /// every page's `<html lang>` and the feeds' `xml:lang`, where a wrong one goes unnoticed.
    pub(super) fn validate_language(&self, path: &Path, text: &str) -> Option<Diagnostic> {
        let language = &self.site.language;
        oxilangtag::LanguageTag::parse(language.as_str()).err()?;
        let before = language.split(char::is_control).next().unwrap_or_default();
        Some(
            Diagnostic::error(
                "config/language",
                format!("`language` `{}` is not a language tag", language.escape_debug()),
            )
            .at(find(path, text, "language", before), text)
            .help("write an RFC 5646 (BCP 47) tag such as `en`, `en-GB` or `cy`"),
        )
    }

    /// A URL parser drops line breaks and tabs without a word; these URLs end up in headers
    /// (`List-Unsubscribe`, `List-Archive`) and links, so a control character is an error.
    pub(super) fn url_control_characters(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let sending = &self.sending;
        let urls = [
            ("base-url", Some(&self.site.base_url)),
            ("archive-url", self.site.archive_url.as_ref()),
            ("unsubscribe-url", self.site.unsubscribe_url.as_ref()),
            ("unsubscribe-mailto", sending.unsubscribe_mailto.as_ref()),
            ("url", sending.smtp.as_ref().map(|smtp| &smtp.url)),
        ];
        let mut problems = Vec::new();
        for (key, value) in urls {
            if let Some(value) = value.filter(|v| v.contains(char::is_control)) {
                // The file holds the value escaped (`\r\n`): find it by what comes before.
                let before = value.split(char::is_control).next().unwrap_or_default();
                problems.push(
                    Diagnostic::error(
                        "config/control-character",
                        format!("`{key}` contains a line break or another control character"),
                    )
                    .help("write the URL on one line: it goes into email headers and links")
                    .at(find(path, text, key, before), text),
                );
            }
        }
        problems
    }
}
