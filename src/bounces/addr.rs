//! Finding email addresses in free text: linear, byte by byte, no allocation but the results.

/// Characters allowed in an unquoted local part (RFC 5322 `atext` and the dot).
fn local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || b".!#$%&'*+/=?^_`{|}~-".contains(&b)
}

fn domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// Every address in `text`, in order, as written (duplicates kept).
pub fn scan(text: &str) -> Vec<String> {
    scan_at(text).into_iter().map(|(_, a)| a).collect()
}

/// Every address in `text` with the byte offset where it starts.
pub fn scan_at(text: &str) -> Vec<(usize, String)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    let mut last_end = 0;
    while i < bytes.len() {
        if bytes[i] != b'@' {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > last_end && local_char(bytes[start - 1]) {
            start -= 1;
        }
        // A leading `=` or `/` is more often a QP or URL artefact than part of the address.
        while start < i
            && (matches!(bytes[start], b'.' | b'=' | b'/' | b'\'' | b'`' | b'{' | b'|')
                || !text.is_char_boundary(start))
        {
            start += 1;
        }
        let mut end = i + 1;
        // A domain never holds two dots in a row: Sendmail's `user@host... User unknown` ends it.
        while end < bytes.len() && domain_char(bytes[end]) && !(bytes[end] == b'.' && bytes[end - 1] == b'.') {
            end += 1;
        }
        let mut domain_end = end;
        while domain_end > i + 1 && matches!(bytes[domain_end - 1], b'.' | b'-') {
            domain_end -= 1;
        }
        let local = without_type_tag(&text[start..i]);
        let start = i - local.len();
        let domain = &text[i + 1..domain_end];
        if valid(local, domain) {
            found.push((start, format!("{local}@{domain}")));
        }
        last_end = end.max(i + 1);
        i = last_end;
    }
    found
}

/// Address-type tags that Exchange and X.400 gateways write in front of an Internet address
/// (`dda:SMTP=user@example.com`, `RFC-822=user@example.com`), lower-case with their `=`.
const TYPE_TAGS: &[&str] = &["smtp=", "rfc-822=", "rfc822=", "internet="];

/// `local` without a leading address-type tag. The tag's `=` is a legal local-part character,
/// so only these known tags are taken off (a VERP local part such as `list+user=host` stays).
fn without_type_tag(local: &str) -> &str {
    TYPE_TAGS
        .iter()
        .find(|tag| local.len() >= tag.len() && local.as_bytes()[..tag.len()].eq_ignore_ascii_case(tag.as_bytes()))
        .map_or(local, |tag| &local[tag.len()..])
}

fn valid(local: &str, domain: &str) -> bool {
    if local.is_empty() || local.len() > 64 || domain.len() > 253 || local.ends_with('.') || local.contains("..") {
        return false;
    }
    // A C1 control (U+0080 to U+009F, such as the one-character CSI U+009B) passes `local_char`
    // as UTF-8 bytes; it never belongs in an address and a terminal would obey it.
    if local.contains(char::is_control) {
        return false;
    }
    let Some((_, tld)) = domain.rsplit_once('.') else {
        // `user@localhost`-style addresses appear in some transcripts; keep bracket-less hosts
        // only when they have a dot.
        return false;
    };
    !domain.starts_with(['.', '-']) && tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

/// The first address in a field value such as `rfc822; user@example.org` or `<a@b.example>`.
pub fn first(value: &str) -> Option<String> {
    let value = match value.split_once(';') {
        Some((kind, rest)) if !kind.contains('@') => rest,
        _ => value,
    };
    scan(value).into_iter().next()
}

/// Lower-case form for comparing addresses.
pub fn key(address: &str) -> String {
    address.trim_matches(['<', '>', ' ']).to_ascii_lowercase()
}

/// Whether the address belongs to a mail system rather than a person.
pub fn is_system(address: &str) -> bool {
    let lower = address.to_ascii_lowercase();
    let local = lower.split('@').next().unwrap_or("");
    matches!(
        local,
        "mailer-daemon"
            | "mailer_daemon"
            | "mailerdaemon"
            | "postmaster"
            | "mail-daemon"
            | "maildaemon"
            | "double-bounce"
    ) || local.starts_with("mailer-daemon")
        || local.starts_with("postmaster")
}

/// Whether the address is a placeholder a bounce's help text uses (`finger NAME@host`), not
/// anyone's address: its local part is `NAME`, `USERNAME` or `YOURNAME`, in capitals.
pub fn is_placeholder(address: &str) -> bool {
    matches!(address.split('@').next(), Some("NAME" | "USERNAME" | "YOURNAME"))
}

/// The organisation's domain of a mail host (`mx2.mail.example.co.uk` gives `example.co.uk`),
/// lower-case: the last two labels, or three under a two-letter country code whose second
/// level is a generic one (`co`, `ac`, `com`, …). A guess without the public suffix list, used
/// only to complete a bare user name that a bounce names without a domain.
pub fn organisation(host: &str) -> String {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let generic = ["co", "ac", "com", "net", "org", "gov", "edu", "ne", "or", "go", "gv", "mil"];
    let keep = match labels.as_slice() {
        [.., second, tld] if tld.len() == 2 && generic.contains(second) => 3,
        _ => 2,
    };
    labels[labels.len().saturating_sub(keep)..].join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_addresses_in_text() {
        assert_eq!(
            scan("<kijitora@example.jp>: host mx[1.2.3.4] said: 550 user@x.example. unknown; a@b"),
            ["kijitora@example.jp", "user@x.example"]
        );
        assert_eq!(scan("RCPT TO:<who@mail.example.org>"), ["who@mail.example.org"]);
        assert_eq!(scan("mailto:=20x@y.example"), ["20x@y.example"]);
    }

    #[test]
    fn a_sendmail_ellipsis_ends_the_domain() {
        assert_eq!(scan("550 reader@example.net...User account is overquota"), ["reader@example.net"]);
        assert_eq!(scan("<reader@example.net>... User unknown"), ["reader@example.net"]);
    }

    #[test]
    fn exchange_address_type_tags_are_not_part_of_the_address() {
        assert_eq!(scan("c=US;a= ;p=Corp;o=Hub;dda:SMTP=reader@example.COM; on Fri"), ["reader@example.COM"]);
        assert_eq!(scan("RFC-822=reader@example.org"), ["reader@example.org"]);
        assert_eq!(
            scan("list-bounces+reader=example.net@news.example.org"),
            ["list-bounces+reader=example.net@news.example.org"]
        );
        assert_eq!(scan("smtp=@example.org"), Vec::<String>::new());
    }

    #[test]
    fn placeholders_and_organisations() {
        assert!(is_placeholder("NAME@directory.example.edu"));
        assert!(!is_placeholder("name@example.edu"));
        assert_eq!(organisation("mr2.its.Example.EDU"), "example.edu");
        assert_eq!(organisation("mx.mail.example.co.uk"), "example.co.uk");
        assert_eq!(organisation("example.com"), "example.com");
        assert_eq!(organisation("localhost"), "localhost");
    }

    #[test]
    fn reads_fields() {
        assert_eq!(first("rfc822; Someone@Example.ORG").as_deref(), Some("Someone@Example.ORG"));
        assert_eq!(first("rfc822;<a@b.example>").as_deref(), Some("a@b.example"));
        assert_eq!(first("rfc822; local"), None);
        assert!(is_system("MAILER-DAEMON@mx.example"));
    }
}
