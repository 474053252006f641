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
use std::time::{Duration, Instant};

/// The thread counts of the rows.
pub const THREADS: [usize; 3] = [1, 8, 64];

/// CONNECTs per second through `Shared` from `threads` threads: `n`
/// CONNECTs of the deployed devices, thread `t` taking every `threads`-th.
pub fn caldb_rate(dir: &Path, n: u64, threads: usize) -> f64 {
    let path = dir.join("p1-threads.redb");
    drop(generate::deployed(&path, n).expect("a deployed database"));
    let shared = Shared::open(&path).expect("open shared");
    assert!(shared.is_exclusive(), "no other process has the bench file open");
    let rate = storm(threads, n, |i| {
        let s = format!("CONNECT {} AS {} TO h1", generate::device(i), generate::user(i));
        let shared = shared.clone();
        move || {
            shared.execute(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
        }
    });
    drop(shared);
    std::fs::remove_file(&path).ok();
    rate
}

/// The same through SQLite: one connection per thread.
pub fn sqlite_rate(dir: &Path, n: u64, threads: usize, start: i64) -> f64 {
    let path = dir.join("p1-threads.sqlite");
    {
        let mut lite = Sqlite::create(&path, true, start).expect("sqlite");
        lite.begin().expect("begin");
        for i in 0..n {
            lite.create_device(&generate::device(i)).expect("create device");
        }
        lite.commit().expect("commit");
    }
    let t = Instant::now();
    std::thread::scope(|scope| {
        for k in 0..threads {
            let path = &path;
            scope.spawn(move || {
                let mut lite = Sqlite::open(path, Duration::from_secs(60)).expect("sqlite connection");
                for i in (k as u64..n).step_by(threads) {
                    lite.connect(&generate::device(i), &generate::user(i)).expect("sqlite connect");
                }
            });
        }
    });
    let rate = n as f64 / t.elapsed().as_secs_f64();
    for p in [path.clone(), path.with_extension("sqlite-wal"), path.with_extension("sqlite-shm")] {
        std::fs::remove_file(p).ok();
    }
    rate
}

/// Runs `n` calls from `threads` threads (call `i` made by `work(i)`,
/// thread `t` making every `threads`-th); calls per second.
fn storm<F: FnOnce() + Send>(threads: usize, n: u64, work: impl Fn(u64) -> F + Sync) -> f64 {
    let t = Instant::now();
    std::thread::scope(|scope| {
        for k in 0..threads {
            let work = &work;
            scope.spawn(move || {
                for i in (k as u64..n).step_by(threads) {
                    work(i)();
                }
            });
        }
    });
    n as f64 / t.elapsed().as_secs_f64()
}

/// The P3 lifecycle's operations on a `Shared` handle: each statement its
/// own durable transaction, one sync each in redb's exclusive mode.
pub struct SharedEngine(pub Shared);

impl SharedEngine {
    pub fn exec(&self, s: &str) -> Option<caldb::ResultSet> {
        self.0.execute(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
}
