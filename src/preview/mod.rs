//! `letterpress preview`: a local web server showing every issue as it will be sent, updating
//! open pages as soon as a file changes (re-rendering only what changed).
//!
//! Enters: the project root, [`Options`] from the command line, and a [`Clock`]. Leaves: an HTTP
//! server (axum on the caller's tokio runtime) until Ctrl-C, its URL printed to stderr. The
//! pipeline is the one `check`, `render` and `build` use — load, render, template — run in memory
//! again on each change: [`live`] holds the latest load, [`watch`] decides which changes matter
//! and reloads, [`delivery`] reads each issue's send from the journal, [`server`] answers
//! requests with [`pages`] and [`issue`], and [`crate::request_path`] keeps every served file
//! inside the project.

mod audience;
mod clicks;
mod delivery;
mod editions;
mod email;
mod index;
mod issue;
mod live;
mod pages;
mod server;
pub mod watch;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;

use futures_util::future::{Either, select};

use crate::clock::Clock;
use crate::config;
use crate::error::{Error, Result};
use crate::project::{Project, STATIC_DIR};

/// How to serve the preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Address to listen on; loopback unless the user asks otherwise.
    pub bind: IpAddr,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// Open the preview in a browser once it is listening.
    pub open: bool,
}

/// Serve the project at `root` until Ctrl-C. Must run inside a multi-threaded tokio runtime.
pub async fn serve(root: &Path, options: Options, clock: Clock, env: crate::env::Env) -> Result<()> {
    if !config::path_in(root).is_file() {
        // The same "no project here" error as every other command.
        Project::load(root)?;
    }
    let root = root.canonicalize().map_err(|e| Error::io("open", root, e))?;
    let live = Arc::new(live::Live::new(root.clone(), clock, env));
    let address = SocketAddr::new(options.bind, options.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| Error::io("listen on", Path::new(&address.to_string()), e))?;
    let local = listener.local_addr().map_err(|e| Error::io("listen on", Path::new(&address.to_string()), e))?;
    watch::spawn(root.clone(), Arc::clone(&live))
        .map_err(|e| Error::usage(format!("cannot watch `{}` for changes: {e}", root.display())))?;
    let static_dir = root.join(STATIC_DIR).canonicalize().unwrap_or_else(|_| root.join(STATIC_DIR));
    let app = server::App {
        live: Arc::clone(&live),
        ui: pages::Ui::new(),
        static_dir,
        local_only: options.bind.is_loopback(),
    };
    let url = format!("http://{}/", shown_address(local));
    eprintln!("preview: serving `{}` at {url} (Ctrl-C to stop)", root.display());
    if !options.bind.is_loopback() {
        eprintln!("warning: `--bind {}` lets other machines reach this preview", options.bind);
    }
    match live.current().load_errors().len() {
        0 => {}
        1 => eprintln!("preview: the project has 1 error; it is shown in the browser"),
        n => eprintln!("preview: the project has {n} errors; they are shown in the browser"),
    }
    if options.open {
        open_browser(&url);
    }
    let server = axum::serve(listener, server::router(Arc::new(app))).into_future();
    match select(pin!(server), pin!(tokio::signal::ctrl_c())).await {
        Either::Left((result, _)) => result.map_err(|e| Error::io("serve on", Path::new(&local.to_string()), e)),
        Either::Right(_) => {
            eprintln!("preview: stopped");
            Ok(())
        }
    }
}

/// The address to print: a wildcard bind is reached through loopback.
fn shown_address(local: SocketAddr) -> SocketAddr {
    match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), local.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), local.port()),
        _ => local,
    }
}

/// Ask the desktop to open `url`; a machine without `xdg-open` only gets a note.
fn open_browser(url: &str) {
    let child = std::process::Command::new("xdg-open")
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match child {
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(_) => eprintln!("preview: cannot run `xdg-open`; open {url} in a browser"),
    }
}
