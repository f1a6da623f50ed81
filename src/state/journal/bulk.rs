//! The journal's set-based writes on PostgreSQL: one prepared statement per batch, its rows
//! passed as arrays and read back with `unnest`, instead of a statement per row.
//!
//! Enters: a PostgreSQL connection inside the caller's write transaction, an issue, recipients
//! or [`Update`]s, and the time as stored. Leaves: how many rows were added; the withheld keys
//! of a batch of updates, or `None` when an update matched no row (the caller rolls back and
//! runs the per-row path, which says why).
//!
//! Same results as the per-row statements in [`super::write`]: `seq` continues after the
//! issue's maximum with no gap for a recipient already there (or twice in one chunk, where the
//! first wins); an `inflight` mark of a `pending` row whose address is suppressed makes it
//! `suppressed` instead, in the same statement.

use std::collections::HashSet;

use postgres::types::ToSql;

use super::{DeliveryStatus, NewRecipient, Update};
use crate::state::db::DbError;
use crate::state::pg::PgConn;

pub(super) type Params = Vec<Box<dyn ToSql + Send + Sync>>;

/// The audience chunk in one statement: rows not in the journal yet (the first of duplicates)
/// get `seq` after the issue's maximum, in the chunk's order. No `ON CONFLICT`: every insert
/// into the journal runs under the store's write lock ([`add`]'s caller), so `NOT EXISTS` sees
/// every committed row, and a speculative insertion cost each row another index probe and WAL
/// record (about 13 % of the statement).
const INSERT: &str =
    "INSERT INTO deliveries (issue, address_key, email, name, attrs, list, seq, status, updated_at, token_id,
                             message_id)
     SELECT $1, u.k, u.e, u.n, u.a, u.l, m.base + row_number() OVER (ORDER BY u.ord), 'pending', $2, u.t, u.m
     FROM (SELECT DISTINCT ON (k) k, e, n, a, l, t, m, ord
           FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
                WITH ORDINALITY AS x(k, e, n, a, l, t, m, ord)
           ORDER BY k, ord) AS u
     CROSS JOIN (SELECT COALESCE(MAX(seq), 0) AS base FROM deliveries WHERE issue = $1) AS m
     WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.issue = $1 AND d.address_key = u.k)
     ORDER BY u.ord
     RETURNING 1";

/// Insert `recipients` (at most one chunk); returns how many were new.
pub(super) fn add(conn: &PgConn, issue: &str, recipients: Vec<NewRecipient>, at: &str) -> Result<usize, DbError> {
    if recipients.is_empty() {
        return Ok(0);
    }
    let len = recipients.len();
    let mut keys = Vec::with_capacity(len);
    let mut emails = Vec::with_capacity(len);
    let mut names = Vec::with_capacity(len);
    let mut attrs = Vec::with_capacity(len);
    let mut lists = Vec::with_capacity(len);
    let mut tokens: Vec<Option<String>> = Vec::with_capacity(len);
    let mut message_ids: Vec<Option<String>> = Vec::with_capacity(len);
    for r in recipients {
        attrs.push(serde_json::to_string(&r.attrs).map_err(|e| DbError::Value(e.to_string()))?);
        keys.push(r.address_key);
        emails.push(r.email);
        names.push(r.name);
        lists.push(r.list);
        tokens.push(r.token_id);
        message_ids.push(r.message_id);
    }
    let params: Params = vec![
        Box::new(issue.to_owned()),
        Box::new(at.to_owned()),
        Box::new(keys),
        Box::new(emails),
        Box::new(names),
        Box::new(attrs),
        Box::new(lists),
        Box::new(tokens),
        Box::new(message_ids),
    ];
    Ok(conn.query_typed(INSERT, params)?.len())
}

/// A batch of updates in one statement, followed by `$then` (a `SELECT` of `done`, the updated
/// rows' keys and whether each was withheld). `status` becomes `suppressed` instead of
/// `inflight` for a pending row whose address is suppressed (`hits`, looked up once per row);
/// then nothing else changes, as in [`super::write`]'s `IF_SUPPRESSED`. With a run (`$12`), an
/// `inflight` mark of a row another run claimed matches nothing (and the caller says why).
macro_rules! batch_update {
    ($then:literal) => {
        concat!(
            "WITH u AS (SELECT * FROM unnest($3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[],
                                          $9::bigint[], $10::text[], $11::text[])
                        AS u(address_key, status, code, reply, message_id, token_id, attempted, preds, relay)),
                  hits AS MATERIALIZED (
                      SELECT u.address_key FROM u
                      JOIN deliveries p ON p.issue = $1 AND p.address_key = u.address_key AND p.status = 'pending'
                      WHERE u.status = 'inflight' AND EXISTS (
                          SELECT 1 FROM suppressions x WHERE x.address = p.address_key AND x.scope IN ('*', p.list))),
                  done AS (
                      UPDATE deliveries AS d SET
                          status = CASE WHEN h.address_key IS NULL THEN u.status ELSE 'suppressed' END,
                          code = CASE WHEN h.address_key IS NULL THEN COALESCE(u.code, d.code) ELSE d.code END,
                          reply = CASE WHEN h.address_key IS NULL THEN COALESCE(u.reply, d.reply) ELSE d.reply END,
                          message_id = CASE WHEN h.address_key IS NULL THEN COALESCE(u.message_id, d.message_id)
                                            ELSE d.message_id END,
                          token_id = CASE WHEN h.address_key IS NULL THEN COALESCE(u.token_id, d.token_id)
                                          ELSE d.token_id END,
                          attempts = CASE WHEN h.address_key IS NULL THEN d.attempts + u.attempted ELSE d.attempts END,
                          relay = CASE WHEN h.address_key IS NULL THEN COALESCE(u.relay, d.relay) ELSE d.relay END,
                          claimed_by = CASE WHEN h.address_key IS NULL AND u.status = 'inflight'
                                            THEN COALESCE(CAST($12 AS BIGINT), d.claimed_by) ELSE d.claimed_by END,
                          updated_at = $2
                      FROM u LEFT JOIN hits h ON h.address_key = u.address_key
                      WHERE d.issue = $1 AND d.address_key = u.address_key
                        AND d.status = ANY(string_to_array(u.preds, ','))
                        AND NOT (u.status = 'inflight' AND ",
            claimed_by_another!("d", "$12"),
            ")
                      RETURNING d.address_key, h.address_key IS NOT NULL AS hit)
             ",
            $then
        )
    };
}
pub(super) use batch_update;

/// [`batch_update!`], every updated row.
const UPDATE: &str = batch_update!("SELECT address_key, hit FROM done");

/// Apply `updates` in order: one statement per run of updates with distinct keys (a statement
/// changes a row once). `None` when some update matched no row.
pub(super) fn apply(
    conn: &PgConn,
    issue: &str,
    updates: &[Update],
    at: &str,
    run: Option<i64>,
) -> Result<Option<Vec<String>>, DbError> {
    let mut withheld = Vec::new();
    for group in groups(updates) {
        let rows = conn.query_typed(UPDATE, params(issue, group, at, run))?;
        if rows.len() != group.len() {
            return Ok(None);
        }
        for row in rows {
            let hit: bool = row.try_get(1).map_err(|e| DbError::Pg(crate::state::pg::message(&e)))?;
            if hit {
                withheld.push(row.try_get(0).map_err(|e| DbError::Pg(crate::state::pg::message(&e)))?);
            }
        }
    }
    Ok(Some(withheld))
}

/// `updates` cut into runs whose keys are distinct, in order: what one statement may change.
pub(super) fn groups(updates: &[Update]) -> impl Iterator<Item = &[Update]> {
    let mut rest = updates;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut keys = HashSet::new();
        let end = rest.iter().position(|u| !keys.insert(u.address_key.as_str())).unwrap_or(rest.len());
        let (group, after) = rest.split_at(end);
        rest = after;
        Some(group)
    })
}

/// The parameters `$1` to `$12` of [`batch_update!`] for `group`.
pub(super) fn params(issue: &str, group: &[Update], at: &str, run: Option<i64>) -> Params {
    let text = |f: fn(&Update) -> Option<String>| group.iter().map(f).collect::<Vec<_>>();
    let keys: Vec<String> = group.iter().map(|u| u.address_key.clone()).collect();
    let statuses: Vec<&'static str> = group.iter().map(|u| u.status.as_str()).collect();
    let codes: Vec<Option<i64>> = group.iter().map(|u| u.code.map(i64::from)).collect();
    let attempted: Vec<i64> = group.iter().map(|u| i64::from(u.attempted)).collect();
    let preds: Vec<String> = group.iter().map(|u| predecessors(u.status)).collect();
    vec![
        Box::new(issue.to_owned()),
        Box::new(at.to_owned()),
        Box::new(keys),
        Box::new(statuses.into_iter().map(str::to_owned).collect::<Vec<_>>()),
        Box::new(codes),
        Box::new(text(|u| u.reply.clone())),
        Box::new(text(|u| u.message_id.clone())),
        Box::new(text(|u| u.token_id.clone())),
        Box::new(attempted),
        Box::new(preds),
        Box::new(text(|u| u.relay.clone())),
        Box::new(run),
    ]
}

/// The statuses `to` may come from, joined with `,` (no status name holds one).
fn predecessors(to: DeliveryStatus) -> String {
    to.predecessors().into_iter().flatten().collect::<Vec<_>>().join(",")
}
