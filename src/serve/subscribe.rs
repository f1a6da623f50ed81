//! `POST /subscribe`: the first half of double opt-in.
//!
//! Enters: a form (`email`, `list`, optional `name`, the honeypot field; or `t`, an unsubscribe
//! token, and `list`, from the "subscribe again" button after an unsubscribe) and the client's
//! address. Leaves: a mail to the address with a signed link that expires ([`super::mail`]) and a
//! "check your inbox" page. Nothing is stored: the link carries the request, and
//! `GET /confirm` ([`super::confirm`]) acts on it.
//!
//! Every request counts against the client's rate limit (429 past it), and every confirmation
//! against its mailbox's daily allowance, whoever asks: the address case-folded and without its
//! `+tag` ([`person_key`]), so one inbox cannot be flooded through many spellings. A filled-in honeypot gets
//! the same page as a real request and nothing is sent. The page never says whether the address
//! is already subscribed.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::app::{App, CONFIRMATIONS_PER_DAY, Failure, blocking};
use super::form;
use super::mail::{Confirmation, sender_of};
use super::pages::{HONEYPOT, Page};
use super::unsubscribe;
use crate::address::{normalise_address, person_key};

/// Longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// The client address a request is counted against (set by the access log middleware).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

#[derive(Serialize)]
struct Sent<'a> {
    list_name: &'a str,
    ttl: String,
}

/// `POST /subscribe`.
pub async fn subscribe(State(app): State<Arc<App>>, Extension(client): Extension<ClientAddr>, body: Bytes) -> Response {
    let list = form::field(&body, "list");
    let outcome = request(&app, client.0, &body).await;
    app.respond(outcome, list.as_deref())
}

async fn request(app: &Arc<App>, client: IpAddr, body: &[u8]) -> Result<Page, Failure> {
    app.limiter
        .admit(client, Instant::now())
        .map_err(|wait| Failure::TooMany(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)))?;
    let slug = form::field(body, "list").unwrap_or_default();
    let list = app.config.list(slug.trim()).ok_or_else(|| {
        Failure::BadRequest(
            "Unknown list",
            "The form names a list that does not exist. Reload the page and try again.".to_owned(),
        )
    })?;
    let sent = app.ui.page(StatusCode::OK, "check-inbox.html", &Sent { list_name: &list.name, ttl: app.ttl_text() });
    if form::field(body, HONEYPOT).is_some_and(|v| !v.trim().is_empty()) {
        eprintln!("serve: a subscribe request with the honeypot filled in was ignored");
        return Ok(sent);
    }
    let (email, name) = match form::field(body, "t") {
        Some(token) => (again(app, token, list.slug.clone()).await?, String::new()),
        None => (address(body)?, name(body)?),
    };
    // Counted per person, not per spelling: `victim+1@`, `Victim+2@`, … are one mailbox.
    if app.confirmations.admit_key(person_key(&email), Instant::now()).is_err() {
        // The page is the same either way: it must not tell a stranger what was asked for.
        eprintln!("serve: a confirmation was not sent: its address had {CONFIRMATIONS_PER_DAY} today already");
        return Ok(sent);
    }
    let expires = app
        .clock
        .now()
        .checked_add(app.confirm_ttl)
        .map_err(|e| Failure::Internal(format!("cannot compute a confirmation link's expiry: {e}")))?;
    let token = app.keys.confirm_token(&email, &list.slug, &name, expires);
    let url = app.routes.confirm_url(&token);
    let sender = sender_of(&app.config, &list.slug)
        .ok_or_else(|| Failure::Internal("no publication to send confirmations from".to_owned()))?;
    let ttl = app.ttl_text();
    let mail = Confirmation { to: &email, list, confirm_url: &url, ttl: &ttl, token: &token, date: app.clock.now() };
    let outgoing = app.mailer.compose(&app.ui, sender, &mail).map_err(|e| Failure::Internal(e.to_string()))?;
    // The relay's quotas (`sending.limits`) count confirmation mails too.
    let now = app.clock.now();
    let domain = crate::config::from_domain(&sender.from);
    blocking(app, move |app| {
        let (relay, limits) = crate::mail::quota::single(&app.config, domain.as_deref());
        if limits.is_empty() {
            return Ok(());
        }
        app.pool
            .with(|state| crate::mail::quota::spend(state, &relay, &limits, 1, now))
            .map_err(|e| Failure::Internal(e.to_string()))
    })
    .await?;
    app.mailer
        .deliver(outgoing)
        .await
        .map_err(|why| Failure::Internal(format!("cannot send a confirmation for `{}`: {why}", list.slug)))?;
    Ok(sent)
}

/// The address behind an unsubscribe token, for subscribing again to the list it left.
async fn again(app: &Arc<App>, token: String, list: String) -> Result<String, Failure> {
    blocking(app, move |app| {
        let (email, left) = unsubscribe::resolve(app, &token)?;
        if left.iter().any(|l| l.slug == list) {
            Ok(email)
        } else {
            Err(Failure::BadRequest("This link is not valid", "The link is for another list.".to_owned()))
        }
    })
    .await
}

/// The `email` field, normalised, or why it is not an address we can write to.
fn address(body: &[u8]) -> Result<String, Failure> {
    let raw = form::field(body, "email").unwrap_or_default();
    let bad = |why: String| Failure::BadRequest("That address does not look right", why);
    if raw.trim().is_empty() {
        return Err(bad("Enter your email address.".to_owned()));
    }
    let email =
        normalise_address(&raw).map_err(|why| bad(format!("`{}` is not an email address: {why}.", raw.trim())))?;
    email.parse::<lettre::Address>().map_err(|_| bad(format!("`{}` is not an address we can send to.", raw.trim())))?;
    Ok(email)
}

/// The optional `name` field, trimmed; at most [`MAX_NAME_CHARS`] characters, no control
/// character, neither `Cc` nor [`is_hidden_control`].
fn name(body: &[u8]) -> Result<String, Failure> {
    let name = form::field(body, "name").unwrap_or_default().trim().to_owned();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Failure::BadRequest("That name is too long", format!("Use at most {MAX_NAME_CHARS} characters.")));
    }
    if name.chars().any(|c| c.is_control() || is_hidden_control(c)) {
        return Err(Failure::BadRequest(
            "That name is not valid",
            "Use a name without line breaks or hidden formatting characters.".to_owned(),
        ));
    }
    Ok(name)
}

/// A character outside Unicode's control category (`Cc`) that still breaks a line or reorders
/// text: the line and paragraph separators (U+2028, U+2029), and the bidirectional embeddings,
/// overrides and isolates (U+202A–U+202E, U+2066–U+2069) that can make a greeting read as other
/// words than it holds. Joiners and the plain direction marks stay: scripts are written with them.
fn is_hidden_control(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised_and_names_checked() {
        assert_eq!(address(b"email=+Reader%40Example.ORG+").unwrap(), "Reader@example.org");
        for bad in [&b"email="[..], b"", b"email=not-an-address", b"email=a%40b%0d%0aBcc%3a+x%40y"] {
            assert!(matches!(address(bad), Err(Failure::BadRequest(..))), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(name(b"name=+Zo%C3%AB+").unwrap(), "Zoë");
        assert_eq!(name(b"").unwrap(), "");
        assert!(matches!(name(b"name=a%0d%0aBcc%3a+x"), Err(Failure::BadRequest(..))));
        assert!(matches!(name(format!("name={}", "a".repeat(101)).as_bytes()), Err(Failure::BadRequest(..))));
    }

    #[test]
    fn names_with_unicode_line_breaks_or_direction_controls_are_refused() {
        // U+2028 and U+2029 break lines; U+202A–U+202E and U+2066–U+2069 reorder what follows.
        let refused = ['\u{2028}', '\u{2029}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}']
            .into_iter()
            .chain(['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}']);
        for c in refused {
            let body =
                url::form_urlencoded::Serializer::new(String::new()).append_pair("name", &format!("Ann{c}e")).finish();
            assert!(matches!(name(body.as_bytes()), Err(Failure::BadRequest(..))), "U+{:04X}", u32::from(c));
        }
        // Joiners are part of how some scripts are written: they stay.
        assert_eq!(name("name=%E0%A4%95%E0%A5%8D%E2%80%8D%E0%A4%B7".as_bytes()).unwrap(), "क्\u{200d}ष");
        assert_eq!(
            name("name=%D9%85%DB%8C%E2%80%8C%D8%AE%D9%88%D8%A7%D9%87%D9%85".as_bytes()).unwrap(),
            "می\u{200c}خواهم"
        );
    }
}
