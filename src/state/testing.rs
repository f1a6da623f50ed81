//! Running the same state-store tests against both backends.
//!
//! A test written as `fn name(t: &Fresh)` opens its store with [`Fresh::open`] (as often as
//! it likes: every call is a new connection to the same store); [`both!`] makes two `#[test]`s
//! of it, `sqlite::name` and `postgres::name`, the second ignored unless asked for
//! (`--include-ignored`, as `.ci/run` does) since it needs PostgreSQL's server binaries.

pub(crate) mod cluster;

use std::path::Path;

use tempfile::TempDir;

use super::journal::{DeliveryStatus, NewRecipient, Update};
use super::{State, Store, path_in};

/// A new, empty store for one test.
pub(crate) struct Fresh {
    /// A directory the test may use (the SQLite file lives in it).
    pub dir: TempDir,
    /// The store.
    pub store: Store,
}

impl Fresh {
    /// A SQLite file in a new directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::sqlite(&path_in(dir.path()), Path::new(".letterpress/state.db"));
        Self { dir, store }
    }

    /// A new database on the test process's PostgreSQL cluster.
    pub fn postgres() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self { dir, store: Store::Postgres { url: cluster::fresh_database(), password: None } }
    }

    /// A new database made with `options` (see [`cluster::fresh_database_with`]).
    pub fn postgres_with(options: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self { dir, store: Store::Postgres { url: cluster::fresh_database_with(options), password: None } }
    }

    /// A new connection to the store.
    pub fn open(&self) -> State {
        State::open_store(&self.store).unwrap()
    }

    /// The path the store's messages name (the redacted URL on PostgreSQL).
    pub fn path(&self) -> std::path::PathBuf {
        match &self.store {
            Store::Sqlite { path, .. } => path.clone(),
            Store::Postgres { url, .. } => super::pg::redact(url).into(),
        }
    }

    /// Whether the store is PostgreSQL.
    #[allow(dead_code, reason = "for tests of one backend's behaviour")]
    pub fn is_postgres(&self) -> bool {
        self.store.is_postgres()
    }
}

impl State {
    /// The SQLite connection, for tests of SQLite's own behaviour.
    pub(crate) fn sqlite(&self) -> &rusqlite::Connection {
        match &self.conn {
            super::db::Conn::Sqlite(conn) => conn,
            super::db::Conn::Pg(_) => panic!("not a SQLite store"),
        }
    }
}

/// The time the journal's tests record.
pub(crate) fn at() -> jiff::Timestamp {
    "2026-12-06T10:00:00Z".parse().unwrap()
}

/// Recipient `i`'s address (and key): `r000@example.com`, `r001@example.com`, …
pub(crate) fn key(i: usize) -> String {
    format!("r{i:03}@example.com")
}

/// Recipients 0 to `n - 1` ([`key`]), on list `main`.
pub(crate) fn recipients(n: usize) -> impl Iterator<Item = NewRecipient> {
    (0..n).map(|i| NewRecipient {
        address_key: key(i),
        email: key(i),
        name: String::new(),
        attrs: std::collections::BTreeMap::new(),
        list: "main".to_owned(),
        token_id: None,
        message_id: None,
    })
}

/// Recipient `i` marked `status` as the send engine marks it: an `inflight` mark counts a try,
/// a `sent` one carries the relay's 250.
pub(crate) fn update(i: usize, status: DeliveryStatus) -> Update {
    let sent = status == DeliveryStatus::Sent;
    Update {
        address_key: key(i),
        status,
        code: sent.then_some(250),
        reply: sent.then(|| "250 ok".to_owned()),
        message_id: None,
        token_id: None,
        attempted: status == DeliveryStatus::Inflight,
        relay: None,
    }
}

/// Two tests per named test function `fn name(t: &Fresh)`: on SQLite, and on PostgreSQL.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(&$crate::state::testing::Fresh::sqlite());
            })*
        }
        mod postgres {
            $(#[test]
            #[ignore = "needs PostgreSQL; run by .ci/run"]
            fn $name() {
                super::$name(&$crate::state::testing::Fresh::postgres());
            })*
        }
    };
}
pub(crate) use both;
