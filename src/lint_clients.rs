//! `lint/email-support`: what the major email clients do not support in an issue's final email.
//!
//! Enters: the final HTML of an email (templated, CSS inlined) and the templates it came from.
//! Leaves: one diagnostic per feature per template, naming the clients (Gmail web and mobile,
//! Outlook for Windows, Apple Mail, Yahoo) whose latest caniemail result is "not supported", at
//! the feature's first use in the project's template, or the issue when its body brought it.
//! Rules inside `@media` blocks are progressive enhancements, so each at-rule gets one info line
//! and what it contains is not judged. The built-in templates are not reported: the validator
//! tests hold them to these clients.
//!
//! The support data is caniemail's (MIT), slimmed and vendored under `data/caniemail/`, parsed
//! once on first use.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::diagnostic::{Diagnostic, LineIndex, Location};

/// The diagnostic code of this lint.
pub const CODE: &str = "lint/email-support";

#[derive(Debug, Deserialize)]
struct Data {
    clients: BTreeMap<String, String>,
    features: Vec<Feature>,
}

#[derive(Debug, Deserialize)]
struct Feature {
    slug: String,
    title: String,
    /// Latest result per client id, when not plain support: `n` (not supported), `a` (partial),
    /// `u` (unknown), each maybe followed by note numbers.
    support: BTreeMap<String, String>,
}

/// The vendored data, by slug; empty (and the lint silent) should it ever fail to parse, which
/// a unit test rules out.
static DATA: LazyLock<(Data, HashMap<String, usize>)> = LazyLock::new(|| {
    let data: Data = serde_json::from_str(include_str!("../data/caniemail/caniemail.json"))
        .unwrap_or(Data { clients: BTreeMap::new(), features: Vec::new() });
    let index = data.features.iter().enumerate().map(|(i, f)| (f.slug.clone(), i)).collect();
    (data, index)
});

/// Elements every email has, whatever clients make of them.
const STRUCTURAL: &[&str] = &["html-doctype", "html-body", "html-style"];

/// Elements caniemail groups as "HTML5 semantics".
const SEMANTIC: &[&str] = &[
    "article",
    "aside",
    "details",
    "figcaption",
    "figure",
    "footer",
    "header",
    "main",
    "mark",
    "nav",
    "section",
    "summary",
    "time",
];

/// A feature used in the email: its slug and the text to look for in a template to locate it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Use {
    slug: String,
    needle: String,
    /// In a declaration block with `mso-hide: all`, which Outlook for Windows does not show.
    hidden_in_outlook: bool,
}

impl Use {
    fn new(slug: impl Into<String>, needle: impl Into<String>) -> Self {
        Self { slug: slug.into(), needle: needle.into(), hidden_in_outlook: false }
    }
}

/// The templates an email was made from, to locate what it uses.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// `(path as shown, text, built-in?)` of the HTML template and of the stylesheet.
    pub templates: [(&'a Path, &'a str, bool); 2],
    /// The issue: where features the templates do not contain came from.
    pub issue: &'a crate::content::Issue,
}

/// Lint the final HTML of an email.
pub fn lint(html: &str, sources: &Sources<'_>) -> Vec<Diagnostic> {
    let (data, index) = &*DATA;
    let (uses, media) = scan(html);
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut lowered = None;
    for (found, in_media) in uses.iter().map(|u| (u, false)).chain(media.iter().map(|u| (u, true))) {
        let Some(feature) = index.get(&found.slug).and_then(|&i| data.features.get(i)) else { continue };
        if STRUCTURAL.contains(&found.slug.as_str()) || seen.contains(&found.slug) {
            continue;
        }
        let clients: Vec<&str> = feature
            .support
            .iter()
            .filter(|(id, result)| result.starts_with('n') && !(found.hidden_in_outlook && *id == "outlook.windows"))
            .filter_map(|(id, _)| data.clients.get(id).map(String::as_str))
            .collect();
        if clients.is_empty() {
            continue;
        }
        seen.insert(&found.slug);
        let lowered = lowered.get_or_insert_with(|| Lowered::of(sources));
        let Some(location) = locate(&found.needle, sources, lowered) else { continue };
        let list = clients.join(", ");
        let diagnostic = if in_media {
            Diagnostic::info(CODE, format!("`{}` is ignored by {list}", feature.title))
                .help("those clients show the layout without these rules; check it reads well")
        } else {
            Diagnostic::warning(CODE, format!("`{}` is not supported by {list}", feature.title))
                .help(format!("see https://www.caniemail.com/features/{}/ for what to use instead", feature.slug))
        };
        out.push(match location {
            (location, Some(text)) => diagnostic.at(location, text),
            (location, None) => diagnostic.in_file(location),
        });
    }
    out
}

/// The texts of [`Sources`] in ASCII lowercase, made once per email (when a feature needs
/// locating), not once per feature.
struct Lowered {
    templates: [String; 2],
    /// Made when a feature is not in the templates, which is rare.
    issue: std::cell::OnceCell<String>,
}

impl Lowered {
    fn of(sources: &Sources<'_>) -> Self {
        Self {
            templates: sources.templates.map(|(_, text, _)| text.to_ascii_lowercase()),
            issue: std::cell::OnceCell::new(),
        }
    }
}

/// Where `needle` first appears in the project's templates, else the issue; `None` when it is
/// in a built-in template.
fn locate<'a>(needle: &str, sources: &Sources<'a>, lowered: &Lowered) -> Option<(Location, Option<&'a str>)> {
    for ((path, text, built_in), lower) in sources.templates.into_iter().zip(&lowered.templates) {
        if let Some(offset) = lower.find(needle) {
            if built_in {
                return None;
            }
            let (line, col) = LineIndex::new(text).position(text, offset);
            return Some((Location::new(path, line, col), Some(text)));
        }
    }
    let issue = sources.issue;
    let offset = lowered.issue.get_or_init(|| issue.text.to_ascii_lowercase()).find(needle.trim_start_matches('<'));
    let (line, col) = match offset {
        Some(offset) => LineIndex::new(&issue.text).position(&issue.text, offset),
        None => (issue.body_start_line, 1),
    };
    Some((issue.location(line, col), Some(issue.text.as_str())))
}

/// The features `html` uses outside `@media` blocks, and the at-rules of those blocks.
fn scan(html: &str) -> (Vec<Use>, Vec<Use>) {
    let mut uses = Vec::new();
    let mut media = Vec::new();
    // Inlined CSS repeats the same few tags, attributes and style values thousands of times:
    // each is looked at once, and only a tag name not seen yet is copied.
    let mut names: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut attribute_names = std::collections::HashSet::new();
    let mut styles = std::collections::HashSet::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        if let Some(comment) = rest.strip_prefix("!--") {
            rest = comment.split_once("-->").map_or("", |(_, after)| after);
            continue;
        }
        let end = tag_end(rest);
        let tag = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
        if tag.starts_with(['/', '!', '?']) {
            continue;
        }
        let name = &tag[..tag.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(tag.len())];
        if name.is_empty() {
            continue;
        }
        let lowered;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = name.to_ascii_lowercase();
            lowered.as_str()
        } else {
            name
        };
        if !names.contains(name) {
            names.insert(name.to_owned());
            element(name, &mut uses);
        }
        for (attribute, value) in attributes(&tag[name.len()..]) {
            let fresh = if attribute.eq_ignore_ascii_case("style") {
                styles.insert(value)
            } else {
                attribute_names.insert(attribute)
            };
            if !fresh {
                continue;
            }
            let attribute = attribute.to_ascii_lowercase();
            if attribute == "style" {
                declarations(value, &mut uses);
            } else if !attribute.starts_with("data-") {
                uses.push(Use::new(format!("html-{attribute}"), format!(" {attribute}=")));
            }
        }
        if name == "style" {
            let (css, after) = rest.split_once("</style>").unwrap_or((rest, ""));
            stylesheet(css, &mut uses, &mut media);
            rest = after;
        }
    }
    (uses, media)
}

fn element(name: &str, uses: &mut Vec<Use>) {
    let slug = match name {
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => "html-h1-h6".to_owned(),
        "ul" | "ol" | "li" | "dl" | "dt" | "dd" => "html-lists".to_owned(),
        "table" | "tr" | "td" | "th" | "thead" | "tbody" | "tfoot" => "html-table".to_owned(),
        _ if SEMANTIC.contains(&name) => "html-semantics".to_owned(),
        _ => format!("html-{name}"),
    };
    uses.push(Use::new(slug, format!("<{name}")));
}

/// The end of a tag that starts at `text`: the first `>` outside quotes.
fn tag_end(text: &str) -> usize {
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return i,
            _ => {}
        }
    }
    text.len()
}

/// The attributes of a tag (names as written, values unquoted).
fn attributes(mut text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    loop {
        text = text.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        let name_len = text.find(|c: char| c.is_whitespace() || c == '=' || c == '/').unwrap_or(text.len());
        if name_len == 0 {
            return out;
        }
        let name = &text[..name_len];
        text = text[name_len..].trim_start();
        let mut value = "";
        if let Some(after) = text.strip_prefix('=') {
            let after = after.trim_start();
            let (v, rest) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => after[1..].split_once(q).unwrap_or((&after[1..], "")),
                _ => after.split_at(after.find(char::is_whitespace).unwrap_or(after.len())),
            };
            value = v;
            text = rest;
        }
        out.push((name, value));
    }
}

/// The features of `property: value; …` declarations.
fn declarations(css: &str, uses: &mut Vec<Use>) {
    let hidden_in_outlook = contains_folded(css, "mso-hide:all");
    let from = uses.len();
    for declaration in css.split(';') {
        let Some((property, value)) = declaration.split_once(':') else { continue };
        let property = lowercase(property.trim());
        if property.is_empty() || property.starts_with("mso-") || property.starts_with('-') {
            continue;
        }
        let value = value.trim();
        if property == "display" {
            for special in ["none", "flex", "grid"] {
                if value.get(..special.len()).is_some_and(|v| v.eq_ignore_ascii_case(special)) {
                    uses.push(Use::new(format!("css-display-{special}"), "display:"));
                }
            }
        }
        if value.as_bytes().windows(b"!important".len()).any(|w| w.eq_ignore_ascii_case(b"!important")) {
            uses.push(Use::new("css-important", "!important"));
        }
        uses.push(Use::new(format!("css-{property}"), format!("{property}:")));
    }
    for found in &mut uses[from..] {
        found.hidden_in_outlook = hidden_in_outlook;
    }
}

/// `text` in ASCII lowercase, copied only when it has an uppercase letter.
fn lowercase(text: &str) -> std::borrow::Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(text.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Whether `text`, in ASCII lowercase and without its whitespace, contains `pattern` (ASCII
/// lowercase, no whitespace, and no proper prefix of it ends it again: its first character
/// occurs once). The same as lowercasing and stripping a copy of `text` and searching it,
/// without the copy.
fn contains_folded(text: &str, pattern: &str) -> bool {
    let pattern = pattern.as_bytes();
    let at = |i: usize| pattern.get(i).map(|&b| char::from(b));
    let mut matched = 0;
    for c in text.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_lowercase()) {
        if at(matched) == Some(c) {
            matched += 1;
            if matched == pattern.len() {
                return true;
            }
        } else {
            matched = usize::from(at(0) == Some(c));
        }
    }
    false
}

/// The features of a `<style>` block: top-level rules' declarations in `uses`, at-rules in
/// `media`.
fn stylesheet(css: &str, uses: &mut Vec<Use>, media: &mut Vec<Use>) {
    let mut rest = css;
    while let Some(open) = rest.find('{') {
        let prelude = rest[..open].trim();
        let body_start = open + 1;
        if let Some(at_rule) = prelude.strip_prefix('@') {
            let name: String = at_rule.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            let lower = at_rule.to_ascii_lowercase();
            let slug = if name == "media" && lower.contains("prefers-color-scheme") {
                "css-at-media-prefers-color-scheme".to_owned()
            } else {
                format!("css-at-{name}")
            };
            let needle = if slug.ends_with("prefers-color-scheme") { "prefers-color-scheme" } else { "@media" };
            media.push(Use::new(slug, if name == "media" { needle.to_owned() } else { format!("@{name}") }));
            // Skip the whole block, nested rules and all.
            let mut depth = 1;
            let mut end = rest.len();
            for (i, c) in rest[body_start..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = body_start + i + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            rest = &rest[end.min(rest.len())..];
        } else {
            let (body, after) = rest[body_start..].split_once('}').unwrap_or((&rest[body_start..], ""));
            declarations(body, uses);
            rest = after;
        }
    }
}

#[cfg(test)]
mod tests;
