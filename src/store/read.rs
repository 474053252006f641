//! Reading: the `Reader` trait that read and write transactions share,
//! the reads straight from redb that both are built on (`raw_reads!`:
//! every value's checksum verified, damage latched), and the read snapshot
//! (`ReadTx`).

use super::damage::{Latch, guarded, redb_error, table_error};
use super::envelope::open_stored;
use super::history;
use super::records::State;
use super::tables::{
    Backing, EXPIRED_THROUGH_KEY, NOTHING_EXPIRED, RTable, STATE_KEY, TABLE_COUNT, Visit, bounds, open_read, widen,
    with_table,
};
use super::{Store, T, codec, envelope, keys};
use crate::error::{Error, Result};
use redb::{ReadableTable, ReadableTableMetadata};
use std::sync::Arc;

/// Reading, common to read and write transactions.
pub trait Reader {
    /// The value stored under `key`.
    fn get(&self, t: T, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Visits the entries with keys in `[from, to)` (`to: None` is unbounded)
    /// in key order, until `f` returns false.
    fn scan(&self, t: T, from: &[u8], to: Option<&[u8]>, f: &mut Visit) -> Result<()>;

    /// The number of entries of a table.
    fn count(&self, t: T) -> Result<u64>;

    /// Every damaged entry of a table as stored (CHECK and REPAIR): each
    /// entry's checksum verified, going on past a damaged one. A damaged
    /// page that ends the walk is the error.
    fn damaged_entries(&self, t: T) -> Result<Vec<Error>>;

    /// Whether damage has been found in the file (by this transaction, its
    /// store, or an earlier writable open).
    fn damage_found(&self) -> bool;

    /// This reader as a read snapshot, which several threads may read at
    /// once (a SELECT grouping a million rows splits its scan); `None`
    /// for a write transaction.
    fn snapshot(&self) -> Option<&ReadTx> {
        None
    }

    /// Decodes the record under `key`.
    fn record<R: serde::de::DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<R>> {
        self.get(t, key)?.map(|v| codec::decode(&v)).transpose()
    }

    /// Visits the entries whose keys start with `prefix`, in key order,
    /// until `f` returns false. The scan has no end key: it stops at the
    /// first key past the prefix, so no end key is made.
    fn scan_prefix(&self, t: T, prefix: &[u8], f: &mut Visit) -> Result<()> {
        self.scan(t, prefix, None, &mut |k, v| if k.starts_with(prefix) { f(k, v) } else { Ok(false) })
    }

    /// Every record whose key starts with `prefix`, in key order.
    fn records<R: serde::de::DeserializeOwned>(&self, t: T, prefix: &[u8]) -> Result<Vec<R>> {
        let mut out = Vec::new();
        self.scan_prefix(t, prefix, &mut |_, v| {
            out.push(codec::decode(v)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// The first record, in key order, whose key starts with `prefix` and
    /// for which `found` holds; the records after it are not read.
    fn find_record<R: serde::de::DeserializeOwned>(
        &self,
        t: T,
        prefix: &[u8],
        found: &mut dyn FnMut(&R) -> bool,
    ) -> Result<Option<R>> {
        let mut out = None;
        self.scan_prefix(t, prefix, &mut |_, v| {
            let r = codec::decode(v)?;
            if found(&r) {
                out = Some(r);
            }
            Ok(out.is_none())
        })?;
        Ok(out)
    }

    /// The ids ending the keys of an index that start with `prefix`, in
    /// key order.
    fn index_ids(&self, t: T, prefix: &[u8]) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        self.scan_prefix(t, prefix, &mut |k, _| {
            out.push(keys::trailing_id(k));
            Ok(true)
        })?;
        Ok(out)
    }

    /// The keys of an index that start with `prefix`, in order.
    fn index_keys(&self, t: T, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        self.scan_prefix(t, prefix, &mut |k, _| {
            out.push(k.to_vec());
            Ok(true)
        })?;
        Ok(out)
    }

    /// The database-wide state: clock, random source, id counters.
    fn state(&self) -> Result<State> {
        self.record(T::Meta, STATE_KEY)?.ok_or_else(|| Error::Storage("the state record is missing".into()))
    }

    /// Up to when every license has been expired: no live license expires
    /// at or before it (the earliest time while nothing has been).
    fn expired_through(&self) -> Result<crate::model::Time> {
        Ok(self.record(T::Meta, EXPIRED_THROUGH_KEY)?.unwrap_or(NOTHING_EXPIRED))
    }
}

/// Entries a scan visits between two interrupt checkpoints.
pub(super) const SCAN_CHECK_EVERY: usize = 1024;

/// The reads of a read or a write transaction straight from redb, on
/// `$kind` tables (inherent methods; `Reader` is built on them).
macro_rules! raw_reads {
    ($kind:ident) => {
        /// Runs `f` on the value stored under `key`, in place on redb's
        /// page. A key of another width than the table's is not there.
        fn raw_with_value<X>(&self, t: T, key: &[u8], f: &mut dyn FnMut(&[u8]) -> Result<X>) -> Result<Option<X>> {
            let Some(table) = self.reach(t)? else { return Ok(None) };
            if t.shape().key_width().is_some_and(|w| w != key.len()) {
                return Ok(None);
            }
            let got = guarded(t, key, || {
                with_table!($kind, table, |table| match table.get(key).map_err(|e| redb_error(t, key, e))? {
                    Some(v) => f(open_stored(t, key, v.value())?).map(Some),
                    None => Ok(None),
                })
            });
            got.map_err(|e| self.noted(envelope::at(e, t, key)))
        }

        /// Visits the entries in `[from, to)`, each value's checksum
        /// verified. A key outside the range or out of order, or a whole
        /// table holding another number of entries than its header says,
        /// is a damaged page (redb follows page pointers and counts
        /// without verifying their checksums).
        pub(super) fn raw_scan(&self, t: T, from: &[u8], to: Option<&[u8]>, f: &mut Visit) -> Result<()> {
            let Some(table) = self.reach(t)? else { return Ok(()) };
            let whole = from.is_empty() && to.is_none();
            let width = t.shape().key_width();
            let (from, to) = (widen(from, width), to.map(|to| widen(to, width)));
            let mut last = Vec::new();
            let (mut seen, mut ended) = (0u64, true);
            let scanned = guarded(t, &from, || {
                with_table!($kind, table, |table| {
                    let range =
                        table.range::<&[u8]>(bounds(&from, to.as_deref())).map_err(|e| redb_error(t, &from, e))?;
                    for (n, entry) in range.enumerate() {
                        // Ctrl-C stops a long scan here (and counts it for progress)
                        if n % SCAN_CHECK_EVERY == SCAN_CHECK_EVERY - 1 {
                            crate::interrupt::scanned(SCAN_CHECK_EVERY as u64)?;
                        }
                        let (k, v) = entry.map_err(|e| redb_error(t, &last, e))?;
                        let k = k.value();
                        let outside = k < &from[..] || to.as_deref().is_some_and(|to| k >= to);
                        if outside || (seen > 0 && k <= &last[..]) {
                            return Err(envelope::damaged(t, k, "a key out of order (a damaged page)"));
                        }
                        seen += 1;
                        last.clear();
                        last.extend_from_slice(k);
                        if !f(k, open_stored(t, k, v.value())?).map_err(|e| envelope::at(e, t, k))? {
                            ended = false;
                            break;
                        }
                    }
                    let count = if whole && ended { table.len().map_err(|e| redb_error(t, b"", e))? } else { seen };
                    if count != seen {
                        let why = format!("its header counts {count} entries but {seen} were found (a damaged page)");
                        return Err(envelope::damaged(t, b"", why));
                    }
                    Ok(())
                })
            });
            scanned.map_err(|e| self.noted(e))
        }

        fn raw_count(&self, t: T) -> Result<u64> {
            let Some(table) = self.reach(t)? else { return Ok(0) };
            guarded(t, b"", || with_table!($kind, table, |table| table.len().map_err(|e| redb_error(t, b"", e))))
                .map_err(|e| self.noted(e))
        }

        /// Every damaged entry of `t` (each value's checksum verified, as a
        /// whole scan does, but going on past a damaged one); a damaged page
        /// that ends the walk is the error.
        fn raw_sweep(&self, t: T) -> Result<Vec<Error>> {
            let Some(table) = self.reach(t)? else { return Ok(Vec::new()) };
            let mut found = Vec::new();
            let swept = guarded(t, b"", || {
                with_table!($kind, table, |table| {
                    let (mut last, mut seen) = (Vec::new(), 0u64);
                    for entry in table.iter().map_err(|e| redb_error(t, b"", e))? {
                        let (k, v) = entry.map_err(|e| redb_error(t, &last, e))?;
                        let k = k.value();
                        if seen > 0 && k <= &last[..] {
                            return Err(envelope::damaged(t, k, "a key out of order (a damaged page)"));
                        }
                        seen += 1;
                        last.clear();
                        last.extend_from_slice(k);
                        if let Err(e) = open_stored(t, k, v.value()) {
                            found.push(e);
                        }
                    }
                    let count = table.len().map_err(|e| redb_error(t, b"", e))?;
                    if count != seen {
                        let why = format!("its header counts {count} entries but {seen} were found (a damaged page)");
                        return Err(envelope::damaged(t, b"", why));
                    }
                    Ok(())
                })
            });
            for e in &found {
                self.damage.note(e);
            }
            swept.map(|()| found).map_err(|e| self.noted(e))
        }

        /// `e`, latched if it is damage.
        fn noted(&self, e: Error) -> Error {
            self.damage.note(&e);
            e
        }

        /// Visits the stored history chunks from chunk key `from` on.
        fn history_chunks(&self, from: &[u8], f: &mut Visit) -> Result<()> {
            self.raw_scan(T::History, from, None, f)
        }
    };
}

pub(super) use raw_reads;

impl Store {
    /// A consistent snapshot for reading.
    pub fn read(&self) -> Result<ReadTx> {
        let txn = self.db.begin_read().map_err(Error::storage)?;
        let mut tables = Vec::with_capacity(TABLE_COUNT);
        for t in T::ALL {
            match guarded(t, b"", || Ok(open_read(&txn, t)))? {
                Ok(table) => tables.push(Some(table)),
                Err(redb::TableError::TableDoesNotExist(_)) => tables.push(None),
                Err(e) => return Err(table_error(t, e)).inspect_err(|e| self.damage.note(e)),
            }
        }
        Ok(ReadTx { tables, damage: self.damage.clone() })
    }
}

/// A read snapshot with its tables open.
pub struct ReadTx {
    tables: Vec<Option<RTable>>,
    damage: Arc<Latch>,
}

impl ReadTx {
    fn table(&self, t: T) -> Option<&RTable> {
        self.tables[t as usize].as_ref()
    }

    /// Table `t` for the raw reads (`None`: the file lacks it): a
    /// snapshot opens every table when it begins.
    fn reach(&self, t: T) -> Result<Option<&RTable>> {
        Ok(self.table(t))
    }

    raw_reads!(RTable);
}

/// A snapshot reads every table where it is stored: a kept table (`KEPT`)
/// is kept by write transactions only.
impl Reader for ReadTx {
    fn get(&self, t: T, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match t.backing() {
            Backing::Log => history::row(key, &mut |from, to, f| self.scan(t, from, Some(to), f)),
            Backing::Redb | Backing::Kept(_) => self.raw_with_value(t, key, &mut |v| Ok(v.to_vec())),
        }
    }

    fn record<R: serde::de::DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<R>> {
        match t.backing() {
            Backing::Log => {
                let row = self.get(t, key)?;
                row.map(|v| codec::decode(&v)).transpose().map_err(|e| self.noted(envelope::at(e, t, key)))
            }
            // Decodes straight from redb's page: no copy of the value.
            Backing::Redb | Backing::Kept(_) => self.raw_with_value(t, key, &mut |v| codec::decode(v)),
        }
    }

    fn scan(&self, t: T, from: &[u8], to: Option<&[u8]>, f: &mut Visit) -> Result<()> {
        match t.backing() {
            Backing::Log => history::stored_rows(&|k, f| self.history_chunks(k, f), from, to, f).map(drop),
            Backing::Redb | Backing::Kept(_) => self.raw_scan(t, from, to, f),
        }
    }

    fn count(&self, t: T) -> Result<u64> {
        match t.backing() {
            Backing::Log => history::stored_count(&|k, f| self.history_chunks(k, f)),
            Backing::Redb | Backing::Kept(_) => self.raw_count(t),
        }
    }

    fn damaged_entries(&self, t: T) -> Result<Vec<Error>> {
        self.raw_sweep(t)
    }

    fn damage_found(&self) -> bool {
        self.damage.get().is_some()
    }

    fn snapshot(&self) -> Option<&ReadTx> {
        Some(self)
    }
}

impl ReadTx {
    /// A key about halfway between the first and the last key of table
    /// `t` (as big-endian numbers: halfway in rows when the keys are
    /// spread evenly, as row ids are), or `None` for a table of fewer than
    /// two entries or one kept as a log. Scans of `[.., mid)` and
    /// `[mid, ..)` together visit every entry once.
    pub fn middle_key(&self, t: T) -> Result<Option<Vec<u8>>> {
        let Some(table) = self.table(t) else { return Ok(None) };
        if t.backing() == Backing::Log {
            return Ok(None);
        }
        let ends = guarded(t, b"", || {
            with_table!(RTable, table, |table| {
                let first = table.first().map_err(|e| redb_error(t, b"", e))?;
                let last = table.last().map_err(|e| redb_error(t, b"", e))?;
                Ok(first.zip(last).map(|(a, b)| (a.0.value().to_vec(), b.0.value().to_vec())))
            })
        })
        .map_err(|e| self.noted(e))?;
        Ok(ends.and_then(|(first, last)| middle(&first, &last)))
    }
}

/// The key halfway between `a` and `b` (rounded up) by their first 16
/// bytes (shorter keys padded with zeros), strictly after `a` and at most
/// `b`; `None` when there is none.
fn middle(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    let len = a.len().max(b.len()).min(16);
    let number = |k: &[u8]| {
        let mut buf = [0u8; 16];
        let n = k.len().min(len);
        buf[16 - len..16 - len + n].copy_from_slice(&k[..n]);
        u128::from_be_bytes(buf)
    };
    let (x, y) = (number(a), number(b));
    let gap = y.checked_sub(x)?;
    let mid = x + gap / 2 + gap % 2;
    let key = mid.to_be_bytes()[16 - len..].to_vec();
    (key.as_slice() > a && key.as_slice() <= b).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::middle;

    #[test]
    fn the_middle_key_lies_between_the_first_and_the_last() {
        let id = |n: u64| n.to_be_bytes().to_vec();
        assert_eq!(middle(&id(1), &id(3_000)), Some(id(1_501)));
        assert_eq!(middle(&id(7), &id(8)), Some(id(8)), "two keys: the upper half holds the last");
        assert_eq!(middle(&id(7), &id(7)), None, "one key does not split");
        assert_eq!(middle(b"a", b"c"), Some(b"b".to_vec()));
        let m = middle(b"PC1", b"PC9ZZZZ").expect("a middle");
        assert!(m.as_slice() > b"PC1".as_slice() && m.as_slice() <= b"PC9ZZZZ".as_slice(), "{m:?}");
    }
}
