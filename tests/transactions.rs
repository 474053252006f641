//! A statement cannot half-commit, in a BEGIN block or out of one (issue 13,
//! protocol.md: "all of its effects land, or none do"): a panic inside a
//! statement discards that statement's effects; an error inside a block
//! rolls the block back and leaves it aborted, so that the rest of the block
//! is refused instead of running on its own, and COMMIT then ends it as a
//! rollback. Run through the built binary, where a script meets it.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/db.rs"]
mod db;

use caldb::store::{Records, Store, T};
use caldb::{Database, OpenOptions};
use db::exec;

const SETUP: &str = "SET CLOCK '2026-03-01 09:00:00'; SET SEED 3; CREATE SERVER ls1; ACTIVATE SERVER ls1;
    INSTALL KEYPACK ON ls1 PRODUCT WS2025 CAL DEVICE COUNT 50;
    CREATE HOST h1 PRODUCT WS2025 MODE DEVICE LICENSE SERVERS (ls1);
    CREATE DEVICE d1; CONNECT d1 AS u1 TO h1; CONNECT d1 AS u1 TO h1";

/// A file whose key pack says it issued nothing although license 2 is
/// active: revoking license 2 trips the write path's assertion on the
/// pack's count after the license row was already rewritten.
fn planted(name: &str) -> std::path::PathBuf {
    let path = bin::scratch_dir(name).join("planted.redb");
    {
        let mut db = Database::open(&path, &OpenOptions::default()).expect("open");
        exec(&mut db, SETUP);
    }
    let store = Store::open(&path).expect("store");
    let mut tx = store.write().expect("write");
    let mut pack = tx.keypacks().expect("keypacks").into_iter().find(|k| k.total == Some(50)).expect("the pack");
    assert_eq!(pack.issued, 1, "license 2 holds the pack's one CAL");
    pack.issued = 0;
    tx.put_keypack(&pack).expect("put pack");
    tx.commit().expect("commit");
    path
}

fn run(path: &std::path::Path, script: &str) -> (i32, String, String) {
    let out = bin::run(&[path.as_os_str()], None, script.as_bytes());
    (bin::status(&out), bin::stdout(&out), bin::stderr(&out))
}

fn history_rows(path: &std::path::Path) -> usize {
    let store = Store::open(path).expect("store");
    let r = store.read().expect("read");
    let mut n = 0;
    caldb::store::Reader::scan(&r, T::History, b"", None, &mut |_, _| {
        n += 1;
        Ok(true)
    })
    .expect("scan");
    n
}

#[test]
fn a_panic_inside_a_block_discards_the_statement_and_commit_saves_nothing() {
    let path = planted("txn-panic-block");
    let before = run(&path, ".dump\n").1;
    let (status, _, err) = run(&path, "BEGIN;\nREVOKE LICENSE 2;\nCOMMIT;\n");
    assert_eq!(status, 1, "{err}");
    assert!(err.contains("line 2: internal error, the statement changed nothing: key pack"), "{err}");
    assert!(err.contains("line 3: the transaction was rolled back at line 2; COMMIT ended it"), "{err}");
    let (_, after, _) = run(&path, ".dump\n");
    assert_eq!(after, before, "license 2 is not revoked, no history row, no event");
}

#[test]
fn a_panic_outside_a_block_discards_the_statement() {
    let path = planted("txn-panic-alone");
    let before = run(&path, ".dump\n").1;
    let (status, _, err) = run(&path, "REVOKE LICENSE 2;\n");
    assert_eq!(status, 1, "{err}");
    assert_eq!(run(&path, ".dump\n").1, before);
}

#[test]
fn an_error_inside_a_block_refuses_the_rest_of_the_block() {
    let path = bin::scratch_dir("txn-error-block").join("t.redb");
    let script = "BEGIN;\nCREATE SERVER a;\nCREATE SERVER a;\nCREATE SERVER b;\nCOMMIT;\n";
    let (status, _, err) = run(&path, script);
    assert_eq!(status, 1, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            "error: line 3: server 'a' already exists; the transaction was rolled back",
            "error: line 4: the transaction was rolled back at line 3; statements are ignored until COMMIT or ROLLBACK",
            "error: line 5: the transaction was rolled back at line 3; COMMIT ended it and nothing was committed",
        ]
    );
    assert_eq!(run(&path, "SELECT COUNT(*) FROM servers;\n").1, "0\n", "neither a nor b");
    assert_eq!(history_rows(&path), 0);
}

#[test]
fn rollback_ends_an_aborted_block_and_statements_run_again() {
    let path = bin::scratch_dir("txn-rollback-aborted").join("t.redb");
    let script = "BEGIN;\nCREATE SERVER a;\nSELEC 1;\nROLLBACK;\nCREATE SERVER b;\nSELECT name FROM servers;\n";
    let (status, out, err) = run(&path, script);
    assert_eq!(status, 1, "{err}");
    assert_eq!(
        err,
        "error: line 3: expected a statement, found 'SELEC' (did you mean SELECT?); the transaction was rolled back\n"
    );
    assert_eq!(out, "b\n");
}

#[test]
fn a_second_begin_keeps_the_open_block() {
    let path = bin::scratch_dir("txn-second-begin").join("t.redb");
    let (status, out, err) =
        run(&path, "BEGIN;\nCREATE SERVER a;\nBEGIN;\nCREATE SERVER b;\nCOMMIT;\nSELECT name FROM servers;\n");
    assert_eq!(status, 1, "{err}");
    assert_eq!(err, "error: line 3: a transaction is already open: COMMIT or ROLLBACK it first\n");
    assert_eq!(out, "a\nb\n", "the block went on and committed both");
}
