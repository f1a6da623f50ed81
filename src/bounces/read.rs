//! Reading one message end to end: which kind it is (complaint, delivery-status report, text
//! bounce, automatic reply, something else) and a finding per recipient.

use std::collections::HashSet;

use super::classify::{self, any, normalise};
use super::codes::{find_reply, find_status};
use super::parse::{self, Parsed};
use super::{Analysis, Finding, Original, Verdict, addr, arf, autoreply, failed, fields, json, phrases, text};

static DELAYED: classify::Phrases = classify::Phrases::new(phrases::DELAYED);
static DELIVERED: classify::Phrases = classify::Phrases::new(phrases::DELIVERED);

/// See [`super::analyse`].
pub fn analyse(raw: &[u8]) -> Analysis {
    let capped = &raw[..raw.len().min(parse::MAX_PARSE)];
    let Some(parsed) = parse::parse(capped) else {
        return Analysis {
            findings: vec![finding(
                None,
                Verdict::Unknown,
                "undefined",
                None,
                None,
                Some("not a mail message: no headers".to_owned()),
            )],
            ..Analysis::default()
        };
    };
    let mut delivered_to: Vec<String> = Vec::new();
    for value in parsed.delivered_to.iter().chain(&parsed.to_headers) {
        for address in addr::scan(value) {
            if !delivered_to.iter().any(|a| addr::key(a) == addr::key(&address)) {
                delivered_to.push(address);
            }
        }
    }
    let original = original(&parsed);
    let findings = findings(&parsed, &original);
    Analysis { message_id: parsed.message_id.clone(), delivered_to, original, findings }
}

fn finding(
    recipient: Option<String>,
    verdict: Verdict,
    reason: &str,
    status: Option<String>,
    reply: Option<u16>,
    diagnostic: Option<String>,
) -> Finding {
    Finding { recipient, verdict, status, reply, reason: reason.to_owned(), diagnostic }
}

/// Headers of the returned original: from its MIME part, else quoted in the bounce's text.
fn original(parsed: &Parsed) -> Original {
    let block = if parsed.original_headers.is_empty() {
        let explained = text::explanation(&parsed.text).len();
        parsed.text[explained..].to_owned()
    } else {
        parsed.original_headers.clone()
    };
    let fields = fields::fields(&block);
    let get = |name: &str| fields::get(&fields, name).map(str::to_owned).filter(|v| !v.is_empty());
    Original {
        message_id: get("message-id"),
        list_id: get("list-id"),
        list_unsubscribe: get("list-unsubscribe"),
        to: get("to"),
    }
}

fn findings(parsed: &Parsed, original: &Original) -> Vec<Finding> {
    let original_to = original.to.as_deref().and_then(addr::first);
    if arf::is_feedback(parsed) {
        return arf::findings(parsed, original_to.as_deref());
    }
    if let Some(found) = json::findings(&parsed.text).or_else(|| json::findings(&parsed.original_text)) {
        return found;
    }
    let mut records = fields::recipients(&parsed.dsn);
    // Some MTAs write the report's fields into the text of a single-part message.
    if records.is_empty() && parse::looks_like_dsn(&parsed.text) {
        records = fields::recipients(&parsed.text);
    }
    let is_bounce = text::looks_like_bounce(parsed);
    if !records.is_empty() && records.iter().any(|r| r.address().is_some()) {
        return dsn(parsed, &records, original_to.as_deref());
    }
    if autoreply::is_autoreply(parsed) && (!is_bounce || autoreply::subject_says_autoreply(&parsed.subject)) {
        let from = addr::scan(&parsed.from).into_iter().next();
        return vec![finding(from, Verdict::AutoReply, "vacation", None, None, Some(parsed.subject.clone()))];
    }
    if is_bounce || !records.is_empty() {
        return text_bounce(parsed, original_to, &records);
    }
    Vec::new()
}

/// Whether the message as a whole is only a warning that delivery is delayed.
fn is_warning(parsed: &Parsed) -> bool {
    let subject = normalise(&parsed.subject);
    if any(&subject, &["delay", "warning", "verzögert", "retard", "still undelivered", "not yet delivered"]) {
        return true;
    }
    let head = normalise(&parsed.text[..text::floor(&parsed.text, 4096)]);
    // "Could not be delivered" ends a warning's claim, unless the text goes on to say the
    // attempts continue (Symantec's gateway: "could not be delivered to the following
    // recipients: … Delivery attempts will continue to be made for 5 day(s)").
    DELAYED.found_in(&head)
        && !any(&head, &["failed permanently", "permanent fatal", "permanent error"])
        && (!any(&head, &["could not be delivered"]) || any(&head, STILL_TRYING))
}

/// Words of a warning that delivery goes on, normalised.
const STILL_TRYING: &[&str] = &[
    "attempts will continue",
    "will continue trying",
    "will keep trying",
    "will continue to try",
    "is still being retried",
    "you do not need to resend",
    "this is a warning only",
    "this is just a warning",
];

/// Words that say a message was not delivered, normalised: a success phrase inside them
/// ("could not be delivered to the following recipients") is no success.
const NOT_DELIVERED: &[&str] = &[
    "not be delivered",
    "couldn't be delivered",
    "not delivered",
    "undeliverable",
    "could not deliver",
    "unable to deliver",
    "delivery has failed",
    "failed permanently",
];

fn strip_type(diagnostic: &str) -> &str {
    match diagnostic.split_once(';') {
        Some((kind, rest)) if kind.len() < 16 && !kind.contains(' ') => rest.trim(),
        _ => diagnostic.trim(),
    }
}

fn dsn(parsed: &Parsed, records: &[fields::Recipient], original_to: Option<&str>) -> Vec<Finding> {
    let explanation = text::explanation(&parsed.text);
    let lower = explanation.to_ascii_lowercase();
    let warning = is_warning(parsed);
    let mut out = Vec::with_capacity(records.len());
    let mut seen: HashSet<(String, String)> = HashSet::new();
    // Whether the explanation says anything of `DATA` at all: only then are the lines around
    // each recipient worth reading for the stage.
    let explained_at_data = std::cell::OnceCell::new();
    for record in records {
        let mut recipient = record.reported();
        // `rfc822; user` without a domain: the original's `To` with that local part.
        if let (Some(local), Some(to)) = (&recipient, original_to)
            && !local.contains('@')
            && to.split('@').next().is_some_and(|l| l.eq_ignore_ascii_case(local))
        {
            recipient = Some(to.to_owned());
        }
        let key = (recipient.as_deref().map(addr::key).unwrap_or_default(), record.action.clone());
        if !seen.insert(key) {
            continue;
        }
        let mut diagnostic = strip_type(&record.diagnostic).to_owned();
        if diagnostic.is_empty()
            && let Some(r) = &recipient
        {
            diagnostic = near(explanation, &lower, r);
        }
        let status = find_status(&record.status).or_else(|| find_status(&diagnostic));
        let reply = find_reply(&diagnostic);
        let action = record.action.as_str();
        let delivered = action.starts_with("deliver")
            || action.starts_with("relay")
            || action.starts_with("expand")
            || status.as_deref().is_some_and(|s| s.starts_with('2'));
        if delivered {
            out.push(finding(recipient, Verdict::Delivered, "delivered", status, reply, some(diagnostic)));
            continue;
        }
        let delayed = action.starts_with("delay")
            || (warning && !action.starts_with("fail") && status.as_deref().is_none_or(|s| s.starts_with('4')));
        let mut text = normalise(&diagnostic);
        if text.is_empty() {
            text = normalise(&explanation[..text::floor(explanation, 4000)]);
        }
        let mention = recipient.clone();
        let stage = || match mention {
            Some(r) if *explained_at_data.get_or_init(|| classify::at_data(&normalise(explanation))) => {
                format!("{text} {}", normalise(&near(explanation, &lower, &r)))
            }
            _ => text.clone(),
        };
        out.push(judge(recipient, status, reply, (&text, stage), delayed, some(diagnostic)));
    }
    out
}

fn some(text: impl AsRef<str>) -> Option<String> {
    let text = text.as_ref().trim();
    (!text.is_empty()).then(|| text.chars().take(1000).collect())
}

/// The lines of `text` around the first mention of `address`.
/// `lower` is `text` in ASCII lower case (the same length), computed once per message.
fn near(text: &str, lower: &str, address: &str) -> String {
    // The first mention that is not a quoted header of the original (`To: user@host` in a
    // summary of the message comes before what happened to it).
    let line_start = |at: usize| text[..at].rfind('\n').map_or(0, |i| i + 1);
    let mentions: Vec<usize> = lower.match_indices(&address.to_ascii_lowercase()).map(|(at, _)| at).collect();
    let unquoted = mentions.iter().copied().find(|&at| !failed::is_quoted_header(&lower[line_start(at)..at]));
    let Some(at) = unquoted.or_else(|| mentions.first().copied()) else { return String::new() };
    let start = line_start(at);
    let end = text::floor(text, (at + 600).min(text.len()));
    let mut out = String::new();
    for line in text[start..end].lines().take(5) {
        if line.trim().is_empty() && out.len() > 40 {
            break;
        }
        out.push_str(line.trim());
        out.push(' ');
    }
    out.trim().to_owned()
}

/// A verdict for one failed (or delayed) recipient.
///
/// `stage` gives what the bounce says of the refusal around the recipient (its diagnostic and
/// the lines that mention it), asked for only when the words say "no such user": said at or
/// after `DATA`, that is [`classify::at_data`]'s `filtered`.
fn judge(
    recipient: Option<String>,
    status: Option<String>,
    reply: Option<u16>,
    (text, stage): (&str, impl FnOnce() -> String),
    delayed: bool,
    diagnostic: Option<String>,
) -> Finding {
    let mut reason = classify::reason(status.as_deref(), text);
    if reason == "delivered" {
        reason = "undefined";
    }
    if reason == "userunknown" && classify::at_data(&stage()) {
        reason = "filtered";
    }
    let mut verdict = classify::verdict(reason, classify::permanent(status.as_deref(), reply));
    if delayed {
        // A warning says what has happened so far: delivery is late. Whatever its words say of
        // the cause (even "user unknown") stays in the diagnostic; the message may still arrive.
        reason = super::DELAYED;
        verdict = Verdict::Soft;
    }
    finding(recipient, verdict, reason, status, reply, diagnostic)
}

fn text_bounce(parsed: &Parsed, original_to: Option<String>, records: &[fields::Recipient]) -> Vec<Finding> {
    let explanation = text::explanation(&parsed.text);
    let keys = |value: &String| addr::scan(value).iter().map(|a| addr::key(a)).collect::<Vec<_>>();
    let mut exclude: HashSet<String> = std::iter::once(&parsed.from).chain(&parsed.to_headers).flat_map(keys).collect();
    let envelope: HashSet<String> = parsed.delivered_to.iter().flat_map(keys).collect();
    let quoted = &parsed.text[explanation.len()..];
    for block in [parsed.original_headers.as_str(), quoted] {
        let fields = fields::fields(block);
        for name in ["from", "sender", "reply-to", "return-path"] {
            if let Some(value) = fields::get(&fields, name) {
                exclude.extend(addr::scan(value).iter().map(|a| addr::key(a)));
            }
        }
    }
    let lower = explanation.to_ascii_lowercase();
    let mut listed: Vec<failed::Failed> = parsed
        .failed_recipients
        .iter()
        .map(|a| failed::Failed { address: a.clone(), diagnostic: near(explanation, &lower, a) })
        .collect();
    if listed.is_empty() {
        let qualify = |name: &str| qualify(name, parsed, original_to.as_deref());
        listed = failed::failed(explanation, &failed::Known { own: exclude, envelope, qualify: &qualify });
    }
    if listed.is_empty()
        && let Some(to) = original_to
    {
        listed.push(failed::Failed { address: to, diagnostic: String::new() });
    }
    let context = normalise(&explanation[..text::floor(explanation, 6000)]);
    // Codes are looked for in the bounce's own words, not in the original's quoted `Subject:`
    // ("RELEASED Mailman 2.0.12" is no status).
    let own_words = failed::unquoted(explanation);
    let warning = is_warning(parsed);
    let status_hint = records.iter().find_map(|r| find_status(&r.status));
    if listed.is_empty() {
        let status = status_hint.or_else(|| find_status(&own_words));
        let reply = find_reply(&own_words);
        let stage = || context.clone();
        return vec![judge(None, status, reply, (&context, stage), warning, some(first_lines(explanation)))];
    }
    let subject = normalise(&parsed.subject);
    let success = (any(&subject, &["(success)", "successful delivery", "delivered:", "relayed:"])
        || DELIVERED.found_in(&context))
        && !any(&context, NOT_DELIVERED)
        && find_status(&own_words).is_none_or(|s| s.starts_with('2'));
    if success {
        return listed
            .into_iter()
            .map(|f| finding(Some(f.address), Verdict::Delivered, "delivered", None, None, some(f.diagnostic)))
            .collect();
    }
    let single = listed.len() == 1;
    listed
        .into_iter()
        .map(|f| {
            let own = normalise(&f.diagnostic);
            let mut status = find_status(&f.diagnostic);
            let mut reply = find_reply(&f.diagnostic);
            if single {
                status = status.or_else(|| status_hint.clone()).or_else(|| find_status(&own_words));
                reply = reply.or_else(|| find_reply(&own_words));
            }
            let stage = if single { format!("{own} {context}") } else { own.clone() };
            let text = if classify::reason(None, &own) == "undefined" { format!("{own} {context}") } else { own };
            let diagnostic = if f.diagnostic.trim().is_empty() { first_lines(explanation) } else { f.diagnostic };
            judge(Some(f.address), status, reply, (&text, || stage), warning, some(diagnostic))
        })
        .collect()
}

/// A user name that a text bounce lists without a domain, as an address: the original's `To`
/// when it has that local part, else the name at the organisation of the mail system that
/// sent the bounce (AOL's `MAILER-DAEMON@aol.com` names its users by screen name alone). When
/// the original's `To` names someone else, the word is no user name, and that `To` is the
/// better guess.
fn qualify(name: &str, parsed: &Parsed, original_to: Option<&str>) -> Option<String> {
    if let Some(to) = original_to {
        return to.split('@').next().is_some_and(|local| local.eq_ignore_ascii_case(name)).then(|| to.to_owned());
    }
    let from = addr::scan(&parsed.from).into_iter().next().filter(|a| addr::is_system(a))?;
    let (_, host) = from.rsplit_once('@')?;
    Some(format!("{name}@{}", addr::organisation(host)))
}

/// The first few non-empty lines of a text.
fn first_lines(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).take(4).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const DSN: &[u8] = include_bytes!("../../tests/fixtures/bounces/postfix-user-unknown.eml");
    const TEXT: &[u8] = include_bytes!("../../tests/fixtures/bounces/exim-user-unknown.eml");
    const ARF: &[u8] = include_bytes!("../../tests/fixtures/bounces/rfc5965-arf.eml");

    #[test]
    fn a_message_that_is_not_a_bounce_has_no_findings() {
        let analysis = analyse(b"From: a@b.example\r\nTo: c@d.example\r\nSubject: lunch?\r\n\r\nAt one?\r\n");
        assert!(analysis.findings.is_empty());
        assert_eq!(analysis.delivered_to, ["c@d.example"]);
    }

    #[test]
    fn only_abuse_fraud_and_virus_reports_are_complaints() {
        let text = String::from_utf8_lossy(ARF).into_owned();
        assert!(text.contains("Feedback-Type: abuse"));
        for (kind, verdict) in [
            ("abuse", Verdict::Complaint),
            ("fraud", Verdict::Complaint),
            ("Virus", Verdict::Complaint),
            ("not-spam", Verdict::Unknown),
            ("auth-failure", Verdict::Unknown),
            ("other", Verdict::Unknown),
            ("opt-out", Verdict::Unknown),
        ] {
            let raw = text.replace("Feedback-Type: abuse", &format!("Feedback-Type: {kind}"));
            let findings = analyse(raw.as_bytes()).findings;
            assert_eq!(findings.len(), 1, "{kind}");
            assert_eq!(findings[0].verdict, verdict, "{kind}");
            assert_eq!(
                findings[0].diagnostic.as_deref(),
                Some(format!("feedback-type: {}", kind.to_lowercase()).as_str())
            );
        }
    }

    #[test]
    fn a_bare_name_is_qualified_by_the_original_or_the_bouncing_system() {
        let bounce = |listed: &str, original_to: &str| {
            let raw = format!(
                "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.aol.example>\r\nTo: bounces@news.example.org\r\n\
                 Subject: Mail Delivery Problem\r\nMIME-Version: 1.0\r\n\
                 Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n\
                 Your mail to the following recipients could not be delivered because they are not accepting mail \
                 from news@example.org:\r\n\t{listed}\r\n\r\n--B\r\nContent-Type: message/rfc822\r\n\r\n\
                 From: news@example.org\r\nTo: {original_to}\r\nSubject: Issue 4\r\n\r\nHello\r\n--B--\r\n"
            );
            analyse(raw.as_bytes()).findings.into_iter().map(|f| f.recipient).collect::<Vec<_>>()
        };
        assert_eq!(bounce("Reader", "reader@aol.example"), [Some("reader@aol.example".to_owned())]);
        // A word that is not the original's recipient is no user name: the original's `To` is.
        assert_eq!(bounce("Unknown", "reader@aol.example"), [Some("reader@aol.example".to_owned())]);
        let raw = "From: MAILER-DAEMON@mx.aol.example\r\nTo: bounces@news.example.org\r\nSubject: Mail Delivery Problem\r\n\r\n\
                   Your mail to the following recipients could not be delivered:\r\n\tscreenname\r\n";
        let found: Vec<_> = analyse(raw.as_bytes()).findings.into_iter().map(|f| f.recipient).collect();
        assert_eq!(found, [Some("screenname@aol.example".to_owned())]);
    }

    #[test]
    fn a_temporary_failure_is_soft_whatever_its_words_say() {
        let dsn = |status: &str, diagnostic: &str| {
            format!(
                "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces@news.example.org\r\nSubject: Undelivered Mail\r\n\
                 MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
                 --B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\r\n\
                 --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n\
                 Final-Recipient: rfc822; tom@example.net\r\nAction: failed\r\nStatus: {status}\r\n\
                 Diagnostic-Code: smtp; {diagnostic}\r\n\r\n--B--\r\n"
            )
        };
        let judged = |status: &str, diagnostic: &str| {
            let findings = analyse(dsn(status, diagnostic).as_bytes()).findings;
            assert_eq!(findings.len(), 1, "{status} {diagnostic}");
            (findings[0].verdict, findings[0].reason.clone())
        };
        let soft = |reason: &str| (Verdict::Soft, reason.to_owned());
        let hard = |reason: &str| (Verdict::Hard, reason.to_owned());
        assert_eq!(judged("4.4.3", "Host or domain name not found. Host not found, try again"), soft("hostunknown"));
        assert_eq!(
            judged("4.1.1", "450 4.1.1 <tom@example.net>: User unknown in local recipient table"),
            soft("userunknown")
        );
        assert_eq!(judged("4.1.6", "451 4.1.6 mailbox has moved"), soft("hasmoved"));
        assert_eq!(judged("4.0.0", "550 <tom@example.net>: User unknown"), hard("userunknown"), "a 5xx reply");
        assert_eq!(judged("5.1.1", "550 5.1.1 User unknown"), hard("userunknown"));
        assert_eq!(judged("5.1.2", "Host or domain name not found"), hard("hostunknown"));
    }

    #[test]
    fn headers_of_the_original_are_kept_for_attribution() {
        let analysis = analyse(DSN);
        assert_eq!(analysis.original.message_id.as_deref(), Some("<20260301090000.4f2a@news.example.org>"));
        assert_eq!(analysis.original.list_id.as_deref(), Some("The Weekly <weekly.news.example.org>"));
        assert!(analysis.original.list_unsubscribe.as_deref().is_some_and(|v| v.contains("k7Qx2m4bZp9a")));
        assert!(analysis.delivered_to.iter().any(|a| a.starts_with("bounces+k7Qx2m4bZp9a@")));
        assert_eq!(analysis.message_id.as_deref(), Some("bounce.postfix-user-unknown@mx.example.net"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..2048)) {
            let _ = analyse(&bytes);
        }

        #[test]
        fn never_panics_on_a_cut_or_damaged_bounce(cut in 0usize..4000, at in 0usize..4000, byte in proptest::arbitrary::any::<u8>(), which in 0usize..3) {
            let source = [DSN, TEXT, ARF][which];
            let mut raw = source[..cut.min(source.len())].to_vec();
            if !raw.is_empty() {
                let i = at % raw.len();
                raw[i] = byte;
            }
            let analysis = analyse(&raw);
            // Damage never turns a bounce into a complaint.
            if which != 2 {
                for finding in &analysis.findings {
                    prop_assert_ne!(finding.verdict, Verdict::Complaint);
                }
            }
        }
    }
}
