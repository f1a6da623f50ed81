//! Header lines and RFC 5322's 998-character limit: a header is folded only at a space, so a
//! subject, a name or an unsubscribe URL can make a line no send may carry. For each, the
//! longest value `check` passes is sent, and one character more is flagged by `check`, where it
//! is written, and refused by the send before any message goes out.

use crate::harness::{Output, Project};
use crate::send::ISSUE;
use crate::send_gate::{edit, outbox_project};

/// What a header line may hold without its CRLF (RFC 5322 §2.1.1).
const MAX_LINE: usize = 998;

/// One value a person writes that becomes a header: how to write it `n` characters long (no
/// space) into a fresh copy of the send fixture, the header it becomes, and where `check`
/// reports it.
struct Case {
    name: &'static str,
    header: &'static str,
    set: fn(&Project, usize),
    location: &'static str,
}

fn config(project: &Project, from: &str, to: &str) {
    let text = project.read("letterpress.yaml");
    assert!(text.contains(from), "no `{from}` in letterpress.yaml");
    project.write("letterpress.yaml", &text.replacen(from, to, 1));
}

fn run_of(n: usize, c: char) -> String {
    std::iter::repeat_n(c, n).collect()
}

const SUBJECT: &str = "subject: \"STPs: what the plans say – and what they don’t\"\n";

const CASES: &[Case] = &[
    Case {
        name: "subject",
        header: "Subject",
        set: |p, n| edit(p, |t| t.replace(SUBJECT, &format!("subject: \"{}\"\n", run_of(n, 'x')))),
        location: "content/weekly/2016-12-09-plans.md:3:1",
    },
    Case {
        name: "title used as the subject",
        header: "Subject",
        set: |p, n| {
            edit(p, |t| {
                t.replace(SUBJECT, "")
                    .replace("title: \"Forty-four plans, one deadline\"", &format!("title: \"{}\"", run_of(n, 't')))
            });
        },
        location: "content/weekly/2016-12-09-plans.md:2:1",
    },
    Case {
        name: "from",
        header: "From",
        set: |p, n| config(p, "from: \"The Weekly <", &format!("from: \"{} <", run_of(n, 'f'))),
        location: "letterpress.yaml:7:5",
    },
    Case {
        name: "reply-to",
        header: "Reply-To",
        set: |p, n| config(p, "reply-to: \"Editor <", &format!("reply-to: \"{} <", run_of(n, 'r'))),
        location: "letterpress.yaml:8:5",
    },
    Case {
        name: "publication name",
        header: "List-Id",
        set: |p, n| config(p, "name: \"The Weekly\"", &format!("name: \"{}\"", run_of(n, 'w'))),
        location: "letterpress.yaml:6:5",
    },
    Case {
        name: "unsubscribe-url",
        header: "List-Unsubscribe",
        set: |p, n| {
            let url = format!("https://send.example.org/{}", run_of(n, 'u'));
            config(
                p,
                "  base-url: \"https://send.example.org\"\n",
                &format!("  base-url: \"https://send.example.org\"\n  unsubscribe-url: \"{url}\"\n"),
            );
        },
        location: "letterpress.yaml:4:3",
    },
];

/// The send fixture writing to the outbox, with the case's value `n` characters long.
fn project(case: &Case, n: usize) -> Project {
    let project = outbox_project();
    (case.set)(&project, n);
    project
}

/// The largest `n` `check` passes, found between one it passes and one it fails.
fn largest_passing(case: &Case, (mut pass, mut fail): (usize, usize)) -> usize {
    let passes = |n| project(case, n).run(&["check"]).code == 0;
    assert!(passes(pass), "{}: {pass} should pass", case.name);
    assert!(!passes(fail), "{}: `check` passes a {} of {fail} characters", case.name, case.name);
    while fail - pass > 1 {
        let mid = pass.midpoint(fail);
        if passes(mid) { pass = mid } else { fail = mid }
    }
    pass
}

/// The messages in the issue's outbox folder.
fn messages(project: &Project) -> Vec<String> {
    let dir = project.path().join("outbox").join(ISSUE);
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.map(|e| std::fs::read_to_string(e.expect("entry").path()).expect("message")).collect()
}

/// The longest line of `header` in `message`, its folded lines included.
fn longest_line(message: &str, header: &str) -> usize {
    let head = message.split("\r\n\r\n").next().unwrap_or_default();
    let mut inside = false;
    let mut longest = 0;
    for line in head.split("\r\n") {
        inside = if line.starts_with([' ', '\t']) { inside } else { line.starts_with(&format!("{header}: ")) };
        if inside {
            longest = longest.max(line.len());
        }
    }
    longest
}

#[track_caller]
fn refused(out: &Output, case: &Case, message: &str) {
    assert_eq!(out.code, 1, "{}: {}", case.name, out.stderr);
    assert!(out.stderr.contains(message), "{}: no `{message}` in:\n{}", case.name, out.stderr);
}

#[test]
fn the_longest_header_values_check_passes_are_sent_and_one_character_more_is_refused_by_both() {
    for case in CASES {
        let n = largest_passing(case, (1, 1200));

        let fits = project(case, n);
        let sent = fits.run(&["send", ISSUE, "--yes"]);
        assert_eq!(sent.code, 0, "{}: {}", case.name, sent.stderr);
        let test = fits.run(&["send", ISSUE, "--test", "editor@example.org"]);
        assert_eq!(test.code, 0, "{}: {}", case.name, test.stderr);
        let written = messages(&fits);
        assert_eq!(written.len(), 4, "{}: three readers and a test copy", case.name);
        let longest = written.iter().map(|m| longest_line(m, case.header)).max().unwrap_or_default();
        assert_eq!(longest, MAX_LINE, "{}: check's limit is the send's, to the character", case.name);
        for message in &written {
            assert!(message.split("\r\n").all(|l| l.len() <= MAX_LINE), "{}", case.name);
        }

        let over = project(case, n + 1);
        let message = format!("the `{}` header would have a line of {} characters", case.header, MAX_LINE + 1);
        let check = over.run(&["check"]);
        refused(&check, case, &format!("error: {message}"));
        refused(&check, case, &format!("--> {}", case.location));
        for args in [&["send", ISSUE, "--yes"][..], &["send", ISSUE, "--test", "editor@example.org"]] {
            refused(&over.run(args), case, &message);
        }
        assert_eq!(messages(&over).len(), 0, "{}: nothing is written", case.name);
    }
}

#[test]
fn a_subject_with_spaces_is_folded_whatever_its_length() {
    let project = outbox_project();
    let words = vec!["word"; 400].join(" ");
    edit(&project, |t| t.replace(SUBJECT, &format!("subject: \"{words}\"\n")));
    let check = project.run(&["check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    let sent = project.run(&["send", ISSUE, "--yes"]);
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    assert!(messages(&project).iter().all(|m| longest_line(m, "Subject") <= 78));
}
