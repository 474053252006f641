//! The database on disk: the only module that names redb. It owns the
//! tables, the encoding of keys (ordered bytes, `store::keys`) and values
//! (serde + bincode, `store::codec`), and typed read and write transactions.
//! It knows nothing of the protocol's rules: it stores and finds records.
//!
//! By concern: the tables and their shapes (`tables`), opening and
//! recognising a file (`file`, with what opening waits for in `opening`),
//! reading (`read`), writing with what a transaction keeps until its
//! commit (`write`, on `txn_tables`), history as a log (`history`), and
//! damage (`damage`).

pub mod access;
pub mod backup;
pub mod codec;
pub mod compact;
pub mod credentials;
mod damage;
pub mod envelope;
mod file;
pub mod history;
pub mod keys;
pub mod opening;
mod overlay;
mod read;
pub mod records;
pub mod schema;
mod tables;
mod txn_tables;
pub mod upgrade;
mod write;

use damage::Latch;
use redb::ReadableDatabase;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use access::{Records, license_index_keys};
pub use credentials::CredentialsRec;
pub use file::{FORMAT_VERSION, Sharing, is_already_open};
pub use read::{ReadTx, Reader};
pub use records::*;
/// The seam for fault injection: any storage a redb database can live on.
pub use redb::StorageBackend;
pub use redb::backends::InMemoryBackend;
pub use tables::{Fixed, Shape, T, TABLE_COUNT, Visit};
pub use write::WriteTx;

/// What a failed commit's error adds: the commit point may have been
/// passed. A writer of another file (BACKUP) takes it off again.
pub const COMMIT_OUTCOME_UNKNOWN: &str = "; it may still have reached the disk: reopen the database and look at \
                                          history before running the statement again";

/// A failed commit's error without `COMMIT_OUTCOME_UNKNOWN`: what failed,
/// for a caller that knows the outcome (a BACKUP's copy, a reopened file).
pub fn commit_failure_cause(e: &crate::error::Error) -> String {
    e.message().trim_end_matches(COMMIT_OUTCOME_UNKNOWN).to_string()
}

/// An open database file (or an in-memory one).
pub struct Store {
    /// Dropped by hand in `Drop`, which may then reopen the file to record
    /// damage (`write_damage_marker`).
    db: std::mem::ManuallyDrop<Handle>,
    path: Option<PathBuf>,
    /// Damage found in the file, by this store or any of its transactions.
    damage: Arc<Latch>,
    /// Held while open: asks a serving process to share the file
    /// (`opening::Knock`); released after the handle closes.
    knock: Option<opening::Knock>,
}

/// redb's handle: for reading and writing, or read-only (`-readonly`), which
/// never writes a byte of the file, not even the header flags a writable
/// open and close rewrite.
enum Handle {
    Rw(redb::Database),
    Ro(redb::ReadOnlyDatabase),
}

impl Handle {
    fn begin_read(&self) -> std::result::Result<redb::ReadTransaction, redb::TransactionError> {
        match self {
            Handle::Rw(db) => db.begin_read(),
            Handle::Ro(db) => db.begin_read(),
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.write_damage_marker();
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn describe(&self) -> String {
        self.path.as_ref().map_or(":memory:".to_string(), |p| p.display().to_string())
    }
}

/// The text of a caught panic.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "internal error".to_string())
}
