//! The pages and mails `serve` writes, through the Tera set-up shared with the preview
//! ([`crate::template::ui`]).
//!
//! Enters: the configuration (site title, language), the local path of the site's home, the
//! project's `templates/subscribe.html` when it has one, and per response a view struct. Leaves:
//! a [`Page`] (status and HTML) or rendered text. The templates are embedded from
//! `src/serve/templates/`; autoescaping is on for `.html`, so every value (list names, a name
//! someone typed) is HTML-escaped. The subscribe form (`subscribe.html`) is the one template a
//! project may replace: it is injected into the archive's pages and shown again on error pages.

use std::path::Path;

use axum::http::StatusCode;
use serde::Serialize;

use crate::config::Config;
use crate::diagnostic::{Diagnostic, Location};
use crate::error::{Error, Result};
use crate::template::ui::{UiError, UiTemplates};

/// The name of the subscribe form's honeypot field: people never see it, bots fill it in.
pub const HONEYPOT: &str = "website";

/// The project file that replaces the default subscribe form.
pub const FORM_OVERRIDE: &str = "templates/subscribe.html";

const TEMPLATES: [(&str, &str); 9] = [
    ("base.html", include_str!("templates/base.html")),
    ("unsubscribe.html", include_str!("templates/unsubscribe.html")),
    ("unsubscribed.html", include_str!("templates/unsubscribed.html")),
    ("check-inbox.html", include_str!("templates/check-inbox.html")),
    ("confirmed.html", include_str!("templates/confirmed.html")),
    ("problem.html", include_str!("templates/problem.html")),
    ("subscribe.html", include_str!("templates/subscribe.html")),
    ("confirm-email.txt", include_str!("templates/confirm-email.txt")),
    ("confirm-email.html", include_str!("templates/confirm-email.html")),
];

/// A rendered HTML response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// HTTP status.
    pub status: StatusCode,
    /// The document.
    pub body: String,
}

/// A list as forms and pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListView {
    /// Slug, the form's value.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// One-line description, or empty.
    pub description: String,
}

/// A publication named by a subscribe form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicationRef {
    /// Slug.
    pub slug: String,
    /// Display name.
    pub name: String,
}

/// What `subscribe.html` sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormView {
    /// Where the form posts (`/subscribe` under the site's path).
    pub action: String,
    /// The lists to choose from.
    pub lists: Vec<ListView>,
    /// The only list, when there is one (a hidden field instead of a choice).
    pub single: Option<ListView>,
    /// The publication whose pages show the form, if any.
    pub publication: Option<PublicationRef>,
    /// The honeypot field's name.
    pub honeypot: &'static str,
}

/// Site-wide values every page sees.
#[derive(Debug, Clone, Serialize)]
struct Chrome {
    site_title: String,
    language: String,
    home: String,
}

/// The compiled templates.
pub struct Ui {
    templates: UiTemplates,
    chrome: Chrome,
}

impl Ui {
    /// Compile the embedded templates, with the project's subscribe form (`root/templates/
    /// subscribe.html`) in place of the default when it exists. `home` is the local path of the
    /// site's front page, ending with `/`.
    pub fn new(root: &Path, config: &Config, home: String) -> Result<Self> {
        let mut templates: Vec<(&str, String)> = TEMPLATES.iter().map(|(n, t)| (*n, (*t).to_owned())).collect();
        let custom = root.join(FORM_OVERRIDE);
        if custom.is_file() {
            let text = std::fs::read_to_string(&custom).map_err(|e| Error::io("read", &custom, e))?;
            templates.retain(|(name, _)| *name != "subscribe.html");
            templates.push(("subscribe.html", text));
        }
        let templates = UiTemplates::new(templates.iter().map(|(n, t)| (*n, t.as_str())), config.templates.budget())
            .map_err(|e| {
                Error::Invalid(vec![
                    Diagnostic::error("template/error", format!("template `subscribe.html`: {e}"))
                        .in_file(Location::new(FORM_OVERRIDE, 1, 1)),
                ])
            })?;
        let chrome = Chrome { site_title: config.site.title.clone(), language: config.site.language.clone(), home };
        Ok(Self { templates, chrome })
    }

    /// Render the page template `name` with `context` (plus the chrome) at `status`. A template
    /// that fails (only possible with a project's own form) gives a bare 500 page; the reason
    /// goes to stderr.
    pub fn page<T: Serialize>(&self, status: StatusCode, name: &str, context: &T) -> Page {
        match self.render(name, context) {
            Ok(body) => Page { status, body },
            Err(why) => {
                eprintln!("serve: error: cannot render `{name}`: {why}");
                Page { status: StatusCode::INTERNAL_SERVER_ERROR, body: BARE_ERROR.to_owned() }
            }
        }
    }

    /// A page saying what went wrong, with a subscribe form below when one helps.
    pub fn problem(&self, status: StatusCode, heading: &str, message: &str, form: Option<&FormView>) -> Page {
        let form = form.map(|f| self.form(f)).unwrap_or_default();
        self.page(status, "problem.html", &Problem { heading, message, form })
    }

    /// The subscribe form as HTML, or nothing if the project's template cannot render it.
    pub fn form(&self, view: &FormView) -> String {
        self.render("subscribe.html", view).unwrap_or_else(|why| {
            eprintln!("serve: error: cannot render `subscribe.html`: {why}");
            String::new()
        })
    }

    /// Render any template (pages, mails) with the chrome's values available.
    pub fn render<T: Serialize>(&self, name: &str, context: &T) -> std::result::Result<String, UiError> {
        #[derive(Serialize)]
        struct Full<'a, T> {
            #[serde(flatten)]
            chrome: &'a Chrome,
            #[serde(flatten)]
            page: &'a T,
        }
        self.templates.render(name, &Full { chrome: &self.chrome, page: context })
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    heading: &'a str,
    message: &'a str,
    form: String,
}

const BARE_ERROR: &str = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Error</title></head><body><h1>Something went wrong</h1><p>Please try again later.</p></body></html>";

/// `7 days`, `48 hours`, `1 minute`: a confirmation link's lifetime for people.
pub fn describe(ttl: jiff::SignedDuration) -> String {
    let seconds = ttl.as_secs().max(60);
    let (n, unit) = match seconds {
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3_600 == 0 => (s / 3_600, "hour"),
        s => (s / 60, "minute"),
    };
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let text = "site:\n  title: \"A & B\"\n  base-url: https://news.example.org\npublications:\n  - slug: w\n    name: W\n    from: w@news.example.org\n";
        Config::parse(Path::new("letterpress.yaml"), text).unwrap()
    }

    fn view(lists: &[&str]) -> FormView {
        let lists: Vec<ListView> = lists
            .iter()
            .map(|s| ListView { slug: (*s).to_owned(), name: format!("<{s}>"), description: String::new() })
            .collect();
        FormView {
            action: "/subscribe".to_owned(),
            single: (lists.len() == 1).then(|| lists[0].clone()),
            lists,
            publication: None,
            honeypot: HONEYPOT,
        }
    }

    #[test]
    fn values_are_escaped_and_the_form_has_a_honeypot() {
        let dir = tempfile::tempdir().unwrap();
        let ui = Ui::new(dir.path(), &config(), "/".to_owned()).unwrap();
        let form = ui.form(&view(&["a", "b"]));
        assert!(form.contains("<option value=\"a\">&lt;a&gt;</option>"), "{form}");
        assert!(form.contains("name=\"website\""), "{form}");
        let single = ui.form(&view(&["a"]));
        assert!(single.contains("type=\"hidden\" name=\"list\" value=\"a\""), "{single}");
        let page = ui.problem(StatusCode::BAD_REQUEST, "Oops <x>", "bad & worse", None);
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert!(page.body.contains("Oops &lt;x&gt;") && page.body.contains("A &amp; B"), "{}", page.body);
    }

    #[test]
    fn a_project_form_replaces_the_default_and_a_broken_one_is_located() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join(FORM_OVERRIDE), "<form action=\"{{ action }}\">mine</form>").unwrap();
        let ui = Ui::new(dir.path(), &config(), "/".to_owned()).unwrap();
        assert_eq!(ui.form(&view(&["a"])), "<form action=\"/subscribe\">mine</form>");
        std::fs::write(dir.path().join(FORM_OVERRIDE), "{% if %}").unwrap();
        let Err(Error::Invalid(problems)) = Ui::new(dir.path(), &config(), "/".to_owned()) else { panic!() };
        assert_eq!(problems[0].location.as_ref().map(|l| l.path.clone()), Some(FORM_OVERRIDE.into()));
    }

    #[test]
    fn a_runaway_project_form_stops_at_the_render_budget() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        let form = "{% for i in range(end=20000) %}{% for j in range(end=20000) %}x{% endfor %}{% endfor %}";
        std::fs::write(dir.path().join(FORM_OVERRIDE), form).unwrap();
        let ui = Ui::new(dir.path(), &config(), "/".to_owned()).unwrap();
        assert_eq!(ui.form(&view(&["a"])), "");
        assert!(ui.render("subscribe.html", &view(&["a"])).unwrap_err().to_string().contains("budget"));
    }

    #[test]
    fn lifetimes_read_naturally() {
        let case = |secs: i64, text: &str| assert_eq!(describe(jiff::SignedDuration::from_secs(secs)), text);
        case(7 * 86_400, "7 days");
        case(86_400, "1 day");
        case(48 * 3_600, "2 days");
        case(36 * 3_600, "36 hours");
        case(90 * 60, "90 minutes");
        case(60, "1 minute");
    }
}
