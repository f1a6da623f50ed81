use crate::harness::{Project, repo_root, run_in};

#[test]
fn example_issues_render_to_stable_html_and_text() {
    let project = Project::example();
    let mut names = Vec::new();
    for publication in ["commissioner", "integrated-care"] {
        for entry in std::fs::read_dir(repo_root().join("content").join(publication)).expect("content") {
            let stem = entry.expect("entry").path().file_stem().expect("stem").to_string_lossy().into_owned();
            names.push(format!("{publication}/{stem}"));
        }
    }
    names.sort();
    assert!(names.len() >= 4);
    for name in names {
        let html = project.run(&["render", &name, "--format", "html"]);
        assert_eq!(html.code, 0, "{name}: {}", html.stderr);
        let text = project.run(&["render", &name, "--format", "text"]);
        assert_eq!(text.code, 0, "{name}: {}", text.stderr);
        // Only a line that cannot be broken (a URL on its own) may be wider than 78 columns.
        for line in text.stdout.lines().filter(|l| l.chars().count() > 78) {
            assert!(!line.trim().contains(char::is_whitespace), "{name}: line over 78 columns: {line}");
        }
        let key = name.replace('/', "__");
        insta::assert_snapshot!(format!("html-{key}"), html.stdout);
        insta::assert_snapshot!(format!("text-{key}"), text.stdout);
    }
}

#[test]
fn html_escapes_front_matter_and_text_keeps_it_literal() {
    let project = Project::fixture("minimal");
    let html = project.run(&["render", "weekly/2016-12-09-first"]).stdout;
    assert!(html.contains("Plans &amp; people – what &lt;changed&gt;?"), "{html}");
    let text = project.run(&["render", "weekly/2016-12-09-first", "--format", "text"]).stdout;
    assert!(text.contains("Plans & people – what <changed>?"), "{text}");
    assert!(!text.contains("&amp;") && !text.contains("&lt;"), "{text}");
}

#[test]
fn html_email_is_inlined_absolute_and_complete() {
    let project = Project::fixture("minimal");
    let html = project.run(&["render", "content/weekly/2016-12-16-second.md"]).stdout;
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains(r#"<html lang="en">"#));
    assert!(html.contains("<title>Second issue</title>"));
    assert!(
        html.contains(r#"href="https://minimal.example.org/weekly/2016-12-09-first/""#),
        "internal link resolved: {html}"
    );
    assert!(html.contains(r#"href="https://minimal.example.org/unsubscribe""#), "unsubscribe link: {html}");
    assert!(
        html.contains(r#"href="https://minimal.example.org/weekly/2016-12-16-second/""#),
        "view in browser: {html}"
    );
    let container = html.split("<table").find(|t| t.contains(r#"class="container""#)).expect("container table");
    assert!(container.contains(r#"role="presentation""#) && container.contains(r#"width="600""#), "{container}");
    let content = html.split("<td").find(|t| t.starts_with(r#" class="content""#)).expect("content cell");
    assert!(content.contains("padding: 24px 32px;"), "CSS inlined: {content}");
    assert!(!html.contains("<link"), "no external stylesheets");
}

#[test]
fn unknown_issue_is_a_usage_error_with_a_hint() {
    let out = Project::fixture("minimal").run(&["render", "weekly/2016-12-09-frist"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("did you mean `weekly/2016-12-09-first`?"), "{}", out.stderr);
}

#[test]
fn rendering_is_deterministic() {
    let project = Project::example();
    let a = project.run(&["render", "commissioner/2016-12-09-stp-plans-published"]).stdout;
    let b = project.run(&["render", "commissioner/2016-12-09-stp-plans-published"]).stdout;
    assert_eq!(a, b);
}

#[test]
fn issues_are_found_by_absolute_path_and_by_path_from_the_current_directory() {
    let project = Project::fixture("minimal");
    let by_id = project.run(&["render", "weekly/2016-12-16-second"]);
    assert_eq!(by_id.code, 0, "{}", by_id.stderr);
    let file = project.path().join("content/weekly/2016-12-16-second.md");
    let absolute = project.run(&["render", file.to_str().expect("utf-8 temp path")]);
    assert_eq!(absolute.code, 0, "{}", absolute.stderr);
    assert_eq!(absolute.stdout, by_id.stdout);
    let from_inside =
        run_in(&project.path().join("content/weekly"), &["-C", "../..", "render", "2016-12-16-second.md"]);
    assert_eq!(from_inside.code, 0, "{}", from_inside.stderr);
    assert_eq!(from_inside.stdout, by_id.stdout);
    let elsewhere = Project::fixture("minimal");
    let outside =
        project.run(&["render", elsewhere.path().join("content/weekly/2016-12-16-second.md").to_str().expect("utf-8")]);
    assert_eq!(outside.code, 2, "a file of another project is not this project's issue: {}", outside.stderr);
}

#[test]
fn refused_urls_never_reach_an_href_even_when_check_is_skipped() {
    let project = Project::fixture("minimal");
    project.write(
        "content/weekly/2016-12-30-links.md",
        concat!(
            "---\ntitle: \"Links\"\nstatus: ready\nrelated:\n",
            "  - title: \"Script\"\n    url: \"javascript:alert(1)\"\n",
            "  - title: \"Hidden\"\n    url: \"java\\tscript:alert(2)\"\n",
            "  - title: \"Encoded\"\n    url: \"&#106;avascript:alert(3)\"\n",
            "  - title: \"Page\"\n    url: \"data:text/html,hi\"\n",
            "  - title: \"Survey\"\n    url: \"https://example.org/survey\"\n",
            "---\n\nBody.\n"
        ),
    );
    let check = project.run(&["check"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    for line in [":6:10", ":8:10", ":10:10", ":12:10"] {
        assert!(check.stderr.contains(&format!("2016-12-30-links.md{line}")), "{line}: {}", check.stderr);
    }
    for format in ["html", "text"] {
        let out = project.run(&["render", "weekly/2016-12-30-links", "--format", format]);
        assert_eq!(out.code, 0, "{format}: {}", out.stderr);
        for refused in ["script:", "avascript", "data:", "Script", "Hidden", "Encoded"] {
            assert!(!out.stdout.contains(refused), "{format}: `{refused}` in {}", out.stdout);
        }
        assert!(out.stdout.contains("https://example.org/survey"), "{format}: {}", out.stdout);
    }
    let build = project.run(&["build"]);
    assert_eq!(build.code, 1, "build checks first: {}", build.stderr);
    assert!(!project.path().join("public/weekly/2016-12-30-links").exists());
}

#[test]
fn a_runaway_template_stops_at_its_budget_in_render_and_send() {
    let project = Project::fixture("invalid/template-huge-loop");
    project.write("content/weekly/2016-12-09-a.md", "---\ntitle: \"Fine\"\nstatus: ready\n---\n\nBody.\n");
    for args in [
        &["render", "content/weekly/2016-12-09-a.md"][..],
        &["send", "--dry-run", "content/weekly/2016-12-09-a.md"],
        &["build"],
    ] {
        let out = project.run(args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("writes more than 64 KB"), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("--> templates/email.txt:4:3"), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn an_include_loop_is_reported_once_where_it_closes() {
    let project = Project::fixture("invalid/template-include-loop");
    let out = project.run(&["render", "content/weekly/2016-12-09-a.md"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stderr.matches("include each other").count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("--> templates/parts/links.txt:2:3"), "{}", out.stderr);
}

#[test]
fn email_passes_spam_filters_and_sizes_images_and_tables_for_clients() {
    let project = Project::example();
    let html = project.run(&["render", "commissioner/2016-12-09-stp-plans-published"]).stdout;
    let preheader =
        html.split(r#"<div class="preheader""#).nth(1).and_then(|p| p.split('>').next()).expect("preheader");
    // SpamAssassin's HTML_FONT_LOW_CONTRAST: text the colour of its background.
    assert!(!preheader.contains("color"), "hidden by size, not colour: {preheader}");
    for dropped in ["display", "opacity", "overflow"] {
        assert!(!preheader.contains(dropped), "{dropped} is dropped by some clients: {preheader}");
    }
    assert!(preheader.contains("max-height: 0") && preheader.contains("font-size: 0"), "{preheader}");
    assert!(html.contains('\u{34f}'), "filler keeps body text out of the inbox preview");
    assert!(html.contains(r#"<th scope="col""#), "header cells have a scope");
    assert!(html.contains(r#"width="536""#), "images as wide as the content column for Outlook");
    assert!(html.contains(r#"<div role="main">"#), "the web version has a main landmark");
    assert!(html.contains("@media (prefers-color-scheme: dark)"), "dark styles");
}

#[test]
fn text_signature_separator_has_its_space() {
    let text = Project::fixture("minimal").run(&["render", "weekly/2016-12-09-first", "--format", "text"]).stdout;
    assert!(text.lines().any(|l| l == "-- "), "{text}");
}
