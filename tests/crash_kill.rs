//! R1, kill -9: the real `caldb` binary runs a 400-statement workload piped
//! on standard input against a file, and is killed with SIGKILL at a seeded
//! random moment. The file then reopens, CHECK finds nothing, and its dump
//! equals a clean in-memory run of the script prefix its history names.
//!
//! CI runs 20 kills; `CALDB_CRASH_KILLS=200` (scripts/crash-long.sh) runs
//! the long mode; `CALDB_CRASH_SEED` replays one seed.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/workload.rs"]
mod workload;

use bin::scratch_dir;
use caldb::{Database, OpenOptions};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use workload::{Reference, Rng, assert_committed_prefix};

const STATEMENTS: usize = 400;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Starts caldb on `db` with `script` on standard input; its output is
/// dropped, so a full pipe never holds it up before the kill.
fn start(db: &Path, script: &str) -> Child {
    let mut child = bin::command(&[db], None).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start caldb");
    bin::feed(&mut child, script.as_bytes());
    child
}

#[test]
fn after_every_kill_9_the_file_holds_exactly_a_committed_prefix_of_the_script() {
    let kills = env_u64("CALDB_CRASH_KILLS", 20);
    let seed = env_u64("CALDB_CRASH_SEED", 20_261_123);
    let statements = workload::workload(seed, STATEMENTS);
    let script = workload::script_text(&statements);
    let reference = Reference::new(&statements);
    reference.dump_every_prefix();
    let dir = scratch_dir("kill");

    // A clean run first: how long the whole script takes, and that the
    // binary and the in-memory reference agree on it.
    let full = dir.join("full.redb");
    let started = Instant::now();
    let status = start(&full, &script).wait().expect("wait for caldb");
    let run_time = started.elapsed();
    let all_succeed = reference.successes == statements.len();
    assert_eq!(status.code(), Some(if all_succeed { 0 } else { 1 }), "the clean run's exit status");
    let mut db = Database::open(&full, &OpenOptions::default()).expect("reopen the clean run");
    assert_eq!(assert_committed_prefix(&mut db, &reference, "clean run"), reference.final_count());
    drop(db);

    let mut rng = Rng::new(seed);
    let mut histories = Vec::new();
    let mut finished_first = 0;
    for kill in 0..kills {
        let file = dir.join(format!("kill-{kill}.redb"));
        let delay = Duration::from_micros(rng.below(run_time.as_micros() as u64 * 95 / 100).max(1));
        let mut child = start(&file, &script);
        std::thread::sleep(delay);
        if child.try_wait().expect("poll caldb").is_some() {
            finished_first += 1;
        }
        let _ = child.kill(); // SIGKILL
        child.wait().expect("reap caldb");
        let what = format!("seed {seed}, kill {kill} after {delay:?}");
        let mut db = Database::open(&file, &OpenOptions::default())
            .unwrap_or_else(|e| panic!("{what}: the killed file does not reopen: {e}"));
        histories.push(assert_committed_prefix(&mut db, &reference, &what));
        drop(db);
        let _ = std::fs::remove_file(&file);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mid_run = histories.iter().filter(|&&h| h > 0 && h < reference.final_count()).count();
    eprintln!(
        "kill -9: {kills} kills (seed {seed}, full run {run_time:?}); {mid_run} mid-workload, \
         {finished_first} after it had finished; history counts {histories:?} of {}",
        reference.final_count()
    );
    assert!(mid_run * 2 >= kills as usize, "too few kills landed in the middle of the workload");
}
