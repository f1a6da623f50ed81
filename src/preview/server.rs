//! The HTTP side of the preview: routes, the live-reload event stream, static files, and the
//! check that a loopback-bound server only answers to local host names.
//!
//! Enters: requests. Leaves: pages from [`super::pages`] and [`super::issue`] (rendered on a
//! blocking thread from the current [`Snapshot`]), files from the project's `static/` directory
//! at the paths the archive gives them (`/images/x.png`), and `/events`, a server-sent event
//! stream carrying the current snapshot version: open pages reload (an issue page, its email
//! frame and `data-live` parts) when it differs from theirs.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use futures_util::Stream;
use serde::Deserialize;
use tower::ServiceExt as _;
use tower_http::services::ServeFile;

use super::issue::{self, Part};
use super::live::{Live, Snapshot};
use super::pages::{Page, Ui};
use crate::request_path as paths;

/// What every handler shares.
pub struct App {
    /// The project as last loaded.
    pub live: Arc<Live>,
    /// The preview's own templates.
    pub ui: Ui,
    /// The project's `static/` directory (canonical when it exists).
    pub static_dir: PathBuf,
    /// Whether to refuse requests for host names other than local ones (DNS rebinding).
    pub local_only: bool,
}

/// The preview's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/events", get(events))
        .route(
            "/issue/{publication}/{slug}",
            get(|Path((p, s)): Path<(String, String)>| async move { Redirect::permanent(&format!("/issue/{p}/{s}/")) }),
        )
        .route("/issue/{publication}/{slug}/", get(issue_page))
        .route("/issue/{publication}/{slug}/{part}", get(issue_part))
        .route("/archive", get(|| async { Redirect::permanent("/archive/") }))
        .route("/archive/", get(archive))
        .route("/archive/{*path}", get(archive))
        .fallback(static_file)
        .layer(middleware::from_fn_with_state(Arc::clone(&app), local_hosts_only))
        .with_state(app)
}

/// The "view as" query.
#[derive(Debug, Deserialize)]
struct ViewAs {
    #[serde(rename = "as")]
    address: Option<String>,
    /// The edition to show (an issue with regional blocks), by its block set.
    edition: Option<String>,
}

async fn index(State(app): State<Arc<App>>) -> Response {
    blocking(app, |app, snapshot| app.ui.index(snapshot)).await
}

async fn issue_page(
    State(app): State<Arc<App>>,
    Path((publication, slug)): Path<(String, String)>,
    Query(view): Query<ViewAs>,
) -> Response {
    blocking(app, move |app, snapshot| {
        let id = format!("{publication}/{slug}");
        let shown = (view.address.as_deref(), view.edition.as_deref());
        issue::page(&app.ui, snapshot, &id, shown, app.live.clock(), app.live.env())
    })
    .await
}

async fn issue_part(
    State(app): State<Arc<App>>,
    Path((publication, slug, name)): Path<(String, String, String)>,
    Query(view): Query<ViewAs>,
) -> Response {
    blocking(app, move |app, snapshot| {
        let id = format!("{publication}/{slug}");
        match Part::from_name(&name) {
            Some(part) => {
                let shown = (view.address.as_deref(), view.edition.as_deref());
                issue::part(&app.ui, snapshot, &id, shown, part, app.live.clock(), app.live.env())
            }
            None => app.ui.missing(snapshot, &format!("issues have no part `{name}`")),
        }
    })
    .await
}

/// A file of the archive: one of `static/`, read from disk as it is now, else a page rendered
/// in memory.
async fn archive(State(app): State<Arc<App>>, request: Request) -> Response {
    let raw = request.uri().path().strip_prefix("/archive/").unwrap_or("").to_owned();
    if let Ok(file) = paths::resolve(&app.static_dir, &raw) {
        return serve_file(file, request).await;
    }
    blocking(app, move |app, snapshot| app.ui.archive(snapshot, &raw)).await
}

/// The version now and after every reload.
async fn events(State(app): State<Arc<App>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let versions = app.live.subscribe();
    let stream = futures_util::stream::unfold((versions, true), |(mut versions, first)| async move {
        if !first && versions.changed().await.is_err() {
            return None;
        }
        let version = *versions.borrow_and_update();
        Some((Ok(Event::default().data(version.to_string())), (versions, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// A file of `static/` at its archive path; refused paths answer 400, 403 or 404.
async fn static_file(State(app): State<Arc<App>>, request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    match paths::resolve(&app.static_dir, request.uri().path()) {
        Ok(file) => serve_file(file, request).await,
        Err(refusal) => {
            let snapshot = app.live.current();
            respond(app.ui.refused(&snapshot, refusal))
        }
    }
}

/// A file from disk, revalidated on every reload so a changed image shows at once (304 when not).
async fn serve_file(file: PathBuf, request: Request) -> Response {
    match ServeFile::new(file).oneshot(request).await {
        Ok(mut response) => {
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response.into_response()
        }
        Err(never) => match never {},
    }
}

/// Refuse requests whose `Host` is not a local name when bound to loopback, so a web page
/// elsewhere cannot read the preview through DNS rebinding.
async fn local_hosts_only(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    if app.local_only && host.is_some_and(|h| !is_local_host(h)) {
        return (StatusCode::FORBIDDEN, "the preview only answers to localhost\n").into_response();
    }
    next.run(request).await
}

/// Whether a `Host` header names this machine: `localhost`, `*.localhost` or a loopback address.
fn is_local_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host
            .rsplit_once(':')
            .map_or(host, |(name, port)| if port.bytes().all(|b| b.is_ascii_digit()) { name } else { host }),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Render on a blocking thread from the current snapshot.
async fn blocking(app: Arc<App>, render: impl FnOnce(&App, &Snapshot) -> Page + Send + 'static) -> Response {
    let snapshot = app.live.current();
    match tokio::task::spawn_blocking(move || render(&app, &snapshot)).await {
        Ok(page) => respond(page),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("the preview failed to render this page: {e}\n"))
            .into_response(),
    }
}

fn respond(page: Page) -> Response {
    let mut response = (page.status, page.body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(page.content_type));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(host: &str, expected: bool) {
        assert_eq!(is_local_host(host), expected, "{host}");
    }

    #[test]
    fn only_local_host_names_are_local() {
        case("localhost", true);
        case("localhost:8025", true);
        case("LOCALHOST.:8025", true);
        case("app.localhost:8025", true);
        case("127.0.0.1:8025", true);
        case("127.1.2.3", true);
        case("[::1]:8025", true);
        case("[::1]", true);
        case("example.org:8025", false);
        case("localhost.example.org", false);
        case("10.0.0.2:8025", false);
        case("[::2]:8025", false);
        case("", false);
    }
}
