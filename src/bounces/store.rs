//! The state-store [`Sink`]: what `bounces ingest`, `bounces fetch` and the webhooks of
//! `serve` hand every message and provider event to.
//!
//! Enters: raw messages and verified [`ProviderEvent`]s. Leaves: bounce events recorded once
//! in the state store, journal rows marked `bounced`, suppressions decided by
//! [`crate::subscriptions::record_bounce`], and a [`Handled`] per message.
//!
//! Per message: [`analyse`](super::analyse) → [`Attributor::attribute`] each finding → in one
//! transaction record every finding's event (key: the bounce's `Message-ID`, or `sha256:` of
//! the message's text when it has none, with the address), and for each event that is new mark
//! its journal row `bounced` (hard and soft) and apply the bounce rule. A message read twice, or
//! a process killed half-way and run again, changes the store exactly once.
//!
//! What is acted on: a hard or soft bounce or a complaint attributed to a journal row by a
//! token signed with our keys (the address was sent that message), and every verified provider
//! event. An unattributed bounce, or one that names a row only by its quoted `Message-ID` or
//! `List-Id`, is recorded without a send and suppresses nothing (anyone can mail a bounce naming
//! any address, and quote a Message-ID or List-Id); one to a return path whose token does not
//! verify is not even recorded. The sink prints nothing: its
//! callers log one line per message from the [`Handled`] it returns.

use sha2::{Digest as _, Sha256};

use super::attribute::{Attribution, Attributor};
use super::{Analysis, Finding, Handled, ProviderEvent, Sink, Verdict};
use crate::address::address_key;
use crate::clock::Clock;
use crate::config::SoftRule;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::project::Project;
use crate::state::{JournalRow, NewEvent, State};
use crate::subscriptions::{Bounce, BounceKind, record_bounce};
use crate::token::Keys;

/// Reads messages with a function (`bounces::analyse` in a run; a stand-in in tests).
pub type Analyser = fn(&[u8]) -> Analysis;

/// Records bounces in the project's state store.
#[derive(Debug)]
pub struct StoreSink {
    state: State,
    attributor: Attributor,
    soft: SoftRule,
    clock: Clock,
    analyse: Analyser,
    crash_after: Option<u64>,
    committed: u64,
}

/// What one message or event changed, beyond its events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effects {
    /// Journal rows marked `bounced`.
    pub bounced: usize,
    /// Addresses newly suppressed.
    pub suppressed: usize,
}

impl StoreSink {
    /// The sink of `project`'s state store (created if missing), with the project's signing
    /// keys (`LETTERPRESS_UNSUBSCRIBE_KEYS` in `env`, or the key file; with neither, no return
    /// path verifies) and its `bounces` settings. `clock` times the events.
    pub fn open(project: &Project, clock: &Clock, env: &Env) -> Result<Self> {
        let config = &project.config;
        let state = State::open_store(&crate::state::Store::from_config(&config.state, &project.root, env)?)?;
        let keys = Keys::load_or_throwaway(&project.root.join(crate::state::DIR), env)?;
        let return_path =
            config.bounces.return_path().map_err(|why| Error::usage(format!("`bounces.address`: {why}")))?;
        Self::new(state, keys, return_path, config.bounces.soft, clock.clone())
    }

    /// A sink over an open store, for callers that hold one.
    pub fn new(
        state: State,
        keys: Keys,
        return_path: Option<crate::token::return_path::ReturnPath>,
        soft: SoftRule,
        clock: Clock,
    ) -> Result<Self> {
        let attributor = Attributor::new(&state, keys, return_path)?;
        Ok(Self { state, attributor, soft, clock, analyse: super::analyse, crash_after: None, committed: 0 })
    }

    /// Read messages with `analyse` instead of [`super::analyse`] (tests).
    #[must_use]
    pub fn with_analyser(mut self, analyse: Analyser) -> Self {
        self.analyse = analyse;
        self
    }

    /// Test seam: abort the process inside the transaction of the message after `n` committed
    /// ones (its events written, not committed), as a `kill -9` there would.
    #[must_use]
    pub fn crash_after(mut self, n: Option<u64>) -> Self {
        self.crash_after = n;
        self
    }

    /// The store, for reading what was recorded.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Analyse and attribute one message without recording anything: each finding with its
    /// attribution (what `bounces scan` shows).
    pub fn attribute(&mut self, analysis: &Analysis) -> Result<Vec<Attribution>> {
        let mut found = Vec::with_capacity(analysis.findings.len());
        for finding in &analysis.findings {
            found.push(self.attributor.attribute(&self.state, analysis, finding)?);
        }
        Ok(found)
    }

    fn record(&mut self, events: &[(NewEvent, Option<BounceKind>)]) -> Result<(usize, Effects)> {
        let soft = self.soft;
        let crash = self.crash_after.is_some_and(|n| self.committed >= n);
        let at = self.clock.now();
        let done = self.state.atomically(|state| {
            let mut new = 0;
            let mut effects = Effects::default();
            for (event, act) in events {
                if !state.record_bounce_event(event)? {
                    continue;
                }
                new += 1;
                let Some(kind) = act else { continue };
                if let Some(row) = &event.row
                    && *kind != BounceKind::Complaint
                    && state.mark_bounced(row, event.reply, &reply_text(event), at)?
                {
                    effects.bounced += 1;
                }
                let bounce = Bounce { address: &event.address, kind: *kind, source: &event.source };
                if record_bounce(state, &bounce, soft, at)?.is_some() {
                    effects.suppressed += 1;
                }
            }
            if crash {
                crash_now();
            }
            Ok((new, effects))
        })?;
        self.committed += 1;
        Ok(done)
    }

    /// As [`Sink::message`], also saying what changed.
    pub fn message_effects(&mut self, raw: &[u8], origin: &str) -> Result<(Handled, Effects)> {
        let analysis = (self.analyse)(raw);
        if analysis.findings.is_empty() {
            return Ok((Handled::Ignored("not a bounce or a feedback report".to_owned()), Effects::default()));
        }
        if analysis.findings.iter().all(|f| f.recipient.is_none() && f.verdict == Verdict::Unknown) {
            return Ok((Handled::Unparsable("no recipient or status could be read".to_owned()), Effects::default()));
        }
        let source = if let Some(id) = &analysis.message_id {
            id.clone()
        } else {
            let source = content_digest(raw);
            // What an earlier version keyed a message by: its bytes as they were.
            let before = format!("sha256:{}", crate::token::hex(&Sha256::digest(raw)));
            if source != before && self.state.bounce_source_seen(&before)? {
                return Ok((Handled::Duplicate, Effects::default()));
            }
            source
        };
        if self.state.bounce_source_seen(&source)? {
            return Ok((Handled::Duplicate, Effects::default()));
        }
        let mut events = Vec::with_capacity(analysis.findings.len());
        for finding in &analysis.findings {
            match self.attributor.attribute(&self.state, &analysis, finding)? {
                Attribution::Forged => {
                    return Ok((
                        Handled::Ignored("delivered to a return path whose token does not verify".to_owned()),
                        Effects::default(),
                    ));
                }
                Attribution::Row(row, method) => {
                    // A delay warning is kept against its row, and changes nothing: the message
                    // may still arrive.
                    let act = if finding.is_delay() { None } else { kind_of(finding.verdict) };
                    let own = finding.recipient.as_deref().is_some_and(|r| address_key(r) == row.address_key);
                    let event = event(finding, Some(row), Some(method.as_str()), &source, origin, &self.clock);
                    events.push((event, act, own));
                }
                // Claimed by what anyone can write: kept, under the address the bounce names (or
                // the claimed row's), with no send, so it counts towards no rate and no soft
                // rule, and suppresses nobody.
                Attribution::Unverified(row, method) => {
                    let claimed =
                        Finding { recipient: finding.recipient.clone().or(Some(row.email)), ..finding.clone() };
                    let unverified = Some(method.unverified_str());
                    events.push((event(&claimed, None, unverified, &source, origin, &self.clock), None, true));
                }
                Attribution::Unattributed => {
                    events.push((event(finding, None, None, &source, origin, &self.clock), None, true));
                }
            }
        }
        let events = one_per_address(events.into_iter().filter(|(e, ..)| !e.address.is_empty() || e.row.is_some()));
        if events.is_empty() {
            return Ok((Handled::Ignored("no recipient could be read".to_owned()), Effects::default()));
        }
        let (new, effects) = self.record(&events)?;
        Ok((if new == 0 { Handled::Duplicate } else { Handled::Recorded(new) }, effects))
    }

    /// As [`Sink::event`], also saying what changed.
    pub fn event_effects(&mut self, event: &ProviderEvent) -> Result<(Handled, Effects)> {
        let key = address_key(&event.recipient);
        let row = match event.message_id.as_deref() {
            Some(id) => self.state.row_by_message_id(id)?.filter(|r| r.address_key == key),
            None => None,
        };
        let (row, method) = match row {
            Some(row) => (Some(row), Some("message-id")),
            None => match self.state.latest_row_in(None, &key)? {
                Some(row) => (Some(row), Some("recipient")),
                None => (None, None),
            },
        };
        let finding = Finding {
            recipient: Some(event.recipient.clone()),
            verdict: event.verdict,
            status: event.status.clone(),
            reply: event.reply,
            reason: event.verdict.as_str().to_owned(),
            diagnostic: event.diagnostic.clone(),
        };
        let source = format!("{}:{}", event.provider.as_str(), event.event_id);
        let mut new_event = NewEvent {
            provider: Some(event.provider.as_str()),
            ..self::event(&finding, row, method, &source, &format!("webhook:{}", event.provider.as_str()), &self.clock)
        };
        if let Some(at) = event.at {
            new_event.at = at;
        }
        let (new, effects) = self.record(&[(new_event, kind_of(event.verdict))])?;
        Ok((if new == 0 { Handled::Duplicate } else { Handled::Recorded(new) }, effects))
    }
}

impl Sink for StoreSink {
    fn message(&mut self, raw: &[u8], origin: &str) -> Result<Handled> {
        self.message_effects(raw, origin).map(|(handled, _)| handled)
    }

    fn event(&mut self, event: &ProviderEvent) -> Result<Handled> {
        self.event_effects(event).map(|(handled, _)| handled)
    }
}

/// The key of a message without a `Message-ID`: `sha256:` of its text with CRLF line ends read
/// as LF and its trailing white space left out, so one message read from a Maildir file, from
/// IMAP (CRLF) and from an mbox is the same message.
fn content_digest(raw: &[u8]) -> String {
    let mut hasher = Sha256::new();
    let mut rest = raw.trim_ascii_end();
    while let Some(at) = memchr::memmem::find(rest, b"\r\n") {
        hasher.update(&rest[..at]);
        rest = &rest[at + 1..];
    }
    hasher.update(rest);
    format!("sha256:{}", crate::token::hex(&hasher.finalize()))
}

/// One event per address of a message (what the store keeps, keyed by source and address),
/// from `(event, what it does, whether its finding names that address itself)`.
///
/// Several findings land on one address when a report lists several recipient blocks for the
/// one recipient a return path or token names (forwarding, an alias the receiving system
/// expanded): a block about that address itself beats one about a forwarding target, and then
/// the one that says most (complaint, hard, soft, a delay, anything else); the first of equals.
fn one_per_address(
    events: impl Iterator<Item = (NewEvent, Option<BounceKind>, bool)>,
) -> Vec<(NewEvent, Option<BounceKind>)> {
    let rank = |(event, _, own): &(NewEvent, Option<BounceKind>, bool)| {
        let weight = match event.verdict {
            "complaint" => 5,
            "hard" => 4,
            "soft" if event.reason != super::DELAYED => 3,
            "soft" => 2,
            _ => 1,
        };
        (*own, weight)
    };
    let mut kept: Vec<(NewEvent, Option<BounceKind>, bool)> = Vec::new();
    for candidate in events {
        match kept.iter_mut().find(|(e, ..)| e.address_key == candidate.0.address_key) {
            Some(held) if rank(&candidate) > rank(held) => *held = candidate,
            Some(_) => {}
            None => kept.push(candidate),
        }
    }
    kept.into_iter().map(|(event, act, _)| (event, act)).collect()
}

/// What the bounce rule is told about a verdict; `None`: nothing to act on.
fn kind_of(verdict: Verdict) -> Option<BounceKind> {
    match verdict {
        Verdict::Hard => Some(BounceKind::Hard),
        Verdict::Soft => Some(BounceKind::Soft),
        Verdict::Complaint => Some(BounceKind::Complaint),
        Verdict::AutoReply | Verdict::Delivered | Verdict::Unknown => None,
    }
}

fn event(
    finding: &Finding,
    row: Option<JournalRow>,
    attributed: Option<&'static str>,
    source: &str,
    origin: &str,
    clock: &Clock,
) -> NewEvent {
    // The journal's address when attributed: the token names whom we sent to, whatever
    // forwarding address the report shows.
    let address = row.as_ref().map(|r| r.email.clone()).or_else(|| finding.recipient.clone()).unwrap_or_default();
    NewEvent {
        at: clock.now(),
        attributed,
        address_key: if address.is_empty() { String::new() } else { address_key(&address) },
        address,
        row,
        verdict: finding.verdict.as_str(),
        status: finding.status.clone(),
        reply: finding.reply,
        diagnostic: finding.diagnostic.clone(),
        reason: finding.reason.clone(),
        source: source.to_owned(),
        origin: origin.to_owned(),
        provider: None,
    }
}

/// The bounce as one line for the journal row: reply code, status, diagnostic; a code the
/// diagnostic already gives (`550 5.1.1 user unknown`) is not written twice.
fn reply_text(event: &NewEvent) -> String {
    let diagnostic = event.diagnostic.as_deref().unwrap_or_default();
    let reply = event.reply.filter(|&r| super::codes::find_reply(diagnostic) != Some(r));
    let status = event.status.clone().filter(|s| super::codes::find_status(diagnostic).as_ref() != Some(s));
    let parts = [reply.map(|r| r.to_string()), status, event.diagnostic.clone()];
    let text = parts.into_iter().flatten().collect::<Vec<_>>().join(" ");
    let text = if text.is_empty() { event.reason.clone() } else { text };
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(500).collect()
}

#[cfg(feature = "test-hooks")]
fn crash_now() {
    std::process::abort();
}

#[cfg(not(feature = "test-hooks"))]
fn crash_now() {}

#[cfg(test)]
mod tests;
