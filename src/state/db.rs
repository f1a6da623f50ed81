//! One connection, two backends: the state store's SQL runs unchanged on SQLite and on
//! PostgreSQL through [`Conn`].
//!
//! Enters: SQL text written portably (`?1`-style numbered placeholders, rewritten to `$1` for
//! PostgreSQL; `ON CONFLICT … DO …`; `CAST(?1 AS TEXT)` where PostgreSQL cannot infer a
//! parameter's type) and parameters as [`Value`]s (build them with [`params!`]). Leaves: row
//! counts, and rows read through [`Row::get`] into any [`FromColumn`] type.
//!
//! Transactions ([`Conn::begin`]) are the one place the backends differ in kind: a write
//! transaction is SQLite's `BEGIN IMMEDIATE` (one writer per database) and on PostgreSQL a
//! transaction holding the store's advisory write lock (`pg_advisory_xact_lock`), so the same
//! read-then-write code (budgets, a chunk's next `seq`) is race-free on both. A read
//! transaction is a snapshot on both (`BEGIN DEFERRED`; `REPEATABLE READ`).

use std::fmt;

use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};

use super::pg::PgConn;

/// One parameter or column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// An integer (`INTEGER`; `BIGINT`, `INTEGER`, `SMALLINT` or `BOOLEAN` on PostgreSQL).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (`BLOB`; `BYTEA`).
    Blob(Vec<u8>),
}

macro_rules! value_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from($v: $t) -> Self {
                $e
            }
        })*
    };
}

value_from! {
    i64 => |v| Value::Int(v),
    u32 => |v| Value::Int(i64::from(v)),
    u16 => |v| Value::Int(i64::from(v)),
    bool => |v| Value::Int(i64::from(v)),
    String => |v| Value::Text(v),
    &str => |v| Value::Text(v.to_owned()),
    &String => |v| Value::Text(v.clone()),
    &&str => |v| Value::Text((*v).to_owned()),
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

impl From<&i64> for Value {
    fn from(value: &i64) -> Self {
        Value::Int(*value)
    }
}

/// The parameters of one statement, as `&[Value]`.
macro_rules! params {
    ($($v:expr),* $(,)?) => {
        &[$($crate::state::db::Value::from($v)),*][..]
    };
}
pub(crate) use params;

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

/// Why a statement failed.
#[derive(Debug)]
pub enum DbError {
    /// SQLite's error.
    Sqlite(rusqlite::Error),
    /// PostgreSQL's (or the connection's) error, as a message to show.
    Pg(String),
    /// A column held a value its reader cannot take.
    Value(String),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(e) => e.fmt(f),
            Self::Pg(message) | Self::Value(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sqlite(error)
    }
}

/// A type a column converts into.
pub trait FromColumn: Sized {
    /// The value, or why it does not fit.
    fn from_value(value: Value) -> Result<Self, String>;
}

impl FromColumn for Value {
    fn from_value(value: Value) -> Result<Self, String> {
        Ok(value)
    }
}

impl FromColumn for i64 {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Int(i) => Ok(i),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {
        $(impl FromColumn for $t {
            fn from_value(value: Value) -> Result<Self, String> {
                let i = i64::from_value(value)?;
                <$t>::try_from(i).map_err(|_| format!("{i} is out of range"))
            }
        })*
    };
}
from_int!(u16, u32, u64, usize);

impl FromColumn for bool {
    fn from_value(value: Value) -> Result<Self, String> {
        i64::from_value(value).map(|i| i != 0)
    }
}

impl FromColumn for String {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Text(s) => Ok(s),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}

impl<T: FromColumn> FromColumn for Option<T> {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One row of a result.
pub enum Row<'a> {
    /// A SQLite row.
    Sqlite(&'a rusqlite::Row<'a>),
    /// A PostgreSQL row.
    Pg(&'a postgres::Row),
}

impl Row<'_> {
    /// Column `i` (from 0) as a `T`.
    pub fn get<T: FromColumn>(&self, i: usize) -> Result<T, DbError> {
        let value = match self {
            Row::Sqlite(row) => match row.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::Int(n),
                // No column is REAL; an aggregate over none is NULL, never a float here.
                ValueRef::Real(r) => Value::Text(r.to_string()),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            },
            Row::Pg(row) => super::pg::value(row, i)?,
        };
        T::from_value(value).map_err(|e| DbError::Value(format!("column {i}: {e}")))
    }
}

/// Which database a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// An open connection to either backend.
#[derive(Debug)]
pub enum Conn {
    /// SQLite.
    Sqlite(rusqlite::Connection),
    /// PostgreSQL.
    Pg(PgConn),
}

impl Conn {
    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Pg(_) => Backend::Postgres,
        }
    }

    /// Run one statement; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        match self {
            Conn::Sqlite(conn) => Ok(conn.prepare_cached(sql)?.execute(rusqlite::params_from_iter(params.iter()))?),
            Conn::Pg(conn) => conn.execute(sql, params),
        }
    }

    /// Run several statements in order, in the caller's transaction; returns how many rows each
    /// changed. On PostgreSQL they go in one round trip (the simple query protocol, parameters
    /// written as literals: [`super::pg::inline`]); on SQLite one after the other.
    pub fn execute_many(&self, statements: &[(&str, Vec<Value>)]) -> Result<Vec<usize>, DbError> {
        match self {
            Conn::Sqlite(_) => statements.iter().map(|(sql, params)| self.execute(sql, params)).collect(),
            Conn::Pg(conn) => conn.execute_many(statements),
        }
    }

    /// Run a query and map every row with `f`.
    pub fn query<T>(
        &self,
        sql: &str,
        params: &[Value],
        mut f: impl FnMut(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        match self {
            Conn::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(f(&Row::Sqlite(row))?);
                }
                Ok(out)
            }
            Conn::Pg(conn) => conn.query(sql, params)?.iter().map(|row| f(&Row::Pg(row))).collect(),
        }
    }

    /// The first row of a query mapped with `f`, if there is one.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        match self {
            Conn::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
                rows.next()?.map(|row| f(&Row::Sqlite(row))).transpose()
            }
            Conn::Pg(conn) => conn.query(sql, params)?.first().map(|row| f(&Row::Pg(row))).transpose(),
        }
    }

    /// The first column of the first row of a query that always returns one (`COUNT(*)`).
    pub fn query_value<T: FromColumn>(&self, sql: &str, params: &[Value]) -> Result<T, DbError> {
        self.query_opt(sql, params, |row| row.get(0))?
            .ok_or_else(|| DbError::Value("the query returned no row".to_owned()))
    }

    /// Run statements separated by `;`, without parameters.
    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Conn::Pg(conn) => conn.batch(sql),
        }
    }

    /// Start a transaction: `write` takes the store's write lock at once (see the module
    /// documentation); a read transaction sees one snapshot. Rolled back unless committed.
    pub fn begin(&self, write: bool) -> Result<Tx<'_>, DbError> {
        let sql = match (self, write) {
            (Conn::Sqlite(_), true) => "BEGIN IMMEDIATE",
            (Conn::Sqlite(_), false) => "BEGIN DEFERRED",
            (Conn::Pg(_), true) => super::pg::BEGIN_WRITE,
            (Conn::Pg(_), false) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        self.batch(sql)?;
        Ok(Tx { conn: self, open: true })
    }

    /// A write transaction whose `setup` (PostgreSQL statements such as `SET LOCAL …`) runs in
    /// the same round trip as its start; SQLite runs a plain write transaction and not `setup`.
    /// On PostgreSQL `lock` takes the store's write lock as [`Conn::begin`] does; without it,
    /// for writes that only change rows their statement guards itself (the journal's batches,
    /// each run's own claimed rows), several such transactions commit at once.
    pub fn begin_write_with(&self, setup: &str, lock: bool) -> Result<Tx<'_>, DbError> {
        match self {
            Conn::Sqlite(_) => self.begin(true),
            Conn::Pg(_) => {
                let begin = if lock { super::pg::BEGIN_WRITE } else { "BEGIN" };
                self.batch(&format!("{begin}; {setup}"))?;
                Ok(Tx { conn: self, open: true })
            }
        }
    }
}

/// An open transaction on a [`Conn`]; statements run on the connection itself.
pub struct Tx<'a> {
    conn: &'a Conn,
    open: bool,
}

impl Tx<'_> {
    /// Commit it.
    pub fn commit(mut self) -> Result<(), DbError> {
        self.open = false;
        self.conn.batch("COMMIT")
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            // A failed rollback leaves nothing to do: the connection ends the transaction when
            // it closes, and the next `BEGIN` fails loudly.
            let _ = self.conn.batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_convert_both_ways() {
        let conn = Conn::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        conn.batch("CREATE TABLE t (a INTEGER, b TEXT, c TEXT)").unwrap();
        let none: Option<&str> = None;
        assert_eq!(conn.execute("INSERT INTO t VALUES (?1, ?2, ?3)", params![7_i64, "x", none]).unwrap(), 1);
        let row = conn
            .query_opt("SELECT a, b, c FROM t", &[], |row| {
                Ok((row.get::<u32>(0)?, row.get::<String>(1)?, row.get::<Option<String>>(2)?))
            })
            .unwrap();
        assert_eq!(row, Some((7, "x".to_owned(), None)));
        assert!(matches!(conn.query_value::<String>("SELECT a FROM t", &[]), Err(DbError::Value(_))));
    }

    #[test]
    fn an_uncommitted_transaction_rolls_back() {
        let conn = Conn::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        conn.batch("CREATE TABLE t (a INTEGER)").unwrap();
        {
            let _tx = conn.begin(true).unwrap();
            conn.execute("INSERT INTO t VALUES (1)", &[]).unwrap();
        }
        assert_eq!(conn.query_value::<i64>("SELECT COUNT(*) FROM t", &[]).unwrap(), 0);
        let tx = conn.begin(true).unwrap();
        conn.execute("INSERT INTO t VALUES (1)", &[]).unwrap();
        tx.commit().unwrap();
        assert_eq!(conn.query_value::<i64>("SELECT COUNT(*) FROM t", &[]).unwrap(), 1);
    }
}
