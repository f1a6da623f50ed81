//! The command line. Doc comments here are the `--help` text.
// `<DIR>` in help text is clap's placeholder style, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

mod bounces;
mod state;
pub use bounces::{BouncesArgs, BouncesCommand, EventFormat, ScanFormat};
pub use state::StateCommand;

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
    /// Serve a live preview of every issue, drafts included, reloading open pages on each change.
    Preview {
        /// Address to listen on; anything but loopback lets other machines reach the preview.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Port to listen on; 0 picks a free one.
        #[arg(long, default_value_t = 8025)]
        port: u16,
        /// Open the preview in a browser (with `xdg-open`).
        #[arg(long)]
        open: bool,
    },
    /// Serve one-click unsubscribe, subscribe with double opt-in and the web archive: the
    /// newsletter's public site, meant to run behind a reverse proxy (see `docs/serve.md`).
    Serve {
        /// Address and port to listen on; port 0 picks a free one.
        #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
        /// The built archive to serve; built first when it has no `index.html`.
        #[arg(long, value_name = "DIR", default_value = "public")]
        public: PathBuf,
        /// Build the archive into `--public` before serving.
        #[arg(long)]
        build: bool,
    },
    /// Send an issue to its lists, or with `--due` every scheduled issue whose time has come.
    Send {
        /// The issue: `<publication>/<file name without .md>` or a path (omit with `--due`).
        #[arg(required_unless_present = "due", conflicts_with = "due")]
        issue: Option<String>,
        /// For cron: send every ready issue whose `send_at` has passed and whose send is not
        /// complete, resuming interrupted and deferred sends.
        #[arg(long)]
        due: bool,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
        /// Render and validate every message and report counts; deliver nothing.
        #[arg(long)]
        dry_run: bool,
        /// Send `[TEST]` copies to these addresses only (not recorded in the journal).
        #[arg(long, value_name = "ADDRESS", num_args = 1..)]
        test: Vec<String>,
        /// Only to this one of the issue's lists; a later run without it sends the others.
        #[arg(long)]
        list: Option<String>,
        /// Send even though the issue is a draft.
        #[arg(long)]
        force: bool,
        /// Resume although the issue changed since its send began.
        #[arg(long)]
        allow_changed: bool,
        /// Send again to recipients recorded as uncertain (possibly delivered).
        #[arg(long)]
        resend_uncertain: bool,
        /// Let diagnostics with this code through for this run (leftover placeholders, or a
        /// code `sending.block-on` names); repeatable.
        #[arg(long, value_name = "CODE")]
        allow: Vec<String>,
        /// Cancel the issue's stopped (or interrupted) send: its pending and deferred
        /// recipients are never sent. Asks first; `--yes` in scripts.
        #[arg(long, conflicts_with_all = ["due", "dry_run", "test", "list", "force", "allow_changed", "resend_uncertain", "allow"])]
        cancel: bool,
        /// Send the issue, already sent, to subscribers who joined its lists since its send
        /// started, within WINDOW of that start (default: the publication's `catch-up`, else 7d).
        #[arg(long, value_name = "WINDOW", num_args = 0..=1, default_missing_value = "", conflicts_with_all = ["due", "dry_run", "test", "cancel"])]
        catch_up: Option<String>,
        /// Put recipients that failed for a reason other than a bounce (a content rejection, a
        /// relay problem, `max-attempts`) back to pending, then resume; bounced and suppressed
        /// ones never are.
        #[arg(long, conflicts_with_all = ["due", "dry_run", "test", "cancel", "catch_up"])]
        retry_failed: bool,
    },
    /// Rename an issue: move its file (the date prefix stays), rewrite every `@/` link to it
    /// across `content/`, and keep its delivery journal with it.
    Rename {
        /// The issue: `<publication>/<file name without .md>` or a path to its file.
        issue: String,
        /// The new slug, without the date, e.g. `stp-plans-published`.
        new_slug: String,
        /// Rename an issue that was already sent: `build` then keeps a page at the old URL that
        /// redirects to the new one (the old name is recorded as an alias in its front matter).
        #[arg(long)]
        force: bool,
    },
    /// Delivery counts per issue, or one issue's failed, deferred and uncertain recipients.
    Status {
        /// The issue (all sends when omitted).
        issue: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Aggregate clicks on a sent issue's links (`clicks: true`): each link with its text,
    /// URL, counted and filtered clicks and share, in issue order.
    Clicks {
        /// The issue: `<publication>/<file name without .md>` or a path to its file.
        issue: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ClicksFormat::Text)]
        format: ClicksFormat,
    },
    /// Export an issue's delivery journal: one row per recipient.
    Log {
        /// The issue.
        issue: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = LogFormat::Jsonl)]
        format: LogFormat,
    },
    /// Manage subscriber lists (the CSV files under `subscribers/`).
    Subscribers {
        /// What to do with the lists.
        #[command(subcommand)]
        command: SubscribersCommand,
    },
    /// Show who an issue would go to: counts per list, suppressions, duplicates, the total.
    Audience {
        /// The issue: `<publication>/<file name without .md>` or a path to its file.
        issue: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Record that an address must not be mailed again (from every list, or one).
    Unsubscribe {
        /// The address.
        email: String,
        /// Only from this list.
        #[arg(long)]
        list: Option<String>,
        /// Why, as recorded and shown by `suppressions`; every reason stops mail the same way.
        #[arg(long, value_enum, default_value_t = SuppressionReason::Manual)]
        reason: SuppressionReason,
        /// A note to keep with the suppression, e.g. who asked and how (one line of text).
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// Lift a suppression recorded by `unsubscribe`, a bounce or a complaint.
    Resubscribe {
        /// The address.
        email: String,
        /// Only for this list: its own suppression is lifted, and an unsubscribe from every list
        /// is narrowed to the other lists.
        #[arg(long)]
        list: Option<String>,
        /// Lift a bounce or a complaint too (only once the address works and its owner wants the
        /// mail); without it, only an unsubscribe or a block by hand is lifted.
        #[arg(long)]
        force: bool,
    },
    /// List the suppressed addresses.
    Suppressions {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Bounces and complaints: list the recorded events, or read new ones (`ingest`).
    Bounces(BouncesArgs),
    /// The unsubscribe and confirmation keys, which every host of a project must share.
    Keys {
        /// What to do with the keys.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The state store: backups, and copying it to PostgreSQL or back (`migrate --to`).
    State {
        /// What to do with the store.
        #[command(subcommand)]
        command: StateCommand,
    },
}

/// `letterpress keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print the project's keys as one value for `LETTERPRESS_KEYS` on another host (to standard
    /// output; a secret: anyone who has it can forge unsubscribe and confirmation links).
    Export,
}

/// `letterpress subscribers …`
#[derive(Debug, Subcommand)]
pub enum SubscribersCommand {
    /// Validate every list (or one): bad rows with `path:line`, duplicates, counts.
    Check {
        /// Only this list.
        list: Option<String>,
    },
    /// Print a list's rows as CSV (every row, whatever its status), then the sign-ups from the
    /// state store not yet pulled into it.
    List {
        /// The list.
        list: String,
    },
    /// Count each list's rows (or one list's) by status; an `active` row whose address is
    /// suppressed (`unsubscribe`, a bounce, a complaint) counts as suppressed, not active.
    Count {
        /// Only this list.
        list: Option<String>,
    },
    /// Print a list's columns, one a line; or add or rename one.
    Columns {
        /// The list.
        list: String,
        /// Add this column, empty in every row.
        #[arg(long, value_name = "NAME", conflicts_with = "rename")]
        add: Option<String>,
        /// Rename a column; only the header changes. `email`, `name`, `status` and
        /// `subscribed_at` keep their names.
        #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
        rename: Option<Vec<String>>,
    },
    /// Add an address to a list.
    Add {
        /// The list.
        list: String,
        /// The address.
        email: String,
        /// The subscriber's name.
        #[arg(long)]
        name: Option<String>,
        /// An attribute column value, `key=value` (repeatable); a column the list lacks is
        /// added, empty in the other rows.
        #[arg(long = "attr", value_name = "KEY=VALUE", value_parser = parse_attr)]
        attrs: Vec<(String, String)>,
        /// Send the list's welcome issue (`lists[].welcome`), once, as a confirmation would.
        #[arg(long)]
        welcome: bool,
    },
    /// Remove an address from a list, and its sign-up from the state store (it can be added
    /// again; to stop mail for good, `unsubscribe`).
    Remove {
        /// The list.
        list: String,
        /// The address.
        email: String,
    },
    /// Import subscribers from a CSV export (listmonk, Mailchimp, Substack, Buttondown, or any file
    /// with an email column). Suppressed addresses are skipped unless `--resubscribe`.
    Import {
        /// The list to add them to.
        list: String,
        /// The export file.
        file: PathBuf,
        /// Lift unsubscribes and blocks of imported addresses for this list (only with their
        /// consent); a bounce or a complaint stays.
        #[arg(long)]
        resubscribe: bool,
        /// Send the list's welcome issue (`lists[].welcome`) to each address added, once.
        #[arg(long)]
        welcome: bool,
    },
    /// Print the effective list as CSV: active rows, suppressions applied.
    Export {
        /// The list.
        list: String,
    },
    /// Write the sign-ups confirmed through `serve` (kept in the state store) into the list's
    /// CSV, for editors who keep them in git; each is written once.
    Pull {
        /// The list.
        list: String,
    },
}

/// How `log` exports the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header row.
    Csv,
}

/// Why an address is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SuppressionReason {
    /// The subscriber asked to stop (by reply, by phone, in person).
    Unsubscribed,
    /// Mail to the address bounced permanently (the mailbox does not exist).
    Bounced,
    /// The subscriber marked an issue as spam.
    Complained,
    /// An editor decided, for any other reason (the default).
    Manual,
}

fn parse_attr(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((key, val)) if !key.trim().is_empty() => Ok((key.trim().to_owned(), val.to_owned())),
        _ => Err(format!("`{value}` is not `key=value`")),
    }
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

/// How `clicks` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClicksFormat {
    /// A table for people.
    Text,
    /// One JSON document.
    Json,
    /// CSV with a header row.
    Csv,
}
