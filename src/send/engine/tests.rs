//! The engine driven by the in-memory recorder on a paused tokio clock: pacing, retries and
//! backoff take virtual time only, so these tests neither sleep nor depend on the machine's
//! speed.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::clock::Clock;
use crate::compose::ComposeOptions;
use crate::mail::Connection as _;
use crate::mail::recorder::{Recorder, reply};
use crate::project::Project;
use crate::send::actor;
use crate::state::State;
use crate::state::journal::{Counts, NewRecipient};
use crate::token::Keys;

pub(super) const ISSUE: &str = "weekly/2016-12-09-plans";

struct Ran {
    counts: Counts,
    state: State,
    result: Result<()>,
    shared: Arc<Shared>,
    /// Virtual time the run took.
    elapsed: Duration,
    _dir: tempfile::TempDir,
}

pub(super) fn settings(concurrency: usize) -> Settings {
    Settings {
        concurrency,
        max_per_connection: None,
        retries: 1,
        retry_delay: Duration::from_secs(60),
        max_attempts: 3,
        only_list: None,
    }
}

pub(super) fn email(i: usize) -> String {
    format!("reader{i:03}@example.org")
}

/// Journal `recipients` rows and run the engine over them with `recorder` as the relay.
fn run_engine(recorder: &Recorder, recipients: usize, settings: Settings, rate: Option<f64>, breaker: usize) -> Ran {
    run_engine_with(recorder, recipients, settings, Pace::new(rate), breaker, |_| ())
}

/// As [`run_engine`], paced by `pace`.
fn run_engine_paced(recorder: &Recorder, recipients: usize, settings: Settings, pace: Pace, breaker: usize) -> Ran {
    run_engine_with(recorder, recipients, settings, pace, breaker, |_| ())
}

/// As [`run_engine`], with `prepare` given the database's path before the run starts.
fn run_engine_with(
    recorder: &Recorder,
    recipients: usize,
    settings: Settings,
    pace: Pace,
    breaker: usize,
    prepare: impl FnOnce(&Path),
) -> Ran {
    let Journaled { template, state, path, dir, clock } = journaled(recipients);
    prepare(&path);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    let shared = Arc::new(Shared::new(pace, breaker));
    let (result, state, elapsed) = runtime.block_on(async {
        let started = Instant::now();
        let (journal, task) = actor::start(state, ISSUE.to_owned(), clock.clone(), path.clone());
        let transport = Arc::new(recorder.clone());
        let first = transport.connect().await.unwrap();
        // A day of virtual time: on the paused clock a run that hangs reaches it at once.
        let running = run(journal, Arc::new(template), transport, Arc::clone(&shared), settings, first);
        let result = tokio::time::timeout(Duration::from_secs(86_400), running).await.expect("the run hung");
        let elapsed = started.elapsed();
        (result, task.await.unwrap(), elapsed)
    });
    let counts = state.counts(ISSUE).unwrap();
    Ran { counts, state, result, shared, elapsed, _dir: dir }
}

/// The send fixture's issue as a message template, and a journal in a temporary directory
/// with `recipients` rows, its send started.
pub(super) struct Journaled {
    pub(super) template: MessageTemplate,
    pub(super) state: State,
    pub(super) path: std::path::PathBuf,
    pub(super) dir: tempfile::TempDir,
    pub(super) clock: Clock,
}

pub(super) fn journaled(recipients: usize) -> Journaled {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/send");
    let project = Project::load(&root).unwrap();
    let issue = project.find(ISSUE).unwrap();
    let clock = Clock::fixed("2026-11-22T09:30:00Z".parse().unwrap());
    let keys = Keys::from_secrets(vec![vec![7; 32]]).unwrap();
    let options =
        ComposeOptions { date: clock.now(), keys: keys.clone(), dkim: None, attr_columns: Vec::new(), test: false };
    let template = MessageTemplate::new(&project, &crate::check::issue(&project, issue), options).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut state = State::open(&path, Path::new("state.db")).unwrap();
    let rows = (0..recipients).map(|i| NewRecipient {
        address_key: email(i),
        token_id: Some(keys.token_id(&email(i))),
        message_id: None,
        email: email(i),
        name: String::new(),
        attrs: BTreeMap::new(),
        list: "readers".to_owned(),
    });
    state.add_recipients(ISSUE, rows, clock.now()).unwrap();
    state.start_send(ISSUE, template.content_hash(), clock.now(), false).unwrap();
    Journaled { template, state, path, dir, clock }
}

fn statuses(ran: &Ran, status: DeliveryStatus) -> Vec<String> {
    ran.state.deliveries(ISSUE, &[status]).unwrap().into_iter().map(|d| d.email).collect()
}

fn reason(ran: &Ran) -> String {
    ran.shared.take_reason().map(|e| e.to_string()).unwrap_or_default()
}

#[test]
fn every_message_goes_once_to_an_accepting_relay() {
    let recorder = Recorder::accepting();
    let ran = run_engine(&recorder, 20, settings(4), None, 5);
    assert!(ran.result.is_ok());
    assert_eq!((ran.counts.sent, ran.counts.total), (20, 20), "{:?}", ran.counts);
    let mut recipients = recorder.recipients();
    recipients.sort();
    assert_eq!(recipients, (0..20).map(email).collect::<Vec<_>>());
    let message = String::from_utf8(recorder.messages()[0].bytes.clone()).unwrap();
    assert!(message.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"), "{message}");
}

#[test]
fn a_relay_answering_451_to_a_few_leaves_them_deferred_after_their_retry_and_slows_down() {
    let recorder = Recorder::scripted(|_, _| reply(451, "4.3.0 try again later"));
    let ran = run_engine(&recorder, 5, Settings { retry_delay: Duration::from_secs(10), ..settings(2) }, None, 5);
    assert!(ran.result.is_ok());
    assert_eq!((ran.counts.deferred, ran.counts.sent, ran.counts.pending), (5, 0, 0), "{:?}", ran.counts);
    assert_eq!(recorder.messages().len(), 10, "each tried twice: once, then its one retry");
    assert!(ran.elapsed >= Duration::from_secs(10), "the retry waited for `retry-delay`: {:?}", ran.elapsed);
    assert!(ran.shared.lanes[0].pace.rate().is_some(), "451 asks every worker to slow down");
    assert!(ran.shared.take_reason().is_none(), "ten refusals in ten seconds: not dead yet");
    let row = &ran.state.deliveries(ISSUE, &[DeliveryStatus::Deferred]).unwrap()[0];
    assert_eq!(row.reply.as_deref(), Some("451 4.3.0 try again later"));
    assert_eq!(
        crate::send::run::remains(&ran.counts, None, &[]).as_deref(),
        Some("deferred recipients remain"),
        "so the send ends `stopped`, for the next run"
    );
}

#[test]
fn a_relay_deferring_everything_is_dead_and_the_run_stops_instead_of_crawling() {
    let recorder = Recorder::scripted(|_, _| reply(454, "4.7.0 Throttling failure: Maximum sending rate exceeded"));
    let ran = run_engine(
        &recorder,
        250,
        Settings { retries: 2, retry_delay: Duration::from_secs(2), ..settings(8) },
        None,
        5,
    );
    assert!(ran.result.is_ok());
    let why = reason(&ran);
    assert!(is_dead_relay(&why) && why.contains("454 4.7.0 Throttling failure"), "{why}");
    let tried = recorder.messages().len();
    assert!(tried < 100, "stopped after a few dozen attempts, not 750: {tried}");
    assert_eq!(ran.counts.sent, 0);
    assert_eq!(ran.counts.deferred + ran.counts.pending, 250, "{:?}", ran.counts);
    let untouched = ran.state.deliveries(ISSUE, &[DeliveryStatus::Pending]).unwrap();
    assert!(untouched.iter().all(|d| d.attempts == 0), "no attempt counted for rows never tried");
    assert!(ran.elapsed < Duration::from_secs(120), "ended in virtual minutes, not hours: {:?}", ran.elapsed);
}

#[test]
fn a_relay_throttling_one_message_in_twenty_slows_down_and_finishes() {
    let recorder = Recorder::scripted(|_, seen| {
        if seen % 20 == 7 {
            reply(454, "4.7.0 Throttling failure: Maximum sending rate exceeded")
        } else {
            reply(250, "2.0.0 ok")
        }
    });
    let ran = run_engine(
        &recorder,
        400,
        Settings { retries: 2, retry_delay: Duration::from_secs(2), ..settings(4) },
        None,
        5,
    );
    assert!(ran.result.is_ok());
    assert!(ran.shared.take_reason().is_none(), "alive");
    assert_eq!((ran.counts.sent, ran.counts.total), (400, 400), "{:?}", ran.counts);
}

#[test]
fn a_careful_pace_after_a_dead_relay_starts_slow() {
    let recorder = Recorder::accepting();
    let ran = run_engine_paced(&recorder, 10, settings(4), Pace::careful(None), 5);
    assert_eq!(ran.counts.sent, 10);
    assert!(ran.elapsed >= Duration::from_secs(5), "about a message a second at first: {:?}", ran.elapsed);
}

#[test]
fn rate_spaces_the_messages_in_virtual_time() {
    let recorder = Recorder::accepting();
    let ran = run_engine(&recorder, 8, settings(4), Some(5.0), 5);
    assert_eq!(ran.counts.sent, 8);
    // 8 messages at 5 a second: the last starts at least 7 intervals of 200 ms after the first.
    assert!(ran.elapsed >= Duration::from_millis(1400), "{:?}", ran.elapsed);
    assert!(ran.elapsed < Duration::from_millis(1700), "no slower than the rate: {:?}", ran.elapsed);
}

#[test]
fn the_circuit_breaker_trips_after_n_policy_rejections_and_defers_them() {
    let recorder = Recorder::scripted(|_, _| reply(550, "5.7.26 unauthenticated email is not accepted"));
    let ran = run_engine(&recorder, 10, settings(1), None, 3);
    assert!(ran.result.is_ok());
    assert_eq!(recorder.messages().len(), 3, "stopped after the third");
    assert_eq!((ran.counts.deferred, ran.counts.failed, ran.counts.sent), (3, 0, 0), "{:?}", ran.counts);
    assert_eq!(ran.counts.pending, 7, "the rest wait for the fix");
    assert!(reason(&ran).contains("the relay keeps refusing us"), "{}", reason(&ran));
}

#[test]
fn a_policy_rejection_between_deliveries_does_not_trip_the_breaker() {
    let recorder =
        Recorder::scripted(|_, seen| if seen % 2 == 0 { reply(550, "5.7.1 policy") } else { reply(250, "2.0.0 ok") });
    let ran = run_engine(&recorder, 10, settings(1), None, 2);
    assert!(ran.shared.take_reason().is_none());
    assert_eq!((ran.counts.sent, ran.counts.deferred), (5, 5), "{:?}", ran.counts);
}

#[test]
fn a_bounce_streak_stops_the_send_and_suppresses_nobody() {
    let recorder = Recorder::scripted(|_, _| reply(550, "5.1.1 no such user"));
    let ran = run_engine(&recorder, 10, settings(1), None, 3);
    assert_eq!(recorder.messages().len(), 3);
    assert_eq!((ran.counts.deferred, ran.counts.failed), (3, 0), "{:?}", ran.counts);
    assert!(reason(&ran).contains("stopped for a bounce streak"), "{}", reason(&ran));
    for address in statuses(&ran, DeliveryStatus::Deferred) {
        assert!(!ran.state.is_suppressed(&address, "readers").unwrap(), "{address} is not suppressed");
    }
}

#[test]
fn a_bounce_followed_by_a_delivery_is_believed_failed_and_suppressed() {
    let recorder = Recorder::scripted(|to, _| {
        if to == "reader001@example.org" { reply(550, "5.1.1 no such user") } else { reply(250, "2.0.0 ok") }
    });
    let ran = run_engine(&recorder, 5, settings(1), None, 3);
    assert!(ran.result.is_ok());
    assert_eq!(statuses(&ran, DeliveryStatus::Failed), ["reader001@example.org"]);
    assert_eq!((ran.counts.sent, ran.counts.failed, ran.counts.deferred), (4, 1, 0), "{:?}", ran.counts);
    assert!(ran.state.is_suppressed("reader001@example.org", "readers").unwrap());
    assert_eq!(ran.shared.bounced.load(Ordering::Relaxed), 1);
}

#[test]
fn a_refusal_at_rcpt_is_not_a_message_sent() {
    let recorder = Recorder::scripted(|to, _| {
        if to == "reader002@example.org" {
            crate::mail::Outcome::Replied {
                reply: crate::mail::Reply { code: 553, enhanced: Some((5, 6, 7)), text: "no".to_owned() },
                stage: crate::mail::Stage::Rcpt,
            }
        } else {
            reply(250, "2.0.0 ok")
        }
    });
    let ran = run_engine(&recorder, 4, settings(1), None, 3);
    assert_eq!(statuses(&ran, DeliveryStatus::Failed), ["reader002@example.org"]);
    assert_eq!(recorder.messages().len(), 3, "the refused message never went");
}

#[tokio::test(start_paused = true)]
async fn pace_spaces_turns_backs_off_and_recovers_without_real_time_passing() {
    let pace = Pace::new(Some(10.0));
    let start = Instant::now();
    for _ in 0..3 {
        pace.wait().await;
    }
    assert_eq!(start.elapsed(), Duration::from_millis(200), "turns at 0, 100 and 200 ms");
    pace.throttle(start);
    let before = Instant::now();
    pace.wait().await;
    pace.wait().await;
    let gap = before.elapsed().as_secs_f64();
    assert!((gap - 2.0 / 7.0).abs() < 0.002, "two turns at 7 a second: {gap}");
    for _ in 0..16 {
        pace.success();
    }
    assert_eq!(pace.rate(), Some(10.0), "back to the configured rate");
}

#[test]
fn the_recorder_answers_a_test_copy_like_a_relay() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let recorder = Recorder::scripted(|_, _| reply(452, "4.2.2 mailbox full"));
    let outcome = runtime.block_on(async {
        let mut connection = recorder.connect().await.unwrap();
        connection.send("a@example.org", "b@example.org", b"Subject: x\r\n\r\nx\r\n", "x").await
    });
    assert!(outcome.is_transient() && !outcome.is_permanent(), "{outcome:?}");
    assert_eq!(recorder.recipients(), ["b@example.org"]);
}

/// Run 40 rows over two workers with a journal that refuses to make any row `status`, as when
/// the disk fills: the run must fail with the database's error.
fn run_with_full_disk_at(recorder: &Recorder, status: &str) -> Ran {
    let ran = run_engine_with(recorder, 40, settings(2), Pace::new(None), 5, |path| {
        let db = rusqlite::Connection::open(path).unwrap();
        db.execute_batch(&format!(
            "CREATE TRIGGER full BEFORE UPDATE ON deliveries WHEN NEW.status = '{status}'
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;"
        ))
        .unwrap();
    });
    let error = ran.result.as_ref().expect_err("the run fails").to_string();
    assert!(error.contains("database or disk is full"), "{error}");
    ran
}

#[test]
fn a_journal_that_cannot_record_results_stops_the_run_instead_of_hanging_it() {
    // Every result fails to commit, so every worker stops with the error while the dispatcher
    // still has rows to hand out.
    let recorder = Recorder::accepting();
    let ran = run_with_full_disk_at(&recorder, "sent");
    assert_eq!(ran.counts.sent, 0);
    assert!(recorder.messages().len() <= 2, "each worker stops after its first result: {}", recorder.messages().len());
}

#[test]
fn a_worker_whose_in_flight_mark_fails_drops_its_connection_instead_of_quitting() {
    // The relay may be waiting for the message after its 354, and would read a QUIT as the
    // message's first line; only a dropped connection abandons the transaction at once.
    let recorder = Recorder::accepting();
    run_with_full_disk_at(&recorder, "inflight");
    assert!(recorder.messages().is_empty(), "nothing goes out without its mark");
    assert_eq!(recorder.closed_politely(), 0, "the connections were dropped");

    // With the marks durable, the same run ends each connection with a QUIT.
    let recorder = Recorder::accepting();
    let ran = run_engine(&recorder, 40, settings(2), None, 5);
    assert!(ran.result.is_ok());
    assert_eq!(recorder.closed_politely(), 2);
}

#[test]
fn an_unsubscribe_during_the_run_is_honoured_for_a_row_already_handed_to_the_workers() {
    // Every row is in the first page, read before the first message; the unsubscribe lands
    // while that message is on its way, so only the in-flight mark can catch it.
    let path = std::sync::Arc::new(std::sync::OnceLock::<std::path::PathBuf>::new());
    let script_path = std::sync::Arc::clone(&path);
    let recorder = Recorder::scripted(move |_, seen| {
        if seen == 0
            && let Some(path) = script_path.get()
        {
            let state = State::open(path, Path::new("state.db")).unwrap();
            let at = "2026-11-22T09:31:00Z".parse().unwrap();
            state
                .suppress(
                    &email(15),
                    &crate::state::Scope::List("readers".to_owned()),
                    crate::state::Reason::Unsubscribed,
                    "test",
                    at,
                )
                .unwrap();
        }
        reply(250, "2.0.0 ok")
    });
    let ran = run_engine_with(&recorder, 20, settings(2), Pace::new(None), 5, |db| {
        path.set(db.to_path_buf()).unwrap();
    });
    assert!(ran.result.is_ok());
    assert!(!recorder.recipients().contains(&email(15)), "unsubscribed before its turn");
    assert_eq!((ran.counts.sent, ran.counts.suppressed), (19, 1), "{:?}", ran.counts);
    assert_eq!(statuses(&ran, DeliveryStatus::Suppressed), [email(15)]);
}
