//! Versioned schema migrations for the state database.
//!
//! Enters: an open connection. Leaves: the schema at [`LATEST`], or why it cannot be brought
//! there. The schema version is SQLite's `PRAGMA user_version`; migration `n` (1-based) takes a
//! database from version `n - 1` to `n`. All pending migrations and the version bump run in one
//! `IMMEDIATE` transaction, so a crash or a failing migration leaves the previous version intact
//! and two processes opening a new database at once migrate it once.
//!
//! Migrations are append-only: once released, a migration's SQL never changes.

use rusqlite::{Connection, TransactionBehavior};

/// The SQL of each migration, in order.
const MIGRATIONS: &[&str] = &[
    // 1: suppressions. `address` is the duplicate key of `subscribers::address_key`; `scope` is
    // `*` for every list or a list slug; `created_at` is RFC 3339.
    "CREATE TABLE suppressions (
        address TEXT NOT NULL,
        scope TEXT NOT NULL,
        reason TEXT NOT NULL CHECK (reason IN ('unsubscribed', 'bounced', 'complained', 'manual')),
        source TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (address, scope)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX suppressions_by_scope ON suppressions (scope, address);",
    // 2: the delivery journal (`journal.rs`). `sends` holds one row per issue sent
    // (`<publication>/<slug>`) with the content hash frozen at its first run; `deliveries` one
    // row per (issue, recipient) — the primary key is the idempotency key, so nobody gets two
    // rows. `seq` is the audience order (1, 2, … per issue); `attrs` a JSON object; times RFC 3339.
    "CREATE TABLE sends (
        issue TEXT PRIMARY KEY,
        content_hash TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        state TEXT NOT NULL CHECK (state IN ('running', 'complete', 'stopped')),
        note TEXT
    ) STRICT;
    CREATE TABLE deliveries (
        issue TEXT NOT NULL,
        address_key TEXT NOT NULL,
        email TEXT NOT NULL,
        name TEXT NOT NULL,
        attrs TEXT NOT NULL,
        list TEXT NOT NULL,
        seq INTEGER NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('pending', 'inflight', 'sent', 'failed', 'deferred', 'uncertain', 'suppressed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        code INTEGER,
        reply TEXT,
        message_id TEXT,
        token_id TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (issue, address_key)
    ) STRICT;
    CREATE UNIQUE INDEX deliveries_by_seq ON deliveries (issue, seq);
    CREATE INDEX deliveries_by_status ON deliveries (issue, status, seq);
        CREATE INDEX deliveries_by_token ON deliveries (token_id) WHERE token_id IS NOT NULL;",
    // 3: a send changes every row's status twice; keeping them in a status index rewrote its
    // pages on every commit. Pages of pending rows come from the `seq` index instead.
    "DROP INDEX deliveries_by_status;",
    // 4: a send can be cancelled (`send <issue> --cancel`): its rows left are never sent.
    // SQLite cannot change a CHECK constraint, so the table is rebuilt with its rows.
    "CREATE TABLE sends_new (
        issue TEXT PRIMARY KEY,
        content_hash TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        state TEXT NOT NULL CHECK (state IN ('running', 'complete', 'stopped', 'cancelled')),
        note TEXT
    ) STRICT;
    INSERT INTO sends_new (issue, content_hash, started_at, finished_at, state, note)
        SELECT issue, content_hash, started_at, finished_at, state, note FROM sends;
    DROP TABLE sends;
    ALTER TABLE sends_new RENAME TO sends;",
    // 5: a free-text note with a suppression (`unsubscribe --note`), one line, no control characters.
    "ALTER TABLE suppressions ADD COLUMN note TEXT;",
    // 6: bounces (`bounces.rs`). A sent message can come back as a bounce later: `deliveries`
    // gets the status `bounced` (rebuilt with its rows and rowids, as SQLite cannot change a
    // CHECK constraint) and an index on `message_id` to find the row a bounce quotes. One
    // `bounce_events` row per recipient of each bounce, complaint or provider event; the unique
    // key (source, address_key) makes reading the same message twice change nothing. `issue` and
    // `seq` name the journal row when the event was attributed (`attributed` says how);
    // `address_key` is '' when no address was found.
    "CREATE TABLE deliveries_new (
        issue TEXT NOT NULL,
        address_key TEXT NOT NULL,
        email TEXT NOT NULL,
        name TEXT NOT NULL,
        attrs TEXT NOT NULL,
        list TEXT NOT NULL,
        seq INTEGER NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('pending', 'inflight', 'sent', 'failed', 'deferred', 'uncertain', 'suppressed', 'bounced')),
        attempts INTEGER NOT NULL DEFAULT 0,
        code INTEGER,
        reply TEXT,
        message_id TEXT,
        token_id TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (issue, address_key)
    ) STRICT;
    INSERT INTO deliveries_new (rowid, issue, address_key, email, name, attrs, list, seq, status, attempts, code,
            reply, message_id, token_id, updated_at)
        SELECT rowid, issue, address_key, email, name, attrs, list, seq, status, attempts, code, reply, message_id,
            token_id, updated_at FROM deliveries;
    DROP TABLE deliveries;
    ALTER TABLE deliveries_new RENAME TO deliveries;
    CREATE UNIQUE INDEX deliveries_by_seq ON deliveries (issue, seq);
    CREATE INDEX deliveries_by_token ON deliveries (token_id) WHERE token_id IS NOT NULL;
    CREATE INDEX deliveries_by_message_id ON deliveries (message_id) WHERE message_id IS NOT NULL;
    CREATE TABLE bounce_events (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        issue TEXT,
        seq INTEGER,
        address_key TEXT NOT NULL,
        address TEXT NOT NULL,
        verdict TEXT NOT NULL
            CHECK (verdict IN ('hard', 'soft', 'complaint', 'auto-reply', 'delivered', 'unknown')),
        status TEXT,
        reply INTEGER,
        diagnostic TEXT,
        reason TEXT NOT NULL,
        source TEXT NOT NULL,
        origin TEXT NOT NULL,
        provider TEXT,
        attributed TEXT,
        UNIQUE (source, address_key)
    ) STRICT;
    CREATE INDEX bounce_events_by_issue ON bounce_events (issue, verdict) WHERE issue IS NOT NULL;
    CREATE INDEX bounce_events_by_address ON bounce_events (address_key, verdict);",
    // 7: sending quotas (`budgets.rs`): messages used per relay in the current fixed window of
    // each limit (`second`, `minute`, `hour`, `day`; `start` is the window's first second since
    // the Unix epoch, UTC), shared by every process on the project. And which relay accepted
    // each message.
    "CREATE TABLE budgets (
        relay TEXT NOT NULL,
        window TEXT NOT NULL CHECK (window IN ('second', 'minute', 'hour', 'day')),
        start INTEGER NOT NULL,
        used INTEGER NOT NULL CHECK (used >= 0),
        PRIMARY KEY (relay, window)
    ) STRICT, WITHOUT ROWID;
    ALTER TABLE deliveries ADD COLUMN relay TEXT;",
    // 8: the journal rows of one address across sends, for the soft-bounce rule and for
    // attributing a provider event by its recipient (without it each bounce scanned every row).
    "CREATE INDEX deliveries_by_address ON deliveries (address_key);",
    // 12: aggregate click counts (`clicks.rs`). One `click_issues` row per issue sent with
    // `clicks: true`: `key` is the public issue key of its click tokens (hex), `sent_at` when its
    // send began (seconds since the Unix epoch). `click_links` is its link table; `click_counts`
    // the clicks per link and hour (`hour` is the hour's first second; `counted` takes a negative
    // delta when a burst's first clicks move to `filtered`). Nothing about who clicked.
    "CREATE TABLE click_issues (
        issue TEXT PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        sent_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE click_links (
        issue TEXT NOT NULL,
        idx INTEGER NOT NULL CHECK (idx >= 0),
        url TEXT NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (issue, idx)
    ) STRICT;
    CREATE TABLE click_counts (
        issue TEXT NOT NULL,
        idx INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        counted INTEGER NOT NULL,
        filtered INTEGER NOT NULL CHECK (filtered >= 0),
        PRIMARY KEY (issue, idx, hour)
    ) STRICT;",
];

/// The schema version this build writes and understands.
#[allow(clippy::cast_possible_truncation, reason = "there are a handful of migrations, not 2^32")]
pub const LATEST: u32 = MIGRATIONS.len() as u32;

/// Why the schema could not be brought to [`LATEST`].
#[derive(Debug)]
pub(super) enum Problem {
    /// The database has a schema version this build does not know (newer, or nonsense).
    Newer(i64),
    /// SQLite failed (busy past the timeout, not a database, disk full, …).
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for Problem {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sql(error)
    }
}

/// Bring the schema to [`LATEST`]; returns the version the database had before.
pub(super) fn run(conn: &mut Connection) -> Result<u32, Problem> {
    let before = version(conn)?;
    if before == LATEST {
        return Ok(before);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read again under the write lock: another process may have migrated in the meantime.
    let before = version(&tx)?;
    for sql in MIGRATIONS.iter().skip(usize::try_from(before).unwrap_or(usize::MAX)) {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", LATEST)?;
    tx.commit()?;
    Ok(before)
}

/// The schema version of the database, refusing versions this build does not know.
fn version(conn: &Connection) -> Result<u32, Problem> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    match u32::try_from(version) {
        Ok(v) if v <= LATEST => Ok(v),
        _ => Err(Problem::Newer(version)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(conn: &Connection) -> Vec<String> {
        let mut stmt = conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").unwrap();
        stmt.query_map([], |row| row.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn migrates_a_new_database_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(run(&mut conn).unwrap(), 0);
        assert_eq!(run(&mut conn).unwrap(), LATEST);
        assert_eq!(version(&conn).unwrap(), LATEST);
        assert_eq!(
            tables(&conn),
            [
                "bounce_events",
                "budgets",
                "click_counts",
                "click_issues",
                "click_links",
                "deliveries",
                "sends",
                "suppressions"
            ]
        );
    }

    #[test]
    fn upgrades_a_version_1_database_keeping_its_rows() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO suppressions VALUES ('a@example.org', '*', 'manual', 'cli', '2024-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
        assert_eq!(run(&mut conn).unwrap(), 1);
        assert_eq!(version(&conn).unwrap(), LATEST);
        assert_eq!(
            tables(&conn),
            [
                "bounce_events",
                "budgets",
                "click_counts",
                "click_issues",
                "click_links",
                "deliveries",
                "sends",
                "suppressions"
            ]
        );
        let kept: i64 = conn.query_row("SELECT COUNT(*) FROM suppressions", [], |row| row.get(0)).unwrap();
        assert_eq!(kept, 1);
    }

    #[test]
    fn upgrades_a_version_3_database_keeping_its_sends_and_allowing_cancelled() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
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
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
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
}
