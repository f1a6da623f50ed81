//! The fingerprint of the signing keys, so that every host of a project signs and verifies
//! unsubscribe and confirmation links with the same keys.
//!
//! Enters: the fingerprints of a host's keys (first: the signing key; computed by
//! [`crate::token::Keys::fingerprints`], a hash that reveals nothing of a key). Leaves: whether
//! they agree with what the store has seen ([`KeyCheck`]), or the refusal `serve` and `send`
//! start with when they do not ([`State::check_shared_keys`]). Table `key_fingerprint`
//! (migration 9): one row per name; portable SQL.
//!
//! A host starts if its signing key is the one the store has seen, or if that key is one of its
//! other (verifying) keys: a rotation, after which the store records the new signing key and
//! hosts still on the old keys are refused until they get the new ones.

use super::State;
use super::db::{DbError, params};
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use jiff::Timestamp;

/// The name the signing keys' fingerprint is stored under.
const SIGNING: &str = "signing";

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
    /// Refuse to start with keys other than the ones the store has seen (another host's, or a
    /// new key file made by mistake): links this host signed would not verify on the others,
    /// and theirs not here. `fingerprints` are the host's keys' (the signing key's first); the
    /// first host to start records its signing key's.
    pub fn check_shared_keys(&self, fingerprints: &[String], at: Timestamp) -> Result<(), Error> {
        match self.check_key_fingerprint(SIGNING, fingerprints, at)? {
            KeyCheck::Recorded | KeyCheck::Same | KeyCheck::Rotated => Ok(()),
            KeyCheck::Differs { stored, since } => Err(Error::Invalid(vec![
                Diagnostic::error(
                    "keys/differ",
                    format!(
                        "this host's signing key (fingerprint {}) is not the one the state store has seen since \
                         {since} (fingerprint {stored}); links signed here would not verify on the other hosts",
                        fingerprints[0]
                    ),
                )
                .help(format!(
                    "use the project's keys on every host: on a host that works, run `letterpress keys export` and \
                     set its output as `{}` here (or copy `.letterpress/unsubscribe.key`); to rotate, put the new \
                     key first and the old one after it",
                    crate::env::KEYS
                )),
            ])),
        }
    }

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

    crate::state::testing::both!(
        records_once_accepts_the_same_and_a_rotation_and_refuses_other_keys,
        a_host_with_other_keys_is_refused_with_how_to_fix_it,
    );

    fn a_host_with_other_keys_is_refused_with_how_to_fix_it(t: &Fresh) {
        use crate::token::Keys;
        let state = t.open();
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let prints = |secrets: Vec<Vec<u8>>| Keys::from_secrets(secrets).unwrap().fingerprints();
        let first = prints(vec![vec![7; 32]]);
        state.check_shared_keys(&first, at).unwrap();
        state.check_shared_keys(&first, at).unwrap();
        let Err(Error::Invalid(d)) = state.check_shared_keys(&prints(vec![vec![8; 32]]), at) else { panic!("refused") };
        assert!(d[0].message.contains("not the one the state store has seen"), "{}", d[0].message);
        assert!(d[0].help.as_deref().is_some_and(|h| h.contains("LETTERPRESS_KEYS")), "{:?}", d[0].help);
        state.check_shared_keys(&prints(vec![vec![8; 32], vec![7; 32]]), at).unwrap();
        assert!(state.check_shared_keys(&first, at).is_err(), "the old key alone is refused after a rotation");
    }

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
