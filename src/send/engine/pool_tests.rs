//! The engine over several relays (in-memory recorders) on a paused tokio clock: the spread by
//! weight, a relay going down mid-run, one deferring everything, every relay down, per-relay
//! budgets. Every recipient must end exactly once, with the journal naming the relay.

use std::collections::BTreeMap;

use super::tests::{ISSUE, Journaled, email, journaled, settings};
use super::*;
use crate::mail::Outcome;
use crate::mail::recorder::{Recorder, reply};
use crate::send::actor;
use crate::send::relays::Lane;
use crate::state::State;
use crate::state::journal::Counts;

struct Ran {
    counts: Counts,
    state: State,
    shared: Arc<Shared>,
    result: Result<()>,
    _dir: tempfile::TempDir,
}

/// Run the engine over `recipients` rows through `relays` (name, weight, recorder), each lane
/// made by `lane` from a fresh one.
fn run_pool_of(
    relays: &[(&str, u32, &Recorder)],
    recipients: usize,
    settings: Settings,
    lane: impl Fn(&str, Lane) -> Lane,
) -> Ran {
    let Journaled { template, state, path, dir, clock } = journaled(recipients);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    let (result, state, shared) = runtime.block_on(async {
        let lanes = relays
            .iter()
            .map(|(name, weight, _)| {
                let mut fresh = Lane::new(name, Pace::new(None), 5);
                fresh.weight = *weight;
                lane(name, fresh)
            })
            .collect();
        let shared = Arc::new(Shared::with_lanes(lanes));
        let (journal, task) = actor::start(state, ISSUE.to_owned(), clock.clone(), path.clone());
        let transports: Vec<Arc<Recorder>> = relays.iter().map(|(_, _, r)| Arc::new((*r).clone())).collect();
        let mut first = Vec::new();
        for transport in &transports {
            first.push(transport.connect().await.ok());
        }
        let running = run_pool(journal, Arc::new(template), transports, Arc::clone(&shared), settings, first);
        let result = tokio::time::timeout(Duration::from_secs(86_400), running).await.expect("the run hung");
        (result, task.await.unwrap(), shared)
    });
    let counts = state.counts(ISSUE).unwrap();
    Ran { counts, state, shared, result, _dir: dir }
}

/// Which relay the journal says took each `sent` recipient.
fn relay_of(ran: &Ran) -> BTreeMap<String, String> {
    let rows = ran.state.deliveries(ISSUE, &[DeliveryStatus::Sent]).unwrap();
    rows.into_iter().map(|d| (d.email, d.relay.unwrap_or_default())).collect()
}

fn taken_by(relay: &BTreeMap<String, String>, name: &str) -> usize {
    relay.values().filter(|r| *r == name).count()
}

/// The recipients a recorder accepted: those of its first `accepted` messages.
fn accepted(recorder: &Recorder, accepted: usize) -> Vec<String> {
    recorder.recipients().into_iter().take(accepted).collect()
}

#[test]
fn messages_are_spread_by_weight_and_the_journal_names_each_relay() {
    let (a, b) = (Recorder::accepting(), Recorder::accepting());
    let ran = run_pool_of(&[("a", 3, &a), ("b", 1, &b)], 200, settings(2), |_, lane| lane);
    assert!(ran.result.is_ok());
    assert_eq!((ran.counts.sent, ran.counts.total), (200, 200), "{:?}", ran.counts);
    let relay = relay_of(&ran);
    assert_eq!((taken_by(&relay, "a"), taken_by(&relay, "b")), (a.messages().len(), b.messages().len()));
    assert!(
        a.messages().len() > b.messages().len() && !b.messages().is_empty(),
        "{} / {}",
        a.messages().len(),
        b.messages().len()
    );
    assert_eq!(ran.shared.lanes.iter().map(Lane::sent).sum::<usize>(), 200);
    let mut everyone: Vec<String> = a.recipients().into_iter().chain(b.recipients()).collect();
    everyone.sort();
    assert_eq!(everyone, (0..200).map(email).collect::<Vec<_>>(), "each recipient exactly once");
}

#[test]
fn a_relay_dying_mid_run_is_marked_down_and_the_others_take_its_share() {
    let healthy = Recorder::accepting();
    let dying = Recorder::scripted(|_, seen| {
        if seen < 10 {
            reply(250, "2.0.0 ok")
        } else {
            Outcome::Lost { after_data: false, error: "connection reset".to_owned() }
        }
    });
    let ran = run_pool_of(&[("healthy", 1, &healthy), ("dying", 1, &dying)], 120, settings(2), |_, l| l);
    assert!(ran.result.is_ok());
    assert!(ran.shared.take_reason().is_none(), "one relay is still up: the run goes on");
    assert_eq!((ran.counts.sent, ran.counts.total), (120, 120), "nothing lost: {:?}", ran.counts);
    let relay = relay_of(&ran);
    assert_eq!(taken_by(&relay, "dying"), 10);
    let mut everyone: Vec<String> = healthy.recipients().into_iter().chain(accepted(&dying, 10)).collect();
    everyone.sort();
    assert_eq!(everyone, (0..120).map(email).collect::<Vec<_>>(), "each recipient exactly once");
}

#[test]
fn a_relay_deferring_everything_gets_nothing_through_and_the_others_deliver_it_all() {
    let healthy = Recorder::accepting();
    let deferring = Recorder::scripted(|_, _| reply(451, "4.3.0 try again later"));
    let ran = run_pool_of(
        &[("healthy", 1, &healthy), ("deferring", 1, &deferring)],
        80,
        Settings { retries: 2, retry_delay: Duration::from_secs(1), ..settings(2) },
        |_, l| l,
    );
    assert!(ran.result.is_ok());
    assert_eq!((ran.counts.sent, ran.counts.deferred), (80, 0), "{:?}", ran.counts);
    assert_eq!(taken_by(&relay_of(&ran), "healthy"), 80);
    assert_eq!(healthy.recipients().len(), 80, "each retry went to the other relay, once");
}

#[test]
fn a_relay_answering_421_is_marked_down_while_another_is_up() {
    let healthy = Recorder::accepting();
    let closing = Recorder::scripted(|_, _| reply(421, "4.3.2 service shutting down"));
    let ran = run_pool_of(&[("healthy", 1, &healthy), ("closing", 1, &closing)], 60, settings(2), |_, l| l);
    assert!(ran.result.is_ok() && ran.shared.take_reason().is_none());
    assert_eq!(ran.counts.sent, 60, "{:?}", ran.counts);
    assert!(
        closing.messages().len() <= 4,
        "down after its first 421s, not tried for each message: {}",
        closing.messages().len()
    );
}

#[test]
fn with_every_relay_down_the_run_stops_and_rows_never_tried_stay_pending() {
    let one = Recorder::scripted(|_, _| reply(451, "4.3.0 try again later"));
    let two = Recorder::scripted(|_, _| reply(454, "4.7.0 Throttling failure"));
    let ran = run_pool_of(
        &[("one", 1, &one), ("two", 1, &two)],
        250,
        Settings { retries: 2, retry_delay: Duration::from_secs(2), ..settings(4) },
        |_, l| l,
    );
    assert!(ran.result.is_ok());
    let why = ran.shared.take_reason().map(|e| e.to_string()).unwrap_or_default();
    assert!(is_dead_relay(&why), "{why}");
    assert_eq!(ran.counts.sent, 0);
    assert_eq!(ran.counts.deferred + ran.counts.pending, 250, "{:?}", ran.counts);
    let pending = ran.state.deliveries(ISSUE, &[DeliveryStatus::Pending]).unwrap();
    assert!(!pending.is_empty() && pending.iter().all(|d| d.attempts == 0), "never tried: pending, no attempt");
    let deferred = ran.state.deliveries(ISSUE, &[DeliveryStatus::Deferred]).unwrap();
    assert!(deferred.iter().all(|d| d.attempts >= 1), "tried: deferred, with its attempts");
}

#[test]
fn a_relay_whose_budget_is_used_up_hands_the_rest_to_the_others() {
    let (small, large) = (Recorder::accepting(), Recorder::accepting());
    let ran = run_pool_of(&[("small", 1, &small), ("large", 1, &large)], 40, settings(2), |name, mut lane| {
        if name == "small" {
            let limits = vec![crate::state::budgets::Limit { window: crate::state::budgets::Window::Day, max: 5 }];
            lane.budget =
                crate::send::budget::Budget::new(name, limits, "2026-11-22T09:30:00Z".parse().unwrap()).map(Arc::new);
        }
        lane
    });
    assert!(ran.result.is_ok() && ran.shared.take_reason().is_none());
    assert_eq!(ran.counts.sent, 40, "{:?}", ran.counts);
    let relay = relay_of(&ran);
    assert_eq!((taken_by(&relay, "small"), taken_by(&relay, "large")), (5, 35));
    let used = ran
        .state
        .budget_use(
            "small",
            &[crate::state::budgets::Limit { window: crate::state::budgets::Window::Day, max: 5 }],
            "2026-11-22T09:31:00Z".parse().unwrap(),
        )
        .unwrap();
    assert_eq!(used[0].used, 5, "counted under its own name");
}
