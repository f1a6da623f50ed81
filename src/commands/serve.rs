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
    serve::serve(root, &Options { bind, public: public.to_path_buf(), build }, clock.clone(), env)
}
