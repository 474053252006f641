//! A redb write transaction together with every table of it open, in one
//! value that can move: redb's tables borrow their transaction, and a
//! `WriteTx` holds both. The one `unsafe` of the store lives here.
//!
//! Why it is sound. `open` boxes the transaction and opens the tables on
//! a reference to the box's contents, extended to `'static`:
//! - the address stays valid while `TxnTables` lives: the transaction is
//!   on the heap, so moving `TxnTables` (into a `WriteTx`, out of a
//!   function) moves the box's pointer, never the transaction; the box is
//!   private, never replaced, never handed out;
//! - the tables never outlive it: fields drop in declaration order, so
//!   `tables` drops before `txn`, and `commit` drops the tables before it
//!   takes the transaction out of the box;
//! - the extended lifetime never leaves this module as something that
//!   could: a table is lent out only shared (`get`), and redb's reads tie
//!   what they return to that borrow, not to `'txn`; the writes are
//!   methods here. A `&mut` to a table is never lent, so a table cannot be
//!   swapped with one of another transaction, which could then outlive
//!   the transaction it borrows.

use super::T;
use super::tables::{TABLE_COUNT, WTableIn, open_write, with_table};

/// A table of the write transaction held beside it by `TxnTables`.
pub(super) type WTable = WTableIn<'static>;

/// A write transaction with every table open (see the module's comment).
pub(super) struct TxnTables {
    // Field order matters: the tables borrow the transaction and must drop
    // first.
    tables: Vec<WTable>,
    txn: Box<redb::WriteTransaction>,
}

impl TxnTables {
    /// Opens every table of `txn` (creating the missing ones): the first
    /// error is the table's and the transaction's end.
    pub(super) fn open(txn: redb::WriteTransaction) -> Result<TxnTables, (T, redb::TableError)> {
        let txn = Box::new(txn);
        // SAFETY: the transaction stays where the box put it, and outlives
        // every table opened on it; see the module's comment.
        let txn_ref: &'static redb::WriteTransaction = unsafe { &*(txn.as_ref() as *const redb::WriteTransaction) };
        let mut tables = Vec::with_capacity(TABLE_COUNT);
        for t in T::ALL {
            tables.push(open_write(txn_ref, t).map_err(|e| (t, e))?);
        }
        Ok(TxnTables { tables, txn })
    }

    /// Table `t`, to read.
    pub(super) fn get(&self, t: T) -> &WTable {
        &self.tables[t as usize]
    }

    /// Stores `value` under `key` of `t`.
    pub(super) fn insert(&mut self, t: T, key: &[u8], value: &[u8]) -> Result<(), redb::StorageError> {
        with_table!(WTableIn, &mut self.tables[t as usize], |table| table.insert(key, value).map(drop))
    }

    /// Removes `key` from `t`; whether it was there.
    pub(super) fn remove(&mut self, t: T, key: &[u8]) -> Result<bool, redb::StorageError> {
        with_table!(WTableIn, &mut self.tables[t as usize], |table| Ok(table.remove(key)?.is_some()))
    }

    /// Removes the entries of `t` within `range` for which `keep` is false.
    pub(super) fn retain_in(
        &mut self,
        t: T,
        range: (std::ops::Bound<&[u8]>, std::ops::Bound<&[u8]>),
        keep: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), redb::StorageError> {
        with_table!(WTableIn, &mut self.tables[t as usize], |table| table.retain_in::<&[u8], _>(range, |k, _| keep(k)))
    }

    /// Removes every entry of `t`.
    pub(super) fn clear(&mut self, t: T) -> Result<(), redb::StorageError> {
        with_table!(WTableIn, &mut self.tables[t as usize], |table| table.retain(|_, _| false))
    }

    /// Makes the transaction's writes durable: the tables are closed first.
    pub(super) fn commit(self) -> Result<(), redb::CommitError> {
        let TxnTables { tables, txn } = self;
        drop(tables);
        txn.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::{T, TxnTables, WTableIn};
    use redb::{ReadableDatabase, ReadableTable};

    fn db() -> redb::Database {
        redb::Builder::new().create_with_backend(redb::backends::InMemoryBackend::new()).expect("db")
    }

    fn token(db: &redb::Database) -> Option<Vec<u8>> {
        let rx = db.begin_read().expect("read");
        let table = match super::super::tables::open_read(&rx, T::Tokens) {
            Err(redb::TableError::TableDoesNotExist(_)) => return None,
            table => table.expect("table"),
        };
        let super::super::tables::RTable::VarVar(table) = table else { panic!("tokens are bytes to bytes") };
        table.get(&b"k"[..]).expect("get").map(|v| v.value().to_vec())
    }

    #[test]
    fn the_tables_outlive_moves_and_a_commit_keeps_their_writes() {
        let db = db();
        let mut tx = TxnTables::open(db.begin_write().expect("write")).expect("open");
        tx.insert(T::Tokens, b"k", b"v").expect("insert");
        // Moved onto the heap and back, through a Vec: the tables still
        // read what was written through the transaction.
        let mut moved = vec![Box::new(tx)];
        let tx = *moved.pop().expect("moved");
        let WTableIn::VarVar(tokens) = tx.get(T::Tokens) else { panic!("tokens are bytes to bytes") };
        assert_eq!(tokens.get(&b"k"[..]).expect("get").map(|v| v.value().to_vec()), Some(b"v".to_vec()));
        assert_eq!(token(&db), None, "nothing is seen before the commit");
        tx.commit().expect("commit");
        assert_eq!(token(&db), Some(b"v".to_vec()));
    }

    #[test]
    fn dropped_without_a_commit_it_keeps_nothing() {
        let db = db();
        let mut tx = TxnTables::open(db.begin_write().expect("write")).expect("open");
        tx.insert(T::Tokens, b"k", b"v").expect("insert");
        assert!(tx.remove(T::Tokens, b"k").expect("remove"));
        tx.insert(T::Tokens, b"k", b"w").expect("insert");
        drop(tx);
        let tx = TxnTables::open(db.begin_write().expect("a second write begins")).expect("open");
        tx.commit().expect("commit");
        assert_eq!(token(&db), None);
    }
}
