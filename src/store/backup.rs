//! BACKUP: a new caldb file is written from one read snapshot at a
//! temporary path beside the target, synced, and renamed over it
//! (`safe_write`), so the target is either the old file or the whole copy.
//! Never writes over an open database file, a device or a FIFO.

use super::{Reader, Store, T};
use crate::error::{Error, Result};
use crate::safe_write::{self, Target, Temp};
use std::path::Path;

/// The tables that hold records (the rest are indexes derived from them).
const RECORD_TABLES: std::ops::RangeInclusive<usize> = (T::Servers as usize)..=(T::History as usize);

/// Copies every entry of every table of the snapshot `r` into a new caldb
/// file at `target`; the number of records copied (index entries and the
/// `meta` table not counted).
pub fn backup(r: &(impl Reader + ?Sized), target: &Path, db: Option<&Path>) -> Result<u64> {
    let own: Vec<&Path> = db.into_iter().collect();
    let Target::File(target) = safe_write::check(target, "BACKUP", &own, false)? else {
        return Err(Error::plan(format!("cannot write '{}': BACKUP needs a regular file", target.display())));
    };
    let temp = Temp::beside_unlocked(&target, "BACKUP")?;
    let copied = copy_into(r, temp.path()).map_err(|e| failed(&target, &e))?;
    temp.lock()?;
    temp.commit().map_err(|e| failed(&target, &e))?;
    Ok(copied)
}

/// A copy that could not be written (a full disk, say): the database was
/// only read, and the temporary is removed, which the error says instead
/// of a commit's advice about the database.
fn failed(target: &Path, e: &Error) -> Error {
    // Damage met while reading the database is the database's error, not
    // the copy's: BACKUP never carries damaged data (and the shell exits 2).
    if e.is_damage() {
        return e.clone();
    }
    let cause = super::commit_failure_cause(e);
    Error::Storage(format!(
        "BACKUP could not write '{}' ({cause}); the database is unchanged and no partial copy is left",
        target.display()
    ))
}

fn copy_into(r: &(impl Reader + ?Sized), path: &Path) -> Result<u64> {
    let copy = Store::open(path)?;
    let mut tx = copy.write()?;
    let mut records = 0u64;
    for t in T::ALL {
        r.scan(t, b"", None, &mut |k, v| {
            tx.put(t, k, v)?;
            if RECORD_TABLES.contains(&(t as usize)) {
                records += 1;
            }
            Ok(true)
        })?;
    }
    tx.commit()?;
    drop(copy);
    Ok(records)
}
