//! Aggregate click counts (`publications[].clicks`): each sent issue's link table and how often
//! each link was followed, per hour — never by whom.
//!
//! Enters: at send time, an issue's id, its public key (see [`crate::token::IssueKey`]) and its
//! links (index, URL, text); from `serve`, batches of per-hour counts. Leaves: the target of a
//! click token, and per link the `counted` and `filtered` totals for `letterpress clicks` and the
//! preview. Three tables (migration 12): `click_issues` (issue, key, `sent_at` in seconds since
//! the epoch), `click_links` (issue, idx, url, text) and `click_counts` (issue, idx, hour,
//! counted, filtered). No address, IP address, user agent or cookie is ever stored; the SQL is
//! portable (numbered placeholders, `ON CONFLICT … DO`, integer times).

use jiff::Timestamp;
use rusqlite::OptionalExtension as _;
use serde::Serialize;

use super::State;
use crate::error::Error;

/// Where a click token leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickTarget {
    /// The issue's id.
    pub issue: String,
    /// The original URL.
    pub url: String,
    /// When the issue's send began, in seconds since the epoch.
    pub sent_at: i64,
}

/// Clicks to add to one link's count for one hour.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClickCount {
    /// The issue's id.
    pub issue: String,
    /// The link's index.
    pub index: u16,
    /// The hour's first second since the epoch.
    pub hour: i64,
    /// Clicks that look like people (negative when a burst's first clicks move to `filtered`).
    pub counted: i64,
    /// Clicks the bot filter dropped.
    pub filtered: i64,
}

/// One link of a sent issue with its totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkCounts {
    /// Its index in the issue, from 0.
    pub index: u16,
    /// Its text.
    pub text: String,
    /// Where it goes.
    pub url: String,
    /// Clicks counted.
    pub counted: u64,
    /// Clicks filtered out (scanners, previews, prefetches, bursts).
    pub filtered: u64,
}

/// A sent issue's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueClicks {
    /// The issue's id.
    pub issue: String,
    /// Clicks counted over all its links.
    pub counted: u64,
    /// Clicks filtered out.
    pub filtered: u64,
}

impl State {
    /// Record an issue's link table as of its send at `at`; a resumed send keeps the first
    /// record (the links are the same: a changed issue is refused or sent as it was).
    pub fn record_click_links<'a>(
        &self,
        issue: &str,
        key: &str,
        links: impl IntoIterator<Item = (u16, &'a str, &'a str)>,
        at: Timestamp,
    ) -> Result<(), Error> {
        let run = || -> rusqlite::Result<()> {
            let tx = rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO click_issues (issue, key, sent_at) VALUES (?1, ?2, ?3) ON CONFLICT (issue) DO NOTHING",
                (issue, key, at.as_second()),
            )?;
            {
                let mut insert = tx.prepare(
                    "INSERT INTO click_links (issue, idx, url, text) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (issue, idx) DO NOTHING",
                )?;
                for (index, url, text) in links {
                    insert.execute((issue, index, url, text))?;
                }
            }
            tx.commit()
        };
        run().map_err(|e| self.error("update", e))
    }

    /// The target of link `index` of the issue whose key is `key` (hex), if it was sent.
    pub fn click_target(&self, key: &str, index: u16) -> Result<Option<ClickTarget>, Error> {
        self.conn
            .query_row(
                "SELECT i.issue, l.url, i.sent_at FROM click_issues AS i
                 JOIN click_links AS l ON l.issue = i.issue WHERE i.key = ?1 AND l.idx = ?2",
                (key, index),
                |row| Ok(ClickTarget { issue: row.get(0)?, url: row.get(1)?, sent_at: row.get(2)? }),
            )
            .optional()
            .map_err(|e| self.error("read", e))
    }

    /// Add a batch of counts (deltas) in one transaction.
    pub fn add_clicks(&self, batch: &[ClickCount]) -> Result<(), Error> {
        let run = || -> rusqlite::Result<()> {
            let tx = rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut upsert = tx.prepare(
                    "INSERT INTO click_counts (issue, idx, hour, counted, filtered) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (issue, idx, hour) DO UPDATE SET counted = click_counts.counted + excluded.counted,
                         filtered = click_counts.filtered + excluded.filtered",
                )?;
                for c in batch {
                    upsert.execute((&c.issue, c.index, c.hour, c.counted, c.filtered))?;
                }
            }
            tx.commit()
        };
        run().map_err(|e| self.error("update", e))
    }

    /// Each recorded link of `issue` with its totals, in issue order; `None` when the issue was
    /// never sent with clicks on.
    pub fn click_report(&self, issue: &str) -> Result<Option<Vec<LinkCounts>>, Error> {
        let read = || -> rusqlite::Result<Option<Vec<LinkCounts>>> {
            let known =
                self.conn.query_row("SELECT 1 FROM click_issues WHERE issue = ?1", [issue], |_| Ok(())).optional()?;
            if known.is_none() {
                return Ok(None);
            }
            let mut stmt = self.conn.prepare(
                "SELECT l.idx, l.text, l.url, COALESCE(SUM(c.counted), 0), COALESCE(SUM(c.filtered), 0)
                 FROM click_links AS l LEFT JOIN click_counts AS c ON c.issue = l.issue AND c.idx = l.idx
                 WHERE l.issue = ?1 GROUP BY l.idx, l.text, l.url ORDER BY l.idx",
            )?;
            let rows = stmt.query_map([issue], |row| {
                Ok(LinkCounts {
                    index: row.get(0)?,
                    text: row.get(1)?,
                    url: row.get(2)?,
                    counted: row.get::<_, i64>(3)?.try_into().unwrap_or(0),
                    filtered: row.get::<_, i64>(4)?.try_into().unwrap_or(0),
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map(Some)
        };
        read().map_err(|e| self.error("read", e))
    }

    /// Every issue sent with clicks on, with its totals, by issue id.
    pub fn click_totals(&self) -> Result<Vec<IssueClicks>, Error> {
        let read = || -> rusqlite::Result<Vec<IssueClicks>> {
            let mut stmt = self.conn.prepare(
                "SELECT i.issue, COALESCE(SUM(c.counted), 0), COALESCE(SUM(c.filtered), 0)
                 FROM click_issues AS i LEFT JOIN click_counts AS c ON c.issue = i.issue
                 GROUP BY i.issue ORDER BY i.issue",
            )?;
            let rows = stmt.query_map([], |row| {
                Ok(IssueClicks {
                    issue: row.get(0)?,
                    counted: row.get::<_, i64>(1)?.try_into().unwrap_or(0),
                    filtered: row.get::<_, i64>(2)?.try_into().unwrap_or(0),
                })
            })?;
            rows.collect()
        };
        read().map_err(|e| self.error("read", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, State) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let state = State::open(&path, std::path::Path::new("state.db")).unwrap();
        (dir, state)
    }

    #[test]
    fn links_are_recorded_once_and_counts_add_up_per_hour() {
        let (_dir, state) = store();
        let at = Timestamp::from_second(1_000_000).unwrap();
        let links = [(0, "https://a.example/", "A"), (1, "https://b.example/", "B")];
        state.record_click_links("w/x", "00ff", links, at).unwrap();
        state.record_click_links("w/x", "00ff", [(0, "https://changed.example/", "C")], at).unwrap();
        let target = state.click_target("00ff", 0).unwrap().unwrap();
        assert_eq!(target, ClickTarget { issue: "w/x".into(), url: "https://a.example/".into(), sent_at: 1_000_000 });
        assert_eq!(state.click_target("00ff", 2).unwrap(), None);
        assert_eq!(state.click_target("beef", 0).unwrap(), None);
        assert_eq!(state.click_report("w/other").unwrap(), None);
        let count = |index, hour, counted, filtered| ClickCount { issue: "w/x".into(), index, hour, counted, filtered };
        state.add_clicks(&[count(0, 3600, 2, 1), count(0, 7200, 1, 0)]).unwrap();
        state.add_clicks(&[count(0, 3600, 1, 5)]).unwrap();
        let report = state.click_report("w/x").unwrap().unwrap();
        assert_eq!((report[0].counted, report[0].filtered), (4, 6));
        assert_eq!((report[1].index, report[1].counted, report[1].filtered), (1, 0, 0));
        assert_eq!(state.click_totals().unwrap(), [IssueClicks { issue: "w/x".into(), counted: 4, filtered: 6 }]);
    }
}
