//! What redb 4.6 itself can do on this disk and CPU, with no caldb
//! protocol code in the way: the limits the P1-P3 rows are read against.
//! Files are opened as caldb opens its own (multi-writer mode, a 64 MiB
//! cache); the replays of a CONNECT's writes go through caldb's store
//! (`WriteTx::put`: its tables, as redb holds them, and nothing else).

use caldb::store::{Store, T};
use redb::{Builder, ConcurrencyMode, Database, TableDefinition};
use std::path::Path;
use std::time::Instant;

fn open(path: &Path) -> Database {
    let mut b = Builder::new();
    b.set_concurrency_mode(ConcurrencyMode::MultiWriter);
    b.set_cache_size(64 * 1024 * 1024);
    b.create(path).expect("a redb file")
}

const ROWS: TableDefinition<u64, &[u8]> = TableDefinition::new("rows");

/// Durable commits per second, each writing one 60-byte row (the history
/// row every changing caldb statement writes, and nothing else).
pub fn one_row_commits(dir: &Path, n: u64) -> f64 {
    let path = dir.join("floor-commits.redb");
    let db = open(&path);
    let t = Instant::now();
    for i in 0..n {
        let w = db.begin_write().expect("write");
        w.open_table(ROWS).expect("table").insert(i, &[7u8; 60][..]).expect("insert");
        w.commit().expect("commit");
    }
    let r = n as f64 / t.elapsed().as_secs_f64();
    drop(db);
    std::fs::remove_file(&path).ok();
    r
}

/// A table of the replay: its name, how its keys run, and the value size.
struct Write {
    table: T,
    key: Key,
    value: usize,
}

enum Key {
    /// One 8-byte key, rewritten each time (a key pack's count).
    Same,
    /// An increasing id or name, `len` bytes.
    Rising(usize),
    /// Uniformly random, `len` bytes (a HWID, an expiry).
    Random(usize),
}

/// The writes a CAL-issuing CONNECT that starts a session makes in caldb's
/// format (`schema/caldb.schema`), with the key orders and record sizes
/// `db_stats` counts on a generated database: the license and its three
/// index entries (HWID and expiry random), the key pack's count (kept in
/// the transaction, written at its commit), the client's token, the session
/// and its live entry, the history row (written at the commit, in chunks).
/// The state row is written once per transaction, at its commit.
const CONNECT: &[Write] = &[
    Write { table: T::Licenses, key: Key::Rising(8), value: 61 },
    Write { table: T::IdxLicenseHwid, key: Key::Random(28), value: 0 },
    Write { table: T::IdxLicenseComputer, key: Key::Rising(17), value: 0 },
    Write { table: T::IdxLicenseExpiry, key: Key::Random(16), value: 1 },
    Write { table: T::Keypacks, key: Key::Same, value: 22 },
    Write { table: T::Tokens, key: Key::Rising(13), value: 75 },
    Write { table: T::Sessions, key: Key::Rising(8), value: 34 },
    Write { table: T::IdxSessionLive, key: Key::Rising(10), value: 8 },
    Write { table: T::History, key: Key::Rising(8), value: 40 },
];

/// How many writes the replay makes per CONNECT.
pub fn writes_per_connect() -> usize {
    CONNECT.len()
}

/// Replays the writes of `n` CAL-issuing CONNECTs in one transaction of
/// caldb's store, commit included: operations per second.
pub fn connect_writes(dir: &Path, n: u64) -> f64 {
    let path = dir.join("floor-writes.redb");
    let _ = std::fs::remove_file(&path);
    let store = Store::open(&path).expect("a caldb file");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut random = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let value = [7u8; 128];
    let t = Instant::now();
    let mut w = store.write().expect("write");
    let mut key = Vec::with_capacity(32);
    for i in 0..n {
        for write in CONNECT {
            key.clear();
            match write.key {
                Key::Same => key.extend_from_slice(&[0; 8]),
                Key::Rising(len) => {
                    key.resize(len - 8, b'k');
                    key.extend_from_slice(&(i + 1).to_be_bytes());
                }
                Key::Random(len) => {
                    while key.len() < len {
                        key.extend_from_slice(&random().to_be_bytes());
                    }
                    key.truncate(len);
                }
            }
            w.put(write.table, &key, &value[..write.value]).expect("insert");
        }
    }
    w.commit().expect("commit");
    let r = n as f64 / t.elapsed().as_secs_f64();
    drop(store);
    std::fs::remove_file(&path).ok();
    r
}

/// The least B-tree work any store on redb must do for P2's CONNECTs, with
/// the cheapest key types redb has and no caldb code at all: per CONNECT,
/// look up the device, its token (none yet), the host and the user's live
/// session on it; insert the license (u64 key) and its HWID ([u8; 28]),
/// computer (name) and expiry ([u8; 16]) entries and the client's token;
/// then start the session, or (a user seen before, as P2's `generate::user`
/// repeats every `USERS` devices) rewrite the live one. The live table
/// holds the session itself, keyed by user and host: one B-tree fewer than
/// any format that also finds sessions by id. Devices are committed before
/// the clock starts, as P2's are; one transaction, commit included:
/// CONNECTs per second.
pub fn least_connect_work(dir: &Path, n: u64, users: u64) -> f64 {
    use redb::ReadableTable;
    const DEVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("devices");
    const HOSTS: TableDefinition<&str, &[u8]> = TableDefinition::new("hosts");
    const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
    const LIVE: TableDefinition<&str, &[u8]> = TableDefinition::new("live_sessions");
    const LICENSES: TableDefinition<u64, &[u8]> = TableDefinition::new("licenses");
    const HWID: TableDefinition<[u8; 28], ()> = TableDefinition::new("hwid");
    const COMPUTER: TableDefinition<&str, ()> = TableDefinition::new("computer");
    const EXPIRY: TableDefinition<[u8; 16], u8> = TableDefinition::new("expiry");
    let path = dir.join("floor-least.redb");
    let _ = std::fs::remove_file(&path);
    let db = open(&path);
    let value = [7u8; 128];
    let device = |i: u64| format!("d{i:07}");
    let w = db.begin_write().expect("write");
    {
        let mut d = w.open_table(DEVICES).expect("table");
        for i in 0..n {
            d.insert(device(i).as_str(), &value[..36]).expect("insert");
        }
        w.open_table(HOSTS).expect("table").insert("h1", &value[..30]).expect("insert");
    }
    w.commit().expect("commit");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut random = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let t = Instant::now();
    let w = db.begin_write().expect("write");
    {
        let devices = w.open_table(DEVICES).expect("table");
        let hosts = w.open_table(HOSTS).expect("table");
        let mut tokens = w.open_table(TOKENS).expect("table");
        let mut live = w.open_table(LIVE).expect("table");
        let mut licenses = w.open_table(LICENSES).expect("table");
        let mut hwid = w.open_table(HWID).expect("table");
        let mut computer = w.open_table(COMPUTER).expect("table");
        let mut expiry = w.open_table(EXPIRY).expect("table");
        use std::fmt::Write as _;
        // Names are formatted into reused buffers: no allocation per CONNECT.
        let (mut name, mut session, mut comp) = (String::new(), String::new(), String::new());
        for i in 0..n {
            name.clear();
            write!(name, "d{i:07}").expect("format");
            assert!(devices.get(name.as_str()).expect("get").is_some(), "device {name}");
            assert!(tokens.get(name.as_str()).expect("get").is_none(), "token of {name}");
            assert!(hosts.get("h1").expect("get").is_some(), "host");
            session.clear();
            write!(session, "u{:05}\0h1", i % users).expect("format");
            let _reused = live.get(session.as_str()).expect("get").is_some();
            let mut h = [0u8; 28];
            for part in h.chunks_mut(8) {
                part.copy_from_slice(&random().to_be_bytes()[..part.len()]);
            }
            let mut e = [0u8; 16];
            e[..8].copy_from_slice(&random().to_be_bytes());
            e[8..].copy_from_slice(&(i + 1).to_be_bytes());
            licenses.insert(i + 1, &value[..61]).expect("insert");
            hwid.insert(h, ()).expect("insert");
            comp.clear();
            write!(comp, "{name}\0{:08}", i + 1).expect("format");
            computer.insert(comp.as_str(), ()).expect("insert");
            expiry.insert(e, 1).expect("insert");
            tokens.insert(name.as_str(), &value[..75]).expect("insert");
            live.insert(session.as_str(), &value[..34]).expect("insert");
        }
    }
    w.commit().expect("commit");
    let r = n as f64 / t.elapsed().as_secs_f64();
    drop(db);
    std::fs::remove_file(&path).ok();
    r
}
