//! `bounces fetch` against a real Dovecot ([`crate::dovecot`]): the fetch module with a
//! recording sink (the state store's sink is another part of the work), and the command line's
//! `--dry-run`, wrong password and plaintext refusals.

use std::collections::HashSet;
use std::path::Path;

use letterpress::bounces::imap::{self, Mode, Report, Target};
use letterpress::bounces::{Handled, ProviderEvent, Sink};
use letterpress::config::Imap;
use letterpress::env::Env;
use letterpress::error::{Error, Result};

use crate::dovecot::{Dovecot, PASSWORD, USER};
use crate::harness::{Project, fixture_dir};

const PASSWORD_VAR: &str = "LP_TEST_IMAP_PASSWORD";
const FIXTURES: [&str; 5] = ["postfix-user-unknown", "exim-mailbox-full", "arf-complaint", "vacation", "garbage"];
const MARKER: &[u8] = b"X-Test-Unparsable";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir("bounces-fetch").join(format!("{name}.eml"))).expect("fixture")
}

/// What a sink was given, and what it answered: `Unparsable` for marked messages, `Duplicate`
/// for a message it has seen, and an error at the message numbered `fail_at` (from 1).
#[derive(Default)]
struct Recorder {
    origins: Vec<String>,
    seen: HashSet<Vec<u8>>,
    fail_at: Option<usize>,
}

impl Sink for Recorder {
    fn message(&mut self, raw: &[u8], origin: &str) -> Result<Handled> {
        if self.fail_at == Some(self.origins.len() + 1) {
            return Err(Error::usage("the test's sink failed on purpose"));
        }
        self.origins.push(origin.to_owned());
        if raw.windows(MARKER.len()).any(|w| w == MARKER) {
            return Ok(Handled::Unparsable("marked unparsable".to_owned()));
        }
        Ok(if self.seen.insert(raw.to_vec()) { Handled::Recorded(1) } else { Handled::Duplicate })
    }

    fn event(&mut self, _event: &ProviderEvent) -> Result<Handled> {
        unreachable!("IMAP gives messages only")
    }
}

fn config(url: &str, ca_file: Option<&str>) -> Imap {
    Imap {
        url: url.to_owned(),
        username: USER.to_owned(),
        password_env: PASSWORD_VAR.to_owned(),
        folder: "INBOX".to_owned(),
        done_folder: "Processed".to_owned(),
        failed_folder: "Failed".to_owned(),
        ca_file: ca_file.map(Into::into),
    }
}

fn target(url: &str, root: &Path, ca_file: Option<&str>) -> Target {
    Target::of(&config(url, ca_file), root, &Env::from_pairs([(PASSWORD_VAR, PASSWORD)])).expect("a target")
}

fn fetch(target: &Target, sink: &mut Recorder, mode: Mode) -> Result<Report> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(imap::fetch(target, sink, mode))
}

fn deliver_fixtures(server: &Dovecot) {
    for (n, name) in FIXTURES.iter().enumerate() {
        server.deliver(&format!("{n}.{name}"), &fixture(name));
    }
}

fn plain(server: &Dovecot) -> Target {
    target(&format!("imap://127.0.0.1:{}", server.imap_port), Path::new("."), None)
}

#[test]
#[ignore = "needs dovecot; run by .ci/run"]
fn taken_messages_go_to_the_done_folder_and_unreadable_ones_to_the_failed_folder() {
    let server = Dovecot::start();
    deliver_fixtures(&server);
    let mut sink = Recorder::default();
    let report = fetch(&plain(&server), &mut sink, Mode::Process).expect("fetch");
    assert_eq!(sink.origins, (1..=5).map(|uid| format!("imap:INBOX/{uid}")).collect::<Vec<_>>());
    assert_eq!(
        report,
        Report { found: 5, recorded: 4, unparsable: 1, moved_done: 4, moved_failed: 1, ..Report::default() }
    );
    assert!(server.messages("INBOX").is_empty(), "{}", server.log());
    let mut done: Vec<Vec<u8>> = FIXTURES[..4].iter().map(|n| fixture(n)).collect();
    done.sort();
    assert_eq!(server.messages("Processed"), done, "moved whole, byte for byte");
    assert_eq!(server.messages("Failed"), vec![fixture("garbage")]);

    let again = fetch(&plain(&server), &mut Recorder::default(), Mode::Process).expect("second fetch");
    assert_eq!(again, Report::default(), "nothing left to read");
}

#[test]
#[ignore = "needs dovecot; run by .ci/run"]
fn a_failure_midway_leaves_the_rest_in_place_and_the_next_run_finishes_with_duplicates_moved() {
    let server = Dovecot::start();
    deliver_fixtures(&server);
    let mut sink = Recorder { fail_at: Some(3), ..Recorder::default() };
    let error = fetch(&plain(&server), &mut sink, Mode::Process).expect_err("the sink fails");
    assert!(error.to_string().contains("failed on purpose"), "{error}");
    assert_eq!(server.messages("Processed").len(), 2, "what was taken before the failure is moved");
    assert_eq!(server.messages("INBOX").len(), 3, "the rest stays");

    // The same bounce delivered again: the sink has seen it, and it is moved all the same.
    server.deliver("again", &fixture("postfix-user-unknown"));
    sink.fail_at = None;
    let report = fetch(&plain(&server), &mut sink, Mode::Process).expect("rerun");
    assert_eq!((report.found, report.duplicate, report.unparsable), (4, 1, 1), "{report:?}");
    assert!(server.messages("INBOX").is_empty());
    assert_eq!(server.messages("Processed").len(), 5);
    assert_eq!(server.messages("Failed").len(), 1);
}

#[test]
#[ignore = "needs dovecot; run by .ci/run"]
fn a_large_mailbox_is_read_in_batches_in_uid_order() {
    let server = Dovecot::start();
    let count = imap::BATCH * 2 + 31;
    for n in 0..count {
        let raw = format!("From: a@example.org\r\nMessage-ID: <{n}@example.org>\r\nSubject: {n}\r\n\r\nbody {n}\r\n");
        server.deliver(&format!("{n:04}"), raw.as_bytes());
    }
    let mut sink = Recorder::default();
    let report = fetch(&plain(&server), &mut sink, Mode::Process).expect("fetch");
    assert_eq!((report.found, report.moved_done), (count, count));
    let uids: Vec<u32> = sink.origins.iter().map(|o| o.rsplit('/').next().unwrap().parse().unwrap()).collect();
    assert!(uids.windows(2).all(|w| w[0] < w[1]), "in UID order");
    assert_eq!(server.messages("Processed").len(), count);
}

#[test]
#[ignore = "needs dovecot; run by .ci/run"]
fn a_dry_run_reads_everything_and_changes_nothing() {
    let server = Dovecot::start();
    deliver_fixtures(&server);
    let before = server.snapshot();
    let mut sink = Recorder::default();
    let report = fetch(&plain(&server), &mut sink, Mode::DryRun).expect("dry run");
    assert_eq!((report.found, sink.origins.len(), report.moved_done, report.moved_failed), (5, 5, 0, 0));
    assert_eq!(server.snapshot(), before);
}

#[test]
#[ignore = "needs dovecot; run by .ci/run"]
fn tls_works_with_a_trusted_authority_and_fails_without_it() {
    let server = Dovecot::start();
    deliver_fixtures(&server);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("ca.pem"), &server.ca_pem).expect("ca");
    let url = format!("imaps://localhost:{}", server.imaps_port);

    let untrusted = target(&url, dir.path(), None);
    let error = fetch(&untrusted, &mut Recorder::default(), Mode::Process).expect_err("untrusted certificate");
    assert!(error.to_string().contains("TLS"), "{error}");
    assert_eq!(server.messages("INBOX").len(), 5, "nothing moved");

    let trusted = target(&url, dir.path(), Some("ca.pem"));
    let report = fetch(&trusted, &mut Recorder::default(), Mode::Process).expect("fetch over TLS");
    assert_eq!((report.moved_done, report.moved_failed), (4, 1));
}

/// The minimal project with `bounces.imap` pointing at `url`.
fn project(url: &str) -> Project {
    let project = Project::fixture("minimal");
    let config = project.read("letterpress.yaml");
    project.write(
        "letterpress.yaml",
        &format!("{config}bounces:\n  imap:\n    url: {url}\n    username: {USER}\n    password-env: {PASSWORD_VAR}\n"),
    );
    project
}

#[test]
#[ignore = "needs dovecot; run by .ci/run"]
fn the_command_line_dry_run_prints_each_message_and_changes_nothing() {
    let server = Dovecot::start();
    deliver_fixtures(&server);
    let before = server.snapshot();
    let project = project(&format!("imap://127.0.0.1:{}", server.imap_port));
    let out = project.run_env(&["bounces", "fetch", "--dry-run"], &[(PASSWORD_VAR, PASSWORD)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for uid in 1..=5 {
        assert!(out.stdout.contains(&format!("imap:INBOX/{uid}\t")), "{}", out.stdout);
    }
    assert!(out.stderr.contains("5 messages read, nothing changed"), "{}", out.stderr);
    assert_eq!(server.snapshot(), before);
    assert!(!project.path().join(".letterpress/state.db").exists(), "the store is not touched");
}

#[test]
#[ignore = "needs dovecot; run by .ci/run"]
fn a_wrong_password_is_a_clear_error_that_never_shows_the_password() {
    let server = Dovecot::start();
    deliver_fixtures(&server);
    let project = project(&format!("imap://127.0.0.1:{}", server.imap_port));
    let wrong = "wrong-pass-1234";
    let out = project.run_env(&["bounces", "fetch", "--dry-run"], &[(PASSWORD_VAR, wrong)]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(out.stderr.contains("refused the login"), "{}", out.stderr);
    assert!(out.stderr.contains("bounces.imap.username"), "{}", out.stderr);
    assert!(!out.stderr.contains(wrong) && !out.stdout.contains(wrong));
    assert_eq!(server.messages("INBOX").len(), 5);
}

#[test]
fn plaintext_imap_to_another_host_is_refused_before_connecting() {
    let project = project("imap://192.0.2.1");
    let out = project.run_env(&["bounces", "fetch"], &[(PASSWORD_VAR, "secret-pass")]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("unencrypted") && out.stderr.contains("imaps://192.0.2.1"), "{}", out.stderr);
    assert!(out.stderr.contains("letterpress.yaml:"), "located: {}", out.stderr);
    assert!(!out.stderr.contains("secret-pass"));
}

#[test]
fn a_missing_password_variable_is_named() {
    let project = project("imaps://imap.example.org");
    let out = project.run(&["bounces", "fetch", "--dry-run"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains(&format!("`{PASSWORD_VAR}` is not set")), "{}", out.stderr);
}

#[test]
fn without_a_mailbox_configured_fetch_says_how_to_add_one() {
    let project = Project::fixture("minimal");
    let out = project.run(&["bounces", "fetch"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("no `bounces.imap` mailbox"), "{}", out.stderr);
}

#[test]
fn a_second_fetch_while_one_runs_does_nothing_and_exits_4() {
    let project = project("imaps://imap.example.org");
    let state = project.path().join(".letterpress");
    std::fs::create_dir_all(&state).expect("state dir");
    let held = std::fs::File::create(state.join(imap::LOCK_FILE)).expect("lock file");
    held.try_lock().expect("the test holds the lock");
    let out = project.run_env(&["bounces", "fetch"], &[(PASSWORD_VAR, "secret-pass")]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("another `bounces fetch` is running"), "{}", out.stderr);
    assert!(!out.stderr.contains("secret-pass"));
}
