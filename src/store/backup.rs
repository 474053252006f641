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
    let copied = copy_into(r, temp.path(), COPY_STEP_BYTES).map_err(|e| failed(&target, &e))?;
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

/// How many bytes of entries one write transaction of a copy carries at
/// most. redb holds a transaction's pages in memory until it commits: a
/// copy of the protocol-built 1,000,000-device file in one transaction
/// peaked at 416 MB; in steps of this size it stays near what a scan
/// needs. The copy is a temporary file, so its steps are never seen.
pub(super) const COPY_STEP_BYTES: usize = 16 << 20;

/// Copies every entry of every table of `r` into a new caldb file at
/// `path`, in key order, committing every `step` bytes of entries
/// (`COPY_STEP_BYTES`); the number of records copied. Also compaction's
/// copy (`store::compact`).
pub(super) fn copy_into(r: &(impl Reader + ?Sized), path: &Path, step: usize) -> Result<u64> {
    let copy = Store::open(path)?;
    let mut tx = Some(copy.write()?);
    let (mut records, mut pending) = (0u64, 0usize);
    for t in T::ALL {
        r.scan(t, b"", None, &mut |k, v| {
            let Some(open) = tx.as_mut() else { return Err(Error::Storage("the copy's transaction is gone".into())) };
            open.put(t, k, v)?;
            if RECORD_TABLES.contains(&(t as usize)) {
                records += 1;
            }
            pending += k.len() + v.len();
            if pending >= step {
                if let Some(full) = tx.take() {
                    full.commit()?;
                }
                tx = Some(copy.write()?);
                pending = 0;
            }
            Ok(true)
        })?;
    }
    if let Some(last) = tx {
        last.commit()?;
    }
    drop(copy);
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Hwid, Time};
    use crate::store::keys;
    use crate::store::records::DeviceRec;
    use crate::store::write::tests::rows as entries;

    #[test]
    fn a_copy_committed_in_many_small_steps_holds_every_entry_of_every_table() {
        let dir = std::env::temp_dir().join(format!("caldb-copy-steps-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let (from, to) = (dir.join("from.redb"), dir.join("to.redb"));
        let source = Store::open(&from).expect("open");
        let mut tx = source.write().expect("write");
        for i in 0..3_000u64 {
            let name = format!("pc{i:05}");
            let hwid = Hwid([(i % 251) as u8; 20]);
            let device = DeviceRec { name, hwid, created: Time(i as i64) };
            tx.put_record(T::Devices, &device.key(), &device).expect("device");
            tx.put(T::History, &keys::id(i + 1), format!("step {i}").as_bytes()).expect("history");
        }
        tx.commit().expect("commit");
        let snapshot = source.read().expect("read");
        // 4 KiB steps: the copy commits many times, cutting both tables,
        // history's chunks among them, between transactions.
        let records = copy_into(&snapshot, &to, 4096).expect("copy");
        assert_eq!(records, 6_000);
        let copy = Store::open(&to).expect("open the copy");
        let copied = copy.read().expect("read the copy");
        for t in T::ALL {
            let (a, b) = (entries(&snapshot, t), entries(&copied, t));
            assert!(a == b, "{}: {} entries, {} in the copy", t.name(), a.len(), b.len());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
