//! Editions: the variants of one issue that its regional blocks make.
//!
//! An issue with `::: only …` blocks ([`crate::segment::blocks`]) has one edition per distinct
//! set of blocks its audience actually needs: a reader in London gets the text outside blocks
//! plus the London blocks. Each edition is rendered once, as an issue of its own whose body is
//! the selected Markdown ([`edition`]); compose renders its layouts once
//! ([`crate::compose::MessageTemplate`]) and each recipient is routed to their edition's.
//!
//! Enters: a [`Project`] and an [`Issue`] (and its [`CheckedIssue`] for [`edition`]). Leaves:
//! the issue's [`Blocks`] and their diagnostics ([`blocks()`], [`check`]); the full rendering
//! `check` keeps ([`render_full`]: the archive's, each block labelled, with the diagnostics of
//! the body at the file's positions); the block sets the audience needs ([`needed`]); an
//! edition's [`CheckedIssue`].

use std::collections::BTreeSet;

use crate::checked::{CheckedIssue, RenderedIssue, Unrendered};
use crate::content::Issue;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::error::Error;
use crate::project::Project;
use crate::segment::blocks::{self, BlockSet, Blocks};
use crate::state::State;
use crate::subscribers::{Members, list_columns};

/// The blocks of `issue`'s body, and the problems in writing them.
pub fn blocks(issue: &Issue) -> (Blocks, Vec<Diagnostic>) {
    // Fast path: most issues have none.
    if !issue.body.contains(":::") {
        return (Blocks::default(), Vec::new());
    }
    blocks::parse(&issue.body, &issue.source, &issue.text, issue.body_start_line)
}

/// The blocks of `issue` and `check`'s diagnostics about them: how they are written, then
/// (when that is right) how they fit the issue's lists ([`check`]).
pub fn judge(project: &Project, issue: &Issue) -> (Blocks, Vec<Diagnostic>) {
    let (found, mut problems) = blocks(issue);
    if problems.is_empty() {
        problems = check(project, issue, &found);
    }
    (found, problems)
}

/// The full rendering of `issue` for `check`: as written when it has no blocks; else every block
/// labelled (what the archive shows), with the body's diagnostics taken from a render with the
/// fence lines blanked, so they point where the file has them.
pub fn render_full(project: &Project, issue: &Issue, found: &Blocks) -> Result<RenderedIssue, Unrendered> {
    if found.is_empty() {
        return project.render(issue);
    }
    let blanked = with_body(issue, found.blanked(&issue.body));
    let located = project.render(&blanked).map_or_else(|_| Vec::new(), |r| r.diagnostics);
    let labelled = with_body(issue, found.labelled(&issue.body));
    project.render(&labelled).map(|rendered| RenderedIssue { diagnostics: located, ..rendered })
}

/// The edition of `checked` that shows the blocks of `set`: the issue with the selected body,
/// rendered. Its diagnostics are the full issue's (the edition is a part of it).
pub fn edition(project: &Project, checked: &CheckedIssue, found: &Blocks, set: BlockSet) -> CheckedIssue {
    let issue = with_body(&checked.issue, found.select(&checked.issue.body, set));
    let rendered = project.render(&issue);
    CheckedIssue { issue, rendered, diagnostics: checked.diagnostics.clone() }
}

fn with_body(issue: &Issue, body: String) -> Issue {
    Issue { body, ..issue.clone() }
}

/// The block sets the current members of `issue`'s lists need (suppressions aside: a superset
/// of the send's), with the set of a reader without attributes (test copies) first.
pub fn needed(project: &Project, issue: &Issue, found: &Blocks) -> BTreeSet<BlockSet> {
    let mut sets = BTreeSet::from([found.set_of(&Nobody)]);
    if !found.is_empty() {
        sets.extend(audience_sets(project, issue, found));
    }
    sets
}

/// The block sets of the current members of `issue`'s lists.
fn audience_sets(project: &Project, issue: &Issue, found: &Blocks) -> BTreeSet<BlockSet> {
    let Ok(lists) = project.lists_of(issue) else { return BTreeSet::new() };
    let Ok(members) = Members::against(&lists, None) else { return BTreeSet::new() };
    // An unreadable row or list is the list checks' to report.
    members.map_while(Result::ok).map(|m| found.set_of(&m.subscriber)).collect()
}

/// The block sets the rows of `issue`'s journal need: what a send must have prepared before it
/// delivers (the rows keep the attributes they had when they were added).
pub fn journal_sets(state: &State, issue: &str, found: &Blocks) -> Result<BTreeSet<BlockSet>, Error> {
    let mut sets = BTreeSet::new();
    if found.is_empty() {
        return Ok(sets);
    }
    state.for_each_delivery(issue, |row| {
        sets.insert(found.set_of(&Reader { name: &row.name, attrs: &row.attrs }));
        Ok(())
    })?;
    Ok(sets)
}

/// What the blocks' filters see of a reader: the name and the list's other columns.
pub struct Reader<'a> {
    /// Display name, or an empty string.
    pub name: &'a str,
    /// The subscriber's other columns, by header.
    pub attrs: &'a std::collections::BTreeMap<String, String>,
}

impl Reader<'_> {
    /// The value of `field`: `name`, or a column.
    pub fn field<'a>(
        name: &'a str,
        attrs: &'a std::collections::BTreeMap<String, String>,
        field: &str,
    ) -> Option<&'a str> {
        match field {
            "name" => Some(name),
            _ => attrs.get(field).map(String::as_str),
        }
    }
}

impl crate::segment::Fields for Reader<'_> {
    fn value(&self, field: &str) -> Option<&str> {
        Reader::field(self.name, self.attrs, field)
    }

    fn subscribed_at(&self) -> Option<jiff::Timestamp> {
        // Blocks cannot compare `subscribed_at` (see `segment::attrs`).
        None
    }
}

/// A reader without attributes: who a `send --test` copy is for.
pub struct Nobody;

impl crate::segment::Fields for Nobody {
    fn value(&self, _: &str) -> Option<&str> {
        None
    }
    fn subscribed_at(&self) -> Option<jiff::Timestamp> {
        None
    }
}

/// `check`'s view of the blocks against the issue's lists: every field a block names is a
/// column of one of them (with a did-you-mean), and each block matches somebody in the
/// audience (a warning when not). An issue whose lists are unknown or unreadable gets none
/// here: those are the errors to fix first.
pub fn check(project: &Project, issue: &Issue, found: &Blocks) -> Vec<Diagnostic> {
    if found.is_empty() {
        return Vec::new();
    }
    let Ok(lists) = project.lists_of(issue) else { return Vec::new() };
    let mut columns = BTreeSet::new();
    for list in &lists {
        match list_columns(&list.path, &list.shown) {
            Ok(found) => columns.extend(found),
            Err(_) => return Vec::new(),
        }
    }
    let mut out = Vec::new();
    for field in found.blocks.iter().flat_map(|b| &b.fields) {
        if columns.contains(&field.value) {
            continue;
        }
        let help = match did_you_mean(&field.value, columns.iter().map(String::as_str)) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!(
                "the lists' columns are {}",
                columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
            ),
        };
        out.push(
            Diagnostic::error("block/unknown-column", format!("no list of this issue has a column `{}`", field.value))
                .at(field.location(&issue.source), &issue.text)
                .help(help),
        );
    }
    if !out.is_empty() {
        return out;
    }
    let reached = audience_sets(project, issue, found).into_iter().fold(0, |all, set| all | set);
    for (i, block) in found.blocks.iter().enumerate().filter(|(i, _)| reached & (1 << i) == 0) {
        out.push(
            Diagnostic::warning(
                "block/nobody",
                format!("block {} matches none of the active subscribers this issue goes to", i + 1),
            )
            .at(block.location.clone(), &issue.text)
            .help("check the values against the lists (matching ignores case), or remove the block"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_editions_are_the_block_sets_the_audience_needs() {
        let dir = crate::project::copy_of_fixture("editions");
        let project = Project::load(dir.path()).unwrap();
        let issue = project.find("weekly/2026-02-05-local-plans").unwrap();
        let (found, problems) = judge(&project, issue);
        assert!(problems.is_empty(), "{problems:?}");
        // Ruth (London): block 1; Li (North West): 2 and 3; Jo, Amir and a test copy: 3.
        assert_eq!(needed(&project, issue, &found), BTreeSet::from([0b001, 0b100, 0b110]));
        // What `check` keeps for the issue: its full rendering.
        let rendered = render_full(&project, issue, &found);
        let checked = CheckedIssue { issue: issue.clone(), rendered, diagnostics: Vec::new() };
        let london = edition(&project, &checked, &found, 0b001);
        let text = &london.output().unwrap().email.text;
        assert!(text.contains("The London plan") && !text.contains("merges") && !text.contains(":::"), "{text}");
        let full = checked.output().unwrap();
        assert!(full.view.html.contains("Only for readers in London"), "{}", full.view.html);
    }
}
