//! The built archive (`public/`), served with a subscribe form on its pages.
//!
//! Enters: a request path under the site's base path, the archive directory, and the subscribe
//! forms rendered once at start-up (one per publication with lists, one offering every list).
//! Leaves: files of the archive — HTML pages with the form put in, with their own validators and
//! answers to conditional requests ([`super::conditional`]); everything else as it is on disk
//! (`ServeFile`: content type, `ETag` and `Last-Modified` with conditional requests, ranges,
//! `HEAD`). Only `GET` and `HEAD`: other methods are 405 with `Allow: GET, HEAD`.
//!
//! A page gets its publication's form (the first path segment names the publication); pages
//! outside a publication get the form for every list. The form replaces the comment
//! [`MARKER`] where a template has one, else goes before the last `</main>`, else before
//! `</body>`. Email renditions (`email.html`) are left alone. Paths go through
//! [`crate::request_path::resolve`]: no `..`, no hidden files, nothing outside the directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tower::ServiceExt as _;
use tower_http::services::ServeFile;

use super::app::{App, Failure, Routes, form_view};
use super::conditional::{Answer, Validators};
use super::pages::{ListView, PublicationRef, Ui};
use crate::config::Config;
use crate::request_path::{self as paths, Refusal};

/// Where a template wants the subscribe form: `<!-- letterpress:subscribe -->`.
pub const MARKER: &str = "<!-- letterpress:subscribe -->";

/// The archive and its forms.
#[derive(Debug)]
pub struct Site {
    dir: PathBuf,
    forms: HashMap<String, String>,
    everything: String,
    /// When the forms were made: a page is no older than its form.
    made: SystemTime,
}

impl Site {
    /// The archive in `dir` (canonical), with the forms for `config`'s publications and lists,
    /// made at `made`.
    pub fn new(dir: PathBuf, config: &Config, routes: &Routes, ui: &Ui, made: jiff::Timestamp) -> Self {
        let view = |slug: &str| {
            config.list(slug).map(|l| ListView {
                slug: l.slug.clone(),
                name: l.name.clone(),
                description: l.description.clone(),
            })
        };
        let mut forms = HashMap::new();
        for publication in &config.publications {
            let lists: Vec<ListView> = publication.lists.iter().filter_map(|s| view(s)).collect();
            if !lists.is_empty() {
                let named = PublicationRef { slug: publication.slug.clone(), name: publication.name.clone() };
                forms.insert(publication.slug.clone(), ui.form(&form_view(routes, lists, Some(named))));
            }
        }
        let all: Vec<ListView> = config.lists.iter().filter_map(|l| view(&l.slug)).collect();
        let everything = if all.is_empty() { String::new() } else { ui.form(&form_view(routes, all, None)) };
        Self { dir, forms, everything, made: made.into() }
    }

    fn form_for(&self, segments: &[String]) -> &str {
        segments.first().and_then(|first| self.forms.get(first)).map_or(self.everything.as_str(), String::as_str)
    }
}

/// Where a directory's URL without its trailing slash redirects: the same path with empty
/// segments dropped, so `//weekly` goes to `/weekly/` — never `//weekly/`, which a browser
/// reads as another host.
fn directory_url(path: &str) -> String {
    let mut url: String = path.split('/').filter(|s| !s.is_empty()).flat_map(|s| ["/", s]).collect();
    url.push('/');
    url
}

/// Any path no route claims: a file of the archive, or 404.
pub async fn archive(State(app): State<Arc<App>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let inside = path.strip_prefix(&app.routes.prefix).filter(|i| i.is_empty() || i.starts_with('/'));
    if request.method() != Method::GET && request.method() != Method::HEAD {
        // Another method at a page or file of the archive is not allowed there; at a path
        // where nothing is, there is nothing to allow it on.
        let exists = inside.is_some_and(|inside| {
            let directory = format!("{}/index.html", inside.trim_end_matches('/'));
            let file = (!inside.ends_with('/')).then(|| inside.to_owned());
            file.iter().chain([&directory]).any(|w| paths::resolve(&app.site.dir, w).is_ok())
        });
        if !exists {
            return not_found(&app);
        }
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")]).into_response();
    }
    let Some(inside) = inside else {
        return not_found(&app);
    };
    if inside.is_empty() {
        return Redirect::permanent(&directory_url(&path)).into_response();
    }
    let wanted = if inside.ends_with('/') { format!("{inside}index.html") } else { inside.to_owned() };
    let file = match paths::resolve(&app.site.dir, &wanted) {
        Ok(file) => file,
        Err(Refusal::NotFound) if paths::resolve(&app.site.dir, &format!("{inside}/index.html")).is_ok() => {
            return Redirect::permanent(&directory_url(&path)).into_response();
        }
        Err(Refusal::NotFound | Refusal::Forbidden) => return not_found(&app),
        Err(Refusal::BadRequest) => {
            return app.respond(Err(Failure::BadRequest("Not allowed", "That path is not allowed.".to_owned())), None);
        }
    };
    let is_page = file.extension().is_some_and(|e| e == "html") && file.file_name().is_some_and(|n| n != "email.html");
    if !is_page {
        let is_email = file.file_name().is_some_and(|n| n == "email.html");
        let mut response = match ServeFile::new(file).oneshot(request).await {
            Ok(response) => response.into_response(),
            Err(never) => match never {},
        };
        if is_email {
            let policy = HeaderValue::from_static(super::headers::EMAIL_POLICY);
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
        }
        return response;
    }
    page(&app, &file, &wanted, request.headers()).await
}

/// A page of the archive with its form, its validators, and 304 or 412 when the request's
/// conditions say so ([`super::conditional`]).
async fn page(app: &App, file: &Path, wanted: &str, request: &HeaderMap) -> Response {
    // The time after the bytes: a page changed in between gets a later date, never an earlier.
    let read = async {
        let page = tokio::fs::read_to_string(file).await?;
        Ok::<_, std::io::Error>((page, tokio::fs::metadata(file).await?.modified()?))
    };
    let (page, modified) = match read.await {
        Ok(read) => read,
        Err(e) => {
            let detail = format!("cannot read `{}`: {e}", file.display());
            return app.respond(Err(Failure::Internal(detail)), None);
        }
    };
    let segments = paths::segments(wanted).unwrap_or_default();
    let body = inject(&page, app.site.form_for(&segments));
    let validators = Validators::new(body.as_bytes(), modified, app.site.made);
    // hyper leaves the body out of a HEAD response itself.
    let mut response = match validators.answer(request) {
        Answer::Send => (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response(),
        Answer::NotModified => StatusCode::NOT_MODIFIED.into_response(),
        Answer::PreconditionFailed => return StatusCode::PRECONDITION_FAILED.into_response(),
    };
    validators.insert(response.headers_mut());
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn not_found(app: &App) -> Response {
    app.respond(Err(Failure::NotFound("Not found", "There is no page at this address.".to_owned())), None)
}

/// `page` with `form` at the marker, else before the last `</main>`, else before `</body>`,
/// else at the end. An empty form leaves the page as it is (the marker included).
pub fn inject(page: &str, form: &str) -> String {
    if form.is_empty() {
        return page.to_owned();
    }
    if page.contains(MARKER) {
        return page.replacen(MARKER, form, 1);
    }
    let at = last_tag(page, "</main>").or_else(|| last_tag(page, "</body>")).unwrap_or(page.len());
    let mut out = String::with_capacity(page.len() + form.len() + 1);
    out.push_str(&page[..at]);
    out.push_str(form);
    out.push('\n');
    out.push_str(&page[at..]);
    out
}

/// The byte offset of the last `tag` in `page`, ignoring ASCII case.
fn last_tag(page: &str, tag: &str) -> Option<usize> {
    page.as_bytes().windows(tag.len()).rposition(|w| w.eq_ignore_ascii_case(tag.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_redirect_stays_on_this_host() {
        assert_eq!(directory_url("/weekly"), "/weekly/");
        assert_eq!(directory_url("//weekly"), "/weekly/");
        assert_eq!(directory_url("///evil.example//x"), "/evil.example/x/");
        assert_eq!(directory_url("/archive"), "/archive/");
    }

    #[track_caller]
    fn case(page: &str, expected: &str) {
        assert_eq!(inject(page, "<form/>"), expected, "{page}");
    }

    #[test]
    fn the_form_goes_at_the_marker_or_before_the_end_of_main_or_body() {
        case(&format!("<main>a</main><aside>{MARKER}</aside></body>"), "<main>a</main><aside><form/></aside></body>");
        case("<main>a</main><main>b</MAIN></body>", "<main>a</main><main>b<form/>\n</MAIN></body>");
        case("<body>a</BODY>", "<body>a<form/>\n</BODY>");
        case("plain", "plain<form/>\n");
        assert_eq!(inject("<main>é</main>", ""), "<main>é</main>");
    }
}
