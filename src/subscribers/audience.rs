//! The audience of a send: the active rows of its lists, minus suppressions, one per address.
//!
//! Enters: the lists in order (slug, file) and the [`State`] holding suppressions. Leaves: an
//! [`Audience`]: the recipients in first-seen order and, per list, how many rows were read,
//! invalid, active, suppressed, duplicates and kept. Lists are streamed one after the other.
//!
//! Per list, a row is kept if it is valid, its status is `active`, its address is not
//! suppressed globally or for that list, no other row of the list marks the address as not
//! active, and the address is not already a recipient (from this list or an earlier one).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde::Serialize;

use super::address::{fold, key_hash};
use super::{Subscriber, SubscriberStatus, read_list};
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::state::State;

/// One list to read: its slug (the suppression scope) and its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFile {
    /// The list's slug, e.g. `commissioner-weekly`.
    pub slug: String,
    /// Where the CSV file is.
    pub path: PathBuf,
    /// The path to show in diagnostics, e.g. `subscribers/commissioner-weekly.csv`.
    pub shown: PathBuf,
}

/// Who receives a send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Audience {
    /// One subscriber per address, in the order first seen across the lists.
    pub recipients: Vec<Subscriber>,
    /// How each list contributed, in the order given.
    pub per_list: Vec<ListCount>,
    /// `recipients.len()`.
    pub total: usize,
    /// Rows left out because they are invalid, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

/// One list's arithmetic: `recipients = active - suppressed - duplicates`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListCount {
    /// The list's slug.
    pub list: String,
    /// Data rows read.
    pub rows: usize,
    /// Rows with errors (left out).
    pub invalid: usize,
    /// Valid rows with status `active`.
    pub active: usize,
    /// Active rows whose address is suppressed globally or for this list.
    pub suppressed: usize,
    /// Active rows whose address is already a recipient, or is marked not active by another
    /// row of this list.
    pub duplicates: usize,
    /// Rows that became recipients.
    pub recipients: usize,
}

/// Compute the audience of `lists` (in order) against the suppressions in `state`.
///
/// An unreadable list or a list with a bad header is an error: a send must not go to part of an
/// audience without saying so. Invalid rows are left out and reported in
/// [`Audience::diagnostics`].
pub fn audience(lists: &[ListFile], state: &State) -> Result<Audience, Error> {
    let mut builder = Builder::default();
    let mut per_list = Vec::with_capacity(lists.len());
    for list in lists {
        let suppressed = state.suppressed_set(&list.slug)?;
        per_list.push(builder.add_list(list, &suppressed)?);
    }
    let recipients: Vec<Subscriber> = builder.slots.into_iter().flatten().collect();
    Ok(Audience { total: recipients.len(), recipients, per_list, diagnostics: builder.diagnostics })
}

/// The recipients so far. A slot is emptied when a later row of the same list marks its address
/// as not active; slots are never removed, so the indexes in `first` stay valid.
#[derive(Debug, Default)]
struct Builder {
    slots: Vec<Option<Subscriber>>,
    first: HashMap<u64, usize>,
    diagnostics: Vec<Diagnostic>,
}

impl Builder {
    fn add_list(&mut self, list: &ListFile, suppressed: &HashSet<String>) -> Result<ListCount, Error> {
        let mut reader = read_list(&list.path, &list.shown)?;
        let mut count = ListCount { list: list.slug.clone(), ..ListCount::default() };
        let start = self.slots.len();
        let mut inactive = HashSet::new();
        for row in &mut reader {
            count.rows += 1;
            let subscriber = match row {
                Ok(subscriber) => subscriber,
                Err(diagnostic) => {
                    count.invalid += 1;
                    self.diagnostics.push(diagnostic);
                    continue;
                }
            };
            let key = fold(&subscriber.email);
            if subscriber.status != SubscriberStatus::Active {
                inactive.insert(key);
                continue;
            }
            count.active += 1;
            if suppressed.contains(&key) {
                count.suppressed += 1;
            } else if inactive.contains(&key) || !self.insert(subscriber, &key) {
                count.duplicates += 1;
            } else {
                count.recipients += 1;
            }
        }
        reader.finish()?;
        if !inactive.is_empty() {
            for slot in &mut self.slots[start..] {
                if slot.as_ref().is_some_and(|s| inactive.contains(&fold(&s.email))) {
                    *slot = None;
                    count.recipients -= 1;
                    count.duplicates += 1;
                }
            }
        }
        Ok(count)
    }

    /// Add `subscriber` (whose key is `key`) unless the address is already a recipient; returns
    /// whether it was added.
    fn insert(&mut self, subscriber: Subscriber, key: &str) -> bool {
        let hash = key_hash(&subscriber.email);
        let index = self.slots.len();
        match self.first.get(&hash).map(|&i| &self.slots[i]) {
            Some(Some(first)) if fold(&first.email) == key => return false,
            // Two addresses with one 64-bit hash (about 3 × 10⁻⁸ for a million addresses): keep
            // both; only later duplicates of this second one would go unnoticed.
            Some(Some(_)) => {}
            Some(None) | None => {
                self.first.insert(hash, index);
            }
        }
        self.slots.push(Some(subscriber));
        true
    }
}

#[cfg(test)]
mod tests;
