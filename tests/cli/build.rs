use std::str::FromStr as _;

use crate::harness::{Project, snapshot_tree};

#[test]
fn builds_archive_feeds_and_email_renditions() {
    let project = Project::example();
    let out = project.run(&["build"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for file in [
        "public/index.html",
        "public/archive.css",
        "public/commissioner/index.html",
        "public/commissioner/atom.xml",
        "public/commissioner/2016-12-09-stp-plans-published/index.html",
        "public/commissioner/2016-12-09-stp-plans-published/email.html",
        "public/commissioner/2016-12-09-stp-plans-published/email.txt",
        "public/integrated-care/atom.xml",
        "public/images/commissioner-survey-2016.png",
    ] {
        assert!(project.path().join(file).is_file(), "{file} missing");
    }
    let draft = "public/integrated-care/2022-07-15-integrated-care-partnerships/index.html";
    assert!(!project.path().join(draft).exists(), "drafts are left out");
    let feed = atom_syndication::Feed::from_str(&project.read("public/commissioner/atom.xml")).expect("valid Atom");
    assert_eq!(feed.title.value, "The Commissioner");
    assert_eq!(feed.entries.len(), 3);
    assert!(feed.entries[0].updated >= feed.entries[1].updated, "newest first");
    let content = feed.entries.iter().find_map(|e| e.content.as_ref()).and_then(|c| c.value.clone()).expect("content");
    assert!(content.contains("<h2"), "full content in the feed");
}

#[test]
fn rebuild_is_byte_identical_and_drafts_are_opt_in() {
    let project = Project::example();
    assert_eq!(project.run(&["build"]).code, 0);
    let first = snapshot_tree(&project.path().join("public"));
    let again = project.run(&["build"]);
    assert!(again.stderr.contains("0 files written"), "{}", again.stderr);
    assert_eq!(first, snapshot_tree(&project.path().join("public")));
    assert_eq!(project.run(&["build", "--drafts", "--out", "preview"]).code, 0);
    assert!(
        project.path().join("preview/integrated-care/2022-07-15-integrated-care-partnerships/index.html").is_file()
    );
}

#[test]
fn build_refuses_invalid_content_and_writes_nothing() {
    let project = Project::fixture("minimal");
    project.write(
        "content/weekly/2016-12-30-broken.md",
        "---\ntitle: x\nstatus: ready\n---\n\nSee [this](@/weekly/2016-12-02-gone.md).\n",
    );
    let out = project.run(&["build"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("content/weekly/2016-12-30-broken.md:6:5"), "{}", out.stderr);
    assert!(!project.path().join("public").exists());
}

#[test]
fn archive_pages_link_neighbours_and_escape_titles() {
    let project = Project::fixture("minimal");
    project
        .write("content/weekly/2016-12-30-third.md", "---\ntitle: \"Fish & <chips>\"\nstatus: ready\n---\n\nText.\n");
    assert_eq!(project.run(&["build"]).code, 0);
    let page = project.read("public/weekly/2016-12-16-second/index.html");
    assert!(page.contains(r#"rel="prev" href="../2016-12-09-first/index.html""#), "{page}");
    assert!(page.contains("Fish &amp; &lt;chips&gt; →"), "{page}");
}

#[test]
fn rebuild_removes_what_it_no_longer_writes_and_keeps_the_users_files() {
    let project = Project::fixture("minimal");
    assert_eq!(project.run(&["build", "--drafts"]).code, 0);
    let draft = project.path().join("public/weekly/2016-12-23-draft");
    assert!(draft.join("index.html").is_file());
    project.write("public/CNAME", "news.example.org\n");
    project.write("public/weekly/notes.txt", "mine\n");
    std::fs::remove_file(project.path().join("content/weekly/2016-12-16-second.md")).expect("delete an issue");
    let out = project.run(&["build"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("6 removed"), "{}", out.stderr);
    assert!(!draft.exists(), "the draft's directory is gone");
    assert!(!project.path().join("public/weekly/2016-12-16-second").exists(), "the deleted issue is gone");
    assert!(project.path().join("public/weekly/2016-12-09-first/index.html").is_file());
    assert_eq!(project.read("public/CNAME"), "news.example.org\n", "a file placed by hand survives");
    assert_eq!(project.read("public/weekly/notes.txt"), "mine\n");
}

#[test]
fn rebuild_never_removes_outside_the_output_directory() {
    let project = Project::fixture("minimal");
    assert_eq!(project.run(&["build"]).code, 0);
    project
        .write("public/.letterpress-manifest", "../letterpress.yaml\n/etc/hostname\nweekly/../../letterpress.yaml\n");
    let out = project.run(&["build"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("0 removed"), "{}", out.stderr);
    assert!(project.path().join("letterpress.yaml").is_file());
}

#[test]
fn feed_has_an_author_for_entries_without_one() {
    let project = Project::fixture("minimal");
    assert_eq!(project.run(&["build"]).code, 0);
    let feed = atom_syndication::Feed::from_str(&project.read("public/weekly/atom.xml")).expect("valid Atom");
    let anonymous: Vec<&str> =
        feed.entries.iter().filter(|e| e.authors.is_empty()).map(|e| e.title.value.as_str()).collect();
    assert_eq!(anonymous, ["Second issue"], "the fixture has an issue without `author`");
    // RFC 4287 §4.1.1: every entry has an author, or the feed has one.
    let authors: Vec<&str> = feed.authors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(authors, ["The Weekly"]);
    assert!(
        feed.entries.iter().any(|e| e.authors.iter().any(|a| a.name == "A. Editor")),
        "an issue's own author stays"
    );
}

#[test]
fn a_local_serve_shows_the_archive_styled_with_its_own_files() {
    let project = Project::example();
    let out = project.run(&["build"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let keys = [("LETTERPRESS_UNSUBSCRIBE_KEYS", "0707070707070707070707070707070707070707070707070707070707070707")];
    let server = crate::serve::client::Server::start(&project, &keys);
    for page in ["/", "/commissioner/", "/commissioner/2016-12-09-stp-plans-published/"] {
        let response = server.get(page);
        assert_eq!(response.status, 200, "{page}");
        let base = url::Url::parse(&format!("http://{}{page}", server.address)).expect("a URL");
        let html = &response.body;
        let stylesheet = html.split("<link rel=\"stylesheet\" href=\"").nth(1).and_then(|r| r.split('"').next());
        let stylesheet = stylesheet.unwrap_or_else(|| panic!("{page} links no stylesheet:\n{html}"));
        let resolved = base.join(stylesheet).expect("a stylesheet URL");
        assert_eq!(resolved.host_str(), Some("127.0.0.1"), "{page}: `{stylesheet}` is not on the served site");
        let css = server.get(resolved.path());
        assert_eq!((css.status, css.header("content-type")), (200, Some("text/css")), "{page}: {resolved}");
        for image in html.split(" src=\"").skip(1).filter_map(|r| r.split('"').next()) {
            let resolved = base.join(image).expect("an image URL");
            assert_eq!(resolved.host_str(), Some("127.0.0.1"), "{page}: `{image}` is not on the served site");
            assert_eq!(server.get(resolved.path()).status, 200, "{page}: {resolved}");
        }
    }
}

#[test]
fn pages_link_relatively_while_feeds_and_email_renditions_stay_absolute() {
    let project = Project::example();
    assert_eq!(project.run(&["build"]).code, 0);
    let issue = "public/commissioner/2016-12-09-stp-plans-published";
    let page = project.read(&format!("{issue}/index.html"));
    for link in [
        "href=\"../../archive.css\"",
        "href=\"../atom.xml\"",
        "href=\"../../index.html\"",
        "href=\"../index.html\"",
        "src=\"../../images/commissioner-survey-2016.png\"",
        "href=\"email.html\"",
    ] {
        assert!(page.contains(link), "{link} in:\n{page}");
    }
    // Links to pages the archive does not have stay as written.
    assert!(page.contains("href=\"https://news.example.org/explainers/stp-footprints/\""), "{page}");
    assert!(!page.contains("=\"https://news.example.org/images/"), "{page}");
    assert!(!page.contains("=\"https://news.example.org/commissioner/atom.xml"), "{page}");
    let email = project.read(&format!("{issue}/email.html"));
    assert!(email.contains("src=\"https://news.example.org/images/commissioner-survey-2016.png\""), "{email}");
    let feed = project.read("public/commissioner/atom.xml");
    assert!(feed.contains("https://news.example.org/commissioner/2016-12-09-stp-plans-published/"), "{feed}");
    assert!(feed.contains("https://news.example.org/images/commissioner-survey-2016.png"), "{feed}");
}

#[test]
fn footnotes_link_back_on_the_page_and_to_the_page_from_feeds_and_emails() {
    let project = Project::example();
    assert_eq!(project.run(&["build"]).code, 0);
    let dir = "public/commissioner/2016-12-09-stp-plans-published";
    let page = project.read(&format!("{dir}/index.html"));
    assert!(page.contains(r##"<a href="#fn-1" id="fnref-1">1</a>"##), "{page}");
    assert!(page.contains(r#"<div class="footnote-definition" id="fn-1">"#), "{page}");
    assert!(page.contains(r#"<span class="footnote-label">1.</span> These figures"#), "label inline: {page}");
    assert!(page.contains(r##"<a href="#fnref-1" class="footnote-backref""##), "link back: {page}");
    assert!(!page.contains(r#"id="1""#) && !page.contains(r##"href="#1""##), "{page}");
    let url = "https://news.example.org/commissioner/2016-12-09-stp-plans-published/#fn-1";
    let feed = atom_syndication::Feed::from_str(&project.read("public/commissioner/atom.xml")).expect("valid Atom");
    let content = feed
        .entries
        .iter()
        .filter_map(|e| e.content.as_ref()?.value.clone())
        .find(|c| c.contains("footnote-ref"))
        .expect("an entry with notes");
    assert!(content.contains(&format!(r#"href="{url}""#)), "absolute in the feed: {content}");
    assert!(!content.contains("href=\"#") && !content.contains("fnref"), "no local anchors: {content}");
    let email = project.read(&format!("{dir}/email.html"));
    assert!(email.contains(&format!(r#"href="{url}""#)), "absolute in the email");
    assert!(!email.contains("href=\"#"), "no local anchors in the email");
}

#[test]
fn long_headlines_are_shortened_in_the_title_only() {
    let project = Project::fixture("minimal");
    let headline = "A headline far longer than any browser tab or search result will show in full, truly";
    let path = "content/weekly/2016-12-09-first.md";
    let text = project.read(path).replace("title: \"First issue\"", &format!("title: \"{headline}\""));
    project.write(path, &text);
    let out = project.run(&["build"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let page = project.read("public/weekly/2016-12-09-first/index.html");
    let title = page.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).expect("title");
    assert!(title.chars().count() <= 70 && title.ends_with('…'), "{title}");
    assert!(page.contains(&format!("<h1>{headline}</h1>")), "full headline in h1: {page}");
}
