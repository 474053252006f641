//! CHECK finds a database whose derived data disagrees with its records,
//! and REPAIR puts it right (language.md: CHECK, REPAIR): a missing index
//! entry, an index entry with a wrong value, a key pack whose count is
//! wrong, and `expired_through` past a live license (expiry would never
//! visit it). The damage is planted through the store, as a bug or a
//! hand-edited file would leave it; after REPAIR, CHECK finds nothing and
//! every index holds what it held before the damage.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/db.rs"]
mod db;
#[path = "support/store.rs"]
mod stored;

use caldb::store::{LicenseRec, Reader, Records, Store, T};
use caldb::{Database, OpenOptions, Time};
use db::{column, exec, query};

const SETUP: &str = "SET CLOCK '2026-03-01 09:00:00'; SET SEED 3; CREATE SERVER ls1; ACTIVATE SERVER ls1;
    INSTALL KEYPACK ON ls1 PRODUCT WS2025 CAL DEVICE COUNT 50;
    CREATE HOST h1 PRODUCT WS2025 MODE DEVICE LICENSE SERVERS (ls1)";

/// A file database with permanent and temporary CALs and a history.
fn deployed(path: &std::path::Path) {
    let mut db = Database::open(path, &OpenOptions::default()).expect("open");
    exec(&mut db, SETUP);
    for i in 1..=6 {
        exec(&mut db, &format!("CREATE DEVICE d{i}; CONNECT d{i} AS u{i} TO h1"));
        if i % 2 == 0 {
            exec(&mut db, &format!("CONNECT d{i} AS u{i} TO h1"));
        }
    }
}

/// Every entry of every index, as bytes, and `expired_through`.
fn indexes(path: &std::path::Path) -> (Vec<stored::Entry>, Time) {
    stored::entries(&Store::open(path).expect("store"), T::indexes())
}

/// The first entry of `t` whose value `keep` accepts.
fn first_entry(r: &impl Reader, t: T, keep: impl Fn(&[u8]) -> bool) -> (Vec<u8>, Vec<u8>) {
    let mut found = None;
    r.scan(t, b"", None, &mut |k, v| {
        if keep(v) {
            found = Some((k.to_vec(), v.to_vec()));
        }
        Ok(found.is_none())
    })
    .expect("scan");
    found.unwrap_or_else(|| panic!("no entry in {}", t.name()))
}

fn check(db: &mut Database) -> Vec<String> {
    let rs = query(db, "CHECK");
    let (subjects, problems) = (column(&rs, "subject"), column(&rs, "problem"));
    subjects.into_iter().zip(problems).map(|(s, p)| format!("{s}: {p}")).collect()
}

#[test]
fn check_finds_planted_damage_and_repair_undoes_it() {
    let dir = bin::scratch_dir("check-repair");
    let path = dir.join("damaged.redb");
    deployed(&path);
    let before = indexes(&path);
    {
        let mut db = Database::open(&path, &OpenOptions::default()).expect("open");
        assert_eq!(check(&mut db), Vec::<String>::new(), "a sound database");
    }

    {
        let store = Store::open(&path).expect("store");
        let mut tx = store.write().expect("write");
        let (hwid_key, _) = first_entry(&tx, T::IdxLicenseHwid, |_| true);
        assert!(tx.delete(T::IdxLicenseHwid, &hwid_key).expect("delete"));
        let (live_key, _) = first_entry(&tx, T::IdxLicenseExpiry, |v| v == [1]);
        tx.put(T::IdxLicenseExpiry, &live_key, &[0]).expect("put");
        let mut pack = tx.keypacks().expect("keypacks").into_iter().find(|k| k.total == Some(50)).expect("the pack");
        pack.issued += 2;
        tx.put_keypack(&pack).expect("put pack");
        let live = tx.records::<LicenseRec>(T::Licenses, b"").expect("licenses");
        let latest = live.iter().filter(|l| l.is_live()).map(|l| l.expires).max().expect("a live license");
        tx.set_expired_through(latest);
        tx.commit().expect("commit");
    }

    let mut db = Database::open(&path, &OpenOptions::default()).expect("open");
    let found = check(&mut db);
    let has = |what: &str| found.iter().any(|f| f.contains(what));
    assert!(has("idx_license_hwid: 1 entries missing"), "{found:?}");
    assert!(has("idx_license_expiry: 0 entries missing, 0 entries stale, 1 with a wrong value"), "{found:?}");
    assert!(found.iter().any(|f| f.starts_with("keypack ")), "the pack's count: {found:?}");
    assert!(has("is live but expires at or before"), "{found:?}");

    let fixes = query(&mut db, "REPAIR");
    let subjects = column(&fixes, "subject");
    for want in ["idx_license_hwid", "idx_license_expiry", "expired_through"] {
        assert!(subjects.iter().any(|s| s == want), "REPAIR fixed {want}: {subjects:?}");
    }
    assert_eq!(check(&mut db), Vec::<String>::new(), "CHECK after REPAIR");
    drop(db);

    let after = indexes(&path);
    assert_eq!(after.0, before.0, "every index entry is back");
    let earliest_live = {
        let store = Store::open(&path).expect("store");
        let r = store.read().expect("read");
        let ls = r.records::<LicenseRec>(T::Licenses, b"").expect("licenses");
        ls.iter().filter(|l| l.is_live()).map(|l| l.expires).min().expect("a live license")
    };
    assert!(after.1 < earliest_live, "expiry visits every live license again: {:?} vs {earliest_live:?}", after.1);
}

/// issue 13 item 4: a new database follows the wall clock, and its first
/// SET CLOCK to a past instant expires at that instant only. Expiring first
/// at the wall clock moved `expired_through` to a time the database never
/// reached (until later license writes pulled it back).
#[test]
fn a_new_databases_first_set_clock_to_the_past_does_not_expire_at_the_wall_clock() {
    let dir = bin::scratch_dir("clock-first");
    let path = dir.join("new.redb");
    let set = Time::parse("2001-01-01 09:00:00").expect("time");
    {
        let mut db = Database::open(&path, &OpenOptions::default()).expect("open");
        exec(&mut db, "SET CLOCK '2001-01-01 09:00:00'");
    }
    let (_, expired_through) = indexes(&path);
    assert!(expired_through <= set, "expired_through {expired_through:?} is past the clock {set:?}");
}
