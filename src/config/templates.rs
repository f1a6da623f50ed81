//! `templates:`: how much one render of a template may write and how long it may take.

use std::path::Path;

use serde::Deserialize;

use super::{Config, ValueError, duration::short_duration, find};
use crate::diagnostic::Diagnostic;

/// How much one render of a template may write and how long it may take; a template past
/// either fails with an error at the loop that was running.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TemplateLimits {
    /// Largest output of one render: `2MB` (the default), `512KB`, or bytes. KB = 1024 bytes.
    #[serde(default = "default_max_output")]
    pub max_output: String,
    /// Longest one render may take: `2s` (the default), `500ms`.
    #[serde(default = "default_max_render_time")]
    pub max_render_time: String,
}

impl Default for TemplateLimits {
    fn default() -> Self {
        Self { max_output: default_max_output(), max_render_time: default_max_render_time() }
    }
}

impl TemplateLimits {
    /// `max-output` in bytes, or why it is not a size between 1 KB and 1 GB.
    pub fn max_output(&self) -> Result<usize, ValueError> {
        let text = self.max_output.trim();
        let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let unit = match text[digits..].trim().to_ascii_uppercase().as_str() {
            "" | "B" => 1,
            "KB" | "K" => 1024,
            "MB" | "M" => 1024 * 1024,
            "GB" | "G" => 1024 * 1024 * 1024,
            _ => 0,
        };
        let bytes = text[..digits].parse::<usize>().ok().and_then(|n| n.checked_mul(unit));
        match bytes {
            Some(b) if (1024..=1024 * 1024 * 1024).contains(&b) => Ok(b),
            _ => {
                Err(format!("`max-output` `{}` is not a size between 1KB and 1GB such as `2MB`", self.max_output)
                    .into())
            }
        }
    }

    /// `max-render-time`, or why it is not a duration between 10 milliseconds and 10 minutes.
    pub fn max_render_time(&self) -> Result<std::time::Duration, ValueError> {
        short_duration("max-render-time", &self.max_render_time)
    }

    /// The limits, the defaults standing in for invalid values (which `parse` reports).
    pub fn budget(&self) -> Budget {
        let default = Budget::default();
        Budget {
            max_output: self.max_output().unwrap_or(default.max_output),
            max_time: self.max_render_time().unwrap_or(default.max_time),
        }
    }
}

fn default_max_output() -> String {
    "2MB".to_owned()
}
fn default_max_render_time() -> String {
    "2s".to_owned()
}

impl Config {
    pub(super) fn validate_template_limits(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let limits = &self.templates;
        let checks = [
            ("max-output", limits.max_output().err(), "write e.g. `max-output: 2MB`"),
            ("max-render-time", limits.max_render_time().err(), "write e.g. `max-render-time: 2s`"),
        ];
        checks
            .into_iter()
            .filter_map(|(key, why, help)| {
                why.map(|why| Diagnostic::error("config/templates", why).help(help).at(find(path, text, key, ""), text))
            })
            .collect()
    }
}

/// Limits of one render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes of output at most.
    pub max_output: usize,
    /// Time at most.
    pub max_time: std::time::Duration,
}

impl Default for Budget {
    fn default() -> Self {
        Self { max_output: 2 * 1024 * 1024, max_time: std::time::Duration::from_secs(2) }
    }
}
