//! Messages: one personalised, standards-correct RFC 5322 message per recipient.
//!
//! Enters: a loaded [`Project`], one [`CheckedIssue`] (rendered once by [`crate::check`]) and
//! the run's [`ComposeOptions`] (the `Date`, the
//! unsubscribe [`Keys`], an optional [`DkimKey`], the subscriber attribute columns templates may
//! use); then, per message, a [`Recipient`]. Leaves: a [`MessageTemplate`] holding everything the
//! issue's messages share, and per recipient the message bytes (CRLF line endings, not
//! dot-stuffed: the transport does that) with the [`Composed`] Message-ID and token id the
//! journal records.
//!
//! The heavy work happens once, in [`MessageTemplate::new`]: layout and CSS inlining (the
//! templates rendered with markers in the personalisation slots, from the checked issue's view:
//! the Markdown was parsed once, by `check`; see `slots.rs`),
//! quoted-printable encoding of the shared body, and the shared header lines.
//! [`MessageTemplate::compose`] formats `To`, `Message-ID` and `List-Unsubscribe`, encodes the
//! slot values and copies the rest.
//!
//! Every message is `multipart/alternative`, `text/plain` first and `text/html` last, both UTF-8
//! and quoted-printable (no line over 76 columns); it carries `Date`, `From`, `Reply-To` when
//! configured, `To`, `Subject`, a `Message-ID` derived from (issue, recipient) at the From
//! domain, `MIME-Version`, `List-Id`, `List-Unsubscribe` (the one-click https URL, then the
//! `mailto:` when configured) and `List-Unsubscribe-Post` (EMAIL.md BS-1…BS-5, FMT-1…FMT-14).
//! With a [`DkimKey`], the finished bytes are signed and the `DKIM-Signature` header prepended.
//!
//! The headers a person writes (the subject, the publication's names, the unsubscribe URL) are
//! refused when a line of them would be over 998 characters, before any message is composed;
//! `check` asks the same functions ([`subject_too_long`], [`publication_too_long`],
//! [`unsubscribe_url_problem`]) so that it flags exactly what a send refuses.

mod clicks;
mod dkim;
mod dkim_canon;
mod editions;
mod headers;
mod render;
mod sender;
mod slots;
mod unsubscribe;

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest as _, Sha256};

pub use crate::header::has_encoded_word;
pub use dkim::{DkimKey, SIGNED_HEADERS};
pub use unsubscribe::unsubscribe_url_problem;

use crate::address::address_key;
use crate::checked::CheckedIssue;
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::project::Project;
use crate::segment::blocks::BlockSet;
use crate::token::return_path::ReturnPath;
use crate::token::{IssueKey, Keys, hex};
use editions::{Bodies, EditionContext, Editions, add_editions};
use headers::{BOUNDARY_SUFFIX, Delimiter, SharedHeaders};
use render::Parts;
use sender::Sender;
use slots::{EMAIL, FIRST_ATTR, NAME, UNSUBSCRIBE};

/// A display name longer than this is left out of `To` (the address alone is used), so a
/// header line never outgrows the 998-character limit.
pub const MAX_NAME_CHARS: usize = 256;

/// Joins the lists an unsubscribe token leaves (`weekly+briefing`); never part of a slug.
pub const UNSUBSCRIBE_SCOPE_SEPARATOR: &str = "+";

/// The list a `[TEST]` copy's unsubscribe token names: it leaves nothing real.
pub const TEST_LIST: &str = "test";

/// The list a previewed message's unsubscribe token names when the preview picks none.
pub const PREVIEW_LIST: &str = "preview";

/// Who one message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient<'a> {
    /// The address (normalised, as in [`crate::subscribers::Subscriber::email`]).
    pub email: &'a str,
    /// Display name, or an empty string.
    pub name: &'a str,
    /// The subscriber's other columns, by header.
    pub attrs: &'a BTreeMap<String, String>,
    /// The list the message is sent on. The unsubscribe token leaves this list, or every list of
    /// the issue when it goes to several.
    pub list: &'a str,
}

/// Settings of one run, the same for every message.
#[derive(Debug)]
pub struct ComposeOptions {
    /// The `Date` of every message of the run.
    pub date: jiff::Timestamp,
    /// Unsubscribe token keys.
    pub keys: Keys,
    /// DKIM signing, when configured.
    pub dkim: Option<DkimKey>,
    /// Subscriber attribute names templates may use as `subscriber.attrs.<name>`.
    pub attr_columns: Vec<String>,
    /// A test send: `[TEST] ` before the subject, and `http://` unsubscribe URLs allowed.
    pub test: bool,
}

/// What the journal records of one composed message, and where its bodies are in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    /// The Message-ID, without the angle brackets.
    pub message_id: String,
    /// The bytes of the message that hold the text part's encoded body.
    pub text: std::ops::Range<usize>,
    /// The bytes of the message that hold the HTML part's encoded body.
    pub html: std::ops::Range<usize>,
}

impl Composed {
    /// The text and HTML bodies of `message` (the bytes [`MessageTemplate::compose`] wrote)
    /// decoded, as a mail client shows them, with `\n` line endings: what the preview shows.
    pub fn bodies(&self, message: &[u8]) -> (String, String) {
        let decode = |range: &std::ops::Range<usize>| {
            let encoded = message.get(range.clone()).unwrap_or_default();
            let bytes = quoted_printable::decode(encoded, quoted_printable::ParseMode::Robust).unwrap_or_default();
            String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
        };
        (decode(&self.text), decode(&self.html))
    }
}

/// Everything the messages of one issue share: rendered, encoded and formatted once.
pub struct MessageTemplate {
    /// What Message-IDs and boundaries derive from with the address: the issue's id, marked for
    /// test sends so a test copy never shares a Message-ID with the real message.
    id_seed: String,
    subject: String,
    envelope_from: String,
    from_domain: String,
    content_hash: String,
    headers: SharedHeaders,
    /// The bodies of each edition (one when the issue has no regional blocks).
    editions: Editions,
    /// A test send (kept to render editions added later the same way).
    test: bool,
    unsubscribe_prefix: String,
    /// What every recipient's unsubscribe token leaves when the issue goes to several lists:
    /// all of them, joined with `+` (see [`UNSUBSCRIBE_SCOPE_SEPARATOR`]).
    unsubscribe_scope: Option<String>,
    mailto_prefix: Option<String>,
    attr_columns: Vec<String>,
    keys: Keys,
    dkim: Option<DkimKey>,
    /// The per-recipient return paths (`bounces.address`), and the issue they name; none for a
    /// test send, which goes out from the plain bounce address.
    return_path: Option<(ReturnPath, String)>,
    /// With `clicks: true` (not in a test send): the issue's click key and counted links.
    clicks: Option<(IssueKey, Vec<crate::clicks::Link>)>,
}

impl fmt::Debug for MessageTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageTemplate")
            .field("id_seed", &self.id_seed)
            .field("subject", &self.subject)
            .field("content_hash", &self.content_hash)
            .finish_non_exhaustive()
    }
}

impl MessageTemplate {
    /// Render the issue once with markers in the slots (`subscriber.*`, `unsubscribe_url`), split
    /// it at the slots, encode the shared parts and format the shared headers.
    ///
    /// Errors: template errors; a template that tests or transforms a subscriber value; an empty
    /// subject or one with line breaks; a From that is not a mailbox; a DKIM domain the From
    /// domain does not align with; a subject, name or unsubscribe URL that makes a header line
    /// over 998 characters (see [`subject_too_long`], [`publication_too_long`] and
    /// [`unsubscribe_url_problem`], the same tests for `check`); and, unless `options.test`, an
    /// unsubscribe URL that is not https (loopback hosts excepted; `check` flags it too) or
    /// templates that do not show it (EMAIL.md BS-4, §7 26).
    pub fn new(project: &Project, checked: &CheckedIssue, options: ComposeOptions) -> Result<Self, Error> {
        let (config, issue) = (&project.config, &checked.issue);
        let publication = config.publication(&issue.publication).ok_or_else(|| {
            invalid("compose/publication", format!("`{}` is not a configured publication", issue.publication))
        })?;
        let sender = Sender::of(publication)?;
        if let Some(dkim) = options.dkim.as_ref().filter(|d| !d.aligns_with(&sender.domain)) {
            return Err(invalid(
                "config/dkim",
                format!("`dkim.domain` `{}` does not align with the From domain `{}`", dkim.domain(), sender.domain),
            ));
        }
        let unsubscribe_prefix = unsubscribe::prefix(config, options.test).map_err(|d| Error::Invalid(vec![d]))?;
        let (blocks, _) = crate::editions::blocks(issue);
        // With regional blocks, the subject and the content hash come from the full issue (every
        // block): the hash then changes with any block, whoever the audience is.
        let full = (!blocks.is_empty()).then(|| crate::editions::edition(project, checked, &blocks, blocks.all()));
        let parts =
            Parts::render(project, full.as_ref().unwrap_or(checked), publication, &options.attr_columns, options.test)?;
        let mut content_hash = parts.content_hash(&options.attr_columns);
        // The click rewrite comes after the content hash (which stays that of the original
        // links) and runs on each edition's parts, the full issue's first: its links are numbered
        // in the full issue's order, and an edition's links keep those numbers.
        let mut clicks = (publication.clicks && !options.test).then(|| (IssueKey::of(&issue.id()), Vec::new()));
        let parts = match clicks.as_mut() {
            Some((_, links)) => {
                clicks::rewrite(config, &options.keys, &issue.id(), parts, &options.attr_columns, links)?
            }
            None => parts,
        };
        let editions = if blocks.is_empty() {
            Editions::single(Bodies::of(&parts))
        } else {
            content_hash = editions::hash_with_filters(&content_hash, &blocks);
            let sets = crate::editions::needed(project, issue, &blocks);
            let mut editions = Editions::of_blocks(blocks);
            editions.add(editions.blocks.all(), Bodies::of(&parts));
            let ctx = EditionContext {
                columns: &options.attr_columns,
                test: options.test,
                keys: &options.keys,
                clicks: clicks.as_mut().map(|(_, links)| links),
            };
            add_editions(&mut editions, project, checked, ctx, sets)?;
            editions
        };
        let subject = subject_as_sent(&parts.subject, options.test);
        let feedback_id = headers::feedback_id(issue, config.sending.feedback_id_sender.as_deref());
        let headers = sender.shared_headers(
            publication,
            &subject,
            options.date,
            feedback_id.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
        )?;
        let bounce = config.bounces.return_path().map_err(|why| invalid("config/bounces", why))?;
        let envelope_from = bounce.as_ref().map_or(sender.envelope, ReturnPath::plain);
        let return_path = bounce.filter(|_| !options.test).map(|path| (path, issue.id()));
        let unsubscribe_scope = unsubscribe::scope(project, issue, options.test);
        Ok(Self {
            id_seed: if options.test { format!("{}\0test", issue.id()) } else { issue.id() },
            subject,
            envelope_from,
            from_domain: sender.domain,
            content_hash,
            headers,
            editions,
            test: options.test,
            unsubscribe_prefix,
            unsubscribe_scope,
            mailto_prefix: unsubscribe::mailto_prefix(config),
            attr_columns: options.attr_columns,
            keys: options.keys,
            dkim: options.dkim,
            return_path,
            clicks,
        })
    }

    /// The Message-ID (without angle brackets) of the message [`Self::compose`] writes for the
    /// address with duplicate key `address_key`: the same for every attempt, so a send can store
    /// it with the recipient's journal row before the message exists.
    pub fn message_id(&self, address_key: &str) -> String {
        self.message_id_of(&self.digest(address_key))
    }

    /// The Message-ID named by a recipient's [`Self::digest`].
    fn message_id_of(&self, digest: &str) -> String {
        format!("{}@{}", &digest[..32], self.from_domain)
    }

    /// The recipient's digest: its first 32 hex digits name the message, the next ones end the
    /// MIME boundary.
    fn digest(&self, address_key: &str) -> String {
        hex(&Sha256::new()
            .chain_update(self.id_seed.as_bytes())
            .chain_update([0])
            .chain_update(address_key.as_bytes())
            .finalize())
    }

    /// Write the full message for one recipient into `out` (cleared first): CRLF line endings,
    /// no dot-stuffing. A name with a line break or control character, something shaped like an
    /// RFC 2047 encoded-word, or longer than [`MAX_NAME_CHARS`], is left out of `To` (it can
    /// never inject a header); the body still shows it, encoded as data.
    pub fn compose(&self, recipient: &Recipient<'_>, out: &mut Vec<u8>) -> Result<Composed, Error> {
        out.clear();
        let to = sender::mailbox(recipient)?;
        let key = address_key(recipient.email);
        let digest = self.digest(&key);
        let message_id = self.message_id_of(&digest);
        let boundary = &digest[32..32 + BOUNDARY_SUFFIX];
        let id = self.keys.id_of_key(&key);
        let mut url = String::with_capacity(self.unsubscribe_prefix.len() + 64);
        url.push_str(&self.unsubscribe_prefix);
        self.keys.write_token(&id, self.unsubscribe_scope.as_deref().unwrap_or(recipient.list), &mut url);
        let token = &url[self.unsubscribe_prefix.len()..];
        let list_unsubscribe = unsubscribe::value(&url, token, self.mailto_prefix.as_deref());
        self.headers.write(to, &message_id, &list_unsubscribe, boundary, recipient.list, out);
        headers::check_lines(out).map_err(|line| {
            invalid(
                "compose/header",
                format!("the message to `{}` has a header line too long: `{line}`", recipient.email),
            )
        })?;
        let value = |slot: usize| match slot {
            EMAIL => recipient.email,
            NAME => recipient.name,
            UNSUBSCRIBE => url.as_str(),
            n => self.attr_columns.get(n - FIRST_ATTR).and_then(|c| recipient.attrs.get(c)).map_or("", String::as_str),
        };
        let bodies = self.editions.of(recipient)?;
        self.headers.write_delimiter(boundary, Delimiter::First, out);
        out.extend_from_slice(&self.headers.text_part);
        let start = out.len();
        bodies.text.write(value, out);
        let mut text = start..out.len();
        self.headers.write_delimiter(boundary, Delimiter::Next, out);
        out.extend_from_slice(&self.headers.html_part);
        let start = out.len();
        bodies.html.write(value, out);
        let mut html = start..out.len();
        self.headers.write_delimiter(boundary, Delimiter::Close, out);
        if let Some(dkim) = &self.dkim {
            let unsigned = out.len();
            dkim.sign(out).map_err(|why| invalid("compose/dkim", why))?;
            // The signature is a header put in front: the bodies move down by its length.
            let shift = out.len() - unsigned;
            text = text.start + shift..text.end + shift;
            html = html.start + shift..html.end + shift;
        }
        Ok(Composed { message_id, text, html })
    }

    /// The bare address of the publication's From (domain in A-labels), or the plain bounce
    /// address when `bounces.address` is set: the envelope sender of a test send.
    pub fn envelope_from(&self) -> &str {
        &self.envelope_from
    }

    /// The envelope sender of the message to journal row `seq`: its own return path
    /// (`bounces+<token>@…`) when `bounces.address` is set, else [`Self::envelope_from`].
    pub fn envelope_from_for(&self, seq: i64) -> std::borrow::Cow<'_, str> {
        match &self.return_path {
            Some((path, issue)) => path.address(&self.keys, issue, seq).into(),
            None => self.envelope_from.as_str().into(),
        }
    }

    /// Hex SHA-256 over the subject and the rendered text and HTML with the slots unfilled:
    /// identifies the issue's content, so a resume can tell whether it changed.
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// Prepare the editions of `sets` not prepared yet (a send adds those its journal's rows
    /// need: rows added by an earlier run may carry attributes the lists no longer have).
    ///
    /// Errors: as [`Self::new`], for an edition's templates.
    pub fn add_editions(
        &mut self,
        project: &Project,
        checked: &CheckedIssue,
        sets: impl IntoIterator<Item = BlockSet>,
    ) -> Result<(), Error> {
        let ctx = EditionContext {
            columns: &self.attr_columns,
            test: self.test,
            keys: &self.keys,
            clicks: self.clicks.as_mut().map(|(_, links)| links),
        };
        add_editions(&mut self.editions, project, checked, ctx, sets)
    }

    /// The issue's regional blocks, when it has some.
    pub fn blocks(&self) -> Option<&crate::segment::blocks::Blocks> {
        Some(&self.editions.blocks).filter(|b| !b.is_empty())
    }

    /// How many editions are prepared (1 for an issue without regional blocks).
    pub fn edition_count(&self) -> usize {
        self.editions.len()
    }

    /// With `clicks: true` (outside test sends): the issue's click key and the links its
    /// messages point at through `serve`, which a send records in the state store.
    pub fn click_links(&self) -> Option<(IssueKey, &[crate::clicks::Link])> {
        self.clicks.as_ref().map(|(key, links)| (*key, links.as_slice()))
    }

    /// Whether each message's signature costs enough to be worth composing and signing on
    /// every core (RSA: about 240 µs), rather than in the connection's task as an unsigned
    /// message is (Ed25519: the body hash and the signature cost about what handing the
    /// message between threads does).
    pub fn signs_slowly(&self) -> bool {
        self.dkim.as_ref().is_some_and(DkimKey::is_slow)
    }

    /// The subject as sent (with `[TEST] ` for a test send).
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

/// The subject a message carries: a test send's starts with `[TEST] `.
fn subject_as_sent(subject: &str, test: bool) -> String {
    if test { format!("[TEST] {subject}") } else { subject.to_owned() }
}

/// Why an issue with this subject cannot be sent: its `Subject` header, as a send or a test send
/// writes it, would have a line over 998 characters (a run without a space too long to fold).
/// The test [`MessageTemplate::new`] makes, for `check` to report where the subject is written.
pub fn subject_too_long(subject: &str) -> Option<Diagnostic> {
    [false, true]
        .into_iter()
        .find_map(|test| headers::subject_line(&subject_as_sent(subject, test)).err())
        .map(|why| why.diagnostic())
}

/// The header lines `publication`'s configuration makes too long to send (`From`, `Reply-To`,
/// `List-Id`: over 998 characters, a run without a space too long to fold), each with the key
/// of the publication that writes it and its value there: the test [`MessageTemplate::new`]
/// makes, for `check` to report where they are written. None when the publication's mailboxes
/// do not parse: the configuration's own checks report that.
pub fn publication_too_long(publication: &crate::config::Publication) -> Vec<(&'static str, &str, Diagnostic)> {
    Sender::of(publication).map(|sender| sender.too_long(publication)).unwrap_or_default()
}

fn invalid(code: &'static str, message: String) -> Error {
    Error::Invalid(vec![Diagnostic::error(code, message)])
}

#[cfg(test)]
mod tests;
