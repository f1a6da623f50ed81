//! The relays a project sends through: `sending.relays`, or the single `sending.smtp`,
//! `LETTERPRESS_SMTP_URL` or outbox as a pool of one named [`RELAY`].
//!
//! Enters: the configuration and the [`Env`] (each relay's password only from the variable its
//! `password-env` names). Leaves: a [`Pool`] of [`PoolRelay`]s, each a [`Configured`]
//! transport with its name, weight, connections, quotas and From domains. How messages are
//! spread over them, and what makes one down, is the send engine's (`send::relays`).

use std::path::Path;

use super::Configured;
use super::quota::RELAY;
use crate::config::{Config, Limits, TransportKind};
use crate::env::Env;
use crate::error::{Error, Result};

/// One relay of the pool.
#[derive(Debug, Clone)]
pub struct PoolRelay {
    /// Its name in the journal and the budgets.
    pub name: String,
    /// How to reach it.
    pub transport: Configured,
    /// Its share of the messages (0: standby).
    pub weight: u32,
    /// Connections to it at once; `None`: `sending.concurrency`.
    pub concurrency: Option<usize>,
    /// Its quotas.
    pub limits: Limits,
    /// The From domains it carries; empty: all.
    pub from_domains: Vec<String>,
}

/// The relays of a project, in configuration order.
#[derive(Debug, Clone)]
pub struct Pool {
    relays: Vec<PoolRelay>,
}

impl Pool {
    /// The relays the project is configured for. `LETTERPRESS_SMTP_URL` replaces them all with
    /// one relay (named [`RELAY`]); so do `sending.smtp` and the outbox.
    /// `outbox_sub` is the folder under the outbox directory this use writes to.
    pub fn from_config(root: &Path, config: &Config, env: &Env, outbox_sub: &Path) -> Result<Self> {
        let sending = &config.sending;
        let env_url = env.get(super::SMTP_URL_ENV).is_some_and(|v| !v.is_empty());
        if sending.relays.is_empty() || env_url || sending.transport == TransportKind::Outbox {
            let transport = Configured::from_config(root, config, env, outbox_sub)?;
            let limits = if sending.relays.is_empty() { sending.limits } else { Limits::default() };
            return Ok(Self::one(transport, limits));
        }
        let relays = sending
            .relays
            .iter()
            .map(|relay| {
                let source = format!("relay `{}`: `url`", relay.name);
                Ok(PoolRelay {
                    name: relay.name.clone(),
                    transport: Configured::smtp(root, config, env, &relay.url, &source, Some(&relay.smtp()))?,
                    weight: relay.weight,
                    concurrency: relay.concurrency,
                    limits: relay.limits,
                    from_domains: relay.from_domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { relays })
    }

    /// A pool of one relay named [`RELAY`].
    pub fn one(transport: Configured, limits: Limits) -> Self {
        Self {
            relays: vec![PoolRelay {
                name: RELAY.to_owned(),
                transport,
                weight: 1,
                concurrency: None,
                limits,
                from_domains: Vec::new(),
            }],
        }
    }

    /// Every relay.
    pub fn relays(&self) -> &[PoolRelay] {
        &self.relays
    }

    /// The relays that carry mail from `domain` (all when it is unknown), or why none does.
    pub fn for_domain(&self, domain: Option<&str>) -> Result<Vec<PoolRelay>> {
        let serves = |r: &&PoolRelay| {
            r.from_domains.is_empty() || domain.is_none_or(|d| r.from_domains.iter().any(|f| f.eq_ignore_ascii_case(d)))
        };
        let chosen: Vec<PoolRelay> = self.relays.iter().filter(serves).cloned().collect();
        if chosen.is_empty() {
            return Err(Error::usage(format!(
                "no relay of `sending.relays` carries mail from `{}`; add it to a relay's `from-domains`",
                domain.unwrap_or_default()
            )));
        }
        Ok(chosen)
    }

    /// The relay single messages from `domain` go through: the first that carries its mail.
    pub fn single(&self, domain: Option<&str>) -> Result<PoolRelay> {
        let mut chosen = self.for_domain(domain)?;
        Ok(chosen.swap_remove(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::Transport as _;

    fn project(sending: &str) -> Config {
        let text = format!(
            "site:\n  title: T\n  base-url: https://n.example.org\npublications:\n  - slug: weekly\n    name: W\n    from: W <w@n.example.org>\n  - slug: other\n    name: O\n    from: O <o@other.example.org>\nsending:\n{sending}"
        );
        Config::parse(Path::new("letterpress.yaml"), &text).unwrap()
    }

    #[test]
    fn relays_are_chosen_by_from_domain() {
        let config = project(
            "  transport: smtp\n  relays:\n    - name: all\n      url: smtp://127.0.0.1:1\n      weight: 2\n    - name: news\n      url: smtp://127.0.0.1:2\n      from-domains: [N.example.org]\n",
        );
        let pool = Pool::from_config(Path::new("."), &config, &Env::from_pairs([]), Path::new("x")).unwrap();
        let names = |d| pool.for_domain(Some(d)).unwrap().into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(names("n.example.org"), ["all", "news"]);
        assert_eq!(names("other.example.org"), ["all"]);
        assert_eq!(pool.single(Some("other.example.org")).unwrap().weight, 2);
    }

    #[test]
    fn the_environment_url_is_a_pool_of_one() {
        let config = project("  transport: smtp\n  relays:\n    - name: a\n      url: smtp://127.0.0.1:1\n");
        let env = Env::from_pairs([(super::super::SMTP_URL_ENV, "smtp://127.0.0.1:9")]);
        let pool = Pool::from_config(Path::new("."), &config, &env, Path::new("x")).unwrap();
        assert_eq!(pool.relays().iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), [RELAY]);
        assert!(pool.relays()[0].transport.describe().contains(":9"), "{}", pool.relays()[0].transport.describe());
    }

    #[test]
    fn a_missing_password_names_its_variable_and_not_a_value() {
        let config = project(
            "  transport: smtp\n  relays:\n    - name: a\n      url: smtp://127.0.0.1:1\n      username: u\n      password-env: RELAY_A_PASSWORD\n",
        );
        let error = Pool::from_config(Path::new("."), &config, &Env::from_pairs([]), Path::new("x")).unwrap_err();
        assert!(error.to_string().contains("RELAY_A_PASSWORD"), "{error}");
    }
}
