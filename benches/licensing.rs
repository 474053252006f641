//! P9: licensing exchanges with a real client's messages, in process, beside
//! the rate of the RSA private-key operation with the server's key, which
//! bounds it (each exchange decrypts one premaster secret). The client is
//! ironrdp-connector 0.12's licensing sequence; each exchange is a new
//! client (a new HWID) getting a temporary CAL: begin, new license request,
//! platform challenge and response, the CONNECT CLIENT transaction, the
//! new license. Short runs: `cargo bench --bench licensing`.

#[path = "../tests/support/rdp_client.rs"]
mod rdp_client;

use caldb::Database;
use caldb::licensing::credentials::Credentials;
use std::time::{Duration, Instant};

fn setup(db: &mut Database) {
    for s in [
        "SET CLOCK '2026-01-05 09:00:00'",
        "SET SEED 1",
        "CREATE SERVER ls1 PRODUCT WS2022",
        "ACTIVATE SERVER ls1",
        "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 100000",
        "CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE",
    ] {
        db.execute(s).expect(s);
    }
}

/// Private-key operations per second with `ls1`'s key, for `span`.
fn rsa_rate(db: &mut Database, span: Duration) -> (u64, f64) {
    let rec = db.front_credentials("ls1").expect("read").expect("made by the warm-up");
    let key = Credentials::from_rec(&rec).expect("a key").key;
    let cipher: Vec<u8> = (0..256u32).map(|i| (i * 7 + 1) as u8).collect();
    let (start, mut n) = (Instant::now(), 0u64);
    while start.elapsed() < span {
        std::hint::black_box(key.decrypt_le(std::hint::black_box(&cipher)));
        n += 1;
    }
    (n, n as f64 / start.elapsed().as_secs_f64())
}

/// Whole exchanges per second (client side included) for `span`.
fn exchange_rate(db: &mut Database, span: Duration, first: u32) -> (u64, f64) {
    let (start, mut n) = (Instant::now(), 0u64);
    while start.elapsed() < span {
        let pc = rdp_client::Client::new([first + n as u32, 1, 2, 3], "user", &format!("PC-{n}"));
        let v = rdp_client::connect(db, "rdsh1", &pc).verdict.expect("a verdict");
        assert_eq!(v.outcome, "temporary-issued");
        n += 1;
    }
    (n, n as f64 / start.elapsed().as_secs_f64())
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs it once, short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let span = Duration::from_millis(if quick { 200 } else { 3000 });
    let mut db = Database::open_in_memory().expect("open");
    setup(&mut db);
    let warm = rdp_client::Client::new([0xFFFF, 0, 0, 0], "warm", "PC-WARM");
    rdp_client::connect(&mut db, "rdsh1", &warm).verdict.expect("warm-up");
    let (rsa_n, rsa) = rsa_rate(&mut db, span);
    let (ex_n, ex) = exchange_rate(&mut db, span, 1);
    let dir = std::env::temp_dir().join(format!("caldb-licensing-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut file_db = Database::open(&dir.join("bench.redb"), &caldb::OpenOptions::default()).expect("open file");
    setup(&mut file_db);
    rdp_client::connect(&mut file_db, "rdsh1", &warm).verdict.expect("warm-up");
    let (file_n, file) = exchange_rate(&mut file_db, span, 1);
    drop(file_db);
    let _ = std::fs::remove_dir_all(&dir);
    println!("| what | count | per second | vs RSA private-key ops |");
    println!("| --- | --- | --- | --- |");
    println!("| RSA-2048 private-key operation (CRT, num-bigint), ls1's key | {rsa_n} | {rsa:.0} | 1.00 |");
    println!("| licensing exchange, new client, in-memory database | {ex_n} | {ex:.0} | {:.2} |", ex / rsa);
    println!(
        "| licensing exchange, new client, file (durable commit each) | {file_n} | {file:.0} | {:.2} |",
        file / rsa
    );
}
