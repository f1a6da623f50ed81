use crate::harness::{Project, fixture_dir};

#[test]
fn example_newsletter_checks_clean() {
    let out = Project::example().run(&["check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("error:"), "{}", out.stderr);
}

#[test]
fn every_invalid_fixture_fails_with_a_located_diagnostic() {
    let mut cases: Vec<_> = std::fs::read_dir(fixture_dir("invalid"))
        .expect("fixtures")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8 name"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "{cases:?}");
    for case in cases {
        let project = Project::fixture(&format!("invalid/{case}"));
        let out = project.run(&["check"]);
        assert_eq!(out.code, 1, "{case}: {}", out.stderr);
        let located = out.stderr.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("--> ") && l.rsplit(':').take(2).all(|n| n.parse::<usize>().is_ok())
        });
        assert!(located, "{case} has no `--> path:line:col`:\n{}", out.stderr);
        insta::assert_snapshot!(format!("invalid-{case}"), out.stderr);
    }
}

#[test]
fn check_reports_json_for_ci() {
    let out = Project::fixture("invalid/missing-title").run(&["check", "--format", "json"]);
    assert_eq!(out.code, 1);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(report["errors"], 1);
    let first = &report["diagnostics"][0];
    assert_eq!(first["code"], "front-matter/no-title");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["location"]["path"], "content/weekly/2016-12-09-a.md");
    assert_eq!(first["location"]["line"], 1);
}

#[test]
fn check_collects_problems_from_every_file() {
    let project = Project::fixture("minimal");
    project.write("content/weekly/2016-12-30-bad.md", "---\ntitle: x\nstatus: redy\n---\n");
    project.write("content/weekly/2017-01-06-worse.md", "---\ntitle: [x]\n---\n");
    let out = project.run(&["check"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("2016-12-30-bad.md:3:9"), "{}", out.stderr);
    assert!(out.stderr.contains("2017-01-06-worse.md:2:8"), "{}", out.stderr);
    assert!(out.stderr.contains("2 errors"), "{}", out.stderr);
}

#[test]
fn lints_are_warnings_that_do_not_fail_check() {
    let project = Project::fixture("minimal");
    let long = "A subject line that goes on and on about integrated care systems and their boards";
    project.write("content/weekly/2016-12-30-lint.md", &format!("---\ntitle: \"{long}\"\n---\n\nTK: numbers. See [old](http://example.org/x).\n\n![](https://example.org/chart.png)\n"));
    let out = project.run(&["check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for code in [
        "leftover placeholder `TK`",
        "insecure link `http://example.org/x`",
        "has no alt text",
        "the subject is 81 characters",
    ] {
        assert!(out.stderr.contains(code), "missing `{code}` in:\n{}", out.stderr);
    }
}

/// A list named twice is a warning: in a publication's `lists` at the publication, in an
/// issue's at the second name. The list gets each issue once either way.
#[test]
fn a_list_named_twice_is_a_warning_at_the_second_name() {
    let project = Project::fixture("minimal");
    let config = project.read("letterpress.yaml");
    project.write(
        "letterpress.yaml",
        &format!(
            "{}\n    lists: [readers, members, readers]\nlists:\n  - slug: readers\n    name: Readers\n  - slug: members\n    name: Members\n",
            config.trim_end()
        ),
    );
    project.write("subscribers/readers.csv", "email,name\n");
    project.write("subscribers/members.csv", "email,name\n");
    project.write("content/weekly/2016-12-30-twice.md", "---\ntitle: Twice\nlists: [members, members]\n---\n\nText.\n");
    let out = project.run(&["check", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let found: Vec<(String, String, u64)> = diagnostics(&out)
        .iter()
        .filter(|d| d["code"].as_str().is_some_and(|c| c.ends_with("/duplicate-list")))
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_owned(),
                d["severity"].as_str().unwrap().to_owned(),
                d["location"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("config/duplicate-list".to_owned(), "warning".to_owned(), 5),
            ("front-matter/duplicate-list".to_owned(), "warning".to_owned(), 3)
        ],
        "{}",
        out.stdout
    );
}

#[test]
fn missing_project_is_a_usage_error() {
    let out = Project::empty().run(&["check"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no `letterpress.yaml`"), "{}", out.stderr);
    assert!(out.stderr.contains("letterpress init"), "{}", out.stderr);
}

#[test]
fn check_finds_archive_template_errors_that_would_stop_build() {
    let project = Project::fixture("invalid/archive-template-error");
    let check = project.run(&["check"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(check.stderr.contains("--> templates/page.html:3:13"), "{}", check.stderr);
    assert!(check.stderr.contains("1 error,"), "reported once: {}", check.stderr);
    let build = project.run(&["build"]);
    assert_eq!(build.code, 1, "{}", build.stderr);
    assert!(build.stderr.contains("--> templates/page.html:3:13"), "{}", build.stderr);
    assert!(!project.path().join("public").exists());
}

#[test]
fn placeholders_in_the_fields_that_reach_the_email_are_flagged_at_their_line() {
    let project = Project::fixture("minimal");
    project.write(
        "content/weekly/2016-12-30-tk.md",
        "---\ntitle: \"STP leaders TK\"\nstandfirst: \"TODO: a line on the footprints\"\nsummary: \"Fine.\"\n---\n\nBody.\n",
    );
    let out = project.run(&["check", "--format", "json"]);
    assert_eq!(out.code, 0, "warnings only: {}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let found: Vec<(String, u64)> = report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| d["code"] == "lint/placeholder" && d["location"]["path"] == "content/weekly/2016-12-30-tk.md")
        .map(|d| (d["message"].as_str().unwrap_or_default().to_owned(), d["location"]["line"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(
        found,
        [("leftover placeholder `TK`".to_owned(), 2), ("leftover placeholder `TODO`".to_owned(), 3)],
        "{report:#}"
    );
}

#[test]
fn a_password_in_a_configured_url_is_never_echoed() {
    let project = Project::fixture("invalid/config-smtp-password");
    let text = project.run(&["check"]);
    assert_eq!(text.code, 1, "{}", text.stderr);
    assert!(text.stderr.contains("smtps://***@smtp.example.org"), "{}", text.stderr);
    let json = project.run(&["check", "--format", "json"]);
    assert_eq!(json.code, 1, "{}", json.stderr);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(report["diagnostics"][0]["source_line"], "    url: \"smtps://***@smtp.example.org\"", "{report:#}");
    for out in [&text.stderr, &text.stdout, &json.stdout, &json.stderr] {
        assert!(!out.contains("hunter2"), "{out}");
    }
}

/// `minimal` with `site.timezone: <zone>` and an issue scheduled at `send_at`.
fn scheduled_in(zone: &str, send_at: &str) -> Project {
    let project = Project::fixture("minimal");
    let config = project.read("letterpress.yaml").replace("site:\n", &format!("site:\n  timezone: {zone}\n"));
    project.write("letterpress.yaml", &config);
    project.write(
        "content/weekly/2027-01-14-scheduled.md",
        &format!("---\ntitle: \"Scheduled\"\nstatus: ready\nsend_at: {send_at}\n---\n\nBody.\n"),
    );
    project
}

fn diagnostics(out: &crate::harness::Output) -> Vec<serde_json::Value> {
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    report["diagnostics"].as_array().cloned().unwrap_or_default()
}

#[test]
fn send_at_without_an_offset_is_read_in_the_site_time_zone_even_without_a_system_database() {
    let empty = tempfile::tempdir().expect("temp dir");
    let tzdir = [("TZDIR", empty.path().to_str().expect("utf-8 path"))];
    let project = scheduled_in("Europe/London", "2027-01-15 07:00");
    let out = project.run_env(&["check", "--format", "json"], &tzdir);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        diagnostics(&out).iter().all(|d| !d["code"].as_str().unwrap_or_default().contains("send-at")),
        "{}",
        out.stdout
    );

    let contradicting = scheduled_in("Europe/London", "2027-01-15T07:00:00+01:00");
    let out = contradicting.run_env(&["check", "--format", "json"], &tzdir);
    assert_eq!(out.code, 0, "a warning: {}", out.stderr);
    let warning = diagnostics(&out).into_iter().find(|d| d["code"] == "front-matter/send-at-offset").expect("warning");
    assert_eq!(warning["severity"], "warning");
    assert_eq!(warning["location"]["line"], 4);
    assert_eq!(
        warning["help"],
        "write `2027-01-15T07:00:00+00:00` for 07:00 in Europe/London, or leave the offset out"
    );

    let folded = scheduled_in("Europe/London", "2027-10-31 01:30");
    let out = folded.run_env(&["check"], &tzdir);
    assert_eq!(out.code, 0, "a warning: {}", out.stderr);
    assert!(out.stderr.contains("warning: `send_at` `2027-10-31 01:30` happens twice in Europe/London: at `2027-10-31T01:30:00+01:00` (00:30 UTC) and at `2027-10-31T01:30:00+00:00` (01:30 UTC)"), "{}", out.stderr);
}

#[test]
fn without_a_site_time_zone_a_send_at_without_an_offset_stays_an_error() {
    let project = scheduled_in("UTC", "2027-01-15 07:00");
    let config = project.read("letterpress.yaml").replace("  timezone: UTC\n", "");
    project.write("letterpress.yaml", &config);
    let out = project.run(&["check"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("error: `send_at` has no time zone offset: `2027-01-15 07:00`"), "{}", out.stderr);
    assert!(out.stderr.contains("set `site.timezone`"), "{}", out.stderr);
}

#[test]
fn send_due_and_status_use_the_site_time_zone() {
    let project = Project::fixture("send");
    let config = project
        .read("letterpress.yaml")
        .replace("transport: smtp", "transport: outbox")
        .replace("site:\n", "site:\n  timezone: America/New_York\n");
    project.write("letterpress.yaml", &config);
    let issue = "content/weekly/2016-12-09-plans.md";
    let text = project.read(issue);
    // 05:00 in New York is 10:00 UTC, after the pinned now (09:30 UTC): not due yet.
    project.write(issue, &text.replace("send_at: 2016-12-09T07:00:00+00:00", "send_at: 2026-11-22 05:00"));
    let out = project.run(&["send", "--due", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("nothing is due"), "{}", out.stderr);
    project.write(issue, &text.replace("send_at: 2016-12-09T07:00:00+00:00", "send_at: 2026-11-22 04:00"));
    let out = project.run(&["send", "--due", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("nothing is due"), "{}", out.stderr);
    let status = project.run(&["status", "weekly/2016-12-09-plans"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status.stdout.contains("  started 2026-11-22 04:30 EST, finished 2026-11-22 04:30 EST"),
        "{}",
        status.stdout
    );
}

#[cfg(unix)]
#[test]
fn a_list_linked_out_of_the_project_is_refused_and_never_echoed() {
    let outside = tempfile::tempdir().expect("temp dir");
    let secret = outside.path().join("passwd");
    std::fs::write(&secret, "root:x:0:0:root:/root:/bin/bash\n").expect("write");
    let project = Project::fixture("minimal");
    let config =
        project.read("letterpress.yaml") + "    lists: [readers]\nlists:\n  - slug: readers\n    name: \"Readers\"\n";
    project.write("letterpress.yaml", &config);
    std::fs::create_dir_all(project.path().join("subscribers")).expect("dir");
    std::os::unix::fs::symlink(&secret, project.path().join("subscribers/readers.csv")).expect("symlink");
    for args in [&["check"][..], &["check", "--format", "json"], &["subscribers", "count"]] {
        let out = project.run(args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        let shown = format!("{}{}", out.stdout, out.stderr);
        assert!(shown.contains("leads outside the project through a symbolic link"), "{args:?}: {shown}");
        assert!(!shown.contains("root:x"), "{args:?}: {shown}");
    }
    let allowed = project.read("letterpress.yaml") + "allow-outside-project: true\n";
    project.write("letterpress.yaml", &allowed);
    let out = project.run(&["check"]);
    assert!(!out.stderr.contains("outside the project"), "allowed: {}", out.stderr);
}

#[test]
fn unsupported_email_features_are_reported_once_per_template_with_clients() {
    let project = Project::fixture("minimal");
    let template = letterpress::template::DEFAULTS
        .iter()
        .find(|(name, _)| *name == "email.html")
        .map(|(_, text)| *text)
        .expect("default email template")
        .replace(r#"<div class="body-text">"#, r#"<div class="body-text" style="display: flex">"#);
    project.write("templates/email.html", &template);
    let out = project.run(&["check"]);
    assert_eq!(out.code, 0, "warnings and info do not fail check: {}", out.stderr);
    let flex: Vec<&str> = out.stderr.lines().filter(|l| l.contains("`display:flex`")).collect();
    assert_eq!(flex.len(), 1, "one warning for two issues: {}", out.stderr);
    assert!(flex[0].starts_with("warning: ") && flex[0].contains("Outlook (Windows)"), "{}", out.stderr);
    let line = template.lines().position(|l| l.contains("display: flex")).expect("line") + 1;
    assert!(out.stderr.contains(&format!("--> templates/email.html:{line}:")), "{}", out.stderr);
    let media: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("info: `@media` is ignored by")).collect();
    assert_eq!(media.len(), 1, "the mobile layout is one info line: {}", out.stderr);
}
