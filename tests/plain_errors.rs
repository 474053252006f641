//! Issue 14's small ones through the built binary: a `-readonly` refusal
//! names the statement by its keywords (not its names or numbers), the
//! clock cannot be set where the expiries it would write no longer fit a
//! WMI DATETIME (which EXPORT writes and IMPORT reads), and a BACKUP that
//! cannot be written says the database is unchanged instead of a commit's
//! advice about the database.

#[path = "support/bin.rs"]
mod bin;

use bin::{run, scratch_dir, status, stderr, stdout};

#[test]
fn a_readonly_refusal_names_the_statement_by_its_keywords() {
    let dir = scratch_dir("plain-readonly");
    let db = dir.join("a.redb");
    assert_eq!(status(&run(&[db.as_os_str()], None, b"CREATE SERVER ls1;\n")), 0);
    let cases = [
        ("CONNECT d1 AS u TO h1;", "CONNECT"),
        ("ADVANCE 3 DAYS;", "ADVANCE"),
        ("create device 'x y';", "CREATE DEVICE"),
        ("REVOKE LICENSES WHERE id > 3;", "REVOKE LICENSES"),
        ("SET CLOCK '2026-01-01';", "SET CLOCK"),
    ];
    for (statement, name) in cases {
        let out = run(&["-readonly".as_ref(), db.as_os_str(), statement.as_ref()], None, b"");
        assert_eq!(status(&out), 1, "{statement}");
        let expected = format!("error: the database is open read-only: {name} would change it\n");
        assert_eq!(stderr(&out), expected, "{statement}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_clock_stops_where_expiries_still_fit_an_export() {
    let dir = scratch_dir("plain-clock");
    let db = dir.join("a.redb");
    for statement in ["SET CLOCK '9999-12-31';", "SET CLOCK '9999-09-03';"] {
        let out = run(&[db.as_os_str(), statement.as_ref()], None, b"");
        assert_eq!(status(&out), 1, "{statement}");
        assert!(stderr(&out).contains("the clock cannot pass 9999-09-02 23:59:59"), "{}", stderr(&out));
    }
    // The latest clock allowed: every expiry it writes exports and imports back.
    let script = "SET CLOCK '9999-09-02 23:59:59';
CREATE SERVER ls1 PRODUCT WS2022; ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5;
CREATE HOST h1 PRODUCT WS2022 MODE DEVICE LICENSE SERVERS (ls1);
CREATE DEVICE d1; CONNECT d1 AS u TO h1; CONNECT d1 AS u TO h1;
ADVANCE 1 SECONDS;
EXPORT KEYPACKS TO 'k.csv'; EXPORT LICENSES TO 'l.csv';
";
    let out = run(&[db.as_os_str()], Some(&dir), script.as_bytes());
    assert_eq!(status(&out), 1, "only ADVANCE fails: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.starts_with("error: line 6: the clock cannot pass") && err.lines().count() == 1, "{err}");
    let copy = dir.join("b.redb");
    let import = "CREATE SERVER ls1 PRODUCT WS2022;
IMPORT KEYPACKS FROM 'k.csv' INTO SERVER ls1; IMPORT LICENSES FROM 'l.csv' INTO SERVER ls1;
SELECT COUNT(*) FROM licenses;
";
    let out = run(&[copy.as_os_str()], Some(&dir), import.as_bytes());
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).ends_with("\n2\n"), "{}", stdout(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_backup_the_disk_refuses_says_the_database_is_unchanged() {
    let dir = scratch_dir("plain-backup-full");
    let db = dir.join("a.redb");
    let mut script = String::from("CREATE SERVER ls1 PRODUCT WS2022;\nBEGIN;\n");
    for i in 0..3000 {
        script.push_str(&format!("CREATE DEVICE pc{i};\n"));
    }
    script.push_str("COMMIT;\n");
    assert_eq!(status(&run(&[db.as_os_str()], None, script.as_bytes())), 0);
    // A file size limit stands for a full disk (EFBIG where ENOSPC would
    // be); -readonly, so the database itself is never written.
    let line = format!(
        "trap '' XFSZ; ulimit -f 100; exec '{}' -readonly '{}' \"BACKUP TO 'copy.redb';\"",
        env!("CARGO_BIN_EXE_caldb"),
        db.display()
    );
    let out = std::process::Command::new("sh").args(["-c", &line]).current_dir(&dir).output().expect("sh");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("BACKUP could not write") && err.contains("the database is unchanged"), "{err}");
    assert!(!err.contains("look at history"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&dir).expect("list").flatten().map(|e| e.file_name()).collect();
    assert_eq!(left.len(), 1, "{left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
