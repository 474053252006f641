//! R2, power loss: a 50-statement workload runs on a simulated disk that
//! records every write, set_len and sync. At every sync point, crash images
//! are built in which each write since the previous sync is kept, dropped
//! or garbled (seeded choices, several variants per point), as SQLite's
//! crash VFS does. Every image must open to a committed prefix: CHECK clean,
//! the dump equal to a clean run of the prefix its history names, and no
//! statement whose commit had returned before the previous sync lost.

#[path = "support/simdisk.rs"]
mod simdisk;
#[path = "support/workload.rs"]
mod workload;

use caldb::Database;
use simdisk::{Fate, Op, SimDisk, crash_image, touches_header};
use workload::{Reference, Rng, assert_committed_prefix};

/// The workload run on a recording disk: the log, and how many syncs had
/// completed after each prefix of the script (`done[p]`).
struct Recorded {
    log: Vec<Op>,
    done: Vec<usize>,
    reference: Reference,
    exclusive: bool,
}

fn record(seed: u64, n: usize, exclusive: bool) -> Recorded {
    let statements = workload::workload(seed, n);
    let reference = Reference::new(&statements);
    let disk = if exclusive { SimDisk::new().without_locks() } else { SimDisk::new() };
    let mut db = Database::open_backend(disk.backend()).expect("open on the simulated disk");
    let mut done = vec![disk.syncs_done()];
    for s in &statements {
        let _ = db.execute(s);
        done.push(disk.syncs_done());
    }
    // The real shell exits without checking anything; closing is one more
    // crash point.
    drop(db);
    Recorded { log: disk.log(), done, reference, exclusive }
}

impl Recorded {
    fn syncs(&self) -> usize {
        self.log.iter().filter(|op| matches!(op, Op::Sync)).count()
    }

    /// History rows a crash while sync `k` is pending must keep (those of
    /// statements that returned by sync `k - 1`) and may show at most.
    fn bounds(&self, k: usize) -> (i64, i64) {
        let r = &self.reference;
        let lower = (0..self.done.len())
            .filter(|&p| self.done[p] < k && r.boundary[p])
            .map(|p| r.history[p])
            .max()
            .unwrap_or(0);
        let upper = (0..self.done.len())
            .find(|&p| self.done[p] >= k && r.boundary[p])
            .map_or(r.final_count(), |p| r.history[p]);
        (lower, upper)
    }
}

/// The fate of each unsynced operation in variant `v` at a sync point.
/// Variants 0 and 1 drop and keep everything; 2..=5 choose per write
/// (seeded); the header is only ever torn byte by byte, as redb assumes
/// single-byte atomic writes of it.
fn fate_for(variant: u64, rng: &mut Rng) -> impl FnMut(&Op) -> Fate + '_ {
    move |op| match variant {
        0 => Fate::Dropped,
        1 => Fate::Kept,
        _ if touches_header(op) => *rng.pick(&[Fate::Kept, Fate::Dropped, Fate::Torn]),
        _ => *rng.pick(&[Fate::Kept, Fate::Dropped, Fate::Garbled]),
    }
}

const VARIANTS: u64 = 6;

/// A disk holding a crash image, with the locking of the recorded run.
fn image_disk(rec: &Recorded, image: Vec<u8>) -> SimDisk {
    let disk = SimDisk::with_bytes(image);
    if rec.exclusive { disk.without_locks() } else { disk }
}

fn check_every_sync_point(seed: u64, exclusive: bool) -> usize {
    let rec = record(seed, 50, exclusive);
    let syncs = rec.syncs();
    assert!(syncs >= 30, "expected about a sync per commit, saw {syncs}");
    let mut images = 0;
    for k in 1..=syncs + 1 {
        let (lower, upper) = rec.bounds(k);
        for v in 0..VARIANTS {
            let mut rng = Rng::new(seed * 1_000_003 + (k as u64) * 31 + v);
            let image = crash_image(&rec.log, &[], k, &mut fate_for(v, &mut rng), seed ^ k as u64 ^ (v << 32));
            let what = format!("seed {seed}, sync point {k} of {syncs}, variant {v}");
            let mut db = Database::open_backend(image_disk(&rec, image).backend())
                .unwrap_or_else(|e| panic!("{what}: the crash image does not open: {e}"));
            let h = assert_committed_prefix(&mut db, &rec.reference, &what);
            assert!(
                (lower..=upper).contains(&h),
                "{what}: {h} history rows, but commits that had returned need {lower} and at most {upper} can exist"
            );
            images += 1;
        }
    }
    images
}

#[test]
fn every_crash_image_at_every_sync_point_opens_to_a_committed_prefix() {
    let images = check_every_sync_point(11, false);
    eprintln!("crash images checked (multi-writer protocol, as files use): {images}");
    assert!(images >= 30 * VARIANTS as usize);
}

#[test]
fn every_crash_image_of_redb_exclusive_protocol_opens_to_a_committed_prefix_too() {
    let images = check_every_sync_point(12, true);
    eprintln!("crash images checked (exclusive protocol): {images}");
}

/// Out of redb's model: random bytes over the header's commit slots and
/// god byte while a commit is pending. redb assumes single-byte atomic,
/// power-safe header writes, so such an image may be refused; what must
/// hold is that it is never misread: it opens to a committed prefix or
/// fails with an error, never a panic.
#[test]
fn a_garbled_header_is_refused_or_read_as_a_committed_prefix_never_misread() {
    let rec = record(13, 50, false);
    let syncs = rec.syncs();
    let (mut opened, mut refused) = (0, 0);
    for k in 1..=syncs + 1 {
        let mut fate = |op: &Op| if touches_header(op) { Fate::Garbled } else { Fate::Kept };
        let image = crash_image(&rec.log, &[], k, &mut fate, k as u64 * 7919);
        let what = format!("garbled header at sync point {k}");
        let disk = image_disk(&rec, image);
        let opened_db = std::panic::catch_unwind(|| Database::open_backend(disk.backend()))
            .unwrap_or_else(|_| panic!("{what}: opening panics"));
        match opened_db {
            Ok(mut db) => {
                assert_committed_prefix(&mut db, &rec.reference, &what);
                opened += 1;
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                refused += 1;
            }
        }
    }
    eprintln!("garbled headers: {opened} opened to a committed prefix, {refused} refused with an error");
}
