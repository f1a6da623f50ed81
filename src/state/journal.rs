//! The delivery journal: one send record per issue and one row per (issue, recipient).
//!
//! Enters: an issue's id (`<publication>/<slug>`) and content hash, its audience as a stream of
//! [`NewRecipient`]s, the send engine's [`Update`]s, and times read from [`crate::clock`] by the
//! caller (stored RFC 3339, to the second). Leaves: [`Delivery`] rows (paged, filtered or
//! visited one at a time), [`Counts`], [`SendRecord`]s, the recipient of an unsubscribe token
//! and the previous audience of a publication.
//!
//! The primary key `(issue, address_key)` is the idempotency key: adding the audience again on
//! a resume, or a subscriber who is on two lists, adds nothing, so nobody has two rows. Every
//! status change the engine makes goes through [`DeliveryStatus::can_become`]; `sent` is final,
//! so a bug that would deliver a message twice fails loudly instead.
//!
//! Durability: every method commits its own transaction ([`State::add_recipients`] one per
//! 10,000 rows, [`State::apply`] one per batch). The database is in WAL mode with
//! `synchronous = NORMAL`, so a committed transaction is in the WAL file, in the operating
//! system's hands, when the call returns: it survives the process being killed (`kill -9`) at
//! any instant. A power loss or an OS crash may lose the last few transactions (never corrupt
//! the file); a lost `inflight` mark could then mean a second delivery. `PRAGMA synchronous =
//! FULL` on the connection would close that gap at the cost of an fsync per commit.
//! On PostgreSQL the journal's batches (`add_recipients`, `apply`) commit with
//! `synchronous_commit = off`, the same promise: safe against letterpress being killed, the
//! last fraction of a second lost if the database server crashes.
//!
//! Errors: SQLite failures are [`Error::Io`] on the database file, as elsewhere in the state
//! store; so is a refused status change or an update of an unknown recipient, whose reason names
//! the address. Resuming with changed content without leave is an [`Error::Usage`].

/// The run whose claimed page holds the journal row `$row` (the table's name or alias), as an
/// SQL scalar, NULL when no page holds it. One key lookup: the pages of an issue never overlap,
/// so the only one that can hold the row is the last to start at or before its `seq`.
macro_rules! page_owner {
    ($row:literal) => {
        concat!(
            "(SELECT CASE WHEN p.last_seq >= ",
            $row,
            ".seq THEN p.run END FROM claimed_pages p WHERE p.issue = ",
            $row,
            ".issue AND p.first_seq <= ",
            $row,
            ".seq ORDER BY p.first_seq DESC LIMIT 1)"
        )
    };
}

/// The claim guard, in SQL: the journal row `$row` is on a page claimed by a run other than
/// `$run` (a parameter; null for a write outside any run, which no claim stops). An `inflight`
/// mark, or a suppressed page row's mark, is made only where this is false, so a sender that
/// lost its lock cannot mark a row another sender has claimed (`State::apply_for`).
macro_rules! claimed_by_another {
    ($row:literal, $run:literal) => {
        concat!("COALESCE(", page_owner!($row), " <> CAST(", $run, " AS BIGINT), FALSE)")
    };
}

/// `SELECT` of every [`Delivery`] column, in [`delivery`]'s order, followed by `$rest`.
macro_rules! select_deliveries {
    ($rest:literal) => {
        concat!(
            "SELECT issue, address_key, email, name, attrs, list, seq, status, attempts, code, reply, message_id, \
             token_id, updated_at, relay FROM deliveries ",
            $rest
        )
    };
}

mod bulk;
mod claim;
mod pipeline;
mod rows;
mod write;

use std::collections::HashSet;
use std::io;

use jiff::Timestamp;

use super::db::{Conn, DbError, FromColumn, params};

pub use claim::{RUN_LOCKS, new_run_id};
pub use pipeline::Pipeline;
pub use rows::{Counts, Delivery, DeliveryStatus, NewRecipient, Recovered, SendRecord, SendState, Update};

use super::State;
use crate::error::Error;
pub(crate) use rows::Attrs;
use rows::{delivery, send_record};
use write::{Failure, add_chunk, apply_all};

/// `SELECT` of every [`SendRecord`] column, in [`send_record`]'s order, followed by `$rest`.
macro_rules! select_sends {
    ($rest:literal) => {
        concat!("SELECT issue, content_hash, started_at, finished_at, state, note FROM sends ", $rest)
    };
}

/// How many rows one `add_recipients` must add before PostgreSQL's statistics of `deliveries`
/// are refreshed (see there).
const ANALYZE_AFTER: usize = 1_000;

impl State {
    /// How many of `issue`'s messages each relay took (`sent`, `bounced` or `uncertain` rows
    /// that name one), by relay name.
    pub fn relay_counts(&self, issue: &str) -> Result<Vec<(String, usize)>, Error> {
        self.counts_by(issue, "relay")
    }

    /// How many of `issue`'s rows hold each value of `column` (a column of `deliveries`, or an
    /// expression of its row; rows where it is `NULL` left out), in the value's order: what
    /// [`State::relay_counts`] and [`State::claims`] count.
    fn counts_by<K: FromColumn>(&self, issue: &str, column: &'static str) -> Result<Vec<(K, usize)>, Error> {
        let sql = format!(
            "SELECT {column}, COUNT(*) FROM deliveries WHERE issue = ?1 AND {column} IS NOT NULL
             GROUP BY {column} ORDER BY {column}"
        );
        self.conn
            .query(&sql, params![issue], |row| Ok((row.get::<K>(0)?, usize::try_from(row.get::<i64>(1)?).unwrap_or(0))))
            .map_err(|e| self.error("read", e))
    }

    /// The send record of `issue`, if it was ever started.
    pub fn send_record(&self, issue: &str) -> Result<Option<SendRecord>, Error> {
        read_send(&self.conn, issue).map_err(|e| self.error("read", e))
    }

    /// Start `issue`'s send: create its record (running, with `content_hash`), or for a resume
    /// set it back to running. Returns the record as it was before (`None` when new).
    ///
    /// An existing record keeps its content hash and start time; a different `content_hash` is
    /// refused with an [`Error::Usage`] naming `--allow-changed`, unless `replace_hash`, which
    /// stores the new one.
    pub fn start_send(
        &self,
        issue: &str,
        content_hash: &str,
        at: Timestamp,
        replace_hash: bool,
    ) -> Result<Option<SendRecord>, Error> {
        let run = || -> Result<Option<SendRecord>, Failure> {
            let tx = self.conn.begin(true)?;
            let before = read_send(&self.conn, issue)?;
            match &before {
                None => self.conn.execute(
                    "INSERT INTO sends (issue, content_hash, started_at, state) VALUES (?1, ?2, ?3, 'running')",
                    params![issue, content_hash, stamp(at)],
                )?,
                Some(old) if old.content_hash != content_hash && !replace_hash => {
                    return Err(Failure::Usage(format!(
                        "the content of `{issue}` changed since its send started on {}; rerun with \
                         `--allow-changed` to send the new version to the recipients not yet sent",
                        old.started_at
                    )));
                }
                Some(_) => self.conn.execute(
                    "UPDATE sends SET state = 'running', finished_at = NULL, note = NULL, content_hash = ?2
                     WHERE issue = ?1",
                    params![issue, content_hash],
                )?,
            };
            tx.commit()?;
            Ok(before)
        };
        run().map_err(|f| self.fail("update", f))
    }

    /// Record the end of a run of `issue`'s send. [`SendState::Complete`] is refused while any
    /// recipient is pending, in flight or deferred: a finished send has nobody left out.
    pub fn finish_send(&self, issue: &str, state: SendState, note: Option<&str>, at: Timestamp) -> Result<(), Error> {
        let run = || -> Result<(), Failure> {
            let tx = self.conn.begin(true)?;
            if state == SendState::Complete {
                let open: i64 = self.conn.query_value(
                    "SELECT COUNT(*) FROM deliveries WHERE issue = ?1 AND status IN ('pending', 'inflight', 'deferred')",
                    params![issue],
                )?;
                if open > 0 {
                    return Err(Failure::Refused(format!(
                        "refusing to mark the send of `{issue}` complete: {open} recipients are still pending, \
                         in flight or deferred"
                    )));
                }
            }
            let finished = (state != SendState::Running).then(|| stamp(at));
            let changed = self.conn.execute(
                "UPDATE sends SET state = ?2, note = ?3, finished_at = ?4 WHERE issue = ?1",
                params![issue, state.as_str(), note, finished],
            )?;
            if changed == 0 {
                return Err(Failure::Refused(format!("`{issue}` has no send record")));
            }
            if state == SendState::Complete {
                // Nothing is pending any more: the runs' pages have done their work.
                self.conn.execute("DELETE FROM claimed_pages WHERE issue = ?1", params![issue])?;
            }
            Ok(tx.commit()?)
        };
        run().map_err(|f| self.fail("update", f))
    }

    /// Cancel `issue`'s send, which must be `running` (its run died: the caller holds the send
    /// lock) or `stopped`: it becomes `cancelled` with `note`, rows left `inflight` by a dead
    /// run become `uncertain`, and its `pending` and `deferred` rows stay so, never to be sent.
    /// One transaction. Returns whether the send was cancelled (`false`: no such send, or it is
    /// complete or cancelled already).
    pub fn cancel_send(&self, issue: &str, note: &str, at: Timestamp) -> Result<bool, Error> {
        let run = || -> Result<bool, DbError> {
            let tx = self.conn.begin(true)?;
            let changed = self.conn.execute(
                "UPDATE sends SET state = 'cancelled', note = ?2, finished_at = ?3
                 WHERE issue = ?1 AND state IN ('running', 'stopped')",
                params![issue, note, stamp(at)],
            )?;
            if changed > 0 {
                self.conn.execute(
                    "UPDATE deliveries SET status = 'uncertain', updated_at = ?2 WHERE issue = ?1 AND status = 'inflight'",
                    params![issue, stamp(at)],
                )?;
            }
            tx.commit()?;
            Ok(changed > 0)
        };
        run().map_err(|e| self.error("update", e))
    }

    /// Every send record, oldest first.
    pub fn sends(&self) -> Result<Vec<SendRecord>, Error> {
        self.conn
            .query(select_sends!("ORDER BY started_at, issue"), &[], send_record)
            .map_err(|e| self.error("read", e))
    }

    /// Add audience members to `issue`'s journal as `pending`, in the iterator's order, with
    /// `seq` continuing after the issue's current maximum. Returns how many were new: a member
    /// already in the journal (a resume, or a second list) is left as it is.
    ///
    /// Streams: one transaction and one prepared statement per 10,000 rows, so memory does not
    /// grow with the audience and a kill loses at most the rows of the open transaction.
    pub fn add_recipients(
        &mut self,
        issue: &str,
        recipients: impl Iterator<Item = NewRecipient>,
        at: Timestamp,
    ) -> Result<usize, Error> {
        let at = stamp(at);
        let mut recipients = recipients.peekable();
        let mut added = 0;
        while recipients.peek().is_some() {
            added += add_chunk(&self.conn, issue, &mut recipients, &at).map_err(|e| self.error("update", e))?;
        }
        if added >= ANALYZE_AFTER && self.is_postgres() {
            // Fresh statistics, so that claiming a page walks the `(issue, seq)` index and stops
            // after the page: planned on the empty table's statistics, each claim scans every
            // row after the last page and sorts them (quadratic in the audience). Not for a
            // welcome or a catch-up's few newcomers: a scan of a few rows costs nothing, and
            // the statistics of the whole table would be read again on every such run. Only
            // the columns the send's statements filter and join on (a quarter of the time of
            // the whole table's; autovacuum keeps the others' up to date as usual).
            self.conn
                .batch("ANALYZE deliveries (issue, status, seq, claimed_by, address_key)")
                .map_err(|e| self.error("update", e))?;
        }
        Ok(added)
    }

    /// Prepare `issue` for a run: rows left `inflight` by a killed run become `uncertain`;
    /// `deferred` rows become `pending`; with `resend_uncertain`, `uncertain` rows (the new ones
    /// included) become `pending` too. One transaction. Rows claimed by a run that is still
    /// alive (another sender sharing the send on PostgreSQL, see `journal/claim.rs`) are left
    /// alone: its `inflight` rows are being sent, its `deferred` ones wait in its retry queue.
    pub fn recover(&self, issue: &str, resend_uncertain: bool, at: Timestamp) -> Result<Recovered, Error> {
        let unheld = format!(
            "UPDATE deliveries SET status = ?3, updated_at = ?4 WHERE issue = ?1 AND status = ?2 AND {}",
            claim::not_held(self.conn.backend())
        );
        let run = || -> Result<Recovered, DbError> {
            let tx = self.conn.begin(true)?;
            let set = |from: DeliveryStatus, to: DeliveryStatus| {
                self.conn.execute(&unheld, params![issue, from.as_str(), to.as_str(), stamp(at)])
            };
            let uncertain = set(DeliveryStatus::Inflight, DeliveryStatus::Uncertain)?;
            let mut requeued = set(DeliveryStatus::Deferred, DeliveryStatus::Pending)?;
            if resend_uncertain {
                requeued += set(DeliveryStatus::Uncertain, DeliveryStatus::Pending)?;
            }
            tx.commit()?;
            Ok(Recovered { uncertain, requeued })
        };
        run().map_err(|e| self.error("update", e))
    }

    /// Up to `limit` `pending` rows of `issue` with `seq` above `after_seq` (0 for the start),
    /// in `seq` order. Changes nothing: the engine pages through and marks rows itself.
    pub fn pending(&self, issue: &str, after_seq: i64, limit: usize) -> Result<Vec<Delivery>, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.conn
            .query(
                select_deliveries!("WHERE issue = ?1 AND status = 'pending' AND seq > ?2 ORDER BY seq LIMIT ?3"),
                params![issue, after_seq, limit],
                delivery,
            )
            .map_err(|e| self.error("read", e))
    }

    /// Apply `updates` to `issue`'s journal in order, in one transaction (the engine's group
    /// commit). Every change must be allowed by [`DeliveryStatus::can_become`]; one that is not,
    /// or one for a recipient not in the journal, fails the call and changes nothing.
    ///
    /// Returns the keys of recipients *withheld*: their `inflight` mark found the address
    /// suppressed (an unsubscribe since the audience was taken), so they were marked
    /// `suppressed` instead and must not be sent to. Checking in the same transaction as the
    /// mark means an unsubscribe committed before a recipient's mark is always honoured.
    pub fn apply(&mut self, issue: &str, updates: &[Update], at: Timestamp) -> Result<Vec<String>, Error> {
        apply_all(&self.conn, issue, updates, &stamp(at), None).map_err(|f| self.fail("update", f))
    }

    /// [`State::apply`] for the engine of run `run` (see `journal/claim.rs`): an `inflight`
    /// mark of a row that another run has claimed is refused too, and the batch with it. A run
    /// that lost its lock while its workers were busy must not send what the run that took its
    /// rows over sends, nor make that run's own mark fail.
    pub fn apply_for(
        &mut self,
        run: i64,
        issue: &str,
        updates: &[Update],
        at: Timestamp,
    ) -> Result<Vec<String>, Error> {
        apply_all(&self.conn, issue, updates, &stamp(at), Some(run)).map_err(|f| self.fail("update", f))
    }

    /// How many of `issue`'s recipients are in each status.
    pub fn counts(&self, issue: &str) -> Result<Counts, Error> {
        let rows = self
            .conn
            .query("SELECT status, COUNT(*) FROM deliveries WHERE issue = ?1 GROUP BY status", params![issue], |row| {
                Ok((row.get(0)?, row.get::<i64>(1)?))
            })
            .map_err(|e| self.error("read", e))?;
        let mut counts = Counts::default();
        for (status, n) in rows {
            counts.add(status, usize::try_from(n).unwrap_or(0));
        }
        Ok(counts)
    }

    /// `issue`'s rows in the given statuses (every row when `statuses` is empty), in `seq` order.
    pub fn deliveries(&self, issue: &str, statuses: &[DeliveryStatus]) -> Result<Vec<Delivery>, Error> {
        if statuses.is_empty() {
            let mut rows = Vec::new();
            self.for_each_delivery(issue, |d| {
                rows.push(d);
                Ok(())
            })?;
            return Ok(rows);
        }
        let wanted = DeliveryStatus::ALL.map(|s| statuses.contains(&s).then_some(s.as_str()));
        // No status index (a send would rewrite it on every commit): one pass in `seq` order.
        self.conn
            .query(
                select_deliveries!("WHERE issue = ?1 AND status IN (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ORDER BY seq"),
                params![issue, wanted[0], wanted[1], wanted[2], wanted[3], wanted[4], wanted[5], wanted[6], wanted[7]],
                delivery,
            )
            .map_err(|e| self.error("read", e))
    }

    /// Call `f` on every row of `issue` in `seq` order, a page of [`PAGE`] rows in memory at a
    /// time; stops at the first error `f` returns. `f` may use the store (no statement is open
    /// while it runs).
    pub fn for_each_delivery(
        &self,
        issue: &str,
        mut f: impl FnMut(Delivery) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut after = 0;
        loop {
            let page = self
                .conn
                .query(
                    select_deliveries!("WHERE issue = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"),
                    params![issue, after, PAGE],
                    delivery,
                )
                .map_err(|e| self.error("read", e))?;
            let full = page.len() == usize::try_from(PAGE).unwrap_or(usize::MAX);
            for row in page {
                after = row.seq;
                f(row)?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// The address and list a message with unsubscribe token `token_id` was sent to (the most
    /// recently updated row carrying it), for the unsubscribe endpoint.
    pub fn find_token(&self, token_id: &str) -> Result<Option<(String, String)>, Error> {
        self.conn
            .query_opt(
                "SELECT email, list FROM deliveries WHERE token_id = ?1 ORDER BY updated_at DESC, rowid DESC LIMIT 1",
                params![token_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(|e| self.error("read", e))
    }

    /// The most recent complete send of `issue`'s publication (the part before `/`) other than
    /// `issue`, finished before `issue`'s send started if it has one, with the keys of the
    /// addresses it was sent to; `None` when there is no such send.
    pub fn previous_audience(&self, issue: &str) -> Result<Option<(String, HashSet<String>)>, Error> {
        let publication = issue.split_once('/').map_or(issue, |(publication, _)| publication);
        let read = || -> Result<Option<(String, HashSet<String>)>, DbError> {
            let _snapshot = self.conn.begin(false)?;
            let previous: Option<String> = self.conn.query_opt(
                "SELECT issue FROM sends
                 WHERE state = 'complete' AND issue <> ?2
                   AND substr(issue, 1, length(CAST(?1 AS TEXT)) + 1) = CAST(?1 AS TEXT) || '/'
                   AND finished_at <= COALESCE((SELECT started_at FROM sends WHERE issue = ?2), finished_at)
                 ORDER BY finished_at DESC, issue DESC LIMIT 1",
                params![publication, issue],
                |row| row.get(0),
            )?;
            let Some(previous) = previous else { return Ok(None) };
            let sent = self.conn.query(
                "SELECT address_key FROM deliveries WHERE issue = ?1 AND status = 'sent'",
                params![&previous],
                |row| row.get(0),
            )?;
            Ok(Some((previous, sent.into_iter().collect())))
        };
        read().map_err(|e| self.error("read", e))
    }

    fn fail(&self, action: &'static str, failure: Failure) -> Error {
        match failure {
            Failure::Sql(e) => self.error(action, e),
            Failure::Refused(reason) => Error::io(action, &self.path, io::Error::other(reason)),
            Failure::Usage(message) => Error::usage(message),
        }
    }
}

fn read_send(conn: &Conn, issue: &str) -> Result<Option<SendRecord>, DbError> {
    conn.query_opt(select_sends!("WHERE issue = ?1"), params![issue], send_record)
}

/// Rows per page of [`State::for_each_delivery`].
const PAGE: i64 = 2_000;

/// `at` as stored: RFC 3339 in UTC, to the second.
pub(super) fn stamp(at: Timestamp) -> String {
    Timestamp::from_second(at.as_second()).unwrap_or(at).to_string()
}

#[cfg(test)]
mod tests;
