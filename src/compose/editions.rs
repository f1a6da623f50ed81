//! The editions of one message template: each distinct set of regional blocks the audience
//! needs, laid out, CSS-inlined and encoded once; a recipient is routed to theirs by the
//! blocks' filters.
//!
//! Enters: the issue's [`Blocks`] and, per edition, its [`Parts`] ([`add_editions`] renders
//! them from the checked issue). Leaves: the encoded bodies of the edition a [`Recipient`]
//! gets. An issue without blocks has one edition, found without evaluating anything.

use std::collections::BTreeMap;

use super::render::Parts;
use super::slots::{EncodedPart, Escape};
use super::{Recipient, invalid};
use crate::checked::CheckedIssue;
use crate::error::Error;
use crate::project::Project;
use crate::segment::Fields;
use crate::segment::blocks::{BlockSet, Blocks};
use crate::token::Keys;

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

/// What each edition is rendered with: the recipients' columns, whether it is a test send, and
/// with clicks on, the keys and the issue's link table (which an edition's new links extend).
pub(super) struct EditionContext<'a> {
    pub columns: &'a [String],
    pub test: bool,
    pub keys: &'a Keys,
    pub clicks: Option<&'a mut Vec<crate::clicks::Link>>,
}

/// Render, split and encode the editions of `sets` that `editions` lacks; with clicks on, each
/// with its links rewritten.
pub(super) fn add_editions(
    editions: &mut Editions,
    project: &Project,
    checked: &CheckedIssue,
    mut ctx: EditionContext<'_>,
    sets: impl IntoIterator<Item = BlockSet>,
) -> Result<(), Error> {
    let Some(publication) = project.config.publication(&checked.issue.publication) else { return Ok(()) };
    for set in sets {
        if editions.has(set) {
            continue;
        }
        let edition = crate::editions::edition(project, checked, &editions.blocks, set);
        let parts = Parts::render(project, &edition, publication, ctx.columns, ctx.test)?;
        let parts = match ctx.clicks.as_deref_mut() {
            Some(links) => {
                super::clicks::rewrite(&project.config, ctx.keys, &checked.issue.id(), parts, ctx.columns, links)?
            }
            None => parts,
        };
        editions.add(set, Bodies::of(&parts));
    }
    Ok(())
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
