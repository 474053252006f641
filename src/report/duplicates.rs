//! REPORT DUPLICATES: the ways one device ends up holding several CALs
//! (seed 002), each with the CALs it wastes, when they come back, its likely
//! cause and its fix. A HWID shared by several computers is reported once as
//! `shared-hwid`, not again as `several-cals`.

use super::id_list;
use crate::error::Result;
use crate::model::*;
use crate::protocol::admin;
use crate::store::{LicenseRec, Reader, Records, T, keys};
use std::collections::{BTreeMap, BTreeSet};

/// Computer names as Windows compares them: each folded name
/// (`model::fold_name`) with the first spelling met, so `PC1` and `pc1`
/// are one computer.
type Names = BTreeMap<String, String>;

fn add_name(names: &mut Names, name: &str) {
    names.entry(fold_name(name).into_owned()).or_insert_with(|| name.to_string());
}

const COLUMNS: [&str; 10] =
    ["finding", "server", "hwid", "computers", "licenses", "live_cals", "wasted_cals", "returns", "cause", "fix"];

/// A likely cause of a finding (seed 002) and its fix.
struct Cause {
    text: &'static str,
    fix: &'static str,
}

const CLONED: Cause = Cause {
    text: "cloned image that kept its HardwareID: every clone presents the same HWID",
    fix: "sysprep the image after deleting HKLM\\SOFTWARE\\Microsoft\\MSLicensing, \
     and give each clone its own HWID (CLEAR DEVICE name LICENSING)",
};
const REBUILT: Cause = Cause {
    text: "machine rebuilt or reimaged: it has a new HWID and its old CAL is never renewed",
    fix: "nothing to change on the machine: its old HWID is gone for good",
};
const REGENERATED: Cause = Cause {
    text: "HWID regenerated again and again: a script deletes MSLicensing at shutdown, \
     a non-persistent (provisioned) image, or a corrupted MSLicensing key",
    fix: "remove the script; use per-user licensing for provisioned machines",
};
const MISPLACED: Cause = Cause {
    text: "a CAL presented by a machine it was not issued to: a store copied with an image, or restored from another machine",
    fix: "delete MSLicensing\\Store (or the client's license files) on the presenting machine; it was given a temporary CAL of its own",
};
const STORE_DELETED: Cause = Cause {
    text: "Store deleted (a script or cleanup removes MSLicensing\\Store), so the device asks again under its HWID",
    fix: "remove the script that deletes MSLicensing\\Store",
};

/// Live CALs of a group of licenses on one server: the newest is the one the
/// device needs, the others are wasted until they expire.
struct Waste<'a> {
    live: Vec<&'a LicenseRec>,
    wasted: Vec<&'a LicenseRec>,
}

fn waste(licenses: &[LicenseRec]) -> Waste<'_> {
    let mut live: Vec<&LicenseRec> = licenses.iter().filter(|l| l.status == LicenseStatus::Active).collect();
    live.sort_by_key(|l| (l.issued, l.id));
    let wasted = live.iter().take(live.len().saturating_sub(1)).copied().collect();
    Waste { live, wasted }
}

struct Finding {
    kind: &'static str,
    server: Option<String>,
    hwid: String,
    computers: Vec<String>,
    licenses: Vec<LicenseRec>,
    cause: &'static Cause,
    /// For a misplaced CAL: the computer and HWID that presented it.
    presented: Vec<(String, Hwid)>,
}

struct Report {
    rs: ResultSet,
    revocable: BTreeMap<(String, Product), u64>,
}

impl Report {
    fn add(&mut self, f: Finding) {
        let w = waste(&f.licenses);
        let returns = w.wasted.iter().map(|l| l.expires).max();
        let fix = match (w.wasted.first(), returns) {
            (Some(first), Some(when)) => {
                let ids: Vec<u64> = w.wasted.iter().map(|l| l.number()).collect();
                let n = self.revocable.get(&(first.server.clone(), first.product)).copied().unwrap_or(0);
                let word = if ids.len() == 1 { "license" } else { "licenses" };
                format!(
                    "{}; revoke {word} {} within the 20% limit ({n} revocable now), or let them expire by {}",
                    f.cause.fix,
                    id_list(&ids),
                    when.date()
                )
            }
            _ => format!("{}; no CAL is wasted yet", f.cause.fix),
        };
        let ids: Vec<u64> = f.licenses.iter().map(|l| l.number()).collect();
        let (live, wasted) = (w.live.len() as i64, w.wasted.len() as i64);
        // A real client's HWID tells its family: said after the cause.
        let families: BTreeSet<String> = f
            .licenses
            .iter()
            .filter_map(|l| crate::protocol::client_family(&l.hwid, &l.computer))
            .chain(f.presented.iter().filter_map(|(c, h)| crate::protocol::client_family(h, c)))
            .collect();
        let cause = match families.is_empty() {
            true => f.cause.text.to_string(),
            false => format!("{}; HWID shape: {}", f.cause.text, families.into_iter().collect::<Vec<_>>().join(", ")),
        };
        self.rs.push(vec![
            Value::text(f.kind),
            Value::opt_text(f.server.as_deref()),
            Value::Text(f.hwid),
            Value::Text(f.computers.join(",")),
            Value::Text(id_list(&ids)),
            Value::Int(live),
            Value::Int(wasted),
            Value::opt_time(returns),
            Value::Text(cause),
            Value::Text(fix),
        ]);
    }
}

/// How many more licenses each server and product may have revoked now.
fn revocable(r: &(impl Reader + ?Sized)) -> Result<BTreeMap<(String, Product), u64>> {
    Ok(admin::budgets(r)?.into_iter().map(|(key, b)| (key, b.remaining())).collect())
}

/// Walks an index whose keys are `group ++ id` (8-byte id last), calling
/// `f` with each group's key prefix and the live ids in it, for the groups
/// holding at least `min` of them. Only the index keys are read.
fn live_groups(
    r: &(impl Reader + ?Sized),
    index: T,
    live: &[u64],
    min: usize,
    f: &mut dyn FnMut(&[u8], Vec<u64>),
) -> Result<()> {
    let mut group: Vec<u8> = Vec::new();
    let mut ids: Vec<u64> = Vec::new();
    r.scan(index, b"", None, &mut |k, _| {
        let (prefix, id) = (&k[..k.len().saturating_sub(8)], keys::trailing_id(k));
        if prefix != group.as_slice() {
            if ids.len() >= min {
                f(&group, std::mem::take(&mut ids));
            }
            ids.clear();
            group.clear();
            group.extend_from_slice(prefix);
        }
        if live.binary_search(&id).is_ok() {
            ids.push(id);
        }
        Ok(true)
    })?;
    if ids.len() >= min {
        f(&group, ids);
    }
    Ok(())
}

fn fetch(r: &(impl Reader + ?Sized), ids: &[u64]) -> Result<Vec<LicenseRec>> {
    Ok(ids.iter().map(|id| r.license(*id)).collect::<Result<Vec<_>>>()?.into_iter().flatten().collect())
}

/// Finds the duplicates from the indexes: only the HWIDs and computers that
/// hold two live licenses or more (or HWIDs on two devices) are read in
/// full, so a million healthy devices cost one pass over three indexes.
pub fn duplicates(r: &(impl Reader + ?Sized)) -> Result<ResultSet> {
    let live = r.live_license_ids()?;
    let mut findings: Vec<Finding> = Vec::new();
    let mut by_hwid: BTreeMap<Hwid, (Names, Vec<u64>)> = BTreeMap::new();
    for (hwid, names) in shared_device_hwids(r)? {
        by_hwid.entry(hwid).or_default().0 = names;
    }
    live_groups(r, T::IdxLicenseHwid, &live, 2, &mut |prefix, ids| {
        by_hwid.entry(hwid_of(prefix)).or_default().1 = ids;
    })?;
    // A HWID on several devices but with fewer than two live licenses: its
    // one license, if any, still belongs in the finding.
    for (hwid, (_, ids)) in by_hwid.iter_mut().filter(|(_, (_, ids))| ids.len() < 2) {
        *ids = r.licenses_of_hwid(hwid)?.into_iter().filter(|id| live.binary_search(id).is_ok()).collect();
    }
    let shared = shared_hwids(r, &mut findings, by_hwid)?;
    several_hwids(r, &mut findings, &live)?;
    several_cals(&mut findings, &shared)?;
    misplaced(r, &mut findings)?;
    // The revoke budget needs a pass over every license: only pay for it
    // when there is something to report.
    let revocable = if findings.is_empty() { BTreeMap::new() } else { revocable(r)? };
    let mut report = Report { rs: ResultSet::new(&COLUMNS), revocable };
    for f in findings {
        report.add(f);
    }
    Ok(report.rs)
}

fn hwid_of(prefix: &[u8]) -> Hwid {
    let mut h = [0u8; 20];
    h.copy_from_slice(&prefix[..20.min(prefix.len())]);
    Hwid(h)
}

/// HWIDs held by several devices, with their names, from the device index
/// (whose keys hold the folded names: the spelling is the device's own).
fn shared_device_hwids(r: &(impl Reader + ?Sized)) -> Result<Vec<(Hwid, Names)>> {
    let mut out = Vec::new();
    let mut current: Option<(Hwid, BTreeSet<String>)> = None;
    r.scan(T::IdxDeviceHwid, b"", None, &mut |k, _| {
        let hwid = hwid_of(k);
        let name = String::from_utf8_lossy(&k[20.min(k.len())..k.len().saturating_sub(1)]).into_owned();
        match &mut current {
            Some((h, names)) if *h == hwid => {
                names.insert(name);
            }
            _ => {
                out.extend(current.take().filter(|(_, names)| names.len() > 1));
                current = Some((hwid, BTreeSet::from([name])));
            }
        }
        Ok(true)
    })?;
    out.extend(current.filter(|(_, names)| names.len() > 1));
    out.into_iter()
        .map(|(hwid, folded)| {
            let mut names = Names::new();
            for f in folded {
                let spelling = r.device(&f)?.map_or(f.clone(), |d| d.name);
                names.insert(f, spelling);
            }
            Ok((hwid, names))
        })
        .collect()
}

/// HWIDs on several computers, in the devices table or in live licenses;
/// the others go on to `several_cals` with their licenses.
fn shared_hwids(
    r: &(impl Reader + ?Sized),
    report: &mut Vec<Finding>,
    by_hwid: BTreeMap<Hwid, (Names, Vec<u64>)>,
) -> Result<BTreeMap<(String, Hwid), Vec<LicenseRec>>> {
    let mut rest = BTreeMap::new();
    for (hwid, (mut computers, ids)) in by_hwid {
        let licenses = fetch(r, &ids)?;
        licenses.iter().for_each(|l| add_name(&mut computers, &l.computer));
        let mut by_server: BTreeMap<String, Vec<LicenseRec>> = BTreeMap::new();
        for l in licenses {
            by_server.entry(fold_name(&l.server).into_owned()).or_default().push(l);
        }
        if computers.len() < 2 {
            for (server, ls) in by_server {
                rest.insert((server, hwid), ls);
            }
            continue;
        }
        let names: Vec<String> = computers.into_values().collect();
        if by_server.is_empty() {
            let f = Finding {
                kind: "shared-hwid",
                server: None,
                hwid: hwid.to_string(),
                computers: names,
                licenses: vec![],
                cause: &CLONED,
                presented: vec![],
            };
            report.push(f);
            continue;
        }
        for ls in by_server.into_values() {
            let (computers, cause) = (names.clone(), &CLONED);
            report.push(Finding {
                kind: "shared-hwid",
                server: ls.first().map(|l| l.server.clone()),
                hwid: hwid.to_string(),
                computers,
                licenses: ls,
                cause,
                presented: vec![],
            });
        }
    }
    Ok(rest)
}

/// One computer name under several HWIDs on one server.
fn several_hwids(r: &(impl Reader + ?Sized), report: &mut Vec<Finding>, live: &[u64]) -> Result<()> {
    let mut groups: Vec<Vec<u64>> = Vec::new();
    live_groups(r, T::IdxLicenseComputer, live, 2, &mut |_, ids| groups.push(ids))?;
    let mut found: BTreeMap<(String, String), Vec<LicenseRec>> = BTreeMap::new();
    for ids in groups {
        for l in fetch(r, &ids)? {
            let key = (fold_name(&l.server).into_owned(), fold_name(&l.computer).into_owned());
            found.entry(key).or_default().push(l);
        }
    }
    for ls in found.into_values() {
        let (server, computer) = (ls[0].server.clone(), ls[0].computer.clone());
        let hwids: BTreeSet<Hwid> = ls.iter().map(|l| l.hwid).collect();
        if hwids.len() < 2 {
            continue;
        }
        let cause = if hwids.len() == 2 { &REBUILT } else { &REGENERATED };
        let hwid = hwids.iter().map(Hwid::to_string).collect::<Vec<_>>().join(",");
        let computers = vec![computer];
        let presented = vec![];
        report.push(Finding { kind: "several-hwids", server: Some(server), hwid, computers, licenses: ls, cause, presented });
    }
    Ok(())
}

/// One HWID of one computer holding several live CALs on one server.
fn several_cals(report: &mut Vec<Finding>, groups: &BTreeMap<(String, Hwid), Vec<LicenseRec>>) -> Result<()> {
    for ((_, hwid), ls) in groups {
        let active: Vec<LicenseRec> = ls.iter().filter(|l| l.status == LicenseStatus::Active).cloned().collect();
        if active.len() < 2 {
            continue;
        }
        let computers = vec![active[0].computer.clone()];
        let (server, hwid) = (Some(active[0].server.clone()), hwid.to_string());
        let (licenses, cause, presented) = (active, &STORE_DELETED, vec![]);
        report.push(Finding { kind: "several-cals", server, hwid, computers, licenses, cause, presented });
    }
    Ok(())
}

/// CALs presented by machines they were not issued to (seed 002's copied
/// store, with real clients): the host events the licensing front's
/// decisions logged, one finding per license.
fn misplaced(r: &(impl Reader + ?Sized), report: &mut Vec<Finding>) -> Result<()> {
    // Keyed by the license's server and its number there (each server
    // numbers its own from 1), as the host's event names it.
    let mut found: BTreeMap<(String, u64), Vec<(String, Hwid)>> = BTreeMap::new();
    r.scan(T::Events, b"", None, &mut |_, v| {
        let e: crate::store::EventRec = crate::store::codec::decode(v)?;
        if e.source == EventSource::Host
            && let Some(m) = crate::protocol::misplaced_of(&e.message)
        {
            let entry = found.entry((m.server, m.license)).or_default();
            if !entry.contains(&(m.computer.clone(), m.hwid)) {
                entry.push((m.computer, m.hwid));
            }
        }
        Ok(true)
    })?;
    for ((server, number), presented) in found {
        let ordinal = r.record::<crate::store::ServerRec>(T::Servers, &keys::name(&server))?.map(|s| s.ordinal);
        let row = ordinal.zip(u32::try_from(number).ok()).map(|(o, n)| keys::row_id(o, n));
        let licenses = fetch(r, row.as_slice())?;
        let mut computers: Vec<String> = licenses.iter().map(|l| l.computer.clone()).collect();
        computers.extend(presented.iter().map(|(c, _)| c.clone()));
        let mut hwids: Vec<String> = licenses.iter().map(|l| l.hwid.to_string()).collect();
        hwids.extend(presented.iter().map(|(_, h)| h.to_string()));
        let (kind, server, hwid) = ("misplaced-cal", Some(server), hwids.join(","));
        report.push(Finding { kind, server, hwid, computers, licenses, cause: &MISPLACED, presented });
    }
    Ok(())
}
