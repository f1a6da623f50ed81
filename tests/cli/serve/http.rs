//! `serve` by RFC 9110: a 405 names the methods its path allows, a 416 the file's length, and the
//! archive's pages and files carry validators (`ETag`, `Last-Modified`) and answer conditional
//! requests: 304 when the client's copy is current, 412 when an `If-Match` fails.

use super::client::{Response, Server};
use super::serve;
use crate::harness::Project;

/// `method target` with extra header lines (`"Name: value"`) and no body.
fn request(server: &Server, method: &str, target: &str, headers: &[&str]) -> Response {
    let extra = headers.iter().fold(String::new(), |out, h| out + h + "\r\n");
    server.send(&format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n{extra}\r\n",
        server.address
    ))
}

/// The methods a response's `Allow` lists.
fn allowed(response: &Response) -> Vec<&str> {
    let allow = response.header("allow").unwrap_or_else(|| panic!("no Allow: {:?}", response.headers));
    allow.split(',').map(str::trim).collect()
}

#[test]
fn every_405_names_the_methods_its_path_allows() {
    let project = Project::fixture("serve");
    let server = serve(&project);
    let archive = ["GET", "HEAD"];
    let cases: [(&str, &str, &[&str]); 9] = [
        ("POST", "/", &archive),
        ("DELETE", "/archive.css", &archive),
        ("PUT", "/weekly/2016-12-09-plans/", &archive),
        ("POST", "/weekly/2016-12-09-plans/email.html", &archive),
        ("GET", "/subscribe", &["POST"]),
        ("PUT", "/unsubscribe?t=x", &["GET", "HEAD", "POST"]),
        ("POST", "/confirm?t=x", &["GET", "HEAD"]),
        ("POST", "/healthz", &["GET", "HEAD"]),
        ("POST", "/l/abc", &["GET", "HEAD"]),
    ];
    for (method, target, methods) in cases {
        let response = request(&server, method, target, &[]);
        assert_eq!(response.status, 405, "{method} {target}: {response:?}");
        assert_eq!(allowed(&response), methods, "{method} {target}");
    }
    // Where nothing is, nothing is allowed: 404, whatever the method.
    for (method, target) in [("POST", "/no-such-page/"), ("PUT", "/weekly/no-such-issue/"), ("DELETE", "/x.css")] {
        let response = request(&server, method, target, &[]);
        assert_eq!(response.status, 404, "{method} {target}: {response:?}");
        assert_eq!(response.header("allow"), None, "{method} {target}");
    }
}

#[test]
fn an_unsatisfiable_range_answers_416_with_the_files_length() {
    let project = Project::fixture("serve");
    let server = serve(&project);
    let length = std::fs::read(project.path().join("public/archive.css")).expect("the stylesheet").len();
    let whole = format!("bytes */{length}");
    for method in ["GET", "HEAD"] {
        let refused = request(&server, method, "/archive.css", &["Range: bytes=999999-"]);
        assert_eq!(refused.status, 416, "{method}: {refused:?}");
        assert_eq!(refused.header("content-range"), Some(whole.as_str()), "{method}: {:?}", refused.headers);
    }
    let part = request(&server, "GET", "/archive.css", &["Range: bytes=0-9"]);
    assert_eq!(part.status, 206, "{part:?}");
    assert_eq!(part.header("content-range"), Some(format!("bytes 0-9/{length}").as_str()));
}

#[test]
fn archive_pages_and_files_answer_304_when_the_clients_copy_is_current() {
    let project = Project::fixture("serve");
    let server = serve(&project);
    let old = "Sat, 01 Jan 2000 00:00:00 GMT";
    for target in ["/", "/weekly/2016-12-09-plans/", "/archive.css", "/weekly/2016-12-09-plans/email.html"] {
        let first = request(&server, "GET", target, &[]);
        assert_eq!(first.status, 200, "{target}: {first:?}");
        let etag = first.header("etag").unwrap_or_else(|| panic!("{target}: no ETag: {:?}", first.headers));
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{target}: a strong tag: {etag}");
        let modified = first.header("last-modified").unwrap_or_else(|| panic!("{target}: {:?}", first.headers));
        let conditional = |method: &str, headers: &[&str]| request(&server, method, target, headers);

        let weak = format!("W/{etag}");
        let listed = format!("\"not-it\", {etag}");
        for tag in [etag, weak.as_str(), listed.as_str(), "*"] {
            for method in ["GET", "HEAD"] {
                let unchanged = conditional(method, &[&format!("If-None-Match: {tag}")]);
                assert_eq!(unchanged.status, 304, "{method} {target} If-None-Match {tag}: {unchanged:?}");
                assert_eq!(unchanged.header("etag"), Some(etag), "{target}: a 304 repeats the tag");
                assert!(unchanged.body.is_empty(), "{target}: {}", unchanged.body);
            }
        }
        let since = format!("If-Modified-Since: {modified}");
        assert_eq!(conditional("GET", &[&since]).status, 304, "{target} If-Modified-Since {modified}");
        assert_eq!(conditional("HEAD", &[&since]).status, 304, "{target} HEAD If-Modified-Since {modified}");
        let stale = conditional("GET", &[&format!("If-Modified-Since: {old}")]);
        assert_eq!((stale.status, stale.body.as_str()), (200, first.body.as_str()), "{target}: modified since 2000");
        assert_eq!(conditional("GET", &["If-Modified-Since: yesterday"]).status, 200, "{target}: not a date");

        // If-None-Match takes precedence over If-Modified-Since (RFC 9110 §13.2.2).
        let other = conditional("GET", &["If-None-Match: \"not-it\"", &since]);
        assert_eq!((other.status, other.body.as_str()), (200, first.body.as_str()), "{target}: another tag");
        let current = conditional("GET", &[&format!("If-None-Match: {etag}"), &format!("If-Modified-Since: {old}")]);
        assert_eq!(current.status, 304, "{target}: the tag matches, whatever the date");

        // If-Match compares strongly, and fails with 412.
        assert_eq!(conditional("GET", &[&format!("If-Match: {etag}")]).status, 200, "{target} If-Match");
        assert_eq!(conditional("GET", &[&format!("If-Match: {weak}")]).status, 412, "{target} If-Match weak");
        assert_eq!(conditional("GET", &["If-Match: \"not-it\""]).status, 412, "{target} If-Match another");
        assert_eq!(conditional("GET", &[&format!("If-Unmodified-Since: {old}")]).status, 412, "{target}");
    }
}

#[test]
fn a_page_changed_on_disk_gets_a_new_etag_and_one_rewritten_unchanged_keeps_it() {
    let project = Project::fixture("serve");
    let server = serve(&project);
    let file = project.path().join("public/index.html");
    let first = request(&server, "GET", "/", &[]);
    let etag = first.header("etag").expect("an ETag").to_owned();
    let page = std::fs::read_to_string(&file).expect("the front page");

    // `build` rewrites every page: the same bytes at a later time are still the client's copy.
    let built = std::fs::metadata(&file).and_then(|m| m.modified()).expect("the page's time");
    std::fs::write(&file, &page).expect("rewrite the page");
    let later = built + std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&file).and_then(|f| f.set_modified(later)).expect("touch the page");
    let rewritten = request(&server, "GET", "/", &[&format!("If-None-Match: {etag}")]);
    assert_eq!(rewritten.status, 304, "{rewritten:?}");

    std::fs::write(&file, page.replacen("</body>", "<p>Corrected.</p></body>", 1)).expect("edit the page");
    let changed = request(&server, "GET", "/", &[&format!("If-None-Match: {etag}")]);
    assert_eq!(changed.status, 200, "{changed:?}");
    assert!(changed.body.contains("Corrected."), "{}", changed.body);
    let new = changed.header("etag").expect("an ETag");
    assert_ne!(new, etag);
    assert_eq!(request(&server, "GET", "/", &[&format!("If-None-Match: {new}")]).status, 304);
}
