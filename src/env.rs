//! The process environment, read once at the edge (in [`crate::run`]) and passed down: no stage
//! calls `std::env::var`, so tests hand a stage exactly the variables they mean.
//!
//! letterpress reads `LETTERPRESS_SMTP_URL` (a relay for this run), the SMTP password from the
//! variable `sending.smtp.password-env` names, `LETTERPRESS_KEYS` (or its older name
//! `LETTERPRESS_UNSUBSCRIBE_KEYS`; see [`crate::token::Keys::load`]) and
//! `LETTERPRESS_NOW` (through [`crate::clock::Clock`]), `LETTERPRESS_STATE_URL` (a PostgreSQL
//! state store for this run, [`STATE_URL`]) and the state store's password from the variable
//! `state.password-env` names. The password variable's name is in the
//! configuration, read later than the environment, so the whole environment is kept.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;

/// The variable naming a PostgreSQL state store, over `state.url`.
pub const STATE_URL: &str = "LETTERPRESS_STATE_URL";

/// The variable holding the keys: comma-separated, each hex or base64url. The same on every
/// host of a project (see `docs/deploy.md`).
pub const KEYS: &str = "LETTERPRESS_KEYS";

/// [`KEYS`]'s older name, still read when [`KEYS`] is not set.
pub const OLD_KEYS: &str = "LETTERPRESS_UNSUBSCRIBE_KEYS";

/// A snapshot of environment variables.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, OsString>,
}

impl fmt::Debug for Env {
    /// Names only: values may be passwords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl Env {
    /// The process's environment, now.
    #[allow(clippy::disallowed_methods, reason = "the edge: the one place the environment is read")]
    pub fn from_process() -> Self {
        let vars = std::env::vars_os().filter_map(|(name, value)| Some((name.into_string().ok()?, value))).collect();
        Self { vars }
    }

    /// Exactly these variables (for tests and embedding).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect() }
    }

    /// The value of `name`, when set (possibly empty) and valid UTF-8.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).and_then(|value| value.to_str())
    }

    /// Whether `name` is set at all (even to something that is not UTF-8).
    pub fn is_set(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_never_show_in_debug_output() {
        let env = Env::from_pairs([("LP_PASSWORD", "hunter2")]);
        assert_eq!(env.get("LP_PASSWORD"), Some("hunter2"));
        assert_eq!(env.get("OTHER"), None);
        assert_eq!(format!("{env:?}"), r#"{"LP_PASSWORD"}"#);
    }
}
