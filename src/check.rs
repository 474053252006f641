//! The invariants of protocol.md ("Invariants"), checked by CHECK, and
//! REPAIR, which recomputes every derived count and index from the license
//! rows. CHECK only reads; REPAIR writes only derived data.
//!
//! Both first verify every stored entry's checksum (`store::envelope`).
//! CHECK reports each damaged entry, and checks the invariants only on a
//! file with none: they read the records. REPAIR drops the damaged entries
//! of the indexes, which it rebuilds from the records; a damaged record
//! (or a page it cannot read) it cannot fix, and then it changes nothing
//! and says so, for a restore from a BACKUP is the only honest fix.

use crate::error::Error;

use crate::error::Result;
use crate::model::*;
use crate::protocol::Ctx;
use crate::protocol::admin::revoke_limit;
use crate::store::*;
use std::collections::{BTreeMap, BTreeSet};

const COLUMNS: [&str; 3] = ["invariant", "subject", "problem"];

struct Problems(ResultSet);

impl Problems {
    fn add(&mut self, invariant: &str, subject: String, problem: String) {
        self.0.push(vec![Value::text(invariant), Value::Text(subject), Value::Text(problem)]);
    }
}

/// One row per problem found; no rows when the database is sound.
pub fn check(r: &(impl Reader + ?Sized)) -> Result<ResultSet> {
    let mut p = Problems(ResultSet::new(&COLUMNS));
    if !check_damage(r, &mut p)? {
        return Ok(p.0);
    }
    let licenses: Vec<LicenseRec> = r.records(T::Licenses, b"")?;
    let packs: BTreeMap<u64, KeypackRec> = r.keypacks()?.into_iter().map(|k| (k.id, k)).collect();
    check_pools(&mut p, &licenses, &packs);
    check_references(r, &mut p, &licenses, &packs)?;
    check_revocations(&mut p, &licenses, &packs);
    check_history(r, &mut p)?;
    check_indexes(r, &mut p, &licenses)?;
    Ok(p.0)
}

/// Reports every damaged entry of every table; whether there is none.
fn check_damage(r: &(impl Reader + ?Sized), p: &mut Problems) -> Result<bool> {
    let mut sound = true;
    for t in T::ALL {
        for e in damage_of(r, t)? {
            sound = false;
            p.add("damage", where_damaged(&e, t), e.message().to_string());
        }
    }
    Ok(sound)
}

/// The damaged entries of `t`, or the damaged page that ends its walk.
fn damage_of(r: &(impl Reader + ?Sized), t: T) -> Result<Vec<Error>> {
    match r.damaged_entries(t) {
        Err(e) if e.is_damage() => Ok(vec![e]),
        found => found,
    }
}

/// "table T, key K" of a damage error.
fn where_damaged(e: &Error, t: T) -> String {
    match e {
        Error::Damaged { key, .. } if !key.is_empty() => format!("table {}, key {key}", t.name()),
        _ => format!("table {}", t.name()),
    }
}

/// What each key pack's `issued` must be: its active licenses, or for the
/// temporary pack, its licenses still temporary.
fn expected_issued(licenses: &[LicenseRec], packs: &BTreeMap<u64, KeypackRec>) -> BTreeMap<u64, u64> {
    let mut n: BTreeMap<u64, u64> = packs.keys().map(|id| (*id, 0)).collect();
    for l in licenses {
        let Some(k) = packs.get(&l.keypack) else { continue };
        if k.holds_cal(l.status) {
            *n.entry(l.keypack).or_default() += 1;
        }
    }
    n
}

fn check_pools(p: &mut Problems, licenses: &[LicenseRec], packs: &BTreeMap<u64, KeypackRec>) {
    let expected = expected_issued(licenses, packs);
    for k in packs.values() {
        let want = expected.get(&k.id).copied().unwrap_or(0);
        let subject = format!("keypack {}", k.id);
        if k.cal == CalType::User && k.issued != 0 {
            p.add("2", subject.clone(), format!("per-user key pack has issued {} (never decremented)", k.issued));
        }
        if k.issued != want {
            p.add("1", subject.clone(), format!("issued is {} but {want} licenses hold a CAL of it", k.issued));
        }
        if let Some(total) = k.total
            && k.issued > total
        {
            p.add("1", subject, format!("issued {} exceeds total {total}", k.issued));
        }
    }
}

fn check_references(
    r: &(impl Reader + ?Sized),
    p: &mut Problems,
    licenses: &[LicenseRec],
    packs: &BTreeMap<u64, KeypackRec>,
) -> Result<()> {
    for l in licenses {
        match packs.get(&l.keypack) {
            None => p.add("3", format!("license {}", l.id), format!("key pack {} does not exist", l.keypack)),
            Some(k) if !crate::model::same_name(&k.server, &l.server) => p.add(
                "3",
                format!("license {}", l.id),
                format!("belongs to server '{}' but its key pack {} to '{}'", l.server, k.id, k.server),
            ),
            Some(_) => {}
        }
    }
    let mut slots = BTreeSet::new();
    for t in r.records::<TokenRec>(T::Tokens, b"")? {
        if !slots.insert((t.device.clone(), t.slot)) {
            p.add("4", format!("device '{}'", t.device), format!("slot {} is used twice", t.slot));
        }
        if r.device(&t.device)?.is_none() {
            p.add("4", format!("device '{}'", t.device), "holds tokens but does not exist".into());
        }
    }
    for s in r.records::<SessionRec>(T::Sessions, b"")? {
        if r.host(&s.host)?.is_none() {
            p.add("4", format!("session {}", s.id), format!("host '{}' does not exist", s.host));
        }
    }
    Ok(())
}

fn check_revocations(p: &mut Problems, licenses: &[LicenseRec], packs: &BTreeMap<u64, KeypackRec>) {
    let mut installed: BTreeMap<(String, Product), u64> = BTreeMap::new();
    for k in packs.values() {
        if k.is_purchased_device() {
            *installed.entry((k.server.clone(), k.product)).or_default() += k.total.unwrap_or(0);
        }
    }
    let mut revoked: BTreeMap<(String, Product), u64> = BTreeMap::new();
    for l in licenses.iter().filter(|l| l.status == LicenseStatus::Revoked) {
        *revoked.entry((l.server.clone(), l.product)).or_default() += 1;
    }
    for ((server, product), n) in revoked {
        let limit = revoke_limit(installed.get(&(server.clone(), product)).copied().unwrap_or(0));
        if n > limit {
            p.add(
                "5",
                format!("server '{server}' {product}"),
                format!("{n} licenses revoked, above the limit of {limit}"),
            );
        }
    }
}

fn check_history(r: &(impl Reader + ?Sized), p: &mut Problems) -> Result<()> {
    let mut expect = 1u64;
    r.scan(T::History, b"", None, &mut |k, _| {
        let seq = keys::trailing_id(k);
        if seq != expect {
            p.add("6", format!("history {seq}"), format!("expected sequence number {expect}"));
        }
        expect = seq + 1;
        Ok(true)
    })?;
    let next = r.state()?.next_history;
    if next != expect {
        p.add("6", "history".into(), format!("holds {} rows but the next sequence number is {next}", expect - 1));
    }
    Ok(())
}

/// An index's entries: key to value.
type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

/// The index entries that the license, device and session rows imply.
fn derived_indexes(r: &(impl Reader + ?Sized), licenses: &[LicenseRec]) -> Result<BTreeMap<T, Entries>> {
    let mut idx: BTreeMap<T, Entries> = BTreeMap::new();
    for l in licenses {
        for (t, key, value) in license_index_keys(l) {
            if let Some(key) = key {
                idx.entry(t).or_default().insert(key, value.to_vec());
            }
        }
    }
    for d in r.records::<DeviceRec>(T::Devices, b"")? {
        idx.entry(T::IdxDeviceHwid).or_default().insert(idx_device_hwid(&d.hwid, &d.name), Vec::new());
    }
    for s in r.records::<SessionRec>(T::Sessions, b"")? {
        if s.state != SessionState::Ended {
            let id = codec::encode(&s.id)?;
            idx.entry(T::IdxSessionLive).or_default().insert(session_live_key(&s.user, &s.host), id);
        }
    }
    Ok(idx)
}

/// An index's entries as stored.
fn stored_entries(r: &(impl Reader + ?Sized), t: T) -> Result<Entries> {
    let mut have = Entries::new();
    r.scan(t, b"", None, &mut |k, v| {
        have.insert(k.to_vec(), v.to_vec());
        Ok(true)
    })?;
    Ok(have)
}

/// How many entries `want` has that `have` lacks, the other way round,
/// and how many both have with different values.
fn differences(want: &Entries, have: &Entries) -> (usize, usize, usize) {
    let missing = want.keys().filter(|k| !have.contains_key(*k)).count();
    let extra = have.keys().filter(|k| !want.contains_key(*k)).count();
    let wrong = want.iter().filter(|(k, v)| have.get(*k).is_some_and(|h| h != *v)).count();
    (missing, extra, wrong)
}

fn check_indexes(r: &(impl Reader + ?Sized), p: &mut Problems, licenses: &[LicenseRec]) -> Result<()> {
    let want = derived_indexes(r, licenses)?;
    for &t in T::indexes() {
        let have = stored_entries(r, t)?;
        let empty = Entries::new();
        let (missing, extra, wrong) = differences(want.get(&t).unwrap_or(&empty), &have);
        if missing + extra + wrong > 0 {
            let mut msg = format!("{missing} entries missing, {extra} entries stale");
            if wrong > 0 {
                msg.push_str(&format!(", {wrong} with a wrong value"));
            }
            p.add("index", t.name().into(), msg);
        }
    }
    let through = r.expired_through()?;
    if let Some(l) = licenses.iter().find(|l| l.missed_by_expiry(through)) {
        p.add(
            "index",
            "idx_license_expiry".into(),
            format!("license {} is live but expires at or before {through}, up to when all have expired", l.id),
        );
    }
    Ok(())
}

/// Recomputes key pack counts and every index from the records; one row per
/// fix.
pub fn repair(cx: &mut Ctx) -> Result<ResultSet> {
    cx.tx.repairing();
    let mut fixes = ResultSet::new(&["subject", "fixed"]);
    drop_damaged_index_entries(cx, &mut fixes)?;
    let licenses: Vec<LicenseRec> = cx.tx.records(T::Licenses, b"")?;
    let packs: BTreeMap<u64, KeypackRec> = cx.tx.keypacks()?.into_iter().map(|k| (k.id, k)).collect();
    let expected = expected_issued(&licenses, &packs);
    for mut k in packs.into_values() {
        let want = expected.get(&k.id).copied().unwrap_or(0);
        if k.issued != want {
            fixes.push(vec![
                Value::text(format!("keypack {}", k.id)),
                Value::text(format!("issued {} -> {want}", k.issued)),
            ]);
            k.issued = want;
            cx.tx.put_keypack(&k)?;
        }
    }
    let want = derived_indexes(&*cx.tx, &licenses)?;
    for &t in T::indexes() {
        let have = stored_entries(&*cx.tx, t)?;
        let empty = Entries::new();
        let want = want.get(&t).unwrap_or(&empty);
        if &have == want {
            continue;
        }
        cx.tx.clear(t)?;
        for (k, v) in want {
            cx.tx.put(t, k, v)?;
        }
        let (missing, extra, wrong) = differences(want, &have);
        let mut fixed = format!("rebuilt: {missing} added, {extra} removed");
        if wrong > 0 {
            fixed.push_str(&format!(", {wrong} corrected"));
        }
        fixes.push(vec![Value::text(t.name()), Value::text(fixed)]);
    }
    let through = cx.tx.expired_through()?;
    if let Some(first) = licenses.iter().filter(|l| l.missed_by_expiry(through)).min_by_key(|l| l.expires) {
        let back = first.catch_up();
        cx.tx.set_expired_through(back);
        fixes.push(vec![Value::text("expired_through"), Value::text(format!("{through} -> {back}"))]);
    }
    if let Some(first) = cx.tx.damage() {
        fixes.push(vec![Value::text("file"), Value::text(format!("no damage left of what was found: {first}"))]);
    }
    cx.tx.repaired()?;
    Ok(fixes)
}

/// Clears each index with damaged entries (the rebuild that follows derives
/// it again from the records); a damaged record, or a page that cannot be
/// read, is an error listing them: REPAIR then changes nothing.
fn drop_damaged_index_entries(cx: &mut Ctx, fixes: &mut ResultSet) -> Result<()> {
    let mut unfixable = Vec::new();
    let mut hint = "restore the file from a BACKUP";
    let mut any = false;
    for t in T::ALL {
        let found = damage_of(&*cx.tx, t)?;
        if found.is_empty() {
            continue;
        }
        any = true;
        if !T::indexes().contains(&t) {
            unfixable.extend(found.iter().map(|e| format!("{} ({})", where_damaged(e, t), e.message())));
            continue;
        }
        match cx.tx.clear(t) {
            Ok(()) => {
                let fixed = format!("dropped {} damaged entries, to rebuild", found.len());
                fixes.push(vec![Value::text(t.name()), Value::text(fixed)]);
            }
            Err(e) if e.is_damage() => unfixable.push(format!("{} ({})", where_damaged(&e, t), e.message())),
            Err(e) => return Err(e),
        }
    }
    // Every record sound, but a page's checksum failing (a branch page, a
    // table's definition): nothing to rebuild it from here. (A changed
    // record fails its page's checksum too: the rebuild above frees it.)
    if let Some(e) = cx.tx.page_damage().filter(|_| !any) {
        unfixable.push(format!("the file's pages ({})", e.message()));
        hint = "every record reads sound: BACKUP TO a new file, whose copy is sound, and use it";
    }
    if unfixable.is_empty() {
        return Ok(());
    }
    let n = unfixable.len();
    let shown = unfixable.iter().take(5).cloned().collect::<Vec<_>>().join("; ");
    let more = if n > 5 { format!("; and {} more", n - 5) } else { String::new() };
    Err(Error::Storage(format!(
        "REPAIR cannot fix {n} damaged records or pages, so it changed nothing: {shown}{more}; {hint}"
    )))
}

/// Carries a file of an older format over to a new file of this one
/// (`store::upgrade`: every table, verified entry by entry), then runs
/// CHECK on the new file: one row per table with its entry count. A new
/// file that CHECK faults is an error (and is left for a look, not used).
pub fn upgrade(old: &std::path::Path, new: &std::path::Path) -> Result<ResultSet> {
    let carried = crate::store::upgrade::carry_over(old, new)?;
    let store = Store::open(new)?;
    let problems = check(&store.read()?)?;
    if !problems.rows.is_empty() {
        let first = problems.rows[0].iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ");
        return Err(Error::Storage(format!(
            "the copy in {} fails CHECK ({} problems; the first: {first}): run CHECK on the old file with the caldb \
             that wrote it",
            new.display(),
            problems.rows.len()
        )));
    }
    let mut rs = ResultSet::new(&["table", "entries"]);
    for (name, n) in carried.tables {
        rs.push(vec![Value::text(name), Value::Int(n as i64)]);
    }
    Ok(rs)
}
