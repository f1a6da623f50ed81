//! `letterpress bounces …`: the command line of the bounce loop.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

/// How `bounces scan` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// One line per recipient for people, and a count per verdict on standard error.
    Text,
    /// One JSON object per line: `file`, `recipient`, `verdict`, `status`, `reply`, `reason`,
    /// `send`, `attributed`, `diagnostic`.
    Json,
}

/// `letterpress bounces [ingest …]`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BouncesArgs {
    /// Read bounces instead of listing them.
    #[command(subcommand)]
    pub command: Option<BouncesCommand>,
    /// Only the events of this send (`<publication>/<slug>`).
    #[arg(long)]
    pub send: Option<String>,
    /// Only events with this verdict.
    #[arg(long, value_enum)]
    pub verdict: Option<crate::bounces::Verdict>,
    /// Only events recorded at or after this time (`2024-05-01` or `2024-05-01T08:00:00Z`).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = EventFormat::Text)]
    pub format: EventFormat,
}

/// `letterpress bounces …`
#[derive(Debug, Subcommand)]
pub enum BouncesCommand {
    /// Read bounces, complaints and auto-replies from a Maildir, mbox files or `.eml` files (or
    /// directories of them), record each once, and suppress what the bounce rule says. Safe to
    /// run again on the same messages: nothing is recorded twice. The files are not changed.
    Ingest {
        /// Maildirs, mbox files, `.eml` files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Read the IMAP mailbox of `bounces.imap`: record each bounce, move it to `done-folder`
    /// (unreadable ones to `failed-folder`). For cron, beside `send --due`.
    Fetch {
        /// Read and classify every message, print the verdicts; change neither the mailbox nor
        /// the state store.
        #[arg(long)]
        dry_run: bool,
    },
    /// Classify bounces, complaints and auto-replies and print what each says about each
    /// recipient; writes nothing. PATH: a Maildir, an mbox file, a directory of message files,
    /// or message files. A message that is not a bounce at all gets one row with verdict
    /// `unknown`, reason `notbounce` and no recipient.
    Scan {
        /// Where the messages are.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Output format: `json` prints one JSON object per line, per recipient of each message.
        #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
        format: ScanFormat,
    },
}

/// How `bounces` lists events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventFormat {
    /// One line per event.
    Text,
    /// A JSON document.
    Json,
    /// CSV with a header row.
    Csv,
}
