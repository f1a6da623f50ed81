//! The security headers of every response.
//!
//! Enters: a response's headers. Leaves: them with a Content-Security-Policy, `nosniff`, a
//! Referrer-Policy and `X-Frame-Options`, where the handler did not set stricter ones.
//!
//! Archive pages and serve's own pages need only the site's stylesheet, `style` attributes
//! (Markdown tables align their cells with them, the subscribe form hides its honeypot with
//! one), images from the site or over https, and forms posting to the site: no script, no
//! frame, no plugin, no other origin's form target, no `<base>`. The email rendition
//! (`email.html`) keeps its inlined `<style>` element too.

use axum::http::{HeaderMap, HeaderValue, header};

/// Archive pages, serve's pages, and anything else served.
pub const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' https:; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `email.html`, the web copy of an issue's email, whose CSS is inlined in a `<style>` element.
pub const EMAIL_POLICY: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https:; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Where archive links lead: other sites learn the origin, not the page.
pub const ARCHIVE_REFERRER: &str = "strict-origin-when-cross-origin";

/// Add the security headers a handler did not set.
pub fn secure(headers: &mut HeaderMap) {
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(PAGE_POLICY));
    headers.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static(ARCHIVE_REFERRER));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handlers_own_policy_is_kept_and_missing_ones_are_added() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(EMAIL_POLICY));
        secure(&mut headers);
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], EMAIL_POLICY);
        assert_eq!(headers[header::REFERRER_POLICY], ARCHIVE_REFERRER);
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        for policy in [PAGE_POLICY, EMAIL_POLICY] {
            for directive in ["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"] {
                assert!(policy.contains(directive), "{policy}: {directive}");
            }
            assert!(!policy.contains("script"), "{policy}");
        }
    }
}
