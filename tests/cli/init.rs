use crate::harness::{Project, run_in};

#[test]
fn init_creates_a_project_that_passes_check_and_builds() {
    let dir = Project::empty();
    let out = dir.run(&["init", "paper"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let root = dir.path().join("paper");
    for file in [
        "letterpress.yaml",
        "templates/email.html",
        "templates/email.txt",
        "templates/email.css",
        "content/weekly/2026-11-22-welcome.md",
        ".gitignore",
    ] {
        assert!(root.join(file).is_file(), "{file}");
    }
    let check = run_in(&root, &["check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert_eq!(run_in(&root, &["build", "--drafts"]).code, 0);
}

#[test]
fn init_refuses_to_overwrite_a_project() {
    let project = Project::fixture("minimal");
    let out = project.run(&["init", "."]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("already holds a letterpress project"), "{}", out.stderr);
}

#[test]
fn new_creates_a_dated_draft_and_prints_its_path() {
    let project = Project::fixture("minimal");
    let out = project.run(&["new", "weekly", "STP leaders: who’s in charge?"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "content/weekly/2026-11-22-stp-leaders-whos-in-charge.md\n");
    let text = project.read("content/weekly/2026-11-22-stp-leaders-whos-in-charge.md");
    assert!(text.contains("title: \"STP leaders: who’s in charge?\"\n"), "{text}");
    assert!(text.contains("status: draft"));
    assert_eq!(project.run(&["check"]).code, 0);
    let again = project.run(&["new", "weekly", "STP leaders: who’s in charge?"]);
    assert_eq!(again.code, 2, "never overwrites");
    let unknown = project.run(&["new", "daily", "x"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("publications are: weekly"), "{}", unknown.stderr);
}

#[test]
fn new_dates_the_draft_in_the_site_time_zone() {
    let project = Project::fixture("minimal");
    let config = project.read("letterpress.yaml").replace("site:\n", "site:\n  timezone: Pacific/Honolulu\n");
    project.write("letterpress.yaml", &config);
    let out = project.run(&["new", "weekly", "Late edition"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout, "content/weekly/2026-11-21-late-edition.md\n",
        "09:30 UTC is the evening before in Honolulu"
    );
}

#[test]
fn global_dir_flag_runs_elsewhere() {
    let project = Project::fixture("minimal");
    let out =
        run_in(project.path().parent().expect("parent"), &["-C", project.path().to_str().expect("utf-8"), "check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn new_refuses_a_title_that_makes_no_file_name() {
    let project = Project::fixture("minimal");
    for (title, why) in
        [("", "the title is empty"), ("   ", "the title is empty"), ("!!!", "the title `!!!` has no letters or digits")]
    {
        let out = project.run(&["new", "weekly", title]);
        assert_eq!(out.code, 2, "{title:?}: {}", out.stderr);
        assert!(out.stderr.contains(why), "{title:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{title:?}: {}", out.stdout);
    }
    let line_break = project.run(&["new", "weekly", "Two\nlines"]);
    assert_eq!(line_break.code, 2, "{}", line_break.stderr);
    let created: Vec<_> = std::fs::read_dir(project.path().join("content/weekly")).expect("content").collect();
    assert_eq!(created.len(), 3, "only the fixture's issues: {created:?}");
}
