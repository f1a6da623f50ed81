//! `letterpress rename`: the file moves with its date, links follow, the journal follows, and an
//! issue already sent keeps a redirect at its old URL.

use crate::harness::Project;

const SECOND: &str = "---\ntitle: \"Second\"\nstatus: ready\nrelated:\n  - title: \"The first\"\n    url: \"@/weekly/2016-12-09-first.md\"\n---\n\nAs [we said](@/weekly/2016-12-09-first.md#hello), and [not this](@/weekly/2016-12-01-first-draft.md).\n";

fn project() -> Project {
    let project = Project::fixture("lists");
    project.write("content/weekly/2016-12-16-second.md", SECOND);
    project.write(
        "content/weekly/2016-12-01-first-draft.md",
        "---\ntitle: \"Draft\"\n---\n\nSee [it](@/weekly/2016-12-09-first.md).\n",
    );
    project
}

#[test]
fn rename_moves_the_file_and_rewrites_every_link_to_it() {
    let project = project();
    let first = project.read("content/weekly/2016-12-09-first.md");
    let out = project.run(&["rename", "weekly/2016-12-09-first", "plans-published"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("3 links rewritten in 2 files"), "{}", out.stderr);
    assert!(!project.path().join("content/weekly/2016-12-09-first.md").exists());
    assert_eq!(project.read("content/weekly/2016-12-09-plans-published.md"), first, "moved as it was");
    assert_eq!(
        project.read("content/weekly/2016-12-16-second.md"),
        SECOND.replace("2016-12-09-first.md", "2016-12-09-plans-published.md")
    );
    assert!(
        project.read("content/weekly/2016-12-01-first-draft.md").contains("(@/weekly/2016-12-09-plans-published.md)")
    );
    let check = project.run(&["check"]);
    assert!(!check.stderr.contains("link/broken"), "{}", check.stderr);
    for (slug, message) in [
        ("Plans Published", "is not a slug"),
        ("2016-12-09-x", "without a date"),
        ("plans-published", "already called that"),
        ("first-draft", "2016-12-09-first-draft.md"),
    ] {
        let name = if slug == "first-draft" { "weekly/2016-12-16-second" } else { "weekly/2016-12-09-plans-published" };
        if slug == "first-draft" {
            project.write("content/weekly/2016-12-16-first-draft.md", "---\ntitle: \"Taken\"\n---\n");
        }
        let out = project.run(&["rename", name, slug]);
        assert_eq!(out.code, 2, "{slug}: {}", out.stderr);
        assert!(out.stderr.contains(message) || out.stderr.contains("already exists"), "{slug}: {}", out.stderr);
    }
    assert!(project.path().join("content/weekly/2016-12-16-second.md").exists());
}

#[test]
fn an_issue_already_sent_is_renamed_only_with_force_and_keeps_its_journal_and_old_url() {
    let project = project();
    let issue = "weekly/2016-12-09-first";
    let sent = project.run(&["send", issue, "--yes"]);
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    let status = |issue: &str| -> serde_json::Value {
        let out = project.run(&["status", issue, "--format", "json"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str(&out.stdout).expect("json")
    };
    let before = status(issue);
    let refused = project.run(&["rename", issue, "plans"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert!(project.path().join("content/weekly/2016-12-09-first.md").exists(), "nothing moved");
    let forced = project.run(&["rename", issue, "plans", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let moved = project.read("content/weekly/2016-12-09-plans.md");
    assert!(moved.contains("aliases: [\"weekly/2016-12-09-first\"]\n---\n"), "{moved}");
    let after = status("weekly/2016-12-09-plans");
    assert_eq!(after["counts"], before["counts"], "the journal followed: {after:#}");
    let again = project.run(&["send", "weekly/2016-12-09-plans", "--yes", "--allow-changed"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("0 to send, 5 already sent"), "nobody gets a second copy: {}", again.stderr);
    let build = project.run(&["build"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    let redirect = project.read("public/weekly/2016-12-09-first/index.html");
    assert!(redirect.contains("url=../../weekly/2016-12-09-plans/"), "{redirect}");
    assert!(project.path().join("public/weekly/2016-12-09-plans/index.html").exists());
    let twice = project.run(&["rename", "weekly/2016-12-09-plans", "final", "--force"]);
    assert_eq!(twice.code, 0, "{}", twice.stderr);
    let moved = project.read("content/weekly/2016-12-09-final.md");
    assert!(moved.contains("aliases: [\"weekly/2016-12-09-first\", \"weekly/2016-12-09-plans\"]"), "{moved}");
    assert_eq!(project.run(&["check"]).code, 0);
}
