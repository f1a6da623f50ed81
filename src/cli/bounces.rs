//! `letterpress bounces …`: the command line of the bounce loop.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

/// `letterpress bounces …`
#[derive(Debug, Subcommand)]
pub enum BouncesCommand {
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

/// How `bounces scan` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// One line per recipient for people, and a count per verdict on standard error.
    Text,
    /// One JSON object per line: `file`, `recipient`, `verdict`, `status`, `reply`, `reason`,
    /// `send`, `attributed`, `diagnostic`.
    Json,
}
