//! Keys shared by every host of a project: the fingerprint the store keeps of them, the check
//! `serve` and `send` make at start, and `keys export`.
//!
//! Enters: [`Keys`], the state store, the time. Leaves: the keys' fingerprints (hex of
//! `HMAC-SHA256(key, "letterpress key fingerprint v1")`, 16 bytes: a keyed hash of a fixed
//! label, so it reveals nothing of the key and cannot be checked against a guess without it),
//! a refusal naming both fingerprints and how to fix it, or the keys as one `LETTERPRESS_KEYS`
//! value.
//!
//! A host starts if its signing key is the one the store has seen, or if that key is one of its
//! other (verifying) keys: a rotation, after which the store records the new signing key and
//! hosts still on the old keys are refused until they get the new ones.

use hmac::Mac as _;
use jiff::Timestamp;

use super::{HmacSha256, KEYS_VAR, Keys, hex};
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::state::State;
use crate::state::keys::KeyCheck;

/// The label hashed with each key for its fingerprint.
const LABEL: &[u8] = b"letterpress key fingerprint v1";

/// The name the signing keys' fingerprint is stored under.
const NAME: &str = "signing";

impl Keys {
    /// The fingerprint of each key, the signing key's first.
    pub fn fingerprints(&self) -> Vec<String> {
        self.macs
            .iter()
            .map(|mac: &HmacSha256| {
                let mut mac = mac.clone();
                mac.update(LABEL);
                hex(&mac.finalize().into_bytes()[..16])
            })
            .collect()
    }
}

/// Refuse to start with keys other than the ones the store has seen (another host's, or a new key
/// file made by mistake): links this host signed would not verify on the others, and theirs not
/// here. The first host to start records its signing key's fingerprint.
pub fn check_shared(state: &State, keys: &Keys, at: Timestamp) -> Result<(), Error> {
    let fingerprints = keys.fingerprints();
    match state.check_key_fingerprint(NAME, &fingerprints, at)? {
        KeyCheck::Recorded | KeyCheck::Same | KeyCheck::Rotated => Ok(()),
        KeyCheck::Differs { stored, since } => Err(Error::Invalid(vec![
            Diagnostic::error(
                "keys/differ",
                format!(
                    "this host's signing key (fingerprint {}) is not the one the state store has seen since {since} \
                     (fingerprint {stored}); links signed here would not verify on the other hosts",
                    fingerprints[0]
                ),
            )
            .help(format!(
                "use the project's keys on every host: on a host that works, run `letterpress keys export` and set \
                 its output as `{KEYS_VAR}` here (or copy `.letterpress/unsubscribe.key`); to rotate, put the new key \
                 first and the old one after it"
            )),
        ])),
    }
}

/// The keys as one value of [`KEYS_VAR`]: each key in hex, the signing key first, comma-separated.
pub fn export(keys: &Keys) -> String {
    keys.secrets.iter().map(|k| hex(k)).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_distinct_and_show_nothing_of_the_key() {
        let keys = Keys::from_secrets(vec![vec![7; 32], vec![8; 32]]).unwrap();
        let prints = keys.fingerprints();
        assert_eq!(prints.len(), 2);
        assert_ne!(prints[0], prints[1]);
        assert_eq!(prints, Keys::from_secrets(vec![vec![7; 32], vec![8; 32]]).unwrap().fingerprints());
        assert_eq!(prints[0].len(), 32);
        assert!(!prints[0].contains("0707"));
    }

    #[test]
    fn an_export_loads_as_the_same_keys() {
        let keys = Keys::from_secrets(vec![vec![7; 32], vec![9; 40]]).unwrap();
        let value = export(&keys);
        let env = crate::env::Env::from_pairs([(KEYS_VAR, value.as_str())]);
        let again = Keys::load(std::path::Path::new("/nonexistent"), &env).unwrap();
        assert_eq!(again.fingerprints(), keys.fingerprints());
    }

    #[test]
    fn a_host_with_other_keys_is_refused_with_how_to_fix_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("state.db"), std::path::Path::new("state.db")).unwrap();
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let first = Keys::from_secrets(vec![vec![7; 32]]).unwrap();
        check_shared(&state, &first, at).unwrap();
        check_shared(&state, &first, at).unwrap();
        let other = Keys::from_secrets(vec![vec![8; 32]]).unwrap();
        let Err(Error::Invalid(d)) = check_shared(&state, &other, at) else { panic!("refused") };
        assert!(d[0].message.contains("not the one the state store has seen"), "{}", d[0].message);
        let rotated = Keys::from_secrets(vec![vec![8; 32], vec![7; 32]]).unwrap();
        check_shared(&state, &rotated, at).unwrap();
        assert!(check_shared(&state, &first, at).is_err(), "the old key alone is refused after a rotation");
    }
}
