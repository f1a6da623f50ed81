//! The sanitiser's output without running the sanitiser, for fragments it would not change.
//!
//! ammonia parses a fragment with html5ever, drops what its rules refuse and serialises the
//! tree again: about a sixth of an issue's render. When the Markdown holds no raw HTML of the
//! author's, no heading attribute the rules drop and no URL they refuse ([`is_plain`]), every
//! element and attribute pulldown-cmark writes is one the sanitiser keeps, so its output differs
//! from pulldown-cmark's only in how the same tree is written: void tags without ` /`,
//! references written the way html5ever writes them (`'` bare, U+00A0 as `&nbsp;`), line ends
//! as the parser reads them, and a `text-align` style without its space. [`serialise`] writes
//! exactly that. A property test holds the two paths together byte for byte, and anything
//! [`is_plain`] cannot vouch for goes through ammonia as before.

use pulldown_cmark::{Event, LinkType, Tag, TagEnd};

/// Whether ammonia would keep every element and attribute pulldown-cmark writes for `events`
/// as it is: no raw HTML, no heading attributes besides its id and classes, every link and
/// image URL one the sanitiser's URL rules keep, and no link inside a link (an autolink in a
/// link's text, or a footnote reference, which becomes one), which an HTML parser closes early.
pub(super) fn is_plain(events: &[Event<'_>]) -> bool {
    let mut links = 0usize;
    events.iter().all(|event| match event {
        Event::Html(_) | Event::InlineHtml(_) => false,
        Event::Start(Tag::Heading { attrs, .. }) => attrs.is_empty(),
        Event::Start(Tag::Link { .. }) | Event::FootnoteReference(_) if links > 0 => false,
        Event::Start(Tag::Link { link_type, dest_url, .. }) => {
            links += 1;
            match link_type {
                LinkType::Email => url_is_kept(&format!("mailto:{}", href(dest_url))),
                _ => url_is_kept(&href(dest_url)),
            }
        }
        Event::End(TagEnd::Link) => {
            links = links.saturating_sub(1);
            true
        }
        Event::Start(Tag::Image { dest_url, .. }) => url_is_kept(&href(dest_url)),
        _ => true,
    })
}

/// The attribute value an HTML parser reads from pulldown-cmark's `href` or `src` for `url`:
/// its escaping undone (it writes `&amp;` and `&#x27;`, and percent-encodes the rest).
fn href(url: &str) -> String {
    let mut escaped = String::with_capacity(url.len());
    // Writing into a String cannot fail.
    let _ = pulldown_cmark_escape::escape_href(&mut escaped, url);
    escaped.replace("&#x27;", "'").replace("&amp;", "&")
}

/// ammonia's URL rule as [`super::SANITISER`] sets it: our link rule, then an absolute URL's
/// scheme among [`super::URL_SCHEMES`], or a relative URL.
fn url_is_kept(value: &str) -> bool {
    if !crate::href::is_allowed(value) {
        return false;
    }
    match url::Url::parse(value) {
        Ok(url) => super::URL_SCHEMES.contains(&url.scheme()),
        Err(error) => error == url::ParseError::RelativeUrlWithoutBase,
    }
}

/// pulldown-cmark's HTML for events [`is_plain`] accepts, written as the sanitiser writes it;
/// `None` for HTML with a NUL, which html5ever drops or replaces depending on where it is.
///
/// pulldown-cmark escapes `<` in text and attribute values, so a `<` always opens a tag, and it
/// double-quotes every attribute value.
pub(super) fn serialise(raw: &str) -> Option<String> {
    if raw.contains('\0') {
        return None;
    }
    let mut out = String::with_capacity(raw.len() + raw.len() / 32);
    let mut rest = raw;
    while let Some(start) = rest.find('<') {
        text(&rest[..start], &mut out);
        rest = &rest[start..];
        let end = super::tag_end(rest);
        tag(&rest[..end], &mut out);
        rest = &rest[end..];
    }
    text(rest, &mut out);
    Some(out)
}

/// Text between tags: html5ever writes U+00A0 as `&nbsp;` and reads CR and CR LF as LF.
fn text(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(i) = rest.find(['\u{a0}', '\r']) {
        out.push_str(&rest[..i]);
        if rest[i..].starts_with('\r') {
            out.push('\n');
            rest = rest[i + 1..].strip_prefix('\n').unwrap_or(&rest[i + 1..]);
        } else {
            out.push_str("&nbsp;");
            rest = &rest[i + '\u{a0}'.len_utf8()..];
        }
    }
    out.push_str(rest);
}

/// One tag through its `>`: a void tag loses its ` /`, attribute values are written as
/// html5ever writes them, and a `text-align` style as ammonia's style filter writes it.
fn tag(tag: &str, out: &mut String) {
    let (body, close) = match tag.strip_suffix(" />") {
        Some(body) => (body, ">"),
        None => (tag, ""),
    };
    let mut rest = body;
    while let Some(open) = rest.find("=\"") {
        let value_start = open + 2;
        let Some(len) = rest[value_start..].find('"') else { break };
        out.push_str(&rest[..value_start]);
        attribute(&rest[value_start..value_start + len], rest[..open].ends_with(" style"), out);
        rest = &rest[value_start + len..];
    }
    out.push_str(rest);
    out.push_str(close);
}

/// An attribute value as pulldown-cmark escapes it, written as html5ever writes it: `&#39;`
/// and `&#x27;` as `'`, U+00A0 as `&nbsp;`, CR and CR LF as LF; a style's `prop: value` as
/// `prop:value`.
fn attribute(value: &str, is_style: bool, out: &mut String) {
    if !is_style && !value.contains(['&', '\u{a0}', '\r']) {
        out.push_str(value);
        return;
    }
    let value = if is_style { value.replacen(": ", ":", 1) } else { value.to_owned() };
    text(&value.replace("&#39;", "'").replace("&#x27;", "'"), out);
}
