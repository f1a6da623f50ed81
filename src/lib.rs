//! letterpress: a command-line pipeline for newsletters and briefings.
//!
//! Issues are Markdown files with YAML front matter. The pipeline reads as the module tree:
//! [`config`] and [`content`] load a project, [`render`] turns Markdown into an HTML fragment and
//! plain text, [`template`] lays them out as an email (CSS inlined), and [`check`] runs those
//! two once per issue and lints the result: a [`checked::CheckedIssue`], plain data, which
//! [`archive`] (the static web archive, from a slice of them), [`compose`] (per-recipient
//! messages, filling slots only), `send` and `preview` all take. Every problem is a located
//! [`diagnostic::Diagnostic`]; every fatal one is an [`error::Error`].

// Module docs map each stage's private parts for people reading the source.
#![allow(rustdoc::private_intra_doc_links)]

pub mod address;
pub mod allocator;
pub mod archive;
pub mod bounces;
pub mod check;
pub mod checked;
pub mod cli;
pub mod clicks;
pub mod clock;
pub mod codes;
mod commands;
pub mod compose;
pub mod config;
pub mod content;
pub mod diagnostic;
pub mod editions;
pub mod entropy;
pub mod env;
pub mod error;
pub mod fsutil;
pub mod header;
pub mod href;
pub mod lint_clients;
pub mod mail;
pub mod parallel;
pub mod preview;
pub mod project;
pub mod rename;
pub mod render;
pub mod request_path;
pub mod segment;
pub mod send;
pub mod serve;
pub mod state;
pub mod subscribers;
pub mod subscriptions;
pub mod template;
pub mod token;
mod yaml;

use clap::Parser as _;

use cli::{Cli, Command};
use error::Error;

/// Run the command line and return the process exit code.
pub fn run() -> i32 {
    // The environment is read here, once; stages get what they need from it. The allocator is
    // tuned before anything else allocates much (see [`allocator::tune`]).
    let env = env::Env::from_process();
    allocator::tune(&env);
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match dispatch(cli, &env) {
        Ok(()) => 0,
        Err(error) => {
            eprint!("{}", error.report());
            error.exit_code()
        }
    }
}

fn dispatch(cli: Cli, env: &env::Env) -> error::Result<()> {
    let clock = clock::Clock::from_env().map_err(Error::usage)?;
    let root = cli.dir.as_path();
    match cli.command {
        Command::Init { dir } => commands::init(&root.join(dir), &clock),
        Command::New { publication, title } => commands::new(root, &publication, &title, &clock),
        Command::Check { format } => commands::check(root, format, env),
        Command::Render { issue, format } => commands::render(root, &issue, format),
        Command::Build { out, drafts } => commands::build(root, &out, drafts),
        Command::Send { issue, cancel: true, yes, .. } => commands::cancel(root, issue.as_deref(), yes, &clock, env),
        Command::Send {
            issue,
            due,
            yes,
            dry_run,
            test,
            list,
            force,
            allow_changed,
            resend_uncertain,
            allow,
            catch_up,
            retry_failed,
            ..
        } => {
            let options = send::SendOptions {
                yes,
                dry_run,
                test,
                list,
                force,
                allow_changed,
                resend_uncertain,
                allow,
                catch_up,
                retry_failed,
            };
            commands::send(root, issue.as_deref(), due, &options, &clock, env)
        }
        Command::Rename { issue, new_slug, force } => commands::rename(root, &issue, &new_slug, force, env),
        Command::Status { issue, format } => commands::status(root, issue.as_deref(), format, &clock, env),
        Command::Log { issue, format } => commands::log(root, &issue, format, env),
        Command::Clicks { issue, format } => commands::clicks(root, &issue, format, env),
        Command::Subscribers { command } => commands::subscribers(root, command, &clock, env),
        Command::Audience { issue, format } => commands::audience(root, &issue, format, env),
        Command::Unsubscribe { email, list, reason, note } => {
            commands::unsubscribe(root, &email, list.as_deref(), reason, note.as_deref(), &clock, env)
        }
        Command::Resubscribe { email, list, force } => commands::resubscribe(root, &email, list.as_deref(), force, env),
        Command::Suppressions { format } => commands::suppressions(root, format, env),
        Command::Bounces(args) => commands::bounces(root, args, &clock, env),
        Command::Preview { bind, port, open } => {
            commands::preview(root, preview::Options { bind, port, open }, &clock, env)
        }
        Command::Serve { bind, public, build } => commands::serve(root, bind, &public, build, &clock, env),
        Command::Keys { command } => commands::keys(root, &command, env),
        Command::State { command } => commands::state(root, command, env),
    }
}

#[cfg(test)]
mod tests;
