//! The circuit breaker, shared by every worker of a send.
//!
//! [`Breaker`] counts consecutive sender problems (5.7.x policy rejections, or the same content
//! rejection again and again) and trips after the configured number, so a misconfigured domain
//! stops the send instead of burning through the list. It also counts consecutive "no such
//! user" bounces (5.1.x): a relay that refuses everyone must not get the whole list suppressed,
//! so a bounce is believed only once a later delivery shows the relay delivers, and the same
//! number of them in a row, with no delivery between, trips it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::retry::Reply;

/// Consecutive sender-problem rejections, and consecutive bounces.
#[derive(Debug)]
pub struct Breaker {
    limit: usize,
    state: Mutex<Streak>,
    bounces: Mutex<Bounces>,
    /// Whether a bounce streak is open: without one, a delivery takes no lock for it.
    streak_open: AtomicBool,
    /// Whether anything was delivered in this run (as `Bounces::delivered`, without the lock).
    any_delivered: AtomicBool,
}

/// The breaker's memory of the run's bounces (5.1.x "no such user" replies).
#[derive(Debug, Default)]
struct Bounces {
    /// The current streak: each recipient, reply, and the highest `seq` any worker had taken
    /// when the bounce came (a delivery proves the relay delivers *after* the bounce only for a
    /// row taken later). `deferred` until a delivery ends it.
    streak: Vec<(String, Reply, i64)>,
    /// Recipients of streaks a delivery ended: believed, so `failed` and suppressed once the
    /// run is over.
    believed: Vec<(String, Reply)>,
    /// Whether a delivery succeeded in this run.
    delivered: bool,
    /// A streak reached the limit: nothing of it, or after it, is believed in this run.
    tripped: bool,
}

/// The breaker's memory of the current run of problems.
#[derive(Debug, Default)]
struct Streak {
    count: usize,
    /// The content rejection repeated, when the streak is one.
    content: Option<String>,
    /// Recipients of the streak's content rejections, `deferred` until the streak is decided.
    victims: Vec<String>,
    /// Recipients of content rejections whose streak ended without tripping the breaker: one
    /// refused message each, so they are `failed` once the run is over.
    refused: Vec<(String, Reply)>,
    /// The reply of the current streak.
    reply: Option<Reply>,
}

impl Streak {
    /// The streak ends without tripping: its victims' rejections stand.
    fn end(&mut self) {
        if let Some(reply) = self.reply.take() {
            let victims = std::mem::take(&mut self.victims);
            self.refused.extend(victims.into_iter().map(|key| (key, reply.clone())));
        }
        self.count = 0;
        self.content = None;
    }
}

impl Breaker {
    /// Trip after `limit` in a row.
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            state: Mutex::new(Streak::default()),
            bounces: Mutex::new(Bounces::default()),
            streak_open: AtomicBool::new(false),
            any_delivered: AtomicBool::new(false),
        }
    }

    /// How many in a row trip it.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A delivery succeeded: the streak of sender problems or content rejections is over.
    pub fn reset(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.end();
        }
    }

    /// Row `seq` was delivered: the bounces that came before a worker took it are believed,
    /// and leave the streak. (A delivery already under way when a bounce came proves nothing
    /// about the relay after it.)
    pub fn delivered(&self, seq: i64) {
        // The usual case, once anything was delivered: no streak open, nothing to lock.
        if !self.streak_open.load(Ordering::Acquire) && self.any_delivered.load(Ordering::Relaxed) {
            return;
        }
        self.any_delivered.store(true, Ordering::Relaxed);
        if let Ok(mut bounces) = self.bounces.lock() {
            bounces.delivered = true;
            if bounces.tripped || bounces.streak.is_empty() {
                return;
            }
            let (before, still): (Vec<_>, Vec<_>) =
                std::mem::take(&mut bounces.streak).into_iter().partition(|(_, _, taken)| *taken < seq);
            self.streak_open.store(!still.is_empty(), Ordering::Release);
            bounces.streak = still;
            bounces.believed.extend(before.into_iter().map(|(key, reply, _)| (key, reply)));
        }
    }

    /// The relay said recipient `key` does not exist (`reply`, 5.1.x); the caller records it
    /// `deferred`. Returns true when the breaker trips: `limit` bounces in a row with no
    /// delivery between them (and for every bounce after that in this run). Then the relay,
    /// not the list, is suspect, and the streak's recipients stay `deferred`, suppressed by
    /// no one.
    /// `taken` is the highest `seq` any worker had taken when the reply came.
    pub fn bounce(&self, key: &str, reply: &Reply, taken: i64) -> bool {
        self.bounces.lock().is_ok_and(|mut bounces| {
            if bounces.tripped {
                return true;
            }
            bounces.streak.push((key.to_owned(), reply.clone(), taken));
            self.streak_open.store(true, Ordering::Release);
            if bounces.streak.len() < self.limit {
                return false;
            }
            bounces.tripped = true;
            bounces.streak.clear();
            self.streak_open.store(false, Ordering::Release);
            true
        })
    }

    /// The bounced recipients to record `failed` and suppress now that the run is over: those
    /// of every streak a delivery ended, and of a streak still open at the end (too short to
    /// trip) when the run delivered before it — the relay was delivering, and too few
    /// recipients were left to tell more. None of a tripped streak, nor after it.
    pub fn believed_bounces(&self) -> Vec<(String, Reply)> {
        self.bounces.lock().map_or_else(
            |_| Vec::new(),
            |mut bounces| {
                if bounces.delivered && !bounces.tripped {
                    let open = std::mem::take(&mut bounces.streak);
                    bounces.believed.extend(open.into_iter().map(|(key, reply, _)| (key, reply)));
                }
                std::mem::take(&mut bounces.believed)
            },
        )
    }

    /// A sender problem: returns true when the breaker trips.
    pub fn sender_problem(&self) -> bool {
        self.state.lock().is_ok_and(|mut state| {
            let count = state.count;
            state.end();
            state.count = count + 1;
            state.count >= self.limit
        })
    }

    /// The relay refused the message of recipient `key` with `reply`, which the caller records
    /// `deferred`. Only the same rejection again and again trips the breaker: then the message,
    /// not the recipients, is at fault, and every recipient of the streak stays `deferred` for
    /// the run after the fix. Returns true when the breaker trips.
    pub fn content_rejection(&self, key: &str, reply: &Reply) -> bool {
        let text = reply.summary();
        self.state.lock().is_ok_and(|mut state| {
            if state.content.as_deref() != Some(text.as_str()) {
                state.end();
                state.content = Some(text);
                state.reply = Some(reply.clone());
            }
            state.count += 1;
            state.victims.push(key.to_owned());
            if state.count < self.limit {
                return false;
            }
            // Decided: the streak's recipients keep `deferred`, and so do the same rejections
            // still arriving from messages already in flight.
            state.victims.clear();
            true
        })
    }

    /// The recipients whose content rejection turned out not to be part of a tripping streak,
    /// with their replies: they are to be recorded `failed` now that the run is over. Includes
    /// the current streak, which can no longer trip.
    pub fn refused(&self) -> Vec<(String, Reply)> {
        self.state.lock().map_or_else(
            |_| Vec::new(),
            |mut state| {
                state.end();
                std::mem::take(&mut state.refused)
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_trips_on_a_run_not_on_scattered_problems() {
        let breaker = Breaker::new(3);
        assert!(!breaker.sender_problem());
        assert!(!breaker.sender_problem());
        breaker.reset();
        assert!(!breaker.sender_problem());
        assert!(!breaker.sender_problem());
        assert!(breaker.sender_problem());
        let content = Breaker::new(2);
        assert!(!content.content_rejection("a", &reply(552, "too big")));
        assert!(!content.content_rejection("b", &reply(554, "other")));
        assert!(content.content_rejection("c", &reply(554, "other")));
    }

    #[test]
    fn bounces_are_believed_after_a_later_delivery_and_a_streak_of_them_trips_and_is_not() {
        let unknown = reply(550, "5.1.1 no such user");
        let key = |k: &str| (k.to_owned(), unknown.clone());
        let sprinkled = Breaker::new(3);
        assert!(!sprinkled.bounce("b", &unknown, 8));
        assert!(!sprinkled.bounce("c", &unknown, 9));
        sprinkled.delivered(7);
        assert!(sprinkled.bounces.lock().unwrap().believed.is_empty(), "row 7 was taken before b and c bounced");
        sprinkled.delivered(10);
        assert!(!sprinkled.bounce("d", &unknown, 11), "the streak restarted after the delivery");
        assert!(!sprinkled.bounce("e", &unknown, 12));
        assert_eq!(
            sprinkled.believed_bounces(),
            [key("b"), key("c"), key("d"), key("e")],
            "d and e: still open at the end, after deliveries"
        );

        let nothing_delivered = Breaker::new(3);
        assert!(!nothing_delivered.bounce("a", &unknown, 1));
        assert!(nothing_delivered.believed_bounces().is_empty(), "no delivery in the run: nothing believed");

        let relay = Breaker::new(3);
        assert!(!relay.bounce("a", &unknown, 1));
        relay.delivered(2);
        assert!(!relay.bounce("b", &unknown, 5));
        relay.delivered(4);
        assert!(!relay.bounce("c", &unknown, 6));
        assert!(relay.bounce("d", &unknown, 7), "three in a row: the delivery of row 4 began before them");
        assert!(relay.bounce("e", &unknown, 8), "in flight when it tripped");
        relay.delivered(9);
        assert_eq!(relay.believed_bounces(), [key("a")], "only the bounce a later delivery followed before the streak");
    }

    fn reply(code: u16, text: &str) -> Reply {
        Reply { code, enhanced: None, text: text.to_owned() }
    }

    #[test]
    fn only_content_rejections_outside_a_tripping_streak_are_refused_for_good() {
        let breaker = Breaker::new(3);
        assert!(!breaker.content_rejection("a", &reply(552, "too big")));
        breaker.reset();
        assert!(!breaker.content_rejection("b", &reply(554, "bad header")));
        assert!(!breaker.content_rejection("c", &reply(554, "bad header")));
        assert!(breaker.content_rejection("d", &reply(554, "bad header")));
        assert!(breaker.content_rejection("e", &reply(554, "bad header")), "still tripped: in flight when it tripped");
        breaker.reset();
        assert_eq!(breaker.refused(), vec![("a".to_owned(), reply(552, "too big"))], "b to e wait for the fix");
        assert!(!breaker.content_rejection("f", &reply(554, "bad header")));
        assert!(!breaker.sender_problem(), "a sender problem ends a content streak");
        assert!(!breaker.content_rejection("g", &reply(552, "too big")));
        assert_eq!(
            breaker.refused(),
            vec![("f".to_owned(), reply(554, "bad header")), ("g".to_owned(), reply(552, "too big"))],
            "the last streak can no longer trip"
        );
    }
}
