//! P9: licensing exchanges with a real client's messages, in process, beside
//! the rate of the RSA private-key operation with the server's key, which
//! bounds it (each exchange decrypts one premaster secret).
//!
//! The client's messages are recorded once, before any timing: for each of
//! N clients (a distinct HWID each), ironrdp-connector 0.12's licensing
//! sequence answers the front's license request and platform challenge,
//! and its CLIENT_NEW_LICENSE_REQUEST and CLIENT_PLATFORM_CHALLENGE_RESPONSE
//! are kept with the server random they were made for (a recording
//! database with the same seed, so the same server key). The client's
//! encryption of its premaster secret, its key derivation and MACs are
//! therefore outside the timed loop. Timed: the server side alone, for
//! each recorded client `Exchange::begin` (the host's server, the
//! credentials, the license request), the two `step`s (the RSA private-key
//! operation, the key derivation, the MACs, the challenge), the CONNECT
//! CLIENT transaction that issues a temporary CAL, and the SERVER_NEW_LICENSE
//! with the tagged CAL. The RSA rate is measured in the same run, in rounds
//! alternating with the exchanges (so that the machine's load weighs on
//! both alike), with the server's own key and function (`crypto::premaster`).
//! Short runs: `cargo bench --bench licensing` (add `-- --memory-only` for
//! the in-memory rows alone, under a profiler).

#[path = "../tests/support/rdp_client.rs"]
mod rdp_client;

use caldb::licensing::credentials::Credentials;
use caldb::licensing::crypto;
use caldb::{ClientInfo, Database, Exchange, Step};
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

/// One client's recorded licensing messages.
struct Recorded {
    client: ClientInfo,
    server_random: [u8; 32],
    new_license_request: Vec<u8>,
    challenge_response: Vec<u8>,
}

/// Records `n` new clients' two messages with ironrdp-connector.
fn record(n: u32) -> Vec<Recorded> {
    let mut db = Database::open_in_memory().expect("open");
    setup(&mut db);
    (0..n)
        .map(|i| {
            let pc = rdp_client::Client::new([i + 1, 0xB0, 0xB1, 0xB2], "user", &format!("PC-{i}"));
            let client = ClientInfo { computer: pc.computer.clone(), user: pc.user.clone(), domain: "CORP".into() };
            let server_random: [u8; 32] = std::array::from_fn(|k| (k as u32 * 31 + i * 7) as u8);
            let (mut ex, request) =
                Exchange::begin_with_server_random(&mut db, "rdsh1", client.clone(), server_random).expect("begin");
            let mut seq = rdp_client::sequence(&pc);
            let new_license_request = rdp_client::answer(&mut seq, &request).expect("the client's request");
            let Ok(Step::Send(challenge)) = ex.step(&mut db, &new_license_request) else { panic!("no challenge") };
            let challenge_response = rdp_client::answer(&mut seq, &challenge).expect("the client's response");
            Recorded { client, server_random, new_license_request, challenge_response }
        })
        .collect()
}

/// The server side of one recorded client's exchange, to its new license.
fn replay(db: &mut Database, r: &Recorded) {
    let (mut ex, _request) =
        Exchange::begin_with_server_random(db, "rdsh1", r.client.clone(), r.server_random).expect("begin");
    let Ok(Step::Send(_challenge)) = ex.step(db, &r.new_license_request) else { panic!("no challenge") };
    let Ok(Step::Done(v)) = ex.step(db, &r.challenge_response) else { panic!("no verdict") };
    assert_eq!(v.outcome, "temporary-issued");
    std::hint::black_box(v.reply);
}

/// Times the exchanges of `clients` on `db` and as many RSA private-key
/// operations with `creds`' key, in alternating rounds of `round`;
/// (exchange time, RSA time).
fn side_by_side(db: &mut Database, clients: &[Recorded], creds: &Credentials, round: usize) -> (Duration, Duration) {
    let cipher: Vec<u8> = (0..256u32).map(|i| (i * 7 + 1) as u8).collect();
    let (mut ex_time, mut rsa_time) = (Duration::ZERO, Duration::ZERO);
    for chunk in clients.chunks(round) {
        let start = Instant::now();
        for _ in chunk {
            std::hint::black_box(crypto::premaster(&creds.key, std::hint::black_box(&cipher)));
        }
        rsa_time += start.elapsed();
        let start = Instant::now();
        for r in chunk {
            replay(db, r);
        }
        ex_time += start.elapsed();
    }
    (ex_time, rsa_time)
}

fn per_second(n: usize, t: Duration) -> f64 {
    n as f64 / t.as_secs_f64()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs it once, short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let clients = record(if quick { 8 } else { 1000 });
    let mut db = Database::open_in_memory().expect("open");
    setup(&mut db);
    let rec = db.front_credentials("ls1").expect("read");
    assert!(rec.is_none(), "the measured database makes its key at its first exchange");
    let warm = clients.first().expect("a client");
    replay(&mut db, warm);
    let creds = Credentials::from_rec(&db.front_credentials("ls1").expect("read").expect("made")).expect("a key");
    let (ex, rsa) = side_by_side(&mut db, &clients[1..], &creds, 50);
    let decodes = caldb::licensing::credentials::decodes(&db);
    if std::env::args().any(|a| a == "--memory-only") {
        // For a profiler: the in-memory rows alone.
        println!(
            "{} exchanges: {:.0}/s; RSA {:.0}/s",
            clients.len() - 1,
            per_second(clients.len() - 1, ex),
            per_second(clients.len() - 1, rsa)
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("caldb-licensing-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut file_db = Database::open(&dir.join("bench.redb"), &caldb::OpenOptions::default()).expect("open file");
    setup(&mut file_db);
    replay(&mut file_db, warm);
    let (file, file_rsa) = side_by_side(&mut file_db, &clients[1..], &creds, 50);
    drop(file_db);
    let _ = std::fs::remove_dir_all(&dir);
    let n = clients.len() - 1;
    let (rsa_rate, ex_rate) = (per_second(n, rsa), per_second(n, ex));
    let (file_rsa_rate, file_rate) = (per_second(n, file_rsa), per_second(n, file));
    println!("| what | count | per second | vs RSA private-key ops |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| RSA-2048 private-key operation (rsa hazmat: CRT, constant-time, blinded), ls1's key | {n} | {rsa_rate:.0} | 1.00 |"
    );
    println!("| licensing exchange, new client, in-memory database | {n} | {ex_rate:.0} | {:.2} |", ex_rate / rsa_rate);
    println!("| RSA-2048 private-key operation, rounds beside the file's | {n} | {file_rsa_rate:.0} | 1.00 |");
    println!(
        "| licensing exchange, new client, file (durable commit each) | {n} | {file_rate:.0} | {:.2} |",
        file_rate / file_rsa_rate
    );
    println!("(credentials decoded {decodes} time(s) for {} in-memory exchanges)", n + 1);
}
