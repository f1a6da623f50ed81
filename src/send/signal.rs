//! Stopping a send cleanly on SIGTERM (what service managers and `kill` send) or SIGINT
//! (Ctrl-C).
//!
//! Enters: the run's [`Shared`] state. Leaves: on the first signal, the run stopped with an
//! [`Error::Incomplete`] naming the signal. The engine then takes no new recipient, lets the
//! messages in flight finish and commits their results, so nothing is left `uncertain` and the
//! next run resumes with the rest.

use std::sync::Arc;

use tokio::task::JoinHandle;

use super::engine::Shared;
use crate::error::Error;

/// Watch for the signals until the returned task is aborted. The handlers are installed before
/// this returns, so a signal that comes at any later instant is caught.
pub fn watch(shared: Arc<Shared>) -> JoinHandle<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut interrupt)) => tokio::spawn(async move {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = interrupt.recv() => "SIGINT",
                };
                stop(&shared, name);
            }),
            // Without handlers the signals keep their default action: the process dies and the
            // rows in flight become `uncertain`, as after `kill -9`.
            _ => tokio::spawn(async {}),
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop(&shared, "Ctrl-C");
        }
    })
}

/// Stop the run, then say so: once the line is out, no new recipient is taken.
fn stop(shared: &Shared, name: &str) {
    shared.stop(Error::Incomplete {
        message: format!(
            "stopped by {name}; the messages in flight were finished and recorded, and the next run resumes with the rest"
        ),
    });
    eprintln!("{name}: finishing the messages in flight, then stopping");
}
