//! A full disk (issue 14 item 13), on a real file system: a 600 KiB tmpfs
//! mounted for the test (it needs root, as CI and the developers' machines
//! run; without it the test fails and says why, it is never skipped). An
//! IMPORT that fills the disk fails at its commit; the database is then
//! reopened, which gives back the aborted transaction's space, the error
//! says that nothing was written, and the next statements of the same
//! session work. Before, every later statement failed with redb's
//! "previous I/O error" and the advice said the IMPORT may have landed.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/db.rs"]
mod db;
#[path = "support/export.rs"]
mod export;

use std::path::Path;
use std::process::Command;

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mounted<'a>(&'a Path);

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

/// Mounts a tmpfs of `kib` KiB at `mnt`, unmounted when the guard goes.
fn mount_tiny(mnt: &Path, kib: u64) -> Mounted<'_> {
    std::fs::create_dir_all(mnt).expect("mount point");
    let size = format!("size={kib}k");
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", &size, "tmpfs"]).arg(mnt).status();
    assert!(
        mounted.is_ok_and(|s| s.success()),
        "this test mounts a small tmpfs and needs root (CI runs as root): run it as root"
    );
    Mounted(mnt)
}

#[test]
fn an_import_that_fills_the_disk_writes_nothing_and_the_session_goes_on() {
    let dir = bin::scratch_dir("disk-full");
    let mnt = dir.join("tiny");
    let _mounted = mount_tiny(&mnt, 600);
    let csv = dir.join("licenses.csv");
    export::licenses_csv(&csv, 30_000, 2, 2);
    let db = mnt.join("a.redb");
    let setup = "SET CLOCK '2026-03-01'; CREATE SERVER ls1 PRODUCT WS2019;\n\
                 INSTALL KEYPACK ON ls1 PRODUCT WS2019 CAL DEVICE COUNT 100000;\n";
    let out = bin::run(&[db.as_os_str()], None, setup.as_bytes());
    assert_eq!(bin::status(&out), 0, "{}", bin::stderr(&out));
    let before = std::fs::metadata(&db).expect("the file").len();

    let script = format!(
        "IMPORT LICENSES FROM '{}' INTO SERVER ls1;\nSELECT COUNT(*) FROM licenses;\nCREATE DEVICE d1;\nSELECT COUNT(*) FROM devices;\n",
        csv.display()
    );
    let out = bin::run(&[db.as_os_str()], None, script.as_bytes());
    let err = bin::stderr(&out);
    assert_eq!(bin::status(&out), 1, "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("nothing of it was written (the file was reopened: its history ends at row 3)"), "{err}");
    assert_eq!(err.lines().count(), 1, "only the IMPORT failed: {err}");
    assert_eq!(bin::stdout(&out), "0\n1\n", "no license was imported, and the next write worked");
    let after = std::fs::metadata(&db).expect("the file").len();
    assert!(after <= before * 2, "the aborted IMPORT's space is given back: {before} -> {after} bytes");
    drop(_mounted);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `caldb -compact` rewrites a file into a copy beside it; on a disk
/// without room for the copy it compacts the file in place instead, says
/// so, and leaves no temporary behind (docs/choices.md 46).
#[test]
fn a_compaction_without_room_for_a_copy_compacts_in_place_and_says_so() {
    let dir = bin::scratch_dir("disk-full-compact");
    let built = dir.join("built.redb");
    let mut db = caldb::Database::open(&built, &caldb::OpenOptions::default()).expect("open");
    for s in db::ONE_SERVER.iter().chain(&["BEGIN"]) {
        db.execute(s).expect(s);
    }
    for i in 0..4000 {
        db.execute(&format!("CREATE DEVICE d{i:05}")).expect("create");
        db.execute(&format!("CONNECT d{i:05} AS u{i:05} TO h1")).expect("connect");
    }
    db.execute("COMMIT").expect("commit");
    drop(db);
    let length = std::fs::metadata(&built).expect("the file").len();

    // Room for the file and a third more: not for a second copy of it.
    let mnt = dir.join("tiny");
    let _mounted = mount_tiny(&mnt, (length + length / 3) / 1024);
    let db = mnt.join("a.redb");
    std::fs::copy(&built, &db).expect("copy onto the tmpfs");
    let d = db.to_str().expect("UTF-8");
    let (_, dump, _) = bin::caldb(&["-readonly", d, ".dump"]);
    let out = bin::run(&["-compact", d], None, b"");
    let said = bin::stdout(&out);
    assert_eq!(bin::status(&out), 0, "{}", bin::stderr(&out));
    assert!(said.starts_with(&format!("'{d}' compacted: {length} bytes, now ")), "{said}");
    assert!(said.ends_with(" (in place: no room for a copy beside it: the disk is full)\n"), "{said}");
    let (code, again, err) = bin::caldb(&["-readonly", d, ".dump"]);
    assert_eq!(code, 0, "{err}");
    assert!(again == dump, "the file compacted in place dumps differently");
    let left: Vec<_> = std::fs::read_dir(&mnt).expect("list").flatten().map(|e| e.file_name()).collect();
    assert_eq!(left, ["a.redb"], "a temporary file is left");
    drop(_mounted);
    let _ = std::fs::remove_dir_all(&dir);
}
