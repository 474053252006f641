//! The database on disk: the only module that names redb. It owns the
//! tables, the encoding of keys (ordered bytes, `store::keys`) and values
//! (serde + bincode, `store::codec`), and typed read and write transactions.
//! It knows nothing of the protocol's rules: it stores and finds records.

pub mod access;
pub mod backup;
pub mod codec;
mod damage;
pub mod envelope;
pub mod history;
pub mod keys;
pub mod opening;
mod overlay;
pub mod records;
pub mod schema;
pub mod upgrade;

use crate::error::{Error, Result};
use damage::{
    Latch, VERIFY_WHOLE_UP_TO, check_pages_read_only, damaged_pages, guarded, record_damage, redb_error, table_error,
};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub use access::{Records, license_index_keys};
pub use records::*;
/// The seam for fault injection: any storage a redb database can live on.
pub use redb::StorageBackend;
pub use redb::backends::InMemoryBackend;

/// Every table of the file, in `.dump` order. Records live in the first
/// eleven; the rest are secondary indexes derived from the records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum T {
    Meta,
    Servers,
    Keypacks,
    Licenses,
    Devices,
    Tokens,
    Hosts,
    Sessions,
    UserCals,
    Events,
    History,
    IdxLicenseHwid,
    IdxLicenseComputer,
    IdxLicenseExpiry,
    IdxLicenseRevoked,
    IdxDeviceHwid,
    IdxSessionLive,
}

pub const TABLE_COUNT: usize = 17;

impl T {
    pub const ALL: [T; TABLE_COUNT] = [
        T::Meta,
        T::Servers,
        T::Keypacks,
        T::Licenses,
        T::Devices,
        T::Tokens,
        T::Hosts,
        T::Sessions,
        T::UserCals,
        T::Events,
        T::History,
        T::IdxLicenseHwid,
        T::IdxLicenseComputer,
        T::IdxLicenseExpiry,
        T::IdxLicenseRevoked,
        T::IdxDeviceHwid,
        T::IdxSessionLive,
    ];

    /// The secondary indexes: the tables after `history`, every one derived
    /// from the records (CHECK compares them, REPAIR rebuilds them).
    pub fn indexes() -> &'static [T] {
        &T::ALL[T::IdxLicenseHwid as usize..]
    }

    pub fn name(self) -> &'static str {
        match self {
            T::Meta => "meta",
            T::Servers => "servers",
            T::Keypacks => "keypacks",
            T::Licenses => "licenses",
            T::Devices => "devices",
            T::Tokens => "tokens",
            T::Hosts => "hosts",
            T::Sessions => "sessions",
            T::UserCals => "user_cals",
            T::Events => "events",
            T::History => "history",
            T::IdxLicenseHwid => "idx_license_hwid",
            T::IdxLicenseComputer => "idx_license_computer",
            T::IdxLicenseExpiry => "idx_license_expiry",
            T::IdxLicenseRevoked => "idx_license_revoked",
            T::IdxDeviceHwid => "idx_device_hwid",
            T::IdxSessionLive => "idx_session_live",
        }
    }

    /// How redb stores the table's keys and values. Each is bytes, as
    /// `store::keys` and `store::codec` make them; where every key (or
    /// value) has the same width, redb is told so: a leaf of fixed-width
    /// entries keeps no offset per entry, and an insert into a leaf of
    /// variable-width ones rewrites the offsets of all its entries.
    pub fn shape(self) -> Shape {
        match self {
            T::Keypacks | T::Licenses | T::Sessions | T::Events | T::History => Shape::IdVar,
            T::IdxLicenseHwid => Shape::Fixed28Empty,
            T::IdxLicenseExpiry => Shape::Fixed16Flag,
            T::IdxLicenseRevoked => Shape::Fixed16Empty,
            T::IdxLicenseComputer | T::IdxDeviceHwid => Shape::VarEmpty,
            T::Meta | T::Servers | T::Devices | T::Tokens | T::Hosts | T::UserCals | T::IdxSessionLive => Shape::VarVar,
        }
    }
}

/// A table's key and value widths (`T::shape`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Variable keys, variable values.
    VarVar,
    /// Variable keys, empty values (an index).
    VarEmpty,
    /// 8-byte keys (a big-endian id), variable values (records).
    IdVar,
    /// 16-byte keys (a time or id, then an id), empty values.
    Fixed16Empty,
    /// 16-byte keys, one-byte values (a flag).
    Fixed16Flag,
    /// 28-byte keys (a HWID, then an id), empty values.
    Fixed28Empty,
}

impl Shape {
    /// The width of every key, when fixed.
    pub fn key_width(self) -> Option<usize> {
        match self {
            Shape::VarVar | Shape::VarEmpty => None,
            Shape::IdVar => Some(8),
            Shape::Fixed16Empty | Shape::Fixed16Flag => Some(16),
            Shape::Fixed28Empty => Some(28),
        }
    }

    /// The width of every value's payload, when fixed; redb stores it with
    /// its checksum (`envelope`), `envelope::CHECKSUM_LEN` bytes more.
    pub fn value_width(self) -> Option<usize> {
        match self {
            Shape::VarVar | Shape::IdVar => None,
            Shape::VarEmpty | Shape::Fixed16Empty | Shape::Fixed28Empty => Some(0),
            Shape::Fixed16Flag => Some(1),
        }
    }

    /// Whether `key` and `value` have the widths this shape stores.
    fn fits(self, key: &[u8], value: &[u8]) -> bool {
        self.key_width().is_none_or(|w| w == key.len()) && self.value_width().is_none_or(|w| w == value.len())
    }
}

/// redb's type for byte strings of one width `N`: the bytes as they are,
/// ordered as bytes (like `&[u8]`), but fixed-width.
#[derive(Debug)]
pub struct Fixed<const N: usize>;

impl<const N: usize> redb::Value for Fixed<N> {
    type SelfType<'a> = &'a [u8];
    type AsBytes<'a> = &'a [u8];

    fn fixed_width() -> Option<usize> {
        Some(N)
    }

    fn from_bytes<'a>(data: &'a [u8]) -> &'a [u8]
    where
        Self: 'a,
    {
        data
    }

    fn as_bytes<'a, 'b: 'a>(value: &'a &'b [u8]) -> &'a [u8] {
        value
    }

    fn type_name() -> redb::TypeName {
        redb::TypeName::new(&format!("caldb::Fixed<{N}>"))
    }
}

impl<const N: usize> redb::Key for Fixed<N> {
    fn compare(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
        a.cmp(b)
    }
}

type Raw = &'static [u8];
type WT<K, V> = redb::Table<'static, K, V>;
type RT<K, V> = redb::ReadOnlyTable<K, V>;

/// A table as redb holds it: one variant per `Shape`. `with_table!` runs
/// the same code on whichever it is (every variant reads and writes
/// `&[u8]`).
macro_rules! shaped {
    ($name:ident, $table:ident) => {
        enum $name {
            VarVar($table<Raw, Raw>),
            VarEmpty($table<Raw, Fixed<4>>),
            IdVar($table<Fixed<8>, Raw>),
            Fixed16Empty($table<Fixed<16>, Fixed<4>>),
            Fixed16Flag($table<Fixed<16>, Fixed<5>>),
            Fixed28Empty($table<Fixed<28>, Fixed<4>>),
        }
    };
}

shaped!(WTable, WT);
shaped!(RTable, RT);

macro_rules! with_table {
    ($kind:ident, $table:expr, |$t:ident| $body:expr) => {
        match $table {
            $kind::VarVar($t) => $body,
            $kind::VarEmpty($t) => $body,
            $kind::IdVar($t) => $body,
            $kind::Fixed16Empty($t) => $body,
            $kind::Fixed16Flag($t) => $body,
            $kind::Fixed28Empty($t) => $body,
        }
    };
}

/// Opens table `t` with its shape, through `open` (a write or read
/// transaction's `open_table`).
macro_rules! open_shaped {
    ($kind:ident, $t:expr, |$def:ident| $open:expr) => {{
        let name = $t.name();
        match $t.shape() {
            Shape::VarVar => {
                let $def = TableDefinition::<Raw, Raw>::new(name);
                $open.map($kind::VarVar)
            }
            Shape::VarEmpty => {
                let $def = TableDefinition::<Raw, Fixed<4>>::new(name);
                $open.map($kind::VarEmpty)
            }
            Shape::IdVar => {
                let $def = TableDefinition::<Fixed<8>, Raw>::new(name);
                $open.map($kind::IdVar)
            }
            Shape::Fixed16Empty => {
                let $def = TableDefinition::<Fixed<16>, Fixed<4>>::new(name);
                $open.map($kind::Fixed16Empty)
            }
            Shape::Fixed16Flag => {
                let $def = TableDefinition::<Fixed<16>, Fixed<5>>::new(name);
                $open.map($kind::Fixed16Flag)
            }
            Shape::Fixed28Empty => {
                let $def = TableDefinition::<Fixed<28>, Fixed<4>>::new(name);
                $open.map($kind::Fixed28Empty)
            }
        }
    }};
}

/// `key` as a bound of a table whose keys are `width` bytes: a shorter
/// bound (a prefix, or a prefix's end) is padded with zeros, which keeps
/// exactly the same keys on each side of it.
fn widen(key: &[u8], width: Option<usize>) -> std::borrow::Cow<'_, [u8]> {
    match width {
        Some(w) if key.len() < w => {
            let mut k = key.to_vec();
            k.resize(w, 0);
            std::borrow::Cow::Owned(k)
        }
        _ => std::borrow::Cow::Borrowed(key),
    }
}

/// `meta` as every format version has it: the format version is read
/// through it before any other table is opened with this version's types.
const META: TableDefinition<'static, Raw, Raw> = TableDefinition::new("meta");

/// The format version written in `meta`; a file with another one is refused.
pub const FORMAT_VERSION: u32 = 3;
const FORMAT_KEY: &[u8] = b"format";
/// `meta`'s record of damage found by a writable open: what was found.
/// REPAIR removes it when it fixed everything.
const DAMAGED_KEY: &[u8] = b"damaged";
const STATE_KEY: &[u8] = b"state";
/// `meta`'s `expired_through`: every license expiring at or before this
/// time has been expired (is not live). Expiry visits the licenses of
/// `idx_license_expiry` after it only.
const EXPIRED_THROUGH_KEY: &[u8] = b"expired_through";
/// `expired_through` before anything has been expired: the earliest time.
const NOTHING_EXPIRED: crate::model::Time = crate::model::Time(i64::MIN);

/// What a failed commit's error adds: the commit point may have been
/// passed. A writer of another file (BACKUP) takes it off again.
pub const COMMIT_OUTCOME_UNKNOWN: &str = "; it may still have reached the disk: reopen the database and look at \
                                          history before running the statement again";

/// An open database file (or an in-memory one).
pub struct Store {
    /// Dropped by hand in `Drop`, which may then reopen the file to record
    /// damage (`write_damage_marker`).
    db: std::mem::ManuallyDrop<Handle>,
    path: Option<PathBuf>,
    /// Damage found in the file, by this store or any of its transactions.
    damage: Arc<Latch>,
}

/// The payload of a stored value, its checksum verified (`meta`'s format
/// entry is bare: it is read before the envelope is known).
fn open_stored<'a>(t: T, key: &[u8], stored: &'a [u8]) -> Result<&'a [u8]> {
    if t == T::Meta && key == FORMAT_KEY {
        return Ok(stored);
    }
    envelope::open(t, key, stored)
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
    /// Opens a file, creating it (and its tables) if missing. A file that is
    /// not a redb file, or a redb file without caldb's format marker, is an
    /// error that says so.
    pub fn open(path: &Path) -> Result<Store> {
        opening::refuse_non_regular(path)?;
        let mut existed = path.exists();
        if existed && interrupted_creation(&FileBytes(path))? {
            // A crash while redb created the file: no transaction can have
            // committed, so it is started again from empty.
            std::fs::OpenOptions::new().write(true).open(path).and_then(|f| f.set_len(0)).map_err(Error::storage)?;
            existed = false;
        }
        if existed {
            check_magic(path)?;
            refuse_foreign(path)?;
        }
        // redb panics on some damaged files; that is a damaged file, not a
        // crash of caldb.
        let opened = std::panic::catch_unwind(|| {
            let backend = opening::Bounded::open(path).map_err(|e| open_error(path, e.into()))?;
            let db = file_builder().create_with_backend(backend).map_err(|e| open_error(path, e))?;
            Store::init(Handle::Rw(db), Some(path.to_path_buf()), existed)
        });
        opened.unwrap_or_else(|_| Err(damaged_pages(path)))
    }

    /// Opens an existing file for reading only: not a byte of it is
    /// written. A file that needs recovery after a crash cannot be opened
    /// so; opening it once for writing recovers it.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        opening::refuse_non_regular(path)?;
        check_magic(path)?;
        refuse_foreign(path)?;
        let opened = std::panic::catch_unwind(|| {
            let db = file_builder().open_read_only(path).map_err(|e| match e {
                redb::DatabaseError::RepairAborted => Error::Storage(format!(
                    "{} needs recovery after a crash, which writes to it: open it once without -readonly",
                    path.display()
                )),
                e => open_error(path, e),
            })?;
            Store::init(Handle::Ro(db), Some(path.to_path_buf()), true)
        });
        opened.unwrap_or_else(|_| Err(damaged_pages(path)))
    }

    /// A new empty database in memory.
    pub fn in_memory() -> Result<Store> {
        let db =
            redb::Builder::new().create_with_backend(redb::backends::InMemoryBackend::new()).map_err(Error::storage)?;
        Store::init(Handle::Rw(db), None, false)
    }

    /// Opens on any storage backend (fault injection in tests).
    pub fn with_backend(backend: impl redb::StorageBackend) -> Result<Store> {
        if interrupted_creation(&backend)? {
            backend.set_len(0).map_err(Error::storage)?;
        }
        // The commit protocol of files (multi-writer: an extra header write
        // around the sync) when the backend can lock; exclusive otherwise.
        let mut builder = redb::Builder::new();
        let full = (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded);
        if !matches!(backend.query_lock_range(full.0, full.1), Err(redb::BackendError::Unsupported)) {
            builder.set_concurrency_mode(redb::ConcurrencyMode::MultiWriter);
        }
        let db = builder.create_with_backend(backend).map_err(Error::storage)?;
        Store::init(Handle::Rw(db), None, true)
    }

    fn init(db: Handle, path: Option<PathBuf>, existed: bool) -> Result<Store> {
        let store = Store { db: std::mem::ManuallyDrop::new(db), path, damage: Arc::default() };
        match store.format_version()? {
            Some(version) => {
                if version != FORMAT_VERSION {
                    return Err(wrong_version(&store.describe(), version));
                }
            }
            None if existed && store.has_foreign_tables()? => {
                return Err(Error::Storage(format!(
                    "{}: is a redb database but not a caldb database",
                    store.describe()
                )));
            }
            None if matches!(*store.db, Handle::Ro(_)) => {
                return Err(Error::Storage(format!("{}: not a caldb database", store.describe())));
            }
            None => store.create_tables()?,
        }
        store.read_damage_marker()?;
        Ok(store)
    }

    /// Latches the damage a writable open recorded in `meta` earlier.
    fn read_damage_marker(&self) -> Result<()> {
        let rx = self.db.begin_read().map_err(Error::storage)?;
        let found = guarded(T::Meta, DAMAGED_KEY, || {
            let meta = rx.open_table(META).map_err(Error::storage)?;
            let marker = meta.get(DAMAGED_KEY).map_err(|e| redb_error(T::Meta, DAMAGED_KEY, e))?;
            Ok(marker.map(|v| match open_stored(T::Meta, DAMAGED_KEY, v.value()) {
                Ok(text) => String::from_utf8_lossy(text).into_owned(),
                Err(e) => e.to_string(),
            }))
        });
        match found {
            Ok(Some(first)) => self.damage.note(&Error::damaged(format!("recorded by an earlier open: {first}"))),
            Ok(None) => {}
            Err(e) => self.damage.note(&e),
        }
        Ok(())
    }

    /// The first damage found in the file (by this open, or recorded by an
    /// earlier writable one), if any: no write but REPAIR's is accepted.
    pub fn damage(&self) -> Option<String> {
        self.damage.get()
    }

    /// Latches `e` if it is damage (found outside the store's own reads).
    pub fn note_damage(&self, e: &Error) {
        self.damage.note(e);
    }

    /// Records the latched damage in `meta`, so that a later open refuses
    /// writes too; best effort, when no other writer holds the file. A
    /// handle whose redb check failed cannot write until reopened: the
    /// file is opened again, once this handle is closed.
    fn write_damage_marker(&mut self) {
        let (Handle::Rw(db), Some(first)) = (&*self.db, self.damage.get()) else {
            // SAFETY: `db` is not used after this (the store is dropping).
            unsafe { std::mem::ManuallyDrop::drop(&mut self.db) };
            return;
        };
        let recorded = record_damage(db, &first);
        // SAFETY: as above; the reopened handle below is a new one.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.db) };
        if let (false, Some(path)) = (recorded, &self.path) {
            let reopened = std::panic::catch_unwind(|| file_builder().open(path));
            if let Ok(Ok(db)) = reopened {
                record_damage(&db, &first);
            }
        }
    }

    /// The format version in `meta`, if there is one.
    fn format_version(&self) -> Result<Option<u32>> {
        format_version(&self.db.begin_read().map_err(Error::storage)?)
    }

    fn describe(&self) -> String {
        self.path.as_ref().map_or(":memory:".to_string(), |p| p.display().to_string())
    }

    fn has_foreign_tables(&self) -> Result<bool> {
        let rx = self.db.begin_read().map_err(Error::storage)?;
        let count = rx.list_tables().map_err(Error::storage)?.count();
        Ok(count > 0)
    }

    fn create_tables(&self) -> Result<()> {
        let mut tx = self.write()?;
        tx.put(T::Meta, FORMAT_KEY, &codec::encode(&FORMAT_VERSION)?)?;
        tx.put(T::Meta, STATE_KEY, &codec::encode(&State::new())?)?;
        tx.commit()
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A write transaction with every table open.
    pub fn write(&self) -> Result<WriteTx> {
        let Handle::Rw(db) = &*self.db else {
            return Err(Error::Storage(format!("{} is open read-only", self.describe())));
        };
        let txn = db.begin_write().map_err(|e| {
            if opening::is_locked(&e) { Error::Storage(locked(&self.describe())) } else { Error::storage(e) }
        })?;
        let tx = guarded(T::Meta, b"", || WriteTx::new(txn, self.damage.clone(), self.path.clone()));
        let tx = tx.inspect_err(|e| self.damage.note(e))?;
        tx.verify_whole_once();
        Ok(tx)
    }

    /// A consistent snapshot for reading.
    pub fn read(&self) -> Result<ReadTx> {
        let txn = self.db.begin_read().map_err(Error::storage)?;
        let mut tables = Vec::with_capacity(TABLE_COUNT);
        for t in T::ALL {
            match guarded(t, b"", || Ok(open_shaped!(RTable, t, |def| txn.open_table(def))))? {
                Ok(table) => tables.push(Some(table)),
                Err(redb::TableError::TableDoesNotExist(_)) => tables.push(None),
                Err(e) => return Err(table_error(t, e)).inspect_err(|e| self.damage.note(e)),
            }
        }
        Ok(ReadTx { tables, damage: self.damage.clone() })
    }

    /// Whether any stored entry fails its checksum, or a page of a table
    /// cannot be read (latched).
    fn records_damaged(&self) -> Result<bool> {
        let rx = self.read()?;
        for t in T::ALL {
            match rx.damaged_entries(t) {
                Ok(found) if found.is_empty() => {}
                Ok(_) => return Ok(true),
                Err(e) if e.is_damage() => return Ok(true),
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// redb's own integrity check (checksums of every page).
    ///
    /// Damaged records are CHECK's to report, entry by entry: redb's check
    /// would stop at the first page whose checksum fails, and leave the
    /// handle unable to write until reopened; it runs on a file whose
    /// records are sound.
    pub fn check_integrity(&mut self) -> Result<bool> {
        if self.records_damaged()? {
            return Ok(true);
        }
        let damage = self.damage.clone();
        match &mut *self.db {
            Handle::Rw(db) => guarded(T::Meta, b"", || {
                db.check_integrity().map_err(|e| match e {
                    redb::DatabaseError::Storage(redb::StorageError::Corrupted(m)) => {
                        Error::damaged(format!("redb's check of the file's pages: {m}"))
                    }
                    e => Error::storage(e),
                })
            })
            .inspect_err(|e| damage.note(e)),
            // Checking repairs, which writes: a read-only handle checks a
            // copy whose writes stay in memory.
            Handle::Ro(_) => match &self.path {
                Some(path) => check_pages_read_only(path).inspect_err(|e| damage.note(e)),
                None => Ok(true),
            },
        }
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

/// Refuses, without a byte of it written, an existing file that is a redb
/// database of another program (tables, but not caldb's `meta`) or of
/// another caldb format version. Looked at read-only; when a read-only
/// look is not possible (a file that needs recovery, say), the writable
/// open decides.
fn refuse_foreign(path: &Path) -> Result<()> {
    enum Look {
        Foreign,
        Version(u32),
        Fine,
    }
    let look = || -> Option<Look> {
        let mut builder = redb::Builder::new();
        builder.set_concurrency_mode(redb::ConcurrencyMode::MultiWriter);
        let db = builder.open_read_only(path).ok()?;
        let rx = db.begin_read().ok()?;
        Some(match format_version(&rx).ok()? {
            Some(version) if version == FORMAT_VERSION => Look::Fine,
            Some(version) => Look::Version(version),
            None if rx.list_tables().ok()?.count() > 0 => Look::Foreign,
            None => Look::Fine,
        })
    };
    match std::panic::catch_unwind(look).ok().flatten() {
        Some(Look::Foreign) => {
            Err(Error::Storage(format!("{}: is a redb database but not a caldb database", path.display())))
        }
        Some(Look::Version(v)) => Err(wrong_version(&path.display().to_string(), v)),
        Some(Look::Fine) | None => Ok(()),
    }
}

/// The format version in a snapshot's `meta`, read through `META` (the
/// same in every format), if it holds one.
fn format_version(rx: &redb::ReadTransaction) -> Result<Option<u32>> {
    let meta = match rx.open_table(META) {
        Ok(meta) => meta,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(Error::storage(e)),
    };
    let version = meta.get(FORMAT_KEY).map_err(Error::storage)?;
    version.map(|v| codec::decode(v.value())).transpose()
}

fn wrong_version(what: &str, version: u32) -> Error {
    let how = match envelope::Envelope::of_version(version) {
        Some(_) if version < FORMAT_VERSION => {
            format!(" (carry it over, whole, with: caldb -upgrade '{what}' NEW.redb)")
        }
        _ => String::new(),
    };
    Error::Storage(format!("{what}: caldb format version {version}, this caldb reads version {FORMAT_VERSION}{how}"))
}

/// Random access to the bytes of a file or a backend.
trait Bytes {
    fn len(&self) -> std::io::Result<u64>;
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()>;
}

impl<B: redb::StorageBackend> Bytes for B {
    fn len(&self) -> std::io::Result<u64> {
        redb::StorageBackend::len(self)
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        redb::StorageBackend::read(self, offset, out)
    }
}

struct FileBytes<'a>(&'a Path);

impl Bytes for FileBytes<'_> {
    fn len(&self) -> std::io::Result<u64> {
        Ok(std::fs::metadata(self.0)?.len())
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        use std::io::{Read, Seek};
        let mut f = std::fs::File::open(self.0)?;
        f.seek(std::io::SeekFrom::Start(offset))?;
        f.read_exact(out)
    }
}

/// Whether the bytes are what a crash leaves while redb creates a file: redb
/// sizes the file, writes its header without the magic number, syncs, and
/// only then writes the magic number, before any transaction. So a file
/// with no magic number and nothing but zeros after the header's commit
/// slots holds no data, and redb would refuse it for good ("not a redb
/// database"), when its header is redb's: its fields in place, or, if a
/// power loss garbled it before the first sync, bytes that are not text.
/// Anything else, a user's text file with zeros at the start and after
/// byte 320 among them, is left alone.
fn interrupted_creation(bytes: &impl Bytes) -> Result<bool> {
    const HEADER: u64 = 320;
    const MAX_INITIAL: u64 = 16 << 20;
    let len = bytes.len().map_err(Error::storage)?;
    // Shorter than the header: redb's first write never completed, or the
    // file was cut; either way nothing to start again from silently.
    if !(HEADER..=MAX_INITIAL).contains(&len) {
        return Ok(false);
    }
    // The magic number missing, or torn: each byte zero or its own. A whole
    // one (every healthy file) decides it without reading further.
    let mut head = [0u8; REDB_MAGIC.len()];
    bytes.read(0, &mut head).map_err(Error::storage)?;
    let magic_incomplete = head != REDB_MAGIC && head.iter().zip(&REDB_MAGIC).all(|(&b, &m)| b == 0 || b == m);
    if !magic_incomplete {
        return Ok(false);
    }
    let mut header = [0u8; HEADER as usize];
    bytes.read(0, &mut header).map_err(Error::storage)?;
    if !redb_header_fields(&header) && looks_like_text(&header[REDB_MAGIC.len()..]) {
        return Ok(false);
    }
    let mut rest = vec![0u8; (len - HEADER) as usize];
    bytes.read(HEADER, &mut rest).map_err(Error::storage)?;
    Ok(rest.iter().all(|&b| b == 0))
}

/// Whether redb's header fields past the magic number are what redb
/// writes: two zero padding bytes after the god byte, a page size that is
/// a power of two (512 bytes to 1 MiB), and a commit slot of a file format
/// redb knows (1 to 3). Text has no zero bytes there.
fn redb_header_fields(header: &[u8; 320]) -> bool {
    const PAGE_SIZE_AT: usize = 12;
    const SLOT_VERSION_AT: usize = 64;
    let mut page = [0u8; 4];
    page.copy_from_slice(&header[PAGE_SIZE_AT..PAGE_SIZE_AT + 4]);
    let page = u32::from_le_bytes(page);
    header[10..12] == [0, 0]
        && page.is_power_of_two()
        && (512..=1 << 20).contains(&page)
        && (1..=3).contains(&header[SLOT_VERSION_AT])
}

/// Whether `bytes`, leaving out the zeros at either end, are text: valid
/// UTF-8 with no control character but whitespace. redb's header fields
/// are binary (zeros inside, a page size), and so are garbled bytes: 311
/// random bytes are valid UTF-8 with odds far below one in a billion.
fn looks_like_text(bytes: &[u8]) -> bool {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|&b| b != 0).map_or(start, |i| i + 1);
    let text = std::str::from_utf8(&bytes[start..end]);
    text.is_ok_and(|s| !s.is_empty() && s.chars().all(|c| !c.is_control() || c.is_whitespace()))
}

/// How caldb opens a file: a 64 MiB page cache, and redb's multi-writer
/// mode, so several caldb processes can share the file (quality.md R5).
fn file_builder() -> redb::Builder {
    let mut builder = redb::Builder::new();
    builder.set_cache_size(64 * 1024 * 1024);
    builder.set_concurrency_mode(redb::ConcurrencyMode::MultiWriter);
    builder
}

/// redb's magic number, the first bytes of every redb file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

fn check_magic(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut head = [0u8; 4];
    let magic = &REDB_MAGIC[..4];
    let mut f =
        std::fs::File::open(path).map_err(|e| Error::Storage(format!("cannot open {}: {e}", path.display())))?;
    let n = f.read(&mut head).map_err(Error::storage)?;
    let len = f.metadata().map_err(Error::storage)?.len();
    if len == 0 {
        return Ok(());
    }
    if n < 4 || head != magic {
        return Err(Error::Storage(format!("{}: not a caldb database", path.display())));
    }
    Ok(())
}

/// The busy timeout ran out: who holds the file, and what to do.
fn locked(what: &str) -> String {
    let ms = opening::busy_timeout();
    format!("{what}: {} (waited {ms} ms; .timeout or -timeout sets the wait)", opening::LOCKED)
}

fn open_error(path: &Path, e: redb::DatabaseError) -> Error {
    if opening::is_locked(&e) {
        return Error::Storage(locked(&path.display().to_string()));
    }
    let why = match e {
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            format!("cannot be opened for writing ({io}); -readonly opens it for reading")
        }
        redb::DatabaseError::DatabaseAlreadyOpen => "is already open in another program".into(),
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(m)) => {
            format!("is damaged ({m})")
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(io)) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "is damaged (a page lies past the end of the file: it was cut short)".into()
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(io)) => format!("cannot be read: {io}"),
        other => format!("cannot be opened: {other}"),
    };
    Error::Storage(format!("{} {why}", path.display()))
}

/// A visitor of the entries of a scan: returns whether to go on.
pub type Visit<'v> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'v;

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

    /// Decodes the record under `key`.
    fn record<R: serde::de::DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<R>> {
        self.get(t, key)?.map(|v| codec::decode(&v)).transpose()
    }

    /// Visits the entries whose keys start with `prefix`, in key order,
    /// until `f` returns false. The scan has no end key and stops at the
    /// first key past the prefix: an end key, and redb's copy of it, were
    /// two allocations per prefix lookup.
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

fn bounds<'a>(from: &'a [u8], to: Option<&'a [u8]>) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    (Bound::Included(from), to.map_or(Bound::Unbounded, Bound::Excluded))
}

/// The reads of a read or a write transaction straight from redb, on
/// `$kind` tables (inherent methods; `Reader` is built on them).
/// Entries a scan visits between two interrupt checkpoints.
const SCAN_CHECK_EVERY: usize = 1024;

macro_rules! raw_reads {
    ($kind:ident) => {
        /// Runs `f` on the value stored under `key`, in place on redb's
        /// page. A key of another width than the table's is not there.
        fn raw_with_value<X>(&self, t: T, key: &[u8], f: &mut dyn FnMut(&[u8]) -> Result<X>) -> Result<Option<X>> {
            let Some(table) = self.table(t) else { return Ok(None) };
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
        fn raw_scan(&self, t: T, from: &[u8], to: Option<&[u8]>, f: &mut Visit) -> Result<()> {
            let Some(table) = self.table(t) else { return Ok(()) };
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
            let Some(table) = self.table(t) else { return Ok(0) };
            guarded(t, b"", || with_table!($kind, table, |table| table.len().map_err(|e| redb_error(t, b"", e))))
                .map_err(|e| self.noted(e))
        }

        /// Every damaged entry of `t` (each value's checksum verified, as a
        /// whole scan does, but going on past a damaged one); a damaged page
        /// that ends the walk is the error.
        fn raw_sweep(&self, t: T) -> Result<Vec<Error>> {
            let Some(table) = self.table(t) else { return Ok(Vec::new()) };
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

        /// The stored history rows with sequence numbers in `[from, to)`,
        /// each under its own key, from the chunks that hold them.
        fn stored_history(&self, from: &[u8], to: Option<&[u8]>, f: &mut Visit) -> Result<bool> {
            let (from, to) = (history::seq_of(from), to.map(history::seq_of));
            let mut more = true;
            // The first chunk that can hold `from` is the first whose last
            // row is at or after it.
            self.raw_scan(T::History, &from.to_be_bytes(), None, &mut |_, chunk| {
                history::visit(chunk, &mut |seq, row| {
                    if seq < from {
                        return Ok(true);
                    }
                    more = to.is_none_or(|to| seq < to) && f(&seq.to_be_bytes(), row)?;
                    Ok(more)
                })
            })?;
            Ok(more)
        }

        fn stored_history_count(&self) -> Result<u64> {
            let mut n = 0;
            self.raw_scan(T::History, b"", None, &mut |_, chunk| {
                n += history::row_count(chunk)?;
                Ok(true)
            })?;
            Ok(n)
        }
    };
}

/// History rows are only appended (a whole table is cleared at most).
fn refuse_history_edit(t: T) -> Result<()> {
    if t == T::History {
        return Err(Error::Storage("internal: history rows are never deleted one by one".into()));
    }
    Ok(())
}

/// A scan of one table from a key to another.
type RangeScan<'s> = dyn FnMut(&[u8], &[u8], &mut Visit) -> Result<()> + 's;

/// The history row stored under `key` (a sequence number), through
/// `scan` (a table scan from, to).
fn history_row(key: &[u8], scan: &mut RangeScan) -> Result<Option<Vec<u8>>> {
    if key.len() != 8 {
        return Ok(None);
    }
    let seq = history::seq_of(key);
    let mut out = None;
    let Some(next) = seq.checked_add(1) else { return Ok(None) };
    scan(key, &next.to_be_bytes(), &mut |_, v| {
        out = Some(v.to_vec());
        Ok(false)
    })?;
    Ok(out)
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

    raw_reads!(RTable);
}

impl Reader for ReadTx {
    fn get(&self, t: T, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if t == T::History {
            return history_row(key, &mut |from, to, f| self.scan(t, from, Some(to), f));
        }
        self.raw_with_value(t, key, &mut |v| Ok(v.to_vec()))
    }

    fn record<R: serde::de::DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<R>> {
        if t == T::History {
            let row = self.get(t, key)?;
            return row.map(|v| codec::decode(&v)).transpose().map_err(|e| self.noted(envelope::at(e, t, key)));
        }
        // Decodes straight from redb's page: no copy of the value.
        self.raw_with_value(t, key, &mut |v| codec::decode(v))
    }

    fn scan(&self, t: T, from: &[u8], to: Option<&[u8]>, f: &mut Visit) -> Result<()> {
        if t == T::History {
            return self.stored_history(from, to, f).map(drop);
        }
        self.raw_scan(t, from, to, f)
    }

    fn count(&self, t: T) -> Result<u64> {
        if t == T::History {
            return self.stored_history_count();
        }
        self.raw_count(t)
    }

    fn damaged_entries(&self, t: T) -> Result<Vec<Error>> {
        self.raw_sweep(t)
    }

    fn damage_found(&self) -> bool {
        self.damage.get().is_some()
    }
}

/// A write transaction with every table open. Dropping it without `commit`
/// aborts it: nothing it wrote is kept.
///
/// The state record is read once and then kept here: every statement reads
/// and rewrites it, and inside a BEGIN block that was one decode, one
/// encode and one B-tree insert per statement for a value only the commit
/// needs on disk. `state()` returns the kept copy, `set_state` changes it,
/// and `commit` writes it (the block is one transaction, so no reader
/// outside it can tell).
pub struct WriteTx {
    // Field order matters: the tables borrow the transaction and must drop
    // first.
    tables: Vec<WTable>,
    txn: Box<redb::WriteTransaction>,
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
    /// The history rows this transaction appended (sequence number, row),
    /// written in chunks at its commit (`store::history`).
    history: Vec<(u64, Vec<u8>)>,
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
    /// The last stored history row's sequence number, once looked up: a
    /// row is only ever appended after it.
    history_last: Option<u64>,
}

/// Tables whose rows a write transaction keeps in memory: every CONNECT
/// reads the servers, a server's key packs and its host, and rewrites a
/// key pack's count. A row is read from redb once, when the transaction
/// first reads or writes it; a scan or count reads the whole table once.
/// Later reads come from the kept rows, writes go to them, and the commit
/// writes what changed to redb (nothing at all for a transaction that
/// changed none). Only the rows a transaction touches are read, so a
/// statement run on its own costs the same with ten hosts or ten thousand.
const KEPT: [T; 3] = [T::Keypacks, T::Servers, T::Hosts];

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
        let txn = Box::new(txn);
        // SAFETY: the tables borrow the boxed transaction, whose address is
        // stable; `WriteTx` drops (or `commit` takes) the tables before the
        // transaction, and never hands out the transaction itself.
        let txn_ref: &'static redb::WriteTransaction = unsafe { &*(txn.as_ref() as *const redb::WriteTransaction) };
        let mut tables = Vec::with_capacity(TABLE_COUNT);
        for t in T::ALL {
            tables.push(open_shaped!(WTable, t, |def| txn_ref.open_table(def)).map_err(|e| table_error(t, e))?);
        }
        let WTable::VarVar(meta) = &tables[T::Meta as usize] else { unreachable!("meta is bytes to bytes") };
        let key = EXPIRED_THROUGH_KEY;
        let expired_through = match meta.get(key).map_err(|e| redb_error(T::Meta, key, e))? {
            Some(v) => {
                codec::decode(open_stored(T::Meta, key, v.value())?).map_err(|e| envelope::at(e, T::Meta, key))?
            }
            None => NOTHING_EXPIRED,
        };
        Ok(WriteTx {
            tables,
            txn,
            state: None,
            state_unwritten: false,
            scratch: Vec::with_capacity(256),
            expired_through,
            expired_through_unwritten: false,
            kept: Default::default(),
            history: Vec::new(),
            history_last: None,
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

    fn table(&self, t: T) -> Option<&WTable> {
        self.refuse_stale_meta(t);
        Some(&self.tables[t as usize])
    }

    raw_reads!(WTable);

    /// The slot of `t` among the `KEPT` tables, if it is one.
    fn kept_slot(t: T) -> Option<usize> {
        KEPT.iter().position(|k| *k == t)
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

    /// `meta` read raw while the kept state is not written would show an
    /// old state: `write_state` first.
    fn refuse_stale_meta(&self, t: T) {
        assert!(t != T::Meta || !self.state_unwritten, "meta read while the kept state record is not written");
    }

    pub fn put(&mut self, t: T, key: &[u8], value: &[u8]) -> Result<()> {
        if !t.shape().fits(key, value) {
            return Err(Error::Storage(format!(
                "internal: a {}-byte key or {}-byte value does not fit table {}",
                key.len(),
                value.len(),
                t.name()
            )));
        }
        if let Some(slot) = Self::kept_slot(t) {
            let kept = self.kept[slot].get_mut();
            // A rewrite (a key pack's count, most often) reuses the kept
            // row's buffer.
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
            return Ok(());
        }
        if t == T::History {
            return self.append_history(history::seq_of(key), value);
        }
        self.raw_put(t, key, value)
    }

    /// Appends a history row; it must come after every row there is.
    fn append_history(&mut self, seq: u64, row: &[u8]) -> Result<()> {
        let last = match self.history.last() {
            Some((last, _)) => *last,
            None => self.last_stored_history()?,
        };
        if seq <= last {
            return Err(Error::Storage(format!("internal: history row {seq} written after row {last}")));
        }
        self.history.push((seq, row.to_vec()));
        Ok(())
    }

    /// The sequence number of the last stored history row (0: none).
    fn last_stored_history(&mut self) -> Result<u64> {
        if let Some(last) = self.history_last {
            return Ok(last);
        }
        let WTable::IdVar(table) = &self.tables[T::History as usize] else { unreachable!("history is keyed by id") };
        let last = guarded(T::History, b"", || {
            Ok(table.last().map_err(|e| redb_error(T::History, b"", e))?.map_or(0, |(k, _)| history::seq_of(k.value())))
        })
        .map_err(|e| self.noted(e))?;
        self.history_last = Some(last);
        Ok(last)
    }

    /// The rows of `history` in `[from, to)`.
    fn pending_history(&self, from: &[u8], to: Option<&[u8]>) -> &[(u64, Vec<u8>)] {
        let (from, to) = (history::seq_of(from), to.map(history::seq_of));
        let start = self.history.partition_point(|(s, _)| *s < from);
        let end = to.map_or(self.history.len(), |to| self.history.partition_point(|(s, _)| *s < to));
        &self.history[start..end.max(start)]
    }

    /// Stores `value` under `key`, sealed with its checksum (`envelope`).
    fn raw_put(&mut self, t: T, key: &[u8], value: &[u8]) -> Result<()> {
        let mut sealed = std::mem::take(&mut self.sealed);
        sealed.clear();
        if t == T::Meta && key == FORMAT_KEY {
            sealed.extend_from_slice(value);
        } else {
            envelope::seal_into(t, key, value, &mut sealed);
        }
        let table = &mut self.tables[t as usize];
        let put = guarded(t, key, || {
            with_table!(WTable, table, |table| table
                .insert(key, &sealed[..])
                .map(drop)
                .map_err(|e| redb_error(t, key, e)))
        });
        self.sealed = sealed;
        put.map_err(|e| self.noted(e))
    }

    /// Removes `key`; whether it was there.
    pub fn delete(&mut self, t: T, key: &[u8]) -> Result<bool> {
        refuse_history_edit(t)?;
        if let Some(slot) = Self::kept_slot(t) {
            let was = self.kept_row(slot, key, |row| Ok(row.is_some()))?;
            let kept = self.kept[slot].get_mut();
            kept.rows.insert(key.to_vec(), None);
            kept.changed.insert(key.to_vec());
            return Ok(was);
        }
        self.raw_delete(t, key)
    }

    fn raw_delete(&mut self, t: T, key: &[u8]) -> Result<bool> {
        if t.shape().key_width().is_some_and(|w| w != key.len()) {
            return Ok(false);
        }
        let table = &mut self.tables[t as usize];
        let removed = guarded(t, key, || {
            with_table!(WTable, table, |table| Ok(table.remove(key).map_err(|e| redb_error(t, key, e))?.is_some()))
        });
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
        refuse_history_edit(t)?;
        if let Some(slot) = Self::kept_slot(t) {
            if to.is_some_and(|to| from > to) {
                return Ok(());
            }
            self.kept_complete(slot)?;
            let kept = self.kept[slot].get_mut();
            let present = kept.rows.range::<[u8], _>(bounds(from, to)).filter(|(_, v)| v.is_some());
            let gone: Vec<Vec<u8>> = present.map(|(k, _)| k.clone()).filter(|k| !keep(k)).collect();
            for k in gone {
                kept.rows.insert(k.clone(), None);
                kept.changed.insert(k);
            }
            return Ok(());
        }
        let width = t.shape().key_width();
        let (from, to) = (widen(from, width), to.map(|to| widen(to, width)));
        let table = &mut self.tables[t as usize];
        let removed = guarded(t, &from, || {
            with_table!(WTable, table, |table| {
                let range = bounds(&from, to.as_deref());
                table.retain_in::<&[u8], _>(range, |k, _| keep(k)).map_err(|e| redb_error(t, &from, e))
            })
        });
        removed.map_err(|e| self.noted(e))
    }

    /// Removes every entry of a table.
    pub fn clear(&mut self, t: T) -> Result<()> {
        if t == T::History {
            self.history.clear();
            self.history_last = Some(0);
        }
        if Self::kept_slot(t).is_some() {
            return self.remove_range(t, b"", None, &mut |_| false);
        }
        let table = &mut self.tables[t as usize];
        let cleared = guarded(t, b"", || {
            with_table!(WTable, table, |table| table.retain(|_, _| false).map_err(|e| redb_error(t, b"", e)))
        });
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
        for (key, chunk) in history::chunks(&std::mem::take(&mut self.history)) {
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
        self.tables.clear();
        let (damage, repaired) = (self.damage.clone(), self.repair == Some(true));
        let txn = self.txn;
        guarded(T::Meta, b"", || txn.commit().map_err(Error::storage))
            .map_err(|e| Error::Storage(format!("the commit failed ({}){COMMIT_OUTCOME_UNKNOWN}", e.message())))?;
        if repaired {
            damage.clear();
        }
        Ok(())
    }
}

impl Reader for WriteTx {
    fn get(&self, t: T, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if t == T::History {
            return history_row(key, &mut |from, to, f| self.scan(t, from, Some(to), f));
        }
        if let Some(slot) = Self::kept_slot(t) {
            return self.kept_row(slot, key, |row| Ok(row.map(<[u8]>::to_vec)));
        }
        self.raw_with_value(t, key, &mut |v| Ok(v.to_vec()))
    }

    fn record<R: serde::de::DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<R>> {
        if t == T::History {
            let row = self.get(t, key)?;
            return row.map(|v| codec::decode(&v)).transpose().map_err(|e| self.noted(envelope::at(e, t, key)));
        }
        if let Some(slot) = Self::kept_slot(t) {
            let row = self.kept_row(slot, key, |row| row.map(codec::decode).transpose());
            return row.map_err(|e| self.noted(envelope::at(e, t, key)));
        }
        // Decodes straight from redb's page: no copy of the value.
        self.raw_with_value(t, key, &mut |v| codec::decode(v))
    }

    fn scan(&self, t: T, from: &[u8], to: Option<&[u8]>, f: &mut Visit) -> Result<()> {
        if t == T::History {
            if self.stored_history(from, to, f)? {
                for (seq, row) in self.pending_history(from, to) {
                    if !f(&seq.to_be_bytes(), row)? {
                        break;
                    }
                }
            }
            return Ok(());
        }
        if let Some(slot) = Self::kept_slot(t) {
            if to.is_some_and(|to| from > to) {
                return Ok(());
            }
            self.kept_complete(slot)?;
            let kept = self.kept[slot].borrow();
            for (k, v) in kept.rows.range::<[u8], _>(bounds(from, to)) {
                if let Some(v) = v
                    && !f(k, v).map_err(|e| self.noted(envelope::at(e, t, k)))?
                {
                    break;
                }
            }
            return Ok(());
        }
        self.raw_scan(t, from, to, f)
    }

    fn count(&self, t: T) -> Result<u64> {
        if t == T::History {
            return Ok(self.stored_history_count()? + self.history.len() as u64);
        }
        if let Some(slot) = Self::kept_slot(t) {
            self.kept_complete(slot)?;
            return Ok(self.kept[slot].borrow().rows.values().filter(|v| v.is_some()).count() as u64);
        }
        self.raw_count(t)
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
mod tests {
    use super::{Reader, Store, T};

    fn rows(r: &impl Reader, t: T) -> Vec<(Vec<u8>, Vec<u8>)> {
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
        let key = |name: &str, slot: u32| super::keys::Key::new().name(name).slot(slot).done();
        let mut tx = store.write().expect("write");
        // Tokens (a redb table) and hosts (a kept one), each with a name
        // that the prefix's own name is a prefix of ("pc" and "pc1").
        for t in [T::Tokens, T::Hosts] {
            for (name, slot) in [("pb", 9), ("pc", 0), ("pc", 1), ("pc1", 0), ("pd", 0)] {
                tx.put(t, &key(name, slot), name.as_bytes()).expect("put");
            }
            let prefix = super::keys::Key::new().name("pc").done();
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
        let host = |n: u64| super::keys::name(&format!("h{n:04}")).to_vec();
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

    #[test]
    fn the_indexes_are_exactly_the_idx_tables() {
        let names: Vec<&str> = T::indexes().iter().map(|t| t.name()).collect();
        let idx: Vec<&str> = T::ALL.iter().map(|t| t.name()).filter(|n| n.starts_with("idx_")).collect();
        assert_eq!(names, idx);
        assert_eq!(T::ALL.iter().enumerate().find(|(i, t)| **t as usize != *i), None, "ALL is in declaration order");
    }
}
