//! The administration statements that need the query layer: a revoke over
//! the licenses a condition selects, and import / export of the WMI CSV
//! layouts (carried out by `report`), and BACKUP (by `store::backup`).

use super::ast::{Exportable, Expr, ImportOptions};
use super::catalog;
use crate::error::{Error, Result};
use crate::model::*;
use crate::protocol::{Ctx, admin};
use crate::report;
use crate::store::{Reader, Records, Store};
use std::path::Path;

/// Revokes every active permanent license the condition selects, all or
/// nothing: one refusal and none is revoked (the caller's transaction is
/// dropped). None selected revokes nothing and returns no rows.
pub fn revoke_where(cx: &mut Ctx, filter: &Expr) -> Result<Vec<admin::Revoked>> {
    let t = catalog::table("licenses").ok_or_else(|| Error::plan("no licenses table"))?;
    let id_col = t.column("id").ok_or_else(|| Error::plan("no id column in licenses"))?;
    let mut matched = Vec::new();
    for row in super::select::matching_rows(&*cx.tx, t, filter, cx.now)? {
        if let Value::Int(id) = row[id_col] {
            matched.push(id as u64);
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

/// IMPORT LICENSES|KEYPACKS|USERS FROM 'file' INTO SERVER s [options], in
/// the statement's transaction: one row (file, server, rows imported, rows
/// passed over, a note of what was read differently or passed over).
pub fn import(
    cx: &mut Ctx,
    what: Option<Exportable>,
    file: &str,
    server: &str,
    options: &ImportOptions,
) -> Result<ResultSet> {
    let opts = report::read::Options::new(
        options.encoding.as_deref(),
        options.delimiter.as_deref(),
        options.culture.as_deref(),
        options.timezone.as_deref(),
    )?;
    let source = (Path::new(file), file, &opts);
    let done = match what {
        Some(Exportable::Licenses) => report::import_licenses(cx.tx, &mut cx.state, source, server)?,
        Some(Exportable::Keypacks) => report::import_keypacks(cx.tx, &mut cx.state, cx.now, source, server)?,
        None => report::import_users(cx.tx, source, server)?,
    };
    let word = what.map_or("per-user CALs", super::run::exportable_name);
    let msg = format!("{} {word} imported from '{file}'", done.rows);
    cx.event(EventSource::LicenseServer, server, 0, EventLevel::Info, msg)?;
    let mut rs = ResultSet::new(&["file", "server", "rows", "skipped", "note"]);
    let note = if done.note.is_empty() { Value::Null } else { Value::text(done.note) };
    rs.push(vec![
        Value::text(file),
        Value::text(server),
        Value::Int(done.rows as i64),
        Value::Int(done.skipped as i64),
        note,
    ]);
    Ok(rs)
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
