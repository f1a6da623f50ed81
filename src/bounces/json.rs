//! Amazon SES notifications mailed as JSON (an SES feedback address or an SNS e-mail
//! subscription): `notificationType` Bounce, Complaint or Delivery.

use serde_json::Value;

use super::classify::{self, normalise};
use super::codes::{find_reply, find_status};
use super::{Finding, Verdict};

/// The findings of an SES notification in `text`, or `None` when it holds none.
pub fn findings(text: &str) -> Option<Vec<Finding>> {
    let start = text.find('{')?;
    if !text[start..].contains("otificationType") && !text[start..].contains("eventType") {
        return None;
    }
    let end = text.rfind('}')?;
    let mut value: Value = serde_json::from_str(text.get(start..=end)?).ok()?;
    // An SNS envelope carries the notification as a string.
    if let Some(inner) = value.get("Message").and_then(Value::as_str)
        && let Ok(parsed) = serde_json::from_str::<Value>(inner)
    {
        value = parsed;
    }
    let kind = value.get("notificationType").or_else(|| value.get("eventType")).and_then(Value::as_str)?;
    let list = |section: &str, key: &str| -> Vec<Value> {
        value.get(section).and_then(|s| s.get(key)).and_then(Value::as_array).cloned().unwrap_or_default()
    };
    let text_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let out: Vec<Finding> = match kind {
        "Bounce" => {
            let transient =
                value.get("bounce").and_then(|b| b.get("bounceType")).and_then(Value::as_str) != Some("Permanent");
            list("bounce", "bouncedRecipients")
                .iter()
                .map(|r| {
                    let diagnostic = text_of(r, "diagnosticCode").unwrap_or_default();
                    let status =
                        text_of(r, "status").and_then(|s| find_status(&s)).or_else(|| find_status(&diagnostic));
                    let reply = find_reply(&diagnostic);
                    let mut reason = classify::reason(status.as_deref(), &normalise(&diagnostic));
                    if reason == "undefined" && !transient {
                        reason = "onhold";
                    }
                    let mut verdict = classify::verdict(reason, classify::permanent(status.as_deref(), reply));
                    if transient && verdict == Verdict::Hard {
                        verdict = Verdict::Soft;
                    }
                    Finding {
                        recipient: text_of(r, "emailAddress"),
                        verdict,
                        status,
                        reply,
                        reason: reason.to_owned(),
                        diagnostic: (!diagnostic.is_empty()).then_some(diagnostic),
                    }
                })
                .collect()
        }
        "Complaint" => list("complaint", "complainedRecipients")
            .iter()
            .map(|r| Finding {
                recipient: text_of(r, "emailAddress"),
                verdict: super::arf::verdict_of(
                    value.get("complaint").and_then(|c| c.get("complaintFeedbackType")).and_then(Value::as_str),
                ),
                status: None,
                reply: None,
                reason: "feedback".to_owned(),
                diagnostic: value.get("complaint").and_then(|c| text_of(c, "complaintFeedbackType")),
            })
            .collect(),
        "Delivery" => value
            .get("delivery")
            .and_then(|d| d.get("recipients"))
            .and_then(Value::as_array)
            .map(|rs| {
                rs.iter()
                    .filter_map(Value::as_str)
                    .map(|r| Finding {
                        recipient: Some(r.to_owned()),
                        verdict: Verdict::Delivered,
                        status: Some("2.0.0".to_owned()),
                        reply: Some(250),
                        reason: "delivered".to_owned(),
                        diagnostic: value.get("delivery").and_then(|d| text_of(d, "smtpResponse")),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => return None,
    };
    (!out.is_empty()).then_some(out)
}
