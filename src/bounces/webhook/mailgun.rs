//! Mailgun's event webhooks: `{"signature": {"timestamp", "token", "signature"}, "event-data":
//! {…}}`, signed with HMAC-SHA256 of `timestamp` followed by `token` under the webhook signing
//! key. A timestamp outside the replay window, or a token seen before, is refused.
//!
//! `event-data.event`: `failed` (`severity` `permanent` → hard, `temporary` → soft),
//! `complained` → complaint, `delivered`; other events (opened, clicked, …) record nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, KeyInit as _, Mac as _};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use sha2::Sha256;

use super::{Rejected, bare_message_id, json, reply_code, status_code, text};
use crate::bounces::{Provider, ProviderEvent, Verdict};

/// Verifies Mailgun's signatures and remembers the tokens it has accepted.
#[derive(Debug)]
pub struct Verifier {
    key: Vec<u8>,
    window: SignedDuration,
    /// Tokens accepted within the window, with their timestamps.
    seen: Mutex<HashMap<String, Timestamp>>,
}

impl Verifier {
    /// A verifier for the signing `key`, refusing timestamps further than `window` from now.
    pub fn new(key: &str, window: SignedDuration) -> Self {
        Self { key: key.as_bytes().to_vec(), window, seen: Mutex::default() }
    }

    /// Check the request at `now`; its events when it is genuine and fresh.
    pub fn verify(&self, body: &[u8], now: Timestamp) -> Result<Vec<ProviderEvent>, Rejected> {
        let value = json(body)?;
        let signature = value.get("signature").ok_or_else(|| unauthorized("no `signature` object"))?;
        let (Some(timestamp), Some(token), Some(hex)) =
            (text(signature, "timestamp"), text(signature, "token"), text(signature, "signature"))
        else {
            return Err(unauthorized("the signature lacks `timestamp`, `token` or `signature`"));
        };
        let given = decode_hex(hex).ok_or_else(|| unauthorized("the signature is not hexadecimal"))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).map_err(|_| unauthorized("unusable signing key"))?;
        mac.update(timestamp.as_bytes());
        mac.update(token.as_bytes());
        mac.verify_slice(&given).map_err(|_| unauthorized("the signature does not match"))?;
        let seconds: i64 = timestamp.parse().map_err(|_| unauthorized("the timestamp is not a number"))?;
        let at = Timestamp::from_second(seconds).map_err(|_| unauthorized("the timestamp is out of range"))?;
        let age = now.duration_since(at);
        if age.abs() > self.window {
            return Err(Rejected::Forbidden(format!(
                "the signature's timestamp {at} is outside the replay window of {:#}",
                self.window
            )));
        }
        self.use_token(token, at, now)?;
        let data = value.get("event-data").ok_or_else(|| Rejected::BadRequest("no `event-data`".to_owned()))?;
        event(data).map(|e| e.into_iter().collect())
    }

    /// Accept `token` once; forget tokens older than the window.
    fn use_token(&self, token: &str, at: Timestamp, now: Timestamp) -> Result<(), Rejected> {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.retain(|_, when| now.duration_since(*when).abs() <= self.window);
        if seen.contains_key(token) {
            return Err(Rejected::Forbidden("the token was used before (a replay)".to_owned()));
        }
        seen.insert(token.to_owned(), at);
        Ok(())
    }
}

fn unauthorized(why: &str) -> Rejected {
    Rejected::Unauthorized(format!("Mailgun: {why}"))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 128 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// The event of a verified `event-data`, when it is one we record.
fn event(data: &Value) -> Result<Option<ProviderEvent>, Rejected> {
    let bad = |why: &str| Rejected::BadRequest(format!("Mailgun event: {why}"));
    let kind = text(data, "event").ok_or_else(|| bad("no `event`"))?;
    let verdict = match (kind, text(data, "severity")) {
        ("failed", Some("permanent")) => Verdict::Hard,
        ("failed", Some("temporary")) => Verdict::Soft,
        ("failed", _) => Verdict::Unknown,
        ("complained", _) => Verdict::Complaint,
        ("delivered", _) => Verdict::Delivered,
        _ => return Ok(None),
    };
    let recipient = text(data, "recipient").ok_or_else(|| bad("no `recipient`"))?.to_owned();
    let id = text(data, "id").ok_or_else(|| bad("no `id`"))?;
    let status = data.get("delivery-status").unwrap_or(&Value::Null);
    let diagnostic = [text(status, "description"), text(status, "message")]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|t| !t.is_empty())
        .map(str::to_owned);
    let reply = status
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (200..600).contains(c))
        .or_else(|| diagnostic.as_deref().and_then(reply_code));
    let status_text =
        text(status, "enhanced-code").map(str::to_owned).or_else(|| diagnostic.as_deref().and_then(status_code));
    let message_id = data.pointer("/message/headers/message-id").and_then(Value::as_str).map(bare_message_id);
    #[allow(clippy::cast_possible_truncation, reason = "seconds since 1970 fit an i64")]
    let at = data.get("timestamp").and_then(Value::as_f64).and_then(|s| Timestamp::from_second(s as i64).ok());
    Ok(Some(ProviderEvent {
        provider: Provider::Mailgun,
        event_id: id.to_owned(),
        recipient,
        verdict,
        status: status_text,
        reply,
        diagnostic,
        message_id,
        at,
    }))
}

#[cfg(test)]
mod tests;
