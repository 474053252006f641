//! REPORT EXPIRING: day by day, how many CALs come back to the pools (an
//! active permanent license reaching its expiry frees its CAL), and, apart,
//! how many places under the revoke limit come back (a revoked license's CAL
//! came back at the revoke; its original expiry frees only the budget).

use crate::error::Result;
use crate::model::*;
use crate::store::Reader;
use crate::store::Records;
use std::collections::BTreeMap;

/// The days looked ahead when the statement names none.
pub const DEFAULT_DAYS: u64 = 90;

pub fn expiring(r: &(impl Reader + ?Sized), now: Time, within_days: Option<u64>) -> Result<ResultSet> {
    let days = within_days.unwrap_or(DEFAULT_DAYS);
    let until = now.plus_days(i64::try_from(days).unwrap_or(i64::MAX));
    // Per day, server and product: CALs back to the pool, revoke places freed.
    let mut per_day: BTreeMap<(String, String, Product), (u64, u64)> = BTreeMap::new();
    // Only live licenses come back, and the due index holds exactly those,
    // by expiry: read the ones of the window, not the whole table.
    for id in r.licenses_expiring_by(until)? {
        let Some(l) = r.license(id)? else { continue };
        if l.kind != LicenseKind::Permanent || l.expires <= now || l.expires > until {
            continue;
        }
        let day = per_day.entry((l.expires.date(), l.server, l.product)).or_default();
        match l.status {
            LicenseStatus::Active => day.0 += 1,
            LicenseStatus::Revoked => day.1 += 1,
            _ => {}
        }
    }
    let mut rs = ResultSet::new(&["day", "server", "product", "cals", "revokes_freed"]);
    for ((day, server, product), (cals, revokes)) in per_day {
        let (cals, revokes) = (Value::Int(cals as i64), Value::Int(revokes as i64));
        rs.push(vec![Value::Text(day), Value::Text(server), Value::text(product.as_str()), cals, revokes]);
    }
    // At a terminal, the table shows `cals` as a bar chart.
    rs.chart = Some(3);
    Ok(rs)
}
