//! Aggregate click counts in the preview: each sent issue's total on the index, and on the
//! issue page the table of `letterpress clicks` with a bar per link.
//!
//! Enters: the configured state store (SQLite or PostgreSQL, as the preview's snapshot names
//! it). Leaves: the totals by issue id, or one issue's [`ClicksView`]; the store is opened
//! read-only and only when it exists (the preview never creates state).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::state::{State, Store};

/// One issue's clicks for the issue page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClicksView {
    /// E.g. `12 clicks counted, 40 filtered`.
    pub label: String,
    /// Each link, in issue order.
    pub links: Vec<LinkBar>,
}

/// One link and its bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkBar {
    /// The report's row.
    #[serde(flatten)]
    pub row: crate::clicks::Row,
    /// The bar's width in percent of the most clicked link's.
    pub width: u32,
}

fn open(store: &Result<Store, String>) -> Option<State> {
    State::open_store_read_only(store.as_ref().ok()?).ok().flatten()
}

/// The index cell of each issue sent with clicks on, by id: `12 clicks`.
pub fn totals(store: &Result<Store, String>) -> BTreeMap<String, String> {
    let Some(state) = open(store) else { return BTreeMap::new() };
    state
        .click_totals()
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.issue, if t.counted == 1 { "1 click".to_owned() } else { format!("{} clicks", t.counted) }))
        .collect()
}

/// The clicks of issue `id`, if it was sent with clicks on.
pub fn of_issue(store: &Result<Store, String>, id: &str) -> Option<ClicksView> {
    let links = open(store)?.click_report(id).ok()??;
    let rows = crate::clicks::rows(&links);
    let counted: u64 = rows.iter().map(|r| r.counted).sum();
    let filtered: u64 = rows.iter().map(|r| r.filtered).sum();
    let most = rows.iter().map(|r| r.counted).max().unwrap_or(0).max(1);
    let links = rows
        .into_iter()
        .map(|row| {
            let width = u32::try_from(row.counted.saturating_mul(100) / most).unwrap_or(100);
            LinkBar { row, width }
        })
        .collect();
    Some(ClicksView { label: format!("{counted} clicks counted, {filtered} filtered"), links })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::Project;
    use crate::state::ClickCount;

    #[test]
    fn the_index_total_and_the_issue_bars_come_from_the_store() {
        let dir = crate::project::copy_of_fixture("clicks");
        let project = Project::load(dir.path()).unwrap();
        let shown = project.config.state.db_path();
        let store = Ok(Store::Sqlite { path: project.root.join(&shown), shown: shown.clone() });
        assert_eq!(totals(&store), BTreeMap::new(), "no store, nothing shown, nothing created");
        assert!(!project.root.join(&shown).exists());
        assert_eq!(totals(&Err("no store configured".to_owned())), BTreeMap::new());
        let state = State::open(&project.root.join(&shown), &shown).unwrap();
        let at = jiff::Timestamp::from_second(0).unwrap();
        let links = [(0, "https://example.org/a", "A"), (1, "https://example.org/b", "B")];
        state.record_click_links("weekly/2016-12-09-plans", "00", links, at).unwrap();
        let count = |index, counted| ClickCount {
            issue: "weekly/2016-12-09-plans".into(),
            index,
            hour: 0,
            counted,
            filtered: 1,
        };
        state.add_clicks(&[count(0, 4), count(1, 1)]).unwrap();
        assert_eq!(totals(&store)["weekly/2016-12-09-plans"], "5 clicks");
        let view = of_issue(&store, "weekly/2016-12-09-plans").unwrap();
        assert_eq!(view.label, "5 clicks counted, 2 filtered");
        assert_eq!(view.links.iter().map(|l| l.width).collect::<Vec<_>>(), [100, 25]);
        assert_eq!(of_issue(&store, "weekly/2016-12-02-last"), None);
    }
}
