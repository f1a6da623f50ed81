//! Benchmarks for the figures issue #2 names:
//! - render one issue to HTML + text (target: ≥ 2,000 issues/s on one core, ≤ 500 µs);
//! - `build` of a generated 1,000-issue project (target: under 1 s; issue 11: ≤ 0.5 s).
//!
//! Run with `cargo bench --bench render`; `cargo bench --bench render -- render/` runs only
//! the first (the 1,000-issue project is made only when a build benchmark runs).
//!
//! Measured 2026-12-06 on 2 shared CPUs, load average 2.0–2.5 (the lead building), the old
//! and new bench binaries run in turn (`--warm-up-time 2 --measurement-time 6`, three rounds),
//! one issue (the example's `commissioner/2016-12-09-stp-plans-published`):
//! - before (main at 45880a6): 660–750 µs (1.3k–1.5k issues/s);
//! - the layout's character references decoded before css-inline, plain text pushed whole,
//!   the body moved into the view: 631–720 µs; instructions per render (callgrind,
//!   `--toggle-collect=letterpress::project::Project::render`) 5.28 M → 4.69 M (−11 %);
//! - not adopted then: mimalloc (v2) as the allocator made it 486–569 µs, but the
//!   1,000-issue build's peak RSS 87–95 MiB (target ≤ 64 MiB), transparent huge pages and the
//!   delay before freed memory goes back.
//! - 2026-12-07, adopted: mimalloc v3 built without transparent huge pages, its purge delay
//!   10 ms (`src/allocator.rs`; this bench tunes it as the binary does). Three alternating
//!   rounds of the old and new bench binaries (`--warm-up-time 2 --measurement-time 6`, load
//!   average 1.6–1.9): glibc 617, 628, 655 µs; mimalloc 510, 487, 491 µs (1.96k–2.05k
//!   issues/s), −19 to −25 %.
//! - 2026-12-07, then: a fragment without raw HTML skips ammonia's parse and is written as
//!   ammonia writes it (`src/render/html/plain.rs`). Three alternating rounds of the glibc,
//!   mimalloc and mimalloc + plain-path bench binaries, load average 1.2–2.1: 643–645 µs,
//!   532–548 µs, 390–428 µs (2.3k–2.6k issues/s). Output byte-identical (`diff -r` of the
//!   example's and a 1,000-issue project's builds).
//!
//! Where a render went before (share of its instructions): CSS inlining 45 % (html5ever
//! parsing the email 31 %, a third of that the preheader's 180 `&#…;` references; the
//! stylesheet's parse 4 %, selectors 2 %, serialising 7 %), the body 43 % (ammonia 16 %, the
//! plain text 13 %, pulldown-cmark and the link walk most of the rest), Tera 8 % (the render
//! budget's tick, 60 calls, 3 %), and under all of it glibc's malloc and free, 11.6 %.

use std::path::Path;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use letterpress::archive::build_archive;
use letterpress::project::Project;

fn render_one_issue(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = Project::load(root).expect("the example project loads");
    let issue = project.find("commissioner/2016-12-09-stp-plans-published").expect("example issue");
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one issue to html and text", |b| b.iter(|| project.render(issue).expect("renders")));
    group.finish();
}

/// A project with `n` issues spread over the example's two publications, sharing its config,
/// templates and static files.
fn generated_project(n: usize) -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(root.join("letterpress.yaml"), dir.path().join("letterpress.yaml")).expect("config");
    for sub in ["templates/integrated-care", "static/images"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("dir");
    }
    let css = "templates/integrated-care/email.css";
    std::fs::copy(root.join(css), dir.path().join(css)).expect("template");
    for entry in std::fs::read_dir(root.join("static/images")).expect("static") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join("static/images").join(entry.file_name())).expect("image");
    }
    let sample =
        std::fs::read_to_string(root.join("content/commissioner/2016-12-09-stp-plans-published.md")).expect("sample");
    let body = sample.splitn(3, "---\n").nth(2).expect("body");
    for i in 0..n {
        let publication = if i % 2 == 0 { "commissioner" } else { "integrated-care" };
        let date = jiff::civil::date(2000, 1, 1)
            .checked_add(jiff::Span::new().days(i64::try_from(i).expect("small")))
            .expect("date");
        let path = dir.path().join(format!("content/{publication}/{date}-issue-{i}.md"));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("content dir");
        let text = format!(
            "---\ntitle: \"Issue {i}\"\nstatus: ready\nstandfirst: \"Number {i}.\"\n---\n{}",
            body.replace("@/commissioner/", "https://news.example.org/")
        );
        std::fs::write(path, text).expect("issue");
    }
    dir
}

fn build_1000_issues(c: &mut Criterion) {
    // Made on first use, so that running only the render benchmark (a filter) neither writes
    // the project nor profiles its setup.
    let project_dir = std::cell::OnceCell::new();
    let dir = || project_dir.get_or_init(|| generated_project(1000));
    let mut group = c.benchmark_group("build");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    // Each cold build writes into a new directory: deleting thousands of files between
    // iterations would measure the file system's inode reuse instead of letterpress.
    let mut run = 0;
    group.bench_function("1000-issue project, into an empty output directory", |b| {
        let dir = dir();
        b.iter_batched(
            || {
                run += 1;
                dir.path().join(format!("public-{run}"))
            },
            |out| {
                let project = Project::load(dir.path()).expect("loads");
                build_archive(&project, &out, false).expect("builds")
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("1000-issue project, rebuilt unchanged", |b| {
        let dir = dir();
        let out = dir.path().join("public-rebuild");
        build_archive(&Project::load(dir.path()).expect("loads"), &out, false).expect("builds");
        b.iter(|| {
            let project = Project::load(dir.path()).expect("loads");
            build_archive(&project, &out, false).expect("builds")
        });
    });
    group.finish();
}

criterion_group!(benches, render_one_issue, build_1000_issues);

/// `criterion_main!`, with the allocator tuned first, as `letterpress` tunes it.
fn main() {
    letterpress::allocator::tune(&letterpress::env::Env::default());
    benches();
    Criterion::default().configure_from_args().final_summary();
}
