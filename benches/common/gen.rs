#![allow(dead_code)]
//! The P4 database: a deployment (one license server with one large device
//! key pack, one session host in per-device mode) and then devices that each
//! go through CREATE DEVICE, CONNECT (temporary) and CONNECT (upgrade), so
//! each holds a permanent CAL. Everything goes through real statements in
//! batched BEGIN ... COMMIT blocks; the clock and seed are fixed, so the same
//! arguments give the same database.

use caldb::Database;

/// The instant every generated database starts at.
pub const START: &str = "2026-01-05 09:00:00";

/// The deployment, run once on an empty database.
pub const SETUP: &[&str] = &[
    "SET CLOCK '2026-01-05 09:00:00'",
    "SET SEED 42",
    "CREATE SERVER ls1 PRODUCT WS2022",
    "ACTIVATE SERVER ls1",
    "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 4000000000",
    "CREATE HOST h1 PRODUCT WS2022 MODE DEVICE",
];

/// Distinct users: a user's session on the host is reused by later devices.
pub const USERS: u64 = 10_000;

pub fn device(i: u64) -> String {
    format!("d{i:07}")
}

pub fn user(i: u64) -> String {
    format!("u{:05}", i % USERS)
}

pub fn setup(db: &mut Database) -> caldb::Result<()> {
    for s in SETUP {
        db.execute(s)?;
    }
    Ok(())
}

/// Devices `from..to`, each with a permanent CAL, `batch` devices per
/// transaction.
pub fn devices(db: &mut Database, from: u64, to: u64, batch: u64) -> caldb::Result<()> {
    let mut i = from;
    while i < to {
        let end = (i + batch).min(to);
        db.execute("BEGIN")?;
        for j in i..end {
            let (d, u) = (device(j), user(j));
            db.execute(&format!("CREATE DEVICE {d}"))?;
            db.execute(&format!("CONNECT {d} AS {u} TO h1"))?;
            db.execute(&format!("CONNECT {d} AS {u} TO h1"))?;
        }
        db.execute("COMMIT")?;
        i = end;
    }
    Ok(())
}

/// Devices per transaction when building (`CALDB_GEN_BATCH` overrides).
pub const BATCH: u64 = 20_000;

/// Builds a whole database of `n` devices at `path` (which must not exist).
pub fn build(path: &std::path::Path, n: u64) -> caldb::Result<()> {
    let mut db = Database::open(path, &caldb::OpenOptions::default())?;
    setup(&mut db)?;
    let batch = std::env::var("CALDB_GEN_BATCH").ok().and_then(|s| s.parse().ok()).unwrap_or(BATCH);
    devices(&mut db, 0, n, batch)
}
