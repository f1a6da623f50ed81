//! Bounces without a delivery-status report (qmail, Exim, Sendmail's old format, Exchange, Gmail,
//! Yahoo, webmail providers, filters): is it a bounce at all, and where its explanation ends and
//! the quoted original begins. Which addresses it lists as failed is [`super::failed`].

use super::classify::{Phrases, any, normalise};
use super::codes::{find_reply, find_status};
use super::parse::Parsed;

/// Subjects of bounces, lower-case.
const SUBJECTS: &[&str] = &[
    "undeliver",
    "undelivered",
    "not delivered",
    "delivery fail",
    "delivery status notification",
    "delivery notification",
    "returned mail",
    "returned to sender",
    "failure notice",
    "mail delivery failed",
    "delivery failure",
    "could not be delivered",
    "couldn't be delivered",
    "nondeliverable",
    "non-deliverable",
    "non deliverable",
    "unable to deliver",
    "delivery problem",
    "mail system error",
    "failed delivery",
    "delivery error",
    "rejected",
    "bounce",
    "nicht zustellbar",
    "unzustellbar",
    "non remis",
    "échec de la remise",
    "echec de la remise",
    "no se puede entregar",
    "non recapitabile",
    "onbestelbaar",
    "kan ikke leveres",
    "не доставлено",
    "недоставленное",
    "退信",
    "系统退信",
    "mail delivery subsystem",
    "warning: could not send",
    "delayed mail",
    "delivery delayed",
    "message status",
    "mail failure",
    "delivery report",
    "notice of delivery failure",
    "permanent error",
    "failed mail",
    "non-delivery",
    "user unknown",
];

/// Phrases that open a bounce's explanation, lower-case.
pub const OPENERS: &[&str] = &[
    "this message was created automatically by mail delivery software",
    "a message that you sent could not be delivered",
    "the following addresses had permanent fatal errors",
    "transcript of session follows",
    "this is the qmail-send program",
    "delivery has failed to these recipients or groups",
    "couldn't be delivered",
    "could not be delivered",
    "delivery to the following recipient failed permanently",
    "delivery to the following recipients failed",
    "sorry, we were unable to deliver your message",
    "i'm sorry to have to inform you that your message could not",
    "your message did not reach some or all of the intended recipients",
    "this is the mail system at host",
    "this is the mail delivery agent at",
    "the original message was received at",
    "unable to deliver message to the following",
    "your message was not delivered",
    "your message wasn't delivered",
    "message delivery failed",
    "delivery failed",
    "undeliverable",
    "returned mail",
    "mail delivery failed",
    "the following recipient(s) could not be reached",
    "your message cannot be delivered",
    "your mail could not be delivered",
    "permanent error",
    "failed permanently",
    "an error occurred while trying to deliver",
    "the mail server could not deliver mail",
    "this is an automatically generated delivery status notification",
    "message could not be delivered",
    "failed to deliver",
    "delivery to the following recipients was aborted",
    "mailbox unavailable",
    "delivery status notification",
    "non-delivery",
    "was not delivered",
    "could not deliver",
    "here is your list of failed recipients",
    "failed addresses follow",
    "did not receive a copy of your message",
    "undeliverable address:",
    "your message has encountered delivery problems",
    "did not reach the following recipient",
    "message not delivered to the following addresses",
    "has not yet been delivered",
    "delivery attempts will continue",
    "this is just a warning",
    "this is an advisory-only email",
    "unable to deliver message",
    "no such user",
];

/// Where a bounce stops explaining and starts quoting the original message.
const ORIGINAL_MARKERS: &[&str] = &[
    "------ this is a copy of the message",
    "------ this is a copy of your message",
    "--- below this line is a copy of the message",
    "----- original message -----",
    "-----original message-----",
    "----- original message follows -----",
    "original message follows",
    "----- unsent message follows -----",
    "----- message header follows -----",
    "------- returned message",
    "--- the header of the original message is following",
    "the original message headers are included",
    "original message headers:",
    "content-type: message/rfc822",
    "content-type: text/rfc822-headers",
    "included is a copy of the message",
    "--- original message ---",
    "------ original message ------",
];

static SUBJECT_SET: Phrases = Phrases::new(SUBJECTS);
static OPENER_SET: Phrases = Phrases::new(OPENERS);

/// Whether a message without a report still looks like a bounce.
pub fn looks_like_bounce(parsed: &Parsed) -> bool {
    if !parsed.failed_recipients.is_empty() || parsed.ms_ndr || parsed.report_type == "delivery-status" {
        return true;
    }
    let from = parsed.from.to_ascii_lowercase();
    let system_sender = from.contains("mailer-daemon")
        || from.contains("mailer_daemon")
        || from.contains("postmaster")
        || from.contains("mail delivery")
        || from.contains("mail administrator")
        || from.contains("mail system")
        || from.contains("mailadmin")
        || from.contains("mail router")
        || from.contains("<>")
        || from.trim().is_empty();
    let subject = normalise(&parsed.subject);
    let subject_says = SUBJECT_SET.found_in(&subject);
    let head = &parsed.text[..floor(&parsed.text, 8192)];
    // A person who quotes a bounce in a reply (`> 550 5.1.1 …`) is not a mail system: from
    // anyone else, only the lines they wrote count.
    let head = if system_sender {
        normalise(head)
    } else {
        normalise(&head.lines().filter(|line| !line.trim_start().starts_with('>')).collect::<Vec<_>>().join("\n"))
    };
    let body_says = OPENER_SET.found_in(&head) || any(&head, &["hi. this is the qmail", "transcript of session"]);
    let coded = find_status(&head).is_some_and(|s| !s.starts_with('2')) || find_reply(&head).is_some();
    let lists_recipients = || parsed.text[..floor(&parsed.text, 8192)].lines().any(is_recipient_line);
    (system_sender && (subject_says || body_says || lists_recipients()))
        || (subject_says && body_says)
        || (body_says && coded)
}

/// A line that opens with `<user@host>:`, the way Postfix, qmail and their imitators list each
/// failed recipient before what its server said.
fn is_recipient_line(line: &str) -> bool {
    let line = line.trim_start();
    line.strip_prefix('<')
        .and_then(|rest| rest.split_once(">:"))
        .is_some_and(|(address, _)| address.contains('@') && !address.contains(|c: char| c.is_whitespace() || c == '<'))
}

pub fn floor(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The explaining part of the bounce text: up to where the original is quoted.
pub fn explanation(text: &str) -> &str {
    let lower = text.to_ascii_lowercase();
    let mut cut = text.len();
    for marker in ORIGINAL_MARKERS {
        if let Some(at) = lower.find(marker)
            && at < cut
            && at > 0
        {
            cut = at;
        }
    }
    // Quoted headers of the original without a marker: a `Received:`, `Return-Path:` or
    // `Message-ID:` line at the start of a line after some explanation.
    for header in ["\nreceived: ", "\nreturn-path: ", "\nmessage-id: ", "\ndkim-signature: "] {
        if let Some(at) = lower.find(header)
            && at > 40
            && at < cut
        {
            cut = at;
        }
    }
    &text[..floor(text, cut)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_mta_families_are_recognised_as_bounces() {
        let bounce = |from: &str, subject: &str, body: &str| {
            let raw = format!("From: {from}\r\nTo: bounces@news.example.org\r\nSubject: {subject}\r\n\r\n{body}\r\n");
            looks_like_bounce(&super::super::parse::parse(raw.as_bytes()).expect("parsed"))
        };
        // A mailer-daemon that says nothing readable but lists `<user@host>:` lines.
        assert!(bounce("MAILER-DAEMON@mail.example.cn", "", "mail.example.cn.\r\n\r\n<reader@example.cn>:\r\n"));
        // A virus-scanning gateway's SMTP transcript.
        assert!(bounce(
            "scanner@example.be",
            "Mail could not be delivered",
            "Sent <<< RCPT TO:<reader@example.be>\r\n\r\nUnable to deliver message to <reader@example.be>."
        ));
        // MDaemon names the failure in its subject.
        assert!(bounce(
            "MDaemon@mail.example.net",
            "Warning: reader@example.net - User unknown!",
            "reader@example.net - no such user here."
        ));
        assert!(bounce("postmaster@lab.example.gov", "FAILED MAIL to \"jsmith\"", "The address did not match."));
        assert!(bounce(
            "<admin@example.com>",
            "Non-Delivery: The Weekly",
            "--- Non-Delivery Report ---\r\nThe email below could not be delivered to the following user:"
        ));
        // A person who quotes an address in angle brackets is not a mail system.
        assert!(!bounce("reader@example.org", "lunch?", "<friend@example.org>: are you in?"));
        // Nor is a person who quotes a bounce in a reply; the same lines unquoted are one.
        let quoted = "I forwarded it and got this back:\r\n\r\n> Delivery to the following recipient failed permanently:\r\n>     colleague@example.net\r\n> 550 5.1.1 The email account that you tried to reach does not exist.\r\n\r\nCan you add them?";
        assert!(!bounce("Jane Reader <jane@example.org>", "Re: The Weekly", quoted));
        assert!(bounce("Mail Delivery Subsystem <mailer-daemon@googlemail.example>", "Re: The Weekly", quoted));
        assert!(bounce("gateway@example.net", "The Weekly", &quoted.replace("> ", "")));
    }

    #[test]
    fn recipient_lines() {
        assert!(is_recipient_line("<reader@example.com>:"));
        assert!(is_recipient_line("  <reader@example.com>: host mx said: 550"));
        assert!(!is_recipient_line("<not an address>: x"));
        assert!(!is_recipient_line("reader@example.com:"));
    }

    #[test]
    fn cuts_before_the_original() {
        let text = "failed: a@b.example\n------ This is a copy of the message, including all the headers. ------\nTo: c@d.example\n";
        assert!(!explanation(text).contains("c@d.example"));
    }
}
