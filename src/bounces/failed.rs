//! Which addresses a bounce without a delivery-status report lists as failed, and the lines that
//! say why: the addresses under a "following recipients" heading, after `RCPT TO:`, before a
//! `550`; never the bounce's own addresses, the original's quoted headers, or a sender.

use std::collections::HashSet;

use super::addr;
use super::classify::normalise;
use super::codes::{find_reply, find_status};

/// A failed address found in the text, with the lines that explain it.
#[derive(Debug, Clone)]
pub struct Failed {
    pub address: String,
    pub diagnostic: String,
}

/// What a text bounce's own headers say, to tell its failed recipients from everyone else.
pub struct Known<'a> {
    /// The bounce's own addresses (its sender, its recipients, the original's sender), in
    /// `addr::key` form: never a failed recipient.
    pub own: HashSet<String>,
    /// The bounce's envelope headers (`Delivered-To`, `X-Original-To`, …), in `addr::key` form:
    /// our return address, unless the bounce lists the address itself as the first entry under
    /// a heading (Exchange's CDO copies the original's `X-Original-To` into its report).
    pub envelope: HashSet<String>,
    /// Turns a bare user name that a heading lists without a domain (AOL's screen names) into
    /// an address, when it can.
    pub qualify: &'a dyn Fn(&str) -> Option<String>,
}

/// The failed addresses of a text bounce and what was said about each.
pub fn failed(explanation: &str, known: &Known<'_>) -> Vec<Failed> {
    let lines: Vec<&str> = explanation.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut strong: Vec<(String, usize)> = Vec::new();
    let mut weak: Vec<(String, usize)> = Vec::new();
    let mut bare: Vec<(String, usize)> = Vec::new();
    let mut seen_strong: HashSet<String> = HashSet::new();
    let mut seen_weak: HashSet<String> = HashSet::new();
    let mut heading_until = 0usize;
    let mut list_after: Option<usize> = None;
    for (index, line) in lines.iter().enumerate() {
        let lower = line.to_ascii_lowercase();
        let mut listed = false;
        if is_heading(&lower) {
            heading_until = index + 8;
            list_after = lower.trim_end().ends_with(':').then_some(index);
        } else if let Some(heading) = list_after.filter(|_| !line.trim().is_empty()) {
            listed = index - heading <= 3;
            if listed && let Some(name) = bare_name(line) {
                bare.push((name.to_owned(), index));
            }
            list_after = None;
        }
        let quoted_header = is_quoted_header(&lower);
        for (at, address) in addr::scan_at(line) {
            let key = addr::key(&address);
            if known.own.contains(&key)
                || (known.envelope.contains(&key) && !listed)
                || addr::is_system(&address)
                || addr::is_placeholder(&address)
                || looks_like_message_id(line, at)
                || names_a_sender(&lower[..at])
            {
                continue;
            }
            let after = &lower[(at + address.len()).min(lower.len())..];
            let before = &lower[..at];
            let is_strong = !quoted_header
                && (index < heading_until
                    || before.trim_end().ends_with("rcpt to:<")
                    || before.trim_end().ends_with("rcpt to: <")
                    || before.contains("failed")
                    || before.contains("recipient")
                    || before.contains("delivered to")
                    || before.contains("deliver to")
                    || before.contains("delivery to")
                    || before.contains("message to")
                    || before.contains("wasn't delivered to")
                    || before.contains("addressed")
                    || before.contains("<<<")
                    || before.contains("original-recipient")
                    || before.contains("final-recipient")
                    || after.trim_start().starts_with(">:")
                    || after.trim_start().starts_with(':')
                    || after.trim_start().starts_with(">...")
                    || after.trim_start().starts_with("...")
                    || find_reply(line).is_some()
                    || find_status(line).is_some()
                    || window_has_error(&lines, index));
            let (list, seen) = if is_strong { (&mut strong, &mut seen_strong) } else { (&mut weak, &mut seen_weak) };
            if seen.insert(key) {
                list.push((address, index));
            }
        }
    }
    if strong.is_empty() {
        strong = bare.into_iter().filter_map(|(name, index)| Some(((known.qualify)(&name)?, index))).collect();
    }
    let chosen = if strong.is_empty() { weak.into_iter().take(1).collect() } else { strong };
    chosen.into_iter().map(|(address, index)| Failed { diagnostic: diagnostic_near(&lines, index), address }).collect()
}

/// A line of the bounce that quotes a header of the original (`To:`, `Cc:`, `Subject:` in
/// Exchange's "Your message / To: / Subject: / Sent:" summary): its addresses are who the
/// original was written to, not who failed, so they are only ever a fallback, and its numbers
/// are no status codes.
pub fn is_quoted_header(lower: &str) -> bool {
    let line = lower.trim_start().trim_start_matches('>').trim_start();
    ["to:", "cc:", "bcc:", "from:", "sender:", "reply-to:", "subject:", "sent:", "date:"]
        .iter()
        .any(|h| line.starts_with(h))
}

/// The explanation without the lines that quote the original's headers.
pub fn unquoted(explanation: &str) -> String {
    let mut out = String::with_capacity(explanation.len());
    for line in explanation.lines().filter(|line| !is_quoted_header(&line.to_ascii_lowercase())) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Whether the words just before an address make it the message's sender: "not accepting mail
/// from", "MAIL FROM:<", "messages from".
fn names_a_sender(before: &str) -> bool {
    let before = before.trim_end().trim_end_matches(['<', '"', '\'']).trim_end().trim_end_matches(':').trim_end();
    ["mail from", "message from", "messages from"].iter().any(|p| before.ends_with(p))
}

/// A user name alone on a line, as the first entry of a list under a heading (`\tscreenname`,
/// or `name    reason` with the reason two spaces or a tab away).
fn bare_name(line: &str) -> Option<&str> {
    let line = line.trim();
    let (name, rest) = match line.find(char::is_whitespace) {
        Some(at) => (&line[..at], &line[at..]),
        None => (line, ""),
    };
    let separated = rest.is_empty() || rest.starts_with('\t') || rest.starts_with("  ");
    let well_formed = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().any(|b| b.is_ascii_alphabetic());
    (separated && well_formed).then_some(name)
}

fn is_heading(lower: &str) -> bool {
    [
        "following address",
        "following recipient",
        "following destination",
        "these recipients",
        "recipients or groups",
        "could not be delivered to",
        "failed to the following",
        "permanent fatal errors",
        "unable to deliver your message to the following",
        "to the following address",
        "failed recipient",
        "delivery has failed",
        "undeliverable to",
        "invalid recipients",
        "list of failed recipients",
        "failed addresses follow",
        "did not receive a copy of your message",
        "intended recipient:",
        "undeliverable address:",
        "addressed to '",
        "could not be delivered to the following user",
        "unable to deliver message to the following",
        "delivery to the following recipient",
        "sorry, unable to deliver your message to",
        "a message could not be delivered to:",
        "invalid final delivery userid:",
        "failed recipients",
        "error-for:",
        "your message could not be delivered",
        "your message has encountered delivery problems",
        "did not reach the following recipient",
        "this is the deliver program at",
        "this is the email server at",
        "no such user here",
        "the following address failed",
        "could not be reached",
        "failed recipient:",
        "message not delivered to the following",
        "not yet been delivered is",
        "was not delivered to:",
        "your message to the following recipients cannot be delivered",
        "could not deliver message to the following",
        "wasn't able to deliver your message to the following",
        "has not yet been delivered to",
        "unable to deliver your message to the following",
        "the following recipients were affected",
    ]
    .iter()
    .any(|h| lower.contains(h))
}

fn looks_like_message_id(line: &str, at: usize) -> bool {
    let before = line[..at].to_ascii_lowercase();
    before.trim_end().ends_with("message-id: <")
        || before.trim_end().ends_with("message-id:<")
        || before.contains("message-id:")
}

fn window_has_error(lines: &[&str], index: usize) -> bool {
    lines.iter().skip(index + 1).take(3).any(|l| {
        let n = normalise(l);
        find_status(l).is_some() || find_reply(l).is_some() || {
            let hits = super::classify::hits(&n);
            hits.user_unknown() || hits.mailbox_full()
        }
    })
}

/// The address's line and the few lines after it that say something, up to 600 characters.
fn diagnostic_near(lines: &[&str], index: usize) -> String {
    let mut out = String::new();
    for line in lines.iter().skip(index).take(6) {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            if out.len() > 40 {
                break;
            }
            continue;
        }
        if out.len() + trimmed.len() > 600 {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(trimmed);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(qualify: &dyn Fn(&str) -> Option<String>) -> Known<'_> {
        Known { own: HashSet::new(), envelope: HashSet::new(), qualify }
    }

    #[test]
    fn an_envelope_address_counts_only_when_listed_under_a_heading() {
        let text = "--- Non-Delivery Report ---\nThe email below could not be delivered to the following user:\n\n\
                    \"reader@example.com\" <reader@example.com>\n\nOld message:\nWritten to reader@example.com today.\n";
        let mut known = known(&|_| None);
        known.envelope.insert("reader@example.com".to_owned());
        let found = failed(text, &known);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].address, "reader@example.com");
        let unlisted = "Your message could not be delivered, mail for reader@example.com failed.\n";
        assert!(failed(unlisted, &known).is_empty());
    }

    #[test]
    fn qmail_style() {
        let text = "Hi. This is the qmail-send program at mx.example.net.\nI'm afraid I wasn't able to deliver your message to the following addresses.\n\n<nobody@example.net>:\nSorry, no mailbox here by that name. (#5.1.1)\n";
        let found = failed(text, &known(&|_| None));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].address, "nobody@example.net");
        assert!(found[0].diagnostic.contains("no mailbox here"));
    }

    #[test]
    fn a_bare_user_name_under_a_heading_is_qualified() {
        let text = "Your mail to the following recipients could not be delivered because they are not accepting mail from news@lists.example.org:\n\tscreenname\n\n";
        let found = failed(text, &known(&|name| Some(format!("{name}@example.com"))));
        let addresses: Vec<&str> = found.iter().map(|f| f.address.as_str()).collect();
        assert_eq!(addresses, ["screenname@example.com"]);
        assert!(failed(text, &known(&|_| None)).is_empty(), "the sender named in the heading is not a recipient");
        let later = "Message not delivered to the following:\n\n reader    No matches to directory query\n\nTry finger NAME@directory.example.edu first.\n";
        let found = failed(later, &known(&|name| Some(format!("{name}@example.edu"))));
        let addresses: Vec<&str> = found.iter().map(|f| f.address.as_str()).collect();
        assert_eq!(addresses, ["reader@example.edu"]);
        assert!(found[0].diagnostic.contains("No matches"));
    }

    #[test]
    fn the_quoted_to_and_cc_of_the_original_are_not_who_failed() {
        let text = "Your message\n\n  To:      news@example.org\n  Cc:      list-a@example.org; list-b@example.org\n  Subject: Issue 4\n\
                    \ndid not reach the following recipient(s):\n\nreader@example.com on Fri, 4 Oct 2002 17:12:28 -0400\n    The recipient name is not recognized\n";
        let found = failed(text, &known(&|_| None));
        let addresses: Vec<&str> = found.iter().map(|f| f.address.as_str()).collect();
        assert_eq!(addresses, ["reader@example.com"]);
    }
}
