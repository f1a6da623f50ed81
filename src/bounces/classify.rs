//! From status codes and words to a reason and a verdict. The reason vocabulary is the one bounce
//! classifiers share (userunknown, hostunknown, mailboxfull, …); `hard` is kept for what makes an
//! address undeliverable for good (userunknown, hostunknown, hasmoved, and notaccept when
//! permanent), everything else that failed is `soft`.

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
        | "5.5.5" => "systemerror",
        "4.2.1" | "5.7.13" => "suspend",
        "4.2.2" | "5.2.2" => "mailboxfull",
        "4.2.3" | "5.2.3" => "exceedlimit",
        "4.2.4" | "5.1.4" | "5.2.0" | "5.2.1" | "5.2.4" => "filtered",
        "4.3.1" | "4.4.5" | "5.3.1" => "systemerror",
        "4.3.2" | "5.3.2" | "5.1.10" => "notaccept",
        "4.4.1" | "4.4.7" => "expired",
        "4.4.2" | "4.4.4" | "4.4.6" | "5.4.0" => "networkerror",
        "4.6.0" | "4.6.2" | "4.6.5" => "contenterror",
        "4.7.1" | "4.7.2" | "4.7.25" | "5.7.25" => "blocked",
        "4.7.16" | "5.7.16" | "5.3.4" => "mesgtoobig",
        "5.1.0" | "5.1.1" | "5.1.3" => "userunknown",
        "5.1.2" | "5.4.4" => "hostunknown",
        "5.5.3" => "toomanyconn",
        "5.5.6" => "securityerror",
        "5.7.0" | "5.7.1" | "5.7.2" | "5.7.3" | "5.7.4" | "5.7.5" | "5.7.6" | "5.7.7" | "5.7.8" | "5.7.9"
        | "5.7.10" | "5.7.11" | "5.7.14" | "5.7.15" | "5.7.19" | "5.7.20" | "5.7.21" | "5.7.22" | "5.7.23"
        | "5.7.24" | "5.7.26" | "4.7.5" | "4.7.6" | "4.7.7" | "4.7.12" | "4.7.15" | "4.7.24" => "securityerror",
        s if s.starts_with("5.6.") || s.starts_with("4.6.") => "contenterror",
        _ => return None,
    })
}

const FIRST: &[(&str, &[&str])] = &[
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
];

const SECOND: &[(&str, &[&str])] = &[
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
    ("blocked", p::BLOCKED),
];

/// The first reason of `table` whose phrases normalised `text` contains.
fn by_phrase(text: &str, table: &[(&'static str, &[&str])]) -> Option<&'static str> {
    table.iter().find(|(_, patterns)| any(text, patterns)).map(|(reason, _)| *reason)
}

/// The reason for one failed recipient, from its status code and its diagnostic text
/// (normalised). Specific words win over a generic code; a specific code wins over generic
/// words.
pub fn reason(status: Option<&str>, reply: Option<u16>, text: &str) -> &'static str {
    let by_status = status.and_then(status_reason);
    let words = by_phrase(text, FIRST);
    match (by_status, words) {
        // A code that says "no such user" stands unless the words say full, relaying,
        // blocked, moved or sender refused.
        (Some("userunknown"), Some(w))
            if !matches!(w, "mailboxfull" | "norelaying" | "hasmoved" | "rejected" | "suspend") =>
        {
            if any(text, p::BLOCKED) && !any(text, p::USERUNKNOWN) {
                return "blocked";
            }
            return "userunknown";
        }
        (Some("userunknown"), None) => {
            if any(text, &["blocked", "blacklist", "block list", "spamhaus"]) {
                return "blocked";
            }
            return "userunknown";
        }
        (Some("hostunknown"), None) => {
            return if any(text, p::NETWORKERROR) { "networkerror" } else { "hostunknown" };
        }
        (Some(s @ ("hasmoved" | "mailboxfull" | "mesgtoobig" | "exceedlimit" | "suspend" | "notaccept")), None) => {
            return s;
        }
        (_, Some(w)) => return w,
        _ => {}
    }
    if let Some(s) = by_status
        && !matches!(s, "systemerror" | "securityerror" | "networkerror")
    {
        return s;
    }
    if let Some(w) = by_phrase(text, SECOND) {
        return w;
    }
    if let Some(s) = by_status {
        return s;
    }
    let _ = reply;
    if text.starts_with("x-unix") {
        return "mailererror";
    }
    "undefined"
}

/// The verdict for a failed recipient with `reason`. `notaccept` is hard only when permanent.
pub fn verdict(reason: &str, permanent: bool) -> Verdict {
    match reason {
        "userunknown" | "hostunknown" | "hasmoved" => Verdict::Hard,
        "notaccept" if permanent => Verdict::Hard,
        "delivered" => Verdict::Delivered,
        "feedback" => Verdict::Complaint,
        "vacation" => Verdict::AutoReply,
        _ => Verdict::Soft,
    }
}

/// The first enhanced status code (`5.1.1`, `4.2.2`, `2.0.0`) in `text`, not part of an IP
/// address or a version number.
pub fn find_status(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 5 <= bytes.len() {
        let c = bytes[i];
        if matches!(c, b'2' | b'4' | b'5')
            && bytes[i + 1] == b'.'
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.'))
        {
            let mut j = i + 2;
            let d1 = j;
            while j < bytes.len() && bytes[j].is_ascii_digit() && j - d1 < 3 {
                j += 1;
            }
            if j > d1 && j < bytes.len() && bytes[j] == b'.' {
                let d2 = j + 1;
                let mut k = d2;
                while k < bytes.len() && bytes[k].is_ascii_digit() && k - d2 < 3 {
                    k += 1;
                }
                let clean_end = k == bytes.len()
                    || !(bytes[k].is_ascii_alphanumeric()
                        || (bytes[k] == b'.' && bytes.get(k + 1).is_some_and(u8::is_ascii_digit)));
                if k > d2 && clean_end {
                    return Some(text[i..k].to_owned());
                }
            }
        }
        i += 1;
    }
    None
}

/// The first SMTP reply code (`550`, `452`) in `text`: three digits standing alone or followed
/// by `-`/space, starting with 2, 4 or 5.
pub fn find_reply(text: &str) -> Option<u16> {
    let bytes = text.as_bytes();
    for i in 0..bytes.len().saturating_sub(2) {
        if !matches!(bytes[i], b'4' | b'5')
            || (i > 0
                && (bytes[i - 1].is_ascii_alphanumeric()
                    || matches!(bytes[i - 1], b'.' | b'-' | b':' | b'/' | b'#' | b'+' | b'=')))
        {
            continue;
        }
        if !(bytes[i + 1].is_ascii_digit() && bytes[i + 2].is_ascii_digit()) || bytes[i + 1] > b'5' {
            continue;
        }
        let next = bytes.get(i + 3).copied();
        if next.is_none() || matches!(next, Some(b' ' | b'-' | b'\t' | b'\r' | b'\n' | b')' | b',')) {
            return text[i..i + 3].parse().ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_in_text() {
        assert_eq!(find_status("550-5.1.1 The email account").as_deref(), Some("5.1.1"));
        assert_eq!(find_status("host 192.0.2.5.1 said").as_deref(), None);
        assert_eq!(find_status("version 4.2.1.3"), None);
        assert_eq!(find_status("(#5.1.1)").as_deref(), Some("5.1.1"));
        assert_eq!(find_reply("said: 550 5.1.1 user"), Some(550));
        assert_eq!(find_reply("[192.0.2.1]:25 421-4.7.0"), Some(421));
        assert_eq!(find_reply("id 12550 x"), None);
    }

    #[test]
    fn reasons() {
        let r = |s: Option<&str>, t: &str| reason(s, None, &normalise(t));
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
        assert!(contains("this tube is fine", "x") == false);
        assert!(!contains("a tube", "ube"));
        assert!(contains("rejected, ube id", "ube"));
        assert!(contains(
            "recipient address rejected: user jo does not exist",
            "recipient address rejected: user * does not exist"
        ));
    }
}
