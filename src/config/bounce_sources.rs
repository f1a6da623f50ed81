//! Where bounces are read from: an IMAP mailbox (`bounces.imap`) and provider webhooks
//! (`bounces.webhooks`).
//!
//! Secrets are never written here: each is the *name* of an environment variable, read when
//! `bounces fetch` or `serve` starts.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::duration::duration;
use super::{Config, ValueError, find};
use crate::diagnostic::Diagnostic;

/// `bounces.imap`: the mailbox `bounces fetch` reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Imap {
    /// `imaps://host[:port]` (TLS, port 993 by default), or `imap://` to a loopback address only.
    pub url: String,
    /// The login name.
    pub username: String,
    /// The environment variable holding the password.
    pub password_env: String,
    /// The folder to read.
    #[serde(default = "inbox")]
    pub folder: String,
    /// Where processed messages are moved.
    #[serde(default = "done")]
    pub done_folder: String,
    /// Where messages that could not be read are moved.
    #[serde(default = "failed")]
    pub failed_folder: String,
    /// A PEM file of extra certificate authorities to trust, relative to the project root (a
    /// private server's own authority).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn inbox() -> String {
    "INBOX".to_owned()
}
fn done() -> String {
    "Processed".to_owned()
}
fn failed() -> String {
    "Failed".to_owned()
}

/// `bounces.webhooks`: which providers' webhooks `serve` answers, and how each is verified. A
/// provider is answered only when its key is present.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Webhooks {
    /// Amazon SES notifications through SNS, at `<base path>/webhooks/ses`.
    #[serde(default)]
    pub ses: Option<SesWebhook>,
    /// Postmark bounce, spam complaint and delivery webhooks, at `<base path>/webhooks/postmark`.
    #[serde(default)]
    pub postmark: Option<PostmarkWebhook>,
    /// Mailgun event webhooks, at `<base path>/webhooks/mailgun`.
    #[serde(default)]
    pub mailgun: Option<MailgunWebhook>,
}

/// `bounces.webhooks.ses`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SesWebhook {
    /// The SNS topic ARNs whose messages are accepted, such as
    /// `arn:aws:sns:eu-west-1:123456789012:ses-bounces`; any other topic is refused.
    pub topics: Vec<String>,
}

/// `bounces.webhooks.postmark`: basic auth, a secret path, or both.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PostmarkWebhook {
    /// The environment variable holding the basic-auth user name set in Postmark's webhook URL.
    #[serde(default)]
    pub username_env: Option<String>,
    /// The environment variable holding the basic-auth password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// The environment variable holding a secret path segment: the webhook URL is then
    /// `<base path>/webhooks/postmark/<secret>`.
    #[serde(default)]
    pub secret_path_env: Option<String>,
}

/// `bounces.webhooks.mailgun`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MailgunWebhook {
    /// The environment variable holding Mailgun's HTTP webhook signing key.
    pub signing_key_env: String,
    /// How old a signed timestamp may be: `5m` (the default), between 1 minute and 1 hour.
    #[serde(default = "replay_window")]
    pub replay_window: String,
}

fn replay_window() -> String {
    "5m".to_owned()
}

impl MailgunWebhook {
    /// `replay-window` as a duration, or why it is not one between a minute and an hour.
    pub fn replay_window(&self) -> Result<jiff::SignedDuration, ValueError> {
        duration("replay-window", &self.replay_window, "`5m`", (1, "1 minute"), (60, "1 hour"))
    }
}

/// Whether `host` (of a URL) is a loopback name or address.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Why an IMAP URL cannot be used, if it cannot: the scheme, a host, and TLS unless loopback.
pub fn check_imap_url(value: &str) -> Result<(), String> {
    let url = url::Url::parse(value)
        .map_err(|_| format!("`url` `{value}` is not a URL such as `imaps://imap.example.org`"))?;
    let host = url.host_str().unwrap_or_default();
    if host.is_empty() {
        return Err(format!("`url` `{value}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("`url` must not hold a user name or password: use `username` and `password-env`".to_owned());
    }
    match url.scheme() {
        "imaps" => Ok(()),
        "imap" if is_loopback_host(host) => Ok(()),
        "imap" => Err(format!(
            "`url` `{value}` would send the password unencrypted to `{host}`: use `imaps://{host}` (TLS); `imap://` is only for a server on this machine"
        )),
        other => Err(format!("`url` scheme `{other}` is not `imaps` or `imap`")),
    }
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

impl Config {
    /// `bounces.imap` and `bounces.webhooks`: URLs, TLS, variable names, topics, windows.
    pub(super) fn validate_bounce_sources(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let mut error = |key: &str, value: &str, why: String, help: &str| {
            let mut d = Diagnostic::error("config/bounces", why);
            if !help.is_empty() {
                d = d.help(help.to_owned());
            }
            problems.push(d.at(find(path, text, key, value), text));
        };
        let env_name = |value: &str| {
            is_env_name(value)
                .then_some(())
                .ok_or_else(|| format!("`{value}` is not the name of an environment variable"))
        };
        if let Some(imap) = &self.bounces.imap {
            if let Err(why) = check_imap_url(&imap.url) {
                error("url", &imap.url, why, "");
            }
            if let Err(why) = env_name(&imap.password_env) {
                error(
                    "password-env",
                    &imap.password_env,
                    why,
                    "write the variable's name, e.g. `password-env: BOUNCES_IMAP_PASSWORD`, and set it in cron's environment",
                );
            }
            for (key, folder) in
                [("folder", &imap.folder), ("done-folder", &imap.done_folder), ("failed-folder", &imap.failed_folder)]
            {
                if folder.trim().is_empty() || folder.contains(['\r', '\n', '"', '\\', '*', '%']) {
                    error(key, folder, format!("`{key}` `{folder}` is not a usable folder name"), "");
                }
            }
            if imap.folder == imap.done_folder || imap.folder == imap.failed_folder {
                error(
                    "folder",
                    &imap.folder,
                    "`folder` must differ from `done-folder` and `failed-folder`".to_owned(),
                    "",
                );
            }
        }
        let hooks = &self.bounces.webhooks;
        if let Some(ses) = &hooks.ses {
            if ses.topics.is_empty() {
                error(
                    "topics",
                    "",
                    "`ses.topics` is empty: no SNS topic would be accepted".to_owned(),
                    "list the topic ARNs, e.g. `topics: [arn:aws:sns:eu-west-1:123456789012:ses-bounces]`",
                );
            }
            for topic in &ses.topics {
                let parts: Vec<&str> = topic.split(':').collect();
                if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts.iter().any(|p| p.is_empty()) {
                    error(
                        "topics",
                        "",
                        format!(
                            "`{topic}` is not an SNS topic ARN such as `arn:aws:sns:eu-west-1:123456789012:ses-bounces`"
                        ),
                        "",
                    );
                }
            }
        }
        if let Some(postmark) = &hooks.postmark {
            let names = [
                ("username-env", &postmark.username_env),
                ("password-env", &postmark.password_env),
                ("secret-path-env", &postmark.secret_path_env),
            ];
            for (key, name) in names {
                if let Some(name) = name
                    && let Err(why) = env_name(name)
                {
                    error(key, name, why, "");
                }
            }
            if postmark.username_env.is_some() != postmark.password_env.is_some() {
                error(
                    "postmark",
                    "",
                    "`postmark` needs both `username-env` and `password-env`, or neither".to_owned(),
                    "",
                );
            }
            if postmark.password_env.is_none() && postmark.secret_path_env.is_none() {
                error(
                    "postmark",
                    "",
                    "`postmark` is not protected: anyone could post bounces to it".to_owned(),
                    "set `username-env` and `password-env` (basic auth), or `secret-path-env`, or both",
                );
            }
        }
        if let Some(mailgun) = &hooks.mailgun {
            if let Err(why) = env_name(&mailgun.signing_key_env) {
                error("signing-key-env", &mailgun.signing_key_env, why, "");
            }
            if let Err(why) = mailgun.replay_window() {
                error("replay-window", &mailgun.replay_window, why.to_string(), "write e.g. `replay-window: 5m`");
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    const BASE: &str = "site:\n  title: T\n  base-url: https://news.example.org\npublications:\n  - slug: w\n    name: W\n    from: w@news.example.org\nbounces:\n";

    /// The messages and lines of the problems of `bounces` text `section`.
    fn problems(section: &str) -> Vec<(String, usize)> {
        match Config::parse(Path::new("letterpress.yaml"), &format!("{BASE}{section}")) {
            Ok(_) => Vec::new(),
            Err(diagnostics) => {
                diagnostics.iter().map(|d| (d.message.clone(), d.location.as_ref().map_or(0, |l| l.line))).collect()
            }
        }
    }

    #[test]
    fn a_complete_configuration_passes() {
        let ok = "  imap:\n    url: imaps://imap.example.org\n    username: b\n    password-env: B_PASS\n  webhooks:\n    ses:\n      topics: [arn:aws:sns:eu-west-1:123456789012:ses-bounces]\n    postmark:\n      secret-path-env: PM_PATH\n    mailgun:\n      signing-key-env: MG_KEY\n";
        assert_eq!(problems(ok), Vec::new());
    }

    #[test]
    fn each_mistake_is_located_at_its_key() {
        let bad = "  imap:\n    url: imap://imap.example.org\n    username: b\n    password-env: not a name\n  webhooks:\n    ses:\n      topics: [arn:aws:s3:::bucket]\n    postmark:\n      username-env: PM_USER\n    mailgun:\n      signing-key-env: MG_KEY\n      replay-window: 2h\n";
        let found = problems(bad);
        let line_of = |needle: &str| {
            found
                .iter()
                .find(|(m, _)| m.contains(needle))
                .map_or_else(|| panic!("{needle}: {found:?}"), |(_, line)| *line)
        };
        assert_eq!(line_of("unencrypted"), 10);
        assert_eq!(line_of("not the name of an environment variable"), 12);
        assert_eq!(line_of("not an SNS topic ARN"), 15);
        assert_eq!(line_of("needs both `username-env` and `password-env`"), 16);
        assert_eq!(line_of("`replay-window` `2h` must be between"), 20);
    }
}
