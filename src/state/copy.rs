//! Copying a whole store into another (`letterpress state migrate --to …`): SQLite into
//! PostgreSQL, and back.
//!
//! Enters: two open stores, both at this letterpress's schema version (opening migrated them).
//! Leaves: how many rows each table holds on both sides after the copy, which must agree, or
//! why nothing was copied.
//!
//! Every table of the source's schema is copied, column by column by name, so a table added by
//! a later migration is copied without a change here. The source is read in one snapshot; the
//! target is written in one transaction (all or nothing) after refusing a target that holds
//! rows, unless `force`, which empties it first. SQLite's implicit `rowid` of `deliveries` is
//! PostgreSQL's explicit `rowid` column, copied both ways so "the latest row" stays the same;
//! PostgreSQL's identity sequences are moved past the copied values. Each table is read whole
//! into memory (a million journal rows take a few hundred megabytes).

use std::collections::BTreeMap;

use super::db::{Backend, Conn, DbError, Value};
use super::{State, params};
use crate::error::Error;

/// Tables that hold no data of their own: the version table, SQLite's internals.
fn is_data_table(name: &str) -> bool {
    name != "letterpress_schema" && !name.starts_with("sqlite_")
}

fn tables(conn: &Conn) -> Result<Vec<String>, DbError> {
    let sql = match conn.backend() {
        Backend::Sqlite => "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        }
    };
    Ok(conn.query(sql, &[], |row| row.get::<String>(0))?.into_iter().filter(|t| is_data_table(t)).collect())
}

/// The columns of `table`, in order; on SQLite, with `rowid` first for a rowid table that has
/// no column of that name.
fn columns(conn: &Conn, table: &str) -> Result<Vec<String>, DbError> {
    match conn.backend() {
        Backend::Sqlite => {
            let mut names: Vec<String> =
                conn.query("SELECT name FROM pragma_table_info(?1) ORDER BY cid", params![table], |row| row.get(0))?;
            let without_rowid: bool = conn.query_value(
                "SELECT sql LIKE '%WITHOUT ROWID%' FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                params![table],
            )?;
            if !without_rowid && !names.iter().any(|n| n == "rowid") {
                names.insert(0, "rowid".to_owned());
            }
            Ok(names)
        }
        Backend::Postgres => conn.query(
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position",
            params![table],
            |row| row.get(0),
        ),
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn count(conn: &Conn, table: &str) -> Result<u64, DbError> {
    conn.query_value(&format!("SELECT COUNT(*) FROM {}", quote(table)), &[])
}

/// Why a copy did not happen.
enum Refusal {
    Db(DbError, bool),
    NotEmpty(String, u64),
    Missing(String),
    Mismatch(String, u64, u64),
}

impl State {
    /// Copy every row of this store into `target` (see the module documentation). Returns each
    /// table's row count, verified equal on both sides.
    pub fn copy_into(&self, target: &State, force: bool) -> Result<BTreeMap<String, u64>, Error> {
        self.copy(target, force).map_err(|refusal| match refusal {
            Refusal::Db(e, on_target) if on_target => target.error("copy the state store into", e),
            Refusal::Db(e, _) => self.error("copy the state store from", e),
            Refusal::NotEmpty(table, n) => Error::usage(format!(
                "`{}` is not empty (its table `{table}` holds {n} rows); copy into an empty store, or pass \
                 `--force` to replace everything in it",
                target.shown.display()
            )),
            Refusal::Missing(table) => Error::usage(format!(
                "`{}` has no table `{table}`; update letterpress where the target was created",
                target.shown.display()
            )),
            Refusal::Mismatch(table, from, to) => Error::io(
                "verify the copy in",
                &target.shown,
                std::io::Error::other(format!("table `{table}` has {from} rows in the source but {to} in the copy")),
            ),
        })
    }

    fn copy(&self, target: &State, force: bool) -> Result<BTreeMap<String, u64>, Refusal> {
        let (from, to) = (&self.conn, &target.conn);
        let src = |e| Refusal::Db(e, false);
        let dst = |e| Refusal::Db(e, true);
        let snapshot = from.begin(false).map_err(src)?;
        let names = tables(from).map_err(src)?;
        let present = tables(to).map_err(dst)?;
        if let Some(missing) = names.iter().find(|t| !present.contains(t)) {
            return Err(Refusal::Missing(missing.clone()));
        }
        let tx = to.begin(true).map_err(dst)?;
        for table in &present {
            let n = count(to, table).map_err(dst)?;
            if n > 0 && !force {
                return Err(Refusal::NotEmpty(table.clone(), n));
            }
            to.execute(&format!("DELETE FROM {}", quote(table)), &[]).map_err(dst)?;
        }
        let mut counts = BTreeMap::new();
        for table in &names {
            let theirs = columns(to, table).map_err(dst)?;
            let cols: Vec<String> =
                columns(from, table).map_err(src)?.into_iter().filter(|c| theirs.contains(c)).collect();
            let list = cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
            let rows = from
                .query(&format!("SELECT {list} FROM {}", quote(table)), &[], |row| {
                    (0..cols.len()).map(|i| row.get::<Value>(i)).collect::<Result<Vec<_>, _>>()
                })
                .map_err(src)?;
            let slots = (1..=cols.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
            let insert = format!("INSERT INTO {} ({list}) VALUES ({slots})", quote(table));
            for row in &rows {
                to.execute(&insert, row).map_err(dst)?;
            }
            counts.insert(table.clone(), u64::try_from(rows.len()).unwrap_or(u64::MAX));
        }
        if to.backend() == Backend::Postgres {
            let identities: Vec<(String, String)> = to
                .query(
                    "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) FROM information_schema.columns
                     WHERE table_schema = current_schema() AND is_identity = 'YES'",
                    &[],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .map_err(dst)?;
            for (table, column) in identities {
                let (t, c) = (quote(&table), quote(&column));
                to.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence(CAST(?1 AS TEXT), CAST(?2 AS TEXT)),
                                       COALESCE((SELECT MAX({c}) FROM {t}), 0) + 1, false)"
                    ),
                    params![&t, &column],
                )
                .map_err(dst)?;
            }
        }
        tx.commit().map_err(dst)?;
        drop(snapshot);
        for (table, &n) in &counts {
            let copied = count(to, table).map_err(dst)?;
            if copied != n {
                return Err(Refusal::Mismatch(table.clone(), n, copied));
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::Fresh;
    use crate::state::{DeliveryStatus, NewEvent};
    use crate::state::{NewRecipient, Reason, Scope, Update};

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    /// A store with a row in every table.
    fn filled(t: &Fresh) -> State {
        let mut state = t.open();
        let now = at("2024-03-01T09:00:00Z");
        state.suppress("gone@x.org", &Scope::All, Reason::Bounced, "dsn", now).unwrap();
        state.start_send("weekly/a", "h", now, false).unwrap();
        let people = ["a@x.org", "b@x.org"].map(|k| NewRecipient {
            address_key: k.to_owned(),
            email: k.to_owned(),
            name: String::new(),
            attrs: BTreeMap::from([("plan".to_owned(), "pro".to_owned())]),
            list: "news".to_owned(),
            token_id: Some(format!("tok-{k}")),
            message_id: None,
        });
        state.add_recipients("weekly/a", people.into_iter(), now).unwrap();
        let sent = |k: &str, s| Update {
            address_key: k.to_owned(),
            status: s,
            code: Some(250),
            reply: Some("ok".to_owned()),
            message_id: Some(format!("<{k}>")),
            token_id: None,
            attempted: true,
            relay: Some("default".to_owned()),
        };
        state
            .apply("weekly/a", &[sent("a@x.org", DeliveryStatus::Inflight), sent("a@x.org", DeliveryStatus::Sent)], now)
            .unwrap();
        let event = NewEvent {
            at: now,
            row: state.row_by_seq("weekly/a", 1).unwrap(),
            attributed: Some("message-id"),
            address_key: "a@x.org".to_owned(),
            address: "a@x.org".to_owned(),
            verdict: "soft",
            status: Some("4.2.2".to_owned()),
            reply: Some(452),
            diagnostic: None,
            reason: "full".to_owned(),
            source: "<bounce-1>".to_owned(),
            origin: "test".to_owned(),
            provider: None,
        };
        state.record_bounce_event(&event).unwrap();
        let limits = [crate::state::budgets::Limit { window: crate::state::budgets::Window::Day, max: 10 }];
        state.reserve("main", &limits, 3, now).unwrap();
        state
    }

    fn check_copy(source: &State, target: State) {
        let counts = source.copy_into(&target, false).unwrap();
        let expected = [("bounce_events", 1), ("budgets", 1), ("deliveries", 2), ("sends", 1), ("suppressions", 1)];
        for (table, n) in expected {
            assert_eq!(counts.get(table), Some(&n), "{table}: {counts:?}");
        }
        assert_eq!(target.deliveries("weekly/a", &[]).unwrap(), source.deliveries("weekly/a", &[]).unwrap());
        assert_eq!(target.suppressions().unwrap(), source.suppressions().unwrap());
        assert_eq!(
            target.bounce_events(&crate::state::EventFilter::default()).unwrap(),
            source.bounce_events(&crate::state::EventFilter::default()).unwrap()
        );
        assert_eq!(target.find_token("tok-b@x.org").unwrap(), Some(("b@x.org".to_owned(), "news".to_owned())));
        let again = source.copy_into(&target, false).unwrap_err().to_string();
        assert!(again.contains("is not empty") && again.contains("--force"), "{again}");
        source.copy_into(&target, true).unwrap();
        // New rows after the copy get fresh ids (the identity sequences moved on).
        let mut target = target;
        target.add_recipients("weekly/a", std::iter::empty(), at("2024-03-02T00:00:00Z")).unwrap();
        assert_eq!(target.counts("weekly/a").unwrap().total, 2);
    }

    #[test]
    fn sqlite_copies_into_sqlite_every_table_verified() {
        check_copy(&filled(&Fresh::sqlite()), Fresh::sqlite().open());
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sqlite_copies_into_postgres_and_back() {
        let (postgres, back) = (Fresh::postgres(), Fresh::sqlite());
        check_copy(&filled(&Fresh::sqlite()), postgres.open());
        check_copy(&postgres.open(), back.open());
    }
}
