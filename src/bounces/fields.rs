//! RFC 3464 and RFC 5965 field blocks: `Name: value` lines, folded or not, with or without the
//! blank lines that should separate the per-message block from each per-recipient block.

use super::addr;

/// One `Name: value` field, the name lower-cased, the value unfolded.
pub type Field = (String, String);

/// Every field of a report body, in order. Lines that are not fields are skipped.
pub fn fields(text: &str) -> Vec<Field> {
    paragraphs(text).into_iter().flatten().collect()
}

/// The fields of a report body, grouped by the blank lines between them.
fn paragraphs(text: &str) -> Vec<Vec<Field>> {
    let mut out: Vec<Vec<Field>> = vec![Vec::new()];
    let mut continuing = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continuing = false;
            if out.last().is_some_and(|p| !p.is_empty()) {
                out.push(Vec::new());
            }
            continue;
        }
        let Some(paragraph) = out.last_mut() else { continue };
        if line.starts_with([' ', '\t']) {
            if continuing
                && let Some((_, value)) = paragraph.last_mut()
                && value.len() < 4096
            {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        match line.split_once(':') {
            Some((name, value))
                if !name.is_empty()
                    && name.len() < 64
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                paragraph.push((name.to_ascii_lowercase(), value.trim().to_owned()));
                continuing = true;
            }
            _ => continuing = false,
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// One recipient's block of a delivery-status report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub final_address: Option<String>,
    pub original_address: Option<String>,
    pub action: String,
    pub status: String,
    pub diagnostic: String,
    pub remote_mta: String,
}

impl Recipient {
    /// The address the block is about: the `Final-Recipient`, the one the reporting MTA tried.
    pub fn address(&self) -> Option<String> {
        self.final_address.clone().or_else(|| self.original_address.clone())
    }

    /// The address to report: the `Original-Recipient` when it is a whole address, since that is
    /// what the sender wrote (RFC 3464 §2.3.1) before forwarding or aliasing turned it into the
    /// `Final-Recipient` (`user@internal-host`, an alias's target); else [`Self::address`].
    pub fn reported(&self) -> Option<String> {
        self.original_address
            .as_deref()
            .filter(|original| addr::scan(original).first().is_some_and(|found| found == original))
            .map(str::to_owned)
            .or_else(|| self.address())
    }

    fn has_outcome(&self) -> bool {
        !self.action.is_empty() || !self.status.is_empty() || !self.diagnostic.is_empty()
    }

    fn is_empty(&self) -> bool {
        self.final_address.is_none()
            && self.original_address.is_none()
            && self.action.is_empty()
            && self.status.is_empty()
            && self.diagnostic.is_empty()
    }
}

/// The per-recipient blocks of a `message/delivery-status` body. A paragraph (fields between
/// blank lines) with at most one `Final-Recipient` and one `Original-Recipient` is one block,
/// whatever the order of its fields (Sun and Oracle Messaging Server and PMDF write `Action` and
/// `Status` first). In a paragraph with more, a new block starts at each `Final-Recipient` (or
/// at an `Original-Recipient` once the current block has a recipient), so missing blank lines do
/// not merge recipients. A block without any recipient field (a report that lost them) is kept:
/// its status still says what happened.
pub fn recipients(text: &str) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = Vec::new();
    let mut current = Recipient::default();
    let mut started = false;
    for paragraph in paragraphs(text) {
        let count = |name: &str| paragraph.iter().filter(|(n, _)| n == name).count();
        let (finals, originals) = (count("final-recipient"), count("original-recipient"));
        let whole = finals <= 1 && originals <= 1;
        if whole && finals + originals > 0 && current.address().is_some() {
            out.push(std::mem::take(&mut current));
        }
        for (name, value) in paragraph {
            match name.as_str() {
                "original-recipient" => {
                    if !whole
                        && (current.original_address.is_some()
                            || (current.final_address.is_some() && current.has_outcome()))
                    {
                        out.push(std::mem::take(&mut current));
                    }
                    started = true;
                    current.original_address = addr::first(&value).or_else(|| local_only(&value));
                }
                "final-recipient" => {
                    if !whole
                        && (current.final_address.is_some()
                            || (current.original_address.is_some() && current.has_outcome()))
                    {
                        out.push(std::mem::take(&mut current));
                    }
                    started = true;
                    current.final_address = addr::first(&value).or_else(|| local_only(&value));
                }
                "action" if started || current.action.is_empty() => current.action = value.to_ascii_lowercase(),
                "status" => current.status = value,
                "diagnostic-code" => current.diagnostic = value,
                "remote-mta" => current.remote_mta = value,
                _ => {}
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.retain(|r| r.address().is_some() || !r.status.is_empty() || !r.action.is_empty());
    out
}

/// `rfc822; user` without a domain: the local part alone is still better than nothing. A value
/// with a control character (a terminal escape sequence, say) is not an address at all.
fn local_only(value: &str) -> Option<String> {
    let value = value.split_once(';').map_or(value, |(_, v)| v).trim().trim_matches(['<', '>']);
    (!value.is_empty() && !value.contains(|c: char| c.is_whitespace() || c.is_control()) && value.len() <= 254)
        .then(|| value.to_owned())
}

/// The value of the first field `name` (lower-case).
pub fn get<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_recipients_with_and_without_blank_lines() {
        let text = "Reporting-MTA: dns; mx.example\nArrival-Date: today\n\nFinal-Recipient: rfc822; a@x.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1\n  user unknown\nFinal-Recipient: rfc822;b@x.example\nAction: delayed\nStatus: 4.4.1\n";
        let r = recipients(text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].address().as_deref(), Some("a@x.example"));
        assert_eq!(r[0].diagnostic, "smtp; 550 5.1.1 user unknown");
        assert_eq!(r[1].action, "delayed");
    }

    #[test]
    fn a_recipient_with_control_characters_is_no_address() {
        let text = "Final-Recipient: rfc822; \u{1b}]0;PWNED\u{7}\u{1b}[2Jevil\nAction: failed\nStatus: 5.1.1\n\n\
                    Final-Recipient: rfc822; ok\u{9b}2J@x.example\nAction: failed\nStatus: 5.1.1\n\n\
                    Final-Recipient: rfc822; plain\nAction: failed\nStatus: 5.1.1\n";
        let r = recipients(text);
        let addresses: Vec<String> = r.iter().filter_map(Recipient::address).collect();
        assert_eq!(addresses, ["plain"]);
    }

    #[test]
    fn final_address_first() {
        let text = "Final-Recipient: rfc822; a@x.example\nOriginal-Recipient: rfc822;a@x.example\nAction: failed\nStatus: 5.1.1\n\nFinal-Recipient: rfc822; b@x.example\nOriginal-Recipient: rfc822;b@x.example\nAction: failed\n";
        let r = recipients(text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].status, "5.1.1");
    }

    #[test]
    fn outcome_fields_before_the_recipients_are_one_block() {
        let text = "Reporting-MTA: dns;msg.example.net\n\nAction: failed\nStatus: 5.0.0 (recipient reached disk quota)\n\
                    Original-recipient: rfc822;reader@example.com\nFinal-recipient: rfc822;reader@ms-daemon\n\n\
                    Action: failed\nStatus: 5.0.0\nOriginal-recipient: rfc822;other@example.com\n\
                    Final-recipient: rfc822;OTHER@host.example.com\n";
        let r = recipients(text);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].reported().as_deref(), Some("reader@example.com"));
        assert_eq!(r[0].status, "5.0.0 (recipient reached disk quota)");
        assert_eq!(r[1].reported().as_deref(), Some("other@example.com"));
        assert_eq!(r[1].address().as_deref(), Some("OTHER@host.example.com"));
    }

    #[test]
    fn the_original_recipient_is_reported_only_when_it_is_a_whole_address() {
        let block = |original: &str| {
            recipients(&format!(
                "Final-Recipient: rfc822; alias-target@mail.example.org\nOriginal-Recipient: {original}\nAction: failed\n"
            ))
        };
        assert_eq!(block("rfc822;reader@example.org")[0].reported().as_deref(), Some("reader@example.org"));
        assert_eq!(block("rfc822;reader")[0].reported().as_deref(), Some("alias-target@mail.example.org"));
        assert_eq!(block("x400;c=us;a=;p=corp")[0].reported().as_deref(), Some("alias-target@mail.example.org"));
    }

    #[test]
    fn original_address_first() {
        let text = "Original-Recipient: rfc822;o@x.example\nFinal-Recipient: rfc822;f@x.example\nAction: failed\nStatus: 5.0.0\n\nOriginal-Recipient: rfc822;p@x.example\nFinal-Recipient: rfc822;g@x.example\nAction: failed\n";
        let r = recipients(text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].address().as_deref(), Some("g@x.example"));
        assert_eq!(r[1].original_address.as_deref(), Some("p@x.example"));
    }
}
