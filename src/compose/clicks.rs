//! The click rewrite of a send's marked render (`publications[].clicks: true`): done once per
//! issue, after the content hash (which stays that of the original links, so a resume with
//! rotated keys is not a changed issue) and before the parts are encoded. Test sends keep the
//! original links: their clicks are the editor's, and their issue is not recorded for `serve`.

use super::render::Parts;
use super::slots::{FIRST_ATTR, Split};
use crate::clicks::{Link, Rewriter};
use crate::config::Config;
use crate::error::Error;
use crate::token::{IssueKey, Keys};

/// `parts` with counted links, and the issue's link table.
pub(crate) fn rewrite(
    config: &Config,
    keys: &Keys,
    issue: &str,
    parts: Parts,
    columns: usize,
) -> Result<(Parts, IssueKey, Vec<Link>), Error> {
    let rewriter = Rewriter::new(config, keys, issue);
    let done = rewriter.rewrite(&parts.html.without_slots(|_| true), &parts.text.without_slots(|_| true));
    let split = |text: &str| {
        Split::new(text, FIRST_ATTR + columns).map_err(|why| {
            super::invalid("compose/clicks", format!("the click rewrite of `{issue}` damaged a slot: {why}"))
        })
    };
    let parts = Parts { subject: parts.subject, text: split(&done.text)?, html: split(&done.html)? };
    Ok((parts, IssueKey::of(issue), done.links))
}
