use std::collections::BTreeMap;

use super::*;

#[test]
fn every_issue_code_in_the_docs_is_known() {
    let docs = include_str!("../../docs/checks.md");
    for line in docs.lines().filter(|l| l.starts_with("| `link/") || l.starts_with("| `lint/")) {
        let code = line.split('`').nth(1).unwrap_or_default();
        assert!(ISSUE_CODES.contains(&code), "`{code}` is documented but not in ISSUE_CODES");
    }
}

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

#[test]
fn a_checked_issue_is_plain_data() {
    let project = Project::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minimal")).unwrap();
    let issue = project.find("weekly/2016-12-09-first").unwrap();
    let checked = super::issue(&project, issue);
    assert_eq!(checked, super::issue(&project, issue), "the same input checks to the same value");
    let rendered = checked.output().unwrap();
    assert_eq!(checked.view(), Some(&rendered.view));
    let value = serde_json::to_value(&checked).unwrap();
    assert_eq!(value["issue"], "weekly/2016-12-09-first");
    assert_eq!(value["rendered"]["Ok"]["view"]["title"], rendered.view.title.as_str());
    let (all, _) = check(&project);
    assert_eq!(
        all.iter().map(|c| c.issue.id()).collect::<Vec<_>>(),
        project.issues.iter().map(Issue::id).collect::<Vec<_>>()
    );
}

#[test]
fn issues_given_by_value_check_as_borrowed_ones_in_order() {
    let project = Project::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minimal")).unwrap();
    let borrowed = all(&project, project.issues.iter());
    let owned = all_with(&project, project.issues.clone(), |c| (c.issue.id(), c));
    assert_eq!(
        owned.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        borrowed.iter().map(|c| c.issue.id()).collect::<Vec<_>>()
    );
    assert_eq!(owned.into_iter().map(|(_, c)| c).collect::<Vec<_>>(), borrowed);
}

#[test]
fn unbreakable_lines_are_single_tokens() {
    assert!(is_unbreakable("[12] https://example.org/a/very/long/path"));
    assert!(is_unbreakable("  https://example.org/x"));
    assert!(is_unbreakable("Unsubscribe: https://example.org/x"));
    assert!(!is_unbreakable("two words"));
}
