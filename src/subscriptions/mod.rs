//! Subscription policy: who may be mailed, and who may change that. The one place the rules of
//! subscribing, confirming, unsubscribing, resubscribing, importing and bounce suppression live;
//! the CLI and the public endpoint are adapters over it.
//!
//! Enters: the state store ([`crate::state`]), a list file's paths, plain values (addresses,
//! lists, reasons, times read by the caller). Leaves: suppressions recorded or lifted, rows
//! written to a list by the editor's commands, sign-ups recorded in the store, and what was done ([`Resubscribed`], [`Admission`], [`Confirmed`]).
//!
//! The resubscribe rule ([`outcome`], documented as a table in `docs/subscribers.md`): an explicit
//! resubscribe, by the person (a confirmation link), by the editor (`resubscribe`) or by an
//! import the editor vouches for (`subscribers import --resubscribe`), lifts an *unsubscribe* for
//! the lists it names: a list's own is deleted, a global one is narrowed to every other list.
//! A bounce or a complaint is lifted only by the editor with `resubscribe --force`; a block by
//! hand (`manual`, the editor's own) by the editor (`resubscribe` or an import), never by a
//! confirmation link. What is not lifted stays and is reported.

use std::path::Path;

mod pull;
pub mod welcome;

pub use pull::{Pulled, Removed, pull, remove};

use jiff::Timestamp;

use crate::address;
use crate::config::SoftRule;
use crate::error::Error;
use crate::state::{NewSignup, Reason, Scope, State, Suppression};
use crate::subscribers::{self, Appended, Subscriber, SubscriberStatus, Upsert};

/// Who asks for an address to be mailed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The person, through a confirmation link (`GET /confirm`).
    Person,
    /// The editor, with `letterpress resubscribe` (`force`: `--force`).
    Editor {
        /// Whether a bounce or a complaint may be lifted too.
        force: bool,
    },
    /// The editor, through `subscribers import --resubscribe`.
    Import,
}

/// What a resubscribe does to one suppression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It is deleted.
    Lifted,
    /// A global suppression is replaced by one for every list but the one asked for.
    Narrowed,
    /// It stays, and still applies to what was asked for.
    Kept,
    /// It concerns another list and is left alone.
    Untouched,
}

/// Whether `actor` may lift a suppression recorded for `reason`.
pub fn may_lift(actor: Actor, reason: Reason) -> bool {
    match reason {
        Reason::Unsubscribed => true,
        Reason::Manual => actor != Actor::Person,
        Reason::Bounced | Reason::Complained => actor == Actor::Editor { force: true },
    }
}

/// The resubscribe rule: what `actor` asking for `asked` ([`Scope::All`]: every list, only the
/// editor asks for that) does to a suppression for `reason` held for `held`.
pub fn outcome(actor: Actor, reason: Reason, held: &Scope, asked: &Scope) -> Outcome {
    let concerned = match (held, asked) {
        (Scope::List(held), Scope::List(asked)) => held == asked,
        _ => true,
    };
    if !concerned {
        Outcome::Untouched
    } else if !may_lift(actor, reason) {
        Outcome::Kept
    } else if *held == Scope::All && *asked != Scope::All {
        Outcome::Narrowed
    } else {
        Outcome::Lifted
    }
}

/// Each suppression of `held` with what a resubscribe by `actor` for `asked` does to it.
pub fn plan(held: Vec<Suppression>, actor: Actor, asked: &Scope) -> Vec<(Suppression, Outcome)> {
    held.into_iter()
        .map(|s| {
            let outcome = outcome(actor, s.reason, &s.scope, asked);
            (s, outcome)
        })
        .collect()
}

/// What a resubscribe did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resubscribed {
    /// Suppressions deleted.
    pub lifted: usize,
    /// Global suppressions narrowed to the other lists.
    pub narrowed: usize,
    /// Suppressions that stay and still apply to what was asked for.
    pub kept: Vec<Suppression>,
}

impl Resubscribed {
    /// How many suppressions stopped applying to what was asked for.
    pub fn changed(&self) -> usize {
        self.lifted + self.narrowed
    }
}

/// Resubscribe `address` for `asked` as `actor` asks, by [`outcome`]. `lists` are every
/// configured list's slug: a narrowed global suppression is recorded again for each of them but
/// the one asked for, with its reason, source, time and note, before the global one is deleted
/// (so a failure in between leaves the address suppressed more, never less).
pub fn resubscribe(
    state: &State,
    address: &str,
    asked: &Scope,
    actor: Actor,
    lists: &[String],
) -> Result<Resubscribed, Error> {
    let mut done = Resubscribed::default();
    for (held, outcome) in plan(state.suppressions_of(address)?, actor, asked) {
        match outcome {
            Outcome::Untouched => {}
            Outcome::Kept => done.kept.push(held),
            Outcome::Lifted => {
                done.lifted += match &held.scope {
                    Scope::All => state.unsuppress_global(address)?,
                    list @ Scope::List(_) => state.unsuppress(address, list)?,
                };
            }
            Outcome::Narrowed => {
                for other in lists.iter().filter(|l| Scope::List((*l).clone()) != *asked) {
                    let scope = Scope::List(other.clone());
                    let note = held.note.as_deref();
                    state.suppress_noted(address, &scope, held.reason, &held.source, note, held.created_at)?;
                }
                done.narrowed += state.unsuppress_global(address)?;
            }
        }
    }
    Ok(done)
}

/// Record that `address` must not be mailed for `scope` (an unsubscribe link, `unsubscribe`, a
/// block by hand). Returns whether it is new: a repeat keeps the first record. A `note` with a
/// control character or too long, an invalid address or a list that is not a slug is an
/// [`Error::Usage`].
pub fn unsubscribe(
    state: &State,
    address: &str,
    scope: &Scope,
    reason: Reason,
    source: &str,
    note: Option<&str>,
    at: Timestamp,
) -> Result<bool, Error> {
    state.suppress_noted(address, scope, reason, source, note, at)
}

/// The scope a suppression for `reason` covers when it is recorded for `list` (or for every
/// list): a bounce or a complaint is about the address and the sender, so it covers every list;
/// an unsubscribe or a block by hand covers what was asked.
pub fn suppress_for(reason: Reason, list: Option<&str>) -> Scope {
    match (reason, list) {
        (Reason::Bounced | Reason::Complained, _) | (_, None) => Scope::All,
        (Reason::Unsubscribed | Reason::Manual, Some(list)) => Scope::List(list.to_owned()),
    }
}

/// What a bounce says about an address, for the bounce rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceKind {
    /// Permanent: the address does not work.
    Hard,
    /// Temporary: it may work again.
    Soft,
    /// Its owner marked our mail as spam.
    Complaint,
}

/// One bounce, complaint or refusal of an address, as the bounce rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounce<'a> {
    /// The address.
    pub address: &'a str,
    /// What happened.
    pub kind: BounceKind,
    /// Where it came from, kept with a suppression (`bounce:<message-id>`, `smtp:<issue>`).
    pub source: &'a str,
}

/// The bounce rule, the one place bounces turn into suppressions: a hard bounce or a
/// complaint suppresses the address on every list at once ([`suppress_for`]; reasons `bounced`
/// and `complained`); a soft bounce does when the address soft-bounced on `soft.count` of its
/// last `soft.window` sends. The soft count is read from the recorded bounce events, so the
/// caller records the event first (in the same [`State::atomically`] transaction). Only the
/// editor's `resubscribe --force` lifts what this records ([`may_lift`]).
///
/// Returns the reason when a new suppression was recorded (`None`: not suppressed, or it was
/// already). An invalid address is an [`Error::Usage`].
pub fn record_bounce(
    state: &State,
    bounce: &Bounce<'_>,
    soft: SoftRule,
    at: Timestamp,
) -> Result<Option<Reason>, Error> {
    let reason = match bounce.kind {
        BounceKind::Hard => Reason::Bounced,
        BounceKind::Complaint => Reason::Complained,
        BounceKind::Soft => {
            let key = address::address_key(bounce.address);
            if state.soft_bounces_within(&key, soft.window)? < soft.count {
                return Ok(None);
            }
            Reason::Bounced
        }
    };
    let added = state.suppress(bounce.address, &suppress_for(reason, None), reason, bounce.source, at)?;
    Ok(added.then_some(reason))
}

/// What the state store says about adding one address to a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Nothing suppresses it there.
    Allowed,
    /// Suppressed, and the resubscribe asked for may lift every suppression in the way.
    Lift,
    /// Suppressed, and it stays so: not asked to resubscribe, or a suppression the actor may not
    /// lift (the first of them).
    Refused(Option<Suppression>),
}

/// Whether `address` may be added to `list` by `actor` (`resubscribe`: whether the caller asks
/// to lift suppressions). All or nothing: a row is written only if it will be mailed.
pub fn admit(
    state: Option<&State>,
    address: &str,
    list: &str,
    actor: Actor,
    resubscribe: bool,
) -> Result<Admission, Error> {
    let Some(state) = state else { return Ok(Admission::Allowed) };
    let asked = Scope::List(list.to_owned());
    let planned: Vec<(Suppression, Outcome)> = plan(state.suppressions_of(address)?, actor, &asked)
        .into_iter()
        .filter(|(_, o)| *o != Outcome::Untouched)
        .collect();
    if planned.is_empty() {
        return Ok(Admission::Allowed);
    }
    if let Some((kept, _)) = planned.iter().find(|(_, o)| *o == Outcome::Kept) {
        return Ok(Admission::Refused(Some(kept.clone())));
    }
    Ok(if resubscribe { Admission::Lift } else { Admission::Refused(None) })
}

/// The suppression an imported row's `status` stands for, for the list it is imported into:
/// a complaint (`complained`, which the export gives as unsubscribed) is one, which only
/// `resubscribe --force` lifts.
pub fn import_suppression(status: SubscriberStatus, complained: bool) -> Option<Reason> {
    match status {
        SubscriberStatus::Unsubscribed if complained => Some(Reason::Complained),
        SubscriberStatus::Unsubscribed => Some(Reason::Unsubscribed),
        SubscriberStatus::Bounced => Some(Reason::Bounced),
        SubscriberStatus::Active | SubscriberStatus::Pending => None,
    }
}

/// Add `subscriber` to the list at `path` (`shown` in messages) as the editor asks
/// (`subscribers add`): merged with a row of the same address, with `new_columns` added.
/// Returns what was written and whether the address is suppressed for the list anyway
/// (the row is still written: the list is the editor's, the suppression the person's).
pub fn subscribe(
    state: Option<&State>,
    path: &Path,
    shown: &Path,
    list: &str,
    subscriber: &Subscriber,
    new_columns: &[String],
) -> Result<(Option<Appended>, bool), Error> {
    let result =
        subscribers::upsert_rows_with(path, shown, std::slice::from_ref(subscriber), Upsert::Merge, new_columns)?;
    let suppressed = match state {
        Some(state) => state.is_suppressed(&address::parse(&subscriber.email)?, list)?,
        None => false,
    };
    Ok((result.into_iter().next(), suppressed))
}

/// A subscription a person asked for, as a confirmation link carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The address, normalised.
    pub email: &'a str,
    /// The list's slug.
    pub list: &'a str,
    /// The name given, if any.
    pub name: &'a str,
    /// When the confirmation link was sent.
    pub sent: Timestamp,
}

/// What a confirmation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// The address was suppressed for the list (or every list) after the link was sent: the link
    /// must not undo that, and nothing changed.
    Superseded,
    /// The address is active on the list; `blocked` is a suppression that still applies (a
    /// bounce, a complaint, a block by hand), if any.
    Enrolled {
        /// The reason of the first suppression that still applies.
        blocked: Option<Reason>,
    },
}

/// Whether a suppression of `request`'s address for its list was recorded after the link was
/// sent (`state`: the store; read before [`confirm`] writes anything).
pub fn superseded(state: &State, request: &Request<'_>) -> Result<bool, Error> {
    let scope = Scope::List(request.list.to_owned());
    let held = state.suppressions_of(request.email)?;
    Ok(held.iter().any(|s| (s.scope == Scope::All || s.scope == scope) && s.created_at > request.sent))
}

/// Where a confirmed sign-up is recorded as coming from.
pub const CONFIRM_SOURCE: &str = "confirm-link";

/// A confirmed `request`, in one transaction of the store: [`Confirmed::Superseded`] (nothing
/// changed) if the address was suppressed for the list after the link was sent ([`superseded`]);
/// else the sign-up recorded in the store as of `now` (never in the list's CSV, which is the
/// editors'; `subscribers pull` copies it there) and the person's resubscribe done
/// ([`confirm`]; `lists`: every configured list's slug). Confirming again records the same
/// sign-up again, with the new time.
pub fn enrol(state: &State, request: &Request<'_>, lists: &[String], now: Timestamp) -> Result<Confirmed, Error> {
    state.atomically(|state| {
        if superseded(state, request)? {
            return Ok(Confirmed::Superseded);
        }
        let attrs = std::collections::BTreeMap::new();
        let signup = NewSignup {
            list: request.list,
            email: request.email,
            name: request.name,
            attrs: &attrs,
            source: CONFIRM_SOURCE,
        };
        state.record_signup(&signup, now)?;
        confirm(state, request, lists)
    })
}

/// The suppression half of a confirmed `request`: a resubscribe by the person for the list
/// ([`resubscribe`] with [`Actor::Person`]; `lists`: every configured list's slug).
pub fn confirm(state: &State, request: &Request<'_>, lists: &[String]) -> Result<Confirmed, Error> {
    let asked = Scope::List(request.list.to_owned());
    let done = resubscribe(state, request.email, &asked, Actor::Person, lists)?;
    Ok(Confirmed::Enrolled { blocked: done.kept.first().map(|s| s.reason) })
}

#[cfg(test)]
mod tests;
