//! Giving a file's free space back (`caldb -compact FILE`, issue 19 item
//! 5). redb grows a file ahead of use (doubling it while it is under a
//! gigabyte) and frees the pages a transaction's copy-on-write replaced,
//! to reuse them, but never gives either back on its own unless the end of
//! the file is free: a file built in big transactions (an IMPORT, a
//! protocol-built load) ends up nearly twice its pages, and leaves that
//! random keys split stay about two thirds full.
//!
//! Compaction rewrites the file: with the file held alone (redb's
//! exclusive mode: no other process has it open, none can open it), every
//! entry is copied in key order, as BACKUP copies, into a temporary file
//! beside it, which is synced and renamed over it. Leaves written in key
//! order are full; the file is the old one or the whole new one at any
//! crash. Where the copy cannot be (no room for a second copy, say, or a
//! file with other hard links, which a rename would part from it), redb's
//! own compaction moves the pages in use to the front in place, one
//! committed transaction at a time, and cuts the free tail off. Either
//! way not an entry changes: `.dump` is the same, byte for byte.

use super::{Handle, Sharing, Store, T};
use crate::error::{Error, Result};
use crate::interrupt::{InterruptHandle, ProgressFn};
use crate::safe_write::Temp;
use std::path::Path;

/// A file's length before and after compaction, in bytes, and how it was
/// compacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compacted {
    /// The file's length before.
    pub before: u64,
    /// The file's length after.
    pub after: u64,
    /// Why the file was compacted in place instead of rewritten, if it was.
    pub in_place: Option<String>,
}

/// Compacts the caldb file at `path` (`caldb -compact FILE`): rewritten in
/// key order, or its pages moved to the front in place where it cannot be
/// (`Compacted::in_place` says why); every entry unchanged. The file must
/// exist and be caldb's, of this format, and no other process may have it
/// open. The lengths are the file's before it is opened and after.
pub fn compact(path: &Path) -> Result<Compacted> {
    compact_watched(path, &InterruptHandle::default(), None)
}

/// `compact`, stopped by `interrupt` (a shell's Ctrl-C), with the copy's
/// reading reported to `progress`: interrupted while the copy is written,
/// the copy is removed and the file is as it was; in place, it stops after
/// the step under way, and the file is sound, partly compacted.
pub fn compact_watched(path: &Path, interrupt: &InterruptHandle, progress: Option<ProgressFn>) -> Result<Compacted> {
    crate::interrupt::watch(interrupt, &mut { progress }, || compact_file(path))
}

fn compact_file(path: &Path) -> Result<Compacted> {
    let length = |p: &Path| std::fs::metadata(p).map(|m| m.len());
    // Opening a missing or empty file would make a new database of it.
    let before = match length(path) {
        Err(_) => return Err(Error::plan(format!("'{}' does not exist", path.display()))),
        Ok(0) => return Err(Error::plan(format!("'{}' is empty: no database to compact", path.display()))),
        Ok(n) => n,
    };
    let shown = path.display().to_string();
    let mut store = Store::open_as(path, Sharing::Exclusive).map_err(|e| in_use(&shown, e))?;
    store.refuse_damage(&shown)?;
    // The rename goes over the file itself, not over a link to it.
    let file = std::fs::canonicalize(path).map_err(Error::storage)?;
    let in_place = match other_links(&file) {
        Some(why) => Some(why),
        None => match store.rewrite(&file) {
            Ok(()) => None,
            Err(e) if e.is_damage() => return Err(holds_damage(&shown, &e.message())),
            Err(e @ Error::Interrupted { .. }) => return Err(e),
            Err(e) => Some(no_copy(&e)),
        },
    };
    if in_place.is_some() {
        store.compact()?;
    }
    drop(store);
    Ok(Compacted { before, after: length(&file).map_err(Error::storage)?, in_place })
}

/// Why the file is compacted in place: it has other hard links, which a
/// rename over it would leave holding the old file.
fn other_links(file: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let links = std::fs::metadata(file).map_or(1, |m| m.nlink());
        if links > 1 {
            return Some(format!("it has {links} hard links, which a new file would part"));
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    None
}

/// Gives the rewritten file `to` the owner of `file`, where this process
/// may (as root may): a rewrite by an administrator leaves a service's
/// file its service's. Elsewhere the rewrite is the compacting user's.
fn keep_owner(file: &Path, to: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata(file) {
            let _ = std::os::unix::fs::chown(to, Some(meta.uid()), Some(meta.gid()));
        }
    }
    #[cfg(not(unix))]
    let _ = (file, to);
}

/// A file that holds damage, found before or by the copy: not compacted.
fn holds_damage(shown: &str, first: &str) -> Error {
    Error::damaged(format!(
        "'{shown}' holds damage, so it is not compacted: {first}; run REPAIR, or restore it from a BACKUP"
    ))
}

/// Why the copy could not be written (a full disk, most often), as the
/// compaction in place reports it: the cause alone, since the copy was a
/// temporary file, removed, and the database was only read.
fn no_copy(e: &Error) -> String {
    let cause = super::commit_failure_cause(e);
    if cause.contains("No space left") || cause.contains("os error 28") {
        return "no room for a copy beside it: the disk is full".into();
    }
    format!("the copy beside it could not be written: {cause}")
}

/// An open refused because another process has the file.
fn in_use(shown: &str, e: Error) -> Error {
    if super::is_already_open(&e) || super::opening::is_locked(&e) {
        return Error::plan(format!("'{shown}' is open in another program: compact it when no other program has it open"));
    }
    e
}

impl Store {
    /// Refuses a file that holds damage (REPAIR it first, or restore it),
    /// as every write but REPAIR's is.
    fn refuse_damage(&self, shown: &str) -> Result<()> {
        match self.damage() {
            Some(first) => Err(holds_damage(shown, &first)),
            None => Ok(()),
        }
    }

    /// Rewrites `file`, this store's file, which this process holds alone:
    /// every entry copied in key order into a temporary file beside it
    /// (its owner and permissions kept), which is synced and renamed over
    /// it. On an error the temporary is removed and the file is untouched.
    fn rewrite(&self, file: &Path) -> Result<()> {
        let temp = Temp::beside_unlocked(file, "compaction")?;
        keep_owner(file, temp.path());
        super::backup::copy_into(&self.read()?, temp.path(), super::backup::COPY_STEP_BYTES)?;
        // The copy's file grew ahead of its pages; its free tail goes.
        Store::open(temp.path())?.compact()?;
        temp.lock()?;
        temp.commit_over_held()
    }

    /// Compacts the file in place: its pages moved to the front and its
    /// free tail cut off. Needs the file to itself: another process with
    /// a transaction open on it makes this an error, and nothing moves.
    /// Refused on a file that holds damage.
    pub fn compact(&mut self) -> Result<()> {
        let shown = self.path.as_ref().map(|p| p.display().to_string());
        let shown = shown.ok_or_else(|| Error::plan("an in-memory database has no file to compact"))?;
        self.refuse_damage(&shown)?;
        let Handle::Rw(db) = &mut *self.db else {
            return Err(Error::plan(format!("'{shown}' is open read-only: it cannot be compacted")));
        };
        let damage = self.damage.clone();
        super::damage::guarded(T::Meta, b"", || {
            while db.compact().map_err(|e| refused(&shown, e))? {
                crate::interrupt::checkpoint()?;
            }
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
