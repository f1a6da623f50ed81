//! Tera's errors as located diagnostics: the template file, line and column (in the text the
//! editor wrote, not the instrumented one Tera compiled), and include or extend loops.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tera::ErrorKind;

use super::budget::{self, Instrumented};
use crate::diagnostic::{Diagnostic, Location};

pub(super) fn to_diagnostic(
    error: &tera::Error,
    sources: &BTreeMap<String, PathBuf>,
    texts: &BTreeMap<String, String>,
    compiled: &BTreeMap<String, Instrumented>,
) -> Diagnostic {
    let locate = |name: &str, line: usize, col: usize, d: Diagnostic| {
        let path = sources.get(name).cloned().unwrap_or_else(|| PathBuf::from(name));
        let location = Location::new(path, line, col + 1);
        match texts.get(name) {
            Some(text) => d.at(location, text),
            None => d.in_file(location),
        }
    };
    match error.kind() {
        ErrorKind::SyntaxError(report) | ErrorKind::RenderingError(report) => {
            let span = report.span();
            let name = report.filename();
            let col = compiled.get(name).map_or(span.start_col, |c| c.original(span.start_line, span.start_col));
            let d = Diagnostic::error("template/error", format!("template `{name}`: {}", report.message()));
            locate(name, span.start_line.max(1), col, d)
        }
        ErrorKind::CircularInclude { tpl, include_chain: chain } => {
            let (name, (line, col), d) = cycle(tpl, chain, "include", texts);
            locate(&name, line, col, d)
        }
        ErrorKind::CircularExtend { tpl, inheritance_chain: chain } => {
            let (name, (line, col), d) = cycle(tpl, chain, "extends", texts);
            locate(&name, line, col, d)
        }
        // Tera gives no template or span for the other kinds (a missing template, a filter's
        // own error outside any template): there is no place to point at.
        _ => Diagnostic::error(
            "template/error",
            format!("template error: {}", error.to_string().trim_start_matches("error: ")),
        ),
    }
}
/// Templates that include (or extend) each other in a loop: the template whose tag closes the
/// loop, that tag's position, and what to say.
fn cycle(
    tpl: &str,
    chain: &[String],
    keyword: &str,
    texts: &BTreeMap<String, String>,
) -> (String, (usize, usize), Diagnostic) {
    let (from, to) = match chain {
        [.., from, to] => (from.as_str(), to.as_str()),
        _ => (tpl, tpl),
    };
    let (verb, verbs) = if keyword == "include" { ("includes", "include") } else { ("extends", "extend") };
    let message = if from == to {
        format!("template `{to}` {verb} itself")
    } else {
        let names: Vec<String> = chain.iter().map(|n| format!("`{n}`")).collect();
        format!("templates {verbs} each other in a loop: {}", names.join(" -> "))
    };
    let quoted = [format!("\"{to}\""), format!("'{to}'"), format!("`{to}`")];
    let at = texts
        .get(from)
        .and_then(|text| {
            let tags = budget::tags(text);
            let tag =
                tags.iter().find(|t| t.keyword == keyword && quoted.iter().any(|q| t.rest.contains(q.as_str())))?;
            Some(budget::position(text, tag.start))
        })
        .unwrap_or((1, 0));
    let d = Diagnostic::error("template/cycle", message)
        .help(format!("remove this `{keyword}` of `{to}` from `{from}`, or name another template"));
    (from.to_owned(), at, d)
}
