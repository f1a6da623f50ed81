//! A publication's Atom feed, with full content.

use atom_syndication::{Content, Entry as AtomEntry, Feed, Link, Person, Text};

use super::pages::Entry;
use crate::config::Publication;
use crate::content::Issue;
use crate::template::view::{PublicationView, SiteView};

/// A valid Atom feed of a publication, newest first, with full HTML content, authored by the
/// publication where an issue names no `author`. `updated` comes
/// from the issues themselves, never the clock, so the feed is reproducible.
///
/// Written into a buffer reserved up front for the escaped content (twice its length, and room
/// for the rest), not one grown by doubling, which copies the feed at each step. A feed that
/// cannot be written is an error, not an empty file.
pub(super) fn atom(
    site: &SiteView,
    publication: &Publication,
    view: &PublicationView,
    entries: &[Entry<'_>],
) -> Result<Vec<u8>, atom_syndication::Error> {
    let stamp = |issue: &Issue| {
        let day = issue.date.to_zoned(jiff::tz::TimeZone::UTC).map_or(0, |z| z.timestamp().as_second());
        chrono::DateTime::from_timestamp(day, 0).unwrap_or_default().fixed_offset()
    };
    let updated = entries.iter().map(|e| stamp(e.issue)).max().unwrap_or_default();
    let link = |href: &str, rel: &str, mime: &str| Link {
        href: href.to_owned(),
        rel: rel.to_owned(),
        mime_type: Some(mime.to_owned()),
        ..Link::default()
    };
    let items = entries
        .iter()
        .rev()
        .map(|e| {
            let v = &e.rendered.view;
            AtomEntry {
                id: v.url.clone(),
                title: Text::plain(v.title.clone()),
                updated: stamp(e.issue),
                published: Some(stamp(e.issue)),
                authors: (!v.author.is_empty())
                    .then(|| Person { name: v.author.clone(), ..Person::default() })
                    .into_iter()
                    .collect(),
                links: vec![link(&v.url, "alternate", "text/html")],
                summary: (!v.summary.is_empty()).then(|| Text::plain(v.summary.clone())),
                content: Some(Content {
                    value: Some(v.email_html.clone()),
                    content_type: Some("html".to_owned()),
                    ..Content::default()
                }),
                ..AtomEntry::default()
            }
        })
        .collect();
    let feed = Feed {
        id: view.url.clone(),
        title: Text::plain(publication.name.clone()),
        subtitle: (!publication.description.is_empty()).then(|| Text::plain(publication.description.clone())),
        // RFC 4287 §4.1.1: an entry without an author takes the feed's, and one is required.
        authors: vec![Person { name: publication.name.clone(), ..Person::default() }],
        updated,
        links: vec![link(&view.feed_url, "self", "application/atom+xml"), link(&view.url, "alternate", "text/html")],
        lang: Some(site.language.clone()),
        entries: items,
        ..Feed::default()
    };
    let content: usize = entries.iter().map(|e| e.rendered.view.email_html.len() + 1024).sum();
    feed.write_to(Vec::with_capacity(content.saturating_mul(2).saturating_add(64 * 1024)))
}
