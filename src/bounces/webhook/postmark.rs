//! Postmark's bounce, spam complaint and delivery webhooks. Postmark does not sign its
//! requests: the webhook URL carries basic-auth credentials (`https://user:pass@…`), a secret
//! path segment, or both, and every configured one must match.
//!
//! `RecordType: Bounce` with `Type` (`HardBounce`, `SoftBounce`, `SpamComplaint`, …),
//! `RecordType: SpamComplaint`, `RecordType: Delivery`; other record types record nothing.

use base64::Engine as _;
use jiff::Timestamp;
use serde_json::Value;

use super::{Rejected, bare_message_id, constant_time_eq, json, reply_code, status_code, text};
use crate::bounces::{Provider, ProviderEvent, Verdict};

/// What a Postmark request must carry.
#[derive(Clone, PartialEq, Eq)]
pub struct Auth {
    /// Basic-auth user name and password.
    pub basic: Option<(String, String)>,
    /// The secret last path segment.
    pub secret: Option<String>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("basic", &self.basic.is_some()).field("secret", &self.secret.is_some()).finish()
    }
}

impl Auth {
    /// Check the request's `Authorization` header and secret path segment; its events when
    /// both are as configured.
    pub fn verify(
        &self,
        authorization: Option<&[u8]>,
        secret: Option<&str>,
        body: &[u8],
    ) -> Result<Vec<ProviderEvent>, Rejected> {
        if let Some(expected) = &self.secret
            && !secret.is_some_and(|given| constant_time_eq(given.as_bytes(), expected.as_bytes()))
        {
            return Err(Rejected::Forbidden("Postmark: the secret path does not match".to_owned()));
        }
        if secret.is_some() && self.secret.is_none() {
            return Err(Rejected::Forbidden("Postmark: no secret path is configured".to_owned()));
        }
        if let Some((user, password)) = &self.basic {
            let expected = format!("{user}:{password}");
            let given = authorization
                .and_then(|h| h.strip_prefix(b"Basic "))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim_ascii()).ok());
            if !given.is_some_and(|g| constant_time_eq(&g, expected.as_bytes())) {
                return Err(Rejected::Unauthorized("Postmark: wrong or missing basic-auth credentials".to_owned()));
            }
        }
        events(&json(body)?)
    }
}

/// The verdict of a Postmark bounce `Type`.
fn verdict(kind: &str) -> Verdict {
    match kind {
        "HardBounce" | "BadEmailAddress" => Verdict::Hard,
        "SoftBounce" | "Transient" | "DnsError" | "Blocked" | "DMARCPolicy" => Verdict::Soft,
        "SpamComplaint" => Verdict::Complaint,
        "AutoResponder" => Verdict::AutoReply,
        _ => Verdict::Unknown,
    }
}

fn events(value: &Value) -> Result<Vec<ProviderEvent>, Rejected> {
    let bad = |why: &str| Rejected::BadRequest(format!("Postmark record: {why}"));
    let record = text(value, "RecordType").ok_or_else(|| bad("no `RecordType`"))?;
    let timestamp = |key: &str| text(value, key).and_then(|t| t.parse::<Timestamp>().ok());
    let event = match record {
        "Bounce" | "SpamComplaint" => {
            let id = value.get("ID").and_then(Value::as_u64).ok_or_else(|| bad("no numeric `ID`"))?;
            let kind = text(value, "Type").ok_or_else(|| bad("no `Type`"))?;
            let email = text(value, "Email").ok_or_else(|| bad("no `Email`"))?;
            let details = [text(value, "Details"), text(value, "Description")]
                .into_iter()
                .flatten()
                .map(str::trim)
                .find(|t| !t.is_empty())
                .map(str::to_owned);
            ProviderEvent {
                provider: Provider::Postmark,
                event_id: format!("bounce:{id}"),
                recipient: email.to_owned(),
                verdict: if record == "SpamComplaint" { Verdict::Complaint } else { verdict(kind) },
                status: details.as_deref().and_then(status_code),
                reply: details.as_deref().and_then(reply_code),
                diagnostic: details,
                message_id: None,
                at: timestamp("BouncedAt"),
            }
        }
        "Delivery" => {
            let message = text(value, "MessageID").ok_or_else(|| bad("no `MessageID`"))?;
            let recipient = text(value, "Recipient").ok_or_else(|| bad("no `Recipient`"))?;
            let details = text(value, "Details").map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
            ProviderEvent {
                provider: Provider::Postmark,
                event_id: format!("delivery:{message}:{recipient}"),
                recipient: recipient.to_owned(),
                verdict: Verdict::Delivered,
                status: None,
                reply: details.as_deref().and_then(reply_code),
                diagnostic: details,
                message_id: None,
                at: timestamp("DeliveredAt"),
            }
        }
        _ => return Ok(Vec::new()),
    };
    // Postmark echoes our own `Message-ID` among the original headers when it has them.
    let ours = value.get("Headers").and_then(Value::as_array).and_then(|headers| {
        headers.iter().find_map(|h| {
            text(h, "Name").filter(|n| n.eq_ignore_ascii_case("Message-ID")).and_then(|_| text(h, "Value"))
        })
    });
    Ok(vec![ProviderEvent { message_id: ours.map(bare_message_id), ..event }])
}

#[cfg(test)]
mod tests;
