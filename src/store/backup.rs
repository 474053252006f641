//! BACKUP and the safe replacement of a file: a new caldb file is written at
//! a temporary path beside the target from one read snapshot, synced, and
//! renamed over the target, so the target is either the old file or the
//! whole copy. Never writes over the open database file.

use super::{Reader, Store, T};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The tables that hold records (the rest are indexes derived from them).
const RECORD_TABLES: std::ops::RangeInclusive<usize> = (T::Servers as usize)..=(T::History as usize);

/// Whether `target` names the open database file `db` (compared after
/// resolving links and `..`; a target that does not exist yet is compared
/// by its resolved directory).
pub fn same_file(target: &Path, db: Option<&Path>) -> bool {
    let Some(db) = db.and_then(|d| std::fs::canonicalize(d).ok()) else { return false };
    resolve(target).is_some_and(|t| t == db)
}

fn resolve(target: &Path) -> Option<PathBuf> {
    if let Ok(p) = std::fs::canonicalize(target) {
        return Some(p);
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(target.file_name()?))
}

/// Refuses a target that is the open database file.
pub fn refuse_open_database(target: &Path, db: Option<&Path>, what: &str) -> Result<()> {
    if same_file(target, db) {
        return Err(Error::plan_near(
            format!("'{}' is the open database file: {what} would overwrite it", target.display()),
            target.display().to_string(),
        ));
    }
    Ok(())
}

/// A temporary path in the target's directory (a rename stays on one disk).
pub fn temp_beside(target: &Path) -> Result<PathBuf> {
    let name = target
        .file_name()
        .ok_or_else(|| Error::plan(format!("'{}' is not a file name", target.display())))?
        .to_string_lossy();
    Ok(target.with_file_name(format!(".{name}.{}.tmp", std::process::id())))
}

/// Syncs `tmp` to disk, renames it over `target` and syncs the directory.
pub fn replace(tmp: &Path, target: &Path) -> Result<()> {
    let io = |what: &str, p: &Path, e: std::io::Error| Error::Storage(format!("cannot {what} {}: {e}", p.display()));
    std::fs::File::open(tmp).and_then(|f| f.sync_all()).map_err(|e| io("sync", tmp, e))?;
    std::fs::rename(tmp, target).map_err(|e| io("write", target, e))?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Making the rename itself durable; not every platform can open a
        // directory, and the data is already synced.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Copies every entry of every table of the snapshot `r` into a new caldb
/// file at `target`; the number of records copied (index entries and the
/// `meta` table not counted).
pub fn backup(r: &(impl Reader + ?Sized), target: &Path, db: Option<&Path>) -> Result<u64> {
    refuse_open_database(target, db, "BACKUP")?;
    let tmp = temp_beside(target)?;
    let _ = std::fs::remove_file(&tmp);
    let copied = copy_into(r, &tmp).and_then(|n| replace(&tmp, target).map(|()| n));
    if copied.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    copied
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
