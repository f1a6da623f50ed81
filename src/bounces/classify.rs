//! From status codes and words to a reason and a verdict. The reason vocabulary is the one bounce
//! classifiers share (userunknown, hostunknown, mailboxfull, …); `hard` is kept for what makes an
//! address undeliverable for good (userunknown, hostunknown, hasmoved, notaccept) and only when
//! the failure is [`permanent`]; everything else that failed is `soft`.

use super::Verdict;
use super::phrases as p;

/// Lower-case `text` and collapse runs of white space to one space (folded lines match).
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for c in text.chars() {
        if c.is_whitespace() {
            if !space {
                out.push(' ');
                space = true;
            }
        } else {
            out.extend(c.to_lowercase());
            space = false;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Whether normalised `text` contains `pattern` (`*` for a gap of up to 120 characters; short
/// patterns must stand as words).
pub fn contains(text: &str, pattern: &str) -> bool {
    let mut pieces = pattern.split('*');
    let Some(first) = pieces.next() else { return false };
    let rest: Vec<&str> = pieces.collect();
    let word = pattern.len() <= 4;
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(first) {
        let start = from + pos;
        let end = start + first.len();
        from = start + first.len().max(1);
        while from < text.len() && !text.is_char_boundary(from) {
            from += 1;
        }
        if word {
            let before = start.checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(end).copied();
            if before.is_some_and(|b| b.is_ascii_alphanumeric()) || after.is_some_and(|b| b.is_ascii_alphanumeric()) {
                continue;
            }
        }
        if rest_matches(text, end, &rest) {
            return true;
        }
        if from >= text.len() {
            break;
        }
    }
    false
}

fn rest_matches(text: &str, mut at: usize, rest: &[&str]) -> bool {
    for piece in rest {
        let mut limit = (at + 120 + piece.len()).min(text.len());
        while !text.is_char_boundary(limit) {
            limit -= 1;
        }
        match text[at..limit].find(piece) {
            Some(pos) => at += pos + piece.len(),
            None => return false,
        }
    }
    true
}

/// A fixed list of phrases matched in one pass (an automaton built on first use).
pub struct Phrases {
    list: &'static [&'static str],
    automaton: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>>,
}

impl Phrases {
    /// The phrases of `list` (lower-case, no `*` gaps; short ones must stand as words).
    pub const fn new(list: &'static [&'static str]) -> Self {
        Self { list, automaton: std::sync::OnceLock::new() }
    }

    /// Whether normalised `text` contains one of the phrases.
    pub fn found_in(&self, text: &str) -> bool {
        let Some(automaton) = self.automaton.get_or_init(|| aho_corasick::AhoCorasick::new(self.list).ok()) else {
            return any(text, self.list);
        };
        let bytes = text.as_bytes();
        automaton.find_overlapping_iter(text).any(|found| {
            let short = self.list[found.pattern().as_usize()].len() <= 4;
            !short
                || !(found.start().checked_sub(1).is_some_and(|i| bytes[i].is_ascii_alphanumeric())
                    || bytes.get(found.end()).is_some_and(u8::is_ascii_alphanumeric))
        })
    }
}

/// Whether normalised `text` matches any of `patterns`.
pub fn any(text: &str, patterns: &[&str]) -> bool {
    patterns.iter().any(|pattern| contains(text, pattern))
}

/// The reason RFC 3463 assigns a code to, as the shared vocabulary names it.
pub fn status_reason(status: &str) -> Option<&'static str> {
    Some(match status {
        "2.1.5" | "2.0.0" => "delivered",
        "4.1.6" | "5.1.6" | "5.7.17" | "5.7.18" => "hasmoved",
        "4.1.7" | "4.1.8" | "5.1.7" | "5.1.8" | "5.7.27" => "rejected",
        "4.1.9" | "5.1.9" | "4.3.3" | "4.3.5" | "4.5.3" | "4.5.5" | "5.3.0" | "5.3.3" | "5.3.5" | "5.4.3" | "5.5.4"
        | "5.5.5" | "4.3.1" | "4.4.5" | "5.3.1" => "systemerror",
        "4.2.1" | "5.7.13" => "suspend",
        "4.2.2" | "5.2.2" => "mailboxfull",
        "4.2.3" | "5.2.3" => "exceedlimit",
        "4.2.4" | "5.1.4" | "5.2.0" | "5.2.1" | "5.2.4" => "filtered",
        "4.3.2" | "5.3.2" | "5.1.10" => "notaccept",
        "4.4.1" | "4.4.7" => "expired",
        "4.4.2" | "4.4.4" | "4.4.6" | "5.4.0" => "networkerror",
        "4.6.0" | "4.6.2" | "4.6.5" => "contenterror",
        "4.7.1" | "4.7.2" | "4.7.25" | "5.7.25" => "blocked",
        "4.7.16" | "5.7.16" | "5.3.4" => "mesgtoobig",
        "5.1.0" | "5.1.1" | "5.1.3" => "userunknown",
        "5.1.2" | "5.4.4" => "hostunknown",
        "5.5.3" => "toomanyconn",
        "5.5.6" | "5.7.0" | "5.7.1" | "5.7.2" | "5.7.3" | "5.7.4" | "5.7.5" | "5.7.6" | "5.7.7" | "5.7.8" | "5.7.9"
        | "5.7.10" | "5.7.11" | "5.7.14" | "5.7.15" | "5.7.19" | "5.7.20" | "5.7.21" | "5.7.22" | "5.7.23"
        | "5.7.24" | "5.7.26" | "4.7.5" | "4.7.6" | "4.7.7" | "4.7.12" | "4.7.15" | "4.7.24" => "securityerror",
        s if s.starts_with("5.6.") || s.starts_with("4.6.") => "contenterror",
        _ => return None,
    })
}

/// Every reason with phrases, in one table: the index is the reason's bit in [`Hits`].
const TABLE: &[(&str, &[&str])] = &[
    ("mailboxfull", p::MAILBOXFULL),
    ("mesgtoobig", p::MESGTOOBIG),
    ("exceedlimit", p::EXCEEDLIMIT),
    ("suspend", p::SUSPEND),
    ("hasmoved", p::HASMOVED),
    ("norelaying", p::NORELAYING),
    ("userunknown", p::USERUNKNOWN),
    ("filtered", p::FILTERED),
    ("rejected", p::REJECTED),
    ("hostunknown", p::HOSTUNKNOWN),
    ("spamdetected", p::SPAMDETECTED),
    ("toomanyconn", p::TOOMANYCONN),
    ("blocked", p::BLOCKED),
    ("policyviolation", p::POLICYVIOLATION),
    ("securityerror", p::VIRUSDETECTED),
    ("securityerror", p::SECURITYERROR),
    ("expired", p::EXPIRED),
    ("systemerror", p::SYSTEMERROR),
    ("networkerror", p::NETWORKERROR),
    ("contenterror", p::CONTENTERROR),
    ("notaccept", p::NOTACCEPT),
    ("mailererror", p::MAILERERROR),
    ("syntaxerror", p::SYNTAXERROR),
];

const MAILBOXFULL: usize = 0;
const USERUNKNOWN: usize = 6;
const BLOCKED: usize = 12;
const NETWORKERROR: usize = 18;
/// Checked first, in this order: specific words beat a generic code. The reader's own filter
/// (`filtered`) comes before `userunknown`, whose list holds a bare `550 5.1.1`.
const FIRST: &[usize] = &[0, 1, 2, 3, 4, 5, 7, 6, 8, 9, 10, 11];
/// Checked when neither the first words nor a specific code decided.
const SECOND: &[usize] = &[13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 12];

/// Which reasons' phrases a text contains, one bit per row of [`TABLE`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hits(u32);

impl Hits {
    fn has(self, row: usize) -> bool {
        self.0 & (1 << row) != 0
    }

    fn first(self, rows: &[usize]) -> Option<&'static str> {
        rows.iter().find(|&&row| self.has(row)).map(|&row| TABLE[row].0)
    }

    /// Whether the text said the mailbox does not exist.
    pub fn user_unknown(self) -> bool {
        self.has(USERUNKNOWN)
    }

    /// Whether the text said the mailbox is full.
    pub fn mailbox_full(self) -> bool {
        self.has(MAILBOXFULL)
    }
}

struct Matcher {
    automaton: aho_corasick::AhoCorasick,
    /// Per pattern: its row in [`TABLE`] and whether it must stand as a word.
    patterns: Vec<(usize, bool)>,
    /// Patterns with a `*` gap, matched one by one (they are few).
    gapped: Vec<(usize, &'static str)>,
}

static MATCHER: std::sync::LazyLock<Option<Matcher>> = std::sync::LazyLock::new(|| {
    let mut plain = Vec::new();
    let mut patterns = Vec::new();
    let mut gapped = Vec::new();
    for (row, (_, list)) in TABLE.iter().enumerate() {
        for pattern in *list {
            if pattern.contains('*') {
                gapped.push((row, *pattern));
            } else {
                plain.push(*pattern);
                patterns.push((row, pattern.len() <= 4));
            }
        }
    }
    let automaton = aho_corasick::AhoCorasick::builder().build(&plain).ok()?;
    Some(Matcher { automaton, patterns, gapped })
});

/// The reasons whose phrases normalised `text` contains: one linear pass.
pub fn hits(text: &str) -> Hits {
    let Some(matcher) = MATCHER.as_ref() else {
        return slow_hits(text);
    };
    let bytes = text.as_bytes();
    let mut bits = 0u32;
    for found in matcher.automaton.find_overlapping_iter(text) {
        let (row, word) = matcher.patterns[found.pattern().as_usize()];
        if word {
            let before = found.start().checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(found.end()).copied();
            if before.is_some_and(|b| b.is_ascii_alphanumeric()) || after.is_some_and(|b| b.is_ascii_alphanumeric()) {
                continue;
            }
        }
        bits |= 1 << row;
    }
    for (row, pattern) in &matcher.gapped {
        if bits & (1 << row) == 0 && contains(text, pattern) {
            bits |= 1 << row;
        }
    }
    Hits(bits)
}

/// [`hits`] without the automaton (only if it could not be built).
fn slow_hits(text: &str) -> Hits {
    let mut bits = 0u32;
    for (row, (_, list)) in TABLE.iter().enumerate() {
        if any(text, list) {
            bits |= 1 << row;
        }
    }
    Hits(bits)
}

/// The reason for one failed recipient, from its status code and its diagnostic text
/// (normalised). Specific words win over a generic code; a specific code wins over generic
/// words.
pub fn reason(status: Option<&str>, text: &str) -> &'static str {
    reason_with(status, hits(text), text)
}

/// [`reason`] with the phrase hits already known.
pub fn reason_with(status: Option<&str>, hits: Hits, text: &str) -> &'static str {
    // Sendmail follows the remote server's reply (`<<< 553 SPF fail`) with a summary line of its
    // own, "550 5.1.1 <address>... User unknown", whatever the reply said: the remote's words
    // decide, and the summary (and its code) only when they say nothing.
    let remote = without_sendmail_summary(text);
    let reason = match remote.as_deref().map(|remote| reason_of(None, self::hits(remote), remote)) {
        Some(remote) if remote != "undefined" => remote,
        _ => reason_of(status, hits, text),
    };
    // A refusal of our envelope sender (a `x.1.7`/`x.1.8` code, or a reply to MAIL FROM) says
    // nothing of the recipient's address: "No such domain" there is the sender's domain.
    if matches!(reason, "userunknown" | "hostunknown" | "hasmoved" | "notaccept")
        && (status.and_then(status_reason) == Some("rejected") || any(text, SENDER_STAGE))
    {
        return "rejected";
    }
    reason
}

/// Normalised `text` without Sendmail's own "5xx 5.1.1 <address>... user unknown" summary lines,
/// when it is a transcript (a remote reply after `<<< `) that has one; `None` otherwise.
fn without_sendmail_summary(text: &str) -> Option<String> {
    const END: &str = " user unknown";
    if !text.contains("<<< ") {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut kept = 0;
    let mut found = false;
    let mut from = 0;
    while let Some(pos) = text[from..].find(" 5.1.1 ") {
        let code = from + pos;
        from = code + 1;
        // "5dd" right before, standing alone, and not the remote's own reply ("<<< 550 5.1.1").
        let Some(start) = code.checked_sub(3) else { continue };
        let is_reply = bytes[start] == b'5'
            && bytes[start + 1].is_ascii_digit()
            && bytes[start + 2].is_ascii_digit()
            && (start == 0 || bytes[start - 1] == b' ');
        if !is_reply || text[..start].ends_with("<<< ") || start < kept {
            continue;
        }
        // The address and Sendmail's "... user unknown" after it.
        let address = code + " 5.1.1 ".len();
        let Some(word_end) = text[address..].find(' ').map(|i| address + i) else { continue };
        if !(text[address..word_end].ends_with("...") && text[word_end..].starts_with(END)) {
            continue;
        }
        out.push_str(&text[kept..start]);
        kept = word_end + END.len();
        from = kept;
        found = true;
    }
    if !found {
        return None;
    }
    out.push_str(&text[kept..]);
    Some(out)
}

/// Words that place a refusal after the message's text was sent, at or after `DATA` (Postfix,
/// Exim, Courier's and Sendmail's transcripts).
const DATA_STAGE: &[&str] =
    &["in reply to end of data", "in reply to data command", "after end of data", "after data command", ">>> data"];

/// Whether normalised `text` places a refusal at or after `DATA`. A server that said "no such
/// user" only once it had the message's content (it accepted the address at `RCPT TO`) is a
/// content filter's words, not a missing mailbox (Sisimai reads it so too): [`at_data`]'s
/// `userunknown` is `filtered`.
///
/// A transcript's `>>> DATA` followed by `503 … Need RCPT` is a pipelined session (RFC 2920):
/// no recipient was taken, and the refusals printed after `DATA` are the replies to `RCPT TO`.
pub fn at_data(text: &str) -> bool {
    any(text, DATA_STAGE) && !(contains(text, ">>> data") && any(text, &["need rcpt", "no valid recipients"]))
}

/// Words that place a refusal at the `MAIL FROM` command (Exim, Postfix, Sendmail, qmail).
const SENDER_STAGE: &[&str] =
    &["after mail from", "in reply to mail from command", ">>> mail from", "sender was rejected"];

fn reason_of(status: Option<&str>, hits: Hits, text: &str) -> &'static str {
    let by_status = status.and_then(status_reason);
    let words = hits.first(FIRST);
    match (by_status, words) {
        // A code that says "no such user" stands unless the words say full, too big, over a
        // limit, relaying, moved, suspended, sender refused, the reader's filter, or blocked.
        (Some("userunknown"), Some(w))
            if !matches!(
                w,
                "mailboxfull"
                    | "mesgtoobig"
                    | "exceedlimit"
                    | "norelaying"
                    | "hasmoved"
                    | "rejected"
                    | "suspend"
                    | "filtered"
            ) =>
        {
            return "userunknown";
        }
        (Some("userunknown"), None) => {
            return if hits.has(BLOCKED) && any(text, &["blocked", "blacklist", "block list", "spamhaus"]) {
                "blocked"
            } else {
                "userunknown"
            };
        }
        (Some("hostunknown"), None) => {
            return if hits.has(NETWORKERROR) { "networkerror" } else { "hostunknown" };
        }
        (Some(s @ ("hasmoved" | "mailboxfull" | "mesgtoobig" | "exceedlimit" | "suspend" | "notaccept")), None) => {
            return s;
        }
        // A carrier's "account is disabled" that means "no such address".
        (_, Some("suspend")) if hits.user_unknown() && text.contains("user(s) account is disabled") => {
            return "userunknown";
        }
        (_, Some(w)) => return w,
        _ => {}
    }
    if let Some(s) = by_status
        && !matches!(s, "systemerror" | "securityerror" | "networkerror")
    {
        return s;
    }
    if let Some(w) = hits.first(SECOND) {
        return w;
    }
    if let Some(s) = by_status {
        return s;
    }
    if text.starts_with("x-unix") {
        return "mailererror";
    }
    "undefined"
}

/// Whether a failure is permanent (RFC 3463 §3.1, RFC 5321 §4.2.1): the enhanced status code's
/// class is 5, or the SMTP reply code is 5xx. A `4.x.x` status with a 4xx reply code, or with
/// none, is temporary whatever the words say ("450 4.1.1 User unknown" is a server that will
/// look again). With neither code (a bounce in words only), the words decide.
pub fn permanent(status: Option<&str>, reply: Option<u16>) -> bool {
    if reply.is_some_and(|r| (500..600).contains(&r)) {
        return true;
    }
    match status {
        Some(status) => status.starts_with('5'),
        None => reply.is_none(),
    }
}

/// The verdict for a failed recipient with `reason`: a reason that means "this address will
/// never work" is hard only when the failure is [`permanent`].
pub fn verdict(reason: &str, permanent: bool) -> Verdict {
    match reason {
        "userunknown" | "hostunknown" | "hasmoved" | "notaccept" if permanent => Verdict::Hard,
        "delivered" => Verdict::Delivered,
        "feedback" => Verdict::Complaint,
        "vacation" => Verdict::AutoReply,
        _ => Verdict::Soft,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons() {
        let r = |s: Option<&str>, t: &str| reason(s, &normalise(t));
        assert_eq!(r(Some("5.1.1"), "550 5.1.1 User unknown"), "userunknown");
        assert_eq!(r(Some("5.2.2"), "552 5.2.2 Mailbox full"), "mailboxfull");
        assert_eq!(r(Some("5.0.0"), "550 5.0.0 <x@y.example>... User unknown"), "userunknown");
        assert_eq!(r(Some("5.1.1"), "550 5.1.1 mailbox is over quota"), "mailboxfull");
        assert_eq!(r(Some("5.7.1"), "554 5.7.1 Message rejected as spam"), "spamdetected");
        assert_eq!(r(Some("5.7.1"), "550 5.7.1 Client host blocked using zen.spamhaus.org"), "blocked");
        assert_eq!(r(None, "Unrouteable address"), "hostunknown");
        assert_eq!(r(Some("4.4.7"), "delivery time expired"), "expired");
        assert_eq!(r(Some("5.3.4"), ""), "mesgtoobig");
        assert_eq!(r(None, "no recognisable words"), "undefined");
        assert!(!contains("this tube is fine", "x"));
        assert!(!contains("a tube", "ube"));
        assert!(contains("rejected, ube id", "ube"));
        assert!(contains(
            "recipient address rejected: user jo does not exist",
            "recipient address rejected: user * does not exist"
        ));
    }

    #[test]
    fn phrases_real_mail_systems_use() {
        let r = |s: Option<&str>, t: &str| reason(s, &normalise(t));
        // Comcast's 551 (RFC 5321: "user not local") is an address that is gone, not a relay.
        assert_eq!(r(Some("5.1.6"), "551 not our customer"), "userunknown");
        // Words that say too big, or over a limit, beat a generic "bad mailbox" code.
        assert_eq!(r(Some("5.1.1"), "550 RCPT TO:<a@example.com> max message size exceeded"), "mesgtoobig");
        // A name server that answers nonsense is a DNS failure, not a domain that is not there.
        let dns = "Name service error for name=example.com type=MX: Malformed or unexpected name server reply";
        assert_eq!(r(Some("5.4.4"), dns), "networkerror");
        let gone = "Host or domain name not found. Name service error for name=example.invalid type=A: Host not found";
        assert_eq!(r(Some("5.4.4"), gone), "hostunknown");
        // A user named between the words.
        assert_eq!(r(Some("5.0.0"), "550 User [ann@example.net] does not exist"), "userunknown");
        assert_eq!(r(None, "550 Mailbox ann@example.net does not exist"), "userunknown");
        assert_eq!(r(None, "553 5.1.1 user ann was not found in the directory"), "userunknown");
        // qmail: a domain it does not relay for, and (chkuser) a user it does not know.
        assert_eq!(
            r(Some("5.7.1"), "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"),
            "norelaying"
        );
        let chkuser = "553 sorry, that domain or user isn't in my list of allowed rcpthosts (#5.7.1)";
        assert_eq!(r(None, chkuser), "userunknown");
        // A suspended mailbox, whatever the code.
        assert_eq!(
            r(Some("5.1.1"), "550 [SUSPEND] Mailbox currently suspended - Please contact correspondent directly"),
            "suspend"
        );
        // A reader who takes no attachments: their policy, not a host that takes no mail.
        let aol = "they are not accepting mail with attachments or embedded images";
        assert_eq!(r(None, aol), "policyviolation");
        assert_eq!(verdict(r(None, aol), permanent(None, None)), Verdict::Soft);
        assert_eq!(r(None, "550 5.1.0 host does not accept mail"), "notaccept");
        // The reader's own preferences refuse us: the address exists, whatever the code.
        let prefs = "550 5.1.1 RCP-P2 Refused due to recipient preferences";
        assert_eq!(r(Some("5.1.1"), prefs), "filtered");
        assert_eq!(verdict(r(Some("5.1.1"), prefs), true), Verdict::Soft);
        // "No such user" said only once the server had the message is a content filter's.
        assert!(at_data(&normalise("host mx said: 550 Unknown user a@example.net (in reply to end of DATA command)")));
        assert!(at_data(&normalise("SMTP error from remote mail server after end of data: 550 unknown user")));
        assert!(at_data(&normalise(">>> DATA\n<<< 550 Unknown user a@example.jp")));
        // A pipelined transcript: `DATA` found no recipient, the refusal was the `RCPT TO`'s.
        assert!(!at_data(&normalise(
            ">>> DATA\n<<< 550 5.1.1 <a@example.edu>... User unknown\n<<< 503 5.0.0 Need RCPT (recipient)"
        )));
        assert!(!at_data(&normalise(
            "550 5.1.1 <a@example.net>: Recipient address rejected (in reply to RCPT TO command)"
        )));
        // Sendmail's own "User unknown" line after the remote's reply does not outweigh the reply.
        let spf = "(reason: 553 Sender Policy Framework (SPF) fail) ... while talking to mx.example.net.: >>> DATA \
                   <<< 553 Sender Policy Framework (SPF) fail 550 5.1.1 reader@example.com... User unknown \
                   <<< 503 RCPT first (#5.5.1)";
        assert_eq!(r(Some("5.1.1"), spf), "policyviolation");
        let unknown = ">>> DATA <<< 550 5.1.1 <gone@example.com>... User Unknown \
                       550 5.1.1 <gone@example.com>... User unknown <<< 503 5.0.0 Need RCPT (recipient)";
        assert_eq!(r(Some("5.1.1"), unknown), "userunknown");
        assert_eq!(
            without_sendmail_summary(&normalise(unknown)).as_deref().map(|t| t.contains("user unknown")),
            Some(true)
        );
        assert_eq!(without_sendmail_summary("550 5.1.1 a@b.example... user unknown"), None, "no transcript");
        // Refused at MAIL FROM, or with a bad-sender code: the sender's problem, not the reader's.
        let sender = "SMTP error from remote mail server after MAIL FROM:<news@example.org>: 550 5.1.7 No such domain example.org.";
        assert_eq!(r(Some("5.1.7"), sender), "rejected");
        assert_eq!(r(None, "said: 550 Unknown user (in reply to MAIL FROM command)"), "rejected");
        assert_eq!(r(Some("5.1.8"), "553 5.1.8 Domain of sender address does not exist"), "rejected");
    }

    #[test]
    fn only_a_permanent_failure_is_hard() {
        assert!(permanent(Some("5.1.1"), Some(550)));
        assert!(permanent(Some("4.0.0"), Some(550)), "a 5xx reply is permanent whatever the status");
        assert!(permanent(Some("5.1.1"), Some(450)), "a 5.x.x status is permanent whatever the reply");
        assert!(!permanent(Some("4.1.1"), Some(450)));
        assert!(!permanent(Some("4.4.3"), None));
        assert!(!permanent(None, Some(451)));
        assert!(permanent(None, None), "words only: the words decide");
        for reason in ["userunknown", "hostunknown", "hasmoved", "notaccept"] {
            assert_eq!(verdict(reason, true), Verdict::Hard, "{reason}");
            assert_eq!(verdict(reason, false), Verdict::Soft, "{reason}");
        }
    }
}
