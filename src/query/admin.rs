//! The administration statements that need the query layer: a revoke over
//! the licenses a condition selects, and import / export of the WMI CSV
//! layouts.

use super::ast::{Exportable, Expr};
use super::catalog::{self, scan_rows};
use super::select::{choose_access, eval, plan_cond};
use crate::error::{Error, Result};
use crate::model::*;
use crate::protocol::{Ctx, admin};
use crate::store::{Reader, Store};

/// Revokes every active permanent license the condition selects, all or
/// nothing: one refusal and none is revoked (the caller's transaction is
/// dropped).
pub fn revoke_where(cx: &mut Ctx, filter: &Expr) -> Result<Vec<admin::Revoked>> {
    let t = catalog::table("licenses").ok_or_else(|| Error::plan("no licenses table"))?;
    let cond = plan_cond(t, filter)?;
    let access = choose_access(&*cx.tx, t, Some(&cond))?;
    let (id_col, kind_col, status_col) = (0, 3, 4);
    let mut ids = Vec::new();
    scan_rows(&*cx.tx, t, &access, &mut |row| {
        let revocable = row[kind_col] == Value::text("permanent") && row[status_col] == Value::text("active");
        if revocable
            && eval(&cond, &row)
            && let Value::Int(id) = row[id_col]
        {
            ids.push(id as u64);
        }
        Ok(true)
    })?;
    if ids.is_empty() {
        return Err(Error::plan("no active permanent license matches the condition"));
    }
    admin::revoke_set(cx, &ids)
}

pub fn export(_r: &(impl Reader + ?Sized), what: Exportable, _file: &str, _store: &Store) -> Result<ResultSet> {
    Err(Error::plan(format!(
        "EXPORT {} is not available yet in this version of caldb",
        super::run::exportable_name(what).to_uppercase()
    )))
}

pub fn import(_cx: &mut Ctx, what: Exportable, _file: &str, _server: &str) -> Result<ResultSet> {
    Err(Error::plan(format!(
        "IMPORT {} is not available yet in this version of caldb",
        super::run::exportable_name(what).to_uppercase()
    )))
}
