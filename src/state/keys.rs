//! The fingerprint of the signing keys, so that every host of a project signs and verifies
//! unsubscribe and confirmation links with the same keys.
//!
//! Enters: the fingerprints of a host's keys (first: the signing key; computed by
//! [`crate::token::Keys::fingerprints`], a hash that reveals nothing of a key). Leaves: whether
//! they agree with what the store has seen ([`KeyCheck`]). Table `key_fingerprint` (migration 10):
//! one row per name; portable SQL.

use super::State;
use super::db::{DbError, params};
use crate::error::Error;
use jiff::Timestamp;

/// What the store says about a host's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    /// The store had no fingerprint: this host's signing key's is recorded now.
    Recorded,
    /// The signing key is the one the store has seen.
    Same,
    /// The key the store has seen is one of this host's verifying keys (the keys were rotated by
    /// putting a new key first): the new signing key's fingerprint is recorded.
    Rotated,
    /// The store has seen another signing key, which this host does not have.
    Differs {
        /// The fingerprint the store holds.
        stored: String,
        /// When it was recorded.
        since: Timestamp,
    },
}

impl State {
    /// Compare `fingerprints` (the signing key's first, then the other verifying keys') with the
    /// fingerprint recorded under `name`, recording or updating it as [`KeyCheck`] says, in one
    /// write transaction so two hosts starting at once record one.
    pub fn check_key_fingerprint(&self, name: &str, fingerprints: &[String], at: Timestamp) -> Result<KeyCheck, Error> {
        let Some(signing) = fingerprints.first() else {
            return Err(Error::usage("no keys to check"));
        };
        let run = || -> Result<KeyCheck, DbError> {
            let tx = self.conn.begin(true)?;
            let stored: Option<(String, String)> = self.conn.query_opt(
                "SELECT fingerprint, recorded_at FROM key_fingerprint WHERE name = ?1",
                params![name],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let check = match stored {
                None => KeyCheck::Recorded,
                Some((stored, _)) if stored == *signing => KeyCheck::Same,
                Some((stored, _)) if fingerprints[1..].contains(&stored) => KeyCheck::Rotated,
                Some((stored, since)) => {
                    KeyCheck::Differs { stored, since: since.parse().unwrap_or(Timestamp::UNIX_EPOCH) }
                }
            };
            if matches!(check, KeyCheck::Recorded | KeyCheck::Rotated) {
                self.conn.execute(
                    "INSERT INTO key_fingerprint (name, fingerprint, recorded_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint, recorded_at = excluded.recorded_at",
                    params![name, signing, at.to_string()],
                )?;
            }
            tx.commit()?;
            Ok(check)
        };
        run().map_err(|e| self.error("update", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::Fresh;

    crate::state::testing::both!(records_once_accepts_the_same_and_a_rotation_and_refuses_other_keys);

    fn records_once_accepts_the_same_and_a_rotation_and_refuses_other_keys(t: &Fresh) {
        let state = t.open();
        let t: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let fp = |s: &str| s.to_owned();
        assert_eq!(state.check_key_fingerprint("signing", &[fp("a")], t).unwrap(), KeyCheck::Recorded);
        assert_eq!(state.check_key_fingerprint("signing", &[fp("a"), fp("z")], t).unwrap(), KeyCheck::Same);
        assert_eq!(
            state.check_key_fingerprint("signing", &[fp("b")], t).unwrap(),
            KeyCheck::Differs { stored: fp("a"), since: t }
        );
        assert_eq!(state.check_key_fingerprint("signing", &[fp("b"), fp("a")], t).unwrap(), KeyCheck::Rotated);
        assert_eq!(state.check_key_fingerprint("signing", &[fp("b")], t).unwrap(), KeyCheck::Same);
        assert!(matches!(state.check_key_fingerprint("signing", &[fp("a")], t).unwrap(), KeyCheck::Differs { .. }));
    }
}
