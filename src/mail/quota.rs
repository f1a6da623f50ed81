//! The relays' quotas for messages that leave outside a journaled send (`send --test` copies,
//! `serve`'s confirmation mails): the policy of spending a relay's budget, over the counters
//! `state::budgets` keeps. The send engine draws on the same budgets in blocks (`send::budget`).

use jiff::Timestamp;

use crate::config::{Config, Limits};
use crate::error::{Error, Result};
use crate::state::State;
use crate::state::budgets::{Limit, Reserved, Window};

/// The name a single relay (`sending.smtp`, `LETTERPRESS_SMTP_URL`, the outbox) has in the
/// budgets and the journal.
pub const RELAY: &str = "default";

/// The limits of `limits` as the state store counts them.
pub fn limits_of(limits: &Limits) -> Vec<Limit> {
    [
        (Window::Second, limits.per_second),
        (Window::Minute, limits.per_minute),
        (Window::Hour, limits.per_hour),
        (Window::Day, limits.per_day),
    ]
    .into_iter()
    .filter_map(|(window, max)| max.map(|max| Limit { window, max }))
    .collect()
}

/// Every relay the configuration names and its quotas, in order: the relays of
/// `sending.relays`, or the one relay [`RELAY`] with `sending.limits`.
pub fn budgets(config: &Config) -> Vec<(String, Vec<Limit>)> {
    if config.sending.relays.is_empty() {
        return vec![(RELAY.to_owned(), limits_of(&config.sending.limits))];
    }
    config.sending.relays.iter().map(|r| (r.name.clone(), limits_of(&r.limits))).collect()
}

/// The relay single messages from `from_domain` go through (the first that carries its mail)
/// and its quotas.
pub fn single(config: &Config, from_domain: Option<&str>) -> (String, Vec<Limit>) {
    let relays = &config.sending.relays;
    match relays.iter().find(|r| from_domain.is_none_or(|d| r.serves(d))).or(relays.first()) {
        Some(relay) => (relay.name.clone(), limits_of(&relay.limits)),
        None => (RELAY.to_owned(), limits_of(&config.sending.limits)),
    }
}

/// The error of a run stopped by a used-up hourly or daily budget.
pub fn exhausted(relay: &str, limit: Limit, resets_at: Timestamp) -> Error {
    Error::Incomplete {
        message: format!(
            "the `{}: {}` budget of relay `{relay}` is used up; it frees up at {resets_at}, and `send --due` resumes the send then (the rest stay pending)",
            limit.window.key(),
            limit.max
        ),
    }
}

/// Take `n` messages sent outside a journaled send from `relay`'s budgets: all of them, or
/// none and why not.
pub fn spend(state: &State, relay: &str, limits: &[Limit], n: u64, now: Timestamp) -> Result<()> {
    if limits.is_empty() {
        return Ok(());
    }
    match state.reserve(relay, limits, n, now)? {
        Reserved::Granted(granted) if granted == n => Ok(()),
        Reserved::Granted(granted) => {
            state.release(relay, limits, granted, now, now)?;
            Err(Error::Incomplete {
                message: format!(
                    "the budget of relay `{relay}` has room for {granted} of {n} messages now; nothing was sent"
                ),
            })
        }
        Reserved::Exhausted { limit, resets_at } => Err(exhausted(relay, limit, resets_at)),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(sending: &str) -> Config {
        let text = format!(
            "site:\n  title: T\n  base-url: https://n.example.org\npublications:\n  - slug: weekly\n    name: W\n    from: W <w@n.example.org>\nsending:\n{sending}"
        );
        Config::parse(Path::new("letterpress.yaml"), &text).unwrap()
    }

    #[test]
    fn each_relay_has_its_budgets_under_its_name() {
        let one = config("  limits: { per-day: 10 }\n");
        assert_eq!(budgets(&one), [(RELAY.to_owned(), vec![Limit { window: Window::Day, max: 10 }])]);
        assert_eq!(single(&one, Some("n.example.org")).0, RELAY);
        let pool = config(
            "  transport: smtp\n  relays:\n    - name: other\n      url: smtp://127.0.0.1:1\n      from-domains: [elsewhere.example.org]\n      limits: { per-hour: 5 }\n    - name: main\n      url: smtp://127.0.0.1:2\n",
        );
        let names: Vec<String> = budgets(&pool).into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["other", "main"]);
        assert_eq!(single(&pool, Some("n.example.org")), ("main".to_owned(), Vec::new()), "the first that carries it");
    }

    #[test]
    fn spending_takes_all_or_nothing_from_the_named_relay() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("s.db"), Path::new("s.db")).unwrap();
        let limits = [Limit { window: Window::Day, max: 3 }];
        let now: Timestamp = "2026-11-22T09:30:00Z".parse().unwrap();
        spend(&state, "main", &limits, 2, now).unwrap();
        let refused = spend(&state, "main", &limits, 2, now).unwrap_err().to_string();
        assert!(refused.contains("relay `main` has room for 1 of 2"), "{refused}");
        spend(&state, "other", &limits, 3, now).unwrap();
        assert_eq!(state.budget_use("main", &limits, now).unwrap()[0].used, 2, "nothing taken by the refusal");
    }
}
