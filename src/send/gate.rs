//! The send gate: nothing goes out that `check` would flag.
//!
//! Enters: the project, one issue and the codes `send --allow` names. Leaves: every diagnostic
//! [`crate::check::issue`] reported for the issue, printed on standard error before anything is sent,
//! with the ones that block a send raised to errors — leftover placeholders always, and the
//! codes `sending.block-on` names — and `Ok` when no error remains, else [`Error::Blocked`]
//! naming the first. It runs once per issue, never per recipient.

use crate::check::ISSUE_CODES;
use crate::checked::CheckedIssue;
use crate::diagnostic::{self, Diagnostic, Severity};
use crate::error::{Error, Result};
use crate::project::Project;

/// Codes that are warnings in `check` (a draft may hold them) but block every send.
pub const ALWAYS_BLOCK: &[&str] = &["lint/placeholder"];

/// Print the issue's diagnostics and refuse it if any blocks a send.
pub fn gate(project: &Project, checked: &CheckedIssue, allow: &[String]) -> Result<()> {
    let (issue, found) = (&checked.issue, checked.diagnostics.clone());
    let (diagnostics, allowed) = judge(found, &project.config.sending.block_on, allow);
    if !diagnostics.is_empty() {
        eprint!("{}", diagnostic::render_all(&diagnostics));
    }
    let id = issue.id();
    for (code, n) in allowed {
        let what = if n == 1 { "diagnostic" } else { "diagnostics" };
        eprintln!("warning: `--allow {code}`: sending `{id}` despite {n} `{code}` {what}");
    }
    let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
    match errors.first() {
        None => Ok(()),
        Some(first) => Err(Error::Blocked { issue: id, count: errors.len(), first: one_line(first) }),
    }
}

/// Refuse `--allow` codes no diagnostic has, with the nearest known code.
pub fn validate_allow(codes: &[String]) -> Result<()> {
    for code in codes {
        if !ISSUE_CODES.contains(&code.as_str()) {
            let near = ISSUE_CODES
                .iter()
                .find(|c| c.ends_with(&format!("/{code}")))
                .copied()
                .or_else(|| diagnostic::did_you_mean(code, ISSUE_CODES.iter().copied()));
            let hint = near.map(|c| format!("; did you mean `{c}`?")).unwrap_or_default();
            return Err(Error::usage(format!("`--allow {code}`: no diagnostic has that code{hint}")));
        }
    }
    Ok(())
}

/// Raise the warnings that block a send to errors, except those `allow` lets through; returns
/// the diagnostics and, per allowed code, how many it let through.
pub fn judge(
    mut diagnostics: Vec<Diagnostic>,
    block_on: &[String],
    allow: &[String],
) -> (Vec<Diagnostic>, Vec<(&'static str, usize)>) {
    let mut allowed: Vec<(&'static str, usize)> = Vec::new();
    for d in &mut diagnostics {
        let blocks = ALWAYS_BLOCK.contains(&d.code) || block_on.iter().any(|c| c == d.code);
        if d.severity != Severity::Warning || !blocks {
            continue;
        }
        if allow.iter().any(|c| c == d.code) {
            match allowed.iter_mut().find(|(c, _)| *c == d.code) {
                Some((_, n)) => *n += 1,
                None => allowed.push((d.code, 1)),
            }
            continue;
        }
        d.severity = Severity::Error;
        let why = format!("it blocks a send; `--allow {}` sends anyway", d.code);
        d.help = Some(d.help.take().map_or_else(|| why.clone(), |help| format!("{help} ({why})")));
    }
    (diagnostics, allowed)
}

/// `path:line:col: message` for a one-line log.
fn one_line(d: &Diagnostic) -> String {
    match &d.location {
        Some(at) => format!("{at}: {}", d.message),
        None => d.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(diagnostics: &[Diagnostic]) -> Vec<(&'static str, Severity)> {
        diagnostics.iter().map(|d| (d.code, d.severity)).collect()
    }

    #[test]
    fn placeholders_and_block_on_codes_become_errors_unless_allowed() {
        let found = vec![
            Diagnostic::warning("lint/placeholder", "leftover placeholder `TK`"),
            Diagnostic::warning("lint/http-link", "insecure link"),
            Diagnostic::warning("lint/alt-text", "no alt"),
            Diagnostic::error("link/broken", "broken"),
        ];
        let (judged, allowed) = judge(found.clone(), &["lint/http-link".to_owned()], &[]);
        assert_eq!(
            codes(&judged),
            [
                ("lint/placeholder", Severity::Error),
                ("lint/http-link", Severity::Error),
                ("lint/alt-text", Severity::Warning),
                ("link/broken", Severity::Error),
            ]
        );
        assert!(judged[0].help.as_deref().is_some_and(|h| h.contains("--allow lint/placeholder")));
        assert!(allowed.is_empty());
        let (judged, allowed) =
            judge(found, &["lint/http-link".to_owned()], &["lint/placeholder".to_owned(), "link/broken".to_owned()]);
        assert_eq!(judged[0].severity, Severity::Warning);
        assert_eq!(judged[1].severity, Severity::Error);
        assert_eq!(judged[3].severity, Severity::Error, "an error of `check` cannot be allowed");
        assert_eq!(allowed, [("lint/placeholder", 1)]);
    }

    #[test]
    fn allow_names_known_codes_only() {
        assert!(validate_allow(&["lint/placeholder".to_owned()]).is_ok());
        let error = validate_allow(&["placeholder".to_owned()]).unwrap_err().to_string();
        assert!(error.contains("did you mean `lint/placeholder`?"), "{error}");
        let error = validate_allow(&["lint/alt-txt".to_owned()]).unwrap_err().to_string();
        assert!(error.contains("did you mean `lint/alt-text`?"), "{error}");
    }
}
