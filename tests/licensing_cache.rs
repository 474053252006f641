//! The licensing front decodes a server's credentials (its key with the CRT
//! parameters, its chain, its CAL secret) once per database handle, and
//! never uses decoded credentials whose row is no longer the stored one:
//! a row replaced or removed under the handle (another process, a restore,
//! a rollback of the transaction that made it) is read afresh.

#[path = "support/rdp_client.rs"]
mod rdp_client;

use caldb::licensing::credentials::{self, Credentials};
use caldb::store::{Store, T, credentials::put_credentials, keys};
use caldb::{ClientInfo, Database, Exchange, OpenOptions};
use rdp_client::{Client, connect};
use std::path::{Path, PathBuf};

const SETUP: &str = "CREATE SERVER ls1 PRODUCT WS2022; ACTIVATE SERVER ls1; \
     INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 100; CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE;";

fn run(db: &mut Database, script: &str) {
    for s in script.split(';').filter(|s| !s.trim().is_empty()) {
        db.execute(s).expect(s);
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caldb-licensing-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join("caldb.redb")
}

fn info(computer: &str) -> ClientInfo {
    ClientInfo { computer: computer.into(), user: "alice".into(), domain: "CORP".into() }
}

/// Whether `haystack` holds `needle` somewhere.
fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Writes `f`'s change to the file through a second store on it, as
/// another process (or a restore) would.
fn behind_the_handle(path: &Path, f: impl FnOnce(&mut caldb::store::WriteTx)) {
    let store = Store::open(path).expect("a second store on the file");
    let mut tx = store.write().expect("write");
    f(&mut tx);
    tx.commit().expect("commit");
}

/// A fresh client's stored CAL verifies under `creds`' secret.
fn issued_under(db: &mut Database, computer: &str, hwid: u32, creds: &Credentials) -> bool {
    let pc = Client::new([hwid, 7, 7, 7], "alice", computer);
    let v = connect(db, "rdsh1", &pc).verdict.expect("a verdict");
    assert_eq!(v.outcome, "temporary-issued");
    let cal = pc.stored().expect("a stored CAL");
    let (body, tag) = cal.split_at(cal.len() - 32);
    creds.tag(body) == tag
}

#[test]
fn a_servers_credentials_are_decoded_once_however_many_clients_connect() {
    let mut db = Database::open_in_memory().expect("open");
    run(&mut db, &format!("SET CLOCK '2026-01-05 09:00:00'; SET SEED 3; {SETUP}"));
    for i in 0..6 {
        let pc = Client::new([i, 1, 2, 3], "alice", &format!("PC-{i}"));
        let v = connect(&mut db, "rdsh1", &pc).verdict.expect("a verdict");
        assert_eq!(v.outcome, "temporary-issued");
        caldb::report_logon(&mut db, &v, true).expect("logon");
        // The upgrade reads the presented CAL's server's credentials too.
        assert_eq!(connect(&mut db, "rdsh1", &pc).verdict.expect("a verdict").outcome, "upgraded");
    }
    assert_eq!(caldb::licensing::credentials::decodes(&db), 1, "12 exchanges, one decode");
}

#[test]
fn credentials_replaced_under_the_handle_are_decoded_again_and_the_old_ones_never_used() {
    let path = scratch("replaced");
    let mut db = Database::open(&path, &OpenOptions::default()).expect("open");
    run(&mut db, SETUP);
    let pc = Client::new([1, 1, 1, 1], "alice", "PC-FIRST");
    connect(&mut db, "rdsh1", &pc).verdict.expect("a verdict");
    let old = db.front_credentials("ls1").expect("read").expect("made at the first exchange");
    assert_eq!(caldb::licensing::credentials::decodes(&db), 1);

    let new = credentials::make("ls1", credentials::Source::Os).expect("new credentials");
    let stored = new.clone();
    behind_the_handle(&path, move |tx| put_credentials(tx, &stored).expect("replace the row"));
    let (_, request) = Exchange::begin(&mut db, "rdsh1", info("PC-SECOND")).expect("begin");
    assert!(holds(&request, &new.chain[1]), "the license request carries the stored row's certificate");
    assert!(!holds(&request, &old.chain[1]), "the replaced row's certificate is never sent again");
    let new_creds = Credentials::from_rec(&new).expect("a key");
    assert!(issued_under(&mut db, "PC-THIRD", 3, &new_creds), "the CAL is tagged with the stored row's secret");
    assert_eq!(caldb::licensing::credentials::decodes(&db), 2, "the new row decoded once");
}

#[test]
fn credentials_gone_from_the_file_are_made_again_not_taken_from_the_handle() {
    // What the rollback of the transaction that made them leaves: a handle
    // that decoded them, and a file without them.
    let path = scratch("gone");
    let mut db = Database::open(&path, &OpenOptions::default()).expect("open");
    run(&mut db, SETUP);
    connect(&mut db, "rdsh1", &Client::new([1, 1, 1, 1], "alice", "PC-FIRST")).verdict.expect("a verdict");
    let old = db.front_credentials("ls1").expect("read").expect("made at the first exchange");

    behind_the_handle(&path, |tx| {
        assert!(tx.delete(T::Credentials, &keys::name("ls1")).expect("delete"), "the row was there");
    });
    let (_, request) = Exchange::begin(&mut db, "rdsh1", info("PC-SECOND")).expect("begin");
    let remade = db.front_credentials("ls1").expect("read").expect("made again");
    assert_ne!(remade.n, old.n, "new credentials (the operating system's randomness)");
    assert!(holds(&request, &remade.chain[1]) && !holds(&request, &old.chain[1]), "the new chain is sent");
    let creds = Credentials::from_rec(&remade).expect("a key");
    assert!(issued_under(&mut db, "PC-THIRD", 3, &creds), "the CAL is tagged with the secret in the file");
}
