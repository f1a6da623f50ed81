//! A confirmed subscription and its welcome: the list's welcome issue is queued in the state
//! store (sent once per list, by `send::welcome`), and whoever sends welcomes is nudged.
//!
//! Here, not in `send`, so that what records a subscription (`serve`'s `/confirm`,
//! `subscribers add/import --welcome`) does not import the send stage.

use std::sync::mpsc;

use crate::config::List;
use crate::error::Result;
use crate::state::State;
use crate::state::journal::NewRecipient;
use crate::subscribers::Subscriber;

/// Queue the welcome of `subscriber`, just confirmed on `list`, when the list has a welcome
/// issue. Returns whether it was queued now (`false`: no welcome, or queued before).
pub fn queue(state: &State, list: &List, subscriber: &Subscriber, at: jiff::Timestamp) -> Result<bool> {
    if list.welcome.is_none() {
        return Ok(false);
    }
    let recipient = NewRecipient {
        address_key: crate::address::address_key(&subscriber.email),
        email: subscriber.email.clone(),
        name: subscriber.name.clone(),
        attrs: subscriber.attrs.clone(),
        list: list.slug.clone(),
        token_id: None,
        message_id: None,
    };
    state.queue_welcome(&recipient, at)
}

/// Wakes whoever sends the welcomes (`send::welcome::Worker`, started by the command); dropping
/// every `Nudge` stops it after its current pass.
#[derive(Debug, Clone)]
pub struct Nudge(mpsc::Sender<()>);

impl Nudge {
    /// Ask for a pass now.
    pub fn nudge(&self) {
        let _ = self.0.send(());
    }
}

/// A [`Nudge`] and the wake-ups it sends, for the welcome sender.
pub fn nudges() -> (Nudge, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    (Nudge(tx), rx)
}
