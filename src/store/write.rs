//! Writing: the write transaction (`WriteTx`) with what it keeps until
//! its commit: the rows of the kept tables (`KEPT`), the state record,
//! `expired_through`, and the history rows it appended.

use super::damage::{Latch, VERIFY_WHOLE_UP_TO, check_pages_read_only, guarded, redb_error, table_error};
use super::envelope::open_stored;
use super::history;
use super::read::{SCAN_CHECK_EVERY, raw_reads};
use super::records::State;
use super::tables::{
    Backing, DAMAGED_KEY, EXPIRED_THROUGH_KEY, KEPT, NOTHING_EXPIRED, STATE_KEY, Visit, bounds, is_bare, widen,
    with_table,
};
use super::txn_tables::{TxnTables, WTable};
use super::{COMMIT_OUTCOME_UNKNOWN, Handle, Reader, Store, T, codec, envelope, opening};
use crate::error::{Error, Result};
use redb::{ReadableTable, ReadableTableMetadata};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl Store {
    /// A write transaction with every table open.
    pub fn write(&self) -> Result<WriteTx> {
        let Handle::Rw(db) = &*self.db else {
            return Err(Error::Storage(format!("{} is open read-only", self.describe())));
        };
        let txn = db.begin_write().map_err(|e| {
            if opening::is_locked(&e) { Error::Storage(opening::locked(&self.describe())) } else { Error::storage(e) }
        })?;
        let tx = guarded(T::Meta, b"", || WriteTx::new(txn, self.damage.clone(), self.path.clone()));
        let tx = tx.inspect_err(|e| self.damage.note(e))?;
        tx.verify_whole_once();
        Ok(tx)
    }
}

/// A write transaction with every table open. Dropping it without `commit`
/// aborts it: nothing it wrote is kept.
///
/// The state record is read once and then kept here: every statement reads
/// and rewrites it, and only the commit needs it on disk, so a BEGIN block
/// decodes, encodes and stores it once. `state()` returns the kept copy,
/// `set_state` changes it, and `commit` writes it (the block is one
/// transaction, so no reader outside it can tell).
pub struct WriteTx {
    /// The redb transaction and its tables.
    tx: TxnTables,
    state: Option<State>,
    /// Whether `state` differs from what `meta` holds.
    state_unwritten: bool,
    /// Where `put_record` encodes, reused: no allocation per record.
    scratch: Vec<u8>,
    /// `expired_through`, read when the transaction begins and written at
    /// its commit when it changed: expiry moves it forward, and a live
    /// license written expiring at or before it moves it back. The expiry
    /// check that runs before every statement then reads nothing while
    /// nothing is due.
    expired_through: crate::model::Time,
    /// Whether `expired_through` differs from what `meta` holds.
    expired_through_unwritten: bool,
    /// The `KEPT` tables: the rows read or written so far, held from
    /// their first use to the commit, which writes back what changed.
    kept: [RefCell<Kept>; KEPT.len()],
    /// The history rows this transaction appended, written in chunks at
    /// its commit (`store::history`).
    history: history::Appended,
    /// Where `raw_put` seals a value with its checksum, reused.
    sealed: Vec<u8>,
    /// Damage found in the file: a transaction commits only while there is
    /// none, or when it is REPAIR's (`repairing`).
    damage: Arc<Latch>,
    /// REPAIR's transaction: it commits on a damaged file, and its commit
    /// clears the latched damage when REPAIR fixed it all (`repaired`).
    repair: Option<bool>,
    /// The database file (none in memory), for `page_damage`.
    file: Option<PathBuf>,
}

/// A kept table's rows read or written so far (`None`: known to be
/// absent, or deleted), whether that is every row it has, and the keys
/// written or deleted.
///
/// Reads borrow it only while they look at rows already kept, and a scan
/// makes the table `complete` before it borrows it for its visitor, so a
/// visitor that reads the same table finds every row kept: the mutable
/// borrow that keeps a row read from redb is never taken while another
/// borrow lives.
#[derive(Default)]
struct Kept {
    rows: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    complete: bool,
    changed: BTreeSet<Vec<u8>>,
}

impl WriteTx {
    fn new(txn: redb::WriteTransaction, damage: Arc<Latch>, file: Option<PathBuf>) -> Result<WriteTx> {
        let tx = TxnTables::new(txn);
        let WTable::VarVar(meta) = tx.get(T::Meta).map_err(|e| table_error(T::Meta, e))? else {
            unreachable!("meta is bytes to bytes")
        };
        let key = EXPIRED_THROUGH_KEY;
        let expired_through = match meta.get(key).map_err(|e| redb_error(T::Meta, key, e))? {
            Some(v) => {
                codec::decode(open_stored(T::Meta, key, v.value())?).map_err(|e| envelope::at(e, T::Meta, key))?
            }
            None => NOTHING_EXPIRED,
        };
        Ok(WriteTx {
            tx,
            state: None,
            state_unwritten: false,
            scratch: Vec::with_capacity(256),
            expired_through,
            expired_through_unwritten: false,
            kept: Default::default(),
            history: history::Appended::default(),
            sealed: Vec::with_capacity(256),
            damage,
            repair: None,
            file,
        })
    }

    /// redb's check of the file's pages as they are on disk (REPAIR: a
    /// page whose checksum fails while every record reads sound), on an
    /// overlay of the file: the damage found, latched.
    pub fn page_damage(&self) -> Option<Error> {
        let e = check_pages_read_only(self.file.as_deref()?).err().filter(Error::is_damage)?;
        self.damage.note(&e);
        Some(e)
    }

    /// Makes this REPAIR's transaction: it may commit on a file found
    /// damaged.
    pub fn repairing(&mut self) {
        self.repair = Some(false);
    }

    /// REPAIR fixed every damage there was: its commit clears the latch and
    /// `meta`'s record of it.
    pub fn repaired(&mut self) -> Result<()> {
        self.repair = Some(true);
        self.raw_delete(T::Meta, DAMAGED_KEY).map(drop)
    }

    /// The damage found in the file so far, if any.
    pub fn damage(&self) -> Option<String> {
        self.damage.get()
    }

    /// Latches `e` if it is damage.
    pub fn note_damage(&self, e: &Error) {
        self.damage.note(e);
    }

    /// Verifies a small file whole (`VERIFY_WHOLE_UP_TO`) as the first
    /// write transaction of the process begins, before it wrote anything:
    /// damage that a `-readonly` CHECK found and could not record refuses
    /// the write all the same. The damage found is latched.
    fn verify_whole_once(&self) {
        if self.damage.verified.swap(true, Ordering::SeqCst) {
            return;
        }
        let Some(file) = &self.file else { return };
        if std::fs::metadata(file).map_or(true, |m| m.len() > VERIFY_WHOLE_UP_TO) {
            return;
        }
        for t in T::ALL {
            match self.raw_sweep(t) {
                Ok(found) if found.is_empty() => {}
                _ => return,
            }
        }
        self.page_damage();
    }

    /// A commit on a file found damaged is refused, but REPAIR's.
    fn refuse_if_damaged(&self) -> Result<()> {
        match self.damage.get() {
            Some(first) if self.repair.is_none() => Err(Error::damaged(format!(
                "no write is accepted on a damaged file until REPAIR or a restore from a BACKUP (found: {first})"
            ))),
            _ => Ok(()),
        }
    }

    /// Table `t` for the raw reads and writes, opened the first time this
    /// transaction uses it.
    fn reach(&self, t: T) -> Result<Option<&WTable>> {
        self.refuse_stale_meta(t);
        if let Some(table) = self.tx.opened(t) {
            return Ok(Some(table));
        }
        let table = guarded(t, b"", || self.tx.get(t).map_err(|e| table_error(t, e)));
        table.map(Some).map_err(|e| self.noted(e))
    }

    /// Opens every table, creating the ones the file lacks: a new file
    /// gets them all in its first transaction.
    pub(super) fn open_every_table(&self) -> Result<()> {
        T::ALL.into_iter().try_for_each(|t| self.reach(t).map(drop))
    }

    raw_reads!(WTable);

    /// The slot of `t` among the `KEPT` tables, if it is one.
    #[cfg(test)]
    fn kept_slot(t: T) -> Option<usize> {
        match t.backing() {
            Backing::Kept(slot) => Some(slot),
            Backing::Redb | Backing::Log => None,
        }
    }

    /// `f` of a kept table's row (`None`: there is none), read from redb
    /// and kept if this transaction has not read or written it yet.
    fn kept_row<X>(&self, slot: usize, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> Result<X>) -> Result<X> {
        {
            let kept = self.kept[slot].borrow();
            match kept.rows.get(key) {
                Some(row) => return f(row.as_deref()),
                None if kept.complete => return f(None),
                None => {}
            }
        }
        let row = self.raw_with_value(KEPT[slot], key, &mut |v| Ok(v.to_vec()))?;
        let out = f(row.as_deref());
        self.kept[slot].borrow_mut().rows.insert(key.to_vec(), row);
        out
    }

    /// Reads every row of a kept table from redb that this transaction has
    /// not read or written yet, once: a scan or a count needs them all.
    fn kept_complete(&self, slot: usize) -> Result<()> {
        if self.kept[slot].borrow().complete {
            return Ok(());
        }
        let mut stored = Vec::new();
        self.raw_scan(KEPT[slot], b"", None, &mut |k, v| {
            stored.push((k.to_vec(), v.to_vec()));
            Ok(true)
        })?;
        let mut kept = self.kept[slot].borrow_mut();
        for (k, v) in stored {
            kept.rows.entry(k).or_insert(Some(v));
        }
        kept.complete = true;
        Ok(())
    }

    /// Whether `[from, to)` can hold rows of a kept table; when it can,
    /// the table is made complete (`kept_complete`) for a range over it.
    fn kept_range_ready(&self, slot: usize, from: &[u8], to: Option<&[u8]>) -> Result<bool> {
        if to.is_some_and(|to| from > to) {
            return Ok(false);
        }
        self.kept_complete(slot)?;
        Ok(true)
    }

    /// `meta` read raw while the kept state is not written would show an
    /// old state: `write_state` first.
    fn refuse_stale_meta(&self, t: T) {
        assert!(t != T::Meta || !self.state_unwritten, "meta read while the kept state record is not written");
    }

    pub fn put(&mut self, t: T, key: &[u8], value: &[u8]) -> Result<()> {
        // Keys and values are built by caldb (a restore checks a dump's
        // bytes first: `fits_table`), so a misfit is a bug.
        assert!(
            t.shape().fits(key, value),
            "a {}-byte key or {}-byte value does not fit table {}",
            key.len(),
            value.len(),
            t.name()
        );
        match t.backing() {
            Backing::Kept(slot) => self.put_kept(slot, key, value),
            Backing::Log => self.append_history(history::seq_of(key), value),
            Backing::Redb => self.raw_put(t, key, value),
        }
    }

    /// Stores `value` under `key` of kept table `slot`, for the commit.
    fn put_kept(&mut self, slot: usize, key: &[u8], value: &[u8]) -> Result<()> {
        let kept = self.kept[slot].get_mut();
        // A rewrite (a key pack's count, most often) reuses the kept row's
        // buffer.
        match kept.rows.get_mut(key) {
            Some(Some(row)) => {
                row.clear();
                row.extend_from_slice(value);
            }
            Some(row) => *row = Some(value.to_vec()),
            None => {
                kept.rows.insert(key.to_vec(), Some(value.to_vec()));
            }
        }
        if !kept.changed.contains(key) {
            kept.changed.insert(key.to_vec());
        }
        Ok(())
    }

    /// Appends a history row; it must come after every row there is.
    fn append_history(&mut self, seq: u64, row: &[u8]) -> Result<()> {
        let (tx, damage) = (&self.tx, &self.damage);
        self.history.append(seq, row, || {
            let last = guarded(T::History, b"", || {
                let WTable::IdVar(table) = tx.get(T::History).map_err(|e| table_error(T::History, e))? else {
                    unreachable!("history is keyed by id")
                };
                let last = table.last().map_err(|e| redb_error(T::History, b"", e))?;
                Ok(last.map_or(0, |(k, _)| history::seq_of(k.value())))
            });
            last.inspect_err(|e| damage.note(e))
        })
    }

    /// Stores `value` under `key`, sealed with its checksum (`envelope`).
    pub(super) fn raw_put(&mut self, t: T, key: &[u8], value: &[u8]) -> Result<()> {
        let mut sealed = std::mem::take(&mut self.sealed);
        sealed.clear();
        if is_bare(t, key) {
            sealed.extend_from_slice(value);
        } else {
            envelope::seal_into(t, key, value, &mut sealed);
        }
        let tx = &mut self.tx;
        let put = guarded(t, key, || tx.insert(t, key, &sealed).map_err(|e| e.at(t, key)));
        self.sealed = sealed;
        put.map_err(|e| self.noted(e))
    }

    /// Removes `key`; whether it was there.
    pub fn delete(&mut self, t: T, key: &[u8]) -> Result<bool> {
        match t.backing() {
            Backing::Kept(slot) => {
                let was = self.kept_row(slot, key, |row| Ok(row.is_some()))?;
                let kept = self.kept[slot].get_mut();
                kept.rows.insert(key.to_vec(), None);
                kept.changed.insert(key.to_vec());
                Ok(was)
            }
            Backing::Log => history::never_edited(),
            Backing::Redb => self.raw_delete(t, key),
        }
    }

    fn raw_delete(&mut self, t: T, key: &[u8]) -> Result<bool> {
        if t.shape().key_width().is_some_and(|w| w != key.len()) {
            return Ok(false);
        }
        let tx = &mut self.tx;
        let removed = guarded(t, key, || tx.remove(t, key).map_err(|e| e.at(t, key)));
        removed.map_err(|e| self.noted(e))
    }

    /// Encodes and stores a record.
    pub fn put_record<R: serde::Serialize>(&mut self, t: T, key: &[u8], rec: &R) -> Result<()> {
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        codec::encode_into(rec, &mut bytes)?;
        let put = self.put(t, key, &bytes);
        self.scratch = bytes;
        put
    }

    /// Removes the entries with keys in `[from, to)` (`to: None` is
    /// unbounded) for which `keep` is false, in one pass over the range:
    /// much cheaper than one `delete` per key for long runs.
    pub fn remove_range(
        &mut self,
        t: T,
        from: &[u8],
        to: Option<&[u8]>,
        keep: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<()> {
        match t.backing() {
            Backing::Kept(slot) => {
                if !self.kept_range_ready(slot, from, to)? {
                    return Ok(());
                }
                let kept = self.kept[slot].get_mut();
                let present = kept.rows.range::<[u8], _>(bounds(from, to)).filter(|(_, v)| v.is_some());
                let gone: Vec<Vec<u8>> = present.map(|(k, _)| k.clone()).filter(|k| !keep(k)).collect();
                for k in gone {
                    kept.rows.insert(k.clone(), None);
                    kept.changed.insert(k);
                }
                Ok(())
            }
            Backing::Log => history::never_edited(),
            Backing::Redb => {
                let width = t.shape().key_width();
                let (from, to) = (widen(from, width), to.map(|to| widen(to, width)));
                let tx = &mut self.tx;
                let removed = guarded(t, &from, || {
                    tx.retain_in(t, bounds(&from, to.as_deref()), keep).map_err(|e| e.at(t, &from))
                });
                removed.map_err(|e| self.noted(e))
            }
        }
    }

    /// Removes every entry of a table.
    pub fn clear(&mut self, t: T) -> Result<()> {
        match t.backing() {
            Backing::Kept(_) => self.remove_range(t, b"", None, &mut |_| false),
            Backing::Log => {
                self.history.clear();
                self.raw_clear(t)
            }
            Backing::Redb => self.raw_clear(t),
        }
    }

    /// Removes every entry of redb's table.
    fn raw_clear(&mut self, t: T) -> Result<()> {
        let tx = &mut self.tx;
        let cleared = guarded(t, b"", || tx.clear(t).map_err(|e| e.at(t, b"")));
        cleared.map_err(|e| self.noted(e))
    }

    /// Changes the kept state; `commit` (or `write_state`) stores it.
    pub fn set_state(&mut self, state: &State) -> Result<()> {
        if self.state.as_ref() != Some(state) {
            self.state = Some(state.clone());
            self.state_unwritten = true;
        }
        Ok(())
    }

    /// Sets `expired_through`; `commit` stores it.
    pub fn set_expired_through(&mut self, t: crate::model::Time) {
        if self.expired_through != t {
            self.expired_through = t;
            self.expired_through_unwritten = true;
        }
    }

    /// Stores the kept state in `meta`, if it changed.
    pub fn write_state(&mut self) -> Result<()> {
        if self.state_unwritten {
            let state = self.state.take().expect("an unwritten state is kept");
            let put = self.put_record(T::Meta, STATE_KEY, &state);
            self.state = Some(state);
            put?;
            self.state_unwritten = false;
        }
        Ok(())
    }

    /// Makes every write of this transaction durable, or none of them.
    ///
    /// A commit that fails may have failed after its data reached the disk
    /// (in multi-writer mode redb rewrites the header once more after the
    /// sync), so the error says the outcome is unknown rather than that
    /// nothing happened: retrying blindly could run a statement twice.
    pub fn commit(mut self) -> Result<()> {
        self.refuse_if_damaged()?;
        self.write_state()?;
        for (key, chunk) in self.history.take_chunks() {
            self.raw_put(T::History, &key, &chunk)?;
        }
        for (slot, t) in KEPT.into_iter().enumerate() {
            let kept = self.kept[slot].take();
            for k in &kept.changed {
                match kept.rows.get(k) {
                    Some(Some(v)) => self.raw_put(t, k, v)?,
                    _ => self.raw_delete(t, k).map(drop)?,
                }
            }
        }
        if self.expired_through_unwritten {
            let t = self.expired_through;
            self.put_record(T::Meta, EXPIRED_THROUGH_KEY, &t)?;
        }
        self.refuse_if_damaged()?;
        let (damage, repaired) = (self.damage.clone(), self.repair == Some(true));
        let tx = self.tx;
        guarded(T::Meta, b"", || tx.commit().map_err(Error::storage))
            .map_err(|e| Error::Storage(format!("the commit failed ({}){COMMIT_OUTCOME_UNKNOWN}", e.message())))?;
        if repaired {
            damage.clear();
        }
        Ok(())
    }
}

impl Reader for WriteTx {
    fn get(&self, t: T, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match t.backing() {
            Backing::Kept(slot) => self.kept_row(slot, key, |row| Ok(row.map(<[u8]>::to_vec))),
            Backing::Log => history::row(key, &mut |from, to, f| self.scan(t, from, Some(to), f)),
            Backing::Redb => self.raw_with_value(t, key, &mut |v| Ok(v.to_vec())),
        }
    }

    fn record<R: serde::de::DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<R>> {
        match t.backing() {
            Backing::Kept(slot) => {
                let row = self.kept_row(slot, key, |row| row.map(codec::decode).transpose());
                row.map_err(|e| self.noted(envelope::at(e, t, key)))
            }
            Backing::Log => {
                let row = self.get(t, key)?;
                row.map(|v| codec::decode(&v)).transpose().map_err(|e| self.noted(envelope::at(e, t, key)))
            }
            // Decodes straight from redb's page: no copy of the value.
            Backing::Redb => self.raw_with_value(t, key, &mut |v| codec::decode(v)),
        }
    }

    fn scan(&self, t: T, from: &[u8], to: Option<&[u8]>, f: &mut Visit) -> Result<()> {
        match t.backing() {
            Backing::Kept(slot) => {
                if !self.kept_range_ready(slot, from, to)? {
                    return Ok(());
                }
                let kept = self.kept[slot].borrow();
                for (k, v) in kept.rows.range::<[u8], _>(bounds(from, to)) {
                    if let Some(v) = v
                        && !f(k, v).map_err(|e| self.noted(envelope::at(e, t, k)))?
                    {
                        break;
                    }
                }
                Ok(())
            }
            Backing::Log => {
                if history::stored_rows(&|k, f| self.history_chunks(k, f), from, to, f)? {
                    for (seq, row) in self.history.range(from, to) {
                        if !f(&seq.to_be_bytes(), row)? {
                            break;
                        }
                    }
                }
                Ok(())
            }
            Backing::Redb => self.raw_scan(t, from, to, f),
        }
    }

    fn count(&self, t: T) -> Result<u64> {
        match t.backing() {
            Backing::Kept(slot) => {
                self.kept_complete(slot)?;
                Ok(self.kept[slot].borrow().rows.values().filter(|v| v.is_some()).count() as u64)
            }
            Backing::Log => Ok(history::stored_count(&|k, f| self.history_chunks(k, f))? + self.history.len()),
            Backing::Redb => self.raw_count(t),
        }
    }

    fn damaged_entries(&self, t: T) -> Result<Vec<Error>> {
        self.raw_sweep(t)
    }

    fn damage_found(&self) -> bool {
        self.damage.get().is_some()
    }

    /// The kept `expired_through`.
    fn expired_through(&self) -> Result<crate::model::Time> {
        Ok(self.expired_through)
    }

    /// The kept state, read from `meta` the first time.
    fn state(&self) -> Result<State> {
        match &self.state {
            Some(s) => Ok(s.clone()),
            None => {
                self.record(T::Meta, STATE_KEY)?.ok_or_else(|| Error::Storage("the state record is missing".into()))
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::{Reader, Store, T};

    /// Every entry of table `t` as `r` reads it, in key order.
    pub(in crate::store) fn rows(r: &impl Reader, t: T) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        r.scan(t, b"", None, &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(true)
        })
        .expect("scan");
        out
    }

    #[test]
    fn a_prefix_scan_stops_at_the_first_key_past_the_prefix() {
        let store = Store::in_memory().expect("store");
        let key = |name: &str, slot: u32| crate::store::keys::Key::new().name(name).slot(slot).done();
        let mut tx = store.write().expect("write");
        // Tokens (a redb table) and hosts (a kept one), each with a name
        // that the prefix's own name is a prefix of ("pc" and "pc1").
        for t in [T::Tokens, T::Hosts] {
            for (name, slot) in [("pb", 9), ("pc", 0), ("pc", 1), ("pc1", 0), ("pd", 0)] {
                tx.put(t, &key(name, slot), name.as_bytes()).expect("put");
            }
            let prefix = crate::store::keys::Key::new().name("pc").done();
            let mut seen = Vec::new();
            tx.scan_prefix(t, &prefix, &mut |k, _| {
                seen.push(k.to_vec());
                Ok(true)
            })
            .expect("scan");
            assert_eq!(seen, vec![key("pc", 0), key("pc", 1)], "{t:?}");
        }
    }

    #[test]
    fn a_kept_table_reads_its_own_writes_and_only_a_commit_stores_them() {
        let store = Store::in_memory().expect("store");
        let id = |n: u64| n.to_be_bytes().to_vec();
        let mut tx = store.write().expect("write");
        for n in 1..=5 {
            tx.put(T::Keypacks, &id(n), &[n as u8]).expect("put");
        }
        tx.commit().expect("commit");

        let mut tx = store.write().expect("write");
        tx.put(T::Keypacks, &id(2), b"two").expect("rewrite");
        assert!(tx.delete(T::Keypacks, &id(3)).expect("delete"));
        assert!(!tx.delete(T::Keypacks, &id(9)).expect("delete a missing key"));
        tx.remove_range(T::Keypacks, &id(4), None, &mut |k| k == id(5)).expect("remove 4");
        let want = vec![(id(1), vec![1]), (id(2), b"two".to_vec()), (id(5), vec![5])];
        assert_eq!(rows(&tx, T::Keypacks), want, "the transaction reads its writes");
        assert_eq!(tx.count(T::Keypacks).expect("count"), 3);
        assert_eq!(tx.get(T::Keypacks, &id(2)).expect("get"), Some(b"two".to_vec()));
        let mut seen = Vec::new();
        tx.scan(T::Keypacks, &id(2), Some(&id(5)), &mut |k, _| {
            seen.push(k.to_vec());
            Ok(true)
        })
        .expect("bounded scan");
        assert_eq!(seen, [id(2)]);
        assert_eq!(rows(&store.read().expect("read"), T::Keypacks).len(), 5, "others see nothing before the commit");
        drop(tx);
        assert_eq!(rows(&store.read().expect("read"), T::Keypacks).len(), 5, "an abort keeps nothing");

        let mut tx = store.write().expect("write");
        tx.put(T::Keypacks, &id(2), b"two").expect("rewrite");
        assert!(tx.delete(T::Keypacks, &id(3)).expect("delete"));
        tx.commit().expect("commit");
        let r = store.read().expect("read");
        assert_eq!(r.get(T::Keypacks, &id(2)).expect("get"), Some(b"two".to_vec()));
        assert_eq!(r.get(T::Keypacks, &id(3)).expect("get"), None);
        assert_eq!(r.count(T::Keypacks).expect("count"), 4);
    }

    #[test]
    fn a_kept_table_reads_only_the_rows_a_transaction_touches() {
        let store = Store::in_memory().expect("store");
        let host = |n: u64| crate::store::keys::name(&format!("h{n:04}")).to_vec();
        let mut tx = store.write().expect("write");
        for n in 0..100 {
            tx.put(T::Hosts, &host(n), &[n as u8]).expect("put");
        }
        tx.commit().expect("commit");

        let mut tx = store.write().expect("write");
        let slot = super::WriteTx::kept_slot(T::Hosts).expect("hosts are kept");
        assert_eq!(tx.get(T::Hosts, &host(7)).expect("get"), Some(vec![7]));
        assert_eq!(tx.get(T::Hosts, &host(7)).expect("get again"), Some(vec![7]));
        assert_eq!(tx.get(T::Hosts, &host(1000)).expect("get a missing host"), None);
        {
            let kept = tx.kept[slot].borrow();
            assert_eq!((kept.rows.len(), kept.complete), (2, false), "one host read, one looked for");
        }
        assert!(tx.delete(T::Hosts, &host(8)).expect("delete a host not read yet"));
        assert!(!tx.delete(T::Hosts, &host(8)).expect("delete it again"));
        tx.put(T::Hosts, &host(100), b"new").expect("put");
        // A scan reads the rest of the table once; its visitor may read
        // the same table again.
        let mut seen = 0;
        tx.scan(T::Hosts, b"", None, &mut |k, v| {
            assert_eq!(tx.get(T::Hosts, k)?.as_deref(), Some(v));
            seen += 1;
            Ok(true)
        })
        .expect("scan");
        assert_eq!(seen, 100, "99 stored hosts and the new one");
        assert_eq!(tx.count(T::Hosts).expect("count"), 100);
        assert!(tx.kept[slot].borrow().complete);
        tx.commit().expect("commit");

        let r = store.read().expect("read");
        assert_eq!(r.count(T::Hosts).expect("count"), 100);
        assert_eq!(r.get(T::Hosts, &host(8)).expect("get"), None);
        assert_eq!(r.get(T::Hosts, &host(100)).expect("get"), Some(b"new".to_vec()));
        assert_eq!(r.get(T::Hosts, &host(7)).expect("get"), Some(vec![7]), "a row only read is stored as it was");
    }
}
