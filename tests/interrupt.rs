//! `Database::interrupt_handle`: a statement interrupted from outside (here
//! from its own progress callback, so the moment is certain) fails with
//! `Error::Interrupted` and changes nothing; inside BEGIN the block is
//! rolled back and the error says so. Scans of the store and IMPORT's
//! reading of its file both stop.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/export.rs"]
mod export;

use caldb::{Database, Error, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

fn database() -> Database {
    let mut db = Database::open_in_memory().expect("open");
    for s in ["SET CLOCK '2026-02-01'", "CREATE SERVER ls1 PRODUCT WS2022", "ACTIVATE SERVER ls1"] {
        db.execute(s).expect(s);
    }
    db
}

/// Interrupts `db`'s statement at the first progress report; counts them.
fn interrupt_at_first_progress(db: &mut Database) -> Arc<AtomicU64> {
    let calls = Arc::new(AtomicU64::new(0));
    let (handle, seen) = (db.interrupt_handle(), calls.clone());
    db.set_progress(Some(Box::new(move |_| {
        seen.fetch_add(1, Ordering::Relaxed);
        handle.interrupt();
    })));
    calls
}

fn count(db: &mut Database, table: &str) -> Value {
    db.execute(&format!("SELECT COUNT(*) FROM {table}")).expect("count").expect("rows").rows[0][0].clone()
}

#[test]
fn an_interrupted_import_fails_and_imports_nothing() {
    let dir = bin::scratch_dir("interrupt-import");
    let file = dir.join("l.csv");
    export::licenses_csv(&file, 20_000, 1, 1);
    let mut db = database();
    let before = db.dump().expect("dump");
    let calls = interrupt_at_first_progress(&mut db);
    let import = format!("IMPORT LICENSES FROM '{}' INTO SERVER ls1", file.display());
    assert_eq!(db.execute(&import), Err(Error::Interrupted { block: false }));
    assert_eq!(calls.load(Ordering::Relaxed), 1, "stopped at the first report");
    assert_eq!(db.dump().expect("dump"), before, "nothing changed, not even history");
    // The next statement is not interrupted by the old request.
    db.set_progress(None);
    assert_eq!(db.execute(&import).expect("import").expect("rows").rows[0][2], Value::Int(20_000));
}

#[test]
fn an_interrupted_statement_inside_begin_rolls_the_block_back_and_says_so() {
    let dir = bin::scratch_dir("interrupt-block");
    let file = dir.join("l.csv");
    export::licenses_csv(&file, 20_000, 1, 1);
    let mut db = database();
    db.execute("BEGIN").expect("begin");
    db.execute("CREATE SERVER ls2").expect("create");
    interrupt_at_first_progress(&mut db);
    let import = format!("IMPORT LICENSES FROM '{}' INTO SERVER ls1", file.display());
    let err = db.execute(&import).expect_err("interrupted");
    assert_eq!(err, Error::Interrupted { block: true });
    assert_eq!(err.to_string(), "interrupted; the transaction was rolled back");
    // Like any error inside a block, it leaves the block aborted until
    // ROLLBACK (or COMMIT, which commits nothing).
    assert!(db.is_aborted());
    db.set_progress(None);
    db.execute("ROLLBACK").expect("rollback");
    assert_eq!(count(&mut db, "servers"), Value::Int(1), "the block's CREATE SERVER is gone");
}

#[test]
fn a_long_scan_stops_when_interrupted() {
    let dir = bin::scratch_dir("interrupt-scan");
    let file = dir.join("l.csv");
    export::licenses_csv(&file, 40_000, 1, 1);
    let mut db = database();
    db.execute(&format!("IMPORT LICENSES FROM '{}' INTO SERVER ls1", file.display())).expect("import");
    let calls = interrupt_at_first_progress(&mut db);
    let scan = "SELECT COUNT(*) FROM licenses WHERE user LIKE '%nobody%'";
    assert_eq!(db.execute(scan), Err(Error::Interrupted { block: false }));
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    db.set_progress(None);
    assert_eq!(db.execute(scan).expect("scan").expect("rows").rows[0][0], Value::Int(0));
}
