//! `serve` by RFC 9110: a 405 names the methods its path allows, a 416 the file's length.

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
