//! The PostgreSQL side of [`super::db::Conn`]: a connection, its statements and its values.
//!
//! Enters: a `postgres://` URL (and a password kept apart from it), SQL with `?N` placeholders
//! and [`Value`] parameters. Leaves: row counts and `postgres::Row`s, or a [`DbError::Pg`] whose
//! message never holds the password.
//!
//! The client is the synchronous `postgres` crate, which runs its own small tokio runtime and
//! so must not be called from a thread inside another runtime (the send engine's journal task
//! is one). Each connection therefore lives on a thread of its own, and [`PgConn`]'s methods
//! hand it a job and wait for the answer, blocking the caller exactly as a SQLite call does.
//! Statements are prepared once per connection and cached by their SQL text.
//!
//! TLS: required to any host that is not loopback (rustls with the system's roots, as for
//! SMTP); a URL asking `sslmode=disable` to such a host is refused. To a loopback host, or a
//! Unix socket, the connection is plain unless the URL asks `sslmode=require`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Statement};
use tokio_postgres::Config;
use tokio_postgres::config::{Host, SslMode};

use super::db::{DbError, Value};

mod sql;
pub use sql::{inline, placeholders, value};

/// Advisory lock keys (one PostgreSQL database holds one project's store): the store's write
/// lock, taken by every write transaction; the migration lock; the send lock (a session lock).
pub const WRITE_LOCK: i64 = 0x6c70_0001;
/// Held while migrations run.
pub const MIGRATE_LOCK: i64 = 0x6c70_0002;
/// Held by a `send` run's dedicated connection for the whole run.
pub const SEND_LOCK: i64 = 0x6c70_0003;

/// A write transaction's start on PostgreSQL (see [`super::db::Conn::begin`]).
pub const BEGIN_WRITE: &str = "BEGIN; SELECT pg_advisory_xact_lock(1819279361)";
const _: () = assert!(WRITE_LOCK == 1_819_279_361, "BEGIN_WRITE names WRITE_LOCK");

/// How long a statement waits for a lock (another process's write transaction) before failing,
/// as SQLite's busy timeout does; long enough for a chunk of the audience.
pub(in crate::state) const LOCK_TIMEOUT: &str = "SET lock_timeout = '30s'; SET standard_conforming_strings = on";

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// A connection to PostgreSQL, served by its own thread.
pub struct PgConn {
    jobs: mpsc::Sender<Job>,
    /// What the connection was made with (its password included, kept in memory only), for
    /// [`PgConn::made_with`].
    config: Box<Config>,
    tls: bool,
}

struct Worker {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Worker {
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&placeholders(sql))?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// `url` without its password (in the authority or a `password=` parameter), for messages.
pub fn redact(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(the PostgreSQL URL, which is not a valid URL)".to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k.eq_ignore_ascii_case("password") { "***".into() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    if pairs.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// Whether every host of `config` is this machine (a loopback address, `localhost`, or a
/// Unix socket).
fn loopback_only(config: &Config) -> bool {
    !config.get_hosts().is_empty()
        && config.get_hosts().iter().all(|host| match host {
            Host::Tcp(name) => {
                name.eq_ignore_ascii_case("localhost")
                    || name.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
            #[cfg(unix)]
            Host::Unix(_) => true,
        })
}

pub(in crate::state) fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, DbError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Pg(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl std::fmt::Debug for PgConn {
    // Never the configuration: it holds the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn").field("tls", &self.tls).finish_non_exhaustive()
    }
}

impl PgConn {
    /// Connect to `url`, with `password` when given (it wins over one in the URL).
    pub fn connect(url: &str, password: Option<&str>) -> Result<Self, DbError> {
        let mut config: Config =
            url.parse().map_err(|e| DbError::Pg(format!("`{}` is not a PostgreSQL URL: {e}", redact(url))))?;
        if let Some(password) = password {
            config.password(password);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("letterpress");
        let local = loopback_only(&config);
        let tls = match (local, config.get_ssl_mode()) {
            (false, SslMode::Disable) => {
                return Err(DbError::Pg(
                    "refusing to connect without TLS to a host that is not this machine (`sslmode=disable`); \
                     remove `sslmode=disable` from `state.url`"
                        .to_owned(),
                ));
            }
            (false, _) | (true, SslMode::Require) => {
                config.ssl_mode(SslMode::Require);
                Some(tls()?)
            }
            (true, _) => {
                config.ssl_mode(SslMode::Disable);
                None
            }
        };
        Self::start(config, tls)
    }

    /// What the connection was made with, and whether with TLS: for a second connection made
    /// as this one was (see `journal/pipeline.rs`).
    pub(in crate::state) fn made_with(&self) -> (Config, bool) {
        ((*self.config).clone(), self.tls)
    }

    fn start(config: Config, tls: Option<tokio_postgres_rustls::MakeRustlsConnect>) -> Result<Self, DbError> {
        let made_with = (config.clone(), tls.is_some());
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("letterpress-pg".to_owned())
            .spawn(move || {
                let config = postgres::Config::from(config);
                let client = match tls {
                    Some(tls) => config.connect(tls),
                    None => config.connect(NoTls),
                };
                let mut client = match client {
                    Ok(client) => client,
                    Err(e) => {
                        let _ = ready.send(Err(DbError::Pg(message(&e))));
                        return;
                    }
                };
                if let Err(e) = client.batch_execute(LOCK_TIMEOUT) {
                    let _ = ready.send(Err(DbError::Pg(message(&e))));
                    return;
                }
                let _ = ready.send(Ok(()));
                let mut worker = Worker { client, statements: HashMap::new() };
                while let Ok(job) = inbox.recv() {
                    job(&mut worker);
                }
            })
            .map_err(|e| DbError::Pg(format!("cannot start the connection's thread: {e}")))?;
        connected.recv().map_err(|_| DbError::Pg("the connection's thread stopped".to_owned()))??;
        Ok(Self { jobs, config: Box::new(made_with.0), tls: made_with.1 })
    }

    fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Worker) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, DbError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let closed = || DbError::Pg("the connection to PostgreSQL is closed".to_owned());
        self.jobs
            .send(Box::new(move |worker| {
                let _ = reply.send(job(worker).map_err(|e| message(&e)));
            }))
            .map_err(|_| closed())?;
        answer.recv().map_err(|_| closed())?.map_err(DbError::Pg)
    }

    /// Run one statement; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        let (sql, params) = (sql.to_owned(), params.to_vec());
        let n = self.call(move |w| {
            let statement = w.statement(&sql)?;
            w.client.execute(&statement, &refs(&params))
        })?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Run a query; every row.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<postgres::Row>, DbError> {
        let (sql, params) = (sql.to_owned(), params.to_vec());
        self.call(move |w| {
            let statement = w.statement(&sql)?;
            w.client.query(&statement, &refs(&params))
        })
    }

    /// Run a query whose parameters are any PostgreSQL type (arrays for `unnest`), prepared once
    /// per connection like the others; every row.
    pub fn query_typed(
        &self,
        sql: &str,
        params: Vec<Box<dyn ToSql + Send + Sync>>,
    ) -> Result<Vec<postgres::Row>, DbError> {
        let sql = sql.to_owned();
        self.call(move |w| {
            let statement = w.statement(&sql)?;
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
            w.client.query(&statement, &refs)
        })
    }

    /// Run statements with their parameters inlined, in one round trip; the rows each changed.
    pub fn execute_many(&self, statements: &[(&str, Vec<Value>)]) -> Result<Vec<usize>, DbError> {
        let mut script = String::new();
        for (sql, params) in statements {
            script.push_str(&inline(sql, params)?);
            script.push_str(";\n");
        }
        let expected = statements.len();
        let counts = self.call(move |w| {
            let messages = w.client.simple_query(&script)?;
            Ok(messages
                .iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::CommandComplete(n) => Some(usize::try_from(*n).unwrap_or(usize::MAX)),
                    _ => None,
                })
                .collect::<Vec<_>>())
        })?;
        if counts.len() != expected {
            return Err(DbError::Pg(format!("{expected} statements answered {} times", counts.len())));
        }
        Ok(counts)
    }

    /// Run statements without parameters (the simple query protocol).
    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        let sql = sql.to_owned();
        self.call(move |w| w.client.batch_execute(&sql))
    }
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// PostgreSQL's words for an error: the server's message and SQLSTATE, or the client's.
pub fn message(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    match std::error::Error::source(error) {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(redact("postgres://lp:hunter2@db.example:5432/news"), "postgres://lp:***@db.example:5432/news");
        assert_eq!(
            redact("postgres://lp@db.example/news?password=hunter2&sslmode=require"),
            "postgres://lp@db.example/news?password=***&sslmode=require"
        );
        assert!(!redact("not a url hunter2").contains("hunter2"));
    }

    #[test]
    fn tls_is_required_to_a_remote_host() {
        let refused = PgConn::connect("postgres://lp@db.example/news?sslmode=disable", None).unwrap_err();
        assert!(refused.to_string().contains("without TLS"), "{refused}");
        let local: Config = "postgres://lp@127.0.0.1/news".parse().unwrap();
        assert!(loopback_only(&local));
        let remote: Config = "postgres://lp@db.example/news".parse().unwrap();
        assert!(!loopback_only(&remote));
    }
}
