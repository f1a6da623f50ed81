//! The data templates see: view structs built from the domain types, never the types themselves.
//!
//! Every field here is documented for template authors in `docs/templates.md`; a snapshot test
//! pins the serialised context so a change to it is a deliberate one.

use serde::Serialize;

use crate::config::{Config, Publication};
use crate::content::Issue;
use crate::render::{Heading, Links, Rendered};

/// `site`: the whole project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteView {
    /// The site's title.
    pub title: String,
    /// Its description, or an empty string.
    pub description: String,
    /// Absolute base URL, ending with `/`.
    pub base_url: String,
    /// Absolute archive URL, ending with `/`.
    pub archive_url: String,
    /// Language tag, e.g. `en-GB`.
    pub language: String,
}

/// `publication`: the newsletter an issue belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicationView {
    /// Slug, e.g. `commissioner`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Archive URL of the publication's index page.
    pub url: String,
    /// Atom feed URL.
    pub feed_url: String,
    /// Sender mailbox as configured.
    pub from: String,
    /// Whether links in its emails are counted in aggregate (`clicks: true`): the default
    /// footer then says so.
    pub clicks: bool,
}

/// A link in `issue.related`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkView {
    /// Link text.
    pub title: String,
    /// Absolute URL.
    pub url: String,
}

/// `issue`: one issue, rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueView {
    /// `publication/slug`.
    pub id: String,
    /// Headline.
    pub title: String,
    /// Email subject.
    pub subject: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The date for people, e.g. `9 December 2016`.
    pub date_display: String,
    /// Byline, or an empty string.
    pub author: String,
    /// Strapline, or an empty string.
    pub standfirst: String,
    /// Summary (preheader), or an empty string.
    pub summary: String,
    /// Tags.
    pub tags: Vec<String>,
    /// `draft` or `ready`.
    pub status: String,
    /// Absolute URL of the issue's archive page ("view in browser").
    pub url: String,
    /// Related coverage, links resolved.
    pub related: Vec<LinkView>,
    /// Section headings.
    pub headings: Vec<Heading>,
    /// The body as sanitised HTML (use `| safe`): in email templates the rendition for copies
    /// (footnotes link to the archive page, images sized for the email column), in archive
    /// pages the page's own.
    pub html: String,
    /// The rendition for copies, which [`crate::template::generic_context`] puts in `html`.
    #[serde(skip)]
    pub email_html: String,
    /// The body as plain text, wrapped at 72 columns.
    pub text: String,
}

/// `subscriber`: who the message is for. In the archive and previews it is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubscriberView {
    /// Address.
    pub email: String,
    /// Name, or an empty string.
    pub name: String,
    /// Other CSV columns, by header.
    pub attrs: std::collections::BTreeMap<String, String>,
}

impl SiteView {
    /// The site view of a configuration.
    pub fn new(config: &Config) -> Self {
        let site = &config.site;
        Self {
            title: site.title.clone(),
            description: site.description.clone().unwrap_or_default(),
            base_url: site.base(),
            archive_url: site.archive(),
            language: site.language.clone(),
        }
    }
}

impl PublicationView {
    /// The view of one publication.
    pub fn new(config: &Config, publication: &Publication) -> Self {
        let url = format!("{}{}/", config.site.archive(), publication.slug);
        Self {
            slug: publication.slug.clone(),
            name: publication.name.clone(),
            description: publication.description.clone(),
            feed_url: format!("{url}atom.xml"),
            url,
            from: publication.from.clone(),
            clicks: publication.clicks,
        }
    }
}

impl IssueView {
    /// The view of a rendered issue (which it takes; its diagnostics are not part of it).
    /// Related links that cannot be resolved are left as written (`check` reports them); those
    /// whose URL may not be a link at all ([`crate::href::judge`]) are left out, so no template
    /// can make them an `href`.
    pub fn new(issue: &Issue, rendered: Rendered, links: &Links) -> Self {
        let front = &issue.front;
        Self {
            id: issue.id(),
            title: front.title.clone(),
            subject: issue.subject().to_owned(),
            date: issue.date.to_string(),
            date_display: issue.date.strftime("%-d %B %Y").to_string(),
            author: front.author.clone().unwrap_or_default(),
            standfirst: front.standfirst.clone().unwrap_or_default(),
            summary: front.summary.clone().unwrap_or_default(),
            tags: front.tags.clone(),
            status: match front.status {
                crate::content::Status::Draft => "draft",
                crate::content::Status::Ready => "ready",
            }
            .to_owned(),
            url: links.issue_url(issue),
            related: front
                .related
                .iter()
                .filter(|r| crate::href::is_allowed(&r.url.value))
                .map(|r| LinkView {
                    title: r.title.clone(),
                    url: links.resolve(&r.url.value).unwrap_or_else(|_| r.url.value.clone()),
                })
                .collect(),
            headings: rendered.headings,
            html: fitted(rendered.html),
            email_html: fitted(rendered.email_html),
            text: fitted(rendered.text),
        }
    }
}

/// `text` holding no more memory than it needs: a `build` keeps every issue's view until the
/// archive is written, and the renderers' buffers grow by doubling.
fn fitted(mut text: String) -> String {
    text.shrink_to_fit();
    text
}
