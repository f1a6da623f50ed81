//! Benchmark for the delivery journal: `add_recipients` of 1,000,000 rows (seconds and peak
//! resident memory), and `apply` throughput in batches of 16 updates, the send engine's group
//! commit (updates per second).
//!
//! Run with `cargo bench --bench journal`. The two one-shot figures are printed to stderr before
//! criterion's timed runs: the million-row insert with the process's high-water mark `VmHWM`
//! from `/proc/self/status` before and after (Linux only; the mark covers the whole process, so
//! "after" is an upper bound for the insert), and 100,000 recipients taken through
//! pending → inflight → sent in batches of 16. Criterion then times two batches of 16 changes
//! (pending → inflight → pending, cycling through the unsent rows) on the full database; its
//! `thrpt` is in updates per second.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;
use letterpress::state::{DeliveryStatus, NewRecipient, State, Update};

#[path = "support/rss.rs"]
mod rss;
use rss::{mib, peak_rss_kib};

const ROWS: usize = 1_000_000;
const BATCH: usize = 16;
const ISSUE: &str = "weekly/benchmark";

fn key(i: usize) -> String {
    format!("reader.{i}@example.org")
}

/// The generated audience, made lazily so it takes no memory of its own.
fn audience(rows: usize) -> impl Iterator<Item = NewRecipient> {
    let regions = ["North West", "London", "Midlands", "South East", "Wales"];
    (0..rows).map(move |i| NewRecipient {
        address_key: key(i),
        email: key(i),
        name: format!("Reader {i}"),
        attrs: BTreeMap::from([
            ("region".to_owned(), regions[i % regions.len()].to_owned()),
            ("plan".to_owned(), format!("plan-{}", i % 3)),
        ]),
        list: "weekly".to_owned(),
        token_id: None,
        message_id: None,
    })
}

fn update(i: usize, status: DeliveryStatus) -> Update {
    Update {
        address_key: key(i),
        status,
        code: (status == DeliveryStatus::Sent).then_some(250),
        reply: (status == DeliveryStatus::Sent).then(|| "2.0.0 Ok: queued as 4BX3Lk1zv9z".to_owned()),
        message_id: None,
        token_id: None,
        attempted: status == DeliveryStatus::Sent,
        relay: None,
    }
}

/// Take recipients `0..n` through pending → inflight → sent, one batch of 16 changes per call.
fn send_through(state: &mut State, n: usize, at: Timestamp) -> Duration {
    let started = Instant::now();
    for first in (0..n).step_by(BATCH) {
        for status in [DeliveryStatus::Inflight, DeliveryStatus::Sent] {
            let batch: Vec<Update> = (first..first + BATCH).map(|i| update(i, status)).collect();
            state.apply(ISSUE, &batch, at).expect("apply");
        }
    }
    started.elapsed()
}

#[allow(clippy::cast_precision_loss, reason = "a rate, for display")]
fn journal(c: &mut Criterion) {
    let at: Timestamp = "2024-03-01T09:00:00Z".parse().expect("time");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut state = State::open(&dir.path().join("state.db"), Path::new("state.db")).expect("open");
    state.start_send(ISSUE, "hash", at, false).expect("start");

    let before = peak_rss_kib();
    let started = Instant::now();
    let added = state.add_recipients(ISSUE, audience(ROWS), at).expect("add");
    let elapsed = started.elapsed();
    let after = peak_rss_kib();
    assert_eq!(added, ROWS);
    let size = std::fs::metadata(dir.path().join("state.db")).expect("database").len();
    eprintln!(
        "add_recipients: {ROWS} rows in {:.2} s ({:.0} rows/s, database {} MB); peak RSS (VmHWM) {} before, {} after",
        elapsed.as_secs_f64(),
        ROWS as f64 / elapsed.as_secs_f64(),
        size / 1_000_000,
        mib(before),
        mib(after)
    );

    let sent = 100_000;
    let elapsed = send_through(&mut state, sent, at);
    eprintln!(
        "apply: {sent} recipients pending -> inflight -> sent in batches of {BATCH}: {} updates in {:.2} s = {:.0} updates/s \
         ({:.0} batches/s)",
        2 * sent,
        elapsed.as_secs_f64(),
        (2 * sent) as f64 / elapsed.as_secs_f64(),
        (2 * sent / BATCH) as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(state.counts(ISSUE).expect("counts").sent, sent);

    // Cycle rows not yet sent between pending and inflight (an allowed retry), so every
    // iteration is a real change on the million-row table.
    let mut next = sent;
    let mut group = c.benchmark_group("journal");
    group.throughput(Throughput::Elements(2 * BATCH as u64));
    group.bench_function("apply, 2 batches of 16 updates", |b| {
        b.iter_batched(
            || {
                let first = next;
                next = if next + 2 * BATCH > ROWS { sent } else { next + BATCH };
                (first..first + BATCH).collect::<Vec<usize>>()
            },
            |rows| {
                for status in [DeliveryStatus::Inflight, DeliveryStatus::Pending] {
                    let batch: Vec<Update> = rows.iter().map(|&i| update(i, status)).collect();
                    state.apply(ISSUE, &batch, at).expect("apply");
                }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, journal);
criterion_main!(benches);
