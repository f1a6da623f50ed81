//! The edition selector of an issue with regional blocks: every edition its audience needs,
//! and the email of the one chosen.
//!
//! Enters: the project, the checked issue, the "view as" subscriber and the `?edition=` value
//! (a block set, as a number). Leaves: the selector's choices and the email to show: the chosen
//! edition's, or the one given (the full issue with every block labelled, or the subscriber's
//! own message, whose edition is then the one selected).

use super::issue::Choice;
use crate::checked::CheckedIssue;
use crate::compose::Recipient;
use crate::project::Project;
use crate::segment::blocks::{BlockSet, Blocks};
use crate::template::EmailBody;
use crate::template::view::SubscriberView;

/// The selector's choices and the email to show; `Err` names an edition the issue does not have.
pub(super) fn choose(
    project: &Project,
    checked: &CheckedIssue,
    subscriber: Option<&SubscriberView>,
    edition: Option<&str>,
    email: EmailBody,
) -> Result<(Vec<Choice>, EmailBody), String> {
    let (blocks, _) = crate::editions::blocks(&checked.issue);
    if blocks.is_empty() {
        return Ok((Vec::new(), email));
    }
    let sets = crate::editions::needed(project, &checked.issue, &blocks);
    let mut email = email;
    let selected: Option<BlockSet> = match (subscriber, edition.filter(|e| !e.is_empty())) {
        (Some(s), _) => Some(blocks.set_of(&Recipient { email: &s.email, name: &s.name, attrs: &s.attrs, list: "" })),
        (None, Some(wanted)) => {
            let set = wanted.parse::<BlockSet>().ok().filter(|set| sets.contains(set)).ok_or_else(|| {
                format!("`{}` has no edition `{wanted}`; choose one in the edition selector", checked.issue.id())
            })?;
            let rendered = crate::editions::edition(project, checked, &blocks, set);
            if let Some(output) = rendered.output() {
                email = output.email.clone();
            }
            Some(set)
        }
        (None, None) => None,
    };
    let choices = std::iter::once(Choice {
        value: String::new(),
        label: "Every block, labelled".to_owned(),
        selected: selected.is_none(),
    })
    .chain(sets.iter().map(|set| Choice {
        value: set.to_string(),
        label: label(&blocks, *set),
        selected: selected == Some(*set),
    }))
    .collect();
    Ok((choices, email))
}

/// How the selector names the edition of `set`: its blocks' labels.
pub(super) fn label(blocks: &Blocks, set: BlockSet) -> String {
    let shown: Vec<String> = blocks
        .blocks
        .iter()
        .enumerate()
        .filter(|(i, _)| set & (1 << i) != 0)
        .map(|(i, b)| format!("{}. {}", i + 1, b.label.trim_start_matches("Only for readers ")))
        .collect();
    if shown.is_empty() { "No regional block".to_owned() } else { format!("With {}", shown.join("; ")) }
}
