//! Keys shared by every host of a project: the fingerprints the store keeps of them (checked by
//! [`crate::state::State::check_shared_keys`] when `serve` and `send` start), and `keys export`.
//!
//! Enters: [`Keys`]. Leaves: the keys' fingerprints (hex of
//! `HMAC-SHA256(key, "letterpress key fingerprint v1")`, 16 bytes: a keyed hash of a fixed
//! label, so it reveals nothing of the key and cannot be checked against a guess without it),
//! or the keys as one `LETTERPRESS_KEYS` value.

use hmac::Mac as _;

use super::{HmacSha256, Keys, hex};

/// The label hashed with each key for its fingerprint.
const LABEL: &[u8] = b"letterpress key fingerprint v1";

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

/// The keys as one value of [`super::KEYS_VAR`]: each key in hex, the signing key first, comma-separated.
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
        let env = crate::env::Env::from_pairs([(super::super::KEYS_VAR, value.as_str())]);
        let again = Keys::load(std::path::Path::new("/nonexistent"), &env).unwrap();
        assert_eq!(again.fingerprints(), keys.fingerprints());
    }
}
