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
use crate::spill::Sorter;
use indexes::{Derived, compare_indexes, write_indexes};
use std::collections::BTreeMap;

mod indexes;

const COLUMNS: [&str; 3] = ["invariant", "subject", "problem"];

struct Problems(ResultSet);

impl Problems {
    fn add(&mut self, invariant: &str, subject: String, problem: String) {
        self.0.push(vec![Value::text(invariant), Value::Text(subject), Value::Text(problem)]);
    }
}

/// One row per problem found; no rows when the database is sound. The
/// records are read as they stream, never all at once: the counts per key
/// pack and per server and product are small maps, and the index entries
/// the records imply are sorted through `spill` (within its budget) and
/// merged with each index as stored.
pub fn check(r: &(impl Reader + ?Sized)) -> Result<ResultSet> {
    let mut p = Problems(ResultSet::new(&COLUMNS));
    if !check_damage(r, &mut p)? {
        return Ok(p.0);
    }
    let packs: BTreeMap<u64, KeypackRec> = r.keypacks()?.into_iter().map(|k| (k.id, k)).collect();
    let through = r.expired_through()?;
    let mut pass = LicensePass::new(&packs, through);
    let mut derived = Derived::new();
    each_record(r, T::Licenses, &mut |l: LicenseRec| {
        pass.add(&l);
        derived.add_license(&l)
    })?;
    check_pools(&mut p, &packs, &pass.issued);
    p.0.rows.append(&mut pass.references.0.rows);
    check_tokens_and_sessions(r, &mut p)?;
    check_revocations(&mut p, &packs, &pass.revoked);
    check_history(r, &mut p)?;
    derived.add_devices_and_sessions(r)?;
    for (t, diff) in compare_indexes(r, derived)? {
        p.add("index", t.name().into(), diff.describe());
    }
    if let Some(id) = &pass.missed {
        p.add(
            "index",
            "idx_license_expiry".into(),
            format!("{id} is live but expires at or before {through}, up to when all have expired"),
        );
    }
    Ok(p.0)
}

/// Calls `f` with every record of `t`, decoded one at a time.
fn each_record<R: serde::de::DeserializeOwned>(
    r: &(impl Reader + ?Sized),
    t: T,
    f: &mut dyn FnMut(R) -> Result<()>,
) -> Result<()> {
    r.scan(t, b"", None, &mut |_, v| {
        f(codec::decode(v)?)?;
        Ok(true)
    })
}

/// What one pass over the licenses gathers: each key pack's licenses
/// holding a CAL of it, the revoked licenses per server and product, the
/// references that point nowhere (as problem rows), and the earliest live
/// license expiry has missed (how CHECK names it).
struct LicensePass<'a> {
    packs: &'a BTreeMap<u64, KeypackRec>,
    through: Time,
    issued: BTreeMap<u64, u64>,
    revoked: BTreeMap<(String, Product), u64>,
    references: Problems,
    missed: Option<String>,
    catch_up: Option<Time>,
}

impl<'a> LicensePass<'a> {
    fn new(packs: &'a BTreeMap<u64, KeypackRec>, through: Time) -> Self {
        let issued = packs.keys().map(|id| (*id, 0)).collect();
        let (revoked, references) = (BTreeMap::new(), Problems(ResultSet::new(&COLUMNS)));
        LicensePass { packs, through, issued, revoked, references, missed: None, catch_up: None }
    }

    fn add(&mut self, l: &LicenseRec) {
        match self.packs.get(&l.keypack) {
            None => self.references.add("3", license_subject(l), format!("key pack {} does not exist", keys::number(l.keypack))),
            Some(k) => {
                if k.holds_cal(l.status) {
                    *self.issued.entry(l.keypack).or_default() += 1;
                }
                if !crate::model::same_name(&k.server, &l.server) || keys::server_of(k.id) != keys::server_of(l.id) {
                    self.references.add(
                        "3",
                        license_subject(l),
                        format!("belongs to server '{}' but its key pack {} to '{}'", l.server, k.number(), k.server),
                    );
                }
            }
        }
        if l.status == LicenseStatus::Revoked {
            *self.revoked.entry((l.server.clone(), l.product)).or_default() += 1;
        }
        if l.missed_by_expiry(self.through) {
            self.missed.get_or_insert_with(|| license_subject(l));
            self.catch_up = Some(self.catch_up.map_or(l.catch_up(), |t| t.min(l.catch_up())));
        }
    }
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

fn check_pools(p: &mut Problems, packs: &BTreeMap<u64, KeypackRec>, issued: &BTreeMap<u64, u64>) {
    for k in packs.values() {
        let want = issued.get(&k.id).copied().unwrap_or(0);
        let subject = format!("keypack {} on '{}'", k.number(), k.server);
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

/// Invariant 4: a token's device exists and uses each slot once (the
/// slots sorted through `spill`, so a million tokens are not held); a
/// session's host exists.
fn check_tokens_and_sessions(r: &(impl Reader + ?Sized), p: &mut Problems) -> Result<()> {
    let mut slots = Sorter::new(|a: &(String, u32), b: &(String, u32)| a.cmp(b));
    r.scan(T::Tokens, b"", None, &mut |k, v| {
        let t = r.token_of_stored(k, v)?;
        if r.device(&t.device)?.is_none() {
            p.add("4", format!("device '{}'", t.device), "holds tokens but does not exist".into());
        }
        let size = t.device.len();
        slots.push((t.device, t.slot), size)?;
        Ok(true)
    })?;
    let mut last: Option<(String, u32)> = None;
    for slot in slots.finish()? {
        let slot = slot?;
        if last.as_ref() == Some(&slot) {
            p.add("4", format!("device '{}'", slot.0), format!("slot {} is used twice", slot.1));
        }
        last = Some(slot);
    }
    each_record(r, T::Sessions, &mut |s: SessionRec| {
        if r.host(&s.host)?.is_none() {
            p.add("4", format!("session {}", s.id), format!("host '{}' does not exist", s.host));
        }
        Ok(())
    })
}

fn check_revocations(
    p: &mut Problems,
    packs: &BTreeMap<u64, KeypackRec>,
    revoked: &BTreeMap<(String, Product), u64>,
) {
    let mut installed: BTreeMap<(String, Product), u64> = BTreeMap::new();
    for k in packs.values() {
        if k.is_purchased_device() {
            *installed.entry((k.server.clone(), k.product)).or_default() += k.total.unwrap_or(0);
        }
    }
    for ((server, product), n) in revoked {
        let limit = revoke_limit(installed.get(&(server.clone(), *product)).copied().unwrap_or(0));
        if *n > limit {
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

/// Recomputes key pack counts and every index from the records; one row per
/// fix. Like CHECK it streams: one pass over the licenses counts and
/// derives, the derived entries are merged with the stored ones, and only
/// an index that differs is cleared and written again from a second pass.
pub fn repair(cx: &mut Ctx) -> Result<ResultSet> {
    cx.tx.repairing();
    let mut fixes = ResultSet::new(&["subject", "fixed"]);
    drop_damaged_index_entries(cx, &mut fixes)?;
    let packs: BTreeMap<u64, KeypackRec> = cx.tx.keypacks()?.into_iter().map(|k| (k.id, k)).collect();
    let through = cx.tx.expired_through()?;
    let mut pass = LicensePass::new(&packs, through);
    let mut derived = Derived::new();
    each_record(&*cx.tx, T::Licenses, &mut |l: LicenseRec| {
        pass.add(&l);
        derived.add_license(&l)
    })?;
    let (issued, catch_up) = (std::mem::take(&mut pass.issued), pass.catch_up);
    for mut k in packs.into_values() {
        let want = issued.get(&k.id).copied().unwrap_or(0);
        if k.issued != want {
            fixes.push(vec![
                Value::text(format!("keypack {} on '{}'", k.number(), k.server)),
                Value::text(format!("issued {} -> {want}", k.issued)),
            ]);
            k.issued = want;
            cx.tx.put_keypack(&k)?;
        }
    }
    derived.add_devices_and_sessions(&*cx.tx)?;
    let differing = compare_indexes(&*cx.tx, derived)?;
    rebuild_indexes(cx, &differing.iter().map(|(t, _)| *t).collect::<Vec<_>>())?;
    for (t, d) in differing {
        fixes.push(vec![Value::text(t.name()), Value::text(d.describe_fix())]);
    }
    if let Some(back) = catch_up {
        cx.tx.set_expired_through(back);
        fixes.push(vec![Value::text("expired_through"), Value::text(format!("{through} -> {back}"))]);
    }
    if let Some(first) = cx.tx.damage() {
        fixes.push(vec![Value::text("file"), Value::text(format!("no damage left of what was found: {first}"))]);
    }
    cx.tx.repaired()?;
    Ok(fixes)
}

/// Clears the indexes `which` and writes them again from the records.
fn rebuild_indexes(cx: &mut Ctx, which: &[T]) -> Result<()> {
    if which.is_empty() {
        return Ok(());
    }
    for &t in which {
        cx.tx.clear(t)?;
    }
    let mut derived = Derived::of(which);
    each_record(&*cx.tx, T::Licenses, &mut |l: LicenseRec| derived.add_license(&l))?;
    derived.add_devices_and_sessions(&*cx.tx)?;
    write_indexes(cx.tx, derived)
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

/// `upgrade` with Ctrl-C watched (`interrupt`) and its scans' progress
/// told to `progress`: interrupted, at any step (the copy, its
/// verification, the tokens placed, CHECK), it removes NEW, half written
/// or not yet checked, so no file that looks like a database is left; OLD
/// is never written.
pub fn upgrade_watched(
    old: &std::path::Path,
    new: &std::path::Path,
    interrupt: &crate::InterruptHandle,
    progress: Option<crate::ProgressFn>,
) -> Result<ResultSet> {
    let carried = crate::interrupt::watch(interrupt, &mut { progress }, || upgrade(old, new));
    if let Err(Error::Interrupted { .. }) = carried {
        let _ = std::fs::remove_file(new);
    }
    carried
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

/// How CHECK names a license: its number on its server.
fn license_subject(l: &LicenseRec) -> String {
    format!("license {} on '{}'", l.number(), l.server)
}
