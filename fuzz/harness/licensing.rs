//! What the `licensing` fuzz target runs on one input, shared with the
//! test that keeps its seed corpus honest (tests/licensing_fuzz.rs): a
//! database with one license server whose key is made from a fixed seed,
//! an exchange begun with a fixed server random (so that a real client's
//! recorded messages replay, and the fuzzer's mutations of them reach past
//! the MAC to the decision), and an input that is two client messages: a
//! little-endian u16 length, the client's first message (new license
//! request or license info) of that length, then its platform challenge
//! response.

#![allow(dead_code)] // the fuzz target and the test each use a part

use caldb::{ClientInfo, Database, Exchange, FrontError, Step};

/// The database every input runs against; its last two statements license
/// the client whose CAL the `license-info` seed presents.
pub const SETUP: &[&str] = &[
    "SET CLOCK '2026-01-05 09:00:00'",
    "SET SEED 7",
    "CREATE SERVER ls1 PRODUCT WS2022",
    "ACTIVATE SERVER ls1",
    "INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 1000000",
    "CREATE HOST rdsh1 PRODUCT WS2022 MODE DEVICE",
    "CONNECT CLIENT HWID '00000104E1000000E2000000E3000000E4000000' NAME PC-FUZZ AS fuzz TO rdsh1",
    "LOGON CLIENT NAME PC-FUZZ AS fuzz TO rdsh1 LICENSE 1 ON ls1",
];

/// The server random of every exchange.
pub const SERVER_RANDOM: [u8; 32] = [0x5A; 32];

/// A database holding `SETUP`.
pub fn database() -> Database {
    let mut db = Database::open_in_memory().expect("in-memory database");
    for s in SETUP {
        db.execute(s).expect("setup");
    }
    db
}

/// The client of every exchange.
pub fn client() -> ClientInfo {
    ClientInfo { computer: "PC-FUZZ".into(), user: "fuzz".into(), domain: "CORP".into() }
}

/// Begins an exchange with the fixed server random: the exchange and the
/// license request.
pub fn begin(db: &mut Database) -> (Exchange, Vec<u8>) {
    Exchange::begin_with_server_random(db, "rdsh1", client(), SERVER_RANDOM).expect("begin")
}

/// An input of the two messages.
pub fn input(first: &[u8], second: &[u8]) -> Vec<u8> {
    let len = u16::try_from(first.len()).expect("a first message under 64 KiB");
    [&len.to_le_bytes()[..], first, second].concat()
}

/// The two messages of an input (`None` when shorter than its length).
pub fn messages(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = data.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    Some(rest.split_at(len))
}

/// Runs one input: what the second step returned, or the first step's
/// error, or `None` for an input too short to hold a length.
pub fn run(db: &mut Database, data: &[u8]) -> Option<Result<Step, FrontError>> {
    let (first, second) = messages(data)?;
    let (mut exchange, _request) = begin(db);
    match exchange.step(db, first) {
        Ok(Step::Send(_)) => Some(exchange.step(db, second)),
        other => Some(other),
    }
}
