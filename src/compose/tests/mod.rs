//! Tests of composed messages: header checklists, MIME structure, a snapshot, a round trip
//! through a real MIME parser, DKIM verification and property tests.

mod dkim;
mod message;
mod props;

use std::collections::BTreeMap;
use std::path::Path;

use super::*;

/// The `Date` of the test runs.
pub(super) const DATE: &str = "2016-12-09T07:00:00Z";

pub(super) fn example() -> Project {
    Project::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap()
}

pub(super) fn minimal() -> Project {
    crate::project::fixture("minimal")
}

/// A copy of the minimal fixture with `files` written over it.
pub(super) fn temp_project(files: &[(&str, &str)]) -> (tempfile::TempDir, Project) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minimal");
    let dir = tempfile::tempdir().unwrap();
    for entry in walkdir::WalkDir::new(&source).into_iter().map(Result::unwrap).filter(|e| e.file_type().is_file()) {
        let to = dir.path().join(entry.path().strip_prefix(&source).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(entry.path(), to).unwrap();
    }
    for (path, text) in files {
        let to = dir.path().join(path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, text).unwrap();
    }
    let project = Project::load(dir.path()).unwrap();
    (dir, project)
}

pub(super) fn keys() -> Keys {
    Keys::from_secrets(vec![vec![7; 32]]).unwrap()
}

pub(super) fn options() -> ComposeOptions {
    ComposeOptions {
        date: DATE.parse().unwrap(),
        keys: keys(),
        dkim: None,
        attr_columns: vec!["region".to_owned()],
        test: false,
    }
}

pub(super) fn template(project: &Project, issue: &str) -> MessageTemplate {
    try_template(project, issue, options()).unwrap()
}

pub(super) fn try_template(project: &Project, issue: &str, options: ComposeOptions) -> Result<MessageTemplate, Error> {
    MessageTemplate::new(project, &checked(project, project.find(issue).unwrap()), options)
}

/// The checked issue a send composes from, rendered as `check` renders it (without `check`'s
/// lints: `check` reads the send's header rules from here, so these tests do not call it).
pub(super) fn checked(project: &Project, issue: &crate::content::Issue) -> CheckedIssue {
    let (blocks, mut diagnostics) = crate::editions::judge(project, issue);
    let rendered = crate::editions::render_full(project, issue, &blocks);
    if let Ok(rendered) = &rendered {
        diagnostics.extend(rendered.diagnostics.iter().cloned());
    }
    CheckedIssue { issue: issue.clone(), rendered, diagnostics }
}

/// Compose one message to `email` named `name` in the `region` on list `weekly`.
pub(super) fn compose(template: &MessageTemplate, email: &str, name: &str, region: &str) -> (Composed, String) {
    let attrs = BTreeMap::from([("region".to_owned(), region.to_owned())]);
    let recipient = Recipient { email, name, attrs: &attrs, list: "weekly" };
    let mut out = Vec::new();
    let composed = template.compose(&recipient, &mut out).unwrap();
    (composed, String::from_utf8(out).unwrap())
}

/// The top-level header fields, unfolded, in order.
pub(super) fn fields(message: &str) -> Vec<(String, String)> {
    let head = message.split("\r\n\r\n").next().unwrap();
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            fields.last_mut().unwrap().1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').unwrap();
            fields.push((name.to_owned(), value.trim_start().to_owned()));
        }
    }
    fields
}

/// Every value of the header `name` (case-insensitive).
pub(super) fn field(message: &str, name: &str) -> Vec<String> {
    fields(message).into_iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v).collect()
}

/// The one value of the header `name`.
#[track_caller]
pub(super) fn one(message: &str, name: &str) -> String {
    let values = field(message, name);
    assert_eq!(values.len(), 1, "exactly one `{name}` in\n{message}");
    values.into_iter().next().unwrap()
}

/// Parse with Stalwart's MIME parser.
pub(super) fn parse(message: &str) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default().parse(message.as_bytes()).expect("mail-parser parses the message")
}

/// The lines of the message (no CRLF), checking there is no bare CR or LF.
#[track_caller]
pub(super) fn lines(message: &str) -> Vec<&str> {
    assert!(message.ends_with("\r\n"));
    let lines: Vec<&str> = message[..message.len() - 2].split("\r\n").collect();
    for line in &lines {
        assert!(!line.contains(['\r', '\n']), "bare CR or LF in {line:?}");
    }
    lines
}
