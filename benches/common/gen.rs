#![allow(dead_code)]
//! The P4 databases, both on a deployment of one license server with one
//! large device key pack and one session host in per-device mode, both
//! seeded and clocked, so the same arguments give the same database:
//!
//! - `build_import`: the database an administrator loads from a
//!   `Win32_TSIssuedLicense` export: `write_export` writes one permanent,
//!   active per-device CAL per device (its own HWID, computer and user,
//!   issued up to 30 days before the clock, expiring 52-89 days after
//!   issue), and one `IMPORT LICENSES` statement loads it.
//! - `build`: devices that each go through CREATE DEVICE, CONNECT
//!   (temporary) and CONNECT (upgrade) in batched BEGIN ... COMMIT blocks,
//!   so the database also holds each upgraded temporary license, each
//!   client's token and three history rows per device.

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

/// A file database at `path` (which must not exist) with the deployment
/// and `n` devices `d0000000...` created in one block (no connections yet):
/// where P1 and P2 start.
pub fn deployed(path: &std::path::Path, n: u64) -> caldb::Result<Database> {
    let mut db = Database::open(path, &caldb::OpenOptions::default())?;
    setup(&mut db)?;
    db.execute("BEGIN")?;
    for i in 0..n {
        db.execute(&format!("CREATE DEVICE {}", device(i)))?;
    }
    db.execute("COMMIT")?;
    Ok(db)
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

/// Builds a whole database of `n` devices through the protocol at `path`
/// (which must not exist).
pub fn build(path: &std::path::Path, n: u64) -> caldb::Result<()> {
    let mut db = Database::open(path, &caldb::OpenOptions::default())?;
    setup(&mut db)?;
    let batch = std::env::var("CALDB_GEN_BATCH").ok().and_then(|s| s.parse().ok()).unwrap_or(BATCH);
    devices(&mut db, 0, n, batch)
}

/// Writes a `Win32_TSIssuedLicense` export as PowerShell's `Export-Csv`
/// does: `n` active permanent CALs of key pack `keypack` on `ls1`, one per
/// device `d0000000...`, license ids 1..=n.
pub fn write_export(path: &std::path::Path, n: u64, keypack: u64) -> std::io::Result<()> {
    use caldb::report::wmi;
    use std::io::Write;
    let start = caldb::Time::parse(START).expect("START is a time");
    let mut rng = caldb::clock::Rng::seeded(42);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "{}", wmi::LICENSE_TYPE_LINE)?;
    writeln!(
        out,
        "\"LicenseId\",\"KeyPackId\",\"sIssuedToUser\",\"sIssuedToComputer\",\"LicenseStatus\",\"IssueDate\",\"ExpirationDate\",\"sHardwareId\",\"Server\""
    )?;
    for i in 0..n {
        let issued = start.plus_seconds(-(rng.between(0, 30 * 86_400 - 1) as i64));
        let expires = issued.plus_days(rng.between(52, 89) as i64);
        let hwid = rng.hwid();
        let (id, user, computer) = (i + 1, user(i), device(i));
        let (issued, expires) = (wmi::format_time(issued), wmi::format_time(expires));
        writeln!(
            out,
            "\"{id}\",\"{keypack}\",\"{user}\",\"{computer}\",\"2\",\"{issued}\",\"{expires}\",\"{hwid}\",\"ls1\""
        )?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// The id of the device key pack `SETUP` installs.
pub fn device_keypack(db: &mut Database) -> caldb::Result<u64> {
    let rs = db.execute("SELECT id FROM keypacks WHERE type != 'temporary'")?.expect("a result set");
    match rs.rows.first().map(|r| &r[0]) {
        Some(caldb::Value::Int(id)) => Ok(*id as u64),
        other => panic!("no device key pack: {other:?}"),
    }
}

/// Builds a whole database of `n` devices at `path` (which must not exist)
/// from an export written to `csv`: the setup, then one IMPORT. Returns the
/// seconds the IMPORT took.
pub fn build_import(path: &std::path::Path, csv: &std::path::Path, n: u64) -> caldb::Result<f64> {
    let mut db = Database::open(path, &caldb::OpenOptions::default())?;
    setup(&mut db)?;
    let keypack = device_keypack(&mut db)?;
    write_export(csv, n, keypack).map_err(|e| caldb::Error::plan(format!("writing {}: {e}", csv.display())))?;
    let t = std::time::Instant::now();
    db.execute(&format!("IMPORT LICENSES FROM '{}' INTO SERVER ls1", csv.display()))?;
    Ok(t.elapsed().as_secs_f64())
}
