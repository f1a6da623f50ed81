//! Throughput of `bounces::analyse` over the fixture bounces (`tests/fixtures/bounces/`): one
//! classification of each fixture per iteration. `bounces ingest` aims at 5,000 messages a
//! second on one core including storage, so reading should take a small part of that.

use std::fmt::Write as _;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use letterpress::bounces::analyse;

fn fixtures() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bounces");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn bench(c: &mut Criterion) {
    let messages = fixtures();
    let mut group = c.benchmark_group("bounces");
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("analyse_fixtures", |b| {
        b.iter(|| {
            let mut findings = 0;
            for raw in &messages {
                findings += analyse(std::hint::black_box(raw)).findings.len();
            }
            findings
        });
    });
    let mut many = String::new();
    for i in 0..10_000 {
        let _ = write!(
            many,
            "Final-Recipient: rfc822; user{i}@example.net\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n\n"
        );
    }
    let big = format!(
        "From: MAILER-DAEMON@mx.example.net\nTo: bounces@news.example.org\nSubject: Undelivered Mail\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nfailed.\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n{many}--b--\n"
    );
    group.throughput(Throughput::Elements(1));
    group.bench_function("analyse_10000_recipients", |b| {
        b.iter(|| analyse(std::hint::black_box(big.as_bytes())).findings.len());
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
