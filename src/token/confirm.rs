//! Subscription confirmation tokens: signed, expiring, and carrying the whole request.
//!
//! Enters: the address, list slug and name someone typed into a subscribe form, and the instant
//! the link stops working. Leaves: a URL-safe token for the confirmation link, and — for
//! `GET /confirm` — the [`Subscription`] it carries, or why it is refused ([`Refused`]).
//!
//! A token is base64url (no padding) of `version 2 (1 byte) || expiry (i64 seconds, big-endian)
//! || address length (u16, big-endian) || address || list length (u16) || list || name ||
//! HMAC-SHA256(first key, "confirm\0" || everything before the tag)` truncated to 16 bytes. The
//! version byte and the `confirm\0` prefix keep these tokens apart from unsubscribe tokens: one
//! can never be used as the other. Nothing is stored until the link is followed, so an
//! unconfirmed request leaves no address behind. The address is in the token (base64, not
//! encrypted): it only ever travels in a mail to that address.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac as _;
use jiff::Timestamp;

use super::{Keys, TAG_BYTES};

const CONFIRM_VERSION: u8 = 2;
const CONFIRM_DOMAIN: &[u8] = b"confirm\0";
/// Longer tokens are refused before any work: an address, a slug and a short name fit easily.
const MAX_CONFIRM_CHARS: usize = 4096;

/// What a valid confirmation token asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The address to subscribe, as it was given to [`Keys::confirm_token`].
    pub email: String,
    /// The list's slug.
    pub list: String,
    /// The subscriber's name, or an empty string.
    pub name: String,
    /// When the link stops working.
    pub expires: Timestamp,
}

/// Why a confirmation token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not signed by any key, truncated, tampered with, or not a confirmation token at all.
    Invalid,
    /// Genuine, but past its expiry.
    Expired,
}

impl Keys {
    /// The confirmation token for subscribing `email` to `list` as `name`, valid until `expires`.
    /// Fields longer than 65,535 bytes are cut (callers validate far shorter limits).
    pub fn confirm_token(&self, email: &str, list: &str, name: &str, expires: Timestamp) -> String {
        let mut bytes = Vec::with_capacity(1 + 8 + 4 + email.len() + list.len() + name.len() + TAG_BYTES);
        bytes.push(CONFIRM_VERSION);
        bytes.extend_from_slice(&expires.as_second().to_be_bytes());
        for field in [email, list] {
            let field = &field.as_bytes()[..field.len().min(usize::from(u16::MAX))];
            bytes.extend_from_slice(&u16::try_from(field.len()).unwrap_or(u16::MAX).to_be_bytes());
            bytes.extend_from_slice(field);
        }
        bytes.extend_from_slice(name.as_bytes());
        let mut mac = self.macs[0].clone();
        mac.update(CONFIRM_DOMAIN);
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes()[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The subscription a confirmation token carries, if any key signed it (tags compared in
    /// constant time) and `now` is not past its expiry. A forged token is [`Refused::Invalid`]
    /// whatever expiry it claims.
    pub fn verify_confirm(&self, token: &str, now: Timestamp) -> Result<Subscription, Refused> {
        if token.len() > MAX_CONFIRM_CHARS {
            return Err(Refused::Invalid);
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| Refused::Invalid)?;
        if bytes.len() < 1 + 8 + 4 + TAG_BYTES || bytes[0] != CONFIRM_VERSION {
            return Err(Refused::Invalid);
        }
        let (signed, tag) = bytes.split_at(bytes.len() - TAG_BYTES);
        if !self.verifies(CONFIRM_DOMAIN, signed, tag) {
            return Err(Refused::Invalid);
        }
        let subscription = parse(signed).ok_or(Refused::Invalid)?;
        if now > subscription.expires { Err(Refused::Expired) } else { Ok(subscription) }
    }
}

/// The fields of a signed confirmation token (tag removed).
fn parse(signed: &[u8]) -> Option<Subscription> {
    let seconds = i64::from_be_bytes(signed.get(1..9)?.try_into().ok()?);
    let mut rest = &signed[9..];
    let mut field = || -> Option<String> {
        let len = usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?));
        let value = std::str::from_utf8(rest.get(2..2 + len)?).ok()?.to_owned();
        rest = &rest[2 + len..];
        Some(value)
    };
    let email = field()?;
    let list = field()?;
    let name = std::str::from_utf8(rest).ok()?.to_owned();
    Some(Subscription { email, list, name, expires: Timestamp::from_second(seconds).ok()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(byte: u8) -> Keys {
        Keys::from_secrets(vec![vec![byte; 32]]).unwrap()
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn a_confirmation_token_round_trips_until_it_expires() {
        let keys = keys(1);
        let token = keys.confirm_token("zoë@example.org", "readers", "Zoë \"Q\" Müller", at(1_000));
        let expected = Subscription {
            email: "zoë@example.org".to_owned(),
            list: "readers".to_owned(),
            name: "Zoë \"Q\" Müller".to_owned(),
            expires: at(1_000),
        };
        assert_eq!(keys.verify_confirm(&token, at(999)), Ok(expected.clone()));
        assert_eq!(keys.verify_confirm(&token, at(1_000)), Ok(expected));
        assert_eq!(keys.verify_confirm(&token, at(1_001)), Err(Refused::Expired));
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }

    #[test]
    fn forged_tampered_and_foreign_tokens_are_invalid() {
        let forged_late = keys(2).confirm_token("a@example.org", "readers", "", at(0));
        let keys = keys(1);
        let token = keys.confirm_token("a@example.org", "readers", "", at(1_000));
        let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 1;
            assert_eq!(keys.verify_confirm(&URL_SAFE_NO_PAD.encode(flipped), at(0)), Err(Refused::Invalid), "{i}");
        }
        assert_eq!(keys.verify_confirm(&forged_late, at(10)), Err(Refused::Invalid), "forged and expired");
        let unsubscribe = keys.token("a@example.org", "readers");
        assert_eq!(keys.verify_confirm(&unsubscribe, at(0)), Err(Refused::Invalid));
        assert_eq!(keys.verify(&token), None, "a confirmation token never unsubscribes");
        for bad in [&token[..token.len() - 2], "", "***", &"A".repeat(5_000)] {
            assert_eq!(keys.verify_confirm(bad, at(0)), Err(Refused::Invalid), "{bad}");
        }
    }

    #[test]
    fn rotated_keys_still_confirm() {
        let old = keys(1);
        let rotated = Keys::from_secrets(vec![vec![2; 32], vec![1; 32]]).unwrap();
        let token = old.confirm_token("a@example.org", "readers", "A", at(1_000));
        assert_eq!(rotated.verify_confirm(&token, at(0)).map(|s| s.name), Ok("A".to_owned()));
    }
}
