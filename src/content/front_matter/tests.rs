use super::*;

#[track_caller]
fn split_case(text: &str, yaml: &str, body: &str, body_line: usize) {
    let s = split(Path::new("a.md"), text).unwrap();
    assert_eq!((s.yaml, s.body, s.body_start_line), (yaml, body, body_line));
}

#[test]
fn splits_at_fences() {
    split_case("---\ntitle: x\n---\nbody\n", "title: x\n", "body\n", 4);
    split_case("---\n---\n", "", "", 3);
    split_case("---  \na: 1\nb: 2\n---\n\nHi", "a: 1\nb: 2\n", "\nHi", 5);
    split_case("---\ntitle: x\n---", "title: x\n", "", 4);
}

#[test]
fn missing_and_unterminated_fences_are_errors() {
    assert_eq!(split(Path::new("a.md"), "title: x\n").unwrap_err().code, "front-matter/missing");
    assert_eq!(split(Path::new("a.md"), "---\ntitle: x\n").unwrap_err().code, "front-matter/unterminated");
    assert_eq!(split(Path::new("a.md"), "").unwrap_err().code, "front-matter/missing");
}

#[track_caller]
fn error_case(yaml: &str, code: &str, line: usize, col: usize) {
    let text = format!("---\n{yaml}---\n");
    let errors = parse(Path::new("a.md"), &text, yaml, None).unwrap_err();
    let location = errors[0].location.clone().unwrap();
    assert_eq!((errors[0].code, location.line, location.col), (code, line, col), "{}", errors[0]);
}

#[test]
fn front_matter_errors_point_into_the_file() {
    error_case("author: x\n", "front-matter/no-title", 1, 1);
    error_case("title: x\nsend_at: 2017-01-13T07:00:00\n", "front-matter/send-at-zone", 3, 10);
    error_case("title: x\nsend_at: soon\n", "front-matter/send-at", 3, 10);
    error_case("title: x\nstatus: redy\n", "front-matter/status", 3, 9);
    error_case("title: x\ndate: yesterday\n", "front-matter/date", 3, 7);
    error_case("title: x\ndate: 2016-12-09T10:00\n", "front-matter/date", 3, 7);
    error_case("title: \"a\\nb\"\n", "front-matter/control-char", 2, 8);
    error_case("title: x\ntags:\n\t- a\n", "yaml/tab", 4, 1);
    error_case("title: x\nsend_at: 2017-01-13\n", "front-matter/send-at-zone", 3, 10);
    error_case("title: x\nsendat: 1\n", "yaml/unknown-key", 3, 1);
    error_case("title: x\naudience: London\n", "audience/shape", 3, 11);
    error_case("title: x\naudience:\n  region: {nto: x}\n", "audience/operator", 4, 12);
}

#[test]
fn send_at_is_read_in_the_zone_and_its_warnings_are_located() {
    let london = jiff::tz::TimeZoneDatabase::bundled().get("Europe/London").unwrap();
    let yaml = "title: x\nsend_at: 2027-10-31 01:30\n";
    let text = format!("---\n{yaml}---\n");
    let front = parse(Path::new("a.md"), &text, yaml, Some(&london)).unwrap();
    assert_eq!(front.send_at.unwrap().to_string(), "2027-10-31T00:30:00Z");
    let location = front.warnings[0].location.clone().unwrap();
    assert_eq!((front.warnings[0].code, location.line, location.col), ("front-matter/send-at-fold", 3, 10));
    assert!(parse(Path::new("a.md"), &text, yaml, None).is_err(), "no zone, no offset");
}

#[test]
fn parses_every_field() {
    let yaml = "title: T\nsubject: S\ndate: 2016-12-09\nauthor: A\nstandfirst: F\nsummary: M\ntags: [a, b]\nstatus: ready\nsend_at: 2017-01-13T07:00:00+00:00\nlists: [weekly]\nrelated:\n  - title: R\n    url: https://example.org/r\n";
    let text = format!("---\n{yaml}---\n");
    let front = parse(Path::new("a.md"), &text, yaml, None).unwrap();
    assert_eq!(front.title, "T");
    assert_eq!(front.status, Status::Ready);
    assert_eq!(front.send_at.unwrap().to_string(), "2017-01-13T07:00:00Z");
    assert_eq!(front.lists.unwrap()[0].line, 11);
    assert_eq!(front.related[0].url.value, "https://example.org/r");
    assert_eq!(front.related[0].url.line, 14);
}
