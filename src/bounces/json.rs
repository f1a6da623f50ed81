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
    let json = text.get(start..=end)?;
    // Sendmail splits a line longer than its limit (990) with "!", a line break and a space, in
    // the middle of a JSON string too: undone when the text does not parse as it is.
    let mut value: Value = match serde_json::from_str(json) {
        Ok(value) => value,
        Err(_) => serde_json::from_str(&json.replace("!\r\n ", "").replace("!\n ", "")).ok()?,
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_whose_long_line_sendmail_split_is_still_read() {
        let one = r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"gone@example.com","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}]},"mail":{"headers":[{"name":"Subject","value":"the weekly"}]}}"#;
        let split = one.replace(r#""the weekly""#, "\"the!\n  weekly\"");
        assert!(serde_json::from_str::<Value>(&split).is_err(), "the split breaks the JSON");
        let text = format!("{split}\n\n--\nIf you wish to stop receiving notifications from this topic, ...\n");
        let found = findings(&text).expect("a notification");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].recipient.as_deref(), Some("gone@example.com"));
        assert_eq!(found[0].verdict, Verdict::Hard);
        assert_eq!(found[0].reason, "userunknown");
    }
}
