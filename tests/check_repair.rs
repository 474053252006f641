//! CHECK finds a database whose derived data disagrees with its records,
//! and REPAIR puts it right (language.md: CHECK, REPAIR): a missing index
//! entry, an index entry with a wrong value, a key pack whose count is
//! wrong, and `expired_through` past a live license (expiry would never
//! visit it). The damage is planted through the store, as a bug or a
//! hand-edited file would leave it; after REPAIR, CHECK finds nothing and
//! every index holds what it held before the damage.

#[path = "support/bin.rs"]
mod bin;
use bin::caldb;
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

/// Flips one bit of every copy, in the file, of `needle` (a key or a
/// sealed value as redb stores it: old pages may hold copies too), at
/// `offset` within it; how many copies there were.
fn flip_on_disk(path: &std::path::Path, needle: &[u8], offset: usize) -> usize {
    let mut bytes = std::fs::read(path).expect("read the file");
    let at: Vec<usize> = (0..bytes.len() - needle.len()).filter(|&i| bytes[i..].starts_with(needle)).collect();
    for &i in &at {
        bytes[i + offset] ^= 0x04;
    }
    std::fs::write(path, &bytes).expect("write the file");
    at.len()
}

/// `caldb ARGS`: exit status, stdout, stderr.
/// The attack's case: one byte of an index key changed on disk. Every
/// read verifies the entry's checksum, which covers the key, so
/// `-readonly CHECK` names it (exit 2); a writable open that meets it
/// refuses writes, and so does the next open; REPAIR drops the damaged
/// entry, rebuilds the index from the records and says so; then CHECK is
/// clean and writes are accepted again.
#[test]
fn a_changed_index_key_is_found_by_readonly_check_refuses_writes_until_repair_fixes_it() {
    let dir = bin::scratch_dir("index-key-flip");
    let path = dir.join("flipped.redb");
    deployed(&path);
    let key = {
        let store = Store::open(&path).expect("store");
        first_entry(&store.read().expect("read"), T::IdxLicenseHwid, |_| true).0
    };
    assert!(flip_on_disk(&path, &key, 3) > 0, "the key is on disk");
    let file = path.to_str().expect("UTF-8");

    let (code, out, err) = caldb(&["-readonly", file, "CHECK;"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.starts_with("damage,\"table idx_license_hwid, key "), "{out}");
    let (code, _, err) = caldb(&[file, "SELECT COUNT(*) FROM licenses WHERE hwid IS NOT NULL;", "CHECK;"]);
    assert_eq!(code, 2, "{err}");
    for write in ["CREATE DEVICE late;", "SET CLOCK '2026-03-02 09:00:00';"] {
        let (code, _, err) = caldb(&[file, write]);
        assert_eq!(code, 2, "{write} on a damaged file: {err}");
        assert!(err.contains("no write is accepted on a damaged file until REPAIR"), "{err}");
    }

    let (code, out, err) = caldb(&[file, "REPAIR;"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("idx_license_hwid,\"dropped 1 damaged entries, to rebuild\""), "{out}");
    assert_eq!(caldb(&["-readonly", file, "CHECK;"]), (0, String::new(), String::new()));
    let (code, _, err) = caldb(&[file, "CREATE DEVICE late;"]);
    assert_eq!(code, 0, "writes are accepted after REPAIR: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A changed license record cannot be rebuilt from anything: REPAIR says
/// which record, changes nothing and exits non-zero; writes stay refused,
/// and the file reads as before.
#[test]
fn repair_of_a_damaged_record_claims_nothing_and_changes_nothing() {
    let dir = bin::scratch_dir("record-flip");
    let path = dir.join("flipped.redb");
    deployed(&path);
    let sealed = {
        let store = Store::open(&path).expect("store");
        let key = caldb::store::keys::id(caldb::store::keys::row_id(1, 3));
        let payload = store.read().expect("read").get(T::Licenses, &key).expect("get").expect("license 3");
        let mut sealed = Vec::new();
        caldb::store::envelope::seal_into(T::Licenses, &key, &payload, &mut sealed);
        sealed
    };
    assert!(flip_on_disk(&path, &sealed, 5) > 0, "the record is on disk");
    let file = path.to_str().expect("UTF-8");
    let (code, _, err) = caldb(&[file, "SELECT * FROM licenses WHERE id = 3;"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("damaged: table licenses, key 3 of server #1: the checksum does not match"), "{err}");

    // Every committed statement appends a history row.
    let sound_part =
        ["-readonly", file, "SELECT COUNT(*) FROM history;", "SELECT * FROM keypacks;", "SELECT * FROM devices;"];
    let before = caldb(&sound_part);
    assert_eq!(before.0, 2, "the file is known damaged: {}", before.2);
    let (code, out, err) = caldb(&[file, "REPAIR;"]);
    assert_ne!(code, 0, "REPAIR claims a success: {out}");
    assert!(out.is_empty(), "REPAIR reports fixes it did not make: {out}");
    assert!(
        err.contains(
            "REPAIR cannot fix 1 damaged records or pages, so it changed nothing: table licenses, key 3 of server #1"
        ),
        "{err}"
    );
    assert_eq!(caldb(&sound_part), before, "REPAIR changed the file");
    let (code, _, err) = caldb(&[file, "CREATE DEVICE late;"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, _) = caldb(&["-readonly", file, "CHECK;"]);
    assert_eq!((code, out.lines().count()), (2, 1), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// issue 13 item 6, an assertion in a pair: a key pack that would issue
/// more CALs than it holds is refused when written (a bug: the write path
/// asserts, in release builds too) and, read back from a file that holds
/// one, is damage (exit 2), never served as sound.
#[test]
fn a_key_pack_issuing_more_than_it_holds_is_refused_when_written_and_damage_when_read() {
    let dir = bin::scratch_dir("pack-pair");
    let path = dir.join("p.redb");
    deployed(&path);
    {
        let store = Store::open(&path).expect("store");
        let mut tx = store.write().expect("write");
        let mut pack = tx.keypacks().expect("keypacks").into_iter().find(|k| k.total == Some(50)).expect("the pack");
        pack.issued = 51;
        let write = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.put_keypack(&pack)));
        assert!(write.is_err(), "the write path asserts issued <= total");
        // The bytes a damaged file would hold, sealed with a sound checksum.
        let bytes = caldb::store::codec::encode(&pack).expect("encode");
        tx.put(T::Keypacks, &pack.key(), &bytes).expect("raw put");
        tx.commit().expect("commit");
    }
    let out = bin::run(&[path.as_os_str()], None, b"SELECT id, issued FROM keypacks;\n");
    let err = bin::stderr(&out);
    assert_eq!(bin::status(&out), 2, "{err}");
    assert!(err.contains("damaged") && err.contains("says 51 of its 50 CALs are issued"), "{err}");
}
