//! Who an issue would go to now: its audience size for the index and the first recipients for
//! the "view as" selector.
//!
//! Enters: a loaded [`Project`] and an issue's list slugs. Leaves: a [`Reach`], streamed from
//! [`crate::subscribers::Recipients`] (only the first recipients and every address's key are kept) against the suppressions in the project's state database
//! when there is one (the preview never creates it: without one, nothing is suppressed yet).

use std::path::Path;

use crate::content::Issue;
use crate::project::Project;
use crate::segment::Segment;
use crate::state::{State, Store};
use crate::subscribers::{ListFile, Members, Subscriber};
use crate::template::view::SubscriberView;

/// How many recipients the "view as" selector offers.
pub const CHOICES: usize = 100;

/// The audience of some lists, in short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    /// Recipients after suppressions and duplicates.
    pub total: usize,
    /// The first [`CHOICES`] of them, in list order.
    pub recipients: Vec<SubscriberView>,
}

/// The lists an issue goes to: its front matter's `lists`, else its publication's.
pub fn issue_lists(project: &Project, issue: &Issue) -> Vec<String> {
    match &issue.front.lists {
        Some(lists) => lists.iter().map(|l| l.value.clone()).collect(),
        None => project.config.publication(&issue.publication).map(|p| p.lists.clone()).unwrap_or_default(),
    }
}

/// Why an audience cannot be counted (a list is unknown or cannot be read), for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(String);

impl From<String> for Unavailable {
    fn from(why: String) -> Self {
        Self(why)
    }
}

/// The audience of `lists` now, narrowed by the issue's audience filter `segment`; `None` when there are no lists, `Err` when one is unknown or
/// cannot be read.
pub fn reach(
    project: &Project,
    store: &Result<Store, String>,
    lists: &[String],
    segment: Option<&Segment>,
) -> Option<Result<Reach, Unavailable>> {
    if lists.is_empty() {
        return None;
    }
    Some(compute(project, store, lists, segment))
}

/// The audience, or why it cannot be counted.
fn compute(
    project: &Project,
    store: &Result<Store, String>,
    lists: &[String],
    segment: Option<&Segment>,
) -> Result<Reach, Unavailable> {
    let segment = segment.cloned().map(std::sync::Arc::new);
    let files = lists
        .iter()
        .map(|slug| {
            let list = project.config.list(slug).ok_or_else(|| format!("unknown list `{slug}`"))?;
            let shown = list.csv_path();
            Ok(ListFile { slug: slug.clone(), path: project.root.join(&shown), shown, segment: segment.clone() })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let store = store.as_ref().map_err(Clone::clone)?;
    let scratch;
    // A project without a SQLite store yet gets a scratch one: the preview creates no state.
    let state = if matches!(store, Store::Sqlite { path, .. } if !path.is_file()) {
        scratch = tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        State::open(&scratch.path().join("state.db"), Path::new("(no state yet)"))
    } else {
        State::open_store(store)
    }
    .map_err(|e| e.to_string().trim().to_owned())?;
    let problem = |e: crate::error::Error| e.to_string().trim().to_owned();
    let mut all = Members::new(&files, &state).map_err(problem)?.one_per_address();
    let mut recipients = Vec::new();
    for recipient in all.by_ref() {
        let recipient = recipient.map_err(problem)?;
        if recipients.len() < CHOICES {
            recipients.push(view(&recipient.subscriber));
        }
    }
    let (_, _, keys) = all.finish();
    Ok(Reach { total: keys.len(), recipients })
}

/// What templates see of a subscriber.
pub fn view(subscriber: &Subscriber) -> SubscriberView {
    SubscriberView { email: subscriber.email.clone(), name: subscriber.name.clone(), attrs: subscriber.attrs.clone() }
}
