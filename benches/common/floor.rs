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

/// The process's CPU time so far (user + system), from `/proc/self/stat`
/// (clock ticks of 10 ms; zero where there is no `/proc`).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command's closing parenthesis, utime and stime are the
    // 12th and 13th fields.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: f64 = rest.split_whitespace().skip(11).take(2).filter_map(|s| s.parse::<f64>().ok()).sum();
    ticks / 100.0
}

/// The least CPU of P1's durable CONNECTs through `Shared` on redb 4.6,
/// with no caldb code: the tables and rows a first CONNECT reads and
/// writes in caldb's format, `group` CONNECTs to a durable commit (as a
/// group commit gathers them), in redb's exclusive mode (one fdatasync per
/// commit, as a serving `Shared` holds its file), from one thread (no
/// parsing, no thread hand-offs). Per commit, as caldb's transaction does
/// it: the state row, the server, the host and the key pack read once, and
/// at the commit the key pack's count, the state and one history chunk
/// written. Per CONNECT: the device, its tokens (a range) and the user's
/// live session read; the license and its HWID, computer and expiry
/// entries, the token, the session and its live entry inserted. 13 tables,
/// as many as caldb's CONNECT touches. Returns CONNECTs per second and the
/// process's CPU (user + system) per CONNECT, in microseconds.
pub fn grouped_connects(dir: &Path, n: u64, group: u64) -> (f64, f64) {
    grouped_in(dir, n, group, false)
}

/// `grouped_connects` with every table's rows in one B-tree (each key led
/// by its table's number): the same reads and writes, the same bytes, in
/// the fewest trees any layout of caldb's records on redb could touch.
pub fn grouped_connects_in_one_tree(dir: &Path, n: u64, group: u64) -> (f64, f64) {
    grouped_in(dir, n, group, true)
}

fn grouped_in(dir: &Path, n: u64, group: u64, one_tree: bool) -> (f64, f64) {
    let path = dir.join("floor-grouped.redb");
    let db = grouped::deployed(&path, n, one_tree);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut random = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (cpu, t) = (cpu_seconds(), Instant::now());
    let mut i = 0;
    while i < n {
        let end = (i + group).min(n);
        match one_tree {
            false => grouped::commit(&db, i..end, &mut random),
            true => grouped::commit_in_one_tree(&db, i..end, &mut random),
        }
        i = end;
    }
    let (took, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    drop(db);
    std::fs::remove_file(&path).ok();
    (n as f64 / took, cpu * 1e6 / n as f64)
}

/// `grouped_connects`'s tables (caldb's names and key widths) and steps.
mod grouped {
    use redb::{Builder, ConcurrencyMode, Database, ReadableTable, TableDefinition};
    use std::path::Path;

    type Name = &'static [u8];
    const META: TableDefinition<Name, Name> = TableDefinition::new("meta");
    const SERVERS: TableDefinition<Name, Name> = TableDefinition::new("servers");
    const KEYPACKS: TableDefinition<u64, Name> = TableDefinition::new("keypacks");
    const HOSTS: TableDefinition<Name, Name> = TableDefinition::new("hosts");
    const DEVICES: TableDefinition<Name, Name> = TableDefinition::new("devices");
    const LICENSES: TableDefinition<u64, Name> = TableDefinition::new("licenses");
    const TOKENS: TableDefinition<Name, Name> = TableDefinition::new("tokens");
    const SESSIONS: TableDefinition<u64, Name> = TableDefinition::new("sessions");
    const HISTORY: TableDefinition<u64, Name> = TableDefinition::new("history");
    const HWID: TableDefinition<[u8; 20], [u8; 4]> = TableDefinition::new("idx_license_hwid");
    const COMPUTER: TableDefinition<Name, [u8; 4]> = TableDefinition::new("idx_license_computer");
    const EXPIRY: TableDefinition<[u8; 16], [u8; 5]> = TableDefinition::new("idx_license_expiry");
    const LIVE: TableDefinition<Name, Name> = TableDefinition::new("idx_session_live");
    /// Values are cut from this, at caldb's record sizes (`db_stats`).
    const VALUE: [u8; 2048] = [7; 2048];

    fn device(i: u64) -> Vec<u8> {
        format!("D{i:07}").into_bytes()
    }

    /// A new file in the exclusive mode with `n` devices, one server, host
    /// and key pack, and the state row, committed (also in the one tree,
    /// `ALL`, when `one_tree`).
    pub fn deployed(path: &Path, n: u64, one_tree: bool) -> Database {
        let _ = std::fs::remove_file(path);
        let mut b = Builder::new();
        b.set_concurrency_mode(ConcurrencyMode::ExclusiveWriter);
        b.set_cache_size(64 * 1024 * 1024);
        let db = b.create(path).expect("a redb file");
        let w = db.begin_write().expect("write");
        {
            let mut d = w.open_table(DEVICES).expect("table");
            for i in 0..n {
                d.insert(&device(i)[..], &VALUE[..54]).expect("insert");
            }
            w.open_table(META).expect("table").insert(&b"state"[..], &VALUE[..90]).expect("insert");
            w.open_table(SERVERS).expect("table").insert(&b"LS1"[..], &VALUE[..60]).expect("insert");
            w.open_table(KEYPACKS).expect("table").insert(1, &VALUE[..70]).expect("insert");
            w.open_table(HOSTS).expect("table").insert(&b"H1"[..], &VALUE[..50]).expect("insert");
            if one_tree {
                let mut all = w.open_table(ALL).expect("table");
                for i in 0..n {
                    all.insert(&[&[DEVICE_TAG][..], &device(i)].concat()[..], &VALUE[..54]).expect("insert");
                }
                for (tag, key, len) in
                    [(0u8, &b"state"[..], 90), (1, b"LS1", 60), (2, &1u64.to_be_bytes(), 70), (3, b"H1", 50)]
                {
                    all.insert(&[&[tag][..], key].concat()[..], &VALUE[..len]).expect("insert");
                }
            }
        }
        w.commit().expect("commit");
        db
    }

    /// A new license's random HWID and its expiry entry's key (a random
    /// time, then the license's id): each lands on a leaf of its own.
    fn license_keys(j: u64, random: &mut impl FnMut() -> u64) -> ([u8; 20], [u8; 16]) {
        let mut h = [0u8; 20];
        for part in h.chunks_mut(8) {
            part.copy_from_slice(&random().to_be_bytes()[..part.len()]);
        }
        let mut e = [0u8; 16];
        e[..8].copy_from_slice(&random().to_be_bytes());
        e[8..].copy_from_slice(&(j + 1).to_be_bytes());
        (h, e)
    }

    /// The bytes of the history chunk a commit of `n` CONNECTs writes.
    fn history_chunk(n: u64) -> usize {
        (16 * n as usize).min(2000)
    }

    /// Every table's rows in one tree, a key led by its table's number.
    const ALL: TableDefinition<Name, Name> = TableDefinition::new("all");
    const DEVICE_TAG: u8 = 4;

    /// `commit`'s reads and writes, in the one tree.
    pub fn commit_in_one_tree(db: &Database, range: std::ops::Range<u64>, random: &mut impl FnMut() -> u64) {
        let key = |tag: u8, k: &[u8]| [&[tag][..], k].concat();
        let w = db.begin_write().expect("write");
        {
            let mut all = w.open_table(ALL).expect("table");
            for (tag, k) in [(0u8, &b"state"[..]), (1, b"LS1"), (3, b"H1"), (2, &1u64.to_be_bytes())] {
                assert!(all.get(&key(tag, k)[..]).expect("get").is_some());
            }
            let (first, end) = (range.start, range.end);
            for j in range {
                let name = device(j);
                assert!(all.get(&key(DEVICE_TAG, &name)[..]).expect("get").is_some(), "device {j}");
                assert!(
                    all.range(&key(6, &name)[..]..)
                        .expect("range")
                        .next()
                        .is_none_or(|e| { !e.expect("entry").0.value().starts_with(&key(6, &name)) })
                );
                let session = key(12, format!("U{:05}\0H1", j % 10_000).as_bytes());
                let _reused = all.get(&session[..]).expect("get").is_some();
                let (h, e) = license_keys(j, random);
                let id = (j + 1).to_be_bytes();
                all.insert(&key(5, &id)[..], &VALUE[..80]).expect("insert");
                all.insert(&key(9, &h)[..], &[0u8; 4][..]).expect("insert");
                all.insert(&key(10, &[&name[..], &[0], &id].concat())[..], &[0u8; 4][..]).expect("insert");
                all.insert(&key(11, &e)[..], &[0u8; 5][..]).expect("insert");
                all.insert(&key(6, &[&name[..], &[0, 0, 0, 0, 0]].concat())[..], &VALUE[..102]).expect("insert");
                all.insert(&key(7, &id)[..], &VALUE[..60]).expect("insert");
                all.insert(&session[..], &VALUE[..12]).expect("insert");
            }
            all.insert(&key(2, &1u64.to_be_bytes())[..], &VALUE[..70]).expect("insert");
            all.insert(&key(0, b"state")[..], &VALUE[..90]).expect("insert");
            let chunk = history_chunk(end - first);
            all.insert(&key(8, &end.to_be_bytes())[..], &VALUE[..chunk]).expect("insert");
        }
        w.commit().expect("commit");
    }

    /// One durable commit of the first CONNECTs of devices `range`.
    pub fn commit(db: &Database, range: std::ops::Range<u64>, random: &mut impl FnMut() -> u64) {
        let w = db.begin_write().expect("write");
        {
            let mut meta = w.open_table(META).expect("table");
            assert!(meta.get(&b"state"[..]).expect("get").is_some());
            assert!(w.open_table(SERVERS).expect("table").get(&b"LS1"[..]).expect("get").is_some());
            assert!(w.open_table(HOSTS).expect("table").get(&b"H1"[..]).expect("get").is_some());
            let mut keypacks = w.open_table(KEYPACKS).expect("table");
            assert!(keypacks.get(1).expect("get").is_some());
            let devices = w.open_table(DEVICES).expect("table");
            let mut licenses = w.open_table(LICENSES).expect("table");
            let mut tokens = w.open_table(TOKENS).expect("table");
            let mut sessions = w.open_table(SESSIONS).expect("table");
            let mut hwid = w.open_table(HWID).expect("table");
            let mut computer = w.open_table(COMPUTER).expect("table");
            let mut expiry = w.open_table(EXPIRY).expect("table");
            let mut live = w.open_table(LIVE).expect("table");
            let (first, end) = (range.start, range.end);
            for j in range {
                let name = device(j);
                assert!(devices.get(&name[..]).expect("get").is_some(), "device {j}");
                assert!(tokens.range(&name[..]..).expect("range").next().is_none(), "no token yet");
                let session = format!("U{:05}\0H1", j % 10_000).into_bytes();
                let _reused = live.get(&session[..]).expect("get").is_some();
                let (h, e) = license_keys(j, random);
                licenses.insert(j + 1, &VALUE[..80]).expect("insert");
                hwid.insert(h, [0; 4]).expect("insert");
                computer.insert(&[&name[..], &[0], &(j + 1).to_be_bytes()].concat()[..], [0; 4]).expect("insert");
                expiry.insert(e, [0; 5]).expect("insert");
                tokens.insert(&[&name[..], &[0, 0, 0, 0, 0]].concat()[..], &VALUE[..102]).expect("insert");
                sessions.insert(j + 1, &VALUE[..60]).expect("insert");
                live.insert(&session[..], &VALUE[..12]).expect("insert");
            }
            keypacks.insert(1, &VALUE[..70]).expect("insert");
            meta.insert(&b"state"[..], &VALUE[..90]).expect("insert");
            let chunk = history_chunk(end - first);
            w.open_table(HISTORY).expect("table").insert(end, &VALUE[..chunk]).expect("insert");
        }
        w.commit().expect("commit");
    }
}
