//! Where each issue's send stands, read from the delivery journal without changing it.
//!
//! Enters: the project's state store ([`Store`]). Leaves: a [`DeliveryView`] per issue that has a send record
//! (every other issue is not sent), or why the state store cannot be read. The database is
//! opened read-only, and only when it exists: the preview never creates state. It is read again
//! for each page, so a send running beside the preview shows as it goes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::state::{Counts, SendRecord, SendState, State, Store};

/// One issue's delivery state, for the index and the issue page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryView {
    /// `not-sent`, `sending`, `sent`, `stopped` or `unknown` (a CSS class too).
    pub state: &'static str,
    /// For people, e.g. `sent to 2 of 2 at 2026-11-22T09:30:00Z`.
    pub label: String,
    /// The warning shown above the issue when editing it no longer changes what was sent, or
    /// empty.
    pub banner: String,
}

impl DeliveryView {
    /// An issue without a send record.
    pub fn not_sent() -> Self {
        Self { state: "not-sent", label: "not sent".to_owned(), banner: String::new() }
    }

    fn unknown(why: &str) -> Self {
        Self { state: "unknown", label: format!("unknown: {why}"), banner: String::new() }
    }

    /// The view of a send record and its journal's counts.
    pub fn of(record: &SendRecord, counts: &Counts) -> Self {
        let (sent, total) = (counts.sent, counts.total);
        let note = record.note.as_deref().filter(|n| !n.is_empty());
        let finished = record.finished_at.map_or_else(|| record.started_at.to_string(), |t| t.to_string());
        let (state, label) = match record.state {
            SendState::Running => {
                ("sending", format!("sending: {sent} of {total} sent so far (started {})", record.started_at))
            }
            SendState::Complete => ("sent", format!("sent to {sent} of {total} at {finished}")),
            SendState::Stopped => (
                "stopped",
                match note {
                    Some(note) => format!("stopped at {finished}: {note} ({sent} of {total} sent)"),
                    None => format!("stopped at {finished} ({sent} of {total} sent)"),
                },
            ),
            SendState::Cancelled => ("cancelled", format!("cancelled at {finished} ({sent} of {total} sent)")),
        };
        let banner = match record.state {
            SendState::Complete => format!(
                "Already sent ({label}). Edits to this issue change the archive only: the messages \
                 delivered stay as they were."
            ),
            SendState::Running | SendState::Stopped => format!(
                "This issue's send has begun ({label}). Edits do not reach the {sent} recipients \
                 already sent; resuming with changed content needs `send --allow-changed`."
            ),
            SendState::Cancelled => format!(
                "This issue's send was cancelled ({label}). Edits change the archive only: nobody \
                 else will be sent this issue."
            ),
        };
        Self { state, label, banner }
    }
}

/// Every issue's delivery state by id (`publication/slug`); issues missing here are not sent.
/// `Err` says why the state store cannot be read.
pub fn read(store: &Result<Store, String>) -> Result<BTreeMap<String, DeliveryView>, String> {
    let store = store.as_ref().map_err(Clone::clone)?;
    let Some(state) = State::open_store_read_only(store).map_err(|e| e.to_string())? else {
        return Ok(BTreeMap::new());
    };
    let mut views = BTreeMap::new();
    for record in state.sends().map_err(|e| e.to_string())? {
        let counts = state.counts(&record.issue).map_err(|e| e.to_string())?;
        views.insert(record.issue.clone(), DeliveryView::of(&record, &counts));
    }
    Ok(views)
}

/// The delivery state of `id` among `all` (as [`read`] returned it).
pub fn of(all: &Result<BTreeMap<String, DeliveryView>, String>, id: &str) -> DeliveryView {
    match all {
        Ok(views) => views.get(id).cloned().unwrap_or_else(DeliveryView::not_sent),
        Err(why) => DeliveryView::unknown(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(state: SendState, note: Option<&str>) -> SendRecord {
        SendRecord {
            issue: "weekly/2016-12-09-first".to_owned(),
            content_hash: "0".repeat(64),
            started_at: "2026-11-22T09:00:00Z".parse().unwrap(),
            finished_at: (state != SendState::Running).then(|| "2026-11-22T09:30:00Z".parse().unwrap()),
            state,
            note: note.map(str::to_owned),
        }
    }

    #[test]
    fn states_read_as_people_say_them() {
        let counts = Counts { sent: 2, pending: 1, total: 3, ..Counts::default() };
        let running = DeliveryView::of(&record(SendState::Running, None), &counts);
        assert_eq!(
            (running.state, running.label.as_str()),
            ("sending", "sending: 2 of 3 sent so far (started 2026-11-22T09:00:00Z)")
        );
        let done = DeliveryView::of(&record(SendState::Complete, Some("")), &counts);
        assert_eq!((done.state, done.label.as_str()), ("sent", "sent to 2 of 3 at 2026-11-22T09:30:00Z"));
        assert!(done.banner.starts_with("Already sent (sent to 2 of 3"), "{}", done.banner);
        let stopped = DeliveryView::of(&record(SendState::Stopped, Some("the deadline passed")), &counts);
        assert_eq!(stopped.label, "stopped at 2026-11-22T09:30:00Z: the deadline passed (2 of 3 sent)");
        assert!(stopped.banner.contains("--allow-changed"), "{}", stopped.banner);
        assert_eq!(DeliveryView::not_sent().banner, "");
    }
}
