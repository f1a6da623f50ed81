//! The click rewrite of a send's marked render (`publications[].clicks: true`): done once per
//! edition, after the content hash (which stays that of the original links, so a resume with
//! rotated keys is not a changed issue) and before the parts are encoded. Test sends keep the
//! original links: their clicks are the editor's, and their issue is not recorded for `serve`.

use super::render::Parts;
use super::slots::{FIRST_ATTR, Split};
use crate::clicks::{Link, Rewriter};
use crate::config::Config;
use crate::error::Error;
use crate::token::Keys;

/// `parts` with counted links. `links` is the issue's link table so far (empty for its first
/// edition): a URL already in it keeps its index, a new one is appended.
pub(crate) fn rewrite(
    config: &Config,
    keys: &Keys,
    issue: &str,
    parts: Parts,
    columns: &[String],
    links: &mut Vec<Link>,
) -> Result<Parts, Error> {
    let rewriter = Rewriter::new(config, keys, issue);
    let done = rewriter.rewrite_onto(
        &parts.html.without_slots(|_| true),
        &parts.text.without_slots(|_| true),
        std::mem::take(links),
    );
    *links = done.links;
    let split = |text: &str| {
        Split::new(text, FIRST_ATTR + columns.len()).map_err(|why| {
            super::invalid("compose/clicks", format!("the click rewrite of `{issue}` damaged a slot: {why}"))
        })
    };
    Ok(Parts { subject: parts.subject, text: split(&done.text)?, html: split(&done.html)? })
}
