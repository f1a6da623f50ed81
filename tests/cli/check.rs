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
