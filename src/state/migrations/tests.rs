use super::*;

/// The tables of a store at [`LATEST`], by name.
const EVERY_TABLE: [&str; 12] = [
    "bounce_events",
    "budgets",
    "claimed_pages",
    "click_counts",
    "click_issues",
    "click_links",
    "deliveries",
    "key_fingerprint",
    "sends",
    "signups",
    "suppressions",
    "welcome_queue",
];

/// The names of the schema's objects that `condition` picks, in order.
fn names(conn: &Connection, condition: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("SELECT name FROM sqlite_schema WHERE {condition} ORDER BY name")).unwrap();
    stmt.query_map([], |row| row.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

fn tables(conn: &Connection) -> Vec<String> {
    names(conn, "type = 'table'")
}

/// A new database with the first `version` migrations applied, as that version left it.
fn at_version(version: u32) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    for sql in &MIGRATIONS[..version as usize] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", version).unwrap();
    conn
}

#[test]
fn migrates_a_new_database_once() {
    let mut conn = Connection::open_in_memory().unwrap();
    assert_eq!(run(&mut conn).unwrap(), 0);
    assert_eq!(run(&mut conn).unwrap(), LATEST);
    assert_eq!(version(&conn).unwrap(), LATEST);
    assert_eq!(tables(&conn), EVERY_TABLE);
}

#[test]
fn upgrades_a_version_1_database_keeping_its_rows() {
    let mut conn = at_version(1);
    conn.execute("INSERT INTO suppressions VALUES ('a@example.org', '*', 'manual', 'cli', '2024-01-01T00:00:00Z')", [])
        .unwrap();
    assert_eq!(run(&mut conn).unwrap(), 1);
    assert_eq!(version(&conn).unwrap(), LATEST);
    assert_eq!(tables(&conn), EVERY_TABLE);
    let kept: i64 = conn.query_row("SELECT COUNT(*) FROM suppressions", [], |row| row.get(0)).unwrap();
    assert_eq!(kept, 1);
}

#[test]
fn upgrades_a_version_3_database_keeping_its_sends_and_allowing_cancelled() {
    let mut conn = at_version(3);
    conn.execute("INSERT INTO sends VALUES ('weekly/a', 'h', '2024-01-01T00:00:00Z', NULL, 'stopped', 'n')", [])
        .unwrap();
    assert_eq!(run(&mut conn).unwrap(), 3);
    let kept: String = conn.query_row("SELECT note FROM sends WHERE issue = 'weekly/a'", [], |r| r.get(0)).unwrap();
    assert_eq!(kept, "n");
    conn.execute("UPDATE sends SET state = 'cancelled'", []).unwrap();
    assert!(conn.execute("UPDATE sends SET state = 'other'", []).is_err());
}

#[test]
fn upgrades_a_version_5_journal_keeping_rows_and_rowids_and_allowing_bounced() {
    let mut conn = at_version(5);
    conn.execute(
        "INSERT INTO deliveries (rowid, issue, address_key, email, name, attrs, list, seq, status, message_id, updated_at)
         VALUES (41, 'weekly/a', 'a@x.org', 'a@x.org', '', '{}', 'w', 1, 'sent', '<m@x>', '2024-01-01T00:00:00Z')",
        [],
    )
    .unwrap();
    assert_eq!(run(&mut conn).unwrap(), 5);
    let kept: (i64, String) = conn
        .query_row("SELECT rowid, message_id FROM deliveries WHERE issue = 'weekly/a'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(kept, (41, "<m@x>".to_owned()));
    conn.execute("UPDATE deliveries SET status = 'bounced'", []).unwrap();
    assert!(conn.execute("UPDATE deliveries SET status = 'other'", []).is_err());
}

#[test]
fn upgrades_a_version_13_journal_keeping_every_column_and_the_statuses_rule() {
    let mut conn = at_version(13);
    let columns = "rowid, issue, address_key, email, name, attrs, list, seq, status, attempts, code, reply, \
                   message_id, token_id, updated_at, relay, claimed_by";
    conn.execute(
        &format!(
            "INSERT INTO deliveries ({columns}) VALUES (41, 'weekly/a', 'a@x.org', 'A@x.org', 'Ann', '{{}}', 'w', 7, \
             'bounced', 2, 550, 'no such user', '<m@x>', 'tok', '2024-01-01T00:00:00Z', 'main', 99)"
        ),
        [],
    )
    .unwrap();
    let row = |conn: &Connection| -> Vec<String> {
        conn.query_row(&format!("SELECT {columns} FROM deliveries"), [], |r| {
            (0..17).map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}"))).collect()
        })
        .unwrap()
    };
    let before = row(&conn);
    assert_eq!(run(&mut conn).unwrap(), 13);
    assert_eq!(row(&conn), before);
    assert_eq!(
        names(&conn, "type = 'index' AND tbl_name = 'deliveries'"),
        [
            "deliveries_by_address",
            "deliveries_by_message_id",
            "deliveries_by_seq",
            "deliveries_by_token",
            "sqlite_autoindex_deliveries_1"
        ]
    );
    for status in ["pending", "inflight", "sent", "failed", "deferred", "uncertain", "suppressed", "bounced"] {
        conn.execute("UPDATE deliveries SET status = ?1", [status]).unwrap();
    }
    assert!(conn.execute("UPDATE deliveries SET status = 'other'", []).is_err());
    assert!(conn.execute("UPDATE deliveries SET status = NULL", []).is_err());
}

#[test]
fn a_failing_migration_changes_nothing() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE suppressions (x TEXT);").unwrap();
    assert!(matches!(run(&mut conn), Err(Problem::Sql(_))));
    assert_eq!(version(&conn).unwrap(), 0);
    assert_eq!(tables(&conn), ["suppressions"]);
}

#[test]
fn refuses_unknown_versions() {
    for unknown in [i64::from(LATEST) + 1, -1] {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", unknown).unwrap();
        assert!(matches!(run(&mut conn), Err(Problem::Newer(v)) if v == unknown));
    }
}
