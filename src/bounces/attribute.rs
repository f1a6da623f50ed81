//! Which send and which recipient a bounce answers, and whether anything signed says so.
//!
//! Enters: an [`Analysis`] and one of its [`Finding`]s, the state store's journal, the signing
//! [`Keys`] and the configured [`ReturnPath`]. Leaves: an [`Attribution`]: the journal row and
//! how it was found, a row the bounce only claims, or that the message carries a forged return
//! path.
//!
//! Only what is signed with our keys is acted on. In order:
//! 1. the token of a per-recipient return path among the addresses the bounce was delivered
//!    to (`To`, `Delivered-To`, `X-Original-To`, …): signed, so exact;
//! 2. the original message's `Message-ID` quoted in the bounce, against the journal, when the
//!    original's `List-Unsubscribe` also carries a signed unsubscribe token of the same
//!    recipient (the `Message-ID` then picks the send among the recipient's);
//! 3. the unsubscribe token in the original's `List-Unsubscribe` (signed): the recipient's
//!    latest delivered row.
//!
//! A `Message-ID` is derived from the issue and the address, and a `List-Id` is public: anyone
//! can write a bounce that quotes them. So a row found only by the `Message-ID`, or by the
//! finding's recipient and the original's `List-Id` (`<publication>.<domain>`, the recipient's
//! row in the latest send of that publication), is [`Attribution::Unverified`]: shown and
//! recorded, never acted on.
//!
//! A message delivered to one of our return paths whose token does not verify is
//! [`Attribution::Forged`]: nothing it says is acted on.

use crate::address::address_key;
use crate::env::Env;
use crate::error::Error;
use crate::project::Project;
use crate::state::{JournalRow, State};
use crate::token::Keys;
use crate::token::return_path::{Found, ISSUE_TAG_BYTES, ReturnPath, issue_tag};

use super::{Analysis, Finding};

/// How a bounce was tied to its journal row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The signed token of the per-recipient return path.
    ReturnPath,
    /// The original `Message-ID`.
    MessageId,
    /// The signed unsubscribe token in the original `List-Unsubscribe`.
    ListUnsubscribe,
    /// The recipient and the original `List-Id`.
    ListId,
}

/// What the return paths a bounce was delivered to say.
enum ByReturnPath {
    /// A verified token naming this row.
    Row(JournalRow),
    /// A return path of ours whose token does not verify.
    Forged,
    /// None of ours, or a verified one whose send is no longer in the journal (an issue renamed
    /// after its send): the quoted headers decide.
    Absent,
}

impl Method {
    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReturnPath => "return-path",
            Self::MessageId => "message-id",
            Self::ListUnsubscribe => "list-unsubscribe",
            Self::ListId => "list-id",
        }
    }

    /// The word stored for an [`Attribution::Unverified`] claim by this method.
    pub fn unverified_str(self) -> &'static str {
        match self {
            Self::ReturnPath => "unverified-return-path",
            Self::MessageId => "unverified-message-id",
            Self::ListUnsubscribe => "unverified-list-unsubscribe",
            Self::ListId => "unverified-list-id",
        }
    }
}

/// What [`Attributor::attribute`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribution {
    /// The journal row the finding is about, vouched for by a token signed with our keys.
    Row(JournalRow, Method),
    /// The journal row the bounce claims by what anyone can write (a quoted `Message-ID`, a
    /// `List-Id`) and no signed token confirms: recorded as unattributed, never acted on.
    Unverified(JournalRow, Method),
    /// Delivered to a return path of ours whose token does not verify: ignore the message.
    Forged,
    /// No send could be identified.
    Unattributed,
}

impl Attribution {
    /// The send (`<publication>/<slug>`), when found.
    pub fn send(&self) -> Option<&str> {
        match self {
            Self::Row(row, _) => Some(&row.issue),
            Self::Unverified(..) | Self::Forged | Self::Unattributed => None,
        }
    }
}

/// Attributes bounces against one state store; keeps the sends' return-path tags.
#[derive(Debug)]
pub struct Attributor {
    keys: Keys,
    return_path: Option<ReturnPath>,
    tags: Vec<([u8; ISSUE_TAG_BYTES], String)>,
}

impl Attributor {
    /// For a command that only reads (`bounces scan`): `project`'s state store and an
    /// attributor over it, with the project's keys and `bounces.address`; `None` when the
    /// project has no state store yet (nothing was sent, so nothing can be attributed). Creates
    /// no store and no key file.
    pub fn open(project: &Project, env: &Env) -> Result<Option<(State, Self)>, Error> {
        let store = crate::state::Store::from_config(&project.config.state, &project.root, env)?;
        let Some(state) = State::open_store_existing(&store)? else { return Ok(None) };
        let keys = Keys::load_or_throwaway(&project.root.join(crate::state::DIR), env)?;
        let return_path =
            project.config.bounces.return_path().map_err(|why| Error::usage(format!("`bounces.address`: {why}")))?;
        let attributor = Self::new(&state, keys, return_path)?;
        Ok(Some((state, attributor)))
    }

    /// An attributor for bounces of the sends in `state`, signed with `keys`, whose return paths
    /// are built on `return_path` (`bounces.address`; `None`: no return path is ours).
    pub fn new(state: &State, keys: Keys, return_path: Option<ReturnPath>) -> Result<Self, Error> {
        let mut attributor = Self { keys, return_path, tags: Vec::new() };
        attributor.load_tags(state)?;
        Ok(attributor)
    }

    fn load_tags(&mut self, state: &State) -> Result<(), Error> {
        self.tags = state.sends()?.into_iter().map(|s| (issue_tag(&s.issue), s.issue)).collect();
        Ok(())
    }

    /// The journal row `finding` of `analysis` is about (see the module documentation).
    pub fn attribute(&mut self, state: &State, analysis: &Analysis, finding: &Finding) -> Result<Attribution, Error> {
        match self.by_return_path(state, analysis)? {
            ByReturnPath::Row(row) => return Ok(Attribution::Row(row, Method::ReturnPath)),
            ByReturnPath::Forged => return Ok(Attribution::Forged),
            ByReturnPath::Absent => {}
        }
        let unsubscribe = self.by_list_unsubscribe(state, analysis)?;
        let mut claimed = None;
        if let Some(id) = analysis.original.message_id.as_deref()
            && let Some(row) = state.row_by_message_id(id)?
        {
            // Only this recipient was mailed their token: it vouches for their rows, and a
            // reader's own token for no one else's.
            if unsubscribe.as_ref().is_some_and(|signed| signed.address_key == row.address_key) {
                return Ok(Attribution::Row(row, Method::MessageId));
            }
            claimed = Some(Attribution::Unverified(row, Method::MessageId));
        }
        if let Some(row) = unsubscribe {
            return Ok(Attribution::Row(row, Method::ListUnsubscribe));
        }
        if let Some(claimed) = claimed {
            return Ok(claimed);
        }
        if let (Some(recipient), Some(list_id)) = (finding.recipient.as_deref(), analysis.original.list_id.as_deref())
            && let Some(publication) = publication_of(list_id)
            && let Some(row) = state.latest_row_in(Some(publication), &address_key(recipient))?
        {
            return Ok(Attribution::Unverified(row, Method::ListId));
        }
        Ok(Attribution::Unattributed)
    }

    /// The row named by the first unsubscribe token in the original's `List-Unsubscribe` that
    /// verifies: the recipient's latest delivered row.
    fn by_list_unsubscribe(&self, state: &State, analysis: &Analysis) -> Result<Option<JournalRow>, Error> {
        let Some(header) = analysis.original.list_unsubscribe.as_deref() else { return Ok(None) };
        for candidate in token_candidates(header) {
            if let Some(claims) = self.keys.verify(candidate)
                && let Some(row) = state.row_by_token_id(&claims.token_id)?
            {
                return Ok(Some(row));
            }
        }
        Ok(None)
    }

    /// What the return-path tokens among the addresses the bounce was delivered to say.
    fn by_return_path(&mut self, state: &State, analysis: &Analysis) -> Result<ByReturnPath, Error> {
        let Some(path) = &self.return_path else { return Ok(ByReturnPath::Absent) };
        let mut forged = false;
        for address in &analysis.delivered_to {
            match path.read(&self.keys, address) {
                Found::Verified(tag) => {
                    if !self.tags.iter().any(|(t, _)| *t == tag.issue) {
                        // A send started after this attributor was made.
                        self.load_tags(state)?;
                    }
                    for (_, issue) in self.tags.iter().filter(|(t, _)| *t == tag.issue) {
                        if let Some(row) = state.row_by_seq(issue, tag.seq)? {
                            return Ok(ByReturnPath::Row(row));
                        }
                    }
                    // Signed by us, but its send is gone from the journal: fall back to headers.
                    return Ok(ByReturnPath::Absent);
                }
                Found::Forged => forged = true,
                Found::Other => {}
            }
        }
        Ok(if forged { ByReturnPath::Forged } else { ByReturnPath::Absent })
    }
}

/// The publication slug of a `List-Id` (`"Name" <weekly.news.example.org>`).
fn publication_of(list_id: &str) -> Option<&str> {
    let id = match (list_id.rfind('<'), list_id.rfind('>')) {
        (Some(open), Some(close)) if open < close => &list_id[open + 1..close],
        _ => list_id.trim(),
    };
    id.split_once('.').map(|(slug, _)| slug).filter(|slug| !slug.is_empty())
}

/// Runs of base64url characters long enough to be an unsubscribe token.
fn token_candidates(header: &str) -> impl Iterator<Item = &str> {
    header
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|run| (40..=512).contains(&run.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_ids_name_their_publication() {
        assert_eq!(publication_of("\"The Weekly\" <weekly.news.example.org>"), Some("weekly"));
        assert_eq!(publication_of("weekly.news.example.org"), Some("weekly"));
        assert_eq!(publication_of("<.x>"), None);
        assert_eq!(publication_of("nodots"), None);
    }

    #[test]
    fn tokens_are_found_in_list_unsubscribe() {
        let token = "A".repeat(50);
        let header = format!(
            "<https://n.example.org/unsubscribe?t={token}>, <mailto:u@n.example.org?subject=unsubscribe%20{token}>"
        );
        let found: Vec<&str> = token_candidates(&header).collect();
        assert_eq!(found, [token.as_str(), &format!("20{token}")]);
    }
}
