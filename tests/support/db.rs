//! Driving a `Database` in-process from tests: scripts of statements and
//! result sets as text.

#![allow(dead_code)]

use caldb::{Database, ResultSet};

/// Runs each `;`-separated statement (no `;` inside quotes); any error
/// fails the test naming the statement. Returns the last result.
pub fn exec(db: &mut Database, script: &str) -> Option<ResultSet> {
    let mut last = None;
    for stmt in script.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        last = db.execute(stmt).unwrap_or_else(|e| panic!("{stmt}: {e}"));
    }
    last
}

/// The result of one statement that returns rows.
pub fn query(db: &mut Database, stmt: &str) -> ResultSet {
    exec(db, stmt).expect("a result")
}

/// Every row, each value as text.
pub fn text_rows(rs: &ResultSet) -> Vec<Vec<String>> {
    rs.rows.iter().map(|r| r.iter().map(ToString::to_string).collect()).collect()
}

/// The position of a column; a missing one fails the test.
pub fn col(rs: &ResultSet, name: &str) -> usize {
    rs.columns.iter().position(|c| c == name).unwrap_or_else(|| panic!("no column {name}"))
}

/// The values of one column, as text.
pub fn column(rs: &ResultSet, name: &str) -> Vec<String> {
    let i = col(rs, name);
    rs.rows.iter().map(|r| r[i].to_string()).collect()
}

/// One activated WS2022 server with a key pack of 100,000 device CALs and
/// one per-device host `h1`, on a set clock and seed: the deployment the
/// storage tests (`commit_pages`, `compact`) fill with devices.
pub const ONE_SERVER: [&str; 6] = [
    "SET CLOCK '2026-01-05 09:00:00'",
    "SET SEED 42",
    "CREATE SERVER ls1 PRODUCT WS2022",
    "ACTIVATE SERVER ls1",
    "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 100000",
    "CREATE HOST h1 PRODUCT WS2022 MODE DEVICE",
];
