//! The journal's values: statuses and their state machine, rows as read and written, and how
//! they map to and from SQLite columns.
//!
//! Enters: SQLite rows of `deliveries` and `sends` (columns in the order of `journal.rs`'s
//! `SELECT`s). Leaves: [`Delivery`], [`SendRecord`], [`Counts`] and the status enums.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::state::Stamp;
use crate::state::db::{DbError, FromColumn, Row, Value};

/// Where one recipient of one issue stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not attempted yet in this run (new, requeued, or put back for a retry).
    Pending,
    /// Its SMTP transaction is under way; left so by a killed run, it becomes `uncertain`.
    Inflight,
    /// The server accepted the message (250 after DATA). Final.
    Sent,
    /// Permanently refused (5xx) or undeliverable. Final.
    Failed,
    /// Temporarily refused (4xx) past the run's retries; requeued by the next run.
    Deferred,
    /// Was in flight when a run died: it may or may not have arrived.
    Uncertain,
    /// Not sent because the address was suppressed after the audience was taken. Final.
    Suppressed,
    /// Sent, then reported back as a bounce or a complaint (a DSN, an ARF report, a provider
    /// event). Set only by the bounce loop, never by the engine; final.
    Bounced,
}

/// How a send stands as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SendState {
    /// Started and not finished (or interrupted: a killed run leaves it so).
    Running,
    /// Every recipient is `sent`, `failed`, `suppressed` or `uncertain`.
    Complete,
    /// Stopped with work left (deferred recipients, a sender problem, a deadline).
    Stopped,
    /// Cancelled by the editor (`send <issue> --cancel`): its rows left are never sent. Final.
    Cancelled,
}

/// One audience member to add to an issue's journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecipient {
    /// The address's duplicate key (see [`crate::address::address_key`]).
    pub address_key: String,
    /// The address as written in the list.
    pub email: String,
    /// The subscriber's name (may be empty).
    pub name: String,
    /// The subscriber's other columns, for personalisation.
    pub attrs: BTreeMap<String, String>,
    /// The list the subscriber came from (the first, when on several).
    pub list: String,
    /// The opaque id in the recipient's unsubscribe token ([`crate::token::Keys::token_id`]),
    /// stored up front so a send never has to touch the token index.
    pub token_id: Option<String>,
    /// The Message-ID its message will carry ([`crate::compose::MessageTemplate::message_id`]),
    /// stored up front for the same reason: the `inflight` mark then leaves the Message-ID
    /// index alone. `None` when the caller cannot tell; the mark stores it then.
    pub message_id: Option<String>,
}

/// One journal row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    /// The issue, `<publication>/<slug>`.
    pub issue: String,
    /// The address's duplicate key.
    pub address_key: String,
    /// The address as written in the list.
    pub email: String,
    /// The subscriber's name.
    pub name: String,
    /// The subscriber's other columns.
    pub attrs: BTreeMap<String, String>,
    /// The list the subscriber came from.
    pub list: String,
    /// Position in the audience, from 1, stable across resumes.
    pub seq: i64,
    /// Where the recipient stands.
    pub status: DeliveryStatus,
    /// SMTP transactions attempted so far.
    pub attempts: u32,
    /// The last SMTP reply code recorded.
    pub code: Option<u16>,
    /// The last SMTP reply text recorded.
    pub reply: Option<String>,
    /// The message's `Message-ID`, once composed.
    pub message_id: Option<String>,
    /// The id of the unsubscribe token the message carries.
    pub token_id: Option<String>,
    /// When the row last changed.
    pub updated_at: Timestamp,
    /// The relay that accepted (or may have accepted) the message.
    pub relay: Option<String>,
}

/// A status change for one recipient, as the send engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// Whose row.
    pub address_key: String,
    /// The new status; must be allowed by [`DeliveryStatus::can_become`].
    pub status: DeliveryStatus,
    /// The SMTP reply code; `None` keeps the stored one.
    pub code: Option<u16>,
    /// The SMTP reply text; `None` keeps the stored one.
    pub reply: Option<String>,
    /// The `Message-ID`; `None` keeps the stored one.
    pub message_id: Option<String>,
    /// The unsubscribe token id; `None` keeps the stored one.
    pub token_id: Option<String>,
    /// Whether this change ends an attempt (adds one to `attempts`).
    pub attempted: bool,
    /// The relay that took the message (`sent`, `uncertain`); `None` keeps the stored one.
    pub relay: Option<String>,
}

/// How many recipients of an issue are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs, reason = "one field per status, named after it")]
pub struct Counts {
    pub pending: usize,
    pub inflight: usize,
    pub sent: usize,
    pub failed: usize,
    pub deferred: usize,
    pub uncertain: usize,
    pub suppressed: usize,
    pub bounced: usize,
    /// Every row of the issue.
    pub total: usize,
}

/// What [`State::recover`](crate::state::State::recover) changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Recovered {
    /// Rows left `inflight` by a killed run, now `uncertain` (or requeued, when resending them).
    pub uncertain: usize,
    /// Rows put back to `pending`: every `deferred` one and, when resending, every `uncertain`
    /// one (including those just counted in `uncertain`).
    pub requeued: usize,
}

/// The record of an issue's send.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SendRecord {
    /// The issue, `<publication>/<slug>`.
    pub issue: String,
    /// The content hash frozen at the first run (replaced only by `--allow-changed`).
    pub content_hash: String,
    /// When the first run started.
    pub started_at: Timestamp,
    /// When the last run finished; `None` while running.
    pub finished_at: Option<Timestamp>,
    /// How the send stands.
    pub state: SendState,
    /// Why it stopped, or a summary.
    pub note: Option<String>,
}

impl DeliveryStatus {
    /// Every status.
    pub const ALL: [Self; 8] = [
        Self::Pending,
        Self::Inflight,
        Self::Sent,
        Self::Failed,
        Self::Deferred,
        Self::Uncertain,
        Self::Suppressed,
        Self::Bounced,
    ];

    /// The value stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Inflight => "inflight",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Deferred => "deferred",
            Self::Uncertain => "uncertain",
            Self::Suppressed => "suppressed",
            Self::Bounced => "bounced",
        }
    }

    /// The status written as `value`.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Whether a row in this status may become `next`: pending → inflight, suppressed or
    /// failed; inflight → sent, failed, deferred, uncertain or pending (a retry); deferred and
    /// uncertain → pending. `sent`, `failed` and `suppressed` are final.
    pub fn can_become(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::Pending, Self::Inflight | Self::Suppressed | Self::Failed)
                | (Self::Inflight, Self::Sent | Self::Failed | Self::Deferred | Self::Uncertain | Self::Pending)
                | (Self::Deferred | Self::Uncertain, Self::Pending)
        )
    }

    /// The statuses a row may be in to become `self`, as SQL parameters (`NULL` matches none).
    pub(super) fn predecessors(self) -> [Option<&'static str>; 8] {
        Self::ALL.map(|from| from.can_become(self).then_some(from.as_str()))
    }
}

impl SendState {
    /// The value stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Complete => "complete",
            Self::Stopped => "stopped",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state written as `value`.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Running, Self::Complete, Self::Stopped, Self::Cancelled].into_iter().find(|s| s.as_str() == value)
    }
}

impl Counts {
    pub(super) fn add(&mut self, status: DeliveryStatus, n: usize) {
        let field = match status {
            DeliveryStatus::Pending => &mut self.pending,
            DeliveryStatus::Inflight => &mut self.inflight,
            DeliveryStatus::Sent => &mut self.sent,
            DeliveryStatus::Failed => &mut self.failed,
            DeliveryStatus::Deferred => &mut self.deferred,
            DeliveryStatus::Uncertain => &mut self.uncertain,
            DeliveryStatus::Suppressed => &mut self.suppressed,
            DeliveryStatus::Bounced => &mut self.bounced,
        };
        *field += n;
        self.total += n;
    }
}

/// A `sends` row, columns as in `journal.rs`'s `select_sends!`.
pub(super) fn send_record(row: &Row<'_>) -> Result<SendRecord, DbError> {
    Ok(SendRecord {
        issue: row.get(0)?,
        content_hash: row.get(1)?,
        started_at: row.get::<Stamp>(2)?.0,
        finished_at: row.get::<Option<Stamp>>(3)?.map(|s| s.0),
        state: row.get(4)?,
        note: row.get(5)?,
    })
}

/// A `deliveries` row, columns as in `journal.rs`'s `select_deliveries!`.
pub(super) fn delivery(row: &Row<'_>) -> Result<Delivery, DbError> {
    Ok(Delivery {
        issue: row.get(0)?,
        address_key: row.get(1)?,
        email: row.get(2)?,
        name: row.get(3)?,
        attrs: row.get::<Attrs>(4)?.0,
        list: row.get(5)?,
        seq: row.get(6)?,
        status: row.get(7)?,
        attempts: row.get(8)?,
        code: row.get(9)?,
        reply: row.get(10)?,
        message_id: row.get(11)?,
        token_id: row.get(12)?,
        updated_at: row.get::<Stamp>(13)?.0,
        relay: row.get(14)?,
    })
}

/// The `attrs` column: a JSON object of strings.
pub(crate) struct Attrs(pub(crate) BTreeMap<String, String>);

impl FromColumn for Attrs {
    fn from_value(value: Value) -> Result<Self, String> {
        serde_json::from_str(&String::from_value(value)?).map(Attrs).map_err(|e| e.to_string())
    }
}

impl FromColumn for DeliveryStatus {
    fn from_value(value: Value) -> Result<Self, String> {
        let text = String::from_value(value)?;
        Self::parse(&text).ok_or_else(|| format!("unknown delivery status `{text}`"))
    }
}

impl FromColumn for SendState {
    fn from_value(value: Value) -> Result<Self, String> {
        let text = String::from_value(value)?;
        Self::parse(&text).ok_or_else(|| format!("unknown send state `{text}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::DeliveryStatus as S;

    #[test]
    fn the_transition_table() {
        #[track_caller]
        fn case(from: S, allowed: &[S]) {
            for to in S::ALL {
                assert_eq!(from.can_become(to), allowed.contains(&to), "{from:?} -> {to:?}");
            }
        }
        case(S::Pending, &[S::Inflight, S::Suppressed, S::Failed]);
        case(S::Inflight, &[S::Sent, S::Failed, S::Deferred, S::Uncertain, S::Pending]);
        case(S::Deferred, &[S::Pending]);
        case(S::Uncertain, &[S::Pending]);
        case(S::Sent, &[]);
        case(S::Failed, &[]);
        case(S::Suppressed, &[]);
        case(S::Bounced, &[]);
    }
}
