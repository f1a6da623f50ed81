//! `state:`: where letterpress keeps suppressions, the delivery journal and sign-ups.

use std::path::PathBuf;

use serde::Deserialize;

/// State store settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StateConfig {
    /// SQLite database path relative to the project root; defaults to `.letterpress/state.db`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// A PostgreSQL store, `postgres://user@host/db` (`LETTERPRESS_STATE_URL` wins over it);
    /// absent: the SQLite file at `path`. Keep the password out of it: see `password_env`.
    #[serde(default)]
    pub url: Option<String>,
    /// The environment variable holding the PostgreSQL password.
    #[serde(default)]
    pub password_env: Option<String>,
}

impl StateConfig {
    /// The database file, relative to the project root.
    pub fn db_path(&self) -> PathBuf {
        self.path.clone().unwrap_or_else(|| PathBuf::from(".letterpress/state.db"))
    }
}
