//! P1 from many threads alone, for profiling: `n` devices deployed, then
//! `n` durable CONNECTs through `caldb::Shared` (group commit, the file
//! held in redb's exclusive mode) from `threads` threads, as
//! `benches/table.rs`'s `p1t` rows run them, but in one storm and with
//! the process's CPU time beside the wall time (from `/proc/self/stat`),
//! so the CPU a durable CONNECT costs can be read on a loaded machine:
//!
//! ```text
//! cargo build --release --example p1_threads
//! target/release/examples/p1_threads /tmp/p1.redb 30000 64
//! perf record -g target/release/examples/p1_threads /tmp/p1.redb 30000 64
//! ```
//!
//! With `--redb-alone`, the same storm is redb alone through caldb's group
//! commit (`floor::ThreadedConnects`, the table's threaded P1 limit): the
//! threads' hand-offs without caldb's statement work; then the same
//! CONNECTs from one thread, as many to a commit as there are threads.

#[path = "../benches/common/floor.rs"]
#[allow(dead_code)]
mod floor;
#[path = "../benches/common/gen.rs"]
mod generate;
#[path = "../benches/common/lifecycle.rs"]
#[allow(dead_code)]
mod lifecycle;

use std::path::Path;
use std::time::Instant;

/// The process's user and system CPU seconds so far.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis: state is field 3,
    // utime field 14, stime field 15 (clock ticks, 100 per second here).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let field = |n: usize| rest.split_whitespace().nth(n - 3).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    (field(14) / 100.0, field(15) / 100.0)
}

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    let alone = args.iter().any(|a| a == "--redb-alone");
    args.retain(|a| a != "--redb-alone");
    if args.len() < 4 {
        eprintln!("usage: p1_threads FILE N THREADS [--redb-alone]");
        std::process::exit(2);
    }
    let path = std::path::PathBuf::from(&args[1]);
    let n: u64 = args[2].parse().expect("N is a number");
    let threads: u64 = args[3].parse().expect("THREADS is a number");
    if alone {
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        let (rate, cpu, mean) = grouped_connects_threaded(dir, n, threads);
        println!(
            "redb alone: {n} durable CONNECTs from {threads} threads: {rate:.0}/s, groups of {mean:.1}; CPU {cpu:.1} us per CONNECT"
        );
        let (rate, cpu) = floor::grouped_connects(dir, n, threads);
        println!(
            "redb alone: {n} durable CONNECTs from one thread, {threads} a commit: {rate:.0}/s; CPU {cpu:.1} us per CONNECT"
        );
        return;
    }
    let _ = std::fs::remove_file(&path);
    drop(generate::deployed(&path, n).expect("the deployment and its devices"));
    let shared = caldb::Shared::open(&path).expect("open shared");
    assert!(shared.is_exclusive(), "no other process has the file open");
    let (u0, s0) = cpu_seconds();
    let t = Instant::now();
    std::thread::scope(|scope| {
        for k in 0..threads {
            let shared = &shared;
            scope.spawn(move || {
                for i in (k..n).step_by(threads as usize) {
                    let s = format!("CONNECT {} AS {} TO h1", generate::device(i), generate::user(i));
                    shared.execute(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
                }
            });
        }
    });
    let took = t.elapsed().as_secs_f64();
    let (u1, s1) = cpu_seconds();
    let (user, sys) = (u1 - u0, s1 - s0);
    let per = |secs: f64| secs * 1e6 / n as f64;
    println!(
        "{n} durable CONNECTs from {threads} threads in {took:.3} s: {:.0}/s; CPU {user:.2} s user + {sys:.2} s system = {:.1} + {:.1} us per CONNECT",
        n as f64 / took,
        per(user),
        per(sys)
    );
    drop(shared);
    let _ = std::fs::remove_file(&path);
}

/// `ThreadedConnects` in one storm of `n` CONNECTs from `threads` threads,
/// thread `k` taking every `threads`-th device: CONNECTs per second, the
/// process's CPU per CONNECT in microseconds and the mean group.
fn grouped_connects_threaded(dir: &Path, n: u64, threads: u64) -> (f64, f64, f64) {
    let limit = floor::ThreadedConnects::deployed(&dir.join("floor-threaded.redb"), n);
    let (cpu, t) = (floor::cpu_seconds(), Instant::now());
    std::thread::scope(|scope| {
        for k in 0..threads {
            let limit = &limit;
            scope.spawn(move || (k..n).step_by(threads as usize).for_each(|j| limit.connect(j)));
        }
    });
    let (took, cpu) = (t.elapsed().as_secs_f64(), floor::cpu_seconds() - cpu);
    (n as f64 / took, cpu * 1e6 / n as f64, n as f64 / limit.commits() as f64)
}
