//! Any script run against a small deployment in memory: no statement
//! panics, and whatever the script changed, CHECK stays clean.
#![no_main]

use libfuzzer_sys::fuzz_target;

const SETUP: &[&str] = &[
    "SET CLOCK '2026-01-05 09:00:00'",
    "SET SEED 7",
    "CREATE SERVER ls1 PRODUCT WS2022",
    "ACTIVATE SERVER ls1",
    "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5",
    "CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE FARM f1",
    "CREATE DEVICE pc1",
    "CONNECT pc1 AS alice TO rdsh1",
    "CONNECT pc1 AS alice TO rdsh1",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut db = caldb::Database::open_in_memory().expect("in-memory database");
    for s in SETUP {
        db.execute(s).expect("setup");
    }
    for piece in caldb::query::split_statements(text).into_iter().take(64) {
        let _ = db.execute(piece.text);
    }
    if db.in_transaction() {
        let _ = db.execute("ROLLBACK");
    }
    let rs = db.execute("CHECK").expect("CHECK runs").expect("CHECK returns rows");
    assert!(rs.rows.is_empty(), "CHECK after {text:?}: {:?}", rs.rows);
});
