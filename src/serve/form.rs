//! Reading form bodies and query strings.
//!
//! Enters: `application/x-www-form-urlencoded` bytes (a POST body or a URL's query), or for the
//! one-click check a body with its `Content-Type`. Leaves: the first value of a field, decoded.
//! RFC 8058 §3.2: a one-click POST SHOULD be `multipart/form-data` and MAY be form-encoded, so
//! [`is_one_click`] reads both (multipart through `multer`); every other form we serve is ours
//! and form-encoded.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::http::Uri;

/// The first value of `key` in form-encoded `bytes`.
pub fn field(bytes: &[u8], key: &str) -> Option<String> {
    url::form_urlencoded::parse(bytes).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// The token (`t`) in a request's query string.
pub fn token(uri: &Uri) -> Option<String> {
    uri.query().and_then(|q| field(q.as_bytes(), "t")).filter(|t| !t.is_empty())
}

/// Whether a POST body is an RFC 8058 one-click request: a field `List-Unsubscribe` whose value
/// is `One-Click`, multipart when `content_type` says `multipart/form-data` (with its
/// boundary), form-encoded otherwise. A malformed multipart body is not one.
pub async fn is_one_click(content_type: Option<&str>, body: Bytes) -> bool {
    let Some(boundary) = content_type.and_then(|ct| multer::parse_boundary(ct).ok()) else {
        return url::form_urlencoded::parse(&body).any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click");
    };
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("List-Unsubscribe") {
            return field.text().await.is_ok_and(|value| value == "One-Click");
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_decoded_and_the_first_wins() {
        assert_eq!(field(b"email=a%40example.org&name=Zo%C3%AB+Q&email=b", "email").as_deref(), Some("a@example.org"));
        assert_eq!(field(b"email=a%40example.org&name=Zo%C3%AB+Q", "name").as_deref(), Some("Zoë Q"));
        assert_eq!(field(b"email=", "email").as_deref(), Some(""));
        assert_eq!(field(b"", "email"), None);
        let uri: Uri = "/unsubscribe?x=1&t=abc-_".parse().unwrap();
        assert_eq!(token(&uri).as_deref(), Some("abc-_"));
        assert_eq!(token(&"/unsubscribe?t=".parse().unwrap()), None);
        assert_eq!(token(&"/unsubscribe".parse().unwrap()), None);
    }

    fn one_click(content_type: Option<&str>, body: &'static [u8]) -> bool {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(is_one_click(content_type, Bytes::from_static(body)))
    }

    #[test]
    fn only_the_rfc_8058_body_is_one_click() {
        let form = Some("application/x-www-form-urlencoded");
        assert!(one_click(form, b"List-Unsubscribe=One-Click"));
        assert!(one_click(None, b"List-Unsubscribe=One-Click&via=page"));
        assert!(one_click(form, b"List-Unsubscribe=One%2DClick"));
        assert!(!one_click(form, b""));
        assert!(!one_click(form, b"List-Unsubscribe=one-click"));
        assert!(!one_click(Some("application/json"), b"{\"List-Unsubscribe\":\"One-Click\"}"));
    }

    #[test]
    fn a_multipart_one_click_body_is_read_as_multipart() {
        let multipart = Some("multipart/form-data; boundary=XyZ");
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
        assert!(one_click(multipart, body));
        let other = b"--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
        assert!(one_click(multipart, other), "after another field");
        let wrong =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\none-click\r\n--XyZ--\r\n";
        assert!(!one_click(multipart, wrong));
        assert!(!one_click(multipart, b"List-Unsubscribe=One-Click"), "not multipart after all");
        assert!(!one_click(Some("multipart/form-data; boundary=Other"), body), "another boundary");
    }
}
