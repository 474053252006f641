//! The restore form `.dump` writes: `CREATE TABLE name(column TYPE
//! [COLLATE collation], ...)`
//! and `INSERT INTO name VALUES(value, ...)`, where a value is NULL, an
//! integer, TRUE or FALSE, quoted text or a blob `X'hex'`. What they mean
//! is `query::dump`'s business; this module only reads them.

use super::lex::{Res, eat, expect, expected, fail, int_literal, name, paren_list, quoted, show, ws};
use crate::query::ast::{SqlValue, Statement};

/// After CREATE: `TABLE name(column TYPE, ...)`.
pub fn create_table(i: &str) -> Res<'_, Statement> {
    let (i, table) = name(i, "a table name")?;
    let (i, columns) = paren_list(i, "columns", |i| {
        let (i, column) = name(i, "a column name")?;
        let (i, ty) = name(i, "a column type")?;
        // A name column is `TEXT COLLATE NOCASE` (names compare without
        // regard to case, in SQLite as in caldb).
        let (i, ty) = match eat(i, "COLLATE") {
            Some(i) => {
                let (i, collation) = name(i, "a collation after COLLATE")?;
                (i, format!("{ty} COLLATE {collation}"))
            }
            None => (i, ty),
        };
        Ok((i, (column, ty.to_ascii_uppercase())))
    })?;
    Ok((i, Statement::CreateTable { table, columns }))
}

/// After INSERT: `INTO name VALUES(value, ...)`.
pub fn insert(i: &str) -> Res<'_, Statement> {
    let (i, ()) = expect(i, "INTO", "after INSERT")?;
    let (i, table) = name(i, "a table name")?;
    let (i, ()) = expect(i, "VALUES", &format!("after INSERT INTO {table}"))?;
    let (i, values) = paren_list(i, "values", value)?;
    Ok((i, Statement::InsertRow { table, values }))
}

/// A blob `X'0a1B'`: an even number of hexadecimal digits.
fn blob(i: &str) -> Option<Res<'_, Vec<u8>>> {
    let start = ws(i);
    let body = start.strip_prefix(['X', 'x'])?.strip_prefix('\'')?;
    let Some(end) = body.find('\'') else {
        return Some(fail(start, "unterminated blob"));
    };
    let hex = &body[..end];
    if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(fail(start, format!("a blob holds pairs of hexadecimal digits, not '{}'", show(hex))));
    }
    let bytes = (0..hex.len()).step_by(2).filter_map(|k| u8::from_str_radix(&hex[k..k + 2], 16).ok()).collect();
    Some(Ok((&body[end + 1..], bytes)))
}

fn value(i: &str) -> Res<'_, SqlValue> {
    let start = ws(i);
    if let Some(r) = blob(start) {
        return r.map(|(i, b)| (i, SqlValue::Blob(b)));
    }
    match quoted(start) {
        Ok((i, t)) => return Ok((i, SqlValue::Text(t))),
        Err(nom::Err::Error(_)) => {}
        Err(e) => return Err(e),
    }
    if let Some(r) = int_literal(start) {
        return r.map(|(i, n)| (i, SqlValue::Int(n)));
    }
    for (word, v) in [("NULL", SqlValue::Null), ("TRUE", SqlValue::Bool(true)), ("FALSE", SqlValue::Bool(false))] {
        if let Some(i) = eat(start, word) {
            return Ok((i, v));
        }
    }
    expected(start, "a value (NULL, a number, TRUE, FALSE, text in quotes or X'hex')", "")
}
