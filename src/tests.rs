//! Tests across stages: what a whole send of one issue costs in renders. They drive `send`
//! end to end, so they live here, above every stage, rather than in a stage that `send`
//! itself imports (`check`, `editions`), which would make the module graph a cycle.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::project::Project;

#[test]
fn a_send_parses_the_issue_once() {
    let dir = crate::project::copy_of_fixture("send");
    let config = dir.path().join("letterpress.yaml");
    let text = std::fs::read_to_string(&config).unwrap().replace("transport: smtp", "transport: outbox");
    std::fs::write(&config, text).unwrap();
    let project = Project::load(dir.path()).unwrap();
    let issue = project.find("weekly/2016-12-09-plans").unwrap();
    let clock = crate::clock::Clock::fixed("2026-11-22T09:30:00Z".parse().unwrap());
    let options = crate::send::SendOptions { yes: true, ..Default::default() };
    let before = crate::render::parses::count();
    let renders_before = crate::template::renders::count();
    let report = crate::send::send_issue(&project, issue, &options, &clock, &crate::env::Env::default()).unwrap();
    assert_eq!(report.sent_now, 3, "{report:?}");
    assert_eq!(crate::render::parses::count() - before, 1, "one Markdown parse for the whole send");
    // The email templates: the generic email (`check`) and the marked one that composing fills
    // in per message. The templates' source shows they only print subscriber values, so the
    // layouts are not rendered a third time with those values empty to prove it.
    let renders: BTreeMap<String, usize> = crate::template::renders::count()
        .into_iter()
        .map(|(name, n)| (name.clone(), n - renders_before.get(&name).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let expected = [("email.html", 2), ("email.txt", 2), ("email.css", 2), (crate::template::renders::INLINE, 2)];
    assert_eq!(renders, expected.map(|(name, n)| (name.to_owned(), n)).into(), "per template, for the whole send");
    let sent = std::fs::read_dir(dir.path().join("outbox/weekly/2016-12-09-plans")).unwrap().count();
    assert_eq!(sent, 3);
}

/// Markdown parses of a whole send of the editions fixture, with `extra` more readers (in
/// the regions the fixture already has).
fn parses_of_a_send(extra: usize) -> usize {
    let dir = crate::project::copy_of_fixture("editions");
    let csv = dir.path().join("subscribers/readers.csv");
    let mut rows = std::fs::read_to_string(&csv).unwrap();
    for i in 0..extra {
        let region = ["London", "North West", "Kent", ""][i % 4];
        let _ = writeln!(rows, "reader{i}@example.org,Reader {i},{region}");
    }
    std::fs::write(&csv, rows).unwrap();
    let project = Project::load(dir.path()).unwrap();
    let issue = project.find("weekly/2026-02-05-local-plans").unwrap();
    let clock = crate::clock::Clock::fixed("2026-11-22T09:30:00Z".parse().unwrap());
    let options = crate::send::SendOptions { yes: true, ..Default::default() };
    let before = crate::render::parses::count();
    let report = crate::send::send_issue(&project, issue, &options, &clock, &crate::env::Env::default()).unwrap();
    assert_eq!(report.sent_now, 4 + extra, "{report:?}");
    crate::render::parses::count() - before
}

#[test]
fn a_send_renders_once_per_edition_not_per_recipient() {
    // check: the blanked body (diagnostics) and the labelled one (the archive's); compose:
    // the full edition (subject, content hash) and the three editions the readers need.
    assert_eq!(parses_of_a_send(0), 2 + 1 + 3);
    assert_eq!(parses_of_a_send(40), 2 + 1 + 3, "forty more readers, no more renders");
}
