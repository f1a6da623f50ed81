//! Validators and conditional requests (RFC 9110 §8.8, §13) for the archive's pages.
//!
//! Enters: a page as it is sent (its file with the subscribe form put in), when its file was
//! last modified, when the forms were made, and a `GET` or `HEAD` request's headers. Leaves: the
//! page's `ETag` and `Last-Modified`, and whether the request gets the page, a 304 (the client's
//! copy is current) or a 412 (an `If-Match` or `If-Unmodified-Since` fails).
//!
//! The tag is a hash of the bytes sent, where tower-http's `ServeFile` (the archive's other
//! files) uses the file's size and time: a page is read whole anyway to put the form in, the form
//! can change at a restart while the file does not, and a `build` that rewrites a page with the
//! same bytes keeps its tag. For the same reason `Last-Modified` is the later of the file's time
//! and the forms'.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use sha2::{Digest as _, Sha256};

/// How a conditional request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200 with the page: no condition, or every condition holds.
    Send,
    /// 304: `If-None-Match` names the page's tag, or it is not newer than `If-Modified-Since`.
    NotModified,
    /// 412: `If-Match` names no current tag, or the page is newer than `If-Unmodified-Since`.
    PreconditionFailed,
}

/// A page's `ETag` and `Last-Modified`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// A strong entity-tag with its quotes: `"<32 hex digits>"`.
    etag: String,
    /// To the second, as an HTTP date carries it.
    modified: SystemTime,
}

impl Validators {
    /// The validators of `body`, from a file modified at `file` with forms made at `forms`.
    pub fn new(body: &[u8], file: SystemTime, forms: SystemTime) -> Self {
        let digest = Sha256::digest(body);
        Self { etag: format!("\"{}\"", crate::token::hex(&digest[..16])), modified: to_second(file.max(forms)) }
    }

    /// Add `ETag` and `Last-Modified` to a response's headers (a 304's too: RFC 9110 §15.4.5).
    pub fn insert(&self, headers: &mut HeaderMap) {
        if let Ok(etag) = HeaderValue::from_str(&self.etag) {
            headers.insert(header::ETAG, etag);
        }
        if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(self.modified)) {
            headers.insert(header::LAST_MODIFIED, date);
        }
    }

    /// How a `GET` or `HEAD` with `request`'s headers is answered, in RFC 9110 §13.2.2's order:
    /// `If-Match` (strong comparison), else `If-Unmodified-Since`; then `If-None-Match` (weak
    /// comparison), else `If-Modified-Since`. A date that does not parse is ignored.
    pub fn answer(&self, request: &HeaderMap) -> Answer {
        if let Some(tags) = list(request, &header::IF_MATCH) {
            if !self.is_in(&tags, true) {
                return Answer::PreconditionFailed;
            }
        } else if date(request, &header::IF_UNMODIFIED_SINCE).is_some_and(|since| self.modified > since) {
            return Answer::PreconditionFailed;
        }
        if let Some(tags) = list(request, &header::IF_NONE_MATCH) {
            if self.is_in(&tags, false) {
                return Answer::NotModified;
            }
        } else if date(request, &header::IF_MODIFIED_SINCE).is_some_and(|since| self.modified <= since) {
            return Answer::NotModified;
        }
        Answer::Send
    }

    /// Whether the page's tag is in `tags` (`*`, or a list of entity-tags). A strong comparison
    /// matches no weak tag; a weak one ignores `W/` (RFC 9110 §8.8.3.2).
    fn is_in(&self, tags: &str, strong: bool) -> bool {
        tags.trim() == "*" || entity_tags(tags).any(|(weak, tag)| tag == self.etag && !(strong && weak))
    }
}

/// Every field line of `name`, joined as one list (RFC 9110 §5.3); `None` when there are none
/// or all are empty.
fn list(request: &HeaderMap, name: &HeaderName) -> Option<String> {
    let lines: Vec<&str> = request.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
    let joined = lines.join(", ");
    (!joined.trim_matches([' ', '\t', ',']).is_empty()).then_some(joined)
}

/// The date of a field sent once with an HTTP date in any of RFC 9110's three formats.
fn date(request: &HeaderMap, name: &HeaderName) -> Option<SystemTime> {
    let mut values = request.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => httpdate::parse_http_date(value.to_str().ok()?.trim()).ok(),
        _ => None,
    }
}

/// The entity-tags of a list (`"a", W/"b"`): whether each is weak, and the tag with its quotes.
/// A comma inside quotes is part of a tag.
fn entity_tags(list: &str) -> impl Iterator<Item = (bool, &str)> {
    let mut quoted = false;
    list.split(move |c| {
        quoted ^= c == '"';
        c == ',' && !quoted
    })
    .map(|tag| tag.trim_matches([' ', '\t']))
    .filter(|tag| !tag.is_empty())
    .map(|tag| tag.strip_prefix("W/").map_or((false, tag), |tag| (true, tag)))
}

/// `time` without its fraction of a second: an HTTP date has none, and a page modified within
/// the second a client was told must compare equal to it.
fn to_second(time: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &[u8] = b"<main>Forty-four plans</main>";

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn page() -> Validators {
        Validators::new(PAGE, at(1_700_000_000) + Duration::from_millis(600), at(1_600_000_000))
    }

    fn headers(fields: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in fields {
            headers.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[track_caller]
    fn case(fields: &[(&str, &str)], expected: Answer) {
        assert_eq!(page().answer(&headers(fields)), expected, "{fields:?}");
    }

    #[test]
    fn the_tag_is_the_bytes_sent_and_the_date_the_later_of_file_and_forms() {
        let sent = page();
        assert_eq!(sent.etag.len(), 34, "{}", sent.etag);
        assert!(sent.etag.starts_with('"') && sent.etag.ends_with('"'), "strong: {}", sent.etag);
        assert_eq!(Validators::new(PAGE, at(1), at(2)).etag, sent.etag, "the same bytes, the same tag");
        assert_ne!(Validators::new(b"<main>Forty-five plans</main>", at(1), at(2)).etag, sent.etag);
        let mut response = HeaderMap::new();
        sent.insert(&mut response);
        assert_eq!(response[header::ETAG], sent.etag.as_str());
        assert_eq!(response[header::LAST_MODIFIED], "Tue, 14 Nov 2023 22:13:20 GMT", "the file's, to the second");
        let reformed = Validators::new(PAGE, at(1_600_000_000), at(1_700_000_000));
        assert_eq!(reformed.modified, at(1_700_000_000), "forms made after the file was");
    }

    #[test]
    fn if_none_match_compares_weakly_and_answers_304() {
        let tag = page().etag;
        case(&[("if-none-match", &tag)], Answer::NotModified);
        case(&[("if-none-match", &format!("W/{tag}"))], Answer::NotModified);
        case(&[("if-none-match", &format!("\"a,b\", W/\"x\" ,{tag}"))], Answer::NotModified);
        case(&[("if-none-match", "\"other\""), ("if-none-match", &tag)], Answer::NotModified);
        case(&[("if-none-match", "*")], Answer::NotModified);
        case(&[("if-none-match", "\"other\", W/\"else\"")], Answer::Send);
        case(&[("if-none-match", &tag[..tag.len() - 1])], Answer::Send);
        case(&[], Answer::Send);
    }

    #[test]
    fn if_modified_since_counts_only_without_if_none_match() {
        let date = "Tue, 14 Nov 2023 22:13:20 GMT";
        case(&[("if-modified-since", date)], Answer::NotModified);
        case(&[("if-modified-since", "Tuesday, 14-Nov-23 22:13:20 GMT")], Answer::NotModified);
        case(&[("if-modified-since", "Tue Nov 14 22:13:20 2023")], Answer::NotModified);
        case(&[("if-modified-since", "Tue, 14 Nov 2023 22:13:19 GMT")], Answer::Send);
        case(&[("if-modified-since", "last week")], Answer::Send);
        case(&[("if-modified-since", date), ("if-modified-since", date)], Answer::Send);
        case(&[("if-none-match", "\"other\""), ("if-modified-since", date)], Answer::Send);
        case(
            &[("if-none-match", &page().etag), ("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")],
            Answer::NotModified,
        );
    }

    #[test]
    fn if_match_compares_strongly_and_fails_with_412_before_anything_else() {
        let tag = page().etag;
        case(&[("if-match", &tag)], Answer::Send);
        case(&[("if-match", "*")], Answer::Send);
        case(&[("if-match", &format!("\"other\", {tag}"))], Answer::Send);
        case(&[("if-match", &format!("W/{tag}"))], Answer::PreconditionFailed);
        case(&[("if-match", "\"other\""), ("if-none-match", &tag)], Answer::PreconditionFailed);
        case(&[("if-match", &tag), ("if-none-match", &tag)], Answer::NotModified);
        case(&[("if-unmodified-since", "Tue, 14 Nov 2023 22:13:20 GMT")], Answer::Send);
        case(&[("if-unmodified-since", "Tue, 14 Nov 2023 22:13:19 GMT")], Answer::PreconditionFailed);
        case(&[("if-match", &tag), ("if-unmodified-since", "Mon, 01 Jan 2001 00:00:00 GMT")], Answer::Send);
        case(&[("if-match", " ")], Answer::Send);
    }
}
