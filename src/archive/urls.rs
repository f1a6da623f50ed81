//! URLs in HTML pages, pointed where they are read: archive pages link to the site's own files
//! relatively, so `public/` works from `file://` and on any host, and the preview points the
//! site's absolute URLs at itself.
//!
//! Enters: an HTML page and a mapping of URLs. Leaves: the page with the URL attributes the
//! mapping changes rewritten (`lol_html`: everything else is passed through byte for byte; text,
//! scripts and `<link rel="canonical">` are never touched).

use std::path::Path;

use lol_html::html_content::Element;
use lol_html::{RewriteStrSettings, element, rewrite_str};

use crate::request_path::percent_decode;

/// Attributes whose values are URLs (`srcset` holds several).
const URL_ATTRIBUTES: [&str; 6] = ["href", "src", "srcset", "poster", "action", "background"];

/// The elements that have one of [`URL_ATTRIBUTES`]: only they are handed to the rewriter's
/// handler (a test holds the two lists together).
const WITH_URLS: &str = "[href], [src], [srcset], [poster], [action], [background]";

/// `html` with every URL attribute's value passed through `map`; `None` keeps a value as it
/// is. Values are given and taken as written in the HTML (entities not decoded). A page that
/// cannot be rewritten is returned unchanged.
pub fn rewrite(html: &str, map: impl Fn(&str) -> Option<String>) -> String {
    let handler = element!(WITH_URLS, |el| {
        rewrite_element(el, &map);
        Ok(())
    });
    let settings = RewriteStrSettings::new().append_element_content_handler(handler);
    rewrite_str(html, settings).unwrap_or_else(|_| html.to_owned())
}

fn rewrite_element<H: lol_html::HandlerTypes>(el: &mut Element<'_, '_, H>, map: &impl Fn(&str) -> Option<String>) {
    let canonical = el.tag_name() == "link"
        && el.get_attribute("rel").is_some_and(|rel| rel.split_ascii_whitespace().any(|r| r == "canonical"));
    if canonical {
        return;
    }
    for name in URL_ATTRIBUTES {
        let Some(value) = el.get_attribute(name) else { continue };
        let new = if name == "srcset" { map_srcset(&value, map) } else { map(value.trim()) };
        if let Some(new) = new {
            // Only names from URL_ATTRIBUTES are set, and they are valid.
            let _ = el.set_attribute(name, &new);
        }
    }
}

/// A `srcset` (`url 2x, url 640w`) with each URL mapped; `None` when none changes.
fn map_srcset(value: &str, map: &impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut changed = false;
    let candidates: Vec<String> = value
        .split(',')
        .map(|candidate| {
            let trimmed = candidate.trim();
            let (url, descriptor) = trimmed.split_once(char::is_whitespace).unwrap_or((trimmed, ""));
            match map(url) {
                Some(new) => {
                    changed = true;
                    if descriptor.is_empty() { new } else { format!("{new} {}", descriptor.trim()) }
                }
                None => trimmed.to_owned(),
            }
        })
        .collect();
    changed.then(|| candidates.join(", "))
}

/// The URL of `url` relative to the archive page at `page` (a path inside the archive, e.g.
/// `weekly/2016-12-09-first/index.html`), when `url` lies under `archive` (absolute, ending with
/// `/`) and names a file for which `exists` holds; a directory's URL names its `index.html`, so
/// the link works from `file://` too. Query and fragment are kept; `None` leaves `url` alone.
pub fn relative(page: &Path, url: &str, archive: &str, exists: impl Fn(&Path) -> bool) -> Option<String> {
    let rest = url.strip_prefix(archive)?;
    let (path, suffix) = rest.split_at(rest.find(['?', '#']).unwrap_or(rest.len()));
    let mut encoded: Vec<&str> = path.split('/').collect();
    if encoded.last() == Some(&"") {
        encoded.pop();
        encoded.push("index.html");
    }
    let decoded: Vec<String> = encoded
        .iter()
        .map(|s| percent_decode(s).filter(|d| !d.is_empty() && d != "." && d != ".." && !d.contains(['/', '\\'])))
        .collect::<Option<_>>()?;
    if !exists(&decoded.iter().collect::<std::path::PathBuf>()) {
        return None;
    }
    let here: Vec<String> = page
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let directories = &decoded[..decoded.len() - 1];
    let common = here.iter().zip(directories).take_while(|(a, b)| a == b).count();
    let mut out = "../".repeat(here.len() - common);
    out.push_str(&encoded[common..].join("/"));
    out.push_str(suffix);
    Some(out)
}

/// Where the preview serves an absolute URL of the site: under the archive URL, its in-memory
/// archive (`/archive/…`); elsewhere under the base URL, the project's `static/` (`/…`).
/// `archive` and `base` end with `/`.
pub fn local(url: &str, archive: &str, base: &str) -> Option<String> {
    if let Some(rest) = url.strip_prefix(archive) {
        return Some(format!("/archive/{rest}"));
    }
    url.strip_prefix(base).map(|rest| format!("/{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARCHIVE: &str = "https://news.example.org/";

    #[track_caller]
    fn case(page: &str, url: &str, expected: Option<&str>) {
        let files = ["index.html", "archive.css", "weekly/index.html", "weekly/atom.xml", "weekly/a/index.html"];
        let files =
            [&files[..], &["weekly/b/index.html", "weekly/b/email.html", "images/a b.png", "café.png"]].concat();
        let exists = |p: &Path| files.iter().any(|f| Path::new(f) == p);
        assert_eq!(relative(Path::new(page), url, ARCHIVE, exists).as_deref(), expected, "{page} -> {url}");
    }

    #[test]
    fn links_to_archive_files_become_relative() {
        case("index.html", "https://news.example.org/archive.css", Some("archive.css"));
        case("index.html", "https://news.example.org/", Some("index.html"));
        case("index.html", "https://news.example.org/weekly/", Some("weekly/index.html"));
        case("index.html", "https://news.example.org/weekly/a/", Some("weekly/a/index.html"));
        case("weekly/a/index.html", "https://news.example.org/archive.css", Some("../../archive.css"));
        case("weekly/a/index.html", "https://news.example.org/", Some("../../index.html"));
        case("weekly/a/index.html", "https://news.example.org/weekly/", Some("../index.html"));
        case("weekly/a/index.html", "https://news.example.org/weekly/atom.xml", Some("../atom.xml"));
        case("weekly/a/index.html", "https://news.example.org/weekly/b/", Some("../b/index.html"));
        case("weekly/a/index.html", "https://news.example.org/weekly/a/#top", Some("index.html#top"));
        case("weekly/b/index.html", "https://news.example.org/weekly/b/email.html", Some("email.html"));
        case("weekly/a/index.html", "https://news.example.org/images/a%20b.png", Some("../../images/a%20b.png"));
        case("weekly/index.html", "https://news.example.org/caf%C3%A9.png?v=2", Some("../caf%C3%A9.png?v=2"));
    }

    #[test]
    fn other_links_stay_as_they_are() {
        case("index.html", "https://news.example.org/unsubscribe", None);
        case("index.html", "https://news.example.org/weekly/gone/", None);
        case("index.html", "https://news.example.org/weekly/../archive.css", None);
        case("index.html", "https://news.example.org//archive.css", None);
        case("index.html", "https://news.example.org/%zz", None);
        case("index.html", "https://elsewhere.example.org/archive.css", None);
        case("index.html", "http://news.example.org/archive.css", None);
        case("index.html", "#top", None);
        case("index.html", "mailto:editor@news.example.org", None);
    }

    #[test]
    fn rewrites_url_attributes_only() {
        let html = concat!(
            "<!DOCTYPE html><html><head><link rel=\"stylesheet\" href=\"https://n.example/a.css\">",
            "<link rel=\"canonical\" href=\"https://n.example/\"></head><body>",
            "<p title=\"https://n.example/x\">See https://n.example/x</p>",
            "<img src=\"https://n.example/i.png\" srcset=\"https://n.example/i.png 1x, https://n.example/j.png 2x\">",
            "<a href='https://n.example/?a=1&amp;b=2'>x</a><a href=\"https://o.example/\">o</a>",
            "<script>const u = \"https://n.example/s\";</script></body></html>"
        );
        let out = rewrite(html, |url| url.strip_prefix("https://n.example/").map(|rest| format!("/local/{rest}")));
        assert_eq!(
            out,
            concat!(
                "<!DOCTYPE html><html><head><link rel=\"stylesheet\" href=\"/local/a.css\">",
                "<link rel=\"canonical\" href=\"https://n.example/\"></head><body>",
                "<p title=\"https://n.example/x\">See https://n.example/x</p>",
                "<img src=\"/local/i.png\" srcset=\"/local/i.png 1x, /local/j.png 2x\">",
                "<a href=\"/local/?a=1&amp;b=2\">x</a><a href=\"https://o.example/\">o</a>",
                "<script>const u = \"https://n.example/s\";</script></body></html>"
            )
        );
        let untouched = "<p>nothing <b>to</b> do</p>";
        assert_eq!(rewrite(untouched, |_| None), untouched);
    }

    #[test]
    fn every_url_attribute_is_rewritten_on_any_element() {
        assert_eq!(WITH_URLS, URL_ATTRIBUTES.map(|a| format!("[{a}]")).join(", "));
        for name in URL_ATTRIBUTES {
            for tag in ["x-custom", "video", "form", "td"] {
                let html = format!("<div><{tag} {name}=\"https://n.example/a\" title=\"t\"></{tag}></div>");
                let out = rewrite(&html, |url| url.strip_prefix("https://n.example/").map(|r| format!("/local/{r}")));
                assert_eq!(out, html.replace("https://n.example/a", "/local/a"), "{name} on {tag}");
            }
        }
    }

    #[test]
    fn the_preview_serves_the_archive_and_static_files_itself() {
        let (archive, base) = ("https://n.example/archive/", "https://n.example/");
        assert_eq!(local("https://n.example/archive/weekly/", archive, base).as_deref(), Some("/archive/weekly/"));
        assert_eq!(local("https://n.example/images/a.png", archive, base).as_deref(), Some("/images/a.png"));
        assert_eq!(local("https://n.example/images/a.png", base, base).as_deref(), Some("/archive/images/a.png"));
        assert_eq!(local("https://o.example/images/a.png", archive, base), None);
    }
}
