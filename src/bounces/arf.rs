//! Complaint feedback reports (RFC 5965 ARF, and the variants Yahoo, Outlook.com JMRP and AOL
//! send).

use super::fields::{fields, get};
use super::parse::Parsed;
use super::{Finding, Verdict, addr};

/// Whether the message is a feedback report.
pub fn is_feedback(parsed: &Parsed) -> bool {
    if parsed.report_type == "feedback-report" || !parsed.feedback.is_empty() {
        return true;
    }
    let head = &parsed.text[..floor(&parsed.text, 4096)].to_ascii_lowercase();
    (head.contains("feedback-type:") && (head.contains("user-agent:") || head.contains("version:")))
        || is_legacy_jmrp(parsed)
}

/// Outlook.com's older complaint (JMRP) format: no feedback-report part, only the reported
/// message attached, under a subject "complaint about message from <IP>", with the reader's
/// address in the attached message's `X-HmXmrOriginalRecipient` header.
fn is_legacy_jmrp(parsed: &Parsed) -> bool {
    parsed.subject.trim().to_ascii_lowercase().starts_with("complaint about message from")
        && jmrp_recipient(parsed).is_some()
}

/// The reader an Outlook.com complaint names (`X-HmXmrOriginalRecipient` in the attached message).
fn jmrp_recipient(parsed: &Parsed) -> Option<String> {
    let fields = fields(&parsed.original_headers);
    get(&fields, "x-hmxmroriginalrecipient").and_then(addr::first)
}

fn floor(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// What a feedback report of type `kind` says about its recipient (RFC 5965 §3.5 and §7.3, the
/// IANA registry with RFC 6591 and RFC 6650): `abuse`, `fraud` and `virus` are complaints about
/// our message, and so is a report without a type (the older feedback loops). Every other type is
/// [`Verdict::Unknown`], recorded and never acted on: `not-spam` says the opposite of a
/// complaint, `auth-failure` is a receiving system's SPF/DKIM/DMARC failure report and not a
/// reader's word, and `other` (or a type not registered) names nothing the reader asked for.
pub fn verdict_of(kind: Option<&str>) -> Verdict {
    match kind.map(|k| k.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "abuse" | "fraud" | "virus") => Verdict::Complaint,
        Some(_) => Verdict::Unknown,
    }
}

/// One finding per recipient the report names: a complaint, or `unknown` for a report of a type
/// that is not one (see [`verdict_of`]).
pub fn findings(parsed: &Parsed, original_to: Option<&str>) -> Vec<Finding> {
    let report = if parsed.feedback.is_empty() { &parsed.text } else { &parsed.feedback };
    let fields = fields(report);
    let kind = get(&fields, "feedback-type");
    let verdict = verdict_of(kind);
    let kind = kind.map(str::trim).filter(|k| !k.is_empty()).unwrap_or("abuse").to_ascii_lowercase();
    let mut recipients: Vec<String> = fields
        .iter()
        .filter(|(n, _)| n == "original-rcpt-to" || n == "removal-recipient")
        .filter_map(|(_, v)| addr::first(v))
        .collect();
    if recipients.is_empty() {
        recipients.extend(jmrp_recipient(parsed).or_else(|| original_to.map(str::to_owned)));
    }
    let mut seen = std::collections::HashSet::new();
    recipients.retain(|r| seen.insert(addr::key(r)));
    let diagnostic = Some(format!("feedback-type: {kind}"));
    let make = |recipient: Option<String>| Finding {
        recipient,
        verdict,
        status: None,
        reply: None,
        reason: "feedback".to_owned(),
        diagnostic: diagnostic.clone(),
    };
    if recipients.is_empty() {
        return vec![make(None)];
    }
    recipients.into_iter().map(|r| make(Some(r))).collect()
}
