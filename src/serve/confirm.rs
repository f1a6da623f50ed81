//! `GET /confirm?t=…`: the second half of double opt-in.
//!
//! Enters: a confirmation token ([`crate::token::Keys::verify_confirm`]). Leaves: the address
//! active on the list's CSV file exactly once, any suppression of it for that list lifted, and a
//! thank-you page; or 400 (forged, tampered), 410 (expired) or 404 (the list is gone), with
//! nothing changed.
//!
//! The CSV is edited through [`crate::subscribers::upsert_rows`] in its reactivate mode (one
//! locked, atomic rewrite): a new address is appended, a listed one keeps its row (its name
//! updated), and a row whose status is not active (`unsubscribed`, `pending`, `bounced`) is
//! rewritten active in place, any other rows of the address removed. A global `unsubscribed`
//! suppression is narrowed to every *other* list before it is lifted, so confirming one list
//! does not resubscribe the person to the rest; a global bounce, complaint or manual block stays,
//! and the page says so. Confirming twice changes nothing the second time.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;

use super::app::{App, Failure, blocking, list_file};
use super::form;
use crate::config::List;
use crate::error::Error;
use crate::state::{Reason, Scope};
use crate::subscribers::{Subscriber, SubscriberStatus, Upsert, read_list, upsert_rows};
use crate::token::{Refused, Subscription};

#[derive(Serialize)]
struct Confirmed<'a> {
    list_name: &'a str,
    blocked: String,
}

/// `GET /confirm`.
pub async fn confirm(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let verified = match form::token(&uri) {
        None => Err(Refused::Invalid),
        Some(token) => app.keys.verify_confirm(&token, app.clock.now()),
    };
    let list = verified.as_ref().ok().map(|s| s.list.clone());
    let outcome = match verified {
        Err(Refused::Expired) => Err(Failure::Expired),
        Err(Refused::Invalid) => Err(Failure::BadRequest(
            "This link is not valid",
            "The confirmation link is damaged or incomplete. Copy the whole link from the email.".to_owned(),
        )),
        Ok(subscription) => {
            blocking(&app, move |app| {
                let list = app.config.list(&subscription.list).ok_or_else(|| {
                    Failure::NotFound(
                        "Unknown list",
                        "The list this link subscribes to does not exist any more.".to_owned(),
                    )
                })?;
                if unsubscribed_since(app, &subscription)? {
                    return Err(Failure::Superseded);
                }
                let blocked = enrol(app, &subscription, list)?;
                let view = Confirmed { list_name: &list.name, blocked: blocked.unwrap_or_default() };
                Ok(app.ui.page(StatusCode::OK, "confirmed.html", &view))
            })
            .await
        }
    };
    app.respond(outcome, list.as_deref())
}

/// Whether the address was suppressed for the list (or for every list) after this link was
/// sent — an unsubscribe, a bounce, a block by hand: then the link must not undo it. The link was sent `confirm-ttl` before it expires
/// (with the setting as it is now: a longer setting since only makes this stricter).
fn unsubscribed_since(app: &App, subscription: &Subscription) -> Result<bool, Failure> {
    let sent = subscription.expires - app.confirm_ttl;
    let scope = Scope::List(subscription.list.clone());
    let suppressions = app.pool.with(|state| state.suppressions_of(&subscription.email))?;
    Ok(suppressions.iter().any(|s| (s.scope == Scope::All || s.scope == scope) && s.created_at > sent))
}

/// Make `subscription` true: active on the list, not suppressed for it. Returns the reason of a
/// global suppression that still applies (bounced, complained, manual).
fn enrol(app: &App, subscription: &Subscription, list: &List) -> Result<Option<String>, Failure> {
    let (path, shown) = list_file(&app.root, list);
    let now = app.clock.now();
    // A list without a `name` column cannot hold one; one that does not exist yet is created
    // with one.
    let has_name = !path.exists() || read_list(&path, &shown)?.columns().iter().any(|c| c == "name");
    let row = Subscriber {
        email: subscription.email.clone(),
        name: if has_name { subscription.name.clone() } else { String::new() },
        attrs: std::collections::BTreeMap::new(),
        status: SubscriberStatus::Active,
        subscribed_at: Some(now),
        line: 0,
    };
    upsert_rows(&path, &shown, &[row], Upsert::Reactivate)?;
    lift(app, &subscription.email, list).map_err(Failure::from)
}

/// Lift `email`'s suppression for `list`; narrow a global `unsubscribed` one to the other lists.
fn lift(app: &App, email: &str, list: &List) -> Result<Option<String>, Error> {
    app.pool.with(|state| {
        state.unsuppress(email, &Scope::List(list.slug.clone()))?;
        if !state.is_suppressed(email, &list.slug)? {
            return Ok(None);
        }
        let global = state.suppressions_of(email)?.into_iter().find(|s| s.scope == Scope::All);
        match global {
            Some(global) if global.reason == Reason::Unsubscribed => {
                for other in app.config.lists.iter().filter(|l| l.slug != list.slug) {
                    let scope = Scope::List(other.slug.clone());
                    state.suppress(email, &scope, Reason::Unsubscribed, &global.source, global.created_at)?;
                }
                state.unsuppress_global(email)?;
                Ok(None)
            }
            Some(global) => Ok(Some(global.reason.as_str().to_owned())),
            None => Ok(None),
        }
    })
}
