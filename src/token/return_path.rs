//! Per-recipient return paths: the envelope sender `bounces+<token>@<bounce-domain>` that
//! names the send and the recipient row a bounce answers, signed so a forged bounce names
//! nothing.
//!
//! Enters: the configured bounce address (`bounces.address`, `bounces.separator`), the signing
//! [`Keys`], an issue's id and a journal row's `seq`. Leaves: the return path of that row, and
//! for an address a bounce was delivered to, the [`Tag`] of a token that verifies.
//!
//! A token is lower-case base32 (RFC 4648 alphabet, no padding) of `version (1 byte) || issue
//! tag (5 bytes) || seq (4 bytes, big-endian) || HMAC-SHA256(first key, "return-path\0" ||
//! version || issue tag || seq)` truncated to 10 bytes: 20 bytes, 32 characters, so
//! `bounces+<token>` is 40 octets, well inside the 64 of a local part. The issue tag is the
//! first 5 bytes of SHA-256 of the issue's id (`<publication>/<slug>`). Base32 because some
//! relays lower-case local parts: the token reads the same in any case. Every key verifies, in
//! constant time, as for unsubscribe tokens.

use hmac::Mac as _;
use sha2::{Digest as _, Sha256};

use super::Keys;

const VERSION: u8 = 1;
/// Bytes of an issue's tag in a token.
pub const ISSUE_TAG_BYTES: usize = 5;
const SEQ_BYTES: usize = 4;
const MAC_BYTES: usize = 10;
const TOKEN_BYTES: usize = 1 + ISSUE_TAG_BYTES + SEQ_BYTES + MAC_BYTES;
/// Characters of a token.
pub const TOKEN_CHARS: usize = TOKEN_BYTES * 8 / 5;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const DOMAIN: &[u8] = b"return-path\0";

/// What a verified return-path token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    /// The tag of the issue's id ([`issue_tag`]).
    pub issue: [u8; ISSUE_TAG_BYTES],
    /// The recipient's row in that issue's journal.
    pub seq: i64,
}

/// The separator of a per-recipient return path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
pub enum Separator {
    /// `bounces+token@…`
    #[default]
    #[serde(rename = "+")]
    Plus,
    /// `bounces-token@…`
    #[serde(rename = "-")]
    Dash,
}

/// The configured bounce mailbox, split for building and reading return paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnPath {
    local: String,
    separator: char,
    domain: String,
}

/// What an address a bounce was delivered to says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A return path of ours whose token verifies.
    Verified(Tag),
    /// A return path of ours whose token does not verify (forged, damaged or from other keys).
    Forged,
    /// Not one of our return paths.
    Other,
}

impl ReturnPath {
    /// The bounce mailbox `address` (`bounces@news.example.org`) with `separator`; why not, as a
    /// sentence fragment, when it is not a plain mailbox whose local part leaves room for a token.
    pub fn parse(address: &str, separator: Separator) -> Result<Self, String> {
        let normal =
            crate::address::normalise_address(address).map_err(|why| crate::address::invalid(address, &why))?;
        let (local, domain) = normal.rsplit_once('@').ok_or_else(|| format!("`{address}` has no domain"))?;
        let separator = match separator {
            Separator::Plus => '+',
            Separator::Dash => '-',
        };
        if local.starts_with('"') || local.contains(separator) {
            return Err(format!("the local part of `{address}` must be plain and must not contain `{separator}`"));
        }
        if local.len() + 1 + TOKEN_CHARS > 64 {
            return Err(format!(
                "the local part of `{address}` is too long: with `{separator}` and a {TOKEN_CHARS}-character token it must fit in 64 octets"
            ));
        }
        Ok(Self { local: local.to_owned(), separator, domain: domain.to_owned() })
    }

    /// The bounce mailbox itself, without a token (the envelope sender of test sends).
    pub fn plain(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }

    /// The return path of row `seq` of `issue`; the plain mailbox when `seq` does not fit a token.
    pub fn address(&self, keys: &Keys, issue: &str, seq: i64) -> String {
        match keys.return_token(issue, seq) {
            Some(token) => format!("{}{}{token}@{}", self.local, self.separator, self.domain),
            None => self.plain(),
        }
    }

    /// Whether `address` is one of our return paths, and if so whether its token verifies.
    pub fn read(&self, keys: &Keys, address: &str) -> Found {
        let address = address.trim().trim_start_matches('<').trim_end_matches('>');
        let Some((local, domain)) = address.rsplit_once('@') else { return Found::Other };
        let prefix_len = self.local.len() + self.separator.len_utf8();
        if !domain.eq_ignore_ascii_case(&self.domain)
            || local.len() <= prefix_len
            || !local.is_char_boundary(prefix_len)
            || !local[..self.local.len()].eq_ignore_ascii_case(&self.local)
            || !local[self.local.len()..].starts_with(self.separator)
        {
            return Found::Other;
        }
        keys.verify_return_token(&local[prefix_len..]).map_or(Found::Forged, Found::Verified)
    }
}

/// The tag of an issue's id in return-path tokens: the first bytes of its SHA-256.
pub fn issue_tag(issue: &str) -> [u8; ISSUE_TAG_BYTES] {
    let digest = Sha256::digest(issue.as_bytes());
    let mut tag = [0; ISSUE_TAG_BYTES];
    tag.copy_from_slice(&digest[..ISSUE_TAG_BYTES]);
    tag
}

impl Keys {
    /// The return-path token of row `seq` of `issue`; `None` when `seq` does not fit 4 bytes.
    pub fn return_token(&self, issue: &str, seq: i64) -> Option<String> {
        let seq = u32::try_from(seq).ok()?;
        let mut bytes = Vec::with_capacity(TOKEN_BYTES);
        bytes.push(VERSION);
        bytes.extend_from_slice(&issue_tag(issue));
        bytes.extend_from_slice(&seq.to_be_bytes());
        let mut mac = self.macs[0].clone();
        mac.update(DOMAIN);
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes()[..MAC_BYTES]);
        Some(base32(&bytes))
    }

    /// What a return-path token names, when one of the keys signed it (in any letter case);
    /// `None` for anything else. Tags are compared in constant time.
    pub fn verify_return_token(&self, token: &str) -> Option<Tag> {
        if token.len() != TOKEN_CHARS {
            return None;
        }
        let bytes = unbase32(token)?;
        if bytes.len() != TOKEN_BYTES || bytes[0] != VERSION {
            return None;
        }
        let (signed, tag) = bytes.split_at(TOKEN_BYTES - MAC_BYTES);
        if !self.verifies(DOMAIN, signed, tag) {
            return None;
        }
        let mut issue = [0; ISSUE_TAG_BYTES];
        issue.copy_from_slice(&signed[1..=ISSUE_TAG_BYTES]);
        let mut seq = [0; SEQ_BYTES];
        seq.copy_from_slice(&signed[1 + ISSUE_TAG_BYTES..]);
        Some(Tag { issue, seq: i64::from(u32::from_be_bytes(seq)) })
    }
}

/// Lower-case base32 of `bytes`, whose length is a multiple of 5.
fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5);
    for chunk in bytes.chunks(5) {
        let mut buffer = [0u8; 5];
        buffer[..chunk.len()].copy_from_slice(chunk);
        let value = buffer.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        for i in (0..8).rev() {
            out.push(char::from(ALPHABET[usize::try_from((value >> (i * 5)) & 31).unwrap_or(0)]));
        }
    }
    out
}

/// The bytes of base32 `text` (either case, length a multiple of 8), or `None`.
fn unbase32(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(8) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    for chunk in text.as_bytes().chunks(8) {
        let mut value = 0u64;
        for &c in chunk {
            let digit = ALPHABET.iter().position(|&a| a == c.to_ascii_lowercase())?;
            value = (value << 5) | u64::try_from(digit).ok()?;
        }
        out.extend_from_slice(&value.to_be_bytes()[3..]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(secrets: &[u8]) -> Keys {
        Keys::from_secrets(secrets.iter().map(|&b| vec![b; 32]).collect()).unwrap()
    }

    fn bounces(separator: Separator) -> ReturnPath {
        ReturnPath::parse("bounces@News.Example.org", separator).unwrap()
    }

    #[test]
    fn a_return_path_names_its_row_in_any_letter_case() {
        let keys = keyring(&[1]);
        let path = bounces(Separator::Plus);
        let address = path.address(&keys, "weekly/2024-05-01-hello", 42);
        let (local, domain) = address.split_once('@').unwrap();
        assert_eq!(domain, "news.example.org");
        assert!(local.starts_with("bounces+") && local.len() <= 64, "{local}");
        assert_eq!(local.len(), "bounces+".len() + TOKEN_CHARS);
        let tag = Tag { issue: issue_tag("weekly/2024-05-01-hello"), seq: 42 };
        assert_eq!(path.read(&keys, &address), Found::Verified(tag));
        assert_eq!(path.read(&keys, &address.to_uppercase()), Found::Verified(tag));
        assert_eq!(path.read(&keys, &format!("<{address}>")), Found::Verified(tag));
        assert_eq!(path.plain(), "bounces@news.example.org");
        let dash = bounces(Separator::Dash).address(&keys, "weekly/x", 1);
        assert!(dash.starts_with("bounces-"), "{dash}");
        assert_eq!(path.read(&keys, &dash), Found::Other);
    }

    #[test]
    fn forged_damaged_and_foreign_tokens_do_not_verify() {
        let keys = keyring(&[1]);
        let path = bounces(Separator::Plus);
        let address = path.address(&keys, "weekly/x", 7);
        let at = "bounces+".len();
        for i in 0..TOKEN_CHARS {
            let mut bytes = address.clone().into_bytes();
            bytes[at + i] = if bytes[at + i] == b'a' { b'b' } else { b'a' };
            let changed = String::from_utf8(bytes).unwrap();
            assert_eq!(path.read(&keys, &changed), Found::Forged, "{changed}");
        }
        assert_eq!(path.read(&keyring(&[2]), &address), Found::Forged, "other keys");
        assert_eq!(
            path.read(&keyring(&[2, 1]), &address),
            Found::Verified(Tag { issue: issue_tag("weekly/x"), seq: 7 })
        );
        for other in ["bounces@news.example.org", "ann@example.org", "bounces+abc@other.example", "x", ""] {
            let expected = if other == "bounces+abc@other.example" || !other.starts_with("bounces+") {
                Found::Other
            } else {
                Found::Forged
            };
            assert_eq!(path.read(&keys, other), expected, "{other}");
        }
        assert_eq!(path.read(&keys, "bounces+short@news.example.org"), Found::Forged);
        assert_eq!(keys.return_token("weekly/x", -1), None);
        assert_eq!(path.address(&keys, "weekly/x", i64::MAX), "bounces@news.example.org");
    }

    #[test]
    fn bounce_addresses_that_leave_no_room_for_a_token_are_refused() {
        assert!(ReturnPath::parse("not an address", Separator::Plus).is_err());
        assert!(ReturnPath::parse("b+x@example.org", Separator::Plus).is_err());
        assert!(ReturnPath::parse("b+x@example.org", Separator::Dash).is_ok());
        let long = format!("{}@example.org", "b".repeat(40));
        assert!(ReturnPath::parse(&long, Separator::Plus).unwrap_err().contains("64 octets"));
    }

    #[test]
    fn base32_round_trips() {
        let bytes: Vec<u8> = (0..20).collect();
        assert_eq!(unbase32(&base32(&bytes)).unwrap(), bytes);
        assert_eq!(base32(&[0xff; 5]), "77777777");
        assert_eq!(unbase32("abc"), None);
        assert_eq!(unbase32("abcdefg1"), None);
    }
}
