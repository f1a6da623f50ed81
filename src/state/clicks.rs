//! Aggregate click counts (`publications[].clicks`): each sent issue's link table and how often
//! each link was followed, per hour — never by whom.
//!
//! Enters: at send time, an issue's id, its public key (see [`crate::token::IssueKey`]) and its
//! links (index, URL, text); from `serve`, batches of per-hour counts. Leaves: the target of a
//! click token, and per link the `counted` and `filtered` totals for `letterpress clicks` and the
//! preview. Three tables (migration 11): `click_issues` (issue, key, `sent_at` in seconds since
//! the epoch), `click_links` (issue, idx, url, text) and `click_counts` (issue, idx, hour,
//! counted, filtered). No address, IP address, user agent or cookie is ever stored; the SQL is
//! portable (numbered placeholders, `ON CONFLICT … DO`, integer times, sums cast to `BIGINT`
//! since PostgreSQL's `SUM` of a `BIGINT` is `NUMERIC`) and runs on SQLite and PostgreSQL.

use jiff::Timestamp;
use serde::Serialize;

use super::State;
use super::db::{DbError, Value, params};
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
    /// Record an issue's link table as of its send at `at`, in one transaction; a resumed send
    /// keeps the first record of each link (the links are the same: a changed issue is refused
    /// or sent as it was) and adds those of editions first prepared by the resume.
    pub fn record_click_links<'a>(
        &self,
        issue: &str,
        key: &str,
        links: impl IntoIterator<Item = (u16, &'a str, &'a str)>,
        at: Timestamp,
    ) -> Result<(), Error> {
        let mut statements = vec![(
            "INSERT INTO click_issues (issue, key, sent_at) VALUES (?1, ?2, ?3) ON CONFLICT (issue) DO NOTHING",
            params![issue, key, at.as_second()].to_vec(),
        )];
        statements.extend(links.into_iter().map(|(index, url, text)| {
            (
                "INSERT INTO click_links (issue, idx, url, text) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (issue, idx) DO NOTHING",
                params![issue, index, url, text].to_vec(),
            )
        }));
        self.write_all(&statements).map_err(|e| self.error("update", e))
    }

    /// The target of link `index` of the issue whose key is `key` (hex), if it was sent.
    pub fn click_target(&self, key: &str, index: u16) -> Result<Option<ClickTarget>, Error> {
        self.conn
            .query_opt(
                "SELECT i.issue, l.url, i.sent_at FROM click_issues AS i
                 JOIN click_links AS l ON l.issue = i.issue WHERE i.key = ?1 AND l.idx = ?2",
                params![key, index],
                |row| Ok(ClickTarget { issue: row.get(0)?, url: row.get(1)?, sent_at: row.get(2)? }),
            )
            .map_err(|e| self.error("read", e))
    }

    /// Add a batch of counts (deltas) in one transaction (one round trip on PostgreSQL).
    pub fn add_clicks(&self, batch: &[ClickCount]) -> Result<(), Error> {
        let statements: Vec<(&str, Vec<Value>)> = batch
            .iter()
            .map(|c| {
                (
                    "INSERT INTO click_counts (issue, idx, hour, counted, filtered) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (issue, idx, hour) DO UPDATE SET counted = click_counts.counted + excluded.counted,
                         filtered = click_counts.filtered + excluded.filtered",
                    params![&c.issue, c.index, c.hour, c.counted, c.filtered].to_vec(),
                )
            })
            .collect();
        self.write_all(&statements).map_err(|e| self.error("update", e))
    }

    /// Run `statements` in one write transaction.
    fn write_all(&self, statements: &[(&str, Vec<Value>)]) -> Result<(), DbError> {
        if statements.is_empty() {
            return Ok(());
        }
        let tx = self.conn.begin(true)?;
        self.conn.execute_many(statements)?;
        tx.commit()
    }

    /// Each recorded link of `issue` with its totals, in issue order; `None` when the issue was
    /// never sent with clicks on.
    pub fn click_report(&self, issue: &str) -> Result<Option<Vec<LinkCounts>>, Error> {
        let read = || -> Result<Option<Vec<LinkCounts>>, DbError> {
            let known =
                self.conn.query_opt("SELECT 1 FROM click_issues WHERE issue = ?1", params![issue], |_| Ok(()))?;
            if known.is_none() {
                return Ok(None);
            }
            self.conn
                .query(
                    "SELECT l.idx, l.text, l.url,
                         CAST(COALESCE(SUM(c.counted), 0) AS BIGINT), CAST(COALESCE(SUM(c.filtered), 0) AS BIGINT)
                     FROM click_links AS l LEFT JOIN click_counts AS c ON c.issue = l.issue AND c.idx = l.idx
                     WHERE l.issue = ?1 GROUP BY l.idx, l.text, l.url ORDER BY l.idx",
                    params![issue],
                    |row| {
                        Ok(LinkCounts {
                            index: row.get(0)?,
                            text: row.get(1)?,
                            url: row.get(2)?,
                            counted: row.get::<i64>(3)?.try_into().unwrap_or(0),
                            filtered: row.get::<i64>(4)?.try_into().unwrap_or(0),
                        })
                    },
                )
                .map(Some)
        };
        read().map_err(|e| self.error("read", e))
    }

    /// Every issue sent with clicks on, with its totals, by issue id.
    pub fn click_totals(&self) -> Result<Vec<IssueClicks>, Error> {
        self.conn
            .query(
                "SELECT i.issue, CAST(COALESCE(SUM(c.counted), 0) AS BIGINT), CAST(COALESCE(SUM(c.filtered), 0) AS BIGINT)
                 FROM click_issues AS i LEFT JOIN click_counts AS c ON c.issue = i.issue
                 GROUP BY i.issue ORDER BY i.issue",
                &[],
                |row| {
                    Ok(IssueClicks {
                        issue: row.get(0)?,
                        counted: row.get::<i64>(1)?.try_into().unwrap_or(0),
                        filtered: row.get::<i64>(2)?.try_into().unwrap_or(0),
                    })
                },
            )
            .map_err(|e| self.error("read", e))
    }
}

#[cfg(test)]
mod tests;
