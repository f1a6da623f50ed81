//! Audience filters (`audience:` in front matter or a publication): who of an issue's lists it
//! goes to, what `audience` and `check` say about it, that a segmented send is still the list's
//! send, and what the preview offers.

use crate::harness::{Output, Project};
use crate::preview::Server;

const REGIONS: &str = "weekly/2026-01-08-regions";
const EVERYONE: &str = "weekly/2026-01-15-everyone";
const REGIONS_FILE: &str = "content/weekly/2026-01-08-regions.md";

fn audience_json(project: &Project, issue: &str) -> serde_json::Value {
    let out = project.run(&["audience", issue, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).expect("json")
}

/// (list, active, outside, recipients) of each list.
fn counts(report: &serde_json::Value) -> Vec<(String, u64, Option<u64>, u64)> {
    report["lists"]
        .as_array()
        .expect("lists")
        .iter()
        .map(|l| {
            (
                l["list"].as_str().expect("list").to_owned(),
                l["active"].as_u64().expect("active"),
                l["outside"].as_u64(),
                l["recipients"].as_u64().expect("recipients"),
            )
        })
        .collect()
}

/// The regions issue with its `audience` replaced by `yaml` (indented lines under `audience:`).
fn with_audience(project: &Project, yaml: &str) {
    let text = project.read(REGIONS_FILE).replace("audience: {region: [London, North West]}\n", yaml);
    project.write(REGIONS_FILE, &text);
}

#[test]
fn a_mapping_of_a_column_to_values_narrows_every_list_as_written() {
    let project = Project::fixture("segments");
    let report = audience_json(&project, REGIONS);
    // Readers: London and North West; briefing: `north west` matches too (case is ignored),
    // Ruth is folded into her first list.
    assert_eq!(counts(&report), [("readers".to_owned(), 4, Some(2), 2), ("briefing".to_owned(), 3, Some(1), 1)]);
    assert_eq!(report["total"], 3);
    assert_eq!(report["audience"], format!("{REGIONS_FILE}:4:11"));

    let text = project.run(&["audience", REGIONS]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains(&format!("filtered by the audience at {REGIONS_FILE}:4:11")), "{}", text.stdout);
    assert!(text.stdout.contains("4 active        2 in audience"), "{}", text.stdout);

    let everyone = audience_json(&project, EVERYONE);
    assert_eq!(everyone["total"], 6);
    assert!(everyone.get("audience").is_none(), "no filter, no `audience` key: {everyone}");
    assert!(counts(&everyone).iter().all(|c| c.2.is_none()), "no filter, no `outside` counts");
}

#[test]
fn negation_presence_any_and_subscription_times_combine() {
    let project = Project::fixture("segments");
    with_audience(
        &project,
        "audience:\n  any:\n    - region: {present: false}\n    - subscribed_at: {since: 2026-01-01}\n  not: {region: Midlands}\n",
    );
    let out = project.run(&["subscribers", "export", "readers"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 5, "export is the list, not the issue's segment: {}", out.stdout);
    let report = audience_json(&project, REGIONS);
    // Siobhán joined in 2026, Amir has no region; Tom joined in 2026 but is in the Midlands;
    // the briefing list has no `subscribed_at` and every row there has a region.
    assert_eq!(counts(&report), [("readers".to_owned(), 4, Some(2), 2), ("briefing".to_owned(), 3, Some(3), 0)]);
    let send = project.run(&["send", REGIONS, "--dry-run"]);
    assert_eq!(send.code, 0, "{}", send.stderr);
    assert!(send.stderr.contains("2 messages composed"), "{}", send.stderr);
    assert!(send.stderr.contains("5 outside its audience"), "{}", send.stderr);
}

#[test]
fn check_names_an_unknown_column_where_it_is_written_with_a_did_you_mean() {
    let project = Project::fixture("segments");
    with_audience(&project, "audience:\n  regoin: London\n");
    let out = project.run(&["check"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("error: no list of this issue has a column `regoin`"), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("--> {REGIONS_FILE}:5:3")), "{}", out.stderr);
    assert!(out.stderr.contains("help: did you mean `region`?"), "{}", out.stderr);
}

#[test]
fn check_locates_a_mistake_in_the_filter_itself() {
    let project = Project::fixture("segments");
    with_audience(&project, "audience:\n  region: {presnt: true}\n");
    let out = project.run(&["check"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("error: unknown condition `presnt`"), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("--> {REGIONS_FILE}:5:12")), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `present`?"), "{}", out.stderr);
}

#[test]
fn an_audience_that_matches_nobody_is_a_warning() {
    let project = Project::fixture("segments");
    with_audience(&project, "audience:\n  region: Narnia\n");
    let out = project.run(&["check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("warning: the audience matches none of the 7 active subscribers of `readers`, `briefing`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&format!("--> {REGIONS_FILE}:5:3")), "{}", out.stderr);
}

fn with_publication_default(project: &Project, yaml: &str) {
    let config = project
        .read("letterpress.yaml")
        .replace("    lists: [readers, briefing]\n", &format!("    lists: [readers, briefing]\n{yaml}"));
    project.write("letterpress.yaml", &config);
}

#[test]
fn a_publication_default_applies_unless_the_issue_has_its_own() {
    let project = Project::fixture("segments");
    with_publication_default(&project, "    audience: {plan: pro}\n");
    let everyone = audience_json(&project, EVERYONE);
    assert_eq!(everyone["audience"], "letterpress.yaml:9:15");
    // Only the briefing list has plans: Ruth and Jo.
    assert_eq!(counts(&everyone), [("readers".to_owned(), 4, Some(4), 0), ("briefing".to_owned(), 3, Some(1), 2)]);
    assert_eq!(audience_json(&project, REGIONS)["total"], 3, "the issue's own audience replaces the default");

    let project = Project::fixture("segments");
    with_publication_default(&project, "    audience:\n      plan: {is: pro, since: 2026-01-01}\n");
    let out = project.run(&["check"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("error: `since` compares only `subscribed_at`"), "{}", out.stderr);
    assert!(out.stderr.contains("--> letterpress.yaml:10:23"), "{}", out.stderr);
}

/// The `name: value` header lines of the message `file` in the issue's outbox.
fn header(project: &Project, issue: &str, file: &str, name: &str) -> String {
    let slug = issue.split('/').nth(1).expect("slug");
    let message = project.read(&format!("outbox/weekly/{slug}/{file}"));
    let line = message.split("\r\n").find(|l| l.starts_with(&format!("{name}: "))).expect(name);
    line.to_owned()
}

fn outbox(project: &Project, issue: &str) -> Vec<String> {
    let slug = issue.split('/').nth(1).expect("slug");
    let mut files: Vec<String> = std::fs::read_dir(project.path().join("outbox/weekly").join(slug))
        .expect("outbox")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

fn sent(out: &Output) {
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_segmented_send_is_the_lists_send_with_its_list_id_and_unsubscribe_token() {
    let project = Project::fixture("segments");
    let out = project.run(&["send", REGIONS, "--yes"]);
    sent(&out);
    assert!(out.stderr.contains("to 3 recipients: 3 to send"), "{}", out.stderr);
    assert!(
        out.stderr.contains("(0 rows not active or suppressed)"),
        "rows outside the audience are not counted as such: {}",
        out.stderr
    );
    assert_eq!(
        outbox(&project, REGIONS),
        ["0000001-ruth@example.org.eml", "0000002-siobhan@example.org.eml", "0000003-li@example.com.eml"]
    );
    let log = project.run(&["log", REGIONS, "--format", "csv"]);
    let lists: Vec<&str> = log.stdout.lines().skip(1).filter_map(|l| l.split(',').nth(1)).collect();
    assert_eq!(lists, ["readers", "readers", "briefing"], "each recipient is sent as a member of their list");

    sent(&project.run(&["send", EVERYONE, "--yes"]));
    assert_eq!(outbox(&project, EVERYONE).len(), 6);
    // Ruth gets the same List-Id and the same one-click link from the segmented issue as from
    // an issue to the whole lists: unsubscribing from either leaves the lists.
    for name in ["List-Id", "List-Unsubscribe"] {
        assert_eq!(
            header(&project, REGIONS, "0000001-ruth@example.org.eml", name),
            header(&project, EVERYONE, "0000001-ruth@example.org.eml", name)
        );
    }
}

#[test]
fn the_preview_counts_and_offers_only_the_audience() {
    let project = Project::fixture("segments");
    let server = Server::start(&project);
    let index = server.get("/").text();
    assert!(index.contains("title=\"lists: readers, briefing, narrowed by its audience filter\">3</td>"), "{index}");
    assert!(index.contains("title=\"lists: readers, briefing\">6</td>"), "{index}");
    let page = format!("/issue/{REGIONS}/");
    assert_eq!(server.get(&format!("{page}?as=siobhan%40example.org")).status, 200);
    assert_eq!(server.get(&format!("{page}?as=li%40example.com")).status, 200);
    assert_eq!(server.get(&format!("{page}?as=tom%40example.net")).status, 404, "Tom is outside the audience");
    assert_eq!(server.get(&format!("/issue/{EVERYONE}/?as=tom%40example.net")).status, 200);
}
