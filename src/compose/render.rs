//! The marked render: an issue's email rendered once with markers in the personalisation slots,
//! and the checks that make filling them in per message equivalent to rendering per message.
//!
//! Enters: the project, the checked issue (its template view: the Markdown is not parsed
//! again), its publication and the attribute columns. Leaves: [`Parts`] (the subject and both
//! layouts split at their slots) and the issue's content hash.

use sha2::{Digest as _, Sha256};

use super::invalid;
use super::slots::{self, EMAIL, FIRST_ATTR, Split, UNSUBSCRIBE};
use crate::checked::CheckedIssue;
use crate::config::Publication;
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::project::Project;
use crate::template::{self, Names};
use crate::token::hex;

/// An issue's email with the slots unfilled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parts {
    /// The subject (no slots).
    pub subject: String,
    /// The plain-text layout.
    pub text: Split,
    /// The HTML layout, CSS inlined.
    pub html: Split,
}

impl Parts {
    /// Render the email with markers, split both layouts at them, and check that the templates
    /// only print subscriber values: rendered again with empty names and attributes, the email
    /// must be the marked one without those slots (whitespace aside), so no `if` or filter
    /// depends on them. A list send (not `test_send`) must show `unsubscribe_url` in both
    /// layouts.
    pub(crate) fn render(
        project: &Project,
        checked: &CheckedIssue,
        publication: &Publication,
        columns: &[String],
        test_send: bool,
    ) -> Result<Self, Error> {
        let issue = &checked.issue;
        let view = match &checked.rendered {
            Ok(rendered) => &rendered.view,
            Err(unrendered) => {
                unrendered.view.as_ref().ok_or_else(|| Error::Invalid(vec![unrendered.error.clone()]))?
            }
        };
        let mut context = template::generic_context(&project.config, &project.templates, publication, view.clone());
        context.unsubscribe_url = slots::marker(UNSUBSCRIBE);
        context.subscriber = slots::marked_subscriber(columns);
        let failed = |d| Error::Invalid(vec![d]);
        let (marked, marked_layout) = project.templates.email_and_layout(publication, &context).map_err(failed)?;
        // When the templates' source shows they only print names and attributes, the render
        // with those values empty is known without making it.
        let plain = if project.templates.only_print_subscriber_values() {
            None
        } else {
            context.subscriber.name.clear();
            context.subscriber.attrs.values_mut().for_each(String::clear);
            // The comparison needs no stylesheet: the layouts as rendered differ exactly where the
            // inlined ones would (and inlining would only hide a difference in `<style>` or comments).
            Some(project.templates.email_layouts(publication, &context).map_err(failed)?)
        };
        let (plain_layout, plain_text) =
            plain.as_ref().map(|(l, t)| (Some(l.as_str()), Some(t.as_str()))).unwrap_or_default();
        let names = Names::of(publication);
        let count = FIRST_ATTR + columns.len();
        let text = checked_split(&marked.text, None, plain_text, names.email_text, count, test_send)?;
        let html = checked_split(&marked.html, Some(&marked_layout), plain_layout, names.email_html, count, test_send)?;
        if marked.subject.trim().is_empty() || !super::headers::is_header_safe(&marked.subject) {
            return Err(invalid(
                "compose/subject",
                format!("the subject of `{}` is empty or has a line break", issue.id()),
            ));
        }
        Ok(Self { subject: marked.subject, text, html })
    }

    /// Hex SHA-256 of the subject and both layouts with every slot written as its name: the
    /// same for every recipient, run and attribute-column order, different when content changes.
    pub(crate) fn content_hash(&self, columns: &[String]) -> String {
        hex(&Sha256::new()
            .chain_update(self.subject.as_bytes())
            .chain_update([0])
            .chain_update(self.text.canonical(columns))
            .chain_update([0])
            .chain_update(self.html.canonical(columns))
            .finalize())
    }
}

/// One layout split at its slots, checked against its render with empty subscriber values:
/// `plain` (none when the templates are known to only print them), compared with `marked` or,
/// when given, with `compared` (the same render before a step that `plain` did not go through).
fn checked_split(
    marked: &str,
    compared: Option<&str>,
    plain: Option<&str>,
    name: &str,
    count: usize,
    test_send: bool,
) -> Result<Split, Error> {
    let split_of =
        |text| Split::new(text, count).map_err(|why| invalid("template/slots", format!("template `{name}`: {why}")));
    let split = split_of(marked)?;
    let before;
    let compared = match compared {
        Some(text) if plain.is_some() => {
            before = split_of(text)?;
            &before
        }
        _ => &split,
    };
    if let Some(plain) = plain
        && squeeze(&compared.without_slots(|s| s == EMAIL || s == UNSUBSCRIBE)) != squeeze(plain)
    {
        return Err(Error::Invalid(vec![
            Diagnostic::error(
                "template/slots",
                format!("template `{name}` tests or changes `subscriber.name` or `subscriber.attrs`"),
            )
            .help("in a send, subscriber values are filled in per message: print them (`{{ subscriber.name }}`), without `if` or filters; see docs/templates.md"),
        ]));
    }
    if !test_send && !split.slots.contains(&UNSUBSCRIBE) {
        return Err(Error::Invalid(vec![
            Diagnostic::error("template/unsubscribe", format!("template `{name}` does not show `unsubscribe_url`"))
                .help("every message needs a visible unsubscribe link: add `{{ unsubscribe_url }}` to the footer"),
        ]));
    }
    Ok(split)
}

/// The text without whitespace: the comparison of [`Parts::render`] ignores what emptying a
/// value does to whitespace (trimmed lines, the HTML parser dropping leading blanks).
fn squeeze(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}
