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

#[test]
fn an_import_that_fills_the_disk_writes_nothing_and_the_session_goes_on() {
    let dir = bin::scratch_dir("disk-full");
    let mnt = dir.join("tiny");
    std::fs::create_dir_all(&mnt).expect("mount point");
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=600k", "tmpfs"]).arg(&mnt).status();
    assert!(
        mounted.is_ok_and(|s| s.success()),
        "this test mounts a small tmpfs and needs root (CI runs as root): run it as root"
    );
    let _mounted = Mounted(&mnt);
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
}
