//! `.dump` and its restore, and `.schema`. The dump is SQL text that both
//! caldb and sqlite3 load, the same text for the same database:
//!
//! - `caldb_store`: every stored record, table by table in key order, as
//!   `INSERT INTO caldb_store VALUES('table', X'key', X'value')`, the
//!   database state last. This is what a caldb restore writes, byte for
//!   byte, so the restored database dumps to the same text.
//! - then each query table of language.md as `CREATE TABLE` and one
//!   `INSERT` per row: what a sqlite3 user queries. A caldb restore checks
//!   each of these rows against the records it restored, so a dump whose
//!   two halves disagree (an edited file) is refused.
//!
//! A restore goes into an empty database only (no statement in its
//! history), inside the dump's `BEGIN TRANSACTION ... COMMIT`: all of it or
//! none. It runs no expiry and adds no history row: the restored history is
//! the true account of how that state was made, as a BACKUP's copy keeps
//! it. (A database's own file can always be copied with BACKUP instead.)

use super::ast::{SqlValue, Statement};
use super::catalog::{self, Access, TABLES, Type, scan_rows};
use super::print::sql_value;
use crate::error::{Error, Result};
use crate::model::Value;
use crate::store::{FORMAT_VERSION, Reader, State, T, WriteTx, codec};
use std::fmt::Write;

/// The table of stored records in a dump.
pub const STORE_TABLE: &str = "caldb_store";
const STORE_COLUMNS: [(&str, &str); 3] = [("tbl", "TEXT"), ("key", "BLOB"), ("value", "BLOB")];
/// `meta`'s record in a dump: the state. The format version is the
/// reader's own, and how far expiry has looked (`expired_through`) is a
/// cache that a crash or a read-only statement's expiry may leave at
/// another value for the same data: the restored database looks again.
const META_STATE: &[u8] = b"state";
/// `meta`'s format version in a dump (from format 5 on): a restore
/// refuses a dump of another format before it writes a record.
const META_FORMAT: &[u8] = b"format";

fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_string(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string().to_uppercase(),
        Value::Text(s) | Value::Name(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Time(t) => format!("'{t}'"),
    }
}

/// The SQL type a query table's column is declared with.
fn sql_type(ty: Type) -> &'static str {
    match ty {
        Type::Int | Type::Bool => "INTEGER",
        Type::Text | Type::Time => "TEXT",
        // SQLite then compares names as caldb does (for ASCII names, which
        // is what NOCASE folds): `=`, IN, GROUP BY, DISTINCT and ORDER BY.
        Type::Name => "TEXT COLLATE NOCASE",
    }
}

fn create_table(name: &str, columns: &[(String, String)]) -> String {
    let columns: Vec<String> = columns.iter().map(|(c, ty)| format!("{c} {ty}")).collect();
    format!("CREATE TABLE {name}({});", columns.join(", "))
}

/// The columns a dump declares for query table `t`.
fn declared(t: &catalog::Table) -> Vec<(String, String)> {
    t.columns.iter().map(|(c, ty)| (c.to_string(), sql_type(*ty).to_string())).collect()
}

fn store_row(out: &mut String, table: &str, key: &[u8], value: &[u8]) {
    let values = [SqlValue::Text(table.into()), SqlValue::Blob(key.to_vec()), SqlValue::Blob(value.to_vec())];
    let values: Vec<String> = values.iter().map(sql_value).collect();
    let _ = writeln!(out, "INSERT INTO {STORE_TABLE} VALUES({});", values.join(","));
}

/// The dump as one text (tests compare dumps whole).
pub fn dump(r: &(impl Reader + ?Sized)) -> Result<String> {
    let mut out = Vec::new();
    dump_to(r, &mut out)?;
    String::from_utf8(out).map_err(|e| Error::Internal(format!("a dump is not UTF-8: {e}")))
}

/// How much of the dump is gathered before it is written out.
const DUMP_BUFFER: usize = 1 << 16;

/// Writes the dump to `w` as it goes, a buffer at a time: a million
/// licenses are never held as text.
pub fn dump_to(r: &(impl Reader + ?Sized), w: &mut dyn std::io::Write) -> Result<()> {
    let mut out = String::new();
    let mut flush = |out: &mut String, all: bool| -> Result<()> {
        if all || out.len() >= DUMP_BUFFER {
            w.write_all(out.as_bytes()).map_err(|e| Error::Storage(format!("cannot write the dump: {e}")))?;
            out.clear();
        }
        Ok(())
    };
    let s = r.state()?;
    let clock = s.clock.map_or("wall".to_string(), |t| format!("'{t}'"));
    let per_server: Vec<String> =
        s.server_ids.iter().map(|ids| format!("{}/{}", ids.next_keypack, ids.next_license)).collect();
    let _ = writeln!(
        out,
        "-- caldb dump: clock {clock}, seed {}, random state {}, next session {}, event {}, history {}, \
         per server (keypack/license) {}",
        s.seed,
        s.rng,
        s.next_session,
        s.next_event,
        s.next_history,
        if per_server.is_empty() { "none".to_string() } else { per_server.join(" ") }
    );
    out.push_str("-- Restore into an empty database with caldb NEW.redb < FILE, or load into sqlite3.\n");
    out.push_str("BEGIN TRANSACTION;\n");
    let columns: Vec<(String, String)> = STORE_COLUMNS.iter().map(|(c, t)| (c.to_string(), t.to_string())).collect();
    let _ = writeln!(out, "{}", create_table(STORE_TABLE, &columns));
    store_row(&mut out, T::Meta.name(), META_FORMAT, &codec::encode(&FORMAT_VERSION)?);
    for t in T::ALL.into_iter().filter(|t| *t != T::Meta) {
        r.scan(t, b"", None, &mut |k, v| {
            store_row(&mut out, t.name(), k, v);
            flush(&mut out, false)?;
            Ok(true)
        })?;
    }
    store_row(&mut out, T::Meta.name(), META_STATE, &codec::encode(&s)?);
    for t in TABLES {
        let _ = writeln!(out, "{}", create_table(t.name, &declared(t)));
        scan_rows(r, t, &Access::Full, catalog::Columns::ALL, &mut |row| {
            let values: Vec<String> = row.iter().map(literal).collect();
            let _ = writeln!(out, "INSERT INTO {} VALUES({});", t.name, values.join(","));
            flush(&mut out, false)?;
            Ok(true)
        })?;
    }
    out.push_str("COMMIT;\n");
    flush(&mut out, true)
}

/// Runs one statement of the restore form inside `tx`; `in_block`: inside
/// BEGIN ... COMMIT, which a record's restore needs, so that a dump that
/// fails halfway leaves nothing behind.
pub fn restore(tx: &mut WriteTx, stmt: &Statement, in_block: bool) -> Result<()> {
    match stmt {
        Statement::CreateTable { table, columns } => check_declared(table, columns),
        Statement::InsertRow { table, values } if table.eq_ignore_ascii_case(STORE_TABLE) => {
            if !in_block {
                return Err(Error::plan(format!(
                    "INSERT INTO {STORE_TABLE} restores a record only inside the dump's BEGIN TRANSACTION ... COMMIT"
                )));
            }
            restore_record(tx, values)
        }
        Statement::InsertRow { table, values } => check_row(&*tx, table, values),
        _ => Err(Error::plan("not a statement of a dump")),
    }
}

/// CREATE TABLE is accepted only as a dump declares caldb's own tables.
fn check_declared(table: &str, columns: &[(String, String)]) -> Result<()> {
    let expected: Vec<(String, String)> = if table.eq_ignore_ascii_case(STORE_TABLE) {
        STORE_COLUMNS.iter().map(|(c, t)| (c.to_string(), t.to_string())).collect()
    } else {
        let t = catalog::table(table).ok_or_else(|| {
            Error::plan_near(
                format!("caldb's tables are fixed: there is no table '{table}' (CREATE TABLE is only part of a .dump)"),
                table,
            )
        })?;
        declared(t)
    };
    if columns != expected.as_slice() {
        let want: Vec<String> = expected.iter().map(|(c, t)| format!("{c} {t}")).collect();
        return Err(Error::plan_near(
            format!("table '{table}' is declared as ({}) in a caldb dump", want.join(", ")),
            table,
        ));
    }
    Ok(())
}

/// A stored record of the dump, written as it was; only into a database
/// that has run no statement yet (the state record comes last).
fn restore_record(tx: &mut WriteTx, values: &[SqlValue]) -> Result<()> {
    let [SqlValue::Text(name), SqlValue::Blob(key), SqlValue::Blob(value)] = values else {
        return Err(Error::plan(format!("a {STORE_TABLE} row is ('table', X'key', X'value')")));
    };
    let t = T::ALL
        .into_iter()
        .find(|t| t.name() == name)
        .ok_or_else(|| Error::plan_near(format!("no stored table named '{name}'"), name.as_str()))?;
    let state = tx.state()?;
    if state.next_history != 1 {
        return Err(Error::plan(format!(
            "a dump restores only into an empty database: this one has run {} statements \
             (restore into a new file, e.g. caldb new.redb < dump.sql)",
            state.next_history - 1
        )));
    }
    if t == T::Meta {
        return restore_meta(tx, key, value);
    }
    if !t.shape().fits(key, value) {
        let (k, v) = (key.len(), value.len());
        return Err(Error::plan(format!("{STORE_TABLE}: a {k}-byte key or {v}-byte value is no record of '{name}'")));
    }
    if tx.get(t, key)?.is_some() {
        return Err(Error::plan(format!("{STORE_TABLE}: a second record under one key of '{name}'")));
    }
    if !is_this_formats_record(t, value) {
        return Err(Error::plan(format!(
            "{STORE_TABLE}: a record of '{name}' that this caldb's storage format ({FORMAT_VERSION}) does not store: \
             {OTHER_FORMAT}"
        )));
    }
    tx.put(t, key, value)
}

/// What to do with a dump of another storage format.
const OTHER_FORMAT: &str = "a dump restores into the format that wrote it: restore it with the caldb that wrote it, \
     then carry that file over with caldb -upgrade OLD.redb NEW.redb";

/// Whether `value` decodes as the record table `t` stores in this format
/// (a dump written before format 5 says no format: its records tell).
fn is_this_formats_record(t: T, value: &[u8]) -> bool {
    use crate::store::*;
    fn decodes<R: serde::de::DeserializeOwned>(value: &[u8]) -> bool {
        codec::decode::<R>(value).is_ok()
    }
    match t {
        T::Servers => decodes::<ServerRec>(value),
        T::Keypacks => decodes::<KeypackRec>(value),
        T::Licenses => decodes::<LicenseRec>(value),
        T::Devices => decodes::<DeviceRec>(value),
        T::Tokens => decodes::<StoredToken>(value),
        T::Hosts => decodes::<HostRec>(value),
        T::Sessions => decodes::<SessionRec>(value),
        T::UserCals => decodes::<UserCalRec>(value),
        T::Events => decodes::<EventRec>(value),
        T::History => decodes::<HistoryRec>(value),
        T::Credentials => decodes::<CredentialsRec>(value),
        // Index entries and meta hold no record.
        _ => true,
    }
}

fn restore_meta(tx: &mut WriteTx, key: &[u8], value: &[u8]) -> Result<()> {
    match key {
        META_STATE => {
            let state: State = codec::decode(value)?;
            if state.next_history == 1 {
                return Err(Error::plan("the dump's state says no statement has run: nothing to restore"));
            }
            tx.set_state(&state)
        }
        META_FORMAT => match codec::decode::<u32>(value)? {
            FORMAT_VERSION => Ok(()),
            version => Err(Error::plan(format!(
                "this dump holds caldb's storage format {version}, and this caldb stores format {FORMAT_VERSION}: {OTHER_FORMAT}"
            ))),
        },
        other => Err(Error::plan(format!("no meta record '{}' in a dump", String::from_utf8_lossy(other)))),
    }
}

/// A query table's row of the dump must be what the restored records give.
fn check_row(r: &(impl Reader + ?Sized), table: &str, values: &[SqlValue]) -> Result<()> {
    let t = catalog::table(table)
        .ok_or_else(|| Error::plan_near(format!("caldb's tables are fixed: there is no table '{table}'"), table))?;
    let row: Vec<String> = values.iter().map(sql_value).collect();
    // The row of `table` whose first column (its key) is the dump's, read
    // as a SELECT would: written as text and parsed, so the restore asks
    // the same planner and lookup paths as a user.
    let key = match values.first() {
        Some(SqlValue::Text(s)) => format!("'{}'", s.replace('\'', "''")),
        Some(SqlValue::Int(n)) => n.to_string(),
        _ => return Err(Error::plan(format!("a row of {table} in a dump starts with its key"))),
    };
    let text = format!("SELECT * FROM {} WHERE {} = {key}", t.name, t.columns[0].0);
    let Statement::Select(select) = super::parse_statement(&text)? else {
        return Err(Error::plan(format!("not a SELECT: {text}")));
    };
    let found = super::select::run_select(r, &select, r.state()?.clock.unwrap_or(crate::model::TIME_MIN))?
        .rows
        .iter()
        .any(|stored| stored.iter().map(literal).collect::<Vec<_>>() == row);
    if found {
        return Ok(());
    }
    Err(Error::plan(format!(
        "no such row in {table}: ({}); caldb's tables change through statements (CREATE SERVER, CONNECT, ...), \
         and INSERT INTO {table} only checks a row of a .dump being restored",
        row.join(",")
    )))
}

pub fn schema_text(table: Option<&str>) -> Result<String> {
    let mut out = String::new();
    let tables: Vec<_> = match table {
        None => TABLES.iter().collect(),
        Some(name) => vec![
            super::catalog::table(name).ok_or_else(|| Error::plan_near(format!("no table named '{name}'"), name))?,
        ],
    };
    for t in tables {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|(c, ty)| {
                let null = if t.nullable.contains(c) { " NULL" } else { "" };
                format!("  {c} {}{null}", ty.name())
            })
            .collect();
        let _ = writeln!(out, "CREATE TABLE {} (\n{}\n);", t.name, cols.join(",\n"));
    }
    Ok(out)
}
