//! `GET /confirm?t=…`: the second half of double opt-in.
//!
//! Enters: a confirmation token ([`crate::token::Keys::verify_confirm`]). Leaves: a sign-up in
//! the state store (never the list's CSV file: that is the editors', in git; `subscribers pull`
//! copies sign-ups there), its unsubscribe from that list lifted, and a thank-you page; or 400 (forged, tampered), 410 (expired), 404 (the list is gone) or the
//! "superseded" page (suppressed after the link was sent), with nothing changed.
//!
//! A thin adapter: the rules are [`crate::subscriptions`]'s (a confirmation is the person's
//! resubscribe: a global unsubscribe is narrowed to every *other* list, so confirming one list
//! does not resubscribe the person to the rest; a bounce, complaint or block by hand stays, and
//! the page says so). Confirming twice changes nothing the second time.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;

use super::app::{App, Failure, blocking};
use super::form;
use crate::config::List;
use crate::subscriptions::{self, Request};
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
                let blocked = enrol(app, &subscription, list)?;
                let view = Confirmed { list_name: &list.name, blocked: blocked.unwrap_or_default() };
                Ok(app.ui.page(StatusCode::OK, "confirmed.html", &view))
            })
            .await
        }
    };
    app.respond(outcome, list.as_deref())
}

/// Make `subscription` true by the subscription policy ([`subscriptions::enrol`]): superseded by
/// a later suppression, or recorded as a sign-up in the store with the list's unsubscribe lifted.
/// Returns the reason of a suppression that still applies (bounced, complained, manual).
fn enrol(app: &App, subscription: &Subscription, list: &List) -> Result<Option<String>, Failure> {
    let request = Request {
        email: &subscription.email,
        list: &list.slug,
        name: &subscription.name,
        // The link was sent `confirm-ttl` before it expires (with the setting as it is now: a
        // longer setting since only makes this stricter).
        sent: subscription.expires - app.confirm_ttl,
    };
    let lists: Vec<String> = app.config.lists.iter().map(|l| l.slug.clone()).collect();
    match app.pool.with(|state| subscriptions::enrol(state, &request, &lists, app.clock.now()))? {
        subscriptions::Confirmed::Enrolled { blocked } => {
            if blocked.is_none() {
                welcome(app, subscription, list)?;
            }
            Ok(blocked.map(|r| r.as_str().to_owned()))
        }
        subscriptions::Confirmed::Superseded => Err(Failure::Superseded),
    }
}

/// Queue the list's welcome for the new subscriber, if it has one, and wake the sender: the
/// welcome goes out from `serve`'s worker, never within the request.
fn welcome(app: &App, subscription: &Subscription, list: &List) -> Result<(), Failure> {
    let subscriber = crate::subscribers::Subscriber {
        email: subscription.email.clone(),
        name: subscription.name.clone(),
        attrs: std::collections::BTreeMap::new(),
        status: crate::subscribers::SubscriberStatus::Active,
        subscribed_at: Some(app.clock.now()),
        line: 0,
    };
    if app.pool.with(|state| crate::subscriptions::welcome::queue(state, list, &subscriber, app.clock.now()))? {
        app.welcomes.nudge();
    }
    Ok(())
}
