//! R3, I/O errors: the N-th write, sync or set_len fails, for every N a
//! clean run of a workload reaches (SQLite's ioerr loops). The statement
//! that meets the failure reports an error and nothing panics; later
//! statements are refused too; the bytes as of the last successful sync
//! reopen to exactly the statements that had succeeded, CHECK clean; the
//! one exception is a commit whose failure came after its sync (redb's
//! multi-writer protocol rewrites the header once more), which may have
//! landed, and whose error must say its outcome is unknown.

#[path = "support/simdisk.rs"]
mod simdisk;
#[path = "support/workload.rs"]
mod workload;

use caldb::Database;
use simdisk::{Kind, SimDisk};
use workload::{Reference, assert_committed_prefix};

const STATEMENTS: usize = 25;

/// The result of one run with a failure injected.
#[derive(Default)]
struct Tally {
    runs: usize,
    /// Runs where the failure hit while opening.
    at_open: usize,
    /// Runs where a statement met the failure and reported it.
    reported: usize,
    /// Runs where the failure never surfaced in a statement (it hit at close).
    at_close: usize,
    /// Runs where the failed commit was durable after all (the failure came
    /// after the sync): the error said its outcome was unknown.
    landed_after_failure: usize,
    /// Runs where the all-writes image (as if the OS had written what it
    /// was given) shows the failed statement as committed.
    failed_but_written: usize,
}

/// Runs the workload on a disk that fails the `n`-th operation of `kind`.
fn run_failing(kind: Kind, n: u64, reference: &Reference, tally: &mut Tally) {
    let what = format!("{kind:?} #{n}");
    let disk = SimDisk::failing(kind, n);
    tally.runs += 1;
    let mut db = match Database::open_backend(disk.backend()) {
        Ok(db) => db,
        Err(e) => {
            assert!(disk.failed(), "{what}: open fails without the injected failure: {e}");
            tally.at_open += 1;
            let mut reopened = Database::open_backend(SimDisk::with_bytes(disk.synced_bytes()).backend())
                .unwrap_or_else(|e| panic!("{what}: the synced bytes do not reopen: {e}"));
            assert_eq!(assert_committed_prefix(&mut reopened, reference, &what), 0);
            return;
        }
    };
    let mut failed_at = None;
    let mut uncertain = false;
    for (i, s) in reference.statements.iter().enumerate() {
        let before = disk.failed();
        let result = db.execute(s);
        if !before && disk.failed() {
            assert!(result.is_err(), "{what}: statement {} ({s}) met the failure but succeeded", i + 1);
            let message = result.unwrap_err().to_string();
            assert!(message.contains("injected") || message.contains("I/O"), "{what}: unclear error: {message}");
            failed_at = Some(i);
            uncertain = message.contains("may still have reached the disk");
            break;
        }
    }
    let Some(failed_at) = failed_at else {
        // The failure never came during a statement: it comes at close, or
        // the run did not reach it.
        drop(db);
        tally.at_close += 1;
        let mut reopened = Database::open_backend(SimDisk::with_bytes(disk.synced_bytes()).backend())
            .unwrap_or_else(|e| panic!("{what}: the synced bytes do not reopen: {e}"));
        assert_eq!(assert_committed_prefix(&mut reopened, reference, &what), reference.final_count());
        return;
    };
    tally.reported += 1;
    // A disk that failed stays failed: later statements are refused, not
    // run half-way, and nothing panics.
    for s in reference.statements.iter().skip(failed_at + 1).take(2) {
        assert!(db.execute(s).is_err(), "{what}: '{s}' succeeds after the disk failed");
    }
    drop(db);
    // What had succeeded is exactly what the synced bytes hold.
    let done = (0..=failed_at).rev().find(|&p| reference.boundary[p]).expect("the empty prefix is a boundary");
    let expected = reference.history[done];
    let mut reopened = Database::open_backend(SimDisk::with_bytes(disk.synced_bytes()).backend())
        .unwrap_or_else(|e| panic!("{what}: the synced bytes do not reopen: {e}"));
    let next = (failed_at + 1..reference.boundary.len()).find(|&p| reference.boundary[p]).unwrap_or(failed_at + 1);
    let h = assert_committed_prefix(&mut reopened, reference, &format!("{what}, synced bytes"));
    if h != expected {
        // Only a failed commit may have landed, and it must have said so.
        assert!(
            uncertain && h == reference.history[next],
            "{what}: the synced bytes hold {h} history rows, {expected} expected (statement {})",
            failed_at + 1
        );
        tally.landed_after_failure += 1;
    }
    // The bytes as if the OS had written everything it accepted: still a
    // committed prefix, at most the failed statement more.
    let mut written = Database::open_backend(SimDisk::with_bytes(disk.current_bytes()).backend())
        .unwrap_or_else(|e| panic!("{what}: the written bytes do not reopen: {e}"));
    let h = assert_committed_prefix(&mut written, reference, &format!("{what}, written bytes"));
    assert!(h == expected || h == reference.history[next], "{what}: written bytes hold {h} history rows");
    if h != expected {
        tally.failed_but_written += 1;
    }
}

fn every_failure_point(kind: Kind) -> Tally {
    let statements = workload::workload(21, STATEMENTS);
    let reference = Reference::new(&statements);
    let clean = SimDisk::new();
    let mut db = Database::open_backend(clean.backend()).expect("open");
    for s in &statements {
        let _ = db.execute(s);
    }
    drop(db);
    let (writes, syncs, set_lens) = clean.counts();
    let total = match kind {
        Kind::Write => writes,
        Kind::Sync => syncs,
        Kind::SetLen => set_lens,
    };
    let mut tally = Tally::default();
    for n in 1..=total + 1 {
        run_failing(kind, n, &reference, &mut tally);
    }
    eprintln!(
        "{kind:?}: {} failure points, {} at open, {} reported by a statement, {} at close or never; \
         {} failed statements whose bytes had been written, {} durable despite the error",
        tally.runs, tally.at_open, tally.reported, tally.at_close, tally.failed_but_written, tally.landed_after_failure
    );
    assert!(tally.reported > 0 || kind == Kind::SetLen, "no statement ever met a {kind:?} failure");
    tally
}

#[test]
fn a_failing_write_at_every_point_is_reported_and_leaves_a_committed_prefix() {
    every_failure_point(Kind::Write);
}

#[test]
fn a_failing_sync_at_every_point_is_reported_and_leaves_a_committed_prefix() {
    let tally = every_failure_point(Kind::Sync);
    assert!(tally.runs >= STATEMENTS / 2);
}

#[test]
fn a_failing_set_len_at_every_point_is_reported_and_leaves_a_committed_prefix() {
    every_failure_point(Kind::SetLen);
}
