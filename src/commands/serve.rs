//! Handler for `serve`: an adapter from the CLI to [`crate::serve`].

use std::net::SocketAddr;
use std::path::Path;

use crate::clock::Clock;
use crate::error::Result;
use crate::serve::{self, Options};

/// `letterpress serve [--bind ADDR:PORT] [--public DIR] [--build]`: serve until interrupted.
pub fn serve(
    root: &Path,
    bind: SocketAddr,
    public: &Path,
    build: bool,
    clock: &Clock,
    env: &crate::env::Env,
) -> Result<()> {
    let welcomes = {
        let (root, clock, env) = (root.to_path_buf(), clock.clone(), env.clone());
        Box::new(move |wakeups| {
            let worker = crate::send::welcome::Worker::start(root, clock, env, wakeups);
            Box::new(move || worker.finish()) as Box<dyn FnOnce()>
        })
    };
    serve::serve(root, &Options { bind, public: public.to_path_buf(), build }, clock.clone(), env, welcomes)
}
