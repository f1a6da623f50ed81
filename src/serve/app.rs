//! What every request handler shares, and how their outcomes become responses.
//!
//! Enters: the loaded project's configuration, keys, state store pool, mailer, pages and clock,
//! put together once at start-up (`prepare` in `serve/mod.rs`). Leaves: the [`App`] the router shares,
//! the paths it answers at ([`Routes`]), and [`Failure`] → response mapping. Internal errors
//! never reach clients: they get a generic 500 page, and the details go to stderr.

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use super::limit::Limiter;
use super::mail::Mailer;
use super::pages::{FormView, HONEYPOT, ListView, Page, PublicationRef, Ui, describe};
use super::pool::Pool;
use super::site::Site;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::token::Keys;

/// Everything the handlers share.
pub struct App {
    /// The project root.
    pub root: PathBuf,
    /// The project's configuration.
    pub config: Config,
    /// Unsubscribe and confirmation token keys.
    pub keys: Keys,
    /// State store connections.
    pub pool: Pool,
    /// `POST /subscribe` rate limit per client.
    pub limiter: Limiter,
    /// Confirmations per address asked for, whoever asks ([`CONFIRMATIONS_PER_DAY`]).
    pub confirmations: Limiter<String>,
    /// Pages and mails.
    pub ui: Ui,
    /// Confirmation mail delivery.
    pub mailer: Mailer,
    /// The time, for suppressions, confirmations and tokens.
    pub clock: Clock,
    /// Where things are.
    pub routes: Routes,
    /// The archive with subscribe forms.
    pub site: Site,
    /// Lifetime of a confirmation link.
    pub confirm_ttl: jiff::SignedDuration,
    /// Longest a request body may take to arrive, in all.
    pub body_timeout: std::time::Duration,
    /// Requests in progress per client, counted behind a trusted proxy.
    pub in_flight: Arc<super::limit::InFlight>,
    /// Provider webhooks (`bounces.webhooks`).
    pub webhooks: Arc<super::webhooks::Hooks>,
    /// Wakes the welcome sender when a confirmation queued a welcome.
    pub welcomes: crate::subscriptions::welcome::Nudge,
    /// Click counting (`GET /l/<token>`).
    pub clicks: super::clicks::Clicks,
}

/// The paths `serve` answers at, from the site's URLs (a reverse proxy passes paths unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes {
    /// The base URL's path without its trailing `/` (`""` at the root of a host).
    pub prefix: String,
    /// The unsubscribe URL's path.
    pub unsubscribe: String,
    /// The public base URL, ending with `/` (confirmation links start with it).
    pub public_base: String,
}

impl Routes {
    /// The paths of a configuration.
    pub fn of(config: &Config) -> Result<Self> {
        let parse = |value: &str| {
            Url::parse(value).map_err(|_| Error::usage(format!("`{value}` in `letterpress.yaml` is not a URL")))
        };
        let base = parse(&config.site.base())?;
        let unsubscribe = parse(&config.site.unsubscribe())?;
        Ok(Self {
            prefix: base.path().trim_end_matches('/').to_owned(),
            unsubscribe: unsubscribe.path().to_owned(),
            public_base: config.site.base(),
        })
    }

    /// A path under the site: `/subscribe`, `/news/healthz`.
    pub fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    /// The public link that confirms `token`.
    pub fn confirm_url(&self, token: &str) -> String {
        format!("{}confirm?t={token}", self.public_base)
    }
}

impl App {
    /// The list with `slug` as pages show it.
    pub fn list_view(&self, slug: &str) -> Option<ListView> {
        self.config.list(slug).map(|l| ListView {
            slug: l.slug.clone(),
            name: l.name.clone(),
            description: l.description.clone(),
        })
    }

    /// The subscribe form for one list (on error pages about it) or for every list.
    pub fn form_for(&self, list: Option<&str>) -> FormView {
        let lists: Vec<ListView> = match list.and_then(|slug| self.list_view(slug)) {
            Some(view) => vec![view],
            None => self.config.lists.iter().filter_map(|l| self.list_view(&l.slug)).collect(),
        };
        form_view(&self.routes, lists, None)
    }

    /// A confirmation link's lifetime for people.
    pub fn ttl_text(&self) -> String {
        describe(self.confirm_ttl)
    }
}

/// A form offering `lists`, on `publication`'s pages when given.
pub fn form_view(routes: &Routes, lists: Vec<ListView>, publication: Option<PublicationRef>) -> FormView {
    FormView {
        action: routes.path("subscribe"),
        single: (lists.len() == 1).then(|| lists[0].clone()),
        lists,
        publication,
        honeypot: HONEYPOT,
    }
}

/// Why a request did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// 400: the request is malformed or the token does not verify.
    BadRequest(&'static str, String),
    /// 404: the token verifies but names nothing we know.
    NotFound(&'static str, String),
    /// 410: a confirmation link past its expiry.
    Expired,
    /// 410: a confirmation link older than the unsubscribe that followed it.
    Superseded,
    /// 429: the client asked too often; retry after this many seconds.
    TooMany(u64),
    /// 500: our problem; the message is for stderr only.
    Internal(String),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self::Internal(error.to_string().trim_end().to_owned())
    }
}

impl App {
    /// The response for a handler's outcome; a form for `list` follows problems that it helps.
    pub fn respond(&self, outcome: std::result::Result<Page, Failure>, list: Option<&str>) -> Response {
        let ui = &self.ui;
        let page = match outcome {
            Ok(page) => page,
            Err(Failure::BadRequest(heading, message)) => ui.problem(StatusCode::BAD_REQUEST, heading, &message, None),
            Err(Failure::NotFound(heading, message)) => ui.problem(StatusCode::NOT_FOUND, heading, &message, None),
            Err(Failure::Expired) => ui.problem(
                StatusCode::GONE,
                "This link has expired",
                "Confirmation links work for a limited time. Subscribe again to get a new one.",
                Some(&self.form_for(list)),
            ),
            Err(Failure::Superseded) => ui.problem(
                StatusCode::GONE,
                "This link is out of date",
                "This address was unsubscribed from the list after this confirmation link was sent, so the link no longer subscribes it. To subscribe again, use the form to get a new link.",
                Some(&self.form_for(list)),
            ),
            Err(Failure::TooMany(seconds)) => {
                let page = ui.problem(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests",
                    "Too many subscribe requests came from your network. Please try again later.",
                    None,
                );
                let mut response = html(page);
                if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                return response;
            }
            Err(Failure::Internal(detail)) => {
                eprintln!("serve: error: {detail}");
                ui.problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Something went wrong on our side. Please try again later.",
                    None,
                )
            }
        };
        html(page)
    }
}

/// An HTML page that is never cached and never sends its URL (which may hold a token) on.
pub fn html(page: Page) -> Response {
    let mut response = (page.status, page.body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(super::headers::PAGE_POLICY));
    response
}

/// Run `work` on a blocking thread (state store, list files): never on the async runtime.
pub async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    work: impl FnOnce(&App) -> std::result::Result<T, Failure> + Send + 'static,
) -> std::result::Result<T, Failure> {
    let app = Arc::clone(app);
    tokio::task::spawn_blocking(move || work(&app))
        .await
        .unwrap_or_else(|e| Err(Failure::Internal(format!("a request's work stopped: {e}"))))
}

/// Confirmation mails one address can be sent in a day, however many clients ask: enough for a
/// person who mistyped or lost the mail, too few to flood anyone with them.
pub const CONFIRMATIONS_PER_DAY: u32 = 3;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[track_caller]
    fn routes(base: &str, unsubscribe: Option<&str>) -> Routes {
        let mut text = format!(
            "site:\n  title: T\n  base-url: {base}\npublications:\n  - slug: w\n    name: W\n    from: w@news.example.org\n"
        );
        if let Some(url) = unsubscribe {
            text = text.replace("publications:", &format!("  unsubscribe-url: {url}\npublications:"));
        }
        Routes::of(&Config::parse(Path::new("c.yaml"), &text).unwrap()).unwrap()
    }

    #[test]
    fn paths_follow_the_site_urls() {
        let root = routes("https://news.example.org", None);
        assert_eq!((root.prefix.as_str(), root.unsubscribe.as_str()), ("", "/unsubscribe"));
        assert_eq!(root.path("subscribe"), "/subscribe");
        assert_eq!(root.confirm_url("abc"), "https://news.example.org/confirm?t=abc");
        let nested = routes("https://example.org/news/", Some("https://example.org/u/leave?x=1"));
        assert_eq!((nested.prefix.as_str(), nested.unsubscribe.as_str()), ("/news", "/u/leave"));
        assert_eq!(nested.path("healthz"), "/news/healthz");
        assert_eq!(nested.confirm_url("abc"), "https://example.org/news/confirm?t=abc");
    }
}
