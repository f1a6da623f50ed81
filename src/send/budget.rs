//! A send's share of its relay's quotas (`sending.limits`): reserved from the state store in
//! small blocks, so a message costs no transaction of its own and two processes sharing the
//! budget never overdraw it; what is left of a block goes back at the end of the run.
//!
//! A per-second or per-minute budget used up makes the workers wait for its window; an hourly
//! or daily one stops the run with the rest `pending`, saying when it frees up.

use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

use super::actor::{Journal, Reservation};
use crate::error::{Error, Result};
use crate::mail::quota::exhausted;
use crate::state::budgets::{Limit, Reserved, Window};

/// Why a message may not go now.
#[derive(Debug)]
pub enum Denied {
    /// Wait this long for the window to turn.
    Wait(Duration),
    /// Stop the run: the budget frees up too late to wait for.
    Stop(Error),
}

/// One relay's budget during a run.
#[derive(Debug)]
pub struct Budget {
    relay: String,
    limits: Vec<Limit>,
    block: u64,
    /// The run's start on the wall clock and on tokio's, so budgets see time pass even on a
    /// pinned clock.
    base: (Timestamp, Instant),
    local: Mutex<Local>,
}

#[derive(Debug)]
struct Local {
    left: u64,
    reserved_at: Timestamp,
}

impl Budget {
    /// `relay`'s budget with `limits`; `now` is the run's start. `None` without limits.
    pub fn new(relay: &str, limits: Vec<Limit>, now: Timestamp) -> Option<Self> {
        let smallest = limits.iter().map(|l| l.max).min()?;
        Some(Self {
            relay: relay.to_owned(),
            block: (smallest / 8).clamp(1, 64),
            limits,
            base: (now, Instant::now()),
            local: Mutex::new(Local { left: 0, reserved_at: now }),
        })
    }

    fn now(&self) -> Timestamp {
        let elapsed = jiff::SignedDuration::try_from(self.base.1.elapsed()).unwrap_or_default();
        self.base.0.checked_add(elapsed).unwrap_or(self.base.0)
    }

    /// Take one message of the budget.
    pub async fn take(&self, journal: &Journal) -> Result<std::result::Result<(), Denied>> {
        if let Ok(mut local) = self.local.lock()
            && local.left > 0
        {
            local.left -= 1;
            return Ok(Ok(()));
        }
        let now = self.now();
        let reservation = Reservation {
            relay: self.relay.clone(),
            limits: self.limits.clone(),
            want: self.block,
            release: 0,
            reserved_at: now,
            at: now,
        };
        match journal.reserve(reservation).await? {
            Reserved::Granted(n) => {
                if let Ok(mut local) = self.local.lock() {
                    local.left += n.saturating_sub(1);
                    local.reserved_at = now;
                }
                Ok(Ok(()))
            }
            Reserved::Exhausted { limit, resets_at } if matches!(limit.window, Window::Second | Window::Minute) => {
                let wait = resets_at.duration_since(now).unsigned_abs();
                Ok(Err(Denied::Wait(wait.max(Duration::from_millis(10)))))
            }
            Reserved::Exhausted { limit, resets_at } => Ok(Err(Denied::Stop(exhausted(&self.relay, limit, resets_at)))),
        }
    }

    /// Give back what is left of the last block.
    pub async fn release(&self, journal: &Journal) -> Result<()> {
        let (left, reserved_at) = match self.local.lock() {
            Ok(mut local) => (std::mem::take(&mut local.left), local.reserved_at),
            Err(_) => return Ok(()),
        };
        if left == 0 {
            return Ok(());
        }
        let reservation = Reservation {
            relay: self.relay.clone(),
            limits: self.limits.clone(),
            want: 0,
            release: left,
            reserved_at,
            at: self.now(),
        };
        journal.reserve(reservation).await.map(drop)
    }
}
