//! Counts the templates [`super::Templates`] renders and the stylesheets it inlines on this
//! thread, so tests can assert how often a stage renders an issue's email (test builds only).

use std::cell::RefCell;
use std::collections::BTreeMap;

/// What the key of [`count`] names: CSS inlined into a rendered HTML layout.
pub const INLINE: &str = "(css inlined)";

thread_local! {
    static COUNTS: RefCell<BTreeMap<String, usize>> = const { RefCell::new(BTreeMap::new()) };
}

/// Renders of each template (and [`INLINE`]) on this thread so far.
pub fn count() -> BTreeMap<String, usize> {
    COUNTS.with(|c| c.borrow().clone())
}

pub(super) fn record(name: &str) {
    COUNTS.with(|c| *c.borrow_mut().entry(name.to_owned()).or_default() += 1);
}
