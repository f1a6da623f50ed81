//! `bounces fetch`: read an IMAP mailbox of bounces, hand each message to a
//! [`Sink`](super::Sink), and move it out of the way.
//!
//! Enters: `bounces.imap` ([`crate::config::Imap`]) and the password from the environment
//! variable it names. Leaves: each message's raw bytes, given to the sink; messages the sink
//! took (recorded, seen before, or nothing to record) moved to `done-folder`, messages it could
//! not read moved to `failed-folder` (RFC 6851 `MOVE`, or `COPY` + `\Deleted` + `UID EXPUNGE`
//! of exactly those UIDs). Nothing is ever deleted otherwise.
//!
//! TLS is required (`imaps://`) except to a loopback host. Messages are read a batch of UIDs at
//! a time, one message in memory at once, with `BODY.PEEK[]` so their `\Seen` flag stays; a
//! lost connection leaves every message not yet moved where it was, and the next run sees
//! those already recorded as duplicates and moves them. [`Mode::DryRun`] opens the folder
//! read-only (`EXAMINE`) and moves nothing. Runs are serialised by [`lock`].

mod session;
mod stream;

use std::fs::File;
use std::path::Path;

pub use session::fetch;

use crate::config::{Imap, check_imap_url};
use crate::env::Env;
use crate::error::{Error, Result};

/// The lock file's name in the state directory (beside `send.lock`).
pub const LOCK_FILE: &str = "bounces-fetch.lock";
/// Messages larger than this are not downloaded: they go to the failed folder with a log line.
pub const MAX_MESSAGE: u32 = 32 * 1024 * 1024;
/// UIDs handled per batch: their moves are issued together.
pub const BATCH: usize = 100;

/// Where and how to connect, and which folders to use.
#[derive(Clone)]
pub struct Target {
    /// The server's host name or address.
    pub host: String,
    /// The port (993 for `imaps://`, 143 for `imap://`, unless the URL gives one).
    pub port: u16,
    /// Implicit TLS (`imaps://`); plaintext only to loopback (`imap://`).
    pub tls: bool,
    /// The login name.
    pub username: String,
    password: String,
    /// The folder read.
    pub folder: String,
    /// Where taken messages go.
    pub done_folder: String,
    /// Where unreadable messages go.
    pub failed_folder: String,
    connector: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for Target {
    /// Everything but the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// The target `bounces.imap` describes, its password read from `env` and any `ca-file`
    /// from under `root`.
    pub fn of(imap: &Imap, root: &Path, env: &Env) -> Result<Self> {
        check_imap_url(&imap.url).map_err(|why| Error::usage(format!("`bounces.imap`: {why}")))?;
        let url = url::Url::parse(&imap.url).map_err(|_| Error::usage("`bounces.imap.url` is not a URL"))?;
        let tls = url.scheme() == "imaps";
        let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = url.port().unwrap_or(if tls { 993 } else { 143 });
        let name = &imap.password_env;
        let password = match env.get(name) {
            Some(value) if !value.is_empty() => value.to_owned(),
            _ => {
                return Err(Error::usage(format!(
                    "`{name}` is not set: `bounces.imap.password-env` names it as the IMAP password; set it in the environment `bounces fetch` runs in (cron's too)"
                )));
            }
        };
        let ca = match &imap.ca_file {
            Some(file) => Some(std::fs::read(root.join(file)).map_err(|e| Error::io("read", file, e))?),
            None => None,
        };
        let connector = crate::mail::smtp::connector(ca.as_deref())
            .map_err(|why| Error::usage(format!("`bounces.imap.ca-file` {why}")))?;
        Ok(Self {
            host,
            port,
            tls,
            username: imap.username.clone(),
            password,
            folder: imap.folder.clone(),
            done_folder: imap.done_folder.clone(),
            failed_folder: imap.failed_folder.clone(),
            connector,
        })
    }

    /// `imaps://host:port/folder as user`, for log lines.
    pub fn describe(&self) -> String {
        let scheme = if self.tls { "imaps" } else { "imap" };
        format!("{scheme}://{}:{}/{} as `{}`", self.host, self.port, self.folder, self.username)
    }

    /// `text` with the password, should a server echo it, replaced.
    fn mask(&self, text: &str) -> String {
        if self.password.len() >= 3 { text.replace(&self.password, "***") } else { text.to_owned() }
    }
}

/// Whether the mailbox is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Hand messages to the sink and move them.
    Process,
    /// Open the folder read-only, hand messages to the sink, move nothing.
    DryRun,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Messages found in the folder when the run began.
    pub found: usize,
    /// Messages the sink recorded events from.
    pub recorded: usize,
    /// Messages seen before.
    pub duplicate: usize,
    /// Messages with nothing to record.
    pub ignored: usize,
    /// Messages the sink could not read (or too large to read).
    pub unparsable: usize,
    /// Messages moved to the done folder.
    pub moved_done: usize,
    /// Messages moved to the failed folder.
    pub moved_failed: usize,
}

/// Held for as long as the value lives: one `bounces fetch` per project at a time.
#[derive(Debug)]
pub struct FetchLock {
    _file: File,
}

/// Take the fetch lock in `state_dir`; `None` when another process holds it.
pub fn lock(state_dir: &Path) -> Result<Option<FetchLock>> {
    Ok(crate::fsutil::try_lock_file(state_dir, LOCK_FILE)?.map(|file| FetchLock { _file: file }))
}

/// A UID set for IMAP commands, runs written as ranges: `1:3,7,9:10`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&start.to_string());
        if start != end {
            out.push(':');
            out.push_str(&end.to_string());
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imap(url: &str) -> Imap {
        Imap {
            url: url.to_owned(),
            username: "bounces".to_owned(),
            password_env: "LP_IMAP_PASSWORD".to_owned(),
            folder: "INBOX".to_owned(),
            done_folder: "Processed".to_owned(),
            failed_folder: "Failed".to_owned(),
            ca_file: None,
        }
    }

    #[test]
    fn uid_sets_are_runs_and_singles() {
        assert_eq!(uid_set(&[3, 1, 2, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[4, 4, 5]), "4:5");
    }

    #[test]
    fn a_target_takes_tls_port_and_password_from_url_and_environment() {
        let env = Env::from_pairs([("LP_IMAP_PASSWORD", "s3cret-pass")]);
        let dir = tempfile::tempdir().unwrap();
        let target = Target::of(&imap("imaps://imap.example.org"), dir.path(), &env).unwrap();
        assert_eq!((target.host.as_str(), target.port, target.tls), ("imap.example.org", 993, true));
        assert!(!format!("{target:?}").contains("s3cret"));
        assert_eq!(target.mask("LOGIN bounces s3cret-pass"), "LOGIN bounces ***");
        let local = Target::of(&imap("imap://127.0.0.1:1143"), dir.path(), &env).unwrap();
        assert_eq!((local.port, local.tls), (1143, false));
    }

    #[test]
    fn plaintext_to_another_host_and_a_missing_password_are_refused() {
        let env = Env::from_pairs([("LP_IMAP_PASSWORD", "s3cret-pass")]);
        let dir = tempfile::tempdir().unwrap();
        let error = Target::of(&imap("imap://imap.example.org"), dir.path(), &env).unwrap_err().to_string();
        assert!(error.contains("unencrypted") && error.contains("imaps://imap.example.org"), "{error}");
        let error = Target::of(&imap("imaps://imap.example.org"), dir.path(), &Env::default()).unwrap_err().to_string();
        assert!(error.contains("`LP_IMAP_PASSWORD` is not set"), "{error}");
    }

    #[test]
    fn a_second_fetch_is_refused_the_lock_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        assert!(first.is_some());
        assert!(lock(dir.path()).unwrap().is_none());
        drop(first);
        assert!(lock(dir.path()).unwrap().is_some());
    }
}
