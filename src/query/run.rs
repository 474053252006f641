//! Dispatch: each statement to the protocol, report or check function that
//! carries it out, and its result to rows.

use super::ast::{Exportable, Statement, Target};
use super::select::{Chunks, run_select_in_chunks};
use crate::error::{Error, Result};
use crate::model::*;
use crate::protocol::{ConnectTo, Ctx, admin, connect_to, deploy, sessions, time};
use crate::store::{Reader, Store, T};

/// Runs a statement that changes the database.
pub fn write_statement(cx: &mut Ctx, stmt: &Statement) -> Result<Option<ResultSet>> {
    use Statement as S;
    match stmt {
        S::CreateServer { name, product, scope } => deploy::create_server(cx, name, *product, scope.as_deref())?,
        S::ActivateServer { name } => deploy::set_activated(cx, name, true)?,
        S::DeactivateServer { name } => deploy::set_activated(cx, name, false)?,
        S::SetServerOnline { name, online } => deploy::set_online(cx, name, *online)?,
        S::SetServerSecurityGroup { name, hosts } => deploy::set_security_group(cx, name, hosts.as_deref())?,
        S::SetServerPreventUpgrade { name, on } => deploy::set_prevent_upgrade(cx, name, *on)?,
        S::InstallKeypack { server, product, cal, count, kind, expires } => {
            let req = deploy::InstallKeypack {
                server,
                product: *product,
                cal: *cal,
                count: *count,
                kind: kind.unwrap_or(KeypackType::Retail),
                expires: *expires,
            };
            let id = deploy::install_keypack(cx, &req)?;
            let mut rs = ResultSet::new(&["keypack"]);
            rs.push(vec![Value::Int(id as i64)]);
            return Ok(Some(rs));
        }
        S::SetKeypack { id, server, product, cal, count, kind, expires } => {
            let id = crate::protocol::numbered(&*cx.tx, T::Keypacks, *id, server.as_deref(), "SET KEYPACK")?;
            let req = deploy::StateKeypack { product: *product, cal: *cal, count: *count, kind: *kind, expires: *expires };
            deploy::state_keypack(cx, id, &req)?
        }
        S::UninstallKeypack { id, server } => {
            let id = crate::protocol::numbered(&*cx.tx, T::Keypacks, *id, server.as_deref(), "UNINSTALL KEYPACK")?;
            deploy::uninstall_keypack(cx, id)?
        }
        S::CreateHost { name, product, mode, scope, license_servers, farm } => {
            let req = deploy::CreateHost {
                name,
                product: *product,
                mode: *mode,
                scope: scope.as_deref(),
                license_servers: license_servers.as_deref(),
                farm: farm.as_deref(),
            };
            deploy::create_host(cx, &req)?;
        }
        S::SetHostMode { name, mode } => deploy::set_host_mode(cx, name, *mode)?,
        S::SetHostLicenseServers { name, servers } => deploy::set_host_servers(cx, name, servers)?,
        S::CreateDevice { name, hwid } => deploy::create_device(cx, name, *hwid)?,
        S::CloneDevice { name, new_name, with_store } => deploy::clone_device(cx, name, new_name, *with_store)?,
        S::ReimageDevice { name } | S::ClearDeviceLicensing { name } => deploy::reset_device(cx, name, true)?,
        S::ClearDeviceStore { name } => deploy::reset_device(cx, name, false)?,
        S::Connect { device, user, target, admin, logon_failed } => {
            let (to, farm) = match target {
                Target::Host(h) => (h.as_str(), false),
                Target::Farm(f) => (f.as_str(), true),
            };
            let req = ConnectTo { device, user, to, farm, admin: *admin, logon_failed: *logon_failed };
            return Ok(Some(outcome_rows(connect_to(cx, req)?)));
        }
        S::ConnectClient(c) => return Ok(Some(outcome_rows(crate::protocol::connect_client(cx, c)?))),
        S::LogonClient(l) => {
            let session = crate::protocol::logon_client(cx, l)?;
            let mut rs = ResultSet::new(&["session"]);
            rs.push(vec![Value::opt_int(session)]);
            return Ok(Some(rs));
        }
        S::DisconnectSession { id } => sessions::end_session(cx, *id, SessionState::Disconnected)?,
        S::LogoffSession { id } => sessions::end_session(cx, *id, SessionState::Ended)?,
        S::SetClock { at } => time::set_clock(cx, *at)?,
        S::SetClockWall => time::set_clock_wall(cx)?,
        S::Advance { amount, unit } => {
            let secs = i64::try_from(*amount).ok().and_then(|a| a.checked_mul(unit.seconds()));
            let secs = secs.ok_or_else(|| Error::plan(format!("cannot advance the clock by {amount}: too far")))?;
            time::advance(cx, secs)?;
        }
        S::SetSeed { seed } => time::set_seed(cx, *seed),
        S::RevokeLicense { id, server } => {
            let id = crate::protocol::numbered(&*cx.tx, T::Licenses, *id, server.as_deref(), "REVOKE LICENSE")?;
            return Ok(Some(revoked_rows(&[admin::revoke(cx, id)?])));
        }
        S::RevokeLicenses { filter } => return Ok(Some(revoked_rows(&super::admin::revoke_where(cx, filter)?))),
        S::RebuildServer { name, reinstall_keypacks } => {
            let (licenses, packs) = admin::rebuild(cx, name, *reinstall_keypacks)?;
            let mut rs = ResultSet::new(&["server", "licenses_deleted", "keypacks_deleted"]);
            rs.push(vec![Value::text(name.as_str()), Value::Int(licenses as i64), Value::Int(packs as i64)]);
            return Ok(Some(rs));
        }
        S::Repair => return Ok(Some(crate::check::repair(cx)?)),
        S::Import { what, file, server, as_of, options } => {
            return super::admin::import(cx, *what, file, server.as_deref(), *as_of, options).map(Some);
        }
        S::ImportUsers { file, server, options } => {
            return super::admin::import_users(cx, file, server, options).map(Some);
        }
        other => unreachable!("{other:?} is not a changing statement"),
    }
    Ok(None)
}

/// Runs a read-only statement on a snapshot (or on the open transaction).
/// A SELECT's rows go to `chunks` as they are final, when it is given.
pub fn read_statement(
    r: &(impl Reader + ?Sized),
    stmt: &Statement,
    store: &Store,
    now: Time,
    chunks: Option<&mut Chunks<'_>>,
) -> Result<ResultSet> {
    use Statement as S;
    match stmt {
        S::Select(s) => run_select_in_chunks(r, s, now, chunks),
        S::Explain(s) => super::select::explain(s, now),
        S::Check => crate::check::check(r),
        S::ShowClock => super::show::show_clock(r, now),
        S::ShowDevice { name } => super::show::show_device(r, name, now),
        S::ShowHost { name } => super::show::show_host(r, name, now),
        S::ReportUsage => crate::report::usage(r, now),
        S::ReportDuplicates => crate::report::duplicates(r),
        S::ReportUsers => crate::report::users(r, now),
        S::ReportExpiring { within_days } => crate::report::expiring(r, now, *within_days),
        S::Export { what, file } => super::admin::export(r, *what, file, store),
        S::Backup { file } => super::admin::backup(r, file, store),
        other => unreachable!("{other:?} is not a read-only statement"),
    }
}

/// The outcome's names move into the row.
pub fn outcome_rows(o: crate::protocol::Outcome) -> ResultSet {
    let mut rs = ResultSet::new(&[
        "outcome", "reason", "device", "user", "host", "server", "license", "kind", "expires", "session",
    ]);
    rs.push(vec![
        Value::text(if o.accepted() { "accepted" } else { "denied" }),
        Value::text(o.reason.as_str()),
        Value::Text(o.device),
        Value::Text(o.user),
        Value::Text(o.host),
        o.server.map_or(Value::Null, Value::Text),
        Value::opt_int(o.license),
        o.kind.map_or(Value::Null, |k| Value::text(k.as_str())),
        Value::opt_time(o.expires),
        Value::opt_int(o.session),
    ]);
    rs
}

fn revoked_rows(list: &[admin::Revoked]) -> ResultSet {
    let mut rs = ResultSet::new(&["license", "server", "product", "revocable", "next_revoke_allowed"]);
    for r in list {
        rs.push(vec![
            Value::Int(r.license as i64),
            Value::text(r.server.as_str()),
            Value::text(r.product.as_str()),
            Value::Int(r.revocable as i64),
            Value::Time(r.next_allowed),
        ]);
    }
    rs
}

pub fn exportable_name(e: Exportable) -> &'static str {
    match e {
        Exportable::Licenses => "licenses",
        Exportable::Keypacks => "keypacks",
    }
}
