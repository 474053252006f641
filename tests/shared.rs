//! `Shared` (issue 19 items 1 and 2): one database from many threads, each
//! statement its own transaction, group-committed. From 8 and 64 threads
//! every statement lands exactly once, CHECK is clean and history replays
//! to the same `.dump`; a failing or panicking statement fails alone; an
//! administrator's shell is let into a served file and the server holds it
//! alone again afterwards; and crashes over grouped commits (kill -9 of a
//! serving process, power loss at every sync point) keep every statement
//! whose call returned, and no statement half.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/simdisk.rs"]
mod simdisk;

use caldb::store::{Records, Store};
use caldb::{Database, OpenOptions, Shared};
use simdisk::{Fate, SimDisk, crash_image};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::ops::Bound;
use std::path::Path;
use std::time::{Duration, Instant};

const SETUP: &str = "SET CLOCK '2026-03-01 09:00:00'; SET SEED 3; CREATE SERVER ls1; ACTIVATE SERVER ls1;
    INSTALL KEYPACK ON ls1 PRODUCT WS2025 CAL DEVICE COUNT 100000;
    CREATE HOST h1 PRODUCT WS2025 MODE DEVICE LICENSE SERVERS (ls1);
    CREATE DEVICE d1; CONNECT d1 AS u1 TO h1; CONNECT d1 AS u1 TO h1";

fn setup(db: &Shared) {
    for s in SETUP.split(';') {
        db.execute(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

/// Thread `t`'s statements: devices created and connected twice each.
fn statements_of(t: usize, n: usize) -> Vec<String> {
    statements_to("h1", t, n)
}

fn statements_to(host: &str, t: usize, n: usize) -> Vec<String> {
    (0..n)
        .flat_map(|j| {
            let d = format!("k{t}x{j}");
            let connect = format!("CONNECT {d} AS u{t} TO {host}");
            [format!("CREATE DEVICE {d}"), connect.clone(), connect]
        })
        .collect()
}

/// Runs each thread's statements on `db` from its own thread; every call
/// must succeed. Returns the statements run.
fn storm(db: &Shared, threads: usize, per_thread: usize) -> Vec<String> {
    storm_to(db, "h1", threads, per_thread)
}

fn storm_to(db: &Shared, host: &'static str, threads: usize, per_thread: usize) -> Vec<String> {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mine = statements_to(host, t, per_thread);
                for s in &mine {
                    db.execute(s).unwrap_or_else(|e| panic!("{s}: {e}"));
                }
                mine
            })
        })
        .collect();
    handles.into_iter().flat_map(|h| h.join().expect("a storm thread panicked")).collect()
}

fn history(db: &mut Database) -> Vec<String> {
    let rs = db.execute("SELECT statement FROM history ORDER BY seq").expect("select").expect("rows");
    rs.rows.iter().map(|r| r[0].to_string()).collect()
}

fn check_problems(db: &mut Database) -> Vec<String> {
    let rs = db.execute("CHECK").expect("CHECK").expect("rows");
    rs.rows.iter().map(|r| format!("{r:?}")).collect()
}

/// The history of `db`, run again on a new database, dumps as `db` does:
/// no statement is half there, and history is the order they took effect.
fn assert_history_replays(db: &mut Database, what: &str) {
    let mut replay = Database::open_in_memory().expect("in memory");
    for s in history(db) {
        replay.execute(&s).unwrap_or_else(|e| panic!("{what}: replaying {s}: {e}"));
    }
    assert!(db.dump().expect("dump") == replay.dump().expect("dump"), "{what}: history does not replay to the dump");
}

fn counts(texts: impl IntoIterator<Item = String>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for t in texts {
        *out.entry(t).or_insert(0) += 1;
    }
    out
}

fn storm_lands_once(name: &str, threads: usize, per_thread: usize) {
    let path = bin::scratch_dir(name).join("shared.redb");
    let shared = Shared::open(&path).expect("open");
    assert!(shared.is_exclusive(), "no other process asked for the file");
    setup(&shared);
    let ran = storm(&shared, threads, per_thread);
    drop(shared);
    let mut db = Database::open(&path, &OpenOptions::default()).expect("reopen");
    let got = counts(history(&mut db));
    for s in &ran {
        assert_eq!(got.get(s), Some(&if s.starts_with("CONNECT") { 2 } else { 1 }), "{s}");
    }
    let setup_rows = SETUP.split(';').count();
    assert_eq!(got.values().sum::<usize>(), setup_rows + ran.len(), "no statement twice, none extra");
    assert_eq!(check_problems(&mut db), Vec::<String>::new());
    assert_history_replays(&mut db, name);
}

#[test]
fn statements_from_8_threads_each_land_once_and_history_replays_to_the_same_dump() {
    storm_lands_once("shared-8", 8, 10);
}

#[test]
fn statements_from_64_threads_each_land_once_and_history_replays_to_the_same_dump() {
    storm_lands_once("shared-64", 64, 2);
}

/// Names compare as Windows compares them from every thread too (issue 16
/// item 3): threads that create and connect one device in different cases
/// (`PC3`, `pc3`) to a host named in another case share one device, each
/// device one HWID and its CALs; a second spelling is refused, whichever
/// thread's group it lands in.
#[test]
fn threads_naming_a_device_in_different_cases_share_one_device() {
    let shared = Shared::open_in_memory().expect("open");
    setup(&shared);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let db = shared.clone();
            std::thread::spawn(move || {
                let (device, host) = if t % 2 == 0 { ("PC", "H1") } else { ("pc", "h1") };
                let mut created = 0;
                for j in 0..4 {
                    if db.execute(&format!("CREATE DEVICE {device}{j}")).is_ok() {
                        created += 1;
                    }
                    db.execute(&format!("CONNECT {device}{j} AS u{t} TO {host}")).expect("connect");
                }
                created
            })
        })
        .collect();
    let created: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    assert_eq!(created, 4, "each device is created once, in one spelling");
    let count = |q: &str| shared.execute(q).expect(q).expect("rows").rows[0][0].to_string();
    assert_eq!(count("SELECT COUNT(*) FROM devices WHERE name IN ('pc0', 'pc1', 'pc2', 'pc3')"), "4");
    assert_eq!(count("SELECT COUNT(DISTINCT computer) FROM licenses WHERE computer LIKE 'pc_'"), "4");
    assert_eq!(count("SELECT COUNT(DISTINCT hwid) FROM licenses WHERE computer LIKE 'pc_'"), "4");
    let rs = shared.execute("CHECK").expect("check").expect("rows");
    assert!(rs.rows.is_empty(), "CHECK: {:?}", rs.rows);
}

#[test]
fn concurrent_statements_that_fail_fail_alone_and_the_rest_land() {
    let shared = Shared::open_in_memory().expect("open");
    setup(&shared);
    let handles: Vec<_> = (0..16)
        .map(|t| {
            let db = shared.clone();
            std::thread::spawn(move || {
                let dup = db.execute("CREATE DEVICE same").is_ok();
                let missing = db.execute(&format!("CONNECT nobody{t} AS u TO h1"));
                let own = db.execute(&format!("CREATE DEVICE own{t}"));
                assert!(missing.is_err_and(|e| e.to_string().contains("nobody")), "an unknown device fails");
                own.expect("its own device is created");
                dup
            })
        })
        .collect();
    let created: usize = handles.into_iter().map(|h| usize::from(h.join().expect("no panic"))).sum();
    assert_eq!(created, 1, "one CREATE DEVICE same succeeds");
    let rs = shared.execute("SELECT statement FROM history").expect("select").expect("rows");
    let got = counts(rs.rows.iter().map(|r| r[0].to_string()));
    assert_eq!(got.get("CREATE DEVICE same"), Some(&1));
    assert_eq!((0..16).filter(|t| got.contains_key(&format!("CREATE DEVICE own{t}"))).count(), 16);
    assert!(!got.keys().any(|s| s.contains("nobody")), "a failed statement has no history row");
}

#[test]
fn a_panicking_statement_among_concurrent_connects_changes_nothing_and_the_others_land() {
    let path = bin::scratch_dir("shared-panic").join("planted.redb");
    {
        let shared = Shared::open(&path).expect("open");
        setup(&shared);
        // The storm draws from another server's pack, so it never mends
        // the planted count.
        for s in
            ["CREATE SERVER ls2", "ACTIVATE SERVER ls2", "INSTALL KEYPACK ON ls2 PRODUCT WS2025 CAL DEVICE COUNT 1000"]
        {
            shared.execute(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        shared.execute("CREATE HOST h2 PRODUCT WS2025 MODE DEVICE LICENSE SERVERS (ls2)").expect("h2");
    }
    {
        // The pack says it issued nothing although license 2 is active:
        // revoking license 2 trips an assertion after the license row was
        // rewritten (tests/transactions.rs's plant).
        let store = Store::open(&path).expect("store");
        let mut tx = store.write().expect("write");
        let mut pack = tx.keypacks().expect("packs").into_iter().find(|k| k.total == Some(100000)).expect("pack");
        pack.issued = 0;
        tx.put_keypack(&pack).expect("put");
        tx.commit().expect("commit");
    }
    let shared = Shared::open(&path).expect("reopen");
    let revoker = {
        let db = shared.clone();
        std::thread::spawn(move || (0..20).map(|_| db.execute("REVOKE LICENSE 2 ON ls1")).collect::<Vec<_>>())
    };
    let ran = storm_to(&shared, "h2", 8, 3);
    for r in revoker.join().expect("no panic reaches the caller") {
        let e = r.expect_err("the planted REVOKE fails");
        assert!(matches!(e, caldb::Error::Internal(_)), "{e:?}");
    }
    drop(shared);
    let mut db = Database::open(&path, &OpenOptions::default()).expect("reopen");
    let got = counts(history(&mut db));
    assert!(ran.iter().all(|s| got.contains_key(s)), "every other statement landed");
    assert!(!got.contains_key("REVOKE LICENSE 2 ON ls1"));
    let rs = db.execute("SELECT status FROM licenses WHERE id = 2 AND server = 'ls1'").expect("select").expect("rows");
    assert_eq!(rs.rows[0][0].to_string(), "active");
}

#[test]
fn a_shell_opening_a_served_file_is_let_in_and_the_server_holds_it_alone_again_after() {
    let path = bin::scratch_dir("shared-knock").join("served.redb");
    let shared = Shared::open(&path).expect("open");
    setup(&shared);
    assert!(shared.is_exclusive());
    let started = Instant::now();
    let mut shell = Database::open(&path, &OpenOptions::default()).expect("the shell is let in");
    eprintln!("the shell was let in after {:?}", started.elapsed());
    assert!(!shared.is_exclusive(), "shared while the shell has it open");
    shell.execute("CREATE DEVICE from_shell").expect("the shell changes the served database");
    shared.execute("CONNECT from_shell AS admin TO h1").expect("the server sees the shell's device");
    let rs = shell.execute("SELECT COUNT(*) FROM licenses WHERE computer = 'from_shell'").expect("select");
    assert_eq!(rs.expect("rows").rows[0][0].to_string(), "1", "the shell sees the server's CONNECT");
    drop(shell);
    let mut reader = Database::open(&path, &OpenOptions { read_only: true }).expect("a read-only shell too");
    assert_eq!(check_problems(&mut reader), Vec::<String>::new());
    drop(reader);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !shared.is_exclusive() {
        assert!(Instant::now() < deadline, "the server did not hold the file alone again");
        std::thread::sleep(Duration::from_millis(10));
    }
    shared.execute("CREATE DEVICE after").expect("the server goes on");
}

/// The child side of the kill -9 test: serves `CALDB_SHARED_CHILD` from 16
/// threads and prints each statement whose call returned.
#[test]
fn serving_child_for_the_kill_test() {
    let Ok(path) = std::env::var("CALDB_SHARED_CHILD") else { return };
    let shared = Shared::open(Path::new(&path)).expect("open");
    let handles: Vec<_> = (0..16)
        .map(|t| {
            let db = shared.clone();
            std::thread::spawn(move || {
                for s in statements_of(t, 1000) {
                    db.execute(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "returned\t{s}").and_then(|()| out.flush()).expect("stdout");
                }
            })
        })
        .collect();
    for h in handles {
        drop(h.join());
    }
}

#[test]
fn after_kill_9_of_a_serving_process_every_returned_statement_is_there_and_none_half() {
    let dir = bin::scratch_dir("shared-kill");
    for kill in 0..4u64 {
        let path = dir.join(format!("k{kill}.redb"));
        setup(&Shared::open(&path).expect("open"));
        let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args(["serving_child_for_the_kill_test", "--exact", "--nocapture", "--test-threads=1"])
            .env("CALDB_SHARED_CHILD", &path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the serving child");
        let stdout = child.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let lines = std::io::BufReader::new(stdout).lines().map_while(Result::ok);
            lines.filter_map(|l| l.strip_prefix("returned\t").map(str::to_string)).collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_millis(300 + 150 * kill));
        child.kill().expect("kill -9");
        child.wait().expect("reap");
        let returned = reader.join().expect("reader");
        assert!(!returned.is_empty(), "kill {kill}: the child returned no statement before the kill");
        let mut db = Database::open(&path, &OpenOptions::default()).expect("reopen after the kill");
        let got = counts(history(&mut db));
        for s in &returned {
            assert!(got.contains_key(s), "kill {kill}: {s} returned but is not in history");
        }
        assert_eq!(check_problems(&mut db), Vec::<String>::new(), "kill {kill}");
        assert_history_replays(&mut db, &format!("kill {kill}"));
        eprintln!("kill {kill}: {} statements returned, {} history rows", returned.len(), got.values().sum::<usize>());
    }
}

/// The simulated disk with a sync that takes 2 ms, as a real one does, so
/// that statements queue behind it and commits group.
#[derive(Debug)]
struct SlowSync(simdisk::SimBackend);

impl redb::StorageBackend for SlowSync {
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.0.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        std::thread::sleep(Duration::from_millis(2));
        self.0.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.write(offset, data)
    }
    fn try_lock_range(&self, a: Bound<u64>, b: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.0.try_lock_range(a, b)
    }
    fn try_lock_shared_range(&self, a: Bound<u64>, b: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.0.try_lock_shared_range(a, b)
    }
    fn lock_range(&self, a: Bound<u64>, b: Bound<u64>) -> Result<(), redb::BackendError> {
        self.0.lock_range(a, b)
    }
    fn lock_shared_range(&self, a: Bound<u64>, b: Bound<u64>) -> Result<(), redb::BackendError> {
        self.0.lock_shared_range(a, b)
    }
    fn unlock_range(&self, a: Bound<u64>, b: Bound<u64>) -> Result<(), redb::BackendError> {
        self.0.unlock_range(a, b)
    }
    fn query_lock_range(&self, a: Bound<u64>, b: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.0.query_lock_range(a, b)
    }
}

#[test]
fn power_loss_at_every_sync_point_of_grouped_commits_keeps_every_returned_statement_and_none_half() {
    // No locks: redb's single-process protocol, as a served file uses.
    let disk = SimDisk::new().without_locks();
    let shared = Shared::new(Database::open_backend(SlowSync(disk.backend())).expect("open")).expect("share");
    setup(&shared);
    let returned = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (db, returned, disk) = (&shared, &returned, &disk);
            scope.spawn(move || {
                for s in statements_of(t, 2) {
                    db.execute(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
                    returned.lock().expect("lock").push((s, disk.syncs_done()));
                }
            });
        }
    });
    drop(shared);
    let returned = returned.into_inner().expect("lock");
    let log = disk.log();
    let syncs = log.iter().filter(|op| matches!(op, simdisk::Op::Sync)).count();
    assert!(syncs < returned.len(), "{syncs} syncs for {} statements: the commits did not group", returned.len());
    let mut images = 0;
    for k in 1..=syncs + 1 {
        for variant in 0..4u64 {
            let mut noise = (k as u64) << 8 | variant | 1;
            let mut fate = |op: &simdisk::Op| match variant {
                0 => Fate::Dropped,
                1 => Fate::Kept,
                _ => {
                    noise ^= noise << 13;
                    noise ^= noise >> 7;
                    noise ^= noise << 17;
                    let torn = if simdisk::touches_header(op) { Fate::Torn } else { Fate::Garbled };
                    [Fate::Kept, Fate::Dropped, torn][(noise % 3) as usize]
                }
            };
            let image = crash_image(&log, &[], k, &mut fate, k as u64 * 7919 + variant);
            let what = format!("sync point {k} of {syncs}, variant {variant}");
            let mut db = Database::open_backend(SimDisk::with_bytes(image).without_locks().backend())
                .unwrap_or_else(|e| panic!("{what}: the crash image does not open: {e}"));
            let got = counts(history(&mut db));
            for (s, done) in &returned {
                assert!(*done >= k || got.contains_key(s), "{what}: {s} returned after sync {done} but is lost");
            }
            assert_eq!(check_problems(&mut db), Vec::<String>::new(), "{what}");
            assert_history_replays(&mut db, &what);
            images += 1;
        }
    }
    eprintln!("{images} crash images over {syncs} grouped commits of {} statements", returned.len());
}
