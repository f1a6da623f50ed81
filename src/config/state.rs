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
}

impl StateConfig {
    /// The database file, relative to the project root.
    pub fn db_path(&self) -> PathBuf {
        self.path.clone().unwrap_or_else(|| PathBuf::from(".letterpress/state.db"))
    }
}
