//! Opening the state store: a SQLite file (created, set up and migrated) or a PostgreSQL
//! database (connected, migrated under an advisory lock).
//!
//! Enters: a [`Store`] (built from `state.url` / `LETTERPRESS_STATE_URL`, `state.password-env`
//! and `state.path`). Leaves: an open [`State`], or an error naming the file or the URL without
//! its password.

use std::io;
use std::path::{Path, PathBuf};

use super::db::Conn;
use super::pg::{PgConn, redact};
use super::{BUSY_TIMEOUT, SCHEMA_VERSION, State, migrations, newer, retry_busy, sql_error};
use crate::config::StateConfig;
use crate::env::{Env, STATE_URL};
use crate::error::Error;

/// Where the state store is.
#[derive(Clone, PartialEq, Eq)]
pub enum Store {
    /// A SQLite file at `path`, named `shown` in messages.
    Sqlite {
        /// The file.
        path: PathBuf,
        /// How messages name it (relative to the project root).
        shown: PathBuf,
    },
    /// A PostgreSQL database.
    Postgres {
        /// `postgres://…`; may hold a password, so it is never shown as it is.
        url: String,
        /// The password from `state.password-env`, when set.
        password: Option<String>,
    },
}

impl std::fmt::Debug for Store {
    /// The URL without its password, and never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Store::Sqlite { shown, .. } => write!(f, "Sqlite({})", shown.display()),
            Store::Postgres { url, .. } => write!(f, "Postgres({})", redact(url)),
        }
    }
}

impl Store {
    /// The SQLite file at `path`, shown as `shown`.
    pub fn sqlite(path: &Path, shown: &Path) -> Self {
        Self::Sqlite { path: path.to_path_buf(), shown: shown.to_path_buf() }
    }

    /// How messages name the store: the file as the project names it, or the URL without its
    /// password.
    pub fn shown(&self) -> PathBuf {
        match self {
            Store::Sqlite { shown, .. } => shown.clone(),
            Store::Postgres { url, .. } => PathBuf::from(redact(url)),
        }
    }

    /// The store the project's configuration and environment name: `LETTERPRESS_STATE_URL`,
    /// else `state.url`, else the SQLite file `state.path` under `root`. A URL must be
    /// `postgres://` or `postgresql://`; the password comes from the variable
    /// `state.password-env` names (which must then be set), or the URL's own.
    pub fn from_config(config: &StateConfig, root: &Path, env: &Env) -> Result<Self, Error> {
        let url = env.get(STATE_URL).filter(|u| !u.is_empty()).map(str::to_owned).or_else(|| config.url.clone());
        let Some(url) = url else {
            let shown = config.db_path();
            return Ok(Self::sqlite(&root.join(&shown), &shown));
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::usage(format!(
                "`{}` is not a PostgreSQL URL: `state.url` (or {STATE_URL}) must start with `postgres://`; \
                 leave it out to keep the store in the SQLite file `state.path`",
                redact(&url)
            )));
        }
        let password = match &config.password_env {
            None => None,
            Some(name) => Some(env.get(name).map(str::to_owned).ok_or_else(|| {
                Error::usage(format!(
                    "`state.password-env` names `{name}`, which is not set; export the PostgreSQL password in it"
                ))
            })?),
        };
        Ok(Self::Postgres { url, password })
    }

    /// The path messages about the store name: the SQLite file's full path, or the URL
    /// without its password.
    pub fn path(&self) -> PathBuf {
        match self {
            Store::Sqlite { path, .. } => path.clone(),
            Store::Postgres { url, .. } => PathBuf::from(redact(url)),
        }
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Store::Postgres { .. })
    }
}

impl State {
    /// Open the store `store` names, creating and migrating it as needed.
    pub fn open_store(store: &Store) -> Result<Self, Error> {
        match store {
            Store::Sqlite { path, shown } => Self::open(path, shown),
            Store::Postgres { url, password } => Self::connect(url, password.as_deref(), false),
        }
    }

    /// As [`State::open_existing`] for any store; a PostgreSQL store always exists.
    pub fn open_store_existing(store: &Store) -> Result<Option<Self>, Error> {
        match store {
            Store::Sqlite { path, shown } => Self::open_existing(path, shown),
            Store::Postgres { .. } => Self::open_store(store).map(Some),
        }
    }

    /// The store the project configures (`state` under `root`, `LETTERPRESS_STATE_URL` in
    /// `env`), opened as [`State::open_store`] does: for commands that record something.
    pub fn open_configured(config: &StateConfig, root: &Path, env: &Env) -> Result<Self, Error> {
        Self::open_store(&Store::from_config(config, root, env)?)
    }

    /// The store the project configures if there is one (see [`State::open_store_existing`]):
    /// for commands that only read, so a project without a SQLite store gets none created.
    pub fn open_configured_existing(config: &StateConfig, root: &Path, env: &Env) -> Result<Option<Self>, Error> {
        Self::open_store_existing(&Store::from_config(config, root, env)?)
    }

    /// The store `store` names, for reading only, if there is one: an existing SQLite file
    /// opened as [`State::open_read_only`], or a PostgreSQL connection that migrates nothing
    /// and refuses another schema version.
    pub fn open_store_read_only(store: &Store) -> Result<Option<Self>, Error> {
        match store {
            Store::Sqlite { path, .. } if !path.is_file() => Ok(None),
            Store::Sqlite { path, shown } => Self::open_read_only(path, shown).map(Some),
            Store::Postgres { url, password } => Self::connect(url, password.as_deref(), true).map(Some),
        }
    }

    /// Connect to the PostgreSQL store at `url` and bring its schema up to date (unless
    /// `read_only`, which refuses another version than this letterpress's instead).
    pub fn connect(url: &str, password: Option<&str>, read_only: bool) -> Result<Self, Error> {
        let shown = PathBuf::from(redact(url));
        let fail = |action, e| sql_error(action, &shown, &shown, e);
        let conn = Conn::Pg(PgConn::connect(url, password).map_err(|e| fail("connect to", e))?);
        let version = if read_only {
            migrations::postgres::version(&conn).map_err(|e| fail("read", e))?
        } else {
            match migrations::postgres::run(&conn) {
                Ok(_) => SCHEMA_VERSION.into(),
                Err(migrations::Problem::Sql(e)) => return Err(fail("migrate", e)),
                Err(migrations::Problem::Newer(version)) => return Err(newer(&shown, version)),
            }
        };
        check_version(&shown, version)?;
        Ok(Self { conn, path: shown.clone(), shown })
    }

    /// Open (creating if needed) the state database at `path`; `shown` names it in messages.
    pub fn open(path: &Path, shown: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
        }
        create_private(path)?;
        let fail = |action, e| sql_error(action, path, shown, e);
        let mut conn = rusqlite::Connection::open(path).map_err(|e| fail("open", e.into()))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| fail("open", e.into()))?;
        conn.set_prepared_statement_cache_capacity(64);
        retry_busy(|| {
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
            conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 20000; PRAGMA cache_size = -16384;")?;
            Ok(())
        })
        .map_err(|e| fail("open", e))?;
        match migrations::run(&mut conn) {
            Ok(_) => {}
            Err(migrations::Problem::Sql(e)) => return Err(fail("migrate", e)),
            Err(migrations::Problem::Newer(version)) => return Err(newer(shown, version)),
        }
        Ok(Self { conn: Conn::Sqlite(conn), path: path.to_path_buf(), shown: shown.to_path_buf() })
    }

    /// Open the state database at `path` if there is one, for a command that only reads: a
    /// project without a store has no suppressions and no journal, and reading must not create
    /// one (a command that fails, or only looks, leaves `.letterpress/` as it found it).
    pub fn open_existing(path: &Path, shown: &Path) -> Result<Option<Self>, Error> {
        match std::fs::metadata(path) {
            Ok(_) => Self::open(path, shown).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    /// Open an existing state database for reading only: nothing is created, migrated or
    /// written (the preview reads delivery states this way). A database of another schema
    /// version than this letterpress's is refused.
    pub fn open_read_only(path: &Path, shown: &Path) -> Result<Self, Error> {
        use rusqlite::OpenFlags;
        let fail = |action, e: rusqlite::Error| sql_error(action, path, shown, e.into());
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(|e| fail("open", e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| fail("open", e))?;
        let version: i64 =
            conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(|e| fail("read", e))?;
        check_version(shown, version)?;
        Ok(Self { conn: Conn::Sqlite(conn), path: path.to_path_buf(), shown: shown.to_path_buf() })
    }
}

impl State {
    /// Whether the store is PostgreSQL (its writes wait on the network).
    pub fn is_postgres(&self) -> bool {
        self.conn.backend() == super::db::Backend::Postgres
    }

    /// Take PostgreSQL's session advisory lock `key` on this connection without waiting:
    /// whether it was free. Held until the connection closes (the process exits or dies).
    /// Always `true` on SQLite, which has no such lock (the caller locks a file instead).
    pub fn try_session_lock(&self, key: i64) -> Result<bool, Error> {
        match self.conn.backend() {
            super::db::Backend::Sqlite => Ok(true),
            super::db::Backend::Postgres => self
                .conn
                .query_value("SELECT pg_try_advisory_lock(?1)", super::db::params![key])
                .map_err(|e| self.error("lock", e)),
        }
    }

    /// Call one of PostgreSQL's session advisory lock functions on this connection: `call` is
    /// its SQL with the key as `?1` (e.g. `pg_try_advisory_lock_shared(?1)`, `pg_advisory_unlock(?1)`,
    /// or a two-key form with `?2`), giving a boolean. `true` on SQLite without a query.
    pub fn session_lock_call(&self, call: &'static str, keys: &[i64]) -> Result<bool, Error> {
        match self.conn.backend() {
            super::db::Backend::Sqlite => Ok(true),
            super::db::Backend::Postgres => {
                let params: Vec<super::db::Value> = keys.iter().map(|&k| super::db::Value::Int(k)).collect();
                self.conn.query_value(&format!("SELECT {call}"), &params).map_err(|e| self.error("lock", e))
            }
        }
    }
}

fn check_version(shown: &Path, version: i64) -> Result<(), Error> {
    if version > i64::from(SCHEMA_VERSION) {
        return Err(newer(shown, version));
    }
    if version < i64::from(SCHEMA_VERSION) {
        return Err(Error::usage(format!(
            "`{}` was written by an older letterpress; any command that writes it (e.g. `letterpress send`) updates it",
            shown.display()
        )));
    }
    Ok(())
}

/// Create the database file readable only by its owner, unless it exists (SQLite gives its
/// `-wal` and `-shm` files the same mode).
fn create_private(path: &Path) -> Result<(), Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io("create", path, e)),
    }
}
