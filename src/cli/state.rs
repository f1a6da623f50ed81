//! `letterpress state …`: the state store itself.

use std::path::PathBuf;

use clap::Subcommand;

/// `letterpress state …`
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Write a consistent copy of the SQLite store to FILE (atomically), while sends and `serve`
    /// carry on.
    Backup {
        /// Where to write the copy.
        file: PathBuf,
    },
    /// Copy every table of the project's store into another, verifying row counts: a
    /// PostgreSQL database (`--to postgres://user@host/db`, password from `state.password-env`)
    /// or a SQLite file (`--to path/state.db`). Then point `state.url` at it.
    Migrate {
        /// The target: `postgres://…` or a SQLite file's path (relative to the project).
        #[arg(long, value_name = "URL_OR_PATH")]
        to: String,
        /// Replace what the target holds instead of refusing a non-empty one.
        #[arg(long)]
        force: bool,
    },
}
