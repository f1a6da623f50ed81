//! The send gate: what `check` flags is printed before a send, leftover placeholders and the
//! codes `sending.block-on` names stop it, `--allow` lets one run through, and `send --due`
//! skips a blocked issue and sends the others.

use crate::harness::{Output, Project};
use crate::send::ISSUE;

const FILE: &str = "content/weekly/2016-12-09-plans.md";
const OTHER: &str = "weekly/2026-11-22-other";

/// The send fixture writing to the outbox, its issue due half an hour before the tests' now.
pub(crate) fn outbox_project() -> Project {
    let project = Project::fixture("send");
    let config = project.read("letterpress.yaml").replace("transport: smtp", "transport: outbox");
    project.write("letterpress.yaml", &config);
    edit(&project, |text| text.replace("2016-12-09T07:00:00+00:00", "2026-11-22T09:00:00+00:00"));
    project
}

pub(crate) fn edit(project: &Project, change: impl Fn(&str) -> String) {
    let text = project.read(FILE);
    project.write(FILE, &change(&text));
}

fn with_tk_in_standfirst(project: &Project) {
    edit(project, |text| text.replace("plans are public.", "plans are public. TK"));
}

/// The `.eml` files written for `issue` (`publication/slug`).
fn outbox(project: &Project, issue: &str) -> usize {
    std::fs::read_dir(project.path().join("outbox").join(issue)).map_or(0, Iterator::count)
}

fn nothing_journaled(project: &Project) {
    let status = project.run(&["status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(status.stdout == "no sends yet\n" || status.stdout.is_empty(), "{}", status.stdout);
}

#[track_caller]
fn assert_located(out: &Output, needle: &str) {
    assert!(out.stderr.contains(needle), "no `{needle}` in:\n{}", out.stderr);
}

#[test]
fn cron_never_sends_an_issue_with_a_placeholder_in_its_standfirst() {
    let project = outbox_project();
    with_tk_in_standfirst(&project);
    let out = project.run(&["send", "--due"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_located(&out, "error: leftover placeholder `TK`");
    assert_located(&out, &format!("--> {FILE}:5:1"));
    assert_located(&out, &format!("skipped: `{ISSUE}` is not sent: 1 diagnostic blocks it, the first at {FILE}:5:1"));
    assert_eq!(outbox(&project, ISSUE), 0, "nothing sent");
    nothing_journaled(&project);
    // `check` still only warns: a draft may hold placeholders.
    let check = project.run(&["check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(check.stderr.contains("warning: leftover placeholder `TK`"), "{}", check.stderr);
}

#[test]
fn due_skips_the_blocked_issue_and_sends_the_clean_one() {
    let project = outbox_project();
    with_tk_in_standfirst(&project);
    project.write(
        "content/weekly/2026-11-22-other.md",
        "---\ntitle: \"Another issue\"\nstatus: ready\nsend_at: 2026-11-22T09:10:00+00:00\n---\n\nAll finished.\n",
    );
    let out = project.run(&["send", "--due"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stderr.matches("skipped: ").count(), 1, "{}", out.stderr);
    assert_eq!(outbox(&project, ISSUE), 0);
    assert_eq!(outbox(&project, OTHER), 3, "{}", out.stderr);
    let status = project.run(&["status", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    assert_eq!(json["sends"].as_array().map(Vec::len), Some(1), "{json:#}");
    assert_eq!(json["sends"][0]["send"]["issue"], OTHER, "{json:#}");
}

#[test]
fn a_placeholder_stops_a_send_by_hand_unless_allowed() {
    let project = outbox_project();
    with_tk_in_standfirst(&project);
    let refused = project.run(&["send", ISSUE, "--yes"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert_located(&refused, "--allow lint/placeholder");
    assert_eq!(outbox(&project, ISSUE), 0);
    let allowed = project.run(&["send", ISSUE, "--yes", "--allow", "lint/placeholder"]);
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    assert_located(&allowed, "warning: leftover placeholder `TK`");
    assert_located(
        &allowed,
        &format!("warning: `--allow lint/placeholder`: sending `{ISSUE}` despite 1 `lint/placeholder` diagnostic"),
    );
    assert_eq!(outbox(&project, ISSUE), 3);
    let unknown = project.run(&["send", ISSUE, "--yes", "--allow", "placeholder"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert_located(&unknown, "did you mean `lint/placeholder`?");
}

#[test]
fn block_on_codes_stop_a_send_and_allow_lets_one_run_through() {
    let project = outbox_project();
    edit(&project, |text| format!("{text}\nSee [the plans](http://example.org/plans).\n"));
    let config = project
        .read("letterpress.yaml")
        .replace("  concurrency: 4\n", "  concurrency: 4\n  block-on: [lint/http-link]\n");
    project.write("letterpress.yaml", &config);
    let refused = project.run(&["send", ISSUE, "--yes"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert_located(&refused, "error: insecure link `http://example.org/plans`");
    assert_located(&refused, &format!("--> {FILE}:"));
    assert_eq!(outbox(&project, ISSUE), 0);
    let allowed = project.run(&["send", ISSUE, "--yes", "--allow", "lint/http-link"]);
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    assert_located(&allowed, "`--allow lint/http-link`: sending");
    assert_eq!(outbox(&project, ISSUE), 3);
}

#[test]
fn dry_runs_and_test_sends_print_what_check_prints_and_refuse_what_send_refuses() {
    let project = outbox_project();
    edit(&project, |text| format!("{text}\nSee [the plans](http://example.org/plans).\n"));
    let dry = project.run(&["send", ISSUE, "--dry-run"]);
    assert_eq!(dry.code, 0, "a warning that blocks nothing: {}", dry.stderr);
    assert_located(&dry, "warning: insecure link `http://example.org/plans`");
    assert_located(&dry, "3 messages composed");
    let test = project.run(&["send", ISSUE, "--test", "editor@example.org"]);
    assert_eq!(test.code, 0, "{}", test.stderr);
    assert_located(&test, "warning: insecure link `http://example.org/plans`");
    assert_eq!(outbox(&project, ISSUE), 1, "the test copy is written");
    with_tk_in_standfirst(&project);
    for args in [&["send", ISSUE, "--dry-run"][..], &["send", ISSUE, "--test", "editor@example.org"]] {
        let out = project.run(args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert_located(&out, &format!("--> {FILE}:5:1"));
        assert!(!out.stderr.contains("messages composed"), "{}", out.stderr);
    }
    assert_eq!(outbox(&project, ISSUE), 1, "the refused test send wrote nothing");
    nothing_journaled(&project);
}

#[test]
fn check_finds_lorem_ipsum_bracketed_links_empty_targets_and_related_titles() {
    let project = outbox_project();
    edit(&project, |text| {
        text.replace(
            "summary: \"Our reading of the 44 plans.\"\n",
            "summary: \"Our reading of the 44 plans.\"\nrelated:\n  - title: \"TODO find the report\"\n    url: \"https://example.org/report\"\n",
        ) + "\nLorem ipsum dolor. Read the [link] or [the report](), but [a link](https://example.org/a) is fine, as is `[link]`.\n"
    });
    let out = project.run(&["check", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let found: Vec<String> = json["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| d["code"] == "lint/placeholder")
        .map(|d| {
            format!("{} {}:{}", d["message"].as_str().unwrap_or_default(), d["location"]["line"], d["location"]["col"])
        })
        .collect();
    let body = project.read(FILE).lines().count();
    assert_eq!(
        found,
        [
            "leftover placeholder `TODO` 8:13".to_owned(),
            format!("leftover placeholder `lorem ipsum` {body}:1"),
            format!("leftover placeholder `[link]` {body}:29"),
            format!("link with an empty target `()` {body}:39"),
        ],
        "{json:#}"
    );
}
