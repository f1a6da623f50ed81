//! Reading form bodies and query strings.
//!
//! Enters: `application/x-www-form-urlencoded` bytes (a POST body or a URL's query). Leaves: the
//! first value of a field, decoded. Whatever the `Content-Type` header says, bodies are read as
//! form-encoded: RFC 8058 clients send exactly that, and nothing else is accepted anyway.

use axum::http::Uri;

/// The first value of `key` in form-encoded `bytes`.
pub fn field(bytes: &[u8], key: &str) -> Option<String> {
    url::form_urlencoded::parse(bytes).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// The token (`t`) in a request's query string.
pub fn token(uri: &Uri) -> Option<String> {
    uri.query().and_then(|q| field(q.as_bytes(), "t")).filter(|t| !t.is_empty())
}

/// Whether a POST body is an RFC 8058 one-click request: `List-Unsubscribe=One-Click`.
pub fn is_one_click(body: &[u8]) -> bool {
    url::form_urlencoded::parse(body).any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click")
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

    #[test]
    fn only_the_rfc_8058_body_is_one_click() {
        assert!(is_one_click(b"List-Unsubscribe=One-Click"));
        assert!(is_one_click(b"List-Unsubscribe=One-Click&via=page"));
        assert!(is_one_click(b"List-Unsubscribe=One%2DClick"));
        assert!(!is_one_click(b""));
        assert!(!is_one_click(b"List-Unsubscribe=one-click"));
        assert!(!is_one_click(b"{\"List-Unsubscribe\":\"One-Click\"}"));
    }
}
