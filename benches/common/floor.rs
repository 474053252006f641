//! What redb 4.6 itself can do on this disk and CPU, with no caldb
//! protocol code in the way: the limits the P1-P3 rows are read against.
//! Files are opened as caldb opens its own (multi-writer mode, a 64 MiB
//! cache), or, for the limits of the rows through `Shared`
//! (`grouped_connects`, `Lifecycles`), in the exclusive mode a serving
//! process holds its file in; the replays of a CONNECT's writes go through
//! caldb's store (`WriteTx::put`: its tables, as redb holds them, and
//! nothing else).

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
    Write { table: T::Tokens, key: Key::Rising(13), value: 19 },
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
            tokens.insert(name.as_str(), &value[..19]).expect("insert");
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
            false => grouped::commit(&db, &(i..end).collect::<Vec<_>>(), end, &mut random),
            true => grouped::commit_in_one_tree(&db, i..end, &mut random),
        }
        i = end;
    }
    let (took, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    drop(db);
    std::fs::remove_file(&path).ok();
    (n as f64 / took, cpu * 1e6 / n as f64)
}

/// P8's build on redb alone: `n` devices, each CREATE DEVICE, CONNECT
/// (temporary) and CONNECT (upgrade), replayed as the least reads and
/// writes of caldb's statements in caldb's tables (`grouped::build_block`),
/// `batch` devices to a commit, as `generate::build` runs caldb's: the
/// seconds it took, and the process's CPU seconds. The file is opened in
/// the exclusive mode, with caldb's 64 MiB cache.
pub fn build_writes(dir: &Path, n: u64, batch: u64) -> (f64, f64) {
    let path = dir.join("floor-build.redb");
    let db = grouped::deployed(&path, 0, false);
    let mut state = grouped::Build::default();
    let (cpu, t) = (cpu_seconds(), Instant::now());
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        grouped::build_block(&db, i..end, &mut state);
        i = end;
    }
    let (took, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    drop(db);
    std::fs::remove_file(&path).ok();
    (took, cpu)
}

/// `grouped_connects` from many threads of one process through caldb's
/// group commit (`caldb::query::group_commit::GroupCommit`, the queue,
/// leader and hand-offs `Shared` runs): what redb alone makes of P1 from
/// many threads, the threads' hand-offs counted, caldb's statement work
/// (parsing, the protocol, records, checksums, history) not.
pub struct ThreadedConnects {
    db: Database,
    path: std::path::PathBuf,
    group: caldb::query::group_commit::GroupCommit<u64, ()>,
    /// The leader's: the random keys' state and the commits made.
    leader: std::sync::Mutex<(u64, u64)>,
}

impl ThreadedConnects {
    /// A new file at `path` with `n` devices, as `grouped_connects`'s.
    pub fn deployed(path: &Path, n: u64) -> ThreadedConnects {
        ThreadedConnects {
            db: grouped::deployed(path, n, false),
            path: path.to_path_buf(),
            group: Default::default(),
            leader: std::sync::Mutex::new((0x9E37_79B9_7F4A_7C15, 0)),
        }
    }

    /// Device `j`'s first CONNECT, durable when this returns.
    pub fn connect(&self, j: u64) {
        let run = |devices: Vec<u64>| {
            let mut l = self.leader.lock().expect("one leader at a time");
            let (x, commits) = &mut *l;
            *commits += 1;
            let mut random = || {
                *x ^= *x << 13;
                *x ^= *x >> 7;
                *x ^= *x << 17;
                *x
            };
            grouped::commit(&self.db, &devices, *commits, &mut random);
            vec![(); devices.len()]
        };
        self.group.submit(j, run).expect("every CONNECT answered");
    }

    /// The durable commits made so far.
    pub fn commits(&self) -> u64 {
        self.leader.lock().expect("no leader now").1
    }
}

impl Drop for ThreadedConnects {
    fn drop(&mut self) {
        std::fs::remove_file(&self.path).ok();
    }
}

pub use grouped::Lifecycles;

/// The replay runs `lifecycle::lifecycles_of` as caldb and SQLite do: the
/// same blocks of statements, each its own durable commit.
impl super::lifecycle::Engine for Lifecycles {
    fn begin(&mut self) {
        unreachable!("the replay is durable statement by statement")
    }
    fn commit(&mut self) {
        unreachable!("the replay is durable statement by statement")
    }
    fn create_device(&mut self, name: &str) {
        Lifecycles::create_device(self, name);
    }
    fn connect(&mut self, device: &str, user: &str) -> (String, i64) {
        let (reason, expires) = Lifecycles::connect(self, device, user);
        (reason.to_string(), expires)
    }
    fn set_clock(&mut self, t: i64) {
        Lifecycles::set_clock(self, t);
    }
}

/// The tables of `grouped_connects` and `Lifecycles` (caldb's names and
/// key widths) and their steps.
mod grouped {
    use redb::{Builder, ConcurrencyMode, Database, ReadableTable, TableDefinition, WriteTransaction};
    use std::collections::{BTreeMap, HashMap};
    use std::path::{Path, PathBuf};

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
    const HWID: TableDefinition<[u8; 28], [u8; 4]> = TableDefinition::new("idx_license_hwid");
    const COMPUTER: TableDefinition<Name, [u8; 4]> = TableDefinition::new("idx_license_computer");
    const EXPIRY: TableDefinition<[u8; 16], [u8; 5]> = TableDefinition::new("idx_license_expiry");
    const LIVE: TableDefinition<Name, Name> = TableDefinition::new("idx_session_live");
    const DEVICE_HWID: TableDefinition<Name, [u8; 4]> = TableDefinition::new("idx_device_hwid");
    const EVENTS: TableDefinition<u64, Name> = TableDefinition::new("events");
    const EXPIRED_THROUGH: Name = b"expired_through";
    /// Values are cut from this, at caldb's record sizes (`db_stats`).
    const VALUE: [u8; 2048] = [7; 2048];

    fn device(i: u64) -> Vec<u8> {
        format!("D{i:07}").into_bytes()
    }

    /// A new file in the exclusive mode with `n` devices, one server, host
    /// and two key packs (temporary and device), the state row and
    /// `expired_through`, committed (also in the one tree, `ALL`, when
    /// `one_tree`).
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
            let mut meta = w.open_table(META).expect("table");
            meta.insert(&b"state"[..], &VALUE[..90]).expect("insert");
            meta.insert(EXPIRED_THROUGH, &VALUE[..9]).expect("insert");
            w.open_table(SERVERS).expect("table").insert(&b"LS1"[..], &VALUE[..60]).expect("insert");
            let mut keypacks = w.open_table(KEYPACKS).expect("table");
            // The server's temporary pack and its device pack.
            keypacks.insert(1, &VALUE[..70]).expect("insert");
            keypacks.insert(2, &VALUE[..70]).expect("insert");
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

    /// A new license's HWID entry's key (a random HWID, then the
    /// license's id) and its expiry entry's key (a random time, then the
    /// id): each lands on a leaf of its own.
    fn license_keys(j: u64, random: &mut impl FnMut() -> u64) -> ([u8; 28], [u8; 16]) {
        let h = hwid(random);
        (hwid_key(&h, j + 1), expiry_key(random(), j + 1))
    }

    /// A random HWID.
    fn hwid(random: &mut impl FnMut() -> u64) -> [u8; 20] {
        let mut h = [0u8; 20];
        for part in h.chunks_mut(8) {
            part.copy_from_slice(&random().to_be_bytes()[..part.len()]);
        }
        h
    }

    /// A license's key in `idx_license_hwid`: its HWID, then its id.
    fn hwid_key(hwid: &[u8; 20], id: u64) -> [u8; 28] {
        let mut k = [0u8; 28];
        k[..20].copy_from_slice(hwid);
        k[20..].copy_from_slice(&id.to_be_bytes());
        k
    }

    /// A license's key in `idx_license_expiry`: its expiry, then its id.
    fn expiry_key(at: u64, id: u64) -> [u8; 16] {
        let mut e = [0u8; 16];
        e[..8].copy_from_slice(&at.to_be_bytes());
        e[8..].copy_from_slice(&id.to_be_bytes());
        e
    }

    /// The bytes of the history chunk a commit of `n` CONNECTs writes: a
    /// chunk of one row is 52-62 bytes in caldb's file (the P3 lifecycle's,
    /// `tests/p3_limit.rs`), LZ4 having nothing to share in one row.
    fn history_chunk(n: u64) -> usize {
        (44 + 16 * n as usize).min(2000)
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
                all.insert(&key(6, &[&name[..], &[0, 0, 0, 0, 0]].concat())[..], &VALUE[..23]).expect("insert");
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

    /// One durable commit of the first CONNECTs of `connecting`, its history
    /// chunk keyed `chunk`.
    pub fn commit(db: &Database, connecting: &[u64], chunk: u64, random: &mut impl FnMut() -> u64) {
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
            for &j in connecting {
                let name = device(j);
                assert!(devices.get(&name[..]).expect("get").is_some(), "device {j}");
                // The range is dropped before the inserts: redb panics on
                // a page written while a range still holds it.
                let first =
                    tokens.range(&name[..]..).expect("range").next().map(|e| e.expect("entry").0.value().to_vec());
                assert!(first.is_none_or(|k| !k.starts_with(&name)), "no token yet");
                let session = format!("U{:05}\0H1", j % 10_000).into_bytes();
                let _reused = live.get(&session[..]).expect("get").is_some();
                let (h, e) = license_keys(j, random);
                licenses.insert(j + 1, &VALUE[..80]).expect("insert");
                hwid.insert(h, [0; 4]).expect("insert");
                computer.insert(&[&name[..], &[0], &(j + 1).to_be_bytes()].concat()[..], [0; 4]).expect("insert");
                expiry.insert(e, [0; 5]).expect("insert");
                tokens.insert(&[&name[..], &[0, 0, 0, 0, 0]].concat()[..], &VALUE[..23]).expect("insert");
                sessions.insert(j + 1, &VALUE[..60]).expect("insert");
                live.insert(&session[..], &VALUE[..12]).expect("insert");
            }
            keypacks.insert(1, &VALUE[..70]).expect("insert");
            meta.insert(&b"state"[..], &VALUE[..90]).expect("insert");
            let bytes = history_chunk(connecting.len() as u64);
            w.open_table(HISTORY).expect("table").insert(chunk, &VALUE[..bytes]).expect("insert");
        }
        w.commit().expect("commit");
    }

    /// What `build_block` carries from one block to the next.
    pub struct Build {
        random: u64,
        licenses: u64,
        sessions: u64,
        history: u64,
        unchunked: u64,
    }

    impl Default for Build {
        fn default() -> Build {
            Build { random: 0x9E37_79B9_7F4A_7C15, licenses: 0, sessions: 0, history: 0, unchunked: 0 }
        }
    }

    /// The users P8's build connects as (`generate::USERS`): device `i`'s
    /// user is `i % BUILD_USERS`, whose session the first of them started.
    const BUILD_USERS: u64 = 10_000;
    /// A block's history, as `db_stats` counts it on the protocol-built 1M
    /// file: 19,339 chunks, 18,656,566 bytes, for 3,000,006 statements.
    const BUILD_CHUNK_ROWS: u64 = 155;
    const BUILD_CHUNK_BYTES: usize = 965;

    /// One commit of P8's build, devices `range`: for each, the least
    /// reads and writes of caldb's CREATE DEVICE, CONNECT (temporary) and
    /// CONNECT (upgrade), with every table opened once a commit (as
    /// caldb's transaction keeps them) and the value sizes `db_stats`
    /// counts on the built 1M file (stored bytes per entry, less the key):
    ///
    /// - CREATE DEVICE: the device looked up, inserted (46 bytes), its
    ///   HWID entry inserted.
    /// - CONNECT, temporary: the device, the host and the device's tokens
    ///   (a range) read; the license (71) and its HWID, computer and
    ///   expiry entries inserted; the token (35) inserted; the user's live
    ///   entry read, and either the session (43) and its live entry
    ///   inserted, or (a user seen before) the session read and rewritten.
    /// - CONNECT, upgrade: the device, the host, the tokens and the
    ///   temporary license read; the temporary license rewritten and its
    ///   expiry entry marked; the permanent license and its three entries
    ///   inserted; the token rewritten; the live entry and the session
    ///   read and the session rewritten.
    ///
    /// A history chunk every `BUILD_CHUNK_ROWS` statements; at the commit
    /// both packs' counts, the state and the last chunk written. The key
    /// packs and servers caldb's transaction reads once are not read.
    pub fn build_block(db: &Database, range: std::ops::Range<u64>, b: &mut Build) {
        let mut random = {
            let mut x = b.random;
            move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            }
        };
        let w = db.begin_write().expect("write");
        {
            let mut meta = w.open_table(META).expect("table");
            assert!(meta.get(&b"state"[..]).expect("get").is_some());
            let hosts = w.open_table(HOSTS).expect("table");
            let mut keypacks = w.open_table(KEYPACKS).expect("table");
            let mut devices = w.open_table(DEVICES).expect("table");
            let mut device_hwid = w.open_table(DEVICE_HWID).expect("table");
            let mut licenses = w.open_table(LICENSES).expect("table");
            let mut tokens = w.open_table(TOKENS).expect("table");
            let mut sessions = w.open_table(SESSIONS).expect("table");
            let mut hwids = w.open_table(HWID).expect("table");
            let mut computer = w.open_table(COMPUTER).expect("table");
            let mut expiry = w.open_table(EXPIRY).expect("table");
            let mut live = w.open_table(LIVE).expect("table");
            let mut history = w.open_table(HISTORY).expect("table");
            let statement = |b: &mut Build, history: &mut redb::Table<u64, Name>| {
                b.unchunked += 1;
                if b.unchunked == BUILD_CHUNK_ROWS {
                    b.history += 1;
                    b.unchunked = 0;
                    history.insert(b.history, &VALUE[..BUILD_CHUNK_BYTES]).expect("insert");
                }
            };
            for j in range {
                let name = device(j);
                let h = hwid(&mut random);
                // CREATE DEVICE
                assert!(devices.get(&name[..]).expect("get").is_none(), "device {j}");
                devices.insert(&name[..], &VALUE[..46]).expect("insert");
                device_hwid.insert(&[&h[..], &name, &[0]].concat()[..], [0; 4]).expect("insert");
                statement(b, &mut history);
                // CONNECT, twice: the temporary license, then the upgrade.
                let live_key = format!("U{:05}\0H1\0", j % BUILD_USERS).into_bytes();
                let token = [&name[..], &[0, 0, 0, 0, 0]].concat();
                let mut temporary = (0, [0; 16]);
                for upgrade in [false, true] {
                    assert!(devices.get(&name[..]).expect("get").is_some());
                    assert!(hosts.get(&b"H1"[..]).expect("get").is_some());
                    let held =
                        tokens.range(&name[..]..).expect("range").next().map(|e| e.expect("entry").0.value().to_vec());
                    assert_eq!(held.is_some_and(|k| k.starts_with(&name)), upgrade, "{j}'s token");
                    if upgrade {
                        assert!(licenses.get(temporary.0).expect("get").is_some());
                        licenses.insert(temporary.0, &VALUE[..71]).expect("insert");
                        expiry.insert(temporary.1, [0; 5]).expect("insert");
                    }
                    b.licenses += 1;
                    let id = b.licenses;
                    // The clock stands still through the build: every
                    // temporary license expires 90 days on (its entries
                    // rise with the id), a permanent one 52-89 days on.
                    let at = match upgrade {
                        false => 90 * 86_400,
                        true => (52 + random() % 38) * 86_400,
                    };
                    let e = expiry_key(at, id);
                    licenses.insert(id, &VALUE[..71]).expect("insert");
                    hwids.insert(hwid_key(&h, id), [0; 4]).expect("insert");
                    computer.insert(&[&name[..], &[0], &id.to_be_bytes()].concat()[..], [0; 4]).expect("insert");
                    expiry.insert(e, [1; 5]).expect("insert");
                    temporary = (id, e);
                    tokens.insert(&token[..], &VALUE[..35]).expect("insert");
                    let seen = live.get(&live_key[..]).expect("get").is_some();
                    if seen {
                        let session = j % BUILD_USERS + 1;
                        assert!(sessions.get(session).expect("get").is_some());
                        sessions.insert(session, &VALUE[..43]).expect("insert");
                    } else {
                        b.sessions += 1;
                        sessions.insert(b.sessions, &VALUE[..43]).expect("insert");
                        live.insert(&live_key[..], &VALUE[..15]).expect("insert");
                    }
                    statement(b, &mut history);
                }
            }
            keypacks.insert(1, &VALUE[..22]).expect("insert");
            keypacks.insert(2, &VALUE[..27]).expect("insert");
            meta.insert(&b"state"[..], &VALUE[..32]).expect("insert");
            if b.unchunked > 0 {
                b.history += 1;
                let bytes = (BUILD_CHUNK_BYTES * b.unchunked as usize / BUILD_CHUNK_ROWS as usize).max(60);
                history.insert(b.history, &VALUE[..bytes]).expect("insert");
                b.unchunked = 0;
            }
        }
        w.commit().expect("commit");
        b.random = random();
    }

    /// P3's durable lifecycle on redb alone: each statement of
    /// `lifecycle::lifecycles_of` replayed as the reads and writes caldb's
    /// statement makes in caldb's tables, with the record sizes caldb
    /// stores, in one durable commit (redb's default,
    /// `Durability::Immediate`), in redb's exclusive mode (one fdatasync
    /// per commit, as a serving `Shared` holds its file), from one thread,
    /// with no caldb code. What each statement reads and writes was counted
    /// on caldb's own statements; `tests/p3_limit.rs` checks that each
    /// replayed statement changes the same tables by as many entries.
    ///
    /// Every commit, as caldb's transaction: `meta`'s `expired_through` and
    /// state read, history's last key read, the state and a history chunk
    /// of one row written. Then per statement:
    ///
    /// - CREATE DEVICE: the device looked up (twice, as caldb does), the
    ///   device and its HWID entry inserted.
    /// - CONNECT, temporary: the device, the host, the device's tokens (a
    ///   range), the servers and key packs (all, kept by caldb's
    ///   transaction) and the new license's id read; the license and its
    ///   HWID, computer and expiry entries, the token, the user's live
    ///   entry (after reading it) and the session inserted; the temporary
    ///   pack's count rewritten. The host's first CONNECT also ends its
    ///   grace period: an event inserted, the host rewritten.
    /// - CONNECT, upgrade: the same reads, the temporary license read; the
    ///   temporary license and its expiry entry rewritten (upgraded); the
    ///   permanent license, its HWID, computer and expiry entries inserted;
    ///   the token rewritten; the live entry and session read and the
    ///   session written back unchanged; both packs' counts rewritten.
    /// - SET CLOCK: the expiry index read from `expired_through` to the new
    ///   clock; each live license found there rewritten expired, with its
    ///   expiry entry, and the device pack's count (read once) rewritten;
    ///   `expired_through` written.
    /// - CONNECT, renewal: the device, the host, the tokens, the server
    ///   and the HWID's licenses (a range) read, then the license; the
    ///   license rewritten, its expiry entry moved (removed, inserted), the
    ///   token rewritten, the session read and rewritten.
    pub struct Lifecycles {
        db: Database,
        path: PathBuf,
        random: u64,
        now: i64,
        expired_through: i64,
        devices: HashMap<Vec<u8>, Device>,
        licenses: u64,
        sessions: u64,
        history: u64,
        events: u64,
        /// Stamped into the values written, so that a rewrite changes its
        /// entry as caldb's does.
        stamp: u64,
    }

    /// What the replay knows of a device between its statements.
    struct Device {
        hwid: [u8; 20],
        connects: u32,
        temporary: (u64, [u8; 16]),
        permanent: (u64, [u8; 16]),
        session: u64,
        session_stamp: u64,
    }

    const DAY: i64 = 86_400;
    /// The value sizes caldb stores in P3's lifecycle (checksum included),
    /// seen on its file by `tests/p3_limit.rs`.
    const DEVICE: usize = 38;
    const LICENSE: usize = 63;
    const TOKEN: usize = 23;
    const SESSION: usize = 37;
    const LIVE_ENTRY: usize = 5;
    const STATE: usize = 32;
    const TEMPORARY_PACK: usize = 22;
    const DEVICE_PACK: usize = 27;
    const HOST: usize = 29;
    const EVENT: usize = 71;
    /// An expiry entry's value: a live license's, and one no longer live.
    const IN_FORCE: [u8; 5] = [1; 5];
    const NOT_IN_FORCE: [u8; 5] = [0; 5];

    /// A name as caldb's keys hold it (folded).
    fn folded(name: &str) -> Vec<u8> {
        name.to_uppercase().into_bytes()
    }

    impl Lifecycles {
        /// A new file at `path` with the deployment of `deployed` (no
        /// devices), its clock at `start`.
        pub fn create(path: &Path, start: i64) -> Lifecycles {
            Lifecycles {
                db: deployed(path, 0, false),
                path: path.to_path_buf(),
                random: 0x9E37_79B9_7F4A_7C15,
                now: start,
                expired_through: start,
                devices: HashMap::new(),
                licenses: 0,
                sessions: 0,
                history: 0,
                events: 0,
                stamp: 0,
            }
        }

        fn random(&mut self) -> u64 {
            let x = &mut self.random;
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            *x
        }

        /// A value of `len` bytes that differs from every value written
        /// before it.
        fn value(&mut self, len: usize) -> Vec<u8> {
            self.stamp += 1;
            stamped(len, self.stamp)
        }

        /// A permanent license's expiry from now, as caldb draws it
        /// (`protocol::issue`: 52-89 days).
        fn permanent_expiry(&mut self) -> i64 {
            self.now + (52 + self.random() % 38) as i64 * DAY
        }

        /// One statement: `body`'s reads and writes between those every
        /// commit makes, then the durable commit.
        fn statement<R>(&mut self, body: impl FnOnce(&mut Self, &WriteTransaction) -> R) -> R {
            let w = self.db.begin_write().expect("write");
            {
                let meta = w.open_table(META).expect("table");
                assert!(meta.get(EXPIRED_THROUGH).expect("get").is_some());
                assert!(meta.get(&b"state"[..]).expect("get").is_some());
            }
            let r = body(self, &w);
            {
                let mut history = w.open_table(HISTORY).expect("table");
                let last = history.last().expect("last").map_or(0, |(k, _)| k.value());
                assert_eq!(last, self.history, "history's last row");
                self.history += 1;
                let chunk = self.value(history_chunk(1));
                history.insert(self.history, &chunk[..]).expect("insert");
                let state = self.value(STATE);
                w.open_table(META).expect("table").insert(&b"state"[..], &state[..]).expect("insert");
            }
            w.commit().expect("commit");
            r
        }

        /// CREATE DEVICE `name`.
        pub fn create_device(&mut self, name: &str) {
            let key = folded(name);
            let hwid = hwid(&mut || self.random());
            self.statement(|me, w| {
                let mut devices = w.open_table(DEVICES).expect("table");
                for _ in 0..2 {
                    assert!(devices.get(&key[..]).expect("get").is_none(), "device {name}");
                }
                devices.insert(&key[..], &me.value(DEVICE)[..]).expect("insert");
                let entry = [&hwid[..], &key, &[0]].concat();
                w.open_table(DEVICE_HWID).expect("table").insert(&entry[..], [0; 4]).expect("insert");
            });
            let device = Device {
                hwid,
                connects: 0,
                temporary: (0, [0; 16]),
                permanent: (0, [0; 16]),
                session: 0,
                session_stamp: 0,
            };
            self.devices.insert(key, device);
        }

        /// CONNECT `device` AS `user` TO h1: the reason (temporary-issued,
        /// upgraded, renewed: the device's first, second, later CONNECT)
        /// and the expiry of the license it leaves the device.
        pub fn connect(&mut self, device: &str, user: &str) -> (&'static str, i64) {
            let key = folded(device);
            let live_key = [folded(user), b"\0H1\0".to_vec()].concat();
            let mut d = self.devices.remove(&key).unwrap_or_else(|| panic!("no device {device}"));
            let token = [&key[..], &[0, 0, 0, 0, 0]].concat();
            let outcome = self.statement(|me, w| {
                assert!(w.open_table(DEVICES).expect("table").get(&key[..]).expect("get").is_some());
                let mut hosts = w.open_table(HOSTS).expect("table");
                assert!(hosts.get(&b"H1"[..]).expect("get").is_some());
                let mut tokens = w.open_table(TOKENS).expect("table");
                let prefix = [&key[..], &[0]].concat();
                let has_token = tokens
                    .range(&prefix[..]..)
                    .expect("range")
                    .next()
                    .is_some_and(|e| e.expect("entry").0.value().starts_with(&prefix));
                assert_eq!(has_token, d.connects > 0, "{device}'s token");
                let mut licenses = w.open_table(LICENSES).expect("table");
                let mut expiry = w.open_table(EXPIRY).expect("table");
                let mut keypacks = w.open_table(KEYPACKS).expect("table");
                let servers = w.open_table(SERVERS).expect("table");
                let outcome = match d.connects {
                    0 | 1 => {
                        assert_eq!(servers.iter().expect("servers").count(), 1);
                        if d.connects == 1 {
                            assert!(licenses.get(d.temporary.0).expect("get").is_some());
                        }
                        assert_eq!(keypacks.iter().expect("packs").count(), 2);
                        if d.connects == 1 {
                            licenses.insert(d.temporary.0, &me.value(LICENSE)[..]).expect("insert");
                            expiry.insert(d.temporary.1, NOT_IN_FORCE).expect("insert");
                        }
                        me.licenses += 1;
                        let id = me.licenses;
                        let (expires, reason) = match d.connects {
                            0 => (me.now + 90 * DAY, "temporary-issued"),
                            _ => (me.permanent_expiry(), "upgraded"),
                        };
                        assert!(licenses.get(id).expect("get").is_none());
                        licenses.insert(id, &me.value(LICENSE)[..]).expect("insert");
                        let mut hwid = w.open_table(HWID).expect("table");
                        hwid.insert(hwid_key(&d.hwid, id), [0; 4]).expect("insert");
                        let computer = [&key[..], &[0], &id.to_be_bytes()].concat();
                        w.open_table(COMPUTER).expect("table").insert(&computer[..], [0; 4]).expect("insert");
                        let e = expiry_key(expires as u64, id);
                        expiry.insert(e, IN_FORCE).expect("insert");
                        match d.connects {
                            0 => d.temporary = (id, e),
                            _ => d.permanent = (id, e),
                        }
                        (reason, expires)
                    }
                    _ => {
                        assert!(servers.get(&b"LS1"[..]).expect("get").is_some());
                        let hwid = w.open_table(HWID).expect("table");
                        let prefix = hwid_key(&d.hwid, 0);
                        let ids = hwid.range(prefix..).expect("range");
                        let held = ids.take_while(|e| e.as_ref().is_ok_and(|e| e.0.value()[..20] == d.hwid)).count();
                        assert_eq!(held, 2, "{device}'s licenses");
                        assert!(licenses.get(d.permanent.0).expect("get").is_some());
                        licenses.insert(d.permanent.0, &me.value(LICENSE)[..]).expect("insert");
                        let expires = me.permanent_expiry();
                        assert!(expiry.remove(d.permanent.1).expect("remove").is_some());
                        d.permanent.1 = expiry_key(expires as u64, d.permanent.0);
                        expiry.insert(d.permanent.1, IN_FORCE).expect("insert");
                        ("renewed", expires)
                    }
                };
                tokens.insert(&token[..], &me.value(TOKEN)[..]).expect("insert");
                let mut live = w.open_table(LIVE).expect("table");
                let mut sessions = w.open_table(SESSIONS).expect("table");
                let seen = live.get(&live_key[..]).expect("get").is_some();
                if d.connects == 0 {
                    assert!(!seen, "a user's first session");
                    me.sessions += 1;
                    d.session = me.sessions;
                    live.insert(&live_key[..], &me.value(LIVE_ENTRY)[..]).expect("insert");
                } else {
                    assert!(sessions.get(d.session).expect("get").is_some());
                    assert!(live.get(&live_key[..]).expect("get").is_some());
                }
                // The upgrade writes the session back as it was.
                if d.connects != 1 {
                    me.stamp += 1;
                    d.session_stamp = me.stamp;
                }
                sessions.insert(d.session, &stamped(SESSION, d.session_stamp)[..]).expect("insert");
                if d.connects < 2 {
                    keypacks.insert(1, &me.value(TEMPORARY_PACK)[..]).expect("insert");
                }
                if d.connects == 1 {
                    keypacks.insert(2, &me.value(DEVICE_PACK)[..]).expect("insert");
                }
                if me.licenses == 1 {
                    me.events += 1;
                    let event = me.value(EVENT);
                    w.open_table(EVENTS).expect("table").insert(me.events, &event[..]).expect("insert");
                    hosts.insert(&b"H1"[..], &me.value(HOST)[..]).expect("insert");
                }
                outcome
            });
            d.connects += 1;
            self.devices.insert(key, d);
            outcome
        }

        /// SET CLOCK `t`: the clock moved on, every live license that
        /// expires by then expired.
        pub fn set_clock(&mut self, t: i64) {
            assert!(t > self.now, "the lifecycle moves the clock on");
            self.now = t;
            self.statement(|me, w| {
                let mut expiry = w.open_table(EXPIRY).expect("table");
                let (from, to) = (expiry_key(me.expired_through as u64, 0), expiry_key(t as u64 + 1, 0));
                let mut due = Vec::new();
                for e in expiry.range(from..to).expect("range") {
                    let (k, v) = e.expect("entry");
                    if v.value() == IN_FORCE {
                        due.push(k.value());
                    }
                }
                let mut licenses = w.open_table(LICENSES).expect("table");
                for k in &due {
                    let id = u64::from_be_bytes(k[8..].try_into().expect("an id"));
                    assert!(licenses.get(id).expect("get").is_some());
                    licenses.insert(id, &me.value(LICENSE)[..]).expect("insert");
                    expiry.insert(k, NOT_IN_FORCE).expect("insert");
                }
                if !due.is_empty() {
                    let mut keypacks = w.open_table(KEYPACKS).expect("table");
                    assert!(keypacks.get(2).expect("get").is_some());
                    keypacks.insert(2, &me.value(DEVICE_PACK)[..]).expect("insert");
                }
                let through = me.value(9);
                w.open_table(META).expect("table").insert(EXPIRED_THROUGH, &through[..]).expect("insert");
            });
            self.expired_through = t;
        }

        /// Every table's entries (keys and values as bytes; ids big-endian),
        /// for `tests/p3_limit.rs` to compare with caldb's file.
        #[allow(dead_code)]
        pub fn entries(&self) -> BTreeMap<&'static str, BTreeMap<Vec<u8>, Vec<u8>>> {
            use redb::{ReadableDatabase, TableHandle};
            let r = self.db.begin_read().expect("read");
            let mut out = BTreeMap::new();
            macro_rules! entries {
                ($($table:ident),*) => {$(
                    let mut m = BTreeMap::new();
                    if let Ok(t) = r.open_table($table) {
                        for e in t.iter().expect("iter") {
                            let (k, v) = e.expect("entry");
                            m.insert(bytes(k.value()), v.value().to_vec());
                        }
                    }
                    out.insert(TableHandle::name(&$table), m);
                )*};
            }
            entries!(META, SERVERS, KEYPACKS, HOSTS, DEVICES, LICENSES, TOKENS, SESSIONS, HISTORY, EVENTS);
            entries!(HWID, COMPUTER, EXPIRY, LIVE, DEVICE_HWID);
            out
        }
    }

    impl Drop for Lifecycles {
        fn drop(&mut self) {
            std::fs::remove_file(&self.path).ok();
        }
    }

    /// `len` bytes of `VALUE`, the first (up to 8) `stamp`'s.
    fn stamped(len: usize, stamp: u64) -> Vec<u8> {
        let mut v = VALUE[..len].to_vec();
        let n = len.min(8);
        v[..n].copy_from_slice(&stamp.to_le_bytes()[..n]);
        v
    }

    /// A key or value's bytes, whatever its type.
    trait Bytes {
        fn bytes(&self) -> Vec<u8>;
    }
    fn bytes(b: impl Bytes) -> Vec<u8> {
        b.bytes()
    }
    impl Bytes for u64 {
        fn bytes(&self) -> Vec<u8> {
            self.to_be_bytes().to_vec()
        }
    }
    impl Bytes for &[u8] {
        fn bytes(&self) -> Vec<u8> {
            self.to_vec()
        }
    }
    impl<const N: usize> Bytes for [u8; N] {
        fn bytes(&self) -> Vec<u8> {
            self.to_vec()
        }
    }
}
