//! The Tera set-up of letterpress's own pages: the preview's and those of `serve`.
//!
//! Enters: embedded templates (`serve` lets a project replace its subscribe form) and a render
//! [`Budget`]. Leaves: rendered text, or a [`UiError`] on one line. Autoescaping is on for
//! `.html`, so every value a page shows is HTML-escaped; every loop runs under the budget, so
//! a project's own form cannot run away.

use serde::Serialize;
use tera::{Context, Tera};

use super::budget::{self, Budget};

/// Why a page template did not compile or render, on one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UiError(String);

impl From<UiError> for String {
    fn from(error: UiError) -> Self {
        error.0
    }
}

/// A set of page templates, compiled once.
pub struct UiTemplates {
    tera: Tera,
    budget: Budget,
}

impl UiTemplates {
    /// Compile `templates` (name, text), each rendered under `budget`.
    pub fn new<'a>(templates: impl IntoIterator<Item = (&'a str, &'a str)>, budget: Budget) -> Result<Self, UiError> {
        let mut tera = Tera::new();
        tera.autoescape_on([".html"]);
        budget::register(&mut tera);
        let templates: Vec<(&str, String)> =
            templates.into_iter().map(|(name, text)| (name, budget::instrument(text, 0).text)).collect();
        tera.add_raw_templates(templates.iter().map(|(name, text)| (*name, text.as_str())))
            .map_err(|e| UiError(one_line(&e)))?;
        Ok(Self { tera, budget })
    }

    /// Render the template `name` with `context`.
    pub fn render<T: Serialize>(&self, name: &str, context: &T) -> Result<String, UiError> {
        let context = Context::from_serialize(context).map_err(|e| UiError(one_line(&e)))?;
        budget::render(&self.tera, name, &context, self.budget).map_err(|failure| match failure {
            budget::Failure::Tera(e) => UiError(one_line(&e)),
            budget::Failure::Overrun(_) => {
                UiError("the render budget (`templates:` in `letterpress.yaml`) ran out".to_owned())
            }
        })
    }
}

/// A Tera error and its causes on one line.
fn one_line(error: &tera::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_text_is_not_and_errors_are_one_line() {
        let ui = UiTemplates::new([("a.html", "<p>{{ v }}</p>"), ("a.txt", "{{ v }}")], Budget::default()).unwrap();
        let view = serde_json::json!({ "v": "<b>&" });
        assert_eq!(ui.render("a.html", &view).unwrap(), "<p>&lt;b&gt;&amp;</p>");
        assert_eq!(ui.render("a.txt", &view).unwrap(), "<b>&");
        let error = ui.render("missing.html", &view).unwrap_err();
        assert!(!error.to_string().contains('\n'), "{error}");
        assert!(UiTemplates::new([("b.html", "{% for x in %}")], Budget::default()).is_err());
    }

    #[test]
    fn a_runaway_loop_stops_at_the_budget() {
        let budget = Budget { max_output: 1024, max_time: std::time::Duration::from_secs(2) };
        let ui =
            UiTemplates::new([("a.html", "{% for i in range(end=100000) %}xxxxxxxx{% endfor %}")], budget).unwrap();
        let error = ui.render("a.html", &serde_json::json!({})).unwrap_err();
        assert!(error.to_string().contains("render budget"), "{error}");
    }
}
