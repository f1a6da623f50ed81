//! What an SMTP reply means for one recipient: delivered, retry later, failed, or a problem with
//! us rather than them. A pure function of the reply, table-tested; the engine acts on it.
//!
//! Following EMAIL.md §4.1: 2xx delivered; 4xx temporary (421, 450, 451 and 454 also mean "slow
//! down"); 5.1.x the address does not exist (failed and suppressed once the engine believes it,
//! see `pace::Breaker`); 5.7.x policy or authentication — usually the sender's fault, so the
//! recipient is deferred, not failed, and a run of them stops the send; other 5xx failed.

pub use crate::mail::Reply;
#[cfg(test)]
use crate::mail::enhanced_code;

/// What to do with a recipient after a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted for delivery.
    Delivered,
    /// Temporary failure: retry with backoff; `throttle` asks every worker to slow down.
    Retry {
        /// The server is rate-limiting us.
        throttle: bool,
    },
    /// The address does not exist: failed, and suppressed as bounced.
    Bounce,
    /// Permanent failure for this recipient.
    Reject,
    /// Refused because of the sender (policy, authentication, reputation): deferred, and a run of
    /// these stops the send.
    SenderProblem,
}

/// Classify a reply.
pub fn classify(reply: &Reply) -> Verdict {
    let class = reply.code / 100;
    let subject = reply.enhanced.map(|(_, subject, _)| subject);
    match class {
        2 | 3 => Verdict::Delivered,
        4 => Verdict::Retry { throttle: matches!(reply.code, 421 | 450 | 451 | 454) || subject == Some(7) },
        5 if subject == Some(1) || (subject.is_none() && mentions_unknown_user(&reply.text)) => Verdict::Bounce,
        5 if subject == Some(7) || reply.code == 530 || reply.code == 535 => Verdict::SenderProblem,
        _ => Verdict::Reject,
    }
}

/// Servers that give no enhanced code still say "user unknown" in some words.
fn mentions_unknown_user(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    ["user unknown", "no such user", "unknown user", "does not exist", "mailbox unavailable", "recipient rejected"]
        .iter()
        .any(|phrase| text.contains(phrase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(code: u16, text: &str, expected: Verdict) {
        let reply = Reply { code, enhanced: enhanced_code(text), text: text.to_owned() };
        assert_eq!(classify(&reply), expected, "{code} {text}");
    }

    #[test]
    fn replies_are_classified_as_email_md_4_1_says() {
        case(250, "2.0.0 Ok: queued as ABC", Verdict::Delivered);
        case(451, "4.3.0 try again later", Verdict::Retry { throttle: true });
        case(452, "4.2.2 mailbox full", Verdict::Retry { throttle: false });
        case(421, "4.7.0 too many connections", Verdict::Retry { throttle: true });
        case(454, "4.7.0 Throttling failure: Maximum sending rate exceeded", Verdict::Retry { throttle: true });
        case(450, "4.2.1 mailbox busy", Verdict::Retry { throttle: true });
        case(447, "4.7.1 slow down", Verdict::Retry { throttle: true });
        case(550, "5.1.1 no such user", Verdict::Bounce);
        case(553, "5.1.3 bad address syntax", Verdict::Bounce);
        case(550, "User unknown in local recipient table", Verdict::Bounce);
        case(550, "5.7.26 unauthenticated email from example.org is not accepted", Verdict::SenderProblem);
        case(554, "5.7.1 message rejected due to policy", Verdict::SenderProblem);
        case(535, "Authentication credentials invalid", Verdict::SenderProblem);
        case(552, "5.3.4 message too big", Verdict::Reject);
        case(554, "transaction failed", Verdict::Reject);
    }

    #[test]
    fn enhanced_codes_parse_only_when_well_formed() {
        assert_eq!(enhanced_code("5.1.1 no such user"), Some((5, 1, 1)));
        assert_eq!(enhanced_code("4.7.26 x"), Some((4, 7, 26)));
        assert_eq!(enhanced_code("1.2.3 x"), None);
        assert_eq!(enhanced_code("queued as 5.1"), None);
        assert_eq!(enhanced_code(""), None);
    }
}
