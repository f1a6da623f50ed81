//! Bounce events in the state store: one row per recipient of each bounce, complaint or
//! provider event, recorded once; the journal rows they answer marked `bounced`; and what
//! attribution and the soft-bounce rule ask of the journal.
//!
//! Enters: [`NewEvent`]s built by [`crate::bounces`], journal lookups by return-path row,
//! `Message-ID`, unsubscribe token id or publication. Leaves: whether an event was new,
//! [`JournalRow`]s, [`BounceEvent`]s and per-send [`BounceCounts`].
//!
//! Exactly once: the unique key `(source, address_key)` (source: the bounce's `Message-ID`, a
//! digest of a message without one, or the provider's event id) makes recording an event again
//! a no-op; [`State::atomically`] runs the events, the journal marks and the suppressions of
//! one message in one transaction, so a process killed at any instant left either all of a
//! message's effects or none.

use super::db::{DbError, Row, params};
use super::{Stamp, State};
use crate::error::Error;
use jiff::Timestamp;

/// One event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// When it was recorded (or happened, by the provider's clock).
    pub at: Timestamp,
    /// The journal row it was attributed to, if any.
    pub row: Option<JournalRow>,
    /// How it was attributed (`return-path`, `message-id`, `list-unsubscribe`, `list-id`).
    pub attributed: Option<&'static str>,
    /// The address's duplicate key; empty when no address was found.
    pub address_key: String,
    /// The address as reported (or as the journal has it).
    pub address: String,
    /// `hard`, `soft`, `complaint`, `auto-reply`, `delivered` or `unknown`.
    pub verdict: &'static str,
    /// The enhanced status code.
    pub status: Option<String>,
    /// The SMTP reply code.
    pub reply: Option<u16>,
    /// The diagnostic text.
    pub diagnostic: Option<String>,
    /// A short reason word.
    pub reason: String,
    /// What makes it unique with the address: the bounce's `Message-ID`, `sha256:<hex>` of a
    /// message without one, or `<provider>:<event id>`.
    pub source: String,
    /// Where it was read (a file path, `imap:INBOX/42`, `webhook:ses`).
    pub origin: String,
    /// The provider of a webhook event.
    pub provider: Option<&'static str>,
}

/// A journal row a bounce answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRow {
    /// The issue, `<publication>/<slug>`.
    pub issue: String,
    /// The row's `seq`.
    pub seq: i64,
    /// The recipient's duplicate key.
    pub address_key: String,
    /// The recipient's address as sent to.
    pub email: String,
}

/// A recorded event, as `bounces` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BounceEvent {
    /// When it was recorded.
    pub at: Timestamp,
    /// The send it was attributed to.
    pub send: Option<String>,
    /// The journal row's `seq`.
    pub seq: Option<i64>,
    /// The address.
    pub address: String,
    /// The verdict word.
    pub verdict: String,
    /// The enhanced status code.
    pub status: Option<String>,
    /// The SMTP reply code.
    pub reply: Option<u16>,
    /// The diagnostic text.
    pub diagnostic: Option<String>,
    /// The reason word.
    pub reason: String,
    /// The bounce's `Message-ID` or the provider's event id.
    pub source: String,
    /// Where it was read.
    pub origin: String,
    /// The provider of a webhook event.
    pub provider: Option<String>,
    /// How it was attributed to the send.
    pub attributed: Option<String>,
}

/// Which events [`State::bounce_events`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this send's.
    pub send: Option<String>,
    /// Only this verdict's.
    pub verdict: Option<String>,
    /// Only those recorded at or after this time.
    pub since: Option<Timestamp>,
}

/// One send's bounce figures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BounceCounts {
    /// The send.
    pub send: String,
    /// Messages it delivered to the relay (`sent` and `bounced` rows).
    pub delivered: u32,
    /// Recipients with a hard bounce.
    pub hard: u32,
    /// Recipients with a soft bounce (a delay warning is none).
    pub soft: u32,
    /// Recipients who complained.
    pub complaints: u32,
}

impl BounceCounts {
    /// Bounced recipients (hard or soft) per delivered message.
    pub fn bounce_rate(&self) -> f64 {
        if self.delivered == 0 { 0.0 } else { f64::from(self.hard + self.soft) / f64::from(self.delivered) }
    }

    /// Complaining recipients per delivered message.
    pub fn complaint_rate(&self) -> f64 {
        if self.delivered == 0 { 0.0 } else { f64::from(self.complaints) / f64::from(self.delivered) }
    }
}

const ROW: &str = "SELECT issue, seq, address_key, email FROM deliveries ";

fn journal_row(row: &Row<'_>) -> Result<JournalRow, DbError> {
    Ok(JournalRow { issue: row.get(0)?, seq: row.get(1)?, address_key: row.get(2)?, email: row.get(3)? })
}

impl State {
    /// Run `f` in one `IMMEDIATE` transaction: committed when it returns `Ok`, rolled back
    /// otherwise. `f` must not call methods that open their own transaction.
    pub fn atomically<T>(&self, f: impl FnOnce(&State) -> Result<T, Error>) -> Result<T, Error> {
        let tx = self.conn.begin(true).map_err(|e| self.error("update", e))?;
        let value = f(self)?;
        tx.commit().map_err(|e| self.error("update", e))?;
        Ok(value)
    }

    /// Record `event`; returns whether it is new (`false`: this source and address were
    /// recorded before, and nothing changed).
    pub fn record_bounce_event(&self, event: &NewEvent) -> Result<bool, Error> {
        let row = event.row.as_ref();
        let added = self
            .conn
            .execute(
                "INSERT INTO bounce_events (at, issue, seq, address_key, address, verdict, status, reply, diagnostic,
                     reason, source, origin, provider, attributed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (source, address_key) DO NOTHING",
                params![
                    super::journal::stamp(event.at),
                    row.map(|r| &r.issue),
                    row.map(|r| r.seq),
                    &event.address_key,
                    &event.address,
                    event.verdict,
                    event.status.as_deref(),
                    event.reply,
                    event.diagnostic.as_deref(),
                    &event.reason,
                    &event.source,
                    &event.origin,
                    event.provider,
                    event.attributed,
                ],
            )
            .map_err(|e| self.error("update", e))?;
        Ok(added == 1)
    }

    /// Whether any event from `source` was recorded.
    pub fn bounce_source_seen(&self, source: &str) -> Result<bool, Error> {
        self.conn
            .query_opt("SELECT 1 FROM bounce_events WHERE source = ?1 LIMIT 1", params![source], |_| Ok(()))
            .map(|found| found.is_some())
            .map_err(|e| self.error("read", e))
    }

    /// Mark `row` `bounced` (from `sent` or `uncertain`: the relay took it). Its `reply` becomes
    /// the log of both, `sent: <the relay's reply>; bounced: <reply>`, and `code` the bounce's
    /// reply code when it has one.
    /// Returns whether the row changed.
    pub fn mark_bounced(&self, row: &JournalRow, code: Option<u16>, reply: &str, at: Timestamp) -> Result<bool, Error> {
        self.conn
            .execute(
                "UPDATE deliveries SET status = 'bounced', code = COALESCE(?3, code),
                     reply = 'sent: ' || COALESCE(reply, '') || '; bounced: ' || CAST(?4 AS TEXT), updated_at = ?5
                 WHERE issue = ?1 AND address_key = ?2 AND status IN ('sent', 'uncertain')",
                params![&row.issue, &row.address_key, code, reply, super::journal::stamp(at)],
            )
            .map(|changed| changed == 1)
            .map_err(|e| self.error("update", e))
    }

    /// The journal row `seq` of `issue`.
    pub fn row_by_seq(&self, issue: &str, seq: i64) -> Result<Option<JournalRow>, Error> {
        self.conn
            .query_opt(&format!("{ROW} WHERE issue = ?1 AND seq = ?2"), params![issue, seq], journal_row)
            .map_err(|e| self.error("read", e))
    }

    /// The journal row whose message had `message_id` (with or without angle brackets), once
    /// it was tried: a row's Message-ID is stored when the recipient joins the journal, and a
    /// report quoting the Message-ID of a message never sent is not about this row.
    pub fn row_by_message_id(&self, message_id: &str) -> Result<Option<JournalRow>, Error> {
        let bare = message_id.trim().trim_start_matches('<').trim_end_matches('>');
        self.conn
            .query_opt(
                &format!(
                    "{ROW} WHERE message_id IN (CAST(?1 AS TEXT), '<' || CAST(?1 AS TEXT) || '>') AND attempts > 0 LIMIT 1"
                ),
                params![bare],
                journal_row,
            )
            .map_err(|e| self.error("read", e))
    }

    /// The latest delivered row of the recipient with unsubscribe token id `token_id`.
    pub fn row_by_token_id(&self, token_id: &str) -> Result<Option<JournalRow>, Error> {
        self.conn
            .query_opt(
                &format!(
                    "{ROW} WHERE token_id = ?1 AND status IN ('sent', 'uncertain', 'bounced')
                     ORDER BY updated_at DESC, rowid DESC LIMIT 1"
                ),
                params![token_id],
                journal_row,
            )
            .map_err(|e| self.error("read", e))
    }

    /// The row of `address_key` in the latest send (of `publication`, when given) that
    /// delivered to it.
    pub fn latest_row_in(&self, publication: Option<&str>, address_key: &str) -> Result<Option<JournalRow>, Error> {
        self.conn
            .query_opt(
                "SELECT d.issue, d.seq, d.address_key, d.email FROM deliveries AS d JOIN sends AS s ON s.issue = d.issue
                 WHERE d.address_key = ?2 AND (CAST(?1 AS TEXT) IS NULL
                     OR substr(d.issue, 1, length(CAST(?1 AS TEXT)) + 1) = CAST(?1 AS TEXT) || '/')
                   AND d.status IN ('sent', 'uncertain', 'bounced')
                 ORDER BY s.started_at DESC, d.issue DESC LIMIT 1",
                params![publication, address_key],
                journal_row,
            )
            .map_err(|e| self.error("read", e))
    }

    /// How many of the last `window` sends delivered to `address_key` (by start time) it
    /// soft-bounced on (a delay warning is no bounce).
    pub fn soft_bounces_within(&self, address_key: &str, window: u32) -> Result<u32, Error> {
        self.conn
            .query_value(
                "SELECT COUNT(DISTINCT e.issue) FROM bounce_events AS e
                 WHERE e.address_key = ?1 AND e.verdict = 'soft' AND e.reason <> 'delayed' AND e.issue IN (
                     SELECT d.issue FROM deliveries AS d JOIN sends AS s ON s.issue = d.issue
                     WHERE d.address_key = ?1 AND d.status IN ('sent', 'uncertain', 'bounced')
                     ORDER BY s.started_at DESC, d.issue DESC LIMIT ?2)",
                params![address_key, window],
            )
            .map_err(|e| self.error("read", e))
    }

    /// The recorded events, oldest first, as `filter` asks.
    pub fn bounce_events(&self, filter: &EventFilter) -> Result<Vec<BounceEvent>, Error> {
        let since = filter.since.map(super::journal::stamp);
        self.conn
            .query(
                "SELECT at, issue, seq, address, verdict, status, reply, diagnostic, reason, source, origin, provider,
                        attributed
                 FROM bounce_events
                 WHERE (CAST(?1 AS TEXT) IS NULL OR issue = ?1) AND (CAST(?2 AS TEXT) IS NULL OR verdict = ?2)
                   AND (CAST(?3 AS TEXT) IS NULL OR at >= ?3)
                 ORDER BY at, id",
                params![filter.send.as_deref(), filter.verdict.as_deref(), since],
                |row| {
                    Ok(BounceEvent {
                        at: row.get::<Stamp>(0)?.0,
                        send: row.get(1)?,
                        seq: row.get(2)?,
                        address: row.get(3)?,
                        verdict: row.get(4)?,
                        status: row.get(5)?,
                        reply: row.get(6)?,
                        diagnostic: row.get(7)?,
                        reason: row.get(8)?,
                        source: row.get(9)?,
                        origin: row.get(10)?,
                        provider: row.get(11)?,
                        attributed: row.get(12)?,
                    })
                },
            )
            .map_err(|e| self.error("read", e))
    }

    /// Each send's bounce figures, oldest send first.
    pub fn bounce_counts(&self) -> Result<Vec<BounceCounts>, Error> {
        self.conn
            .query(
                "SELECT s.issue,
                    (SELECT COUNT(*) FROM deliveries AS d WHERE d.issue = s.issue AND d.status IN ('sent', 'bounced')),
                    (SELECT COUNT(DISTINCT address_key) FROM bounce_events WHERE issue = s.issue AND verdict = 'hard'),
                    (SELECT COUNT(DISTINCT address_key) FROM bounce_events AS e WHERE e.issue = s.issue AND verdict = 'soft'
                        AND e.reason <> 'delayed' AND NOT EXISTS (SELECT 1 FROM bounce_events AS h WHERE h.issue = s.issue
                                        AND h.address_key = e.address_key AND h.verdict = 'hard')),
                    (SELECT COUNT(DISTINCT address_key) FROM bounce_events WHERE issue = s.issue AND verdict = 'complaint')
                 FROM sends AS s ORDER BY s.started_at, s.issue",
                &[],
                |row| Ok(BounceCounts {
                    send: row.get(0)?,
                    delivered: row.get(1)?,
                    hard: row.get(2)?,
                    soft: row.get(3)?,
                    complaints: row.get(4)?,
                }),
            )
            .map_err(|e| self.error("read", e))
    }
}

#[cfg(test)]
pub(crate) mod tests;
