//! `letterpress bounces scan`: classify messages and print what each says; writes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::bounces::printable;
use crate::bounces::attribute::Attributor;
use crate::bounces::{self, Analysis, Finding, files};
use crate::cli::ScanFormat;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::project::Project;

/// Which send a finding belongs to, when the message could be attributed (its return-path
/// token verified, or the journal matched its quoted headers).
pub type Attribute<'a> = &'a mut dyn FnMut(&Analysis, &Finding) -> Option<String>;

/// One line of `bounces scan --format json`.
#[derive(Debug, Serialize)]
struct Row<'a> {
    file: &'a str,
    recipient: Option<&'a str>,
    verdict: &'static str,
    status: Option<&'a str>,
    reply: Option<u16>,
    reason: &'a str,
    send: Option<String>,
    attributed: bool,
    diagnostic: Option<&'a str>,
}

/// `letterpress bounces scan PATH… [--format json]` in the project at `root`: findings are
/// attributed to sends through its state store when there is one; outside a project, or
/// before the first send, `send` is null.
pub fn bounces_scan(root: &Path, paths: &[PathBuf], format: ScanFormat, env: &Env) -> Result<()> {
    let attributor = match Project::load(root) {
        Ok(project) => Attributor::open(&project, env)?,
        Err(_) => None,
    };
    let paths = super::bounces::in_project(root, paths);
    match attributor {
        Some((state, mut attributor)) => scan(&paths, format, &mut |analysis, finding| {
            attributor.attribute(&state, analysis, finding).ok().and_then(|a| a.send().map(str::to_owned))
        }),
        None => scan(&paths, format, &mut |_, _| None),
    }
}

/// Classify every message under `paths` and print a row per recipient. A message that is not
/// a bounce at all prints one row with verdict `unknown`, reason `notbounce` and no recipient,
/// so every message shows up in the output.
pub fn scan(paths: &[PathBuf], format: ScanFormat, attribute: Attribute<'_>) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut messages = 0usize;
    let not_bounce = Finding {
        recipient: None,
        verdict: bounces::Verdict::Unknown,
        status: None,
        reply: None,
        reason: "notbounce".to_owned(),
        diagnostic: None,
    };
    files::for_each_message(
        paths,
        |origin, raw| {
            messages += 1;
            let analysis = bounces::analyse(raw);
            let findings: &[Finding] =
                if analysis.findings.is_empty() { std::slice::from_ref(&not_bounce) } else { &analysis.findings };
            for finding in findings {
                *counts.entry(finding.verdict.as_str()).or_default() += 1;
                let send = attribute(&analysis, finding);
                let line = match format {
                    ScanFormat::Json => {
                        let row = Row {
                            file: origin,
                            recipient: finding.recipient.as_deref(),
                            verdict: finding.verdict.as_str(),
                            status: finding.status.as_deref(),
                            reply: finding.reply,
                            reason: &finding.reason,
                            attributed: send.is_some(),
                            send,
                            diagnostic: finding.diagnostic.as_deref(),
                        };
                        serde_json::to_string(&row).unwrap_or_default()
                    }
                    ScanFormat::Text => format!(
                        "{}\t{}\t{}\t{}\t{}",
                        printable(origin),
                        printable(finding.recipient.as_deref().unwrap_or("-")),
                        finding.verdict.as_str(),
                        printable(&finding.reason),
                        printable(finding.status.as_deref().unwrap_or("-")),
                    ),
                };
                write_line(&mut stdout, &line)?;
            }
            Ok(())
        },
        |problem| eprintln!("{}: skipped: {}", printable(&problem.origin), printable(&problem.why)),
    )?;
    let summary: Vec<String> = counts.iter().map(|(verdict, n)| format!("{n} {verdict}")).collect();
    eprintln!(
        "scanned {messages} messages: {}",
        if summary.is_empty() { "nothing".to_owned() } else { summary.join(", ") }
    );
    Ok(())
}

fn write_line(out: &mut impl std::io::Write, line: &str) -> Result<()> {
    match writeln!(out, "{line}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io("write", Path::new("<stdout>"), e)),
        _ => Ok(()),
    }
}
