//! Benchmarks for the figures issue #2 names:
//! - render one issue to HTML + text (target: ≥ 2,000 issues/s on one core);
//! - `build` of a generated 1,000-issue project (target: under 1 s).
//!
//! Run with `cargo bench --bench render`.

use std::path::Path;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
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
criterion_main!(benches);
