//! REPORT DUPLICATES: the ways one device ends up holding several CALs
//! (seed 002), each with the CALs it wastes, when they come back, its likely
//! cause and its fix. A HWID shared by several computers is reported once as
//! `shared-hwid`, not again as `several-cals`.

use super::{all_licenses, id_list, usage::revoke_limit};
use crate::error::Result;
use crate::model::*;
use crate::store::{DeviceRec, LicenseRec, Reader, Records, T};
use std::collections::{BTreeMap, BTreeSet};

const COLUMNS: [&str; 10] =
    ["finding", "server", "hwid", "computers", "licenses", "live_cals", "wasted_cals", "returns", "cause", "fix"];

const CLONED: &str = "cloned image that kept its HardwareID: every clone presents the same HWID";
const CLONED_FIX: &str = "sysprep the image after deleting HKLM\\SOFTWARE\\Microsoft\\MSLicensing, \
     and give each clone its own HWID (CLEAR DEVICE name LICENSING)";
const REBUILT: &str = "machine rebuilt or reimaged: it has a new HWID and its old CAL is never renewed";
const REBUILT_FIX: &str = "nothing to change on the machine: its old HWID is gone for good";
const REGENERATED: &str = "HWID regenerated again and again: a script deletes MSLicensing at shutdown, \
     a non-persistent (provisioned) image, or a corrupted MSLicensing key";
const REGENERATED_FIX: &str = "remove the script; use per-user licensing for provisioned machines";
const STORE_DELETED: &str =
    "Store deleted (a script or cleanup removes MSLicensing\\Store), so the device asks again under its HWID";
const STORE_DELETED_FIX: &str = "remove the script that deletes MSLicensing\\Store";

/// Live CALs of a group of licenses on one server: the newest is the one the
/// device needs, the others are wasted until they expire.
struct Waste<'a> {
    live: Vec<&'a LicenseRec>,
    wasted: Vec<&'a LicenseRec>,
}

fn waste<'a>(licenses: &[&'a LicenseRec]) -> Waste<'a> {
    let mut live: Vec<&LicenseRec> = licenses.iter().copied().filter(|l| l.status == LicenseStatus::Active).collect();
    live.sort_by_key(|l| (l.issued, l.id));
    let wasted = live.iter().take(live.len().saturating_sub(1)).copied().collect();
    Waste { live, wasted }
}

struct Report<'a> {
    rs: ResultSet,
    revocable: BTreeMap<(&'a str, Product), u64>,
}

struct Finding<'a> {
    kind: &'static str,
    server: Option<&'a str>,
    hwid: String,
    computers: Vec<String>,
    licenses: Vec<&'a LicenseRec>,
    cause: &'static str,
    fix: &'static str,
}

impl<'a> Report<'a> {
    fn add(&mut self, f: Finding<'a>) {
        let w = waste(&f.licenses);
        let returns = w.wasted.iter().map(|l| l.expires).max();
        let fix = match (w.wasted.first(), returns) {
            (Some(first), Some(when)) => {
                let ids: Vec<u64> = w.wasted.iter().map(|l| l.id).collect();
                let n = self.revocable.get(&(first.server.as_str(), first.product)).copied().unwrap_or(0);
                let word = if ids.len() == 1 { "license" } else { "licenses" };
                format!(
                    "{}; revoke {word} {} within the 20% limit ({n} revocable now), or let them expire by {}",
                    f.fix,
                    id_list(&ids),
                    when.date()
                )
            }
            _ => format!("{}; no CAL is wasted yet", f.fix),
        };
        let ids: Vec<u64> = f.licenses.iter().map(|l| l.id).collect();
        self.rs.push(vec![
            Value::text(f.kind),
            Value::opt_text(f.server),
            Value::Text(f.hwid),
            Value::Text(f.computers.join(",")),
            Value::Text(id_list(&ids)),
            Value::Int(w.live.len() as i64),
            Value::Int(w.wasted.len() as i64),
            Value::opt_time(returns),
            Value::text(f.cause),
            Value::Text(fix),
        ]);
    }
}

/// How many more licenses each server and product may have revoked now.
fn revocable(r: &(impl Reader + ?Sized), licenses: &[LicenseRec]) -> Result<BTreeMap<(String, Product), u64>> {
    let mut installed: BTreeMap<(String, Product), u64> = BTreeMap::new();
    for k in r.keypacks()? {
        if k.cal == CalType::Device && k.kind != KeypackType::Temporary {
            *installed.entry((k.server, k.product)).or_default() += k.total.unwrap_or(0);
        }
    }
    let mut revoked: BTreeMap<(String, Product), u64> = BTreeMap::new();
    for l in licenses.iter().filter(|l| l.status == LicenseStatus::Revoked) {
        *revoked.entry((l.server.clone(), l.product)).or_default() += 1;
    }
    Ok(installed
        .into_iter()
        .map(|(key, n)| {
            let left = revoke_limit(n).saturating_sub(revoked.get(&key).copied().unwrap_or(0));
            (key, left)
        })
        .collect())
}

pub fn duplicates(r: &(impl Reader + ?Sized)) -> Result<ResultSet> {
    let licenses = all_licenses(r)?;
    let devices: Vec<DeviceRec> = r.records(T::Devices, b"")?;
    let left = revocable(r, &licenses)?;
    let mut report = Report {
        rs: ResultSet::new(&COLUMNS),
        revocable: left.iter().map(|((s, p), n)| ((s.as_str(), *p), *n)).collect(),
    };
    let live: Vec<&LicenseRec> = licenses.iter().filter(|l| l.is_live()).collect();
    let shared = shared_hwids(&mut report, &live, &devices);
    several_hwids(&mut report, &live);
    several_cals(&mut report, &live, &shared);
    Ok(report.rs)
}

/// HWIDs on several computers: in the devices table or in live licenses.
fn shared_hwids<'a>(report: &mut Report<'a>, live: &[&'a LicenseRec], devices: &[DeviceRec]) -> BTreeSet<Hwid> {
    let mut computers: BTreeMap<Hwid, BTreeSet<String>> = BTreeMap::new();
    for d in devices {
        computers.entry(d.hwid).or_default().insert(d.name.clone());
    }
    let mut by_server: BTreeMap<(Hwid, &str), Vec<&LicenseRec>> = BTreeMap::new();
    for l in live {
        computers.entry(l.hwid).or_default().insert(l.computer.clone());
        by_server.entry((l.hwid, l.server.as_str())).or_default().push(l);
    }
    let shared: BTreeSet<Hwid> = computers.iter().filter(|(_, c)| c.len() > 1).map(|(h, _)| *h).collect();
    for hwid in &shared {
        let names: Vec<String> = computers[hwid].iter().cloned().collect();
        let mut any = false;
        for ((_, server), ls) in by_server.range((*hwid, "")..).take_while(|((h, _), _)| h == hwid) {
            any = true;
            report.add(Finding {
                kind: "shared-hwid",
                server: Some(server),
                hwid: hwid.to_string(),
                computers: names.clone(),
                licenses: ls.clone(),
                cause: CLONED,
                fix: CLONED_FIX,
            });
        }
        if !any {
            let (kind, cause, fix) = ("shared-hwid", CLONED, CLONED_FIX);
            report.add(Finding {
                kind,
                server: None,
                hwid: hwid.to_string(),
                computers: names,
                licenses: vec![],
                cause,
                fix,
            });
        }
    }
    shared
}

/// One computer name under several HWIDs on one server.
fn several_hwids<'a>(report: &mut Report<'a>, live: &[&'a LicenseRec]) {
    let mut groups: BTreeMap<(&str, &str), Vec<&LicenseRec>> = BTreeMap::new();
    for l in live {
        groups.entry((l.server.as_str(), l.computer.as_str())).or_default().push(l);
    }
    for ((server, computer), ls) in groups {
        let hwids: BTreeSet<Hwid> = ls.iter().map(|l| l.hwid).collect();
        if hwids.len() < 2 {
            continue;
        }
        let (cause, fix) = if hwids.len() == 2 { (REBUILT, REBUILT_FIX) } else { (REGENERATED, REGENERATED_FIX) };
        let hwid = hwids.iter().map(Hwid::to_string).collect::<Vec<_>>().join(",");
        report.add(Finding {
            kind: "several-hwids",
            server: Some(server),
            hwid,
            computers: vec![computer.to_string()],
            licenses: ls,
            cause,
            fix,
        });
    }
}

/// One HWID of one computer holding several live CALs on one server.
fn several_cals<'a>(report: &mut Report<'a>, live: &[&'a LicenseRec], shared: &BTreeSet<Hwid>) {
    let mut groups: BTreeMap<(&str, Hwid), Vec<&LicenseRec>> = BTreeMap::new();
    for l in live.iter().filter(|l| l.status == LicenseStatus::Active && !shared.contains(&l.hwid)) {
        groups.entry((l.server.as_str(), l.hwid)).or_default().push(l);
    }
    for ((server, hwid), ls) in groups {
        if ls.len() < 2 {
            continue;
        }
        report.add(Finding {
            kind: "several-cals",
            server: Some(server),
            hwid: hwid.to_string(),
            computers: vec![ls[0].computer.clone()],
            licenses: ls,
            cause: STORE_DELETED,
            fix: STORE_DELETED_FIX,
        });
    }
}
