//! Routes, limits and the access log.
//!
//! Enters: requests, with the connection's peer address as a [`ConnectInfo`] extension (set by
//! [`super::listener`]). Leaves: responses from the handlers, after the limits: a request without
//! exactly one `Host` (RFC 9112; HTTP/1.0 may omit it) answers 400, bodies over [`MAX_BODY`]
//! (a webhook's over [`webhooks::body_limit`]) answer 413, a body not wholly read within `serve.body-timeout` answers 408 and closes the
//! connection, a request not answered within [`REQUEST_TIMEOUT`] answers 503. Behind a trusted
//! proxy, a client with `serve.max-connections-per-client` requests in progress gets 429 for
//! more. An error answered without a page (a limit's, the router's 405, the file server's 416)
//! gets ours instead, keeping the fields its status needs ([`STATUS_FIELDS`]: `Allow`,
//! `Content-Range`, `WWW-Authenticate`). Every request leaves one line on stderr — client, method, path (never the query string,
//! which holds tokens), status, time.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, Version, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::app::{App, blocking, html};
use super::subscribe::ClientAddr;
use super::{clicks, confirm, headers, limit, site, subscribe, unsubscribe, webhooks};

/// Largest request body accepted: a subscribe form is well under a kilobyte.
pub const MAX_BODY: usize = 16 * 1024;
/// Longest a request may take, mail to the relay included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest path written to the access log.
const LOGGED_PATH: usize = 200;

/// The routes of an app, with its limits and access log.
pub fn router(app: Arc<App>) -> Router {
    let routes = &app.routes;
    Router::new()
        .route(&routes.unsubscribe, get(unsubscribe::page).post(unsubscribe::one_click))
        .route(&routes.path("subscribe"), post(subscribe::subscribe))
        .route(&routes.path("confirm"), get(confirm::confirm))
        .route(&routes.path("healthz"), get(healthz))
        .route(&format!("{}{{token}}", routes.path(crate::clicks::PATH)), get(clicks::follow))
        .merge(webhooks::routes(&app))
        .fallback(site::archive)
        .layer(middleware::from_fn_with_state(Arc::clone(&app), read_body))
        .layer(RequestBodyLimitLayer::new(webhooks::body_limit(&app)))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, REQUEST_TIMEOUT))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), access_log))
        .with_state(app)
}

/// An error response that is not one of our pages: a limit or an extractor answered with its
/// own plain-text reason ("length limit exceeded", "Failed to buffer the request body: …").
fn is_bare_error(response: &Response) -> bool {
    let status = response.status();
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    (status.is_client_error() || status.is_server_error()) && !html
}

/// The fields of a bare error that are about its status, not its body, kept when our page
/// replaces it: `Allow` on a 405 (RFC 9110 §15.5.6), `Content-Range` on a 416 (§15.5.17),
/// `WWW-Authenticate` on a 401 (§15.5.2), `Retry-After` on a 429 or 503 (RFC 6585 §4, RFC
/// 9110 §10.2.3), and `Connection: close`.
static STATUS_FIELDS: [header::HeaderName; 5] =
    [header::ALLOW, header::CONTENT_RANGE, header::WWW_AUTHENTICATE, header::RETRY_AFTER, header::CONNECTION];

/// How long a client whose requests in progress are at the cap is asked to wait, in seconds:
/// its other requests are about to end.
const IN_FLIGHT_RETRY_AFTER: &str = "1";

/// Our page for `status`, saying what a visitor can do and nothing of our internals.
fn plain_page(app: &App, status: StatusCode) -> Response {
    let (heading, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("Request too large", "The request is larger than this site accepts."),
        StatusCode::TOO_MANY_REQUESTS => {
            ("Too many requests", "Too many requests from your network are in progress. Please try again in a moment.")
        }
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => {
            ("Please try again", "The request took too long. Please try again in a moment.")
        }
        s if s.is_server_error() => {
            ("Something went wrong", "Something went wrong on our side. Please try again later.")
        }
        _ => ("Bad request", "The request could not be read. Please go back and try again."),
    };
    html(app.ui.problem(status, heading, message, None))
}

/// `GET /healthz`: 200 `ok` when the state store opens and answers, 503 otherwise.
async fn healthz(State(app): State<Arc<App>>) -> Response {
    match blocking(&app, |app| app.pool.check().map_err(Into::into)).await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(failure) => {
            let detail = match failure {
                crate::serve::app::Failure::Internal(detail) => detail,
                _ => "the state store did not answer".to_owned(),
            };
            eprintln!("serve: healthz: {detail}");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable\n").into_response()
        }
    }
}

/// The whole body, read within `serve.body-timeout` (a total, not a time between bytes: a
/// body trickled in a byte at a time is cut off all the same), and within [`MAX_BODY`] except
/// on a webhook's path: no page of the archive takes a body, so none is buffered past a form's.
async fn read_body(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let limit = if webhooks::is_hook(&app, parts.uri.path()) { webhooks::body_limit(&app) } else { MAX_BODY };
    let body = match tokio::time::timeout(app.body_timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if is_too_large(&e) => return closing(StatusCode::PAYLOAD_TOO_LARGE),
        Ok(Err(_)) => return closing(StatusCode::BAD_REQUEST),
        Err(_) => return closing(StatusCode::REQUEST_TIMEOUT),
    };
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// Whether reading a body failed because it passed [`MAX_BODY`].
fn is_too_large(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// A bare `status` that closes the connection (the rest of the request is not read).
fn closing(status: StatusCode) -> Response {
    let mut response = status.into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Exactly one `Host`, or none in HTTP/1.0 (RFC 9112, section 3.2).
fn has_one_host(request: &Request) -> bool {
    match request.headers().get_all(header::HOST).iter().count() {
        1 => true,
        0 => request.version() < Version::HTTP_11,
        _ => false,
    }
}

/// Work out the client, run the request, log one line.
async fn access_log(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)), |info| info.0);
    // Several field lines are one list in order (RFC 9110 §5.3): the last entry is in the last
    // line, whether the proxy appended to the client's line or added its own.
    let forwarded = request.headers().get_all("x-forwarded-for").iter().next_back().and_then(|v| v.to_str().ok());
    let serve = &app.config.serve;
    let client = limit::client_address(peer, forwarded, serve.trust_proxy);
    request.extensions_mut().insert(ClientAddr(client));
    let method = request.method().clone();
    let path: String = request.uri().path().chars().take(LOGGED_PATH).collect();
    let entered = if serve.trust_proxy { app.in_flight.enter(client, serve.max_connections_per_client) } else { None };
    let mut response = if !has_one_host(&request) {
        closing(StatusCode::BAD_REQUEST)
    } else if serve.trust_proxy && entered.is_none() {
        (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, IN_FLIGHT_RETRY_AFTER)]).into_response()
    } else {
        next.run(request).await
    };
    drop(entered);
    if is_bare_error(&response) && path != app.routes.path("healthz") {
        let mut page = plain_page(&app, response.status());
        for name in &STATUS_FIELDS {
            if let Some(value) = response.headers().get(name) {
                page.headers_mut().insert(name, value.clone());
            }
        }
        response = page;
    }
    headers::secure(response.headers_mut());
    eprintln!(
        "serve: {client} \"{method} {path}\" {} {:.1}ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
}
