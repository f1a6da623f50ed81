//! One issue's preview page and its parts (`email.html`, `email.txt`, `message.eml`).
//!
//! Enters: a [`Snapshot`], the issue's `publication/slug` and the optional "view as" address.
//! Leaves: a [`Page`]: the issue page (the email exactly as sent in an iframe, subject, from,
//! preheader, the text part, the raw message, the size against Gmail's clip, the delivery state
//! with a banner once a send has begun, and the `check` diagnostics), one part byte for byte,
//! or the error overlay when the issue cannot be rendered.
//!
//! A request uses the snapshot's one check of the issue (rendered once per edit) and composes
//! at most one message: the chosen subscriber's (its bodies shown, its bytes the `.eml`), or the
//! stand-in recipient's when the raw message is shown for nobody in particular.

use serde::Serialize;

use super::email::{self, Size};
use super::index;
use super::live::{Checked, Snapshot};
use super::pages::{DiagnosticView, Page, Ui};
use crate::config::Publication;
use crate::content::Issue;
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::template::EmailBody;
use crate::template::view::SubscriberView;

/// A part of an issue served on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The HTML email, exactly as sent.
    Html,
    /// The plain-text email.
    Text,
    /// The raw message, as a send composes it.
    Eml,
}

impl Part {
    /// The part a URL's last segment names.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "email.html" => Some(Self::Html),
            "email.txt" => Some(Self::Text),
            "message.eml" => Some(Self::Eml),
            _ => None,
        }
    }
}

/// Everything known about one issue for one recipient.
struct Prepared<'a> {
    project: &'a crate::project::Project,
    issue: &'a Issue,
    publication: &'a Publication,
    checked: Checked,
    lists: Vec<String>,
    choices: Vec<SubscriberView>,
    subscriber: Option<SubscriberView>,
    email: EmailBody,
    /// The raw message (or why it cannot be composed), when asked for.
    eml: Option<String>,
    /// The editions of an issue with regional blocks (none without), the shown one selected.
    editions: Vec<Choice>,
    /// The edition asked for by `?edition=`, when one was.
    edition: Option<String>,
}

/// What the issue page shows.
#[derive(Debug, Serialize)]
struct IssuePage<'a> {
    issue: IssueSummary<'a>,
    publication: &'a str,
    email: EmailSummary<'a>,
    from: &'a str,
    reply_to: Option<&'a str>,
    to: String,
    send_at: String,
    delivery: super::delivery::DeliveryView,
    clicks: Option<super::clicks::ClicksView>,
    audience: String,
    audience_note: String,
    size: Size,
    diagnostics: Vec<DiagnosticView>,
    choices: Vec<Choice>,
    editions: Vec<Choice>,
    eml: String,
    email_src: String,
    text_src: String,
    eml_src: String,
}

/// The issue itself, in the page's heading.
#[derive(Debug, Serialize)]
struct IssueSummary<'a> {
    title: &'a str,
    slug: &'a str,
    status: &'static str,
}

/// The email's headers and text part.
#[derive(Debug, Serialize)]
struct EmailSummary<'a> {
    subject: &'a str,
    preheader: &'a str,
    text: &'a str,
}

/// One choice in the "view as" or the edition selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct Choice {
    pub(super) value: String,
    pub(super) label: String,
    pub(super) selected: bool,
}

/// Load, check and personalise an issue, or the page to show instead. The message is
/// composed once: for the subscriber when one is chosen, else only when `eml` is wanted.
fn prepare<'a>(
    ui: &Ui,
    snapshot: &'a Snapshot,
    (id, (as_, edition)): (&str, (Option<&str>, Option<&str>)),
    eml: bool,
    clock: &crate::clock::Clock,
    env: &crate::env::Env,
) -> Result<Prepared<'a>, Page> {
    let project = ui.project(snapshot)?;
    let issue = project.find(id).map_err(|e| match e {
        Error::Invalid(diagnostics) => ui.overlay(snapshot, "This issue cannot be loaded", &diagnostics),
        _ => ui.missing(snapshot, &format!("there is no issue `{id}`")),
    })?;
    let publication = project
        .config
        .publication(&issue.publication)
        .ok_or_else(|| ui.missing(snapshot, &format!("there is no publication `{}`", issue.publication)))?;
    let checked = snapshot.check(project, issue);
    let Some(rendered) = checked.output() else {
        return Err(ui.overlay(snapshot, "This issue cannot be rendered", &index::errors(&checked.diagnostics)));
    };
    let lists = super::audience::issue_lists(project, issue);
    let choices = match snapshot.reach(&lists, project.audience_of(issue).as_ref()) {
        Some(Ok(reach)) if !reach.recipients.is_empty() => reach.recipients,
        _ => vec![email::sample_subscriber()],
    };
    let subscriber = match as_.filter(|a| !a.is_empty()) {
        None => None,
        Some(address) => Some(choices.iter().find(|s| s.email == address).cloned().ok_or_else(|| {
            ui.missing(snapshot, &format!("`{address}` is not among the recipients offered for `{id}`"))
        })?),
    };
    let composed = (eml || subscriber.is_some()).then(|| {
        let to = subscriber.clone().unwrap_or_else(email::sample_subscriber);
        email::compose(project, &checked, &to, lists.first(), clock.now(), env)
    });
    // For a subscriber, the bodies are those of the message a send composes for them (decoded).
    // Not located: composing fails on the project as a whole (the sender, a list), and the
    // reason comes as a sentence that names what is wrong.
    let email = match (&subscriber, &composed) {
        (Some(_), Some(Err(why))) => {
            let why = [Diagnostic::error("compose", why.to_string())];
            return Err(ui.overlay(snapshot, "This issue cannot be composed", &why));
        }
        (Some(_), Some(Ok(c))) => EmailBody { html: c.html.clone(), text: c.text.clone(), ..rendered.email.clone() },
        _ => rendered.email.clone(),
    };
    let eml = composed.map(|c| c.map_or_else(|why| why.to_string(), |c| c.eml));
    let (editions, email) = super::editions::choose(project, &checked, subscriber.as_ref(), edition, email)
        .map_err(|why| ui.missing(snapshot, &why))?;
    let edition = edition.filter(|e| !e.is_empty() && subscriber.is_none()).map(str::to_owned);
    Ok(Prepared { project, issue, publication, checked, lists, choices, subscriber, email, eml, editions, edition })
}

/// The issue page of `id` (`publication/slug`), as `as_` when given.
pub fn page(
    ui: &Ui,
    snapshot: &Snapshot,
    id: &str,
    shown: (Option<&str>, Option<&str>),
    clock: &crate::clock::Clock,
    env: &crate::env::Env,
) -> Page {
    let p = match prepare(ui, snapshot, (id, shown), true, clock, env) {
        Ok(prepared) => prepared,
        Err(page) => return page,
    };
    let query = match (&p.subscriber, &p.edition) {
        (Some(s), _) => format!("?as={}", encode(&s.email)),
        (None, Some(edition)) => format!("?edition={}", encode(edition)),
        (None, None) => String::new(),
    };
    let base = format!("/issue/{}/{}/", p.issue.publication, p.issue.slug);
    let selected = p.subscriber.as_ref().map_or("", |s| s.email.as_str());
    let choices: Vec<Choice> = std::iter::once(Choice {
        value: String::new(),
        label: "Nobody (as in the archive)".to_owned(),
        selected: selected.is_empty(),
    })
    .chain(p.choices.iter().map(|s| Choice {
        value: s.email.clone(),
        label: email::mailbox_text(s),
        selected: s.email == selected,
    }))
    .collect();
    let to = p
        .subscriber
        .as_ref()
        .map_or_else(|| "each subscriber (choose one with “View as”)".to_owned(), email::mailbox_text);
    let (audience, audience_note) = index::audience_cell(snapshot, &p.lists, p.project.audience_of(p.issue).as_ref());
    let context = IssuePage {
        issue: IssueSummary {
            title: &p.issue.front.title,
            slug: &p.issue.slug,
            status: index::status(p.issue.front.status),
        },
        publication: &p.publication.name,
        email: EmailSummary { subject: &p.email.subject, preheader: &p.email.preheader, text: &p.email.text },
        from: &p.publication.from,
        reply_to: p.publication.reply_to.as_deref(),
        to,
        send_at: index::send_at(p.project, p.issue),
        delivery: super::delivery::of(&super::delivery::read(&snapshot.store), &p.issue.id()),
        clicks: super::clicks::of_issue(&snapshot.store, &p.issue.id()),
        audience,
        audience_note,
        size: Size::of(&p.email.html),
        diagnostics: p.checked.diagnostics.iter().map(DiagnosticView::new).collect(),
        choices,
        editions: p.editions,
        eml: p.eml.unwrap_or_default(),
        email_src: format!("{base}email.html{query}"),
        text_src: format!("{base}email.txt{query}"),
        eml_src: format!("{base}message.eml{query}"),
    };
    Page::html(ui.render("issue.html", snapshot, &context))
}

/// One part of the issue `id`, byte for byte.
pub fn part(
    ui: &Ui,
    snapshot: &Snapshot,
    id: &str,
    shown: (Option<&str>, Option<&str>),
    part: Part,
    clock: &crate::clock::Clock,
    env: &crate::env::Env,
) -> Page {
    let p = match prepare(ui, snapshot, (id, shown), part == Part::Eml, clock, env) {
        Ok(prepared) => prepared,
        Err(page) => return page,
    };
    let text = |body: String| Page { content_type: "text/plain; charset=utf-8", ..Page::html(body) };
    match part {
        Part::Html => Page::html(super::pages::localise(p.project, &p.email.html)),
        Part::Text => text(p.email.text),
        Part::Eml => text(p.eml.unwrap_or_default()),
    }
}

/// Percent-encode a query value.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
