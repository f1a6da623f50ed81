//! Routes, limits and the access log.
//!
//! Enters: requests, with the connection's peer address as a [`ConnectInfo`] extension (set by
//! [`super::listener`]). Leaves: responses from the handlers, after the limits: bodies over
//! [`MAX_BODY`] answer 413, a request not answered within [`REQUEST_TIMEOUT`] answers 503, a body
//! that trickles in slower than [`BODY_TIMEOUT`] is cut off. Every request leaves one line on
//! stderr — client, method, path (never the query string, which holds tokens), status, time.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use super::app::{App, blocking, html};
use super::subscribe::ClientAddr;
use super::{confirm, headers, limit, site, subscribe, unsubscribe};

/// Largest request body accepted: a subscribe form is well under a kilobyte.
pub const MAX_BODY: usize = 16 * 1024;
/// Longest a request may take, mail to the relay included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a request body may take to arrive.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
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
        .fallback(site::archive)
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(RequestBodyTimeoutLayer::new(BODY_TIMEOUT))
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

/// Our page for `status`, saying what a visitor can do and nothing of our internals.
fn plain_page(app: &App, status: StatusCode) -> Response {
    let (heading, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("Request too large", "The request is larger than this site accepts."),
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

/// Work out the client, run the request, log one line.
async fn access_log(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)), |info| info.0);
    let forwarded = request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let client = limit::client_address(peer, forwarded, app.config.serve.trust_proxy);
    request.extensions_mut().insert(ClientAddr(client));
    let method = request.method().clone();
    let path: String = request.uri().path().chars().take(LOGGED_PATH).collect();
    let mut response = next.run(request).await;
    if is_bare_error(&response) && path != app.routes.path("healthz") {
        response = plain_page(&app, response.status());
    }
    headers::secure(response.headers_mut());
    eprintln!(
        "serve: {client} \"{method} {path}\" {} {:.1}ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
}
