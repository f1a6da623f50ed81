//! Who sends and who receives: the publication's mailboxes and the recipient's `To` mailbox.
//!
//! Enters: a [`Publication`]; per message a [`Recipient`]. Leaves: a [`Sender`] (From,
//! Reply-To, envelope address and domain) that formats the shared header lines and says which of
//! the publication's are too long to send, and the recipient's mailbox (display name only when
//! it is safe in a header).

use lettre::Address;
use lettre::message::Mailbox;

use super::headers::{self, Fields, SharedHeaders, is_header_safe};
use super::{MAX_NAME_CHARS, Recipient, invalid};
use crate::address::{self, normalise_address};
use crate::config::Publication;
use crate::diagnostic::Diagnostic;
use crate::error::Error;
use crate::token::hex;

/// The publication's mailboxes and domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sender {
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// The bare From address, domain in A-labels: the envelope sender.
    pub envelope: String,
    /// The From domain: the right side of Message-IDs and of the List-Id.
    pub domain: String,
}

impl Sender {
    /// The sender of `publication`'s issues.
    pub(crate) fn of(publication: &Publication) -> Result<Self, Error> {
        let parse = |key: &str, value: &str| {
            let bad = || {
                invalid(
                    "config/mailbox",
                    format!("`{key}` of publication `{}` is not a valid mailbox: `{value}`", publication.slug),
                )
            };
            if !is_header_safe(value) {
                return Err(bad());
            }
            value.parse::<Mailbox>().map_err(|_| bad())
        };
        // The address in the headers is the normalised one: an internationalised domain as its
        // A-label (`xn--…`), since a header is 7-bit outside an SMTPUTF8 transaction.
        let parse = |key: &str, value: &str| {
            let mailbox = parse(key, value)?;
            let normal = normalise_address(mailbox.email.as_ref()).ok().and_then(|a| a.parse().ok());
            Ok::<_, Error>(Mailbox::new(mailbox.name, normal.unwrap_or(mailbox.email)))
        };
        let from = parse("from", &publication.from)?;
        let reply_to = publication.reply_to.as_deref().map(|r| parse("reply-to", r)).transpose()?;
        if !is_header_safe(&publication.name) {
            return Err(invalid(
                "config/header",
                format!("the name of publication `{}` has a line break", publication.slug),
            ));
        }
        let envelope = normalise_address(from.email.as_ref()).map_err(|why| {
            invalid(
                "config/mailbox",
                format!(
                    "`from` of publication `{}`: {}",
                    publication.slug,
                    address::invalid(from.email.as_ref(), &why)
                ),
            )
        })?;
        let domain = envelope.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
        if domain.is_empty() {
            return Err(invalid(
                "config/mailbox",
                format!("`from` of publication `{}` has no domain", publication.slug),
            ));
        }
        Ok(Self { from, reply_to, envelope, domain })
    }

    /// The header lines every message of `publication` shares, for this run's `date`; the
    /// run's boundaries start with a random nonce.
    pub(crate) fn shared_headers(
        &self,
        publication: &Publication,
        subject: &str,
        date: jiff::Timestamp,
        feedback_id: Option<(&str, &str)>,
    ) -> Result<SharedHeaders, Error> {
        let mut nonce = [0u8; 8];
        crate::entropy::fill(&mut nonce)?;
        let list_id = self.list_id(publication);
        let fields = Fields {
            from: &self.from,
            reply_to: self.reply_to.as_ref(),
            subject,
            date,
            list_name: &publication.name,
            list_id: &list_id,
            feedback_id,
        };
        SharedHeaders::new(&fields, &hex(&nonce)).map_err(|why| Error::Invalid(vec![why.diagnostic()]))
    }

    /// The header lines of `publication`'s messages that the configuration makes too long to
    /// send: `From`, `Reply-To` and `List-Id` tested as [`Self::shared_headers`] tests them, each
    /// with the key of the publication that writes it and its value there.
    pub(crate) fn too_long<'a>(&self, publication: &'a Publication) -> Vec<(&'static str, &'a str, Diagnostic)> {
        let list_id = self.list_id(publication);
        [
            ("name", Some(publication.name.as_str()), Some(headers::list_id_line(&publication.name, &list_id))),
            ("from", Some(publication.from.as_str()), Some(headers::from_line(&self.from))),
            ("reply-to", publication.reply_to.as_deref(), self.reply_to.as_ref().map(headers::reply_to_line)),
        ]
        .into_iter()
        .filter_map(|(key, value, line)| Some((key, value?, line?.err()?.diagnostic())))
        .collect()
    }

    /// The list's identifier in `List-Id`: `<publication slug>.<from domain>`.
    fn list_id(&self, publication: &Publication) -> String {
        format!("{}.{}", publication.slug, self.domain)
    }
}

/// The recipient's `To` mailbox: the name only when it is safe in a header.
pub(crate) fn mailbox(recipient: &Recipient<'_>) -> Result<Mailbox, Error> {
    let address: Address = recipient
        .email
        .trim()
        .parse()
        .map_err(|_| invalid("compose/address", address::invalid(recipient.email, "it cannot be sent to")))?;
    let name = recipient.name.trim();
    let usable = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && !name.chars().any(char::is_control)
        && !crate::header::has_encoded_word(name);
    Ok(Mailbox::new(usable.then(|| name.to_owned()), address))
}
