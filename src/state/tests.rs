use std::time::Instant;

use super::testing::Fresh;
use super::*;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn open(dir: &Path) -> State {
    State::open(&path_in(dir), Path::new(".letterpress/state.db")).unwrap()
}

fn invalid(result: Result<State, Error>) -> Diagnostic {
    match result {
        Err(Error::Invalid(mut diagnostics)) if diagnostics.len() == 1 => diagnostics.remove(0),
        other => panic!("expected one diagnostic, got {other:?}"),
    }
}

#[test]
fn migrations_run_once_and_data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path());
    assert!(state.suppress("a@example.org", &Scope::All, Reason::Manual, "cli", at("2024-01-01T00:00:00Z")).unwrap());
    drop(state);
    let state = open(dir.path());
    let version: u32 = state.sqlite().pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String = state.sqlite().pragma_query_value(None, "journal_mode", |row| row.get(0)).unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(state.suppressions().unwrap().len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path_in(dir.path())).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the database holds addresses");
    }
}

#[test]
fn a_second_handle_waits_for_the_first_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    first.sqlite().execute_batch("BEGIN IMMEDIATE").unwrap();
    first.suppress("a@example.org", &Scope::All, Reason::Manual, "first", at("2024-01-01T00:00:00Z")).unwrap();
    let root = dir.path().to_path_buf();
    let started = Instant::now();
    let second = std::thread::spawn(move || {
        let state = open(&root);
        state.suppress("b@example.org", &Scope::All, Reason::Manual, "second", at("2024-01-02T00:00:00Z"))
    });
    std::thread::sleep(Duration::from_millis(300));
    first.sqlite().execute_batch("COMMIT").unwrap();
    assert!(second.join().unwrap().unwrap(), "the second suppression is new");
    assert!(started.elapsed() >= Duration::from_millis(300), "the second writer waited for the lock");
    assert_eq!(first.suppressions().unwrap().len(), 2);
}

#[test]
fn processes_opening_a_new_database_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let root = dir.path().to_path_buf();
            std::thread::spawn(move || State::open(&path_in(&root), Path::new("state.db")).map(|_| ()))
        })
        .collect();
    for handle in handles {
        handle.join().unwrap().unwrap();
    }
}

#[test]
fn a_newer_schema_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(DIR)).unwrap();
    let conn = rusqlite::Connection::open(path_in(dir.path())).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let d = invalid(State::open(&path_in(dir.path()), Path::new(".letterpress/state.db")));
    assert_eq!(
        d.to_string(),
        format!(
            "error: this state database was written by a newer letterpress (schema 99)\n --> .letterpress/state.db:1:1\n  = help: upgrade letterpress or restore a backup of `.letterpress/state.db` (this letterpress knows schema {})\n",
            super::migrations::LATEST
        )
    );
}

#[test]
fn a_file_that_is_not_a_database_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(dir.path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "email,name\n".repeat(200)).unwrap();
    let d = invalid(State::open(&path, Path::new(".letterpress/state.db")));
    assert_eq!(d.code, "state/corrupt");
    assert_eq!(
        d.help.as_deref(),
        Some(
            "move it aside (e.g. `mv .letterpress/state.db .letterpress/state.db.broken`) and letterpress will create a new one; \
             the suppressions and delivery journal it held are lost unless you restore them from a backup (without the journal, a resumed send cannot tell who already received an issue)"
        )
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "email,name\n".repeat(200), "the file is left alone");
}

fn suppressing_twice_keeps_the_first_record(t: &Fresh) {
    let state = t.open();
    let list = Scope::List("weekly".to_owned());
    assert!(
        state.suppress(" Bob@Example.ORG", &list, Reason::Unsubscribed, "link", at("2024-01-01T00:00:00Z")).unwrap()
    );
    assert!(!state.suppress("bob@example.org", &list, Reason::Bounced, "dsn", at("2024-02-01T00:00:00Z")).unwrap());
    assert_eq!(
        state.suppressions().unwrap(),
        [Suppression {
            address: "bob@example.org".to_owned(),
            scope: list,
            reason: Reason::Unsubscribed,
            source: "link".to_owned(),
            created_at: at("2024-01-01T00:00:00Z"),
            note: None,
        }]
    );
}

fn a_note_is_kept_with_its_suppression_and_control_characters_are_refused(t: &Fresh) {
    let state = t.open();
    let note = Some("asked by phone, 3 March — “no more”");
    assert!(
        state
            .suppress_noted("a@example.org", &Scope::All, Reason::Manual, "cli", note, at("2024-01-01T00:00:00Z"))
            .unwrap()
    );
    assert_eq!(state.suppressions().unwrap()[0].note.as_deref(), note);
    for bad in ["two\nlines", "tab\there", "bell\u{7}", "esc\u{1b}[31m"] {
        let refused = state.suppress_noted(
            "b@example.org",
            &Scope::All,
            Reason::Manual,
            "cli",
            Some(bad),
            at("2024-01-01T00:00:00Z"),
        );
        assert!(matches!(refused, Err(Error::Usage { .. })), "{bad:?}");
    }
    assert_eq!(state.suppressions().unwrap().len(), 1, "nothing recorded for a refused note");
}

fn bad_addresses_and_list_names_are_usage_errors(t: &Fresh) {
    let state = t.open();
    let now = at("2024-01-01T00:00:00Z");
    let e = state.suppress("bob", &Scope::All, Reason::Manual, "cli", now).unwrap_err();
    assert_eq!(e.to_string(), "`bob` is not a valid address: it has no `@`");
    let e = state.suppress("b@example.org", &Scope::List("*".to_owned()), Reason::Manual, "cli", now).unwrap_err();
    assert_eq!(e.to_string(), "`*` is not a list name");
}

/// Apply `ops` (`+` suppress, `-` unsuppress; scope `*` or a slug) to a fresh database, then
/// check which of the lists `a`, `b` the address is suppressed for.
#[track_caller]
fn case(t: &Fresh, ops: &[(char, &str)], suppressed_for: &[&str]) {
    let state = t.open();
    for scope in [Scope::All, Scope::List("a".to_owned()), Scope::List("b".to_owned())] {
        state.unsuppress("x@example.org", &scope).unwrap();
    }
    let scope = |s: &str| if s == "*" { Scope::All } else { Scope::List(s.to_owned()) };
    for &(op, s) in ops {
        if op == '+' {
            state.suppress("x@example.org", &scope(s), Reason::Manual, "test", at("2024-01-01T00:00:00Z")).unwrap();
        } else {
            state.unsuppress("X@example.org", &scope(s)).unwrap();
        }
    }
    let got: Vec<_> = ["a", "b"].into_iter().filter(|l| state.is_suppressed("x@EXAMPLE.org", l).unwrap()).collect();
    assert_eq!(got, suppressed_for, "ops: {ops:?}");
    for list in ["a", "b"] {
        let set = state.suppressed_set(list).unwrap();
        assert_eq!(set.contains("x@example.org"), suppressed_for.contains(&list), "suppressed_set({list})");
    }
}

fn scopes_combine_global_and_per_list_suppressions(t: &Fresh) {
    case(t, &[], &[]);
    case(t, &[('+', "*")], &["a", "b"]);
    case(t, &[('+', "a")], &["a"]);
    case(t, &[('+', "a"), ('-', "a")], &[]);
    case(t, &[('+', "a"), ('-', "b")], &["a"]);
    case(t, &[('+', "*"), ('-', "a")], &["a", "b"]);
    case(t, &[('+', "*"), ('+', "a"), ('-', "*")], &[]);
    case(t, &[('+', "a"), ('+', "b"), ('-', "a")], &["b"]);
}

fn renaming_an_issue_moves_its_rows_in_every_table_or_none(t: &Fresh) {
    let state = t.open();
    let send = |issue: &str| {
        state
            .conn
            .execute(
                "INSERT INTO sends (issue, content_hash, started_at, state) VALUES (?1, 'h', '2024-01-01T00:00:00Z', 'complete')",
                db::params![issue],
            )
            .unwrap();
        state
            .conn
            .execute(
                "INSERT INTO deliveries (issue, address_key, email, name, attrs, list, seq, status, updated_at)
                 VALUES (?1, 'a@example.org', 'a@example.org', '', '{}', 'weekly', 1, 'sent', '2024-01-01T00:00:00Z')",
                db::params![issue],
            )
            .unwrap();
    };
    send("weekly/2016-12-09-a");
    assert_eq!(state.rename_issue("weekly/2016-12-09-a", "weekly/2016-12-09-b").unwrap(), 2);
    assert!(state.send_record("weekly/2016-12-09-a").unwrap().is_none());
    assert!(state.send_record("weekly/2016-12-09-b").unwrap().is_some());
    send("weekly/2016-12-09-c");
    let taken = state.rename_issue("weekly/2016-12-09-c", "weekly/2016-12-09-b");
    assert!(matches!(taken, Err(Error::Usage { .. })), "{taken:?}");
    assert!(state.send_record("weekly/2016-12-09-c").unwrap().is_some(), "nothing moved");
}

/// Processes starting at once against a new store all succeed; it is migrated once.
fn processes_opening_a_new_store_at_once_all_succeed(t: &Fresh) {
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let store = t.store.clone();
            std::thread::spawn(move || State::open_store(&store).map(|_| ()))
        })
        .collect();
    for handle in handles {
        handle.join().unwrap().unwrap();
    }
    assert!(t.open().suppressions().unwrap().is_empty());
}

crate::state::testing::both!(
    suppressing_twice_keeps_the_first_record,
    a_note_is_kept_with_its_suppression_and_control_characters_are_refused,
    bad_addresses_and_list_names_are_usage_errors,
    scopes_combine_global_and_per_list_suppressions,
    renaming_an_issue_moves_its_rows_in_every_table_or_none,
    processes_opening_a_new_store_at_once_all_succeed,
);

/// Every table's columns and their kinds, as `table.column kind` lines, read from a new store.
fn schema(t: &Fresh) -> Vec<String> {
    let state = t.open();
    let sql = if t.is_postgres() {
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name <> 'letterpress_schema'
           AND NOT (table_name = 'deliveries' AND column_name = 'rowid')"
    } else {
        "SELECT m.name, p.name, p.type FROM sqlite_schema m, pragma_table_info(m.name) p WHERE m.type = 'table'"
    };
    let kind = |declared: &str| match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" => "integer",
        "text" => "text",
        "blob" | "bytea" => "blob",
        other => panic!("a column type the schema test does not know: {other}"),
    };
    let mut columns = state
        .conn
        .query(sql, &[], |row| {
            Ok(format!("{}.{} {}", row.get::<String>(0)?, row.get::<String>(1)?, kind(&row.get::<String>(2)?)))
        })
        .unwrap();
    columns.sort();
    columns
}

/// The two migration lists write each table twice by hand (see `migrations.rs`): they must
/// give the same tables, columns and column kinds (PostgreSQL's `deliveries.rowid` is SQLite's
/// implicit rowid made explicit).
#[test]
#[ignore = "needs PostgreSQL; run by .ci/run"]
fn both_backends_migrate_to_the_same_tables_and_columns() {
    let sqlite = schema(&Fresh::sqlite());
    let postgres = schema(&Fresh::postgres());
    assert!(sqlite.iter().any(|c| c == "deliveries.relay text"), "{sqlite:?}");
    assert_eq!(sqlite, postgres);
}

/// The journal's indexes by name, its primary key left out.
fn journal_indexes(state: &State) -> Vec<String> {
    let sql = if state.is_postgres() {
        "SELECT CAST(indexname AS TEXT) FROM pg_indexes
         WHERE schemaname = current_schema() AND tablename = 'deliveries' AND indexname <> 'deliveries_pkey'
         ORDER BY indexname"
    } else {
        "SELECT name FROM sqlite_schema
         WHERE type = 'index' AND tbl_name = 'deliveries' AND name NOT LIKE 'sqlite_autoindex_%' ORDER BY name"
    };
    state.conn.query(sql, &[], |row| row.get::<String>(0)).unwrap()
}

/// Every index of the journal is written for every recipient added: both backends keep the
/// same ones, and PostgreSQL's explicit `rowid` has none (SQLite's is the table's own key).
#[test]
#[ignore = "needs PostgreSQL; run by .ci/run"]
fn both_backends_index_the_journal_alike() {
    let sqlite = journal_indexes(&Fresh::sqlite().open());
    assert_eq!(
        sqlite,
        ["deliveries_by_address", "deliveries_by_message_id", "deliveries_by_seq", "deliveries_by_token"]
    );
    assert_eq!(journal_indexes(&Fresh::postgres().open()), sqlite);
}

/// A PostgreSQL journal from before migration 15 loses `rowid`'s index and keeps its rows;
/// rows added later still get a `rowid` of their own.
#[test]
#[ignore = "needs PostgreSQL; run by .ci/run"]
fn upgrading_postgres_from_version_14_drops_the_rowid_index_and_keeps_the_rows() {
    let t = Fresh::postgres();
    let mut state = t.open();
    state.add_recipients("w/a", super::testing::recipients(3), super::testing::at()).unwrap();
    state
        .conn
        .batch(
            "ALTER TABLE deliveries ADD CONSTRAINT deliveries_rowid_key UNIQUE (rowid);
             DROP TABLE claimed_pages;
             UPDATE letterpress_schema SET version = 14;",
        )
        .unwrap();
    assert!(journal_indexes(&state).contains(&"deliveries_rowid_key".to_owned()));
    let mut state = t.open();
    assert!(!journal_indexes(&state).contains(&"deliveries_rowid_key".to_owned()));
    state.add_recipients("w/a", super::testing::recipients(4), super::testing::at()).unwrap();
    let rowids: Vec<i64> =
        state.conn.query("SELECT rowid FROM deliveries ORDER BY seq", &[], |row| row.get(0)).unwrap();
    assert_eq!(rowids.len(), 4);
    assert!(rowids.windows(2).all(|w| w[0] < w[1]), "{rowids:?}");
}

/// PostgreSQL compares and sorts the store's text as bytes, as SQLite does, whatever the
/// database's own collation (migration 17): a listing comes out in the same order on both,
/// here from a database whose default collation is ICU's `en-US`, which sorts punctuation before
/// digits and letters.
#[test]
#[ignore = "needs PostgreSQL; run by .ci/run"]
fn postgres_orders_text_as_sqlite_does_whatever_the_databases_collation() {
    let linguistic = Fresh::postgres_with("TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'");
    let listed = |state: &State| -> Vec<(String, Scope)> {
        for address in ["ab@example.org", "a_b@example.org", "a1b@example.org", "a-b@example.org", "a+b@example.org"] {
            for scope in [Scope::List("z-list".to_owned()), Scope::List("a1".to_owned()), Scope::All] {
                state.suppress(address, &scope, Reason::Manual, "test", super::testing::at()).unwrap();
            }
        }
        state.suppressions().unwrap().into_iter().map(|s| (s.address, s.scope)).collect()
    };
    let on_sqlite = listed(&Fresh::sqlite().open());
    assert_eq!(on_sqlite.first(), Some(&("a+b@example.org".to_owned(), Scope::All)), "{on_sqlite:?}");
    assert_eq!(listed(&linguistic.open()), on_sqlite);
}

/// Every text column of a PostgreSQL store is `COLLATE "C"`, including those of later
/// migrations.
#[test]
#[ignore = "needs PostgreSQL; run by .ci/run"]
fn every_text_column_on_postgres_compares_as_bytes() {
    let state = Fresh::postgres().open();
    let columns: Vec<(String, String, Option<String>)> = state
        .conn
        .query(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns
             WHERE table_schema = current_schema() AND data_type = 'text' ORDER BY 1, 2",
            &[],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert!(columns.len() > 60, "{columns:?}");
    let other: Vec<_> = columns.iter().filter(|(_, _, collation)| collation.as_deref() != Some("C")).collect();
    assert!(other.is_empty(), "{other:?}");
}
