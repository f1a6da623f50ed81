//! Progress of a send: a bar with rate and ETA on a terminal, otherwise one log line every few
//! seconds (so cron mail stays short).

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::engine::Shared;

/// Seconds between log lines when not on a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// A running progress reporter; stop it with [`Progress::finish`].
pub struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// Report progress of `issue` towards `total` messages.
    pub fn start(issue: &str, total: usize, shared: Arc<Shared>) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&done);
        let issue = issue.to_owned();
        let thread = std::thread::spawn(move || {
            if std::io::stderr().is_terminal() {
                bar(&issue, total, &shared, &flag);
            } else {
                lines(&issue, total, &shared, &flag);
            }
        });
        Self { done, thread: Some(thread) }
    }

    /// Stop reporting.
    pub fn finish(mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn settled(shared: &Shared) -> (usize, usize) {
    let sent = shared.sent.load(Ordering::Relaxed);
    let other = shared.failed.load(Ordering::Relaxed)
        + shared.deferred.load(Ordering::Relaxed)
        + shared.uncertain.load(Ordering::Relaxed)
        + shared.suppressed.load(Ordering::Relaxed);
    (sent, other)
}

fn bar(issue: &str, total: usize, shared: &Shared, done: &AtomicBool) {
    let style = indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bar = indicatif::ProgressBar::new(total as u64).with_style(style).with_message(issue.to_owned());
    while !done.load(Ordering::SeqCst) {
        let (sent, other) = settled(shared);
        bar.set_position((sent + other) as u64);
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}

fn lines(issue: &str, total: usize, shared: &Shared, done: &AtomicBool) {
    let started = Instant::now();
    let mut last = Instant::now();
    while !done.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        if last.elapsed() >= LOG_EVERY {
            last = Instant::now();
            let (sent, other) = settled(shared);
            let rate = sent as f64 / started.elapsed().as_secs_f64().max(0.001);
            eprintln!("{issue}: {}/{total} done, {sent} sent ({rate:.0} msg/s)", sent + other);
        }
    }
}
