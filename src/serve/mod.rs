//! `letterpress serve`: the newsletter's public endpoint — one-click unsubscribe, subscribe with
//! double opt-in, and the web archive — meant to sit behind a reverse proxy.
//!
//! Enters: the project root, [`Options`] from the command line, and a [`Clock`]. Leaves: an HTTP
//! server until Ctrl-C or SIGTERM, its URL printed to stderr, and the effects of its requests:
//! suppressions in the state store (shared with cron sends: SQLite in WAL mode, busy timeout,
//! every query on a blocking thread via [`pool`]), rows in the lists' CSV files, and
//! confirmation mails through the configured transport.
//!
//! - [`unsubscribe`]: `GET`/`POST` at the path of `site.unsubscribe-url` (RFC 8058).
//! - [`subscribe`] and [`confirm`]: `POST /subscribe` sends a signed, expiring link ([`mail`]);
//!   `GET /confirm` adds the address to the list. [`limit`] rate-limits per client address.
//! - [`site`]: the built archive, a subscribe form on its pages ([`pages`] renders both).
//! - [`clicks`]: `GET /l/<token>` redirects a counted link and counts it in aggregate, after
//!   the bot filter ([`click_filter`]).
//! - [`router`] and [`listener`]: limits, timeouts, the access log, `/healthz`.
//!
//! See `docs/serve.md` for running it behind nginx or Caddy.

mod app;
mod click_filter;
mod clicks;
mod conditional;
mod confirm;
mod form;
mod headers;
mod limit;
mod listener;
mod mail;
mod pages;
mod pool;
mod router;
mod site;
mod subscribe;
mod unsubscribe;
mod webhooks;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

pub use app::Routes;
pub use site::MARKER;

use crate::clock::Clock;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::mail::{KeyUse, Outbound, Signing};
use crate::project::Project;
use app::App;

/// How to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Address and port to listen on; port 0 picks a free one.
    pub bind: SocketAddr,
    /// The built archive, relative to the project root unless absolute.
    pub public: PathBuf,
    /// Build the archive before serving (it is built anyway when it has no `index.html`).
    pub build: bool,
}

/// Whoever sends the welcomes `/confirm` queues: given the wake-ups, it starts (on a thread of
/// its own: a send must not hold up a request) and gives back how to finish it. The command
/// passes the send stage's worker, so `serve` does not import `send`.
pub type StartWelcomes<'a> = Box<dyn FnOnce(mpsc::Receiver<()>) -> Box<dyn FnOnce()> + 'a>;

/// Serve the project at `root` until Ctrl-C or SIGTERM, on a runtime of its own.
pub fn serve(root: &Path, options: &Options, clock: Clock, env: &Env, start_welcomes: StartWelcomes<'_>) -> Result<()> {
    let (nudge, wakeups) = crate::subscriptions::welcome::nudges();
    let app = Arc::new(prepare(root, options, clock, env, nudge)?);
    let finish_welcomes = start_welcomes(wakeups);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()
        .map_err(|e| Error::io("start the server for", root, e))?;
    let result = runtime.block_on(listen(app, options.bind));
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    // Every `Nudge` went with the app: the worker ends after the pass it is in, if any.
    finish_welcomes();
    result
}

/// Load everything a request may need, once: the project, the archive, keys, store, mailer.
fn prepare(
    root: &Path,
    options: &Options,
    clock: Clock,
    env: &Env,
    welcomes: crate::subscriptions::welcome::Nudge,
) -> Result<App> {
    let project = Project::load(root)?;
    let public = if options.public.is_absolute() { options.public.clone() } else { root.join(&options.public) };
    if options.build || !public.join("index.html").is_file() {
        let report = crate::archive::build_archive(&project, &public, false)?;
        eprintln!("serve: built {} issues into `{}`", report.issues, public.display());
    }
    let public = public.canonicalize().map_err(|e| Error::io("open", &public, e))?;
    let config = project.config;
    let routes = Routes::of(&config)?;
    check_paths(&routes)?;
    let pool = pool::Pool::open(crate::state::Store::from_config(&config.state, root, env)?)?;
    let outbox = Path::new(mail::OUTBOX_FOLDER);
    let Outbound { signing: Signing { keys, dkim }, transport, .. } =
        Outbound::load(root, &config, env, KeyUse::Send, outbox)?;
    pool.with(|state| state.check_shared_keys(&keys.fingerprints(), clock.now()))?;
    let ui = pages::Ui::new(root, &config, format!("{}/", routes.prefix))?;
    let mailer = mail::Mailer::new(transport, dkim);
    let site = site::Site::new(public, &config, &routes, &ui, clock.now());
    let confirm_ttl = config.serve.confirm_ttl().map_err(Error::usage)?;
    let body_timeout = config.serve.body_timeout().map_err(Error::usage)?;
    let (fetch, sink) = webhooks::seams(root, &clock, env)?;
    let webhooks = Arc::new(webhooks::Hooks::load(&config.bounces.webhooks, env, fetch, sink)?);
    Ok(App {
        root: root.canonicalize().unwrap_or_else(|_| root.to_path_buf()),
        limiter: limit::Limiter::per_hour(config.serve.rate_limit),
        confirmations: limit::Limiter::new(app::CONFIRMATIONS_PER_DAY, std::time::Duration::from_secs(86_400)),
        config,
        keys,
        pool,
        ui,
        mailer,
        clock,
        routes,
        site,
        confirm_ttl,
        body_timeout,
        in_flight: Arc::default(),
        webhooks,
        welcomes,
        clicks: clicks::Clicks::new()?,
    })
}

/// The unsubscribe path must be a plain path that no other endpoint uses.
fn check_paths(routes: &Routes) -> Result<()> {
    let path = &routes.unsubscribe;
    let plain = path.starts_with('/')
        && !path.contains(['{', '}'])
        && !path.split('/').any(|segment| segment.starts_with([':', '*']));
    let taken = ["subscribe", "confirm", "healthz"].iter().any(|name| routes.path(name) == *path)
        || path.starts_with(&routes.path("webhooks/"))
        || path.starts_with(&routes.path(crate::clicks::PATH));
    if !plain || taken || *path == format!("{}/", routes.prefix) {
        return Err(Error::usage(format!(
            "`serve` cannot answer at the unsubscribe URL's path `{path}`; set `site.unsubscribe-url` to e.g. `…/unsubscribe`"
        )));
    }
    Ok(())
}

async fn listen(app: Arc<App>, bind: SocketAddr) -> Result<()> {
    let shown = bind.to_string();
    let listener =
        tokio::net::TcpListener::bind(bind).await.map_err(|e| Error::io("listen on", Path::new(&shown), e))?;
    let local = listener.local_addr().map_err(|e| Error::io("listen on", Path::new(&shown), e))?;
    let hooks = app.webhooks.describe();
    if !hooks.is_empty() {
        eprintln!("serve: webhooks for {} at {}", hooks.join(", "), app.routes.path("webhooks/<provider>"));
    }
    eprintln!(
        "serve: `{}` at http://{local}{}/ (unsubscribe at {}, mail via {}; Ctrl-C to stop)",
        app.root.display(),
        app.routes.prefix,
        app.routes.unsubscribe,
        app.mailer.describe()
    );
    let limits = listener::Limits::of(&app.config.serve);
    let writer = clicks::Clicks::start(&app);
    listener::run(listener, router::router(Arc::clone(&app)), limits, stopped()).await;
    app.clicks.finish();
    if let Some(writer) = writer {
        let _ = writer.await;
    }
    eprintln!("serve: stopped");
    Ok(())
}

/// Ctrl-C, or SIGTERM (what service managers send).
async fn stopped() {
    #[cfg(unix)]
    {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
