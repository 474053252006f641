//! A simulated disk for redb: a `StorageBackend` over an in-memory buffer
//! that records every write, set_len and sync (SQLite's crash VFS, test6.c),
//! can fail the N-th write, sync or set_len (SQLite's ioerr loops), and
//! builds crash images: the bytes as of a sync, with each write made since
//! the previous sync kept, dropped or garbled.

#![allow(dead_code)]

use std::io;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

/// One recorded operation.
#[derive(Clone, Debug)]
pub enum Op {
    Write {
        offset: u64,
        data: Vec<u8>,
    },
    SetLen(u64),
    /// A completed sync: a barrier.
    Sync,
}

/// Which kind of operation to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Write,
    Sync,
    SetLen,
}

#[derive(Debug, Default)]
struct State {
    /// What reads see: every successful operation applied.
    bytes: Vec<u8>,
    /// The image every operation starts from.
    initial: Vec<u8>,
    log: Vec<Op>,
    /// Operations of each kind attempted so far.
    writes: u64,
    syncs: u64,
    set_lens: u64,
    /// Fail the operation of this kind with this (1-based) number.
    fail: Option<(Kind, u64)>,
    /// Whether the injected failure has happened.
    failed: bool,
    /// Refuse locks, so redb runs its single-process (exclusive) protocol.
    no_locks: bool,
}

/// A handle on the disk, shared by the backend given to redb and the test.
#[derive(Clone, Debug, Default)]
pub struct SimDisk(Arc<Mutex<State>>);

impl SimDisk {
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    /// Whether this disk refuses locks.
    pub fn has_no_locks(&self) -> bool {
        self.lock().no_locks
    }

    /// A disk holding `bytes`, as if synced.
    pub fn with_bytes(bytes: Vec<u8>) -> SimDisk {
        let disk = SimDisk::default();
        {
            let mut s = disk.lock();
            s.bytes = bytes.clone();
            s.initial = bytes;
        }
        disk
    }

    /// A disk that fails the `n`-th (1-based) operation of `kind`, and every
    /// later one of any kind (a disk that has failed stays failed, as redb
    /// expects after an I/O error).
    pub fn failing(kind: Kind, n: u64) -> SimDisk {
        let disk = SimDisk::default();
        disk.lock().fail = Some((kind, n));
        disk
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A disk whose backend supports no locks: redb then uses its exclusive
    /// commit protocol instead of the multi-writer one files use.
    pub fn without_locks(self) -> SimDisk {
        self.lock().no_locks = true;
        self
    }

    /// The backend to give redb.
    pub fn backend(&self) -> SimBackend {
        SimBackend(self.clone())
    }

    /// (writes, syncs, set_lens) attempted so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        let s = self.lock();
        (s.writes, s.syncs, s.set_lens)
    }

    pub fn failed(&self) -> bool {
        self.lock().failed
    }

    /// How many syncs completed.
    pub fn syncs_done(&self) -> usize {
        self.lock().log.iter().filter(|op| matches!(op, Op::Sync)).count()
    }

    /// The bytes reads see now (every successful write applied).
    pub fn current_bytes(&self) -> Vec<u8> {
        self.lock().bytes.clone()
    }

    pub fn log(&self) -> Vec<Op> {
        self.lock().log.clone()
    }

    /// The bytes as of the last completed sync: what survives a power loss
    /// when the disk drops every unsynced write.
    pub fn synced_bytes(&self) -> Vec<u8> {
        let s = self.lock();
        let last_sync = s.log.iter().rposition(|op| matches!(op, Op::Sync)).map_or(0, |i| i + 1);
        let mut bytes = s.initial.clone();
        for op in &s.log[..last_sync] {
            apply(&mut bytes, op);
        }
        bytes
    }

    /// Counts an operation of `kind`; an error if it is the one to fail.
    fn attempt(&self, kind: Kind) -> io::Result<MutexGuard<'_, State>> {
        let mut s = self.lock();
        let n = match kind {
            Kind::Write => {
                s.writes += 1;
                s.writes
            }
            Kind::Sync => {
                s.syncs += 1;
                s.syncs
            }
            Kind::SetLen => {
                s.set_lens += 1;
                s.set_lens
            }
        };
        if s.failed || s.fail == Some((kind, n)) {
            s.failed = true;
            return Err(io::Error::other(format!("injected {kind:?} failure")));
        }
        Ok(s)
    }
}

fn apply(bytes: &mut Vec<u8>, op: &Op) {
    match op {
        Op::Write { offset, data } => {
            let start = *offset as usize;
            let end = start + data.len();
            if bytes.len() < end {
                bytes.resize(end, 0);
            }
            bytes[start..end].copy_from_slice(data);
        }
        Op::SetLen(len) => bytes.resize(*len as usize, 0),
        Op::Sync => {}
    }
}

/// The `StorageBackend` redb sees.
#[derive(Debug)]
pub struct SimBackend(SimDisk);

impl SimBackend {
    fn locks(&self) -> Result<(), redb::BackendError> {
        if self.0.has_no_locks() { Err(redb::BackendError::Unsupported) } else { Ok(()) }
    }
}

impl redb::StorageBackend for SimBackend {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.lock().bytes.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let s = self.0.lock();
        let start = offset as usize;
        let src = s
            .bytes
            .get(start..start + out.len())
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut s = self.0.attempt(Kind::SetLen)?;
        let op = Op::SetLen(len);
        apply(&mut s.bytes, &op);
        s.log.push(op);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut s = self.0.attempt(Kind::Sync)?;
        s.log.push(Op::Sync);
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut s = self.0.attempt(Kind::Write)?;
        let op = Op::Write { offset, data: data.to_vec() };
        apply(&mut s.bytes, &op);
        s.log.push(op);
        Ok(())
    }

    // One process, one handle: every lock is granted, none conflicts. This
    // lets redb run its multi-writer protocol (the one caldb files use).
    fn try_lock_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.locks().map(|()| true)
    }

    fn try_lock_shared_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.locks().map(|()| true)
    }

    fn lock_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<(), redb::BackendError> {
        self.locks()
    }

    fn lock_shared_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<(), redb::BackendError> {
        self.locks()
    }

    fn unlock_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<(), redb::BackendError> {
        self.locks()
    }

    fn query_lock_range(&self, _: Bound<u64>, _: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.locks().map(|()| false)
    }
}

/// What happens to one unsynced write in a crash image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Kept,
    Dropped,
    /// Random bytes over the write's range (a torn write of a data page).
    Garbled,
    /// Each byte old or new (a torn write where single bytes are atomic,
    /// which is all redb assumes of its header).
    Torn,
}

/// The region redb's commit slots and god byte live in.
pub const HEADER_LEN: u64 = 512;

/// The crash image at sync point `k` (1-based: the crash hits while the
/// k-th sync is pending; `k` = number of syncs + 1 means after the last
/// recorded operation): every operation up to sync `k - 1` applied, then
/// each operation after it decided by `fate`.
pub fn crash_image(log: &[Op], initial: &[u8], k: usize, fate: &mut dyn FnMut(&Op) -> Fate, seed: u64) -> Vec<u8> {
    let mut bytes = initial.to_vec();
    let mut syncs = 0;
    let mut garbage = seed | 1;
    for op in log {
        if matches!(op, Op::Sync) {
            syncs += 1;
            if syncs == k {
                break;
            }
            continue;
        }
        if syncs + 1 < k {
            apply(&mut bytes, op);
            continue;
        }
        match (fate(op), op) {
            (Fate::Kept, _) => apply(&mut bytes, op),
            (Fate::Dropped, _) => {}
            (Fate::Garbled, Op::Write { offset, data }) => {
                let noise: Vec<u8> = data
                    .iter()
                    .map(|_| {
                        garbage ^= garbage << 13;
                        garbage ^= garbage >> 7;
                        garbage ^= garbage << 17;
                        garbage as u8
                    })
                    .collect();
                apply(&mut bytes, &Op::Write { offset: *offset, data: noise });
            }
            (Fate::Torn, Op::Write { offset, data }) => {
                let start = *offset as usize;
                let mut mixed = bytes.get(start..start + data.len()).map(<[u8]>::to_vec).unwrap_or_default();
                mixed.resize(data.len(), 0);
                for (i, b) in data.iter().enumerate() {
                    garbage ^= garbage << 13;
                    garbage ^= garbage >> 7;
                    garbage ^= garbage << 17;
                    if garbage & 1 == 1 {
                        mixed[i] = *b;
                    }
                }
                apply(&mut bytes, &Op::Write { offset: *offset, data: mixed });
            }
            // A set_len is kept or not; it cannot be garbled.
            (_, _) => {}
        }
    }
    bytes
}

/// Whether a write touches redb's header.
pub fn touches_header(op: &Op) -> bool {
    matches!(op, Op::Write { offset, .. } if *offset < HEADER_LEN)
}
