//! The command line. Doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// letterpress: check, render, archive and send newsletters written in Markdown.
#[derive(Debug, Parser)]
#[command(name = "letterpress", version, about, long_about = None)]
pub struct Cli {
    /// Run as if started in <DIR> (like `git -C` and `cargo -C`).
    #[arg(short = 'C', id = "directory", global = true, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new newsletter project in <DIR> with default templates and a sample issue.
    Init {
        /// Directory to create (must not already hold a project).
        dir: PathBuf,
    },
    /// Start a new draft issue and print its path.
    New {
        /// Publication slug, as in `letterpress.yaml`.
        publication: String,
        /// The issue's title.
        title: String,
    },
    /// Check configuration, every issue, templates, links and the rendered emails.
    Check {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Print one rendition of an issue to standard output.
    Render {
        /// The issue: `<publication>/<file name without .md>` or a path to its file.
        issue: String,
        /// Which rendition.
        #[arg(long, value_enum, default_value_t = Rendition::Html)]
        format: Rendition,
    },
    /// Build the static web archive, Atom feeds and email renditions.
    Build {
        /// Output directory.
        #[arg(long, default_value = "public")]
        out: PathBuf,
        /// Include draft issues.
        #[arg(long)]
        drafts: bool,
    },
}

/// How `check` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Human-readable diagnostics on standard error.
    Text,
    /// A JSON document on standard output, for CI.
    Json,
}

/// What `render` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Rendition {
    /// The HTML email, CSS inlined.
    Html,
    /// The plain-text email.
    Text,
}
