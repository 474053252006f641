//! Security, quality.md S1-S5: the DoS guard (failed logons never get a
//! permanent CAL), security groups, the revocation limit under single, bulk
//! and transactional revokes, `-readonly` (every changing statement refused,
//! the file's bytes unchanged) and BACKUP / EXPORT never overwriting the
//! open database.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/db.rs"]
mod db;
#[path = "support/workload.rs"]
mod workload;

use bin::scratch_dir;
use caldb::{Database, OpenOptions, Value};
use db::{col, query};
use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;
use workload::{check_problems, count};

fn db_with(setup: &str) -> Database {
    let mut db = Database::open_in_memory().expect("in-memory database");
    for s in setup.lines().filter(|l| !l.trim().is_empty()) {
        db.execute(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    db
}

const DEPLOYMENT: &str = "
SET CLOCK '2026-01-05 09:00:00'
SET SEED 7
CREATE SERVER ls1 PRODUCT WS2022
ACTIVATE SERVER ls1
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 10
CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE LICENSE SERVERS (ls1)
";

#[test]
fn s1_ten_thousand_fresh_devices_whose_logons_fail_consume_no_permanent_cal() {
    let mut db = db_with(DEPLOYMENT);
    let devices = 10_000;
    let mut denied = 0;
    for batch in 0..devices / 500 {
        db.execute("BEGIN").expect("begin");
        for i in batch * 500..(batch + 1) * 500 {
            db.execute(&format!("CREATE DEVICE bot{i}")).expect("create");
            // The first attempt gets a temporary CAL, the second would be
            // the upgrade: neither may take a permanent one.
            for _ in 0..2 {
                let rs = query(&mut db, &format!("CONNECT bot{i} AS mallory TO rdsh1 LOGON FAILED"));
                let row = &rs.rows[0];
                assert_eq!(row[col(&rs, "outcome")].to_string(), "denied");
                assert_eq!(row[col(&rs, "reason")].to_string(), "logon-failed");
                denied += 1;
            }
        }
        db.execute("COMMIT").expect("commit");
    }
    assert_eq!(denied, 2 * devices);
    assert_eq!(count(&mut db, "SELECT COUNT(*) FROM licenses WHERE kind = 'permanent'"), 0);
    assert_eq!(count(&mut db, "SELECT COUNT(*) FROM keypacks WHERE type != 'temporary' AND issued != 0"), 0);
    assert_eq!(count(&mut db, "SELECT COUNT(*) FROM keypacks WHERE type != 'temporary' AND available = 10"), 1);
    assert!(check_problems(&mut db).is_empty());
    // The pool is intact for a real user: the guard is not a denial of all.
    db.execute("CREATE DEVICE pc1").expect("create");
    db.execute("CONNECT pc1 AS alice TO rdsh1").expect("connect");
    let rs = query(&mut db, "CONNECT pc1 AS alice TO rdsh1");
    assert_eq!(rs.rows[0][col(&rs, "reason")].to_string(), "upgraded");
}

#[test]
fn s2_a_host_outside_the_security_group_never_gets_a_cal_from_that_server_and_4141_is_logged() {
    let mut db = db_with(&format!(
        "{DEPLOYMENT}
CREATE HOST inside PRODUCT WS2022 MODE DEVICE LICENSE SERVERS (ls1)
CREATE HOST outside PRODUCT WS2022 MODE DEVICE LICENSE SERVERS (ls1)
CREATE HOST roamer PRODUCT WS2022 MODE DEVICE
SET SERVER ls1 SECURITY GROUP (inside)
"
    ));
    let mut outcomes = Vec::new();
    for round in 0..3 {
        for i in 0..5 {
            if round == 0 {
                db.execute(&format!("CREATE DEVICE pc{i}")).expect("create");
            }
            for host in ["outside", "roamer"] {
                let rs = query(&mut db, &format!("CONNECT pc{i} AS u{i} TO {host}"));
                let row = &rs.rows[0];
                assert_ne!(row[col(&rs, "server")].to_string(), "ls1", "{host} got a CAL from ls1: {row:?}");
                outcomes.push(row[col(&rs, "reason")].to_string());
            }
        }
        // Past the grace period the refused hosts are denied outright.
        db.execute("ADVANCE 121 DAYS").expect("advance");
    }
    assert!(outcomes.iter().any(|r| r == "not-authorized"), "{outcomes:?}");
    assert_eq!(
        count(&mut db, "SELECT COUNT(*) FROM licenses WHERE computer LIKE 'pc%'"),
        0,
        "a refused host's device holds a license"
    );
    let refused = count(&mut db, "SELECT COUNT(*) FROM events WHERE event = 4141 AND node = 'ls1'");
    assert!(refused >= 15, "only {refused} events 4141");
    // The host inside the group is served.
    db.execute("CREATE DEVICE ok1").expect("create");
    let rs = query(&mut db, "CONNECT ok1 AS alice TO inside");
    assert_eq!(rs.rows[0][col(&rs, "server")].to_string(), "ls1");
    assert!(check_problems(&mut db).is_empty());
}

/// Ten CALs: at most max(1, floor(20% of 10)) = 2 revoked at once.
fn revocable_db() -> (Database, Vec<i64>) {
    let mut db = db_with(DEPLOYMENT);
    for i in 0..6 {
        db.execute(&format!("CREATE DEVICE pc{i}")).expect("create");
        db.execute(&format!("CONNECT pc{i} AS u{i} TO rdsh1")).expect("connect");
        db.execute(&format!("CONNECT pc{i} AS u{i} TO rdsh1")).expect("upgrade");
    }
    let rs = query(&mut db, "SELECT id FROM licenses WHERE status = 'active' ORDER BY id");
    let ids: Vec<i64> = rs.rows.iter().map(|r| if let Value::Int(n) = r[0] { n } else { panic!("{r:?}") }).collect();
    assert_eq!(ids.len(), 6);
    (db, ids)
}

fn revoked(db: &mut Database) -> i64 {
    count(db, "SELECT COUNT(*) FROM licenses WHERE status = 'revoked'")
}

#[test]
fn s3_the_revoke_limit_holds_against_single_revokes() {
    let (mut db, ids) = revocable_db();
    db.execute(&format!("REVOKE LICENSE {}", ids[0])).expect("first revoke");
    db.execute(&format!("REVOKE LICENSE {}", ids[1])).expect("second revoke");
    let before = db.dump().expect("dump");
    for id in &ids[2..] {
        let e = db.execute(&format!("REVOKE LICENSE {id}")).expect_err("a revoke past the limit");
        assert!(e.to_string().contains('2'), "the error names the count: {e}");
        assert_eq!(db.dump().expect("dump"), before, "a refused revoke changed something");
    }
    assert_eq!(revoked(&mut db), 2);
    assert!(check_problems(&mut db).is_empty());
}

#[test]
fn s3_the_revoke_limit_holds_against_a_bulk_revoke_all_or_nothing() {
    let (mut db, ids) = revocable_db();
    let before = db.dump().expect("dump");
    db.execute("REVOKE LICENSES WHERE status = 'active'").expect_err("six revokes at once");
    assert_eq!(db.dump().expect("dump"), before, "a refused bulk revoke changed something");
    db.execute(&format!("REVOKE LICENSE {}", ids[0])).expect("one revoke");
    let before = db.dump().expect("dump");
    db.execute(&format!("REVOKE LICENSES WHERE id IN ({}, {})", ids[1], ids[2])).expect_err("two more");
    assert_eq!(db.dump().expect("dump"), before);
    assert_eq!(revoked(&mut db), 1);
    db.execute(&format!("REVOKE LICENSES WHERE id = {}", ids[1])).expect("up to the limit");
    assert_eq!(revoked(&mut db), 2);
    assert!(check_problems(&mut db).is_empty());
}

#[test]
fn s3_the_revoke_limit_holds_inside_a_transaction_and_the_whole_block_rolls_back() {
    let (mut db, ids) = revocable_db();
    let before = db.dump().expect("dump");
    db.execute("BEGIN").expect("begin");
    db.execute(&format!("REVOKE LICENSE {}", ids[0])).expect("first");
    db.execute(&format!("REVOKE LICENSE {}", ids[1])).expect("second");
    db.execute(&format!("REVOKE LICENSE {}", ids[2])).expect_err("third, past the limit");
    // The error aborted the block: COMMIT has nothing to commit.
    assert!(db.execute("COMMIT").is_err());
    assert_eq!(db.dump().expect("dump"), before, "part of a failed block is visible");
    // Two blocks that each stay under the limit still add up to it.
    for id in &ids[..2] {
        db.execute("BEGIN").expect("begin");
        db.execute(&format!("REVOKE LICENSE {id}")).expect("revoke");
        db.execute("COMMIT").expect("commit");
    }
    db.execute("BEGIN").expect("begin");
    db.execute(&format!("REVOKE LICENSE {}", ids[3])).expect_err("past the limit across blocks");
    db.execute("ROLLBACK").expect("rollback the aborted block");
    assert_eq!(revoked(&mut db), 2);
    assert!(check_problems(&mut db).is_empty());
}

/// caldb ARGS DB with `stdin` as its script.
fn caldb(args: &[&str], db: &Path, stdin: &str) -> Output {
    let mut all: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    all.push(db.as_os_str());
    bin::run(&all, None, stdin.as_bytes())
}

/// One statement of every changing kind, each valid on the S4 database.
const CHANGING: &[&str] = &[
    "CREATE SERVER ls9",
    "ACTIVATE SERVER ls1",
    "DEACTIVATE SERVER ls1",
    "SET SERVER ls1 ONLINE",
    "SET SERVER ls1 OFFLINE",
    "SET SERVER ls1 SECURITY GROUP (rdsh1)",
    "SET SERVER ls1 SECURITY GROUP OFF",
    "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5",
    "UNINSTALL KEYPACK 3",
    "CREATE HOST h9 PRODUCT WS2022 MODE DEVICE",
    "SET HOST rdsh1 MODE USER",
    "SET HOST rdsh1 LICENSE SERVERS ()",
    "CREATE DEVICE pc9",
    "CLONE DEVICE pc1 AS pc8 WITH STORE",
    "REIMAGE DEVICE pc1",
    "CLEAR DEVICE pc1 STORE",
    "CLEAR DEVICE pc1 LICENSING",
    "CONNECT pc1 AS alice TO rdsh1",
    "CONNECT pc1 AS alice TO FARM f1",
    "DISCONNECT SESSION 1",
    "LOGOFF SESSION 1",
    "SET CLOCK '2026-03-01'",
    "SET CLOCK WALL",
    "ADVANCE 1 DAYS",
    "SET SEED 9",
    "REVOKE LICENSE 2",
    "REVOKE LICENSES WHERE status = 'active'",
    "REBUILD SERVER ls1",
    "REBUILD SERVER ls1 REINSTALL KEYPACKS",
    "REPAIR",
    "IMPORT KEYPACKS FROM 'k.csv' INTO SERVER ls1",
    "IMPORT LICENSES FROM 'l.csv' INTO SERVER ls1",
    "BEGIN",
];

const S4_SETUP: &str = "\
SET CLOCK '2026-01-05 09:00:00';
SET SEED 7;
CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 10;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 3;
INSTALL KEYPACK ON ls1 PRODUCT WS2019 CAL DEVICE COUNT 2;
CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE FARM f1;
CREATE DEVICE pc1;
CONNECT pc1 AS alice TO rdsh1;
CONNECT pc1 AS alice TO rdsh1;
";

#[test]
fn s4_readonly_refuses_every_changing_statement_and_leaves_the_file_bytes_unchanged() {
    let dir = scratch_dir("readonly");
    let db = dir.join("ro.redb");
    assert!(caldb(&[], &db, S4_SETUP).status.success());
    // Each statement is valid: it changes the database when not read-only.
    for s in CHANGING.iter().filter(|s| !s.starts_with("IMPORT") && **s != "BEGIN") {
        let mut probe = Database::open_in_memory().expect("memory");
        for l in S4_SETUP.lines() {
            probe.execute(l).expect("setup");
        }
        let before = probe.dump().expect("dump");
        probe.execute(s).unwrap_or_else(|e| panic!("{s} is not valid on the S4 database: {e}"));
        assert_ne!(probe.dump().expect("dump"), before, "{s} changes nothing even when allowed");
    }
    let bytes = std::fs::read(&db).expect("read");
    let script: String = CHANGING.iter().map(|s| format!("{s};\n")).collect();
    let out = caldb(&["-readonly"], &db, &script);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().collect();
    assert_eq!(errors.len(), CHANGING.len(), "one refusal per statement: {stderr}");
    for (i, e) in errors.iter().enumerate() {
        assert!(e.starts_with(&format!("error: line {}: ", i + 1)), "{e}");
        assert!(e.contains("read-only"), "statement {} ({}) not refused as read-only: {e}", i + 1, CHANGING[i]);
    }
    assert!(std::fs::read(&db).expect("read") == bytes, "the file's bytes changed under -readonly");
    // Reading is still allowed, and leaves the bytes alone too.
    let out = caldb(&["-readonly"], &db, "SELECT COUNT(*) FROM licenses;\nCHECK;\n.dump\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(&db).expect("read") == bytes, "the file's bytes changed under -readonly reads");
    // In-process too.
    let mut ro = Database::open(&db, &OpenOptions { read_only: true }).expect("open read-only");
    for s in CHANGING {
        assert!(ro.execute(s).is_err(), "{s} accepted read-only");
    }
    drop(ro);
    assert!(std::fs::read(&db).expect("read") == bytes);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn s5_backup_or_export_to_the_open_database_itself_is_refused_and_the_file_unchanged() {
    use std::os::unix::fs::MetadataExt;
    let dir = scratch_dir("backup-self");
    let db = dir.join("self.redb");
    assert!(caldb(&[], &db, S4_SETUP).status.success());
    let path = db.display().to_string();
    let dump = || Database::open(&db, &OpenOptions { read_only: true }).expect("open").dump().expect("dump");
    let before = dump();
    let inode = std::fs::metadata(&db).expect("stat").ino();
    for statement in
        [format!("BACKUP TO '{path}'"), format!("EXPORT LICENSES TO '{path}'"), format!("EXPORT KEYPACKS TO '{path}'")]
    {
        for args in [&[][..], &["-readonly"][..]] {
            let out = caldb(args, &db, &format!("{statement};\n"));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{statement}: {stderr}");
            assert!(stderr.starts_with("error: line 1: "), "{statement}: {stderr}");
            eprintln!("{statement} {args:?}: {}", stderr.trim());
            // Not overwritten, not replaced (a rename would change the
            // inode), not changed: the same database, sound.
            assert_eq!(std::fs::metadata(&db).expect("stat").ino(), inode, "{statement} replaced the file");
            assert_eq!(dump(), before, "{statement} changed the open database");
            let mut check = Database::open(&db, &OpenOptions { read_only: true }).expect("reopen");
            assert!(check_problems(&mut check).is_empty());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
