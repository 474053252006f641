//! A redb write transaction together with its tables, each opened the
//! first time the transaction uses it, in one value that can move: redb's
//! tables borrow their transaction, and a `WriteTx` holds both. The one
//! `unsafe` of the store lives here.
//!
//! Why a table opens when first used: opening one in redb looks it up in
//! the table tree, checks its stored definition and stages its root for
//! the commit, about 5,000 instructions a table; a CONNECT uses 13 of the
//! 18 tables, and a transaction of its own pays the other five for
//! nothing (`tests`: a transaction opens only what it uses).
//!
//! Why it is sound. `new` boxes the transaction and `get` opens a table on
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
use super::damage::{redb_error, table_error};
use super::tables::{TABLE_COUNT, WTableIn, open_write, with_table};
use std::cell::OnceCell;

/// Why a write to a table failed: the table would not open (its first
/// use), or redb's write did.
#[derive(Debug)]
pub(super) enum WriteError {
    Open(redb::TableError),
    Storage(redb::StorageError),
}

impl From<redb::TableError> for WriteError {
    fn from(e: redb::TableError) -> WriteError {
        WriteError::Open(e)
    }
}

impl From<redb::StorageError> for WriteError {
    fn from(e: redb::StorageError) -> WriteError {
        WriteError::Storage(e)
    }
}

impl WriteError {
    /// The error of writing `t` near `key`: damage where redb says so.
    pub(super) fn at(self, t: T, key: &[u8]) -> crate::error::Error {
        match self {
            WriteError::Open(e) => table_error(t, e),
            WriteError::Storage(e) => redb_error(t, key, e),
        }
    }
}

/// A table of the write transaction held beside it by `TxnTables`.
pub(super) type WTable = WTableIn<'static>;

/// A write transaction with its tables, each opened when first used (see
/// the module's comment).
pub(super) struct TxnTables {
    // Field order matters: the tables borrow the transaction and must drop
    // first.
    tables: [OnceCell<WTable>; TABLE_COUNT],
    txn: Box<redb::WriteTransaction>,
}

impl TxnTables {
    /// `txn`, with no table open yet.
    pub(super) fn new(txn: redb::WriteTransaction) -> TxnTables {
        TxnTables { tables: std::array::from_fn(|_| OnceCell::new()), txn: Box::new(txn) }
    }

    /// Table `t` if it is open already.
    #[inline]
    pub(super) fn opened(&self, t: T) -> Option<&WTable> {
        self.tables[t as usize].get()
    }

    /// Table `t`, opened (and created, if the file lacks it) the first
    /// time it is asked for.
    #[inline]
    pub(super) fn get(&self, t: T) -> Result<&WTable, redb::TableError> {
        match self.tables[t as usize].get() {
            Some(table) => Ok(table),
            None => self.open(t),
        }
    }

    /// Opens table `t`: once per table and transaction, off the hot path.
    #[cold]
    #[inline(never)]
    fn open(&self, t: T) -> Result<&WTable, redb::TableError> {
        // SAFETY: the transaction stays where the box put it, and outlives
        // every table opened on it; see the module's comment.
        let txn: &'static redb::WriteTransaction = unsafe { &*(self.txn.as_ref() as *const redb::WriteTransaction) };
        let table = open_write(txn, t)?;
        Ok(self.tables[t as usize].get_or_init(|| table))
    }

    /// Table `t` to write, opened first if it is not yet.
    #[inline]
    fn get_mut(&mut self, t: T) -> Result<&mut WTable, redb::TableError> {
        if self.tables[t as usize].get().is_none() {
            self.open(t)?;
        }
        Ok(self.tables[t as usize].get_mut().expect("a table just opened is held"))
    }

    /// Stores `value` under `key` of `t`.
    #[inline]
    pub(super) fn insert(&mut self, t: T, key: &[u8], value: &[u8]) -> Result<(), WriteError> {
        with_table!(WTableIn, self.get_mut(t)?, |table| Ok(table.insert(key, value).map(drop)?))
    }

    /// Removes `key` from `t`; whether it was there.
    pub(super) fn remove(&mut self, t: T, key: &[u8]) -> Result<bool, WriteError> {
        with_table!(WTableIn, self.get_mut(t)?, |table| Ok(table.remove(key)?.is_some()))
    }

    /// Removes the entries of `t` within `range` for which `keep` is false.
    pub(super) fn retain_in(
        &mut self,
        t: T,
        range: (std::ops::Bound<&[u8]>, std::ops::Bound<&[u8]>),
        keep: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), WriteError> {
        with_table!(WTableIn, self.get_mut(t)?, |table| Ok(table.retain_in::<&[u8], _>(range, |k, _| keep(k))?))
    }

    /// Removes every entry of `t`.
    pub(super) fn clear(&mut self, t: T) -> Result<(), WriteError> {
        with_table!(WTableIn, self.get_mut(t)?, |table| Ok(table.retain(|_, _| false)?))
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
        let mut tx = TxnTables::new(db.begin_write().expect("write"));
        tx.insert(T::Tokens, b"k", b"v").expect("insert");
        // Moved onto the heap and back, through a Vec: the tables still
        // read what was written through the transaction.
        let mut moved = vec![Box::new(tx)];
        let tx = *moved.pop().expect("moved");
        let WTableIn::VarVar(tokens) = tx.get(T::Tokens).expect("open") else { panic!("tokens are bytes to bytes") };
        assert_eq!(tokens.get(&b"k"[..]).expect("get").map(|v| v.value().to_vec()), Some(b"v".to_vec()));
        assert_eq!(token(&db), None, "nothing is seen before the commit");
        tx.commit().expect("commit");
        assert_eq!(token(&db), Some(b"v".to_vec()));
    }

    #[test]
    fn a_transaction_opens_only_the_tables_it_uses() {
        let db = db();
        let mut tx = TxnTables::new(db.begin_write().expect("write"));
        let open = |tx: &TxnTables| tx.tables.iter().filter(|t| t.get().is_some()).count();
        assert_eq!(open(&tx), 0);
        tx.insert(T::Tokens, b"k", b"v").expect("insert");
        tx.get(T::Meta).expect("meta");
        tx.get(T::Meta).expect("meta again");
        assert_eq!(open(&tx), 2, "tokens and meta");
        tx.commit().expect("commit");
        assert_eq!(token(&db), Some(b"v".to_vec()));
    }

    #[test]
    fn dropped_without_a_commit_it_keeps_nothing() {
        let db = db();
        let mut tx = TxnTables::new(db.begin_write().expect("write"));
        tx.insert(T::Tokens, b"k", b"v").expect("insert");
        assert!(tx.remove(T::Tokens, b"k").expect("remove"));
        tx.insert(T::Tokens, b"k", b"w").expect("insert");
        drop(tx);
        let tx = TxnTables::new(db.begin_write().expect("a second write begins"));
        tx.commit().expect("commit");
        assert_eq!(token(&db), None);
    }
}
