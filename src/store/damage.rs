//! Damage in a file, as the store meets it: the latch that, once damage
//! is found, refuses every commit but REPAIR's (and its record in `meta`
//! for the next open); redb's panics and "corrupted" errors turned into
//! the damaged error of the table they were reading; and redb's page
//! check of a file opened read-only, on an overlay that keeps its writes
//! in memory.

use super::tables::{DAMAGED_KEY, META};
use super::{T, envelope, overlay};
use crate::error::{Error, Result};
use redb::ReadableTable;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// The first damage found in a file, shared by a store and its
/// transactions: once set, no transaction but REPAIR's commits, and a
/// writable store records it in `meta` (`DAMAGED_KEY`) when it closes, so
/// the next process to open the file refuses writes too.
#[derive(Default)]
pub(super) struct Latch {
    pub(super) found: AtomicBool,
    pub(super) first: std::sync::Mutex<Option<String>>,
    /// Whether the whole file was verified before a first commit
    /// (`WriteTx::verify_whole_once`).
    pub(super) verified: AtomicBool,
}

/// A file up to this size is verified whole (every entry's checksum, and
/// redb's page check) as the first write transaction of the process that
/// opened it begins: one read of the whole file. A larger one is verified where it
/// is read, and by CHECK, which records what it finds for the next open.
pub(super) const VERIFY_WHOLE_UP_TO: u64 = 64 << 20;

impl Latch {
    /// Latches `e` if it is damage.
    pub(super) fn note(&self, e: &Error) {
        if e.is_damage() {
            let mut first = self.first.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            first.get_or_insert_with(|| e.to_string().trim_start_matches("damaged: ").to_string());
            self.found.store(true, Ordering::SeqCst);
        }
    }

    pub(super) fn get(&self) -> Option<String> {
        if !self.found.load(Ordering::SeqCst) {
            return None;
        }
        self.first.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub(super) fn clear(&self) {
        *self.first.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self.found.store(false, Ordering::SeqCst);
    }
}

/// Runs `f` (redb reading or writing table `t` near `key`), turning a
/// panic of redb's on a damaged page into the damaged error it means.
pub(super) fn guarded<X>(t: T, key: &[u8], f: impl FnOnce() -> Result<X>) -> Result<X> {
    // redb's panic text ("entered unreachable code", an index out of
    // range) means nothing to a user: the table and the key do.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(envelope::damaged(t, key, "a page of the table cannot be read")))
}

/// A redb error met reading or writing `t` near `key`: damage when redb
/// says the file is corrupted.
pub(super) fn redb_error(t: T, key: &[u8], e: impl Into<redb::StorageError>) -> Error {
    match e.into() {
        redb::StorageError::Corrupted(m) => envelope::damaged(t, key, format!("redb: {m}")),
        redb::StorageError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            envelope::damaged(t, key, "a page lies past the end of the file (the file was cut short)")
        }
        e => Error::storage(e),
    }
}

/// An error opening table `t` of a file whose format version is this
/// caldb's: its stored definition not being the one this format writes
/// (key or value type and width) is damage too.
pub(super) fn table_error(t: T, e: redb::TableError) -> Error {
    match e {
        redb::TableError::Storage(e) => redb_error(t, b"", e),
        redb::TableError::TableTypeMismatch { .. }
        | redb::TableError::TableIsMultimap(_)
        | redb::TableError::TableIsNotMultimap(_)
        | redb::TableError::TypeDefinitionChanged { .. } => {
            envelope::damaged(t, b"", format!("the table's stored definition is not this format's ({e})"))
        }
        e => Error::storage(e),
    }
}

/// Writes `first` under `meta`'s `DAMAGED_KEY` unless something is there;
/// whether it is there now, or another writer holds the file (nothing to
/// retry then).
pub(super) fn record_damage(db: &redb::Database, first: &str) -> bool {
    let recorded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let tx = match db.try_begin_write() {
            Ok(tx) => tx,
            Err(redb::TransactionError::WouldBlock) => return true,
            Err(_) => return false,
        };
        let put = tx.open_table(META).map(|mut meta| {
            if meta.get(DAMAGED_KEY).ok().flatten().is_some() {
                return Some(false);
            }
            let mut sealed = Vec::new();
            envelope::seal_into(T::Meta, DAMAGED_KEY, first.as_bytes(), &mut sealed);
            meta.insert(DAMAGED_KEY, &sealed[..]).ok().map(|_| true)
        });
        match put {
            Ok(Some(true)) => tx.commit().is_ok(),
            Ok(Some(false)) => true,
            _ => false,
        }
    }));
    recorded.unwrap_or(false)
}

/// redb's page check of a file opened read-only: on an `Overlay`, which
/// keeps what the check writes in memory. Damage found is an error (there
/// is nothing it could repair). The overlay holds none of redb's locks, so
/// a check during which another process wrote the file (its size or time
/// changed) read a torn file: it is run again, and after three such runs
/// the pages go unchecked (every record's checksum was verified).
pub(super) fn check_pages_read_only(path: &Path) -> Result<bool> {
    let stamp = || std::fs::metadata(path).and_then(|m| Ok((m.len(), m.modified()?))).ok();
    for _ in 0..3 {
        let before = stamp();
        let checked = check_pages_once(path);
        if before.is_some() && stamp() == before {
            return checked;
        }
    }
    Ok(true)
}

/// The page cache of the read-only page check: it reads each page once.
const PAGE_CHECK_CACHE_BYTES: usize = 16 << 20;

fn check_pages_once(path: &Path) -> Result<bool> {
    let overlay = overlay::Overlay::open(path).map_err(Error::storage)?;
    let corrupted = |m: String| Error::damaged(format!("redb's check of the file's pages: {m}"));
    guarded(T::Meta, b"", || {
        // Not redb's default cache (1 GiB), which keeps every page the
        // check reads: CHECK and REPAIR then peaked at 255 MB on the 1M
        // database, against P7's 256 MB.
        let mut builder = redb::Builder::new();
        builder.set_cache_size(PAGE_CHECK_CACHE_BYTES);
        let mut db = builder.create_with_backend(overlay).map_err(|e| match e {
            redb::DatabaseError::Storage(redb::StorageError::Corrupted(m)) => corrupted(m),
            e => Error::damaged(format!("redb's check of the file's pages: {e}")),
        })?;
        match db.check_integrity() {
            Ok(true) => Ok(true),
            Ok(false) => Err(corrupted("found damage, which -readonly does not repair".into())),
            Err(redb::DatabaseError::Storage(redb::StorageError::Corrupted(m))) => Err(corrupted(m)),
            Err(e) => Err(Error::storage(e)),
        }
    })
}

/// A file whose pages redb cannot read (it panicked opening it).
pub(super) fn damaged_pages(path: &Path) -> Error {
    Error::damaged(format!("{}: a page of the file cannot be read", path.display()))
}
