//! `letterpress bounces fetch [--dry-run]`: read the IMAP mailbox of `bounces.imap`.

use std::fmt::Write as _;
use std::path::Path;

use crate::bounces::imap::{self, Mode, Report, Target};
use crate::bounces::{Handled, ProviderEvent, Sink, analyse};
use crate::clock::Clock;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::project::Project;

/// `letterpress bounces fetch`: exit 4 when another fetch holds the lock.
pub fn bounces_fetch(root: &Path, dry_run: bool, clock: &Clock, env: &Env) -> Result<()> {
    let project = Project::load(root)?;
    let Some(config) = &project.config.bounces.imap else {
        return Err(Error::usage(
            "`letterpress.yaml` has no `bounces.imap` mailbox to fetch from; add `bounces: {imap: {url: imaps://imap.example.org, username: bounces, password-env: BOUNCES_IMAP_PASSWORD}}` (see `docs/bounces.md`)",
        ));
    };
    let target = Target::of(config, root, env)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start the IMAP client for", root, e))?;
    if dry_run {
        let report = runtime.block_on(imap::fetch(&target, &mut DryRun, Mode::DryRun))?;
        eprintln!("bounces fetch: dry run of {}: {} messages read, nothing changed", target.describe(), report.found);
        return Ok(());
    }
    let state_dir = root.join(crate::state::DIR);
    let Some(_lock) = imap::lock(&state_dir)? else {
        eprintln!(
            "error: another `bounces fetch` is running in this project (`{}` is locked); this run does nothing",
            state_dir.join(imap::LOCK_FILE).display()
        );
        return Err(Error::Reported { code: 4 });
    };
    let mut sink = store_sink(&project, clock, env)?;
    let report = runtime.block_on(imap::fetch(&target, sink.as_mut(), Mode::Process))?;
    eprintln!("bounces fetch: {}: {}", target.describe(), summary(&report, &target));
    Ok(())
}

/// The state store's sink (issue 12, the part that records events and applies the policy).
fn store_sink(project: &Project, clock: &Clock, env: &Env) -> Result<Box<dyn Sink>> {
    Ok(Box::new(crate::bounces::store::StoreSink::open(project, clock, env)?))
}

fn summary(report: &Report, target: &Target) -> String {
    format!(
        "{} messages: {} recorded, {} seen before, {} with nothing to record ({} moved to `{}`); {} unreadable (moved to `{}`)",
        report.found,
        report.recorded,
        report.duplicate,
        report.ignored,
        report.moved_done,
        target.done_folder,
        report.unparsable,
        target.failed_folder
    )
}

/// `--dry-run`: classify each message and print one line per recipient on stdout; record nothing.
struct DryRun;

impl Sink for DryRun {
    fn message(&mut self, raw: &[u8], origin: &str) -> Result<Handled> {
        let analysis = analyse(raw);
        let mut out = String::new();
        if analysis.findings.is_empty() {
            let _ = writeln!(out, "{origin}\t-\tnot a bounce");
        }
        for finding in &analysis.findings {
            let _ = writeln!(
                out,
                "{origin}\t{}\t{}\t{}\t{}",
                finding.recipient.as_deref().unwrap_or("-"),
                finding.verdict.as_str(),
                finding.status.as_deref().unwrap_or("-"),
                finding.reason
            );
        }
        super::print_stdout(&out)?;
        Ok(Handled::Ignored("dry run".to_owned()))
    }

    fn event(&mut self, _event: &ProviderEvent) -> Result<Handled> {
        Ok(Handled::Ignored("dry run".to_owned()))
    }
}
