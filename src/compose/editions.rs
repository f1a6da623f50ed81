//! The editions of one message template: each distinct set of regional blocks the audience
//! needs, laid out, CSS-inlined and encoded once; a recipient is routed to theirs by the
//! blocks' filters.
//!
//! Enters: the issue's [`Blocks`] and, per edition, its [`Parts`]. Leaves: the encoded bodies of
//! the edition a [`Recipient`] gets. An issue without blocks has one edition, found without
//! evaluating anything.

use std::collections::BTreeMap;

use super::render::Parts;
use super::slots::{EncodedPart, Escape};
use super::{Recipient, invalid};
use crate::error::Error;
use crate::segment::Fields;
use crate::segment::blocks::{BlockSet, Blocks};

/// One edition's encoded bodies.
pub(crate) struct Bodies {
    pub text: EncodedPart,
    pub html: EncodedPart,
}

impl Bodies {
    pub(crate) fn of(parts: &Parts) -> Self {
        Self { text: EncodedPart::new(&parts.text, Escape::Text), html: EncodedPart::new(&parts.html, Escape::Html) }
    }
}

/// Every prepared edition, by block set.
pub(crate) struct Editions {
    pub blocks: Blocks,
    bodies: BTreeMap<BlockSet, Bodies>,
}

impl Editions {
    /// The one edition of an issue without blocks.
    pub(crate) fn single(bodies: Bodies) -> Self {
        Self { blocks: Blocks::default(), bodies: BTreeMap::from([(0, bodies)]) }
    }

    /// No edition yet: [`Self::add`] each.
    pub(crate) fn of_blocks(blocks: Blocks) -> Self {
        Self { blocks, bodies: BTreeMap::new() }
    }

    pub(crate) fn has(&self, set: BlockSet) -> bool {
        self.bodies.contains_key(&set)
    }

    pub(crate) fn add(&mut self, set: BlockSet, bodies: Bodies) {
        self.bodies.insert(set, bodies);
    }

    /// How many editions are prepared.
    pub(crate) fn len(&self) -> usize {
        self.bodies.len()
    }

    /// The edition `recipient` gets.
    pub(crate) fn of(&self, recipient: &Recipient<'_>) -> Result<&Bodies, Error> {
        let set = if self.blocks.is_empty() { 0 } else { self.blocks.set_of(recipient) };
        self.bodies.get(&set).ok_or_else(|| {
            invalid(
                "compose/edition",
                format!(
                    "no edition was prepared for `{}` (regional blocks {}); this is a bug, please report it",
                    recipient.email,
                    numbers(set)
                ),
            )
        })
    }
}

/// `hash` combined with the blocks' filters as written: moving a reader to another edition
/// is a change of content.
pub(crate) fn hash_with_filters(hash: &str, blocks: &Blocks) -> String {
    use sha2::{Digest as _, Sha256};
    let mut digest = Sha256::new().chain_update(hash.as_bytes());
    for block in &blocks.blocks {
        digest.update([0]);
        digest.update(block.source.as_bytes());
    }
    crate::token::hex(&digest.finalize())
}

/// The 1-based numbers of the blocks in `set`, e.g. `1, 3`, or `none`.
fn numbers(set: BlockSet) -> String {
    let n: Vec<String> = (0..64).filter(|i| set & (1 << i) != 0).map(|i| (i + 1).to_string()).collect();
    if n.is_empty() { "none".to_owned() } else { n.join(", ") }
}

/// A recipient is routed as the [`crate::editions::Reader`] it is, the journal's rows too.
impl Fields for Recipient<'_> {
    fn value(&self, field: &str) -> Option<&str> {
        crate::editions::Reader::field(self.name, self.attrs, field)
    }

    fn subscribed_at(&self) -> Option<jiff::Timestamp> {
        None
    }
}
