//! Claims: which run is working on which journal rows, so several senders can share one send.
//!
//! Every run of the send engine has a run id ([`new_run_id`]). Its dispatcher takes `pending`
//! rows by *claiming* a page of them ([`State::claim`]), in one write transaction: the rows
//! free to it are found, and the page's `seq` range is recorded with the run's id as one row
//! of `claimed_pages`, not on each journal row (a second write of every row before its
//! in-flight mark, 10–17 % of the PostgreSQL server's CPU in a send). Pages of one issue never
//! overlap. A row is free when it is `pending`, on no page of this run or of another live one,
//! and not marked by a live run ([`free_for_claim`]); a dead run's pages give way to the page
//! that takes their rows. The in-flight mark then checks that the row's page is not another
//! run's (the claim guard, `claimed_by_another!`) and sets the row's `claimed_by`, so the
//! journal says which run took it. On PostgreSQL claims take turns under the store's write
//! lock, so two senders never take the same row.
//!
//! Unlike the row lock a per-row claim took, a page does not stop a mark already under way: a
//! run that lost its lock may mark a row in the very instant another run takes its page over.
//! Then the other run's own mark of that row is refused (the row is in flight already) and that
//! run stops, as on any refused mark. Nobody gets two copies, and the next `send --due` goes on.
//!
//! *Alive* is told by PostgreSQL itself: a run holds the session advisory lock
//! `(RUN_LOCKS, run id)` on its lock connection for as long as it runs (`send/lock.rs`), and the
//! server drops it when that session ends, `kill -9` included. A row claimed by a run whose
//! lock is gone (its pages, its marked rows) is free again, and [`State::recover`] turns only
//! such runs' `inflight` rows `uncertain` — never a live sender's. On SQLite one sender runs at
//! a time (the file lock), so every claim but the caller's own is a dead run's.

use super::super::db::{Backend, Conn, params};
use super::rows::delivery;
use super::{Delivery, State};
use crate::error::Error;

/// The first key of the two-key advisory locks that mark live runs (the second is the run id).
pub const RUN_LOCKS: i32 = 0x6c70_0004;

/// The ids of live runs on PostgreSQL: the run locks granted in this database.
macro_rules! live_runs {
    () => {
        "SELECT CAST(objid AS BIGINT) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND objsubid = 2 AND CAST(classid AS BIGINT) = 1819279364 \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    };
}
const _: () = assert!(RUN_LOCKS == 1_819_279_364, "live_runs! names RUN_LOCKS");

/// A new run id: random, positive, fits PostgreSQL's `integer` (the advisory lock's key).
pub fn new_run_id() -> Result<i64, Error> {
    let mut bytes = [0u8; 4];
    crate::entropy::fill(&mut bytes)?;
    Ok(i64::from(u32::from_le_bytes(bytes) & 0x7fff_ffff).max(1))
}

/// The predicate (on `deliveries`) of rows whose own `claimed_by` (set by an in-flight mark)
/// leaves them free for run `?2`: never marked, or marked by a run that is not alive (a row it
/// left `deferred` or `uncertain`, requeued).
fn free_for_claim(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "(claimed_by IS NULL OR claimed_by <> ?2)",
        Backend::Postgres => {
            concat!("(claimed_by IS NULL OR (claimed_by <> ?2 AND claimed_by NOT IN (", live_runs!(), ")))")
        }
    }
}

/// `run` (an SQL expression of a run id) is run `?2` or, on PostgreSQL, a live run. On SQLite
/// every other run is dead (its one sender holds the file lock).
fn held_by(backend: Backend, run: &str) -> String {
    match backend {
        Backend::Sqlite => format!("{run} = ?2"),
        Backend::Postgres => format!("({run} = ?2 OR {run} IN ({}))", live_runs!()),
    }
}

/// The predicate (on `deliveries` as `d`) of rows on a page that run `?2` or another live run
/// holds: not free to claim.
fn on_a_held_page(backend: Backend) -> String {
    format!("COALESCE({}, FALSE)", held_by(backend, page_owner!("d")))
}

/// The predicate of rows no live run holds (for recovery, which runs before its run claims).
pub(super) fn not_held(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "1 = 1",
        Backend::Postgres => concat!("(claimed_by IS NULL OR claimed_by NOT IN (", live_runs!(), "))"),
    }
}

impl State {
    /// Claim for run `run` up to `limit` `pending` rows of `issue` with `seq` above `after_seq`
    /// that no live run holds, in `seq` order, and return them. One write transaction.
    pub fn claim(&self, issue: &str, run: i64, after_seq: i64, limit: usize) -> Result<Vec<Delivery>, Error> {
        claim(&self.conn, issue, run, after_seq, limit).map_err(|e| self.error("update", e))
    }

    /// Whether run `run` still holds its run lock: false once the session that held it ended
    /// (the connection dropped, or its backend was terminated), when the server has let the
    /// lock go and other runs may take the run's claims. Always true on SQLite, whose one
    /// sender holds the file lock.
    pub fn run_alive(&self, run: i64) -> Result<bool, Error> {
        match self.conn.backend() {
            Backend::Sqlite => Ok(true),
            Backend::Postgres => self
                .conn
                .query_value(concat!("SELECT EXISTS (", live_runs!(), " AND CAST(objid AS BIGINT) = ?1)"), params![run])
                .map_err(|e| self.error("read", e)),
        }
    }

    /// The live runs' ids (PostgreSQL); on SQLite, none: its one sender holds the file lock.
    pub fn live_runs(&self) -> Result<Vec<i64>, Error> {
        match self.conn.backend() {
            Backend::Sqlite => Ok(Vec::new()),
            Backend::Postgres => {
                self.conn.query(live_runs!(), &[], |row| row.get(0)).map_err(|e| self.error("read", e))
            }
        }
    }

    /// How many of `issue`'s rows each run claimed (sent, in flight, … — every claimed row), by
    /// run id.
    pub fn claims(&self, issue: &str) -> Result<Vec<(i64, usize)>, Error> {
        // The run that marked the row, else the one whose page holds it.
        self.counts_by(issue, concat!("COALESCE(claimed_by, ", page_owner!("deliveries"), ")"))
    }
}

/// The first row free to run `?2` after `seq` `?3`: pending, its own claim free, on no held
/// page.
fn start_sql(backend: Backend) -> String {
    format!(
        "SELECT d.seq FROM deliveries d WHERE d.issue = ?1 AND d.status = 'pending' AND d.seq > ?3 AND {free}
           AND NOT {held} ORDER BY d.seq LIMIT 1",
        free = free_for_claim(backend),
        held = on_a_held_page(backend)
    )
}

/// Where the first page held (by run `?2` or a live run) after `seq` `?3` begins: a page never
/// spans another's.
fn stop_sql(backend: Backend) -> String {
    format!(
        "SELECT MIN(c.first_seq) FROM claimed_pages c WHERE c.issue = ?1 AND c.first_seq > ?3 AND {}",
        held_by(backend, "c.run")
    )
}

/// Up to `?5` rows free to run `?2` from `seq` `?3` up to (not including) `?4`, in order.
fn rows_sql(backend: Backend) -> String {
    format!(
        select_deliveries!(
            "WHERE issue = ?1 AND status = 'pending' AND seq >= ?3 AND seq < ?4 AND {} ORDER BY seq LIMIT ?5"
        ),
        free_for_claim(backend)
    )
}

fn claim(
    conn: &Conn,
    issue: &str,
    run: i64,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<Delivery>, super::super::db::DbError> {
    let backend = conn.backend();
    let (start_sql, stop_sql, rows_sql) = (start_sql(backend), stop_sql(backend), rows_sql(backend));
    let mut want = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut after = after_seq;
    let mut rows = Vec::new();
    // One write transaction (on PostgreSQL under the store's write lock, so claims take turns).
    let tx = conn.begin_write_with(super::write::RELAXED, true)?;
    while want > 0 {
        let Some(start) = conn.query_opt(&start_sql, params![issue, run, after], |row| row.get::<i64>(0))? else {
            break;
        };
        let stop: Option<i64> = conn.query_value(&stop_sql, params![issue, run, start])?;
        let stop = stop.unwrap_or(i64::MAX);
        let page = conn.query(&rows_sql, params![issue, run, start, stop, want], delivery)?;
        let Some(last) = page.last().map(|d| d.seq) else { break };
        // Pages of dead runs that overlap this one give way to it (their rows are free).
        conn.execute(
            "DELETE FROM claimed_pages WHERE issue = ?1 AND first_seq <= ?3 AND last_seq >= ?2",
            params![issue, start, last],
        )?;
        conn.execute(
            "INSERT INTO claimed_pages (issue, first_seq, last_seq, run) VALUES (?1, ?2, ?3, ?4)",
            params![issue, start, last, run],
        )?;
        want -= i64::try_from(page.len()).unwrap_or(i64::MAX);
        rows.extend(page);
        if stop == i64::MAX {
            break;
        }
        after = stop - 1;
    }
    tx.commit()?;
    Ok(rows)
}

#[cfg(test)]
mod tests;
