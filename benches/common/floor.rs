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
