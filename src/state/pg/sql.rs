//! SQL text and values for PostgreSQL: the store's `?N` placeholders as `$N`, parameters
//! inlined as literals (for statements sent together in one simple query), and [`Value`]s to
//! and from PostgreSQL's types.

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type};

use super::message;
use crate::state::db::{DbError, Value};

/// `sql` with each `?N` outside quotes replaced by what `with` writes for `N`.
fn each_placeholder<E>(sql: &str, mut with: impl FnMut(&mut String, &str) -> Result<(), E>) -> Result<String, E> {
    let mut out = String::with_capacity(sql.len());
    let mut quote = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '?') if chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut digits = String::new();
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    digits.push(d);
                }
                with(&mut out, &digits)?;
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    Ok(out)
}

/// `sql` with `?N` placeholders as PostgreSQL's `$N` (outside quotes).
pub fn placeholders(sql: &str) -> String {
    let dollar = |out: &mut String, digits: &str| {
        out.push('$');
        out.push_str(digits);
        Ok::<(), std::convert::Infallible>(())
    };
    match each_placeholder(sql, dollar) {
        Ok(sql) => sql,
        Err(never) => match never {},
    }
}

/// `sql` with each `?N` (outside quotes) replaced by `params[N - 1]` as a SQL literal: integers
/// as digits, text and bytes quoted with `'` doubled (the connection sets
/// `standard_conforming_strings`, so a backslash is an ordinary character). Text holding a NUL,
/// which PostgreSQL cannot store, is refused.
pub fn inline(sql: &str, params: &[Value]) -> Result<String, DbError> {
    each_placeholder(sql, |out, digits| {
        let n: usize = digits.parse().map_err(|_| DbError::Value(format!("bad placeholder ?{digits}")))?;
        let value = n.checked_sub(1).and_then(|i| params.get(i));
        let value = value.ok_or_else(|| DbError::Value(format!("no parameter for ?{n}")))?;
        out.push_str(&literal(value)?);
        Ok(())
    })
}

fn literal(value: &Value) -> Result<String, DbError> {
    Ok(match value {
        Value::Null => "NULL".to_owned(),
        Value::Int(i) => format!("CAST({i} AS BIGINT)"),
        Value::Text(s) if s.contains('\0') => return Err(DbError::Value("text holds a NUL character".to_owned())),
        Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Blob(b) => {
            let hex: String = b.iter().fold(String::new(), |mut hex, byte| {
                use std::fmt::Write as _;
                let _ = write!(hex, "{byte:02x}");
                hex
            });
            format!("'\\x{hex}'::bytea")
        }
    })
}

/// Column `i` of `row` as a [`Value`].
pub fn value(row: &postgres::Row, i: usize) -> Result<Value, DbError> {
    let column = row.columns().get(i).ok_or_else(|| DbError::Value(format!("there is no column {i}")))?;
    let get = |e: postgres::Error| DbError::Pg(message(&e));
    let ty = column.type_();
    Ok(match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i).map_err(get)?.map_or(Value::Null, Value::Int),
        Type::INT4 => row.try_get::<_, Option<i32>>(i).map_err(get)?.map_or(Value::Null, |v| Value::Int(v.into())),
        Type::INT2 => row.try_get::<_, Option<i16>>(i).map_err(get)?.map_or(Value::Null, |v| Value::Int(v.into())),
        Type::BOOL => row.try_get::<_, Option<bool>>(i).map_err(get)?.map_or(Value::Null, |v| Value::Int(v.into())),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
            row.try_get::<_, Option<String>>(i).map_err(get)?.map_or(Value::Null, Value::Text)
        }
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i).map_err(get)?.map_or(Value::Null, Value::Blob),
        _ => return Err(DbError::Value(format!("column {i} (`{}`) has the type `{ty}`", column.name()))),
    })
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_quotes_only() {
        assert_eq!(
            placeholders("SELECT ?1, '?2', \"?3\", ?10 WHERE a = ?"),
            "SELECT $1, '?2', \"?3\", $10 WHERE a = ?"
        );
    }

    #[test]
    fn parameters_are_inlined_as_literals() {
        let params = [Value::Text("it's \\ ?1".to_owned()), Value::Int(-7), Value::Null];
        assert_eq!(
            inline("SELECT ?1, '?2', ?2, ?3, ?1", &params).unwrap(),
            "SELECT 'it''s \\ ?1', '?2', CAST(-7 AS BIGINT), NULL, 'it''s \\ ?1'"
        );
        assert!(inline("SELECT ?4", &params).is_err());
        assert!(inline("SELECT ?1", &[Value::Text("a\0b".to_owned())]).is_err());
    }
}
