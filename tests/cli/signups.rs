//! Sign-ups in the state store (issue 14): a confirmation through a real `serve` is stored, not
//! written to the CSV, and every reader of the audience sees it; `subscribers pull` writes it
//! into the CSV once; `subscribers remove` removes it; keys that differ from the store's are
//! refused; `state backup` during a send is a consistent store.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::Stdio;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use crate::harness::{Output, Project};
use crate::serve::client::{Running, Server};
use crate::serve::{confirmations, outbox, target};
use crate::smtp::{Event, ServerConfig, SmtpServer};

const KEYS: &str = "LETTERPRESS_KEYS";
const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";
const OTHER_KEY: &str = "0808080808080808080808080808080808080808080808080808080808080808";
const ISSUE: &str = "weekly/2016-12-09-plans";
const NEXT: &str = "weekly/2016-12-16-winter";
const LIST: &str = "subscribers/readers.csv";

fn run(project: &Project, args: &[&str]) -> Output {
    let out = project.run_env(args, &[(KEYS, KEY)]);
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    out
}

/// Sign `email` up to `readers` through `server` and follow the confirmation link.
pub fn sign_up(project: &Project, server: &Server, email: &str, name: &str, client: &str) {
    let form = format!("email={}&name={}&list=readers&website=", email.replace('@', "%40"), name.replace(' ', "+"));
    let asked = server.post("/subscribe", &form, &[&format!("X-Forwarded-For: {client}")]);
    assert_eq!(asked.status, 200, "{}", asked.body);
    let link = confirmations(project).into_iter().find(|m| m.0 == email).expect("a confirmation mail").2;
    let confirmed = server.get(target(&link));
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert!(confirmed.body.contains("You are subscribed"), "{}", confirmed.body);
}

/// The rows of the sign-ups table: (email, name, pulled).
fn stored(project: &Project) -> Vec<(String, String, bool)> {
    let db = rusqlite::Connection::open(project.path().join(".letterpress/state.db")).expect("the store");
    let mut stmt = db.prepare("SELECT email, name, pulled_at IS NOT NULL FROM signups ORDER BY email").expect("sql");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).expect("rows").map(Result::unwrap).collect()
}

fn lines_with(text: &str, needle: &str) -> Vec<String> {
    text.lines().filter(|l| l.contains(needle)).map(str::to_owned).collect()
}

#[test]
fn a_confirmed_sign_up_is_stored_not_written_and_the_audience_lists_and_send_include_it() {
    let project = Project::fixture("serve");
    let csv = project.read(LIST);
    let server = Server::start(&project, &[(KEYS, KEY)]);
    sign_up(&project, &server, "new@example.org", "New Reader", "192.0.2.50");
    drop(server);

    assert_eq!(project.read(LIST), csv, "the CSV is the editors': serve never writes it");
    assert_eq!(stored(&project), [("new@example.org".to_owned(), "New Reader".to_owned(), false)]);

    let listed = run(&project, &["subscribers", "list", "readers"]).stdout;
    assert_eq!(lines_with(&listed, "new@example.org"), ["new@example.org,New Reader,active,"]);
    let exported = run(&project, &["subscribers", "export", "readers"]).stdout;
    assert_eq!(lines_with(&exported, "new@example.org").len(), 1, "{exported}");
    let counted = run(&project, &["subscribers", "count", "readers"]).stdout;
    assert!(
        counted.starts_with("readers\t4 rows\t4 active\t") && counted.trim_end().ends_with("\t1 signed up"),
        "{counted}"
    );
    let audience = run(&project, &["audience", NEXT, "--format", "json"]).stdout;
    let audience: serde_json::Value = serde_json::from_str(&audience).expect("json");
    assert_eq!(
        (audience["total"].as_u64(), audience["lists"][0]["signups"].as_u64()),
        (Some(4), Some(1)),
        "{audience}"
    );

    run(&project, &["send", NEXT, "--yes"]);
    let sent: BTreeSet<String> = outbox(&project, NEXT).into_keys().collect();
    assert!(sent.contains("new@example.org"), "the send includes the sign-up: {sent:?}");
    assert_eq!(sent.len(), 4);
}

#[test]
fn pull_writes_each_sign_up_into_the_csv_once_and_remove_takes_one_out_of_the_store() {
    let project = Project::fixture("serve");
    let server = Server::start(&project, &[(KEYS, KEY)]);
    sign_up(&project, &server, "new@example.org", "New Reader", "192.0.2.60");
    sign_up(&project, &server, "gone@example.org", "Gone", "192.0.2.61");
    drop(server);

    let removed = run(&project, &["subscribers", "remove", "readers", "gone@example.org"]);
    assert!(removed.stderr.contains("removed the sign-up of `gone@example.org` to `readers`"), "{}", removed.stderr);
    let listed = run(&project, &["subscribers", "list", "readers"]).stdout;
    assert!(!listed.contains("gone@example.org"), "{listed}");
    let again = project.run_env(&["subscribers", "remove", "readers", "gone@example.org"], &[(KEYS, KEY)]);
    assert_eq!(again.code, 2, "{}", again.stderr);

    let before = run(&project, &["subscribers", "export", "readers"]).stdout;
    let first = run(&project, &["subscribers", "pull", "readers"]);
    assert!(first.stderr.contains("added `new@example.org` (subscribers/readers.csv:5)"), "{}", first.stderr);
    let csv = project.read(LIST);
    assert_eq!(lines_with(&csv, "new@example.org"), ["new@example.org,New Reader,active,"]);
    assert_eq!(stored(&project), [("new@example.org".to_owned(), "New Reader".to_owned(), true)]);

    let second = run(&project, &["subscribers", "pull", "readers"]);
    assert!(second.stderr.contains("pulled 0 sign-ups"), "{}", second.stderr);
    assert_eq!(project.read(LIST), csv, "a second pull adds nothing");
    assert_eq!(run(&project, &["subscribers", "export", "readers"]).stdout, before, "a pull changes no audience");
    let listed = run(&project, &["subscribers", "list", "readers"]).stdout;
    assert_eq!(lines_with(&listed, "new@example.org").len(), 1, "{listed}");
}

#[test]
fn a_host_whose_keys_differ_from_the_stores_refuses_to_send_or_serve_and_says_how_to_fix_it() {
    let project = Project::fixture("serve");
    run(&project, &["send", ISSUE, "--yes"]);
    let exported = run(&project, &["keys", "export"]);
    assert_eq!(exported.stdout, format!("{KEY}\n"));
    assert!(!exported.stderr.contains(KEY), "the keys go to standard output only");

    for args in [&["send", NEXT, "--yes"][..], &["serve", "--bind", "127.0.0.1:0"][..]] {
        let refused = project.run_env(args, &[(KEYS, OTHER_KEY)]);
        assert_eq!(refused.code, 1, "{args:?}: {}", refused.stderr);
        assert!(refused.stderr.contains("is not the one the state store has seen"), "{}", refused.stderr);
        assert!(refused.stderr.contains("letterpress keys export"), "{}", refused.stderr);
        assert!(!refused.stderr.contains(KEY) && !refused.stderr.contains(OTHER_KEY), "{}", refused.stderr);
    }
    assert!(!project.path().join("outbox").join(NEXT).exists(), "nothing was sent with the other key");

    // The exported value works on another host; so does the variable's older name.
    let out = project.run_env(&["send", NEXT, "--yes"], &[("LETTERPRESS_UNSUBSCRIBE_KEYS", exported.stdout.trim())]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// A gate the SMTP server's fault function waits at, so a send is held mid-way while the test
/// acts, with no timing involved: `held` counts messages waiting, `open` lets them through.
#[derive(Default)]
struct Gate {
    state: Mutex<(usize, bool)>,
    changed: Condvar,
}

impl Gate {
    fn hold(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 += 1;
        self.changed.notify_all();
        let _ = self.changed.wait_timeout_while(state, Duration::from_secs(60), |s| !s.1);
    }

    fn wait_held(&self) {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (state, _) = self
            .changed
            .wait_timeout_while(state, Duration::from_secs(120), |s| s.0 == 0)
            .unwrap_or_else(PoisonError::into_inner);
        assert!(state.0 > 0, "the send reached the gate");
    }

    fn open(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.changed.notify_all();
    }
}

#[test]
fn a_backup_taken_during_a_send_is_a_consistent_store() {
    let gate = Arc::new(Gate::default());
    let held = Arc::clone(&gate);
    let smtp = SmtpServer::start(ServerConfig::default().fault(move |event| {
        if let Event::EndOfData { global_message_no, .. } = event
            && *global_message_no > 2
        {
            held.hold();
        }
        None
    }));
    let project = Project::fixture("serve");
    let mut list = project.read(LIST);
    for i in 0..40 {
        let _ = writeln!(list, "reader{i:03}@example.org,Reader {i},,Somewhere");
    }
    project.write(LIST, &list);
    let mut sending = Running(
        project
            .command(&["send", NEXT, "--yes"])
            .env(KEYS, KEY)
            .env("LETTERPRESS_SMTP_URL", smtp.url())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the send"),
    );
    gate.wait_held();
    let backup = run(&project, &["state", "backup", "backups/state.db"]);
    assert!(backup.stderr.contains("backed up `.letterpress/state.db` to `backups/state.db`"), "{}", backup.stderr);
    gate.open();
    assert!(sending.0.wait().expect("the send").success(), "the send completes");

    let copy = rusqlite::Connection::open(project.path().join("backups/state.db")).expect("the backup");
    let check: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("check");
    assert_eq!(check, "ok");
    let (rows, sent): (i64, i64) = copy
        .query_row("SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'sent') FROM deliveries", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("counts");
    assert_eq!(rows, 43, "every recipient's row, as the send wrote them before it began sending");
    assert!(sent < rows, "taken while the send was held: {sent} of {rows} sent");
    let state: String = copy.query_row("SELECT state FROM sends", [], |r| r.get(0)).expect("the send");
    assert_eq!(state, "running");
    let after = run(&project, &["status", NEXT]);
    assert!(after.code == 0, "{}", after.stderr);
}

#[test]
fn a_list_with_only_sign_ups_and_no_file_yet_is_counted_listed_and_sent_to() {
    let project = Project::fixture("serve");
    let config = project.read("letterpress.yaml").replacen("lists: [readers]", "lists: [readers, fresh]", 1).replacen(
        "lists:\n  - slug: readers",
        "lists:\n  - slug: fresh\n    name: \"Fresh\"\n  - slug: readers",
        1,
    );
    project.write("letterpress.yaml", &config);
    let server = Server::start(&project, &[(KEYS, KEY)]);
    let form = "email=first%40example.org&list=fresh&website=";
    assert_eq!(server.post("/subscribe", form, &["X-Forwarded-For: 192.0.2.70"]).status, 200);
    let link = confirmations(&project).into_iter().find(|m| m.0 == "first@example.org").expect("a mail").2;
    assert_eq!(server.get(target(&link)).status, 200);
    drop(server);
    assert!(!project.path().join("subscribers/fresh.csv").exists());

    let counted = run(&project, &["subscribers", "count", "fresh"]).stdout;
    assert_eq!(
        counted,
        "fresh\t1 rows\t1 active\t0 suppressed\t0 unsubscribed\t0 bounced\t0 pending\t0 invalid\t1 signed up\n"
    );
    let listed = run(&project, &["subscribers", "list", "fresh"]).stdout;
    assert_eq!(listed, format!("email,name,status,subscribed_at\nfirst@example.org,,active,{}\n", crate::harness::NOW));
    run(&project, &["send", NEXT, "--yes"]);
    assert!(outbox(&project, NEXT).contains_key("first@example.org"));
}
