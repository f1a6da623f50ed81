//! Provider webhooks: each request verified as its provider specifies, then read into
//! [`ProviderEvent`]s. Nothing in a body is believed before its signature or credentials check
//! out; a request that fails is [`Rejected`] and changes nothing.
//!
//! - [`ses`]: Amazon SES through SNS — the SNS signature against the signing certificate, whose
//!   URL must be https on `sns.<region>.amazonaws.com`; subscription confirmation.
//! - [`postmark`]: basic auth and/or a secret path.
//! - [`mailgun`]: HMAC-SHA256 of timestamp and token, a replay window, tokens used once.
//!
//! The HTTP side is `crate::serve`'s webhook routes; the events go to a [`super::Sink`].

pub mod mailgun;
pub mod postmark;
pub mod ses;

use serde_json::Value;

use super::ProviderEvent;

/// Largest webhook body read (SNS allows 256 KiB messages).
pub const MAX_BODY: usize = 256 * 1024;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// 401: missing or wrong credentials or signature.
    Unauthorized(String),
    /// 403: well signed but not for us (another topic, a replay, a certificate host we do not
    /// trust).
    Forbidden(String),
    /// 400: not a request of this provider at all.
    BadRequest(String),
    /// 503: it could not be verified now (the signing certificate could not be fetched); the
    /// provider retries.
    Unavailable(String),
}

impl Rejected {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::BadRequest(_) => 400,
            Self::Unavailable(_) => 503,
        }
    }

    /// Why, for the log.
    pub fn reason(&self) -> &str {
        match self {
            Self::Unauthorized(why) | Self::Forbidden(why) | Self::BadRequest(why) | Self::Unavailable(why) => why,
        }
    }
}

/// What a verified request asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Events to record (possibly none: an event type we do not track).
    Events(Vec<ProviderEvent>),
    /// An SNS subscription to confirm by fetching this URL (already host-checked).
    Subscribe(url::Url),
}

/// Equal, in time that depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The JSON body, or 400.
fn json(body: &[u8]) -> Result<Value, Rejected> {
    serde_json::from_slice(body).map_err(|e| Rejected::BadRequest(format!("the body is not JSON ({e})")))
}

/// `value` at `key` as a string, when it is one.
fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// A `Message-ID` without its angle brackets.
fn bare_message_id(id: &str) -> String {
    id.trim().trim_start_matches('<').trim_end_matches('>').to_owned()
}

/// An SMTP reply code at the start of `text` (`550 5.1.1 …`, `smtp; 550 …`).
fn reply_code(text: &str) -> Option<u16> {
    let text = text.split_once(';').map_or(text, |(_, rest)| rest).trim_start();
    let code: String = text.chars().take(3).collect();
    let next = text.chars().nth(3);
    (code.len() == 3 && code.starts_with(['2', '4', '5']) && next.is_none_or(|c| !c.is_ascii_digit()))
        .then(|| code.parse().ok())
        .flatten()
}

/// An enhanced status code (`5.1.1`) anywhere in `text`.
fn status_code(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.')).find_map(|word| {
        let parts: Vec<&str> = word.split('.').collect();
        (parts.len() == 3
            && matches!(parts[0], "2" | "4" | "5")
            && (1..=3).contains(&parts[1].len())
            && (1..=3).contains(&parts[2].len()))
        .then(|| word.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_in_diagnostics() {
        assert_eq!(reply_code("smtp; 550 5.1.1 user unknown"), Some(550));
        assert_eq!(reply_code("452 4.2.2 mailbox full"), Some(452));
        assert_eq!(reply_code("5501 nope"), None);
        assert_eq!(status_code("smtp; 550 5.1.1 <a@b>: unknown"), Some("5.1.1".to_owned()));
        assert_eq!(status_code("no code here 1.2"), None);
        assert!(
            constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"ab", b"abc")
        );
    }
}
