//! Click tokens: the `<token>` of `<base-url>/l/<token>`, naming an issue and one of its links —
//! never a recipient, so every recipient of an issue gets the same URL.
//!
//! Enters: the issue's [`IssueKey`] and the link's index. Leaves: a short URL-safe token, and for
//! `serve` the (issue key, index) of a token that verifies.
//!
//! A token is base64url (no padding, 28 characters) of `0x43 || issue key (8 bytes) || index
//! (2 bytes, big-endian) || HMAC-SHA256(first key, "click\0" || the 11 bytes before)` truncated
//! to 10 bytes. The leading byte and the `click\0` prefix keep click and unsubscribe tokens
//! apart: neither ever verifies as the other. Every key verifies, in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac as _;
use sha2::{Digest as _, Sha256};

use super::Keys;

const VERSION: u8 = 0x43;
const DOMAIN: &[u8] = b"click\0";
const KEY_BYTES: usize = 8;
const SIGNED_BYTES: usize = 1 + KEY_BYTES + 2;
const TAG_BYTES: usize = 10;
/// The length of every click token, in characters (21 bytes are 28 base64 characters, no padding).
pub const CLICK_TOKEN_CHARS: usize = (SIGNED_BYTES + TAG_BYTES) * 4 / 3;

/// The short, public name of an issue in click tokens: the first 8 bytes of SHA-256 of its id
/// (`<publication>/<slug>`). Not a secret (issue ids are public), and independent of the keys, so
/// rotating keys never changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IssueKey(pub [u8; KEY_BYTES]);

impl IssueKey {
    /// The key of the issue with id `issue`.
    pub fn of(issue: &str) -> Self {
        let digest = Sha256::digest(issue.as_bytes());
        let mut key = [0; KEY_BYTES];
        key.copy_from_slice(&digest[..KEY_BYTES]);
        Self(key)
    }

    /// Lower-case hex, as the state store keeps it.
    pub fn hex(self) -> String {
        super::hex(&self.0)
    }
}

impl Keys {
    /// The click token of link `index` of the issue with key `issue`.
    pub fn click_token(&self, issue: IssueKey, index: u16) -> String {
        let mut bytes = Vec::with_capacity(SIGNED_BYTES + TAG_BYTES);
        bytes.push(VERSION);
        bytes.extend_from_slice(&issue.0);
        bytes.extend_from_slice(&index.to_be_bytes());
        let mut mac = self.macs[0].clone();
        mac.update(DOMAIN);
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes()[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The issue key and link index of a click token signed by any key, or `None` for anything
    /// else (tampered, truncated, an unsubscribe token, garbage). Tags compare in constant time.
    pub fn verify_click(&self, token: &str) -> Option<(IssueKey, u16)> {
        if token.len() != CLICK_TOKEN_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() != SIGNED_BYTES + TAG_BYTES || bytes[0] != VERSION {
            return None;
        }
        let (signed, tag) = bytes.split_at(SIGNED_BYTES);
        if !self.verifies(DOMAIN, signed, tag) {
            return None;
        }
        let mut key = [0; KEY_BYTES];
        key.copy_from_slice(&signed[1..=KEY_BYTES]);
        Some((IssueKey(key), u16::from_be_bytes([signed[SIGNED_BYTES - 2], signed[SIGNED_BYTES - 1]])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(secrets: &[u8]) -> Keys {
        Keys::from_secrets(secrets.iter().map(|&b| vec![b; 32]).collect()).unwrap()
    }

    #[test]
    fn click_tokens_round_trip_are_short_and_the_same_for_everyone() {
        let keys = keyring(&[1]);
        let issue = IssueKey::of("weekly/2016-12-09-plans");
        let token = keys.click_token(issue, 3);
        assert_eq!(token.len(), CLICK_TOKEN_CHARS);
        assert_eq!(CLICK_TOKEN_CHARS, 28);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(keys.verify_click(&token), Some((issue, 3)));
        assert_eq!(keys.click_token(issue, 3), token, "no recipient, no randomness: one URL for all");
        assert_ne!(keys.click_token(issue, 4), token);
        assert_ne!(keys.click_token(IssueKey::of("weekly/other"), 3), token);
    }

    #[test]
    fn tampered_foreign_and_unsubscribe_tokens_do_not_verify() {
        let keys = keyring(&[1]);
        let token = keys.click_token(IssueKey::of("weekly/a"), 0);
        let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 1;
            assert_eq!(keys.verify_click(&URL_SAFE_NO_PAD.encode(b)), None, "byte {i} flipped");
        }
        for bad in [&token[..27], "", "A", &"A".repeat(28), &format!("{token}A")] {
            assert_eq!(keys.verify_click(bad), None, "{bad}");
        }
        assert_eq!(keyring(&[2]).verify_click(&token), None, "another key");
        assert_eq!(keyring(&[2, 1]).verify_click(&token), keys.verify_click(&token), "a rotated-out key verifies");
        let unsubscribe = keys.token("a@example.org", "w");
        assert_eq!(keys.verify_click(&unsubscribe), None);
        assert_eq!(keys.verify(&token), None, "a click token is no unsubscribe token");
    }
}
