//! P1 from many threads (issue 19): durable CONNECTs, each its own
//! transaction, from 1, 8 and 64 threads of one process, through
//! `caldb::Shared` (group commit, the file held in redb's exclusive mode)
//! and through SQLite (WAL, synchronous=FULL, one connection per thread,
//! the busy timeout for the write lock), beside the disk's fdatasync rate;
//! and P3's durable lifecycle through `Shared`.

use super::generate;
use super::sqlite::Sqlite;
use caldb::Shared;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The thread counts of the rows.
pub const THREADS: [usize; 3] = [1, 8, 64];

/// Blocks each engine's CONNECTs are run in, alternating caldb and SQLite:
/// the disk's sync rate swings with the other work on this machine, and
/// alternating small blocks gives both engines the same disk.
pub const BLOCKS: u64 = 10;

/// How many times SQLite's CONNECTs caldb runs in each block: a block of
/// 300 from 64 threads is about 5 a thread, and starting and ending the
/// threads (the first group of one, the last stragglers) would weigh on a
/// rate of 20,000/s; SQLite's 64-thread rate (under 100/s) is its write
/// lock's, not its blocks'.
pub const CALDB_SCALE: u64 = 10;

/// One run of `rates`: CONNECTs per second through `Shared`, through
/// SQLite and through redb alone (`floor::ThreadedConnects`, the same
/// group commit without caldb's statement work); the process's CPU, user
/// and system of all threads, per CONNECT, in microseconds, for caldb and
/// for redb alone; and redb alone's mean group.
pub struct Rates {
    pub caldb: f64,
    pub sqlite: f64,
    pub alone: f64,
    pub caldb_cpu: f64,
    pub alone_cpu: f64,
    pub alone_group: f64,
}

/// P1 from `threads` threads each: `n` CONNECTs of deployed devices for
/// SQLite and `CALDB_SCALE` times as many for caldb and for redb alone, in
/// `BLOCKS` alternating blocks (caldb, redb alone, SQLite), thread `t` of a
/// block taking every `threads`-th.
pub fn rates(dir: &Path, n: u64, threads: usize, start: i64) -> Rates {
    let (cpath, spath) = (dir.join("p1-threads.redb"), dir.join("p1-threads.sqlite"));
    drop(generate::deployed(&cpath, n * CALDB_SCALE).expect("a deployed database"));
    let shared = Shared::open(&cpath).expect("open shared");
    assert!(shared.is_exclusive(), "no other process has the bench file open");
    let limit = super::floor::ThreadedConnects::deployed(&dir.join("p1-threads-alone.redb"), n * CALDB_SCALE);
    {
        let mut lite = Sqlite::create(&spath, true, start).expect("sqlite");
        lite.begin().expect("begin");
        for i in 0..n {
            lite.create_device(&generate::device(i)).expect("create device");
        }
        lite.commit().expect("commit");
    }
    let conns: Vec<Mutex<Sqlite>> =
        (0..threads).map(|_| Mutex::new(Sqlite::open(&spath, Duration::from_secs(60)).expect("sqlite"))).collect();
    let (mut caldb, mut alone, mut lite) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut caldb_cpu, mut alone_cpu) = (0.0, 0.0);
    let (per, per_caldb) = (n / BLOCKS, n * CALDB_SCALE / BLOCKS);
    for b in 0..BLOCKS {
        let block = b * per..(b + 1) * per;
        let scaled = b * per_caldb..(b + 1) * per_caldb;
        let before = super::floor::cpu_seconds();
        caldb += storm(threads, scaled.clone(), |_, i| {
            let s = format!("CONNECT {} AS {} TO h1", generate::device(i), generate::user(i));
            shared.execute(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
        });
        let between = super::floor::cpu_seconds();
        alone += storm(threads, scaled, |_, i| limit.connect(i));
        caldb_cpu += between - before;
        alone_cpu += super::floor::cpu_seconds() - between;
        lite += storm(threads, block, |k, i| {
            let mut conn = conns[k].lock().expect("a connection per thread");
            conn.connect(&generate::device(i), &generate::user(i)).expect("sqlite connect");
        });
    }
    let alone_group = (per_caldb * BLOCKS) as f64 / limit.commits() as f64;
    drop((shared, conns, limit));
    for p in [cpath, spath.clone(), spath.with_extension("sqlite-wal"), spath.with_extension("sqlite-shm")] {
        std::fs::remove_file(p).ok();
    }
    let (done, done_caldb) = ((per * BLOCKS) as f64, (per_caldb * BLOCKS) as f64);
    Rates {
        caldb: done_caldb / caldb.as_secs_f64(),
        sqlite: done / lite.as_secs_f64(),
        alone: done_caldb / alone.as_secs_f64(),
        caldb_cpu: caldb_cpu * 1e6 / done_caldb,
        alone_cpu: alone_cpu * 1e6 / done_caldb,
        alone_group,
    }
}

/// Runs the calls of `range` from `threads` threads, thread `k` making
/// `work(k, i)` for every `threads`-th `i`; how long they took.
fn storm(threads: usize, range: std::ops::Range<u64>, work: impl Fn(usize, u64) + Sync) -> Duration {
    let t = Instant::now();
    std::thread::scope(|scope| {
        for k in 0..threads {
            let (work, range) = (&work, range.clone());
            scope.spawn(move || {
                for i in (range.start + k as u64..range.end).step_by(threads) {
                    work(k, i);
                }
            });
        }
    });
    t.elapsed()
}

/// Serves `path` through `Shared` from 8 threads, each creating and
/// connecting devices from `first` on, each statement durable, until the
/// process is killed (P6 for a serving process).
pub fn write_until_killed(path: &Path, first: u64) -> ! {
    let shared = Shared::open(path).expect("open shared");
    std::thread::scope(|scope| {
        for k in 0..8u64 {
            let shared = &shared;
            scope.spawn(move || {
                for i in (first + k..).step_by(8) {
                    let d = generate::device(i);
                    for s in [format!("CREATE DEVICE {d}"), format!("CONNECT {d} AS {} TO h1", generate::user(i))] {
                        shared.execute(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
                    }
                }
            });
        }
    });
    unreachable!("the writers never stop")
}

/// The P3 lifecycle's operations on a `Shared` handle: each statement its
/// own durable transaction, one sync each in redb's exclusive mode.
pub struct SharedEngine(pub Shared);

impl SharedEngine {
    pub fn exec(&self, s: &str) -> Option<caldb::ResultSet> {
        self.0.execute(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
}
