//! REPORT USAGE and REPORT USERS: the pools of each server and product, and
//! the per-user CALs tracked against those installed.

use super::for_each_license;
use crate::error::Result;
use crate::model::*;
use crate::protocol::admin;
use crate::store::{KeypackRec, Reader, Records, T, UserCalRec};
use std::collections::BTreeMap;

#[derive(Default)]
struct Pool {
    installed: u64,
    issued: u64,
    temporary: u64,
    revoked: u64,
    /// Inferred packs (IMPORT LICENSES without their key packs) counted
    /// here: their product and CAL type are a stand-in, their total what
    /// the licenses show.
    inferred: u64,
}

type PoolKey = (String, Product, CalType);

fn purchased(k: &KeypackRec) -> bool {
    k.kind != KeypackType::Temporary
}

/// Live per-user CALs per server and product.
fn tracked_users(r: &(impl Reader + ?Sized), now: Time) -> Result<BTreeMap<(String, Product), u64>> {
    let mut out = BTreeMap::new();
    for u in r.records::<UserCalRec>(T::UserCals, b"")? {
        if u.expires > now {
            *out.entry((u.server, u.product)).or_default() += 1;
        }
    }
    Ok(out)
}

pub fn usage(r: &(impl Reader + ?Sized), now: Time) -> Result<ResultSet> {
    let mut pools: BTreeMap<PoolKey, Pool> = BTreeMap::new();
    for k in r.keypacks()?.iter().filter(|k| purchased(k)) {
        let p = pools.entry((k.server.clone(), k.product, k.cal)).or_default();
        p.installed += k.total.unwrap_or(0);
        p.inferred += u64::from(k.inferred);
        if k.cal == CalType::Device {
            p.issued += k.issued;
        }
    }
    for_each_license(r, |l| {
        let counted: fn(&mut Pool) = match l.status {
            LicenseStatus::Temporary => |p: &mut Pool| p.temporary += 1,
            LicenseStatus::Revoked => |p: &mut Pool| p.revoked += 1,
            _ => return,
        };
        counted(pools.entry((l.server, l.product, CalType::Device)).or_default());
    })?;
    for ((server, product), n) in tracked_users(r, now)? {
        pools.entry((server, product, CalType::User)).or_default().issued += n;
    }
    let mut rs = ResultSet::new(&[
        "server",
        "product",
        "cal",
        "installed",
        "issued",
        "available",
        "temporary",
        "revoked",
        "revocable",
        "inferred_keypacks",
    ]);
    let budgets = admin::budgets(r)?;
    for ((server, product, cal), p) in pools {
        let budget = budgets.get(&(server.clone(), product)).filter(|b| cal == CalType::Device && b.installed > 0);
        let revocable = budget.map_or(0, admin::Budget::remaining);
        let available = p.installed.saturating_sub(p.issued);
        let ints = [p.installed, p.issued, available, p.temporary, p.revoked, revocable, p.inferred];
        let mut row = vec![Value::text(server), Value::text(product.as_str()), Value::text(cal.as_str())];
        row.extend(ints.iter().map(|n| Value::Int(*n as i64)));
        rs.push(row);
    }
    Ok(rs)
}

pub fn users(r: &(impl Reader + ?Sized), now: Time) -> Result<ResultSet> {
    let mut rows: BTreeMap<(String, Product), (u64, u64)> = BTreeMap::new();
    for k in r.keypacks()?.iter().filter(|k| purchased(k) && k.cal == CalType::User) {
        rows.entry((k.server.clone(), k.product)).or_default().1 += k.total.unwrap_or(0);
    }
    for (key, n) in tracked_users(r, now)? {
        rows.entry(key).or_default().0 += n;
    }
    let mut rs = ResultSet::new(&["server", "product", "tracked", "installed", "over_allocated"]);
    for ((server, product), (tracked, installed)) in rows {
        rs.push(vec![
            Value::text(server),
            Value::text(product.as_str()),
            Value::Int(tracked as i64),
            Value::Int(installed as i64),
            Value::Int(tracked.saturating_sub(installed) as i64),
        ]);
    }
    Ok(rs)
}
