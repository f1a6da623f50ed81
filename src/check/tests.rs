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
fn a_checked_issue_is_plain_data() {
    let project = crate::project::fixture("minimal");
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
    let project = crate::project::fixture("minimal");
    let borrowed = all(&project, project.issues.iter());
    let owned = all_with(&project, project.issues.clone(), |c| (c.issue.id(), c));
    assert_eq!(
        owned.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        borrowed.iter().map(|c| c.issue.id()).collect::<Vec<_>>()
    );
    assert_eq!(owned.into_iter().map(|(_, c)| c).collect::<Vec<_>>(), borrowed);
    // Many more issues than threads: each thread takes the next as it comes free, and the
    // results still come back in the order given.
    let many: Vec<&Issue> = project.issues.iter().cycle().take(project.issues.len() * 40).collect();
    let ids: Vec<String> = many.iter().map(|i| i.id()).collect();
    assert_eq!(all_with(&project, many, |c| c.issue.id()), ids);
}

#[test]
fn unbreakable_lines_are_single_tokens() {
    assert!(is_unbreakable("[12] https://example.org/a/very/long/path"));
    assert!(is_unbreakable("  https://example.org/x"));
    assert!(is_unbreakable("Unsubscribe: https://example.org/x"));
    assert!(!is_unbreakable("two words"));
}
