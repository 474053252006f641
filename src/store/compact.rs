//! Giving a file's free space back (`caldb -compact FILE`, issue 19 item
//! 5). redb grows a file ahead of use (doubling it while it is under a
//! gigabyte) and frees the pages a transaction's copy-on-write replaced,
//! to reuse them, but never gives either back on its own unless the end of
//! the file is free: a file built in big transactions (an IMPORT, a
//! protocol-built load) ends up nearly twice its pages. Compaction is
//! redb's own (`Database::compact`): it moves the pages in use to the
//! front of the file, one committed transaction at a time, so a crash
//! leaves a sound file at any point, then cuts the free tail off. Not a
//! record changes; the file holds the same entries, byte for byte.

use super::{Handle, Store, T};
use crate::error::{Error, Result};
use std::path::Path;

/// A file's length before and after compaction, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compacted {
    /// The file's length before.
    pub before: u64,
    /// The file's length after.
    pub after: u64,
}

/// Compacts the caldb file at `path` in place (`caldb -compact FILE`):
/// its pages in use moved to the front and the free space cut off, every
/// entry unchanged. The file must exist and be caldb's, of this format;
/// another process with a transaction open on it makes this an error.
/// The lengths are the file's before it is opened and after it is closed.
pub fn compact(path: &Path) -> Result<Compacted> {
    let length = || std::fs::metadata(path).map(|m| m.len());
    // Opening a missing or empty file would make a new database of it.
    let before = match length() {
        Err(_) => return Err(Error::plan(format!("'{}' does not exist", path.display()))),
        Ok(0) => return Err(Error::plan(format!("'{}' is empty: no database to compact", path.display()))),
        Ok(n) => n,
    };
    Store::open(path)?.compact()?;
    Ok(Compacted { before, after: length().map_err(Error::storage)? })
}

impl Store {
    /// Compacts the file in place: its pages moved to the front and its
    /// free tail cut off. Needs the file to itself: another process with
    /// a transaction open on it makes this an error, and nothing moves.
    /// Refused on a file that holds damage (REPAIR it first, or restore
    /// it), as every write but REPAIR's is.
    pub fn compact(&mut self) -> Result<()> {
        let shown = self.path.as_ref().map(|p| p.display().to_string());
        let shown = shown.ok_or_else(|| Error::plan("an in-memory database has no file to compact"))?;
        if let Some(first) = self.damage() {
            return Err(Error::damaged(format!(
                "'{shown}' holds damage, so it is not compacted: {first}; run REPAIR, or restore it from a BACKUP"
            )));
        }
        let Handle::Rw(db) = &mut *self.db else {
            return Err(Error::plan(format!("'{shown}' is open read-only: it cannot be compacted")));
        };
        let damage = self.damage.clone();
        super::damage::guarded(T::Meta, b"", || {
            while db.compact().map_err(|e| refused(&shown, e))? {}
            Ok(())
        })
        .inspect_err(|e| damage.note(e))
    }
}

/// Why redb would not compact the file.
fn refused(shown: &str, e: redb::CompactionError) -> Error {
    match e {
        redb::CompactionError::TransactionInProgress => Error::Storage(format!(
            "'{shown}' is in use by another process (a transaction is open on it): compact it when no other \
             program has it open"
        )),
        redb::CompactionError::Storage(redb::StorageError::Corrupted(m)) => {
            Error::damaged(format!("redb's compaction of '{shown}' met a damaged page: {m}"))
        }
        other => Error::Storage(format!("'{shown}' could not be compacted: {other}")),
    }
}
