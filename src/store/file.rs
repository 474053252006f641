//! Opening a file, and recognising it first: a redb file (its magic
//! number), one a crash left while redb created it, a redb file of another
//! program or of another caldb format version, each refused with an error
//! that says so before a byte of it is written; and, once open, the damage
//! recorded in it (read at the open, written at the close) and redb's
//! check of its pages. What opening may wait for is `store::opening`'s.

use super::codec;
use super::damage::{check_pages_read_only, damaged_pages, guarded, record_damage, redb_error};
use super::envelope::{self, open_stored};
use super::opening;
use super::read::Reader;
use super::records::State;
use super::tables::{DAMAGED_KEY, FORMAT_KEY, META, STATE_KEY};
use super::{Handle, Store, T};
use crate::error::{Error, Result};
use redb::ReadableDatabase;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The format version written in `meta`; a file with another one is refused.
pub const FORMAT_VERSION: u32 = 5;

impl Store {
    /// Opens a file, creating it (and its tables) if missing, shared with
    /// other caldb processes (`Sharing::Client`). A file that is not a redb
    /// file, or a redb file without caldb's format marker, is an error that
    /// says so.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_as(path, Sharing::Client)
    }

    /// Opens a file as `open` does, in the way `sharing` says.
    pub fn open_as(path: &Path, sharing: Sharing) -> Result<Store> {
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
        let knock = match sharing {
            Sharing::Client => opening::Knock::on(path),
            Sharing::Exclusive | Sharing::Serving => None,
        };
        let started = std::time::Instant::now();
        loop {
            match Store::open_once(path, sharing, existed) {
                // A serving process lets go of the file soon after the knock.
                Err(e) if knock.is_some() && is_already_open(&e) && !opening::waited_out(started) => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) if knock.is_some() && is_already_open(&e) => {
                    return Err(Error::Storage(opening::served(&path.display().to_string())));
                }
                opened => return opened.map(|store| store.knocking(knock)),
            }
        }
    }

    fn open_once(path: &Path, sharing: Sharing, existed: bool) -> Result<Store> {
        // redb panics on some damaged files; that is a damaged file, not a
        // crash of caldb.
        let opened = std::panic::catch_unwind(|| {
            let backend = opening::Bounded::open(path).map_err(|e| open_error(path, e.into()))?;
            let db = file_builder(sharing).create_with_backend(backend).map_err(|e| open_error(path, e))?;
            Store::init(Handle::Rw(db), Some(path.to_path_buf()), existed)
        });
        opened.unwrap_or_else(|_| Err(damaged_pages(path)))
    }

    fn knocking(mut self, knock: Option<opening::Knock>) -> Store {
        self.knock = knock;
        self
    }

    /// Opens an existing file for reading only: not a byte of it is
    /// written. A file that needs recovery after a crash cannot be opened
    /// so; opening it once for writing recovers it.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        opening::refuse_non_regular(path)?;
        check_magic(path)?;
        refuse_foreign(path)?;
        let knock = opening::Knock::on(path);
        let started = std::time::Instant::now();
        loop {
            match Store::open_read_only_once(path) {
                Err(e) if knock.is_some() && is_already_open(&e) && !opening::waited_out(started) => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) if knock.is_some() && is_already_open(&e) => {
                    return Err(Error::Storage(opening::served(&path.display().to_string())));
                }
                opened => return opened.map(|store| store.knocking(knock)),
            }
        }
    }

    fn open_read_only_once(path: &Path) -> Result<Store> {
        let opened = std::panic::catch_unwind(|| {
            let db = file_builder(Sharing::Client).open_read_only(path).map_err(|e| match e {
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
        let store = Store { db: std::mem::ManuallyDrop::new(db), path, damage: Arc::default(), knock: None };
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

    /// The format version in `meta`, if there is one.
    fn format_version(&self) -> Result<Option<u32>> {
        format_version(&self.db.begin_read().map_err(Error::storage)?)
    }

    fn has_foreign_tables(&self) -> Result<bool> {
        let rx = self.db.begin_read().map_err(Error::storage)?;
        let count = rx.list_tables().map_err(Error::storage)?.count();
        Ok(count > 0)
    }

    fn create_tables(&self) -> Result<()> {
        let mut tx = self.write()?;
        tx.open_every_table()?;
        tx.put(T::Meta, FORMAT_KEY, &codec::encode(&FORMAT_VERSION)?)?;
        tx.put(T::Meta, STATE_KEY, &codec::encode(&State::new())?)?;
        tx.commit()
    }
}

/// Refuses, without a byte of it written, an existing file that is a redb
/// database of another program (tables, but not caldb's `meta`) or of
/// another caldb format version. Looked at read-only; when a read-only
/// look is not possible (a file that needs recovery, say), the writable
/// open decides.
pub(super) fn refuse_foreign(path: &Path) -> Result<()> {
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
pub(super) fn format_version(rx: &redb::ReadTransaction) -> Result<Option<u32>> {
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

/// How a writable handle shares its file with other processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sharing {
    /// redb's exclusive mode: the file locked whole, no other process may
    /// open it, and a commit syncs once (a serving process no one else
    /// asks for the file).
    Exclusive,
    /// redb's multi-writer mode, for a serving process that shares the
    /// file because another process knocked: a commit syncs twice.
    Serving,
    /// redb's multi-writer mode, knocking on a serving process's door
    /// (`opening::Knock`) first: the shell's and every `Database`'s open.
    Client,
}

/// How caldb opens a file: a 64 MiB page cache, and redb's multi-writer
/// mode, so several caldb processes can share the file (quality.md R5),
/// unless a serving process holds it alone (`Sharing::Exclusive`).
pub(super) fn file_builder(sharing: Sharing) -> redb::Builder {
    let mut builder = redb::Builder::new();
    builder.set_cache_size(64 * 1024 * 1024);
    let mode = match sharing {
        Sharing::Exclusive => redb::ConcurrencyMode::ExclusiveWriter,
        Sharing::Serving | Sharing::Client => redb::ConcurrencyMode::MultiWriter,
    };
    builder.set_concurrency_mode(mode);
    builder
}

/// The error of an open that another process's handle refused.
const ALREADY_OPEN: &str = "is already open in another program";

/// Whether an open failed because another process holds the file (in
/// redb's exclusive mode, or this one asked for it and another has it).
pub fn is_already_open(e: &Error) -> bool {
    matches!(e, Error::Storage(m) if m.ends_with(ALREADY_OPEN))
}

/// redb's magic number, the first bytes of every redb file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

pub(super) fn check_magic(path: &Path) -> Result<()> {
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

fn open_error(path: &Path, e: redb::DatabaseError) -> Error {
    if opening::is_locked(&e) {
        return Error::Storage(opening::locked(&path.display().to_string()));
    }
    let why = match e {
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            format!("cannot be opened for writing ({io}); -readonly opens it for reading")
        }
        redb::DatabaseError::DatabaseAlreadyOpen => ALREADY_OPEN.into(),
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

impl Store {
    /// Latches the damage a writable open recorded in `meta` earlier.
    pub(super) fn read_damage_marker(&self) -> Result<()> {
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
    pub(super) fn write_damage_marker(&mut self) {
        let (Handle::Rw(db), Some(first)) = (&*self.db, self.damage.get()) else {
            // SAFETY: `db` is not used after this (the store is dropping).
            unsafe { std::mem::ManuallyDrop::drop(&mut self.db) };
            return;
        };
        let recorded = record_damage(db, &first);
        // SAFETY: as above; the reopened handle below is a new one.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.db) };
        if let (false, Some(path)) = (recorded, &self.path) {
            let reopened = std::panic::catch_unwind(|| file_builder(Sharing::Client).open(path));
            if let Ok(Ok(db)) = reopened {
                record_damage(&db, &first);
            }
        }
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
