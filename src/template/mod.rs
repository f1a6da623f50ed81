//! Tera 2 templates: embedded defaults, project overrides, and the email and page renderers.
//!
//! Enters: view structs (see [`view`]). Leaves: an [`EmailBody`] (subject, preheader, HTML with
//! the CSS inlined, plain text) or a rendered archive page. Templates ending in `.txt` are never
//! HTML-escaped; `.html`, `.htm` and `.xml` always are, so front matter and subscriber values cannot
//! inject markup. Template errors become located diagnostics in the template file.

pub mod budget;
mod errors;
mod filters;
mod inline;
mod prints;
#[cfg(any(test, feature = "test-hooks"))]
pub mod renders;
pub mod ui;
pub mod view;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tera::{Context, Tera};

use budget::{Budget, Instrumented, Limit, Overrun};
use errors::to_diagnostic;
pub use filters::{TITLE_LIMIT, shorten_title};
use filters::{page_title, underline, wrap};
use inline::inline_css;

use crate::config::{Config, Publication};
use crate::diagnostic::{Diagnostic, Location};
use view::{IssueView, PublicationView, SiteView, SubscriberView};

/// The project's template directory.
pub const DIR: &str = "templates";

/// The templates compiled into the binary; a project file with the same name replaces one.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("email.html", include_str!("defaults/email.html")),
    ("email.txt", include_str!("defaults/email.txt")),
    ("email.css", include_str!("defaults/email.css")),
    ("page.html", include_str!("defaults/page.html")),
    ("publication.html", include_str!("defaults/publication.html")),
    ("index.html", include_str!("defaults/index.html")),
    ("archive.css", include_str!("defaults/archive.css")),
];

/// The rendered, not yet personalised, email of one issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailBody {
    /// Subject line.
    pub subject: String,
    /// Hidden inbox preview text.
    pub preheader: String,
    /// Complete HTML document with the CSS inlined.
    pub html: String,
    /// Complete plain-text body.
    pub text: String,
}

/// Everything an email template sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailContext {
    /// The site.
    pub site: SiteView,
    /// The issue's publication.
    pub publication: PublicationView,
    /// The issue.
    pub issue: IssueView,
    /// The recipient: empty outside a send. In a send, placeholders that [`crate::compose`]
    /// fills in per message, so templates may print its values but not test or filter them.
    pub subscriber: SubscriberView,
    /// The recipient's unsubscribe link (the site's unsubscribe page outside a send).
    pub unsubscribe_url: String,
    /// Inbox preview text: the summary, else the standfirst.
    pub preheader: String,
}

/// The loaded templates of a project.
#[derive(Clone)]
pub struct Templates {
    tera: Tera,
    sources: BTreeMap<String, PathBuf>,
    texts: BTreeMap<String, String>,
    /// Each template as compiled, with its loops' positions (see [`budget::instrument`]).
    compiled: BTreeMap<String, Instrumented>,
    /// The template of each loop, by the index [`budget::TICK`] is given.
    loops: Vec<String>,
    budget: Budget,
    /// Whether the templates only print subscriber names and attributes, as their source shows
    /// ([`prints`]): a send then need not render them again to prove it.
    only_print_subscriber: bool,
    /// The `subscriber.attrs.<column>` the templates name, printed empty outside a send.
    attribute_names: Vec<String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").field("sources", &self.sources).finish_non_exhaustive()
    }
}

impl Templates {
    /// The defaults overlaid with every file under `root/templates/`, checked against the
    /// per-publication overrides in `config`.
    pub fn load(root: &Path, config: &Config) -> Result<Self, Vec<Diagnostic>> {
        let mut texts: BTreeMap<String, String> =
            DEFAULTS.iter().map(|(n, t)| ((*n).to_owned(), (*t).to_owned())).collect();
        let mut sources: BTreeMap<String, PathBuf> =
            DEFAULTS.iter().map(|(n, _)| ((*n).to_owned(), PathBuf::from(format!("(built-in) {n}")))).collect();
        let mut problems = Vec::new();
        let dir = root.join(DIR);
        if dir.is_dir() {
            for entry in walkdir::WalkDir::new(&dir).sort_by_file_name().into_iter().filter_map(Result::ok) {
                if !is_template_file(&dir, &entry) {
                    continue;
                }
                let shown = entry.path().strip_prefix(root).unwrap_or(entry.path()).to_path_buf();
                let name = entry.path().strip_prefix(&dir).unwrap_or(entry.path()).to_string_lossy().replace('\\', "/");
                match std::fs::read_to_string(entry.path()) {
                    Ok(text) => {
                        texts.insert(name.clone(), text);
                        sources.insert(name, shown);
                    }
                    Err(e) => {
                        let message = crate::error::Error::io("read", &shown, e).to_string();
                        problems.push(Diagnostic::error("template/io", message).in_file(Location::file(&shown)));
                    }
                }
            }
        }
        for publication in &config.publications {
            for (key, name) in overrides(publication) {
                if let Some(name) = name.filter(|name| !texts.contains_key(*name)) {
                    let d = Diagnostic::error(
                        "template/missing",
                        format!("publication `{}` names template `{name}`, which does not exist", publication.slug),
                    )
                    .help(format!("create `templates/{name}` or remove the override"));
                    problems.push(crate::config::at_entry(root, d, "publications", &publication.slug, key, name));
                }
            }
        }
        let mut loops = Vec::new();
        let mut compiled = BTreeMap::new();
        for (name, text) in &texts {
            let done = budget::instrument(text, loops.len());
            loops.extend(done.loops.iter().map(|_| name.clone()));
            compiled.insert(name.clone(), done);
        }
        let mut tera = engine();
        if let Err(e) = tera.add_raw_templates(compiled.iter().map(|(n, t)| (n.as_str(), t.text.as_str()))) {
            // Positions in a syntax error are those of the text as written.
            let error = engine().add_raw_templates(texts.iter().map(|(n, t)| (n.as_str(), t.as_str()))).err();
            problems.push(to_diagnostic(error.as_ref().unwrap_or(&e), &sources, &texts, &BTreeMap::new()));
        }
        let budget = config.templates.budget();
        let only_print_subscriber = prints::only_prints_subscriber_values(texts.values().map(String::as_str));
        let attribute_names = prints::attribute_names(texts.values().map(String::as_str));
        if problems.is_empty() {
            Ok(Self { tera, sources, texts, compiled, loops, budget, only_print_subscriber, attribute_names })
        } else {
            Err(problems)
        }
    }

    fn render(&self, name: &str, context: &Context) -> Result<String, Diagnostic> {
        #[cfg(any(test, feature = "test-hooks"))]
        renders::record(name);
        budget::render(&self.tera, name, context, self.budget).map_err(|failure| match failure {
            budget::Failure::Tera(e) => self.diagnostic(&e),
            budget::Failure::Overrun(overrun) => self.overrun(name, overrun),
        })
    }

    /// The diagnostic of a render of `name` stopped by its budget, at the loop that ran then.
    fn overrun(&self, name: &str, overrun: Overrun) -> Diagnostic {
        let (file, (line, col)) = overrun
            .at
            .and_then(|i| {
                let file = self.loops.get(i)?;
                let first = self.loops.iter().position(|n| n == file)?;
                Some((file.as_str(), *self.compiled.get(file)?.loops.get(i - first)?))
            })
            .unwrap_or((name, (1, 0)));
        let (message, key, value) = match overrun.limit {
            Limit::Output => (
                format!("template `{file}` writes more than {} when rendered", size_text(self.budget.max_output)),
                "max-output",
                size_text(self.budget.max_output),
            ),
            Limit::Time => (
                format!("template `{file}` takes longer than {:?} to render", self.budget.max_time),
                "max-render-time",
                format!("{:?}", self.budget.max_time),
            ),
        };
        let path = self.sources.get(file).cloned().unwrap_or_else(|| PathBuf::from(file));
        let d = Diagnostic::error("template/budget", message).help(format!(
            "does this loop run far more often than meant? The limit is `templates: {key}: {value}` in `letterpress.yaml`"
        ));
        let location = Location::new(path, line, col + 1);
        match self.texts.get(file) {
            Some(text) => d.at(location, text),
            None => d.in_file(location),
        }
    }

    /// Render the email of an issue for one context.
    pub fn email(&self, publication: &Publication, context: &EmailContext) -> Result<EmailBody, Diagnostic> {
        self.email_and_layout(publication, context).map(|(email, _)| email)
    }

    /// [`Templates::email`], and its HTML layout as rendered, before the CSS was inlined.
    pub fn email_and_layout(
        &self,
        publication: &Publication,
        context: &EmailContext,
    ) -> Result<(EmailBody, String), Diagnostic> {
        let names = Names::of(publication);
        let ctx = Context::from_serialize(context).map_err(|e| self.diagnostic(&e))?;
        let layout = self.render(names.email_html, &ctx)?;
        let text = self.render(names.email_text, &ctx)?;
        let css = self.render(names.email_css, &ctx)?;
        // The stylesheet is the output of a render, so a CSS parser's position is not one in the
        // project's file: the message names the template instead.
        let html = inline_css(&layout, &css)
            .map_err(|e| Diagnostic::error("template/css", format!("cannot inline `{}`: {e}", names.email_css)))?;
        let email = EmailBody {
            subject: context.issue.subject.clone(),
            preheader: context.preheader.clone(),
            html,
            text: normalise_text(&text),
        };
        Ok((email, layout))
    }

    /// The HTML layout (no stylesheet rendered, none inlined) and the plain text of the email for
    /// one context: what comparing two renders of the templates needs, at half the cost.
    pub fn email_layouts(
        &self,
        publication: &Publication,
        context: &EmailContext,
    ) -> Result<(String, String), Diagnostic> {
        let names = Names::of(publication);
        let ctx = Context::from_serialize(context).map_err(|e| self.diagnostic(&e))?;
        let layout = self.render(names.email_html, &ctx)?;
        let text = self.render(names.email_text, &ctx)?;
        Ok((layout, normalise_text(&text)))
    }

    /// Whether every template, read as written, only prints `subscriber.name` and
    /// `subscriber.attrs` (whole `{{ … }}` tags, no test, loop or filter on them), so that an
    /// email rendered with those values empty is the one rendered with them, the values left
    /// out. `false` means "not shown this way": render both and compare.
    pub fn only_print_subscriber_values(&self) -> bool {
        self.only_print_subscriber
    }

    /// The `subscriber.attrs.<column>` the templates name, sorted.
    pub fn attribute_names(&self) -> &[String] {
        &self.attribute_names
    }

    /// Render an archive page template with any serialisable context.
    pub fn page<T: Serialize>(&self, name: &str, context: &T) -> Result<String, Diagnostic> {
        let ctx = Context::from_serialize(context).map_err(|e| self.diagnostic(&e))?;
        self.render(name, &ctx)
    }

    /// Where template `name` comes from and its text: a project file, or `(built-in) <name>`.
    pub fn source(&self, name: &str) -> Option<(&Path, &str)> {
        Some((self.sources.get(name)?.as_path(), self.texts.get(name)?.as_str()))
    }

    /// Whether template `name` is one of the built-in defaults, not a project's file.
    pub fn is_built_in(&self, name: &str) -> bool {
        self.sources.get(name).is_some_and(|p| p.starts_with(format!("(built-in) {name}")))
    }

    fn diagnostic(&self, error: &tera::Error) -> Diagnostic {
        to_diagnostic(error, &self.sources, &self.texts, &self.compiled)
    }
}

/// A Tera instance with letterpress's escaping, filters and budget function.
fn engine() -> Tera {
    let mut tera = Tera::new();
    tera.autoescape_on([".html", ".htm", ".xml"]);
    tera.register_filter("wrap", wrap);
    tera.register_filter("underline", underline);
    tera.register_filter("page_title", page_title);
    budget::register(&mut tera);
    tera
}

/// `2 MB`, `64 KB`, `100 bytes`.
fn size_text(bytes: usize) -> String {
    match bytes {
        b if b >= 1024 * 1024 && b % (1024 * 1024) == 0 => format!("{} MB", b / (1024 * 1024)),
        b if b >= 1024 && b % 1024 == 0 => format!("{} KB", b / 1024),
        b => format!("{b} bytes"),
    }
}

/// Text files a template may be; images or editor backups in `templates/` are ignored.
fn is_template_file(dir: &Path, entry: &walkdir::DirEntry) -> bool {
    let hidden =
        entry.path().strip_prefix(dir).unwrap_or(entry.path()).components().any(|c| {
            c.as_os_str().to_string_lossy().starts_with('.') && c.as_os_str().len() > 1 && c.as_os_str() != ".."
        });
    let text = entry.path().extension().is_some_and(|e| ["html", "htm", "xml", "txt", "css"].iter().any(|t| e == *t));
    entry.file_type().is_file() && text && !hidden
}

/// The template names one publication uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Names<'a> {
    /// HTML email layout.
    pub email_html: &'a str,
    /// Text email layout.
    pub email_text: &'a str,
    /// Email stylesheet.
    pub email_css: &'a str,
    /// Archive page of one issue.
    pub page: &'a str,
}

impl<'a> Names<'a> {
    /// The names for `publication`, defaults where it does not override.
    pub fn of(publication: &'a Publication) -> Self {
        let t = &publication.templates;
        Self {
            email_html: t.email_html.as_deref().unwrap_or("email.html"),
            email_text: t.email_text.as_deref().unwrap_or("email.txt"),
            email_css: t.email_css.as_deref().unwrap_or("email.css"),
            page: t.page.as_deref().unwrap_or("page.html"),
        }
    }
}

/// Each override key of `templates:` with the template it names, if any.
fn overrides(publication: &Publication) -> [(&'static str, Option<&str>); 4] {
    let t = &publication.templates;
    [
        ("email-html", t.email_html.as_deref()),
        ("email-text", t.email_text.as_deref()),
        ("email-css", t.email_css.as_deref()),
        ("page", t.page.as_deref()),
    ]
}

/// The line mail clients take as the start of a signature, which they grey out or cut when
/// replying.
pub const SIGNATURE_SEPARATOR: &str = "-- ";

/// Trailing spaces off every line but a signature separator, at most one blank line in a row, one final newline.
fn normalise_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim_matches('\n').lines() {
        // The signature separator is `-- ` with its space (RFC 3676 §4.3).
        let line = if line == SIGNATURE_SEPARATOR { line } else { line.trim_end() };
        blank = if line.is_empty() { blank + 1 } else { 0 };
        if blank <= 1 {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The email context of an issue outside a send: no subscriber (its `attrs` the columns the
/// templates name, each empty), the site's unsubscribe page. The issue's `html` there is its
/// rendition for copies (see [`IssueView::email_html`]).
pub fn generic_context(
    config: &Config,
    templates: &Templates,
    publication: &Publication,
    mut issue: IssueView,
) -> EmailContext {
    issue.html = std::mem::take(&mut issue.email_html);
    let preheader = if issue.summary.is_empty() { issue.standfirst.clone() } else { issue.summary.clone() };
    EmailContext {
        site: SiteView::new(config),
        publication: PublicationView::new(config, publication),
        issue,
        subscriber: SubscriberView {
            attrs: templates.attribute_names().iter().map(|name| (name.clone(), String::new())).collect(),
            ..SubscriberView::default()
        },
        unsubscribe_url: config.site.unsubscribe(),
        preheader,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_separator_keeps_its_space() {
        assert_eq!(normalise_text("Body  \n\n\n-- \nFooter \n"), "Body\n\n-- \nFooter\n");
    }
}
