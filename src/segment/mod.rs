//! Audience filters ("segments"): which subscribers of an issue's lists receive it.
//!
//! A segment is written in YAML, under `audience:` in an issue's front matter or a
//! publication's entry in `letterpress.yaml`, and is data, never code: a mapping of subscriber
//! fields to conditions, all of which must hold, with `any:`, `all:` and `not:` to combine
//! filters. The syntax is documented in `docs/subscribers.md`.
//!
//! ```yaml
//! audience:
//!   region: [London, North West]     # one of these values
//!   plan: {not: trial}               # none of these values
//!   phone: {present: true}           # has a value
//!   subscribed_at: {since: 2026-01-01}
//!   any:
//!     - {topic: health}
//!     - {topic: policy}
//! ```
//!
//! Enters: the spanned YAML of the `audience` value ([`Raw`]), the file it came from, and the
//! site's time zone (for plain dates). Leaves: a [`Segment`] that [`Segment::matches`] a
//! subscriber's [`Fields`], or located [`Diagnostic`](crate::diagnostic::Diagnostic)s. This module is a leaf: the audience
//! stream (`subscribers::audience`) applies it, `check` validates its fields against the lists'
//! columns. The same filters select the regional blocks of a body ([`blocks`]: `::: only
//! region="London"`), which make an issue's editions.

mod attrs;
pub mod blocks;
mod compile;
mod raw;
#[cfg(test)]
mod tests;

use jiff::Timestamp;
use serde::Serialize;

use crate::diagnostic::{Located, Location};

pub use compile::compile;
pub use raw::{Node, Raw};

/// Fields a filter may name that are not attribute columns.
pub const SUBSCRIBED_AT: &str = "subscribed_at";

/// What a segment asks of a subscriber.
pub trait Fields {
    /// The value of column `field` (an attribute or `name`), as written; `None` when the list
    /// has no such column.
    fn value(&self, field: &str) -> Option<&str>;
    /// When the subscriber subscribed, if their list says.
    fn subscribed_at(&self) -> Option<Timestamp>;
}

/// A compiled audience filter and where it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// The filter.
    pub filter: Filter,
    /// Where the `audience` value starts, for diagnostics about the whole filter.
    pub location: Location,
    /// The fields it names, each where it was written, for checks against the lists' columns.
    pub fields: Vec<Located<String>>,
}

impl Segment {
    /// Whether `subscriber` is in the segment.
    pub fn matches(&self, subscriber: &impl Fields) -> bool {
        self.filter.matches(subscriber)
    }
}

/// One condition, or a combination of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Filter {
    /// Every filter holds (a mapping's entries, or `all:`); true when empty.
    All(Vec<Filter>),
    /// At least one filter holds (`any:`); false when empty.
    Any(Vec<Filter>),
    /// The filter does not hold.
    Not(Box<Filter>),
    /// The field's value is one of `values` (trimmed, compared without regard to case).
    OneOf {
        /// The column.
        field: String,
        /// The accepted values.
        values: Vec<String>,
    },
    /// The field has a value (not empty).
    Present {
        /// The column, or `subscribed_at`.
        field: String,
    },
    /// `subscribed_at` is at or after this instant.
    Since(Timestamp),
    /// `subscribed_at` is before this instant.
    Before(Timestamp),
}

impl Filter {
    /// Whether `subscriber` passes this filter.
    pub fn matches(&self, subscriber: &impl Fields) -> bool {
        match self {
            Self::All(filters) => filters.iter().all(|f| f.matches(subscriber)),
            Self::Any(filters) => filters.iter().any(|f| f.matches(subscriber)),
            Self::Not(filter) => !filter.matches(subscriber),
            Self::OneOf { field, values } => {
                let value = subscriber.value(field).map_or("", str::trim);
                !value.is_empty() && values.iter().any(|wanted| same(wanted, value))
            }
            Self::Present { field } if field == SUBSCRIBED_AT => subscriber.subscribed_at().is_some(),
            Self::Present { field } => subscriber.value(field).is_some_and(|v| !v.trim().is_empty()),
            Self::Since(at) => subscriber.subscribed_at().is_some_and(|t| t >= *at),
            Self::Before(at) => subscriber.subscribed_at().is_some_and(|t| t < *at),
        }
    }
}

/// Equal after trimming, ignoring case.
fn same(wanted: &str, value: &str) -> bool {
    let wanted = wanted.trim();
    // The ASCII comparison allocates nothing: editions evaluate blocks for every recipient.
    wanted == value
        || if wanted.is_ascii() && value.is_ascii() {
            wanted.eq_ignore_ascii_case(value)
        } else {
            wanted.to_lowercase() == value.to_lowercase()
        }
}
