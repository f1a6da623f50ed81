//! Benchmark for the subscriber-list figures: `check_list` over a generated 1,000,000-row list
//! (target: ≤ 3 s and ≤ 64 MB peak resident memory).
//!
//! Run with `cargo bench --bench lists`. Before the timed runs, one `check_list` is measured for
//! peak memory: the process's high-water mark `VmHWM` from `/proc/self/status`, printed to
//! stderr before and after (Linux only; elsewhere the line says it is unavailable). The mark
//! covers the whole process, so "after" is an upper bound for the check itself.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use letterpress::subscribers::check_list;

#[path = "support/rss.rs"]
mod rss;
use rss::{mib, peak_rss_kib};

const ROWS: usize = 1_000_000;

/// A list of `rows` valid subscribers at example.org with a few attribute columns.
fn generate(path: &Path, rows: usize) {
    let file = std::fs::File::create(path).expect("create list");
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "email,name,region,plan,subscribed_at,status").expect("write header");
    let regions = ["North West", "London", "Midlands", "South East", "Wales"];
    for i in 0..rows {
        writeln!(
            out,
            "reader.{i}@example.org,Reader {i},{},plan-{},2020-01-{:02}T08:00:00+01:00,active",
            regions[i % regions.len()],
            i % 3,
            i % 28 + 1
        )
        .expect("write row");
    }
    out.flush().expect("flush list");
}

fn check_a_million_rows(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("million.csv");
    generate(&path, ROWS);
    let size = std::fs::metadata(&path).expect("list").len();

    let before = peak_rss_kib();
    let started = Instant::now();
    let report = check_list(&path, Path::new("subscribers/million.csv")).expect("list reads");
    let elapsed = started.elapsed();
    let after = peak_rss_kib();
    assert_eq!((report.rows, report.valid, report.duplicates), (ROWS, ROWS, 0));
    eprintln!(
        "check_list: {ROWS} rows ({} MB) in {:.2} s; peak RSS (VmHWM) {} before, {} after",
        size / 1_000_000,
        elapsed.as_secs_f64(),
        mib(before),
        mib(after)
    );

    let mut group = c.benchmark_group("lists");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("check_list 1M rows", |b| b.iter(|| check_list(&path, &path).expect("list reads")));
    group.finish();
}

criterion_group!(benches, check_a_million_rows);
criterion_main!(benches);
