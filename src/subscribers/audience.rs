//! The audience of a send: the active rows of its lists and the sign-ups confirmed through
//! `serve`, minus suppressions, one per address.
//!
//! Enters: the lists in order (slug, file) and the [`State`] holding suppressions and sign-ups.
//! Leaves:
//! [`Members`], a stream of every row that may be mailed, with per-list counts as it goes, and
//! [`Recipients`], the same stream with each address once. Every command that needs to know who
//! an issue goes to (`send`, its dry run, `audience`, `subscribers export`, the preview) reads it
//! through [`Members`], so they cannot disagree.
//!
//! Per list, a row is a member if it is valid, its status is `active`, it is in the issue's
//! audience filter ([`crate::segment`], carried by each [`ListFile`]) when there is one, its
//! address is not suppressed globally or for that list, and no other row of the same list marks
//! the address as not active. After a list's rows come its sign-ups from the store that are
//! members on their own by the precedence rule of [`super::signups`] (counted in
//! [`ListCount::signups`], and as rows and active), under the same filter and suppressions.
//! A segment only narrows a list: its members are still the list's,
//! so the tokens, headers and unsubscribe page a send uses are the list's. Folding one address's rows into one recipient is done by [`Recipients`] (an exact
//! set of the keys seen), or for `send` by the journal's primary key.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::signups::scan;
use super::{ListReader, Subscriber, SubscriberStatus, read_list};
use crate::address::fold;
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::segment::{Fields, Segment};
use crate::state::{Scope, Signup, State};

/// One list to read: its slug (the suppression scope) and its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFile {
    /// The list's slug, e.g. `commissioner-weekly`.
    pub slug: String,
    /// Where the CSV file is.
    pub path: PathBuf,
    /// The path to show in diagnostics, e.g. `subscribers/commissioner-weekly.csv`.
    pub shown: PathBuf,
    /// The audience filter, when it has one: only matching rows are members.
    pub segment: Option<Arc<Segment>>,
}

/// One list's arithmetic: `recipients = active - outside - suppressed - duplicates`.
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
    /// Active rows outside the audience filter; `None` when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outside: Option<usize>,
    /// Active rows whose address is suppressed globally or for this list.
    pub suppressed: usize,
    /// Active rows whose address is already a recipient, or is marked not active by another
    /// row of this list.
    pub duplicates: usize,
    /// Rows that became recipients.
    pub recipients: usize,
    /// Of the rows, sign-ups from the state store that are members on their own (not yet pulled
    /// into the CSV, and not overruled by it).
    #[serde(skip_serializing_if = "is_zero")]
    pub signups: usize,
}

#[allow(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One row that may be mailed: valid, active, not suppressed, and not marked inactive by another
/// row of its list. The same address may come again from a later row or list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The row.
    pub subscriber: Subscriber,
    /// Its duplicate key ([`super::address_key`] of the address).
    pub key: String,
    /// Which of the lists it came from (an index into the slice given to [`Members::new`]).
    pub list: usize,
}

/// The [`Member`]s of some lists, streamed one list after the other; see the module docs.
///
/// Memory holds one row, the suppressions of these lists (read when the stream is made, so
/// it does not borrow the state), and the addresses the current list's rows mark as not
/// active. Those are found by a first read of the list, made only when it has a `status`
/// column, so a row can be left out before any earlier row of the same address was handed on.
///
/// The counts ([`ListCount`]) are kept as rows are read; [`Recipients`] counts the rows it folds
/// as duplicates. An unreadable list or a bad header ends the stream with that error.
#[derive(Debug)]
pub struct Members<'a> {
    lists: &'a [ListFile],
    global: HashSet<String>,
    by_list: Vec<HashSet<String>>,
    signups: Vec<Vec<Signup>>,
    current: Option<Current>,
    counts: Vec<ListCount>,
    diagnostics: Vec<Diagnostic>,
    failed: bool,
}

/// The list being read.
#[derive(Debug)]
struct Current {
    /// The list file's rows; `None` once read, or for a list with only sign-ups and no file yet.
    reader: Option<ListReader>,
    inactive: HashSet<String>,
    /// The list's sign-ups that are members on their own, handed on after its rows (reversed:
    /// popped from the end).
    signups: Vec<Subscriber>,
}

impl<'a> Members<'a> {
    /// Stream the members of `lists`, in order, against the suppressions in `state` now.
    pub fn new(lists: &'a [ListFile], state: &State) -> Result<Self, Error> {
        Self::against(lists, Some(state))
    }

    /// As [`Members::new`]; without a store (a project that has none yet) nothing is suppressed
    /// and nobody has signed up.
    pub fn against(lists: &'a [ListFile], state: Option<&State>) -> Result<Self, Error> {
        let keys = |scope: &Scope| state.map_or_else(|| Ok(HashSet::new()), |state| state.suppressed_keys(scope));
        let by_list = lists.iter().map(|list| keys(&Scope::List(list.slug.clone()))).collect::<Result<_, _>>()?;
        let signups = match state {
            Some(state) => lists.iter().map(|list| state.unpulled_signups(&list.slug)).collect::<Result<_, _>>()?,
            None => vec![Vec::new(); lists.len()],
        };
        Ok(Self {
            lists,
            global: keys(&Scope::All)?,
            by_list,
            signups,
            current: None,
            counts: Vec::with_capacity(lists.len()),
            diagnostics: Vec::new(),
            failed: false,
        })
    }

    /// Each address once: see [`Recipients`].
    pub fn one_per_address(self) -> Recipients<'a> {
        Recipients { members: self, seen: HashSet::new() }
    }

    /// Count the last member of list `list` as a duplicate of an earlier recipient instead of a
    /// recipient.
    fn folded(&mut self, list: usize) {
        if let Some(count) = self.counts.get_mut(list) {
            count.recipients = count.recipients.saturating_sub(1);
            count.duplicates += 1;
        }
    }

    /// Each list's counts so far.
    pub fn counts(&self) -> &[ListCount] {
        &self.counts
    }

    /// The per-list counts and the invalid rows (left out), in file order.
    pub fn finish(self) -> (Vec<ListCount>, Vec<Diagnostic>) {
        (self.counts, self.diagnostics)
    }

    /// Open the next list, reading it once first for its not-active addresses if it has a
    /// `status` column. `None` when every list has been read.
    fn open_next(&mut self) -> Option<Result<Current, Error>> {
        let list = self.lists.get(self.counts.len())?;
        let signups = &self.signups[self.counts.len()];
        let open = || -> Result<Current, Error> {
            if !signups.is_empty() {
                let mut scan = scan(&list.path, &list.shown, signups)?;
                scan.members.reverse();
                let reader = if list.path.exists() { Some(read_list(&list.path, &list.shown)?) } else { None };
                return Ok(Current { reader, inactive: scan.inactive, signups: scan.members });
            }
            let reader = read_list(&list.path, &list.shown)?;
            let inactive = if reader.has_status() { not_active(reader)? } else { HashSet::new() };
            Ok(Current { reader: Some(read_list(&list.path, &list.shown)?), inactive, signups: Vec::new() })
        };
        let current = open();
        if current.is_ok() {
            let outside = list.segment.as_ref().map(|_| 0);
            self.counts.push(ListCount { list: list.slug.clone(), outside, ..ListCount::default() });
        }
        Some(current)
    }
}

impl Fields for Subscriber {
    fn value(&self, field: &str) -> Option<&str> {
        match field {
            "name" => Some(&self.name),
            _ => self.attrs.get(field).map(String::as_str),
        }
    }

    fn subscribed_at(&self) -> Option<jiff::Timestamp> {
        self.subscribed_at
    }
}

/// The keys of the valid rows whose status is not `active`.
fn not_active(mut reader: ListReader) -> Result<HashSet<String>, Error> {
    let keys = reader
        .by_ref()
        .filter_map(Result::ok)
        .filter(|s| s.status != SubscriberStatus::Active)
        .map(|s| fold(&s.email))
        .collect();
    reader.finish()?;
    Ok(keys)
}

/// [`Members`] with each address once: its first member, in the order first seen. Later members
/// of the address count as duplicates in their lists. Holds every key seen, so the folding is
/// exact.
#[derive(Debug)]
pub struct Recipients<'a> {
    members: Members<'a>,
    seen: HashSet<String>,
}

impl Recipients<'_> {
    /// Each list's counts, the invalid rows (left out) in file order, and the recipients' keys.
    pub fn finish(self) -> (Vec<ListCount>, Vec<Diagnostic>, HashSet<String>) {
        let (counts, diagnostics) = self.members.finish();
        (counts, diagnostics, self.seen)
    }
}

impl Iterator for Recipients<'_> {
    type Item = Result<Member, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let member = match self.members.next()? {
                Ok(member) => member,
                Err(e) => return Some(Err(e)),
            };
            if self.seen.insert(member.key.clone()) {
                return Some(Ok(member));
            }
            self.members.folded(member.list);
        }
    }
}

impl Iterator for Members<'_> {
    type Item = Result<Member, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let Some(current) = &mut self.current else {
                match self.open_next()? {
                    Ok(current) => self.current = Some(current),
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                }
                continue;
            };
            let list = self.counts.len() - 1;
            let count = &mut self.counts[list];
            let (subscriber, signup) = match current.reader.as_mut().map(Iterator::next) {
                Some(Some(Ok(subscriber))) => (subscriber, false),
                Some(Some(Err(diagnostic))) => {
                    count.rows += 1;
                    count.invalid += 1;
                    self.diagnostics.push(diagnostic);
                    continue;
                }
                Some(None) => {
                    if let Some(Err(e)) = current.reader.take().map(ListReader::finish) {
                        self.failed = true;
                        return Some(Err(e));
                    }
                    continue;
                }
                None => {
                    let Some(subscriber) = current.signups.pop() else {
                        self.current = None;
                        continue;
                    };
                    count.signups += 1;
                    (subscriber, true)
                }
            };
            count.rows += 1;
            if subscriber.status != SubscriberStatus::Active {
                continue;
            }
            count.active += 1;
            if let Some(segment) = &self.lists[list].segment
                && !segment.matches(&subscriber)
            {
                *count.outside.get_or_insert(0) += 1;
                continue;
            }
            let key = fold(&subscriber.email);
            if self.global.contains(&key) || self.by_list[list].contains(&key) {
                count.suppressed += 1;
            } else if !signup && current.inactive.contains(&key) {
                count.duplicates += 1;
            } else {
                count.recipients += 1;
                return Some(Ok(Member { subscriber, key, list }));
            }
        }
    }
}

#[cfg(test)]
mod tests;
