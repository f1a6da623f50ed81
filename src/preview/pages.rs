//! The preview's own pages: the index of issues, the error overlay, "not found", and the
//! archive served from memory.
//!
//! Enters: a [`Snapshot`]. Leaves: a [`Page`] (status and HTML). The pages are rendered by the
//! Tera set-up shared with `serve` ([`crate::template::ui`]; templates embedded from
//! `src/preview/templates/`) with autoescaping on, so every value from the project is
//! HTML-escaped; the user's templates are never involved except through the archive and the
//! emails they render.

use std::path::PathBuf;

use axum::http::StatusCode;
use serde::Serialize;

use super::live::Snapshot;
use crate::diagnostic::{Diagnostic, Severity};
use crate::project::Project;
use crate::request_path::{self as paths, Refusal};
use crate::template::budget::Budget;
use crate::template::ui::UiTemplates;

/// The preview's templates, embedded in the binary.
const TEMPLATES: [(&str, &str); 8] = [
    ("base.html", include_str!("templates/base.html")),
    ("preview.css", include_str!("templates/preview.css")),
    ("reload.html", include_str!("templates/reload.html")),
    ("diagnostic.html", include_str!("templates/diagnostic.html")),
    ("overlay.html", include_str!("templates/overlay.html")),
    ("missing.html", include_str!("templates/missing.html")),
    ("index.html", include_str!("templates/index.html")),
    ("issue.html", include_str!("templates/issue.html")),
];

/// A rendered response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// HTTP status.
    pub status: StatusCode,
    /// Content type.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Page {
    /// An HTML page with status 200.
    pub fn html(body: String) -> Self {
        Self { status: StatusCode::OK, content_type: "text/html; charset=utf-8", body: body.into_bytes() }
    }
}

/// The preview's templates, compiled once.
pub struct Ui {
    templates: UiTemplates,
}

impl Ui {
    /// Compile the embedded templates.
    pub fn new() -> Self {
        let templates = UiTemplates::new(TEMPLATES, Budget::default());
        Self { templates: templates.expect("the preview's embedded templates are valid") }
    }

    /// Render `name` for `snapshot`: the page chrome (site title, version for live reload)
    /// plus `context`.
    pub fn render<T: Serialize>(&self, name: &str, snapshot: &Snapshot, context: &T) -> String {
        #[derive(Serialize)]
        struct Chrome<'a, T> {
            version: u64,
            site_title: &'a str,
            #[serde(flatten)]
            page: &'a T,
        }
        let site_title = snapshot.project.as_ref().map_or("letterpress", |p| p.config.site.title.as_str());
        let chrome = Chrome { version: snapshot.version, site_title, page: context };
        self.templates.render(name, &chrome).unwrap_or_else(|e| {
            format!("<!DOCTYPE html><title>preview error</title><pre>{}</pre>", escape(&e.to_string()))
        })
    }

    /// The overlay shown instead of a page that cannot be rendered.
    pub fn overlay(&self, snapshot: &Snapshot, heading: &str, diagnostics: &[Diagnostic]) -> Page {
        let intro = match diagnostics.iter().filter(|d| d.is_error()).count() {
            1 => "1 error stops it from rendering:".to_owned(),
            n => format!("{n} errors stop it from rendering:"),
        };
        let context = Overlay { heading, intro, diagnostics: diagnostics.iter().map(DiagnosticView::new).collect() };
        let body = self.render("overlay.html", snapshot, &context);
        Page { status: StatusCode::INTERNAL_SERVER_ERROR, ..Page::html(body) }
    }

    /// A 404 page saying what was not found.
    pub fn missing(&self, snapshot: &Snapshot, message: &str) -> Page {
        let body = self.render("missing.html", snapshot, &Missing { message });
        Page { status: StatusCode::NOT_FOUND, ..Page::html(body) }
    }

    /// The overlay for a project that did not load, or the project.
    pub fn project<'a>(&self, snapshot: &'a Snapshot) -> Result<&'a Project, Page> {
        snapshot
            .project
            .as_ref()
            .map_err(|_| self.overlay(snapshot, "The project cannot be loaded", &snapshot.load_errors()))
    }

    /// `/`: every issue, grouped by publication.
    pub fn index(&self, snapshot: &Snapshot) -> Page {
        match self.project(snapshot) {
            Ok(project) => Page::html(self.render("index.html", snapshot, &super::index::context(snapshot, project))),
            Err(page) => page,
        }
    }

    /// A file of the archive as `build --drafts` writes it; HTML pages get the site's absolute
    /// URLs made local ([`localise`]) and the live-reload script appended, nothing else changes.
    pub fn archive(&self, snapshot: &Snapshot, raw: &str) -> Page {
        let mut segments = match paths::segments(raw) {
            Ok(segments) => segments,
            Err(refusal) => return self.refused(snapshot, refusal),
        };
        if raw.is_empty() || raw.ends_with('/') {
            segments.push("index.html".to_owned());
        }
        let files = match snapshot.archive() {
            Ok(files) => files,
            Err(crate::error::Error::Invalid(diagnostics)) => {
                return self.overlay(snapshot, "The archive cannot be built", diagnostics);
            }
            // An I/O or usage error names the path involved itself; located problems are `Invalid`.
            Err(other) => {
                return self.overlay(
                    snapshot,
                    "The archive cannot be built",
                    &[Diagnostic::error("preview/archive", other.to_string())],
                );
            }
        };
        let path: PathBuf = segments.iter().collect();
        let Some(bytes) = files.get(&path) else {
            return self.missing(snapshot, &format!("the archive has no `{}`", path.display()));
        };
        let content_type = content_type(&path);
        let mut body = bytes.clone();
        if content_type.starts_with("text/html") {
            if let (Ok(project), Ok(html)) = (&snapshot.project, std::str::from_utf8(&body)) {
                body = localise(project, html).into_bytes();
            }
            let script = self.render("reload.html", snapshot, &Nothing {});
            let at = body.windows(7).rposition(|w| w.eq_ignore_ascii_case(b"</body>")).unwrap_or(body.len());
            body.splice(at..at, script.into_bytes());
        }
        Page { status: StatusCode::OK, content_type, body }
    }

    /// The page for a refused path.
    pub fn refused(&self, snapshot: &Snapshot, refusal: Refusal) -> Page {
        let (status, message) = match refusal {
            Refusal::BadRequest => (StatusCode::BAD_REQUEST, "that path is not allowed"),
            Refusal::Forbidden => (StatusCode::FORBIDDEN, "that file is outside the project"),
            Refusal::NotFound => (StatusCode::NOT_FOUND, "there is no such file"),
        };
        Page { status, ..self.missing(snapshot, message) }
    }
}

impl Default for Ui {
    fn default() -> Self {
        Self::new()
    }
}

/// What the error overlay shows.
#[derive(Debug, Serialize)]
struct Overlay<'a> {
    heading: &'a str,
    intro: String,
    diagnostics: Vec<DiagnosticView>,
}

/// What the "not found" page shows.
#[derive(Debug, Serialize)]
struct Missing<'a> {
    message: &'a str,
}

/// No context beyond the chrome (for the live-reload script alone).
#[derive(Debug, Serialize)]
struct Nothing {}

/// A diagnostic as the pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnosticView {
    /// `error` or `warning`.
    pub severity: &'static str,
    /// The stable code, e.g. `front-matter/unknown-key`.
    pub code: &'static str,
    /// `path:line:col`, or empty.
    pub location: String,
    /// What is wrong.
    pub message: String,
    /// The source line and a caret under the column, or empty.
    pub snippet: String,
    /// How to fix it, or empty.
    pub help: String,
}

impl DiagnosticView {
    /// The view of `diagnostic`.
    pub fn new(diagnostic: &Diagnostic) -> Self {
        let snippet = match (&diagnostic.location, &diagnostic.source_line) {
            (Some(location), Some(line)) => {
                let number = location.line.to_string();
                let shown = line.replace('\t', " ");
                let pad: String = shown
                    .chars()
                    .take(location.col.saturating_sub(1))
                    .map(|c| if c.is_whitespace() { c } else { ' ' })
                    .collect();
                format!("{number} | {shown}\n{} | {pad}^", " ".repeat(number.len()))
            }
            _ => String::new(),
        };
        Self {
            severity: match diagnostic.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "info",
            },
            code: diagnostic.code,
            location: diagnostic.location.as_ref().map(ToString::to_string).unwrap_or_default(),
            message: diagnostic.message.clone(),
            snippet,
            help: diagnostic.help.clone().unwrap_or_default(),
        }
    }
}

/// `html` with the site's absolute URLs pointing at the preview itself (see
/// [`crate::archive::urls::local`]), so that it shows the files being edited, not the deployed ones.
pub fn localise(project: &Project, html: &str) -> String {
    let (archive, base) = (project.config.site.archive(), project.config.site.base());
    crate::archive::urls::rewrite(html, |url| crate::archive::urls::local(url, &archive, &base))
}

/// The content type of an archive file, by extension.
fn content_type(path: &std::path::Path) -> &'static str {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "xml" => "application/atom+xml; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// Minimal HTML escaping for the one page not rendered by Tera.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_show_a_caret_under_the_column() {
        let d = Diagnostic::error("yaml/unknown-key", "unknown key `sendat`")
            .at(crate::diagnostic::Location::new("content/w/2016-12-09-a.md", 3, 3), "---\ntitle: x\n  sendat: 1\n");
        let view = DiagnosticView::new(&d);
        assert_eq!(view.location, "content/w/2016-12-09-a.md:3:3");
        assert_eq!(view.snippet, "3 |   sendat: 1\n  |   ^");
    }

    #[test]
    fn embedded_templates_compile() {
        let _ = Ui::new();
    }
}
