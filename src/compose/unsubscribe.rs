//! The unsubscribe URL every message points to and its `List-Unsubscribe` header: the URL up to
//! the token, the lists a token leaves, the header's value, and how long the URL may be.
//!
//! Enters: the configuration, and for an issue its project and whether the send is a test.
//! Leaves: the URL prefix (`https://…/unsubscribe?t=`), refused when no message could carry it;
//! the `mailto:` prefix; a message's header value; and for `check`, why the configured URL
//! cannot be sent. The limit is not a constant: it is the header line that
//! [`super::MessageTemplate::compose`] writes, formatted with the longest token a send of the
//! configuration appends, so it moves with the token's format and the header's.

use url::{Host, Url};

use super::headers;
use super::{PREVIEW_LIST, TEST_LIST, UNSUBSCRIBE_SCOPE_SEPARATOR};
use crate::config::Config;
use crate::content::Issue;
use crate::diagnostic::Diagnostic;
use crate::project::Project;
use crate::token::{Keys, MIN_KEY_BYTES};

/// Past this, an unsubscribe token names only the recipient's own list (the URL stays short;
/// an issue would need a dozen lists to get there).
pub(super) const MAX_SCOPE_BYTES: usize = 200;

/// Why a send to a list cannot carry the configured unsubscribe URL: what
/// [`super::MessageTemplate::new`] refuses for it, the https rule included (only a test send
/// takes an `http:` URL to another host). For `check`, which reports it where the URL is
/// written, so that a URL every list send refuses is flagged before the send.
pub fn unsubscribe_url_problem(config: &Config) -> Option<Diagnostic> {
    prefix(config, false).err()
}

/// The unsubscribe URL up to the token ([`url_prefix`]), refused as well when the
/// `List-Unsubscribe` header a message of this configuration carries with the longest token
/// would have a line over 998 characters (a URL cannot be folded): so a send stops before its
/// first message, never partway through.
pub(super) fn prefix(config: &Config, test: bool) -> Result<String, Diagnostic> {
    let prefix = url_prefix(config, test)?;
    // A token's length depends on its lists, not on the key nor the address.
    let keys = Keys::from_secrets(vec![vec![0; MIN_KEY_BYTES]]).map_err(|e| {
        Diagnostic::error("compose/header", format!("cannot make an unsubscribe token to measure: {e}"))
    })?;
    let mut url = prefix.clone();
    keys.write_token(&keys.id_of_key(""), &"x".repeat(longest_scope(config)), &mut url);
    let value = value(&url, &url[prefix.len()..], mailto_prefix(config).as_deref());
    headers::list_unsubscribe_line(&value).map_err(|why| why.diagnostic())?;
    Ok(prefix)
}

/// What every recipient's unsubscribe token of `issue` leaves when it goes to several lists:
/// one unsubscribe leaves the issue's stream, every list it goes to (each named once), not only
/// the one a recipient came through (they may be on two of them); none past [`MAX_SCOPE_BYTES`],
/// and none in a test send, whose token leaves nothing real.
pub(super) fn scope(project: &Project, issue: &Issue, test: bool) -> Option<String> {
    let mut lists: Vec<String> =
        project.lists_of(issue).map(|l| l.into_iter().map(|l| l.slug).collect()).unwrap_or_default();
    let mut named = std::collections::BTreeSet::new();
    lists.retain(|list| named.insert(list.clone()));
    (!test && lists.len() > 1)
        .then(|| lists.join(UNSUBSCRIBE_SCOPE_SEPARATOR))
        .filter(|scope| scope.len() <= MAX_SCOPE_BYTES)
}

/// The longest list part an unsubscribe token of this configuration can carry, in bytes: a
/// list's slug ([`TEST_LIST`] and [`PREVIEW_LIST`] included), or what [`scope`] joins for an
/// issue sent to several (at most all the lists, each once), up to [`MAX_SCOPE_BYTES`].
pub(super) fn longest_scope(config: &Config) -> usize {
    let slugs: Vec<&str> = config.lists.iter().map(|l| l.slug.as_str()).collect();
    let joined = slugs.join(UNSUBSCRIBE_SCOPE_SEPARATOR).len().min(MAX_SCOPE_BYTES);
    slugs.iter().map(|s| s.len()).chain([joined, TEST_LIST.len(), PREVIEW_LIST.len()]).max().unwrap_or_default()
}

/// The `List-Unsubscribe` value of one message: the URL ending with the `token`, then, when
/// `unsubscribe-mailto` is set, the `mailto:` with the same token (RFC 2369, RFC 8058).
pub(super) fn value(url: &str, token: &str, mailto_prefix: Option<&str>) -> String {
    match mailto_prefix {
        Some(mailto) => format!("<{url}>, <{mailto}{token}>"),
        None => format!("<{url}>"),
    }
}

/// The `mailto:` of `List-Unsubscribe` up to the token, when `unsubscribe-mailto` is set.
pub(super) fn mailto_prefix(config: &Config) -> Option<String> {
    let mailto = config.sending.unsubscribe_mailto.as_ref()?;
    Some(format!("mailto:{}?subject=unsubscribe%20", mailto_address(mailto)))
}

/// The unsubscribe URL up to the token: `https://…/unsubscribe?t=`. A list send needs https
/// (RFC 8058) unless the host is this machine; a test send takes any http(s) URL. How long it
/// may be is [`prefix`]'s to judge, with the token.
fn url_prefix(config: &Config, test: bool) -> Result<String, Diagnostic> {
    let configured = config.site.unsubscribe();
    let bad = |why: &str| {
        Diagnostic::error("config/unsubscribe-url", format!("the unsubscribe URL `{configured}` {why}"))
            .help("set `unsubscribe-url: https://…/unsubscribe` under `site:` in letterpress.yaml")
    };
    let url = Url::parse(&configured).map_err(|_| bad("is not a URL"))?;
    let loopback = match url.host() {
        Some(Host::Domain(name)) => name == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if url.scheme() != "https" && !(test || (loopback && url.scheme() == "http")) {
        return Err(bad("is not https; one-click unsubscribe (RFC 8058) needs an https URL"));
    }
    if url.fragment().is_some() {
        return Err(bad("has a `#` fragment"));
    }
    let separator = if url.query().is_some() { '&' } else { '?' };
    Ok(format!("{}{separator}t=", url.as_str()))
}

/// `address` as a `mailto:` URI writes it (RFC 6068 §2): the domain as its A-label, and in the
/// local part every byte but letters, digits and `!$'*+-._~` percent-encoded, so a `?`, `#`,
/// `%` or non-ASCII letter in it neither ends the address nor leaves the header 7-bit.
fn mailto_address(address: &str) -> String {
    let normal = crate::address::normalise_address(address).unwrap_or_else(|_| address.to_owned());
    let (local, domain) = normal.rsplit_once('@').unwrap_or(("", &normal));
    let mut out = String::with_capacity(normal.len() + 8);
    for byte in local.bytes() {
        if byte.is_ascii_alphanumeric() || b"!$'*+-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.extend(['%', char::from(HEX[usize::from(byte >> 4)]), char::from(HEX[usize::from(byte & 0xf)])]);
        }
    }
    out.push('@');
    out.push_str(domain);
    out
}
