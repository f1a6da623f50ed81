//! The journal's writes that take one transaction each: a chunk of the audience, and a batch
//! of the send engine's updates.
//!
//! Enters: the connection, an issue, recipients or [`Update`]s, and the time as stored. Leaves:
//! how many rows were added, or why a batch was refused (then nothing of it was written).

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};

use super::{DeliveryStatus, NewRecipient, Update};

/// Rows added per transaction by [`super::State::add_recipients`].
const CHUNK: usize = 10_000;

/// Why a journal write did not happen.
pub(super) enum Failure {
    /// SQLite failed.
    Sql(rusqlite::Error),
    /// The journal refused the change (the reason names the recipient or issue).
    Refused(String),
    /// The request needs the user's leave (a flag).
    Usage(String),
}

impl From<rusqlite::Error> for Failure {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sql(error)
    }
}

/// Insert up to [`CHUNK`] recipients in one transaction; returns how many were new.
pub(super) fn add_chunk(
    conn: &mut Connection,
    issue: &str,
    recipients: &mut impl Iterator<Item = NewRecipient>,
    at: &str,
) -> rusqlite::Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut seq: i64 =
        tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM deliveries WHERE issue = ?1", [issue], |row| row.get(0))?;
    let mut added = 0;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO deliveries (issue, address_key, email, name, attrs, list, seq, status, updated_at, token_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9)
             ON CONFLICT (issue, address_key) DO NOTHING",
        )?;
        for r in recipients.take(CHUNK) {
            let attrs =
                serde_json::to_string(&r.attrs).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
            let new = insert.execute(params![
                issue,
                r.address_key,
                r.email,
                r.name,
                attrs,
                r.list,
                seq + 1,
                at,
                r.token_id
            ])?;
            if new == 1 {
                seq += 1;
                added += 1;
            }
        }
    }
    tx.commit()?;
    Ok(added)
}

/// [`super::State::apply`] on the connection: each update is one `UPDATE` guarded by the statuses the
/// row may come from; when it changes nothing, [`refusal`] says why and the batch rolls back.
///
/// A `pending` row about to become `inflight` whose address is now suppressed (globally or for
/// its list) becomes `suppressed` instead, in the same statement's transaction; its key is
/// returned, and the caller must not send to it.
pub(super) fn apply_all(
    conn: &mut Connection,
    issue: &str,
    updates: &[Update],
    at: &str,
) -> Result<Vec<String>, Failure> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut withheld = Vec::new();
    {
        let mut if_suppressed = tx.prepare_cached(
            "UPDATE deliveries SET status = 'suppressed', updated_at = ?3
             WHERE issue = ?1 AND address_key = ?2 AND status = 'pending'
               AND EXISTS (SELECT 1 FROM suppressions s
                           WHERE s.address = deliveries.address_key AND s.scope IN ('*', deliveries.list))",
        )?;
        let mut update = tx.prepare_cached(
            "UPDATE deliveries SET status = ?3, code = COALESCE(?4, code), reply = COALESCE(?5, reply),
                 message_id = COALESCE(?6, message_id), token_id = COALESCE(?7, token_id),
                 attempts = attempts + ?8, updated_at = ?9, relay = COALESCE(?18, relay)
             WHERE issue = ?1 AND address_key = ?2 AND status IN (?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )?;
        for u in updates {
            if u.status == DeliveryStatus::Inflight && if_suppressed.execute(params![issue, u.address_key, at])? == 1 {
                withheld.push(u.address_key.clone());
                continue;
            }
            let from = u.status.predecessors();
            let changed = update.execute(params![
                issue,
                u.address_key,
                u.status.as_str(),
                u.code,
                u.reply,
                u.message_id,
                u.token_id,
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
                u.relay
            ])?;
            if changed == 0 {
                return Err(refusal(&tx, issue, u));
            }
        }
    }
    tx.commit()?;
    Ok(withheld)
}

/// Why `update` changed no row: the recipient is not in the journal, or its status may not
/// become the new one.
fn refusal(conn: &Connection, issue: &str, update: &Update) -> Failure {
    let current = conn.query_row(
        "SELECT status FROM deliveries WHERE issue = ?1 AND address_key = ?2",
        (issue, &update.address_key),
        |row| row.get::<_, DeliveryStatus>(0),
    );
    let (key, to) = (&update.address_key, update.status.as_str());
    match current.optional() {
        Err(e) => Failure::Sql(e),
        Ok(None) => Failure::Refused(format!("`{key}` is not in the journal of `{issue}`")),
        Ok(Some(DeliveryStatus::Sent)) => Failure::Refused(format!(
            "refusing to mark `{key}` `{to}` in the journal of `{issue}`: it is already `sent`, and sending again \
             would deliver it twice"
        )),
        Ok(Some(from)) => Failure::Refused(format!(
            "refusing to mark `{key}` `{to}` in the journal of `{issue}`: a `{}` recipient cannot become `{to}`",
            from.as_str()
        )),
    }
}
