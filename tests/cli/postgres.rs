//! The PostgreSQL state store end to end: `send` to the suite's SMTP server and `serve`'s
//! one-click unsubscribe with `LETTERPRESS_STATE_URL` naming a database on a throwaway cluster
//! (`src/state/testing/cluster.rs`), checked in the database itself. Ignored unless asked for:
//! they need PostgreSQL's server binaries, which `.ci/run` installs.

#[path = "../../src/state/testing/cluster.rs"]
#[allow(dead_code, reason = "shared with the unit tests, which use all of it")]
pub(crate) mod cluster;

use crate::harness::{NOW, Project};
use crate::send::{ISSUE, PASSWORD, setup};
use crate::serve::client::Server;
use crate::smtp::ServerConfig;

/// Rows of `sql` on `url`, each column as text.
pub(crate) fn rows(url: &str, sql: &str) -> Vec<Vec<String>> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect to the test database");
        let rows = client.simple_query(&sql).expect("query");
        rows.iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => {
                    Some((0..row.len()).map(|i| row.get(i).unwrap_or("NULL").to_owned()).collect())
                }
                _ => None,
            })
            .collect()
    })
    .join()
    .expect("query the test database")
}

#[test]
#[ignore = "needs PostgreSQL; run by .ci/run"]
fn a_send_journals_in_postgres_and_a_second_run_sends_nothing_twice() {
    let (project, server) = setup(ServerConfig::default(), 20);
    let url = cluster::fresh_database();
    let smtp = server.url();
    let env =
        [("LETTERPRESS_SMTP_URL", smtp.as_str()), ("LP_TEST_SMTP_PASSWORD", PASSWORD), ("LETTERPRESS_STATE_URL", &url)];
    let out = project.run_env(&["send", ISSUE, "--yes"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(server.received().len(), 23);
    assert!(!project.path().join(".letterpress/state.db").exists(), "no SQLite store beside PostgreSQL");
    let sent = rows(&url, &format!("SELECT status, COUNT(*) FROM deliveries WHERE issue = '{ISSUE}' GROUP BY status"));
    assert_eq!(sent, [vec!["sent".to_owned(), "23".to_owned()]]);
    assert_eq!(rows(&url, "SELECT state FROM sends"), [vec!["complete".to_owned()]]);
    let status = project.run_env(&["status", ISSUE, "--format", "json"], &env);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    assert_eq!(status["counts"]["sent"], 23, "{status:#}");
    let again = project.run_env(&["send", ISSUE, "--yes"], &env);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(server.received().len(), 23, "a second run sends nothing twice");
}

#[test]
fn a_remote_url_without_tls_is_refused_and_the_password_is_never_shown() {
    let project = Project::fixture("send");
    let url = "postgres://lp:hunter2@db.example.invalid/news?sslmode=disable";
    let out = project.run_env(&["status"], &[("LETTERPRESS_STATE_URL", url)]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("without TLS"), "{}", out.stderr);
    assert!(!out.stderr.contains("hunter2") && !out.stdout.contains("hunter2"), "{}", out.stderr);
}

#[test]
#[ignore = "needs PostgreSQL; run by .ci/run"]
fn serve_records_a_one_click_unsubscribe_in_postgres_and_the_next_send_skips_the_address() {
    const KEYS: (&str, &str) =
        ("LETTERPRESS_UNSUBSCRIBE_KEYS", "0707070707070707070707070707070707070707070707070707070707070707");
    let project = Project::fixture("serve");
    let url = cluster::fresh_database();
    let env = [KEYS, ("LETTERPRESS_STATE_URL", url.as_str())];
    let out = project.run_env(&["send", ISSUE, "--yes"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let link = list_unsubscribe(&project, "ruth@example.org");
    let server = Server::start(&project, &env);
    let target = link.strip_prefix("https://serve.example.org").expect("on the fixture's origin");
    let done = server.post(target, "List-Unsubscribe=One-Click", &[]);
    assert_eq!(done.status, 200, "{}", done.body);
    let recorded = rows(&url, "SELECT address, scope, reason, source, created_at FROM suppressions");
    let expected = ["ruth@example.org", "readers", "unsubscribed", "one-click", NOW];
    assert_eq!(recorded, [expected.map(str::to_owned).to_vec()]);
    assert!(!project.path().join(".letterpress/state.db").exists(), "serve kept nothing in SQLite");
    let out = project.run_env(&["send", "weekly/2016-12-16-winter", "--yes"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let next = rows(&url, "SELECT email FROM deliveries WHERE issue = 'weekly/2016-12-16-winter' ORDER BY seq");
    assert!(!next.iter().any(|r| r[0] == "ruth@example.org"), "the next send skips the address: {next:?}");
    assert!(!next.is_empty());
}

/// The https URI of the `List-Unsubscribe` header of the message `email` got from [`ISSUE`].
fn list_unsubscribe(project: &Project, email: &str) -> String {
    let dir = project.path().join("outbox").join(ISSUE);
    let path = std::fs::read_dir(&dir)
        .expect("the outbox")
        .map(|e| e.expect("an entry").path())
        .find(|p| {
            p.file_stem().and_then(|n| n.to_str()).and_then(|n| n.split_once('-')).is_some_and(|(_, to)| to == email)
        })
        .unwrap_or_else(|| panic!("no message to {email} in {}", dir.display()));
    let text = std::fs::read_to_string(path).expect("the message");
    let mut lines =
        text.split("\r\n").take_while(|l| !l.is_empty()).skip_while(|l| !l.starts_with("List-Unsubscribe:"));
    let mut value = lines.next().expect("a List-Unsubscribe header")["List-Unsubscribe:".len()..].trim().to_owned();
    value.extend(lines.take_while(|l| l.starts_with([' ', '\t'])).map(str::trim));
    value.split('<').nth(1).and_then(|v| v.split('>').next()).expect("a <URI>").to_owned()
}

#[test]
#[ignore = "needs PostgreSQL; run by .ci/run"]
fn state_migrate_copies_a_sqlite_store_into_postgres_which_then_serves_the_resume() {
    let (project, server) = setup(ServerConfig::default(), 5);
    let smtp = server.url();
    let sqlite = [("LETTERPRESS_SMTP_URL", smtp.as_str()), ("LP_TEST_SMTP_PASSWORD", PASSWORD)];
    let out = project.run_env(&["send", ISSUE, "--yes"], &sqlite);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let url = cluster::fresh_database();
    let out = project.run(&["state", "migrate", "--to", &url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("deliveries 8") && out.stdout.contains("verified"), "{}", out.stdout);
    let again = project.run(&["state", "migrate", "--to", &url]);
    assert_eq!(again.code, 2, "a non-empty target is refused: {}", again.stderr);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    let on_pg = [sqlite[0], sqlite[1], ("LETTERPRESS_STATE_URL", url.as_str())];
    let resumed = project.run_env(&["send", ISSUE, "--yes"], &on_pg);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(server.received().len(), 8, "the copied journal knows who was sent to");
    let back = project.run_env(&["state", "migrate", "--to", "copy.db"], &on_pg);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert!(project.path().join("copy.db").is_file());
}

/// Every command on the configured store (issue 14): with `LETTERPRESS_STATE_URL` set, a
/// `/confirm` through `serve` lands in PostgreSQL, and `subscribers list/count/remove/pull`,
/// `unsubscribe`, `suppressions`, `audience`, `send`, `status`, `log` and `bounces` all work on
/// that database; no SQLite file is ever created.
#[test]
#[ignore = "needs PostgreSQL; run by .ci/run"]
fn every_command_reads_and_writes_the_postgres_store() {
    const KEYS: (&str, &str) = ("LETTERPRESS_KEYS", "0707070707070707070707070707070707070707070707070707070707070707");
    const NEXT: &str = "weekly/2016-12-16-winter";
    const LIST: &str = "subscribers/readers.csv";
    let project = Project::fixture("serve");
    let url = cluster::fresh_database();
    let env = [KEYS, ("LETTERPRESS_STATE_URL", url.as_str())];
    let run = |args: &[&str]| {
        let out = project.run_env(args, &env);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        out
    };
    let csv = project.read(LIST);
    let server = Server::start(&project, &env);
    crate::signups::sign_up(&project, &server, "new@example.org", "New Reader", "192.0.2.70");
    crate::signups::sign_up(&project, &server, "gone@example.org", "Gone", "192.0.2.71");
    drop(server);
    assert_eq!(project.read(LIST), csv, "serve never writes the CSV");
    let signups = |url: &str| rows(url, "SELECT email, name, pulled_at IS NOT NULL FROM signups ORDER BY email");
    let row = |cells: &[&str]| cells.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
    assert_eq!(signups(&url), [row(&["gone@example.org", "Gone", "f"]), row(&["new@example.org", "New Reader", "f"])]);

    let listed = run(&["subscribers", "list", "readers"]).stdout;
    assert!(listed.contains("new@example.org,New Reader,active,"), "{listed}");
    let counted = run(&["subscribers", "count", "readers"]).stdout;
    assert!(counted.starts_with("readers\t5 rows\t5 active\t") && counted.contains("\t2 signed up"), "{counted}");
    let audience: serde_json::Value =
        serde_json::from_str(&run(&["audience", NEXT, "--format", "json"]).stdout).expect("json");
    assert_eq!(
        (audience["total"].as_u64(), audience["lists"][0]["signups"].as_u64()),
        (Some(5), Some(2)),
        "{audience}"
    );

    run(&["subscribers", "remove", "readers", "gone@example.org"]);
    let pulled = run(&["subscribers", "pull", "readers"]);
    assert!(pulled.stderr.contains("added `new@example.org` (subscribers/readers.csv:5)"), "{}", pulled.stderr);
    assert_eq!(signups(&url), [row(&["new@example.org", "New Reader", "t"])]);

    // The audience union's precedence on PostgreSQL: an unsubscribe after the sign-up wins.
    run(&["unsubscribe", "new@example.org"]);
    assert_eq!(rows(&url, "SELECT address FROM suppressions"), [row(&["new@example.org"])]);
    assert!(run(&["suppressions"]).stdout.contains("new@example.org"));
    run(&["send", NEXT, "--yes"]);
    let sent = rows(&url, &format!("SELECT email FROM deliveries WHERE issue = '{NEXT}' ORDER BY email"));
    let expected = ["ruth@example.org", "siobhan@example.org", "tom@example.net"];
    assert_eq!(sent, expected.map(|e| row(&[e])), "the unsubscribed sign-up is skipped, the others sent");

    let status: serde_json::Value =
        serde_json::from_str(&run(&["status", NEXT, "--format", "json"]).stdout).expect("json");
    assert_eq!(status["counts"]["sent"], 3, "{status:#}");
    let log = run(&["log", NEXT, "--format", "csv"]).stdout;
    assert_eq!(log.lines().filter(|l| l.contains("@example.")).count(), 3, "{log}");
    run(&["bounces"]);
    run(&["check"]);
    assert!(!project.path().join(".letterpress/state.db").exists(), "no SQLite store beside PostgreSQL");
}

/// No command falls back to the SQLite file when the environment names another store: each
/// one that touches the store refuses a URL that is not PostgreSQL's, in the same words.
#[test]
fn every_command_that_touches_the_store_uses_the_configured_one() {
    let project = Project::fixture("serve");
    let env = [("LETTERPRESS_STATE_URL", "mysql://lp:hunter2@db.example.invalid/news")];
    let commands: &[&[&str]] = &[
        &["subscribers", "list", "readers"],
        &["subscribers", "count"],
        &["subscribers", "export", "readers"],
        &["subscribers", "pull", "readers"],
        &["subscribers", "add", "readers", "new@example.org"],
        &["subscribers", "remove", "readers", "new@example.org"],
        &["audience", "weekly/2016-12-16-winter"],
        &["unsubscribe", "ruth@example.org"],
        &["resubscribe", "ruth@example.org"],
        &["suppressions"],
        &["bounces"],
        &["status"],
        &["send", "weekly/2016-12-16-winter", "--dry-run"],
        &["send", "weekly/2016-12-16-winter", "--cancel", "--yes"],
        &["rename", "weekly/2016-12-16-winter", "cold"],
    ];
    for args in commands {
        let out = project.run_env(args, &env);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("is not a PostgreSQL URL"), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("hunter2"), "{args:?}: {}", out.stderr);
    }
    assert!(!project.path().join(".letterpress").join("state.db").exists(), "no SQLite store was made");
}
