//! The journal's writes that take one transaction each: a chunk of the audience, and a batch
//! of the send engine's updates.
//!
//! Enters: the connection, an issue, recipients or [`Update`]s, and the time as stored. Leaves:
//! how many rows were added, or why a batch was refused (then nothing of it was written).

use super::{DeliveryStatus, NewRecipient, Update};
use crate::state::db::{Conn, DbError, Value, params};

/// Rows added per transaction by [`super::State::add_recipients`].
const CHUNK: usize = 10_000;

/// Why a journal write did not happen.
pub(super) enum Failure {
    /// The database failed.
    Sql(DbError),
    /// The journal refused the change (the reason names the recipient or issue).
    Refused(String),
    /// The request needs the user's leave (a flag).
    Usage(String),
}

impl From<DbError> for Failure {
    fn from(error: DbError) -> Self {
        Self::Sql(error)
    }
}

/// Insert up to [`CHUNK`] recipients in one transaction; returns how many were new.
pub(super) fn add_chunk(
    conn: &Conn,
    issue: &str,
    recipients: &mut impl Iterator<Item = NewRecipient>,
    at: &str,
) -> Result<usize, DbError> {
    if let Conn::Pg(pg) = conn {
        let tx = conn.begin_write_with(RELAXED, true)?;
        let added = super::bulk::add(pg, issue, recipients.take(CHUNK).collect(), at)?;
        tx.commit()?;
        return Ok(added);
    }
    let tx = conn.begin(true)?;
    let mut seq: i64 =
        conn.query_value("SELECT COALESCE(MAX(seq), 0) FROM deliveries WHERE issue = ?1", params![issue])?;
    let mut added = 0;
    {
        for r in recipients.take(CHUNK) {
            let attrs = serde_json::to_string(&r.attrs).map_err(|e| DbError::Value(e.to_string()))?;
            let new = conn.execute(
                INSERT,
                params![issue, r.address_key, r.email, r.name, attrs, r.list, seq + 1, at, r.token_id, r.message_id],
            )?;
            if new == 1 {
                seq += 1;
                added += 1;
            }
        }
    }
    tx.commit()?;
    Ok(added)
}

/// One recipient into the journal (SQLite; PostgreSQL takes a chunk in one statement).
const INSERT: &str =
    "INSERT INTO deliveries (issue, address_key, email, name, attrs, list, seq, status, updated_at, token_id, message_id)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9, ?10)
     ON CONFLICT (issue, address_key) DO NOTHING";

/// The journal's batches on PostgreSQL commit without waiting for the WAL flush: the
/// durability of SQLite's `synchronous = NORMAL` that the journal documents (a committed batch
/// survives letterpress being killed at any instant; a crash of the database server or its
/// machine may lose the last fraction of a second). Only these transactions: a suppression or
/// anything `serve` records commits fully. Claims too (`claim.rs`): a claim lost with the
/// server is free again, as a dead run's.
pub(super) const RELAXED: &str = "SET LOCAL synchronous_commit = off";

/// [`super::State::apply`] on the connection: each update is one `UPDATE` guarded by the statuses the
/// row may come from; when it changes nothing, [`refusal`] says why and the batch rolls back.
///
/// A `pending` row about to become `inflight` whose address is now suppressed (globally or for
/// its list) becomes `suppressed` instead, in the same statement's transaction; its key is
/// returned, and the caller must not send to it.
pub(super) fn apply_all(
    conn: &Conn,
    issue: &str,
    updates: &[Update],
    at: &str,
    run: Option<i64>,
) -> Result<Vec<String>, Failure> {
    if let Conn::Pg(pg) = conn {
        // No store lock: each update is guarded by the statuses its row may come from, and the
        // rows are the run's own claims, so the send's writers commit side by side.
        let tx = conn.begin_write_with(RELAXED, false)?;
        if let Some(withheld) = super::bulk::apply(pg, issue, updates, at, run)? {
            tx.commit()?;
            return Ok(withheld);
        }
        // Something was refused: roll back and run it one statement at a time, which stops at
        // the refused update and says why.
    }
    let tx = conn.begin(true)?;
    let mut withheld = Vec::new();
    {
        for u in updates {
            if u.status == DeliveryStatus::Inflight && conn.execute(IF_SUPPRESSED, &marks(issue, u, at, run))? == 1 {
                withheld.push(u.address_key.clone());
                continue;
            }
            let update = UPDATES[usize::from(u.message_id.is_some())][usize::from(u.token_id.is_some())];
            let changed = conn.execute(update, &changes(issue, u, at, run))?;
            if changed == 0 {
                return Err(refusal(conn, issue, u, run));
            }
        }
    }
    tx.commit()?;
    Ok(withheld)
}

fn marks(issue: &str, u: &Update, at: &str, run: Option<i64>) -> Vec<Value> {
    params![issue, &u.address_key, at, run].to_vec()
}

fn changes(issue: &str, u: &Update, at: &str, run: Option<i64>) -> Vec<Value> {
    let from = u.status.predecessors();
    params![
        issue,
        &u.address_key,
        u.status.as_str(),
        u.code,
        u.reply.as_deref(),
        u.message_id.as_deref(),
        u.token_id.as_deref(),
        u.attempted,
        at,
        from[0],
        from[1],
        from[2],
        from[3],
        from[4],
        from[5],
        from[6],
        from[7],
        u.relay.as_deref(),
        run
    ]
    .to_vec()
}

/// Marks a pending row whose address is suppressed `suppressed` instead of `inflight`. The
/// two scopes are two lookups of the suppressions' key: as `s.scope IN ('*', deliveries.list)`
/// SQLite built a temporary b-tree of the two for every message's mark.
const IF_SUPPRESSED: &str = concat!(
    "UPDATE deliveries SET status = 'suppressed', updated_at = ?3
     WHERE issue = ?1 AND address_key = ?2 AND status = 'pending'
       AND NOT ",
    claimed_by_another!("deliveries", "?4"),
    "
       AND (EXISTS (SELECT 1 FROM suppressions s WHERE s.address = deliveries.address_key AND s.scope = '*')
            OR EXISTS (SELECT 1 FROM suppressions s
                       WHERE s.address = deliveries.address_key AND s.scope = deliveries.list))"
);

/// One update, guarded by the statuses the row may come from and, for a run, by its claim.
/// The indexed columns (`message_id`, `token_id`) are named only when the update sets them: a
/// statement that names one rewrites its index entry even to the same value, which writes a
/// random page of that index (to the WAL) per row. A parameter left out is still read
/// (`CAST(… AS TEXT) IS NULL`, always true there), as PostgreSQL needs every one typed.
/// The statuses a row may come from are compared one by one: SQLite builds a temporary
/// b-tree for every run of an `IN` list of more than two parameters, a tenth of a send's
/// journal time when each message's mark is a transaction.
macro_rules! update {
    ($ids:literal, $unused:literal) => {
        concat!(
            "UPDATE deliveries SET status = ?3, code = COALESCE(?4, code), reply = COALESCE(?5, reply), ",
            $ids,
            "attempts = attempts + ?8, updated_at = ?9, relay = COALESCE(?18, relay),
                 claimed_by = CASE WHEN ?3 = 'inflight' THEN COALESCE(CAST(?19 AS BIGINT), claimed_by)
                                   ELSE claimed_by END
             WHERE issue = ?1 AND address_key = ?2 AND (status = ?10 OR status = ?11 OR status = ?12 OR status = ?13
                    OR status = ?14 OR status = ?15 OR status = ?16 OR status = ?17)
               AND NOT (?3 = 'inflight' AND ",
            claimed_by_another!("deliveries", "?19"),
            ")",
            $unused
        )
    };
}

/// [`update!`] by `[message_id given][token_id given]`.
const UPDATES: [[&str; 2]; 2] = [
    [
        update!("", " AND CAST(?6 AS TEXT) IS NULL AND CAST(?7 AS TEXT) IS NULL"),
        update!("token_id = ?7, ", " AND CAST(?6 AS TEXT) IS NULL"),
    ],
    [update!("message_id = ?6, ", " AND CAST(?7 AS TEXT) IS NULL"), update!("message_id = ?6, token_id = ?7, ", "")],
];

/// Why `update` changed no row: the recipient is not in the journal, or its status may not
/// become the new one.
fn refusal(conn: &Conn, issue: &str, update: &Update, run: Option<i64>) -> Failure {
    let current = conn.query_opt(
        concat!("SELECT status, ", page_owner!("deliveries"), " FROM deliveries WHERE issue = ?1 AND address_key = ?2"),
        params![issue, &update.address_key],
        |row| Ok((row.get::<DeliveryStatus>(0)?, row.get::<Option<i64>>(1)?)),
    );
    let (key, to) = (&update.address_key, update.status.as_str());
    let elsewhere = |by: Option<i64>| {
        update.status == DeliveryStatus::Inflight && run.is_some_and(|run| by.is_some_and(|by| by != run))
    };
    match current {
        Err(e) => Failure::Sql(e),
        Ok(None) => Failure::Refused(format!("`{key}` is not in the journal of `{issue}`")),
        Ok(Some((_, by))) if elsewhere(by) => Failure::Refused(format!(
            "refusing to mark `{key}` `{to}` in the journal of `{issue}`: another sender (run {}) has claimed it, \
             since this run lost its lock; this run stops, the other one sends it",
            by.unwrap_or_default()
        )),
        Ok(Some((from, _))) => Failure::Refused(match from {
            DeliveryStatus::Sent => format!(
                "refusing to mark `{key}` `{to}` in the journal of `{issue}`: it is already `sent`, and sending again \
                 would deliver it twice"
            ),
            from => format!(
                "refusing to mark `{key}` `{to}` in the journal of `{issue}`: a `{}` recipient cannot become `{to}`",
                from.as_str()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::Fresh;

    #[test]
    fn the_journal_s_row_statements_build_no_temporary_b_tree_on_sqlite() {
        // They run for every recipient added and every status change (each message's in-flight
        // mark is a transaction of its own): a temporary b-tree built on every run (as for an
        // `IN` list, in the statement or in the table's CHECK) was a tenth of a send's journal
        // time.
        let fresh = Fresh::sqlite();
        let state = fresh.open();
        for sql in UPDATES.iter().flatten().chain([&IF_SUPPRESSED, &INSERT]) {
            let mut explain = state.sqlite().prepare(&format!("EXPLAIN {sql}")).unwrap();
            let unbound = std::iter::repeat_n(rusqlite::types::Null, explain.parameter_count());
            let opcodes: Vec<String> = explain
                .query_map(rusqlite::params_from_iter(unbound), |row| row.get(1))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(opcodes.iter().any(|op| op == "OpenWrite"), "writes nothing: {opcodes:?}");
            assert!(!opcodes.iter().any(|op| op == "OpenEphemeral"), "{sql}\n{opcodes:?}");
        }
    }
}
