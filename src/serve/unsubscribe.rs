//! One-click unsubscribe (RFC 8058) at the URL every message's `List-Unsubscribe` names.
//!
//! Enters: the token in the query string (`?t=…`, made by [`crate::compose`]) and, for a `POST`,
//! the body `List-Unsubscribe=One-Click`. Leaves: for `GET`, a page naming the list with a button
//! that posts (a `GET` changes nothing: mail scanners fetch links); for `POST`, the suppressions
//! (the token's lists, reason `unsubscribed`, source `one-click`) recorded at once and a 200 page offering
//! to subscribe again. Repeating the `POST` answers 200 again; nothing here redirects. A token
//! names every list of the issue (`weekly+briefing`) or one list; the suppression covers each.
//!
//! The token is verified with the sending keys in constant time ([`crate::token::Keys::verify`]),
//! then the address is looked up by its opaque id in the delivery journal. A tampered,
//! truncated or forged token answers 400, a token for a list that is not configured or an id
//! the journal does not know answers 404; none of them change anything.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use serde::Serialize;

use super::app::{App, Failure, blocking};
use super::form;
use super::pages::Page;
use crate::config::List;
use crate::state::{Reason, Scope};
use crate::subscriptions;

/// The suppression source recorded for this endpoint.
pub const SOURCE: &str = "one-click";

#[derive(Serialize)]
struct Confirm<'a> {
    list_name: &'a str,
    already: bool,
    action: String,
}

#[derive(Serialize)]
struct Done<'a> {
    list_name: &'a str,
    list_slug: &'a str,
    token: &'a str,
    subscribe_action: String,
}

/// `GET`: the page with the button. Reads the state store, writes nothing.
pub async fn page(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let outcome = match form::token(&uri) {
        None => Err(missing()),
        Some(token) => {
            blocking(&app, move |app| {
                let (email, lists) = resolve(app, &token)?;
                let already = app.pool.with(|s| {
                    lists.iter().try_fold(true, |all, list| Ok(all && s.is_suppressed(&email, &list.slug)?))
                })?;
                let view = Confirm { list_name: &names(&lists), already, action: format!("?t={token}") };
                Ok(app.ui.page(StatusCode::OK, "unsubscribe.html", &view))
            })
            .await
        }
    };
    app.respond(outcome, None)
}

/// `POST`: record the suppression now and say so.
pub async fn one_click(State(app): State<Arc<App>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let outcome = match form::token(&uri) {
        None => Err(missing()),
        Some(_) if !form::is_one_click(content_type, body).await => Err(Failure::BadRequest(
            "This is not an unsubscribe request",
            "An unsubscribe request carries `List-Unsubscribe=One-Click`. Use the button on the unsubscribe page."
                .to_owned(),
        )),
        Some(token) => blocking(&app, move |app| unsubscribe(app, &token)).await,
    };
    app.respond(outcome, None)
}

fn unsubscribe(app: &App, token: &str) -> Result<Page, Failure> {
    let (email, lists) = resolve(app, token)?;
    let now = app.clock.now();
    app.pool.with(|s| {
        lists.iter().try_for_each(|list| {
            let scope = Scope::List(list.slug.clone());
            subscriptions::unsubscribe(s, &email, &scope, Reason::Unsubscribed, SOURCE, None, now).map(drop)
        })
    })?;
    // The offer to subscribe again names the first list: the form subscribes to one list.
    let first = lists[0];
    let view = Done {
        list_name: &names(&lists),
        list_slug: &first.slug,
        token,
        subscribe_action: app.routes.path("subscribe"),
    };
    Ok(app.ui.page(StatusCode::OK, "unsubscribed.html", &view))
}

/// The address and the lists an unsubscribe token stands for (at least one), or why it stands
/// for nothing. A token names one list, or an issue's lists joined with `+`
/// ([`crate::compose::UNSUBSCRIBE_SCOPE_SEPARATOR`]); lists no longer configured are skipped.
pub fn resolve<'a>(app: &'a App, token: &str) -> Result<(String, Vec<&'a List>), Failure> {
    let claims = app.keys.verify(token).ok_or_else(|| {
        Failure::BadRequest(
            "This link is not valid",
            "The link is damaged or incomplete. Copy the whole link from the email, or use the unsubscribe link in a newer issue."
                .to_owned(),
        )
    })?;
    let lists: Vec<&List> = claims
        .list
        .split(crate::compose::UNSUBSCRIBE_SCOPE_SEPARATOR)
        .filter_map(|slug| app.config.list(slug))
        .collect();
    if lists.is_empty() {
        return Err(unknown("The list this link leaves does not exist any more."));
    }
    let found = app.pool.with(|s| s.find_token(&claims.token_id))?;
    let (email, _) = found.ok_or_else(|| unknown("We have no record of sending to the address this link is for."))?;
    Ok((email, lists))
}

/// The lists' names for a sentence: `A`, `A and B`, `A, B and C`.
fn names(lists: &[&List]) -> String {
    let names: Vec<&str> = lists.iter().map(|l| l.name.as_str()).collect();
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn unknown(message: &str) -> Failure {
    Failure::NotFound("We do not recognise this link", message.to_owned())
}

fn missing() -> Failure {
    Failure::BadRequest(
        "This link is incomplete",
        "The unsubscribe link has lost its token. Copy the whole link from the email.".to_owned(),
    )
}
