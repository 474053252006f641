//! The administration statements that need the query layer: a revoke over
//! the licenses a condition selects, and import / export of the WMI CSV
//! layouts (carried out by `report`), and BACKUP (by `store::backup`).

use super::ast::{Exportable, Expr, ImportOptions, Statement};
use super::catalog;
use crate::error::{Error, Result};
use crate::model::*;
use crate::protocol::{Ctx, admin};
use crate::report;
use crate::store::{Reader, Records, Store, T};
use std::path::Path;

/// Revokes every active permanent license the condition selects, all or
/// nothing: one refusal and none is revoked (the caller's transaction is
/// dropped). None selected revokes nothing and returns no rows.
pub fn revoke_where(cx: &mut Ctx, filter: &Expr) -> Result<Vec<admin::Revoked>> {
    let t = catalog::table("licenses").ok_or_else(|| Error::plan("no licenses table"))?;
    let id_col = t.column("id").ok_or_else(|| Error::plan("no id column in licenses"))?;
    let server_col = t.column("server").ok_or_else(|| Error::plan("no server column in licenses"))?;
    let mut matched = Vec::new();
    for row in super::select::matching_rows(&*cx.tx, t, filter, cx.now)? {
        if let (Value::Int(id), Value::Name(server) | Value::Text(server)) = (&row[id_col], &row[server_col]) {
            let on = Some(server.as_str());
            matched.push(crate::protocol::numbered(&*cx.tx, T::Licenses, *id as u64, on, "REVOKE LICENSE")?);
        }
    }
    // Which of them can be revoked at all is protocol's rule, asked of the
    // records, not of their rendered columns.
    let mut ids = Vec::new();
    for id in matched {
        if cx.tx.license(id)?.is_some_and(|l| admin::revocable(&l)) {
            ids.push(id);
        }
    }
    // None matching is an empty result, not an error: a nightly script
    // that finds nothing to revoke has not failed (docs/choices.md 12).
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    admin::revoke_set(cx, &ids)
}

/// EXPORT LICENSES|KEYPACKS TO 'file': one row (file, rows written).
pub fn export(r: &(impl Reader + ?Sized), what: Exportable, file: &str, store: &Store) -> Result<ResultSet> {
    let path = Path::new(file);
    let rows = match what {
        Exportable::Licenses => report::export_licenses(r, path, store.path())?,
        Exportable::Keypacks => report::export_keypacks(r, path, store.path())?,
    };
    let mut rs = ResultSet::new(&["file", "rows"]);
    rs.push(vec![Value::text(file), Value::Int(rows as i64)]);
    Ok(rs)
}

/// IMPORT LICENSES|KEYPACKS FROM 'file' [INTO SERVER s] [AS OF 'time']
/// [options], in the statement's transaction: one row (file, server: the
/// servers the rows went into, rows imported, passed_over: rows not
/// imported, inferred_keypacks or completed_keypacks, as_of: the instant
/// the file describes, clock: whether the database's clock was set to it,
/// note: what was read differently from the file's words, and why each
/// row passed over was, with their counts).
pub fn import(
    cx: &mut Ctx,
    what: Exportable,
    file: &str,
    into: Option<&str>,
    as_of: Option<Time>,
    options: &ImportOptions,
) -> Result<ResultSet> {
    let opts = read_options(options)?;
    let path = Path::new(file);
    let audit = audit_database(&*cx.tx)?;
    if as_of.is_some() && !audit {
        return Err(Error::plan(
            "AS OF sets the clock of an audit database, and this one has a protocol history of its own \
             (statements other than CREATE SERVER, ACTIVATE SERVER, SET SEED, SET CLOCK and IMPORT): \
             import into a new database to see the file's own time",
        ));
    }
    let source = (path, file, &opts);
    let done = match what {
        Exportable::Licenses => report::import_licenses(cx, source, into)?,
        Exportable::Keypacks => report::import_keypacks(cx, source, into)?,
    };
    let word = super::run::exportable_name(what);
    let into_text = match done.servers.len() {
        1 => String::new(),
        _ => format!(" into servers {}", done.servers.join(", ")),
    };
    for server in &done.servers {
        let msg = format!("{} {word} imported from '{file}'{into_text}", done.rows);
        cx.event(EventSource::LicenseServer, server, 0, EventLevel::Info, msg)?;
    }
    let instant = as_of.or(done.newest);
    let set = match instant {
        Some(t) if audit => {
            crate::protocol::time::set_audit_clock(cx, t)?;
            true
        }
        _ => false,
    };
    let packs = if what == Exportable::Licenses { "inferred_keypacks" } else { "completed_keypacks" };
    let mut rs = ResultSet::new(&["file", "server", "rows", "passed_over", packs, "as_of", "clock", "note"]);
    let changed = if what == Exportable::Licenses { done.inferred } else { done.completed };
    // A 0-byte file loads no server: the result names INTO SERVER's, if given.
    let servers = if done.servers.is_empty() { into.unwrap_or_default().to_string() } else { done.servers.join(",") };
    rs.push(vec![
        Value::text(file),
        Value::Text(servers),
        Value::Int(done.rows as i64),
        Value::Int(done.passed_over as i64),
        Value::Int(changed as i64),
        Value::opt_time(instant),
        Value::text(if set { "set" } else { "kept" }),
        note(done.note),
    ]);
    Ok(rs)
}

/// IMPORT USERS FROM 'file' INTO SERVER s [options], in the statement's
/// transaction: one row (file, server, rows imported, passed_over: AD
/// users without per-user CALs, note).
pub fn import_users(cx: &mut Ctx, file: &str, server: &str, options: &ImportOptions) -> Result<ResultSet> {
    let opts = read_options(options)?;
    let done = report::import_users(cx.tx, (Path::new(file), file, &opts), server)?;
    let msg = format!("{} per-user CALs imported from '{file}'", done.rows);
    cx.event(EventSource::LicenseServer, server, 0, EventLevel::Info, msg)?;
    let mut rs = ResultSet::new(&["file", "server", "rows", "passed_over", "note"]);
    rs.push(vec![
        Value::text(file),
        Value::text(server),
        Value::Int(done.rows as i64),
        Value::Int(done.passed_over as i64),
        note(done.note),
    ]);
    Ok(rs)
}

/// The statement's ENCODING, DELIMITER, CULTURE and TIMEZONE, checked.
fn read_options(options: &ImportOptions) -> Result<report::read::Options> {
    report::read::Options::new(
        options.encoding.as_deref(),
        options.delimiter.as_deref(),
        options.culture.as_deref(),
        options.timezone.as_deref(),
    )
}

fn note(text: String) -> Value {
    if text.is_empty() { Value::Null } else { Value::Text(text) }
}

/// Whether the database is an audit database, whose clock an import sets
/// to the instant its file describes: its history holds only statements
/// that load or deploy, none of caldb's own protocol (CONNECT, INSTALL
/// KEYPACK, ADVANCE, ...), so no recorded time of the protocol's stands
/// behind the file's. Reads history up to its first other statement.
fn audit_database(r: &(impl Reader + ?Sized)) -> Result<bool> {
    let mut audit = true;
    r.scan(crate::store::T::History, b"", None, &mut |_, v| {
        let h: crate::store::HistoryRec = crate::store::codec::decode(v)?;
        audit = matches!(
            super::parse_statement(&h.statement),
            Ok(Statement::CreateServer { .. }
                | Statement::ActivateServer { .. }
                | Statement::SetSeed { .. }
                | Statement::SetClock { .. }
                | Statement::Import { .. }
                | Statement::ImportUsers { .. })
        );
        Ok(audit)
    })?;
    Ok(audit)
}

/// BACKUP TO 'file': a copy of the snapshot `r`; one row (file, rows copied).
/// Inside BEGIN ... COMMIT, `r` is the open transaction: once it has changed
/// something (its state record differs from the committed one), a copy
/// would hold changes a ROLLBACK may undo, so it is refused.
pub fn backup(r: &(impl Reader + ?Sized), file: &str, store: &Store) -> Result<ResultSet> {
    if store.read()?.state()? != r.state()? {
        return Err(Error::plan(
            "BACKUP would copy the open transaction's uncommitted changes: COMMIT or ROLLBACK first",
        ));
    }
    let rows = crate::store::backup::backup(r, Path::new(file), store.path())?;
    let mut rs = ResultSet::new(&["file", "rows"]);
    rs.push(vec![Value::text(file), Value::Int(rows as i64)]);
    Ok(rs)
}
