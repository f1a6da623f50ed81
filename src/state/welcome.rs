//! The welcome queue and the journal queries of catch-up and retries (issue 15 §3–§4).
//!
//! Enters: list slugs, subscribers as [`NewRecipient`]s, issue ids and times read from
//! [`crate::clock`] by the caller. Leaves: the welcomes waiting, whether a welcome was queued,
//! how many failed rows went back to pending, the latest complete send to a list.
//!
//! `welcome_queue` (migration 10) holds one row per (list, subscriber) ever queued. Queueing is
//! `INSERT … ON CONFLICT DO NOTHING`: a second confirmation, or a crash and a retry, queues
//! nothing more, so a subscriber is welcomed to a list at most once. A row is *done* once its
//! subscriber is in the welcome issue's journal (whose primary key makes adding twice a no-op):
//! the journal, not this table, then guarantees one delivery. A crash between the two commits
//! re-adds the row to the journal, which changes nothing, and marks it done.
//!
//! All SQL is portable (numbered placeholders, `ON CONFLICT`, RFC 3339 text times) for the
//! PostgreSQL backend.

use super::State;
use super::db::{DbError, params};
use super::journal::{Attrs, NewRecipient, stamp};
use crate::error::Error;
use jiff::Timestamp;

/// A welcome waiting to be put into its journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedWelcome {
    /// The list the subscriber was confirmed on.
    pub list: String,
    /// The subscriber, as the welcome's journal row will hold them (no token id yet).
    pub recipient: NewRecipient,
}

impl State {
    /// Queue the welcome of `recipient` (whose `list` is the list confirmed on). Returns whether
    /// it was queued now: `false` when this subscriber was queued for this list before.
    pub fn queue_welcome(&self, recipient: &NewRecipient, at: Timestamp) -> Result<bool, Error> {
        let attrs = serde_json::to_string(&recipient.attrs).unwrap_or_else(|_| "{}".to_owned());
        self.conn
            .execute(
                "INSERT INTO welcome_queue (list, address_key, email, name, attrs, queued_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (list, address_key) DO NOTHING",
                params![&recipient.list, &recipient.address_key, &recipient.email, &recipient.name, attrs, stamp(at)],
            )
            .map(|n| n > 0)
            .map_err(|e| self.error("update", e))
    }

    /// The welcomes queued and not yet in their journal, oldest first.
    pub fn queued_welcomes(&self) -> Result<Vec<QueuedWelcome>, Error> {
        let read = || -> Result<Vec<QueuedWelcome>, DbError> {
            self.conn.query(
                "SELECT list, address_key, email, name, attrs FROM welcome_queue
                 WHERE done_at IS NULL ORDER BY queued_at, list, address_key",
                &[],
                |row| {
                    let list: String = row.get(0)?;
                    Ok(QueuedWelcome {
                        recipient: NewRecipient {
                            address_key: row.get(1)?,
                            email: row.get(2)?,
                            name: row.get(3)?,
                            attrs: row.get::<Option<Attrs>>(4).ok().flatten().map(|a| a.0).unwrap_or_default(),
                            list: list.clone(),
                            token_id: None,
                            message_id: None,
                        },
                        list,
                    })
                },
            )
        };
        read().map_err(|e| self.error("read", e))
    }

    /// Mark the welcome of `address_key` to `list` done: it is in the welcome's journal.
    pub fn welcome_done(&self, list: &str, address_key: &str, at: Timestamp) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE welcome_queue SET done_at = ?3 WHERE list = ?1 AND address_key = ?2 AND done_at IS NULL",
                params![list, address_key, stamp(at)],
            )
            .map(|_| ())
            .map_err(|e| self.error("update", e))
    }

    /// `send --retry-failed`: `issue`'s `failed` rows go back to `pending` with their attempts
    /// reset, except a failure that was a bounce or whose address is suppressed for the row's
    /// list (a bounce at the relay suppresses the address; a later bounce or complaint is a
    /// `bounce_events` row). `bounced` and `suppressed` rows are never touched. Returns how many
    /// rows went back.
    pub fn retry_failed(&self, issue: &str, at: Timestamp) -> Result<usize, Error> {
        self.conn
            .execute(
                "UPDATE deliveries SET status = 'pending', attempts = 0, updated_at = ?2
                 WHERE issue = ?1 AND status = 'failed'
                   AND NOT EXISTS (SELECT 1 FROM suppressions s
                                   WHERE s.address = deliveries.address_key AND s.scope IN ('*', deliveries.list))
                   AND NOT EXISTS (SELECT 1 FROM bounce_events b
                                   WHERE b.address_key = deliveries.address_key AND b.verdict IN ('hard', 'complaint'))",
                params![issue, stamp(at)],
            )
            .map_err(|e| self.error("update", e))
    }

    /// The complete sends that delivered to `list`, latest first (at most `limit`).
    pub fn sends_to_list(&self, list: &str, limit: usize) -> Result<Vec<String>, Error> {
        let read = || -> Result<Vec<String>, DbError> {
            self.conn.query(
                "SELECT s.issue FROM sends s
                 WHERE s.state = 'complete'
                   AND EXISTS (SELECT 1 FROM deliveries d WHERE d.issue = s.issue AND d.list = ?1 AND d.status = 'sent')
                 ORDER BY s.started_at DESC, s.issue DESC LIMIT ?2",
                params![list, i64::try_from(limit).unwrap_or(i64::MAX)],
                |row| row.get(0),
            )
        };
        read().map_err(|e| self.error("read", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::DeliveryStatus;
    use crate::state::testing::Fresh;

    crate::state::testing::both!(
        a_welcome_is_queued_once_per_list_and_stays_done,
        a_queued_welcome_survives_reopening_the_store,
        retry_failed_requeues_only_failures_that_were_not_bounces,
    );

    fn reader(email: &str, list: &str) -> NewRecipient {
        NewRecipient {
            address_key: email.to_lowercase(),
            email: email.to_owned(),
            name: "Reader".to_owned(),
            attrs: [("region".to_owned(), "London".to_owned())].into(),
            list: list.to_owned(),
            token_id: None,
            message_id: None,
        }
    }

    const AT: Timestamp = Timestamp::constant(1_800_000_000, 0);

    fn a_welcome_is_queued_once_per_list_and_stays_done(t: &Fresh) {
        let state = t.open();
        assert!(state.queue_welcome(&reader("a@example.org", "weekly"), AT).unwrap());
        assert!(!state.queue_welcome(&reader("a@example.org", "weekly"), AT).unwrap(), "confirmed twice");
        assert!(state.queue_welcome(&reader("a@example.org", "daily"), AT).unwrap(), "another list");
        let queued = state.queued_welcomes().unwrap();
        assert_eq!(queued.len(), 2);
        assert_eq!(queued[1].recipient, reader("a@example.org", "weekly"));
        state.welcome_done("weekly", "a@example.org", AT).unwrap();
        assert_eq!(state.queued_welcomes().unwrap().len(), 1);
        assert!(!state.queue_welcome(&reader("a@example.org", "weekly"), AT).unwrap(), "never welcomed twice");
        assert_eq!(state.queued_welcomes().unwrap().len(), 1);
    }

    fn a_queued_welcome_survives_reopening_the_store(t: &Fresh) {
        let state = t.open();
        state.queue_welcome(&reader("a@example.org", "weekly"), AT).unwrap();
        drop(state);
        let state = t.open();
        assert_eq!(state.queued_welcomes().unwrap().len(), 1);
    }

    fn retry_failed_requeues_only_failures_that_were_not_bounces(t: &Fresh) {
        let mut state = t.open();
        let issue = "weekly/2026-11-30-a";
        let rows = ["content@example.org", "bounced@example.org", "later@example.org"];
        state.add_recipients(issue, rows.iter().map(|e| reader(e, "weekly")), AT).unwrap();
        state.conn.execute("UPDATE deliveries SET status = 'failed', attempts = 10", &[]).unwrap();
        state.conn.execute("UPDATE deliveries SET status = 'bounced' WHERE email = 'later@example.org'", &[]).unwrap();
        state
            .suppress(
                "bounced@example.org",
                &crate::state::Scope::All,
                crate::state::Reason::Bounced,
                "bounce: 550",
                AT,
            )
            .unwrap();
        assert_eq!(state.retry_failed(issue, AT).unwrap(), 1);
        let pending = state.deliveries(issue, &[DeliveryStatus::Pending]).unwrap();
        assert_eq!(
            pending.iter().map(|d| (d.email.as_str(), d.attempts)).collect::<Vec<_>>(),
            [("content@example.org", 0)]
        );
        assert_eq!(state.deliveries(issue, &[DeliveryStatus::Failed]).unwrap()[0].email, "bounced@example.org");
        assert_eq!(state.deliveries(issue, &[DeliveryStatus::Bounced]).unwrap().len(), 1);
    }
}
