//! Provider webhooks in `serve`: `POST <base path>/webhooks/ses`, `…/postmark` (and
//! `…/postmark/<secret>`), `…/mailgun`, answered only for the providers `bounces.webhooks`
//! configures. Each request is verified by [`crate::bounces::webhook`]; one that fails is
//! answered 401/403 (400 for junk) and changes nothing. Verified events go to the [`Sink`] on a
//! blocking thread; 200 once recorded, 500 when the sink fails (the provider retries).
//!
//! Bodies of webhook paths may be up to [`webhook::MAX_BODY`]; the site's routes keep
//! [`super::router::MAX_BODY`] ([`body_limit`]).

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::app::{App, Failure, blocking};
use crate::bounces::webhook::{self, Rejected, Verified, mailgun, postmark, ses};
use crate::bounces::{Handled, ProviderEvent, Sink};
use crate::config::Webhooks;
use crate::env::Env;
use crate::error::{Error, Result};

/// The verifiers of the configured providers, and where their events go.
#[derive(Default)]
pub struct Hooks {
    ses: Option<ses::Verifier>,
    postmark: Option<postmark::Auth>,
    mailgun: Option<mailgun::Verifier>,
    sink: Option<Mutex<Box<dyn Sink>>>,
}

/// The value of the environment variable `name`, which `key` names; an error when unset.
fn secret(env: &Env, key: &str, name: &str) -> Result<String> {
    match env.get(name) {
        Some(value) if !value.is_empty() => Ok(value.to_owned()),
        _ => Err(Error::usage(format!(
            "`{name}` is not set: `bounces.webhooks.{key}` names it; set it in the environment `serve` runs in"
        ))),
    }
}

impl Hooks {
    /// The configured webhooks, their secrets from `env`; `sink` is opened only when one is
    /// configured, and SNS fetches go through `fetch`.
    pub fn load(
        config: &Webhooks,
        env: &Env,
        fetch: Arc<dyn ses::Fetch>,
        sink: impl FnOnce() -> Result<Box<dyn Sink>>,
    ) -> Result<Self> {
        let mut hooks = Self::default();
        if let Some(c) = &config.ses {
            hooks.ses = Some(ses::Verifier::new(c.topics.clone(), fetch));
        }
        if let Some(c) = &config.postmark {
            let basic = match (&c.username_env, &c.password_env) {
                (Some(user), Some(password)) => {
                    Some((secret(env, "postmark.username-env", user)?, secret(env, "postmark.password-env", password)?))
                }
                _ => None,
            };
            let path =
                c.secret_path_env.as_ref().map(|name| secret(env, "postmark.secret-path-env", name)).transpose()?;
            hooks.postmark = Some(postmark::Auth { basic, secret: path });
        }
        if let Some(c) = &config.mailgun {
            let key = secret(env, "mailgun.signing-key-env", &c.signing_key_env)?;
            let window = c.replay_window().map_err(|e| Error::usage(format!("`bounces.webhooks.mailgun`: {e}")))?;
            hooks.mailgun = Some(mailgun::Verifier::new(&key, window));
        }
        if hooks.ses.is_some() || hooks.postmark.is_some() || hooks.mailgun.is_some() {
            hooks.sink = Some(Mutex::new(sink()?));
        }
        Ok(hooks)
    }

    /// The providers answered, for the start-up line.
    pub fn describe(&self) -> Vec<&'static str> {
        [("ses", self.ses.is_some()), ("postmark", self.postmark.is_some()), ("mailgun", self.mailgun.is_some())]
            .into_iter()
            .filter_map(|(name, on)| on.then_some(name))
            .collect()
    }
}

/// The routes of the configured providers.
pub fn routes(app: &Arc<App>) -> Router<Arc<App>> {
    let hooks = &app.webhooks;
    let mut router = Router::new();
    if hooks.ses.is_some() {
        router = router.route(&app.routes.path("webhooks/ses"), post(ses_hook));
    }
    if hooks.postmark.is_some() {
        router = router
            .route(&app.routes.path("webhooks/postmark"), post(postmark_hook))
            .route(&app.routes.path("webhooks/postmark/{secret}"), post(postmark_secret_hook));
    }
    if hooks.mailgun.is_some() {
        router = router.route(&app.routes.path("webhooks/mailgun"), post(mailgun_hook));
    }
    router
}

/// Whether `path` is under the webhooks' paths (`<base path>webhooks/`), configured or not.
pub fn is_hook(app: &App, path: &str) -> bool {
    path.starts_with(&app.routes.path("webhooks/"))
}

/// The largest body a webhook's path reads: [`webhook::MAX_BODY`] when a webhook is configured,
/// else [`super::router::MAX_BODY`] as every other path.
pub fn body_limit(app: &App) -> usize {
    if app.webhooks.describe().is_empty() { super::router::MAX_BODY } else { webhook::MAX_BODY }
}

async fn ses_hook(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let Some(verifier) = &app.webhooks.ses else { return StatusCode::NOT_FOUND.into_response() };
    match verifier.verify(&body, app.clock.now()).await {
        Err(rejected) => refuse("ses", &rejected),
        Ok(Verified::Subscribe(url)) => match verifier.fetcher().get(&url).await {
            Ok(_) => {
                eprintln!("serve: webhook ses: confirmed the SNS subscription");
                text(StatusCode::OK, "confirmed\n")
            }
            Err(why) => {
                eprintln!("serve: webhook ses: could not confirm the SNS subscription: {why}");
                text(StatusCode::SERVICE_UNAVAILABLE, "try again\n")
            }
        },
        Ok(Verified::Events(events)) => record(app, "ses", events).await,
    }
}

async fn postmark_hook(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    postmark_request(app, &headers, None, &body).await
}

async fn postmark_secret_hook(
    State(app): State<Arc<App>>,
    Path(secret): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    postmark_request(app, &headers, Some(&secret), &body).await
}

async fn postmark_request(app: Arc<App>, headers: &HeaderMap, secret: Option<&str>, body: &[u8]) -> Response {
    let Some(auth) = &app.webhooks.postmark else { return StatusCode::NOT_FOUND.into_response() };
    let authorization = headers.get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
    match auth.verify(authorization, secret, body) {
        Err(rejected) => refuse("postmark", &rejected),
        Ok(events) => record(app, "postmark", events).await,
    }
}

async fn mailgun_hook(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let Some(verifier) = &app.webhooks.mailgun else { return StatusCode::NOT_FOUND.into_response() };
    match verifier.verify(&body, app.clock.now()) {
        Err(rejected) => refuse("mailgun", &rejected),
        Ok(events) => record(app, "mailgun", events).await,
    }
}

/// A refusal: its status, a log line with the reason, nothing changed.
fn refuse(provider: &str, rejected: &Rejected) -> Response {
    eprintln!("serve: webhook {provider}: refused ({}): {}", rejected.status(), rejected.reason());
    let status = StatusCode::from_u16(rejected.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = text(status, "refused\n");
    // Postmark authenticates with HTTP basic auth, so its 401 says so (RFC 9110 §11.6.1). SES
    // and Mailgun sign their bodies: no HTTP scheme to name.
    if status == StatusCode::UNAUTHORIZED && provider == "postmark" {
        let challenge = HeaderValue::from_static("Basic realm=\"letterpress webhooks\", charset=\"UTF-8\"");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// Give `events` to the sink, on a blocking thread.
async fn record(app: Arc<App>, provider: &'static str, mut events: Vec<ProviderEvent>) -> Response {
    // An event about something that is not an address can suppress nobody: answered 200 with
    // the rest, so the provider does not send it again and again (an error would be retried).
    let before = events.len();
    events.retain(|event| crate::address::normalise_address(&event.recipient).is_ok());
    if events.len() < before {
        eprintln!(
            "serve: webhook {provider}: {} events ignored: their recipient is not an address",
            before - events.len()
        );
    }
    let outcome = blocking(&app, move |app| {
        let Some(sink) = &app.webhooks.sink else { return Err(Failure::Internal("no webhook sink".to_owned())) };
        let mut sink = sink.lock().unwrap_or_else(PoisonError::into_inner);
        let mut handled = Vec::new();
        for event in &events {
            handled.push(sink.event(event).map_err(Failure::from)?);
        }
        Ok(handled)
    })
    .await;
    match outcome {
        Ok(handled) => {
            let recorded: usize = handled.iter().map(|h| if let Handled::Recorded(n) = h { *n } else { 0 }).sum();
            let seen = handled.iter().filter(|h| **h == Handled::Duplicate).count();
            eprintln!("serve: webhook {provider}: {} events, {recorded} recorded, {seen} seen before", handled.len());
            text(StatusCode::OK, "ok\n")
        }
        Err(failure) => {
            let detail = match failure {
                Failure::Internal(detail) => detail,
                other => format!("{other:?}"),
            };
            eprintln!("serve: webhook {provider}: error: {detail}");
            text(StatusCode::INTERNAL_SERVER_ERROR, "error\n")
        }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The sink webhook events go to, and the SNS fetcher; in builds with the `test-hooks` feature,
/// `LETTERPRESS_TEST_WEBHOOK_EVENTS` (a file that gets one JSON line per new event) and
/// `LETTERPRESS_TEST_SNS_CERT` (a PEM served for every `.pem` URL; other URLs are appended to
/// `<that file>.fetched`) replace them.
pub fn seams(
    root: &std::path::Path,
    clock: &crate::clock::Clock,
    env: &Env,
) -> Result<(Arc<dyn ses::Fetch>, OpenSink)> {
    #[cfg(feature = "test-hooks")]
    if let Some(seams) = test_seams::from_env(env) {
        return Ok(seams);
    }
    let fetch: Arc<dyn ses::Fetch> = Arc::new(ses::HttpsFetcher::new().map_err(Error::usage)?);
    let (root, clock, env) = (root.to_path_buf(), clock.clone(), env.clone());
    Ok((fetch, Box::new(move || store_sink(&root, &clock, &env))))
}

/// Opens the sink when a webhook is configured.
pub type OpenSink = Box<dyn FnOnce() -> Result<Box<dyn Sink>>>;

/// The state store's sink: events are recorded once and the bounce rule applied.
fn store_sink(root: &std::path::Path, clock: &crate::clock::Clock, env: &Env) -> Result<Box<dyn Sink>> {
    let project = crate::project::Project::load(root)?;
    Ok(Box::new(crate::bounces::store::StoreSink::open(&project, clock, env)?))
}

#[cfg(feature = "test-hooks")]
mod test_seams;
